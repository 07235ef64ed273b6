// Attention kernel in tiles (the flash-attention scheme): one work item is a KV head, a block of
// query tokens and all query heads of the GQA group sharing that KV head (the item's "rows"). Keys
// are visited in blocks: scores come from the kernels' gemm, the softmax is computed online (running
// max and sum per row, earlier output rescaled when the max grows) and values are accumulated by a
// second gemm. Each key/value row is thus read once per block of ~128 query rows instead of once per
// (token, head), and memory stays O(rows x key block) per worker, never T x T.
#include "model/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

// The softmax loops below are written to auto-vectorise; on x86 with GCC they are also compiled for
// AVX2 and AVX-512 and the best clone is picked at load time (this file has no per-ISA flags). Not
// under sanitizers: their instrumentation of the load-time resolver runs before they are set up.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__SANITIZE_ADDRESS__)
#define KVPRESS_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KVPRESS_VECTOR_CLONES
#endif

namespace kvpress {
namespace {

constexpr int64_t kKeyBlock = 128;       // keys per tile, a multiple of kernels::kGemmTokenPad
constexpr int64_t kDecodeKeyBlock = 128;  // keys per tile when decoding (few query rows)
constexpr int64_t kTargetRows = 128;     // query rows (tokens x group heads) per work item
constexpr int64_t kMinSplitKeys = 512;   // a key split of an item spans at least this many keys
constexpr int kLanes = 16;
constexpr int64_t kFewRows = 16;         // query rows up to which scores come from dot_rows_f32               // partial accumulators of the hand-split reductions
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// exp(x) for x <= 0 (0 below -87, including -inf), relative error ~2e-7. Branch-free, unlike
// std::exp, so that loops calling it vectorise: exp(x) = 2^n * exp(r) with n = round(x / ln 2),
// r = x - n ln 2 (Cody-Waite split of ln 2, |r| <= ln 2 / 2), exp(r) by its degree-7 Taylor
// polynomial (truncation error < 6e-9).
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float xc = x < -87.0f ? -87.0f : x;
  const float n = (xc * kLog2e + kRound) - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float two_n = std::bit_cast<float>(((int32_t)n + 127) << 23);  // n in [-126, 0]: a normal float
  return x < -87.0f ? 0.0f : p * two_n;
}

// One row of a score tile, s[0..n) for keys at positions pos[0..n): masks keys after q_pos (unless
// the caller knows all are visible), folds the tile into the row's running max and sum and turns s
// into unnormalised probabilities exp(s - max). Returns the factor by which the row's accumulated
// output must be rescaled (1 when the max did not move; 0 for the first visible tile).
KVPRESS_VECTOR_CLONES
float softmax_tile_row(float* s, int64_t n, const int32_t* pos, int32_t q_pos, bool all_visible, float* row_max,
                       float* row_sum) {
  if (!all_visible)
    for (int64_t j = 0; j < n; ++j) s[j] = pos[j] <= q_pos ? s[j] : kNegInf;
  // Float max and sum reductions only vectorise when split into lanes by hand (no -ffast-math).
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, kNegInf);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] = s[j + l] > lanes[l] ? s[j + l] : lanes[l];
  float tile_max = kNegInf;
  for (; j < n; ++j) tile_max = std::max(tile_max, s[j]);
  for (float v : lanes) tile_max = std::max(tile_max, v);
  if (tile_max == kNegInf) {  // nothing visible in this tile: the row is unchanged
    std::fill(s, s + n, 0.0f);
    return 1.0f;
  }
  const float new_max = std::max(*row_max, tile_max);
  std::fill(lanes, lanes + kLanes, 0.0f);
  for (j = 0; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float e = exp_nonpositive(s[j + l] - new_max);
      s[j + l] = e;
      lanes[l] += e;
    }
  float tile_sum = 0.0f;
  for (; j < n; ++j) {
    s[j] = exp_nonpositive(s[j] - new_max);
    tile_sum += s[j];
  }
  for (float v : lanes) tile_sum += v;
  const float correction = *row_max == new_max ? 1.0f : exp_nonpositive(*row_max - new_max);
  *row_sum = *row_sum * correction + tile_sum;
  *row_max = new_max;
  return correction;
}

