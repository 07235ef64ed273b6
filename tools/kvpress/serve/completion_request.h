// CompletionRequest: a POST /v1/chat/completions or /v1/completions body, read and checked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvpress/press.h"
#include "kvpress/sampling.h"
#include "serve/chat_rendering.h"

namespace kvpress::serve {

enum class Endpoint { Chat, Completion };

// What the server uses when a request leaves a field out (kvpress serve's options).
struct RequestDefaults {
  PressConfig press;             // --press / --compression-ratio
  int64_t max_tokens = 256;      // --max-tokens
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::Chat;
  std::string model;             // as sent (any name is accepted; responses name the served model)
  RenderedChat chat;             // Chat: context and question (chat_rendering.h)
  std::string prompt;            // Completion: the text to continue
  int64_t max_tokens = 0;        // after defaults
  bool max_tokens_given = false;
  SamplingOptions sampling;      // temperature 0 (greedy) unless the request sets one
  bool seed_given = false;
  std::vector<std::string> stop; // at most 4, none empty
  bool stream = false;
  bool include_usage = false;    // stream_options.include_usage
  PressConfig press;
};

// Parses and checks a request body. Throws ApiError (400) naming the field and what was expected:
// malformed JSON, wrong types, values out of range, an unknown press, a ratio outside [0, 1).
CompletionRequest parse_completion_request(const std::string& body, Endpoint endpoint, const RequestDefaults& defaults);

}  // namespace kvpress::serve
