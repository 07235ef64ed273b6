// RULER's needle-in-a-haystack family (niah_single_*, niah_multikey_*, niah_multivalue, niah_multiquery),
// following RULER scripts/data/synthetic/niah.py: needle wording, template, singular rewording, insertion.
#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.h"
#include "eval/ruler_builders.h"
#include "eval/text_utils.h"

namespace kvpress::ruler {
namespace {

// RULER's template (constants.py 'niah') with its answer prefix appended, as prepare.py builds it.
constexpr std::string_view kNiahTemplate =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. "
    "I will quiz you about the {type_needle_v} afterwards.\n{context}\n"
    "What are all the special magic {type_needle_v} for {query} mentioned in the provided text?"
    " The special magic {type_needle_v} for {query} mentioned in the provided text are";

constexpr std::string_view kNeedle = "One of the special magic {type_needle_v} for {key} is: {value}.";

// Streams of one sample: keys/values and queries (size-independent), insertion positions, distractors.
constexpr uint64_t kKeyStream = 0, kPositionStream = 1, kDistractorStream = 2;

// RULER's DEPTHS: np.round(np.linspace(0, 100, 40)) — 40 depths in percent.
std::vector<int> niah_depths() {
  std::vector<int> d(40);
  for (int i = 0; i < 40; ++i) d[static_cast<std::size_t>(i)] = static_cast<int>(std::lround(100.0 * i / 39.0));
  return d;
}

std::string_view type_name(ItemKind kind) {
  switch (kind) {
    case ItemKind::Words: return "words";
    case ItemKind::Numbers: return "numbers";
    case ItemKind::Uuids: return "uuids";
  }
  return "";
}

std::string random_item(ItemKind kind, SampleRng& rng, const SampleSource& src) {
  switch (kind) {
    case ItemKind::Words: return src.words.random_key(rng, src.split);
    case ItemKind::Numbers: return random_number(rng, src.split, 7);
    case ItemKind::Uuids: return random_uuid(rng, src.split);
  }
  return "";
}

// A fresh item not in `taken` (RULER does not check; a repeated key or value would make the answer ambiguous).
std::string fresh_item(ItemKind kind, SampleRng& rng, const SampleSource& src, const std::vector<std::string>& taken) {
  while (true) {
    std::string s = random_item(kind, rng, src);
    if (std::find(taken.begin(), taken.end(), s) == taken.end()) return s;
  }
}

// Essay haystack: needles go between sentences at depths drawn from RULER's 40-depth grid.
std::string essay_context(const SampleSource& src, std::size_t n_words, const std::vector<std::string>& needles,
                          SampleRng& pos_rng) {
  const std::vector<std::string> sentences = split_sentences(src.haystack.first_words(n_words));
  static const std::vector<int> kDepths = niah_depths();
  const std::vector<std::size_t> picked = pos_rng.sample_indices(kDepths.size(), needles.size());
  std::vector<std::size_t> positions;
  for (std::size_t i : picked) {
    // Python: int(len(document_sents) * (depth / 100)), same double arithmetic.
    const double depth = kDepths[i] / 100.0;
    positions.push_back(static_cast<std::size_t>(static_cast<double>(sentences.size()) * depth));
  }
  std::sort(positions.begin(), positions.end());
  positions.insert(positions.begin(), 0);
  positions.push_back(sentences.size());
  std::vector<std::string> pieces;
  for (std::size_t i = 1; i < positions.size(); ++i) {
    std::vector<std::string> chunk(sentences.begin() + static_cast<std::ptrdiff_t>(positions[i - 1]),
                                   sentences.begin() + static_cast<std::ptrdiff_t>(positions[i]));
    pieces.push_back(text::join(chunk, " "));  // may be empty: RULER then leaves a double space
    if (i - 1 < needles.size()) pieces.push_back(needles[i - 1]);
  }
  return text::join(pieces, " ");
}

}  // namespace

std::size_t niah_min_units(const NiahConfig& config) {
  // Noise/needle haystacks sample distinct insertion slots among the n units.
  return config.haystack == HaystackKind::Essay ? 1 : static_cast<std::size_t>(std::max(config.n_keys, config.n_queries)) *
                                                          static_cast<std::size_t>(config.n_values);
}

namespace {

Prompt build_niah(const NiahConfig& config, const SampleSource& src, std::size_t n_units) {
  const int n_keys = std::max(config.n_keys, config.n_queries);  // RULER: num_needle_k = max(k, q)
  const std::string type_v(type_name(config.value));

  SampleRng rng = src.stream(kKeyStream);
  std::vector<std::string> keys, all_values, needles;
  std::vector<std::vector<std::string>> values;
  for (int k = 0; k < n_keys; ++k) {
    keys.push_back(fresh_item(config.key, rng, src, keys));
    values.emplace_back();
    for (int v = 0; v < config.n_values; ++v) {
      std::string value = fresh_item(config.value, rng, src, all_values);
      all_values.push_back(value);
      values.back().push_back(value);
      needles.push_back(format_template(kNeedle, {{"type_needle_v", type_v}, {"key", keys.back()}, {"value", value}}));
    }
  }
  rng.shuffle(needles);
  const std::vector<std::size_t> queried =
      rng.sample_indices(static_cast<std::size_t>(n_keys), static_cast<std::size_t>(config.n_queries));
  std::vector<std::string> queries;
  Prompt prompt;
  for (std::size_t i : queried) {
    queries.push_back(keys[i]);
    for (const std::string& v : values[i]) prompt.answers.push_back(v);
  }
  std::string query = queries.front();
  if (queries.size() > 1) {
    query = text::join(std::vector<std::string>(queries.begin(), queries.end() - 1), ", ") + ", and " + queries.back();
  }

  SampleRng pos_rng = src.stream(kPositionStream);
  std::string context;
  if (config.haystack == HaystackKind::Essay) {
    context = essay_context(src, n_units, needles, pos_rng);
  } else {
    std::vector<std::string> sentences;
    sentences.reserve(n_units + needles.size());
    if (config.haystack == HaystackKind::Noise) {
      sentences.assign(n_units, std::string(kNoiseSentence));
    } else {
      // Distractors drawn one after another: the first m are the same for any n >= m. Their keys never
      // equal a real key, so the question keeps a single answer.
      SampleRng distractor_rng = src.stream(kDistractorStream);
      for (std::size_t i = 0; i < n_units; ++i) {
        const std::string key = fresh_item(config.key, distractor_rng, src, keys);
        const std::string value = random_item(config.value, distractor_rng, src);
        sentences.push_back(format_template(kNeedle, {{"type_needle_v", type_v}, {"key", key}, {"value", value}}));
      }
    }
    std::vector<std::size_t> slots = pos_rng.sample_indices(n_units, needles.size());
    std::sort(slots.begin(), slots.end(), std::greater<>());
    for (std::size_t i = 0; i < slots.size(); ++i)
      sentences.insert(sentences.begin() + static_cast<std::ptrdiff_t>(slots[i]), needles[i]);
    context = text::join(sentences, "\n");
  }

  // RULER rewrites the template (not the filled text) when one value is asked for.
  std::string tmpl(kNiahTemplate);
  std::string type_shown = type_v;
  if (config.n_queries * config.n_values == 1) {
    tmpl = text::replace_all(tmpl, "Some", "A");
    tmpl = text::replace_all(tmpl, "are all", "is");
    tmpl = text::replace_all(tmpl, "are", "is");
    tmpl = text::replace_all(tmpl, "answers", "answer");
    type_shown.pop_back();  // "numbers" -> "number"
  }
  prompt.text = format_template(tmpl, {{"type_needle_v", type_shown}, {"context", context}, {"query", query}});
  return prompt;
}

}  // namespace

BuildFn make_niah_builder(const NiahConfig& config, const SampleSource& src) {
  // Keys and values are redrawn per call from the same stream, so they are identical for every n.
  return [config, src](std::size_t n_units) { return build_niah(config, src, n_units); };
}

}  // namespace kvpress::ruler
