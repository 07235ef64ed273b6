// The kvpress CLI contract: JSON shapes of logits/answer/inspect, tokenize output, one-line errors.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;

using kvpress::testing::CliRun;
using kvpress::testing::count_lines;

CliRun run(const std::string& args) { return kvpress::testing::run_cli(args); }

std::string ref_model(const std::string& name) {
  return (kvpress::testing::shared_dir() / "reference" / name).string();
}

TEST(Cli, LogitsPrintsOneJsonObjectWithTheContractKeys) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa.gguf");
  const CliRun r = run("logits --model " + ref_model("llama-gqa.gguf") + " --tokens 1,450,496,173 --greedy 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["argmax"].size(), 4u);
  EXPECT_EQ(j["logits_first"].size(), 1024u);
  EXPECT_EQ(j["logits_last"].size(), 1024u);
  EXPECT_EQ(j["greedy"].size(), 3u);
  // The first greedy token is the argmax of the last position.
  EXPECT_EQ(j["greedy"][0], j["argmax"][3]);
}

TEST(Cli, TokenizePrintsIdsOnOneLine) {
  KVPRESS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  const fs::path text = fs::temp_directory_path() / "kvpress_cli_text.txt";
  std::ofstream(text) << "Hello world";
  const CliRun r = run("tokenize --model " + (kvpress::testing::shared_dir() / "vocab/ggml-vocab-llama-spm.gguf").string() +
                    " --text-file " + text.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "15043 3186\n");  // ids of "▁Hello" "▁world" in the Llama-2 vocabulary
  const CliRun with_bos = run("tokenize --add-special --model " +
                           (kvpress::testing::shared_dir() / "vocab/ggml-vocab-llama-spm.gguf").string() +
                           " --text-file " + text.string());
  EXPECT_EQ(with_bos.out, "1 15043 3186\n");
}

