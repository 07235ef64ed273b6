// Python-like string helpers (split, strip, lower, replace, rounding) that the metrics need to match
// kvpress's Python scorers; all work on UTF-8 bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress::text {

// Byte length of the Python-whitespace character starting at s[i] (str.isspace(): ASCII \t\n\v\f\r, space,
// \x1c-\x1f, and the Unicode spaces U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
// U+3000 in UTF-8), or 0 when s[i] does not start one.
std::size_t space_length_at(std::string_view s, std::size_t i);

// str.split() with no argument: runs of whitespace separate, no empty pieces.
std::vector<std::string> split_whitespace(std::string_view s);
// str.split(sep) with an explicit separator: keeps empty pieces ("a..b".split(".") -> ["a", "", "b"]).
std::vector<std::string> split_on(std::string_view s, std::string_view sep);
// str.strip() / str.lstrip() with no argument.
std::string strip(std::string_view s);
std::string lstrip(std::string_view s);
// " ".join(s.split()): collapse whitespace runs into single spaces, trim both ends.
std::string collapse_whitespace(std::string_view s);

// ASCII-only lower/upper case (Python also folds non-ASCII letters; we leave those bytes unchanged).
std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);

std::string replace_all(std::string_view s, std::string_view from, std::string_view to);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool contains(std::string_view haystack, std::string_view needle);

// Maximal runs of ASCII digits, in order (re.findall(r"\d+", s) for ASCII text).
std::vector<std::string> digit_runs(std::string_view s);

// Python's round(x, ndigits): the correctly rounded decimal, ties to even on the exact binary value.
double py_round(double x, int ndigits);

// string.punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
bool is_ascii_punct(char c);

}  // namespace kvpress::text
