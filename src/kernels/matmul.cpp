// Weight matrix times activations, multi-threaded over rows.
// Decode (one token) is bound by weight bandwidth: a fused dot_row per row reads each byte once. On
// the int8 path (MatrixView::int8_activations) the tokens are rounded to int8 blocks once, then every
// row takes integer dot products with them (few tokens), or, for types with int8 tiles and a kernel
// set that has them, the rows are decoded to signed codes per tile as above and run through gemm_q8.
// Prefill (many tokens) is bound by arithmetic: each thread decodes a block of rows one K chunk at a
// time into a small f32 scratch and runs the register-blocked gemm_f32 tile over all tokens, so the
// decoding cost is paid once per weight, not once per token.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

namespace kvpress::kernels {
namespace {

constexpr int64_t kDecodeGrainRows = 16;
// Rows decoded together for prefill: a multiple of the SIMD tiles' row counts (6 and 8).
constexpr int64_t kGemmRowBlock = 24;
// Columns per K chunk, a multiple of every block size. The decoded chunk (24 x 512 floats, 48 KB)
// and the transposed activations of the chunk (512 x 64 tokens, 128 KB) stay in L2 while all
// tokens are processed.
constexpr int64_t kGemmChunkCols = 512;
// Below this many tokens, padding to kGemmTokenPad wastes more than the tile gains: decode each row
// once and take plain dot products instead.
constexpr int64_t kMinGemmTokens = 4;
// Columns per transposition tile (keeps the written lines of bt in L1).
constexpr int64_t kTransposeCols = 32;

// Per-thread buffers; pool workers live as long as the pool, so these are allocated once.
thread_local std::vector<float> t_row_scratch;
thread_local std::vector<float> t_tile_scratch;
thread_local std::vector<float> t_out_scratch;
thread_local std::vector<float> t_transposed;
// The int8 path's: tokens rounded to int8 (Q8Activations), packed for gemm_q8, weight rows as codes.
struct Q8Buffers {
  std::vector<int8_t> values;
  std::vector<float> scales, sums;
};
struct PackedTokens {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
};
struct CodeTile {
  std::vector<int8_t> codes;
  std::vector<float> scales;
  std::vector<int32_t> sums;
};
thread_local Q8Buffers t_q8;
thread_local PackedTokens t_packed;
thread_local CodeTile t_codes;

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if ((int64_t)v.size() < n) v.resize((size_t)n);
  return v.data();
}

// Token t's rounded activations: q8[t] (per-thread buffers of the calling thread); n_tokens < kMinGemmTokens.
std::array<Q8Activations, kMinGemmTokens> quantize_tokens(const KernelSet& ks, const float* x, int64_t n_tokens,
                                                          int64_t x_stride, int64_t n_cols) {
  KV_CHECK(n_tokens < kMinGemmTokens);
  int8_t* qs = sized(t_q8.values, n_tokens * n_cols);
  float* d = sized(t_q8.scales, n_tokens * n_cols / kQ8Block);
  float* ds16 = sized(t_q8.sums, n_tokens * n_cols / 16);
  std::array<Q8Activations, kMinGemmTokens> q8{};
  for (int64_t t = 0; t < n_tokens; ++t) {
    int8_t* qt = qs + t * n_cols;
    float* dt = d + t * n_cols / kQ8Block;
    float* st = ds16 + t * n_cols / 16;
    ks.quantize_activations(x + t * x_stride, n_cols, qt, dt, st);
    q8[(size_t)t] = {qt, dt, st};
  }
  return q8;
}

void matmul_int8(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool) {
  const auto q8 = quantize_tokens(ks, x, n_tokens, x_stride, w.n_cols);
  pool.parallel_for(w.n_rows, kDecodeGrainRows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = ks.dot_row_q8(w.type, w.row(r), q8[(size_t)t], w.n_cols);
  });
}

void matmul_decode(const KernelSet& ks, const MatrixView& w, const float* x, float* y, ThreadPool& pool) {
  pool.parallel_for(w.n_rows, kDecodeGrainRows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) y[r] = ks.dot_row(w.type, w.row(r), x, w.n_cols);
  });
}

