#include "consensus/aggregate.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "consensus/em_kernel.h"
#include "consensus/parameters.h"

namespace consensusd::consensus {
namespace {

// Relative difference below which two class priors are equal for tie-breaks.
constexpr double kPriorTieTolerance = 1e-9;
// Answers per chunk of tasks; chunk bounds depend only on the data, never on
// the thread count, so per-chunk partial sums reduced in chunk order give
// bit-identical results for any number of threads.
constexpr int64_t kChunkAnswers = 1 << 17;
// Upper bound on the doubles held by per-chunk partial sums.
constexpr int64_t kMaxPartialDoubles = int64_t{1} << 23;

void ParallelFor(int n, int threads, const std::function<void(int)>& fn) {
  if (threads == 0) threads = AvailableCores();
  threads = std::clamp(threads, 1, std::max(1, n));
  if (threads == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

// Contiguous task ranges [bounds[c], bounds[c+1]) of about kChunkAnswers answers.
std::vector<int32_t> ChunkBounds(const AnswerMatrix& m, int64_t doubles_per_partial) {
  const int64_t by_size = (m.num_answers() + kChunkAnswers - 1) / kChunkAnswers;
  const int64_t by_memory = std::max<int64_t>(1, kMaxPartialDoubles / std::max<int64_t>(1, doubles_per_partial));
  const int64_t chunks = std::clamp<int64_t>(std::min(by_size, by_memory), 1, 1024);
  // At least 1: with tasks but no answers (all retracted, e.g. when an instance
  // lost its partitions) a chunk of 0 would cut at every task, and the partial
  // sums would take (workers x K x K) doubles per task.
  const int64_t per_chunk = std::max<int64_t>(1, (m.num_answers() + chunks - 1) / chunks);
  std::vector<int32_t> bounds = {0};
  int64_t next_cut = per_chunk;
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    if (m.task_begin[t + 1] >= next_cut && t + 1 < m.num_tasks) {
      bounds.push_back(t + 1);
      next_cut = m.task_begin[t + 1] + per_chunk;
    }
  }
  bounds.push_back(m.num_tasks);
  return bounds;
}

// EM state shared by ds, onecoin, vbds, mace and hds (they differ only in the
// map from counts to parameters, parameters.h). Layouts:
//   counts_[(w*K + l)*K + k]  expected number of answers l by w on tasks of true class k
//   log_pi_[(w*K + l)*K + k]  log P(w answers l | true class k); 0 for excluded workers
class EmFit {
 public:
  EmFit(const AnswerMatrix& m, const AggregateOptions& o, const FitContext& context)
      : m_(m), o_(o), K_(m.num_classes), excluded_(context.excluded), context_(context) {
    excluded_.resize(m.num_workers, false);
    const int64_t partial = int64_t{m.num_workers} * K_ * K_ + K_;
    bounds_ = ChunkBounds(m, partial);
    partial_counts_.assign(static_cast<size_t>(partial) * (bounds_.size() - 1), 0.0);
    partial_ll_.assign(bounds_.size() - 1, 0.0);
    counts_.assign(static_cast<size_t>(m.num_workers) * K_ * K_, 0.0);
    class_counts_.assign(K_, 0.0);
    log_pi_.assign(counts_.size(), 0.0);
    log_prior_.assign(K_, 0.0);
    if (UsesPopulation(o)) population_.assign(static_cast<size_t>(K_) * K_, 0.0);
    active_.assign(m.num_tasks, 0);
    for (int32_t t = 0; t < m.num_tasks; ++t) {
      bool any = m.gold[t] != kNoGold;
      for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1] && !any; ++a) {
        any = !excluded_[m.worker[a]];
      }
      active_[t] = any;
    }
    fitted_.assign(m.num_tasks, 0);
    for (int32_t t = 0; t < m.num_tasks; ++t) {
      int64_t counted = 0;
      for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) counted += excluded_[m.worker[a]] ? 0 : 1;
      fitted_[t] = active_[t] && !PredictedOnly(o, counted, m.gold[t] != kNoGold);
    }
    worker_answers_.assign(m.num_workers, 0);
    for (int32_t w : m.worker) {
      included_answers_ += excluded_[w] ? 0 : 1;
      ++worker_answers_[w];
    }
    if (!context.extra_answers.empty()) {
      for (int32_t w = 0; w < m.num_workers; ++w) worker_answers_[w] += context.extra_answers[w];
    }
  }

