// `kvpress make-model`: preset shapes (dry run), files that load with their shape, llama-quantize's weight
// types (mixes and row-length fallbacks), determinism, and refusals that leave nothing behind.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string out, err;
};

// A scratch folder per test (tests run as parallel processes), removed afterwards.
class MakeModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kvpress_make_model_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / "out" / name).string(); }
  std::vector<std::string> out_files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_ / "out")) names.push_back(e.path().filename().string());
    return names;
  }

  CliRun run(const std::string& args) const {
    const std::string cmd = std::string(KVPRESS_BIN) + " " + args + " >" + (dir_ / "stdout").string() + " 2>" +
                            (dir_ / "stderr").string() + " </dev/null";
    const int status = std::system(cmd.c_str());
    auto slurp = [](const fs::path& p) {
      std::ifstream in(p);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir_ / "stdout"), slurp(dir_ / "stderr")};
  }

  nlohmann::json json_of(const std::string& args) const {
    const CliRun r = run(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }

  // Type of each tensor of a --dry-run --json listing, by name.
  static std::map<std::string, std::string> tensor_types(const nlohmann::json& j) {
    std::map<std::string, std::string> types;
    for (const auto& t : j["tensors"]) types[t["name"]] = t["type"];
    return types;
  }

  fs::path dir_;
};

using Counts = std::map<std::string, int64_t>;

Counts counts_of(const nlohmann::json& j) { return j["weight_types"].get<Counts>(); }

// A qwen2.5-0.5b file shrunk by the shape overrides loads and reports exactly that shape, the preset's
// other hyper-parameters, and the size the dry run announced.
TEST_F(MakeModel, ShrunkPresetLoadsWithItsShape) {
  const std::string shape = "--like qwen2.5-0.5b --type Q8_0 --layers 1 --vocab 512 --embd 64 --heads 4 --heads-kv 2"
                            " --head-dim 16 --ff 128";
  const auto planned = json_of("make-model " + shape + " --dry-run --json");
  const CliRun made = run("make-model " + shape + " --out " + file("m.gguf"));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(made.out.empty()) << made.out;
  EXPECT_NE(made.err.find("wrote"), std::string::npos) << made.err;
  EXPECT_EQ(out_files(), std::vector<std::string>{"m.gguf"});  // the temporary file was renamed
  EXPECT_EQ(fs::file_size(file("m.gguf")), planned["file_bytes"].get<uint64_t>());

  const auto j = json_of("info --json --model " + file("m.gguf"));
  EXPECT_EQ(j["architecture"], "qwen2");
  EXPECT_EQ(j["n_vocab"], 512);
  EXPECT_EQ(j["n_embd"], 64);
  EXPECT_EQ(j["n_layers"], 1);
  EXPECT_EQ(j["n_heads"], 4);
  EXPECT_EQ(j["n_heads_kv"], 2);
  EXPECT_EQ(j["head_dim"], 16);
  EXPECT_EQ(j["n_ff"], 128);
  EXPECT_EQ(j["context_length"], 32768);
  EXPECT_EQ(j["rope_base"], 1e6);
  EXPECT_EQ(j["qkv_bias"], true);
  EXPECT_EQ(j["qk_norm"], false);
  EXPECT_EQ(j["tied_output"], true);
  EXPECT_EQ(j["rope_freq_factors"], false);
  // token_embd + 7 matrices in Q8_0; attn_norm, ffn_norm, output_norm and the three biases in F32.
  EXPECT_EQ(counts_of(j), (Counts{{"F32", 6}, {"Q8_0", 8}}));
  EXPECT_EQ(counts_of(j), counts_of(planned));
  EXPECT_EQ(j["weight_bytes"], planned["weight_bytes"]);

  // It runs: a forward pass gives finite logits over the 512 tokens.
  const CliRun logits = run("logits --model " + file("m.gguf") + " --tokens 1,5,9");
  ASSERT_EQ(logits.exit_code, 0) << logits.err;
  EXPECT_EQ(nlohmann::json::parse(logits.out)["logits_last"].size(), 512u);
}

