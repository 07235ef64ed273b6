// Chat formats: family detection from the Jinja source and hand-written renderers that produce what
// the families' templates produce (no Jinja interpreter; see docs/tokenizer.md for what is covered).
#include "tokenizer/chat_template.h"

#include "core/error.h"

namespace kvpress {
namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Jinja's trim / Python's str.strip() on ASCII whitespace.
std::string trim(const std::string& s, const char* chars = " \t\n\r\f\v") {
  const size_t b = s.find_first_not_of(chars);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(chars) - b + 1);
}
std::string lstrip(const std::string& s, const char* chars) {
  const size_t b = s.find_first_not_of(chars);
  return b == std::string::npos ? "" : s.substr(b);
}
std::string rstrip(const std::string& s, const char* chars) {
  const size_t e = s.find_last_not_of(chars);
  return e == std::string::npos ? "" : s.substr(0, e + 1);
}

// ChatML templates such as Qwen2's write a fixed system turn when the conversation has none:
// '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n'. Finds that literal text, if any.
std::string find_default_system(const std::string& src) {
  for (const char* head : {"<|im_start|>system\\n", "<|im_start|>system\n"}) {
    const std::string h = head;
    for (size_t at = src.find(h); at != std::string::npos; at = src.find(h, at + 1)) {
      const size_t from = at + h.size();
      const size_t end = src.find("<|im_end|>", from);
      if (end == std::string::npos) continue;
      const std::string text = src.substr(from, end - from);
      // Only a plain literal counts; "' + messages[0]['content'] + '" is the template's own system branch.
      if (text.empty() || text.find_first_of("'\"{}+\\") != std::string::npos) continue;
      return text;
    }
  }
  return "";
}

[[noreturn]] void bad_roles(const char* family) {
  fail("chat template ", family, ": conversation roles must alternate user/assistant/user/... "
       "(an optional system message first)");
}

}  // namespace

ChatTemplate ChatTemplate::of_kind(Kind kind, const std::string& bos_text, const std::string& eos_text) {
  ChatTemplate t;
  t.kind_ = kind;
  const bool sentencepiece = kind == Kind::Llama2 || kind == Kind::Mistral || kind == Kind::Phi3;
  t.bos_text_ = !bos_text.empty() ? bos_text : kind == Kind::Llama3 ? "<|begin_of_text|>" : sentencepiece ? "<s>" : "";
  t.eos_text_ = !eos_text.empty() ? eos_text : sentencepiece ? "</s>" : "";
  return t;
}

ChatTemplate ChatTemplate::detect(const std::string& src, const std::string& bos_text, const std::string& eos_text) {
  if (src.empty()) return of_kind(Kind::None, bos_text, eos_text);
  if (contains(src, "<|start_header_id|>")) {
    ChatTemplate t = of_kind(Kind::Llama3, bos_text, eos_text);
    t.llama3_dated_system_ = contains(src, "Cutting Knowledge Date");
    return t;
  }
  if (contains(src, "<|im_start|>")) {
    if (contains(src, "<think>")) return of_kind(Kind::Qwen3, bos_text, eos_text);
    ChatTemplate t = of_kind(Kind::ChatML, bos_text, eos_text);
    t.default_system_ = find_default_system(src);
    return t;
  }
  if (contains(src, "[INST]")) return of_kind(contains(src, "<<SYS>>") ? Kind::Llama2 : Kind::Mistral, bos_text, eos_text);
  if (contains(src, "<|user|>") && contains(src, "<|end|>")) {
    ChatTemplate t = of_kind(Kind::Phi3, bos_text, eos_text);
    // The newline inside the Jinja string literal may be stored as a real newline or as "\n".
    t.phi3_legacy_ = contains(src, "'<|end|>' + '\n' + '<|assistant|>'") || contains(src, "'<|end|>' + '\\n' + '<|assistant|>'");
    t.phi3_eos_without_prompt_ = !t.phi3_legacy_ && contains(src, "eos_token");
    return t;
  }
  fail("unrecognised chat template (tokenizer.chat_template); supported families: llama3 (<|start_header_id|>), "
       "chatml and qwen3 (<|im_start|>), llama2 ([INST] with <<SYS>>), mistral ([INST]), phi3 (<|user|> ... <|end|>)");
}

