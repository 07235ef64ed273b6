// `kvpress inspect`: which positions each layer and head kept after prefill compression (JSON, optional SVG).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "cli_common.h"
#include "core/error.h"
#include "commands.h"
#include "model/model.h"
#include "eval/eval_config.h"
#include "eval/text_utils.h"
#include "prefill_meter.h"
#include "pipeline/prefill.h"
#include "press/press_prefill.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "svg_heatmap.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::cli {

void add_inspect_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, tokens, text_file, press, svg;
    double ratio = 0.0;
    bool scores = false;
    int threads = default_threads();
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
      auto press = make_press(args->press, args->ratio);
      auto model = Model::load(args->model);
      const auto ids = tokens_opt->count() > 0 ? parse_token_list(args->tokens)
                                             : model->tokenizer().encode(read_file(args->text_file), true, false);
      ThreadPool pool(args->threads);
      KvCache cache = model->make_cache(kv_types);
      std::vector<nlohmann::json> layer_scores((size_t)model->config().n_layers);
      PrefillMeter meter = stderr_meter(args->progress.mode());
      const PrefillProgressFn on_progress = meter.callback();
      PressPrefill with_press(press.get());
      with_press.compress = [&](const LayerPrefill& layer) {
        auto* scorer = dynamic_cast<ScorerPress*>(press.get());
        if (args->scores && scorer) {
          // Score once, record, then select: the recorded scores are exactly the ones used.
          HeadScores s;
          scorer->score(layer, s);
          nlohmann::json heads = nlohmann::json::array();
          for (int64_t h = 0; h < s.n_heads_kv; ++h) heads.push_back(std::vector<float>(s.head(h), s.head(h) + s.n_tokens));
          layer_scores[layer.layer] = heads;
          if (scorer->compression_ratio() > 0) scorer->keep_top(layer, s);
        } else if (press) {
          press->compress(layer);
        }
      };
      prefill_context(*model, cache, pool, ids, with_press, on_progress);

      nlohmann::json layers = nlohmann::json::array();
      std::vector<std::vector<std::vector<int32_t>>> kept;
      for (int64_t l = 0; l < cache.n_layers(); ++l) {
        nlohmann::json heads = nlohmann::json::array();
        kept.emplace_back();
        for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
          std::vector<int32_t> p(cache.positions(l, h), cache.positions(l, h) + cache.length(l, h));
          heads.push_back(p);
          kept.back().push_back(std::move(p));
        }
        nlohmann::json entry = {{"heads", heads}};
        if (args->scores && !layer_scores[l].is_null()) entry["scores"] = layer_scores[l];
        layers.push_back(entry);
      }
      nlohmann::json out = {{"press", args->press}, {"compression_ratio", args->ratio},
                            {"n_tokens", ids.size()}, {"kv_bytes", cache.bytes()},
                            {"kv_bytes_full", (int64_t)ids.size() * model->config().kv_bytes_per_token(kv_types)},
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
