// Vocab::from_gguf: reads and validates the tokenizer.ggml.* metadata of a GGUF file.
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";

// The array value of `key`, or nullptr when absent; Error when present but not an array of `want`.
const Value* find_array(const GgufFile& file, const std::string& key, const char* want, bool (*element_ok)(ValueType)) {
  const Value* v = file.find(key);
  if (!v) return nullptr;
  if (v->type != ValueType::ARRAY || !element_ok(v->array_type))
    fail(file.path(), ": metadata key '", key, "' should be an array of ", want, " but is ",
         v->type == ValueType::ARRAY ? std::string("an array of ") + gguf::value_type_name(v->array_type)
                                      : std::string(gguf::value_type_name(v->type)));
  return v;
}

bool is_string_type(ValueType t) { return t == ValueType::STRING; }
bool is_number_type(ValueType t) { return t != ValueType::STRING && t != ValueType::ARRAY && t != ValueType::BOOL; }
bool is_integer_type(ValueType t) { return is_number_type(t) && t != ValueType::FLOAT32 && t != ValueType::FLOAT64; }

// Reads an optional token id and checks it indexes the token list.
int32_t read_id(const GgufFile& file, const std::string& key, int32_t fallback, size_t n_tokens) {
  if (!file.has(key)) return fallback;
  const int64_t id = file.get_int(key);
  if (id < 0 || (uint64_t)id >= n_tokens)
    fail(file.path(), ": ", key, " = ", id, " is out of range (the vocab has ", (uint64_t)n_tokens, " tokens)");
  return (int32_t)id;
}

}  // namespace

Vocab Vocab::from_gguf(const gguf::GgufFile& file) {
  Vocab v;
  v.model = file.get_string(kModel);
  if (v.model != "llama" && v.model != "gpt2")
    fail(file.path(), ": ", kModel, " = '", v.model, "' is not supported (supported: llama (SPM), gpt2 (byte-level BPE))");
  const bool spm = v.model == "llama";
  v.pre = file.get_string_or(kPre, "default");
  if (v.pre.empty()) v.pre = "default";

  const Value* tokens = find_array(file, kTokens, "strings", is_string_type);
  if (!tokens) fail(file.path(), ": missing required metadata key '", kTokens, "' (the token list)");
  v.tokens = tokens->strings;
  const size_t n = v.tokens.size();
  if (n == 0) fail(file.path(), ": ", kTokens, " is empty");
  if (n > (size_t)INT32_MAX) fail(file.path(), ": ", kTokens, " has too many entries (", (uint64_t)n, ")");

  if (const Value* scores = find_array(file, kScores, "numbers", is_number_type)) {
    const size_t m = is_integer_type(scores->array_type) ? scores->ints.size() : scores->floats.size();
    if (m != n)
      fail(file.path(), ": ", kScores, " has ", (uint64_t)m, " entries but ", kTokens, " has ", (uint64_t)n);
    v.scores.reserve(n);
    if (is_integer_type(scores->array_type)) {
      for (const int64_t s : scores->ints) v.scores.push_back((float)s);
    } else {
      for (const double s : scores->floats) v.scores.push_back((float)s);
    }
  }

  if (const Value* types = find_array(file, kTypes, "integers", is_integer_type)) {
    if (types->ints.size() != n)
      fail(file.path(), ": ", kTypes, " has ", (uint64_t)types->ints.size(), " entries but ", kTokens, " has ",
           (uint64_t)n);
    v.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = types->ints[i];
      if (t < 0 || t > (int64_t)TokenType::Byte)
        fail(file.path(), ": ", kTypes, "[", (uint64_t)i, "] = ", t, " is not a token type (0..6)");
      v.types.push_back((TokenType)t);
    }
  }

  if (const Value* merges = find_array(file, kMerges, "strings", is_string_type)) {
    v.merges = merges->strings;
  } else if (!spm) {
    fail(file.path(), ": missing required metadata key '", kMerges, "' (byte-level BPE needs its merges)");
  }

  // Defaults follow llama.cpp: SPM vocabularies use <unk>=0, <s>=1, </s>=2 when the keys are absent.
  const auto in_range = [&](int32_t id) { return id < (int32_t)n ? id : -1; };
  v.bos_id = read_id(file, "tokenizer.ggml.bos_token_id", spm ? in_range(1) : -1, n);
  v.eos_id = read_id(file, "tokenizer.ggml.eos_token_id", spm ? in_range(2) : -1, n);
  v.unk_id = read_id(file, "tokenizer.ggml.unknown_token_id", spm ? in_range(0) : -1, n);
  v.eot_id = read_id(file, "tokenizer.ggml.eot_token_id", -1, n);
  v.eom_id = read_id(file, "tokenizer.ggml.eom_token_id", -1, n);
  v.pad_id = read_id(file, "tokenizer.ggml.padding_token_id", -1, n);

  v.add_bos = file.get_bool_or("tokenizer.ggml.add_bos_token", spm || tok::PreTokenizer::adds_bos_by_default(v.pre));
  v.add_eos = file.get_bool_or("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = file.get_bool_or("tokenizer.ggml.add_space_prefix", spm);
  if (v.add_bos && v.bos_id < 0)
    fail(file.path(), ": tokenizer.ggml.add_bos_token is true but there is no tokenizer.ggml.bos_token_id");
  if (v.add_eos && v.eos_id < 0)
    fail(file.path(), ": tokenizer.ggml.add_eos_token is true but there is no tokenizer.ggml.eos_token_id");
  v.chat_template = file.get_string_or("tokenizer.chat_template", "");
  return v;
}

}  // namespace kvpress
