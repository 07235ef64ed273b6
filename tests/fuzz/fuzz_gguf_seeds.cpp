// Writes a seed corpus for fuzz_gguf: small GGUF files from GgufWriter covering every value type,
// nested arrays, several tensor types and alignments. Usage: fuzz_gguf_seeds <output-dir>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_writer.h"

namespace {

using kvpress::GgmlType;
using kvpress::gguf::GgufWriter;
using kvpress::gguf::ValueType;

template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(seed + k * 7);
  return v;
}

GgufWriter all_metadata() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint8("t.u8", 200);
  w.set_int8("t.i8", -100);
  w.set_uint16("t.u16", 60000);
  w.set_int16("t.i16", -30000);
  w.set_uint32("t.u32", 4000000000u);
  w.set_int32("t.i32", -2000000000);
  w.set_uint64("t.u64", 18000000000000000000ull);
  w.set_int64("t.i64", -9000000000000000000ll);
  w.set_float32("t.f32", 1.5f);
  w.set_float64("t.f64", -2.25);
  w.set_bool("t.bool", true);
  w.set_string_array("t.strings", {"a", "", "<0x0A>", "\xe2\x96\x81hello"});
  w.set_int32_array("t.ints", {1, -2, 3});
  w.set_float32_array("t.floats", {0.5f, -1.0f});
  std::vector<uint8_t> nested;  // array of 2 arrays of uint16
  append<uint32_t>(nested, static_cast<uint32_t>(ValueType::ARRAY));
  append<uint64_t>(nested, 2);
  for (int k = 0; k < 2; ++k) {
    append<uint32_t>(nested, static_cast<uint32_t>(ValueType::UINT16));
    append<uint64_t>(nested, 2);
    append<uint16_t>(nested, 7);
    append<uint16_t>(nested, 9);
  }
  w.set_raw("t.nested", ValueType::ARRAY, nested);
  std::vector<uint8_t> deep;  // 4 levels, the most the reader accepts
  for (int level = 0; level < 3; ++level) {
    append<uint32_t>(deep, static_cast<uint32_t>(ValueType::ARRAY));
    append<uint64_t>(deep, 1);
  }
  append<uint32_t>(deep, static_cast<uint32_t>(ValueType::INT8));
  append<uint64_t>(deep, 1);
  append<int8_t>(deep, -1);
  w.set_raw("t.deep", ValueType::ARRAY, deep);
  return w;
}

void add_tensors(GgufWriter& w) {
  w.add_tensor_f32("norm.weight", {8}, std::vector<float>(8, 1.0f));
  w.add_tensor("f16.weight", {4, 3}, GgmlType::F16, pattern(24, 1));
  w.add_tensor("q8.weight", {32, 2}, GgmlType::Q8_0, pattern(68, 2));
  w.add_tensor("q4k.weight", {256, 1, 1, 1}, GgmlType::Q4_K, pattern(144, 3));
  w.add_tensor("bf16.weight", {2, 2, 2}, GgmlType::BF16, pattern(16, 4));
}

void save(const std::filesystem::path& dir, const std::string& name, const GgufWriter& w) {
  w.write((dir / (name + ".gguf")).string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    save(dir, "empty", GgufWriter());
    save(dir, "metadata", all_metadata());
    GgufWriter tensors;
    tensors.set_string("general.architecture", "qwen2");
    add_tensors(tensors);
    save(dir, "tensors", tensors);
    GgufWriter full = all_metadata();
    full.set_alignment(64);
    add_tensors(full);
    save(dir, "full-align64", full);
    GgufWriter tiny_align;
    tiny_align.set_alignment(1);
    tiny_align.add_tensor("a", {3}, GgmlType::F16, pattern(6, 5));
    tiny_align.add_tensor("b", {1}, GgmlType::F32, pattern(4, 6));
    save(dir, "align1", tiny_align);
  } catch (const kvpress::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
