// Hand-computed cases for Aggregate and ArgMax. Every expected number is
// derived in the comment above it from the fixture's answers.
#include "consensus/aggregate.h"

#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/consensus/fixtures.h"

namespace consensusd::consensus {
namespace {

using fixtures::AnswerSet;
using fixtures::BuildMatrix;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::Pointwise;

constexpr int32_t kA = 0, kB = 1;
constexpr double kExact = 1e-12;

// Classes a = 0 and b = 1 (a sorts first). Three workers answer three tasks:
//
//          w0  w1  w2    majority vote posterior P(a), P(b)
//   t0      a   a   b    2/3, 1/3
//   t1      b   a   a    2/3, 1/3
//   t2      a   b   b    1/3, 2/3
AnswerSet ThreeByThree() {
  return {.tasks = 3,
          .workers = 3,
          .classes = 2,
          .answers = {{0, 0, kA}, {0, 1, kA}, {0, 2, kB},
                      {1, 0, kB}, {1, 1, kA}, {1, 2, kA},
                      {2, 0, kA}, {2, 1, kB}, {2, 2, kB}}};
}

AggregateOptions Options(Method method, double prior = kDefaultPrior, int max_iter = 100,
                         double diagonal_prior = kDefaultDiagonalPrior) {
  AggregateOptions o;
  o.method = method;
  o.prior = prior;
  o.max_iter = max_iter;
  o.diagonal_prior = diagonal_prior;
  return o;
}

Model Fit(const AnswerMatrix& m, const AggregateOptions& o, const std::vector<bool>& excluded = {}) {
  absl::StatusOr<Model> model = Aggregate(m, o, excluded);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : Model{};
}

std::vector<double> Row(const Model& m, int32_t t) {
  return {m.Posterior(t).begin(), m.Posterior(t).end()};
}

// confusion[w][k][l] = P(worker w answers l | true class k).
double Confusion(const Model& m, int32_t w, int32_t k, int32_t l) {
  return m.Confusion(w)[k * m.num_classes + l];
}

// ---------------------------------------------------------------- no answers

// What a sweep sees after an instance lost all its partitions: the tasks and
// workers stay interned, their answers are gone. It once sized its partial
// sums per task: 200k tasks x 2,000 workers x 16 doubles, std::bad_alloc.
TEST(AggregateTest, TasksWithoutAnyAnswerFitWithoutPerTaskBuffers) {
  const AnswerMatrix m = BuildMatrix({.tasks = 200000, .workers = 2000, .classes = 4, .answers = {}});
  for (Method method : {Method::kDawidSkene, Method::kOneCoin}) {
    const Model model = Fit(m, Options(method));
    EXPECT_EQ(model.label.size(), 200000u);
  }
}

// ---------------------------------------------------------------- parsing

TEST(ParseMethodTest, AcceptsTheFourMethodNames) {
  EXPECT_EQ(ParseMethod("ds").value(), Method::kDawidSkene);
  EXPECT_EQ(ParseMethod("onecoin").value(), Method::kOneCoin);
  EXPECT_EQ(ParseMethod("mv").value(), Method::kMajorityVote);
  EXPECT_EQ(ParseMethod("wawa").value(), Method::kWawa);
}

TEST(ParseMethodTest, RejectsUnknownMethodNamingIt) {
  absl::StatusOr<Method> m = ParseMethod("glad");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()), ::testing::HasSubstr("glad"));
}

TEST(ParseMethodTest, MethodNameRoundTrips) {
  for (Method m : {Method::kDawidSkene, Method::kOneCoin, Method::kMajorityVote, Method::kWawa,
                   Method::kVariational, Method::kMace, Method::kHierarchical}) {
    EXPECT_EQ(ParseMethod(MethodName(m)).value(), m);
  }
}

// ---------------------------------------------------------------- ArgMax

TEST(ArgMaxTest, PicksLargestPosterior) {
  const std::vector<double> post = {0.2, 0.5, 0.3}, prior = {0.9, 0.05, 0.05};
  const std::vector<int32_t> rank = {0, 1, 2};
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 1);
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kName), 1);
}

TEST(ArgMaxTest, PriorThenNameGivesTieToLargerPrior) {
  const std::vector<double> post = {0.4, 0.4, 0.2}, prior = {0.3, 0.6, 0.1};
  const std::vector<int32_t> rank = {0, 1, 2};  // class 0 sorts first, yet has the smaller prior
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 1);
}

TEST(ArgMaxTest, PriorThenNameGivesTieOfEqualPriorsToNameThatSortsFirst) {
  const std::vector<double> post = {0.5, 0.5}, prior = {0.5, 0.5};
  const std::vector<int32_t> rank = {1, 0};  // class 1's name sorts first
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 1);
}

TEST(ArgMaxTest, NameTieBreakIgnoresPrior) {
  const std::vector<double> post = {0.4, 0.4, 0.2}, prior = {0.3, 0.6, 0.1};
  const std::vector<int32_t> rank = {0, 1, 2};
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kName), 0);
}

TEST(ArgMaxTest, NameTieBreakUsesRankNotId) {
  const std::vector<double> post = {0.25, 0.25, 0.25, 0.25}, prior = {0.25, 0.25, 0.25, 0.25};
  const std::vector<int32_t> rank = {3, 1, 0, 2};  // class 2 sorts first
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kName), 2);
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 2);
}

TEST(ArgMaxTest, TieAmongTopClassesOnlyIgnoresLowerClasses) {
  // Class 0 has the largest prior and sorts first but is not among the tied top classes.
  const std::vector<double> post = {0.1, 0.45, 0.45}, prior = {0.8, 0.1, 0.1};
  const std::vector<int32_t> rank = {0, 2, 1};
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 2);
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kName), 2);
}

TEST(ArgMaxTest, TinyDifferenceIsNotATie) {
  const std::vector<double> post = {0.5, std::nextafter(0.5, 1.0)}, prior = {0.9, 0.1};
  const std::vector<int32_t> rank = {0, 1};
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 1);
}

TEST(ArgMaxTest, SingleClassIsAlwaysChosen) {
  const std::vector<double> post = {1.0}, prior = {1.0};
  const std::vector<int32_t> rank = {0};
  EXPECT_EQ(ArgMax(post, prior, rank, TieBreak::kPriorThenName), 0);
}

// ---------------------------------------------------------------- options