TEST_F(MakeModel, OverridesKeepTheOtherPresetHyperParameters) {
  const std::string small = " --layers 2 --vocab 300 --embd 128 --heads 4 --heads-kv 2 --head-dim 32 --ff 256";
  ASSERT_EQ(run("make-model --like llama-3.2-1b --type F16" + small + " --out " + file("l.gguf")).exit_code, 0);
  const auto l = json_of("info --json --model " + file("l.gguf"));
  EXPECT_EQ(l["architecture"], "llama");
  EXPECT_EQ(l["rope_base"], 500000.0);
  EXPECT_NEAR(l["rms_eps"].get<double>(), 1e-5, 1e-12);
  EXPECT_EQ(l["context_length"], 131072);
  EXPECT_EQ(l["rope_freq_factors"], true);  // llama3 scaling, computed for the overridden head_dim
  EXPECT_EQ(l["tied_output"], true);
  EXPECT_EQ(l["head_dim"], 32);

  ASSERT_EQ(run("make-model --like qwen3-8b --type Q8_0" + small + " --out " + file("q.gguf")).exit_code, 0);
  const auto q = json_of("info --json --model " + file("q.gguf"));
  EXPECT_EQ(q["architecture"], "qwen3");
  EXPECT_EQ(q["qk_norm"], true);
  EXPECT_EQ(q["qkv_bias"], false);
  EXPECT_EQ(q["tied_output"], false);
  EXPECT_EQ(q["context_length"], 40960);
  EXPECT_NEAR(q["rms_eps"].get<double>(), 1e-6, 1e-12);

  ASSERT_EQ(run("make-model --like mistral-7b --arch qwen2 --type Q8_0" + small + " --out " + file("m.gguf")).exit_code,
            0);
  const auto m = json_of("info --json --model " + file("m.gguf"));
  EXPECT_EQ(m["architecture"], "qwen2");
  EXPECT_EQ(m["qkv_bias"], true);
  EXPECT_EQ(m["rope_base"], 1e6);
}