// One work item: KV head `head_kv`, query tokens [token_begin, token_begin + n_tokens) with all the
// group's heads, keys [key_begin, key_end) of that head.
struct Item {
  int64_t head_kv, token_begin, n_tokens, key_begin, key_end;
};

// Per-thread tiles; pool workers live as long as the pool, so these are allocated once.
struct Scratch {
  std::vector<float> q;           // [rows, head_dim], pre-scaled by 1/sqrt(head_dim)
  std::vector<float> q_narrow;    // [rows, kept key channels]: q on the channels of pruned keys (ThinK)
  std::vector<int32_t> q_pos;     // [rows]
  std::vector<float> keys;        // [key block, head_dim]: a block of keys decoded (unless stored as f32)
  std::vector<float> keys_t;      // [head_dim, key block padded]: keys transposed for the score gemm
  std::vector<float> scores;      // [rows, key block padded]: scores, then probabilities
  std::vector<float> values;      // [key block, head_dim padded]: decoded values (unless f32 and unpadded)
  std::vector<float> acc;         // [rows, head_dim padded]: unnormalised output
  std::vector<float> row_max, row_sum;  // [rows]
};
thread_local Scratch t_scratch;

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if ((int64_t)v.size() < n) v.resize((size_t)n);
  return v.data();
}

class TiledAttention {
 public:
  TiledAttention(const float* q, const int32_t* q_pos, const KvCache& cache, int64_t layer, const AttentionShape& shape)
      : q_(q), q_pos_(q_pos), cache_(cache), layer_(layer), shape_(shape), d_(shape.head_dim),
        d_pad_(round_up(shape.head_dim, kernels::kGemmTokenPad)), group_(shape.n_heads / shape.n_heads_kv),
        scale_(1.0f / std::sqrt((float)shape.head_dim)), ks_(kernels::active_kernels()) {}