TEST(AggregateTest, RejectsNegativePrior) {
  AggregateOptions o;
  o.prior = -0.5;
  absl::StatusOr<Model> m = Aggregate(BuildMatrix(ThreeByThree()), o);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AggregateTest, RejectsNanPrior) {
  AggregateOptions o;
  o.prior = std::nan("");
  EXPECT_FALSE(Aggregate(BuildMatrix(ThreeByThree()), o).ok());
}

TEST(AggregateTest, EmptyInputGivesEmptyModel) {
  AnswerMatrix m = BuildMatrix({.tasks = 0, .workers = 0, .classes = 2});
  for (Method method : {Method::kDawidSkene, Method::kOneCoin, Method::kMajorityVote, Method::kWawa}) {
    Model model = Fit(m, Options(method));
    EXPECT_TRUE(model.posterior.empty()) << MethodName(method);
    EXPECT_TRUE(model.label.empty()) << MethodName(method);
    EXPECT_TRUE(model.confusion.empty()) << MethodName(method);
  }
}

TEST(AggregateTest, ModelHasOneRowPerTaskAndOneMatrixPerWorker) {
  AnswerSet s = ThreeByThree();
  s.tasks = 4;    // t3 has no answers
  s.workers = 5;  // w3 and w4 have none
  s.classes = 3;  // class 2 is never answered
  AnswerMatrix m = BuildMatrix(s);
  for (Method method : {Method::kDawidSkene, Method::kOneCoin, Method::kMajorityVote, Method::kWawa}) {
    Model model = Fit(m, Options(method));
    EXPECT_EQ(model.num_classes, 3);
    EXPECT_EQ(model.posterior.size(), 4u * 3) << MethodName(method);
    EXPECT_EQ(model.label.size(), 4u) << MethodName(method);
    EXPECT_EQ(model.class_prior.size(), 3u) << MethodName(method);
    EXPECT_EQ(model.confusion.size(), 5u * 3 * 3) << MethodName(method);
  }
}

// ---------------------------------------------------------------- mv

TEST(MajorityVoteTest, PosteriorsAreVoteFractions) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {2.0 / 3, 1.0 / 3}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {2.0 / 3, 1.0 / 3}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {1.0 / 3, 2.0 / 3}));
  EXPECT_THAT(m.label, ElementsAre(kA, kA, kB));
}

TEST(MajorityVoteTest, VoteFractionsOverThreeClasses) {
  // One task, five answers: a a b c c -> 2/5, 1/5, 2/5; a sorts first and, with
  // equal priors, takes the a/c tie.
  AnswerSet s{.tasks = 1, .workers = 5, .classes = 3,
              .answers = {{0, 0, 0}, {0, 1, 0}, {0, 2, 1}, {0, 3, 2}, {0, 4, 2}}};
  Model m = Fit(BuildMatrix(s), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {0.4, 0.2, 0.4}));
  EXPECT_EQ(m.label[0], 0);
}

// "yes" = 0, "no" = 1; "no" sorts first. t0 is a 1-1 tie; t1 is three yes votes,
// so the yes class has the larger prior: 0.5 + 1 vs 0.5 + 0 before smoothing.
AnswerMatrix TieWithUnequalPriors() {
  AnswerMatrix m = BuildMatrix({.tasks = 2, .workers = 3, .classes = 2,
                                .answers = {{0, 0, 0}, {0, 1, 1},
                                            {1, 0, 0}, {1, 1, 0}, {1, 2, 0}}});
  m.class_rank = {1, 0};
  return m;
}

TEST(MajorityVoteTest, TieGoesToLargerPrior) {
  AggregateOptions o = Options(Method::kMajorityVote);
  o.tie_break = TieBreak::kPriorThenName;
  Model m = Fit(TieWithUnequalPriors(), o);
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {0.5, 0.5}));
  EXPECT_GT(m.class_prior[0], m.class_prior[1]);
  EXPECT_EQ(m.label[0], 0);
}

TEST(MajorityVoteTest, NameTieBreakGivesTieToNameThatSortsFirst) {
  AggregateOptions o = Options(Method::kMajorityVote);
  o.tie_break = TieBreak::kName;
  Model m = Fit(TieWithUnequalPriors(), o);
  EXPECT_EQ(m.label[0], 1);  // "no" < "yes"
}

TEST(MajorityVoteTest, TieWithEqualPriorsGoesToNameThatSortsFirst) {
  // Two 1-1 ties: the class masses are equal, so the name decides.
  AnswerMatrix m = BuildMatrix({.tasks = 2, .workers = 2, .classes = 2,
                                .answers = {{0, 0, 0}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}}});
  m.class_rank = {1, 0};
  Model model = Fit(m, Options(Method::kMajorityVote));
  EXPECT_EQ(model.class_prior[0], model.class_prior[1]);
  EXPECT_THAT(model.label, ElementsAre(1, 1));
}

// Classes a, b, c. The tasks' vote shares:
//   u: a b c  (1/3, 1/3, 1/3)      h: a b    (1/2, 1/2, 0)
//   x: a a b  (2/3, 1/3, 0)        y: a b b  (1/3, 2/3, 0)
// a and b have the same total mass, 1/3 + 1/2 + 2/3 + 1/3 = 11/6, so u's and
// h's ties go to a, the class that sorts first, whatever the order of the
// tasks. (Summed in floating point in task order, the two masses differ in the
// last bit, one way for u h x y and the other way for u h y x.)
AnswerMatrix TiedMassesInTaskOrder(bool swap_x_and_y) {
  const int32_t x = swap_x_and_y ? 3 : 2, y = swap_x_and_y ? 2 : 3;
  return BuildMatrix({.tasks = 4, .workers = 3, .classes = 3,
                      .answers = {{0, 0, 0}, {0, 1, 1}, {0, 2, 2},
                                  {1, 0, 0}, {1, 1, 1},
                                  {x, 0, 0}, {x, 1, 0}, {x, 2, 1},
                                  {y, 0, 0}, {y, 1, 1}, {y, 2, 1}}});
}

TEST(MajorityVoteTest, TieBreakDoesNotDependOnTaskOrder) {
  AggregateOptions o = Options(Method::kMajorityVote, /*prior=*/0.01);
  for (bool swap : {false, true}) {
    const Model m = Fit(TiedMassesInTaskOrder(swap), o);
    EXPECT_EQ(m.label[0], 0) << "swap " << swap << ": priors " << m.class_prior[0] << " "
                             << m.class_prior[1] << " differ by "
                             << m.class_prior[0] - m.class_prior[1];
    EXPECT_EQ(m.label[1], 0) << "swap " << swap;
  }
}

