// Server request bodies (POST /v1/chat/completions and /v1/completions): input byte 0 picks the
// endpoint, the rest is the body. Every body is read into a request or refused with ApiError carrying
// a 4xx status (what the server answers), never another exception; a request that is read keeps the
// limits the server relies on (token budget, stop strings, a press ratio in [0, 1)).
#include <string>

#include "fuzz_check.h"
#include "serve/api_error.h"
#include "serve/completion_request.h"

namespace kvpress::fuzz {

void check_server_request(Bytes input) {
  if (input.empty()) return;
  const auto endpoint = input[0] & 1 ? serve::Endpoint::Completion : serve::Endpoint::Chat;
  const std::string body(reinterpret_cast<const char*>(input.data()) + 1, input.size() - 1);
  serve::RequestDefaults defaults;
  try {
    const serve::CompletionRequest r = serve::parse_completion_request(body, endpoint, defaults);
    require(r.max_tokens >= 0, "a read request has a non-negative token budget", std::to_string(r.max_tokens));
    require(r.stop.size() <= 4, "a read request has at most 4 stop strings");
    for (const auto& s : r.stop) require(!s.empty(), "stop strings are not empty");
    const double ratio = r.press.compression_ratio();
    require(ratio >= 0.0 && ratio < 1.0, "a read request's compression ratio is in [0, 1)", std::to_string(ratio));
    require(r.endpoint == endpoint, "the request keeps its endpoint");
  } catch (const serve::ApiError& e) {
    require(e.status() >= 400 && e.status() < 500, "a refused body is a client error", std::to_string(e.status()));
    require(!std::string(e.what()).empty(), "a refused body says why");
  }
}

}  // namespace kvpress::fuzz
