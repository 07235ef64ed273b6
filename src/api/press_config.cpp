// PressConfig: specification text plus ratio, validated against the registry when made; typed
// constructors and the catalogue are thin layers over the same registry (press/press_registry.h).
#include "kvpress/press.h"

#include <charconv>

#include "api/press_build.h"
#include "core/error.h"
#include "press/press_registry.h"

namespace kvpress {
namespace {

// Characters of the specification grammar (press/press_spec.h) cannot appear in names or values.
void check_word(const std::string& what, const std::string& word) {
  if (word.empty() || word.find_first_of("(),:= \t\n") != std::string::npos)
    fail("press ", what, " '", word, "' is empty or holds one of ( ) , : = or a space");
}

std::string with_parameters(std::string spec, const PressConfig::Parameters& parameters) {
  for (size_t i = 0; i < parameters.size(); ++i) {
    check_word("parameter name", parameters[i].first);
    check_word("parameter value", parameters[i].second);
    spec.append(i == 0 ? ":" : ",").append(parameters[i].first).append("=").append(parameters[i].second);
  }
  return spec;
}

// Shortest text that reads back as the same double.
std::string real_text(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string bool_text(bool v) { return v ? "true" : "false"; }

}  // namespace

std::unique_ptr<Press> build_press(const PressConfig& config) {
  if (config.is_none()) return nullptr;
  return make_press(config.spec(), config.compression_ratio());
}

PressConfig PressConfig::from_spec(const std::string& spec, double compression_ratio) {
  if (!make_press(spec, compression_ratio)) return PressConfig();  // "none", "no_press"
  return PressConfig(spec, compression_ratio);
}

PressConfig PressConfig::make(const std::string& name, double compression_ratio, const Parameters& parameters) {
  check_word("name", name);
  return from_spec(with_parameters(name, parameters), compression_ratio);
}

PressConfig PressConfig::wrap(const std::string& name, const std::vector<PressConfig>& inner,
                              const Parameters& parameters) {
  check_word("name", name);
  if (inner.empty()) fail("press '", name, "' needs at least one inner press");
  std::string spec = name + "(";
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i].is_none()) fail("an inner press of '", name, "' is 'none'");
    // One ratio per specification: members of a composition cannot differ.
    if (inner[i].compression_ratio() != inner[0].compression_ratio())
      fail("the inner presses of '", name, "' have different compression ratios (", inner[0].compression_ratio(),
           " and ", inner[i].compression_ratio(), "); kvpress.cpp gives every member the same ratio");
    spec.append(i ? "," : "").append(inner[i].spec());
  }
  return from_spec(with_parameters(spec + ")", parameters), inner[0].compression_ratio());
}

std::string PressConfig::canonical_spec() const { return is_none() ? "none" : build_press(*this)->name(); }

bool PressConfig::compresses_while_decoding() const { return !is_none() && build_press(*this)->acts_on_decoding(); }
bool PressConfig::compresses_prefill() const { return !is_none() && build_press(*this)->acts_on_prefill(); }

