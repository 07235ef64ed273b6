// Fidelity of a compressed cache: how far the next-token distributions move when the uncompressed
// run's answer is teacher-forced through the compressed cache. Needs no gold answers, works on any model.
#pragma once
#include <cstdint>
#include <span>

namespace kvpress {

class Model;
class Press;
class ThreadPool;

// Per forced answer token t (steps i = 0..n_steps-1), P_full / P_comp = next-token distributions of the
// uncompressed / compressed run given the same question and answer prefix a_<i. Natural logarithms.
struct FidelityStats {
  int64_t n_steps = 0;              // answer tokens compared
  double kl_mean = 0;               // mean_i KL(P_full || P_comp), nats (0 when n_steps == 0)
  double kl_max = 0;                // max_i of the same
  double top1_agreement = 1;        // fraction of steps where argmax P_full == argmax P_comp (1 when no steps)
  double log_likelihood_ratio = 0;  // sum_i log P_comp(a_i) - sum_i log P_full(a_i) (<= 0 means less likely)
};

// Compares teacher-forced log-softmax rows. full, comp: [n_steps, n_vocab] log-probabilities (as
// ContextSession::forced_log_probs returns them); answer: [n_steps] the forced ids. Throws Error on
// mismatched sizes or an id outside the vocabulary.
FidelityStats compare_log_probs(std::span<const float> full, std::span<const float> comp,
                                std::span<const int32_t> answer, int64_t n_vocab);

// The whole measurement: prefills `context_ids` once without compression and once with `press` (its
// compression ratio already set; null compares the uncompressed cache with itself), teacher-forces
// question_ids + answer_ids through both, compares. context_ids and question_ids as the pipeline builds
// them (pipeline/prompt.h); answer_ids are normally the uncompressed run's greedy answer.
FidelityStats measure_fidelity(const Model& model, std::span<const int32_t> context_ids,
                               std::span<const int32_t> question_ids, std::span<const int32_t> answer_ids,
                               Press* press, ThreadPool& pool);

}  // namespace kvpress
