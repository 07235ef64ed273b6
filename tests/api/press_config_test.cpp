// PressConfig: specifications checked by the registry when made, typed constructors equal to their
// specification strings, the catalogue listing every registered press with its parameters.
#include <set>

#include <gtest/gtest.h>

#include "kvpress/press.h"
#include "press/press_registry.h"

namespace kvpress {
namespace {

TEST(PressConfig, DefaultIsNoPressAndNoneSpecsAreNoPress) {
  EXPECT_TRUE(PressConfig().is_none());
  EXPECT_EQ(PressConfig().canonical_spec(), "none");
  EXPECT_TRUE(PressConfig::from_spec("none", 0.0).is_none());
  EXPECT_TRUE(PressConfig::from_spec("no_press", 0.0).is_none());
}

TEST(PressConfig, TypedConstructorsEqualTheirSpecifications) {
  const std::vector<std::pair<PressConfig, std::string>> cases = {
      {presses::knorm(0.5), "knorm"},
      {presses::snapkv(0.5, 32, 7), "snapkv:window_size=32,kernel_size=7"},
      {presses::streaming_llm(0.5, 8), "streaming_llm:n_sink=8"},
      {presses::tova(0.5), "tova"},
      {presses::observed_attention(0.5), "observed_attention"},
      {presses::random(0.5, 3), "random:seed=3"},
      {presses::random(0.5), "random"},
      {presses::expected_attention(0.5, {.n_sink = 2, .epsilon = 0.01}),
       "expected_attention_press:n_future_positions=512,n_sink=2,use_covariance=true,use_vnorm=true,epsilon=0.01"},
      {presses::adakv(presses::snapkv(0.5), 0.1), "adakv(snapkv):alpha_safeguard=0.1"},
      {presses::composed({presses::knorm(0.5), presses::streaming_llm(0.5)}), "composed(knorm,streaming_llm)"},
  };
  for (const auto& [config, spec] : cases) {
    EXPECT_EQ(config.compression_ratio(), 0.5) << spec;
    EXPECT_EQ(config.canonical_spec(), make_press(spec, 0.5)->name()) << spec;
  }
  // kvpress's evaluation name is the AdaKV-wrapped press with epsilon 0.01.
  EXPECT_EQ(presses::adakv(presses::expected_attention(0.5, {.epsilon = 0.01})).canonical_spec(),
            PressConfig::from_spec("expected_attention", 0.5).canonical_spec());
}

TEST(PressConfig, BadInputThrowsTheRegistryMessage) {
  auto message = [](auto make) -> std::string {
    try {
      make();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message([] { PressConfig::from_spec("nope", 0.5); }).find("unknown press 'nope'"), std::string::npos);
  EXPECT_NE(message([] { presses::knorm(1.0); }).find("[0, 1)"), std::string::npos);
  EXPECT_NE(message([] { presses::snapkv(0.5, 0); }).find("window_size"), std::string::npos);
  EXPECT_NE(message([] { PressConfig::make("adakv", 0.5); }).find("adakv"), std::string::npos);
  EXPECT_NE(message([] { PressConfig::make("snapkv", 0.5, {{"window size", "3"}}); }).find("window size"),
            std::string::npos);
  EXPECT_NE(message([] { presses::composed({presses::knorm(0.5), presses::tova(0.25)}); }).find("different"),
            std::string::npos);
  EXPECT_NE(message([] { presses::composed({presses::adakv(presses::knorm(0.5))}); }).find("cannot contain"),
            std::string::npos);
}

TEST(PressConfig, CatalogListsEveryRegisteredPressWithItsParameters) {
  std::set<std::string> names;
  for (const PressDescription& d : press_catalog()) {
    names.insert(d.name);
    if (d.name == "snapkv") {
      ASSERT_EQ(d.parameters.size(), 2u);
      EXPECT_EQ(d.parameters[0].name, "window_size");
      EXPECT_EQ(d.parameters[0].default_value, "64");
      EXPECT_FALSE(d.is_alias);
    }
    if (d.name == "adakv") EXPECT_TRUE(d.is_wrapper);
    if (d.name == "expected_attention" || d.name == "none") EXPECT_TRUE(d.is_alias) << d.name;
  }
  for (const PressInfo& info : registered_presses()) EXPECT_TRUE(names.count(info.name)) << info.name;
}

}  // namespace
}  // namespace kvpress
