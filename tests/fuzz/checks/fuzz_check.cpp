// Reporting helpers shared by the checks.
#include "fuzz_check.h"

#include <cstdio>
#include <cstdlib>

namespace kvpress::fuzz {

void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz property violated: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

void require_error_message(const std::string& message) {
  require(!message.empty(), "an Error message is not empty");
  require(message.find('\n') == std::string::npos, "an Error message is one line", message);
  require(message.rfind("internal error", 0) != 0, "input never trips an internal check", message);
}

}  // namespace kvpress::fuzz
