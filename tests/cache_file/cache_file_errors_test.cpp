// Damaged and mismatched cache files: each gives one clear Error line naming the problem, never a crash.
// Offsets follow the layout of docs/kv-cache-file.md.
#include <gtest/gtest.h>

#include <cstring>

#include "cache_file/cache_file.h"
#include "cache_file_test_util.h"
#include "tiny_model.h"

namespace kvpress {
namespace {

using testing::Scratch;

constexpr size_t kVersionAt = 8, kFileBytesAt = 12, kArchAt = 20;

class CacheFileErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = new Engine(Engine::load(testing::shipped_model(), {2}));
    dir_ = new Scratch("cache_errors");
    Session s = Session::from_text(*engine_, testing::needle_context(), presses::knorm(0.5));
    s.save(*dir_ / "good.kvc");
    good_ = new std::vector<uint8_t>(testing::read_bytes(*dir_ / "good.kvc"));
  }
  static void TearDownTestSuite() {
    delete good_;
    delete dir_;
    delete engine_;
  }

  // Loads `bytes` from a file and returns the Error's message ("" when it loads).
  static std::string load_error(const std::vector<uint8_t>& bytes, const Engine& engine = *engine_) {
    const std::string path = *dir_ / "case.kvc";
    testing::write_bytes(path, bytes);
    try {
      Session::load(engine, path);
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
      EXPECT_EQ(m.rfind(path, 0), 0u) << "names the file: " << m;
      return m;
    }
    return "";
  }
  // An edit with the checksum recomputed, so the field's own check is what answers.
  static std::vector<uint8_t> resealed(std::vector<uint8_t> bytes) {
    const uint64_t sum = cache_file_checksum(std::span(bytes).first(bytes.size() - 8));
    std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
    return bytes;
  }
  // Offset of the first KV type code: after the arch text, 6 shapes, 2 fingerprints, the press text
  // and the ratio.
  static size_t kv_type_at() { return kArchAt + 4 + std::strlen("llama") + 6 * 8 + 2 * 8 + 4 + std::strlen("knorm") + 8; }

  static Engine* engine_;
  static Scratch* dir_;
  static std::vector<uint8_t>* good_;
};
Engine* CacheFileErrors::engine_ = nullptr;
Scratch* CacheFileErrors::dir_ = nullptr;
std::vector<uint8_t>* CacheFileErrors::good_ = nullptr;

#define EXPECT_MESSAGE(bytes, text)                                             \
  do {                                                                           \
    const std::string m = load_error(bytes);                                     \
    EXPECT_NE(m.find(text), std::string::npos) << "expected '" << text << "' in: " << m; \
  } while (0)

TEST_F(CacheFileErrors, TheGoodFileLoadsAndItsLayoutIsTheDocumentedOne) {
  EXPECT_EQ(load_error(*good_), "");
  EXPECT_EQ(std::memcmp(good_->data(), "KVPCACHE", 8), 0);
  EXPECT_EQ((*good_)[kv_type_at()], (uint8_t)KvType::F16);
  uint64_t file_bytes;
  std::memcpy(&file_bytes, good_->data() + kFileBytesAt, 8);
  EXPECT_EQ(file_bytes, good_->size());
}

TEST_F(CacheFileErrors, TruncatedFilesSayTruncated) {
  const size_t n = good_->size();
  EXPECT_MESSAGE(std::vector<uint8_t>{}, "empty file, expected a kvpress cache file");
  for (size_t keep : {size_t{3}, size_t{8}, size_t{12}, size_t{27}, size_t{28}, size_t{100}, n / 2, n - 8, n - 1}) {
    SCOPED_TRACE(keep);
    EXPECT_MESSAGE(std::vector<uint8_t>(good_->begin(), good_->begin() + keep), "truncated cache file");
  }
  std::vector<uint8_t> longer = *good_;
  longer.push_back(0);
  EXPECT_MESSAGE(longer, "trailing data");
}

