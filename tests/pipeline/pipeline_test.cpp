// The answer pipeline: one compressed prefill, many questions, cache restored bit-exactly, positions
// continuing from the original context length, exact byte accounting.
#include <numeric>

#include <gtest/gtest.h>

#include "cache/kv_cache.h"
#include "kvpress/pipeline.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "pipeline/prompt.h"
#include "pipeline/sampler.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "kv_rows_util.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

struct CacheCopy {
  std::vector<std::vector<uint8_t>> keys, values;
  std::vector<std::vector<int32_t>> positions;
  bool operator==(const CacheCopy&) const = default;
};

CacheCopy copy_of(const KvCache& c) {
  CacheCopy out;
  for (int64_t l = 0; l < c.n_layers(); ++l)
    for (int64_t h = 0; h < c.n_heads_kv(); ++h) {
      const int64_t n = c.length(l, h);
      const KvRows k = c.keys(l, h), v = c.values(l, h);
      out.keys.emplace_back(k.data, k.data + n * k.row_bytes);  // the stored bytes: restores are bit-exact
      out.values.emplace_back(v.data, v.data + n * v.row_bytes);
      out.positions.emplace_back(c.positions(l, h), c.positions(l, h) + n);
    }
  return out;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVPRESS_REQUIRE_SHARED("reference/llama-gqa-Q8_0.gguf");
    const std::string path = (testing::shared_dir() / "reference/llama-gqa-Q8_0.gguf").string();
    model_ = Model::load(path);
    engine_ = std::make_unique<Engine>(Engine::load(path, {2}));
  }
  std::string context() const {
    std::string s;
    for (int i = 0; i < 12; ++i) s += "The grass is green. The sky is blue. The sun is yellow. Here we go. ";
    return s;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Engine> engine_;  // answer() is the public API's
  ThreadPool pool_{2};
};

TEST_F(PipelineTest, RepeatedQuestionsGiveIdenticalAnswersAndRestoreTheCache) {
  auto press = make_press("knorm", 0.5);
  ContextSession session(*model_, pool_);
  const auto parts = split_prompt(*model_, context(), true);
  session.prefill(context_ids(*model_, parts), press.get());
  const CacheCopy before = copy_of(session.cache());
  GenerateOptions gen;
  gen.max_new_tokens = 6;
  gen.check_first_token = false;
  const auto q1 = question_ids(*model_, parts, "What color is the sky?", "");
  const auto q2 = question_ids(*model_, parts, "What is green?", "Answer:");
  const auto a1 = session.ask(q1, gen);
  EXPECT_TRUE(copy_of(session.cache()) == before);
  const auto a2 = session.ask(q2, gen);
  EXPECT_TRUE(copy_of(session.cache()) == before);
  const auto a1_again = session.ask(q1, gen);
  EXPECT_TRUE(copy_of(session.cache()) == before);
  EXPECT_EQ(a1.tokens, a1_again.tokens);
  EXPECT_EQ((int64_t)a1.tokens.size(), 6);
  EXPECT_FALSE(a2.tokens.empty());
}

TEST_F(PipelineTest, UncompressedAnswerEqualsGreedyOverTheWholePrompt) {
  // Without a press, context prefill + question at position n_ctx must equal one pass over both.
  const auto parts = split_prompt(*model_, context(), true);
  const auto ctx = context_ids(*model_, parts);
  const auto q = question_ids(*model_, parts, "Which color?", "");
  AnswerOptions opts;
  opts.max_new_tokens = 5;
  const auto result = answer(*engine_, context(), {"Which color?"}, PressConfig(), opts);

  std::vector<int32_t> all(ctx);
  all.insert(all.end(), q.begin(), q.end());
  KvCache cache = model_->make_cache();
  std::vector<int32_t> pos(all.size());
  std::iota(pos.begin(), pos.end(), 0);
  auto logits = model_->forward(all, pos, cache, pool_);
  std::vector<int32_t> expected;
  int32_t p = (int32_t)all.size();
  for (int i = 0; i < 5; ++i) {
    const int32_t next = argmax(logits);
    if (i > 0 && model_->tokenizer().is_end_of_generation(next)) break;
    expected.push_back(next);
    const int32_t t[1] = {next}, tp[1] = {p++};
    logits = model_->forward(t, tp, cache, pool_);
  }
  EXPECT_EQ(result.answer_ids.at(0), expected);
  EXPECT_EQ(result.stats.context_tokens, (int64_t)ctx.size());
}

TEST_F(PipelineTest, ReportsExactKvBytesAndQuestionIsNotCompressed) {
  const auto parts = split_prompt(*model_, context(), true);
  const int64_t n_ctx = (int64_t)context_ids(*model_, parts).size();
  const PressConfig press = PressConfig::from_spec("knorm", 0.5);
  AnswerOptions opts;
  opts.max_new_tokens = 3;
  const auto r = answer(*engine_, context(), {"q one?", "q two?"}, press, opts);
  const auto& c = model_->config();
  const int64_t per_entry = 2 * testing::expected_row_bytes(KvType::F16, c.head_dim);  // the default f16 cache
  EXPECT_EQ(r.stats.kv_bytes_full, n_ctx * c.n_layers * c.n_heads_kv * per_entry);
  // The press saw only the context: every head keeps int(n_ctx * 0.5) entries.
  EXPECT_EQ(r.stats.kv_bytes, kept_count(n_ctx, 0.5) * c.n_layers * c.n_heads_kv * per_entry);
  EXPECT_EQ(r.answers.size(), 2u);
}

TEST_F(PipelineTest, QueryAwareCompressesTheQuestionWithTheContext) {
  const PressConfig press = PressConfig::from_spec("knorm", 0.5);
  AnswerOptions plain, aware;
  plain.max_new_tokens = aware.max_new_tokens = 2;
  aware.query_aware = true;
  const auto r_plain = answer(*engine_, context(), {"What color is the sky?"}, press, plain);
  const auto r_aware = answer(*engine_, context(), {"What color is the sky?"}, press, aware);
  EXPECT_GT(r_aware.stats.context_tokens, r_plain.stats.context_tokens);
}

TEST_F(PipelineTest, MaxContextLengthTruncatesWithAWarning) {
  AnswerOptions opts;
  opts.max_new_tokens = 1;
  opts.max_context_length = 50;
  const auto r = answer(*engine_, context(), {"q?"}, PressConfig(), opts);
  EXPECT_EQ(r.stats.context_tokens, 50);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("truncated"), std::string::npos);
}

TEST_F(PipelineTest, RatioZeroPressChangesNothing) {
  const PressConfig press = PressConfig::from_spec("snapkv", 0.0);
  AnswerOptions opts;
  opts.max_new_tokens = 6;
  const auto with = answer(*engine_, context(), {"Sky?"}, press, opts);
  const auto without = answer(*engine_, context(), {"Sky?"}, PressConfig(), opts);
  EXPECT_EQ(with.answer_ids, without.answer_ids);
  EXPECT_EQ(with.stats.kv_bytes, without.stats.kv_bytes);
}

}  // namespace
}  // namespace kvpress
