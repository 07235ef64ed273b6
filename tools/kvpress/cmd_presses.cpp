// `kvpress presses`: the registered presses and the specification grammar.
#include <cstdio>

#include "commands.h"
#include "press/press_registry.h"

namespace kvpress::cli {

void add_presses_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("presses", "List the available presses and the --press grammar");
  cmd->callback([&action] {
    action = [] {
      for (const auto& p : registered_presses())
        std::printf("%-24s %s%s\n", p.name.c_str(), p.description.c_str(), p.is_wrapper ? " (wrapper)" : "");
      std::printf("\n%s\n", press_spec_help().c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
