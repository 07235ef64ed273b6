// Pre-tokenizer regex lists per tokenizer.ggml.pre name, run with PCRE2 (UTF + Unicode properties, JIT).
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <new>

#include "core/error.h"
#include "tokenizer/text_util.h"

namespace kvpress::tok {
namespace {

// The regexes are those of the models' tokenizer.json files (HF tokenizers is the reference the vocab
// tests were generated with). \s under PCRE2_UCP is Unicode White_Space (plus U+180E), \p{L}/\p{N}
// are the Unicode general categories, and (?i:...) folds case as the originals do.

// GPT-2 (also the word regex of several others).
constexpr const char* kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

// Llama 3: contractions case-insensitive, letters may take one leading non-letter, digits in groups of 3.
constexpr const char* kLlama3 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen2: as Llama 3 but every digit is its own word.
constexpr const char* kQwen2 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// DeepSeek LLM: a sequence of splits. The letter class is the literal range list of its tokenizer.json
// (cased letters: Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, ... and their fullwidth forms).
constexpr const char* kDeepseekNewlines = R"re([\r\n])re";
constexpr const char* kDeepseekLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})re"
    R"re(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})re"
    R"re(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})re"
    R"re(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})re"
    R"re(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})re"
    R"re(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})re"
    R"re(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})re"
    R"re(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})re"
    R"re(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})re"
    R"re(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})re"
    R"re(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})re"
    R"re(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})re"
    R"re(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
// ASCII punctuation, fullwidth punctuation, curly quotes, ideographic space and full stop.
constexpr const char* kDeepseekPunct =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";
constexpr const char* kDeepseekTrailingSpace = R"re(\s+$)re";
constexpr const char* kDeepseekCjk = R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr const char* kDigitRuns = R"re(\p{N}+)re";

// llama.cpp's fallback for BPE vocabularies without a known pre-tokenizer.
constexpr const char* kDefaultPunct = R"re([\p{P}\$\+<=>\^~\|]+)re";
constexpr const char* kThreeAsciiDigits = R"re([0-9][0-9][0-9])re";

// SmolLM / StarCoder: every digit split off first, then the GPT-2 regex.
constexpr const char* kSingleDigit = R"re(\p{N})re";

struct PreSpec {
  std::vector<std::string> names;  // first is canonical
  std::vector<const char*> regexes;
  bool ignore_merges = false;
  bool add_bos = false;
};

const std::vector<PreSpec>& specs() {
  static const std::vector<PreSpec> kSpecs = {
      {{"default"}, {kDefaultPunct, kGpt2, kDigitRuns, kThreeAsciiDigits}},
      {{"llama-bpe", "llama3", "llama-v3"}, {kLlama3}, true, true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}},
      {{"gpt-2", "phi-2", "mpt", "olmo"}, {kGpt2}},
      {{"deepseek-llm"},
       {kDeepseekNewlines, kDeepseekLetters, kDeepseekPunct, kDeepseekTrailingSpace, kDeepseekCjk, kDigitRuns}},
      {{"smollm", "starcoder", "refact", "codeshell", "command-r"}, {kSingleDigit, kGpt2}},
  };
  return kSpecs;
}

const PreSpec* find_spec(const std::string& name) {
  for (const auto& spec : specs())
    if (std::find(spec.names.begin(), spec.names.end(), name) != spec.names.end()) return &spec;
  return nullptr;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::string& name_in) : name_(name_in.empty() ? "default" : name_in) {
  const PreSpec* spec = find_spec(name_);
  if (!spec) {
    std::string list;
    for (const auto& n : supported_names()) list += (list.empty() ? "" : ", ") + n;
    fail("unsupported pre-tokenizer '", name_, "' (tokenizer.ggml.pre); supported: ", list);
  }
  ignore_merges_ = spec->ignore_merges;
  for (const char* pattern : spec->regexes) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    auto re = std::make_unique<Regex>();
    re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_offset, nullptr);
    if (!re->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("pre-tokenizer '", name_, "': PCRE2 cannot compile a regex at offset ", (uint64_t)err_offset, ": ",
           reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation only: without it (or when it fails) the interpreter gives the same splits.
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    regexes_.push_back(std::move(re));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

std::vector<std::string> PreTokenizer::supported_names() {
  std::vector<std::string> out;
  for (const auto& spec : specs()) out.insert(out.end(), spec.names.begin(), spec.names.end());
  return out;
}

bool PreTokenizer::adds_bos_by_default(const std::string& name) {
  const PreSpec* spec = find_spec(name);
  return spec && spec->add_bos;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  struct Piece {
    size_t begin, end;
    bool fixed;  // an invalid UTF-8 byte: never matched against the regexes
  };
  std::vector<Piece> pieces;
  size_t run = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_valid_len(text, i);
    if (n) {
      i += n;
      continue;
    }
    if (run < i) pieces.push_back({run, i, false});
    pieces.push_back({i, i + 1, true});
    run = ++i;
  }
  if (run < text.size()) pieces.push_back({run, text.size(), false});

  std::vector<Piece> next;
  for (const auto& re : regexes_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
    if (!md) throw std::bad_alloc();
    struct Free {
      pcre2_match_data* p;
      ~Free() { pcre2_match_data_free(p); }
    } free_md{md};
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const Piece& piece : pieces) {
      if (piece.fixed) {
        next.push_back(piece);
        continue;
      }
      const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t len = piece.end - piece.begin;
      size_t pos = 0, last = 0;
      while (pos < len) {
        // Pieces are valid UTF-8 (checked above), so PCRE2's per-call check, O(len) each time, is skipped.
        int rc = pcre2_match(re->code, subject, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // very long runs: the interpreter uses the heap instead
          rc = pcre2_match(re->code, subject, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(rc, msg, sizeof msg);
          fail("pre-tokenizer '", name_, "' failed on a ", (uint64_t)len,
               "-byte piece: ", reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t s = ov[0], e = ov[1];
        if (e == s) {  // empty match (none of our regexes produce one): step over one character
          if (s >= len) break;
          pos = s + utf8_char_len(text.substr(piece.begin, len), s);
          continue;
        }
        if (s > last) next.push_back({piece.begin + last, piece.begin + s, false});
        next.push_back({piece.begin + s, piece.begin + e, false});
        last = pos = e;
      }
      if (last < len) next.push_back({piece.begin + last, piece.end, false});
    }
    pieces.swap(next);
  }

  std::vector<std::string_view> words;
  words.reserve(pieces.size());
  for (const Piece& p : pieces) words.push_back(text.substr(p.begin, p.end - p.begin));
  return words;
}

}  // namespace kvpress::tok
