// The Bayesian methods (vbds, mace, hds): hand-made matrices, the evidence
// lower bound, thread-count determinism, and recovery against the
// Bayes-optimal accuracy on synthetic Dawid-Skene data.

#include <cmath>
#include <iostream>
#include <numeric>
#include <vector>

#include "consensus/aggregate.h"
#include "consensus/parameters.h"
#include "consensus/synthetic.h"
#include "gtest/gtest.h"

namespace consensusd::consensus {
namespace {

constexpr Method kBayesianMethods[] = {Method::kVariational, Method::kMace, Method::kHierarchical};

// Answers (task, worker, label) as a matrix; K classes, no gold.
AnswerMatrix Matrix(int32_t tasks, int32_t workers, int32_t K,
                    const std::vector<std::vector<std::pair<int32_t, int32_t>>>& by_task) {
  AnswerMatrix m;
  m.num_tasks = tasks;
  m.num_workers = workers;
  m.num_classes = K;
  m.task_begin = {0};
  for (const auto& answers : by_task) {
    for (const auto& [w, l] : answers) {
      m.worker.push_back(w);
      m.label.push_back(l);
    }
    m.task_begin.push_back(static_cast<int64_t>(m.worker.size()));
  }
  m.gold.assign(tasks, kNoGold);
  m.class_rank.resize(K);
  std::iota(m.class_rank.begin(), m.class_rank.end(), 0);
  return m;
}

// 40 tasks of 2 classes (truth t % 2); workers 0-2 answer the truth except
// worker w errs on tasks 10w..10w+1; worker 3 always answers 0 (a spammer).
AnswerMatrix ThreeExpertsAndASpammer(std::vector<int32_t>* truth) {
  std::vector<std::vector<std::pair<int32_t, int32_t>>> by_task;
  truth->clear();
  for (int32_t t = 0; t < 40; ++t) {
    const int32_t y = t % 2;
    truth->push_back(y);
    std::vector<std::pair<int32_t, int32_t>> answers;
    for (int32_t w = 0; w < 3; ++w) {
      const bool err = t >= 10 * w && t < 10 * w + 2;
      answers.push_back({w, err ? 1 - y : y});
    }
    answers.push_back({3, 0});
    by_task.push_back(answers);
  }
  return Matrix(40, 4, 2, by_task);
}

double Confusion(const Model& m, int32_t w, int32_t k, int32_t l) {
  const int K = m.num_classes;
  return m.confusion[(static_cast<size_t>(w) * K + k) * K + l];
}

TEST(BayesianTest, MethodNamesRoundTrip) {
  EXPECT_EQ(ParseMethod("vbds").value(), Method::kVariational);
  EXPECT_EQ(ParseMethod("mace").value(), Method::kMace);
  EXPECT_EQ(ParseMethod("hds").value(), Method::kHierarchical);
  for (Method m : kBayesianMethods) EXPECT_EQ(ParseMethod(MethodName(m)).value(), m);
}

TEST(BayesianTest, DigammaMatchesKnownValues) {
  EXPECT_NEAR(Digamma(1.0), -0.5772156649015329, 1e-12);
  EXPECT_NEAR(Digamma(0.5), -1.9635100260214235, 1e-12);
  EXPECT_NEAR(Digamma(10.0), 2.251752589066721, 1e-12);
  EXPECT_NEAR(Digamma(0.01), -100.56088545786867, 1e-9);
}

TEST(BayesianTest, MaceReadsTheConstantAnswererAsASpammer) {
  std::vector<int32_t> truth;
  const Model m = *Aggregate(ThreeExpertsAndASpammer(&truth), {.method = Method::kMace});
  for (int32_t t = 0; t < 40; ++t) EXPECT_EQ(m.label[t], truth[t]) << t;
  // A spammer's answer does not depend on the truth: both rows alike, all on 0.
  EXPECT_NEAR(Confusion(m, 3, 0, 0), Confusion(m, 3, 1, 0), 0.1);
  EXPECT_GT(Confusion(m, 3, 1, 0), 0.8);
  for (int32_t w = 0; w < 3; ++w) {
    EXPECT_GT(Confusion(m, w, 0, 0), 0.8) << w;
    EXPECT_GT(Confusion(m, w, 1, 1), 0.8) << w;
  }
}

TEST(BayesianTest, MaceSpammerHasALowNonSpammingProbability) {
  // Counts [l][k] of a worker who answers 0 whatever the truth: 20 on each class.
  const double spammer[4] = {20, 20, 0, 0};
  const double expert[4] = {19, 1, 1, 19};
  double log_spammer[4], log_expert[4];
  WorkerLogConfusion(spammer, 2, {}, WorkerModel::kMace, log_spammer);
  WorkerLogConfusion(expert, 2, {}, WorkerModel::kMace, log_expert);
  // P(0 | 0) - P(0 | 1) = theta (up to the VB sub-normalisation).
  const double theta_spammer = std::exp(log_spammer[0]) - std::exp(log_spammer[1]);
  const double theta_expert = std::exp(log_expert[0]) - std::exp(log_expert[1]);
  EXPECT_LT(theta_spammer, 0.2);
  EXPECT_GT(theta_expert, 0.8);
}

TEST(BayesianTest, VariationalConfusionIsTheExpectedLogUnderTheDirichletPosterior) {
  const double counts[4] = {8, 1, 2, 5};  // [l][k]
  double log_pi[4];
  WorkerLogConfusion(counts, 2, {}, WorkerModel::kVariational, log_pi);
  // Row k = 0: alpha = (1/2 + 1, 1/2) + counts (8, 2).
  const double a00 = 1.5 + 8, a01 = 0.5 + 2;
  EXPECT_NEAR(log_pi[0 * 2 + 0], Digamma(a00) - Digamma(a00 + a01), 1e-12);
  EXPECT_NEAR(log_pi[1 * 2 + 0], Digamma(a01) - Digamma(a00 + a01), 1e-12);
  // exp(E log) sums to less than 1 (Jensen).
  EXPECT_LT(std::exp(log_pi[0]) + std::exp(log_pi[2]), 1.0);
}

TEST(BayesianTest, HierarchicalRowIsShrunkTowardsThePopulationRow) {
  // Population counts [l][k]: of 100 answers on class 0, 80 say 0; of 100 on
  // class 1, 90 say 1. The worker answered 0 once, on a task of class 0.
  const double population[4] = {80, 10, 20, 90};
  const double counts[4] = {1, 0, 0, 0};
  double log_pi[4];
  WorkerLogConfusion(counts, 2, {.population = population}, WorkerModel::kHierarchical, log_pi);
  // m_0 = (80 + 1 + 1, 20 + 1) / 103 (the hyperprior's 1 per cell and 1 more
  // on the diagonal), s = K = 2 pseudo-answers: P(0 | 0) = (1 + 2 * 82/103) / (1 + 2).
  EXPECT_NEAR(std::exp(log_pi[0 * 2 + 0]), (1 + 2 * 82.0 / 103) / 3, 1e-12);
  EXPECT_NEAR(std::exp(log_pi[1 * 2 + 0]), (2 * 21.0 / 103) / 3, 1e-12);
  // No answer on class 1: the row is the population's, (11, 92) / 103.
  EXPECT_NEAR(std::exp(log_pi[0 * 2 + 1]), 11.0 / 103, 1e-12);
  EXPECT_NEAR(std::exp(log_pi[1 * 2 + 1]), 92.0 / 103, 1e-12);
  // The one-row form used by the streaming E-step agrees.
  double likelihood[2];
  WorkerLikelihood(counts, 2, {.population = population}, WorkerModel::kHierarchical, 0, likelihood);
  EXPECT_NEAR(likelihood[0], std::exp(log_pi[0]), 1e-12);
  EXPECT_NEAR(likelihood[1], std::exp(log_pi[1]), 1e-12);
}

// With no pooled answers yet the population is the hyperprior's mean,
// m_kl = (1 + [l == k]) / (K + 1): better than chance, so that a new
// project's first answers are read as evidence for their labels.
TEST(BayesianTest, HierarchicalWithoutPopulationLeansToTheDiagonal) {
  const double counts[9] = {5, 1, 0, 2, 3, 0, 0, 0, 4};  // [l][k], K = 3
  double log_pi[9];
  const double term = WorkerLogConfusion(counts, 3, {}, WorkerModel::kHierarchical, log_pi);
  // s = 3 pseudo-answers per row at m: 1.5 on the diagonal, 0.75 elsewhere.
  EXPECT_NEAR(std::exp(log_pi[0 * 3 + 0]), 6.5 / 10, 1e-12);
  EXPECT_NEAR(std::exp(log_pi[1 * 3 + 0]), 2.75 / 10, 1e-12);
  EXPECT_NEAR(std::exp(log_pi[2 * 3 + 2]), 5.5 / 7, 1e-12);
  double expected = 0;
  for (int l = 0; l < 3; ++l) {
    for (int k = 0; k < 3; ++k) {
      const double m = l == k ? 0.5 : 0.25;
      expected += 3 * m * (log_pi[l * 3 + k] - std::log(m));
    }
  }
  EXPECT_NEAR(term, expected, 1e-12);
  EXPECT_LT(term, 0);
  // A worker without answers is the population: its term is 0, and its
  // answer makes the class it names the likeliest.
  const double none[9] = {};
  EXPECT_NEAR(WorkerLogConfusion(none, 3, {}, WorkerModel::kHierarchical, log_pi), 0.0, 1e-12);
  double likelihood[3];
  WorkerLikelihood(none, 3, {}, WorkerModel::kHierarchical, 2, likelihood);
  EXPECT_NEAR(likelihood[2], 0.5, 1e-12);
  EXPECT_NEAR(likelihood[0], 0.25, 1e-12);
  EXPECT_NEAR(likelihood[1], 0.25, 1e-12);
}

TEST(BayesianTest, HierarchicalIgnoresTheUsersPseudoCounts) {
  const double population[4] = {30, 5, 10, 40};
  const double counts[4] = {3, 1, 0, 2};
  double plain[4], with_prior[4];
  WorkerLogConfusion(counts, 2, {.population = population}, WorkerModel::kHierarchical, plain);
  WorkerLogConfusion(counts, 2, {.pseudo_count = 5, .diagonal = 3, .population = population},
                     WorkerModel::kHierarchical, with_prior);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(plain[i], with_prior[i]) << i;
}

TEST(BayesianTest, HierarchicalReadsTheConstantAnswererAsASpammer) {
  std::vector<int32_t> truth;
  const Model m = *Aggregate(ThreeExpertsAndASpammer(&truth), {.method = Method::kHierarchical});
  for (int32_t t = 0; t < 40; ++t) EXPECT_EQ(m.label[t], truth[t]) << t;
  // 40 answers outweigh the population's 2 pseudo-answers per row: both of
  // the spammer's rows put nearly all their mass on 0, so its answer moves
  // no posterior.
  EXPECT_NEAR(Confusion(m, 3, 0, 0), Confusion(m, 3, 1, 0), 0.1);
  EXPECT_GT(Confusion(m, 3, 1, 0), 0.85);
  for (int32_t w = 0; w < 3; ++w) {
    EXPECT_GT(Confusion(m, w, 0, 0), 0.8) << w;
    EXPECT_GT(Confusion(m, w, 1, 1), 0.8) << w;
  }
}

// A worker with one answer says almost nothing about itself: for the class it
// has not seen, ds (with its near-certain diagonal prior) reads it as all but
// perfect, hds as a typical member of the crowd. Three workers right 90% of
// the time on each class answer 200 tasks; the newcomer answers once, on a
// task of class 0.
TEST(BayesianTest, HierarchicalReadsANewcomerAsTheCrowd) {
  std::vector<std::vector<std::pair<int32_t, int32_t>>> by_task;
  for (int32_t t = 0; t < 200; ++t) {
    const int32_t y = t % 2;
    std::vector<std::pair<int32_t, int32_t>> answers;
    for (int32_t w = 0; w < 3; ++w) answers.push_back({w, (t / 2 + 3 * w) % 10 == 0 ? 1 - y : y});
    if (t == 2) answers.push_back({3, 0});
    by_task.push_back(answers);
  }
  const AnswerMatrix m = Matrix(200, 4, 2, by_task);
  const Model hds = *Aggregate(m, {.method = Method::kHierarchical});
  const Model ds = *Aggregate(m, {.method = Method::kDawidSkene});
  EXPECT_NEAR(Confusion(hds, 3, 1, 1), 0.9, 0.03);
  EXPECT_GT(Confusion(ds, 3, 1, 1), 0.98);
  // Its seen row: one answer plus two pseudo-answers of the population's 0.9.
  EXPECT_NEAR(Confusion(hds, 3, 0, 0), (1 + 2 * 0.9) / 3, 0.03);
}

// The population moves with every M-step, so hds's objective can rise and
// fall before it settles; the stopping rule must not fire on a turn. With
// many sparse workers (20 answers each) the population drifts longest: the
// converged fit must be, to within EM's own tolerance, the fit that 200 more
// iterations give. (ds, stopped by its rule on the same data, is further
// from its own longer fit: 10 labels and posteriors up to 0.8 apart.)
TEST(BayesianTest, HierarchicalStopsOnlyWhenThePopulationSettles) {
  const SyntheticData d = Synthesize({.tasks = 4000, .workers = 600, .classes = 3,
                                      .answers_per_task = 3, .seed = 17});
  AggregateOptions o{.method = Method::kHierarchical, .max_iter = 2000};
  const Model converged = *Aggregate(d.answers, o);
  ASSERT_TRUE(converged.converged);
  o.tol = 0;
  o.max_iter = converged.iterations + 200;
  const Model longer = *Aggregate(d.answers, o);
  int differing = 0;
  for (size_t t = 0; t < converged.label.size(); ++t) differing += converged.label[t] != longer.label[t];
  EXPECT_LE(differing, 4) << "of 4000 tasks; stopped at " << converged.iterations;
  for (size_t i = 0; i < converged.posterior.size(); ++i) {
    ASSERT_NEAR(converged.posterior[i], longer.posterior[i], 0.05) << "stopped at " << converged.iterations;
  }
}

TEST(BayesianTest, PosteriorsAndReportedParametersAreDistributions) {
  std::vector<int32_t> truth;
  const AnswerMatrix answers = ThreeExpertsAndASpammer(&truth);
  for (Method method : kBayesianMethods) {
    const Model m = *Aggregate(answers, {.method = method});
    for (int32_t t = 0; t < answers.num_tasks; ++t) {
      const auto p = m.Posterior(t);
      EXPECT_NEAR(p[0] + p[1], 1.0, 1e-12) << MethodName(method) << " task " << t;
    }
    EXPECT_NEAR(m.class_prior[0] + m.class_prior[1], 1.0, 1e-12) << MethodName(method);
    for (int32_t w = 0; w < answers.num_workers; ++w) {
      for (int32_t k = 0; k < 2; ++k) {
        EXPECT_NEAR(Confusion(m, w, k, 0) + Confusion(m, w, k, 1), 1.0, 1e-12) << MethodName(method);
      }
    }
  }
}

TEST(BayesianTest, VariationalEvidenceLowerBoundNeverDecreases) {
  const SyntheticData d = Synthesize({.tasks = 3000, .workers = 60, .classes = 3,
                                      .answers_per_task = 4, .seed = 21});
  AggregateOptions o{.method = Method::kVariational, .tol = 0, .max_iter = 60};
  const Model m = *Aggregate(d.answers, o);
  ASSERT_GE(m.objective_history.size(), 10u);
  for (size_t i = 1; i < m.objective_history.size(); ++i) {
    const double before = m.objective_history[i - 1], after = m.objective_history[i];
    EXPECT_GE(after, before - 1e-9 * std::abs(before)) << "iteration " << i;
  }
  // The bound lies below the log-likelihood under any point estimate of the
  // parameters; at least it is finite and negative.
  EXPECT_LT(m.objective_history.back(), 0);
}

TEST(BayesianTest, ThreadCountGivesBitIdenticalModel) {
  // Over 2^17 answers: the passes run over several chunks.
  SyntheticData d = Synthesize({.tasks = 40000, .workers = 200, .classes = 4,
                                .answers_per_task = 5, .seed = 13});
  for (int32_t t = 0; t < d.answers.num_tasks; t += 23) d.answers.gold[t] = d.truth[t];
  for (Method method : kBayesianMethods) {
    AggregateOptions o{.method = method, .max_iter = 12, .threads = 1};
    const Model one = *Aggregate(d.answers, o);
    for (int threads : {2, 0}) {
      o.threads = threads;
      const Model many = *Aggregate(d.answers, o);
      EXPECT_TRUE(many.posterior == one.posterior) << MethodName(method) << " threads " << threads;
      EXPECT_TRUE(many.confusion == one.confusion) << MethodName(method) << " threads " << threads;
      EXPECT_TRUE(many.class_prior == one.class_prior) << MethodName(method) << " threads " << threads;
      EXPECT_TRUE(many.objective_history == one.objective_history) << MethodName(method);
      EXPECT_TRUE(many.label == one.label) << MethodName(method) << " threads " << threads;
    }
  }
}

// The accuracy of the posterior argmax under the TRUE class prior and
// confusion matrices: no method can do better in expectation. Computed here
// independently of synthetic.cc's BayesOptimalAccuracy, which `synth` prints.
double BayesOptimal(const SyntheticData& d) {
  const AnswerMatrix& m = d.answers;
  const int K = m.num_classes;
  int64_t right = 0;
  std::vector<double> s(K);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    for (int k = 0; k < K; ++k) s[k] = std::log(d.class_prior[k]);
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      for (int k = 0; k < K; ++k) {
        s[k] += std::log(d.confusion[(static_cast<size_t>(m.worker[a]) * K + k) * K + m.label[a]]);
      }
    }
    int best = 0;
    for (int k = 1; k < K; ++k) best = s[k] > s[best] ? k : best;
    right += best == d.truth[t];
  }
  return static_cast<double>(right) / m.num_tasks;
}

