// PrefillDecodingPress (kvpress, spec §4.3): one press compresses the context at prefill, a decoding
// press keeps compressing while tokens are generated.
#include "core/error.h"
#include "press/press_args.h"

namespace kvpress {

class PrefillDecodingPress final : public Press {
 public:
  PrefillDecodingPress(std::unique_ptr<Press> prefill, std::unique_ptr<Press> decoding)
      : prefill_(std::move(prefill)), decoding_(std::move(decoding)) {}

  std::string name() const override { return "prefill_decoding(" + prefill_->name() + "," + decoding_->name() + ")"; }
  // The ratio is the prefill press's: the decoding press is sized by its target.
  double compression_ratio() const override { return prefill_->compression_ratio(); }
  void set_compression_ratio(double ratio) override { prefill_->set_compression_ratio(ratio); }
  bool rerotates_keys() const override { return prefill_->rerotates_keys(); }
  void reset() override {
    prefill_->reset();
    decoding_->reset();
  }
  ObservationNeeds needs() const override { return prefill_->needs(); }
  void observe(const LayerChunk& chunk) override { prefill_->observe(chunk); }
  void compress(const LayerPrefill& layer) override { prefill_->compress(layer); }
  void after_prefill(const ContextPrefill& context) override { prefill_->after_prefill(context); }
  bool acts_after_prefill() const override { return prefill_->acts_after_prefill(); }
  bool acts_on_decoding() const override { return true; }
  ObservationNeeds decoding_needs() const override { return decoding_->decoding_needs(); }
  void observe_decoding(const LayerChunk& chunk) override { decoding_->observe_decoding(chunk); }
  void compress_decoding(const LayerPrefill& layer) override { decoding_->compress_decoding(layer); }

 private:
  std::unique_ptr<Press> prefill_, decoding_;
};

template <>
std::unique_ptr<Press> create_press<PrefillDecodingPress>(PressArgs& args) {
  auto inner = args.take_inner(2, 2);
  if (args.describing()) return nullptr;
  if (!inner[0]->acts_on_prefill() || inner[0]->acts_on_decoding())
    fail("press 'prefill_decoding': its first press compresses the prefill (e.g. snapkv); '", inner[0]->name(),
         "' compresses while decoding");
  if (inner[1]->acts_on_prefill() || !inner[1]->acts_on_decoding())
    fail("press 'prefill_decoding': its second press compresses while decoding (e.g. decoding(knorm)); '",
         inner[1]->name(), "' does not");
  return std::make_unique<PrefillDecodingPress>(std::move(inner[0]), std::move(inner[1]));
}

}  // namespace kvpress
