// ComposedPress: applies its presses one after the other on each layer, each on the cache the
// previous one left (spec §2.22, kvpress ComposedPress).
#include <algorithm>

#include "core/error.h"
#include "press/press_args.h"

namespace kvpress {

class ComposedPress final : public Press {
 public:
  explicit ComposedPress(std::vector<std::unique_ptr<Press>> presses) : presses_(std::move(presses)) {}

  std::string name() const override {
    std::string s = "composed(";
    for (size_t i = 0; i < presses_.size(); ++i) s.append(i ? "," : "").append(presses_[i]->name());
    return s + ")";
  }
  // kvpress reports the product of the members' ratios (not the removed fraction, which is
  // 1 - prod(1 - r_i)); kept for parity of reported numbers.
  double compression_ratio() const override {
    double r = 1.0;
    for (const auto& p : presses_) r *= p->compression_ratio();
    return r;
  }
  // kvpress's evaluation sets the same ratio on every member.
  void set_compression_ratio(double ratio) override {
    validate_compression_ratio(ratio);
    for (auto& p : presses_) p->set_compression_ratio(ratio);
  }
  void compress(const LayerPrefill& layer) override {
    for (auto& p : presses_) p->compress(layer);
  }
  bool rerotates_keys() const override {
    return std::any_of(presses_.begin(), presses_.end(), [](const auto& p) { return p->rerotates_keys(); });
  }
  bool reads_question_window() const override {
    return std::any_of(presses_.begin(), presses_.end(), [](const auto& p) { return p->reads_question_window(); });
  }
  ObservationNeeds needs() const override {
    ObservationNeeds n{0, false};
    for (const auto& p : presses_) n = combined_needs(n, p->needs());
    return n;
  }
  void observe(const LayerChunk& chunk) override {
    for (auto& p : presses_) p->observe(chunk);
  }
  void reset() override {
    for (auto& p : presses_) p->reset();
  }

 private:
  std::vector<std::unique_ptr<Press>> presses_;
};

template <>
std::unique_ptr<Press> create_press<ComposedPress>(PressArgs& args) {
  auto presses = args.take_inner(1, 64);
  if (args.describing()) return nullptr;
  for (const auto& p : presses) {
    // As kvpress: AdaKV leaves heads of different lengths and observed attention needs the
    // attention of the uncompressed pass, so neither can run inside a composition.
    const std::string name = p->name();
    const std::string base = name.substr(0, name.find_first_of("(:"));
    if (p->acts_on_decoding())
      fail("press 'composed' cannot contain '", name,
           "', which compresses while decoding; use prefill_decoding(PREFILL_PRESS,DECODING_PRESS)");
    if (base == "adakv" || base == "observed_attention")
      fail("press 'composed' cannot contain '", base, "' (as in kvpress)");
    // kvzip, kvcompose, duo_attention_on_the_fly act once after the whole prefill, not per layer.
    if (p->acts_after_prefill())
      fail("press 'composed' cannot contain '", base, "', which acts once after the whole prefill (as in kvpress)");
  }
  return std::make_unique<ComposedPress>(std::move(presses));
}

}  // namespace kvpress
