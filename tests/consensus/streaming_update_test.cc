// The streaming model's incremental update (Contribute, EStep, the worker
// likelihood) on Eigen arrays gives, byte for byte, the posteriors and
// statistics of the scalar loops it replaced. The scalar code is kept below as
// the reference, for ds (MAP and maximum likelihood), one-coin and hds, under
// both repeat policies, with gold, retractions and exclusions, at fixed-size
// and dynamic K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "consensus/aggregate.h"
#include "consensus/answer_store.h"
#include "consensus/parameters.h"
#include "consensus/streaming_model.h"

namespace consensusd::consensus {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// The scalar WorkerLikelihood for ds, one-coin and hds, as it was written.
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

void ScalarLikelihood(const double* c, int32_t K, const WorkerPrior& prior, WorkerModel model,
                      int32_t label, double* likelihood) {
  if (model == WorkerModel::kHierarchical) {
    std::vector<double> b(K);
    for (int k = 0; k < K; ++k) {
      HierarchicalRow(prior.population, K, k, b.data());
      double col = 0;
      for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], 0.0) + b[l];
      likelihood[k] = (std::max(c[label * K + k], 0.0) + b[label]) / col;
    }
    return;
  }
  const double a = prior.pseudo_count;
  const double diag = a + prior.diagonal;
  const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
  if (model == WorkerModel::kOneCoin) {
    double correct = 0, answers = 0;
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) answers += c[l * K + k];
      correct += c[l * K + l];
    }
    const double right = std::max(correct, clip) + diag;
    const double acc = std::clamp(right / (right + std::max(answers - correct, clip) + (K - 1) * a),
                                  kEps, 1.0 - kEps);
    const double wrong = K > 1 ? (1.0 - acc) / (K - 1) : 1.0;
    for (int k = 0; k < K; ++k) likelihood[k] = k == label ? acc : wrong;
    return;
  }
  for (int k = 0; k < K; ++k) {
    double col = 0;
    for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], clip) + (l == k ? diag : a);
    likelihood[k] = (std::max(c[label * K + k], clip) + (label == k ? diag : a)) / col;
  }
}

// The scalar update of StreamingModel before the Eigen kernels, without
// remote statistics: one loop per class, as it was written.
class ScalarStreamingModel {
 public:
  ScalarStreamingModel(const StreamingOptions& options, int32_t num_classes, int32_t num_workers)
      : o_(options), K_(num_classes) {
    counts_.assign(static_cast<size_t>(num_workers) * K_ * K_, 0.0);
    worker_answers_.assign(num_workers, 0);
    excluded_.assign(num_workers, false);
    class_counts_.assign(K_, 0.0);
    if (UsesPopulation(o_.fit)) population_.assign(static_cast<size_t>(K_) * K_, 0.0);
  }

  void AddTask() {
    answers_.AddTask();
    gold_.push_back(kNoGold);
    posterior_.insert(posterior_.end(), K_, 1.0 / K_);
  }

  void SetAnswer(int32_t task, int32_t worker, int32_t label) {
    if (o_.repeats == DuplicatePolicy::kKeepAll) {
      return Update(task, [&] {
        answers_.Add(task, worker, label);
        ++worker_answers_[worker];
      });
    }
    const TaskAnswer* found = answers_.Find(task, worker);
    if (found != nullptr && found->label == label) return;
    Update(task, [&] {
      if (answers_.Put(task, worker, label) == AnswerStore::PutResult::kAdded) ++worker_answers_[worker];
    });
  }

  void Retract(int32_t task, int32_t worker) {
    if (answers_.Find(task, worker) == nullptr) return;
    Update(task, [&] { worker_answers_[worker] -= answers_.RemoveAll(task, worker); });
  }

  void SetGold(int32_t task, int32_t label) {
    if (gold_[task] == label) return;
    Update(task, [&] { gold_[task] = label; });
  }

  void MarkExcluded(int32_t worker, bool excluded) {
    if (excluded_[worker] == excluded) return;
    if (!population_.empty()) {
      const size_t kk = static_cast<size_t>(K_) * K_;
      const double sign = excluded ? -1.0 : 1.0;
      for (size_t i = 0; i < kk; ++i) population_[i] += sign * counts_[worker * kk + i];
    }
    excluded_[worker] = excluded;
  }

  std::span<const double> Posterior(int32_t task) const {
    return {posterior_.data() + static_cast<size_t>(task) * K_, static_cast<size_t>(K_)};
  }
  std::span<const double> Counts(int32_t worker) const {
    const size_t kk = static_cast<size_t>(K_) * K_;
    return {counts_.data() + worker * kk, kk};
  }
  const std::vector<double>& class_counts() const { return class_counts_; }
  const std::vector<double>& population() const { return population_; }

