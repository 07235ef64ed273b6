// DecodingPress and CompressionRatioDecodingPress (kvpress, spec §4.1-4.2): the base press re-compresses
// each layer's whole cache every compression_interval decoding passes, down to target_size entries per
// head (or, compression_ratio_decoding, to a fraction of the tokens seen: its compression ratio is
// kvpress's target_compression_ratio). The machinery is in press/decoding_press.cpp.
#include "press/decoding_press.h"
#include "press/press_args.h"

namespace kvpress {

class PlainDecodingPress final : public DecodingPress {
 public:
  using DecodingPress::DecodingPress;
};

class CompressionRatioDecodingPress final : public DecodingPress {
 public:
  using DecodingPress::DecodingPress;
};

namespace {
template <class P>
std::unique_ptr<Press> create_decoding(PressArgs& args, const std::string& kind) {
  const DecodingPress::Options o = DecodingPress::read_options(args, kind);
  auto inner = args.take_inner(1, 1);
  if (args.describing()) return nullptr;
  return std::make_unique<P>(kind, std::move(inner.front()), o);
}
}  // namespace

template <>
std::unique_ptr<Press> create_press<PlainDecodingPress>(PressArgs& args) {
  return create_decoding<PlainDecodingPress>(args, "decoding");
}

template <>
std::unique_ptr<Press> create_press<CompressionRatioDecodingPress>(PressArgs& args) {
  return create_decoding<CompressionRatioDecodingPress>(args, "compression_ratio_decoding");
}

}  // namespace kvpress