TEST(Cli, ErrorsAreOneLineOnStderrWithNonZeroExit) {
  const fs::path bad = fs::temp_directory_path() / "kvpress_cli_bad.gguf";
  std::ofstream(bad) << "NOTAGGUF-at-all";
  const std::vector<std::string> cases = {
       "info --model /nonexistent/model.gguf", "info --model " + bad.string(), "logits --model " + bad.string() +
        " --tokens 1,x,3", "answer --model " + bad.string() + " --context-file /nonexistent --press nosuchpress",
        "answer --model " + bad.string() + " --context-file /nonexistent --press knorm --compression-ratio 1.5",
        "frobnicate"};
  for (const std::string& args : cases) {
    SCOPED_TRACE(args);
    const CliRun r = run(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(Cli, AnswerJsonReportsHalfTheKvBytesAtRatioHalf) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa-Q8_0.gguf");
  const fs::path ctx = fs::temp_directory_path() / "kvpress_cli_ctx.txt";
  {
    std::ofstream out(ctx);
    for (int i = 0; i < 20; ++i) out << "The grass is green. The sky is blue. The sun is yellow. ";
  }
  const CliRun r = run("answer --model " + ref_model("llama-gqa-Q8_0.gguf") + " --context-file " + ctx.string() +
                    " --question 'Sky?' --question 'Grass?' --press expected_attention --compression-ratio 0.5"
                    " --max-new-tokens 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["answers"].size(), 2u);
  const int64_t full = j["kv_bytes_full"], kept = j["kv_bytes"], n = j["context_tokens"];
  // AdaKV keeps int(n * 0.5) entries per head on average: exactly that total.
  EXPECT_EQ(kept * n, full * (n / 2)) << kept << " of " << full;
  for (const char* key : {"prefill_ms", "compression_ms", "decode_ms"}) EXPECT_TRUE(j.contains(key)) << key;
}

// `kvpress demo` on the shipped model: one table row per press (none first), the pressed rows holding
// half the KV bytes of the full cache at ratio 0.5.
TEST(Cli, DemoPrintsOneRowPerPressWithHalvedKvBytes) {
  const std::string model = (kvpress::testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string();
  const CliRun r = run("demo --model " + model + " --tasks niah_single_1 --length 512 --samples 1"
                       " --presses knorm,streaming_llm --compression-ratio 0.5 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::string> presses;
  while (std::getline(lines, line)) {
    std::istringstream cols(line);
    std::string press, acc;
    double full = 0, kept = 0;
    if (!(cols >> press >> acc >> full >> kept) || acc.back() != '%') continue;  // not a table row
    presses.push_back(press);
    if (press == "none") {
      EXPECT_EQ(kept, full);
    } else {
      EXPECT_NEAR(kept / full, 0.5, 0.01) << line;
    }
  }
  EXPECT_EQ(presses, (std::vector<std::string>{"none", "knorm", "streaming_llm"})) << r.out;
}

TEST(Cli, DemoRejectsAnUnknownPressBeforeLoadingAnything) {
  const CliRun r = run("demo --presses knorm,no_such_press --model /nonexistent.gguf");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("no_such_press"), std::string::npos) << r.err;
}

TEST(Cli, InspectListsAscendingKeptPositionsPerHead) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa.gguf");
  std::string tokens = "1";
  for (int i = 0; i < 39; ++i) tokens += "," + std::to_string(300 + i * 7);
  const fs::path svg = fs::temp_directory_path() / "kvpress_cli_inspect.svg";
  const CliRun r = run("inspect --model " + ref_model("llama-gqa.gguf") + " --tokens " + tokens +
                    " --press streaming_llm --compression-ratio 0.5 --svg " + svg.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 3u);
  for (const auto& layer : j["layers"])
    for (const auto& head : layer["heads"]) {
      const auto pos = head.get<std::vector<int>>();
      ASSERT_EQ(pos.size(), 20u);  // int(40 * 0.5)
      // StreamingLLM: 4 sinks then the 16 most recent positions.
      EXPECT_EQ(pos.front(), 0);
      EXPECT_EQ(pos[3], 3);
      EXPECT_EQ(pos[4], 24);
      EXPECT_EQ(pos.back(), 39);
    }
  std::ifstream in(svg);
  const std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(s.find("<svg"), std::string::npos);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
}

// --- kvpress bench ---------------------------------------------------------------------------------

std::string shipped_model() { return (kvpress::testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

// Layer count, KV heads and head_dim of the shipped model, from `kvpress info --json`.
struct Shape {
  int64_t layers, heads_kv, head_dim;
};
Shape shipped_shape() {
  const CliRun r = run("info --json --model " + shipped_model());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  return {j["n_layers"], j["n_heads_kv"], j["head_dim"]};
}

// Bytes of one stored row by the GGUF layouts (f32 4 per element, f16 2, q8_0 34 per 32, q4_0 18 per 32).
int64_t row_bytes(const std::string& type, int64_t d) {
  if (type == "f32") return 4 * d;
  if (type == "q8_0") return d / 32 * 34;
  if (type == "q4_0") return d / 32 * 18;
  return 2 * d;
}

TEST(CliBench, SpeaksLlamaBenchJsonWithKvTypesAndExactBytes) {
  const Shape s = shipped_shape();
  const CliRun r = run("bench -m " + shipped_model() + " -p 16 -n 4 -d 32 -r 2 -t 1 -ctk q8_0 -ctv f16 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["test"], "pp16 @ d32");
  EXPECT_EQ(rows[1]["test"], "tg4 @ d32");
  for (const auto& j : rows) {
    for (const char* key : {"n_prompt", "n_gen", "n_depth", "n_threads", "type_k", "type_v", "avg_ts", "stddev_ts",
                            "samples_ts", "press", "compression_ratio", "kv_bytes", "peak_rss_bytes"})
      EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["type_k"], "q8_0");
    EXPECT_EQ(j["type_v"], "f16");
    EXPECT_EQ(j["n_depth"], 32);
    EXPECT_EQ(j["n_threads"], 1);
    EXPECT_EQ(j["samples_ts"].size(), 2u);
    EXPECT_GT(j["avg_ts"].get<double>(), 0.0);
    EXPECT_EQ(j["kv_bytes"].get<int64_t>(),
              32 * s.layers * s.heads_kv * (row_bytes("q8_0", s.head_dim) + row_bytes("f16", s.head_dim)));
  }
  EXPECT_EQ(rows[0]["n_prompt"], 16);
  EXPECT_EQ(rows[1]["n_gen"], 4);
  EXPECT_GT(rows[1]["roofline_fraction"].get<double>(), 0.0);
}

TEST(CliBench, KvBytesFollowTheTypeAndTheRatio) {
  const Shape s = shipped_shape();
  const CliRun r = run("bench -m " + shipped_model() +
                       " -p 0 -n 1 -d 64 -r 1 -t 1 --kv-type f32,f16,q8_0,q4_0 --press knorm"
                       " --compression-ratio 0,0.5 -o jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string type = j["type_k"];
    EXPECT_EQ(j["type_v"], type);
    const int64_t kept = j["compression_ratio"].get<double>() == 0.0 ? 64 : 32;  // int(64 * (1 - r))
    EXPECT_EQ(j["kv_bytes"].get<int64_t>(), kept * s.layers * s.heads_kv * 2 * row_bytes(type, s.head_dim)) << line;
    EXPECT_EQ(j["kv_bytes_full"].get<int64_t>(), 64 * s.layers * s.heads_kv * 2 * row_bytes(type, s.head_dim));
    ++n;
  }
  EXPECT_EQ(n, 8);
}

TEST(CliBench, FigureModeWritesTableJsonAndPlots) {
  const fs::path out = fs::temp_directory_path() / ("kvpress_bench_fig_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const CliRun r = run("bench -m " + shipped_model() + " --context-lengths 64,128 --synthetic-from 128 --press knorm"
                       " --compression-ratio 0,0.5 --decode-tokens 2 -t 1 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| synthetic |"), std::string::npos) << r.out;
  const auto rows = nlohmann::json::parse(std::ifstream(out / "bench.json"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_FALSE(rows[0]["synthetic_cache"].get<bool>());
  EXPECT_EQ(rows[0]["samples_ts"].size(), 3u);  // three decode runs on one prefill by default
  EXPECT_TRUE(rows[1]["synthetic_cache"].get<bool>());
  EXPECT_EQ(rows[1]["n_depth"], 128);
  // The synthetic ratio-0.5 cache holds exactly the entries a press would keep.
  EXPECT_EQ(rows[3]["kv_bytes"].get<int64_t>() * 2, rows[1]["kv_bytes"].get<int64_t>());
  for (const char* name : {"memory.svg", "decode.svg"}) {
    std::ifstream in(out / name);
    const std::string svg((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(svg.find("<polyline"), std::string::npos) << name;
    EXPECT_NE(svg.find("KV f16, ratio 0.50"), std::string::npos) << name;
  }
  EXPECT_TRUE(fs::exists(out / "bench.md"));
  fs::remove_all(out);
}

TEST(CliBench, RejectsBadOptionsWithOneLine) {
  const std::vector<std::string> bad = {"-o xml", "--kv-type q9_9", "--out /tmp/x", "-p 12x",
                                        "--compression-ratio 1.5 --press knorm"};
  for (const auto& args : bad) {
    std::string command = "bench -m " + shipped_model();
    command += " ";
    command += args;
    const CliRun r = run(command);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1u) << args << ": " << r.err;
  }
}

}  // namespace
