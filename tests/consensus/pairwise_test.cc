// FitPairwise on hand-made votes and on SynthesizePairwise data with known
// scores, careless and position-biased raters.

#include "consensus/pairwise.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "consensus/pairwise_synthetic.h"
#include "gtest/gtest.h"

namespace consensusd::consensus {
namespace {

// Spearman's rank correlation (no ties in continuous scores).
double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& x) {
    std::vector<int> idx(x.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int i, int j) { return x[i] < x[j]; });
    std::vector<double> r(x.size());
    for (size_t i = 0; i < idx.size(); ++i) r[idx[i]] = static_cast<double>(i);
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double d2 = 0;
  for (size_t i = 0; i < ra.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1 - 6 * d2 / (n * (n * n - 1));
}

PairwiseOptions Fast() {
  PairwiseOptions o;
  o.bootstrap = 0;
  return o;
}

TEST(PairwiseTest, ParsesOutcomes) {
  EXPECT_EQ(*ParseOutcome("left"), kLeft);
  EXPECT_EQ(*ParseOutcome("RIGHT"), kRight);
  EXPECT_EQ(*ParseOutcome("tie"), kTie);
  EXPECT_FALSE(ParseOutcome("both").ok());
}

TEST(PairwiseTest, ItemThatAlwaysWinsRanksFirst) {
  Comparisons c;
  // Item 0 beats 1 and 2; 1 beats 2; every pair five times, by five raters.
  for (int rep = 0; rep < 5; ++rep) {
    c.AddVote(c.AddTask(0, 1), rep, 0, kLeft);
    c.AddVote(c.AddTask(2, 0), rep, 2, kRight);
    c.AddVote(c.AddTask(1, 2), rep, 1, kLeft);
  }
  absl::StatusOr<PairwiseModel> m = FitPairwise(c, Fast());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->score[0], m->score[1]);
  EXPECT_GT(m->score[1], m->score[2]);
  EXPECT_EQ(m->order, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(m->consensus[1], kRight);  // task 1 showed 2 on the left; 0 won
}

TEST(PairwiseTest, SwappedScreenIsReadInItsOwnCoordinates) {
  Comparisons c;
  const int32_t t = c.AddTask(0, 1);
  // Three raters saw 1 on the left and preferred it: "left" on their screen.
  for (int r = 0; r < 3; ++r) c.AddVote(t, r, /*shown_left=*/1, kLeft);
  absl::StatusOr<PairwiseModel> m = FitPairwise(c, Fast());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->consensus[t], kRight);  // in the task's coordinates: item 1 is right
  EXPECT_GT(m->score[1], m->score[0]);
}

TEST(PairwiseTest, RejectsSelfComparisonAndBadOptions) {
  Comparisons c;
  c.AddVote(c.AddTask(0, 1), 0, 0, kLeft);
  c.left[0] = 1;
  EXPECT_FALSE(FitPairwise(c, Fast()).ok());
  Comparisons ok;
  ok.AddVote(ok.AddTask(0, 1), 0, 0, kLeft);
  PairwiseOptions bad = Fast();
  bad.interval = 1.5;
  EXPECT_FALSE(FitPairwise(ok, bad).ok());
}

TEST(PairwiseTest, ObjectiveNeverFalls) {
  PairwiseSyntheticOptions so;
  so.tasks = 3000;
  so.raters = 30;
  const PairwiseSynthetic d = SynthesizePairwise(so);
  absl::StatusOr<PairwiseModel> m = FitPairwise(d.comparisons, Fast());
  ASSERT_TRUE(m.ok());
  ASSERT_GE(m->objective_history.size(), 2u);
  for (size_t i = 1; i < m->objective_history.size(); ++i) {
    EXPECT_GE(m->objective_history[i], m->objective_history[i - 1] - 1e-9 * std::fabs(m->objective_history[i]))
        << "iteration " << i;
  }
  EXPECT_TRUE(m->converged);
}

