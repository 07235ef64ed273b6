// Public API: presses described by value (a registry specification plus a compression ratio), typed
// constructors for the registered presses, and the registry's catalogue.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kvpress/error.h"

namespace kvpress {

// A press as a value: copyable and immutable. Every Session builds its own press object from it, so one
// PressConfig may serve any number of concurrent sessions. The default-constructed config is "no press".
class PressConfig {
 public:
  using Parameters = std::vector<std::pair<std::string, std::string>>;  // key -> value text, in order

  PressConfig() = default;

  // A specification as `kvpress presses` lists it ("knorm", "snapkv:window_size=32", "adakv(snapkv)",
  // "composed(knorm,streaming_llm)", "expected_attention", "none") and the fraction of KV pairs to
  // remove, in [0, 1). Throws Error naming the bad name, parameter or ratio.
  static PressConfig from_spec(const std::string& spec, double compression_ratio);

  // A registered press by name, with parameters as text ("64", "0.1", "true", "none"). Throws Error
  // as from_spec, also for a wrapper (use wrap()).
  static PressConfig make(const std::string& name, double compression_ratio, const Parameters& parameters = {});
  // A wrapper around inner presses (adakv: one, composed: one or more); its compression ratio is the
  // inner presses' (they must share one). Throws Error as from_spec.
  static PressConfig wrap(const std::string& name, const std::vector<PressConfig>& inner,
                          const Parameters& parameters = {});

  bool is_none() const { return spec_.empty(); }
  const std::string& spec() const { return spec_; }  // "" for no press
  double compression_ratio() const { return compression_ratio_; }
  // The specification with every parameter spelled out (aliases expanded), e.g.
  // "snapkv:window_size=64,kernel_size=5"; "none" for no press.
  std::string canonical_spec() const;
  // Whether the press compresses while answers are generated (decoding, cam, prefill_decoding, ...):
  // a Session with such a press answers one question, as in kvpress.
  bool compresses_while_decoding() const;
  // Whether the press compresses the context at prefill (false for a pure decoding press, which the
  // compression ratio does not size).
  bool compresses_prefill() const;

 private:
  PressConfig(std::string spec, double compression_ratio) : spec_(std::move(spec)), compression_ratio_(compression_ratio) {}
  std::string spec_;
  double compression_ratio_ = 0.0;
};

// Typed constructors, one per registered press, with kvpress's parameter names and defaults.
namespace presses {
PressConfig knorm(double compression_ratio);
PressConfig snapkv(double compression_ratio, int64_t window_size = 64, int64_t kernel_size = 5);
struct ExpectedAttentionParams {
  int64_t n_future_positions = 512;
  int64_t n_sink = 4;
  bool use_covariance = true;
  bool use_vnorm = true;
  double epsilon = 0.0;
};
// The plain ExpectedAttentionPress; kvpress's evaluation name "expected_attention" is
// adakv(expected_attention(ratio, {.epsilon = 0.01})).
PressConfig expected_attention(double compression_ratio, const ExpectedAttentionParams& params = {});
PressConfig streaming_llm(double compression_ratio, int64_t n_sink = 4);
PressConfig tova(double compression_ratio);
PressConfig observed_attention(double compression_ratio);
PressConfig random(double compression_ratio, std::optional<uint64_t> seed = std::nullopt);
PressConfig adakv(const PressConfig& press, double alpha_safeguard = 0.20);
PressConfig composed(const std::vector<PressConfig>& presses);
PressConfig keydiff(double compression_ratio);

// Decoding-time compression (kvpress's DecodingPress family): the base press (ratio 0) re-compresses
// the whole cache while tokens are generated.
struct DecodingParams {
  int64_t compression_interval = 512;
  int64_t target_size = 2048;  // unused by compression_ratio_decoding
  int64_t hidden_states_buffer_size = 256;
};
PressConfig decoding(const PressConfig& base, const DecodingParams& params = {});
PressConfig compression_ratio_decoding(const PressConfig& base, double target_compression_ratio = 0.5,
                                       const DecodingParams& params = {});
PressConfig cam(const PressConfig& base, const DecodingParams& params = {}, int64_t merge_budget = 32);
// `prefill` compresses the context, `decoding` (one of the above) the generation.
PressConfig prefill_decoding(const PressConfig& prefill, const PressConfig& decoding);
}  // namespace presses

struct PressParameter {
  std::string name;           // "window_size"
  std::string default_value;  // as text: "64", "0.2", "true", "none"
};

struct PressDescription {
  std::string name;                       // registry name, e.g. "snapkv"
  std::string description;                // one line
  bool is_wrapper = false;                // takes inner presses: name(inner, ...)
  std::vector<PressParameter> parameters; // besides the compression ratio, in declaration order
  bool is_alias = false;                  // another name: a kvpress evaluation or paper name, or "none"
  std::string expands_to;                 // aliases: the specification they stand for ("" for no press)
};

// Every registered press, then the aliases (kvpress evaluation names, paper names, "none").
std::vector<PressDescription> press_catalog();
// The specification grammar, for help texts.
std::string press_spec_help();

}  // namespace kvpress