const char* ChatTemplate::name() const {
  switch (kind_) {
    case Kind::None: return "none";
    case Kind::Llama3: return "llama3";
    case Kind::ChatML: return "chatml";
    case Kind::Llama2: return "llama2";
    case Kind::Mistral: return "mistral";
    case Kind::Phi3: return "phi3";
    case Kind::Qwen3: return "qwen3";
  }
  return "?";
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  std::string out;
  switch (kind_) {
    case Kind::None: {
      // No template: the contents one per line, as plain text.
      for (size_t i = 0; i < messages.size(); ++i) out += (i ? "\n" : "") + messages[i].content;
      return out;
    }

    case Kind::Llama3: {
      // '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim + '<|eot_id|>', BOS first.
      out += bos_text_;
      size_t first = 0;
      if (llama3_dated_system_) {
        // Llama 3.1/3.2 always open with a system turn; a leading system message is moved into it.
        std::string system;
        if (!messages.empty() && messages[0].role == "system") {
          system = trim(messages[0].content);
          first = 1;
        }
        out += "<|start_header_id|>system<|end_header_id|>\n\n";
        out += "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
        out += system + "<|eot_id|>";
      }
      for (size_t i = first; i < messages.size(); ++i)
        out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" + trim(messages[i].content) + "<|eot_id|>";
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    }

    case Kind::ChatML: {
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i == 0 && messages[0].role != "system" && !default_system_.empty())
          out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
        out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
      }
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
    }

    case Kind::Qwen3: {
      // Thinking is kept only in assistant turns after the last user query; earlier ones lose it.
      size_t last_query = messages.empty() ? 0 : messages.size() - 1;
      for (size_t k = messages.size(); k-- > 0;) {
        const std::string& c = messages[k].content;
        const bool tool_response = c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 &&
                                   c.compare(c.size() - 16, 16, "</tool_response>") == 0;
        if (messages[k].role == "user" && !tool_response) {
          last_query = k;
          break;
        }
      }
      for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& msg = messages[i];
        if (msg.role == "user" || msg.role == "system") {
          out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
        } else if (msg.role == "assistant") {
          std::string content = msg.content, reasoning;
          if (const size_t close = content.find("</think>"); close != std::string::npos) {
            std::string before = rstrip(content.substr(0, close), "\n");
            if (const size_t open = before.rfind("<think>"); open != std::string::npos) before = before.substr(open + 7);
            reasoning = lstrip(before, "\n");
            content = lstrip(content.substr(content.rfind("</think>") + 8), "\n");
          }
          const bool last = i + 1 == messages.size();
          if (i > last_query && (last || !reasoning.empty())) {
            out += "<|im_start|>assistant\n<think>\n" + trim(reasoning, "\n") + "\n</think>\n\n" + lstrip(content, "\n");
          } else {
            out += "<|im_start|>assistant\n" + content;
          }
          out += "<|im_end|>\n";
        } else {
          fail("chat template qwen3: role '", one_line(msg.role), "' is not supported (system, user, assistant)");
        }
      }
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
    }

    case Kind::Llama2: {
      // System text goes inside the first user turn between <<SYS>> markers; every user turn is
      // "<s>[INST] ... [/INST]" with its content stripped; assistant turns end with " </s>".
      size_t first = 0;
      std::string system;
      bool has_system = false;
      if (!messages.empty() && messages[0].role == "system") {
        system = messages[0].content;
        has_system = true;
        first = 1;
      }
      for (size_t i = first; i < messages.size(); ++i) {
        const bool user_turn = (i - first) % 2 == 0;
        if ((messages[i].role == "user") != user_turn) bad_roles("llama2");
        std::string content = messages[i].content;
        if (i == first && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
        if (user_turn) {
          out += bos_text_ + "[INST] " + trim(content) + " [/INST]";
        } else if (messages[i].role == "assistant") {
          out.append(" ").append(trim(content)).append(" ").append(eos_text_);
        } else {
          bad_roles("llama2");
        }
      }
      return out;
    }

    case Kind::Mistral: {
      // "<s>[INST] user [/INST]assistant</s>..."; a system message is put before the next user
      // message, separated by a blank line (what Mistral's later templates and llama.cpp do).
      out += bos_text_;
      size_t first = 0;
      std::string system;
      if (!messages.empty() && messages[0].role == "system") {
        system = messages[0].content;
        first = 1;
      }
      for (size_t i = first; i < messages.size(); ++i) {
        const bool user_turn = (i - first) % 2 == 0;
        if ((messages[i].role == "user") != user_turn) bad_roles("mistral");
        if (user_turn) {
          const std::string content = i == first && !system.empty() ? system + "\n\n" + messages[i].content : messages[i].content;
          out += "[INST] " + content + " [/INST]";
        } else if (messages[i].role == "assistant") {
          out += messages[i].content + eos_text_;
        } else {
          bad_roles("mistral");
        }
      }
      return out;
    }

    case Kind::Phi3: {
      if (phi3_legacy_) {
        // {{ bos_token }} then user: '<|user|>\n' + c + '<|end|>\n<|assistant|>\n'; assistant: c + '<|end|>\n'.
        out += bos_text_;
        for (const auto& msg : messages) {
          if (msg.role == "user") {
            out += "<|user|>\n" + msg.content + "<|end|>\n<|assistant|>\n";
          } else if (msg.role == "assistant") {
            out += msg.content + "<|end|>\n";
          }  // the template drops system messages
        }
        return out;
      }
      for (const auto& msg : messages) {
        if (msg.role == "system" && msg.content.empty()) continue;
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
          fail("chat template phi3: role '", one_line(msg.role), "' is not supported (system, user, assistant)");
        out += "<|" + msg.role + "|>\n" + msg.content + "<|end|>\n";
      }
      if (add_generation_prompt) {
        out += "<|assistant|>\n";
      } else if (phi3_eos_without_prompt_) {
        out += eos_text_;
      }
      return out;
    }
  }
  return out;
}

}  // namespace kvpress
