// `kvpress compress`: prefill and compress a context file once, save the compressed cache to a file that
// `kvpress answer --cache` (or Session::load) answers from without prefilling again.
#include <cstdio>

#include "commands.h"
#include "context_options.h"
#include "kvpress/session.h"

namespace kvpress::cli {

void add_compress_command(CLI::App& app, Action& action) {
  struct Args {
    ContextArgs context;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("compress", "Compress a context once and save the compressed cache to a file "
                                 "(answer from it with `kvpress answer --cache`; docs/kv-cache-file.md)");
  add_context_options(cmd, args->context, true);
  cmd->add_option("--out", args->out, "cache file to write (replaced atomically: a temporary file next to it is "
                  "renamed into place when complete)")->required();
  cmd->callback([&action, args] {
    action = [args] {
      const ContextArgs& c = args->context;
      const PressConfig press = checked_press(c);  // validated before loading
      PrefillMeter meter = stderr_meter(c.progress.mode());
      const SessionOptions options = session_options(c, meter);
      const std::string context = read_file(c.context_file);
      const Engine engine = Engine::load(c.model, {c.threads});
      const Session session = Session::from_text(engine, context, press, options);
      for (const auto& w : session.warnings()) std::fprintf(stderr, "kvpress: warning: %s\n", w.c_str());
      const int64_t file_bytes = session.save(args->out);
      const PrefillStats& s = session.stats();
      std::printf("%s: %lld context tokens, press %s at ratio %g, kv_bytes %lld of %lld, %lld file bytes, "
                  "prefill %.0f ms\n",
                  args->out.c_str(), (long long)s.context_tokens, c.press.c_str(), c.ratio, (long long)s.kv_bytes,
                  (long long)s.kv_bytes_full, (long long)file_bytes, s.prefill_ms + s.compression_ms);
      return 0;
    };
  });
}

}  // namespace kvpress::cli
