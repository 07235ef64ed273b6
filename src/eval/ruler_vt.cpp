// RULER's variable tracking task (vt), following RULER scripts/data/synthetic/variable_tracking.py:
// one chain "VAR A = 12345", "VAR B = VAR A ", ... hidden in noise lines, preceded by a solved example.
#include <algorithm>

#include "core/error.h"
#include "eval/ruler_builders.h"
#include "eval/text_utils.h"

namespace kvpress::ruler {
namespace {

// constants.py 'variable_tracking' template with its answer prefix appended.
constexpr std::string_view kVtTemplate =
    "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
    "Question: Find all variables that are assigned the value {query} in the text above."
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assigned "
    "the value {query}, they are: ";

constexpr int kNumChains = 1;
constexpr int kNumHops = 4;
// RULER sizes its in-context example to 500 tokens (max_seq_length=500, nothing generated).
constexpr std::size_t kIclTokens = 500;

// Streams: main chain names/values, main insertion slots, example names/values, example slots.
constexpr uint64_t kChainStream = 0, kSlotStream = 1, kIclChainStream = 3, kIclSlotStream = 4;

struct Chains {
  std::vector<std::vector<std::string>> names;   // per chain: hops + 1 variable names
  std::vector<std::vector<std::string>> lines;   // per chain: its assignment statements
};

// RULER generate_chains: 5 upper-case letters per name (3 for the example), distinct; the first variable
// gets a value in [10000, 99998] (np.random.randint(10000, 99999)); each next one copies the previous.
Chains make_chains(const SampleSource& src, SampleRng& rng, int n_hops, int name_length) {
  std::vector<std::string> all;
  while (all.size() < static_cast<std::size_t>((n_hops + 1) * kNumChains)) {
    std::string name = random_letters(rng, src.split, name_length, /*upper=*/true);
    if (std::find(all.begin(), all.end(), name) == all.end()) all.push_back(std::move(name));
  }
  Chains c;
  for (int ch = 0; ch < kNumChains; ++ch) {
    std::vector<std::string> names(all.begin() + ch * (n_hops + 1), all.begin() + (ch + 1) * (n_hops + 1));
    std::vector<std::string> lines;
    lines.push_back("VAR " + names[0] + " = " + random_number_in(rng, src.split, 10000, 99998));
    for (int j = 0; j < n_hops; ++j)
      lines.push_back("VAR " + names[static_cast<std::size_t>(j + 1)] + " = VAR " + names[static_cast<std::size_t>(j)] + " ");
    c.names.push_back(std::move(names));
    c.lines.push_back(std::move(lines));
  }
  return c;
}

// Noise haystack of n sentences with every chain's lines inserted in order at random slots.
Prompt chain_prompt(const Chains& chains, SampleRng slot_rng, std::size_t n_units, int n_hops) {
  std::vector<std::string> sentences(n_units, std::string(kNoiseSentence));
  for (const auto& chain : chains.lines) {
    std::vector<std::size_t> slots = slot_rng.sample_indices(sentences.size(), chain.size());
    std::sort(slots.begin(), slots.end());
    for (std::size_t j = 0; j < chain.size(); ++j)
      sentences.insert(sentences.begin() + static_cast<std::ptrdiff_t>(slots[j] + j), chain[j]);
  }
  const std::string context = text::replace_all(text::join(sentences, "\n"), ". \n", ".\n");
  const std::string value = chains.lines[0][0].substr(chains.lines[0][0].rfind('=') + 2);
  const std::string num_v = std::to_string(n_hops + 1);
  Prompt p;
  p.text = format_template(kVtTemplate, {{"context", context}, {"query", value}, {"num_v", num_v}});
  p.answers = chains.names[0];
  return p;
}

}  // namespace

BuildFn make_vt_builder(const SampleSource& src) {
  // The solved example: RULER builds it once with 3-letter names and value 12345, then randomises the
  // names and value per sample; we draw random ones directly from the sample's own streams.
  const int icl_hops = std::min(10, kNumHops);
  SampleRng icl_rng = src.stream(kIclChainStream);
  const Chains icl_chains = make_chains(src, icl_rng, icl_hops, 3);
  const BuildFn icl_build = [&](std::size_t n) { return chain_prompt(icl_chains, src.stream(kIclSlotStream), n, icl_hops); };
  const Prompt icl = fit_to_budget(icl_build, src.count_tokens, kVtMinUnits, kIclTokens, "vt in-context example");
  std::string icl_text = icl.text + " " + text::join(icl.answers, " ") + "\n";

  SampleRng rng = src.stream(kChainStream);
  Chains chains = make_chains(src, rng, kNumHops, 5);
  return [src, icl_text = std::move(icl_text), chains = std::move(chains)](std::size_t n_units) {
    Prompt main = chain_prompt(chains, src.stream(kSlotStream), n_units, kNumHops);
    main.text = icl_text + "\n" + main.text;
    return main;
  };
}

}  // namespace kvpress::ruler
