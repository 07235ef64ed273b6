// How the pipeline turns (context, question, answer prefix) into token ids, as kvpress does (spec §3).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvpress {

class Model;

struct PromptParts {
  std::string context;  // chat-template prefix + context (or BOS text + context without a template)
  std::string suffix;   // end of the user turn + assistant header (or "\n" without a template)
};

// `text` as one user turn of the model's chat template plus the assistant header, tokenized with
// special-token text parsed. Throws Error naming the model file when it has no chat template.
std::vector<int32_t> chat_prompt_ids(const Model& model, const std::string& text);

// Whether the model's chat template is one kvpress can apply (otherwise prompts are plain text).
bool has_chat_template(const Model& model);

// Renders one user message "context + sep" and splits on sep, so a question lands inside the user turn
// right after the context.
PromptParts split_prompt(const Model& model, const std::string& context, bool use_chat_template);

// Token ids of the context part (no special tokens added, special-token text parsed).
std::vector<int32_t> context_ids(const Model& model, const PromptParts& parts);
// Token ids of "question + suffix + answer_prefix".
std::vector<int32_t> question_ids(const Model& model, const PromptParts& parts, const std::string& question,
                                  const std::string& answer_prefix);
// A later turn of a conversation, after the assistant's answer: the end of the assistant turn and the
// next user header (from the chat template; "\n" without one), then as question_ids.
std::vector<int32_t> next_turn_ids(const Model& model, const PromptParts& parts, const std::string& question,
                                   const std::string& answer_prefix);

}  // namespace kvpress