TEST(PairwiseTest, RecoversScoresAndFindsCarelessRaters) {
  PairwiseSyntheticOptions so;  // 50 items, 100 raters (20 careless), 20k votes
  const PairwiseSynthetic d = SynthesizePairwise(so);
  absl::StatusOr<PairwiseModel> m = FitPairwise(d.comparisons, Fast());
  ASSERT_TRUE(m.ok());
  const double rho = Spearman(m->score, d.true_score);
  EXPECT_GE(rho, 0.95);
  int careless = 0, found = 0, careful = 0, false_flags = 0;
  for (int32_t r = 0; r < d.comparisons.num_raters; ++r) {
    if (d.rater_kind[r] == RaterKind::kCareless) {
      ++careless;
      found += m->careless[r];
    } else {
      ++careful;
      false_flags += m->careless[r];
    }
  }
  std::printf("spearman %.4f; careless raters found %d of %d; false flags %d of %d\n", rho, found,
              careless, false_flags, careful);
  EXPECT_GE(found, 0.8 * careless);
  EXPECT_LE(false_flags, 0.05 * careful);
}

TEST(PairwiseTest, PositionBiasHasTheSignOfTheRatersBias) {
  PairwiseSyntheticOptions so;
  so.position_biased_share = 0.5;
  const PairwiseSynthetic d = SynthesizePairwise(so);
  absl::StatusOr<PairwiseModel> m = FitPairwise(d.comparisons, Fast());
  ASSERT_TRUE(m.ok());
  int biased = 0, right_sign = 0;
  for (int32_t r = 0; r < d.comparisons.num_raters; ++r) {
    if (d.rater_kind[r] != RaterKind::kPositionBiased) continue;
    ++biased;
    right_sign += (m->position_bias[r] > 0) == (d.rater_bias[r] > 0);
  }
  ASSERT_GT(biased, 10);
  EXPECT_GE(right_sign, biased - 1);
}

TEST(PairwiseTest, IntervalsCoverTheTrueScores) {
  // Over repeated draws, nominal 95% intervals hold the true score (both
  // centred: scores are identified up to a shift) for at least 90% of items.
  int covered = 0, total = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    PairwiseSyntheticOptions so;
    so.seed = seed;
    so.tasks = 5000;
    const PairwiseSynthetic d = SynthesizePairwise(so);
    PairwiseOptions o;
    o.bootstrap = 100;
    absl::StatusOr<PairwiseModel> m = FitPairwise(d.comparisons, o);
    ASSERT_TRUE(m.ok());
    const double mean = std::accumulate(d.true_score.begin(), d.true_score.end(), 0.0) / d.true_score.size();
    for (size_t i = 0; i < d.true_score.size(); ++i) {
      const double truth = d.true_score[i] - mean;
      covered += m->score_low[i] <= truth && truth <= m->score_high[i];
      ++total;
    }
  }
  std::printf("intervals cover %d of %d true scores\n", covered, total);
  EXPECT_GE(covered, 0.9 * total);
}

TEST(PairwiseTest, SameResultForAnyThreadCount) {
  PairwiseSyntheticOptions so;
  so.tasks = 2000;
  const PairwiseSynthetic d = SynthesizePairwise(so);
  PairwiseOptions o;
  o.bootstrap = 20;
  o.threads = 1;
  absl::StatusOr<PairwiseModel> one = FitPairwise(d.comparisons, o);
  o.threads = 3;
  absl::StatusOr<PairwiseModel> three = FitPairwise(d.comparisons, o);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one->score, three->score);
  EXPECT_EQ(one->score_low, three->score_low);
  EXPECT_EQ(one->score_high, three->score_high);
  EXPECT_EQ(one->reliability, three->reliability);
  EXPECT_EQ(one->position_bias, three->position_bias);
}

}  // namespace
}  // namespace consensusd::consensus