TEST(MajorityVoteTest, KeepAllCountsEveryDuplicateAnswer) {
  // w0 answers a twice, w1 answers b once.
  AnswerSet s{.tasks = 1, .workers = 2, .classes = 2,
              .answers = {{0, 0, kA}, {0, 1, kB}, {0, 0, kA}}};
  Model all = Fit(BuildMatrix(s, DuplicatePolicy::kKeepAll), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(all, 0), Pointwise(DoubleNear(kExact), {2.0 / 3, 1.0 / 3}));
  Model last = Fit(BuildMatrix(s, DuplicatePolicy::kKeepLast), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(last, 0), Pointwise(DoubleNear(kExact), {0.5, 0.5}));
}

TEST(MajorityVoteTest, KeepLastCountsOnlyTheLatestAnswer) {
  // w0 first says b, then a; w1 says b. Keep-last: a 1, b 1. Keep-all: a 1, b 2.
  AnswerSet s{.tasks = 1, .workers = 2, .classes = 2,
              .answers = {{0, 0, kB}, {0, 1, kB}, {0, 0, kA}}};
  Model last = Fit(BuildMatrix(s, DuplicatePolicy::kKeepLast), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(last, 0), Pointwise(DoubleNear(kExact), {0.5, 0.5}));
  Model all = Fit(BuildMatrix(s, DuplicatePolicy::kKeepAll), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(all, 0), Pointwise(DoubleNear(kExact), {1.0 / 3, 2.0 / 3}));
}

TEST(MajorityVoteTest, ConfusionWithoutPriorIsEmpiricalAgainstPosterior) {
  // w0 answered a on t0 (P(a) = 2/3) and t2 (1/3), b on t1 (2/3):
  // P(a | a) = (2/3 + 1/3) / (2/3 + 2/3 + 1/3) = 3/5.
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kMajorityVote, /*prior=*/0));
  EXPECT_NEAR(Confusion(m, 0, kA, kA), 3.0 / 5, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kB), 2.0 / 5, kExact);
  // Row b: P(a | b) = (1/3 + 2/3) / (1/3 + 1/3 + 2/3) = 3/4.
  EXPECT_NEAR(Confusion(m, 0, kB, kA), 3.0 / 4, kExact);
}

// ---------------------------------------------------------------- ds

// One EM iteration, prior 0 (maximum likelihood). From the majority-vote start:
//   class prior  P(a) = (2/3 + 2/3 + 1/3) / 3 = 5/9, P(b) = 4/9
//   w0: row a: a-weight 2/3 + 1/3 = 1, b-weight 2/3  -> P(a|a) = 3/5, P(b|a) = 2/5
//       row b: a-weight 1/3 + 2/3 = 1, b-weight 1/3  -> P(a|b) = 3/4, P(b|b) = 1/4
//   w1: row a: a 2/3 + 2/3, b 1/3                    -> 4/5, 1/5
//       row b: a 1/3 + 1/3, b 2/3                    -> 1/2, 1/2
//   w2: row a: a 2/3, b 2/3 + 1/3                    -> 2/5, 3/5
//       row b: a 1/3, b 1/3 + 2/3                    -> 1/4, 3/4
// E-step, joint P(class, answers):
//   t0 (a a b): a: 5/9 * 3/5 * 4/5 * 3/5 = 4/25;  b: 4/9 * 3/4 * 1/2 * 3/4 = 1/8
//               posterior a = (4/25) / (4/25 + 1/8) = 32/57
//   t1 (b a a): a: 5/9 * 2/5 * 4/5 * 2/5 = 16/225; b: 4/9 * 1/4 * 1/2 * 1/4 = 1/72
//               posterior a = 128/153
//   t2 (a b b): a: 5/9 * 3/5 * 1/5 * 3/5 = 1/25;  b: 4/9 * 3/4 * 1/2 * 3/4 = 1/8
//               posterior a = 8/33
// Log-likelihood of that E-step: log(57/200) + log(153/1800) + log(33/200).
TEST(DawidSkeneTest, OneIterationWithoutPriorMatchesHandComputation) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene, /*prior=*/0, /*max_iter=*/1));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {32.0 / 57, 25.0 / 57}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {128.0 / 153, 25.0 / 153}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {8.0 / 33, 25.0 / 33}));
  EXPECT_THAT(m.label, ElementsAre(kA, kA, kB));
  EXPECT_EQ(m.iterations, 1);
  ASSERT_EQ(m.objective_history.size(), 1u);
  const double ll = std::log(57.0 / 200) + std::log(153.0 / 1800) + std::log(33.0 / 200);
  EXPECT_NEAR(m.objective_history[0], ll, 1e-12);
}

// The returned parameters are the M-step of the returned posteriors (as in
// crowd-kit, which re-estimates after each E-step):
//   class prior P(a) = (32/57 + 128/153 + 8/33) / 3
//   w0 answered a on t0 and t2, b on t1:
//     P(a|a) = (32/57 + 8/33) / (32/57 + 128/153 + 8/33) = 3213/6557
//     P(a|b) = (25/57 + 25/33) / (25/57 + 25/153 + 25/33) = 1530/1739
//   w2 answered b on t0 and t2, a on t1: P(a|a) = (128/153) / (32/57 + 128/153 + 8/33) = 3344/6557
TEST(DawidSkeneTest, OneIterationWithoutPriorReturnsMStepOfPosteriors) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene, /*prior=*/0, /*max_iter=*/1));
  const double a0 = 32.0 / 57, a1 = 128.0 / 153, a2 = 8.0 / 33;
  EXPECT_NEAR(m.class_prior[kA], (a0 + a1 + a2) / 3, kExact);
  EXPECT_NEAR(m.class_prior[kB], 1 - (a0 + a1 + a2) / 3, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kA), 3213.0 / 6557, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kB), 3344.0 / 6557, kExact);
  EXPECT_NEAR(Confusion(m, 0, kB, kA), 1530.0 / 1739, kExact);
  EXPECT_NEAR(Confusion(m, 0, kB, kB), 209.0 / 1739, kExact);
  EXPECT_NEAR(Confusion(m, 2, kA, kA), 3344.0 / 6557, kExact);
  // w1 answered a on t0, t1 and b on t2: P(b|b) = (25/33) / (25/57 + 25/153 + 25/33) = 969/1739.
  EXPECT_NEAR(Confusion(m, 1, kB, kB), 969.0 / 1739, kExact);
}