  // Runs one item and leaves its unnormalised output and row statistics in the thread's scratch.
  // Returns the number of rows.
  int64_t run(const Item& item, Scratch& sc) const {
    const int64_t m = item.n_tokens * group_;
    float* q = sized(sc.q, m * d_);
    int32_t* q_pos = sized(sc.q_pos, m);
    int32_t q_min = std::numeric_limits<int32_t>::max(), q_max = std::numeric_limits<int32_t>::min();
    for (int64_t t = 0; t < item.n_tokens; ++t) {
      const int64_t token = item.token_begin + t;
      const float* src = q_ + (token * shape_.n_heads + item.head_kv * group_) * d_;  // the group's heads
      for (int64_t i = 0; i < group_ * d_; ++i) q[t * group_ * d_ + i] = src[i] * scale_;
      std::fill(q_pos + t * group_, q_pos + (t + 1) * group_, q_pos_[token]);
      q_min = std::min(q_min, q_pos_[token]);
      q_max = std::max(q_max, q_pos_[token]);
    }
    float* acc = sized(sc.acc, m * d_pad_);
    std::fill(acc, acc + m * d_pad_, 0.0f);
    float* row_max = sized(sc.row_max, m);
    float* row_sum = sized(sc.row_sum, m);
    std::fill(row_max, row_max + m, kNegInf);
    std::fill(row_sum, row_sum + m, 0.0f);

    const KvRows keys = cache_.keys(layer_, item.head_kv);
    const KvRows values = cache_.values(layer_, item.head_kv);
    const int32_t* pos = cache_.positions(layer_, item.head_kv);
    float* keys_t = sized(sc.keys_t, d_ * kKeyBlock);
    // Few query rows (decoding, a GQA group of one token): scores by dot_rows_f32 instead of a gemm
    // over transposed keys, which pays off only when ~100 query rows share each transposition.
    const bool few_rows = m <= kFewRows;
    // Decoding (every key visible to every row): one fused kernel call over the whole key range.
    if (few_rows && !keys.pruned() && item.key_end > item.key_begin &&
        *std::max_element(pos + item.key_begin, pos + item.key_end) <= q_min) {
      ks_.attend_rows(q, m, keys, values, item.key_begin, item.key_end - item.key_begin, acc, d_pad_, row_max, row_sum);
      return m;
    }
    // Decoding computes little per key: longer blocks spread the per-block work over more keys.
    const int64_t block = few_rows ? kDecodeKeyBlock : kKeyBlock;
    float* scores = sized(sc.scores, m * block);
    // Entries [begin, end) whose keys are the rows of kv (row i = entry first + i), each dk wide,
    // scored against the query rows qk [m, dk]; folded into the rows' online softmax and output.
    const auto attend_range = [&](int64_t begin, int64_t end, const kernels::MatrixView& kv, int64_t first,
                                  const float* qk, int64_t dk) {
      for (int64_t k0 = begin; k0 < end; k0 += block) {
        const int64_t bk = std::min(block, end - k0);
        const auto [p_min, p_max] = std::minmax_element(pos + k0, pos + k0 + bk);
        if (*p_min > q_max) continue;  // every key of the block is after every query
        const bool all_visible = *p_max <= q_min;
        // Scores [m, bk] = q [m, dk] x keys^T: the gemm wants its right operand column-major.
        const int64_t ld = round_up(bk, kernels::kGemmTokenPad);
        const float* kb = reinterpret_cast<const float*>(kv.row(k0 - first));
        if (kv.type != GgmlType::F32) {  // rows [k0, k0 + bk) are one encoded run
          kernels::dequantize_row(kv.type, kv.row(k0 - first), sized(sc.keys, block * d_), bk * dk);
          kb = sc.keys.data();
        }
        if (few_rows) {
          // Decoding: the few query rows against the key rows as stored (no transposition of the keys).
          ks_.dot_rows_f32(qk, m, kb, bk, dk, scores, ld);
        } else {
          for (int64_t i = 0; i < dk; ++i) {
            float* dst = keys_t + i * ld;
            for (int64_t j = 0; j < bk; ++j) dst[j] = kb[j * dk + i];
            std::fill(dst + bk, dst + ld, 0.0f);
          }
          ks_.gemm_f32(qk, dk, m, keys_t, ld, bk, scores, ld, dk, false);
        }
        for (int64_t r = 0; r < m; ++r) {
          float* s = scores + r * ld;
          if (!all_visible && q_pos[r] < *p_min) {  // the row sees nothing of this block
            std::fill(s, s + bk, 0.0f);
            continue;
          }
          const float correction = softmax_tile_row(s, bk, pos + k0, q_pos[r], all_visible, &row_max[r], &row_sum[r]);
          if (correction != 1.0f)
            for (int64_t i = 0; i < d_; ++i) acc[r * d_pad_ + i] *= correction;
        }
        // acc [m, d] += probabilities [m, bk] x values [bk, d] (value rows are already gemm-shaped).
        const float* v = values.f32() ? values.f32() + k0 * d_ : nullptr;
        if (!v || d_pad_ != d_) {  // decode, and pad rows: the gemm reads whole groups of 16 columns
          float* vp = sized(sc.values, block * d_pad_);
          if (d_pad_ == d_) {
            values.read(k0, bk, vp);
          } else {
            for (int64_t j = 0; j < bk; ++j) {
              std::copy_n(values.row_f32(k0 + j, vp + j * d_pad_), d_, vp + j * d_pad_);
              std::fill(vp + j * d_pad_ + d_, vp + (j + 1) * d_pad_, 0.0f);
            }
          }
          v = vp;
        }
        ks_.gemm_f32(scores, ld, m, v, d_pad_, d_, acc, d_pad_, bk, true);
      }
    };
    if (!keys.pruned()) {
      attend_range(item.key_begin, item.key_end, keys, 0, q, d_);
    } else {
      // ThinK's channel-pruned entries: q . k over the kept channels equals q . k with the pruned
      // channels zero, so their queries are gathered to those channels (zeros on the block padding).
      const int64_t P = keys.n_narrow(), dn = keys.narrow.n_cols;
      float* qn = sized(sc.q_narrow, m * dn);
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t i = 0; i < keys.n_channels; ++i) qn[r * dn + i] = q[r * d_ + keys.channels[i]];
        std::fill(qn + r * dn + keys.n_channels, qn + (r + 1) * dn, 0.0f);
      }
      attend_range(item.key_begin, std::min(item.key_end, P), keys.narrow, 0, qn, dn);
      attend_range(std::max(item.key_begin, P), item.key_end, keys.full_rows(), P, q, d_);
    }
    return m;
  }

  // out rows of the item = acc / row_sum (zero for rows that saw no key).
  void write_output(const Item& item, const float* acc, const float* row_sum, float* out) const {
    for (int64_t t = 0; t < item.n_tokens; ++t)
      for (int64_t g = 0; g < group_; ++g) {
        const int64_t r = t * group_ + g;
        float* o = out + ((item.token_begin + t) * shape_.n_heads + item.head_kv * group_ + g) * d_;
        const float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
        for (int64_t i = 0; i < d_; ++i) o[i] = acc[r * d_pad_ + i] * inv;
      }
  }

  int64_t d_pad() const { return d_pad_; }
  int64_t group() const { return group_; }

 private:
  const float* q_;
  const int32_t* q_pos_;
  const KvCache& cache_;
  int64_t layer_;
  AttentionShape shape_;
  int64_t d_, d_pad_, group_;
  float scale_;
  const kernels::KernelSet& ks_;
};

