// TextStream: incremental detokenization with stop sequences (OpenAI's `stop`: the text ends before it).
#include "serve/text_stream.h"

#include <algorithm>

namespace kvpress::serve {

namespace {

// Length of `s` without a trailing incomplete UTF-8 sequence.
size_t utf8_complete_prefix(const std::string& s) {
  size_t i = s.size(), back = 0;
  while (i > 0 && back < 4) {
    const auto c = (unsigned char)s[i - 1];
    ++back;
    if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII): is its sequence complete?
      const size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      return back >= need ? s.size() : i - 1;
    }
    --i;
  }
  return s.size();  // only continuation bytes: not UTF-8 we can repair, send as is
}

}  // namespace

std::string TextStream::push(int32_t id) {
  if (stopped_) return "";
  ids_.push_back(id);
  decoded_ = engine_.detokenize(ids_, true);
  // A stop sequence may start in text already final only if it was held back, so search from there.
  size_t stop_at = std::string::npos;
  for (const auto& s : stop_) {
    const size_t at = decoded_.find(s, text_.size() >= s.size() ? text_.size() - s.size() + 1 : 0);
    if (at != std::string::npos) stop_at = std::min(stop_at, at);
  }
  size_t final_end = decoded_.size();
  if (stop_at != std::string::npos) {
    stopped_ = true;
    final_end = stop_at;
  } else {
    // Hold back a tail that is the beginning of a stop sequence.
    for (const auto& s : stop_)
      for (size_t k = std::min(s.size() - 1, decoded_.size()); k > 0; --k)
        if (decoded_.compare(decoded_.size() - k, k, s, 0, k) == 0) {
          final_end = std::min(final_end, decoded_.size() - k);
          break;
        }
    final_end = std::min(final_end, utf8_complete_prefix(decoded_.substr(0, final_end)));
  }
  if (final_end <= text_.size() || decoded_.compare(0, text_.size(), text_) != 0) return "";
  std::string piece = decoded_.substr(text_.size(), final_end - text_.size());
  text_ += piece;
  return piece;
}

std::string TextStream::flush() {
  if (stopped_ || decoded_.size() <= text_.size() || decoded_.compare(0, text_.size(), text_) != 0) return "";
  std::string piece = decoded_.substr(text_.size());
  text_ += piece;
  return piece;
}

}  // namespace kvpress::serve
