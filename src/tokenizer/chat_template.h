// Chat prompt formats, recognised from the GGUF's tokenizer.chat_template (Jinja source).
#pragma once
#include <string>
#include <vector>

namespace kvpress {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  enum class Kind { None, Llama3, ChatML, Llama2, Mistral, Phi3, Qwen3 };

  // Recognises the family from the Jinja source; Kind::None for an empty source. An unrecognised
  // non-empty template falls back to ChatML if it mentions <|im_start|>, else Error.
  static ChatTemplate detect(const std::string& jinja_source, const std::string& bos_text = "",
                             const std::string& eos_text = "");
  static ChatTemplate of_kind(Kind kind, const std::string& bos_text = "", const std::string& eos_text = "");

  Kind kind() const { return kind_; }
  const char* name() const;
  // Renders the messages as text (special tokens written as text; tokenize with parse_special).
  // BOS is included when the family's template writes it.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

 private:
  Kind kind_ = Kind::None;
  std::string bos_text_, eos_text_;
  // Variants inside a family, recognised by detect():
  bool llama3_dated_system_ = false;  // Llama 3.1+: always a system turn with the knowledge-date lines
  std::string default_system_;        // ChatML: system prompt the template adds when none is given
  bool phi3_legacy_ = false;          // first Phi-3 template: BOS, no system, "<|assistant|>" after each user turn
  bool phi3_eos_without_prompt_ = false;  // Phi-3.5: EOS ends the text when no generation prompt is asked
};

}  // namespace kvpress
