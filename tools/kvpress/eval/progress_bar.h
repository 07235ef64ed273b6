// Progress of an evaluation on stderr: a redrawn bar with ETA on a terminal, a line every ~10% otherwise.
#pragma once
#include <cstdio>
#include <string>

#include "eval_runner.h"

namespace kvpress::eval {

// Formats one status line: "[#####.....] 12/40 (30%) elapsed 00:12 ETA 00:28  knorm@0.5 context 3/10".
// The ETA extrapolates from the items run in this process (items skipped by --resume cost nothing).
std::string progress_line(const EvalProgress& p, int bar_width = 24);

// "mm:ss", or "h:mm:ss" from an hour on.
std::string format_duration(double seconds);

// Thread-safety: none; called from the evaluation loop only.
class ProgressBar {
 public:
  // tty: redraw one line with '\r'; otherwise print a full line when another 10% is done.
  ProgressBar(std::FILE* out, bool tty) : out_(out), tty_(tty) {}
  void update(const EvalProgress& p);
  // Ends the redrawn line (terminal mode) so later messages start on a new line.
  void finish();

 private:
  std::FILE* out_;
  bool tty_;
  int last_decile_ = -1;
  bool drawn_ = false;
};

}  // namespace kvpress::eval
