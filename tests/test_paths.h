// Where tests find shared reference material; tests that need it skip visibly when it is absent.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace kvpress::testing {

inline std::filesystem::path shared_dir() { return KVPRESS_SHARED_DIR; }
inline std::filesystem::path source_dir() { return KVPRESS_SOURCE_DIR; }

}  // namespace kvpress::testing

// Skips the current test with a visible notice when a shared folder is missing (a user's fresh clone).
#define KVPRESS_REQUIRE_SHARED(sub)                                                          \
  do {                                                                                       \
    if (!std::filesystem::exists(::kvpress::testing::shared_dir() / (sub)))                 \
      GTEST_SKIP() << "shared material not found: " << (::kvpress::testing::shared_dir() / (sub)) \
                   << " (tests against ../shared/ are skipped)";                             \
  } while (0)
