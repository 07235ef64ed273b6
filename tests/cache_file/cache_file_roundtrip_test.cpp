// A session saved and loaded answers token-identically to the one that saved it, for every KV storage
// type and several presses (head-wise ones included), for text and token sessions.
#include <gtest/gtest.h>

#include "cache_file_test_util.h"
#include "tiny_model.h"

namespace kvpress {
namespace {

using testing::Scratch;

class CacheFileRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = new Engine(Engine::load(testing::shipped_model(), {2})); }
  static void TearDownTestSuite() { delete engine_; }
  static Engine* engine_;
};
Engine* CacheFileRoundTrip::engine_ = nullptr;

void expect_same_cache(const Session& a, const Session& b) {
  ASSERT_EQ(a.n_layers(), b.n_layers());
  ASSERT_EQ(a.n_heads_kv(), b.n_heads_kv());
  for (int64_t l = 0; l < a.n_layers(); ++l)
    for (int64_t h = 0; h < a.n_heads_kv(); ++h) EXPECT_EQ(a.kept_positions(l, h), b.kept_positions(l, h));
  EXPECT_EQ(a.context_ids(), b.context_ids());
  EXPECT_EQ(a.stats().kv_bytes, b.stats().kv_bytes);
  EXPECT_EQ(a.stats().kv_bytes_full, b.stats().kv_bytes_full);
  EXPECT_EQ(a.stats().context_tokens, b.stats().context_tokens);
  EXPECT_EQ(a.press().spec(), b.press().spec());
  EXPECT_EQ(a.press().compression_ratio(), b.press().compression_ratio());
}

TEST_F(CacheFileRoundTrip, AnswersAreTokenIdenticalForEveryKvTypeAndPress) {
  Scratch dir("cache_roundtrip");
  const std::vector<PressConfig> press_list = {presses::knorm(0.5), presses::snapkv(0.6, 16),
                                               PressConfig::from_spec("expected_attention", 0.5), PressConfig()};
  AskOptions ask;
  ask.max_new_tokens = 10;
  int i = 0;
  for (KvType type : {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0})
    for (const PressConfig& press : press_list) {
      SCOPED_TRACE(std::string(kv_type_name(type)) + " " + press.canonical_spec());
      SessionOptions options;
      options.kv_types = {type, type == KvType::Q4_0 ? KvType::Q8_0 : type};  // keys and values apart too
      Session original = Session::from_text(*engine_, testing::needle_context(), press, options);
      const std::string path = dir / ("c" + std::to_string(i++) + ".kvc");
      const int64_t file_bytes = original.save(path);
      EXPECT_EQ(file_bytes, (int64_t)std::filesystem::file_size(path));
      EXPECT_GT(file_bytes, original.stats().kv_bytes);  // rows plus positions, ids and header
      Session loaded = Session::load(*engine_, path);
      expect_same_cache(original, loaded);
      for (const std::string& q : {testing::kNeedleQuestion, std::string("What is green?"), std::string()}) {
        const Answer a = original.ask(q, ask), b = loaded.ask(q, ask);
        EXPECT_EQ(a.ids, b.ids) << q;
        EXPECT_EQ(a.text, b.text);
      }
    }
}

TEST_F(CacheFileRoundTrip, ChunkedPrefillAnswerPrefixAndTeacherForcingSurviveTheRoundTrip) {
  Scratch dir("cache_chunked");
  SessionOptions options;
  options.prefill_chunk = 64;
  Session original = Session::from_text(*engine_, testing::needle_context(), presses::snapkv(0.5, 16), options);
  original.save(dir / "c.kvc");
  Session loaded = Session::load(*engine_, dir / "c.kvc");
  expect_same_cache(original, loaded);
  AskOptions ask;
  ask.answer_prefix = "The special magic number for quiet-river is";
  ask.max_new_tokens = 8;
  EXPECT_EQ(original.ask(testing::kNeedleQuestion, ask).ids, loaded.ask(testing::kNeedleQuestion, ask).ids);
  const std::vector<int32_t> forced = {5, 6, 7};
  EXPECT_EQ(original.answer_log_probs("Q?", "A:", forced), loaded.answer_log_probs("Q?", "A:", forced));
  EXPECT_EQ(loaded.stats().prefill_ms, 0.0);
  EXPECT_GT(loaded.stats().load_ms, 0.0);
}