  // Runs EM from the given initial posteriors (num_tasks x K) and fills `model`.
  void Run(std::vector<double> posterior, Model& model) {
    post_ = std::move(posterior);
    Pass(/*e_step=*/false);
    double penalty = UpdateParameters();
    double previous = -std::numeric_limits<double>::infinity();
    const double scale = 1.0 / std::max<int64_t>(1, included_answers_);
    for (int it = 1; it <= o_.max_iter; ++it) {
      const double ll = Pass(/*e_step=*/true);
      const double objective = ll + penalty;
      model.objective_history.push_back(objective);
      model.log_likelihood = ll;
      model.iterations = it;
      penalty = UpdateParameters();
      // hds: the population moves with every M-step and the prior with it,
      // so the objective is not EM's: it may rise and fall while the
      // population drifts (by a few 1e-4 per answer). Once the population
      // stands still, what remains is EM under a fixed prior, so hds has
      // converged when the objective changes by less than tol per answer
      // either way and the pooled counts by less than sqrt(tol) per answer:
      // near a fixed point the objective moves with the square of a
      // parameter's step, so sqrt(tol) is the step that tol stands for (the
      // usual pairing of a function and a parameter tolerance). Held to tol
      // itself, the counts kept hds iterating twice as long as ds on large
      // inputs: 57 sweeps against 25 on 10M answers, which moved 861 of 2M
      // labels (0.04%) and the accuracy by one task.
      const double change = (objective - previous) * scale;
      const bool settled = UsesPopulation(o_)
                               ? std::abs(change) < o_.tol && population_shift_ * scale < std::sqrt(o_.tol)
                               : change < o_.tol;
      if (settled) {
        model.converged = true;
        break;
      }
      previous = objective;
    }
    model.posterior = std::move(post_);
    model.class_prior.resize(K_);
    double prior_sum = 0;
    for (int k = 0; k < K_; ++k) prior_sum += (model.class_prior[k] = std::exp(log_prior_[k]));
    // The variational exp(E log rho) sums to less than 1: report it normalised.
    if (VariationalClassPrior(o_)) {
      for (int k = 0; k < K_; ++k) model.class_prior[k] /= prior_sum;
    }
    model.confusion = Confusion();
  }

 private:
  // One pass over the answers in chunks: optionally the E-step (posteriors
  // from the current parameters), then the sufficient statistics of the
  // M-step from the posteriors. Returns the log-likelihood of the E-step.
  // The chunk kernel (em_kernel.h) is specialised for K = 2 to 16 and built
  // for the CPU's instruction set; every variant does the same arithmetic in
  // the same order, so results do not depend on which one runs.
  double Pass(bool e_step) {
    const int chunks = static_cast<int>(bounds_.size()) - 1;
    const EmChunkKernel kernel = SelectEmChunkKernel(K_);
    const EmPassData data{.num_classes = K_,
                          .num_workers = m_.num_workers,
                          .task_begin = m_.task_begin.data(),
                          .worker = m_.worker.data(),
                          .label = m_.label.data(),
                          .gold = m_.gold.data(),
                          .active = active_.data(),
                          .fitted = fitted_.data(),
                          .log_pi = log_pi_.data(),
                          .log_prior = log_prior_.data(),
                          .normalise_prior = VariationalClassPrior(o_),
                          .posterior = post_.data()};
    const size_t partial = static_cast<size_t>(m_.num_workers) * K_ * K_ + K_;
    ParallelFor(chunks, o_.threads, [&](int c) {
      partial_ll_[c] = kernel(data, bounds_[c], bounds_[c + 1], e_step, partial_counts_.data() + partial * c);
    });
    std::fill(counts_.begin(), counts_.end(), 0.0);
    std::fill(class_counts_.begin(), class_counts_.end(), 0.0);
    double ll = 0;
    for (int c = 0; c < chunks; ++c) {
      const double* counts = partial_counts_.data() + partial * c;
      for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += counts[i];
      for (int k = 0; k < K_; ++k) class_counts_[k] += counts[counts_.size() + k];
      ll += partial_ll_[c];
    }
    // The answers fitted elsewhere count in every M-step, after the local
    // sums and in the same order, so the result does not depend on threads.
    if (!context_.extra_counts.empty()) {
      for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += context_.extra_counts[i];
    }
    if (!context_.extra_class_counts.empty()) {
      for (int k = 0; k < K_; ++k) class_counts_[k] += context_.extra_class_counts[k];
    }
    return ll;
  }