// Fills probs with softmax(q.k_j * scale) over visible entries (masked ones get 0).
int64_t softmax_row(const float* q, int32_t q_pos, const KvRows& keys, const int32_t* pos, int64_t n, float scale,
                    float* probs) {
  const auto& ks = kernels::active_kernels();
  // Channel-pruned keys (ThinK) are scored on their kept channels, with the query gathered to them.
  std::vector<float> q_narrow;
  if (keys.pruned()) {
    q_narrow.assign((size_t)keys.narrow.n_cols, 0.0f);
    for (int64_t i = 0; i < keys.n_channels; ++i) q_narrow[i] = q[keys.channels[i]];
  }
  const kernels::MatrixView full = keys.full_rows();
  const int64_t P = keys.n_narrow();
  float max_score = kNegInf;
  for (int64_t j = 0; j < n; ++j) {
    if (pos[j] > q_pos) {
      probs[j] = kNegInf;
      continue;
    }
    const float dot = j < P ? ks.dot_row(keys.type, keys.narrow.row(j), q_narrow.data(), keys.narrow.n_cols)
                            : ks.dot_row(keys.type, full.row(j - P), q, keys.head_dim());
    const float s = dot * scale;
    probs[j] = s;
    max_score = std::max(max_score, s);
  }
  if (max_score == kNegInf) {
    std::fill(probs, probs + n, 0.0f);
    return n;
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = pos[j] > q_pos ? 0.0f : std::exp(probs[j] - max_score);
    probs[j] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) probs[j] *= inv;
  return n;
}

// One row of attention_probs_rows: s[0..n) holds the raw scores q.k_j; on return the probabilities
// softmax(s * scale) over entries at positions <= q_pos (0 elsewhere; all 0 when none is visible).
// As softmax_row: max in float, exponentials in float, their sum in double, one float reciprocal.
KVPRESS_VECTOR_CLONES
void softmax_probs_row(float* s, int64_t n, const int32_t* pos, int32_t q_pos, float scale) {
  for (int64_t j = 0; j < n; ++j) s[j] = pos[j] <= q_pos ? s[j] * scale : kNegInf;
  // Each reduction is its own loop, split into lanes by hand, so that every loop vectorises.
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, kNegInf);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] = s[j + l] > lanes[l] ? s[j + l] : lanes[l];
  float max_score = kNegInf;
  for (; j < n; ++j) max_score = std::max(max_score, s[j]);
  for (float v : lanes) max_score = std::max(max_score, v);
  if (max_score == kNegInf) {
    std::fill(s, s + n, 0.0f);
    return;
  }
  for (j = 0; j < n; ++j) s[j] = exp_nonpositive(s[j] - max_score);  // masked entries: exp(-inf) = 0
  constexpr int kSumLanes = 8;
  double sums[kSumLanes] = {};
  for (j = 0; j + kSumLanes <= n; j += kSumLanes)
    for (int l = 0; l < kSumLanes; ++l) sums[l] += (double)s[j + l];
  double sum = 0;
  for (; j < n; ++j) sum += (double)s[j];
  for (double v : sums) sum += v;
  const float inv = (float)(1.0 / sum);
  for (j = 0; j < n; ++j) s[j] *= inv;
}

