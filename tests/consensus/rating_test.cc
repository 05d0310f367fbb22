// FitRatings on hand-made ratings and on SynthesizeRatings data with known
// true ratings, biased, noisy and careless raters.

#include "consensus/rating.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace consensusd::consensus {
namespace {

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(RatingTest, HarshRaterIsReadAsBiasNotAsDisagreement) {
  // Rater 1 rates every task two points below rater 0 and rater 2.
  Ratings r;
  for (int t = 0; t < 40; ++t) {
    const double truth = 2 + t % 4;
    r.Add(t, 0, truth);
    r.Add(t, 1, truth - 2 < 1 ? 1 : truth - 2);
    r.Add(t, 2, truth);
  }
  absl::StatusOr<RatingModel> m = FitRatings(r, RatingOptions{});
  ASSERT_TRUE(m.ok()) << m.status();
  // Biases are relative to the typical rater (their prior centres them on 0):
  // rater 1 is about 1.75 points harsher than the other two (less at the
  // bottom of the scale, where its ratings are clamped to 1).
  EXPECT_NEAR(m->bias[1] - 0.5 * (m->bias[0] + m->bias[2]), -1.75, 0.3);
  EXPECT_NEAR(m->bias[0], m->bias[2], 1e-6);
  // The consensus keeps the tasks' order and spacing (task 0, where rater 1 is
  // clamped at 1, is pulled up by a quarter point).
  for (int t = 1; t < 4; ++t) EXPECT_NEAR(m->consensus[t] - m->consensus[0], t, 0.35) << t;
}

TEST(RatingTest, RejectsRatingsOffTheScale) {
  Ratings r;
  r.Add(0, 0, 9);
  EXPECT_FALSE(FitRatings(r, RatingOptions{}).ok());
  Ratings nan;
  nan.Add(0, 0, std::nan(""));
  EXPECT_FALSE(FitRatings(nan, RatingOptions{}).ok());
}

TEST(RatingTest, LogPosteriorNeverFalls) {
  RatingSyntheticOptions so;
  so.tasks = 1000;
  const RatingSynthetic d = SynthesizeRatings(so);
  absl::StatusOr<RatingModel> m = FitRatings(d.ratings, RatingOptions{});
  ASSERT_TRUE(m.ok());
  for (size_t i = 1; i < m->objective_history.size(); ++i) {
    EXPECT_GE(m->objective_history[i], m->objective_history[i - 1] - 1e-9 * std::fabs(m->objective_history[i]));
  }
  EXPECT_TRUE(m->converged);
}

TEST(RatingTest, ConsensusBeatsMeanAndMedianAndBiasesMatchTheTruth) {
  const RatingSynthetic d = SynthesizeRatings(RatingSyntheticOptions{});
  absl::StatusOr<RatingModel> m = FitRatings(d.ratings, RatingOptions{});
  ASSERT_TRUE(m.ok());
  const Ratings& r = d.ratings;
  std::vector<std::vector<double>> per_task(r.num_tasks);
  for (int64_t i = 0; i < r.size(); ++i) per_task[r.task[i]].push_back(r.value[i]);
  double ours = 0, mean = 0, median = 0;
  for (int32_t t = 0; t < r.num_tasks; ++t) {
    std::vector<double>& v = per_task[t];
    std::sort(v.begin(), v.end());
    double avg = 0;
    for (double x : v) avg += x / v.size();
    const double med = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    ours += std::fabs(m->consensus[t] - d.true_rating[t]);
    mean += std::fabs(avg - d.true_rating[t]);
    median += std::fabs(med - d.true_rating[t]);
  }
  std::vector<double> estimated, truth;
  for (int32_t w = 0; w < r.num_raters; ++w) {
    if (m->rater_ratings[w] < 50) continue;
    estimated.push_back(m->bias[w]);
    truth.push_back(d.true_bias[w]);
  }
  const double correlation = Pearson(estimated, truth);
  std::printf("MAE: consensus %.4f, mean %.4f, median %.4f; bias correlation %.4f over %zu raters; "
              "ICC %.3f, weighted kappa %.3f\n",
              ours / r.num_tasks, mean / r.num_tasks, median / r.num_tasks, correlation,
              estimated.size(), m->icc, m->weighted_kappa);
  EXPECT_LT(ours, mean);
  EXPECT_LT(ours, median);
  EXPECT_GE(correlation, 0.95);
  EXPECT_GT(estimated.size(), 50u);
}

TEST(RatingTest, AgreementIsOneForIdenticalRatersAndNearZeroForRandomOnes) {
  Ratings same;
  for (int t = 0; t < 30; ++t) {
    for (int w = 0; w < 3; ++w) same.Add(t, w, 1 + t % 7);
  }
  absl::StatusOr<RatingModel> m = FitRatings(same, RatingOptions{});
  ASSERT_TRUE(m.ok());
  EXPECT_NEAR(m->icc, 1.0, 1e-9);
  EXPECT_NEAR(m->weighted_kappa, 1.0, 1e-9);
  RatingSyntheticOptions so;
  so.careless_share = 1.0;
  const RatingSynthetic random = SynthesizeRatings(so);
  absl::StatusOr<RatingModel> n = FitRatings(random.ratings, RatingOptions{});
  ASSERT_TRUE(n.ok());
  EXPECT_LT(std::fabs(n->icc), 0.05);
  EXPECT_LT(std::fabs(n->weighted_kappa), 0.05);
}

}  // namespace
}  // namespace consensusd::consensus
