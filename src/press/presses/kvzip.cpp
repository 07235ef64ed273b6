// KVzipPress (Kim et al. 2025, "KVzip: Query-Agnostic KV Cache Compression with Context
// Reconstruction"): after the (uncompressed) prefill the model is asked to repeat the context, chunk
// by chunk, on the shared cache; each context entry scores the most attention any repeat query of its
// group paid it; the lowest scores over all layers (or per layer) are pruned (spec §2.21).
// kvpress only masks the pruned entries; we compact every KV head for real, so heads and layers end
// with different lengths (the total kept is exactly kvpress's).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

constexpr int64_t kChunkTokens = 2048;     // context tokens repeated per pass
constexpr int64_t kPrevPostfixTokens = 8;  // tokens of the previous chunk quoted in the next prompt
constexpr const char* kFirstPrompt = "\n\nRepeat the previous context exactly.";
constexpr const char* kNextPrompt = "\n\nRepeat the part of the previous context exactly, starting with";

// kvpress's template probing: one user message "dummy context\n#############" rendered with the
// assistant header; the text before "dummy context" is the prefix, the text after the separator the
// suffix. Without a chat template: no prefix, suffix "\n".
struct TemplateProbe {
  int64_t prefix_length = 0;
  std::vector<int32_t> suffix_ids;
};

TemplateProbe probe_template(const Model& model) {
  const Tokenizer& tok = model.tokenizer();
  const auto& v = tok.vocab();
  const std::string bos = v.bos_id >= 0 ? v.tokens[(size_t)v.bos_id] : "";
  const std::string eos = v.eos_id >= 0 ? v.tokens[(size_t)v.eos_id] : "";
  const ChatTemplate tmpl = ChatTemplate::detect(v.chat_template, bos, eos);
  std::string prefix, suffix = "\n";
  if (tmpl.kind() != ChatTemplate::Kind::None) {
    const std::string dummy = "dummy context", separator = "\n" + std::string(dummy.size(), '#');
    const std::string rendered = tmpl.apply({{"user", dummy + separator}}, true);
    const size_t at = rendered.find(separator);
    KV_CHECK(at != std::string::npos);
    suffix = rendered.substr(at + separator.size());
    prefix = rendered.substr(0, std::min(at, rendered.find(dummy)));
  }
  return {(int64_t)tok.encode(prefix, false, true).size(), tok.encode(suffix, false, true)};
}

}  // namespace

class KvzipPress final : public AfterPrefillPress {
 public:
  KvzipPress(bool layerwise, int64_t n_sink, bool plus_normalization)
      : layerwise_(layerwise), n_sink_(n_sink), plus_(plus_normalization) {}

  std::string name() const override {
    return std::string("kvzip:layerwise=") + (layerwise_ ? "true" : "false") + ",n_sink=" + std::to_string(n_sink_) +
           ",kvzip_plus_normalization=" + (plus_ ? "true" : "false");
  }

  void after_prefill(const ContextPrefill& context) override {
    if (compression_ratio_ == 0.0) return;  // kvpress skips the repeat passes too
    require_whole_context(context);
    const std::vector<float> scores = score_context(context);  // [L, Hkv, N]
    prune(context, scores);
  }

  // Scores of every context entry [n_layers, n_heads_kv, N] from the repeat passes (steps 1-4); the
  // cache is left as it was. Public for the tests.
  std::vector<float> score_context(const ContextPrefill& context) const {
    const Model& model = context.model;
    const auto& c = model.config();
    const int64_t N = (int64_t)context.ids.size(), L = c.n_layers, Hkv = c.n_heads_kv;
    std::vector<float> scores((size_t)(L * Hkv * N), 0.0f);
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t j = 0; j < std::min(n_sink_, N); ++j) scores[(size_t)((l * Hkv + h) * N + j)] = 1.0f;

