// The query statistics file of expected_attention_with_stats (spec §2.22, ExpectedAttentionStatsPress):
// mean and covariance of the pre-RoPE queries of every layer and query head, written by
// `kvpress query-stats` (Engine::write_query_stats) and read, validated, by the press.
//
// Layout, little-endian, nothing between the fields:
//   "KVPQSTAT"  8 bytes magic          u32 version (1)
//   u32 n_layers, n_heads, head_dim    u32 n_sink, n_samples, max_chars (how the statistics were taken)
//   u64 n_queries (N, over all samples) u32 n bytes + n bytes: the model's name (information only)
//   f32 mean [n_layers, n_heads, head_dim]
//   f32 cov  [n_layers, n_heads, head_dim, head_dim]  (sum of outer products of centred queries / (N - 1))
// Channels are in the model's own order of its pre-RoPE queries (after bias and q_norm), so a file fits
// the models with its n_layers, n_heads and head_dim; the press checks those against the model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvpress {

struct QueryStatsFile {
  int64_t n_layers = 0, n_heads = 0, head_dim = 0;
  int64_t n_sink = 0, n_samples = 0, max_chars = 0;
  int64_t n_queries = 0;
  std::string model_name;
  std::vector<float> mean;  // [n_layers, n_heads, head_dim]
  std::vector<float> cov;   // [n_layers, n_heads, head_dim, head_dim]
};

// Throws Error naming the path when it cannot be written.
void write_query_stats_file(const std::string& path, const QueryStatsFile& stats);
// Throws Error naming the path and what is wrong: not a stats file, another version, sizes that do not
// add up to the file's length, non-finite values.
QueryStatsFile read_query_stats_file(const std::string& path);

}  // namespace kvpress
