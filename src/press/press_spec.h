// Press specification strings: parsing into a tree and printing back.
//   spec := name [ "(" spec ("," spec)* ")" ] [ ":" key=value ("," key=value)* ]
// Inside parentheses, a "," followed by `word=` continues the parameters of the current press,
// otherwise it starts the next inner press: "composed(knorm,streaming_llm:n_sink=8,snapkv)".
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace kvpress {

struct PressSpec {
  std::string name;
  std::vector<PressSpec> inner;
  std::vector<std::pair<std::string, std::string>> params;  // in the given order, keys unique
};

// Throws Error naming the text, the character position and what was expected.
PressSpec parse_press_spec(const std::string& text);

// The canonical text of a spec (no spaces); parse_press_spec(to_string(s)) == s.
std::string to_string(const PressSpec& spec);

}  // namespace kvpress
