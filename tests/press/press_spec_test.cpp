// Press specification strings, the registry, kept-count rounding and the selection helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "press/press_registry.h"
#include "press/press_spec.h"
#include "press/score_utils.h"

namespace kvpress {
namespace {

// Expects make_press(spec, ratio) to throw an Error whose message contains every piece.
void expect_error(const std::string& spec, double ratio, const std::vector<std::string>& pieces) {
  try {
    make_press(spec, ratio);
    ADD_FAILURE() << "no error for '" << spec << "' at ratio " << ratio;
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "'" << spec << "': " << msg << "\n  lacks: " << p;
  }
}

TEST(KeptCount, TruncatesTheDoubleProductLikePython) {
  // Values of Python's int(S * (1 - cr)); 1 - 0.9 == 0.09999999999999998 and 1 - 0.7 == 0.30000000000000004.
  struct Case { int64_t S; double ratio; int64_t kept; };
  const Case cases[] = {{100, 0.9, 9},  {10, 0.9, 0},   {30, 0.9, 2},    {40, 0.9, 3},   {1000, 0.9, 99},
                        {5, 0.8, 0},    {10, 0.7, 3},   {100, 0.7, 30},  {1000, 0.7, 300}, {100, 0.25, 75},
                        {100, 0.5, 50}, {7, 0.5, 3},    {3, 0.1, 2},     {1, 0.5, 0},    {100, 0.0, 100}};
  for (const auto& c : cases) EXPECT_EQ(kept_count(c.S, c.ratio), c.kept) << "S=" << c.S << " ratio=" << c.ratio;
}

TEST(KeptCount, RatioValidation) {
  EXPECT_NO_THROW(validate_compression_ratio(0.0));
  EXPECT_NO_THROW(validate_compression_ratio(0.999));
  EXPECT_THROW(validate_compression_ratio(1.0), Error);
  EXPECT_THROW(validate_compression_ratio(-0.01), Error);
  EXPECT_THROW(validate_compression_ratio(std::nan("")), Error);
}

TEST(Selection, TopIndicesBreaksTiesByLowerIndexAndReturnsAscending) {
  const float s[] = {1, 3, 3, 0, 3, 2, std::nanf("")};
  EXPECT_EQ(top_indices(s, 7, 2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(top_indices(s, 7, 4), (std::vector<int64_t>{1, 2, 4, 5}));
  EXPECT_EQ(top_indices(s, 7, 6), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));  // NaN ranks last
  EXPECT_EQ(top_indices(s, 7, 0), (std::vector<int64_t>{}));
  EXPECT_EQ(top_indices(s, 7, 9).size(), 7u);
}

TEST(Selection, ProtectionScoreIsStrictlyAboveTheMax) {
  const std::vector<float> small = {0.25f, -3.0f, 0.5f};
  EXPECT_EQ(protection_score(small), 1.5f);
  const std::vector<float> huge = {3e9f, 1.0f};  // 3e9 + 1 rounds back to 3e9 in float
  EXPECT_GT(protection_score(huge), 3e9f);
  EXPECT_EQ(protection_score(std::vector<float>{}), 1.0f);
}

TEST(PressSpec, ParsesNestedSpecsAndParameters) {
  const PressSpec s = parse_press_spec("adakv(snapkv:window_size=32,kernel_size=7):alpha_safeguard=0.1");
  EXPECT_EQ(s.name, "adakv");
  ASSERT_EQ(s.inner.size(), 1u);
  EXPECT_EQ(s.inner[0].name, "snapkv");
  EXPECT_EQ(s.inner[0].params, (std::vector<std::pair<std::string, std::string>>{{"window_size", "32"}, {"kernel_size", "7"}}));
  EXPECT_EQ(s.params, (std::vector<std::pair<std::string, std::string>>{{"alpha_safeguard", "0.1"}}));

  const PressSpec c = parse_press_spec(" composed( knorm , streaming_llm : n_sink = 8 , snapkv ) ");
  ASSERT_EQ(c.inner.size(), 3u);
  EXPECT_EQ(c.inner[1].name, "streaming_llm");
  EXPECT_EQ(c.inner[1].params.size(), 1u);
  EXPECT_EQ(c.inner[2].name, "snapkv");
  EXPECT_EQ(to_string(c), "composed(knorm,streaming_llm:n_sink=8,snapkv)");
  EXPECT_EQ(to_string(parse_press_spec(to_string(s))), to_string(s));
  EXPECT_EQ(parse_press_spec("expected_attention_press:epsilon=1e-2").params[0].second, "1e-2");
}

TEST(PressSpec, SyntaxErrorsNamePositionAndExpectation) {
  struct Case { std::string text; std::string piece; };
  const Case cases[] = {
      {"", "empty press specification"},
      {"snapkv(", "expected a press name"},
      {"adakv(snapkv", "missing ')'"},
      {"snapkv)", "unexpected ')'"},
      {"snapkv:window_size", "expected '=' after parameter 'window_size'"},
      {"snapkv:=3", "expected a parameter name"},
      {"snapkv:window_size=", "expected a value for parameter 'window_size'"},
      {"snapkv:window_size=1,window_size=2", "given twice"},
      {"knorm:x=1,y", "expected '=' after parameter 'y'"},
      {"composed(knorm;snapkv)", "expected ',' or ')'"},
  };
  for (const auto& c : cases) {
    try {
      parse_press_spec(c.text);
      ADD_FAILURE() << "no error for '" << c.text << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.piece), std::string::npos) << c.text << ": " << msg;
      if (!c.text.empty()) { EXPECT_NE(msg.find("at position"), std::string::npos) << msg; }
    }
  }
}

TEST(PressSpec, ErrorsStayOnOneLineAndDeepNestingIsRefused) {
  // Found by fuzz_press_spec: the text was quoted raw, so a newline in it split the message.
  try {
    parse_press_spec("\nsnapkv:window_size\x01=3");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("'\\nsnapkv:window_size\\x01=3'"), std::string::npos) << msg;
  }
  // 100000 levels would overflow the stack of a recursive parser; 16 is the most the registry builds.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "composed(";
  EXPECT_THROW(parse_press_spec(deep), Error);
  std::string sixteen = "knorm";
  for (int i = 0; i < 16; ++i) sixteen = "composed(" + sixteen + ")";
  EXPECT_NO_THROW(parse_press_spec(sixteen));
  try {
    parse_press_spec("composed(" + sixteen + ")");
    ADD_FAILURE() << "17 levels parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nests more than 16 levels"), std::string::npos) << e.what();
  }
}

