// Press construction and use: input byte 0 picks the compression ratio (some outside [0, 1)), byte 1
// the KV storage types, byte 2 the context length (low 6 bits) and prefill chunk size; the rest is a press specification ("@" and a
// byte at its start stand for a registered press name, picked by that byte). A press that
// builds is run on a tiny random model's prefill and a short answer (decoding presses act on it); each step either works or throws
// Error. A working press keeps at most the context per head and leaves a cache that decodes.
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_check.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "tiny_model.h"

namespace kvpress::fuzz {
namespace {

const Model& tiny_model() {
  static const std::unique_ptr<Model> model = [] {
    testing::TinyModelSpec spec;
    spec.n_layers = 2, spec.n_heads = 4, spec.n_heads_kv = 2, spec.head_dim = 32, spec.n_embd = 64, spec.n_ff = 64;
    return testing::make_tiny_model(spec);  // head_dim 32: every KV type's blocks fit
  }();
  return *model;
}

ThreadPool& pool() {
  static ThreadPool single(1);  // inline: one process, one core, deterministic
  return single;
}

const std::vector<std::string>& press_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const PressInfo& info : registered_presses()) out.push_back(info.name);
    return out;
  }();
  return names;
}

constexpr int64_t kChunks[] = {0, 1, 7, 16};  // 0: the whole context in one pass

constexpr KvType kTypes[] = {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0};

void run_press(Press* press, const KvTypes& types, int64_t n_context, int64_t chunk_tokens) {
  const Model& model = tiny_model();
  ContextSession session(model, pool(), types);
  const std::vector<int32_t> context = testing::tiny_token_ids(n_context, (uint64_t)n_context);
  session.prefill(context, press, {}, chunk_tokens);
  const auto& c = model.config();
  for (int64_t layer = 0; layer < c.n_layers; ++layer)
    for (int64_t head = 0; head < c.n_heads_kv; ++head)
      require(session.cache().length(layer, head) <= n_context, "a press never adds cache entries");
  require(session.question_start() >= 0 && session.question_start() <= n_context, "the question starts inside the context");
  GenerateOptions options;
  options.max_new_tokens = 6;  // a decoding press (e.g. target_size=3,compression_interval=1) acts on these
  options.press = press;
  const std::vector<int32_t> question = {testing::kTinyFirstWord, testing::kTinyFirstWord + 1};
  const GenerateResult answer = session.ask(question, options);
  require(answer.tokens.size() <= 6, "at most max_new_tokens are generated");
}

}  // namespace

void check_press_run(Bytes input) {
  if (input.size() < 3) return;
  const double ratio = input[0] / 200.0 - 0.1;  // -0.1 .. 1.175
  const KvTypes types{kTypes[(input[1] & 0x0F) % 5], kTypes[(input[1] >> 4) % 5]};
  const int64_t n_context = 1 + (input[2] & 0x3F) % 48;
  const int64_t chunk_tokens = kChunks[input[2] >> 6];
  std::string spec(reinterpret_cast<const char*>(input.data()) + 3, input.size() - 3);
  // A leading "@" followed by a byte stands for a registered name, so mutations mostly keep a valid press.
  if (spec.size() >= 2 && spec[0] == '@') spec = press_names()[(uint8_t)spec[1] % press_names().size()] + spec.substr(2);
  try {
    const std::unique_ptr<Press> press = make_press(spec, ratio);
    run_press(press.get(), types, n_context, chunk_tokens);
  } catch (const Error& e) {
    require_error_message(e.what());
  }
}

}  // namespace kvpress::fuzz
