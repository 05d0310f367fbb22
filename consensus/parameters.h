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

// Dirichlet pseudo-counts on each row of a worker's confusion matrix: `a` on
// every cell plus `diagonal` on the cell of the true class.
struct WorkerPrior {
  double pseudo_count = 0;
  double diagonal = 0;
};

// Dawid & Skene (1979) M-step, MAP under the Dirichlet pseudo-counts b[k][l]
// (a, plus diagonal when l == k):
//   P(l | k) = (counts[l][k] + b[k][l]) / (sum_l' counts[l'][k] + b[k][l']).
// One-coin: one accuracy p = (correct + a + diagonal) / (answers + K a + diagonal),
// errors spread evenly: P(l | k) = p if l == k else (1 - p) / (K - 1).
// With all pseudo-counts 0 (plain maximum likelihood), counts are clipped at
// machine epsilon, as crowd-kit does, so that no probability is 0.
// Writes log P(l | k) to log_pi[l * K + k] and returns
// sum_{k,l} b[k][l] log P(l | k): the Dirichlet log-density up to a constant,
// the term EM adds to the log-likelihood.
double WorkerLogConfusion(const double* counts, int32_t num_classes, const WorkerPrior& prior,
                          bool onecoin, double* log_pi);

// The same estimate as WorkerLogConfusion, without logs, for one answered
// label: writes P(label | k) for every k to likelihood[k]. Cheaper when only
// one row is needed (the streaming E-step).
void WorkerLikelihood(const double* counts, int32_t num_classes, const WorkerPrior& prior,
                      bool onecoin, int32_t label, double* likelihood);

// P(k) = (class_counts[k] + prior) / (sum + K prior), as ClassLogPrior, without logs.
void ClassPriorProbabilities(const double* class_counts, int32_t num_classes, double prior,
                             double* probabilities);

// log P(k) = log((class_counts[k] + prior) / (sum + K prior)), written to
// log_prior[k]; returns prior * sum_k log P(k).
double ClassLogPrior(const double* class_counts, int32_t num_classes, double prior,
                     double* log_prior);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_PARAMETERS_H_
