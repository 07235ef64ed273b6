// Session and answer() through the public API, checked against the layers below (ContextSession on the
// same prompt ids) and against each other; sessions of one engine on several threads.
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "kvpress/kvpress.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "pipeline/generator.h"
#include "pipeline/prompt.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "test_paths.h"

namespace kvpress {
namespace {

std::string model_path() { return (testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

std::string context() {
  std::string s = "A special magic number is hidden within the following text. Make sure to memorize it.\n";
  for (int i = 0; i < 10; ++i) s += "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  s += "One of the special magic numbers for quiet-river is: 4417290.\n";
  for (int i = 0; i < 10; ++i) s += "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  return s;
}
const std::string kQuestion = "What is the special magic number for quiet-river mentioned in the provided text?";
const std::string kPrefix = "The special magic number for quiet-river mentioned in the provided text is";

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = new Engine(Engine::load(model_path(), {2})); }
  static void TearDownTestSuite() { delete engine_; }
  static Engine* engine_;
};
Engine* SessionTest::engine_ = nullptr;

TEST_F(SessionTest, AnswersAsTheContextSessionBelowIt) {
  const PressConfig press = presses::snapkv(0.5, 16);
  Session session = Session::from_text(*engine_, context(), press);
  AskOptions ask;
  ask.answer_prefix = kPrefix;
  ask.max_new_tokens = 12;
  const Answer a = session.ask(kQuestion, ask);

  // The same steps by hand on the internal layers.
  auto model = Model::load(model_path());
  ThreadPool pool(2);
  const PromptParts parts = split_prompt(*model, context(), true);
  ContextSession reference(*model, pool);
  auto internal_press = make_press("snapkv:window_size=16", 0.5);
  reference.prefill(context_ids(*model, parts), internal_press.get());
  GenerateOptions gen;
  gen.max_new_tokens = 12;
  gen.check_first_token = false;
  const GenerateResult r = reference.ask(question_ids(*model, parts, kQuestion, kPrefix), gen);
  EXPECT_EQ(a.ids, r.tokens);
  EXPECT_EQ(session.stats().kv_bytes, reference.cache().bytes());
  EXPECT_EQ(session.stats().context_tokens, reference.context_tokens());
}

TEST_F(SessionTest, TheFullCacheAndStreamingLlmFindTheNeedle) {
  AskOptions ask;
  ask.answer_prefix = kPrefix;
  ask.max_new_tokens = 12;
  for (const PressConfig& press : {PressConfig(), presses::streaming_llm(0.5)}) {
    const std::string a = Session::from_text(*engine_, context(), press).ask(kQuestion, ask).text;
    EXPECT_NE(a.find("4417290"), std::string::npos) << press.canonical_spec() << ": " << a;
  }
}

TEST_F(SessionTest, AnswerEqualsASessionPerQuestionAndRestoresTheCache) {
  AnswerOptions opts;
  opts.max_new_tokens = 8;
  const std::vector<std::string> questions = {kQuestion, "What is green?"};
  const AnswerResult r = answer(*engine_, context(), questions, presses::knorm(0.5), opts);
  ASSERT_EQ(r.answers.size(), 2u);
  Session session = Session::from_text(*engine_, context(), presses::knorm(0.5));
  AskOptions ask;
  ask.max_new_tokens = 8;
  for (size_t i = 0; i < questions.size(); ++i) EXPECT_EQ(session.ask(questions[i], ask).text, r.answers[i]);
  EXPECT_EQ(session.ask(questions[0], ask).text, r.answers[0]);  // asked again on the restored cache
  EXPECT_EQ(r.stats.kv_bytes, session.stats().kv_bytes);
  EXPECT_EQ(r.stats.kv_bytes_full, session.stats().context_tokens * engine_->kv_bytes_per_token());
}

TEST_F(SessionTest, KeptPositionsAndScoresDescribeTheSelection) {
  SessionOptions opts;
  opts.record_scores = true;
  const std::vector<int32_t> ids = engine_->tokenize(context());
  const Session s = Session::from_tokens(*engine_, ids, presses::knorm(0.75), opts);
  const auto n = (int64_t)ids.size();
  for (int64_t l = 0; l < s.n_layers(); ++l) {
    const std::vector<float> scores = s.scores(l);
    ASSERT_EQ((int64_t)scores.size(), s.n_heads_kv() * n);
    for (int64_t h = 0; h < s.n_heads_kv(); ++h) {
      const std::vector<int32_t> kept = s.kept_positions(l, h);
      ASSERT_EQ((int64_t)kept.size(), (int64_t)(n * 0.25));
      std::vector<bool> is_kept((size_t)n, false);
      for (int32_t p : kept) is_kept[(size_t)p] = true;
      float min_kept = 1e30f, max_pruned = -1e30f;
      for (int64_t j = 0; j < n; ++j) {
        const float v = scores[(size_t)(h * n + j)];
        if (is_kept[(size_t)j]) min_kept = std::min(min_kept, v);
        else max_pruned = std::max(max_pruned, v);
      }
      EXPECT_GE(min_kept, max_pruned) << "layer " << l << " head " << h;
    }
  }
  EXPECT_THROW(s.kept_positions(s.n_layers(), 0), Error);
}

TEST_F(SessionTest, SessionsOnSeveralThreadsAgreeWithOneThread) {
  AskOptions ask;
  ask.answer_prefix = kPrefix;
  ask.max_new_tokens = 8;
  const std::string expected = Session::from_text(*engine_, context(), presses::streaming_llm(0.5)).ask(kQuestion, ask).text;
  std::vector<std::string> got(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      got[i] = Session::from_text(*engine_, context(), presses::streaming_llm(0.5)).ask(kQuestion, ask).text;
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

TEST_F(SessionTest, AQuestionStoppedByAThrowingCallbackLeavesTheCacheRestored) {
  // A server stops generation this way (a client gone, a stop sequence).
  Session session = Session::from_text(*engine_, context(), presses::knorm(0.5));
  AskOptions ask;
  ask.max_new_tokens = 8;
  const std::string expected = session.ask(kQuestion, ask).text;
  const int64_t bytes = session.kv_bytes_peak();
  struct Stop {};
  AskOptions stopping = ask;
  int n = 0;
  stopping.on_token = [&](int32_t) {
    if (++n == 3) throw Stop{};
  };
  EXPECT_THROW(session.ask(kQuestion, stopping), Stop);
  EXPECT_EQ(session.ask(kQuestion, ask).text, expected);
  EXPECT_EQ(session.kv_bytes_peak(), bytes);
}

// Benchmarks' context without a prefill: the entries a press at the ratio keeps, exact bytes, positions
// spread over the context, and questions fed after it.
TEST_F(SessionTest, ARandomCacheHoldsWhatAPressWouldKeep) {
  for (const KvTypes types : {KvTypes{KvType::F16, KvType::F16}, KvTypes{KvType::Q8_0, KvType::F32}}) {
    SessionOptions options;
    options.kv_types = types;
    Session s = Session::from_random_cache(*engine_, 1000, 0.75, options, 7);
    const ModelInfo& info = engine_->info();
    for (int64_t l = 0; l < info.n_layers; ++l)
      for (int64_t h = 0; h < info.n_heads_kv; ++h) {
        const auto kept = s.kept_positions(l, h);
        ASSERT_EQ(kept.size(), 250u);
        EXPECT_EQ(kept.front(), 0);
        EXPECT_EQ(kept.back(), 996);  // 249 * 1000 / 250
      }
    EXPECT_EQ(s.stats().kv_bytes, 250 * engine_->kv_bytes_per_token(types));
    EXPECT_EQ(s.stats().kv_bytes_full, 1000 * engine_->kv_bytes_per_token(types));
    AskOptions ask;
    ask.max_new_tokens = 4;
    ask.stop_at_end_of_generation = false;
    const int32_t question[2] = {5, 6};
    EXPECT_EQ(s.ask_tokens(question, ask).ids.size(), 4u);
    EXPECT_EQ(s.stats().kv_bytes, 250 * engine_->kv_bytes_per_token(types));  // restored after the question
  }
  EXPECT_THROW(Session::from_random_cache(*engine_, 0, 0.5), Error);
  EXPECT_THROW(Session::from_random_cache(*engine_, 100, 1.0), Error);
  EXPECT_THROW(Session::from_random_cache(*engine_, 1, 0.5), Error);  // int(1 * 0.5) = 0 entries kept
}

TEST_F(SessionTest, EngineDescribesWhatADecodedTokenReads) {
  const ModelInfo& info = engine_->info();
  const auto model = Model::load(model_path());
  int64_t embd = 0;
  for (const auto& t : model->file().tensors())
    if (t.name == "token_embd.weight") embd = (int64_t)t.n_bytes;
  ASSERT_GT(embd, 0);
  EXPECT_EQ(info.decode_weight_bytes, info.file_bytes - embd);  // untied output: the embedding is not read
  EXPECT_EQ(info.weight_types, "F32");
  EXPECT_FALSE(engine_->kernel_set().empty());
  const double bandwidth = engine_->measure_read_bandwidth();
  EXPECT_TRUE(std::isfinite(bandwidth) && bandwidth > 0) << bandwidth;
  EngineOptions bad;
  bad.spin_us = -5;
  EXPECT_THROW(Engine::load(model_path(), bad), Error);
}

TEST_F(SessionTest, AConversationTurnStoppedByAThrowingCallbackLeavesNoTrace) {
  AskOptions ask;
  ask.max_new_tokens = 6;
  ask.stop_at_end_of_generation = false;
  Session reference = Session::from_text(*engine_, context(), presses::knorm(0.5));
  reference.converse(kQuestion, ask);
  const std::string expected = reference.converse("And what color is the sky?", ask).text;

  Session session = Session::from_text(*engine_, context(), presses::knorm(0.5));
  session.converse(kQuestion, ask);
  struct Stop {};
  AskOptions stopping = ask;
  int n = 0;
  stopping.on_token = [&](int32_t) {
    if (++n == 3) throw Stop{};
  };
  EXPECT_THROW(session.converse("Tell me something else.", stopping), Stop);
  EXPECT_EQ(session.turns(), 1);
  EXPECT_EQ(session.converse("And what color is the sky?", ask).text, expected);
}

TEST_F(SessionTest, ConcurrentQuestionsTakeTurnsTokenByToken) {
  // Compute is locked per forward pass, not per answer, so two sessions generating at once interleave.
  // Each thread's first token waits for the other's (on_token runs outside the lock), so both are
  // generating before the order is judged: a thread the OS starts late cannot make the test fail, and a
  // lock held for a whole answer leaves the other waiting until the first has finished. (Handing the
  // lock over in arrival order is TurnLock's own test: here the OS scheduler decides the exact order.)
  Session a = Session::from_text(*engine_, context(), presses::knorm(0.5));
  Session b = Session::from_text(*engine_, context(), presses::snapkv(0.5, 16));
  std::mutex m;
  std::condition_variable both_started;
  int started = 0;
  std::string order;
  AskOptions ask;
  ask.max_new_tokens = 40;
  ask.stop_at_end_of_generation = false;
  auto run = [&](Session& s, char name) {
    AskOptions o = ask;
    bool first = true;
    o.on_token = [&, name](int32_t) {
      std::unique_lock lock(m);
      order += name;
      if (!std::exchange(first, false)) return;
      ++started;
      both_started.notify_all();
      both_started.wait_for(lock, std::chrono::seconds(10), [&] { return started == 2; });
    };
    s.ask(kQuestion, o);
  };
  std::thread ta([&] { run(a, 'a'); }), tb([&] { run(b, 'b'); });
  ta.join();
  tb.join();
  ASSERT_EQ(order.size(), 80u);
  // After both first tokens, not one whole remaining answer after the other.
  const std::string rest = order.substr(2);
  EXPECT_TRUE(rest.find('b') < rest.rfind('a') && rest.find('a') < rest.rfind('b')) << order;
}

TEST_F(SessionTest, OptionsAndErrors) {
  SessionOptions opts;
  opts.max_context_length = 40;
  const Session s = Session::from_text(*engine_, context(), PressConfig(), opts);
  EXPECT_EQ(s.stats().context_tokens, 40);
  ASSERT_EQ(s.warnings().size(), 1u);
  EXPECT_NE(s.warnings()[0].find("truncated"), std::string::npos);
  EXPECT_EQ(s.stats().kv_bytes, s.stats().kv_bytes_full);
  Session tokens = Session::from_tokens(*engine_, engine_->tokenize("some text"), PressConfig());
  EXPECT_THROW(tokens.ask("a question"), Error);  // text questions need a text session
  EXPECT_THROW(Engine::load("/nonexistent/model.gguf"), Error);
  opts.max_context_length = 0;
  EXPECT_THROW(Session::from_text(*engine_, context(), PressConfig(), opts), Error);
}

// A conversation turn keeps its question and answer in the cache: the second turn's answer is what a
// fresh cache generates after the whole text so far (context, turn 1 and its answer, the next user turn).
TEST_F(SessionTest, ConversationTurnsEqualOneLongPrompt) {
  AskOptions ask;
  ask.max_new_tokens = 6;
  ask.stop_at_end_of_generation = false;
  Session session = Session::from_text(*engine_, context(), PressConfig());
  const Answer a1 = session.converse(kQuestion, ask);
  const Answer a2 = session.converse("And what color is the sky?", ask);
  EXPECT_EQ(session.turns(), 2);
  ASSERT_EQ(a1.ids.size(), 6u);

  const auto model = Model::load(model_path());
  const PromptParts parts = split_prompt(*model, context(), true);
  std::vector<int32_t> ids = context_ids(*model, parts);
  for (const auto& part : {question_ids(*model, parts, kQuestion, ""), a1.ids,
                           next_turn_ids(*model, parts, "And what color is the sky?", "")})
    ids.insert(ids.end(), part.begin(), part.end());
  ThreadPool pool(2);
  KvCache cache = model->make_cache();
  GenerateOptions gen;
  gen.max_new_tokens = 6;
  gen.stop_at_end_of_generation = false;
  EXPECT_EQ(generate(*model, cache, pool, ids, 0, gen).tokens, a2.ids);

  // ask() after the turns follows them and returns to them: the same answer as the next turn.
  const Answer asked = session.ask("Is the grass green?", ask);
  const Answer turn = session.converse("Is the grass green?", ask);
  EXPECT_EQ(asked.ids, turn.ids);
  EXPECT_EQ(session.turns(), 3);
}

// A long chat with a decoding press stays within target_size + compression_interval entries per head.
TEST_F(SessionTest, ConversationWithADecodingPressStaysBounded) {
  const PressConfig press = presses::decoding(presses::knorm(0.0), {16, 200, 256});
  Session session = Session::from_text(*engine_, context(), press);
  const int64_t context_tokens = session.stats().context_tokens;
  ASSERT_GT(context_tokens, 200);
  EXPECT_EQ(session.stats().kv_bytes, session.stats().kv_bytes_full);  // the prefill is left whole
  AskOptions ask;
  ask.max_new_tokens = 24;
  ask.stop_at_end_of_generation = false;
  for (int turn = 0; turn < 12; ++turn) session.converse("Tell me more.", ask);
  EXPECT_LE(session.peak_kv_entries_per_head(), std::max<int64_t>(context_tokens, 200) + 16 + 24);
  for (int64_t h = 0; h < session.n_heads_kv(); ++h)
    EXPECT_LE((int64_t)session.kept_positions(0, h).size(), 200 + 16);
  // Without the press the same chat holds every token.
  Session full = Session::from_text(*engine_, context(), PressConfig());
  for (int turn = 0; turn < 12; ++turn) full.converse("Tell me more.", ask);
  EXPECT_GT(full.peak_kv_entries_per_head(), context_tokens + 12 * 24);
}

// A decoding press compresses the context while answering: one question per session, as kvpress.
TEST_F(SessionTest, DecodingPressAnswersOneQuestion) {
  Session session = Session::from_text(*engine_, context(), presses::decoding(presses::knorm(0.0), {4, 64, 8}));
  AskOptions ask;
  ask.max_new_tokens = 8;
  session.ask(kQuestion, ask);
  try {
    session.ask(kQuestion, ask);
    FAIL() << "a second question on a decoding-press session must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot answer another one"), std::string::npos) << e.what();
  }
  EXPECT_THROW(answer(*engine_, context(), {kQuestion, kQuestion}, presses::decoding(presses::knorm(0.0)), {}), Error);
  AnswerOptions chat;
  chat.conversation = true;
  chat.max_new_tokens = 4;
  EXPECT_EQ(answer(*engine_, context(), {kQuestion, kQuestion}, presses::decoding(presses::knorm(0.0)), chat)
                .answers.size(), 2u);
}

}  // namespace
}  // namespace kvpress
