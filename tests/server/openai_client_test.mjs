// kvpress serve through the official `openai` npm client: models, chat, streaming, a press per request,
// a prefix-store hit on the second request (same text, faster), text completions, and errors.
// Run by run_openai_test.sh, which starts the server and sets KVPRESS_BASE_URL.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.KVPRESS_BASE_URL, apiKey: "unused", maxRetries: 0 });
const essay = readFileSync(new URL("../../data/paul_graham_essays/avg.txt", import.meta.url), "utf8");
const context = essay.slice(0, 2500) + " The special magic number for lemon is 6061. " + essay.slice(2500, 5000);
const question = "What is the special magic number for lemon?";
const messages = [{ role: "system", content: context }, { role: "user", content: question }];
const press = { press: "expected_attention", compression_ratio: 0.5 };
let passed = 0;
async function check(name, fn) {
  await fn();
  passed += 1;
  console.log(`ok - ${name}`);
}

await check("models lists the served model", async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].id, "kvpress-needle-2m");
});

let firstText;
await check("chat with a press per request; the second request hits the prefix store, faster, same text", async () => {
  const t0 = performance.now();
  const first = await client.chat.completions.create({ model: "kvpress-needle-2m", messages, max_tokens: 16, kvpress: press });
  const t1 = performance.now();
  const second = await client.chat.completions.create({ model: "kvpress-needle-2m", messages, max_tokens: 16, kvpress: press });
  const t2 = performance.now();
  assert.equal(first.object, "chat.completion");
  assert.equal(first.choices[0].message.role, "assistant");
  assert.equal(first.usage.kvpress.press, "expected_attention");
  assert.equal(first.usage.kvpress.compression_ratio, 0.5);
  assert.ok(first.usage.kvpress.kv_bytes < first.usage.kvpress.kv_bytes_full);
  assert.equal(first.usage.kvpress.prefix_cache_hit, false);
  assert.equal(second.usage.kvpress.prefix_cache_hit, true);
  assert.equal(second.choices[0].message.content, first.choices[0].message.content);
  console.log(`  first ${(t1 - t0).toFixed(1)} ms, second ${(t2 - t1).toFixed(1)} ms`);
  assert.ok(t2 - t1 < t1 - t0, "the second request should be faster");
  firstText = first.choices[0].message.content;
});

await check("streaming gives the same text as chunks, then usage", async () => {
  const stream = await client.chat.completions.create({ model: "x", messages, max_tokens: 16, kvpress: press,
                                                        stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) {
      text += chunk.choices[0].delta.content ?? "";
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, firstText);
  assert.ok(finish === "stop" || finish === "length");
  assert.equal(usage.kvpress.prefix_cache_hit, true);
});

await check("text completions", async () => {
  const c = await client.completions.create({ model: "x", prompt: context, max_tokens: 8,
                                              kvpress: { press: "knorm", compression_ratio: 0.25 } });
  assert.equal(c.object, "text_completion");
  assert.equal(typeof c.choices[0].text, "string");
  assert.equal(c.usage.kvpress.press, "knorm");
});

await check("an unknown press is a 400 BadRequestError with the library's message", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "x", messages, kvpress: { press: "nope", compression_ratio: 0.5 } }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === "invalid_press" && /nope/.test(e.message));
});

await check("a ratio out of range is a 400", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "x", messages, kvpress: { press: "knorm", compression_ratio: 1 } }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === "invalid_compression_ratio");
});

await check("a client aborting a stream leaves the server healthy", async () => {
  const controller = new AbortController();
  const stream = await client.completions.create({ model: "x", prompt: essay.slice(0, 1500), max_tokens: 1500, stream: true },
                                                 { signal: controller.signal });
  let n = 0;
  try {
    for await (const _ of stream) if (++n === 2) controller.abort();
  } catch (e) {
    assert.ok(e.name === "AbortError" || e instanceof OpenAI.APIUserAbortError, String(e));
  }
  const health = await fetch(process.env.KVPRESS_BASE_URL.replace(/\/v1$/, "/health"));
  assert.equal(health.status, 200);
  const again = await client.chat.completions.create({ model: "x", messages, max_tokens: 16, kvpress: press });
  assert.equal(again.choices[0].message.content, firstText);
});

const { version } = JSON.parse(readFileSync(new URL("./node_modules/openai/package.json", import.meta.url), "utf8"));
console.log(`openai ${version}: ${passed} checks passed`);