// Every preset without overrides: the published models' numbers (config.json), nothing written.
TEST_F(MakeModel, DryRunReportsEachPresetsRealShape) {
  struct Expected {
    const char* preset;
    const char* arch;
    int64_t vocab, embd, layers, heads, heads_kv, head_dim, ff, ctx;
    double rope;
    bool tied, rope_factors;
  };
  const Expected presets[] = {
      {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768, 1e6, true, false},
      {"qwen2.5-7b", "qwen2", 152064, 3584, 28, 28, 4, 128, 18944, 32768, 1e6, false, false},
      {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 131072, 500000, true, true},
      {"llama-3.1-8b", "llama", 128256, 4096, 32, 32, 8, 128, 14336, 131072, 500000, false, true},
      {"qwen3-8b", "qwen3", 151936, 4096, 36, 32, 8, 128, 12288, 40960, 1e6, false, false},
      {"mistral-7b", "llama", 32000, 4096, 32, 32, 8, 128, 14336, 32768, 1e6, false, false},
  };
  for (const auto& e : presets) {
    SCOPED_TRACE(e.preset);
    const auto j = json_of(std::string("make-model --dry-run --json --like ") + e.preset + " --out " + file("x.gguf"));
    EXPECT_EQ(j["architecture"], e.arch);
    EXPECT_EQ(j["n_vocab"], e.vocab);
    EXPECT_EQ(j["n_embd"], e.embd);
    EXPECT_EQ(j["n_layers"], e.layers);
    EXPECT_EQ(j["n_heads"], e.heads);
    EXPECT_EQ(j["n_heads_kv"], e.heads_kv);
    EXPECT_EQ(j["head_dim"], e.head_dim);
    EXPECT_EQ(j["n_ff"], e.ff);
    EXPECT_EQ(j["context_length"], e.ctx);
    EXPECT_EQ(j["rope_base"], e.rope);
    EXPECT_EQ(j["tied_output"], e.tied);
    EXPECT_EQ(j["rope_freq_factors"], e.rope_factors);
  }
  EXPECT_TRUE(out_files().empty());
  // Parameter counts of the published models (Qwen2.5-0.5B: 0.49B; Llama-3.1-8B: 8.03B, plus the 64
  // rope factors), and a Q8_0 8B file of about 8.5 GB.
  EXPECT_EQ(json_of("make-model --dry-run --json --like qwen2.5-0.5b")["n_params"], 494032768);
  const auto big = json_of("make-model --dry-run --json --like llama-3.1-8b --type Q8_0");
  EXPECT_EQ(big["n_params"], 8030261312);
  EXPECT_GT(big["file_bytes"].get<uint64_t>(), 8'500'000'000u);
  EXPECT_LT(big["file_bytes"].get<uint64_t>(), 8'560'000'000u);
  // The text form has the same fields, one per line.
  const CliRun text = run("make-model --dry-run --like mistral-7b");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("n_vocab            32000\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("file_bytes "), std::string::npos) << text.out;
}

// Counts per type as llama.cpp's loader lists them for files made by llama-quantize from the real models
// (e.g. Qwen2.5-0.5B-Instruct Q4_K_M: f32 121, q5_0 132, q8_0 13, q4_K 12, q6_K 12).
TEST_F(MakeModel, MixesMatchLlamaQuantize) {
  auto counts = [&](const std::string& preset, const std::string& type) {
    return counts_of(json_of("make-model --dry-run --json --like " + preset + " --type " + type));
  };
  EXPECT_EQ(counts("qwen2.5-0.5b", "Q4_K_M"), (Counts{{"F32", 121}, {"Q4_K", 12}, {"Q5_0", 132}, {"Q6_K", 12}, {"Q8_0", 13}}));
  EXPECT_EQ(counts("llama-3.1-8b", "Q4_K_M"), (Counts{{"F32", 66}, {"Q4_K", 193}, {"Q6_K", 33}}));
  EXPECT_EQ(counts("llama-3.1-8b", "q4_k_s"), (Counts{{"F32", 66}, {"Q4_K", 217}, {"Q5_K", 8}, {"Q6_K", 1}}));
  EXPECT_EQ(counts("llama-3.1-8b", "Q5_K_M"), (Counts{{"F32", 66}, {"Q5_K", 193}, {"Q6_K", 33}}));
  EXPECT_EQ(counts("llama-3.1-8b", "Q3_K_M"), (Counts{{"F32", 66}, {"Q3_K", 129}, {"Q4_K", 92}, {"Q5_K", 4}, {"Q6_K", 1}}));
  EXPECT_EQ(counts("llama-3.2-1b", "Q4_K_M"), (Counts{{"F32", 34}, {"Q4_K", 96}, {"Q6_K", 17}}));

  // Which layers: the first and last eighth and every third in between (24 layers: 0-2, 5, 8, ..., 20, 21-23).
  const auto qwen = tensor_types(json_of("make-model --dry-run --json --like qwen2.5-0.5b --type Q4_K_M"));
  EXPECT_EQ(qwen.at("token_embd.weight"), "Q8_0");     // tied output; 896 is no multiple of 256
  EXPECT_EQ(qwen.at("blk.0.attn_v.weight"), "Q8_0");   // Q6_K, falling back
  EXPECT_EQ(qwen.at("blk.5.attn_v.weight"), "Q8_0");
  EXPECT_EQ(qwen.at("blk.3.attn_v.weight"), "Q5_0");   // Q4_K, falling back
  EXPECT_EQ(qwen.at("blk.0.ffn_down.weight"), "Q6_K");  // rows of 4864 = 19 * 256 fit
  EXPECT_EQ(qwen.at("blk.3.ffn_down.weight"), "Q4_K");
  EXPECT_EQ(qwen.at("blk.21.ffn_down.weight"), "Q6_K");
  EXPECT_EQ(qwen.at("blk.7.attn_q.weight"), "Q5_0");
  EXPECT_EQ(qwen.at("blk.7.attn_q.bias"), "F32");
  EXPECT_EQ(qwen.count("output.weight"), 0u);
  const auto llama = tensor_types(json_of("make-model --dry-run --json --like llama-3.1-8b --type Q4_K_M"));
  EXPECT_EQ(llama.at("token_embd.weight"), "Q4_K");  // untied: the base type
  EXPECT_EQ(llama.at("output.weight"), "Q6_K");
  EXPECT_EQ(llama.at("rope_freqs.weight"), "F32");
}

// Plain type names put every matrix in that type (llama-quantize --pure), with llama-quantize's fallback
// where rows do not fit the block: Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16.
TEST_F(MakeModel, PlainTypesFallBackAsLlamaQuantize) {
  auto types = [&](const std::string& type, const std::string& extra = "") {
    return tensor_types(json_of("make-model --dry-run --json --like qwen2.5-0.5b --type " + type + extra));
  };
  const std::map<std::string, std::string> fallback = {
      {"Q2_K", "Q4_0"}, {"Q3_K", "Q4_0"}, {"Q4_K", "Q5_0"}, {"Q5_K", "Q5_1"}, {"Q6_K", "Q8_0"},
      {"Q8_0", "Q8_0"}, {"Q4_0", "Q4_0"}, {"F16", "F16"}, {"BF16", "BF16"}, {"F32", "F32"}};
  for (const auto& [type, on_896] : fallback) {
    SCOPED_TRACE(type);
    const auto t = types(type);
    EXPECT_EQ(t.at("token_embd.weight"), on_896);
    EXPECT_EQ(t.at("blk.0.attn_v.weight"), on_896);
    EXPECT_EQ(t.at("blk.0.ffn_up.weight"), on_896);
    EXPECT_EQ(t.at("blk.0.ffn_down.weight"), type);  // rows of 4864 fit every block
    EXPECT_EQ(t.at("blk.0.attn_norm.weight"), "F32");
  }
  // Rows of 80 fit no 32-block either: F16 (where llama-quantize's Q8_0 has no fallback at all).
  const std::string narrow = " --embd 80 --heads 5 --heads-kv 1 --head-dim 16 --ff 512";
  for (const char* type : {"Q4_K", "Q8_0", "Q4_K_M"}) {
    SCOPED_TRACE(type);
    const auto t = types(type, narrow);
    EXPECT_EQ(t.at("blk.0.attn_q.weight"), "F16");
    EXPECT_EQ(t.at("blk.3.ffn_down.weight"), std::string(type) == "Q8_0" ? "Q8_0" : "Q4_K");
  }
}

TEST_F(MakeModel, SameSeedSameFileWhateverTheThreads) {
  const std::string shape = "make-model --like llama-3.2-1b --type Q4_K_M --layers 1 --vocab 600 --embd 256 --heads 4"
                            " --heads-kv 2 --head-dim 64 --ff 512";
  ASSERT_EQ(run(shape + " --threads 1 --out " + file("a.gguf")).exit_code, 0);
  ASSERT_EQ(run(shape + " --threads 3 --out " + file("b.gguf")).exit_code, 0);
  ASSERT_EQ(run(shape + " --seed 2 --out " + file("c.gguf")).exit_code, 0);
  auto bytes = [&](const std::string& name) {
    std::ifstream in(file(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes("a.gguf"), bytes("b.gguf"));
  EXPECT_NE(bytes("a.gguf"), bytes("c.gguf"));
  EXPECT_EQ(bytes("a.gguf").size(), bytes("c.gguf").size());
}

TEST_F(MakeModel, RefusesToOverwriteWithoutForce) {
  { std::ofstream(file("m.gguf")) << "keep me"; }
  const std::string cmd = "make-model --like qwen2.5-0.5b --layers 1 --vocab 300 --embd 64 --heads 2 --heads-kv 1"
                          " --head-dim 32 --ff 64 --out " + file("m.gguf");
  const CliRun refused = run(cmd);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(fs::file_size(file("m.gguf")), 7u);
  EXPECT_EQ(out_files(), std::vector<std::string>{"m.gguf"});

  ASSERT_EQ(run(cmd + " --force").exit_code, 0);
  EXPECT_EQ(json_of("info --json --model " + file("m.gguf"))["n_vocab"], 300);
  EXPECT_EQ(out_files(), std::vector<std::string>{"m.gguf"});
}

TEST_F(MakeModel, ErrorsAreOneLineAndLeaveNoFile) {
  const std::string out = " --out " + file("m.gguf");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--like qwen9-70b" + out, "qwen9-70b"},
      {"--like llama-3.1-8b --type Q4_K_X" + out, "Q4_K_X"},
      {"--like llama-3.1-8b --type Q8_K" + out, "Q8_K"},  // a type id kvpress reads but cannot quantize to
      {"--like llama-3.1-8b", "--out"},
      {"--like qwen2.5-0.5b --heads 5 --heads-kv 2 --vocab 300 --layers 1" + out, "head"},
      {"--like qwen2.5-0.5b --head-dim 15 --vocab 300 --layers 1" + out, "head"},
      {"--like qwen2.5-0.5b --layers 0" + out, "--layers"},
      {"--like qwen2.5-0.5b --vocab 2" + out, "--vocab"},
      {"--like qwen2.5-0.5b --arch gpt2 --vocab 300 --layers 1" + out, "gpt2"},
      {"--like qwen2.5-0.5b --vocab 300 --layers 1 --out " + (dir_ / "no_such_dir" / "m.gguf").string(), "no_such_dir"},
  };
  for (const auto& [args, mention] : cases) {
    SCOPED_TRACE(args);
    const CliRun r = run("make-model " + args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(out_files().empty());
  }
}

}  // namespace
