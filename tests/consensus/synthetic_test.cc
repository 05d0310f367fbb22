#include "consensus/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "consensus/aggregate.h"
#include "consensus/report.h"

namespace consensusd::consensus {
namespace {

SyntheticOptions Small(uint64_t seed = 1) {
  return {.tasks = 500, .workers = 40, .classes = 3, .answers_per_task = 4, .seed = seed};
}

// ---------------------------------------------------------------- shape

TEST(SynthesizeTest, SameOptionsGiveSameData) {
  const SyntheticData a = Synthesize(Small());
  const SyntheticData b = Synthesize(Small());
  EXPECT_EQ(a.answers.worker, b.answers.worker);
  EXPECT_EQ(a.answers.label, b.answers.label);
  EXPECT_EQ(a.answers.task_begin, b.answers.task_begin);
  EXPECT_EQ(a.truth, b.truth);
  EXPECT_EQ(a.confusion, b.confusion);
  EXPECT_EQ(a.class_prior, b.class_prior);
}

TEST(SynthesizeTest, DifferentSeedsGiveDifferentData) {
  const SyntheticData a = Synthesize(Small(1));
  const SyntheticData b = Synthesize(Small(2));
  EXPECT_NE(a.answers.label, b.answers.label);
  EXPECT_NE(a.confusion, b.confusion);
}

TEST(SynthesizeTest, ShapesMatchOptions) {
  const SyntheticData d = Synthesize(Small());
  const AnswerMatrix& m = d.answers;
  EXPECT_EQ(m.num_tasks, 500);
  EXPECT_EQ(m.num_workers, 40);
  EXPECT_EQ(m.num_classes, 3);
  ASSERT_EQ(m.task_begin.size(), 501u);
  EXPECT_EQ(m.num_answers(), 500 * 4);
  for (int32_t t = 0; t < m.num_tasks; ++t) ASSERT_EQ(m.TaskSize(t), 4) << "task " << t;
  EXPECT_EQ(d.truth.size(), 500u);
  EXPECT_EQ(d.class_prior.size(), 3u);
  EXPECT_EQ(d.confusion.size(), 40u * 3 * 3);
}

TEST(SynthesizeTest, IdsAreInRange) {
  const SyntheticData d = Synthesize(Small());
  for (int32_t w : d.answers.worker) ASSERT_TRUE(w >= 0 && w < 40);
  for (int32_t l : d.answers.label) ASSERT_TRUE(l >= 0 && l < 3);
  for (int32_t k : d.truth) ASSERT_TRUE(k >= 0 && k < 3);
}

TEST(SynthesizeTest, HasNoGoldAndIdentityClassRank) {
  const SyntheticData d = Synthesize(Small());
  EXPECT_EQ(d.answers.gold, std::vector<int32_t>(500, kNoGold));
  EXPECT_EQ(d.answers.class_rank, (std::vector<int32_t>{0, 1, 2}));
}

TEST(SynthesizeTest, NoWorkerAnswersATaskTwice) {
  const SyntheticData d = Synthesize({.tasks = 2000, .workers = 8, .classes = 2,
                                      .answers_per_task = 7, .seed = 3});
  for (int32_t t = 0; t < d.answers.num_tasks; ++t) {
    std::vector<int32_t> w(d.answers.worker.begin() + d.answers.task_begin[t],
                           d.answers.worker.begin() + d.answers.task_begin[t + 1]);
    std::sort(w.begin(), w.end());
    ASSERT_EQ(std::adjacent_find(w.begin(), w.end()), w.end()) << "task " << t;
  }
}

TEST(SynthesizeTest, AnswersPerTaskIsCappedAtWorkers) {
  const SyntheticData d = Synthesize({.tasks = 50, .workers = 3, .classes = 2,
                                      .answers_per_task = 5, .seed = 1});
  for (int32_t t = 0; t < 50; ++t) EXPECT_EQ(d.answers.TaskSize(t), 3);
}

TEST(SynthesizeTest, ZeroTasksGiveNoAnswers) {
  const SyntheticData d = Synthesize({.tasks = 0, .workers = 5, .classes = 2});
  EXPECT_EQ(d.answers.num_tasks, 0);
  EXPECT_EQ(d.answers.num_answers(), 0);
  EXPECT_TRUE(d.truth.empty());
}

TEST(SynthesizeTest, MoreTasksExtendTheSameData) {
  const SyntheticData small = Synthesize(Small());
  SyntheticOptions more = Small();
  more.tasks = 800;
  const SyntheticData big = Synthesize(more);
  EXPECT_EQ(small.confusion, big.confusion);
  EXPECT_TRUE(std::equal(small.truth.begin(), small.truth.end(), big.truth.begin()));
}

// ---------------------------------------------------------------- the model

TEST(SynthesizeTest, ConfusionRowsAndClassPriorSumToOne) {
  const SyntheticData d = Synthesize({.tasks = 10, .workers = 200, .classes = 5, .seed = 4});
  EXPECT_NEAR(std::accumulate(d.class_prior.begin(), d.class_prior.end(), 0.0), 1.0, 1e-12);
  for (size_t row = 0; row < d.confusion.size(); row += 5) {
    double sum = 0;
    for (int l = 0; l < 5; ++l) {
      EXPECT_GE(d.confusion[row + l], 0.0);
      sum += d.confusion[row + l];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12) << "row " << row / 5;
  }
}

TEST(SynthesizeTest, ClassPriorsAreUneven) {
  const SyntheticData d = Synthesize({.tasks = 10, .workers = 10, .classes = 4, .seed = 1});
  const auto [lo, hi] = std::minmax_element(d.class_prior.begin(), d.class_prior.end());
  EXPECT_GT(*hi - *lo, 0.01);
  EXPECT_GT(*lo, 0.0);  // every class occurs
}

TEST(SynthesizeTest, MostWorkersAreReliableAndSomeAreSpammers) {
  const int K = 3, W = 400;
  const SyntheticData d = Synthesize({.tasks = 10, .workers = W, .classes = K, .seed = 5});
  int reliable = 0, spammers = 0;
  for (int32_t w = 0; w < W; ++w) {
    const std::span<const double> c(d.confusion.data() + w * K * K, K * K);
    bool all_diagonal_in_range = true;
    for (int k = 0; k < K; ++k) {
      all_diagonal_in_range &= c[k * K + k] >= 0.6 - 1e-9 && c[k * K + k] <= 0.95 + 1e-9;
    }
    reliable += all_diagonal_in_range;
    spammers += SpamScore(c, K) > 1 - 1e-9;
  }
  EXPECT_GT(reliable, W / 2) << reliable << " reliable of " << W;
  EXPECT_GT(spammers, 0);
  EXPECT_LT(spammers, W / 4);
}

// ---------------------------------------------------------------- 200k tasks

// 200,000 tasks x 5 answers from 500 workers, 3 classes, fitted once with
// ds (default options) and mv.
class SyntheticRecoveryTest : public ::testing::Test {
 protected:
  static constexpr int K = 3;
  static void SetUpTestSuite() {
    data_ = new SyntheticData(Synthesize(
        {.tasks = 200000, .workers = 500, .classes = K, .answers_per_task = 5, .seed = 42}));
    AggregateOptions o;
    o.threads = 2;
    ds_ = new Model(*Aggregate(data_->answers, o));
    o.method = Method::kMajorityVote;
    mv_ = new Model(*Aggregate(data_->answers, o));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete ds_;
    delete mv_;
  }

