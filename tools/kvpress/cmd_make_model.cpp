// `kvpress make-model`: writes a random-weight GGUF with a real model's shape and vocabulary size and the
// weight types llama-quantize would pick, streamed tensor by tensor (benchmarks without downloading a model).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numbers>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/model_writer.h"
#include "runtime/thread_pool.h"

namespace kvpress::cli {
namespace {

namespace fs = std::filesystem;

// Hyper-parameters of a published model, as its config.json / llama.cpp's GGUF conversion gives them.
struct Preset {
  const char* name;
  const char* arch;  // GGUF general.architecture (Mistral converts to "llama")
  int64_t n_vocab, n_embd, n_layers, n_heads, n_heads_kv, head_dim, n_ff;
  float rope_base, rms_eps;
  uint32_t context_length;
  bool tied_output;
  float llama3_rope_factor;  // Llama 3.1+ "llama3" RoPE scaling (low 1, high 4, original 8192); 0: none
};

// qwen2 writes q/k/v biases and qwen3 q/k norms (model_writer.cpp decides from the arch).
constexpr Preset kPresets[] = {
    {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 1e6f, 1e-6f, 32768, true, 0},
    {"qwen2.5-7b", "qwen2", 152064, 3584, 28, 28, 4, 128, 18944, 1e6f, 1e-6f, 32768, false, 0},
    {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 500000.0f, 1e-5f, 131072, true, 32},
    {"llama-3.1-8b", "llama", 128256, 4096, 32, 32, 8, 128, 14336, 500000.0f, 1e-5f, 131072, false, 8},
    {"qwen3-8b", "qwen3", 151936, 4096, 36, 32, 8, 128, 12288, 1e6f, 1e-6f, 40960, false, 0},
    {"mistral-7b", "llama", 32000, 4096, 32, 32, 8, 128, 14336, 1e6f, 1e-5f, 32768, false, 0},  // v0.2 (v0.1: rope 10000)
};

std::string preset_names() {
  std::string s;
  for (const auto& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

std::string presets_table() {
  std::string s = "Presets (--like):\n";
  char line[200];
  std::snprintf(line, sizeof line, "  %-13s %-6s %7s %5s %6s %9s %8s %6s %9s %8s %s\n", "name", "arch", "vocab", "embd",
                "layers", "heads/kv", "head_dim", "ff", "rope", "ctx", "output");
  s += line;
  for (const auto& p : kPresets) {
    std::snprintf(line, sizeof line, "  %-13s %-6s %7lld %5lld %6lld %6lld/%-2lld %8lld %6lld %9g %8u %s%s\n", p.name,
                  p.arch, (long long)p.n_vocab, (long long)p.n_embd, (long long)p.n_layers, (long long)p.n_heads,
                  (long long)p.n_heads_kv, (long long)p.head_dim, (long long)p.n_ff, (double)p.rope_base,
                  p.context_length, p.tied_output ? "tied" : "untied", p.llama3_rope_factor > 0 ? ", llama3 rope" : "");
    s += line;
  }
  return s;
}

// llama-quantize's mixes (llama_ftype names) that differ from one type for every matrix.
enum class Mix { Pure, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M };

struct WeightScheme {
  std::string name;
  GgmlType base;       // llama-quantize's default type of the mix
  Mix mix;
  int32_t llama_ftype;  // general.file_type as llama-quantize records it
};

// A tensor type name means that type for every matrix (llama-quantize --pure); a mix name follows
// llama-quantize's per-tensor rules (pick_type).
WeightScheme parse_scheme(const std::string& name) {
  std::string up = name;
  for (auto& c : up) c = (char)std::toupper((unsigned char)c);
  static const WeightScheme mixes[] = {
      {"Q3_K_S", GgmlType::Q3_K, Mix::Q3_K_S, 11}, {"Q3_K_M", GgmlType::Q3_K, Mix::Q3_K_M, 12},
      {"Q3_K_L", GgmlType::Q3_K, Mix::Q3_K_L, 13}, {"Q4_K_S", GgmlType::Q4_K, Mix::Q4_K_S, 14},
      {"Q4_K_M", GgmlType::Q4_K, Mix::Q4_K_M, 15}, {"Q5_K_S", GgmlType::Q5_K, Mix::Q5_K_S, 16},
      {"Q5_K_M", GgmlType::Q5_K, Mix::Q5_K_M, 17},
  };
  for (const auto& m : mixes)
    if (m.name == up) return m;
  // The file type llama.cpp records for a file of only that type (Q3_K/Q4_K/Q5_K alias the _M mixes).
  static const std::map<GgmlType, int32_t> pure_ftype = {
      {GgmlType::F32, 0},   {GgmlType::F16, 1},   {GgmlType::BF16, 32}, {GgmlType::Q4_0, 2}, {GgmlType::Q4_1, 3},
      {GgmlType::Q5_0, 8},  {GgmlType::Q5_1, 9},  {GgmlType::Q8_0, 7},  {GgmlType::Q2_K, 10}, {GgmlType::Q3_K, 12},
      {GgmlType::Q4_K, 15}, {GgmlType::Q5_K, 17}, {GgmlType::Q6_K, 18},
  };
  const auto t = ggml_type_from_name(name);
  const auto it = t ? pure_ftype.find(*t) : pure_ftype.end();
  if (it == pure_ftype.end())
    fail("unknown --type '", name, "' (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, "
         "or a llama-quantize mix: Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M)");
  return {std::string(ggml_type_name(*t)), *t, Mix::Pure, it->second};
}

// Type used for a matrix whose rows are n_cols long: a 256-block k-quant cannot encode rows that are not
// a multiple of 256 (e.g. Qwen2.5-0.5B's 896), so such matrices get the smaller-block substitute that
// llama-quantize picks (its tensor_type_fallback), F16 when that does not fit either. Where llama-quantize
// has no substitute (Q8_0 and the other 32-blocks) and would stop, F16 too.
GgmlType type_for_cols(GgmlType wanted, int64_t n_cols) {
  if (n_cols % traits_of(wanted).block_size == 0) return wanted;
  GgmlType fallback = GgmlType::F16;
  switch (wanted) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: fallback = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: fallback = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: fallback = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: fallback = GgmlType::Q8_0; break;
    default: break;
  }
  if (n_cols % traits_of(fallback).block_size != 0) fallback = GgmlType::F16;
  return fallback;
}

enum class Kind { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOut, FfnGate, FfnUp, FfnDown };

Kind kind_of(const std::string& name) {
  auto ends = [&](const char* suffix) {
    const std::string s = suffix;
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (name == "token_embd.weight") return Kind::TokenEmbd;
  if (name == "output.weight") return Kind::Output;
  if (ends("attn_q.weight")) return Kind::AttnQ;
  if (ends("attn_k.weight")) return Kind::AttnK;
  if (ends("attn_v.weight")) return Kind::AttnV;
  if (ends("attn_output.weight")) return Kind::AttnOut;
  if (ends("ffn_gate.weight")) return Kind::FfnGate;
  if (ends("ffn_up.weight")) return Kind::FfnUp;
  if (ends("ffn_down.weight")) return Kind::FfnDown;
  fail("make-model: no weight type rule for tensor '", name, "'");
}

int64_t layer_of(const std::string& name) {
  long long l = -1;
  return std::sscanf(name.c_str(), "blk.%lld.", &l) == 1 ? (int64_t)l : -1;
}

// llama-quantize's choice of layers that get more bits in the _M mixes: the first and last eighth, and
// every third layer in between.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// llama-quantize's per-tensor type for a dense (not MoE, not Falcon, not 70B) Llama-family model without an
// importance matrix, before the row-length fallback. attn_v and ffn_down are counted in file order, which
// for one of each per layer is the layer index.
GgmlType mix_type(const WeightScheme& s, Kind kind, int64_t layer, int64_t n_layers, int64_t n_cols, bool tied) {
  if (kind == Kind::Output || (tied && kind == Kind::TokenEmbd)) {
    if (n_cols % traits_of(s.base).block_size != 0) return GgmlType::Q8_0;
    return s.base == GgmlType::Q8_0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
  }
  const bool more = use_more_bits(layer, n_layers);
  switch (kind) {
    case Kind::AttnV:
      if (s.mix == Mix::Q3_K_M) return layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
      if (s.mix == Mix::Q3_K_L) return GgmlType::Q5_K;
      if ((s.mix == Mix::Q4_K_M || s.mix == Mix::Q5_K_M) && more) return GgmlType::Q6_K;
      if (s.mix == Mix::Q4_K_S && layer < 4) return GgmlType::Q5_K;
      break;
    case Kind::FfnDown:
      if (s.mix == Mix::Q3_K_M) return layer < n_layers / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
      if (s.mix == Mix::Q3_K_L) return GgmlType::Q5_K;
      if ((s.mix == Mix::Q4_K_M || s.mix == Mix::Q5_K_M) && more) return GgmlType::Q6_K;
      if (s.mix == Mix::Q4_K_S && layer < n_layers / 8) return GgmlType::Q5_K;
      break;
    case Kind::AttnOut:
      if (s.mix == Mix::Q3_K_M) return GgmlType::Q4_K;
      if (s.mix == Mix::Q3_K_L) return GgmlType::Q5_K;
      break;
    default: break;
  }
  return s.base;
}

GgmlType pick_type(const WeightScheme& s, const std::string& name, int64_t n_layers, int64_t n_cols, bool tied) {
  if (traits_of(s.base).block_size == 1) return s.base;  // F32/F16/BF16: nothing to quantize
  const Kind kind = kind_of(name);
  const GgmlType t = s.mix == Mix::Pure ? s.base : mix_type(s, kind, layer_of(name), n_layers, n_cols, tied);
  return type_for_cols(t, n_cols);
}

// Llama 3.1's "llama3" RoPE scaling as llama.cpp's converter stores it: one divisor per frequency, 1 for
// short wavelengths, `factor` for long ones, interpolated in between.
std::vector<float> llama3_rope_factors(float factor, int64_t head_dim, float rope_base) {
  const double original_context = 8192, low_freq_factor = 1, high_freq_factor = 4;
  const double low_wavelen = original_context / low_freq_factor, high_wavelen = original_context / high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double freq = std::pow((double)rope_base, -2.0 * (double)i / (double)head_dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double f = 1;
    if (wavelen > low_wavelen) {
      f = factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      f = 1 / ((1 - smooth) / factor + smooth);
    }
    out.push_back((float)f);
  }
  return out;
}

// A placeholder SentencePiece-style vocabulary of n tokens: control tokens, 256 byte tokens, filler pieces.
SpmVocabulary placeholder_vocab(int64_t n) {
  SpmVocabulary vocab;
  vocab.tokens = {"<unk>", "<s>", "</s>"};
  vocab.types = {2, 3, 3};
  for (int b = 0; b < 256 && (int64_t)vocab.tokens.size() < n; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    vocab.tokens.push_back(buf);
    vocab.types.push_back(6);
  }
  while ((int64_t)vocab.tokens.size() < n) {
    vocab.tokens.push_back("\xe2\x96\x81t" + std::to_string(vocab.tokens.size()));
    vocab.types.push_back(1);
  }
  vocab.scores.assign(vocab.tokens.size(), 0.0f);
  return vocab;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Row `row` of a tensor: N(0, scale)-like values (sum of four uniforms, rescaled), seeded per row so that
// rows can be made on any thread, in any chunking, with the same result.
void random_row(uint64_t tensor_seed, int64_t row, float scale, float* out, int64_t n) {
  uint64_t state = tensor_seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(row + 1));
  const float k = scale * std::sqrt(3.0f) / 65536.0f;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(state);
    const float sum = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) + (float)(r >> 48);
    out[i] = (sum - 2.0f * 65535.0f) * k;
  }
}

std::string gigabytes(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", (double)n / 1e9);
  return buf;
}

// Progress of the data section on stderr: a rewritten line on a terminal, a line per tenth otherwise.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(std::max<uint64_t>(total, 1)), tty_(::isatty(2) != 0) {}
  void add(uint64_t n) {
    done_ += n;
    const int tenth = (int)(done_ * 10 / total_);
    const auto now = std::chrono::steady_clock::now();
    if (tty_ ? now - last_ < std::chrono::milliseconds(200) && done_ < total_ : tenth == last_tenth_) return;
    last_ = now, last_tenth_ = tenth;
    std::fprintf(stderr, "%smake-model: %3d%% (%s of %s)%s", tty_ ? "\r" : "", (int)(done_ * 100 / total_),
                 gigabytes(done_).c_str(), gigabytes(total_).c_str(), tty_ ? "" : "\n");
    std::fflush(stderr);
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  uint64_t total_, done_ = 0;
  bool tty_;
  int last_tenth_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

struct Args {
  std::string like = "qwen2.5-0.5b", type = "Q8_0", out, arch;
  int64_t n_vocab = -1, n_embd = -1, n_layers = -1, n_heads = -1, n_heads_kv = -1, head_dim = -1, n_ff = -1;
  uint64_t seed = 1;
  int threads = 0;
  bool force = false, dry_run = false, json = false;
};

ModelFileShape shape_from(const Args& a, const Preset& p) {
  auto pick = [](int64_t override_value, int64_t preset_value, const char* flag) {
    if (override_value == -1) return preset_value;
    if (override_value <= 0) fail("--", flag, " must be positive, got ", override_value);
    return override_value;
  };
  ModelFileShape s;
  s.arch = a.arch.empty() ? p.arch : a.arch;
  s.name = std::string("random-") + p.name;
  s.n_embd = pick(a.n_embd, p.n_embd, "embd");
  s.n_layers = pick(a.n_layers, p.n_layers, "layers");
  s.n_heads = pick(a.n_heads, p.n_heads, "heads");
  s.n_heads_kv = pick(a.n_heads_kv, p.n_heads_kv, "heads-kv");
  s.head_dim = pick(a.head_dim, p.head_dim, "head-dim");
  s.n_ff = pick(a.n_ff, p.n_ff, "ff");
  s.context_length = p.context_length;
  s.rope_base = p.rope_base;
  s.rms_eps = p.rms_eps;
  s.tied_output = p.tied_output;
  if (p.llama3_rope_factor > 0 && s.head_dim % 2 == 0)
    s.rope_freq_factors = llama3_rope_factors(p.llama3_rope_factor, s.head_dim, s.rope_base);
  return s;
}

nlohmann::ordered_json describe(const Args& a, const ModelFileShape& s, int64_t n_vocab, const WeightScheme& scheme,
                                const gguf::GgufWriter& w) {
  std::map<std::string, int64_t> type_counts;
  int64_t weight_bytes = 0, n_params = 0;
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const auto& t : w.tensor_entries()) {
    ++type_counts[std::string(ggml_type_name(t.type))];
    weight_bytes += (int64_t)t.n_bytes;
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    n_params += n;
    tensors.push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"ne", t.ne}});
  }
  nlohmann::ordered_json j = {
      {"preset", a.like}, {"type", scheme.name}, {"architecture", s.arch}, {"name", s.name},
      {"n_vocab", n_vocab}, {"n_embd", s.n_embd}, {"n_layers", s.n_layers}, {"n_heads", s.n_heads},
      {"n_heads_kv", s.n_heads_kv}, {"head_dim", s.head_dim}, {"n_ff", s.n_ff}, {"context_length", s.context_length},
      {"rope_base", s.rope_base}, {"rope_freq_factors", !s.rope_freq_factors.empty()}, {"rms_eps", s.rms_eps},
      {"qkv_bias", s.arch == "qwen2"}, {"qk_norm", s.arch == "qwen3"}, {"tied_output", s.tied_output},
      {"weight_types", type_counts}, {"n_params", n_params}, {"weight_bytes", weight_bytes},
      {"file_bytes", w.file_size()},
  };
  if (a.json) j["tensors"] = tensors;
  return j;
}