void matmul_few_tokens(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                       float* y, int64_t y_stride, ThreadPool& pool) {
  pool.parallel_for(w.n_rows, kDecodeGrainRows, [&](int64_t begin, int64_t end, int) {
    float* scratch = sized(t_row_scratch, w.n_cols);
    for (int64_t r = begin; r < end; ++r) {
      const float* row = scratch;
      if (w.type == GgmlType::F32) {
        row = reinterpret_cast<const float*>(w.row(r));
      } else {
        ks.dequantize_row(w.type, w.row(r), scratch, w.n_cols);
      }
      for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = ks.dot_f32(row, x + t * x_stride, w.n_cols);
    }
  });
}

// y[t * y_stride + r] = out[r * ldo + t]: a tile's token-contiguous rows into the token-major output.
void scatter_rows(const float* out, int64_t ldo, int64_t m, int64_t n_tokens, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = out[r * ldo + t];
}

// bt[k * ldb + t] = x[t * x_stride + k], zero for the padding tokens n_tokens <= t < ldb.
void transpose_activations(const float* x, int64_t n_tokens, int64_t x_stride, int64_t n_cols, float* bt,
                           int64_t ldb, ThreadPool& pool) {
  pool.parallel_for(n_cols, 4 * kTransposeCols, [&](int64_t begin, int64_t end, int) {
    for (int64_t k0 = begin; k0 < end; k0 += kTransposeCols) {
      const int64_t k1 = std::min(end, k0 + kTransposeCols);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * x_stride;
        for (int64_t k = k0; k < k1; ++k) bt[k * ldb + t] = xt[k];
      }
      for (int64_t k = k0; k < k1; ++k) std::fill(bt + k * ldb + n_tokens, bt + (k + 1) * ldb, 0.0f);
    }
  });
}

// Both prefill paths: rows in blocks of kGemmRowBlock spread over the threads, each block's columns in
// chunks of kGemmChunkCols; tile(r0, m, k0, kc, out) adds that chunk's products to out [m rows, ldb
// tokens] (overwriting at k0 = 0), which then goes to y.
template <class Tile>
void for_row_blocks(const MatrixView& w, int64_t n_tokens, int64_t ldb, float* y, int64_t y_stride, ThreadPool& pool,
                    Tile tile) {
  const int64_t n_blocks = (w.n_rows + kGemmRowBlock - 1) / kGemmRowBlock;
  pool.parallel_for(n_blocks, 1, [&](int64_t begin, int64_t end, int) {
    float* out = sized(t_out_scratch, kGemmRowBlock * ldb);
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t r0 = blk * kGemmRowBlock;
      const int64_t m = std::min(kGemmRowBlock, w.n_rows - r0);
      for (int64_t k0 = 0; k0 < w.n_cols; k0 += kGemmChunkCols) tile(r0, m, k0, std::min(kGemmChunkCols, w.n_cols - k0), out);
      scatter_rows(out, ldb, m, n_tokens, y + r0, y_stride);
    }
  });
}

void matmul_gemm(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool) {
  const int64_t ldb = (n_tokens + kGemmTokenPad - 1) / kGemmTokenPad * kGemmTokenPad;
  float* bt = sized(t_transposed, w.n_cols * ldb);
  transpose_activations(x, n_tokens, x_stride, w.n_cols, bt, ldb, pool);

  const auto& traits = traits_of(w.type);
  for_row_blocks(w, n_tokens, ldb, y, y_stride, pool, [&](int64_t r0, int64_t m, int64_t k0, int64_t kc, float* out) {
    float* tile = sized(t_tile_scratch, kGemmRowBlock * kGemmChunkCols);
    const float* a = tile;
    int64_t lda = kGemmChunkCols;
    if (w.type == GgmlType::F32) {
      // Already f32: the tile reads the weight rows in place.
      a = reinterpret_cast<const float*>(w.row(r0)) + k0;
      lda = w.row_bytes / (int64_t)sizeof(float);
    } else {
      const int64_t chunk_offset = k0 / traits.block_size * traits.block_bytes;
      for (int64_t r = 0; r < m; ++r) ks.dequantize_row(w.type, w.row(r0 + r) + chunk_offset, tile + r * lda, kc);
    }
    ks.gemm_f32(a, lda, m, bt + k0 * ldb, ldb, n_tokens, out, ldb, kc, k0 > 0);
  });
}