// One EM iteration, prior 1 and no diagonal prior (add one to every count).
// From the majority-vote start:
//   class prior  P(a) = (5/3 + 1) / (3 + 2) = 8/15, P(b) = 7/15
//   w0: row a: (1 + 1) / (5/3 + 2) = 6/11, (2/3 + 1) / (11/3) = 5/11
//       row b: (1 + 1) / (4/3 + 2) = 3/5,  (1/3 + 1) / (10/3) = 2/5
//   w1: row a: (4/3 + 1) / (11/3) = 7/11, 4/11;  row b: (2/3 + 1) / (10/3) = 1/2, 1/2
//   w2: row a: (2/3 + 1) / (11/3) = 5/11, 6/11;  row b: (1/3 + 1) / (10/3) = 2/5, 3/5
// E-step:
//   t0 (a a b): a: 8/15 * 6/11 * 7/11 * 6/11;  b: 7/15 * 3/5 * 1/2 * 3/5
//               posterior a = 1600/2931
//   t1 (b a a): a: 8/15 * 5/11 * 7/11 * 5/11;  b: 7/15 * 2/5 * 1/2 * 2/5   -> 2500/3831
//   t2 (a b b): a: 8/15 * 6/11 * 4/11 * 6/11;  b: 7/15 * 3/5 * 1/2 * 3/5   -> 6400/15717
TEST(DawidSkeneTest, OneIterationWithSymmetricPriorMatchesHandComputation) {
  Model m = Fit(BuildMatrix(ThreeByThree()),
                Options(Method::kDawidSkene, /*prior=*/1, /*max_iter=*/1, /*diagonal_prior=*/0));
  const double a0 = 8.0 / 15 * 6 / 11 * 7 / 11 * 6 / 11, b0 = 7.0 / 15 * 3 / 5 * 1 / 2 * 3 / 5;
  EXPECT_NEAR(a0 / (a0 + b0), 1600.0 / 2931, kExact);  // the arithmetic of the comment
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {1600.0 / 2931, 1331.0 / 2931}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {2500.0 / 3831, 1331.0 / 3831}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {6400.0 / 15717, 9317.0 / 15717}));
  EXPECT_THAT(m.label, ElementsAre(kA, kA, kB));
}

// The returned parameters after one iteration with prior 1 (no diagonal), from
// the posteriors above:
//   class prior P(a) = (1600/2931 + 2500/3831 + 6400/15717 + 1) / 5
//   w0 (a on t0, t2; b on t1):
//     P(a|a) = (1600/2931 + 6400/15717 + 1) / (1600/2931 + 2500/3831 + 6400/15717 + 2)
TEST(DawidSkeneTest, OneIterationWithSymmetricPriorSmoothsTheMStep) {
  Model m = Fit(BuildMatrix(ThreeByThree()),
                Options(Method::kDawidSkene, /*prior=*/1, /*max_iter=*/1, /*diagonal_prior=*/0));
  const double a0 = 1600.0 / 2931, a1 = 2500.0 / 3831, a2 = 6400.0 / 15717;
  const double b0 = 1 - a0, b1 = 1 - a1, b2 = 1 - a2;
  EXPECT_NEAR(m.class_prior[kA], (a0 + a1 + a2 + 1) / 5, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kA), (a0 + a2 + 1) / (a0 + a1 + a2 + 2), kExact);
  EXPECT_NEAR(Confusion(m, 0, kB, kB), (b1 + 1) / (b0 + b1 + b2 + 2), kExact);
  // w1: a on t0, t1; b on t2.
  EXPECT_NEAR(Confusion(m, 1, kA, kB), (a2 + 1) / (a0 + a1 + a2 + 2), kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kA), 38298135393.0 / 70703377886, kExact);
}

// One EM iteration, prior 1 with diagonal prior 1: pseudo-count 2 on the
// diagonal cell of each row and 1 elsewhere. From the majority-vote start
// (row a has weight 5/3 + 2 + 1 = 14/3, row b 4/3 + 3 = 13/3):
//   class prior 8/15, 7/15 (the class prior has no diagonal term)
//   w0: row a: (1 + 2) / (14/3) = 9/14, (2/3 + 1) / (14/3) = 5/14
//       row b: (1 + 1) / (13/3) = 6/13, (1/3 + 2) / (13/3) = 7/13
//   w1: row a: (4/3 + 2) / (14/3) = 5/7, 2/7;  row b: (2/3 + 1) / (13/3) = 5/13, 8/13
//   w2: row a: (2/3 + 2) / (14/3) = 4/7, 3/7;  row b: (1/3 + 1) / (13/3) = 4/13, 9/13
// E-step:
//   t0 (a a b): a: 8/15 * 9/14 * 5/7 * 3/7;  b: 7/15 * 6/13 * 5/13 * 9/13 -> 4394/6795
//   t1 (b a a): a: 8/15 * 5/14 * 5/7 * 4/7;  b: 7/15 * 7/13 * 5/13 * 4/13 -> 43940/60747
//   t2 (a b b): a: 8/15 * 9/14 * 2/7 * 3/7;  b: 7/15 * 6/13 * 8/13 * 9/13 -> 2197/6999
TEST(DawidSkeneTest, OneIterationWithDiagonalPriorMatchesHandComputation) {
  Model m = Fit(BuildMatrix(ThreeByThree()),
                Options(Method::kDawidSkene, /*prior=*/1, /*max_iter=*/1, /*diagonal_prior=*/1));
  const double a0 = 8.0 / 15 * 9 / 14 * 5 / 7 * 3 / 7, b0 = 7.0 / 15 * 6 / 13 * 5 / 13 * 9 / 13;
  EXPECT_NEAR(a0 / (a0 + b0), 4394.0 / 6795, kExact);  // the arithmetic of the comment
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {4394.0 / 6795, 2401.0 / 6795}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {43940.0 / 60747, 16807.0 / 60747}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {2197.0 / 6999, 4802.0 / 6999}));
  // The returned w0 row a: (a-weight on a answers + 2) / (row weight + 3).
  const double p0 = 4394.0 / 6795, p1 = 43940.0 / 60747, p2 = 2197.0 / 6999;
  EXPECT_NEAR(Confusion(m, 0, kA, kA), (p0 + p2 + 2) / (p0 + p1 + p2 + 3), kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kB), (p1 + 1) / (p0 + p1 + p2 + 3), kExact);
  EXPECT_NEAR(m.class_prior[kA], (p0 + p1 + p2 + 1) / 5, kExact);
}

