// Batch truth inference over an AnswerMatrix: Dawid-Skene EM (`ds`), one-coin
// EM (`onecoin`), variational Bayesian Dawid-Skene (`vbds`), MACE (`mace`),
// hierarchical Dawid-Skene (`hds`), majority vote (`mv`) and worker-weighted majority vote (`wawa`).
//
//   AggregateOptions opts;                 // ds, default prior
//   absl::StatusOr<Model> m = Aggregate(matrix, opts);
//   int32_t label = m->label[task];        // consensus class id
//   double p = m->Posterior(task)[label];  // its confidence
#ifndef CONSENSUSD_CONSENSUS_AGGREGATE_H_
#define CONSENSUSD_CONSENSUS_AGGREGATE_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "consensus/answer_matrix.h"
#include "consensus/parameters.h"

namespace consensusd::consensus {

enum class Method {
  kDawidSkene,
  kOneCoin,
  kMajorityVote,
  kWawa,
  kVariational,
  kMace,
  kHierarchical,
};
// "ds", "onecoin", "mv", "wawa", "vbds", "mace", "hds"
absl::StatusOr<Method> ParseMethod(std::string_view name);
std::string_view MethodName(Method method);

// How ties between classes of equal posterior are broken.
enum class TieBreak {
  kPriorThenName,  // larger class prior first, then the class whose name sorts first
  kName,           // the class whose name sorts first (crowd-kit's idxmax on sorted labels)
};

// The default Dirichlet pseudo-count: added to every cell of every worker's
// confusion-matrix counts and to every class count (MAP estimate under a
// symmetric Dirichlet(1 + prior)). 0 gives maximum-likelihood Dawid-Skene.
// Kept small so that the prior is weak (about one pseudo-answer per confusion
// row, together with the diagonal term) and its mean is "the worker is right":
// a prior mean accuracy of (prior + diagonal) / (K prior + diagonal), 0.97 or
// more for K <= 4. A large uniform pseudo-count (1 per cell = K pseudo-answers
// of pure noise per row) drowns the rare-class rows of workers with few answers
// and drags every worker towards chance.
inline constexpr double kDefaultPrior = 0.01;
// The default extra pseudo-count on the diagonal of each confusion row: the
// belief that a worker does better than chance. It breaks the symmetry between
// class permutations that otherwise stalls incremental EM on new workers.
// Applied only when prior > 0.
inline constexpr double kDefaultDiagonalPrior = 1.0;

struct AggregateOptions {
  Method method = Method::kHierarchical;
  double prior = kDefaultPrior;
  double diagonal_prior = kDefaultDiagonalPrior;  // ignored when prior == 0
  // EM stops when the objective (log-likelihood plus log-prior) per answer
  // improves by less than tol, or after max_iter E-steps.
  double tol = 1e-7;
  int max_iter = 100;
  // Worker threads for EM; 0 (the default): AvailableCores(). Results are
  // bit-identical for every thread count.
  int threads = 0;
  TieBreak tie_break = TieBreak::kPriorThenName;
  // Under ds, workers with fewer answers than this get one accuracy (the
  // onecoin model) instead of a full K x K confusion matrix. 0 disables it.
  int64_t onecoin_below = 0;
  // A task without gold whose only counted answer is one worker's says nothing
  // about that worker's reliability: its likelihood only ties the worker's label
  // frequencies to the class priors, which EM can satisfy by bending the
  // worker's confusion matrix (an expert who labels the hard cases alone is
  // then read as a worker who confuses them). When true, such tasks are
  // predicted from the fitted parameters but not fitted: they add nothing to the
  // counts, the class counts or the objective (EM on the other tasks, so the
  // objective still never falls). Ignored when prior == 0 (plain DS counts all).
  bool skip_single_answer_tasks = true;
};

// The worker prior the options imply (no diagonal term when prior == 0).
// vbds and mace use their own fixed priors (parameters.h) and ignore it; hds
// needs the population counts as well (`population`, K x K, see parameters.h).
WorkerPrior WorkerPriorOf(const AggregateOptions& options, const double* population = nullptr);

// Whether the worker model of `options` reads the population counts (hds).
bool UsesPopulation(const AggregateOptions& options);

// The worker model of an EM method for a worker with `answers` answers (local
// plus remote): onecoin_below applies to ds only.
// REQUIRES: options.method is ds, onecoin, vbds, mace or hds.
WorkerModel WorkerModelOf(const AggregateOptions& options, int64_t answers);

// Whether the class prior is the variational E[log rho] (vbds, mace).
bool VariationalClassPrior(const AggregateOptions& options);

// Whether a task with `counted_answers` answers of included workers and gold
// (or not) is left out of the fit under `options` (see skip_single_answer_tasks).
bool PredictedOnly(const AggregateOptions& options, int64_t counted_answers, bool has_gold);

// A fitted model. Matrices are flat and row-major.
struct Model {
  int32_t num_classes = 0;
  std::vector<double> posterior;    // num_tasks x K; every row sums to 1
  std::vector<int32_t> label;       // num_tasks: consensus class (argmax, ties broken)
  std::vector<double> class_prior;  // K
  // num_workers x K x K: confusion[w][k][l] = P(worker w answers l | true class k);
  // every row sums to 1. For mv and wawa: the empirical matrix against the posterior.
  std::vector<double> confusion;
  // Objective after each E-step (EM methods only): log-likelihood of the answers
  // and gold under the parameters of that step, plus the Dirichlet log-prior.
  // For vbds and mace: the evidence lower bound (sum over tasks of the log
  // normaliser under the expected log parameters, minus the KL divergences of
  // the parameter posteriors from their priors).
  std::vector<double> objective_history;
  // log P(answers, gold | parameters), no prior, under the parameters of the
  // last E-step (the final M-step follows it), over the fitted tasks (all
  // tasks, or all but single-answer ones; see skip_single_answer_tasks).
  double log_likelihood = 0;
  int iterations = 0;         // E-steps run
  bool converged = false;

