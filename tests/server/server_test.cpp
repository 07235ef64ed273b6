// kvpress serve over HTTP: every endpoint, streaming, per-request presses, prefix reuse, stop sequences,
// the bad-request matrix, a client hanging up, and `kvpress answer`'s text for the same context.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "cli/cli_run.h"
#include "server/server_client.h"
#include "server/server_process.h"
#include "test_paths.h"

namespace kvpress::testing {
namespace {

using nlohmann::json;

const std::string kModel = (source_dir() / "models/kvpress-needle-2m.gguf").string();

// A context of the kind the default model was trained on: essay text with a needle in it.
std::string needle_context(const std::string& key = "apple", int number = 4512) {
  std::ifstream in(source_dir() / "data/paul_graham_essays/avg.txt");
  std::string essay((std::istreambuf_iterator<char>(in)), {});
  essay = essay.substr(0, 1500);
  return essay.substr(0, 700) + " The special magic number for " + key + " is " + std::to_string(number) + ". " +
         essay.substr(700);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(KVPRESS_BIN, std::vector<std::string>{
        "--model", kModel, "--parallel", "2", "--threads", "2", "--max-body", "1MiB", "--max-tokens", "32"});
  }
  int port() const { return server_->port(); }
  json chat(const json& body) {
    const HttpReply r = post_json(port(), "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  static json chat_body(const std::string& system, const std::string& user, const json& press = nullptr) {
    json body = {{"model", "kvpress-needle-2m"}, {"max_tokens", 20},
                 {"messages", json::array({{{"role", "system"}, {"content", system}},
                                           {{"role", "user"}, {"content", user}}})}};
    if (!press.is_null()) body["kvpress"] = press;
    return body;
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerTest, HealthModelsAndMetricsAnswer) {
  const HttpReply health = http_get(port(), "/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  EXPECT_EQ(health.json()["slots"], 2);
  const json models = http_get(port(), "/v1/models").json();
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "kvpress-needle-2m");
  const HttpReply metrics = http_get(port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* name : {"kvpress_requests_total{endpoint=\"chat\"} 0", "kvpress_kv_bytes_held 0",
                           "kvpress_kv_bytes_saved 0", "kvpress_completion_tokens_total 0", "# TYPE kvpress_slots gauge"})
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name << "\n" << metrics.body;
}

TEST_F(ServerTest, ChatCompletionHasOpenAiShapeAndKvpressUsage) {
  const json r = chat(chat_body(needle_context(), "What is the special magic number for apple?",
                                {{"press", "knorm"}, {"compression_ratio", 0.5}}));
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "kvpress-needle-2m");
  EXPECT_TRUE(r["id"].get<std::string>().starts_with("chatcmpl-"));
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(r["choices"][0]["message"]["content"].is_string());
  const std::string finish = r["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
  const json& u = r["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 100);
  EXPECT_GT(u["completion_tokens"].get<int>(), 0);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_EQ(u["kvpress"]["press"], "knorm");
  EXPECT_EQ(u["kvpress"]["compression_ratio"], 0.5);
  EXPECT_FALSE(u["kvpress"]["prefix_cache_hit"].get<bool>());
  const int64_t kv = u["kvpress"]["kv_bytes"], full = u["kvpress"]["kv_bytes_full"];
  EXPECT_GT(kv, 0);
  EXPECT_LT(kv, full * 6 / 10);  // half of the pairs removed
}

TEST_F(ServerTest, PressIsChosenPerRequest) {
  const std::string ctx = needle_context("pear", 777);
  const json none = chat(chat_body(ctx, "What is the special magic number for pear?"));
  EXPECT_EQ(none["usage"]["kvpress"]["press"], "none");
  EXPECT_EQ(none["usage"]["kvpress"]["kv_bytes"], none["usage"]["kvpress"]["kv_bytes_full"]);
  const json snap = chat(chat_body(ctx, "What is the special magic number for pear?",
                                   {{"press", "snapkv:window_size=16"}, {"compression_ratio", 0.75}}));
  EXPECT_EQ(snap["usage"]["kvpress"]["press"], "snapkv:window_size=16");
  EXPECT_FALSE(snap["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());  // another press: another entry
  EXPECT_LT(snap["usage"]["kvpress"]["kv_bytes"].get<int64_t>(), none["usage"]["kvpress"]["kv_bytes"].get<int64_t>() / 3);
}

TEST_F(ServerTest, APressThatCompressesWhileDecodingIsNeverReused) {
  // kvpress answers one question per decoding-press context: every request prefills its own.
  const json press = {{"press", "decoding(knorm):compression_interval=4,target_size=64"}, {"compression_ratio", 0.0}};
  const json body = chat_body(needle_context("grape", 6), "What is the special magic number for grape?", press);
  const json first = chat(body), second = chat(body);
  EXPECT_FALSE(first["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_FALSE(second["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_EQ(first["choices"][0]["message"]["content"], second["choices"][0]["message"]["content"]);
  EXPECT_NE(http_get(port(), "/metrics").body.find("kvpress_prefix_sessions 0"), std::string::npos);
}

TEST_F(ServerTest, SecondRequestWithTheSameContextHitsThePrefixStore) {
  const std::string ctx = needle_context("plum", 31337);
  const json press = {{"press", "expected_attention"}, {"compression_ratio", 0.5}};
  const json first = chat(chat_body(ctx, "What is the special magic number for plum?", press));
  const json second = chat(chat_body(ctx, "What is the special magic number for plum?", press));
  EXPECT_FALSE(first["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_TRUE(second["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_EQ(first["choices"][0]["message"]["content"], second["choices"][0]["message"]["content"]);
  EXPECT_EQ(first["usage"]["kvpress"]["kv_bytes"], second["usage"]["kvpress"]["kv_bytes"]);
  // Another question on the same context reuses it too.
  const json other = chat(chat_body(ctx, "Which fruit has a magic number?", press));
  EXPECT_TRUE(other["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  const std::string metrics = http_get(port(), "/metrics").body;
  EXPECT_NE(metrics.find("kvpress_prefix_cache_hits_total 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kvpress_prefix_sessions 1"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("kvpress_kv_bytes_saved 0\n"), std::string::npos) << metrics;
}

TEST_F(ServerTest, AnswersAsKvpressAnswerDoes) {
  ScratchDir dir("server_answer");
  const std::string ctx = needle_context("fig", 2024), q = "What is the special magic number for fig?";
  std::ofstream(dir / "context.txt") << ctx;
  std::ofstream(dir / "context_blank.txt") << ctx << "\n\n";
  const CliRun cli = run_cli("answer --model " + kModel + " --context-file " + (dir / "context.txt") +
                             " --question '" + q + "' --press snapkv --compression-ratio 0.5 --max-new-tokens 20 --threads 2");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  ASSERT_GT(cli.out.size(), 1u) << "kvpress answer gave an empty answer";
  const CliRun cli_blank = run_cli("answer --model " + kModel + " --context-file " + (dir / "context_blank.txt") +
                                   " --question '" + q + "' --press snapkv --compression-ratio 0.5 --max-new-tokens 20 --threads 2");
  ASSERT_EQ(cli_blank.exit_code, 0) << cli_blank.err;
  const json press = {{"press", "snapkv"}, {"compression_ratio", 0.5}};
  // system = context, user = question
  const json a = chat(chat_body(ctx, q, press));
  EXPECT_EQ(a["choices"][0]["message"]["content"].get<std::string>() + "\n", cli.out);
  // one user message "CONTEXT\n\nQUESTION" = a context ending in a blank line, then the question
  json one = {{"max_tokens", 20}, {"kvpress", press},
              {"messages", json::array({{{"role", "user"}, {"content", ctx + "\n\n" + q}}})}};
  const json b = chat(one);
  EXPECT_EQ(b["choices"][0]["message"]["content"].get<std::string>() + "\n", cli_blank.out);
}

TEST_F(ServerTest, StreamingSendsTheSameTextAsEvents) {
  const json body = chat_body(needle_context("kiwi", 99), "What is the special magic number for kiwi?",
                              {{"press", "tova"}, {"compression_ratio", 0.25}});
  const json whole = chat(body);
  const StreamReply s = post_stream(port(), "/v1/chat/completions", body);
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(s.done);
  ASSERT_GE(s.events.size(), 2u);
  EXPECT_EQ(s.events.front()["object"], "chat.completion.chunk");
  EXPECT_EQ(s.events.front()["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(s.text, whole["choices"][0]["message"]["content"].get<std::string>());
  const json& last = s.events.back();
  EXPECT_EQ(last["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
  EXPECT_TRUE(last["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_EQ(last["usage"]["completion_tokens"], whole["usage"]["completion_tokens"]);
}

TEST_F(ServerTest, TextCompletionsWholeAndStreamed) {
  const json body = {{"prompt", needle_context("lime", 5)}, {"max_tokens", 16},
                     {"kvpress", {{"press", "streaming_llm"}, {"compression_ratio", 0.5}}}};
  const HttpReply r = post_json(port(), "/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("cmpl-"));
  EXPECT_TRUE(j["choices"][0]["text"].is_string());
  const StreamReply s = post_stream(port(), "/v1/completions", body);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.text, j["choices"][0]["text"].get<std::string>());
  EXPECT_TRUE(s.events.back()["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  // A one-token prompt has nothing to store; it is still answered.
  const HttpReply tiny = post_json(port(), "/v1/completions", {{"prompt", "a"}, {"max_tokens", 4}});
  EXPECT_EQ(tiny.status, 200) << tiny.body;
}

TEST_F(ServerTest, StopSequenceEndsTheTextBeforeIt) {
  json body = chat_body(needle_context("date", 8), "Tell me about the essay.");
  body["max_tokens"] = 32;
  const std::string full = chat(body)["choices"][0]["message"]["content"];
  ASSERT_GE(full.size(), 6u) << "the model answered too little to cut: '" << full << "'";
  const std::string stop = full.substr(full.size() / 2, 3);
  body["stop"] = json::array({stop, "never-appears"});
  const json cut = chat(body);
  const std::string text = cut["choices"][0]["message"]["content"];
  EXPECT_EQ(text, full.substr(0, full.find(stop)));
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
  const StreamReply s = post_stream(port(), "/v1/chat/completions", body);
  EXPECT_EQ(s.text, text);
}

TEST_F(ServerTest, SamplingIsReproducibleWithASeed) {
  json body = chat_body(needle_context("yam", 3), "Say something.");
  body["temperature"] = 1.0;
  body["top_p"] = 0.9;
  body["seed"] = 1234;
  const json a = chat(body), b = chat(body);
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
}

TEST_F(ServerTest, BadRequestsGetOpenAiErrorsAndTheServerStaysUp) {
  const std::string ok_messages = R"("messages": [{"role": "user", "content": "hi"}])";
  struct Case {
    std::string path, body;
    int status;
    std::string code;
  };
  std::string huge_prompt;  // far more tokens than the model's context
  for (int i = 0; i < 4000; ++i) huge_prompt += "word" + std::to_string(i) + " ";
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "{not json", 400, "invalid_json"},
      {"/v1/chat/completions", "[1, 2]", 400, "invalid_json"},
      {"/v1/chat/completions", "{}", 400, "missing_field"},
      {"/v1/chat/completions", R"({"messages": []})", 400, "invalid_request"},
      {"/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "hi"}]})", 400, "invalid_request"},
      {"/v1/chat/completions", R"({"messages": [{"role": "system", "content": "hi"}]})", 400, "invalid_messages"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": {"press": "no_such_press", "compression_ratio": 0.5}})", 400, "invalid_press"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": {"press": "knorm", "compression_ratio": 1.5}})", 400, "invalid_compression_ratio"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": {"press": "knorm", "compression_ratio": -0.1}})", 400, "invalid_compression_ratio"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": {"press": "snapkv:window_size=oops", "compression_ratio": 0.5}})", 400, "invalid_press"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": {"pres": "knorm"}})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "kvpress": "knorm"})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "temperature": 3})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "top_p": 0})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "max_tokens": 0})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "max_tokens": "ten"})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "n": 2})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "stop": ["a", "b", "c", "d", "e"]})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "stream": "yes"})", 400, "invalid_request"},
      {"/v1/chat/completions", "{" + ok_messages + R"(, "max_tokens": 100000000})", 400, "context_length_exceeded"},
      {"/v1/completions", R"({"prompt": 42})", 400, "invalid_request"},
      {"/v1/completions", R"({"prompt": ")" + huge_prompt + R"("})", 400, "context_length_exceeded"},
      {"/v1/completions", R"({"prompt": ")" + std::string(2 << 20, 'y') + R"("})", 413, "payload_too_large"},
      {"/v1/nothing", "{}", 404, "not_found"},
  };
  for (const auto& c : cases) {
    const HttpReply r = http_post(port(), c.path, c.body);
    const std::string what = c.path + " " + c.body.substr(0, 120);
    EXPECT_EQ(r.status, c.status) << what << " -> " << r.body.substr(0, 300);
    const json j = r.json();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << what << " -> " << r.body.substr(0, 300);
    EXPECT_EQ(j["error"]["code"], c.code) << what << " -> " << r.body.substr(0, 300);
    EXPECT_TRUE(j["error"]["message"].is_string() && !j["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(j["error"]["type"].is_string());
  }
  EXPECT_EQ(http_get(port(), "/health").status, 200);
  const HttpReply after = post_json(port(), "/v1/chat/completions", chat_body("context", "question?"));
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_NE(http_get(port(), "/metrics").body.find("kvpress_request_client_errors_total " +
                                                   std::to_string(cases.size())), std::string::npos);
}

TEST_F(ServerTest, ClientHangingUpMidStreamCancelsItsWork) {
  // Long generations; the client reads two events and goes away.
  json body = {{"prompt", needle_context("cherry", 12)}, {"max_tokens", 1500}};
  for (int i = 0; i < 3; ++i) {
    const StreamReply s = post_stream(port(), "/v1/completions", body, [](size_t n) { return n < 2; });
    EXPECT_FALSE(s.done);
  }
  // The server notices at the next token, frees the slot and counts the cancellation.
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = http_get(port(), "/metrics").body;
    if (metrics.find("kvpress_requests_cancelled_total 3") != std::string::npos &&
        metrics.find("kvpress_slots_busy 0") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(metrics.find("kvpress_requests_cancelled_total 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kvpress_slots_busy 0"), std::string::npos) << metrics;
  // The stored context was restored after the cancelled questions: a full answer on it equals a fresh one.
  body["max_tokens"] = 12;
  const json reused = post_json(port(), "/v1/completions", body).json();
  EXPECT_TRUE(reused["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  body["kvpress"] = {{"press", "knorm"}, {"compression_ratio", 0.0}};  // removes nothing, but another entry
  const json fresh = post_json(port(), "/v1/completions", body).json();
  EXPECT_FALSE(fresh["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_EQ(fresh["choices"][0]["text"], reused["choices"][0]["text"]);
  EXPECT_EQ(http_get(port(), "/health").status, 200);
}

TEST_F(ServerTest, RequestsBeyondTheSlotsWaitInTheQueue) {
  // Three long generations on two slots: two run, one waits; then every client hangs up.
  const json body = {{"prompt", needle_context("melon", 1)}, {"max_tokens", 1500}};
  std::atomic<bool> hang_up{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i)
    clients.emplace_back([&] {  // again and again, in case an answer ends early
      while (!hang_up) post_stream(port(), "/v1/completions", body, [&](size_t) { return !hang_up.load(); });
    });
  json health;
  for (int i = 0; i < 500; ++i) {
    health = http_get(port(), "/health").json();
    if (health["slots_busy"] == 2 && health["queued"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  hang_up = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(health["slots_busy"], 2) << health;
  EXPECT_EQ(health["queued"], 1) << health;
  for (int i = 0; i < 100 && http_get(port(), "/health").json()["slots_busy"] != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(http_get(port(), "/health").json()["slots_busy"], 0);
}

TEST(ServerPreload, ACacheSavedByKvpressCompressAnswersTheFirstRequest) {
  ScratchDir dir("server_preload");
  const std::string ctx = needle_context("peach", 808), q = "What is the special magic number for peach?";
  std::ofstream(dir / "context.txt") << ctx;
  const CliRun saved = run_cli("compress --model " + kModel + " --context-file " + (dir / "context.txt") +
                               " --press snapkv --compression-ratio 0.5 --threads 2 --quiet --out " + (dir / "ctx.kvc"));
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  const CliRun cli = run_cli("answer --model " + kModel + " --context-file " + (dir / "context.txt") + " --question '" +
                             q + "' --press snapkv --compression-ratio 0.5 --max-new-tokens 20 --threads 2");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  ServerProcess server(KVPRESS_BIN, {"--model", kModel, "--threads", "2", "--preload", dir / "ctx.kvc"});
  const json body = {{"max_tokens", 20}, {"kvpress", {{"press", "snapkv"}, {"compression_ratio", 0.5}}},
                     {"messages", json::array({{{"role", "system"}, {"content", ctx}}, {{"role", "user"}, {"content", q}}})}};
  const json r = post_json(server.port(), "/v1/chat/completions", body).json();
  ASSERT_TRUE(r.contains("usage")) << r;
  EXPECT_TRUE(r["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  EXPECT_EQ(r["choices"][0]["message"]["content"].get<std::string>() + "\n", cli.out);
  // Another press: not the preloaded context.
  json other = body;
  other["kvpress"]["press"] = "knorm";
  EXPECT_FALSE(post_json(server.port(), "/v1/chat/completions", other).json()["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
  // A server storing its caches as q8_0 does not answer from the preloaded f16 cache.
  ServerProcess q8(KVPRESS_BIN, {"--model", kModel, "--threads", "2", "--kv-type", "q8_0", "--preload", dir / "ctx.kvc"});
  EXPECT_FALSE(post_json(q8.port(), "/v1/chat/completions", body).json()["usage"]["kvpress"]["prefix_cache_hit"].get<bool>());
}

}  // namespace
}  // namespace kvpress::testing
