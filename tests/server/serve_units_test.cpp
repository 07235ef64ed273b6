// The server's parts without HTTP: chat rendering, request defaults, the prefix store's LRU budget, and
// text streaming (whole UTF-8 characters, stop sequences).
#include <gtest/gtest.h>

#include "kvpress/engine.h"
#include "serve/api_error.h"
#include "serve/chat_rendering.h"
#include "serve/completion_request.h"
#include "serve/prefix_store.h"
#include "serve/text_stream.h"
#include "test_paths.h"

namespace kvpress::serve {
namespace {

TEST(RenderChat, ContextIsEverythingBeforeTheQuestion) {
  auto r = render_chat({{"system", "DOC"}, {"user", "Q?"}});
  EXPECT_EQ(r.context, "DOC");
  EXPECT_EQ(r.question, "Q?");
  r = render_chat({{"user", "DOC\n\nmore\n\nQ?"}});
  EXPECT_EQ(r.context, "DOC\n\nmore\n\n");
  EXPECT_EQ(r.question, "Q?");
  r = render_chat({{"user", "just a prompt"}});
  EXPECT_EQ(r.context, "just a prompt");
  EXPECT_EQ(r.question, "");
  r = render_chat({{"system", "S"}, {"user", "D"}, {"assistant", "A"}, {"user", "E\n\nQ"}});
  EXPECT_EQ(r.context, "S\n\nD\n\nA\n\nE\n\n");
  EXPECT_EQ(r.question, "Q");
  r = render_chat({{"system", ""}, {"user", "Q"}});  // empty messages add no blank line
  EXPECT_EQ(r.context, "Q");
  EXPECT_THROW(render_chat({{"system", "S"}}), ApiError);
}

TEST(CompletionRequest, DefaultsAndThePartialExtensionField) {
  const RequestDefaults defaults{PressConfig::from_spec("knorm", 0.25), 99};
  auto r = parse_completion_request(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                       {"type": "text", "text": "b"}]}]})", Endpoint::Chat, defaults);
  EXPECT_EQ(r.chat.context, "ab");
  EXPECT_EQ(r.max_tokens, 99);
  EXPECT_FALSE(r.max_tokens_given);
  EXPECT_EQ(r.sampling.temperature, 0.0f);  // greedy unless asked
  EXPECT_EQ(r.press.spec(), "knorm");
  EXPECT_EQ(r.press.compression_ratio(), 0.25);
  r = parse_completion_request(R"({"prompt": ["x"], "kvpress": {"press": "tova"}, "stop": "\n", "max_tokens": 5})",
                               Endpoint::Completion, defaults);
  EXPECT_EQ(r.prompt, "x");
  EXPECT_EQ(r.press.spec(), "tova");
  EXPECT_EQ(r.press.compression_ratio(), 0.25);  // the server's ratio
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.max_tokens, 5);
  try {
    parse_completion_request(R"({"prompt": "x", "kvpress": {"press": "snapkv:window=3", "compression_ratio": 0.5}})",
                             Endpoint::Completion, defaults);
    FAIL() << "a bad press parameter was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "invalid_press");
    EXPECT_NE(std::string(e.what()).find("window"), std::string::npos) << e.what();
  }
}

TEST(PrefixStore, DropsLeastRecentlyUsedSessionsPastTheBudget) {
  PrefixStore store(100);
  auto a = store.find_or_add("a");
  store.settle("a", a, 40, 80);
  auto b = store.find_or_add("b");
  store.settle("b", b, 40, 80);
  EXPECT_EQ(store.find_or_add("a"), a);  // a is now the most recently used
  auto c = store.find_or_add("c");
  auto pending = store.find_or_add("pending");  // being prefilled: 0 bytes, never a victim
  store.settle("c", c, 40, 80);                 // 120 > 100: b goes
  StoreTotals t = store.totals();
  EXPECT_EQ(t.n_sessions, 2);
  EXPECT_EQ(t.kv_bytes, 80);
  EXPECT_EQ(t.kv_bytes_full, 160);
  EXPECT_NE(store.find_or_add("b"), b);  // a new, empty entry
  EXPECT_EQ(store.find_or_add("pending"), pending);
  auto big = store.find_or_add("big");
  store.settle("big", big, 101, 200);  // larger than the whole budget: not kept, nothing evicted
  EXPECT_EQ(store.totals().kv_bytes, 80);
  EXPECT_NE(store.find_or_add("big"), big);
  store.drop("a", a);
  EXPECT_EQ(store.totals().kv_bytes, 40);
  EXPECT_EQ(store.totals().n_sessions, 1);
  store.settle("a", a, 40, 80);  // settling a dropped entry does nothing
  EXPECT_EQ(store.totals().kv_bytes, 40);
}

TEST(TextStream, SendsWholeCharactersAndCutsAtStopSequences) {
  const Engine engine = Engine::load((testing::source_dir() / "models/kvpress-needle-2m.gguf").string(), {1});
  const std::string text = "héllo wörld, ünïcode → done. STOP here";
  const std::vector<int32_t> ids = engine.tokenize(text, false);
  TextStream all(engine, {});
  std::string joined;
  for (int32_t id : ids) {
    const std::string piece = all.push(id);
    joined += piece;
    // Every piece is whole UTF-8: it never ends with a lead byte missing its continuation bytes.
    if (!piece.empty()) {
      EXPECT_LT((unsigned char)piece.back(), 0xC0) << "piece ends with a lead byte";
    }
  }
  joined += all.flush();
  EXPECT_EQ(joined, engine.detokenize(ids));
  TextStream stopping(engine, {"STOP", "zzz"});
  std::string sent;
  for (int32_t id : ids) {
    sent += stopping.push(id);
    if (stopping.stopped()) break;
  }
  EXPECT_TRUE(stopping.stopped());
  EXPECT_EQ(sent, engine.detokenize(ids).substr(0, engine.detokenize(ids).find("STOP")));
  EXPECT_EQ(stopping.text(), sent);
}

}  // namespace
}  // namespace kvpress::serve
