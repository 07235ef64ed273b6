// Compressed prefill once, many questions on the same cache.
#include "pipeline/context_session.h"

#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <numeric>

#include "core/error.h"
#include "model/model.h"
#include "pipeline/finite_check.h"
#include "press/press.h"
#include "press/press_prefill.h"
#include "pipeline/prefill.h"

namespace kvpress {
namespace {


void log_softmax(float* row, int64_t n) {
  float max_v = row[0];
  for (int64_t i = 1; i < n; ++i) max_v = std::max(max_v, row[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp((double)row[i] - max_v);
  const float log_z = max_v + (float)std::log(sum);
  for (int64_t i = 0; i < n; ++i) row[i] -= log_z;
}

}  // namespace

ContextSession::ContextSession(const Model& model, ThreadPool& pool, const KvTypes& kv_types)
    : model_(model), pool_(pool), cache_(model.make_cache(kv_types)) {}

void ContextSession::prefill(std::span<const int32_t> context_ids, Press* press, const PrefillProgressFn& on_progress,
                             int64_t chunk_tokens, bool record_scores, int64_t question_tokens) {
  if (n_context_ != 0) fail("ContextSession::prefill called twice");
  if (context_ids.empty()) fail("the context is empty");
  n_context_ = (int64_t)context_ids.size();
  PressPrefill with_press(press);
  with_press.question_tokens = question_tokens;
  auto* scorer = record_scores ? dynamic_cast<ScorerPress*>(press) : nullptr;
  scores_.assign((size_t)model_.config().n_layers, HeadScores{});
  if (scorer)
    with_press.compress = [&](const LayerPrefill& layer) {
      // Score once, record, then select: the recorded scores are exactly the ones used.
      HeadScores& s = scores_[(size_t)layer.layer];
      scorer->score(layer, s);
      if (scorer->compression_ratio() > 0) scorer->keep_top(layer, s);
    };
  const PrefillOutcome run = prefill_context(model_, cache_, pool_, context_ids, with_press, on_progress, chunk_tokens);
  prefill_ms_ = run.ms - run.press_ms;
  compression_ms_ = run.press_ms;
  question_start_ = run.next_position;
  snapshot_ = cache_.lengths();
}

void ContextSession::adopt(KvCache cache, int64_t n_context, int32_t question_start) {
  if (n_context_ != 0) fail("ContextSession::adopt after a prefill");
  const auto& c = model_.config();
  KV_CHECK(n_context > 0 && question_start >= 0 && cache.n_layers() == c.n_layers &&
           cache.n_heads_kv() == c.n_heads_kv && cache.head_dim() == c.head_dim);
  cache_ = std::move(cache);
  cache_.reset_peaks();
  n_context_ = n_context;
  question_start_ = question_start;
  scores_.assign((size_t)c.n_layers, HeadScores{});
  snapshot_ = cache_.lengths();
}

// Returns the cache to the snapshot when the scope ends (on_success) or only when it ends by an
// exception; a press acting during decoding evicted context entries, so the context is consumed instead.
struct ContextSession::RestoreOnExit {
  RestoreOnExit(ContextSession& s, Press* press, bool on_success)
      : session(s), press(press && press->acts_on_decoding() ? press : nullptr), on_success(on_success),
        exceptions(std::uncaught_exceptions()) {}
  ~RestoreOnExit() {
    if (!on_success && std::uncaught_exceptions() == exceptions) return;
    if (press)
      session.consumed_by_ = press->name();
    else
      session.cache_.truncate(session.snapshot_);
  }
  ContextSession& session;
  Press* press;
  bool on_success;
  int exceptions;
};

GenerateResult ContextSession::ask(std::span<const int32_t> question_ids, const GenerateOptions& options) {
  if (n_context_ == 0) fail("ContextSession::ask before prefill");
  if (!consumed_by_.empty())
    fail("this context was compressed while answering its first question (press '", consumed_by_,
         "' acts during decoding), so it cannot answer another one (as kvpress: one question per decoding press)");
  // Also when generation throws (a cancelled request, a stop sequence): the cache is restored, so the
  // session stays usable.
  const RestoreOnExit restore(*this, options.press, /*on_success=*/true);
  return generate(model_, cache_, pool_, question_ids, question_start_, options);
}

GenerateResult ContextSession::converse(std::span<const int32_t> question_ids, GenerateOptions options) {
  if (n_context_ == 0) fail("ContextSession::converse before prefill");
  if (!consumed_by_.empty())
    fail("this context was compressed while answering a question (press '", consumed_by_,
         "'); continue it as a conversation from the start instead");
  options.feed_last = true;
  GenerateResult result;
  {
    const RestoreOnExit restore(*this, options.press, /*on_success=*/false);  // a failed turn leaves no trace
    result = generate(model_, cache_, pool_, question_ids, question_start_, options);
  }
  question_start_ += (int32_t)result.fed;
  snapshot_ = cache_.lengths();  // later questions return to the end of this turn
  return result;
}

std::vector<float> ContextSession::forced_log_probs(std::span<const int32_t> question_ids,
                                                    std::span<const int32_t> forced) {
  if (n_context_ == 0) fail("ContextSession::forced_log_probs before prefill");
  if (!consumed_by_.empty()) fail("this context was compressed while answering a question (press '", consumed_by_, "')");
  if (question_ids.empty()) fail("teacher forcing needs at least one question token");
  const int64_t V = model_.config().n_vocab;
  // Input: question + all forced tokens but the last; predictions start at the last question token.
  std::vector<int32_t> input(question_ids.begin(), question_ids.end());
  if (!forced.empty()) input.insert(input.end(), forced.begin(), forced.end() - 1);
  std::vector<int32_t> positions(input.size());
  std::iota(positions.begin(), positions.end(), question_start_);
  ForwardOptions fwd;
  fwd.logits = LogitsMode::All;
  const RestoreOnExit restore(*this, nullptr, /*on_success=*/true);
  const auto logits = model_.forward(input, positions, cache_, pool_, fwd);
  check_finite_logits(model_, cache_, logits);
  const int64_t first = (int64_t)question_ids.size() - 1;
  std::vector<float> out(logits.begin() + first * V, logits.begin() + (first + (int64_t)forced.size()) * V);
  for (size_t i = 0; i < forced.size(); ++i) log_softmax(&out[i * V], V);
  return out;
}

}  // namespace kvpress
