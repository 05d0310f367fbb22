#include "consensus/report.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "tests/consensus/fixtures.h"

namespace consensusd::consensus {
namespace {

using fixtures::AnswerSet;
using fixtures::BuildMatrix;

constexpr int32_t kA = 0, kB = 1;

// ---------------------------------------------------------------- SpamScore

TEST(SpamScoreTest, IdenticalRowsScoreOne) {
  // The answer does not depend on the true class.
  const std::vector<double> c = {0.2, 0.3, 0.5,
                                 0.2, 0.3, 0.5,
                                 0.2, 0.3, 0.5};
  EXPECT_NEAR(SpamScore(c, 3), 1.0, 1e-15);
}

TEST(SpamScoreTest, ConstantAnswerScoresOne) {
  const std::vector<double> c = {1, 0, 1, 0};  // always answers class 0
  EXPECT_NEAR(SpamScore(c, 2), 1.0, 1e-15);
}

TEST(SpamScoreTest, IdentityScoresZero) {
  EXPECT_NEAR(SpamScore(std::vector<double>{1, 0, 0, 1}, 2), 0.0, 1e-15);
  EXPECT_NEAR(SpamScore(std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3), 0.0, 1e-15);
  std::vector<double> id4(16, 0.0);
  for (int k = 0; k < 4; ++k) id4[k * 4 + k] = 1;
  EXPECT_NEAR(SpamScore(id4, 4), 0.0, 1e-15);
}

TEST(SpamScoreTest, ConsistentlyWrongWorkerIsNotASpammer) {
  // Always answers the next class: wrong every time, but fully informative.
  const std::vector<double> c = {0, 1, 0,
                                 0, 0, 1,
                                 1, 0, 0};
  EXPECT_NEAR(SpamScore(c, 3), 0.0, 1e-15);
}

TEST(SpamScoreTest, BinaryWorkerWithAccuracyAScoresOneMinusSquaredSkill) {
  // Rows (a, 1 - a) and (1 - a, a): S = (2 (2a - 1)^2) / 2 = (2a - 1)^2.
  for (double a : {0.5, 0.6, 0.75, 0.9, 1.0, 0.3}) {
    const std::vector<double> c = {a, 1 - a, 1 - a, a};
    EXPECT_NEAR(SpamScore(c, 2), 1 - (2 * a - 1) * (2 * a - 1), 1e-12) << "a = " << a;
  }
}

TEST(SpamScoreTest, ThreeClassHandComputation) {
  // Rows r0 = (.8 .1 .1), r1 = (.1 .8 .1), r2 = (.4 .3 .3):
  //   |r0 - r1|^2 = .49 + .49 + 0 = .98
  //   |r0 - r2|^2 = .16 + .04 + .04 = .24
  //   |r1 - r2|^2 = .09 + .25 + .04 = .38
  // S = (.98 + .24 + .38) / (3 * 2) = 1.6 / 6; score = 1 - S.
  const std::vector<double> c = {.8, .1, .1, .1, .8, .1, .4, .3, .3};
  EXPECT_NEAR(SpamScore(c, 3), 1 - 1.6 / 6, 1e-12);
}

RC_GTEST_PROP(SpamScoreProperty, StaysInUnitInterval, ()) {
  const int K = *rc::gen::inRange(2, 6);
  std::vector<double> c(K * K);
  for (int k = 0; k < K; ++k) {
    double sum = 0;
    for (int l = 0; l < K; ++l) sum += (c[k * K + l] = *rc::gen::inRange(0, 1000) + 0.0);
    for (int l = 0; l < K; ++l) c[k * K + l] = sum > 0 ? c[k * K + l] / sum : (l == 0 ? 1.0 : 0.0);
  }
  const double s = SpamScore(c, K);
  RC_ASSERT(s >= -1e-12);
  RC_ASSERT(s <= 1 + 1e-12);
}

// ---------------------------------------------------------------- WorkerAccuracy

TEST(WorkerAccuracyTest, WeighsDiagonalByClassPrior) {
  // 0.7 * 0.9 + 0.3 * 0.6
  const std::vector<double> c = {0.9, 0.1, 0.4, 0.6}, prior = {0.7, 0.3};
  EXPECT_NEAR(WorkerAccuracy(c, prior), 0.81, 1e-15);
}

TEST(WorkerAccuracyTest, PerfectWorkerHasAccuracyOne) {
  const std::vector<double> c = {1, 0, 0, 0, 1, 0, 0, 0, 1}, prior = {0.2, 0.3, 0.5};
  EXPECT_NEAR(WorkerAccuracy(c, prior), 1.0, 1e-15);
}

TEST(WorkerAccuracyTest, ConstantAnswerHasAccuracyOfThatClassPrior) {
  // Always answers class 1: right exactly when the truth is class 1.
  const std::vector<double> c = {0, 1, 0, 0, 1, 0, 0, 1, 0}, prior = {0.2, 0.3, 0.5};
  EXPECT_NEAR(WorkerAccuracy(c, prior), 0.3, 1e-15);
}

// ---------------------------------------------------------------- ReportWorkers

// Classes a, b; t2 has gold a.
//          w0  w1  w2   consensus
//   t0      a   a   b   a
//   t1      b   b   b   b
//   t2      a   b   .   a (gold a)
// w3 has no answers.
struct ReportFixture {
  AnswerMatrix matrix;
  Model model;
};

ReportFixture MakeReportFixture() {
  ReportFixture f;
  f.matrix = BuildMatrix({.tasks = 3, .workers = 4, .classes = 2,
                          .answers = {{0, 0, kA}, {0, 1, kA}, {0, 2, kB},
                                      {1, 0, kB}, {1, 1, kB}, {1, 2, kB},
                                      {2, 0, kA}, {2, 1, kB}},
                          .gold = {kNoGold, kNoGold, kA}});
  Model& m = f.model;
  m.num_classes = 2;
  m.posterior = {0.9, 0.1, 0.2, 0.8, 1.0, 0.0};
  m.label = {kA, kB, kA};
  m.class_prior = {0.6, 0.4};
  m.confusion = {0.9, 0.1, 0.2, 0.8,   // w0: good
                 0.5, 0.5, 0.5, 0.5,   // w1: answers at random
                 0.3, 0.7, 0.4, 0.6,   // w2: poor, nearly uninformative
                 0.5, 0.5, 0.5, 0.5};  // w3: nothing known
  return f;
}

QualityThresholds Thresholds(int64_t min_answers) {
  QualityThresholds q;
  q.min_answers = min_answers;
  q.min_accuracy = 0.5;
  q.max_spam_score = 0.95;
  return q;
}

TEST(ReportWorkersTest, HasOneReportPerWorker) {
  const ReportFixture f = MakeReportFixture();
  EXPECT_EQ(ReportWorkers(f.matrix, f.model, Thresholds(2)).size(), 4u);
}

TEST(ReportWorkersTest, CountsAnswers) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_EQ(r[0].answers, 3);
  EXPECT_EQ(r[1].answers, 3);
  EXPECT_EQ(r[2].answers, 2);
  EXPECT_EQ(r[3].answers, 0);
}

TEST(ReportWorkersTest, AccuracyIsPriorWeightedDiagonal) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_NEAR(r[0].accuracy, 0.6 * 0.9 + 0.4 * 0.8, 1e-12);
  EXPECT_NEAR(r[1].accuracy, 0.5, 1e-12);
  EXPECT_NEAR(r[2].accuracy, 0.6 * 0.3 + 0.4 * 0.6, 1e-12);
}

