// render_chat(): the server's mapping of chat messages onto kvpress's context + question.
#include "serve/chat_rendering.h"

#include "serve/api_error.h"

namespace kvpress::serve {

RenderedChat render_chat(const std::vector<ChatMessage>& messages) {
  size_t last_user = messages.size();
  for (size_t i = messages.size(); i-- > 0;)
    if (messages[i].role == "user") {
      last_user = i;
      break;
    }
  if (last_user == messages.size()) throw ApiError(400, "invalid_messages", "messages: expected at least one user message");
  std::string context;
  for (size_t i = 0; i < last_user; ++i) {
    if (messages[i].content.empty()) continue;
    if (!context.empty()) context += "\n\n";
    context += messages[i].content;
  }
  const std::string& last = messages[last_user].content;
  const size_t blank = last.rfind("\n\n");
  RenderedChat out;
  if (blank != std::string::npos) {
    // "DOCUMENT\n\nQUESTION": the document (blank line included) is context, as a context file ending in
    // a blank line followed by --question QUESTION.
    if (!context.empty()) context += "\n\n";
    out.context = context + last.substr(0, blank + 2);
    out.question = last.substr(blank + 2);
  } else if (context.empty()) {
    out.context = last;  // one short message: the whole prompt is reusable context
  } else {
    out.context = context;
    out.question = last;
  }
  return out;
}

}  // namespace kvpress::serve
