// What the CLI says about the model's own limits: non-finite weights fail naming the tensor, contexts and
// generations past context_length are announced, long prefills show progress on stderr only, plots are
// labelled, and eval's summary reports the chat template actually used.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "gguf/gguf_file.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

namespace fs = std::filesystem;

class CliModelChecks : public ::testing::Test {
 protected:
  CliModelChecks() : dir_("model_checks") {
    TinyModelSpec spec;
    spec.context_length = 64;
    write_tiny_model(spec, dir_ / "tiny.gguf");
    std::ofstream(dir_ / "short.txt") << "the secret city is Paris";
    std::ofstream long_text(dir_ / "long.txt");
    for (int i = 0; i < 30; ++i) long_text << "the magic number of the city is two and the water is long ";
  }
  std::string model() const { return dir_ / "tiny.gguf"; }

  // A copy of the tiny model with one weight of `tensor` set to `value`.
  std::string poisoned(const std::string& tensor, float value) const {
    const std::string path = dir_ / "poisoned.gguf";
    fs::copy_file(model(), path, fs::copy_options::overwrite_existing);
    const uint64_t offset = gguf::GgufFile::open(path).find_tensor(tensor)->offset;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((std::streamoff)offset + 4 * 7);
    f.write(reinterpret_cast<const char*>(&value), sizeof value);
    return path;
  }
  ScratchDir dir_;
};

TEST_F(CliModelChecks, NonFiniteWeightsFailNamingTheTensor) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::string m = poisoned("blk.1.ffn_up.weight", bad);
    for (const std::string& args :
         {"answer --model " + m + " --context-file " + dir_ / "short.txt" + " --question where --json",
          "generate --model " + m + " --prompt 'the city' --max-new-tokens 3", "logits --model " + m + " --tokens 1,300,301"}) {
      SCOPED_TRACE(args);
      const CliRun r = run_cli(args);
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_EQ(count_lines(r.err), 1u) << r.err;
      EXPECT_NE(r.err.find("non-finite logits"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("blk.1.ffn_up.weight (row 0)"), std::string::npos) << r.err;
      EXPECT_EQ(r.out.find("null"), std::string::npos) << r.out;
    }
  }
}

TEST_F(CliModelChecks, ContextLongerThanTheModelsIsAnnounced) {
  const CliRun r = run_cli("answer --model " + model() + " --context-file " + dir_ / "long.txt" +
                           " --question where --max-new-tokens 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("more than the model's context_length of 64"), std::string::npos) << r.err;
  EXPECT_GT(nlohmann::json::parse(r.out)["context_tokens"].get<int64_t>(), 64);
  // Truncating to the limit silences it.
  const CliRun t = run_cli("answer --model " + model() + " --context-file " + dir_ / "long.txt" +
                           " --question where --max-new-tokens 2 --max-context-length 60");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.err.find("context_length of 64"), std::string::npos) << t.err;
}

TEST_F(CliModelChecks, GenerateStopsAtTheContextLengthAndSaysWhy) {
  const CliRun r = run_cli("generate --model " + model() + " --prompt 'the city' --max-new-tokens 1000000000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("context_length of 64 is reached"), std::string::npos) << r.err;
}

TEST_F(CliModelChecks, ProgressGoesToStderrAndJsonStaysClean) {
  const std::string args = "answer --model " + model() + " --context-file " + dir_ / "long.txt" +
                           " --question where --max-new-tokens 2 --max-context-length 60 --json";
  const CliRun shown = run_cli(args + " --progress");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.err.find("kvpress: prefill 60 tokens: 2/2 layers"), std::string::npos) << shown.err;
  EXPECT_NE(shown.err.find("tok/s"), std::string::npos) << shown.err;
  EXPECT_NO_THROW(nlohmann::json::parse(shown.out)) << shown.out;
  const CliRun quiet = run_cli(args + " --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("prefill"), std::string::npos) << quiet.err;
  EXPECT_NE(run_cli(args + " --quiet --progress").exit_code, 0);
  const CliRun gen = run_cli("generate --model " + model() + " --prompt 'the city' --max-new-tokens 2 --progress");
  EXPECT_NE(gen.err.find("layers"), std::string::npos) << gen.err;
  EXPECT_EQ(gen.out.find("prefill"), std::string::npos) << gen.out;
}

TEST_F(CliModelChecks, InspectHeatmapHasALegendAndLabelledHeads) {
  const std::string svg = dir_ / "kept.svg";
  const CliRun r = run_cli("inspect --model " + model() + " --text-file " + dir_ / "short.txt" +
                           " --press knorm --compression-ratio 0.5 --svg " + svg);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string s = slurp(svg);
  for (const char* part : {">kept<", ">removed<", ">layer 0<", ">layer 1<", ">h0<", ">h1<"})
    EXPECT_NE(s.find(part), std::string::npos) << part;
  EXPECT_EQ(s.find("dark = kept"), std::string::npos);
}

TEST_F(CliModelChecks, EvalSummaryReportsNoChatTemplateForAModelWithoutOne) {
  const std::string data = dir_ / "data.jsonl";
  std::ofstream(data) << R"({"context":"the secret city is Paris","question":"where","answers":["Paris"],"max_new_tokens":2})"
                      << "\n";
  const CliRun r = run_cli("eval --model " + model() + " --dataset jsonl:" + data +
                           " --press knorm --compression-ratio 0.5 --no-fidelity --quiet --out " + dir_ / "ev");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("chat template: no"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("["), std::string::npos) << r.err;  // --quiet: no progress bar
}

}  // namespace
}  // namespace kvpress::testing
