// A strict, small XML 1.0 well-formedness checker for the SVG files the eval writes: one root element,
// properly nested and closed tags, quoted unique attributes, only the five predefined entities or
// numeric character references, no '<' or stray '&' in text. Returns the elements found for inspection.
#pragma once
#include <cctype>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;  // values with entities resolved
  std::string text;                               // direct text content, entities resolved
  int depth = 0;
};

class XmlChecker {
 public:
  // Throws std::runtime_error with the byte offset on the first violation.
  static std::vector<XmlElement> parse(std::string_view doc) {
    XmlChecker c(doc);
    c.document();
    return c.elements_;
  }

 private:
  explicit XmlChecker(std::string_view d) : s_(d) {}

  [[noreturn]] void error(const std::string& what) const {
    throw std::runtime_error("XML error at byte " + std::to_string(i_) + ": " + what);
  }
  bool starts(std::string_view t) const { return s_.substr(i_, t.size()) == t; }
  void expect(std::string_view t) {
    if (!starts(t)) error("expected '" + std::string(t) + "'");
    i_ += t.size();
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  static bool name_start(char c) { return std::isalpha((unsigned char)c) || c == '_' || c == ':' || (unsigned char)c >= 0x80; }
  static bool name_char(char c) { return name_start(c) || std::isdigit((unsigned char)c) || c == '-' || c == '.'; }
  std::string name() {
    if (i_ >= s_.size() || !name_start(s_[i_])) error("expected a name");
    const size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    return std::string(s_.substr(b, i_ - b));
  }
  // Resolves one reference starting at '&'.
  std::string reference() {
    expect("&");
    const size_t semi = s_.find(';', i_);
    if (semi == std::string_view::npos || semi - i_ > 10) error("unterminated entity reference");
    const std::string ent(s_.substr(i_, semi - i_));
    i_ = semi + 1;
    static const std::map<std::string, std::string> kEntities = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    if (auto it = kEntities.find(ent); it != kEntities.end()) return it->second;
    if (ent.size() > 1 && ent[0] == '#') {
      const bool hex = ent[1] == 'x';
      const std::string digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) error("empty character reference");
      for (char c : digits)
        if (!(hex ? std::isxdigit((unsigned char)c) : std::isdigit((unsigned char)c))) error("bad character reference");
      return "?";
    }
    error("undefined entity '&" + ent + ";'");
  }
  void misc() {  // comments, processing instructions and space between markup outside the root
    for (;;) {
      skip_space();
      if (starts("<!--")) {
        const size_t e = s_.find("-->", i_ + 4);
        if (e == std::string_view::npos) error("unterminated comment");
        i_ = e + 3;
      } else if (starts("<?")) {
        const size_t e = s_.find("?>", i_ + 2);
        if (e == std::string_view::npos) error("unterminated processing instruction");
        i_ = e + 2;
      } else {
        return;
      }
    }
  }
  void document() {
    if (starts("<?xml")) {
      const size_t e = s_.find("?>");
      if (e == std::string_view::npos) error("unterminated XML declaration");
      i_ = e + 2;
    }
    misc();
    if (!starts("<")) error("expected the root element");
    element(0);
    misc();
    if (i_ != s_.size()) error("content after the root element");
  }
  void element(int depth) {
    expect("<");
    XmlElement el;
    el.name = name();
    el.depth = depth;
    for (;;) {
      const size_t before = i_;
      skip_space();
      if (starts("/>") || starts(">")) break;
      if (i_ == before) error("expected space before an attribute");
      const std::string key = name();
      skip_space();
      expect("=");
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) error("attribute value must be quoted");
      const char q = s_[i_++];
      std::string value;
      while (i_ < s_.size() && s_[i_] != q) {
        if (s_[i_] == '<') error("'<' in an attribute value");
        if (s_[i_] == '&') value += reference();
        else value += s_[i_++];
      }
      expect(std::string(1, q));
      if (!el.attributes.emplace(key, value).second) error("duplicate attribute '" + key + "'");
    }
    const size_t index = elements_.size();
    elements_.push_back(el);
    if (starts("/>")) {
      i_ += 2;
      return;
    }
    expect(">");
    for (;;) {
      if (i_ >= s_.size()) error("unclosed element <" + el.name + ">");
      if (starts("</")) {
        i_ += 2;
        if (name() != el.name) error("mismatched closing tag for <" + el.name + ">");
        skip_space();
        expect(">");
        return;
      }
      if (starts("<!--")) {
        const size_t e = s_.find("-->", i_ + 4);
        if (e == std::string_view::npos) error("unterminated comment");
        i_ = e + 3;
      } else if (starts("<![CDATA[")) {
        const size_t e = s_.find("]]>", i_);
        if (e == std::string_view::npos) error("unterminated CDATA");
        elements_[index].text += std::string(s_.substr(i_ + 9, e - i_ - 9));
        i_ = e + 3;
      } else if (starts("<")) {
        element(depth + 1);
      } else if (starts("&")) {
        elements_[index].text += reference();
      } else {
        if (starts("]]>")) error("']]>' in text");
        elements_[index].text += s_[i_++];
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::vector<XmlElement> elements_;
};

}  // namespace kvpress::testing
