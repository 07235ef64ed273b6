// Progress bar formatting and terminal/non-terminal output.
#include "progress_bar.h"

#include <algorithm>
#include <cmath>

namespace kvpress::eval {

std::string format_duration(double seconds) {
  const long s = std::max(0L, (long)std::lround(seconds));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string progress_line(const EvalProgress& p, int bar_width) {
  const double frac = p.total > 0 ? (double)p.done / (double)p.total : 1.0;
  const int filled = std::clamp((int)(frac * bar_width), 0, bar_width);
  std::string line = "[" + std::string((size_t)filled, '#') + std::string((size_t)(bar_width - filled), '.') + "] ";
  line += std::to_string(p.done) + "/" + std::to_string(p.total) + " (" + std::to_string((int)(frac * 100)) + "%)";
  line += " elapsed " + format_duration(p.elapsed_s);
  const int64_t run = p.done - p.skipped, left = p.total - p.done;
  if (left == 0) line += " done";
  else if (run > 0) line += " ETA " + format_duration(p.elapsed_s / (double)run * (double)left);
  else line += " ETA --:--";
  if (!p.current.empty()) line += "  " + p.current;
  return line;
}

void ProgressBar::update(const EvalProgress& p) {
  if (tty_) {
    // Pad so a shorter line fully overwrites the previous one.
    std::fprintf(out_, "\r%-100s", progress_line(p).c_str());
    std::fflush(out_);
    drawn_ = true;
    return;
  }
  const int decile = p.total > 0 ? (int)(p.done * 10 / p.total) : 10;
  if (decile == last_decile_) return;
  last_decile_ = decile;
  std::fprintf(out_, "%s\n", progress_line(p).c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (tty_ && drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
}

}  // namespace kvpress::eval