void print(const nlohmann::ordered_json& j, bool json) {
  if (json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    std::printf("%-18s %s\n", it.key().c_str(),
                it.value().is_string() ? it.value().get<std::string>().c_str() : it.value().dump().c_str());
}

int run(const Args& a) {
  const Preset* preset = nullptr;
  for (const auto& p : kPresets)
    if (a.like == p.name) preset = &p;
  if (!preset) fail("unknown --like '", a.like, "' (known: ", preset_names(), ")");
  const WeightScheme scheme = parse_scheme(a.type);
  if (!a.dry_run && a.out.empty()) fail("--out FILE is required (or --dry-run)");
  if (a.n_vocab != -1 && a.n_vocab < 3) fail("--vocab must be at least 3 (unk, bos, eos), got ", a.n_vocab);
  const ModelFileShape shape = shape_from(a, *preset);
  const int64_t n_vocab = a.n_vocab == -1 ? preset->n_vocab : a.n_vocab;
  ModelFileShape file_shape = shape;
  file_shape.file_type = scheme.llama_ftype;

  const int n_threads = a.threads > 0 ? a.threads : (int)std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(n_threads);
  Progress* progress = nullptr;  // set once the total is known, before any data is produced
  uint64_t tensor_index = 0, produced_bytes = 0;
  const float scale = 0.02f;
  auto fill = [&](gguf::GgufWriter& w, const std::string& name, const std::vector<int64_t>& ne, TensorRole role) {
    if (role == TensorRole::Norm) {
      w.add_tensor_f32(name, ne, std::vector<float>((size_t)ne[0], 1.0f));
      return;
    }
    const GgmlType t =
        role == TensorRole::Bias ? GgmlType::F32 : pick_type(scheme, name, shape.n_layers, ne[0], shape.tied_output);
    uint64_t seed_state = a.seed * 0x2545f4914f6cdd1dull + tensor_index++;
    const uint64_t tensor_seed = splitmix64(seed_state);
    const int64_t n_cols = ne[0], rb = row_bytes(t, n_cols);
    int64_t n_rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) n_rows *= ne[d];
    produced_bytes += (uint64_t)(rb * n_rows);
    w.add_tensor_rows(name, ne, t, [&pool, &progress, t, tensor_seed, n_cols, rb, scale](int64_t first, int64_t n,
                                                                                       uint8_t* dst) {
      pool.parallel_for(n, std::max<int64_t>(1, 65536 / n_cols), [&](int64_t begin, int64_t end, int) {
        std::vector<float> values((size_t)n_cols);
        for (int64_t r = begin; r < end; ++r) {
          random_row(tensor_seed, first + r, scale, values.data(), n_cols);
          kernels::quantize_row(t, values.data(), dst + r * rb, n_cols);
        }
      });
      if (progress) progress->add((uint64_t)(n * rb));
    });
  };
  gguf::GgufWriter writer;
  build_model_file(writer, file_shape, placeholder_vocab(n_vocab), fill);
  const auto summary = describe(a, shape, n_vocab, scheme, writer);
  if (a.dry_run) {
    print(summary, a.json);
    return 0;
  }

  // Checks before writing anything; then a temporary file in the same folder, renamed when complete, so
  // a failed or interrupted run never leaves a truncated model under the requested name.
  const fs::path out = a.out;
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) fail(a.out, ": folder ", dir.string(), " does not exist");
  if (fs::is_directory(out)) fail(a.out, ": is a folder");
  if (fs::exists(out) && !a.force) fail(a.out, ": already exists (--force overwrites it)");
  const uint64_t file_bytes = writer.file_size();
  std::error_code ec;
  const auto space = fs::space(dir, ec);
  if (!ec && space.available < file_bytes)
    fail(a.out, ": needs ", gigabytes(file_bytes), ", only ", gigabytes(space.available), " free in ", dir.string());
  const fs::path tmp = out.string() + ".tmp" + std::to_string(::getpid());

  std::fprintf(stderr, "make-model: writing %s: %s, %s, %s with %d threads\n", a.out.c_str(), a.like.c_str(),
               scheme.name.c_str(), gigabytes(file_bytes).c_str(), n_threads);
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar(produced_bytes);
  progress = &bar;
  try {
    writer.write(tmp.string());
    fs::rename(tmp, out);
  } catch (...) {
    bar.finish();
    fs::remove(tmp, ec);
    throw;
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "make-model: wrote %s (%llu bytes, %.1f s), weight types %s\n", a.out.c_str(),
               (unsigned long long)file_bytes, seconds, summary["weight_types"].dump().c_str());
  return 0;
}

}  // namespace