TEST(DawidSkeneTest, DiagonalPriorIsIgnoredWithoutPrior) {
  Model plain = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene, 0, 1, /*diagonal_prior=*/0));
  Model diagonal = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene, 0, 1, /*diagonal_prior=*/5));
  EXPECT_EQ(plain.posterior, diagonal.posterior);
  EXPECT_EQ(plain.confusion, diagonal.confusion);
}

TEST(DawidSkeneTest, OneCoinFallbackForEveryWorkerIsOneCoin) {
  // Each worker has 3 answers, below the threshold of 4.
  AggregateOptions ds = Options(Method::kDawidSkene);
  ds.onecoin_below = 4;
  Model fallback = Fit(BuildMatrix(ThreeByThree()), ds);
  Model onecoin = Fit(BuildMatrix(ThreeByThree()), Options(Method::kOneCoin));
  EXPECT_THAT(fallback.posterior, Pointwise(DoubleNear(kExact), onecoin.posterior));
  EXPECT_THAT(fallback.confusion, Pointwise(DoubleNear(kExact), onecoin.confusion));
}

TEST(DawidSkeneTest, OneCoinFallbackSparesWorkersWithEnoughAnswers) {
  AggregateOptions ds = Options(Method::kDawidSkene);
  ds.onecoin_below = 3;  // every worker has exactly 3 answers
  Model at_threshold = Fit(BuildMatrix(ThreeByThree()), ds);
  Model full = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene));
  EXPECT_EQ(at_threshold.posterior, full.posterior);
  EXPECT_EQ(at_threshold.confusion, full.confusion);
}

// ThreeByThree plus t3 (only w0 answered: b) and t4 (only w1 answered: a).
AnswerSet WithSingleAnswerTasks() {
  AnswerSet s = ThreeByThree();
  s.tasks = 5;
  s.answers.push_back({3, 0, kB});
  s.answers.push_back({4, 1, kA});
  return s;
}

TEST(DawidSkeneTest, SingleAnswerTasksDoNotMoveTheFit) {
  for (Method method : {Method::kDawidSkene, Method::kOneCoin}) {
    AggregateOptions o = Options(method, /*prior=*/1);
    ASSERT_TRUE(o.skip_single_answer_tasks);  // the default
    const Model base = Fit(BuildMatrix(ThreeByThree()), o);
    const Model more = Fit(BuildMatrix(WithSingleAnswerTasks()), o);
    for (int32_t t = 0; t < 3; ++t) {
      EXPECT_THAT(Row(more, t), Pointwise(DoubleNear(kExact), Row(base, t))) << MethodName(method);
    }
    EXPECT_THAT(more.confusion, Pointwise(DoubleNear(kExact), base.confusion)) << MethodName(method);
    EXPECT_THAT(more.class_prior, Pointwise(DoubleNear(kExact), base.class_prior))
        << MethodName(method);
    EXPECT_THAT(more.objective_history, Pointwise(DoubleNear(1e-9), base.objective_history))
        << MethodName(method);
  }
}

TEST(DawidSkeneTest, SingleAnswerTaskIsPredictedFromFittedParameters) {
  // P(t3 is k) is proportional to P(k) P(w0 answers b | k), at convergence.
  AggregateOptions o = Options(Method::kDawidSkene, /*prior=*/1, /*max_iter=*/10000);
  o.tol = 1e-15;
  const Model m = Fit(BuildMatrix(WithSingleAnswerTasks()), o);
  const double a = m.class_prior[kA] * Confusion(m, 0, kA, kB);
  const double b = m.class_prior[kB] * Confusion(m, 0, kB, kB);
  EXPECT_NEAR(m.Posterior(3)[kA], a / (a + b), 1e-6);
  const double a4 = m.class_prior[kA] * Confusion(m, 1, kA, kA);
  const double b4 = m.class_prior[kB] * Confusion(m, 1, kB, kA);
  EXPECT_NEAR(m.Posterior(4)[kA], a4 / (a4 + b4), 1e-6);
}

TEST(DawidSkeneTest, SingleAnswerTasksAreFittedWhenAsked) {
  AggregateOptions o = Options(Method::kDawidSkene, /*prior=*/1);
  o.skip_single_answer_tasks = false;
  const Model base = Fit(BuildMatrix(ThreeByThree()), o);
  const Model more = Fit(BuildMatrix(WithSingleAnswerTasks()), o);
  EXPECT_GT(std::abs(more.class_prior[kA] - base.class_prior[kA]), 1e-6);
}

TEST(DawidSkeneTest, SingleAnswerTasksAreFittedWithoutPrior) {
  AggregateOptions o = Options(Method::kDawidSkene, /*prior=*/0);
  ASSERT_TRUE(o.skip_single_answer_tasks);
  const Model base = Fit(BuildMatrix(ThreeByThree()), o);
  const Model more = Fit(BuildMatrix(WithSingleAnswerTasks()), o);
  EXPECT_GT(std::abs(more.class_prior[kA] - base.class_prior[kA]), 1e-6);
}

TEST(DawidSkeneTest, TaskWithOneCountedAnswerIsNotFitted) {
  // t3 has two answers, but w3's is excluded: it counts as a single-answer task.
  AnswerSet s = ThreeByThree();
  s.tasks = 4;
  s.workers = 4;
  s.answers.push_back({3, 0, kB});
  s.answers.push_back({3, 3, kB});
  const AggregateOptions o = Options(Method::kDawidSkene, /*prior=*/1);
  const Model base = Fit(BuildMatrix(ThreeByThree()), o);
  const Model more = Fit(BuildMatrix(s), o, {false, false, false, true});
  EXPECT_THAT(more.class_prior, Pointwise(DoubleNear(kExact), base.class_prior));
  for (int32_t t = 0; t < 3; ++t) {
    EXPECT_THAT(Row(more, t), Pointwise(DoubleNear(kExact), Row(base, t)));
  }
}

