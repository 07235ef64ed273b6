// Chat templates: family detection from real Jinja sources and renders compared with hand-written prompts.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "test_paths.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

using Kind = ChatTemplate::Kind;
using Msgs = std::vector<ChatMessage>;

// Jinja sources as published with the models (abridged where only unused branches are cut).
const std::string kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
const std::string kLlama31 =
    "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif "
    "%}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Cutting Knowledge Date: December 2023\\n\" "
    "}}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}";
const std::string kQwen2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou "
    "are a helpful assistant<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
const std::string kChatmlPlain =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
// Qwen2.5 (tool branch abridged): the default system prompt appears after two non-literal candidates.
const std::string kQwen25 =
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        "
    "{{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.' }}\n    {%- endif %}\n    {{- \"<tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if "
    "messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
    "Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}";
const std::string kQwen3 =
    "{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}... {%- if '</think>' in content %} ... '\\n<think>\\n' ... {%- if enable_thinking is defined and "
    "enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}";
const std::string kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
    "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% "
    "endfor %}";
const std::string kMistral =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] "
    "+ ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor "
    "%}";
const std::string kPhi3Legacy =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + "
    "message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') "
    "%}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}";
const std::string kPhi35 =
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + "
    "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + "
    "'<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token "
    "}}{% endif %}";

const Msgs kSysUser = {{"system", "Be brief."}, {"user", " Hi there \n"}};
const Msgs kMultiTurn = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};

TEST(ChatTemplate, DetectsFamilies) {
  EXPECT_EQ(ChatTemplate::detect("").kind(), Kind::None);
  EXPECT_EQ(ChatTemplate::detect(kLlama3).kind(), Kind::Llama3);
  EXPECT_EQ(ChatTemplate::detect(kLlama31).kind(), Kind::Llama3);
  EXPECT_EQ(ChatTemplate::detect(kQwen2).kind(), Kind::ChatML);
  EXPECT_EQ(ChatTemplate::detect(kQwen3).kind(), Kind::Qwen3);
  EXPECT_EQ(ChatTemplate::detect(kLlama2).kind(), Kind::Llama2);
  EXPECT_EQ(ChatTemplate::detect(kMistral).kind(), Kind::Mistral);
  EXPECT_EQ(ChatTemplate::detect(kPhi3Legacy).kind(), Kind::Phi3);
  EXPECT_EQ(ChatTemplate::detect(kPhi35).kind(), Kind::Phi3);
  EXPECT_STREQ(ChatTemplate::detect(kQwen3).name(), "qwen3");
  EXPECT_THROW(ChatTemplate::detect("{{ messages[0]['content'] }}"), Error);
}

