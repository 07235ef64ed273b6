// A kvpress that works outside its build tree: `cmake --install` to a prefix, a copied binary, the
// KVPRESS_MODELS_DIR / KVPRESS_DATA_DIR overrides; plus --version and the defaults shown by --help.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli_run.h"
#include "test_paths.h"

namespace kvpress::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSmallDemo = "demo --tasks niah_single_1 --length 512 --samples 1 --presses knorm --threads 2";

TEST(CliInstall, InstalledPrefixRunsDemoFromAnotherFolderOnItsOwnFiles) {
  const ScratchDir dir("install");
  const fs::path prefix = dir.path() / "prefix";
  const std::string install = std::string(KVPRESS_CMAKE) + " --install " + KVPRESS_BUILD_DIR + " --prefix " +
                              prefix.string() + " >/dev/null";
  ASSERT_EQ(std::system(install.c_str()), 0) << install;
  const fs::path share = prefix / "share" / "kvpress";
  ASSERT_TRUE(fs::exists(prefix / "bin" / "kvpress"));
  ASSERT_TRUE(fs::exists(share / "models" / "kvpress-needle-2m.gguf"));
  ASSERT_TRUE(fs::exists(share / "data" / "paul_graham_essays" / "avg.txt"));

  fs::create_directories(dir.path() / "elsewhere");
  const CliRun r = run_cli(kSmallDemo, (prefix / "bin" / "kvpress").string(), "cd " + dir / "elsewhere" + " && ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The installed copies are used, not the build tree's.
  EXPECT_NE(r.out.find("kvpress demo: " + (share / "models" / "kvpress-needle-2m.gguf").string()), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("essays: " + (share / "data" / "paul_graham_essays").string()), std::string::npos) << r.out;
}

TEST(CliInstall, CopiedBinaryRunsDemoFromAnotherFolder) {
  const ScratchDir dir("copied");
  fs::copy_file(KVPRESS_BIN, dir.path() / "kvpress");
  const CliRun r = run_cli(kSmallDemo, dir / "kvpress", "cd / && ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("knorm"), std::string::npos) << r.out;
}

TEST(CliInstall, EnvironmentOverridesNameTheMissingFolder) {
  for (const std::string var : {"KVPRESS_MODELS_DIR", "KVPRESS_DATA_DIR"}) {
    const CliRun r = run_cli(kSmallDemo, KVPRESS_BIN, var + "=/nonexistent/kvpress ");
    EXPECT_EQ(r.exit_code, 1) << var;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("/nonexistent/kvpress"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(var), std::string::npos) << r.err;
  }
}

TEST(CliInstall, VersionNamesCommitBuildTypeAndCpuFeatures) {
  const CliRun r = run_cli("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"kvpress 0.", "commit: ", "build type: ", "cpu features: ", "kernels: "})
    EXPECT_NE(r.out.find(part), std::string::npos) << part << " in " << r.out;
  EXPECT_EQ(r.out.find("commit: \n"), std::string::npos) << r.out;  // "unknown" at worst, never empty
}

TEST(CliInstall, HelpShowsTheDefaults) {
  struct Case {
    std::string command;
    std::vector<std::string> defaults;
  };
  const std::vector<Case> cases = {
      {"answer", {"TEXT=none", "FLOAT=0", "INT=50", "TEXT=f16", "256]="}},  // 256]=: the --threads default
      {"generate", {"INT=64", "FLOAT=0", "FLOAT=1"}},
      {"demo", {"FLOAT=0.5", "=3", "TEXT=1k", "TEXT=knorm,snapkv,streaming_llm,expected_attention", "=2026"}},
      {"eval", {"=42", "TEXT=test"}},
      {"bench", {"TEXT=512", "TEXT=128", "TEXT=none"}},
      {"ruler-gen", {"=10", "=42"}},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(c.command + " --help");
    EXPECT_EQ(r.exit_code, 0) << c.command;
    for (const std::string& d : c.defaults) EXPECT_NE(r.out.find(d), std::string::npos) << c.command << ": " << d;
  }
}

}  // namespace
}  // namespace kvpress::testing