TEST(PressRegistry, ListsEveryPressAndAlias) {
  std::set<std::string> names;
  for (const auto& p : registered_presses()) names.insert(p.name);
  for (const char* n : {"knorm", "snapkv", "expected_attention_press", "streaming_llm", "tova", "observed_attention",
                        "random", "adakv", "composed", "adakv_snapkv", "expected_attention", "no_press", "none"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const auto& p : registered_presses()) {
    if (p.name == "snapkv") { EXPECT_EQ(p.parameters, "window_size=64, kernel_size=5"); }
    if (p.name == "adakv") {
      EXPECT_TRUE(p.is_wrapper);
      EXPECT_EQ(p.parameters, "alpha_safeguard=0.2");
    }
    if (p.name == "expected_attention") {
      EXPECT_EQ(p.expands_to, "adakv(expected_attention_press:epsilon=0.01)");
    }
    if (p.name == "expected_attention_press") {
      EXPECT_EQ(p.parameters, "n_future_positions=512, n_sink=4, use_covariance=true, use_vnorm=true, epsilon=0");
    }
    if (p.name == "knorm") { EXPECT_FALSE(p.is_wrapper); }
  }
}

TEST(PressRegistry, BuildsPressesWithParametersAndRatio) {
  auto snap = make_press("snapkv:window_size=32,kernel_size=7", 0.3);
  EXPECT_EQ(snap->name(), "snapkv:window_size=32,kernel_size=7");
  EXPECT_EQ(snap->compression_ratio(), 0.3);
  auto ada = make_press("adakv(snapkv):alpha_safeguard=0.1", 0.5);
  EXPECT_EQ(ada->name(), "adakv(snapkv:window_size=64,kernel_size=5):alpha_safeguard=0.1");
  ada->set_compression_ratio(0.25);
  EXPECT_EQ(ada->compression_ratio(), 0.25);
  // The kvpress evaluation alias and its parameter forwarding to the scoring press.
  EXPECT_EQ(make_press("expected_attention", 0.5)->name(),
            "adakv(expected_attention_press:n_future_positions=512,n_sink=4,use_covariance=true,use_vnorm=true,"
            "epsilon=0.01):alpha_safeguard=0.2");
  EXPECT_EQ(make_press("expected_attention:epsilon=0.05,n_sink=2", 0.5)->name(),
            "adakv(expected_attention_press:n_future_positions=512,n_sink=2,use_covariance=true,use_vnorm=true,"
            "epsilon=0.05):alpha_safeguard=0.2");
  EXPECT_EQ(make_press("adakv_snapkv:window_size=16", 0.5)->name(),
            "adakv(snapkv:window_size=16,kernel_size=5):alpha_safeguard=0.2");
  // A parameter goes to the outermost press of the alias that takes it.
  EXPECT_EQ(make_press("expected_attention:alpha_safeguard=0.3,n_sink=2", 0.5)->name(),
            "adakv(expected_attention_press:n_future_positions=512,n_sink=2,use_covariance=true,use_vnorm=true,"
            "epsilon=0.01):alpha_safeguard=0.3");
  EXPECT_EQ(make_press("decoding_adakv_snapkv:target_size=99,window_size=8,alpha_safeguard=0.5", 0.0)->name(),
            "decoding(adakv(snapkv:window_size=8,kernel_size=5):alpha_safeguard=0.5):compression_interval=512,"
            "target_size=99,hidden_states_buffer_size=256");
  auto composed = make_press("composed(knorm,streaming_llm:n_sink=8)", 0.5);
  EXPECT_EQ(composed->name(), "composed(knorm,streaming_llm:n_sink=8)");
  EXPECT_DOUBLE_EQ(composed->compression_ratio(), 0.25);  // kvpress reports the product of the members' ratios
  EXPECT_EQ(make_press("random:seed=7", 0.1)->name(), "random:seed=7");
  EXPECT_EQ(make_press("random:seed=none", 0.1)->name(), "random");
  EXPECT_EQ(make_press("expected_attention_press:use_covariance=0,use_vnorm=false", 0.1)->name(),
            "expected_attention_press:n_future_positions=512,n_sink=4,use_covariance=false,use_vnorm=false,epsilon=0");
  EXPECT_EQ(make_press("none", 0.0), nullptr);
  EXPECT_EQ(make_press("no_press", 0.5), nullptr);
}

TEST(PressRegistry, NamesRoundTrip) {
  for (const auto& info : registered_presses()) {
    std::string spec = info.name;
    if (info.name == "adakv") spec = "adakv(tova)";
    if (info.name == "composed") spec = "composed(knorm,random:seed=3)";
    if (info.name == "decoding" || info.name == "compression_ratio_decoding" || info.name == "cam")
      spec = info.name + "(knorm)";
    if (info.name == "prefill_decoding") spec = "prefill_decoding(knorm,cam(tova))";
    if (info.name == "per_layer_compression") spec = "per_layer_compression(knorm):compression_ratios=0.1;0.5";
    if (info.name == "dms") spec = "dms(knorm):threshold=-1.5";
    if (info.is_wrapper && spec == info.name) spec = info.name + "(knorm)";  // the other one-scorer wrappers
    // decoding and cam are sized by target_size, per_layer_compression and dms by their parameters,
    // simlayerkv by its lazy layers: a ratio is an error for them.
    const bool by_target = spec.rfind("decoding", 0) == 0 || spec.rfind("cam", 0) == 0 ||
                           info.name == "per_layer_compression" || info.name == "dms" || info.name == "simlayerkv";
    const double ratio = by_target ? 0.0 : 0.4;
    auto press = make_press(spec, ratio);
    if (!press) continue;
    auto again = make_press(press->name(), ratio);
    EXPECT_EQ(again->name(), press->name()) << spec;
  }
}

TEST(PressRegistry, ErrorsListTheValidChoices) {
  expect_error("snapk", 0.5, {"unknown press 'snapk'", "knorm", "snapkv", "expected_attention", "adakv_snapkv", "none"});
  expect_error("snapkv:window=3", 0.5, {"press 'snapkv' has no parameter 'window'", "window_size, kernel_size"});
  expect_error("knorm:foo=1", 0.5, {"press 'knorm' takes no parameters", "foo"});
  expect_error("expected_attention:foo=1", 0.5,
               {"press 'expected_attention_press' has no parameter 'foo'", "n_future_positions"});
  expect_error("snapkv:window_size=abc", 0.5, {"press 'snapkv'", "window_size=abc", "an integer in [1,"});
  expect_error("snapkv:window_size=0", 0.5, {"window_size=0", "an integer in [1,"});
  expect_error("snapkv:window_size=1.5", 0.5, {"window_size=1.5"});
  expect_error("snapkv:kernel_size=4", 0.5, {"kernel_size must be odd"});
  expect_error("adakv(knorm):alpha_safeguard=1.5", 0.5, {"alpha_safeguard=1.5", "a number in [0, 1]"});
  expect_error("expected_attention_press:use_covariance=maybe", 0.5, {"use_covariance=maybe", "true, false"});
  expect_error("expected_attention_press:epsilon=nan", 0.5, {"epsilon=nan"});
  expect_error("random:seed=-1", 0.5, {"seed=-1", "non-negative integer"});
  expect_error("streaming_llm:n_sink=-2", 0.5, {"n_sink=-2"});
  expect_error("adakv", 0.5, {"'adakv' is a wrapper", "1 inner press"});
  expect_error("composed", 0.5, {"'composed' is a wrapper"});
  expect_error("adakv(knorm,tova)", 0.5, {"takes 1 inner press", "got 2"});
  expect_error("knorm(snapkv)", 0.5, {"press 'knorm' is not a wrapper"});
  expect_error("adakv(composed(knorm))", 0.5, {"'adakv' needs a scorer press", "composed(knorm)"});
  expect_error("adakv(adakv(knorm))", 0.5, {"'adakv' needs a scorer press"});
  expect_error("composed(knorm,adakv(snapkv))", 0.5, {"'composed' cannot contain 'adakv'"});
  expect_error("composed(observed_attention)", 0.5, {"'composed' cannot contain 'observed_attention'"});
  expect_error("composed(knorm,none)", 0.5, {"'none'", "cannot be used inside"});
  expect_error("none:x=1", 0.0, {"'none' takes no inner presses or parameters"});
  expect_error("expected_attention(knorm)", 0.5, {"alias of adakv(expected_attention_press:epsilon=0.01)"});
  for (double bad : {1.0, -0.1, 1.5, std::nan("")}) {
    expect_error("knorm", bad, {"compression ratio must be in [0, 1)"});
    expect_error("none", bad, {"compression ratio must be in [0, 1)"});
  }
  auto press = make_press("knorm", 0.5);
  EXPECT_THROW(press->set_compression_ratio(1.0), Error);
  EXPECT_EQ(press->compression_ratio(), 0.5);
}

TEST(PressRegistry, HelpMentionsGrammarAndAliases) {
  const std::string help = press_spec_help();
  EXPECT_NE(help.find("name[(inner,...)][:key=value,...]"), std::string::npos);
  EXPECT_NE(help.find("expected_attention"), std::string::npos);
}

}  // namespace
}  // namespace kvpress