namespace presses {

PressConfig knorm(double r) { return PressConfig::make("knorm", r); }
PressConfig snapkv(double r, int64_t window_size, int64_t kernel_size) {
  return PressConfig::make("snapkv", r,
                           {{"window_size", std::to_string(window_size)}, {"kernel_size", std::to_string(kernel_size)}});
}
PressConfig expected_attention(double r, const ExpectedAttentionParams& p) {
  return PressConfig::make("expected_attention_press", r,
                           {{"n_future_positions", std::to_string(p.n_future_positions)},
                            {"n_sink", std::to_string(p.n_sink)},
                            {"use_covariance", bool_text(p.use_covariance)},
                            {"use_vnorm", bool_text(p.use_vnorm)},
                            {"epsilon", real_text(p.epsilon)}});
}
PressConfig streaming_llm(double r, int64_t n_sink) {
  return PressConfig::make("streaming_llm", r, {{"n_sink", std::to_string(n_sink)}});
}
PressConfig tova(double r) { return PressConfig::make("tova", r); }
PressConfig observed_attention(double r) { return PressConfig::make("observed_attention", r); }
PressConfig random(double r, std::optional<uint64_t> seed) {
  return PressConfig::make("random", r, {{"seed", seed ? std::to_string(*seed) : "none"}});
}
PressConfig adakv(const PressConfig& press, double alpha_safeguard) {
  return PressConfig::wrap("adakv", {press}, {{"alpha_safeguard", real_text(alpha_safeguard)}});
}
PressConfig composed(const std::vector<PressConfig>& members) { return PressConfig::wrap("composed", members); }
PressConfig keydiff(double r) { return PressConfig::make("keydiff", r); }

namespace {
PressConfig::Parameters decoding_parameters(const DecodingParams& p) {
  return {{"compression_interval", std::to_string(p.compression_interval)},
          {"hidden_states_buffer_size", std::to_string(p.hidden_states_buffer_size)}};
}
// A decoding wrapper around `base` (whose ratio must be 0: the target sets it while decoding).
PressConfig decoding_wrapper(const std::string& name, const PressConfig& base, PressConfig::Parameters parameters,
                             double ratio) {
  if (base.is_none()) fail("the inner press of '", name, "' is 'none'");
  if (base.compression_ratio() != 0.0)
    fail("the inner press of '", name, "' has compression ratio ", base.compression_ratio(),
         "; its ratio is set from the target while decoding, so give it 0");
  std::string spec = name + "(" + base.spec() + ")";
  for (size_t i = 0; i < parameters.size(); ++i)
    spec += (i ? "," : ":") + parameters[i].first + "=" + parameters[i].second;
  return PressConfig::from_spec(spec, ratio);
}
}  // namespace

PressConfig decoding(const PressConfig& base, const DecodingParams& p) {
  auto params = decoding_parameters(p);
  params.emplace_back("target_size", std::to_string(p.target_size));
  return decoding_wrapper("decoding", base, params, 0.0);
}
PressConfig compression_ratio_decoding(const PressConfig& base, double target_compression_ratio,
                                       const DecodingParams& p) {
  return decoding_wrapper("compression_ratio_decoding", base, decoding_parameters(p), target_compression_ratio);
}
PressConfig cam(const PressConfig& base, const DecodingParams& p, int64_t merge_budget) {
  auto params = decoding_parameters(p);
  params.emplace_back("target_size", std::to_string(p.target_size));
  params.emplace_back("merge_budget", std::to_string(merge_budget));
  return decoding_wrapper("cam", base, params, 0.0);
}
PressConfig prefill_decoding(const PressConfig& prefill, const PressConfig& decoding) {
  if (prefill.is_none() || decoding.is_none()) fail("the presses of 'prefill_decoding' cannot be 'none'");
  return PressConfig::from_spec("prefill_decoding(" + prefill.spec() + "," + decoding.spec() + ")",
                                prefill.compression_ratio());
}

}  // namespace presses

std::vector<PressDescription> press_catalog() {
  std::vector<PressDescription> out;
  for (const PressInfo& info : registered_presses()) {
    // Aliases expand to a specification, or to no press at all ("none", "no_press").
    const bool alias = !info.expands_to.empty() || (!info.is_wrapper && !make_press(info.name, 0.0));
    PressDescription d{info.name, info.description, info.is_wrapper, {}, alias, info.expands_to};
    // The registry's summary is "key=default, key=default".
    size_t start = 0;
    while (start < info.parameters.size()) {
      size_t end = info.parameters.find(", ", start);
      if (end == std::string::npos) end = info.parameters.size();
      const std::string item = info.parameters.substr(start, end - start);
      const size_t eq = item.find('=');
      d.parameters.push_back({item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1)});
      start = end + 2;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace kvpress
