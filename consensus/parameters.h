// The M-step formulas shared by batch EM and the streaming model: class priors
// and per-worker confusion matrices from expected counts, in log space. Every
// worker model is a map from the worker's expected counts to log P(l | k), so
// batch EM and the streaming model derive identical parameters.
//
//   double log_pi[K * K];
//   double log_prior_term = WorkerLogConfusion(counts, K, /*prior=*/1.0, /*onecoin=*/false, log_pi);
#ifndef CONSENSUSD_CONSENSUS_PARAMETERS_H_
#define CONSENSUSD_CONSENSUS_PARAMETERS_H_

#include <cstdint>

namespace consensusd::consensus {

// Expected counts are laid out [l][k]: counts[l * K + k] is the expected number
// of answers l on tasks whose true class is k. Log tables use the same layout.

// How a worker's answer probabilities follow from its counts.
enum class WorkerModel {
  kConfusion,    // Dawid & Skene (1979): a MAP K x K confusion matrix
  kOneCoin,      // one MAP accuracy, errors spread evenly
  kVariational,  // variational Bayes over the K x K matrix (IBCC, Kim & Ghahramani 2012)
  kMace,         // a spamming mixture (MACE, Hovy et al. 2013), variational Bayes
  kHierarchical, // a K x K matrix shrunk towards the population's (hierarchical Dawid-Skene)
};

// The fixed priors of the Bayesian models; they ignore WorkerPrior.
// kVariational: each confusion row ~ Dirichlet(1/K + [l == k]): two
// pseudo-answers per row, one spread evenly over the K labels and one on the
// true class, so the prior mean accuracy (1 + 1/K) / 2 says "better than
// chance" while the data outweigh it after a few answers.
inline constexpr double kVariationalDiagonal = 1.0;
inline constexpr double kVariationalRowMass = 1.0;  // spread evenly over the row
// kMace: P(not spamming) ~ Beta(0.5, 0.5) as in Hovy et al.'s VB training; the
// spamming distribution ~ Dirichlet(1) (uniform over the simplex).
inline constexpr double kMaceThetaPrior = 0.5;
inline constexpr double kMaceStrategyPrior = 1.0;
// Inner EM steps of the MACE M-step (spam responsibilities <-> parameters),
// from a fixed start: a deterministic function of the counts.
inline constexpr int kMaceInnerSteps = 10;
// The class prior of both Bayesian models: symmetric Dirichlet(1).
inline constexpr double kVariationalClassPrior = 1.0;
// kHierarchical: each confusion row k ~ Dirichlet(1 + s m_k) in the MAP sense
// of kConfusion, centred on the population's row m_k with s = K pseudo-answers
// (the mass of Laplace's Dirichlet(1) per cell), so the only thing the
// hierarchy adds is where the mass sits. The population row itself is the
// pooled counts under the hyperprior Dirichlet(1 + [l == k]): one pseudo-answer
// per cell and one more on the true class, ds's belief that a worker does
// better than chance (kDefaultDiagonalPrior), held by the crowd instead of by
// each worker. It decides only where the crowd has no answers yet (a lone
// answer of a new project's first worker is then its task's label, not a tie),
// and breaks the symmetry between class permutations there; thousands of
// pooled answers outweigh it.
inline constexpr double kHierarchicalStrengthPerClass = 1.0;
inline constexpr double kHierarchicalPopulationPrior = 1.0;
inline constexpr double kHierarchicalPopulationDiagonal = 1.0;

// Dirichlet pseudo-counts on each row of a worker's confusion matrix: `a` on
// every cell plus `diagonal` on the cell of the true class.
struct WorkerPrior {
  double pseudo_count = 0;
  double diagonal = 0;
  // kHierarchical only: the population's expected counts [l][k] (K x K), the
  // sum of the included workers' counts; nullptr reads as all zero (a uniform
  // population). Not owned.
  const double* population = nullptr;
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
//
// kVariational: log_pi[l][k] = E[log pi_kl] = psi(alpha_kl + n_lk) - psi(sum_l' alpha_kl' + n_l'k)
// under the Dirichlet posterior; returns -KL(posterior || prior), the worker's
// term of the evidence lower bound.
// kMace: with theta = P(not spamming) and xi the spamming distribution,
// P(l | k) = theta [l == k] + (1 - theta) xi_l, in the VB form
// exp(E log theta) [l == k] + exp(E log(1 - theta) + E log xi_l); the
// posteriors come from kMaceInnerSteps EM steps that split each diagonal
// count into spam and not spam. Returns -KL of those posteriors.
// kHierarchical (hierarchical Dawid-Skene, after Paun et al. 2018): with N the
// population counts, m_kl = (N_lk + c + d [l == k]) / (N_k + K c + d),
// c = kHierarchicalPopulationPrior, d = kHierarchicalPopulationDiagonal,
// and b_kl = s m_kl, s = K kHierarchicalStrengthPerClass:
//   P(l | k) = (counts[l][k] + b_kl) / (sum_l' counts[l'][k] + s);
// returns sum_{k,l} b_kl log(P(l | k) / m_kl): kConfusion's term measured from
// the population, so 0 for a worker without answers (whose P is m) and at
// most 0 (it is -s KL(m_k || P(. | k)) per row). `prior`'s pseudo-counts are unused.
double WorkerLogConfusion(const double* counts, int32_t num_classes, const WorkerPrior& prior,
                          WorkerModel model, double* log_pi);
inline double WorkerLogConfusion(const double* counts, int32_t num_classes,
                                 const WorkerPrior& prior, bool onecoin, double* log_pi) {
  return WorkerLogConfusion(counts, num_classes, prior,
                            onecoin ? WorkerModel::kOneCoin : WorkerModel::kConfusion, log_pi);
}

// P(l | k) as a proper distribution, written to confusion[k * K + l] (rows sum
// to 1): exp(log_pi) of WorkerLogConfusion; for the variational models each
// row normalised (their exp(E log) tables sum to less than 1).
void WorkerConfusion(const double* counts, int32_t num_classes, const WorkerPrior& prior,
                     WorkerModel model, double* confusion);

// The same estimate as WorkerLogConfusion, without logs, for one answered
// label: writes P(label | k) for every k to likelihood[k]. Cheaper when only
// one row is needed (the streaming E-step).
// ds and hds compute it with Eigen arrays over the classes (class_array.h),
// bit-identical to the scalar formulas above.
void WorkerLikelihood(const double* counts, int32_t num_classes, const WorkerPrior& prior,
                      WorkerModel model, int32_t label, double* likelihood);
// WorkerLikelihood specialised for num_classes (fixed-size arrays for small K):
// callers that run it many times at one K choose it once.
using WorkerLikelihoodFn = void (*)(const double* counts, int32_t num_classes,
                                    const WorkerPrior& prior, WorkerModel model, int32_t label,
                                    double* likelihood);
WorkerLikelihoodFn WorkerLikelihoodFor(int32_t num_classes);

// variational: exp(E[log rho_k]) = exp(psi(class_counts[k] + c) - psi(sum + K c)),
// c = kVariationalClassPrior, instead of the MAP estimate below; `prior` is then unused.
void ClassPriorProbabilities(const double* class_counts, int32_t num_classes, double prior,
                             bool variational, double* probabilities);
// variational: log_prior[k] = E[log rho_k]; returns -KL(posterior || prior).
double ClassLogPrior(const double* class_counts, int32_t num_classes, double prior,
                     bool variational, double* log_prior);

// The digamma function psi(x) = d/dx log Gamma(x), for x > 0.
double Digamma(double x);

// P(k) = (class_counts[k] + prior) / (sum + K prior), as ClassLogPrior, without logs.
void ClassPriorProbabilities(const double* class_counts, int32_t num_classes, double prior,
                             double* probabilities);

// log P(k) = log((class_counts[k] + prior) / (sum + K prior)), written to
// log_prior[k]; returns prior * sum_k log P(k).
double ClassLogPrior(const double* class_counts, int32_t num_classes, double prior,
                     double* log_prior);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_PARAMETERS_H_