void add_make_model_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("make-model", "Write a random-weight GGUF shaped like a real model (benchmarks)");
  cmd->add_option("--like", args->like, "preset: " + preset_names())->capture_default_str();
  cmd->add_option("--type", args->type,
                  "weight type: one type for every matrix (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, "
                  "Q4_K, Q5_K, Q6_K, as llama-quantize --pure) or a llama-quantize mix (Q3_K_S, Q3_K_M, Q3_K_L, "
                  "Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M); rows a type cannot encode fall back as in llama-quantize")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "output .gguf path (written via a temporary file, then renamed)");
  cmd->add_option("--arch", args->arch, "override: llama, qwen2 or qwen3 (default: the preset's)");
  cmd->add_option("--vocab", args->n_vocab, "override: vocabulary size (default: the preset's)");
  cmd->add_option("--embd", args->n_embd, "override: hidden size (default: the preset's)");
  cmd->add_option("--layers", args->n_layers, "override: layers (default: the preset's)");
  cmd->add_option("--heads", args->n_heads, "override: query heads (default: the preset's)");
  cmd->add_option("--heads-kv", args->n_heads_kv, "override: key/value heads (default: the preset's)");
  cmd->add_option("--head-dim", args->head_dim, "override: head dimension (default: the preset's)");
  cmd->add_option("--ff", args->n_ff, "override: feed-forward size (default: the preset's)");
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads making the weights (0: all cores)")->capture_default_str();
  cmd->add_flag("--force", args->force, "overwrite an existing --out file");
  cmd->add_flag("--dry-run", args->dry_run, "print the shape, weight types and file size; write nothing");
  cmd->add_flag("--json", args->json, "with --dry-run: print JSON, with every tensor's name, type and dims");
  cmd->footer(presets_table());
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kvpress::cli
