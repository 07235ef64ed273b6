// Tiled attention against a direct double-precision evaluation of the definition: per (token, head),
// softmax over the KV head's entries whose position <= the query's position, weighted sum of values.
// Covers GQA/MQA/MHA, head sizes that are not a multiple of 16, per-head lengths after pruning,
// unsorted positions, queries that see nothing, and the split-key path of decoding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "cache/kv_cache.h"
#include "kv_rows_util.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

using testing::decoded;

struct Case {
  const char* name;
  int64_t n_heads, n_heads_kv, head_dim;
  int64_t n_cached;   // entries appended before the queries' own
  int64_t n_tokens;   // queries (their K/V are appended too, as in a forward pass)
  int threads;
  bool prune;         // drop a different pseudo-random subset of every head's entries
  bool shuffle_pos;   // cached positions not in ascending order
};

std::vector<float> random_vector(std::mt19937& rng, int64_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// out[t, h, :] by the definition, in double, on the stored (decoded) keys and values.
std::vector<double> reference(const std::vector<float>& q, const std::vector<int32_t>& q_pos, const KvCache& cache,
                              const AttentionShape& s) {
  const int64_t T = (int64_t)q_pos.size(), d = s.head_dim, group = s.n_heads / s.n_heads_kv;
  std::vector<double> out((size_t)(T * s.n_heads * d), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const int64_t g = h / group, n = cache.length(0, g);
      const float* qv = &q[(t * s.n_heads + h) * d];
      const std::vector<float> keys = decoded(cache.keys(0, g)), values = decoded(cache.values(0, g));
      std::vector<double> score((size_t)n);
      double max = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        if (cache.positions(0, g)[j] > q_pos[t]) continue;
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += (double)qv[i] * keys[j * d + i];
        score[j] = dot / std::sqrt((double)d);
        max = std::max(max, score[j]);
      }
      if (max == -INFINITY) continue;  // nothing visible: zero output
      double sum = 0;
      for (int64_t j = 0; j < n; ++j)
        if (cache.positions(0, g)[j] <= q_pos[t]) sum += std::exp(score[j] - max);
      double* o = &out[(t * s.n_heads + h) * d];
      for (int64_t j = 0; j < n; ++j) {
        if (cache.positions(0, g)[j] > q_pos[t]) continue;
        const double p = std::exp(score[j] - max) / sum;
        for (int64_t i = 0; i < d; ++i) o[i] += p * values[j * d + i];
      }
    }
  return out;
}

class AttentionTest : public ::testing::TestWithParam<std::tuple<Case, KvType>> {};

