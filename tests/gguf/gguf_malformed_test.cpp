// One test per kind of malformed GGUF file: each must raise Error "<name>: <problem>" naming the problem.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gguf/gguf_writer.h"
#include "gguf_test_util.h"

namespace kvpress::gguf {
namespace {

using namespace kvpress::gguf::test;

// Header field offsets: magic 0, version 4, n_tensors 8, n_kv 16, first key 24.
constexpr size_t kVersionAt = 4, kTensorCountAt = 8, kKvCountAt = 16, kFirstKeyAt = 24;

// A valid file with metadata and two F32 tensors "ta" (4 floats) and "tb" (8 floats).
Bytes valid_file() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint32("k.a", 1);
  w.set_uint32("k.b", 2);
  w.set_int32_array("k.arr", {1, 2, 3});
  w.add_tensor_f32("ta", {4}, {1, 2, 3, 4});
  w.add_tensor_f32("tb", {2, 4}, std::vector<float>(8, 0.5f));
  return w.to_bytes();
}

Bytes with_raw(ValueType type, const Bytes& payload) {
  GgufWriter w;
  w.set_raw("bad.key", type, payload);
  w.set_uint32("after", 1);
  return w.to_bytes();
}

TEST(GgufMalformed, ValidBaselineParses) {
  const auto f = GgufFile::parse(valid_file(), "ok.gguf");
  EXPECT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().size(), 4u);
}

TEST(GgufMalformed, BadMagic) {
  Bytes b = valid_file();
  b[0] = 'X';
  expect_parse_error(b, "bad magic 'XGUF'");
  expect_parse_error(Bytes{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, "magic '\\x7fELF'");
}

TEST(GgufMalformed, UnknownVersion) {
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    Bytes b = valid_file();
    patch<uint32_t>(b, kVersionAt, v);
    expect_parse_error(b, "unsupported GGUF version " + std::to_string(v));
  }
  Bytes big_endian = valid_file();
  patch<uint32_t>(big_endian, kVersionAt, 0x03000000u);
  expect_parse_error(big_endian, "big-endian");
}

TEST(GgufMalformed, EmptyInput) { expect_parse_error(Bytes{}, "empty file"); }

TEST(GgufMalformed, TruncatedHeader) {
  const Bytes b = valid_file();
  for (size_t n : {1, 3, 4, 7, 8, 15, 16, 23}) expect_parse_error(Bytes(b.begin(), b.begin() + n), "truncated");
}

TEST(GgufMalformed, TruncatedAnywhere) {
  // Every proper prefix of a file with tensors lacks something: it must throw, never crash.
  const Bytes b = valid_file();
  for (size_t n = 1; n < b.size(); ++n) EXPECT_THROW(GgufFile::parse(Bytes(b.begin(), b.begin() + n), "cut"), Error) << n;
  // Cut inside the metadata: the reader names the truncation.
  expect_parse_error(Bytes(b.begin(), b.begin() + after_string(b, "k.a") + 2), "truncated");
}

TEST(GgufMalformed, StringLengthPastEnd) {
  Bytes b = valid_file();
  patch<uint64_t>(b, kFirstKeyAt, 1000000);
  expect_parse_error(b, "string length 1000000 of key");
  expect_parse_error(b, "past the end of the file");
  Bytes value = valid_file();  // the length of the string value of general.architecture
  patch<uint64_t>(value, after_string(value, "general.architecture") + 4, ~0ull);
  expect_parse_error(value, "past the end of the file");
}

TEST(GgufMalformed, ArrayLengthPastEnd) {
  Bytes b = valid_file();
  const size_t count_at = after_string(b, "k.arr") + 4 + 4;  // value type, element type, count
  ASSERT_EQ(peek<uint64_t>(b, count_at), 3u);
  patch<uint64_t>(b, count_at, 1ull << 40);
  expect_parse_error(b, "array of 1099511627776 int32 elements: too large");
  patch<uint64_t>(b, count_at, ~0ull);
  expect_parse_error(b, "too large");
}

TEST(GgufMalformed, ArrayAboveTheElementLimit) {
  // 2^24 + 1 uint8 elements, all present in the file: rejected by the limit, not by the bytes left.
  const uint64_t n = (1ull << 24) + 1;
  Bytes payload(12 + n, 1);  // element type, count, elements
  patch<uint32_t>(payload, 0, static_cast<uint32_t>(ValueType::UINT8));
  patch<uint64_t>(payload, 4, n);
  expect_parse_error(with_raw(ValueType::ARRAY, payload), "is an array of 16777217 elements: too large, the limit is 16777216");
  payload.resize(payload.size() - 1);
  patch<uint64_t>(payload, 4, n - 1);
  EXPECT_EQ(GgufFile::parse(with_raw(ValueType::ARRAY, payload), "at-limit").get_int_array("bad.key").size(), n - 1);
}

TEST(GgufMalformed, AbsurdCounts) {
  Bytes tensors = valid_file();
  patch<uint64_t>(tensors, kTensorCountAt, 1ull << 50);
  expect_parse_error(tensors, "tensor count 1125899906842624 is too large");
  Bytes kv = valid_file();
  patch<uint64_t>(kv, kKvCountAt, ~0ull);
  expect_parse_error(kv, "metadata count 18446744073709551615 is too large");
}

TEST(GgufMalformed, DuplicateKey) {
  Bytes b = valid_file();
  b[after_string(b, "k.b") - 1] = 'a';  // "k.b" -> "k.a"
  expect_parse_error(b, "duplicate metadata key 'k.a'");
}

TEST(GgufMalformed, DuplicateTensorName) {
  Bytes b = valid_file();
  b[after_string(b, "tb") - 1] = 'a';  // "tb" -> "ta"
  expect_parse_error(b, "duplicate tensor name 'ta'");
}

TEST(GgufMalformed, EmptyKeyOrTensorName) {
  GgufWriter w;
  w.set_uint32("", 1);
  expect_parse_error(w.to_bytes(), "empty key");
  // A one-tensor file whose 1-byte name is removed and its length patched to 0.
  GgufWriter one;
  one.add_tensor_f32("t", {1}, {1.0f});
  Bytes t = one.to_bytes();
  const size_t name_at = after_string(t, "t") - 1 - 8;
  patch<uint64_t>(t, name_at, 0);
  t.erase(t.begin() + name_at + 8);  // drop the name byte
  expect_parse_error(t, "empty name");
}

TEST(GgufMalformed, InvalidValueTypeId) {
  expect_parse_error(with_raw(static_cast<ValueType>(13), {}), "'bad.key' has invalid value type id 13");
  expect_parse_error(with_raw(static_cast<ValueType>(0xffffffffu), {}), "invalid value type id");
  // Element type of an array.
  expect_parse_error(with_raw(ValueType::ARRAY, array_payload<uint8_t>(static_cast<ValueType>(99), {})),
                     "invalid value type id 99");
}

TEST(GgufMalformed, InvalidBool) { expect_parse_error(with_raw(ValueType::BOOL, {2}), "invalid bool value 2"); }

Bytes nested_arrays(int depth) {
  Bytes inner = array_payload<uint8_t>(ValueType::UINT8, {1, 2});
  for (int d = 1; d < depth; ++d) {
    Bytes outer;
    append<uint32_t>(outer, static_cast<uint32_t>(ValueType::ARRAY));
    append<uint64_t>(outer, 1);
    outer.insert(outer.end(), inner.begin(), inner.end());
    inner = std::move(outer);
  }
  return inner;
}

TEST(GgufMalformed, NestedArraysTooDeep) {
  EXPECT_NO_THROW(GgufFile::parse(with_raw(ValueType::ARRAY, nested_arrays(4)), "deep4"));
  expect_parse_error(with_raw(ValueType::ARRAY, nested_arrays(5)), "nested arrays too deep");
  expect_parse_error(with_raw(ValueType::ARRAY, nested_arrays(100)), "nested arrays too deep");
}

TEST(GgufMalformed, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u, 0x80000000u}) {
    GgufWriter w;
    w.set_uint32("general.alignment", a);
    expect_parse_error(w.to_bytes(), "invalid general.alignment " + std::to_string(a));
  }
  GgufWriter negative;
  negative.set_int32("general.alignment", -32);
  expect_parse_error(negative.to_bytes(), "invalid general.alignment -32");
  GgufWriter text;
  text.set_string("general.alignment", "32");
  expect_parse_error(text.to_bytes(), "general.alignment has type string");
}

TEST(GgufMalformed, TensorDimensionCount) {
  for (uint32_t n_dims : {0u, 5u, 1000u}) {
    Bytes b = valid_file();
    patch<uint32_t>(b, tensor_fields(b, "ta").n_dims, n_dims);
    expect_parse_error(b, "tensor 'ta' has n_dims = " + std::to_string(n_dims) + ", expected 1 to 4");
  }
}

TEST(GgufMalformed, NonPositiveDimension) {
  for (int64_t d : {0ll, -1ll, -(1ll << 62)}) {
    Bytes b = valid_file();
    patch<int64_t>(b, tensor_fields(b, "tb").ne + 8, d);
    expect_parse_error(b, "tensor 'tb' has dimension ne[1] = " + std::to_string(d));
  }
}

TEST(GgufMalformed, ElementCountOverflow) {
  Bytes b = valid_file();
  const auto f = tensor_fields(b, "tb");
  patch<int64_t>(b, f.ne, 1ll << 40);
  patch<int64_t>(b, f.ne + 8, 1ll << 40);
  expect_parse_error(b, "tensor 'tb' element count overflows");
  // Elements fit int64 but bytes do not (F32: 4 bytes each).
  patch<int64_t>(b, f.ne, 1ll << 61);
  patch<int64_t>(b, f.ne + 8, 2);
  expect_parse_error(b, "tensor 'tb' byte size overflows");
}

TEST(GgufMalformed, AbsurdDimensionPointsOutsideTheFile) {
  Bytes b = valid_file();
  patch<int64_t>(b, tensor_fields(b, "tb").ne + 8, 1ll << 40);
  expect_parse_error(b, "outside the file");
}

TEST(GgufMalformed, UnknownTensorType) {
  for (uint32_t type : {4u, 5u, 16u, 29u, 31u, 0xffffffffu}) {  // 4, 5: removed Q4_2/Q4_3
    Bytes b = valid_file();
    patch<uint32_t>(b, tensor_fields(b, "ta").type, type);
    expect_parse_error(b, "tensor 'ta' has unknown or unsupported tensor type id " + std::to_string(type));
  }
}

TEST(GgufMalformed, RowNotAMultipleOfTheBlockSize) {
  GgufWriter w;
  w.add_tensor("q", {32, 1}, GgmlType::Q8_0, Bytes(34));
  Bytes b = w.to_bytes();
  patch<int64_t>(b, tensor_fields(b, "q").ne, 48);
  expect_parse_error(b, "tensor 'q' has ne[0] = 48, not a multiple of the block size 32 of Q8_0");
}

TEST(GgufMalformed, TensorDataOutsideTheFile) {
  Bytes b = valid_file();
  patch<uint64_t>(b, tensor_fields(b, "tb").offset, 1ull << 20);
  expect_parse_error(b, "tensor 'tb' data (32 bytes at data offset 1048576) lies outside the file");
  Bytes huge = valid_file();
  patch<uint64_t>(huge, tensor_fields(huge, "tb").offset, ~0ull - 31);  // aligned, near 2^64: no wrap-around
  expect_parse_error(huge, "outside the file");
  Bytes short_data = valid_file();
  short_data.resize(short_data.size() - 4);
  expect_parse_error(short_data, "tensor 'tb' data");
}

TEST(GgufMalformed, TensorOffsetNotAligned) {
  Bytes b = valid_file();
  patch<uint64_t>(b, tensor_fields(b, "tb").offset, 4);
  expect_parse_error(b, "tensor 'tb' data offset 4 is not aligned to 32 bytes");
}

TEST(GgufMalformed, OverlappingTensors) {
  Bytes b = valid_file();
  patch<uint64_t>(b, tensor_fields(b, "tb").offset, 0);
  expect_parse_error(b, "tensors 'ta' and 'tb' overlap");
  // Partial overlap with alignment 1: "tb" starts 4 bytes into "ta" (16 bytes long).
  GgufWriter w;
  w.set_alignment(1);
  w.add_tensor_f32("ta", {4}, {1, 2, 3, 4});
  w.add_tensor_f32("tb", {1}, {5});
  Bytes p = w.to_bytes();
  patch<uint64_t>(p, tensor_fields(p, "tb").offset, 12);
  expect_parse_error(p, "overlap");
  patch<uint64_t>(p, tensor_fields(p, "tb").offset, 16);  // adjacent is fine
  EXPECT_NO_THROW(GgufFile::parse(p, "adjacent"));
}

TEST(GgufMalformed, NamesInMessagesAreEscapedAndShortened) {
  GgufWriter w;
  w.set_raw("line\nbreak", static_cast<ValueType>(77), {});
  expect_parse_error(w.to_bytes(), "metadata key 'line\\x0abreak' has invalid value type id 77");
  GgufWriter t;
  const std::string long_name(5000, 'n');
  t.add_tensor_f32(long_name, {1}, {1.0f});
  Bytes b = t.to_bytes();
  patch<uint32_t>(b, tensor_fields(b, long_name).n_dims, 9);
  expect_parse_error(b, "tensor '" + std::string(80, 'n') + "...' has n_dims = 9");
  try {
    GgufFile::parse(b, "long");
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 200u);
  }
}

TEST(GgufMalformed, MissingFileDirectoryAndEmptyFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("kvpress-gguf-open-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto message = [](const std::string& path) {
    try {
      GgufFile::open(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string missing = (dir / "missing.gguf").string();
  EXPECT_THAT(message(missing), ::testing::StartsWith(missing + ": cannot open file"));
  EXPECT_THAT(message(dir.string()), ::testing::HasSubstr("is a directory"));
  const std::string empty = (dir / "empty.gguf").string();
  std::ofstream(empty).flush();
  EXPECT_EQ(message(empty), empty + ": empty file, expected a GGUF file");
  const std::string text = (dir / "text.gguf").string();
  std::ofstream(text) << "hello world";
  EXPECT_THAT(message(text), ::testing::HasSubstr("bad magic 'hell'"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kvpress::gguf
