// Session: the prompt split, truncation and warnings of kvpress's pipeline around one ContextSession.
#include "kvpress/session.h"

#include <algorithm>
#include <chrono>

#include "api/engine_impl.h"
#include "api/press_build.h"
#include "cache/random_fill.h"
#include "cache_file/cache_file.h"
#include "core/error.h"
#include "gguf/mapped_file.h"
#include "pipeline/context_session.h"
#include "pipeline/prompt.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {

struct Session::Impl {
  Impl(std::shared_ptr<Engine::Impl> e, const PressConfig& config, const KvTypes& kv_types)
      : engine(std::move(e)), press_config(config), press(build_press(config)),
        context(*engine->model, engine->pool, kv_types) {}

  // The context's prefill: ids already prompted and truncated.
  void prefill(const SessionOptions& options) {
    if (ids.empty()) fail("the context is empty after tokenization");
    const int64_t n_ctx = engine->model->config().n_ctx_train;
    if (n_ctx > 0 && (int64_t)ids.size() > n_ctx)
      warnings.push_back("the context has " + std::to_string(ids.size()) + " tokens, more than the model's " +
                         "context_length of " + std::to_string(n_ctx) + ": answers may be unreliable " +
                         "(max_context_length truncates it)");
    {
      std::lock_guard lock(engine->compute);
      context.prefill(ids, press.get(), options.on_prefill_progress, options.prefill_chunk, options.record_scores,
                      question_tokens);
    }
    stats.context_tokens = context.context_tokens();
    stats.kv_bytes_full = stats.context_tokens * engine->model->config().kv_bytes_per_token(options.kv_types);
    stats.kv_bytes = context.cache().bytes();
    stats.prefill_ms = context.prefill_ms();
    stats.compression_ms = context.compression_ms();
  }

  void check_text(const char* what) const {
    if (!text_mode) fail("Session::", what, " needs a text session (Session::from_text); this one holds token ids");
  }

  std::shared_ptr<Engine::Impl> engine;  // first: outlives the members that reference its model and pool
  PressConfig press_config;
  std::unique_ptr<Press> press;
  ContextSession context;
  bool text_mode = false;
  PromptParts parts;
  std::vector<int32_t> ids;
  int64_t question_tokens = 0;  // query-aware with a press reading the question: its tokens at the end of ids
  std::vector<std::string> warnings;
  PrefillStats stats;
  int64_t turns = 0;  // conversation turns (converse) so far
};

namespace {

void check_options(const SessionOptions& options) {
  if (options.max_context_length && *options.max_context_length <= 0)
    fail("max_context_length must be positive, got ", *options.max_context_length);
  if (options.prefill_chunk < 0) fail("prefill_chunk must be >= 0 (0 = one pass), got ", options.prefill_chunk);
}

void truncate(std::vector<int32_t>& ids, const SessionOptions& options, std::vector<std::string>& warnings) {
  if (!options.max_context_length || (int64_t)ids.size() <= *options.max_context_length) return;
  warnings.push_back("context truncated from " + std::to_string(ids.size()) + " to " +
                     std::to_string(*options.max_context_length) + " tokens (max_context_length)");
  ids.resize((size_t)*options.max_context_length);
}

}  // namespace

Session Session::from_text(const Engine& engine, const std::string& context, const PressConfig& press,
                           const SessionOptions& options) {
  check_options(options);
  auto impl = std::make_unique<Impl>(engine.impl_, press, options.kv_types);
  const Model& model = *impl->engine->model;
  impl->text_mode = true;
  const std::string& question = options.question_in_context;
  impl->parts = split_prompt(model, context + question, options.use_chat_template);
  if (!question.empty() && impl->press && impl->press->reads_question_window()) {
    // kvpress's Finch puts a delimiter token between context and question, so the tokenizer splits
    // there and the press's window is the question's tokens: the same ids without the delimiter.
    const std::string& text = impl->parts.context;
    if (!text.ends_with(question))
      fail("press '", press.spec(), "' reads the question as its window, but the chat template changed the ",
           "question's text (e.g. trimmed it); use use_chat_template=false or a question without edge spaces");
    impl->ids = model.tokenizer().encode(text.substr(0, text.size() - question.size()), false, true);
    const std::vector<int32_t> q = model.tokenizer().encode(question, false, true);
    impl->ids.insert(impl->ids.end(), q.begin(), q.end());
    impl->question_tokens = (int64_t)q.size();
    if (options.max_context_length && (int64_t)impl->ids.size() > *options.max_context_length)
      fail("press '", press.spec(), "' reads the question at the end of the context, but max_context_length=",
           *options.max_context_length, " would truncate it (", impl->ids.size(), " tokens)");
  } else {
    impl->ids = kvpress::context_ids(model, impl->parts);
  }
  truncate(impl->ids, options, impl->warnings);
  impl->prefill(options);
  return Session(std::move(impl));
}

