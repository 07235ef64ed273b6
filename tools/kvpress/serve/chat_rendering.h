// How chat messages become kvpress's (context, question) pair, so that the context can be compressed
// once and reused (docs/server.md, "Rendering").
#pragma once
#include <string>
#include <vector>

namespace kvpress::serve {

struct ChatMessage {
  std::string role;     // "system", "developer", "user", "assistant", "tool"
  std::string content;  // text parts joined
};

struct RenderedChat {
  std::string context;   // compressed once and kept in the prefix store
  std::string question;  // asked on the compressed context (may be empty: the context is the whole prompt)
};

// The last user message is the question; every message before it (system prompt, documents, earlier
// turns) is the context, texts joined by a blank line. The last user message's own text up to its last
// blank line belongs to the context too ("DOCUMENT\n\nQUESTION"), and a last user message without a
// blank line and nothing before it is all context (the question is empty). Messages after the last user
// message are refused by the parser. Throws ApiError when there is no user message.
RenderedChat render_chat(const std::vector<ChatMessage>& messages);

}  // namespace kvpress::serve
