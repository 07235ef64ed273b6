// Press specification strings: the input text must parse or throw Error; a parsed spec prints back
// (to_string) to text that parses to the same spec. make_press must build or throw Error, and a
// built press's canonical name() must build a press with the same name (press.h's contract).
#include <string>

#include "core/error.h"
#include "fuzz_check.h"
#include "press/press_registry.h"
#include "press/press_spec.h"

namespace kvpress::fuzz {
namespace {

bool same_spec(const PressSpec& a, const PressSpec& b) {
  if (a.name != b.name || a.params != b.params || a.inner.size() != b.inner.size()) return false;
  for (size_t i = 0; i < a.inner.size(); ++i)
    if (!same_spec(a.inner[i], b.inner[i])) return false;
  return true;
}

void check_round_trip(const std::string& text) {
  PressSpec spec;
  try {
    spec = parse_press_spec(text);
  } catch (const Error& e) {
    require_error_message(e.what());
    return;
  }
  const std::string printed = to_string(spec);
  PressSpec back;
  try {
    back = parse_press_spec(printed);
  } catch (const Error& e) {
    violated("a printed spec parses", printed + " -> " + e.what());
  }
  require(same_spec(spec, back), "parse(to_string(spec)) == spec", printed);
  require(to_string(back) == printed, "to_string is canonical", printed);
}

void check_construction(const std::string& text) {
  std::unique_ptr<Press> press;
  try {
    press = make_press(text, 0.5);
  } catch (const Error& e) {
    require_error_message(e.what());
    return;
  }
  if (!press) return;
  const std::string name = press->name();
  std::unique_ptr<Press> again;
  try {
    again = make_press(name, 0.5);
  } catch (const Error& e) {
    violated("a press's name() builds a press", name + " -> " + e.what());
  }
  require(again != nullptr && again->name() == name, "make_press(press->name()) gives the same press", name);
  require(again->compression_ratio() == press->compression_ratio(), "the rebuilt press has the same ratio", name);
}

}  // namespace

void check_press_spec(Bytes input) {
  const std::string text(reinterpret_cast<const char*>(input.data()), input.size());
  check_round_trip(text);
  check_construction(text);
}

}  // namespace kvpress::fuzz
