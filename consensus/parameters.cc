#include "consensus/parameters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "consensus/class_array.h"

namespace consensusd::consensus {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

double Clip(double count, double prior) { return prior > 0 ? count : std::max(count, kEps); }

// One-coin accuracy (correct + a + diagonal) / (answers + K a + diagonal),
// kept inside (0, 1).
double OneCoinAccuracy(const double* c, int32_t K, double a, double diag, double clip) {
  double correct = 0, answers = 0;
  for (int l = 0; l < K; ++l) {
    for (int k = 0; k < K; ++k) answers += c[l * K + k];
    correct += c[l * K + l];
  }
  const double right = std::max(correct, clip) + diag;
  const double acc = right / (right + std::max(answers - correct, clip) + (K - 1) * a);
  return std::clamp(acc, kEps, 1.0 - kEps);
}

// log B(alpha) = sum_i log Gamma(alpha_i) - log Gamma(sum_i alpha_i).
double LogBeta(const double* alpha, int n) {
  double sum = 0, out = 0;
  for (int i = 0; i < n; ++i) {
    sum += alpha[i];
    out += std::lgamma(alpha[i]);
  }
  return out - std::lgamma(sum);
}

// KL(Dirichlet(post) || Dirichlet(prior)) over n cells.
double DirichletKl(const double* post, const double* prior, int n) {
  double post_sum = 0;
  for (int i = 0; i < n; ++i) post_sum += post[i];
  const double psi_sum = Digamma(post_sum);
  double kl = LogBeta(prior, n) - LogBeta(post, n);
  for (int i = 0; i < n; ++i) kl += (post[i] - prior[i]) * (Digamma(post[i]) - psi_sum);
  return kl;
}

// IBCC (Kim & Ghahramani 2012): E[log pi_kl] under the Dirichlet posterior of
// each confusion row, alpha_kl = 1/K + [l == k], plus the counts.
double VariationalLogConfusion(const double* c, int32_t K, double* log_pi) {
  constexpr int kStack = 64;
  double post_stack[kStack], prior_stack[kStack];
  std::vector<double> post_heap, prior_heap;
  double* post = post_stack;
  double* prior = prior_stack;
  if (K > kStack) {
    post_heap.resize(K);
    prior_heap.resize(K);
    post = post_heap.data();
    prior = prior_heap.data();
  }
  const double off = kVariationalRowMass / K;
  double term = 0;
  for (int k = 0; k < K; ++k) {
    double sum = 0;
    for (int l = 0; l < K; ++l) {
      prior[l] = off + (l == k ? kVariationalDiagonal : 0.0);
      post[l] = prior[l] + std::max(c[l * K + k], 0.0);
      sum += post[l];
    }
    const double psi_sum = Digamma(sum);
    for (int l = 0; l < K; ++l) log_pi[l * K + k] = Digamma(post[l]) - psi_sum;
    term -= DirichletKl(post, prior, K);
  }
  return term;
}

// MACE (Hovy et al. 2013), variational form: theta = P(not spamming) ~
// Beta(a, a), spamming distribution xi ~ Dirichlet(g). Answers l != k are
// spam; a correct answer is spam with responsibility
//   r_k = (1 - theta) xi_k / (theta + (1 - theta) xi_k)
// (with the exp(E log) parameters). kMaceInnerSteps EM steps from theta = 1/2,
// xi uniform.
double MaceLogConfusion(const double* c, int32_t K, double* log_pi, bool with_term = true) {
  // Four rows of K: log xi, spam counts, and the posterior and prior of xi.
  constexpr int kStack = 64;
  double stack[4 * kStack];
  std::vector<double> heap;
  double* log_xi = stack;
  if (K > kStack) {
    heap.resize(4 * static_cast<size_t>(K));
    log_xi = heap.data();
  }
  double* spam = log_xi + K;
  double* xi_post = spam + K;
  double* xi_prior = xi_post + K;
  std::fill(log_xi, log_xi + K, -std::log(static_cast<double>(K)));
  std::fill(xi_prior, xi_prior + K, kMaceStrategyPrior);
  double log_theta = std::log(0.5), log_spam = std::log(0.5);
  double total = 0;
  for (int i = 0; i < K * K; ++i) total += std::max(c[i], 0.0);
  double not_spam = 0;
  for (int step = 0; step < kMaceInnerSteps; ++step) {
    // Expected spam counts per label and the expected correct non-spam count.
    not_spam = 0;
    for (int l = 0; l < K; ++l) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += k == l ? 0.0 : std::max(c[l * K + k], 0.0);
      const double right = std::exp(log_theta);
      const double wrong = std::exp(log_spam + log_xi[l]);
      const double r = wrong / (right + wrong);
      const double n = std::max(c[l * K + l], 0.0);
      spam[l] = s + n * r;
      not_spam += n * (1.0 - r);
    }
    double spam_total = 0;
    for (int l = 0; l < K; ++l) spam_total += spam[l];
    const double psi_theta = Digamma(total + 2 * kMaceThetaPrior);
    log_theta = Digamma(not_spam + kMaceThetaPrior) - psi_theta;
    log_spam = Digamma(std::max(total - not_spam, 0.0) + kMaceThetaPrior) - psi_theta;
    const double psi_xi = Digamma(spam_total + K * kMaceStrategyPrior);
    for (int l = 0; l < K; ++l) log_xi[l] = Digamma(spam[l] + kMaceStrategyPrior) - psi_xi;
  }
  for (int l = 0; l < K; ++l) {
    for (int k = 0; k < K; ++k) {
      const double wrong = log_spam + log_xi[l];
      log_pi[l * K + k] = l == k ? wrong + std::log1p(std::exp(log_theta - wrong)) : wrong;
    }
  }
  if (!with_term) return 0;
  const double theta_post[2] = {not_spam + kMaceThetaPrior,
                                std::max(total - not_spam, 0.0) + kMaceThetaPrior};
  const double theta_prior[2] = {kMaceThetaPrior, kMaceThetaPrior};
  for (int l = 0; l < K; ++l) xi_post[l] = spam[l] + kMaceStrategyPrior;
  return -DirichletKl(theta_post, theta_prior, 2) - DirichletKl(xi_post, xi_prior, K);
}

