// DuoAttentionPress with on-the-fly head patterns (Xiao et al. 2024, "DuoAttention: Efficient
// Long-Context LLM Inference with Retrieval and Streaming Heads"; kvpress's experimental
// on_the_fly_scoring, spec §2.12): a head whose mean query attends mostly to nearby copies of the mean
// key is a "streaming" head and keeps only the first sink_size and the last recent_size entries; the
// others (retrieval heads) keep everything. The round(L * Hkv * ratio) lowest-scoring (layer, KV head)
// pairs stream. kvpress only masks; we drop [sink_size, S - recent_size) of streaming heads for real.
// Calibration text: kvpress uses 50 BookSum chapters (a download); we use the Paul Graham essays of
// the repository's data/ folder (paul_graham_essays/*.txt, file-name order), see docs/presses.md.
#include <algorithm>
#include <cfenv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

#ifndef KVPRESS_DATA_DIR
#define KVPRESS_DATA_DIR "data"
#endif

namespace kvpress {
namespace {

std::vector<std::string> calibration_texts(int64_t n_samples) {
  const std::filesystem::path folder = std::filesystem::path(KVPRESS_DATA_DIR) / "paul_graham_essays";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    fail("press 'duo_attention_on_the_fly' computes its head patterns from the essays in ", folder.string(),
         " (kvpress: BookSum chapters, a download), which is not a folder");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail("press 'duo_attention_on_the_fly': no .txt essays in ", folder.string());
  std::vector<std::string> texts;
  for (size_t i = 0; i < files.size() && (int64_t)i < n_samples; ++i) {
    std::ifstream in(files[i], std::ios::binary);
    texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return texts;
}

}  // namespace

class DuoAttentionOnTheFlyPress final : public AfterPrefillPress {
 public:
  struct Options {
    int64_t sink_size = 128, recent_size = 256, n_samples = 50, q_len = 500;
  };
  explicit DuoAttentionOnTheFlyPress(Options o) : o_(o) {}

  std::string name() const override {
    return "duo_attention_on_the_fly:sink_size=" + std::to_string(o_.sink_size) +
           ",recent_size=" + std::to_string(o_.recent_size) + ",n_samples=" + std::to_string(o_.n_samples) +
           ",q_len=" + std::to_string(o_.q_len);
  }
  // After the prefill (the ratio is kvpress's head_compression_ratio: the fraction of (layer, KV head)
  // pairs that stream): head patterns (once per model, as kvpress caches them), then the streaming
  // heads drop their middle.
  void after_prefill(const ContextPrefill& context) override {
    const auto& c = context.model.config();
    const int64_t L = c.n_layers, Hkv = c.n_heads_kv;
    const int64_t n_streaming = (int64_t)std::nearbyint((double)(L * Hkv) * compression_ratio_);  // half-even
    if (n_streaming == 0) return;
    const std::vector<double>& scores = head_scores(context.model, context.pool);
    std::vector<int64_t> order((size_t)(L * Hkv));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[(size_t)a] < scores[(size_t)b]; });
    for (int64_t i = 0; i < n_streaming; ++i) {
      const int64_t l = order[(size_t)i] / Hkv, h = order[(size_t)i] % Hkv;
      const int64_t S = context.cache.length(l, h);
      if (S <= o_.sink_size + o_.recent_size) continue;
      std::vector<int64_t> kept;
      for (int64_t j = 0; j < o_.sink_size; ++j) kept.push_back(j);
      for (int64_t j = S - o_.recent_size; j < S; ++j) kept.push_back(j);
      context.cache.keep(l, h, kept);
    }
  }