TEST(ReportWorkersTest, SpamScoreComesFromConfusion) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_NEAR(r[0].spam_score, 1 - 0.49, 1e-12);  // ((.7)^2 + (.7)^2) / 2
  EXPECT_NEAR(r[1].spam_score, 1.0, 1e-12);
  EXPECT_NEAR(r[2].spam_score, 1 - 0.01, 1e-12);  // ((.1)^2 + (.1)^2) / 2
}

TEST(ReportWorkersTest, CountsGoldAnswersAndCorrectOnes) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_EQ(r[0].gold_answers, 1);
  EXPECT_EQ(r[0].gold_correct, 1);
  EXPECT_EQ(r[1].gold_answers, 1);
  EXPECT_EQ(r[1].gold_correct, 0);
  EXPECT_EQ(r[2].gold_answers, 0);
  EXPECT_EQ(r[2].gold_correct, 0);
}

TEST(ReportWorkersTest, AgreementIsShareOfAnswersEqualToConsensus) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_NEAR(r[0].agreement, 1.0, 1e-12);
  EXPECT_NEAR(r[1].agreement, 2.0 / 3, 1e-12);
  EXPECT_NEAR(r[2].agreement, 1.0 / 2, 1e-12);
}

TEST(ReportWorkersTest, WorkerWithoutAnswersHasZeroAgreementAndNoFlag) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(0));
  EXPECT_EQ(r[3].agreement, 0.0);
  EXPECT_EQ(r[3].gold_answers, 0);
  const std::vector<WorkerReport> r2 = ReportWorkers(f.matrix, f.model, Thresholds(1));
  EXPECT_FALSE(r2[3].flagged);
}

TEST(ReportWorkersTest, FlagsLowAccuracyOrHighSpamScore) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(2));
  EXPECT_FALSE(r[0].flagged);  // accuracy .86, spam .51
  EXPECT_TRUE(r[1].flagged);   // accuracy .5 (not below .5), spam 1 > .95
  EXPECT_TRUE(r[2].flagged);   // accuracy .42 < .5
}

TEST(ReportWorkersTest, DoesNotFlagBeforeMinAnswers) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, Thresholds(3));
  EXPECT_TRUE(r[1].flagged);   // 3 answers: enough
  EXPECT_FALSE(r[2].flagged);  // 2 answers: too few to judge
}