  // M-step: parameters from counts_ and class_counts_. Returns the Dirichlet
  // log-prior of the new parameters (0 when prior == 0).
  double UpdateParameters() {
    double penalty = ClassLogPrior(class_counts_.data(), K_, o_.prior, VariationalClassPrior(o_),
                                   log_prior_.data());
    const WorkerPrior prior = WorkerPriorOf(o_, Population());
    for (int32_t w = 0; w < m_.num_workers; ++w) {
      double* lp = log_pi_.data() + static_cast<size_t>(w) * K_ * K_;
      const double term = WorkerLogConfusion(counts_.data() + static_cast<size_t>(w) * K_ * K_,
                                             K_, prior, WorkerModelOf(o_, worker_answers_[w]), lp);
      if (excluded_[w]) {
        std::fill(lp, lp + K_ * K_, 0.0);  // log 1: an excluded worker's answers count for nothing
      } else {
        penalty += term;
      }
    }
    return penalty;
  }

  // hds: the population counts, the sum of the counts (local and extra) of
  // every included worker (an excluded worker counts for nothing, as if
  // removed), summed in worker order so that the result does not depend on
  // threads. nullptr for the other methods.
  const double* Population() {
    if (population_.empty()) return nullptr;
    const size_t kk = static_cast<size_t>(K_) * K_;
    previous_population_ = population_;
    std::fill(population_.begin(), population_.end(), 0.0);
    for (int32_t w = 0; w < m_.num_workers; ++w) {
      if (excluded_[w]) continue;
      const double* c = counts_.data() + w * kk;
      for (size_t i = 0; i < kk; ++i) population_[i] += c[i];
    }
    population_shift_ = 0;
    for (size_t i = 0; i < kk; ++i) {
      population_shift_ = std::max(population_shift_, std::fabs(population_[i] - previous_population_[i]));
    }
    return population_.data();
  }

  // confusion[w][k][l] = P(l | k) from the final counts.
  std::vector<double> Confusion() {
    std::vector<double> out(counts_.size());
    const WorkerPrior prior = WorkerPriorOf(o_, Population());
    for (int32_t w = 0; w < m_.num_workers; ++w) {
      const size_t base = static_cast<size_t>(w) * K_ * K_;
      WorkerConfusion(counts_.data() + base, K_, prior,
                      WorkerModelOf(o_, worker_answers_[w]), out.data() + base);
    }
    return out;
  }

  const AnswerMatrix& m_;
  const AggregateOptions& o_;
  const int K_;
  std::vector<bool> excluded_;
  const FitContext& context_;
  std::vector<int32_t> bounds_;
  std::vector<char> active_;  // task has gold or an answer of an included worker
  std::vector<char> fitted_;  // active and counted in the fit (not PredictedOnly)
  int64_t included_answers_ = 0;
  std::vector<int64_t> worker_answers_;
  std::vector<double> post_;
  std::vector<double> partial_counts_, partial_ll_;
  std::vector<double> counts_, class_counts_;
  std::vector<double> log_pi_, log_prior_;
  std::vector<double> population_;  // K x K [l][k]; hds only
  std::vector<double> previous_population_;
  double population_shift_ = 0;  // the largest change of a pooled count at the last M-step
};

bool Excluded(const std::vector<bool>& excluded, int32_t w) {
  return w < static_cast<int32_t>(excluded.size()) && excluded[w];
}

// Vote shares per task (weights per worker, 1 when empty); uniform for a task
// without counted answers; gold tasks one-hot.
std::vector<double> WeightedVotes(const AnswerMatrix& m, const std::vector<bool>& excluded,
                                  const std::vector<double>& weight) {
  const int K = m.num_classes;
  std::vector<double> post(static_cast<size_t>(m.num_tasks) * K, 0.0);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    double* p = post.data() + static_cast<size_t>(t) * K;
    if (m.gold[t] != kNoGold) {
      p[m.gold[t]] = 1.0;
      continue;
    }
    double sum = 0;
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      const int32_t w = m.worker[a];
      if (Excluded(excluded, w)) continue;
      const double v = weight.empty() ? 1.0 : weight[w];
      p[m.label[a]] += v;
      sum += v;
    }
    for (int k = 0; k < K; ++k) p[k] = sum > 0 ? p[k] / sum : 1.0 / K;
  }
  return post;
}