TEST_F(CacheFileErrors, FlippedBytesAreNamedByWhatTheyHit) {
  auto flipped = [&](size_t at, uint8_t mask = 0x01) {
    std::vector<uint8_t> b = *good_;
    b[at] ^= mask;
    return b;
  };
  EXPECT_MESSAGE(flipped(0), "not a kvpress cache file");
  EXPECT_MESSAGE(flipped(kVersionAt), "format version 0, this build reads version 1");
  EXPECT_MESSAGE(flipped(kFileBytesAt + 7, 0x40), "truncated cache file: the header records");
  const size_t n = good_->size();
  for (size_t at : {kArchAt, kArchAt + 5, kv_type_at(), n / 2, n - 100, n - 9, n - 1}) {
    SCOPED_TRACE(at);
    EXPECT_MESSAGE(flipped(at), "corrupted cache file: checksum mismatch");
  }
}

TEST_F(CacheFileErrors, AnotherFormatVersionIsRefusedBeforeAnythingElse) {
  std::vector<uint8_t> b = *good_;
  b[kVersionAt] = 2;
  EXPECT_MESSAGE(b, "cache file format version 2, this build reads version 1");
  b[kFileBytesAt] ^= 0xff;  // whatever else a future version changed
  EXPECT_MESSAGE(b, "format version 2");
}

TEST_F(CacheFileErrors, ResealedMalformedFieldsAreNamed) {
  std::vector<uint8_t> b = *good_;
  b[kv_type_at()] = 9;
  EXPECT_MESSAGE(resealed(b), "kv_type_k code 9");
  b = *good_;
  b[kv_type_at() + 2] = 7;  // the text-mode flag
  EXPECT_MESSAGE(resealed(b), "text mode flag 7");
  b = *good_;
  b[kArchAt + 4 + 5] ^= 0x01;  // n_layers
  EXPECT_MESSAGE(resealed(b), "made for another model: n_layers 5 in the file, 4 in");
  b = *good_;
  b[kArchAt + 4 + 2] = '\n';  // file text in a message stays on one line (a fuzz finding)
  EXPECT_MESSAGE(resealed(b), "architecture 'll\\nma' in the file, 'llama' in");
  b = *good_;
  b[kArchAt] = 200;  // the arch text claims 200 bytes: the fields after it are misread, and a check says so
  EXPECT_NE(load_error(resealed(b)), "");
  b = *good_;
  b[b.size() - 9] ^= 0x80;  // inside the last head's value rows: decodes, answers differ, no crash
  EXPECT_EQ(load_error(resealed(b)), "");
}

TEST_F(CacheFileErrors, ACacheOfAnotherModelIsRefused) {
  Scratch models("cache_other_models");
  testing::TinyModelSpec spec;
  spec.head_dim = 32;
  testing::write_tiny_model(spec, models / "a.gguf");
  spec.seed = 2;  // the same shapes and vocabulary, other weights
  testing::write_tiny_model(spec, models / "b.gguf");
  const Engine a = Engine::load(models / "a.gguf", {1}), b = Engine::load(models / "b.gguf", {1});

  const std::string m = load_error(*good_, a);
  EXPECT_NE(m.find("the cache was made for another model: n_layers 4 in the file, 2 in"), std::string::npos) << m;
  Session on_a = Session::from_tokens(a, testing::tiny_token_ids(20, 3), presses::knorm(0.5));
  on_a.save(models / "a.kvc");
  EXPECT_NO_THROW(Session::load(a, models / "a.kvc"));
  try {
    Session::load(b, models / "a.kvc");
    FAIL() << "loaded a cache of other weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("same shapes but other weights or metadata (model fingerprint"),
              std::string::npos) << e.what();
  }
}

TEST_F(CacheFileErrors, AFolderOrAMissingFileIsNamed) {
  try {
    Session::load(*engine_, dir_->path().string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory, expected a kvpress cache file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Session::load(*engine_, *dir_ / "absent.kvc"), Error);
}

}  // namespace
}  // namespace kvpress
