// Needle-in-a-haystack records built on token ids, as kvpress's insert_needle_in_haystack does.
#include "eval/niah_dataset.h"

#include <algorithm>

#include "core/error.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

// Tokens of the essay text, at least `needed` of them when the essays have that many. Encoding the whole
// 700 kB text is slow with a real tokenizer, so we encode a growing prefix cut at a line break; tokens far
// from the cut are the same as in the full encoding, and we keep a margin of a few hundred bytes.
std::vector<int32_t> essay_tokens(const Haystack& haystack, const TokenCodec& codec, std::size_t needed) {
  const std::string& text = haystack.text();
  std::size_t n_bytes = std::max<std::size_t>(4096, needed * 8);
  while (true) {
    if (n_bytes >= text.size()) return codec.encode(text);
    std::size_t cut = text.find('\n', n_bytes);
    if (cut == std::string::npos) return codec.encode(text);
    std::vector<int32_t> ids = codec.encode(std::string_view(text).substr(0, cut));
    // Drop the last tokens: they may differ from the full text's tokens near the cut.
    const std::size_t margin = 64;
    if (ids.size() >= needed + margin) {
      ids.resize(needed);
      return ids;
    }
    n_bytes *= 2;
  }
}

}  // namespace

std::vector<TaskRecord> make_niah_dataset(const Haystack& haystack, const TokenCodec& codec, const NiahOptions& options) {
  KV_CHECK(codec.encode && codec.decode);
  if (options.lengths.empty()) fail("needle in a haystack: no context lengths given");
  if (options.depths.empty()) fail("needle in a haystack: no needle depths given");
  for (int d : options.depths)
    if (d < 0 || d > 100) fail("needle in a haystack: depth ", d, " is outside [0, 100]");

  const std::vector<int32_t> needle_ids = codec.encode(options.needle);
  const int max_length = *std::max_element(options.lengths.begin(), options.lengths.end());
  const long long longest_budget = static_cast<long long>(max_length) - static_cast<long long>(needle_ids.size()) - kNiahReservedTokens;
  const std::vector<int32_t> essay_ids =
      longest_budget > 0 ? essay_tokens(haystack, codec, static_cast<std::size_t>(longest_budget)) : std::vector<int32_t>{};

  std::vector<TaskRecord> records;
  for (int length : options.lengths) {
    const long long budget = static_cast<long long>(length) - static_cast<long long>(needle_ids.size()) - kNiahReservedTokens;
    if (budget <= 0)
      fail("needle in a haystack: context length ", length, " leaves no room after the needle (", needle_ids.size(),
           " tokens) and the ", kNiahReservedTokens, " reserved tokens");
    const std::size_t n_hay = std::min(essay_ids.size(), static_cast<std::size_t>(budget));
    for (int depth : options.depths) {
      // Python: int(len(tokenized_context) * depth / 100), left to right in floats.
      const auto at = static_cast<std::size_t>(static_cast<double>(n_hay) * depth / 100.0);
      std::vector<int32_t> ids;
      ids.reserve(n_hay + needle_ids.size());
      ids.insert(ids.end(), essay_ids.begin(), essay_ids.begin() + static_cast<std::ptrdiff_t>(at));
      ids.insert(ids.end(), needle_ids.begin(), needle_ids.end());
      ids.insert(ids.end(), essay_ids.begin() + static_cast<std::ptrdiff_t>(at),
                 essay_ids.begin() + static_cast<std::ptrdiff_t>(n_hay));
      TaskRecord r;
      r.context = text::replace_all(kNiahContextWrapper, "{context}", codec.decode(ids));
      r.question = options.question;
      r.answer_prefix = options.answer_prefix;
      r.answers = {options.answer};
      r.task = "niah";
      r.max_new_tokens = options.max_new_tokens;
      r.needle = options.needle;
      r.needle_depth = depth;
      r.length = length;
      records.push_back(std::move(r));
    }
  }
  return records;
}

}  // namespace kvpress