TEST(ChatTemplate, Llama3) {
  const auto t = ChatTemplate::detect(kLlama3, "<|begin_of_text|>", "<|end_of_text|>");
  EXPECT_EQ(t.apply(kSysUser, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(t.apply({{"user", "Q"}}, false), "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>");
  // The BOS text comes from the vocab.
  EXPECT_EQ(ChatTemplate::detect(kLlama3, "<BOS>").apply({{"user", "Q"}}, false).rfind("<BOS><|start_header_id|>", 0), 0u);
}

TEST(ChatTemplate, Llama31AlwaysWritesDatedSystemTurn) {
  const auto t = ChatTemplate::detect(kLlama31, "<|begin_of_text|>");
  const std::string head =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
      "Today Date: 26 Jul 2024\n\n";
  EXPECT_EQ(t.apply({{"user", "Q"}}, true), head + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
                                                   "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(t.apply(kSysUser, false), head + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                                             "Hi there<|eot_id|>");
}

TEST(ChatTemplate, ChatMLWithDefaultSystem) {
  const auto t = ChatTemplate::detect(kQwen2);
  EXPECT_EQ(t.apply({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(t.apply(kSysUser, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there \n<|im_end|>\n");
  EXPECT_EQ(ChatTemplate::detect(kQwen25).apply({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ChatTemplate::detect(kChatmlPlain).apply({{"user", "Hi"}}, true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen3KeepsOnlyCurrentThinking) {
  const auto t = ChatTemplate::detect(kQwen3);
  EXPECT_EQ(t.apply({{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // History: the earlier answer loses its <think> block; the one after the last query keeps it.
  const Msgs msgs = {{"system", "S"},
                     {"user", "Q1"},
                     {"assistant", "<think>\nr1\n</think>\n\nA1"},
                     {"user", "Q2"},
                     {"assistant", "<think>r2</think>A2"}};
  EXPECT_EQ(t.apply(msgs, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
            "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n");
}

TEST(ChatTemplate, Llama2) {
  const auto t = ChatTemplate::detect(kLlama2, "<s>", "</s>");
  EXPECT_EQ(t.apply(kMultiTurn, true),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(t.apply({{"user", " Q "}}, true), "<s>[INST] Q [/INST]");
  EXPECT_THROW(t.apply({{"user", "a"}, {"user", "b"}}, true), Error);
}

TEST(ChatTemplate, Mistral) {
  const auto t = ChatTemplate::detect(kMistral, "<s>", "</s>");
  EXPECT_EQ(t.apply({{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}}, true),
            "<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]");
  EXPECT_EQ(t.apply(kMultiTurn, true), "<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Bye [/INST]");
  EXPECT_THROW(t.apply({{"assistant", "x"}}, true), Error);
}

TEST(ChatTemplate, Phi3) {
  const auto legacy = ChatTemplate::detect(kPhi3Legacy, "<s>", "<|endoftext|>");
  EXPECT_EQ(legacy.apply(kMultiTurn, true),
            "<s><|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n");
  const auto phi35 = ChatTemplate::detect(kPhi35, "<s>", "<|endoftext|>");
  EXPECT_EQ(phi35.apply(kSysUser, true), "<|system|>\nBe brief.<|end|>\n<|user|>\n Hi there \n<|end|>\n<|assistant|>\n");
  EXPECT_EQ(phi35.apply({{"user", "Q"}}, false), "<|user|>\nQ<|end|>\n<|endoftext|>");
}

TEST(ChatTemplate, UnsupportedRoleErrorsStayOnOneLine) {
  // Found by fuzz_chat_template: the role was quoted raw, so a newline in it split the message.
  for (const auto kind : {ChatTemplate::Kind::Qwen3, ChatTemplate::Kind::Phi3}) {
    try {
      ChatTemplate::of_kind(kind).apply({{"tool\nx", "c"}}, true);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("role 'tool\\nx' is not supported"), std::string::npos) << e.what();
    }
  }
}

TEST(ChatTemplate, OfKindDefaults) {
  EXPECT_EQ(ChatTemplate::of_kind(Kind::Llama3).apply({{"user", "Q"}}, false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>");
  EXPECT_EQ(ChatTemplate::of_kind(Kind::Mistral).apply({{"user", "Q"}}, true), "<s>[INST] Q [/INST]");
  EXPECT_EQ(ChatTemplate::of_kind(Kind::None).apply({{"user", "a"}, {"user", "b"}}, true), "a\nb");
}

// Templates stored in the shared vocab GGUFs render as their families do.
TEST(ChatTemplate, SharedVocabTemplates) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const auto read = [](const char* name) {
    const auto file = gguf::GgufFile::open((testing::shared_dir() / "vocab" / name).string());
    const Vocab v = Vocab::from_gguf(file);
    return ChatTemplate::detect(v.chat_template, v.tokens[(size_t)v.bos_id], v.tokens[(size_t)v.eos_id]);
  };
  const auto qwen = read("ggml-vocab-qwen2.gguf");
  EXPECT_EQ(qwen.kind(), Kind::ChatML);
  EXPECT_EQ(qwen.apply({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  const auto phi3 = read("ggml-vocab-phi-3.gguf");
  EXPECT_EQ(phi3.kind(), Kind::Phi3);
  EXPECT_EQ(phi3.apply({{"user", "Hi"}}, true), "<s><|user|>\nHi<|end|>\n<|assistant|>\n");
}

}  // namespace
}  // namespace kvpress