// Per-thread buffers of attention_probs_rows.
struct ProbsScratch {
  std::vector<float> keys;    // [key block, head_dim] decoded
  std::vector<float> keys_t;  // [head_dim, length padded]: every key of the head, transposed
  std::vector<float> q;       // [row block, head_dim] contiguous query rows
  std::vector<float> scores;  // [row block, length padded]
};
thread_local ProbsScratch t_probs_scratch;

}  // namespace

int64_t attention_probs(const float* q, int32_t q_pos, const KvCache& cache, int64_t layer, int64_t head_kv,
                        float* probs) {
  const int64_t d = cache.head_dim();
  const int64_t n = cache.length(layer, head_kv);
  return softmax_row(q, q_pos, cache.keys(layer, head_kv), cache.positions(layer, head_kv), n,
                     1.0f / std::sqrt((float)d), probs);
}

void attention(const float* q, const int32_t* q_pos, int64_t n_tokens, const KvCache& cache, int64_t layer,
               const AttentionShape& shape, float* out, ThreadPool& pool) {
  KV_CHECK(shape.n_heads_kv > 0 && shape.n_heads % shape.n_heads_kv == 0);
  KV_CHECK(shape.head_dim == cache.head_dim() && shape.n_heads_kv == cache.n_heads_kv());
  if (n_tokens <= 0) return;
  const TiledAttention tiled(q, q_pos, cache, layer, shape);
  const int64_t group = tiled.group(), d = shape.head_dim, d_pad = tiled.d_pad();

  // Query blocks of about kTargetRows rows, of equal size so that items cost about the same.
  const int64_t max_block_tokens = std::max<int64_t>(1, kTargetRows / group);
  const int64_t n_blocks = (n_tokens + max_block_tokens - 1) / max_block_tokens;
  const int64_t block_tokens = (n_tokens + n_blocks - 1) / n_blocks;
  // Too few items to feed every thread (decoding): split each head's keys into ranges whose partial
  // results are merged afterwards (the split-K of flash-decoding).
  int64_t max_len = 0;
  for (int64_t h = 0; h < shape.n_heads_kv; ++h) max_len = std::max(max_len, cache.length(layer, h));
  const int64_t n_unsplit = shape.n_heads_kv * n_blocks;
  int64_t n_splits = 1;
  if (n_unsplit < pool.n_threads())
    n_splits = std::clamp<int64_t>(max_len / kMinSplitKeys, 1, (pool.n_threads() + n_unsplit - 1) / n_unsplit);

  // Items, latest query blocks first: under the causal mask they see the most keys, and handing
  // out the longest items first balances parallel_for's in-order chunks.
  std::vector<Item> items;
  items.reserve((size_t)(n_unsplit * n_splits));
  for (int64_t b = n_blocks - 1; b >= 0; --b) {
    const int64_t t0 = b * block_tokens, nt = std::min(block_tokens, n_tokens - t0);
    if (nt <= 0) continue;
    for (int64_t h = 0; h < shape.n_heads_kv; ++h) {
      const int64_t n = cache.length(layer, h);
      // Split boundaries on key-block multiples, so that split tiles are full tiles (a split may be empty).
      const auto bound = [&](int64_t s) { return std::min(n, round_up(n * s / n_splits, kKeyBlock)); };
      for (int64_t s = 0; s < n_splits; ++s) items.push_back({h, t0, nt, bound(s), bound(s + 1)});
    }
  }

  // Split items keep their partial state ([rows, d_pad] accumulator, row max and sum) for the merge.
  const int64_t rows_max = block_tokens * group;
  std::vector<float> partial_acc, partial_max, partial_sum;
  if (n_splits > 1) {
    partial_acc.resize(items.size() * (size_t)(rows_max * d_pad));
    partial_max.resize(items.size() * (size_t)rows_max);
    partial_sum.resize(items.size() * (size_t)rows_max);
  }
  pool.parallel_for((int64_t)items.size(), 1, [&](int64_t begin, int64_t end, int) {
    Scratch& sc = t_scratch;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t m = tiled.run(items[i], sc);
      if (n_splits == 1) {
        tiled.write_output(items[i], sc.acc.data(), sc.row_sum.data(), out);
      } else {
        std::copy(sc.acc.data(), sc.acc.data() + m * d_pad, &partial_acc[i * rows_max * d_pad]);
        std::copy(sc.row_max.data(), sc.row_max.data() + m, &partial_max[i * rows_max]);
        std::copy(sc.row_sum.data(), sc.row_sum.data() + m, &partial_sum[i * rows_max]);
      }
    }
  });
  if (n_splits == 1) return;

  // Merge the splits of each (query block, head): rescale each to the common max, then normalise.
  std::vector<float> acc((size_t)(rows_max * d_pad)), sum((size_t)rows_max);
  for (size_t first = 0; first < items.size(); first += (size_t)n_splits) {
    const int64_t m = items[first].n_tokens * group;
    for (int64_t r = 0; r < m; ++r) {
      float max = kNegInf;
      for (int64_t s = 0; s < n_splits; ++s) max = std::max(max, partial_max[(first + s) * rows_max + r]);
      sum[r] = 0.0f;
      std::fill(&acc[r * d_pad], &acc[r * d_pad] + d, 0.0f);
      if (max == kNegInf) continue;
      for (int64_t s = 0; s < n_splits; ++s) {
        const float m_s = partial_max[(first + s) * rows_max + r];
        if (m_s == kNegInf) continue;
        const float f = exp_nonpositive(m_s - max);
        sum[r] += f * partial_sum[(first + s) * rows_max + r];
        const float* a = &partial_acc[((first + s) * rows_max + r) * d_pad];
        for (int64_t i = 0; i < d; ++i) acc[r * d_pad + i] += f * a[i];
      }
    }
    tiled.write_output(items[first], acc.data(), sum.data(), out);
  }
}

