// LooGLE cloze matching (with a parser for the Python dict literals kvpress eval()s) and the InfiniteBench
// per-row scores.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>

#include "eval/metrics.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

// A parsed literal: quoted strings keep their decoded text; other scalars (numbers, True, False, None)
// keep their spelling. Equality is Python equality for these cases except 1 == 1.0.
struct PyValue {
  bool is_string = false;
  std::string text;
  bool operator==(const PyValue&) const = default;
};
using PyDict = std::vector<std::pair<PyValue, PyValue>>;

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

class DictParser {
 public:
  explicit DictParser(std::string_view s) : s_(s) {}

  // The whole text must be one dict literal (whitespace around it allowed); later duplicate keys win.
  std::optional<PyDict> parse() {
    skip_space();
    if (!eat('{')) return std::nullopt;
    PyDict dict;
    skip_space();
    if (!eat('}')) {
      while (true) {
        auto key = value();
        skip_space();
        if (!key || !eat(':')) return std::nullopt;
        auto val = value();
        if (!val) return std::nullopt;
        bool replaced = false;
        for (auto& [k, v] : dict)
          if (k == *key) v = *val, replaced = true;
        if (!replaced) dict.emplace_back(std::move(*key), std::move(*val));
        skip_space();
        if (eat('}')) break;
        if (!eat(',')) return std::nullopt;
        skip_space();
        if (eat('}')) break;  // trailing comma
      }
    }
    skip_space();
    if (i_ != s_.size()) return std::nullopt;
    return dict;
  }

 private:
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void skip_space() {
    while (i_ < s_.size()) {
      const std::size_t n = text::space_length_at(s_, i_);
      if (n == 0) break;
      i_ += n;
    }
  }
  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  std::optional<uint32_t> hex(std::size_t n) {
    uint32_t v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (i_ >= s_.size() || hex_digit(s_[i_]) < 0) return std::nullopt;
      v = v * 16 + static_cast<uint32_t>(hex_digit(s_[i_++]));
    }
    return v;
  }
  std::optional<PyValue> value() {
    skip_space();
    if (i_ >= s_.size()) return std::nullopt;
    const char q = s_[i_];
    if (q == '\'' || q == '"') return quoted(q);
    const std::size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == '_' ||
                              s_[i_] == '-' || s_[i_] == '+'))
      ++i_;
    if (i_ == start) return std::nullopt;
    return PyValue{false, std::string(s_.substr(start, i_ - start))};
  }
  std::optional<PyValue> quoted(char q) {
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      const char c = s_[i_++];
      if (c == '\n') return std::nullopt;  // unterminated single-line string
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return std::nullopt;
      const char e = s_[i_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case '0': out.push_back('\0'); break;
        case '\\': case '\'': case '"': out.push_back(e); break;
        case '\n': break;  // line continuation
        case 'x': case 'u': case 'U': {
          const auto cp = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
          if (!cp || *cp > 0x10ffff) return std::nullopt;
          append_utf8(out, *cp);
          break;
        }
        default: out.push_back('\\'); out.push_back(e);  // Python keeps unknown escapes
      }
    }
    if (!eat(q)) return std::nullopt;
    return PyValue{true, std::move(out)};
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

const PyValue* find(const PyDict& d, const PyValue& key) {
  for (const auto& [k, v] : d)
    if (k == key) return &v;
  return nullptr;
}

std::string replace_chars(std::string_view s, std::string_view chars) {
  std::string out(s);
  for (char& c : out)
    if (chars.find(c) != std::string_view::npos) c = ' ';
  return out;
}

}  // namespace

MatchCount loogle_exact_match(std::string_view reference, std::string_view hypothesis) {
  const auto ref = DictParser(reference).parse();
  const auto hyp = DictParser(hypothesis).parse();
  if (!ref || !hyp) return {0, 1};
  MatchCount m{0, static_cast<int>(ref->size())};
  for (const auto& [key, value] : *ref) {
    const PyValue* got = find(*hyp, key);
    if (got != nullptr && *got == value) ++m.matched;
  }
  return m;
}

MatchCount loogle_partial_match(std::string_view reference, std::string_view hypothesis) {
  const auto ref = DictParser(reference).parse();
  if (!ref) return {0, 1};
  const int count = static_cast<int>(ref->size());
  const auto hyp = DictParser(hypothesis).parse();
  if (!hyp) return {0, count};
  MatchCount m{0, count};
  for (const auto& [key, value] : *ref) {
    const PyValue* got = find(*hyp, key);
    if (got == nullptr) continue;
    if (!value.is_string || !got->is_string) return {0, count};  // .split() on a non-string raises
    const auto truth = text::split_whitespace(value.text);
    const auto pred = text::split_whitespace(got->text);
    const std::set<std::string> truth_set(truth.begin(), truth.end());
    for (const std::string& w : pred) {
      if (truth_set.count(w) > 0) {
        ++m.matched;
        break;
      }
    }
  }
  return m;
}

std::string first_int_match(std::string_view prediction) {
  const auto runs = text::digit_runs(prediction);
  return runs.empty() ? std::string() : runs.front();
}

bool infinitebench_passkey(std::string_view prediction, std::string_view label) {
  return label == first_int_match(prediction);
}

bool infinitebench_kv_retrieval(std::string_view prediction, std::string_view label) {
  const auto words = text::split_whitespace(replace_chars(prediction, "\n:\"'.,?!{}"));
  return std::find(words.begin(), words.end(), label) != words.end();
}

double infinitebench_qa_f1(std::string_view prediction, const std::vector<std::string>& labels) {
  double best = 0;
  for (const std::string& l : labels) best = std::max(best, qa_f1_score(prediction, l));
  return best;
}

bool infinitebench_longdialogue(std::string_view prediction, const std::vector<std::string>& labels) {
  const std::string pred = text::ascii_upper(text::strip(prediction));
  for (const std::string& l : labels)
    if (text::contains(pred, text::ascii_upper(l))) return true;
  return false;
}

bool infinitebench_code_run(std::string_view prediction, std::string_view label) {
  const auto words = text::split_whitespace(replace_chars(text::strip(prediction), "\n.`'\":"));
  if (words.empty()) return false;
  // int(): optional sign, digits (underscores between digits are legal in Python; we ignore that form).
  const auto as_int = [](std::string_view w, long long& out) {
    std::size_t i = (w.size() > 0 && (w[0] == '+' || w[0] == '-')) ? 1 : 0;
    if (i == w.size()) return false;
    for (std::size_t k = i; k < w.size(); ++k)
      if (w[k] < '0' || w[k] > '9') return false;
    try {
      out = std::stoll(std::string(w));
    } catch (...) {
      return false;
    }
    return true;
  };
  long long pred = 0, want = 0;
  const std::string label_text = text::strip(label);
  return as_int(words.back(), pred) && as_int(label_text, want) && pred == want;
}

}  // namespace kvpress
