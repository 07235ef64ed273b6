// `kvpress tokenize`: token ids of a text file, space-separated on one line.
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::cli {

void add_tokenize_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, text_file;
    bool add_special = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text file");
  cmd->add_option("--model", args->model, "GGUF model or vocab file")->required();
  cmd->add_option("--text-file", args->text_file, "text to tokenize (whole file content)")->required();
  cmd->add_flag("--add-special", args->add_special, "add BOS/EOS as the vocab says and parse special-token text");
  cmd->callback([&action, args] {
    action = [args] {
      const std::string text = read_file(args->text_file);
      // Only the vocabulary is needed: vocab-only GGUF files work too.
      const auto file = gguf::GgufFile::open(args->model);
      const Tokenizer tok(Vocab::from_gguf(file));
      const auto ids = tok.encode(text, args->add_special, args->add_special);
      std::string line;
      for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
      std::printf("%s\n", line.c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