// Hierarchical Dawid-Skene: the pseudo-counts b_kl = s m_kl of row k, from the
// population row m_k = (N_.k + c + d [l == k]) / (N_k + K c + d), into b (K
// entries). Their sum is s.
void HierarchicalRow(const double* population, int32_t K, int k, double* b) {
  const double c = kHierarchicalPopulationPrior;
  const double d = kHierarchicalPopulationDiagonal;
  const double s = K * kHierarchicalStrengthPerClass;
  double total = K * c;
  for (int l = 0; l < K; ++l) total += population == nullptr ? 0.0 : std::max(population[l * K + k], 0.0);
  total += d;
  for (int l = 0; l < K; ++l) {
    const double n = population == nullptr ? 0.0 : std::max(population[l * K + k], 0.0);
    b[l] = s * (n + c + (l == k ? d : 0.0)) / total;
  }
}

// P(l | k) = (counts[l][k] + b_kl) / (n_k + s), logs into log_pi; returns
// sum b log(P / m), m = b / s the population's P.
double HierarchicalLogConfusion(const double* c, int32_t K, const double* population,
                                double* log_pi) {
  constexpr int kStack = 64;
  double b_stack[kStack];
  std::vector<double> b_heap;
  double* b = b_stack;
  if (K > kStack) {
    b_heap.resize(K);
    b = b_heap.data();
  }
  const double s = K * kHierarchicalStrengthPerClass;
  double term = 0;
  for (int k = 0; k < K; ++k) {
    HierarchicalRow(population, K, k, b);
    double col = 0;
    for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], 0.0) + b[l];
    const double log_col = std::log(col);
    for (int l = 0; l < K; ++l) {
      const double v = std::log(std::max(c[l * K + k], 0.0) + b[l]) - log_col;
      log_pi[l * K + k] = v;
      term += b[l] * (v - std::log(b[l] / s));
    }
  }
  return term;
}

}  // namespace

