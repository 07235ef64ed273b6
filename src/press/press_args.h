// What the registry hands a press factory: the parsed key=value parameters and inner presses.
// A factory asks for every parameter it understands (with its default); the registry then rejects
// keys nobody asked for, so each press declares its parameters in exactly one place.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "press/press.h"

namespace kvpress {

class PressArgs {
 public:
  using KeyValues = std::vector<std::pair<std::string, std::string>>;

  // describing: the registry only wants the parameter list and defaults; factories return nullptr
  // right after reading their parameters and calling take_inner().
  PressArgs(std::string press_name, KeyValues values, std::vector<std::unique_ptr<Press>> inner, bool describing);

  const std::string& press_name() const { return press_name_; }
  bool describing() const { return describing_; }

  // Typed parameters; a given value outside [min, max] or not of the type throws Error.
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double real(const std::string& key, double fallback, double min, double max);
  bool boolean(const std::string& key, bool fallback);  // true/false/1/0
  std::optional<uint64_t> optional_unsigned(const std::string& key);  // absent or "none" -> nullopt
  std::optional<double> optional_real(const std::string& key, double min, double max);  // absent or "none" -> nullopt
  // A list of numbers in [min, max] separated by ';' (e.g. compression_ratios=0.1;0.5;0.9); absent or
  // "none" -> empty.
  std::vector<double> real_list(const std::string& key, double min, double max);
  // Enum-like text parameter: one of `options` (e.g. CUR's leverage_type=kv_product).
  std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& options);
  // A text value as given (e.g. a file path; the grammar allows no spaces, ',', '(', ')', ':' or '=').
  std::string text(const std::string& key, const std::string& fallback);

  // Declares the press a wrapper taking between min_count and max_count inner presses (checked).
  std::vector<std::unique_ptr<Press>> take_inner(size_t min_count, size_t max_count);

  // Throws when a given key was never asked for, or inner presses were given to a non-wrapper.
  void check_complete() const;

  bool is_wrapper() const { return takes_inner_; }
  // Whether the factory asked for `key` (after it ran).
  bool declared(const std::string& key) const;
  // "window_size=64, kernel_size=5" (the defaults), or "" for none.
  std::string parameter_summary() const;

 private:
  const std::string* find(const std::string& key);
  [[noreturn]] void bad_value(const std::string& key, const std::string& value, const std::string& expected) const;

  std::string press_name_;
  KeyValues values_;
  std::vector<std::unique_ptr<Press>> inner_;
  bool describing_;
  bool takes_inner_ = false;
  KeyValues known_;  // key -> default text, in the order asked
};

// A factory per press class, specialised in presses/<name>.cpp and listed in press_list.inc.
template <class P>
std::unique_ptr<Press> create_press(PressArgs& args);

}  // namespace kvpress