Session Session::from_tokens(const Engine& engine, std::span<const int32_t> context_ids, const PressConfig& press,
                             const SessionOptions& options) {
  check_options(options);
  auto impl = std::make_unique<Impl>(engine.impl_, press, options.kv_types);
  impl->ids.assign(context_ids.begin(), context_ids.end());
  if (options.question_tokens < 0 || (options.question_tokens > 0 && options.question_tokens >= (int64_t)impl->ids.size()))
    fail("question_tokens must leave at least one context token before the question: got ", options.question_tokens,
         " of ", impl->ids.size(), " ids");
  if (options.question_tokens > 0 && options.max_context_length &&
      (int64_t)impl->ids.size() > *options.max_context_length)
    fail("the question is at the end of the context ids, but max_context_length=", *options.max_context_length,
         " would truncate them (", impl->ids.size(), " ids)");
  if (impl->press && impl->press->reads_question_window()) impl->question_tokens = options.question_tokens;
  truncate(impl->ids, options, impl->warnings);
  impl->prefill(options);
  return Session(std::move(impl));
}

Session Session::from_random_cache(const Engine& engine, int64_t context_tokens, double compression_ratio,
                                   const SessionOptions& options, uint64_t seed) {
  check_options(options);
  validate_compression_ratio(compression_ratio);
  if (context_tokens <= 0) fail("a random cache needs a positive number of context tokens, got ", context_tokens);
  const Model& model = *engine.impl_->model;
  auto impl = std::make_unique<Impl>(engine.impl_, PressConfig(), options.kv_types);
  KvCache cache = model.make_cache(options.kv_types);
  fill_random(cache, context_tokens, kept_count(context_tokens, compression_ratio), seed);
  impl->ids.assign((size_t)context_tokens, 0);
  impl->context.adopt(std::move(cache), context_tokens, (int32_t)context_tokens);
  PrefillStats& stats = impl->stats;
  stats.context_tokens = context_tokens;
  stats.kv_bytes_full = context_tokens * model.config().kv_bytes_per_token(options.kv_types);
  stats.kv_bytes = impl->context.cache().bytes();
  return Session(std::move(impl));
}

Session Session::load_bytes(const Engine& engine, std::span<const uint8_t> bytes, const std::string& name) {
  const auto t0 = std::chrono::steady_clock::now();
  const Model& model = *engine.impl_->model;
  LoadedCacheFile file = read_cache_file(bytes, model, name);
  const CacheFileSession& saved = file.session;
  PressConfig press;
  try {
    press = PressConfig::from_spec(saved.press_spec, saved.compression_ratio);
  } catch (const Error& e) {
    fail(name, ": the cache file's press cannot be used by this build: ", e.what());
  }
  auto impl = std::make_unique<Impl>(engine.impl_, press, file.cache.types());
  impl->text_mode = saved.text_mode;
  impl->parts.suffix = saved.question_suffix;
  impl->ids = saved.context_ids;
  impl->warnings = saved.warnings;
  const KvTypes types = file.cache.types();
  impl->context.adopt(std::move(file.cache), (int64_t)impl->ids.size(), saved.question_start);
  PrefillStats& stats = impl->stats;
  stats.context_tokens = (int64_t)impl->ids.size();
  stats.kv_bytes_full = stats.context_tokens * model.config().kv_bytes_per_token(types);
  stats.kv_bytes = impl->context.cache().bytes();
  stats.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Session(std::move(impl));
}

Session Session::load(const Engine& engine, const std::string& path) {
  const auto t0 = std::chrono::steady_clock::now();
  // The mapping lives only while the rows are copied out of it; the page cache keeps the file after.
  const gguf::MappedFile file = gguf::MappedFile::open(path, "a kvpress cache file");
  Session session = load_bytes(engine, file.bytes(), path);
  session.impl_->stats.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return session;
}