// Tokens rounded to int8 and packed as gemm_q8 reads them (kernels.h); tokens n_tokens..ldb are padding.
void pack_q8_activations(const KernelSet& ks, const float* x, int64_t n_tokens, int64_t x_stride, int64_t n_cols,
                         int64_t ldb, uint8_t* xp, float* xd, ThreadPool& pool) {
  const int64_t nb = n_cols / kQ8Block;
  // Whole groups of 16 tokens per chunk: their bytes share cache lines.
  pool.parallel_for(ldb / kQ8TokenPad, 1, [&](int64_t begin, int64_t end, int) {
    int8_t* qs = sized(t_q8.values, n_cols);
    float* d = sized(t_q8.scales, nb);
    float* ds16 = sized(t_q8.sums, n_cols / 16);
    for (int64_t t = begin * kQ8TokenPad; t < end * kQ8TokenPad; ++t) {
      if (t < n_tokens) {
        ks.quantize_activations(x + t * x_stride, n_cols, qs, d, ds16);
      } else {
        std::fill(qs, qs + n_cols, int8_t{0});
        std::fill(d, d + nb, 0.0f);
      }
      for (int64_t i4 = 0; i4 < n_cols / 4; ++i4) {
        uint32_t word;
        std::memcpy(&word, qs + 4 * i4, 4);
        word ^= 0x80808080u;  // x + 128 as unsigned bytes
        std::memcpy(xp + (i4 * ldb + t) * 4, &word, 4);
      }
      for (int64_t b = 0; b < nb; ++b) xd[b * ldb + t] = d[b];
    }
  });
}

void matmul_gemm_int8(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                      float* y, int64_t y_stride, ThreadPool& pool) {
  const int64_t ldb = (n_tokens + kQ8TokenPad - 1) / kQ8TokenPad * kQ8TokenPad;
  uint8_t* xp = sized(t_packed.bytes, w.n_cols * ldb);
  float* xd = sized(t_packed.scales, w.n_cols / kQ8Block * ldb);
  pack_q8_activations(ks, x, n_tokens, x_stride, w.n_cols, ldb, xp, xd, pool);

  const int64_t block_bytes = traits_of(w.type).block_bytes;
  constexpr int64_t kChunkBlocks = kGemmChunkCols / kQ8Block;
  for_row_blocks(w, n_tokens, ldb, y, y_stride, pool, [&](int64_t r0, int64_t m, int64_t k0, int64_t kc, float* out) {
    int8_t* tile = sized(t_codes.codes, kGemmRowBlock * kGemmChunkCols);
    float* wd = sized(t_codes.scales, kGemmRowBlock * kChunkBlocks);
    int32_t* wsum = sized(t_codes.sums, kGemmRowBlock * kChunkBlocks);
    for (int64_t r = 0; r < m; ++r)
      ks.decode_s8(w.type, w.row(r0 + r) + k0 / kQ8Block * block_bytes, kc, tile + r * kGemmChunkCols,
                   wd + r * kChunkBlocks, wsum + r * kChunkBlocks);
    ks.gemm_q8(tile, kGemmChunkCols, wd, wsum, kChunkBlocks, m, xp + k0 * ldb, xd + k0 / kQ8Block * ldb, ldb, n_tokens,
               out, ldb, kc, k0 > 0);
  });
}

}  // namespace

void matmul_with(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool) {
  const auto& traits = traits_of(w.type);
  KV_CHECK(w.n_cols % traits.block_size == 0);
  KV_CHECK(w.row_bytes >= row_bytes(w.type, w.n_cols));
  KV_CHECK(w.type != GgmlType::F32 || w.row_bytes % (int64_t)sizeof(float) == 0);
  KV_CHECK(n_tokens >= 0);
  if (w.n_rows == 0 || n_tokens == 0) return;
  if (n_tokens < kMinGemmTokens && w.int8_activations && has_int8_dot(w.type)) {
    matmul_int8(ks, w, x, n_tokens, x_stride, y, y_stride, pool);
  } else if (n_tokens == 1) {
    matmul_decode(ks, w, x, y, pool);
  } else if (n_tokens < kMinGemmTokens) {
    matmul_few_tokens(ks, w, x, n_tokens, x_stride, y, y_stride, pool);
  } else if (w.int8_activations && has_int8_gemm(w.type) && ks.gemm_q8) {
    matmul_gemm_int8(ks, w, x, n_tokens, x_stride, y, y_stride, pool);
  } else {
    matmul_gemm(ks, w, x, n_tokens, x_stride, y, y_stride, pool);
  }
}

void matmul(const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool& pool) {
  matmul_with(active_kernels(), w, x, n_tokens, x_stride, y, y_stride, pool);
}

}  // namespace kvpress::kernels