double AccuracyOf(const Model& model, const std::vector<int32_t>& truth) {
  int64_t right = 0;
  for (size_t t = 0; t < truth.size(); ++t) right += model.label[t] == truth[t];
  return static_cast<double>(right) / truth.size();
}

// Issue 11: on data with spammers and an uneven class prior, the default is
// within 0.1 point of the Bayes-optimal accuracy (mean over seeds). The gap of
// every plug-in method is the error of its estimated confusion matrices, so it
// shrinks with the answers per worker: 5,000 here (25,000 tasks x 5 answers
// over 25 workers). At 1,250 per worker (100 workers) ds and vbds are both
// about 0.2 point below (docs/accuracy.md).
TEST(BayesianTest, DefaultIsWithinATenthOfAPointOfBayesOptimal) {
  const Method methods[] = {AggregateOptions{}.method, Method::kDawidSkene, Method::kVariational,
                            Method::kMace, Method::kHierarchical};
  double optimal = 0;
  std::vector<double> accuracy(std::size(methods), 0.0);
  constexpr int kSeeds = 4;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const SyntheticData d = Synthesize({.tasks = 25000, .workers = 25, .classes = 4,
                                        .answers_per_task = 5, .seed = static_cast<uint64_t>(seed)});
    const double here = BayesOptimal(d);
    EXPECT_EQ(here, BayesOptimalAccuracy(d)) << "seed " << seed;
    optimal += here / kSeeds;
    for (size_t i = 0; i < std::size(methods); ++i) {
      AggregateOptions o;
      o.method = methods[i];
      accuracy[i] += AccuracyOf(*Aggregate(d.answers, o), d.truth) / kSeeds;
    }
  }
  std::cout << "[ measured ] Bayes-optimal " << optimal;
  for (size_t i = 1; i < std::size(methods); ++i) {
    std::cout << ", " << MethodName(methods[i]) << " " << accuracy[i];
  }
  std::cout << " (default " << MethodName(methods[0]) << ")\n";
  EXPECT_GE(accuracy[0], optimal - 0.001) << "default " << MethodName(methods[0]);
}

