// Internal helpers shared by the GGUF parser and the typed getters (not part of the public API).
#pragma once
#include <string>
#include <string_view>

#include "gguf/gguf_file.h"

namespace kvpress::gguf::detail {

bool is_integer_type(ValueType t);
bool is_signed_type(ValueType t);
// "uint32", or "array of string" for arrays.
std::string type_text(const Value& v);
// A name from the file as shown in a message: quoted, bytes outside printable ASCII escaped (so a
// message stays one line) and cut after 80 characters (a corrupt length can make names huge).
std::string shown(std::string_view s);

}  // namespace kvpress::gguf::detail