TEST(DawidSkeneTest, GoldTaskWithOneAnswerIsFitted) {
  AnswerSet s = WithSingleAnswerTasks();
  s.gold = {kNoGold, kNoGold, kNoGold, kA, kNoGold};  // w0 said b on t3, whose gold is a
  const AggregateOptions o = Options(Method::kDawidSkene, /*prior=*/1);
  const Model without_gold = Fit(BuildMatrix(WithSingleAnswerTasks()), o);
  const Model with_gold = Fit(BuildMatrix(s), o);
  // The gold answer counts against w0's P(b | a).
  EXPECT_GT(Confusion(with_gold, 0, kA, kB), Confusion(without_gold, 0, kA, kB) + 1e-3);
}

TEST(DawidSkeneTest, ZeroIterationsReturnTheMajorityVoteStart) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kDawidSkene, 0, /*max_iter=*/0));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {2.0 / 3, 1.0 / 3}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {1.0 / 3, 2.0 / 3}));
  EXPECT_EQ(m.iterations, 0);
}

TEST(DawidSkeneTest, ObjectiveHistoryHasOneEntryPerIteration) {
  for (int max_iter : {1, 2, 3, 7}) {
    AggregateOptions o = Options(Method::kDawidSkene, 1, max_iter);
    o.tol = 0;
    Model m = Fit(BuildMatrix(ThreeByThree()), o);
    EXPECT_LE(m.iterations, max_iter);
    EXPECT_GE(m.iterations, 1);
    EXPECT_EQ(m.objective_history.size(), static_cast<size_t>(m.iterations));
  }
}

TEST(DawidSkeneTest, ConvergesBeforeMaxIterOnEasyInput) {
  // Three workers agree on every one of six tasks.
  AnswerSet s{.tasks = 6, .workers = 3, .classes = 2};
  for (int32_t t = 0; t < 6; ++t) {
    for (int32_t w = 0; w < 3; ++w) s.answers.push_back({t, w, t % 2});
  }
  Model m = Fit(BuildMatrix(s), Options(Method::kDawidSkene, 1, 100));
  EXPECT_TRUE(m.converged);
  EXPECT_LT(m.iterations, 100);
  for (int32_t t = 0; t < 6; ++t) EXPECT_EQ(m.label[t], t % 2);
}

TEST(DawidSkeneTest, LogLikelihoodWithoutPriorIsTheConvergedObjective) {
  AggregateOptions o = Options(Method::kDawidSkene, 0, 1000);
  o.tol = 1e-12;
  Model m = Fit(BuildMatrix(ThreeByThree()), o);
  ASSERT_FALSE(m.objective_history.empty());
  EXPECT_NEAR(m.log_likelihood, m.objective_history.back(), 1e-6);
  EXPECT_LT(m.log_likelihood, 0);
}

TEST(DawidSkeneTest, SymmetricTieGoesToNameThatSortsFirst) {
  // One task, one "yes" (class 0) and one "no" (class 1) answer: everything is
  // symmetric, so the posterior is an exact tie and "no" sorts first.
  AnswerMatrix m = BuildMatrix({.tasks = 1, .workers = 2, .classes = 2,
                                .answers = {{0, 0, 0}, {0, 1, 1}}});
  m.class_rank = {1, 0};
  for (Method method : {Method::kDawidSkene, Method::kOneCoin}) {
    Model model = Fit(m, Options(method));
    EXPECT_EQ(model.Posterior(0)[0], model.Posterior(0)[1]) << MethodName(method);
    EXPECT_EQ(model.label[0], 1) << MethodName(method);
  }
}

// ---------------------------------------------------------------- onecoin

// One iteration, prior 0. Accuracy of each worker from the majority-vote start is
// the mean posterior of the class it answered:
//   w0: a on t0 (2/3), b on t1 (1/3), a on t2 (1/3) -> 4/9
//   w1: a on t0 (2/3), a on t1 (2/3), b on t2 (2/3) -> 2/3
//   w2: b on t0 (1/3), a on t1 (2/3), b on t2 (2/3) -> 5/9
//   class prior 5/9, 4/9
// E-step (right answer: accuracy, wrong answer: 1 - accuracy, as K = 2):
//   t0 (a a b): a: 5/9 * 4/9 * 2/3 * 4/9 = 160/2187; b: 4/9 * 5/9 * 1/3 * 5/9 = 100/2187
//               posterior a = 8/13
//   t1 (b a a): a: 5/9 * 5/9 * 2/3 * 5/9;  b: 4/9 * 4/9 * 1/3 * 4/9  -> 125/157
//   t2 (a b b): a: 5/9 * 4/9 * 1/3 * 4/9;  b: 4/9 * 5/9 * 2/3 * 5/9  -> 2/7
TEST(OneCoinTest, OneIterationWithoutPriorMatchesHandComputation) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kOneCoin, /*prior=*/0, /*max_iter=*/1));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {8.0 / 13, 5.0 / 13}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {125.0 / 157, 32.0 / 157}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {2.0 / 7, 5.0 / 7}));
  ASSERT_EQ(m.objective_history.size(), 1u);
  const double ll = std::log(260.0 / 2187) + std::log((250.0 + 64) / 2187) +
                    std::log((80.0 + 200) / 2187);
  EXPECT_NEAR(m.objective_history[0], ll, 1e-12);
}

// The returned accuracies are the M-step of the returned posteriors:
//   w0: (8/13 + 32/157 + 2/7) / 3; the other classes share 1 - accuracy.
TEST(OneCoinTest, ConfusionHasOneAccuracyAndEvenErrors) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kOneCoin, /*prior=*/0, /*max_iter=*/1));
  const double acc0 = (8.0 / 13 + 32.0 / 157 + 2.0 / 7) / 3;
  EXPECT_NEAR(acc0, 5262.0 / 14287, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kA), acc0, kExact);
  EXPECT_NEAR(Confusion(m, 0, kB, kB), acc0, kExact);
  EXPECT_NEAR(Confusion(m, 0, kA, kB), 1 - acc0, kExact);
  // w1: a on t0, t1 and b on t2.
  EXPECT_NEAR(Confusion(m, 1, kA, kA), (8.0 / 13 + 125.0 / 157 + 5.0 / 7) / 3, kExact);
}