// Issue 11: the shape `consensusd synth` draws by default, few answers per
// worker (20,000 tasks x 5 answers over 2,000 workers: 50 each on average, 10
// for the least busy). Every plug-in method is far from the Bayes-optimal
// accuracy here (1 to 2 points: K x K matrices from tens of answers); what
// the choice of default needs is that reading a light worker as a member of
// the crowd (hds) beats reading it as an expert (ds's diagonal prior). The
// margin asserted is a quarter of the one measured (docs/accuracy.md).
TEST(BayesianTest, DefaultBeatsDawidSkeneWhereWorkersAreSparse) {
  constexpr int kSeeds = 3;
  double optimal = 0, by_default = 0, ds = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const SyntheticData d = Synthesize({.tasks = 20000, .workers = 2000, .classes = 4,
                                        .answers_per_task = 5, .seed = static_cast<uint64_t>(seed)});
    optimal += BayesOptimal(d) / kSeeds;
    by_default += AccuracyOf(*Aggregate(d.answers, AggregateOptions{}), d.truth) / kSeeds;
    ds += AccuracyOf(*Aggregate(d.answers, {.method = Method::kDawidSkene}), d.truth) / kSeeds;
  }
  std::cout << "[ measured ] Bayes-optimal " << optimal << ", default ("
            << MethodName(AggregateOptions{}.method) << ") " << by_default << ", ds " << ds << "\n";
  EXPECT_GE(by_default, ds + 0.001);
  EXPECT_LT(by_default, optimal);
}