// Class priors as the mean posterior over tasks with answers or gold, and
// each worker's empirical confusion against the posteriors.
void FillEmpiricalParameters(const AnswerMatrix& m, const std::vector<bool>& excluded, double alpha,
                             Model& model) {
  const int K = m.num_classes;
  std::vector<double> counts(static_cast<size_t>(m.num_workers) * K * K, 0.0);
  std::vector<double> class_counts(K, 0.0);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    if (m.gold[t] == kNoGold) {
      bool counted = false;
      for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1] && !counted; ++a) {
        counted = !Excluded(excluded, m.worker[a]);
      }
      if (!counted) continue;  // as for EM: a task without counted answers says nothing
    }
    const double* p = model.posterior.data() + static_cast<size_t>(t) * K;
    for (int k = 0; k < K; ++k) class_counts[k] += p[k];
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      double* row = counts.data() + (static_cast<size_t>(m.worker[a]) * K) * K;
      for (int k = 0; k < K; ++k) row[k * K + m.label[a]] += p[k];
    }
  }
  double total = 0;
  for (int k = 0; k < K; ++k) total += class_counts[k] + alpha;
  model.class_prior.resize(K);
  for (int k = 0; k < K; ++k) {
    model.class_prior[k] = total > 0 ? (class_counts[k] + alpha) / total : 1.0 / K;
  }
  model.confusion.resize(counts.size());
  for (size_t row = 0; row < counts.size(); row += K) {
    double sum = 0;
    for (int l = 0; l < K; ++l) sum += counts[row + l] + alpha;
    for (int l = 0; l < K; ++l) {
      model.confusion[row + l] = sum > 0 ? (counts[row + l] + alpha) / sum : 1.0 / K;
    }
  }
}

void FillLabels(const AnswerMatrix& m, const AggregateOptions& o, Model& model) {
  model.label.resize(m.num_tasks);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    model.label[t] = ArgMax(model.Posterior(t), model.class_prior, m.class_rank, o.tie_break);
  }
}

}  // namespace

int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

absl::StatusOr<Method> ParseMethod(std::string_view name) {
  if (name == "ds") return Method::kDawidSkene;
  if (name == "onecoin") return Method::kOneCoin;
  if (name == "mv") return Method::kMajorityVote;
  if (name == "wawa") return Method::kWawa;
  if (name == "vbds") return Method::kVariational;
  if (name == "mace") return Method::kMace;
  if (name == "hds") return Method::kHierarchical;
  return absl::InvalidArgumentError(absl::StrCat("unknown method '", std::string(name),
                                                 "': use ds, onecoin, vbds, mace, hds, mv or wawa"));
}

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kDawidSkene: return "ds";
    case Method::kOneCoin: return "onecoin";
    case Method::kMajorityVote: return "mv";
    case Method::kWawa: return "wawa";
    case Method::kVariational: return "vbds";
    case Method::kMace: return "mace";
    case Method::kHierarchical: return "hds";
  }
  return "?";
}

WorkerPrior WorkerPriorOf(const AggregateOptions& options, const double* population) {
  return {options.prior, options.prior > 0 ? options.diagonal_prior : 0.0, population};
}

bool UsesPopulation(const AggregateOptions& options) {
  return options.method == Method::kHierarchical;
}

WorkerModel WorkerModelOf(const AggregateOptions& options, int64_t answers) {
  switch (options.method) {
    case Method::kOneCoin: return WorkerModel::kOneCoin;
    case Method::kVariational: return WorkerModel::kVariational;
    case Method::kMace: return WorkerModel::kMace;
    case Method::kHierarchical: return WorkerModel::kHierarchical;
    default: return answers < options.onecoin_below ? WorkerModel::kOneCoin : WorkerModel::kConfusion;
  }
}

bool VariationalClassPrior(const AggregateOptions& options) {
  return options.method == Method::kVariational || options.method == Method::kMace;
}

