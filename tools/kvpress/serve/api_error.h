// ApiError: a request the server refuses, carried to the HTTP layer as an OpenAI-style error body.
#pragma once
#include <stdexcept>
#include <string>

namespace kvpress::serve {

// Thrown while reading or checking a request; the server answers `status` with
// {"error": {"message", "type", "code"}} (openai_json.h) and goes on serving.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message, std::string type = "invalid_request_error")
      : std::runtime_error(message), status_(status), code_(std::move(code)), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }  // "invalid_json", "invalid_press", ...
  const std::string& type() const { return type_; }  // "invalid_request_error", "server_error"

 private:
  int status_;
  std::string code_, type_;
};

}  // namespace kvpress::serve
