// A small recursive-descent parser for press specification strings (grammar in press_spec.h).
#include "press/press_spec.h"

#include <cctype>

#include "core/error.h"

namespace kvpress {
namespace {

// Deeper nesting is refused before recursing (a long "a(a(a(..." would otherwise overflow the stack);
// the registry builds no more levels either.
constexpr int kMaxNesting = 16;

bool is_name_char(char c) { return std::isalnum((unsigned char)c) || c == '_'; }
bool is_value_char(char c) {
  return !std::isspace((unsigned char)c) && c != ',' && c != '(' && c != ')' && c != ':' && c != '=';
}

class SpecParser {
 public:
  explicit SpecParser(const std::string& text) : text_(text) {}

  PressSpec parse() {
    skip_space();
    if (at_end()) fail("empty press specification (expected a press name such as 'snapkv')");
    PressSpec spec = parse_spec(0);
    skip_space();
    if (!at_end()) error("unexpected '" + one_line(text_.substr(pos_, 1)) + "'");
    return spec;
  }

 private:
  PressSpec parse_spec(int depth) {
    PressSpec spec;
    spec.name = parse_name("a press name");
    skip_space();
    if (peek('(')) {
      if (depth >= kMaxNesting) error("press specification nests more than " + std::to_string(kMaxNesting) + " levels");
      ++pos_;
      while (true) {
        skip_space();
        spec.inner.push_back(parse_spec(depth + 1));
        skip_space();
        if (peek(',')) {
          ++pos_;
          continue;
        }
        if (peek(')')) {
          ++pos_;
          break;
        }
        error(at_end() ? "missing ')'" : "expected ',' or ')'");
      }
      skip_space();
    }
    if (peek(':')) {
      ++pos_;
      while (true) {
        skip_space();
        const std::string key = parse_name("a parameter name");
        skip_space();
        if (!peek('=')) error("expected '=' after parameter '" + key + "'");
        ++pos_;
        skip_space();
        const size_t start = pos_;
        while (!at_end() && is_value_char(text_[pos_])) ++pos_;
        if (pos_ == start) error("expected a value for parameter '" + key + "'");
        for (const auto& kv : spec.params)
          if (kv.first == key) error("parameter '" + key + "' is given twice");
        spec.params.emplace_back(key, text_.substr(start, pos_ - start));
        skip_space();
        // At the top level every ',' continues the parameters; inside parentheses only `, word=` does.
        if (peek(',') && (depth == 0 || next_is_parameter())) {
          ++pos_;
          continue;
        }
        break;
      }
    }
    return spec;
  }

  // After a ',' at pos_: is the next item `name =` (a parameter) rather than a press?
  bool next_is_parameter() const {
    size_t p = pos_ + 1;
    while (p < text_.size() && std::isspace((unsigned char)text_[p])) ++p;
    const size_t start = p;
    while (p < text_.size() && is_name_char(text_[p])) ++p;
    if (p == start) return false;
    while (p < text_.size() && std::isspace((unsigned char)text_[p])) ++p;
    return p < text_.size() && text_[p] == '=';
  }

  std::string parse_name(const char* what) {
    const size_t start = pos_;
    while (!at_end() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start) error(std::string("expected ") + what + (at_end() ? "" : ", found '" + one_line(text_.substr(pos_, 1)) + "'"));
    return text_.substr(start, pos_ - start);
  }

  [[noreturn]] void error(const std::string& what) const {
    fail("press specification '", one_line(text_), "': ", what, " at position ", pos_ + 1);
  }
  void skip_space() {
    while (!at_end() && std::isspace((unsigned char)text_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  bool peek(char c) const { return !at_end() && text_[pos_] == c; }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

PressSpec parse_press_spec(const std::string& text) { return SpecParser(text).parse(); }

std::string to_string(const PressSpec& spec) {
  std::string s = spec.name;
  if (!spec.inner.empty()) {
    s += "(";
    for (size_t i = 0; i < spec.inner.size(); ++i) s.append(i ? "," : "").append(to_string(spec.inner[i]));
    s += ")";
  }
  for (size_t i = 0; i < spec.params.size(); ++i)
    s.append(i ? "," : ":").append(spec.params[i].first).append("=").append(spec.params[i].second);
  return s;
}

}  // namespace kvpress