int64_t Session::save(const std::string& path) const {
  CacheFileSession s;
  s.press_spec = impl_->press_config.is_none() ? "none" : impl_->press_config.spec();
  s.compression_ratio = impl_->press_config.compression_ratio();
  s.text_mode = impl_->text_mode;
  s.question_suffix = impl_->text_mode ? impl_->parts.suffix : "";
  s.context_ids = impl_->ids;
  s.question_start = impl_->context.question_start();
  s.warnings = impl_->warnings;
  return write_cache_file(path, *impl_->engine->model, s, impl_->context.cache());
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Answer Session::ask(const std::string& question, const AskOptions& options) {
  impl_->check_text("ask");
  const Model& model = *impl_->engine->model;
  // After conversation turns the question follows the last answer as a new user turn.
  return ask_tokens(impl_->turns == 0 ? question_ids(model, impl_->parts, question, options.answer_prefix)
                                      : next_turn_ids(model, impl_->parts, question, options.answer_prefix),
                    options);
}

namespace {
GenerateOptions generate_options(const AskOptions& options, Press* press) {
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0, got ", options.max_new_tokens);
  options.sampling.validate();
  GenerateOptions gen;
  gen.max_new_tokens = options.max_new_tokens;
  gen.sampling = options.sampling;
  gen.stop_at_end_of_generation = options.stop_at_end_of_generation;
  gen.check_first_token = false;  // kvpress never stops on the first generated token [quirk, spec §3]
  gen.on_token = options.on_token;
  gen.press = press;  // acts only if it compresses while decoding (the prefill is done)
  return gen;
}
}  // namespace

// Generates after `ids`: a plain question (the cache restored afterwards) or a kept conversation turn.
static Answer generate_answer(Session::Impl& impl, std::span<const int32_t> ids, const AskOptions& options, bool keep_turn) {
  GenerateOptions gen = generate_options(options, impl.press.get());
  gen.with_compute = [engine = impl.engine.get()](const std::function<void()>& pass) { engine->with_compute(pass); };
  Answer answer;
  answer.question_tokens = (int64_t)ids.size();
  const auto t0 = std::chrono::steady_clock::now();
  {
    // Compute is locked per forward pass (gen.with_compute), so concurrent sessions interleave.
    const GenerateResult r = keep_turn ? impl.context.converse(ids, gen) : impl.context.ask(ids, gen);
    answer.ids = r.tokens;
    answer.stopped = r.stopped;
  }
  answer.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  answer.text = impl.engine->model->tokenizer().decode(answer.ids, true);
  return answer;
}

Answer Session::converse(const std::string& question, const AskOptions& options) {
  impl_->check_text("converse");
  const Model& model = *impl_->engine->model;
  const auto ids = impl_->turns == 0 ? question_ids(model, impl_->parts, question, options.answer_prefix)
                                     : next_turn_ids(model, impl_->parts, question, options.answer_prefix);
  Answer answer = generate_answer(*impl_, ids, options, true);
  ++impl_->turns;
  return answer;
}

int64_t Session::turns() const { return impl_->turns; }

Answer Session::ask_tokens(std::span<const int32_t> question_ids, const AskOptions& options) {
  return generate_answer(*impl_, question_ids, options, false);
}

std::vector<float> Session::answer_log_probs(const std::string& question, const std::string& answer_prefix,
                                             std::span<const int32_t> answer_ids) {
  impl_->check_text("answer_log_probs");
  const auto q = question_ids(*impl_->engine->model, impl_->parts, question, answer_prefix);
  std::lock_guard lock(impl_->engine->compute);
  return impl_->context.forced_log_probs(q, answer_ids);
}

const PrefillStats& Session::stats() const { return impl_->stats; }
int64_t Session::peak_kv_entries_per_head() const { return impl_->context.cache().peak_entries_per_head(); }
int64_t Session::kv_bytes_peak() const { return impl_->context.cache().peak_bytes(); }
const std::vector<std::string>& Session::warnings() const { return impl_->warnings; }
const std::vector<int32_t>& Session::context_ids() const { return impl_->ids; }
const PressConfig& Session::press() const { return impl_->press_config; }
bool Session::is_text() const { return impl_->text_mode; }
KvTypes Session::kv_types() const { return impl_->context.cache().types(); }
int64_t Session::n_layers() const { return impl_->context.cache().n_layers(); }
int64_t Session::n_heads_kv() const { return impl_->context.cache().n_heads_kv(); }

std::vector<int32_t> Session::kept_positions(int64_t layer, int64_t head) const {
  const KvCache& cache = impl_->context.cache();
  if (layer < 0 || layer >= cache.n_layers() || head < 0 || head >= cache.n_heads_kv())
    fail("kept_positions: (layer ", layer, ", head ", head, ") outside the cache's ", cache.n_layers(), " layers x ",
         cache.n_heads_kv(), " KV heads");
  std::vector<int32_t> p(cache.positions(layer, head), cache.positions(layer, head) + cache.length(layer, head));
  std::sort(p.begin(), p.end());
  return p;
}

std::vector<float> Session::scores(int64_t layer) const {
  const auto& all = impl_->context.scores();
  if (layer < 0 || layer >= (int64_t)all.size())
    fail("scores: layer ", layer, " outside the model's ", all.size(), " layers");
  return all[(size_t)layer].values;
}

}  // namespace kvpress