  std::span<const double> Posterior(int32_t task) const {
    return {posterior.data() + static_cast<size_t>(task) * num_classes,
            static_cast<size_t>(num_classes)};
  }
  std::span<const double> Confusion(int32_t worker) const {
    const size_t kk = static_cast<size_t>(num_classes) * num_classes;
    return {confusion.data() + worker * kk, kk};
  }
};

// The cores this process may run on (its CPU affinity), at least 1: the
// thread count that AggregateOptions::threads = 0 stands for.
int AvailableCores();

// Fits `options.method` to the answers. `excluded`, if not empty, has one flag
// per worker: an excluded worker's answers do not count in any posterior, but
// the worker's confusion matrix is still estimated against the consensus.
// Tasks with gold have their posterior clamped to the gold class.
absl::StatusOr<Model> Aggregate(const AnswerMatrix& answers, const AggregateOptions& options,
                                const std::vector<bool>& excluded = {});

// What an EM fit of part of the answers knows about the rest (scale-out: the
// tasks of other input partitions, fitted elsewhere). Every vector is empty
// or fully sized.
struct FitContext {
  std::vector<bool> excluded;  // per worker, as for Aggregate
  // Sufficient statistics of the answers held elsewhere, added in every
  // M-step: expected counts [w][l][k] (num_workers x K x K, the layout of
  // parameters.h), class counts (K) and answers per worker (for onecoin_below).
  std::vector<double> extra_counts;
  std::vector<double> extra_class_counts;
  std::vector<int64_t> extra_answers;
};

// Aggregate with a context. The EM methods (ds, onecoin, vbds, mace, hds) use the
// extra counts; mv and wawa ignore them.
absl::StatusOr<Model> Aggregate(const AnswerMatrix& answers, const AggregateOptions& options,
                                const FitContext& context);

// The index of the largest entry of `posterior`; ties go per `tie_break`
// (class priors within a relative 1e-9 of each other count as equal).
int32_t ArgMax(std::span<const double> posterior, std::span<const double> class_prior,
               std::span<const int32_t> class_rank, TieBreak tie_break);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_AGGREGATE_H_
