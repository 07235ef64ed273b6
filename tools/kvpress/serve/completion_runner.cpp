// CompletionRunner: the prefix store, slots and the generation loop behind the completion endpoints.
#include "serve/completion_runner.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "kvpress/session.h"
#include "serve/api_error.h"
#include "serve/openai_json.h"
#include "serve/text_stream.h"

namespace kvpress::serve {

namespace {

struct ClientGone {};     // thrown from on_token / prefill progress: the client disconnected
struct StopSequence {};   // thrown from on_token: a stop sequence appeared

std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", r);
  return buf;
}

// Text sessions (chat: questions prompted as kvpress does) and token sessions (text completions) with
// the same press, ratio, KV storage types and context ids hold the same compressed cache.
std::string store_key(bool text_session, const PressConfig& press, const KvTypes& kv_types,
                      std::span<const int32_t> context_ids) {
  std::string key = std::string(text_session ? "chat" : "text") + '\x1f' + press.canonical_spec() + '\x1f' +
                    ratio_text(press.compression_ratio()) + '\x1f' + std::string(kv_type_name(kv_types.k)) + '/' +
                    std::string(kv_type_name(kv_types.v)) + '\x1f';
  key.append(reinterpret_cast<const char*>(context_ids.data()), context_ids.size_bytes());
  return key;
}

}  // namespace

struct CompletionRunner::Outcome {
  bool client_gone = false;
};

CompletionRunner::CompletionRunner(Engine engine, RunnerOptions options, Metrics& metrics)
    : engine_(std::move(engine)), options_(std::move(options)), metrics_(metrics), slots_(options_.n_slots),
      store_(options_.kv_budget_bytes) {}

PreparedRequest CompletionRunner::prepare(CompletionRequest request) {
  PreparedRequest p;
  const bool chat = request.endpoint == Endpoint::Chat;
  const ModelInfo& info = engine_.info();
  std::vector<int32_t> context_ids;
  if (chat) {
    const std::string& q = request.chat.question;
    const std::string& context = request.chat.context;
    if (context.empty() && q.empty()) throw ApiError(400, "invalid_messages", "messages: every message is empty");
    context_ids = engine_.context_prompt_ids(context);
    // The whole rendered prompt (the session tokenizes context and question apart; counts may differ by one).
    p.prompt_tokens = info.has_chat_template ? (int64_t)engine_.chat_prompt(context + q).size()
                                             : (int64_t)engine_.tokenize(context + q + "\n").size();
  } else {
    p.prompt_ids = engine_.tokenize(request.prompt, true);
    if (p.prompt_ids.empty()) throw ApiError(400, "invalid_prompt", "prompt: empty after tokenization");
    p.prompt_tokens = (int64_t)p.prompt_ids.size();
    context_ids.assign(p.prompt_ids.begin(), p.prompt_ids.end() - 1);
  }
  const int64_t n_ctx = info.n_ctx_train;
  if (n_ctx > 0) {
    if (p.prompt_tokens >= n_ctx)
      throw ApiError(400, "context_length_exceeded",
                     "the prompt has " + std::to_string(p.prompt_tokens) + " tokens, the model's context is " +
                         std::to_string(n_ctx) + " tokens (at least one must be left to generate)");
    if (request.max_tokens_given && p.prompt_tokens + request.max_tokens > n_ctx)
      throw ApiError(400, "context_length_exceeded",
                     "the prompt's " + std::to_string(p.prompt_tokens) + " tokens plus max_tokens " +
                         std::to_string(request.max_tokens) + " exceed the model's context of " +
                         std::to_string(n_ctx) + " tokens");
    request.max_tokens = std::min(request.max_tokens, n_ctx - p.prompt_tokens);
  }
  if (request.sampling.temperature > 0 && !request.seed_given) request.sampling.seed = std::random_device{}();
  p.store_key = store_key(chat, request.press, options_.kv_types, context_ids);
  p.id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_++);
  p.created = (int64_t)std::time(nullptr);
  p.request = std::move(request);
  return p;
}

bool CompletionRunner::preload(Session session) {
  if (session.press().compresses_while_decoding()) return false;
  const std::string key = store_key(session.is_text(), session.press(), session.kv_types(), session.context_ids());
  const PrefillStats stats = session.stats();
  auto entry = store_.find_or_add(key);
  {
    std::lock_guard use(entry->use);
    entry->session = std::move(session);
  }
  store_.settle(key, entry, stats.kv_bytes, stats.kv_bytes_full);
  return store_.holds(key);
}

bool CompletionRunner::run(const PreparedRequest& p, const ResponseChannel& out) {
  Outcome outcome;
  try {
    answer(p, out, outcome);
  } catch (const ClientGone&) {
    outcome.client_gone = true;
  } catch (const std::exception& e) {
    // Headers (200) are already out: the error goes into the body, as an event when streaming.
    ++metrics_.server_errors;
    const auto err = error_json(e.what(), "server_error", "internal_error");
    if (p.request.stream)
      out.write(sse_event(err) + "data: [DONE]\n\n");
    else
      out.write(dump(err));
  }
  if (outcome.client_gone) ++metrics_.cancelled;
  return !outcome.client_gone;
}

