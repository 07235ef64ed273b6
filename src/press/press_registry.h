// Press names, parameters and specification strings shared by every tool.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "press/press.h"

namespace kvpress {

struct PressInfo {
  std::string name;         // registry name, e.g. "snapkv"
  std::string description;  // one line
  bool is_wrapper = false;  // takes inner presses: name(inner, ...)
  std::string parameters;   // "window_size=64, kernel_size=5": every parameter with its default
  std::string expands_to;   // aliases only: the specification they stand for
};

// Every registered press (from press_list.inc) and every evaluation alias (spec §6).
std::vector<PressInfo> registered_presses();

// Builds a press from a specification string, e.g.
//   "knorm", "snapkv:window_size=32,kernel_size=7", "adakv(snapkv):alpha_safeguard=0.1",
//   "expected_attention" (= adakv(expected_attention_press:epsilon=0.01)), "composed(knorm,streaming_llm)"
// and sets its compression ratio. "none" / "no_press" give nullptr. Parameters given to an alias go
// to its innermost (scoring) press. Unknown names, unknown or bad parameters and ratios outside
// [0, 1) throw Error listing the valid choices.
std::unique_ptr<Press> make_press(const std::string& spec, double compression_ratio);

// Grammar help for --help texts.
std::string press_spec_help();

}  // namespace kvpress