TEST(OneCoinTest, ErrorsSpreadEvenlyOverOtherClasses) {
  AnswerSet s{.tasks = 3, .workers = 3, .classes = 4,
              .answers = {{0, 0, 0}, {0, 1, 0}, {0, 2, 1}, {1, 0, 2}, {1, 1, 2},
                          {1, 2, 2}, {2, 0, 3}, {2, 1, 1}, {2, 2, 3}}};
  Model m = Fit(BuildMatrix(s), Options(Method::kOneCoin));
  for (int32_t w = 0; w < 3; ++w) {
    const double acc = Confusion(m, w, 0, 0);
    for (int32_t k = 0; k < 4; ++k) {
      for (int32_t l = 0; l < 4; ++l) {
        EXPECT_NEAR(Confusion(m, w, k, l), k == l ? acc : (1 - acc) / 3, kExact)
            << "w" << w << " k" << k << " l" << l;
      }
    }
  }
}

// ---------------------------------------------------------------- wawa

// Majority labels: t0 a, t1 a, t2 b. Each worker's weight is its agreement with them:
//   w0 (a b a): 1/3;  w1 (a a b): 1;  w2 (b a b): 2/3.
// Weighted votes:
//   t0: a = 1/3 + 1 = 4/3, b = 2/3            -> 2/3, 1/3
//   t1: a = 1 + 2/3 = 5/3, b = 1/3            -> 5/6, 1/6
//   t2: a = 1/3,           b = 1 + 2/3 = 5/3  -> 1/6, 5/6
TEST(WawaTest, WeighsWorkersByAgreementWithMajority) {
  Model m = Fit(BuildMatrix(ThreeByThree()), Options(Method::kWawa));
  EXPECT_THAT(Row(m, 0), Pointwise(DoubleNear(kExact), {2.0 / 3, 1.0 / 3}));
  EXPECT_THAT(Row(m, 1), Pointwise(DoubleNear(kExact), {5.0 / 6, 1.0 / 6}));
  EXPECT_THAT(Row(m, 2), Pointwise(DoubleNear(kExact), {1.0 / 6, 5.0 / 6}));
  EXPECT_THAT(m.label, ElementsAre(kA, kA, kB));
}

TEST(WawaTest, DiscountsWorkerWhoNeverAgreesWithMajority) {
  // w0, w1, w2 agree on t0..t2; w3 always dissents and has weight 0, so on t3,
  // where w3's b faces w0's a, a wins outright.
  AnswerSet s{.tasks = 4, .workers = 4, .classes = 2};
  for (int32_t t = 0; t < 3; ++t) {
    for (int32_t w = 0; w < 3; ++w) s.answers.push_back({t, w, kA});
    s.answers.push_back({t, 3, kB});
  }
  s.answers.push_back({3, 0, kA});
  s.answers.push_back({3, 3, kB});
  Model m = Fit(BuildMatrix(s), Options(Method::kWawa));
  EXPECT_THAT(Row(m, 3), Pointwise(DoubleNear(kExact), {1.0, 0.0}));
  EXPECT_EQ(m.label[3], kA);
  // Majority vote would call it a tie.
  Model mv = Fit(BuildMatrix(s), Options(Method::kMajorityVote));
  EXPECT_THAT(Row(mv, 3), Pointwise(DoubleNear(kExact), {0.5, 0.5}));
}

TEST(WawaTest, DoesNotDependOnTaskOrder) {
  // The majority labels of the tied tasks u and h decide the workers' weights,
  // so they must not depend on the order of the tasks either.
  AggregateOptions o = Options(Method::kWawa, /*prior=*/0.01);
  const Model a = Fit(TiedMassesInTaskOrder(false), o);
  const Model b = Fit(TiedMassesInTaskOrder(true), o);
  for (int32_t t : {0, 1}) {
    EXPECT_THAT(Row(a, t), Pointwise(DoubleNear(kExact), Row(b, t))) << "task " << t;
  }
  EXPECT_THAT(Row(a, 2), Pointwise(DoubleNear(kExact), Row(b, 3)));
  EXPECT_THAT(Row(a, 3), Pointwise(DoubleNear(kExact), Row(b, 2)));
}

// ---------------------------------------------------------------- gold

class GoldTest : public ::testing::TestWithParam<Method> {};

TEST_P(GoldTest, GoldClampsPosterior) {
  // Every worker says a on t0, whose gold is b.
  AnswerSet s = ThreeByThree();
  s.answers.push_back({3, 0, kA});
  s.answers.push_back({3, 1, kA});
  s.answers.push_back({3, 2, kA});
  s.tasks = 4;
  s.gold = {kNoGold, kNoGold, kNoGold, kB};
  Model m = Fit(BuildMatrix(s), Options(GetParam()));
  EXPECT_EQ(m.Posterior(3)[kA], 0.0);
  EXPECT_EQ(m.Posterior(3)[kB], 1.0);
  EXPECT_EQ(m.label[3], kB);
}

TEST_P(GoldTest, GoldTaskWithoutAnswersIsClamped) {
  AnswerSet s = ThreeByThree();
  s.tasks = 4;
  s.gold = {kNoGold, kNoGold, kNoGold, kB};
  Model m = Fit(BuildMatrix(s), Options(GetParam()));
  EXPECT_EQ(m.Posterior(3)[kB], 1.0);
  EXPECT_EQ(m.label[3], kB);
}

INSTANTIATE_TEST_SUITE_P(AllMethods, GoldTest,
                         ::testing::Values(Method::kDawidSkene, Method::kOneCoin,
                                           Method::kMajorityVote, Method::kWawa,
                                           Method::kHierarchical),
                         [](const auto& info) { return std::string(MethodName(info.param)); });

// Forty tasks with true class t % 2. Workers w0 and w1 always answer the wrong
// class; w2 always answers the right one. Without gold the adversarial majority
// wins every task; gold on t0..t9 shows EM which workers to trust.
AnswerSet AdversarialMajority(bool with_gold) {
  AnswerSet s{.tasks = 40, .workers = 3, .classes = 2};
  for (int32_t t = 0; t < 40; ++t) {
    s.answers.push_back({t, 0, 1 - t % 2});
    s.answers.push_back({t, 1, 1 - t % 2});
    s.answers.push_back({t, 2, t % 2});
  }
  if (with_gold) {
    s.gold.assign(40, kNoGold);
    for (int32_t t = 0; t < 10; ++t) s.gold[t] = t % 2;
  }
  return s;
}

