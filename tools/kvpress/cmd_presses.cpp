// `kvpress presses`: the registered presses and the specification grammar.
#include <cstdio>

#include "commands.h"
#include "press/press_registry.h"

namespace kvpress::cli {

void add_presses_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("presses", "List the available presses and the --press grammar");
  cmd->callback([&action] {
    action = [] {
      for (const auto& p : registered_presses()) {
        std::printf("%-26s %s%s\n", p.name.c_str(), p.description.c_str(), p.is_wrapper ? " (wrapper)" : "");
        if (!p.expands_to.empty()) std::printf("%-26s   = %s\n", "", p.expands_to.c_str());
        if (!p.parameters.empty()) std::printf("%-26s   parameters: %s\n", "", p.parameters.c_str());
      }
      std::printf("\n%s\n", press_spec_help().c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