TEST(ReportWorkersTest, AccuracyEqualToThresholdIsNotFlagged) {
  ReportFixture f = MakeReportFixture();
  // w0: row a (1/6, 5/6), row b (0, 1): accuracy 0.6 * 1/6 + 0.4 * 1 = 0.5.
  f.model.confusion[0] = 1.0 / 6;
  f.model.confusion[1] = 5.0 / 6;
  f.model.confusion[2] = 0.0;
  f.model.confusion[3] = 1.0;
  const double accuracy = 0.6 * (1.0 / 6) + 0.4 * 1.0;  // 0.5
  QualityThresholds q = Thresholds(1);
  q.min_accuracy = accuracy;
  q.max_spam_score = 1.0;
  const std::vector<WorkerReport> r = ReportWorkers(f.matrix, f.model, q);
  EXPECT_EQ(r[0].accuracy, accuracy);
  EXPECT_FALSE(r[0].flagged);
  q.min_accuracy = std::nextafter(accuracy, 1.0);
  EXPECT_TRUE(ReportWorkers(f.matrix, f.model, q)[0].flagged);
}

TEST(ReportWorkersTest, MarksExcludedWorkers) {
  const ReportFixture f = MakeReportFixture();
  const std::vector<WorkerReport> r =
      ReportWorkers(f.matrix, f.model, Thresholds(2), {false, true, false, false});
  EXPECT_FALSE(r[0].excluded);
  EXPECT_TRUE(r[1].excluded);
  EXPECT_FALSE(r[2].excluded);
  // Excluded workers are still measured.
  EXPECT_EQ(r[1].answers, 3);
  EXPECT_NEAR(r[1].agreement, 2.0 / 3, 1e-12);
}

TEST(ReportWorkersTest, NoExclusionListMeansNobodyExcluded) {
  const ReportFixture f = MakeReportFixture();
  for (const WorkerReport& r : ReportWorkers(f.matrix, f.model, Thresholds(2))) {
    EXPECT_FALSE(r.excluded);
  }
}

TEST(ReportWorkersTest, KeepAllCountsEveryDuplicateAnswer) {
  // w0 answers t0 twice (a, then b); consensus a.
  AnswerSet s{.tasks = 1, .workers = 1, .classes = 2, .answers = {{0, 0, kA}, {0, 0, kB}}};
  Model m;
  m.num_classes = 2;
  m.posterior = {1, 0};
  m.label = {kA};
  m.class_prior = {0.5, 0.5};
  m.confusion = {1, 0, 0, 1};
  const std::vector<WorkerReport> all =
      ReportWorkers(BuildMatrix(s, DuplicatePolicy::kKeepAll), m, Thresholds(1));
  EXPECT_EQ(all[0].answers, 2);
  EXPECT_NEAR(all[0].agreement, 0.5, 1e-12);
  const std::vector<WorkerReport> last =
      ReportWorkers(BuildMatrix(s, DuplicatePolicy::kKeepLast), m, Thresholds(1));
  EXPECT_EQ(last[0].answers, 1);
  EXPECT_EQ(last[0].agreement, 0.0);
}

TEST(ReportWorkersTest, ReportsOnAFittedModel) {
  // Three careful workers and one who always answers a, on six tasks.
  AnswerSet s{.tasks = 6, .workers = 4, .classes = 2};
  for (int32_t t = 0; t < 6; ++t) {
    for (int32_t w = 0; w < 3; ++w) s.answers.push_back({t, w, t % 2});
    s.answers.push_back({t, 3, kA});
  }
  const absl::StatusOr<Model> m = Aggregate(BuildMatrix(s), AggregateOptions{});
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<WorkerReport> r = ReportWorkers(BuildMatrix(s), *m, Thresholds(6));
  for (int32_t w = 0; w < 3; ++w) {
    EXPECT_EQ(r[w].agreement, 1.0);
    EXPECT_GT(r[w].accuracy, 0.7);
    EXPECT_FALSE(r[w].flagged);
  }
  EXPECT_EQ(r[3].agreement, 0.5);
  EXPECT_GT(r[3].spam_score, r[0].spam_score);
}

// ---------------------------------------------------------------- NeedsReview

TEST(NeedsReviewTest, LowConfidenceAfterEnoughAnswers) {
  const ReviewThresholds r{.min_answers = 3, .min_confidence = 0.7};
  EXPECT_TRUE(NeedsReview(0.6, 3, r));
  EXPECT_TRUE(NeedsReview(0.6, 10, r));
}

TEST(NeedsReviewTest, NotBeforeMinAnswers) {
  const ReviewThresholds r{.min_answers = 3, .min_confidence = 0.7};
  EXPECT_FALSE(NeedsReview(0.4, 2, r));
  EXPECT_FALSE(NeedsReview(0.4, 0, r));
}

TEST(NeedsReviewTest, ConfidenceAtThresholdIsEnough) {
  const ReviewThresholds r{.min_answers = 3, .min_confidence = 0.7};
  EXPECT_FALSE(NeedsReview(0.7, 5, r));
  EXPECT_FALSE(NeedsReview(0.95, 5, r));
}

TEST(NeedsReviewTest, DefaultThresholds) {
  const ReviewThresholds r;
  EXPECT_EQ(r.min_answers, 3);
  EXPECT_EQ(r.min_confidence, 0.7);
  EXPECT_TRUE(NeedsReview(0.5, 3, r));
}

}  // namespace
}  // namespace consensusd::consensus
