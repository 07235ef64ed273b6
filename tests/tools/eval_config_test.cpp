// Eval options: press/ratio lists, the run plan (no_press once at ratio 0) and the resume check.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval_config.h"

namespace kvpress::eval {
namespace {

TEST(EvalConfig, SplitPressList) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_press_list("knorm"), V({"knorm"}));
  EXPECT_EQ(split_press_list("knorm, snapkv ,tova"), V({"knorm", "snapkv", "tova"}));
  EXPECT_EQ(split_press_list("snapkv:window_size=32,kernel_size=7,knorm"),
            V({"snapkv:window_size=32,kernel_size=7", "knorm"}));
  EXPECT_EQ(split_press_list("composed(knorm,streaming_llm:n_sink=8),adakv(snapkv):alpha_safeguard=0.1,no_press"),
            V({"composed(knorm,streaming_llm:n_sink=8)", "adakv(snapkv):alpha_safeguard=0.1", "no_press"}));
  EXPECT_THROW(split_press_list("knorm,,tova"), Error);
  EXPECT_THROW(split_press_list("composed(knorm"), Error);
  EXPECT_THROW(split_press_list("knorm)"), Error);
}

TEST(EvalConfig, ParseRatioList) {
  EXPECT_EQ(parse_ratio_list("0.25, 0.5,0.875"), std::vector<double>({0.25, 0.5, 0.875}));
  EXPECT_THROW(parse_ratio_list("0.5,x"), Error);
  EXPECT_THROW(parse_ratio_list("0.5,"), Error);
  EXPECT_THROW(parse_ratio_list("nan"), Error);
  EXPECT_EQ(ratio_key(0.5), "0.5");
  EXPECT_EQ(ratio_key(0.875), "0.875");
  EXPECT_EQ(ratio_key(0.1 + 0.2), "0.3");  // keys survive a JSON round trip and float noise
}

TEST(EvalConfig, PlanRunsBaselineOnceAtRatioZero) {
  EvalConfig c;
  c.presses = {"knorm", "no_press", "streaming_llm"};
  c.ratios = {0.25, 0.5};
  c.fidelity = false;
  const auto runs = plan_runs(c);
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[0].press, "no_press");
  EXPECT_EQ(runs[0].ratio, 0.0);
  EXPECT_TRUE(runs[0].is_baseline());
  EXPECT_EQ(runs[1].press, "knorm");
  EXPECT_EQ(runs[2].ratio, 0.5);
  EXPECT_EQ(runs[4].press, "streaming_llm");

  c.presses = {"knorm"};  // fidelity needs the uncompressed run even when it is not listed
  c.fidelity = true;
  EXPECT_EQ(plan_runs(c).size(), 3u);
  c.fidelity = false;
  EXPECT_EQ(plan_runs(c).size(), 2u);
  c.presses = {"none"};  // "none" is the same baseline; no ratio needed
  c.ratios.clear();
  EXPECT_EQ(plan_runs(c).size(), 1u);
}

TEST(EvalConfig, PlanRunsRejectsBadInput) {
  EvalConfig c;
  c.ratios = {0.5};
  EXPECT_THROW(plan_runs(c), Error);  // no press
  c.presses = {"no_such_press"};
  EXPECT_THROW(plan_runs(c), Error);
  c.presses = {"knorm"};
  c.ratios = {1.0};
  EXPECT_THROW(plan_runs(c), Error);
  c.ratios = {0.5, 0.5};
  EXPECT_THROW(plan_runs(c), Error);
  c.ratios.clear();
  EXPECT_THROW(plan_runs(c), Error);
}

TEST(EvalConfig, ResumeCompatibility) {
  EvalConfig a;
  a.model_path = "/nowhere/model.gguf";
  a.dataset = "ruler:vt:512";
  a.presses = {"knorm"};
  a.ratios = {0.5};
  EvalConfig b = a;
  b.model_path = "/elsewhere/model.gguf";  // moved file: same name (and size)
  b.presses = {"knorm", "tova"};           // the plan may grow
  b.ratios = {0.25, 0.5};
  EXPECT_NO_THROW(check_resume_compatible(config_to_json(a), config_to_json(b)));
  b.seed = 7;
  b.max_new_tokens = 16;
  try {
    check_resume_compatible(config_to_json(a), config_to_json(b));
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("seed was 42, now 7"), std::string::npos) << m;
    EXPECT_NE(m.find("max_new_tokens was null, now 16"), std::string::npos) << m;
  }
  EvalConfig d = a;
  d.dataset = "ruler:vt:1024";
  EXPECT_THROW(check_resume_compatible(config_to_json(a), config_to_json(d)), Error);
}

}  // namespace
}  // namespace kvpress::eval