TEST_F(CacheFileRoundTrip, TokenSessionsStayTokenSessions) {
  Scratch dir("cache_tokens");
  const std::vector<int32_t> ids = engine_->tokenize(testing::needle_context());
  Session original = Session::from_tokens(*engine_, ids, presses::streaming_llm(0.5));
  original.save(dir / "t.kvc");
  Session loaded = Session::load(*engine_, dir / "t.kvc");
  const std::vector<int32_t> question = engine_->tokenize("What is green?", false);
  AskOptions ask;
  ask.max_new_tokens = 6;
  EXPECT_EQ(original.ask_tokens(question, ask).ids, loaded.ask_tokens(question, ask).ids);
  EXPECT_THROW(loaded.ask("What is green?"), Error);  // as the original: not a text session
}

TEST(CacheFileArchitectures, Qwen2BiasesAndQwen3QkNormRoundTripToo) {
  Scratch dir("cache_archs");
  for (const char* arch : {"qwen2", "qwen3"}) {
    SCOPED_TRACE(arch);
    testing::TinyModelSpec spec;
    spec.arch = arch;
    spec.head_dim = 32;
    const std::string model = dir / (std::string(arch) + ".gguf");
    testing::write_tiny_model(spec, model);
    const Engine engine = Engine::load(model, {1});
    SessionOptions options;
    options.kv_types = {KvType::Q8_0, KvType::BF16};
    Session original = Session::from_tokens(engine, testing::tiny_token_ids(40, 5), presses::snapkv(0.5, 8), options);
    original.save(dir / "c.kvc");
    Session loaded = Session::load(engine, dir / "c.kvc");
    const std::vector<int32_t> question = testing::tiny_token_ids(5, 9);
    AskOptions ask;
    ask.max_new_tokens = 8;
    ask.stop_at_end_of_generation = false;
    EXPECT_EQ(original.ask_tokens(question, ask).ids, loaded.ask_tokens(question, ask).ids);
  }
}

TEST_F(CacheFileRoundTrip, LoadedSessionsSaveTheSameBytesAndFromMemoryLoadsToo) {
  Scratch dir("cache_resave");
  Session original = Session::from_text(*engine_, testing::needle_context(), presses::knorm(0.25));
  original.ask("What is green?");  // questions leave the cache as it was
  original.save(dir / "a.kvc");
  const std::vector<uint8_t> bytes = testing::read_bytes(dir / "a.kvc");
  Session from_memory = Session::load_bytes(*engine_, bytes, "in-memory");
  from_memory.save(dir / "b.kvc");
  EXPECT_EQ(bytes, testing::read_bytes(dir / "b.kvc"));
}

TEST_F(CacheFileRoundTrip, SavingReplacesAFileAtomicallyAndLeavesNothingOnError) {
  Scratch dir("cache_atomic");
  Session s = Session::from_text(*engine_, testing::needle_context(), presses::knorm(0.5));
  testing::write_bytes(dir / "c.kvc", {'o', 'l', 'd'});
  s.save(dir / "c.kvc");
  EXPECT_NO_THROW(Session::load(*engine_, dir / "c.kvc"));
  try {
    s.save(dir / "missing_folder/c.kvc");
    FAIL() << "saving into a missing folder must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create a temporary file"), std::string::npos) << e.what();
  }
  size_t n_files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++n_files;
  EXPECT_EQ(n_files, 1u);  // no temporary file left behind
}

}  // namespace
}  // namespace kvpress
