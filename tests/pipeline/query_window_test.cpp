// Query-aware prompts for a press whose window is the question (finch, spec §2.13): the session
// tokenizes the question on its own after the context and tells the press its length; other presses
// see context + question as one text, as before. On the shipped model (models/, in every clone).
#include <gtest/gtest.h>

#include "core/error.h"
#include "kv_rows_util.h"
#include "kvpress/pipeline.h"
#include "model/model.h"
#include "pipeline/prompt.h"
#include "press/press.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

class QueryWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = (testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string();
    model_ = Model::load(path);
    engine_ = std::make_unique<Engine>(Engine::load(path, {2}));
    for (int i = 0; i < 10; ++i) context_ += "The grass is green. The sky is blue. The sun is yellow. ";
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Engine> engine_;
  std::string context_;
  const std::string question_ = "What color is the sky?";
};

TEST_F(QueryWindow, FinchGetsTheQuestionTokenizedOnItsOwn) {
  SessionOptions o;
  o.kv_types = {KvType::F32, KvType::F32};
  o.question_in_context = question_;
  const PromptParts parts = split_prompt(*model_, context_ + question_, true);
  const std::string text = parts.context.substr(0, parts.context.size() - question_.size());
  const int64_t n_ctx = (int64_t)model_->tokenizer().encode(text, false, true).size();
  const int64_t n_q = (int64_t)model_->tokenizer().encode(question_, false, true).size();
  const Session finch = Session::from_text(*engine_, context_, PressConfig::from_spec("finch", 0.5), o);
  EXPECT_EQ(finch.stats().context_tokens, n_ctx + n_q);
  const auto& c = model_->config();
  const int64_t per_entry = 2 * testing::expected_row_bytes(KvType::F32, c.head_dim);
  EXPECT_EQ(finch.stats().kv_bytes, kept_count(n_ctx + n_q, 0.5) * c.n_layers * c.n_heads_kv * per_entry);
  // Other presses: context + question tokenized as one text (kvpress's query_aware).
  const Session knorm = Session::from_text(*engine_, context_, PressConfig::from_spec("knorm", 0.5), o);
  EXPECT_EQ(knorm.stats().context_tokens, (int64_t)context_ids(*model_, parts).size());
}

TEST_F(QueryWindow, AnswerQueryAwareRunsFinchAndPlainAnswerExplains) {
  AnswerOptions aware;
  aware.max_new_tokens = 3;
  aware.query_aware = true;
  const auto r = answer(*engine_, context_, {question_, "What color is the grass?"}, PressConfig::from_spec("finch", 0.5),
                        aware);
  EXPECT_EQ(r.answers.size(), 2u);
  EXPECT_GT(r.stats.kv_bytes, 0);
  EXPECT_LT(r.stats.kv_bytes, r.stats.kv_bytes_full);
  AnswerOptions plain;
  plain.max_new_tokens = 3;
  try {
    answer(*engine_, context_, {question_}, PressConfig::from_spec("finch", 0.5), plain);
    ADD_FAILURE() << "finch without query-aware was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("query-aware"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvpress
