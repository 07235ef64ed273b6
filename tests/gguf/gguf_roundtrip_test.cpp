// GgufWriter -> GgufFile round trips: every metadata type, several tensor types, layout and typed getters.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "gguf/gguf_writer.h"
#include "gguf/mapped_file.h"
#include "gguf_test_util.h"

namespace kvpress::gguf {
namespace {

using namespace kvpress::gguf::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A unique scratch folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("kvpress-gguf-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

Bytes pattern(size_t n, uint8_t seed) {
  Bytes v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(seed * 31 + k * 7);
  return v;
}

TEST(GgufWriter, ExactBytesOfATinyFile) {
  // Hand-encoded: magic, version 3, 0 tensors, 1 kv; key "a" (8-byte length + 1 byte), type uint32 (4),
  // value 7 (4) = 41 bytes, zero-padded to the default alignment of 32 -> 64 bytes.
  GgufWriter w;
  w.set_uint32("a", 7);
  Bytes expected = {'G', 'G', 'U', 'F'};
  append<uint32_t>(expected, 3);
  append<uint64_t>(expected, 0);
  append<uint64_t>(expected, 1);
  append_string(expected, "a");
  append<uint32_t>(expected, 4);
  append<uint32_t>(expected, 7);
  expected.resize(64, 0);
  EXPECT_EQ(w.to_bytes(), expected);
}

TEST(GgufWriter, KeysInInsertionOrderAndResetKeepsPosition) {
  GgufWriter w;
  w.set_uint32("zeta", 1);
  w.set_string("alpha", "x");
  w.set_bool("mid", false);
  w.set_uint32("zeta", 2);  // replaces, stays first
  const Bytes b = w.to_bytes();
  EXPECT_EQ(peek<uint64_t>(b, 16), 3u);  // three entries, not four
  const size_t z = after_string(b, "zeta"), a = after_string(b, "alpha"), m = after_string(b, "mid");
  ASSERT_GT(z, 0u);
  EXPECT_LT(z, a);
  EXPECT_LT(a, m);
  EXPECT_EQ(GgufFile::parse(b, "order").get_uint("zeta"), 2u);
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.set_uint8("u8", 200);
  w.set_int8("i8", -100);
  w.set_uint16("u16", 60000);
  w.set_int16("i16", -30000);
  w.set_uint32("u32", 4000000000u);
  w.set_int32("i32", -2000000000);
  w.set_uint64("u64", 18000000000000000000ull);
  w.set_int64("i64", -9000000000000000000ll);
  w.set_float32("f32", 1.5f);
  w.set_float64("f64", -2.25e300);
  w.set_bool("yes", true);
  w.set_bool("no", false);
  w.set_string("s", std::string("hi\0there", 8));
  w.set_string("empty", "");
  const auto f = GgufFile::parse(w.to_bytes(), "scalars");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 14u);
  EXPECT_EQ(f.find("u8")->type, ValueType::UINT8);
  EXPECT_EQ(f.get_uint("u8"), 200u);
  EXPECT_EQ(f.get_int("i8"), -100);
  EXPECT_EQ(f.get_uint("u16"), 60000u);
  EXPECT_EQ(f.get_int("i16"), -30000);
  EXPECT_EQ(f.get_uint("u32"), 4000000000u);
  EXPECT_EQ(f.get_int("u32"), 4000000000ll);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.get_uint("u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("f32"), 1.5);
  EXPECT_EQ(f.get_float("f64"), -2.25e300);
  EXPECT_EQ(f.get_float("i16"), -30000.0);  // integers read as floats
  EXPECT_TRUE(f.get_bool("yes"));
  EXPECT_FALSE(f.get_bool("no"));
  EXPECT_EQ(f.get_string("s"), std::string("hi\0there", 8));
  EXPECT_EQ(f.get_string("empty"), "");
  EXPECT_TRUE(f.find("f32")->is_float());
  EXPECT_TRUE(f.find("u64")->is_integer());
  EXPECT_FALSE(f.find("yes")->is_integer());
  EXPECT_EQ(std::string(value_type_name(ValueType::FLOAT64)), "float64");
}

TEST(GgufRoundTrip, EveryArrayType) {
  GgufWriter w;
  w.set_string_array("strings", {"<s>", "", "\xe2\x96\x81the"});
  w.set_int32_array("i32s", {1, -2, 2147483647});
  w.set_float32_array("f32s", {0.25f, -8.0f});
  w.set_raw("u8s", ValueType::ARRAY, array_payload<uint8_t>(ValueType::UINT8, {0, 255}));
  w.set_raw("i8s", ValueType::ARRAY, array_payload<int8_t>(ValueType::INT8, {-128, 127}));
  w.set_raw("u16s", ValueType::ARRAY, array_payload<uint16_t>(ValueType::UINT16, {65535}));
  w.set_raw("i16s", ValueType::ARRAY, array_payload<int16_t>(ValueType::INT16, {-32768}));
  w.set_raw("u32s", ValueType::ARRAY, array_payload<uint32_t>(ValueType::UINT32, {4294967295u}));
  w.set_raw("u64s", ValueType::ARRAY, array_payload<uint64_t>(ValueType::UINT64, {5, 1ull << 63}));
  w.set_raw("i64s", ValueType::ARRAY, array_payload<int64_t>(ValueType::INT64, {-(1ll << 62)}));
  w.set_raw("f64s", ValueType::ARRAY, array_payload<double>(ValueType::FLOAT64, {1e-300, 3.5}));
  w.set_raw("bools", ValueType::ARRAY, array_payload<uint8_t>(ValueType::BOOL, {1, 0, 1}));
  w.set_raw("none", ValueType::ARRAY, array_payload<uint32_t>(ValueType::UINT32, {}));
  Bytes nested;  // [[1, 2], []] of uint16, kept as an array of 2 arrays without elements
  append<uint32_t>(nested, static_cast<uint32_t>(ValueType::ARRAY));
  append<uint64_t>(nested, 2);
  const Bytes inner = array_payload<uint16_t>(ValueType::UINT16, {1, 2});
  nested.insert(nested.end(), inner.begin(), inner.end());
  const Bytes empty = array_payload<uint16_t>(ValueType::UINT16, {});
  nested.insert(nested.end(), empty.begin(), empty.end());
  w.set_raw("nested", ValueType::ARRAY, nested);
  w.set_uint32("after", 99);  // parsing continues correctly after the nested array

  const auto f = GgufFile::parse(w.to_bytes(), "arrays");
  EXPECT_THAT(f.get_string_array("strings"), ElementsAre("<s>", "", "\xe2\x96\x81the"));
  EXPECT_THAT(f.get_int_array("i32s"), ElementsAre(1, -2, 2147483647));
  EXPECT_THAT(f.get_float_array("f32s"), ElementsAre(0.25, -8.0));
  EXPECT_THAT(f.get_int_array("u8s"), ElementsAre(0, 255));
  EXPECT_THAT(f.get_int_array("i8s"), ElementsAre(-128, 127));
  EXPECT_THAT(f.get_int_array("u16s"), ElementsAre(65535));
  EXPECT_THAT(f.get_int_array("i16s"), ElementsAre(-32768));
  EXPECT_THAT(f.get_int_array("u32s"), ElementsAre(4294967295ll));
  EXPECT_THAT(f.get_int_array("u64s"), ElementsAre(5, std::numeric_limits<int64_t>::min()));  // bit pattern kept
  EXPECT_THAT(f.get_int_array("i64s"), ElementsAre(-(1ll << 62)));
  EXPECT_THAT(f.get_float_array("f64s"), ElementsAre(1e-300, 3.5));
  EXPECT_THAT(f.get_int_array("bools"), ElementsAre(1, 0, 1));
  EXPECT_TRUE(f.get_int_array("none").empty());
  const Value* n = f.find("nested");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->array_type, ValueType::ARRAY);
  EXPECT_EQ(n->array_size, 2u);
  EXPECT_EQ(f.find("strings")->array_size, 3u);
  EXPECT_EQ(f.get_uint("after"), 99u);
}

TEST(GgufRoundTrip, TensorsOfSeveralTypes) {
  struct Case { std::string name; std::vector<int64_t> ne; GgmlType type; size_t n_bytes; };
  // Byte sizes by hand: blocks per row * block bytes * rows.
  const std::vector<Case> cases = {
      {"f32", {5}, GgmlType::F32, 20},
      {"f16", {3, 2, 2}, GgmlType::F16, 24},
      {"bf16", {2, 1, 1, 3}, GgmlType::BF16, 12},
      {"q4_0", {64, 3}, GgmlType::Q4_0, 2 * 18 * 3},
      {"q8_0", {32, 2}, GgmlType::Q8_0, 34 * 2},
      {"q4_k", {256, 2}, GgmlType::Q4_K, 144 * 2},
      {"q6_k", {512, 1}, GgmlType::Q6_K, 2 * 210},
      {"q2_k", {256, 1, 2}, GgmlType::Q2_K, 84 * 2},
  };
  for (uint32_t alignment : {32u, 1u, 64u, 4096u}) {
    GgufWriter w;
    if (alignment != 32) w.set_alignment(alignment);
    w.set_string("general.architecture", "llama");
    uint8_t seed = 1;
    for (const auto& c : cases) w.add_tensor(c.name, c.ne, c.type, pattern(c.n_bytes, seed++));
    const Bytes bytes = w.to_bytes();
    const auto f = GgufFile::parse(bytes, "tensors");
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.file_bytes(), bytes.size());
    ASSERT_EQ(f.tensors().size(), cases.size());
    seed = 1;
    uint64_t previous_end = 0;
    for (size_t k = 0; k < cases.size(); ++k) {
      const auto& c = cases[k];
      const TensorInfo& t = f.tensors()[k];  // file order
      EXPECT_EQ(f.find_tensor(c.name), &t);
      EXPECT_EQ(t.name, c.name);
      EXPECT_EQ(t.ne, c.ne);
      EXPECT_EQ(t.type, c.type);
      EXPECT_EQ(t.n_bytes, c.n_bytes);
      int64_t n = 1;
      for (int64_t d : c.ne) n *= d;
      EXPECT_EQ(t.n_elements, n);
      EXPECT_EQ(t.rows(), n / c.ne[0]);
      EXPECT_EQ(t.offset % alignment, 0u) << c.name;
      EXPECT_GE(t.offset, previous_end);
      previous_end = t.offset + t.n_bytes;
      // The data pointer refers to exactly the bytes at the absolute offset.
      EXPECT_EQ(Bytes(t.data, t.data + t.n_bytes), pattern(c.n_bytes, seed++)) << c.name;
      EXPECT_EQ(Bytes(bytes.begin() + t.offset, bytes.begin() + t.offset + t.n_bytes),
                Bytes(t.data, t.data + t.n_bytes));
    }
    EXPECT_EQ(previous_end, bytes.size());  // the file ends with the last tensor
    EXPECT_EQ(f.find_tensor("absent"), nullptr);
  }
}

TEST(GgufRoundTrip, Version2IsAccepted) {
  GgufWriter w;
  w.add_tensor_f32("t", {2}, {1.0f, 2.0f});
  Bytes b = w.to_bytes();
  patch<uint32_t>(b, 4, 2);
  const auto f = GgufFile::parse(b, "v2");
  EXPECT_EQ(f.version(), 2u);
  float x[2];
  std::memcpy(x, f.find_tensor("t")->data, sizeof x);
  EXPECT_EQ(x[1], 2.0f);
}

TEST(GgufRoundTrip, WriteThenOpenMapsTheSameFile) {
  TempDir dir;
  GgufWriter w;
  w.set_string("general.architecture", "qwen3");
  w.add_tensor_f32("w", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const std::string path = dir.file("model.gguf");
  w.write(path);
  EXPECT_EQ(std::filesystem::file_size(path), w.to_bytes().size());
  auto f = GgufFile::open(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.get_string("general.architecture"), "qwen3");
  // Moving the file object keeps tensor pointers valid (the mapping is owned, not copied).
  const uint8_t* data = f.find_tensor("w")->data;
  GgufFile moved = std::move(f);
  EXPECT_EQ(moved.find_tensor("w")->data, data);
  float last;
  std::memcpy(&last, data + 7 * sizeof(float), sizeof last);
  EXPECT_EQ(last, 8.0f);
}

// Produced tensors stream in row chunks of at most kStreamChunkBytes, yet give the same bytes as held
// ones; file_size() matches without producing anything.
TEST(GgufWriter, ProducedTensorsStreamInRowChunksAndMatchHeldOnes) {
  const int64_t n_rows = 3 * (int64_t)(GgufWriter::kStreamChunkBytes / 128) + 5;  // rows of 32 floats: 4 chunks
  const size_t n_bytes = (size_t)n_rows * 128;
  const Bytes data = pattern(n_bytes, 9);
  GgufWriter held, produced;
  for (GgufWriter* w : {&held, &produced}) {
    w->set_string("general.architecture", "llama");
    w->add_tensor_f32("small", {3}, {1, 2, 3});
  }
  held.add_tensor("big", {32, n_rows}, GgmlType::F32, data);
  std::vector<std::pair<int64_t, int64_t>> calls;
  produced.add_tensor_rows("big", {32, n_rows}, GgmlType::F32, [&](int64_t first, int64_t n, uint8_t* dst) {
    calls.push_back({first, n});
    std::memcpy(dst, data.data() + first * 128, (size_t)n * 128);
  });
  const uint64_t planned = produced.file_size();
  EXPECT_TRUE(calls.empty());
  EXPECT_EQ(planned, held.to_bytes().size());
  ASSERT_EQ(produced.tensor_entries().size(), 2u);
  EXPECT_EQ(produced.tensor_entries()[1].name, "big");
  EXPECT_EQ(produced.tensor_entries()[1].n_bytes, n_bytes);

  TempDir dir;
  produced.write(dir.file("p.gguf"));
  EXPECT_EQ(std::filesystem::file_size(dir.file("p.gguf")), planned);
  ASSERT_EQ(calls.size(), 4u);
  int64_t next = 0;
  for (const auto& [first, n] : calls) {
    EXPECT_EQ(first, next);
    EXPECT_LE((uint64_t)n * 128, GgufWriter::kStreamChunkBytes);
    next = first + n;
  }
  EXPECT_EQ(next, n_rows);
  std::ifstream in(dir.file("p.gguf"), std::ios::binary);
  EXPECT_EQ(Bytes(std::istreambuf_iterator<char>(in), {}), held.to_bytes());
  EXPECT_THROW(produced.add_tensor_rows("none", {4}, GgmlType::F32, nullptr), Error);
  EXPECT_THROW(produced.add_tensor_rows("q", {33}, GgmlType::Q8_0, [](int64_t, int64_t, uint8_t*) {}), Error);
}

TEST(GgufWriter, RejectsInconsistentTensorsAndBadPaths) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("q", {33}, GgmlType::Q8_0, Bytes(34)), Error);      // not a block multiple
  EXPECT_THROW(w.add_tensor("f", {4}, GgmlType::F32, Bytes(15)), Error);        // wrong data size
  EXPECT_THROW(w.add_tensor("z", {4, 0}, GgmlType::F32, Bytes()), Error);       // zero dimension
  EXPECT_THROW(w.add_tensor("d", {1, 1, 1, 1, 1}, GgmlType::F32, Bytes(4)), Error);
  EXPECT_THROW(w.set_alignment(48), Error);
  w.add_tensor_f32("t", {1}, {0.0f});
  EXPECT_THROW(w.add_tensor_f32("t", {1}, {0.0f}), Error);                      // duplicate name
  EXPECT_THROW(w.write("/nonexistent-dir/x.gguf"), Error);
}

TEST(GgufGetters, MissingKeysAndTypeMismatchesNameTheKey) {
  GgufWriter w;
  w.set_string("name", "x");
  w.set_int32("neg", -3);
  w.set_uint64("huge", 1ull << 63);
  w.set_uint32("count", 5);
  w.set_float32_array("floats", {1.0f});
  const auto f = GgufFile::parse(w.to_bytes(), "m.gguf");
  auto message = [](auto&& get) {
    try {
      get();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([&] { f.get_uint("absent"); }), "m.gguf: missing required metadata key 'absent'");
  EXPECT_THAT(message([&] { f.get_uint("name"); }), HasSubstr("'name' has type string"));
  EXPECT_THAT(message([&] { f.get_uint("neg"); }), HasSubstr("negative"));
  EXPECT_THAT(message([&] { f.get_int("huge"); }), HasSubstr("does not fit"));
  EXPECT_THAT(message([&] { f.get_string("count"); }), HasSubstr("expected string"));
  EXPECT_THAT(message([&] { f.get_bool("count"); }), HasSubstr("expected bool"));
  EXPECT_THAT(message([&] { f.get_int_array("floats"); }), HasSubstr("array of float32"));
  EXPECT_THAT(message([&] { f.get_string_array("name"); }), HasSubstr("expected array of string"));
  EXPECT_THAT(message([&] { f.get_float_array("count"); }), HasSubstr("expected array of floats"));
  EXPECT_THAT(message([&] { f.get_uint_or("name", 1); }), HasSubstr("'name' has type string"));
  EXPECT_EQ(f.get_uint_or("absent", 7), 7u);
  EXPECT_EQ(f.get_uint_or("count", 7), 5u);
  EXPECT_EQ(f.get_string_or("absent", "d"), "d");
  EXPECT_EQ(f.get_float_or("absent", 0.5), 0.5);
  EXPECT_TRUE(f.get_bool_or("absent", true));
  EXPECT_EQ(f.get_int("neg"), -3);
  EXPECT_EQ(f.get_float("neg"), -3.0);
  EXPECT_TRUE(f.has("name"));
  EXPECT_FALSE(f.has("absent"));
}

TEST(MappedFile, OpensAndMovesAndReportsProblems) {
  TempDir dir;
  const std::string path = dir.file("bytes.bin");
  std::ofstream(path, std::ios::binary) << "abcdef";
  MappedFile m = MappedFile::open(path);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(std::memcmp(m.data(), "abcdef", 6), 0);
  MappedFile moved(std::move(m));
  EXPECT_EQ(m.data(), nullptr);
  EXPECT_EQ(moved.bytes().size(), 6u);
  m = std::move(moved);
  EXPECT_EQ(m.data()[5], 'f');

  const std::string empty = dir.file("empty.bin");
  std::ofstream(empty, std::ios::binary).flush();
  EXPECT_THROW(MappedFile::open(empty), Error);
  EXPECT_THROW(MappedFile::open(dir.file("missing.bin")), Error);
  EXPECT_THROW(MappedFile::open(dir.file("")), Error);  // the directory itself
}

}  // namespace
}  // namespace kvpress::gguf