int64_t attention_probs_rows(const float* q, int64_t q_stride, const int32_t* q_pos, int64_t n_rows,
                             const KvCache& cache, int64_t layer, int64_t head_kv, float* probs, int64_t ld_probs) {
  const int64_t d = cache.head_dim(), n = cache.length(layer, head_kv);
  KV_CHECK(ld_probs >= n);
  if (n_rows <= 0 || n == 0) return n;
  const auto& ks = kernels::active_kernels();
  ProbsScratch& sc = t_probs_scratch;
  // Keys transposed for the gemm ([d][ld], zero padding columns), decoded block by block.
  const int64_t ld = round_up(n, kernels::kGemmTokenPad);
  float* keys_t = sized(sc.keys_t, d * ld);
  const KvRows keys = cache.keys(layer, head_kv);
  for (int64_t k0 = 0; k0 < n; k0 += kKeyBlock) {
    const int64_t bk = std::min(kKeyBlock, n - k0);
    const float* kb = keys.f32() ? keys.f32() + k0 * d : sized(sc.keys, kKeyBlock * d);
    if (!keys.f32()) keys.read(k0, bk, sc.keys.data());
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < bk; ++j) keys_t[i * ld + k0 + j] = kb[j * d + i];
  }
  for (int64_t i = 0; i < d; ++i) std::fill(keys_t + i * ld + n, keys_t + (i + 1) * ld, 0.0f);
  const int32_t* pos = cache.positions(layer, head_kv);
  const float scale = 1.0f / std::sqrt((float)d);
  // Query rows in blocks, so that a block's scores stay in cache while their softmax is taken.
  constexpr int64_t kRowBlock = 16;
  float* qb = sized(sc.q, kRowBlock * d);
  float* scores = sized(sc.scores, kRowBlock * ld);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
    const int64_t m = std::min(kRowBlock, n_rows - r0);
    for (int64_t r = 0; r < m; ++r) std::copy_n(q + (r0 + r) * q_stride, d, qb + r * d);
    ks.gemm_f32(qb, d, m, keys_t, ld, n, scores, ld, d, false);
    for (int64_t r = 0; r < m; ++r) {
      float* s = scores + r * ld;
      softmax_probs_row(s, n, pos, q_pos[r0 + r], scale);
      std::copy_n(s, n, probs + (r0 + r) * ld_probs);
    }
  }
  return n;
}

}  // namespace kvpress