 private:
  template <typename Change>
  void Update(int32_t task, Change change) {
    Contribute(task, -1.0);
    change();
    EStep(task);
    Contribute(task, +1.0);
  }

  bool Counted(int32_t task) const {
    int64_t counted = 0;
    for (const TaskAnswer& a : answers_.Of(task)) counted += excluded_[a.worker] ? 0 : 1;
    if (gold_[task] == kNoGold && counted == 0) return false;
    return !PredictedOnly(o_.fit, counted, gold_[task] != kNoGold);
  }

  void Contribute(int32_t task, double sign) {
    if (!Counted(task)) return;
    const double* p = posterior_.data() + static_cast<size_t>(task) * K_;
    for (int k = 0; k < K_; ++k) class_counts_[k] += sign * p[k];
    for (const TaskAnswer& a : answers_.Of(task)) {
      double* cell = counts_.data() + (static_cast<size_t>(a.worker) * K_ + a.label) * K_;
      for (int k = 0; k < K_; ++k) cell[k] += sign * p[k];
    }
    if (!population_.empty()) {
      for (const TaskAnswer& a : answers_.Of(task)) {
        if (excluded_[a.worker]) continue;
        double* cell = population_.data() + static_cast<size_t>(a.label) * K_;
        for (int k = 0; k < K_; ++k) cell[k] += sign * p[k];
      }
    }
  }

  void EStep(int32_t task) {
    double* p = posterior_.data() + static_cast<size_t>(task) * K_;
    if (gold_[task] != kNoGold) {
      for (int k = 0; k < K_; ++k) p[k] = k == gold_[task] ? 1.0 : 0.0;
      return;
    }
    const WorkerPrior prior =
        WorkerPriorOf(o_.fit, population_.empty() ? nullptr : population_.data());
    std::vector<double> l(K_);
    ClassPriorProbabilities(class_counts_.data(), K_, o_.fit.prior, VariationalClassPrior(o_.fit), p);
    for (const TaskAnswer& a : answers_.Of(task)) {
      if (excluded_[a.worker]) continue;
      ScalarLikelihood(counts_.data() + static_cast<size_t>(a.worker) * K_ * K_, K_, prior,
                       WorkerModelOf(o_.fit, worker_answers_[a.worker]), a.label, l.data());
      double max = 0;
      for (int k = 0; k < K_; ++k) max = std::max(max, p[k] *= l[k]);
      if (max > 0 && max < 1e-150) {
        for (int k = 0; k < K_; ++k) p[k] /= max;
      }
    }
    double sum = 0;
    for (int k = 0; k < K_; ++k) sum += p[k];
    for (int k = 0; k < K_; ++k) p[k] /= sum;
  }

  const StreamingOptions o_;
  const int32_t K_;
  AnswerStore answers_;
  std::vector<int32_t> gold_;
  std::vector<double> posterior_, counts_, class_counts_, population_;
  std::vector<int64_t> worker_answers_;
  std::vector<bool> excluded_;
};