  // Head scores [n_layers * n_heads_kv] (higher = retrieval): per calibration text and layer, the mean
  // pre-RoPE query and key of its tokens are repeated at positions 0..q_len-1; the last query's
  // softmax over those keys, cumulated, averaged over positions ("area under the cumulative
  // attention"), averaged over the group and the texts. Computed once per model.
  const std::vector<double>& head_scores(const Model& model, ThreadPool& pool) {
    if (scores_model_ == &model && scores_path_ == model.file().path()) return scores_;
    // Once per process and model file, as kvpress's cache by model name (press objects are made
    // per evaluation run and per request).
    static std::mutex mutex;
    static std::map<std::string, std::vector<double>> computed;
    const std::string key = model.file().path() + "|" + name();
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (auto it = computed.find(key); it != computed.end()) {
        scores_ = it->second;
        scores_model_ = &model;
        scores_path_ = model.file().path();
        return scores_;
      }
    }
    const auto& c = model.config();
    const int64_t L = c.n_layers, H = c.n_heads, Hkv = c.n_heads_kv, G = c.group_size(), d = c.head_dim;
    const std::vector<std::string> texts = calibration_texts(o_.n_samples);
    std::vector<double> scores((size_t)(L * Hkv), 0.0);
    for (const std::string& text : texts) {
      std::vector<int32_t> ids = model.tokenizer().encode(text, true, false);
      if (c.n_ctx_train > 0 && (int64_t)ids.size() > c.n_ctx_train) ids.resize((size_t)c.n_ctx_train);
      const int64_t T = (int64_t)ids.size();
      std::vector<int32_t> positions((size_t)T);
      std::iota(positions.begin(), positions.end(), 0);
      LayerObserver observer = [&](const LayerPrefill& layer) {
        std::vector<float> q((size_t)(T * H * d)), k((size_t)(T * Hkv * d));
        model.project_queries(layer.layer, layer.hidden_normed, T, q.data(), pool);
        model.project_keys(layer.layer, layer.hidden_normed, T, k.data(), pool);
        std::vector<double> q_mean((size_t)(H * d), 0.0), k_mean((size_t)(Hkv * d), 0.0);
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t e = 0; e < H * d; ++e) q_mean[(size_t)e] += q[(size_t)(t * H * d + e)] / (double)T;
          for (int64_t e = 0; e < Hkv * d; ++e) k_mean[(size_t)e] += k[(size_t)(t * Hkv * d + e)] / (double)T;
        }
        std::vector<float> q_last(q_mean.begin(), q_mean.end());
        model.rope().apply(q_last.data(), H, (int32_t)(o_.q_len - 1));
        std::vector<float> keys((size_t)(o_.q_len * Hkv * d));  // RoPE_p(mean key), p = 0..q_len-1
        for (int64_t p = 0; p < o_.q_len; ++p) {
          std::copy(k_mean.begin(), k_mean.end(), keys.begin() + p * Hkv * d);
          model.rope().apply(&keys[(size_t)(p * Hkv * d)], Hkv, (int32_t)p);
        }
        for (int64_t h = 0; h < H; ++h) {
          std::vector<double> logit((size_t)o_.q_len);
          double m = -INFINITY;
          for (int64_t p = 0; p < o_.q_len; ++p) {
            double dot = 0;
            for (int64_t e = 0; e < d; ++e) dot += (double)q_last[(size_t)(h * d + e)] * keys[(size_t)((p * Hkv + h / G) * d + e)];
            logit[(size_t)p] = dot / std::sqrt((double)d);
            m = std::max(m, logit[(size_t)p]);
          }
          double z = 0;
          for (double x : logit) z += std::exp(x - m);
          double cumulative = 0, area = 0;
          for (int64_t p = 0; p < o_.q_len; ++p) {
            cumulative += std::exp(logit[(size_t)p] - m) / z;
            area += cumulative / (double)o_.q_len;
          }
          scores[(size_t)(layer.layer * Hkv + h / G)] += area / (double)G / (double)texts.size();
        }
      };
      KvCache cache = model.make_cache();
      ForwardOptions fwd;
      fwd.logits = LogitsMode::None;
      fwd.observer = &observer;
      fwd.needs = {0, true};
      model.forward(ids, positions, cache, pool, fwd);
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      computed[key] = scores;
    }
    scores_ = std::move(scores);
    scores_model_ = &model;
    scores_path_ = model.file().path();
    return scores_;
  }

 private:
  Options o_;
  std::vector<double> scores_;
  const Model* scores_model_ = nullptr;
  std::string scores_path_;
};

// For the tests: the head scores [n_layers * n_heads_kv] of duo_attention_on_the_fly.
std::vector<double> duo_attention_head_scores(Press& press, const Model& model, ThreadPool& pool) {
  auto* p = dynamic_cast<DuoAttentionOnTheFlyPress*>(&press);
  if (!p) fail("duo_attention_head_scores: press '", press.name(), "' is not duo_attention_on_the_fly");
  return p->head_scores(model, pool);
}

// The essays the head patterns are computed from (for the tests).
std::vector<std::string> duo_attention_calibration_texts(int64_t n_samples) { return calibration_texts(n_samples); }

template <>
std::unique_ptr<Press> create_press<DuoAttentionOnTheFlyPress>(PressArgs& args) {
  DuoAttentionOnTheFlyPress::Options o;
  o.sink_size = args.integer("sink_size", 128, 0, 1 << 30);
  o.recent_size = args.integer("recent_size", 256, 0, 1 << 30);
  o.n_samples = args.integer("n_samples", 50, 1, 1 << 20);
  o.q_len = args.integer("q_len", 500, 1, 1 << 20);
  if (args.describing()) return nullptr;
  return std::make_unique<DuoAttentionOnTheFlyPress>(o);
}

}  // namespace kvpress
