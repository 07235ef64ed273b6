// Essay haystack loading, the data folder default, and the sentence splitter.
#include "eval/haystack.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/error.h"
#include "eval/text_utils.h"

#ifndef KVPRESS_DATA_DIR
#define KVPRESS_DATA_DIR "data"
#endif

namespace kvpress {
namespace {

constexpr std::string_view kAbbreviations[] = {"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "vs.", "e.g.",
                                               "i.e.", "etc.", "cf.", "inc.", "co.", "corp.", "ltd.", "no.",
                                               "u.s.", "u.k.", "a.m.", "p.m.", "ph.d."};

bool is_closing(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

// Strips trailing closing quotes/brackets, ASCII or the UTF-8 right quotes ’ ” (E2 80 99 / 9D).
std::string_view strip_closers(std::string_view w) {
  while (!w.empty()) {
    if (is_closing(w.back())) {
      w.remove_suffix(1);
    } else if (w.size() >= 3 && static_cast<unsigned char>(w[w.size() - 3]) == 0xe2 &&
               static_cast<unsigned char>(w[w.size() - 2]) == 0x80 &&
               (static_cast<unsigned char>(w.back()) == 0x99 || static_cast<unsigned char>(w.back()) == 0x9d)) {
      w.remove_suffix(3);
    } else {
      break;
    }
  }
  return w;
}

bool ends_sentence(std::string_view word) {
  const std::string_view core = strip_closers(word);
  if (core.empty()) return false;
  const char last = core.back();
  if (last != '.' && last != '!' && last != '?') return false;
  if (last == '.') {
    const std::string lower = text::ascii_lower(core);
    for (std::string_view a : kAbbreviations)
      if (lower == a) return false;
    // An initial: one letter and a period ("J.").
    if (core.size() == 2 && ((core[0] >= 'A' && core[0] <= 'Z') || (core[0] >= 'a' && core[0] <= 'z'))) return false;
  }
  return true;
}

bool starts_sentence(std::string_view word) {
  const unsigned char c = static_cast<unsigned char>(word.front());
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '"' || c == '\'' || c == '(' || c == '[' ||
         c >= 0x80;  // curly quotes and non-ASCII capitals
}

}  // namespace

std::filesystem::path default_data_dir() { return std::filesystem::path(KVPRESS_DATA_DIR); }

Haystack Haystack::load(const std::filesystem::path& data_dir) {
  const std::filesystem::path folder = data_dir / "paul_graham_essays";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    fail("essay folder not found: ", folder.string(), " (expected the repository's data/ folder)");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
  if (files.empty()) fail("essay folder ", folder.string(), " holds no .txt files");
  std::sort(files.begin(), files.end());  // file-name order: the same haystack on every machine
  std::vector<std::string> essays;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) fail("cannot read essay file ", f.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    essays.push_back(buf.str());
  }
  return from_essays(std::move(essays));
}

Haystack Haystack::from_essays(std::vector<std::string> essays) {
  Haystack h;
  h.n_essays_ = essays.size();
  h.text_ = text::join(essays, "\n");
  h.words_ = text::split_whitespace(h.text_);
  if (h.words_.empty()) fail("essay haystack is empty");
  return h;
}

std::string Haystack::first_words(std::size_t n) const {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(' ');
    out.append(words_[i % words_.size()]);
  }
  return out;
}

std::vector<std::string> split_sentences(std::string_view text) {
  const std::vector<std::string> words = text::split_whitespace(text);
  std::vector<std::string> sentences;
  std::string current;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (!current.empty()) current.push_back(' ');
    current.append(words[i]);
    const bool last = i + 1 == words.size();
    if (last || (ends_sentence(words[i]) && starts_sentence(words[i + 1]))) {
      sentences.push_back(std::move(current));
      current.clear();
    }
  }
  return sentences;
}

}  // namespace kvpress
