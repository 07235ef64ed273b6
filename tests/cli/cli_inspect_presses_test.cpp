// `kvpress inspect` for every press `kvpress presses` lists (issue 17: every press shows its kept
// positions per layer and head, as JSON, from the CLI): the JSON's shape, kept positions ascending and
// unique inside the context, and kv_bytes exactly the kept entries' bytes.
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_paths.h"

namespace kvpress::testing {
namespace {

using nlohmann::json;

std::string shipped_model() { return (source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

// Specs for presses the bare name does not run: wrappers (an inner press) and presses taking no ratio.
// A registered press that needs an example and has none fails the test with a message saying so.
const std::map<std::string, std::string>& examples() {
  static const std::map<std::string, std::string> e = {
      {"adakv", "adakv(snapkv)"},
      {"composed", "composed(knorm,streaming_llm)"},
      {"decoding", "decoding(knorm)"},
      {"compression_ratio_decoding", "compression_ratio_decoding(knorm)"},
      {"prefill_decoding", "prefill_decoding(knorm,decoding(knorm))"},
      {"cam", "cam(knorm)"},
      {"criticalkv", "criticalkv(snapkv)"},
      {"critical_adakv", "critical_adakv(snapkv)"},
      {"key_rerotation", "key_rerotation(knorm)"},
      {"chunk", "chunk(knorm):chunk_length=64"},
      {"block", "block(keydiff):block_size=32"},
      {"per_layer_compression", "per_layer_compression(knorm):compression_ratios=0.25;0.5;0.5;0.75"},
      {"dms", "dms(knorm):threshold=-3,sliding_window_size=32"},
      {"merging", "merging(knorm)"},
      {"simlayerkv", "simlayerkv:lazy_threshold=0,n_recent=64"},
      {"finch", "finch --question-tokens 20"},  // query-aware: the last 20 tokens are the question
      {"expected_attention_with_stats", "expected_attention_with_stats:stats_file=STATS"},
      // kvpress's sink 128 + recent 256 would keep all of the 300 tokens.
      {"duo_attention_on_the_fly", "duo_attention_on_the_fly:sink_size=16,recent_size=64,n_samples=2"},
  };
  return e;
}
// Presses whose ratio is a parameter or who take none: inspected at ratio 0.
bool takes_no_ratio(const std::string& name) {
  return name == "per_layer_compression" || name == "dms" || name == "simlayerkv";
}

// Query statistics of the shipped model (kvpress query-stats), written once for the stats press.
std::string stats_file() {
  static const std::string path = [] {
    static ScratchDir dir("inspect_presses");
    std::ofstream(dir / "text.txt") << "The grass is green. The sky is blue. The sun is yellow. Here we go again.";
    const std::string out = dir / "stats.bin";
    const CliRun r = run_cli("query-stats --model " + shipped_model() + " --text " + (dir / "text.txt") + " --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }();
  return path;
}

std::vector<std::string> listed_presses() {
  const CliRun r = run_cli("presses");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) break;  // the grammar follows the list
    if (line[0] == ' ') continue;  // parameters of the press above
    const std::string name = line.substr(0, line.find(' '));
    if (name != "none" && name != "no_press") names.push_back(name);
  }
  return names;
}

TEST(CliInspectPresses, EveryListedPressShowsItsKeptPositions) {
  std::string tokens;
  constexpr int64_t kTokens = 300;
  for (int64_t i = 0; i < kTokens; ++i) tokens += (i ? "," : "") + std::to_string(10 + (i * 37) % 2000);
  const auto names = listed_presses();
  ASSERT_GT(names.size(), 40u);
  for (const std::string& name : names) {
    const auto it = examples().find(name);
    const std::string spec = it == examples().end() ? name : it->second;
    // Presses acting only while decoding keep everything at prefill (and their ratio is the decoding one).
    const bool decoding_only = name.rfind("decoding", 0) == 0 || name.rfind("cam", 0) == 0 ||
                               name == "compression_ratio_decoding";
    const double ratio = takes_no_ratio(name) || decoding_only ? 0.0 : 0.5;
    SCOPED_TRACE(spec);
    std::string press = spec, extra;
    if (const size_t flag = spec.find(" --"); flag != std::string::npos) press = spec.substr(0, flag), extra = spec.substr(flag);
    if (const size_t at = press.find("STATS"); at != std::string::npos) press.replace(at, 5, stats_file());
    const CliRun r = run_cli("inspect --model " + shipped_model() + " --tokens " + tokens + " --press '" + press +
                             "' --compression-ratio " + std::to_string(ratio) + " --quiet" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err << (it == examples().end() ? " (add an example spec for this press)" : "");
    if (r.exit_code != 0) continue;
    const json j = json::parse(r.out);
    ASSERT_EQ(j["n_tokens"], kTokens);
    ASSERT_EQ(j["layers"].size(), 4u);
    int64_t kept_total = 0, heads = 0;
    for (const auto& layer : j["layers"]) {
      ASSERT_EQ(layer["heads"].size(), 2u);
      for (const auto& head : layer["heads"]) {
        ++heads;
        int64_t last = -1;
        for (const auto& p : head) {
          const int64_t pos = p.get<int64_t>();
          ASSERT_GT(pos, last) << "positions ascending and unique";
          ASSERT_LT(pos, kTokens);
          last = pos;
        }
        kept_total += (int64_t)head.size();
      }
    }
    const int64_t full = j["kv_bytes_full"], bytes = j["kv_bytes"];
    const bool drops_key_channels = name.find("think") != std::string::npos;
    if (!drops_key_channels) EXPECT_EQ(bytes * kTokens * heads, full * kept_total) << "bytes of the kept entries";
    // Every press acting at prefill removed something.
    if (decoding_only) EXPECT_EQ(bytes, full);
    else EXPECT_LT(bytes, full);
  }
}

TEST(CliInspectPresses, AQuestionMustLeaveContextBeforeIt) {
  const CliRun r = run_cli("inspect --model " + shipped_model() +
                           " --tokens 5,6,7,8 --press finch --compression-ratio 0.5 --quiet --question-tokens 4");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("question_tokens must leave at least one context token"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace kvpress::testing