double Digamma(double x) {
  // Recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series.
  double result = 0;
  while (x < 10) {
    result -= 1 / x;
    x += 1;
  }
  const double inv = 1 / x, inv2 = inv * inv;
  result += std::log(x) - 0.5 * inv -
            inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 / 132))));
  return result;
}

double WorkerLogConfusion(const double* c, int32_t K, const WorkerPrior& prior, WorkerModel model,
                          double* log_pi) {
  if (model == WorkerModel::kVariational) return VariationalLogConfusion(c, K, log_pi);
  if (model == WorkerModel::kMace) return MaceLogConfusion(c, K, log_pi);
  if (model == WorkerModel::kHierarchical) return HierarchicalLogConfusion(c, K, prior.population, log_pi);
  const bool onecoin = model == WorkerModel::kOneCoin;
  const double a = prior.pseudo_count;
  const double diag = a + prior.diagonal;
  const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
  double term = 0;
  if (onecoin) {
    const double acc = OneCoinAccuracy(c, K, a, diag, clip);
    const double log_right = std::log(acc);
    const double log_wrong = K > 1 ? std::log((1.0 - acc) / (K - 1)) : 0.0;
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) log_pi[l * K + k] = l == k ? log_right : log_wrong;
    }
    return diag * log_right + (K - 1) * a * log_wrong;
  }
  for (int k = 0; k < K; ++k) {
    double col = 0;
    for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], clip) + (l == k ? diag : a);
    const double log_col = std::log(col);
    for (int l = 0; l < K; ++l) {
      const double pseudo = l == k ? diag : a;
      const double v = std::log(std::max(c[l * K + k], clip) + pseudo) - log_col;
      log_pi[l * K + k] = v;
      term += pseudo * v;
    }
  }
  return term;
}

void WorkerConfusion(const double* c, int32_t K, const WorkerPrior& prior, WorkerModel model,
                     double* confusion) {
  std::vector<double> log_pi(static_cast<size_t>(K) * K);
  WorkerLogConfusion(c, K, prior, model, log_pi.data());
  for (int k = 0; k < K; ++k) {
    double sum = 0;
    for (int l = 0; l < K; ++l) sum += (confusion[k * K + l] = std::exp(log_pi[l * K + k]));
    if (model == WorkerModel::kVariational || model == WorkerModel::kMace) {
      for (int l = 0; l < K; ++l) confusion[k * K + l] /= sum;
    }
  }
}

namespace {

// WorkerLikelihood for the models without an Eigen kernel: the Bayesian ones
// (a digamma or an exp per class) and one-coin (one accuracy for the table).
void ScalarWorkerLikelihood(const double* c, int32_t K, const WorkerPrior& prior,
                            WorkerModel model, int32_t label, double* likelihood) {
  if (model == WorkerModel::kVariational) {
    // exp(E[log pi_k,label]): two digammas per class, as VariationalLogConfusion.
    const double off = kVariationalRowMass / K;
    for (int k = 0; k < K; ++k) {
      double sum = 0;
      for (int l = 0; l < K; ++l) sum += off + (l == k ? kVariationalDiagonal : 0.0) + std::max(c[l * K + k], 0.0);
      const double cell = off + (label == k ? kVariationalDiagonal : 0.0) + std::max(c[label * K + k], 0.0);
      likelihood[k] = std::exp(Digamma(cell) - Digamma(sum));
    }
    return;
  }
  if (model == WorkerModel::kMace) {
    // MACE needs its inner steps over the whole table.
    double stack[16 * 16];
    std::vector<double> heap;
    double* log_pi = stack;
    if (K > 16) {
      heap.resize(static_cast<size_t>(K) * K);
      log_pi = heap.data();
    }
    MaceLogConfusion(c, K, log_pi, /*with_term=*/false);
    for (int k = 0; k < K; ++k) likelihood[k] = std::exp(log_pi[label * K + k]);
    return;
  }
  // kOneCoin.
  const double a = prior.pseudo_count;
  const double diag = a + prior.diagonal;
  const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
  const double acc = OneCoinAccuracy(c, K, a, diag, clip);
  const double wrong = K > 1 ? (1.0 - acc) / (K - 1) : 1.0;
  for (int k = 0; k < K; ++k) likelihood[k] = k == label ? acc : wrong;
}

// P(label | k) for every k at once, as Eigen arrays over the classes k: the
// column sums over l are added row by row, in the order l = 0, 1, ..., so each
// class's sum is the scalar loop's, and the rest is element-wise.
template <int kK>
struct LikelihoodKernel {
  using Row = ClassRow<kK>;
  using MutRow = MutableClassRow<kK>;