bool PredictedOnly(const AggregateOptions& options, int64_t counted_answers, bool has_gold) {
  return options.prior > 0 && options.skip_single_answer_tasks && !has_gold && counted_answers == 1;
}

int32_t ArgMax(std::span<const double> posterior, std::span<const double> class_prior,
               std::span<const int32_t> class_rank, TieBreak tie_break) {
  int32_t best = 0;
  for (int32_t k = 1; k < static_cast<int32_t>(posterior.size()); ++k) {
    if (posterior[k] != posterior[best]) {
      if (posterior[k] > posterior[best]) best = k;
      continue;
    }
    // Priors equal up to rounding (sums taken in another order) count as equal,
    // so that the tie-break does not depend on the order of the input.
    if (tie_break == TieBreak::kPriorThenName && !class_prior.empty() &&
        std::fabs(class_prior[k] - class_prior[best]) >
            kPriorTieTolerance * std::max(class_prior[k], class_prior[best])) {
      if (class_prior[k] > class_prior[best]) best = k;
      continue;
    }
    const int32_t rank_k = class_rank.empty() ? k : class_rank[k];
    const int32_t rank_best = class_rank.empty() ? best : class_rank[best];
    if (rank_k < rank_best) best = k;
  }
  return best;
}

absl::StatusOr<Model> Aggregate(const AnswerMatrix& m, const AggregateOptions& o,
                                const std::vector<bool>& excluded) {
  FitContext context;
  context.excluded = excluded;
  return Aggregate(m, o, context);
}

absl::StatusOr<Model> Aggregate(const AnswerMatrix& m, const AggregateOptions& o,
                                const FitContext& context) {
  const std::vector<bool>& excluded = context.excluded;
  const size_t kk = static_cast<size_t>(m.num_classes) * m.num_classes;
  if ((!context.extra_counts.empty() && context.extra_counts.size() != kk * m.num_workers) ||
      (!context.extra_class_counts.empty() &&
       context.extra_class_counts.size() != static_cast<size_t>(m.num_classes)) ||
      (!context.extra_answers.empty() &&
       context.extra_answers.size() != static_cast<size_t>(m.num_workers))) {
    return absl::InvalidArgumentError("fit context: a vector does not match the answers' sizes");
  }
  if (m.num_classes < 1) return absl::InvalidArgumentError("no classes: the answers hold no labels");
  if (!(o.prior >= 0)) return absl::InvalidArgumentError("prior must be >= 0");
  if (!(o.diagonal_prior >= 0)) return absl::InvalidArgumentError("diagonal prior must be >= 0");
  if (o.max_iter < 0) return absl::InvalidArgumentError("max_iter must be >= 0");
  if (o.threads < 0) return absl::InvalidArgumentError("threads must be >= 0 (0: one per core)");
  Model model;
  model.num_classes = m.num_classes;
  std::vector<double> votes = WeightedVotes(m, excluded, {});
  switch (o.method) {
    case Method::kMajorityVote:
      model.posterior = std::move(votes);
      FillEmpiricalParameters(m, excluded, o.prior, model);
      break;
    case Method::kWawa: {
      // Wawa: weight each worker by agreement with the majority vote, then vote again.
      model.posterior = votes;
      FillEmpiricalParameters(m, excluded, o.prior, model);
      FillLabels(m, o, model);
      std::vector<double> agree(m.num_workers, 0.0), total(m.num_workers, 0.0);
      for (int32_t t = 0; t < m.num_tasks; ++t) {
        for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
          total[m.worker[a]] += 1;
          agree[m.worker[a]] += m.label[a] == model.label[t] ? 1 : 0;
        }
      }
      for (int32_t w = 0; w < m.num_workers; ++w) agree[w] = total[w] > 0 ? agree[w] / total[w] : 0;
      model.posterior = WeightedVotes(m, excluded, agree);
      FillEmpiricalParameters(m, excluded, o.prior, model);
      break;
    }
    case Method::kDawidSkene:
    case Method::kOneCoin:
    case Method::kVariational:
    case Method::kMace:
    case Method::kHierarchical: {
      EmFit fit(m, o, context);
      fit.Run(std::move(votes), model);
      break;
    }
  }
  FillLabels(m, o, model);
  return model;
}

}  // namespace consensusd::consensus