double AccuracyOnTasks10To39(const Model& m) {
  int correct = 0;
  for (int32_t t = 10; t < 40; ++t) correct += m.label[t] == t % 2;
  return correct / 30.0;
}

TEST(GoldAnchorTest, GoldTurnsAdversarialMajorityAround) {
  for (Method method : {Method::kDawidSkene, Method::kOneCoin}) {
    for (double prior : {0.0, 1.0}) {
      const Model without = Fit(BuildMatrix(AdversarialMajority(false)), Options(method, prior));
      const Model with = Fit(BuildMatrix(AdversarialMajority(true)), Options(method, prior));
      EXPECT_EQ(AccuracyOnTasks10To39(without), 0.0) << MethodName(method) << " prior " << prior;
      EXPECT_EQ(AccuracyOnTasks10To39(with), 1.0) << MethodName(method) << " prior " << prior;
      // The honest worker's estimated accuracy is the higher one once gold is known.
      EXPECT_GT(Confusion(with, 2, 0, 0), Confusion(with, 0, 0, 0)) << MethodName(method);
    }
  }
}

// ---------------------------------------------------------------- exclusion

// ThreeByThree plus w3, who answers every task against the rest, and t3 which
// only w3 answered.
AnswerSet WithDissenter(bool include_w3) {
  AnswerSet s = ThreeByThree();
  s.workers = 4;
  s.tasks = 4;
  if (include_w3) {
    s.answers.push_back({0, 3, kB});
    s.answers.push_back({1, 3, kA});
    s.answers.push_back({2, 3, kA});
    s.answers.push_back({3, 3, kA});
  }
  return s;
}

class ExclusionTest : public ::testing::TestWithParam<Method> {};

TEST_P(ExclusionTest, ExcludedWorkerAnswersDoNotChangePosteriors) {
  for (double prior : {0.0, 1.0}) {
    AggregateOptions o = Options(GetParam(), prior);
    const Model excluded = Fit(BuildMatrix(WithDissenter(true)), o, {false, false, false, true});
    const Model removed = Fit(BuildMatrix(WithDissenter(false)), o);
    EXPECT_THAT(excluded.posterior, Pointwise(DoubleNear(kExact), removed.posterior))
        << "prior " << prior;
    EXPECT_EQ(excluded.label, removed.label) << "prior " << prior;
    for (int32_t w = 0; w < 3; ++w) {
      std::vector<double> a(excluded.Confusion(w).begin(), excluded.Confusion(w).end());
      std::vector<double> b(removed.Confusion(w).begin(), removed.Confusion(w).end());
      EXPECT_THAT(a, Pointwise(DoubleNear(kExact), b)) << "w" << w << " prior " << prior;
    }
  }
}

// t3 was answered only by the excluded worker: it must weigh in the class
// priors exactly as a task without answers does.
TEST_P(ExclusionTest, ExcludedWorkerAnswersDoNotChangeClassPriors) {
  for (double prior : {0.0, 1.0}) {
    AggregateOptions o = Options(GetParam(), prior);
    const Model excluded = Fit(BuildMatrix(WithDissenter(true)), o, {false, false, false, true});
    const Model removed = Fit(BuildMatrix(WithDissenter(false)), o);
    EXPECT_THAT(excluded.class_prior, Pointwise(DoubleNear(kExact), removed.class_prior))
        << "prior " << prior;
  }
}

TEST_P(ExclusionTest, ExcludedWorkerConfusionIsStillEstimated) {
  // w0..w2 agree on four tasks (two a, two b); excluded w3 always answers the
  // other class. Without a prior its confusion is the swap matrix.
  AnswerSet s{.tasks = 4, .workers = 4, .classes = 2};
  for (int32_t t = 0; t < 4; ++t) {
    for (int32_t w = 0; w < 3; ++w) s.answers.push_back({t, w, t % 2});
    s.answers.push_back({t, 3, 1 - t % 2});
  }
  const Model m = Fit(BuildMatrix(s), Options(GetParam(), /*prior=*/0), {false, false, false, true});
  if (GetParam() == Method::kHierarchical) {
    // hds keeps its population prior (2 pseudo-answers per row, the included
    // workers' (6 + 2) / (6 + 3) = 8/9 on the diagonal with the hyperprior
    // Dirichlet(1 + [l == k])): the swap matrix shrunk towards the
    // population, (0 + 2 * 8/9) / (2 + 2) = 4/9.
    EXPECT_NEAR(Confusion(m, 3, kA, kA), 4.0 / 9, 1e-3);  // posteriors short of one-hot
    EXPECT_NEAR(Confusion(m, 3, kA, kB), 5.0 / 9, 1e-3);
    EXPECT_NEAR(Confusion(m, 3, kB, kB), 4.0 / 9, 1e-3);
    for (int32_t t = 0; t < 4; ++t) EXPECT_EQ(m.label[t], t % 2);
    return;
  }
  EXPECT_NEAR(Confusion(m, 3, kA, kA), 0.0, 1e-9);
  EXPECT_NEAR(Confusion(m, 3, kA, kB), 1.0, 1e-9);
  EXPECT_NEAR(Confusion(m, 3, kB, kA), 1.0, 1e-9);
  EXPECT_NEAR(Confusion(m, 3, kB, kB), 0.0, 1e-9);
  // And the consensus ignored it.
  for (int32_t t = 0; t < 4; ++t) EXPECT_EQ(m.label[t], t % 2);
}

TEST_P(ExclusionTest, ExcludingEveryAnswerOfATaskLeavesAValidPosterior) {
  AnswerSet s{.tasks = 2, .workers = 2, .classes = 2,
              .answers = {{0, 0, kA}, {0, 1, kA}, {1, 1, kB}}};
  const Model m = Fit(BuildMatrix(s), Options(GetParam()), {false, true});
  EXPECT_NEAR(m.Posterior(1)[0] + m.Posterior(1)[1], 1.0, kExact);
  EXPECT_FALSE(std::isnan(m.Posterior(1)[0]));
}

INSTANTIATE_TEST_SUITE_P(AllMethods, ExclusionTest,
                         ::testing::Values(Method::kDawidSkene, Method::kOneCoin,
                                           Method::kMajorityVote, Method::kWawa,
                                           Method::kHierarchical),
                         [](const auto& info) { return std::string(MethodName(info.param)); });

}  // namespace
}  // namespace consensusd::consensus
