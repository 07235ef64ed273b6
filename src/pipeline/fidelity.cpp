// Fidelity metrics: KL divergence, top-1 agreement and log-likelihood ratio of teacher-forced answers.
#include "pipeline/fidelity.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "model/model.h"
#include "pipeline/context_session.h"

namespace kvpress {
namespace {

int64_t argmax(const float* row, int64_t n) {
  return std::max_element(row, row + n) - row;  // first maximum: ties resolve like greedy decoding
}

}  // namespace

FidelityStats compare_log_probs(std::span<const float> full, std::span<const float> comp,
                                std::span<const int32_t> answer, int64_t n_vocab) {
  if (n_vocab <= 0) fail("fidelity: n_vocab must be positive, got ", n_vocab);
  const auto n_steps = (int64_t)answer.size();
  if ((int64_t)full.size() != n_steps * n_vocab || (int64_t)comp.size() != n_steps * n_vocab)
    fail("fidelity: expected ", n_steps, " x ", n_vocab, " log-probabilities, got ", full.size(), " (full) and ",
         comp.size(), " (compressed)");
  FidelityStats s;
  s.n_steps = n_steps;
  if (n_steps == 0) return s;
  double kl_sum = 0, llr = 0;
  int64_t agree = 0;
  for (int64_t i = 0; i < n_steps; ++i) {
    const float* lp = full.data() + i * n_vocab;
    const float* lq = comp.data() + i * n_vocab;
    const int32_t id = answer[(size_t)i];
    if (id < 0 || id >= n_vocab) fail("fidelity: answer id ", id, " outside the vocabulary of ", n_vocab);
    // KL(P || Q) = sum_v P(v) (log P(v) - log Q(v)); accumulated in double because most terms are tiny.
    double kl = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double p = std::exp((double)lp[v]);
      if (p > 0) kl += p * ((double)lp[v] - (double)lq[v]);
    }
    kl = std::max(kl, 0.0);  // rounding can leave a tiny negative value for identical rows
    kl_sum += kl;
    s.kl_max = std::max(s.kl_max, kl);
    agree += argmax(lp, n_vocab) == argmax(lq, n_vocab);
    llr += (double)lq[id] - (double)lp[id];
  }
  s.kl_mean = kl_sum / (double)n_steps;
  s.top1_agreement = (double)agree / (double)n_steps;
  s.log_likelihood_ratio = llr;
  return s;
}

FidelityStats measure_fidelity(const Model& model, std::span<const int32_t> context_ids,
                               std::span<const int32_t> question_ids, std::span<const int32_t> answer_ids,
                               Press* press, ThreadPool& pool) {
  const int64_t n_vocab = model.config().n_vocab;
  ContextSession full(model, pool);
  full.prefill(context_ids, nullptr);
  const std::vector<float> lp_full = full.forced_log_probs(question_ids, answer_ids);
  ContextSession comp(model, pool);
  comp.prefill(context_ids, press);
  const std::vector<float> lp_comp = comp.forced_log_probs(question_ids, answer_ids);
  return compare_log_probs(lp_full, lp_comp, answer_ids, n_vocab);
}

}  // namespace kvpress
