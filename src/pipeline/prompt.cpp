// Prompt construction shared by the answer pipeline, evaluation and fidelity metrics.
#include "pipeline/prompt.h"

#include "core/error.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {

namespace {

std::string bos_text(const Model& model) {
  const auto& v = model.tokenizer().vocab();
  return v.bos_id >= 0 ? v.tokens[v.bos_id] : "";
}

ChatTemplate template_of(const Model& model, bool use_chat_template) {
  const auto& v = model.tokenizer().vocab();
  const std::string eos = v.eos_id >= 0 ? v.tokens[v.eos_id] : "";
  return ChatTemplate::detect(use_chat_template ? v.chat_template : "", bos_text(model), eos);
}

}  // namespace

std::vector<int32_t> chat_prompt_ids(const Model& model, const std::string& text) {
  const auto tmpl = template_of(model, true);
  if (tmpl.kind() == ChatTemplate::Kind::None) fail(model.file().path(), ": the model has no chat template");
  return model.tokenizer().encode(tmpl.apply({{"user", text}}, true), false, true);
}

bool has_chat_template(const Model& model) { return template_of(model, true).kind() != ChatTemplate::Kind::None; }

PromptParts split_prompt(const Model& model, const std::string& context, bool use_chat_template) {
  const std::string bos = bos_text(model);
  const auto tmpl = template_of(model, use_chat_template);
  if (tmpl.kind() == ChatTemplate::Kind::None) return {bos + context, "\n"};
  const std::string sep(context.size() + 10, '#');
  const std::string rendered = tmpl.apply({{"user", context + sep}}, true);
  const size_t at = rendered.find(sep);
  KV_CHECK(at != std::string::npos);
  return {rendered.substr(0, at), rendered.substr(at + sep.size())};
}

std::vector<int32_t> context_ids(const Model& model, const PromptParts& parts) {
  return model.tokenizer().encode(parts.context, false, true);
}

std::vector<int32_t> question_ids(const Model& model, const PromptParts& parts, const std::string& question,
                                  const std::string& answer_prefix) {
  return model.tokenizer().encode(question + parts.suffix + answer_prefix, false, true);
}

std::vector<int32_t> next_turn_ids(const Model& model, const PromptParts& parts, const std::string& question,
                                   const std::string& answer_prefix) {
  // split_prompt gives "\n" as the suffix exactly when no template is used (also for a loaded cache).
  std::string between = "\n";
  if (parts.suffix != "\n") {
    const auto tmpl = template_of(model, true);
    const std::string a = "<<answer-end>>", b = "<<next-question>>";
    const std::string rendered = tmpl.apply({{"user", "q"}, {"assistant", a}, {"user", b}}, true);
    const size_t at = rendered.find(a), end = rendered.find(b);
    KV_CHECK(at != std::string::npos && end != std::string::npos && end >= at + a.size());
    between = rendered.substr(at + a.size(), end - at - a.size());
  }
  return model.tokenizer().encode(between + question + parts.suffix + answer_prefix, false, true);
}

}  // namespace kvpress
