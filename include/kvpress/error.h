// Public API: the one exception type of the library.
#pragma once
#include <stdexcept>
#include <string>

namespace kvpress {

// Every failure caused by input (files, options, text, press specifications) is reported as an Error
// whose message is one line naming the item and what was expected versus found.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kvpress
