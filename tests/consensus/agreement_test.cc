#include "consensus/agreement.h"

#include <cmath>

#include "gtest/gtest.h"

namespace consensusd::consensus {
namespace {

AnswerMatrix Matrix(int32_t tasks, int32_t workers, int32_t classes,
                    const std::vector<std::array<int32_t, 3>>& rows) {
  AnswerMatrixBuilder b;
  for (const auto& r : rows) b.Add(r[0], r[1], r[2]);
  return b.Build(tasks, workers, classes, DuplicatePolicy::kKeepLast);
}

TEST(KrippendorffAlpha, PerfectAgreementIsOne) {
  const AnswerMatrix m = Matrix(3, 2, 2, {{0, 0, 0}, {0, 1, 0}, {1, 0, 1}, {1, 1, 1}, {2, 0, 0}, {2, 1, 0}});
  EXPECT_DOUBLE_EQ(KrippendorffAlpha(m), 1.0);
}

TEST(KrippendorffAlpha, MatchesHandComputedValue) {
  // Tasks: {a,a}, {a,b}, {b,b}, {a,a,b}.
  // Disagreement: task {a,b}: (4 - 2)/1 = 2; task {a,a,b}: (9 - 5)/2 = 2; total 4.
  // n = 9, n_a = 5, n_b = 4: expected = 81 - 25 - 16 = 40.
  // alpha = 1 - 8 * 4 / 40 = 0.2.
  const AnswerMatrix m = Matrix(4, 3, 2,
                                {{0, 0, 0}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}, {2, 0, 1}, {2, 1, 1},
                                 {3, 0, 0}, {3, 1, 0}, {3, 2, 1}});
  EXPECT_NEAR(KrippendorffAlpha(m), 0.2, 1e-12);
}

TEST(KrippendorffAlpha, SystematicDisagreementIsNegative) {
  const AnswerMatrix m = Matrix(2, 2, 2, {{0, 0, 0}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}});
  EXPECT_LT(KrippendorffAlpha(m), 0.0);
}

TEST(KrippendorffAlpha, IgnoresTasksWithOneAnswerAndExcludedWorkers) {
  const AnswerMatrix m = Matrix(3, 3, 2, {{0, 0, 0}, {0, 1, 0}, {1, 0, 1}, {1, 1, 1}, {2, 0, 1}, {0, 2, 1}});
  EXPECT_LT(KrippendorffAlpha(m), 1.0);
  EXPECT_DOUBLE_EQ(KrippendorffAlpha(m, {false, false, true}), 1.0);
}

TEST(KrippendorffAlpha, UndefinedWithoutPairsOrVariation) {
  EXPECT_TRUE(std::isnan(KrippendorffAlpha(Matrix(2, 1, 2, {{0, 0, 0}, {1, 0, 1}}))));
  EXPECT_TRUE(std::isnan(KrippendorffAlpha(Matrix(1, 2, 2, {{0, 0, 1}, {0, 1, 1}}))));
}

}  // namespace
}  // namespace consensusd::consensus