TEST_P(AttentionTest, MatchesDefinition) {
  const Case& c = std::get<0>(GetParam());
  const KvType type = std::get<1>(GetParam());
  if (c.head_dim % traits_of(ggml_type_of(type)).block_size != 0) GTEST_SKIP() << "head_dim does not fit the blocks";
  std::mt19937 rng(1234);
  const AttentionShape shape{c.n_heads, c.n_heads_kv, c.head_dim};
  const int64_t kv_dim = c.n_heads_kv * c.head_dim, q_dim = c.n_heads * c.head_dim;
  // Keys in `type`, values in the next type of the list: mixed K/V types are covered too.
  const KvType value_type = (KvType)(((int)type + 1) % 5);
  const bool values_fit = c.head_dim % traits_of(ggml_type_of(value_type)).block_size == 0;
  KvCache cache(1, c.n_heads_kv, c.head_dim, {type, values_fit ? value_type : type});

  // Context entries at positions 0..n_cached-1 (optionally shuffled), then the queries' own entries.
  std::vector<int32_t> ctx_pos((size_t)c.n_cached);
  std::iota(ctx_pos.begin(), ctx_pos.end(), 0);
  if (c.shuffle_pos) std::shuffle(ctx_pos.begin(), ctx_pos.end(), rng);
  // Scale 1 keys and queries give peaked softmaxes (scores up to ~sqrt(d) x a few), which exercises
  // the running-max rescaling across key tiles.
  const auto ctx_k = random_vector(rng, c.n_cached * kv_dim, 1.0f), ctx_v = random_vector(rng, c.n_cached * kv_dim, 1.0f);
  if (c.n_cached > 0) cache.append(0, c.n_cached, ctx_k.data(), ctx_v.data(), ctx_pos.data());
  if (c.prune)
    for (int64_t g = 0; g < c.n_heads_kv; ++g) {
      std::vector<int64_t> keep;
      for (int64_t j = 0; j < c.n_cached; ++j)
        if ((j * 7 + g * 13) % (3 + g) != 0) keep.push_back(j);
      cache.keep(0, g, keep);
    }
  std::vector<int32_t> new_pos((size_t)c.n_tokens);
  std::iota(new_pos.begin(), new_pos.end(), (int32_t)c.n_cached);
  const auto new_k = random_vector(rng, c.n_tokens * kv_dim, 1.0f), new_v = random_vector(rng, c.n_tokens * kv_dim, 1.0f);
  cache.append(0, c.n_tokens, new_k.data(), new_v.data(), new_pos.data());
  // Two queries attend from earlier positions than their own entries: one sees only the first half
  // of the context, the other (position -1) sees nothing at all.
  std::vector<int32_t> q_pos = new_pos;
  if (c.n_tokens > 2) {
    q_pos[1] = (int32_t)(c.n_cached / 2);
    q_pos[2] = -1;
  }
  const auto q = random_vector(rng, c.n_tokens * q_dim, 1.0f);

  ThreadPool pool(c.threads);
  std::vector<float> out((size_t)(c.n_tokens * q_dim), NAN);
  attention(q.data(), q_pos.data(), c.n_tokens, cache, 0, shape, out.data(), pool);
  const auto want = reference(q, q_pos, cache, shape);
  double max_diff = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i])) << "index " << i;
    max_diff = std::max(max_diff, std::abs((double)out[i] - want[i]));
  }
  EXPECT_LT(max_diff, 2e-5) << c.name;
  if (c.n_tokens > 2) {  // the query at position -1 sees nothing: exact zeros
    for (int64_t i = 0; i < q_dim; ++i) ASSERT_EQ(out[(size_t)(2 * q_dim + i)], 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Combine(::testing::Values(
        // name, heads, kv heads, head_dim, cached, tokens, threads, prune, shuffle
        Case{"qwen05_prefill", 14, 2, 64, 0, 300, 2, false, false},
        Case{"qwen05_chunk_after_context", 14, 2, 64, 700, 130, 3, false, false},
        Case{"qwen05_decode", 14, 2, 64, 1500, 1, 2, false, false},
        Case{"decode_own_entry_alone_in_last_tile", 14, 2, 64, 1280, 1, 2, false, false},
        Case{"mqa_decode_split_keys", 4, 1, 64, 3000, 1, 4, false, false},
        Case{"mha_decode_split_keys_pruned", 4, 4, 32, 2600, 1, 8, true, false},
        Case{"pruned_heads_prefill", 8, 2, 32, 500, 40, 2, true, false},
        Case{"odd_head_dim", 6, 3, 40, 200, 17, 2, true, true},
        Case{"unsorted_positions", 8, 4, 64, 333, 9, 1, false, true},
        Case{"tiny_head_dim_single_thread", 2, 1, 8, 5, 3, 1, false, false}),
                       ::testing::Values(KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" + std::string(kv_type_name(std::get<1>(info.param)));
    });

// The same random context stored in each type and in f32: attention outputs (values of unit scale, a
// decode and a 130-token chunk) stay within the bound of each encoding. Measured worst in brackets:
// f16 1e-3 (2.3e-4), bf16 5e-3 (1.2e-3), q8_0 1e-2 (2.1e-3), q4_0 0.15 (4.7e-2).
TEST(AttentionKvTypes, StayCloseToTheF32Cache) {
  const AttentionShape shape{14, 2, 64};
  const int64_t kv_dim = 2 * 64, q_dim = 14 * 64, n_ctx = 1500;
  struct Bound {
    KvType type;
    double max_abs;
  };
  for (int64_t n_tokens : {1, 130}) {
    std::mt19937 rng(99);
    const auto k = random_vector(rng, (n_ctx + n_tokens) * kv_dim, 1.0f);
    const auto v = random_vector(rng, (n_ctx + n_tokens) * kv_dim, 1.0f);
    const auto q = random_vector(rng, n_tokens * q_dim, 1.0f);
    std::vector<int32_t> pos((size_t)(n_ctx + n_tokens));
    std::iota(pos.begin(), pos.end(), 0);
    const std::vector<int32_t> q_pos(pos.end() - n_tokens, pos.end());
    ThreadPool pool(2);
    auto run = [&](KvType type) {
      KvCache cache(1, 2, 64, {type, type});
      cache.append(0, n_ctx + n_tokens, k.data(), v.data(), pos.data());
      std::vector<float> out((size_t)(n_tokens * q_dim));
      attention(q.data(), q_pos.data(), n_tokens, cache, 0, shape, out.data(), pool);
      return out;
    };
    const auto want = run(KvType::F32);
    for (const Bound& b : {Bound{KvType::F16, 1e-3}, Bound{KvType::BF16, 5e-3}, Bound{KvType::Q8_0, 1e-2},
                           Bound{KvType::Q4_0, 0.15}}) {
      const auto got = run(b.type);
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs((double)got[i] - want[i]));
      std::printf("  %lld tokens, kv %-5s max|d| vs f32 %.2e\n", (long long)n_tokens,
                  std::string(kv_type_name(b.type)).c_str(), worst);
      EXPECT_LE(worst, b.max_abs) << kv_type_name(b.type) << ", " << n_tokens << " tokens";
      EXPECT_GT(worst, 0.0) << "the type changed nothing: the comparison is vacuous";
    }
  }
}

// attention_probs (used by presses): a probability row over the head's entries, zero where masked.
TEST(AttentionProbs, MatchesDefinitionAndSumsToOne) {
  std::mt19937 rng(7);
  const int64_t d = 64, n = 300;
  KvCache cache(1, 2, d, {KvType::Q8_0, KvType::F16});
  const auto k = random_vector(rng, n * 2 * d, 1.0f), v = random_vector(rng, n * 2 * d, 1.0f);
  std::vector<int32_t> pos((size_t)n);
  std::iota(pos.begin(), pos.end(), 0);
  cache.append(0, n, k.data(), v.data(), pos.data());
  const auto q = random_vector(rng, d, 1.0f);
  const int32_t q_pos = 200;
  std::vector<float> probs((size_t)n);
  ASSERT_EQ(attention_probs(q.data(), q_pos, cache, 0, 1, probs.data()), n);
  std::vector<double> s((size_t)n);
  double max = -INFINITY, sum = 0;
  const std::vector<float> keys = decoded(cache.keys(0, 1));
  for (int64_t j = 0; j <= q_pos; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < d; ++i) dot += (double)q[i] * keys[j * d + i];
    s[j] = dot / 8.0;
    max = std::max(max, s[j]);
  }
  for (int64_t j = 0; j <= q_pos; ++j) sum += std::exp(s[j] - max);
  double total = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double want = j <= q_pos ? std::exp(s[j] - max) / sum : 0.0;
    EXPECT_NEAR(probs[j], want, 1e-6) << j;
    total += probs[j];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

}  // namespace
}  // namespace kvpress