bool SameBytes(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

struct Case {
  std::string name;
  StreamingOptions options;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (const DuplicatePolicy repeats : {DuplicatePolicy::kKeepLast, DuplicatePolicy::kKeepAll}) {
    const std::string suffix = repeats == DuplicatePolicy::kKeepLast ? "_replace" : "_count";
    StreamingOptions o;
    o.repeats = repeats;
    o.fit.method = Method::kDawidSkene;
    cases.push_back({"ds" + suffix, o});
    StreamingOptions ml = o;
    ml.fit.prior = 0;  // maximum likelihood: counts clipped at machine epsilon
    cases.push_back({"ds_ml" + suffix, ml});
    StreamingOptions mixed = o;
    mixed.fit.onecoin_below = 6;  // new workers on one-coin, then on their matrix
    cases.push_back({"ds_onecoin_below" + suffix, mixed});
    StreamingOptions onecoin = o;
    onecoin.fit.method = Method::kOneCoin;
    cases.push_back({"onecoin" + suffix, onecoin});
    StreamingOptions hds = o;
    hds.fit.method = Method::kHierarchical;
    cases.push_back({"hds" + suffix, hds});
  }
  return cases;
}

class StreamingUpdateTest : public ::testing::TestWithParam<int32_t> {};

// A stream of random updates (new answers, replacements, retractions, gold
// set and cleared, workers excluded and included); after each one the task's
// posterior, and at the end every posterior, the class prior and every
// worker's confusion, match the scalar reference byte for byte.
TEST_P(StreamingUpdateTest, UpdatesMatchTheScalarLoopsBitForBit) {
  const int32_t K = GetParam();
  constexpr int32_t kTasks = 150, kWorkers = 20, kUpdates = 2500;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    StreamingModel model(c.options);
    for (int32_t k = 0; k < K; ++k) ASSERT_TRUE(model.InternClass("c" + std::to_string(k)).ok());
    for (int32_t w = 0; w < kWorkers; ++w) model.InternWorker("w" + std::to_string(w));
    ScalarStreamingModel reference(c.options, K, kWorkers);
    for (int32_t t = 0; t < kTasks; ++t) {
      model.InternTask("t" + std::to_string(t));
      reference.AddTask();
    }
    std::mt19937 rng(1000 + K);
    std::uniform_int_distribution<int32_t> any_task(0, kTasks - 1), any_worker(0, kWorkers - 1),
        any_label(0, K - 1), kind(0, 99);
    for (int32_t i = 0; i < kUpdates; ++i) {
      const int32_t t = any_task(rng), w = any_worker(rng), what = kind(rng);
      if (what < 70) {
        const int32_t label = any_label(rng);
        model.SetAnswer(t, w, label);
        reference.SetAnswer(t, w, label);
      } else if (what < 85) {
        // Retract an answer the task has, if any.
        const std::span<const TaskAnswer> answers = model.Answers(t);
        if (answers.empty()) continue;
        const int32_t worker = answers[rng() % answers.size()].worker;
        model.Retract(t, worker);
        reference.Retract(t, worker);
      } else if (what < 93) {
        const int32_t label = what % 2 == 0 ? kNoGold : any_label(rng);
        model.SetGold(t, label);
        reference.SetGold(t, label);
      } else {
        const bool excluded = !model.Excluded(w);
        model.MarkExcluded(w, excluded);
        reference.MarkExcluded(w, excluded);
      }
      ASSERT_TRUE(SameBytes(model.Posterior(t), reference.Posterior(t))) << "update " << i;
    }
    ASSERT_GT(model.num_answers(), 0);
    for (int32_t t = 0; t < kTasks; ++t) {
      ASSERT_TRUE(SameBytes(model.Posterior(t), reference.Posterior(t))) << "task " << t;
    }
    const WorkerPrior prior = WorkerPriorOf(
        c.options.fit, reference.population().empty() ? nullptr : reference.population().data());
    for (int32_t w = 0; w < kWorkers; ++w) {
      std::vector<double> confusion(static_cast<size_t>(K) * K);
      WorkerConfusion(reference.Counts(w).data(), K, prior,
                      WorkerModelOf(c.options.fit, model.WorkerAnswers(w)), confusion.data());
      ASSERT_TRUE(SameBytes(model.Confusion(w), confusion)) << "worker " << w;
    }
    // The class counts, through ClassPrior's formula (log P(k), then exp).
    std::vector<double> class_prior(K);
    ClassLogPrior(reference.class_counts().data(), K, c.options.fit.prior, /*variational=*/false,
                  class_prior.data());
    for (double& p : class_prior) p = std::exp(p);
    EXPECT_TRUE(SameBytes(model.ClassPrior(), class_prior));
  }
}

// Fixed-size kernels (2, 3, 5, 9, 16) and the dynamic one (17, 24).
INSTANTIATE_TEST_SUITE_P(Classes, StreamingUpdateTest, ::testing::Values(2, 3, 5, 9, 16, 17, 24),
                         [](const ::testing::TestParamInfo<int32_t>& info) {
                           return "K" + std::to_string(info.param);
                         });

// WorkerLikelihood, the public entry, gives the reference's bits for every
// model it computes with Eigen, with rounding residue below 0 in the counts,
// with and without pseudo-counts (clipping) and with and without a population.
TEST(StreamingUpdateLikelihood, MatchesTheScalarFormulasOfEveryEigenModel) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> count(-1e-12, 30.0);
  for (const int32_t K : {2, 4, 7, 16, 19}) {
    std::vector<double> counts(static_cast<size_t>(K) * K), population(counts.size());
    for (double& x : counts) x = count(rng);
    for (double& x : population) x = 40 * count(rng);
    counts[1] = -1e-13;
    counts[K] = 0.0;
    const std::vector<std::pair<WorkerModel, WorkerPrior>> models = {
        {WorkerModel::kConfusion, {.pseudo_count = 0.01, .diagonal = 1.0}},
        {WorkerModel::kConfusion, {}},
        {WorkerModel::kOneCoin, {.pseudo_count = 0.01, .diagonal = 1.0}},
        {WorkerModel::kHierarchical, {}},
        {WorkerModel::kHierarchical, {.population = population.data()}},
    };
    for (const auto& [model, prior] : models) {
      for (int32_t label = 0; label < K; ++label) {
        std::vector<double> got(K), want(K);
        WorkerLikelihood(counts.data(), K, prior, model, label, got.data());
        ScalarLikelihood(counts.data(), K, prior, model, label, want.data());
        ASSERT_TRUE(SameBytes(got, want)) << "K " << K << " label " << label;
      }
    }
  }
}

}  // namespace
}  // namespace consensusd::consensus