  static double AccuracyOf(const Model& m) {
    int64_t correct = 0;
    for (int32_t t = 0; t < data_->answers.num_tasks; ++t) correct += m.label[t] == data_->truth[t];
    return static_cast<double>(correct) / data_->answers.num_tasks;
  }

  static SyntheticData* data_;
  static Model* ds_;
  static Model* mv_;
};

SyntheticData* SyntheticRecoveryTest::data_ = nullptr;
Model* SyntheticRecoveryTest::ds_ = nullptr;
Model* SyntheticRecoveryTest::mv_ = nullptr;

TEST_F(SyntheticRecoveryTest, AnswersFollowTheDeclaredModel) {
  // Empirical class frequencies and, pooled over busy workers, empirical
  // confusion rows match what Synthesize says it drew from.
  const AnswerMatrix& m = data_->answers;
  std::vector<double> truth_count(K, 0);
  for (int32_t k : data_->truth) truth_count[k] += 1;
  for (int k = 0; k < K; ++k) {
    EXPECT_NEAR(truth_count[k] / m.num_tasks, data_->class_prior[k], 0.005) << "class " << k;
  }
  std::vector<double> counts(static_cast<size_t>(m.num_workers) * K * K, 0);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      counts[(m.worker[a] * K + data_->truth[t]) * K + m.label[a]] += 1;
    }
  }
  double error = 0;
  int cells = 0;
  for (int32_t w = 0; w < m.num_workers; ++w) {
    for (int k = 0; k < K; ++k) {
      const double* row = &counts[(w * K + k) * K];
      const double n = row[0] + row[1] + row[2];
      if (n < 1000) continue;
      for (int l = 0; l < K; ++l) {
        error += std::abs(row[l] / n - data_->confusion[(w * K + k) * K + l]);
        ++cells;
      }
    }
  }
  ASSERT_GT(cells, 100);
  EXPECT_LT(error / cells, 0.01);
}

