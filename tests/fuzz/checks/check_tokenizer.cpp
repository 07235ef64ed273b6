// Tokenizer: the input's first byte holds flags, the rest is text. The text goes through every
// vocabulary's encode then decode; ids must be in range, and where the vocabulary covers every byte
// the plain text must come back unchanged. The same bytes read as token ids must decode or throw Error.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "fuzz_check.h"
#include "fuzz_vocabularies.h"

namespace kvpress::fuzz {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";

// Little-endian int32 ids from the text, reduced to a little over the vocabulary so most are valid.
std::vector<int32_t> ids_from_bytes(std::string_view text, int32_t n_vocab, bool allow_out_of_range) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 4 <= text.size(); i += 4) {
    int32_t id = 0;
    std::memcpy(&id, text.data() + i, 4);
    ids.push_back(allow_out_of_range ? id : (int32_t)((uint32_t)id % (uint32_t)n_vocab));
  }
  return ids;
}

void check_one(const FuzzVocab& v, std::string_view text, uint8_t flags) {
  const Tokenizer& t = v.tokenizer;
  const bool add_special = flags & 1, parse_special = flags & 2, skip_special = flags & 4;
  const std::vector<int32_t> ids = t.encode(text, add_special, parse_special);
  for (const int32_t id : ids) require(id >= 0 && id < t.n_vocab(), "encode gives ids inside the vocabulary", v.name);
  const std::string decoded = t.decode(ids, skip_special);
  // SentencePiece shows spaces as U+2581, so a literal U+2581 in the text decodes as a space.
  const bool plain = !add_special && !parse_special && skip_special;
  if (plain && v.round_trips && (t.vocab().model != "llama" || text.find(kSpaceMark) == std::string_view::npos))
    require(decoded == std::string(text), "decode(encode(text)) == text", v.name + ": decoded '" + decoded + "'");
  require(t.encode(text, add_special, parse_special) == ids, "encode is deterministic", v.name);

  for (const int32_t id : ids_from_bytes(text, t.n_vocab(), false)) {
    (void)t.token_to_piece(id);
    (void)t.is_end_of_generation(id);
  }
  (void)t.decode(ids_from_bytes(text, t.n_vocab(), false), skip_special);
  try {
    (void)t.decode(ids_from_bytes(text, t.n_vocab(), true), skip_special);
  } catch (const Error& e) {
    require_error_message(e.what());
  }
  (void)t.find_token(text);
}

}  // namespace

void check_tokenizer(Bytes input) {
  if (input.empty()) return;
  const std::string_view text(reinterpret_cast<const char*>(input.data()) + 1, input.size() - 1);
  for (const FuzzVocab& v : fuzz_vocabularies()) {
    try {
      check_one(v, text, input[0]);
    } catch (const Error& e) {
      require_error_message(e.what());
    }
  }
}

}  // namespace kvpress::fuzz
