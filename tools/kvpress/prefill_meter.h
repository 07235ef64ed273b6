// A progress line on stderr for long prefills (answer, generate, inspect): tokens/s and ETA, redrawn on a
// terminal; in a log only once a pass has run a while. stdout is never touched, so JSON stays parseable.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "kvpress/progress.h"

namespace kvpress::cli {

enum class ProgressMode {
  Auto,    // a terminal: after 1 s of a pass; otherwise a line every 10 s once a pass has run 5 s
  Always,  // --progress: every layer (a terminal) or at most a line a second, and the end of each pass
  Off,     // --quiet
};

// --quiet and --progress (exclusive).
struct ProgressArgs {
  bool quiet = false, always = false;
  ProgressMode mode() const { return quiet ? ProgressMode::Off : always ? ProgressMode::Always : ProgressMode::Auto; }
};
void add_progress_options(CLI::App* cmd, ProgressArgs& args);

// "prefill 41000 tokens: 12/32 layers, 850 tok/s, elapsed 00:12, ETA 00:34" (", done" when finished).
std::string prefill_line(const PrefillProgress& p);

// Thread-safety: none; called from the prefill's thread only.
class PrefillMeter {
 public:
  PrefillMeter(std::FILE* out, bool tty, ProgressMode mode) : out_(out), tty_(tty), mode_(mode) {}
  // What to put in AnswerOptions / GenerateOptions; empty when the mode is Off.
  PrefillProgressFn callback();

 private:
  void update(const PrefillProgress& p);

  std::FILE* out_;
  bool tty_;
  ProgressMode mode_;
  bool shown_ = false;   // this pass printed something
  double last_ms_ = -1;  // elapsed_ms of the last line printed in this pass
};

// A meter on stderr for `mode`, terminal detected.
PrefillMeter stderr_meter(ProgressMode mode);

}  // namespace kvpress::cli