  // Dawid & Skene (1979): P(label | k) = (c[label][k] + b_k,label) / sum_l (c[l][k] + b_kl),
  // b_kl = a, plus diagonal when l == k; counts clipped at `clip`. col: K-array scratch.
  template <typename Scratch>
  static void Confusion(const double* c, int32_t K, double a, double diag, double clip,
                        int32_t label, double* likelihood, Scratch& col) {
    // The pseudo-counts as a table read a row at a time: writing b_ll into a
    // row just computed and loading it back as a vector stalls the load.
    const PseudoCounts& b = PseudoCountTable(K, a, diag);
    col.setZero();
    for (int l = 0; l < K; ++l) col += Row(c + static_cast<size_t>(l) * K, K).max(clip) + b.col(l);
    MutRow(likelihood, K) = (Row(c + static_cast<size_t>(label) * K, K).max(clip) + b.col(label)) / col;
  }

  // b[l][k] = a, or diag when l == k, in column l. Kept per thread for the
  // last (K, a, diag): they are the options', the same every call.
  using PseudoCounts = Eigen::Array<double, kK, kK>;
  static const PseudoCounts& PseudoCountTable(int32_t K, double a, double diag) {
    struct Cached {
      double a = std::numeric_limits<double>::quiet_NaN(), diag = 0;
      PseudoCounts table;
    };
    thread_local Cached cached;
    if (!(cached.a == a && cached.diag == diag && cached.table.rows() == K)) {
      cached.a = a;
      cached.diag = diag;
      cached.table.setConstant(K, K, a);
      for (int l = 0; l < K; ++l) cached.table(l, l) = diag;
    }
    return cached.table;
  }

  // Hierarchical Dawid-Skene: P(label | k) = (c[label][k] + b_k,label) / sum_l (c[l][k] + b_kl),
  // b_kl = s (N_lk + c + d [l == k]) / (N_k + K c + d) as HierarchicalRow, for
  // every k at once. Without a population N is 0. total, col and m: K-array scratch.
  template <typename Scratch>
  static void Hierarchical(const double* c, int32_t K, const double* population, int32_t label,
                           double* likelihood, Scratch& total, Scratch& col, Scratch& m) {
    const double prior = kHierarchicalPopulationPrior;
    const double d = kHierarchicalPopulationDiagonal;
    const double s = K * kHierarchicalStrengthPerClass;
    auto counts = [&](int l) { return Row(c + static_cast<size_t>(l) * K, K).max(0.0); };
    // m = N_l. + c, plus d at class l: the scalar (n + c) + (d or 0), bit for bit.
    auto pooled = [&](int l) {
      if (population == nullptr) {
        m.setConstant(prior);  // 0 + c is c exactly
      } else {
        m = Row(population + static_cast<size_t>(l) * K, K).max(0.0) + prior;
      }
      m(l) += d;
    };
    total.setConstant(K * prior);
    if (population != nullptr) {
      for (int l = 0; l < K; ++l) total += Row(population + static_cast<size_t>(l) * K, K).max(0.0);
    }
    total += d;
    col.setZero();
    for (int l = 0; l < K; ++l) {
      pooled(l);
      col += counts(l) + s * m / total;
    }
    pooled(label);
    MutRow(likelihood, K) = (counts(label) + s * m / total) / col;
  }

