// The shipped needle model (models/kvpress-needle-2m.gguf, trained by tools/train/) really reads its
// context: fresh niah_single_1 samples at 1k tokens — test-split keys and numbers it never trained on —
// are answered exactly with the full cache. A broken engine, tokenizer, prompt format or model file fails
// here. The file also loads as a plain Llama GGUF (no special cases).
#include <filesystem>

#include <gtest/gtest.h>

#include "eval/dataset.h"
#include "eval/metrics.h"
#include "gguf/gguf_file.h"
#include "kvpress/pipeline.h"
#include "model/model.h"
#include "runtime/thread_pool.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

std::filesystem::path shipped_model() { return testing::source_dir() / "models" / "kvpress-needle-2m.gguf"; }

std::vector<TaskRecord> fresh_samples(const Model& model, const std::string& spec, std::size_t n, uint64_t seed) {
  DatasetOptions opts;
  opts.data_dir = testing::source_dir() / "data";
  opts.seed = seed;
  opts.n_samples = n;
  opts.split = Split::Test;
  const Tokenizer& tok = model.tokenizer();
  opts.codec.encode = [&tok](std::string_view t) { return tok.encode(t, false, false); };
  opts.codec.decode = [&tok](std::span<const int32_t> ids) { return tok.decode(ids, true); };
  return load_dataset(spec, opts);
}

TEST(ShippedModel, IsAPlainLlamaGgufWithItsTokenizer) {
  const auto file = gguf::GgufFile::open(shipped_model().string());
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_GE(file.get_int("llama.block_count"), 2);
  const int64_t heads = file.get_int("llama.attention.head_count");
  const int64_t kv_heads = file.get_int("llama.attention.head_count_kv");
  EXPECT_EQ(heads % kv_heads, 0);
  EXPECT_GE(heads / kv_heads, 2) << "grouped-query attention with >= 2 query heads per KV head";
  EXPECT_LE(std::filesystem::file_size(shipped_model()), 40u << 20);
}

TEST(ShippedModel, AnswersFreshNiahSingle1At1kWithTheFullCache) {
  auto model = Model::load(shipped_model().string());
  const Engine engine = Engine::load(shipped_model().string(), {2});
  const std::vector<TaskRecord> records = fresh_samples(*model, "ruler:niah_single_1:1k", 5, 777);
  ASSERT_EQ(records.size(), 5u);
  for (const TaskRecord& r : records) {
    AnswerOptions opts;
    opts.answer_prefix = r.answer_prefix;
    opts.max_new_tokens = r.max_new_tokens;
    const AnswerResult res = answer(engine, r.context, {r.question}, PressConfig(), opts);
    EXPECT_GT(res.stats.context_tokens, 700) << "a 1k-token sample";
    EXPECT_EQ(string_match_all_row(res.answers.front(), r.answers), 1.0)
        << "expected " << r.answers.front() << ", got '" << res.answers.front() << "'";
  }
}

}  // namespace
}  // namespace kvpress
