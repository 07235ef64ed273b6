// Error helpers.
#include "core/error.h"

namespace kvpress {

void check_failed(const char* expr, const char* file, int line) {
  throw Error(std::string("internal error: check failed: ") + expr + " at " + file + ":" + std::to_string(line));
}

}  // namespace kvpress