    const TemplateProbe probe = probe_template(model);
    const Tokenizer& tok = model.tokenizer();
    const std::vector<int32_t> first_prompt = tok.encode(kFirstPrompt, false, true);
    const std::vector<int32_t> next_prompt = tok.encode(kNextPrompt, false, true);
    const std::vector<int64_t> snapshot = context.cache.lengths();
    for (int64_t st = std::min(probe.prefix_length, N), chunk = 0; st < N; st += kChunkTokens, ++chunk) {
      const int64_t en = std::min(N, st + kChunkTokens);
      // prompt ++ suffix ++ chunk; later prompts quote the previous chunk's last 8 tokens.
      std::vector<int32_t> repeat = chunk == 0 ? first_prompt : next_prompt;
      if (chunk > 0) repeat.insert(repeat.end(), context.ids.begin() + (st - kPrevPostfixTokens), context.ids.begin() + st);
      repeat.insert(repeat.end(), probe.suffix_ids.begin(), probe.suffix_ids.end());
      repeat.insert(repeat.end(), context.ids.begin() + st, context.ids.begin() + en);
      std::vector<int32_t> positions(repeat.size());
      std::iota(positions.begin(), positions.end(), (int32_t)N);  // after the context, as kvpress's cache
      LayerObserver observer = [&](const LayerPrefill& layer) { score_chunk(layer, N, st, en, scores); };
      ForwardOptions fwd;
      fwd.logits = LogitsMode::None;
      fwd.observer = &observer;
      fwd.needs = {ObservationNeeds::kAll, plus_};
      model.forward(repeat, positions, context.cache, context.pool, fwd);
      context.cache.truncate(snapshot);  // the repeat tokens leave the cache again
    }
    return scores;
  }

 private:
  // Step 4 for one layer of a repeat pass of Tr tokens (the cache holds N context entries, then the
  // Tr repeat entries): softmax of every repeat query over sinks ++ chunk [st, en) ++ repeat keys
  // (causal among the repeat keys); the chunk's columns, maxed over queries and group heads.
  void score_chunk(const LayerPrefill& layer, int64_t N, int64_t st, int64_t en, std::vector<float>& scores) const {
    const Model& model = layer.model;
    const auto& c = model.config();
    const int64_t H = c.n_heads, Hkv = c.n_heads_kv, G = c.group_size(), d = c.head_dim, D = c.n_embd;
    const int64_t Tr = layer.n_tokens, sk = std::min(n_sink_, st), n_chunk = en - st, n_sub = sk + n_chunk + Tr;
    KV_CHECK(layer.n_query_rows == Tr && layer.cache.length(layer.layer, 0) == N + Tr);
    // Sub-keys per KV head: [n_sub, d].
    std::vector<std::vector<float>> sub_keys((size_t)Hkv, std::vector<float>((size_t)(n_sub * d)));
    for (int64_t g = 0; g < Hkv; ++g) {
      const KvRows k = layer.cache.keys(layer.layer, g);
      float* out = sub_keys[(size_t)g].data();
      if (sk > 0) k.read(0, sk, out);
      k.read(st, n_chunk, out + sk * d);
      k.read(N, Tr, out + (sk + n_chunk) * d);
    }
    // KVzip+: rows divided by ||h_t||, chunk columns multiplied by ||Wo_h v_s|| (per query head).
    std::vector<float> inv_h_norm, wov_norm;  // [Tr], [H, n_chunk]
    if (plus_) {
      inv_h_norm.resize((size_t)Tr);
      for (int64_t t = 0; t < Tr; ++t) {
        double s = 0;
        for (int64_t e = 0; e < D; ++e) s += (double)layer.hidden_normed[t * D + e] * layer.hidden_normed[t * D + e];
        inv_h_norm[(size_t)t] = (float)(1.0 / std::sqrt(s));
      }
      wov_norm = wo_value_norms(layer, st, n_chunk);
    }
    // Per query head: logits of all its repeat queries against the sub-keys in one matmul, then the
    // softmax of each row (causal among the repeat keys) and the max over rows of the chunk columns.
    std::vector<float> head_max((size_t)(H * n_chunk), 0.0f);
    const float scale = 1.0f / std::sqrt((float)d);
    const int n_threads = layer.pool.n_threads();
    std::vector<float> logits((size_t)(Tr * n_sub));
    std::vector<std::vector<float>> best((size_t)n_threads, std::vector<float>((size_t)n_chunk));
    for (int64_t h = 0; h < H; ++h) {
      const kernels::MatrixView K{GgmlType::F32, reinterpret_cast<const uint8_t*>(sub_keys[(size_t)(h / G)].data()),
                                  n_sub, d, (int64_t)(d * sizeof(float))};
      kernels::matmul(K, layer.query(0) + h * d, Tr, H * d, logits.data(), n_sub, layer.pool);  // [Tr, n_sub]
      for (auto& b : best) std::fill(b.begin(), b.end(), 0.0f);
      layer.pool.parallel_for(Tr, 16, [&](int64_t t0, int64_t t1, int thread) {
        float* b = best[(size_t)thread].data();
        for (int64_t t = t0; t < t1; ++t) {
          float* p = &logits[(size_t)(t * n_sub)];
          const int64_t n_seen = sk + n_chunk + t + 1;  // causal among the repeat keys
          float m = -INFINITY;
          for (int64_t s = 0; s < n_seen; ++s) m = std::max(m, p[s] *= scale);
          double z = 0;
          for (int64_t s = 0; s < n_seen; ++s) z += (double)(p[s] = std::exp(p[s] - m));
          const float inv_z = (float)(1.0 / z);
          for (int64_t s = 0; s < n_chunk; ++s) {
            float a = p[sk + s] * inv_z;
            if (plus_) a = a * inv_h_norm[(size_t)t] * wov_norm[(size_t)(h * n_chunk + s)];
            b[s] = std::max(b[s], a);
          }
        }
      });
      float* out = &head_max[(size_t)(h * n_chunk)];
      for (const auto& b : best)
        for (int64_t s = 0; s < n_chunk; ++s) out[s] = std::max(out[s], b[s]);
    }
    for (int64_t g = 0; g < Hkv; ++g) {
      float* row = &scores[(size_t)((layer.layer * Hkv + g) * N + st)];
      for (int64_t s = 0; s < n_chunk; ++s) {
        float m = head_max[(size_t)(g * G * n_chunk + s)];
        for (int64_t k = 1; k < G; ++k) m = std::max(m, head_max[(size_t)((g * G + k) * n_chunk + s)]);
        row[s] = m;
      }
    }
  }

  // ||Wo_h v_s||_2 for every query head h and chunk entry s (v_s of h's KV head): [H, n_chunk].
  static std::vector<float> wo_value_norms(const LayerPrefill& layer, int64_t st, int64_t n_chunk) {
    const auto& c = layer.model.config();
    const int64_t H = c.n_heads, G = c.group_size(), d = c.head_dim, D = c.n_embd;
    const kernels::MatrixView& wo = layer.model.weights().layers[(size_t)layer.layer].wo;  // [D, H*d]
    std::vector<float> w((size_t)(D * H * d));
    for (int64_t o = 0; o < D; ++o) kernels::dequantize_row(wo.type, wo.row(o), &w[(size_t)(o * H * d)], H * d);
    std::vector<float> norms((size_t)(H * n_chunk)), v((size_t)(n_chunk * d)), y((size_t)(n_chunk * D));
    for (int64_t h = 0; h < H; ++h) {
      if (h % G == 0) layer.cache.values(layer.layer, h / G).read(st, n_chunk, v.data());
      const kernels::MatrixView wo_h{GgmlType::F32, reinterpret_cast<const uint8_t*>(&w[(size_t)(h * d)]), D, d,
                                     (int64_t)(H * d * sizeof(float))};
      kernels::matmul(wo_h, v.data(), n_chunk, d, y.data(), D, layer.pool);
      for (int64_t s = 0; s < n_chunk; ++s) {
        double n2 = 0;
        for (int64_t o = 0; o < D; ++o) n2 += (double)y[(size_t)(s * D + o)] * y[(size_t)(s * D + o)];
        norms[(size_t)(h * n_chunk + s)] = (float)std::sqrt(n2);
      }
    }
    return norms;
  }

  // Step 5: the budget (global over layers, or per layer), then each head keeps its surviving entries.
  void prune(const ContextPrefill& context, const std::vector<float>& scores) const {
    const auto& c = context.model.config();
    const int64_t N = (int64_t)context.ids.size(), L = c.n_layers, Hkv = c.n_heads_kv, per_layer = Hkv * N;
    // One strict order for every selection: higher score first; ties lower position, then lower
    // layer, then lower head (kvpress's topk leaves ties unspecified).
    auto tie_rank = [&](int64_t flat) {
      const int64_t l = flat / per_layer, h = (flat / N) % Hkv, s = flat % N;
      return (s * L + l) * Hkv + h;
    };
    auto lower = [&](int64_t a, int64_t b) {  // a is pruned before b
      return ranks_higher(scores[(size_t)b], tie_rank(b), scores[(size_t)a], tie_rank(a));
    };
    std::vector<char> pruned((size_t)(L * per_layer), 0);
    auto prune_lowest = [&](int64_t begin, int64_t end, int64_t n_pruned) {
      std::vector<int64_t> idx((size_t)(end - begin));
      std::iota(idx.begin(), idx.end(), begin);
      n_pruned = std::min<int64_t>(n_pruned, (int64_t)idx.size());
      if (n_pruned < (int64_t)idx.size()) std::nth_element(idx.begin(), idx.begin() + n_pruned, idx.end(), lower);
      for (int64_t i = 0; i < n_pruned; ++i) pruned[(size_t)idx[(size_t)i]] = 1;
    };
    if (layerwise_) {
      const int64_t n_pruned = (int64_t)((double)per_layer * compression_ratio_);  // int(Hkv * N * cr)
      for (int64_t l = 0; l < L; ++l) prune_lowest(l * per_layer, (l + 1) * per_layer, n_pruned);
    } else {
      // The globally lowest int(numel * cr) entries; per layer kvpress then masks its count of lowest
      // entries, which (one order for both) are exactly the global ones in that layer.
      prune_lowest(0, L * per_layer, (int64_t)((double)(L * per_layer) * compression_ratio_));
    }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < Hkv; ++h) {
        std::vector<int64_t> kept;
        for (int64_t s = 0; s < N; ++s)
          if (!pruned[(size_t)((l * Hkv + h) * N + s)]) kept.push_back(s);
        context.cache.keep(l, h, kept);
      }
  }

  bool layerwise_;
  int64_t n_sink_;
  bool plus_;
};

// For the tests: kvzip's scores [n_layers, n_heads_kv, N] of a prefilled context (the cache is left as
// it was). Declared in the tests.
std::vector<float> kvzip_scores(Press& press, const ContextPrefill& context) {
  auto* kvzip = dynamic_cast<KvzipPress*>(&press);
  if (!kvzip) fail("kvzip_scores: press '", press.name(), "' is not kvzip");
  return kvzip->score_context(context);
}

template <>
std::unique_ptr<Press> create_press<KvzipPress>(PressArgs& args) {
  const bool layerwise = args.boolean("layerwise", false);
  const int64_t n_sink = args.integer("n_sink", 4, 0, 1 << 30);
  const bool plus = args.boolean("kvzip_plus_normalization", false);
  if (args.describing()) return nullptr;
  return std::make_unique<KvzipPress>(layerwise, n_sink, plus);
}

}  // namespace kvpress
