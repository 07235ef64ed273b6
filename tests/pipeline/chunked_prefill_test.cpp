// Chunked prefill: the context read N tokens at a time with every layer compressed after each chunk.
// Checked against the rules written out here: ratio 0 equals a whole prefill, every chunk keeps the
// top n_kept of (kept so far + the chunk) with n_kept of the tokens read so far, peak entries stay
// under (1 - r) * T + N, short rests join the last chunk only when the press's window needs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kv_rows_util.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "pipeline/prefill.h"
#include "press/press.h"
#include "press/press_prefill.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

std::unique_ptr<Model> tiny() {
  TinyModelSpec spec;
  spec.n_layers = 2;
  spec.seed = 11;
  return make_tiny_model(spec);
}

TEST(ChunkedPrefill, RatioZeroEqualsWholePrefill) {
  auto model = tiny();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(150, 4);
  const std::vector<int32_t> question = {ids[3], ids[9], ids[20]}, forced = {ids[5], ids[6]};
  for (const char* spec : {"none", "knorm", "snapkv:window_size=8"}) {
    ContextSession whole(*model, pool, {KvType::F32, KvType::F32});
    ContextSession chunked(*model, pool, {KvType::F32, KvType::F32});
    auto p1 = make_press(spec, 0.0), p2 = make_press(spec, 0.0);
    whole.prefill(ids, p1.get());
    chunked.prefill(ids, p2.get(), {}, 16);
    for (int64_t l = 0; l < model->config().n_layers; ++l)
      for (int64_t h = 0; h < model->config().n_heads_kv; ++h) {
        ASSERT_EQ(chunked.cache().length(l, h), 150) << spec;
        const auto a = decoded(whole.cache().keys(l, h)), b = decoded(chunked.cache().keys(l, h));
        for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << spec << " layer " << l;
      }
    const auto la = whole.forced_log_probs(question, forced), lb = chunked.forced_log_probs(question, forced);
    ASSERT_EQ(la.size(), lb.size());
    double max_diff = 0;
    for (size_t i = 0; i < la.size(); ++i) max_diff = std::max(max_diff, (double)std::fabs(la[i] - lb[i]));
    EXPECT_LE(max_diff, 1e-4) << spec;
  }
}

// knorm after each chunk: of the entries held (kept so far + the new chunk), the
// int((S + evicted) * (1 - r)) with the smallest key norms survive, ties to the lower position.
TEST(ChunkedPrefill, EveryChunkKeepsTheTopOfWhatIsHeld) {
  auto model = tiny();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(200, 7);
  const int64_t N = 32;
  for (double r : {0.5, 0.75}) {
    auto press = make_press("knorm", r);
    KvCache cache = model->make_cache({KvType::F32, KvType::F32});
    PressPrefill hooks(press.get());
    // Expected kept positions per (layer, head), computed from the held entries before each compression.
    std::map<std::pair<int64_t, int64_t>, std::vector<int32_t>> expected;
    int64_t tokens_read = 0, checks = 0;
    hooks.before_compress = [&](const LayerPrefill& layer) {
      if (layer.layer == 0) tokens_read += layer.n_tokens;
      for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
        const int64_t S = cache.length(layer.layer, h);
        const auto keys = decoded(cache.keys(layer.layer, h));
        const int64_t d = cache.head_dim();
        std::vector<std::pair<float, int32_t>> by_norm;  // the norm as knorm's float score
        for (int64_t j = 0; j < S; ++j) {
          double sum = 0;
          for (int64_t i = 0; i < d; ++i) sum += (double)keys[j * d + i] * keys[j * d + i];
          by_norm.push_back({(float)std::sqrt(sum), cache.positions(layer.layer, h)[j]});
        }
        std::sort(by_norm.begin(), by_norm.end());  // smallest norm first, then lower position
        const int64_t keep = (int64_t)((double)tokens_read * (1.0 - r));
        ASSERT_LE(keep, S);
        std::vector<int32_t> kept;
        for (int64_t j = 0; j < keep; ++j) kept.push_back(by_norm[j].second);
        std::sort(kept.begin(), kept.end());
        expected[{layer.layer, h}] = kept;
      }
    };
    hooks.after_compress = [&](const LayerPrefill& layer) {
      for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
        const auto& want = expected[{layer.layer, h}];
        const std::vector<int32_t> got(cache.positions(layer.layer, h),
                                       cache.positions(layer.layer, h) + cache.length(layer.layer, h));
        EXPECT_EQ(got, want) << "ratio " << r << " layer " << layer.layer << " head " << h << " after "
                             << tokens_read << " tokens";
        ++checks;
      }
    };
    prefill_context(*model, cache, pool, ids, hooks, {}, N);
    EXPECT_EQ(tokens_read, 200);
    EXPECT_EQ(checks, (200 + N - 1) / N * model->config().n_layers * model->config().n_heads_kv);  // 7 passes
    for (int64_t l = 0; l < cache.n_layers(); ++l)
      for (int64_t h = 0; h < cache.n_heads_kv(); ++h) EXPECT_EQ(cache.length(l, h), kept_count(200, r));
    // Never more than (1 - r) * T + N entries in any head, through the cache's own counter.
    EXPECT_LE(cache.peak_entries_per_head(), (int64_t)((1.0 - r) * 200) + N) << "ratio " << r;
    EXPECT_GT(cache.peak_entries_per_head(), kept_count(200, r));
  }
}

// Passes as reported by progress: chunks of N, and a rest joins the last one only when it is no
// longer than the press's query window (snapkv needs more than window_size tokens in a pass).
TEST(ChunkedPrefill, ShortRestJoinsTheLastChunkOnlyForAWindow) {
  auto model = tiny();
  ThreadPool pool(1);
  auto passes_of = [&](int64_t T, const std::string& spec) {
    auto press = make_press(spec, 0.5);
    KvCache cache = model->make_cache();
    PressPrefill hooks(press.get());
    std::vector<std::pair<int64_t, int64_t>> passes;
    const PrefillProgressFn progress = [&](const PrefillProgress& p) {
      if (p.layers_done == 1) passes.push_back({p.pass_begin, p.pass_end});
      EXPECT_EQ(p.n_tokens, T);
    };
    prefill_context(*model, cache, pool, tiny_token_ids(T, 2), hooks, progress, 30);
    return passes;
  };
  using Passes = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(passes_of(100, "snapkv:window_size=16"), (Passes{{0, 30}, {30, 60}, {60, 100}}));  // rest 10 <= 16
  EXPECT_EQ(passes_of(110, "snapkv:window_size=16"), (Passes{{0, 30}, {30, 60}, {60, 90}, {90, 110}}));
  EXPECT_EQ(passes_of(100, "knorm"), (Passes{{0, 30}, {30, 60}, {60, 90}, {90, 100}}));
}

TEST(ChunkedPrefill, HeadwisePressFailsClearly) {
  auto model = tiny();
  ThreadPool pool(1);
  auto press = make_press("adakv(knorm)", 0.5);
  ContextSession session(*model, pool);
  try {
    session.prefill(tiny_token_ids(120, 3), press.get(), {}, 40);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunked prefill"), std::string::npos) << e.what();
  }
}

TEST(ChunkedPrefill, NegativeChunkIsRejected) {
  auto model = tiny();
  ThreadPool pool(1);
  ContextSession session(*model, pool);
  EXPECT_THROW(session.prefill(tiny_token_ids(10, 3), nullptr, {}, -1), Error);
}

}  // namespace
}  // namespace kvpress::testing