void CompletionRunner::answer(const PreparedRequest& p, const ResponseChannel& out, Outcome& outcome) {
  const CompletionRequest& r = p.request;
  const bool chat = r.endpoint == Endpoint::Chat;
  const ResponseId rid{p.id, p.created, options_.model_name};
  std::optional<Slots::Held> slot;
  if (!slots_.acquire(out.alive, slot)) throw ClientGone{};
  if (r.stream && chat && !out.write(sse_event(chunk_json(r.endpoint, rid, "", "", true)))) throw ClientGone{};

  // The context: stored, or prefilled now (one request at a time per stored session). A press that
  // compresses while decoding uses the context up (one question per session), and a one-token prompt
  // has no context: those get a private entry, never stored.
  const bool reusable = !r.press.compresses_while_decoding() && (chat || p.prompt_ids.size() >= 2);
  std::shared_ptr<StoredSession> entry =
      reusable ? store_.find_or_add(p.store_key) : std::make_shared<StoredSession>();
  std::unique_lock use(entry->use);
  const bool hit = entry->session.has_value();
  if (!hit) {
    SessionOptions so;
    so.kv_types = options_.kv_types;
    so.on_prefill_progress = [&](const PrefillProgress&) {
      if (!out.alive()) throw ClientGone{};
    };
    try {
      if (chat) {
        entry->session = Session::from_text(engine_, r.chat.context, r.press, so);
      } else {
        // All prompt ids but the last are the context; the last is fed as the question, giving the logits.
        const std::span<const int32_t> ids(p.prompt_ids);
        if (ids.size() >= 2) entry->session = Session::from_tokens(engine_, ids.first(ids.size() - 1), r.press, so);
      }
    } catch (...) {
      if (reusable) store_.drop(p.store_key, entry);
      throw;
    }
    if (entry->session) {
      const PrefillStats& s = entry->session->stats();
      if (reusable) store_.settle(p.store_key, entry, s.kv_bytes, s.kv_bytes_full);
      metrics_.prefill_tokens += s.context_tokens;
    }
    ++metrics_.prefix_misses;
  } else {
    ++metrics_.prefix_hits;
  }

  TextStream text(engine_, r.stop);
  bool stop_sequence = false;
  bool eos = false;
  AskOptions ask;
  ask.max_new_tokens = r.max_tokens;
  ask.sampling = r.sampling;
  ask.on_token = [&](int32_t id) {
    const std::string piece = text.push(id);
    if (r.stream && !piece.empty() && !out.write(sse_event(chunk_json(r.endpoint, rid, piece, ""))))
      throw ClientGone{};
    if (!out.alive()) throw ClientGone{};
    if (text.stopped()) throw StopSequence{};
  };
  try {
    if (!entry->session) {  // a one-token prompt: nothing to store, plain generation
      GenerationOptions g;
      g.max_new_tokens = ask.max_new_tokens;
      g.sampling = ask.sampling;
      g.kv_types = options_.kv_types;
      g.on_token = ask.on_token;
      eos = engine_.generate(p.prompt_ids, g).stopped;
    } else if (chat) {
      eos = entry->session->ask(r.chat.question, ask).stopped;
    } else {
      const int32_t last[1] = {p.prompt_ids.back()};
      eos = entry->session->ask_tokens(last, ask).stopped;
    }
  } catch (const StopSequence&) {
    stop_sequence = true;
  } catch (const ClientGone&) {
    metrics_.completion_tokens += text.n_tokens();
    throw;
  }
  Usage usage;
  usage.prompt_tokens = p.prompt_tokens;
  usage.completion_tokens = text.n_tokens();
  usage.kvpress.press = r.press.is_none() ? "none" : r.press.spec();
  usage.kvpress.compression_ratio = r.press.compression_ratio();
  if (entry->session) {
    usage.kvpress.kv_bytes = entry->session->stats().kv_bytes;
    usage.kvpress.kv_bytes_full = entry->session->stats().kv_bytes_full;
  }
  usage.kvpress.prefix_cache_hit = hit;
  use.unlock();
  metrics_.prompt_tokens += usage.prompt_tokens;
  metrics_.completion_tokens += usage.completion_tokens;

  const std::string finish_reason = stop_sequence || eos ? "stop" : "length";
  const std::string tail = text.flush();
  if (!r.stream) {
    if (!out.write(dump(completion_json(r.endpoint, rid, text.text(), finish_reason, usage)))) outcome.client_gone = true;
    return;
  }
  std::string events;
  if (!tail.empty()) events += sse_event(chunk_json(r.endpoint, rid, tail, ""));
  auto last = chunk_json(r.endpoint, rid, "", finish_reason);
  last["usage"] = usage_json(usage);  // kvpress's numbers on the last chunk, whether asked for or not
  events += sse_event(last);
  if (r.include_usage) {
    auto u = chunk_json(r.endpoint, rid, "", "");
    u["choices"] = nlohmann::json::array();
    u["usage"] = usage_json(usage);
    events += sse_event(u);
  }
  events += "data: [DONE]\n\n";
  if (!out.write(events)) outcome.client_gone = true;
}

MetricsSnapshot CompletionRunner::snapshot() const {
  MetricsSnapshot s;
  s.store = store_.totals();
  s.kv_budget_bytes = store_.budget_bytes();
  s.slots_total = slots_.n_slots();
  s.slots_busy = slots_.busy();
  s.queued = slots_.queued();
  return s;
}

}  // namespace kvpress::serve
