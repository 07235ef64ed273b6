// The vocabularies the tokenizer target runs every input through: GGUF files (the repository's
// default model, the shared reference vocabularies when present, or $KVPRESS_FUZZ_VOCABS) and two
// small synthetic ones that need no file (unknown-token and dropped-byte paths).
#pragma once
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace kvpress::fuzz {

struct FuzzVocab {
  std::string name;
  Tokenizer tokenizer;
  // Every byte has a token and (SPM) the space mark is a token: decode(encode(x)) == x must hold.
  bool round_trips = false;
};

// Loaded once. Missing default files are skipped with a notice on stderr; a file named in
// $KVPRESS_FUZZ_VOCABS (colon-separated GGUF paths) that cannot be loaded is an error.
const std::vector<FuzzVocab>& fuzz_vocabularies();

}  // namespace kvpress::fuzz