TEST_F(SyntheticRecoveryTest, DawidSkeneRecoversTrueConfusionMatrices) {
  const AnswerMatrix& m = data_->answers;
  std::vector<int64_t> answers(m.num_workers, 0);
  for (int32_t w : m.worker) ++answers[w];
  double error = 0;
  int64_t cells = 0, workers = 0;
  for (int32_t w = 0; w < m.num_workers; ++w) {
    if (answers[w] < 100) continue;
    ++workers;
    for (int i = 0; i < K * K; ++i) {
      error += std::abs(ds_->confusion[w * K * K + i] - data_->confusion[w * K * K + i]);
      ++cells;
    }
  }
  const double mae = error / cells;
  std::cout << "[ measured ] ds confusion MAE over " << workers
            << " workers with >= 100 answers: " << mae << "\n";
  RecordProperty("confusion_mae", std::to_string(mae));
  RecordProperty("workers_measured", std::to_string(workers));
  EXPECT_GT(workers, 250);
  // Measured 0.0163 (default prior; 500 workers, 320 to 70k answers each).
  EXPECT_LT(mae, 0.025);
}

TEST_F(SyntheticRecoveryTest, DawidSkeneRecoversClassPriors) {
  for (int k = 0; k < K; ++k) {
    EXPECT_NEAR(ds_->class_prior[k], data_->class_prior[k], 0.01) << "class " << k;
  }
}

TEST_F(SyntheticRecoveryTest, DawidSkeneIsMoreAccurateThanMajorityVote) {
  const double ds = AccuracyOf(*ds_), mv = AccuracyOf(*mv_);
  std::cout << "[ measured ] accuracy ds " << ds << ", mv " << mv << "\n";
  RecordProperty("accuracy_ds", std::to_string(ds));
  RecordProperty("accuracy_mv", std::to_string(mv));
  EXPECT_GT(ds, mv);
}

TEST_F(SyntheticRecoveryTest, DawidSkeneConverged) {
  EXPECT_TRUE(ds_->converged);
  for (size_t i = 1; i < ds_->objective_history.size(); ++i) {
    EXPECT_GE(ds_->objective_history[i],
              ds_->objective_history[i - 1] - 1e-9 * std::abs(ds_->objective_history[i - 1]));
  }
}

TEST_F(SyntheticRecoveryTest, ConfidenceIsCalibrated) {
  // Among tasks where ds is 90-99% confident, about that share is right.
  int64_t n = 0, correct = 0;
  double confidence = 0;
  for (int32_t t = 0; t < data_->answers.num_tasks; ++t) {
    const double p = ds_->Posterior(t)[ds_->label[t]];
    if (p < 0.9 || p >= 0.99) continue;
    ++n;
    confidence += p;
    correct += ds_->label[t] == data_->truth[t];
  }
  ASSERT_GT(n, 1000);
  EXPECT_NEAR(static_cast<double>(correct) / n, confidence / n, 0.02);
}

// ---------------------------------------------------------------- gold

// Few answers per task and gold on every tenth task: gold anchors the worker
// estimates, which helps the tasks without gold.
TEST(SyntheticGoldTest, GoldImprovesAccuracyOnOtherTasks) {
  SyntheticData d = Synthesize({.tasks = 20000, .workers = 200, .classes = 4,
                                .answers_per_task = 3, .seed = 7});
  const AnswerMatrix without = d.answers;
  AnswerMatrix with = d.answers;
  for (int32_t t = 0; t < with.num_tasks; t += 10) with.gold[t] = d.truth[t];
  for (Method method : {Method::kDawidSkene, Method::kOneCoin}) {
    AggregateOptions o;
    o.method = method;
    const Model a = *Aggregate(without, o);
    const Model b = *Aggregate(with, o);
    int64_t n = 0, right_without = 0, right_with = 0;
    for (int32_t t = 0; t < with.num_tasks; ++t) {
      if (t % 10 == 0) continue;
      ++n;
      right_without += a.label[t] == d.truth[t];
      right_with += b.label[t] == d.truth[t];
    }
    std::cout << "[ measured ] " << MethodName(method) << " accuracy on non-gold tasks: without gold "
              << static_cast<double>(right_without) / n << ", with gold "
              << static_cast<double>(right_with) / n << "\n";
    EXPECT_GE(right_with, right_without) << MethodName(method);
  }
}

}  // namespace
}  // namespace consensusd::consensus