  template <typename Scratch>
  static void RunWith(const double* c, int32_t K, const WorkerPrior& prior, WorkerModel model,
                      int32_t label, double* likelihood, Scratch& x, Scratch& y, Scratch& z) {
    if (model == WorkerModel::kHierarchical) {
      // One population row per class: O(K^2), as ds.
      return Hierarchical(c, K, prior.population, label, likelihood, x, y, z);
    }
    const double a = prior.pseudo_count;
    const double diag = a + prior.diagonal;
    const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
    Confusion(c, K, a, diag, clip, label, likelihood, x);
  }

  static void Run(const double* c, int32_t num_classes, const WorkerPrior& prior, WorkerModel model,
                  int32_t label, double* likelihood) {
    // A compile-time K where there is one: the loops over classes unroll and
    // index the arrays by constants.
    const int32_t K = kK == Eigen::Dynamic ? num_classes : kK;
    if (model != WorkerModel::kConfusion && model != WorkerModel::kHierarchical) {
      return ScalarWorkerLikelihood(c, K, prior, model, label, likelihood);
    }
    if constexpr (kK != Eigen::Dynamic) {
      // Fixed-size arrays, the loops unrolled: the scratch can stay in registers.
      ClassArray<kK> x, y, z;
      RunWith(c, K, prior, model, label, likelihood, x, y, z);
    } else {
      // Scratch on the stack up to 64 classes, on the heap beyond.
      constexpr int kStack = 64;
      double stack[3 * kStack];
      std::vector<double> heap;
      double* scratch = stack;
      if (K > kStack) {
        heap.resize(3 * static_cast<size_t>(K));
        scratch = heap.data();
      }
      MutRow x(scratch, K), y(scratch + K, K), z(scratch + 2 * K, K);
      RunWith(c, K, prior, model, label, likelihood, x, y, z);
    }
  }
};

}  // namespace

WorkerLikelihoodFn WorkerLikelihoodFor(int32_t num_classes) {
  return SelectForClasses(num_classes, [](auto k) -> WorkerLikelihoodFn {
    return &LikelihoodKernel<decltype(k)::value>::Run;
  });
}

void WorkerLikelihood(const double* c, int32_t K, const WorkerPrior& prior, WorkerModel model,
                      int32_t label, double* likelihood) {
  WorkerLikelihoodFor(K)(c, K, prior, model, label, likelihood);
}

void ClassPriorProbabilities(const double* class_counts, int32_t K, double prior,
                             double* probabilities) {
  double total = 0;
  for (int k = 0; k < K; ++k) total += Clip(class_counts[k], prior) + prior;
  for (int k = 0; k < K; ++k) probabilities[k] = (Clip(class_counts[k], prior) + prior) / total;
}

double ClassLogPrior(const double* class_counts, int32_t K, double prior, double* log_prior) {
  double total = 0;
  for (int k = 0; k < K; ++k) total += Clip(class_counts[k], prior) + prior;
  const double log_total = std::log(total);
  double term = 0;
  for (int k = 0; k < K; ++k) {
    log_prior[k] = std::log(Clip(class_counts[k], prior) + prior) - log_total;
    term += prior * log_prior[k];
  }
  return term;
}


void ClassPriorProbabilities(const double* class_counts, int32_t K, double prior, bool variational,
                             double* probabilities) {
  if (!variational) {
    ClassPriorProbabilities(class_counts, K, prior, probabilities);
    return;
  }
  ClassLogPrior(class_counts, K, prior, /*variational=*/true, probabilities);
  for (int k = 0; k < K; ++k) probabilities[k] = std::exp(probabilities[k]);
}

double ClassLogPrior(const double* class_counts, int32_t K, double prior, bool variational,
                     double* log_prior) {
  if (!variational) return ClassLogPrior(class_counts, K, prior, log_prior);
  // E[log rho_k] under the Dirichlet posterior of the class prior.
  std::vector<double> post(K), alpha(K, kVariationalClassPrior);
  double sum = 0;
  for (int k = 0; k < K; ++k) sum += (post[k] = std::max(class_counts[k], 0.0) + kVariationalClassPrior);
  const double psi_sum = Digamma(sum);
  for (int k = 0; k < K; ++k) log_prior[k] = Digamma(post[k]) - psi_sum;
  return -DirichletKl(post.data(), alpha.data(), K);
}

}  // namespace consensusd::consensus
