// `kvpress inspect`: which positions each layer and head kept after prefill compression (JSON, optional SVG).
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "core/error.h"
#include "commands.h"
#include "eval/eval_config.h"
#include "eval/text_utils.h"
#include "kvpress/session.h"
#include "prefill_meter.h"
#include "svg_heatmap.h"

namespace kvpress::cli {

void add_inspect_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, tokens, text_file, press, svg;
    double ratio = 0.0;
    bool scores = false;
    int threads = default_threads();
    int64_t question_tokens = 0;
    KvTypeArgs kv;
    ProgressArgs progress;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("inspect", "Show the positions a press keeps in every layer and KV head");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  auto* tokens_opt = cmd->add_option("--tokens", args->tokens, "comma-separated token ids (used as given)");
  auto* text_opt = cmd->add_option("--text-file", args->text_file, "text file (tokenized without template, BOS per vocab)");
  tokens_opt->excludes(text_opt);
  cmd->add_option("--press", args->press, "press specification")->required();
  cmd->add_option("--question-tokens", args->question_tokens,
                  "the last N tokens are the question (query-aware): finch reads them as its window, other presses compress them with the context")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--compression-ratio", args->ratio, "fraction of KV pairs removed, in [0, 1)")->required();
  cmd->add_flag("--scores", args->scores, "add each head's raw scores before selection (scorer presses)");
  cmd->add_option("--svg", args->svg, "also draw a layers x positions heatmap of kept entries to this file");
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  add_kv_type_options(cmd, args->kv);
  add_progress_options(cmd, args->progress);
  cmd->callback([&action, args, tokens_opt, text_opt] {
    action = [args, tokens_opt, text_opt] {
      const KvTypes kv_types = args->kv.resolve();
      if (tokens_opt->count() == 0 && text_opt->count() == 0) fail("inspect needs --tokens or --text-file");
      if (tokens_opt->count() > 0 && text::strip(args->tokens).empty())
        fail("--tokens is empty (expected comma-separated token ids like 1,2,3)");
      const PressConfig press = PressConfig::from_spec(args->press, args->ratio);
      const Engine engine = Engine::load(args->model, {args->threads});
      const auto ids = tokens_opt->count() > 0 ? parse_token_list(args->tokens)
                                             : engine.tokenize(read_file(args->text_file), true, false);
      PrefillMeter meter = stderr_meter(args->progress.mode());
      SessionOptions opts;
      opts.kv_types = kv_types;
      opts.record_scores = args->scores;
      opts.question_tokens = args->question_tokens;
      opts.on_prefill_progress = meter.callback();
      const Session session = Session::from_tokens(engine, ids, press, opts);

      nlohmann::json layers = nlohmann::json::array();
      std::vector<std::vector<std::vector<int32_t>>> kept;
      for (int64_t l = 0; l < session.n_layers(); ++l) {
        nlohmann::json heads = nlohmann::json::array();
        kept.emplace_back();
        for (int64_t h = 0; h < session.n_heads_kv(); ++h) {
          std::vector<int32_t> p = session.kept_positions(l, h);
          heads.push_back(p);
          kept.back().push_back(std::move(p));
        }
        nlohmann::json entry = {{"heads", heads}};
        const std::vector<float> scores = session.scores(l);
        if (!scores.empty()) {
          nlohmann::json per_head = nlohmann::json::array();
          const size_t n = ids.size();
          for (size_t h = 0; h < scores.size() / n; ++h)
            per_head.push_back(std::vector<float>(scores.begin() + h * n, scores.begin() + (h + 1) * n));
          entry["scores"] = per_head;
        }
        layers.push_back(entry);
      }
      const PrefillStats& stats = session.stats();
      nlohmann::json out = {{"press", args->press}, {"compression_ratio", args->ratio},
                            {"n_tokens", ids.size()}, {"kv_bytes", stats.kv_bytes},
                            {"kv_bytes_full", stats.kv_bytes_full},
                            {"kv_type_k", kv_type_name(kv_types.k)}, {"kv_type_v", kv_type_name(kv_types.v)},
                            {"layers", layers}};
      std::printf("%s\n", out.dump().c_str());
      if (!args->svg.empty()) {
        std::ofstream f(args->svg);
        if (!f) fail(args->svg, ": cannot write file");
        f << kept_heatmap_svg(kept, (int64_t)ids.size(), args->press + " @ " + eval::ratio_key(args->ratio));
      }
      return 0;
    };
  });
}

}  // namespace kvpress::cli
