// Engine: loading a model, its description, tokenization and plain generation.
#include "kvpress/engine.h"

#include <algorithm>
#include <set>

#include "api/engine_impl.h"
#include "api/press_build.h"
#include "cache/kv_cache.h"
#include "core/error.h"
#include "core/ggml_type.h"
#include "kernels/kernels.h"
#include "pipeline/generator.h"
#include "pipeline/prompt.h"
#include "runtime/read_bandwidth.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

ModelInfo describe(const Model& model) {
  const ModelConfig& c = model.config();
  ModelInfo info;
  info.path = model.file().path();
  info.arch = c.arch;
  info.name = c.name;
  info.n_vocab = c.n_vocab, info.n_embd = c.n_embd, info.n_layers = c.n_layers, info.n_heads = c.n_heads;
  info.n_heads_kv = c.n_heads_kv, info.head_dim = c.head_dim, info.n_ff = c.n_ff, info.n_ctx_train = c.n_ctx_train;
  std::set<std::string> types;
  for (const auto& t : model.file().tensors()) {
    int64_t n = 1;
    for (int64_t e : t.ne) n *= e;
    info.n_params += n;
    info.file_bytes += (int64_t)t.n_bytes;
    if (t.name != "token_embd.weight") info.decode_weight_bytes += (int64_t)t.n_bytes;
    if (t.ne.size() == 2) types.insert(std::string(ggml_type_name(t.type)));
  }
  const auto& w = model.weights();
  if (w.output.data == w.token_embd.data) info.decode_weight_bytes += w.output.n_rows * w.output.row_bytes;  // tied
  for (const auto& t : types) info.weight_types += (info.weight_types.empty() ? "" : " ") + t;
  info.has_chat_template = has_chat_template(model);
  return info;
}

}  // namespace

Engine Engine::load(const std::string& model_path, const EngineOptions& options) {
  if (options.n_threads < 0 || options.n_threads > 256)
    fail("n_threads must be in [0, 256] (0 = automatic), got ", options.n_threads);
  const int n_threads = options.n_threads > 0 ? options.n_threads : std::min(8, hardware_threads());
  static_assert(kDefaultSpinUs == ThreadPool::kDefaultSpin.count());
  if (options.spin_us < 0 || options.spin_us > 1000000)
    fail("spin_us must be in [0, 1000000] microseconds, got ", options.spin_us);
  auto impl = std::make_shared<Impl>(Model::load(model_path, options.exact_matmul), n_threads, std::chrono::microseconds(options.spin_us));
  impl->info = describe(*impl->model);
  return Engine(std::move(impl));
}

const ModelInfo& Engine::info() const { return impl_->info; }
int Engine::n_threads() const { return impl_->pool.n_threads(); }
std::string Engine::kernel_set() const { return kernels::active_kernels().name; }

double Engine::measure_read_bandwidth() const {
  double bytes_per_s = 0;
  impl_->with_compute([&] { bytes_per_s = kvpress::measure_read_bandwidth(impl_->pool); });
  return bytes_per_s;
}

int64_t Engine::kv_bytes_per_token(const KvTypes& types) const {
  return impl_->model->config().kv_bytes_per_token(types);
}

std::vector<int32_t> Engine::tokenize(const std::string& text, bool add_special, bool parse_special) const {
  return impl_->model->tokenizer().encode(text, add_special, parse_special);
}

std::string Engine::detokenize(std::span<const int32_t> ids, bool skip_special) const {
  return impl_->model->tokenizer().decode(ids, skip_special);
}

std::vector<int32_t> Engine::chat_prompt(const std::string& text) const { return chat_prompt_ids(*impl_->model, text); }

std::vector<int32_t> Engine::context_prompt_ids(const std::string& context, bool use_chat_template) const {
  return context_ids(*impl_->model, split_prompt(*impl_->model, context, use_chat_template));
}

Generation Engine::generate(std::span<const int32_t> prompt_ids, const GenerationOptions& options) const {
  options.sampling.validate();
  GenerateOptions gen;
  gen.max_new_tokens = options.max_new_tokens;
  gen.sampling = options.sampling;
  gen.stop_at_end_of_generation = options.stop_at_end_of_generation;
  gen.on_token = options.on_token;
  gen.on_prefill_progress = options.on_prefill_progress;
  gen.with_compute = [impl = impl_.get()](const std::function<void()>& pass) { impl->with_compute(pass); };
  const std::unique_ptr<Press> press = build_press(options.press);
  gen.press = press.get();
  const Model& model = *impl_->model;
  KvCache cache = model.make_cache(options.kv_types);
  const GenerateResult r = kvpress::generate(model, cache, impl_->pool, prompt_ids, 0, gen);
  Generation out{r.tokens, model.tokenizer().decode(r.tokens, true), r.stopped};
  out.kv_bytes = cache.bytes();
  out.peak_kv_entries_per_head = cache.peak_entries_per_head();
  out.kv_bytes_peak = cache.peak_bytes();
  return out;
}

}  // namespace kvpress
