// The M-step formulas shared by batch EM and the streaming model: class priors
// and per-worker confusion matrices from expected counts, in log space.
//
//   double log_pi[K * K];
//   double log_prior_term = WorkerLogConfusion(counts, K, /*prior=*/1.0, /*onecoin=*/false, log_pi);
#ifndef CONSENSUSD_CONSENSUS_PARAMETERS_H_
#define CONSENSUSD_CONSENSUS_PARAMETERS_H_

#include <cstdint>

namespace consensusd::consensus {

// Expected counts are laid out [l][k]: counts[l * K + k] is the expected number
// of answers l on tasks whose true class is k. Log tables use the same layout.

// Dawid & Skene (1979) M-step with a symmetric Dirichlet pseudo-count `prior`:
//   P(l | k) = (counts[l][k] + prior) / (sum_l' counts[l'][k] + K prior).
// One-coin: one accuracy p = (correct + prior) / (answers + K prior), errors
// spread evenly: P(l | k) = p if l == k else (1 - p) / (K - 1).
// With prior == 0 counts are clipped at machine epsilon (as crowd-kit does) so
// that no probability is 0. Writes log P(l | k) to log_pi[l * K + k] and
// returns prior * sum of the log-probabilities (the Dirichlet log-density up
// to a constant), the term EM adds to the log-likelihood.
double WorkerLogConfusion(const double* counts, int32_t num_classes, double prior, bool onecoin,
                          double* log_pi);

// log P(k) = log((class_counts[k] + prior) / (sum + K prior)), written to
// log_prior[k]; returns prior * sum_k log P(k).
double ClassLogPrior(const double* class_counts, int32_t num_classes, double prior,
                     double* log_prior);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_PARAMETERS_H_
