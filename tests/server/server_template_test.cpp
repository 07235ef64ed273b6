// kvpress serve on a model with a chat template (a tiny ChatML fixture): chats answer as `kvpress answer`
// on the same context and question, with the context inside the template's user turn.
#include <fstream>

#include <gtest/gtest.h>

#include "cli/cli_run.h"
#include "server/server_client.h"
#include "server/server_process.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

using nlohmann::json;

const char* kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// What a JSON response can carry of `text`: invalid UTF-8 (random weights emit stray byte tokens) replaced.
std::string as_json_text(const std::string& text) {
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

TEST(ServerChatTemplate, AnswersAsKvpressAnswerWithTheTemplate) {
  ScratchDir dir("server_template");
  TinyModelSpec spec;
  spec.arch = "qwen2";
  spec.chat_template = kChatMl;
  const std::string model = dir / "chatml.gguf";
  write_tiny_model(spec, model);
  const CliRun info = run_cli("info --model " + model);
  ASSERT_NE(info.out.find("chatml"), std::string::npos) << info.out;

  std::string ctx;
  for (int i = 0; i < 30; ++i) ctx += "the cat sat on the mat and the dog ran. ";
  const std::string q = "where did the cat sit?";
  std::ofstream(dir / "context.txt") << ctx;
  std::ofstream(dir / "context_blank.txt") << ctx << "\n\n";
  const std::string args = " --question '" + q + "' --press knorm --compression-ratio 0.5 --max-new-tokens 12 --threads 2";
  const CliRun cli = run_cli("answer --model " + model + " --context-file " + (dir / "context.txt") + args);
  const CliRun cli_blank = run_cli("answer --model " + model + " --context-file " + (dir / "context_blank.txt") + args);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  ASSERT_EQ(cli_blank.exit_code, 0) << cli_blank.err;

  ServerProcess server(KVPRESS_BIN, {"--model", model, "--threads", "2"});
  const json press = {{"press", "knorm"}, {"compression_ratio", 0.5}};
  const json a = post_json(server.port(), "/v1/chat/completions",
                           {{"max_tokens", 12}, {"kvpress", press},
                            {"messages", json::array({{{"role", "system"}, {"content", ctx}},
                                                      {{"role", "user"}, {"content", q}}})}})
                     .json();
  ASSERT_TRUE(a.contains("choices")) << a;
  EXPECT_EQ(a["choices"][0]["message"]["content"].get<std::string>() + "\n", as_json_text(cli.out));
  const json b = post_json(server.port(), "/v1/chat/completions",
                           {{"max_tokens", 12}, {"kvpress", press},
                            {"messages", json::array({{{"role", "user"}, {"content", ctx + "\n\n" + q}}})}})
                     .json();
  ASSERT_TRUE(b.contains("choices")) << b;
  EXPECT_EQ(b["choices"][0]["message"]["content"].get<std::string>() + "\n", as_json_text(cli_blank.out));
  // prompt_tokens counts the rendered prompt, template tokens included.
  EXPECT_GT(a["usage"]["prompt_tokens"].get<int64_t>(), (int64_t)ctx.size() / 8);
}

}  // namespace
}  // namespace kvpress::testing