// Where workers are sparse the Bayes-optimal accuracy is out of reach: it
// knows the true matrices, and tens of answers do not determine them. The
// reference there is the default given the true class of nine tenths of the
// tasks as gold, scored on the tenth left out (ten folds): it learns the
// matrices from truth, and still falls short of the optimum by about a point
// (1.3 at K = 4 and 0.9 at K = 2, docs/accuracy.md). From the answers alone
// the default comes within 0.2 and 0.4 point of it; a regression in the
// inference (not in what the data allow) shows here.
TEST(BayesianTest, DefaultComesCloseToKnowingMostOfTheTruthWhereWorkersAreSparse) {
  constexpr int kFolds = 10;
  for (const int classes : {4, 2}) {
    const SyntheticData d = Synthesize(
        {.tasks = 20000, .workers = 2000, .classes = classes, .answers_per_task = 5, .seed = 1});
    const double optimal = BayesOptimal(d);
    const double by_default = AccuracyOf(*Aggregate(d.answers, AggregateOptions{}), d.truth);
    int64_t right = 0;
    for (int fold = 0; fold < kFolds; ++fold) {
      AnswerMatrix m = d.answers;
      for (int32_t t = 0; t < m.num_tasks; ++t) m.gold[t] = t % kFolds == fold ? kNoGold : d.truth[t];
      const absl::StatusOr<Model> fitted = Aggregate(m, AggregateOptions{});
      ASSERT_TRUE(fitted.ok()) << fitted.status();
      for (int32_t t = fold; t < m.num_tasks; t += kFolds) right += fitted->label[t] == d.truth[t];
    }
    const double knowing = static_cast<double>(right) / d.answers.num_tasks;
    std::cout << "[ measured ] K " << classes << ": Bayes-optimal " << optimal << ", default with 90% of the truth "
              << knowing << ", default " << by_default << "\n";
    EXPECT_LT(knowing, optimal - 0.005) << classes;     // the optimum is out of reach
    EXPECT_GT(by_default, knowing - 0.005) << classes;  // seed 1: 0.08 and 0.26 point below
  }
}

}  // namespace
}  // namespace consensusd::consensus
