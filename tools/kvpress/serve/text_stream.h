// TextStream: generated ids to text pieces safe to send: whole UTF-8 characters, stop sequences cut off.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvpress/engine.h"

namespace kvpress::serve {

// Thread-safety: none; one per request.
class TextStream {
 public:
  TextStream(const Engine& engine, std::vector<std::string> stop) : engine_(engine), stop_(std::move(stop)) {}

  // Adds a generated id and returns the text that became final: it never ends inside a UTF-8 character
  // or inside what may still become a stop sequence. Once a stop sequence appears, stopped() is true and
  // the text ends right before it.
  std::string push(int32_t id);
  // The text held back at the end of generation (an unfinished stop sequence is plain text after all).
  std::string flush();

  bool stopped() const { return stopped_; }
  const std::string& text() const { return text_; }  // everything final so far (sent or flushed)
  int64_t n_tokens() const { return (int64_t)ids_.size(); }

 private:
  const Engine& engine_;
  std::vector<std::string> stop_;
  std::vector<int32_t> ids_;
  std::string decoded_;  // all ids decoded
  std::string text_;     // the final prefix of decoded_
  bool stopped_ = false;
};

}  // namespace kvpress::serve
