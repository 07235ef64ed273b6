// Prefill progress: rates from the layers done so far (every token passes a layer before the next starts).
#include "prefill_meter.h"

#include <unistd.h>

#include "eval/progress_bar.h"

namespace kvpress::cli {

void add_progress_options(CLI::App* cmd, ProgressArgs& args) {
  auto* quiet = cmd->add_flag("--quiet", args.quiet, "no progress line on stderr");
  auto* always = cmd->add_flag("--progress", args.always,
                               "progress line on stderr even for short work or when stderr is not a terminal");
  quiet->excludes(always);
}

std::string prefill_line(const PrefillProgress& p) {
  const double s = p.elapsed_ms / 1000.0;
  const double frac = p.fraction();
  const double tok_s = s > 0 ? (double)p.n_tokens * frac / s : 0.0;
  std::string line = "prefill " + std::to_string(p.n_tokens) + " tokens: ";
  if (p.pass_end > 0) line += "chunk " + std::to_string(p.pass_begin) + "-" + std::to_string(p.pass_end) + ", ";
  line += std::to_string(p.layers_done) + "/" + std::to_string(p.n_layers) + " layers, " +
          std::to_string((long long)tok_s) + " tok/s, elapsed " + eval::format_duration(s);
  if (p.done()) return line + ", done";
  return line + ", ETA " + (frac > 0 ? eval::format_duration(s / frac - s) : std::string("--:--"));
}

PrefillProgressFn PrefillMeter::callback() {
  if (mode_ == ProgressMode::Off) return {};
  return [this](const PrefillProgress& p) { update(p); };
}

void PrefillMeter::update(const PrefillProgress& p) {
  if (p.layers_done <= 1 && p.pass_begin == 0) shown_ = false, last_ms_ = -1;  // a new prefill
  const bool last = p.done();
  const double since_ms = p.elapsed_ms - last_ms_;
  bool print = false;
  if (mode_ == ProgressMode::Always) print = tty_ || last || last_ms_ < 0 || since_ms >= 1000;
  else if (tty_) print = p.elapsed_ms >= 1000 || (last && shown_);
  else print = (p.elapsed_ms >= 5000 && (last_ms_ < 0 || since_ms >= 10000)) || (last && shown_);
  if (!print) return;
  const std::string line = "kvpress: " + prefill_line(p);
  if (tty_) std::fprintf(out_, "\r%-90s%s", line.c_str(), last ? "\n" : "");
  else std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  shown_ = true;
  last_ms_ = p.elapsed_ms;
}

PrefillMeter stderr_meter(ProgressMode mode) { return PrefillMeter(stderr, isatty(STDERR_FILENO) != 0, mode); }

}  // namespace kvpress::cli
