// `kvpress info`: what a GGUF model is (architecture, sizes, weight types, tokenizer, KV bytes per token).
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "commands.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::cli {

void add_info_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Describe a GGUF model");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->callback([&action, args] {
    action = [args] {
      auto model = Model::load(args->model);
      const auto& c = model->config();
      const auto& v = model->tokenizer().vocab();
      std::map<std::string, int64_t> type_counts;
      int64_t weight_bytes = 0;
      for (const auto& t : model->file().tensors()) {
        ++type_counts[std::string(ggml_type_name(t.type))];
        weight_bytes += (int64_t)t.n_bytes;
      }
      const auto tmpl = ChatTemplate::detect(v.chat_template, v.bos_id >= 0 ? v.tokens[v.bos_id] : "",
                                             v.eos_id >= 0 ? v.tokens[v.eos_id] : "");
      nlohmann::ordered_json j = {
          {"file", args->model}, {"architecture", c.arch}, {"name", c.name}, {"gguf_version", model->file().version()},
          {"n_vocab", c.n_vocab}, {"n_embd", c.n_embd}, {"n_layers", c.n_layers}, {"n_heads", c.n_heads},
          {"n_heads_kv", c.n_heads_kv}, {"head_dim", c.head_dim}, {"n_ff", c.n_ff}, {"context_length", c.n_ctx_train},
          {"rope_base", c.rope_base}, {"rope_style", c.rope_style == RopeStyle::Adjacent ? "adjacent" : "halves"},
          {"rope_freq_factors", !model->weights().rope_freq_factors.empty()}, {"rms_eps", c.rms_eps},
          {"qkv_bias", c.qkv_bias}, {"qk_norm", c.qk_norm},
          {"tied_output", model->weights().output.data == model->weights().token_embd.data},
          {"weight_types", type_counts}, {"weight_bytes", weight_bytes},
          {"tokenizer", {{"model", v.model}, {"pre", v.pre}, {"bos_id", v.bos_id}, {"eos_id", v.eos_id},
                         {"add_bos", v.add_bos}}},
          {"chat_template", tmpl.name()},
          {"kv_bytes_per_token", c.kv_bytes_per_token()},
      };
      // Per storage type (keys and values alike); quantized types need head_dim to fit their blocks.
      nlohmann::ordered_json by_type;
      for (KvType t : {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0})
        if (c.head_dim % traits_of(ggml_type_of(t)).block_size == 0)
          by_type[std::string(kv_type_name(t))] = c.kv_bytes_per_token({t, t});
      j["kv_bytes_per_token_by_type"] = by_type;
      if (args->json) {
        std::printf("%s\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
        return 0;
      }
      for (auto it = j.begin(); it != j.end(); ++it)
        std::printf("%-18s %s\n", it.key().c_str(), it.value().is_string() ? it.value().get<std::string>().c_str()
                                                                          : it.value().dump().c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
