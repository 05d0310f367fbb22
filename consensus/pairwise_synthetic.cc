#include "consensus/pairwise_synthetic.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace consensusd::consensus {
namespace {

using Rng = std::mt19937_64;

double Uniform(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

// Box-Muller.
double Normal(Rng& rng) {
  const double u = 1.0 - Uniform(rng);  // (0, 1]
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * Uniform(rng));
}

int32_t Below(Rng& rng, int32_t n) { return static_cast<int32_t>(Uniform(rng) * n); }

// Draws an outcome from Davidson's model at difference d (left minus right).
Outcome DrawDavidson(Rng& rng, double d, double nu) {
  const double a = std::exp(0.5 * d), b = std::exp(-0.5 * d);
  const double u = Uniform(rng) * (a + b + nu);
  if (u < a) return kLeft;
  if (u < a + b) return kRight;
  return kTie;
}

}  // namespace

PairwiseSynthetic SynthesizePairwise(const PairwiseSyntheticOptions& o) {
  Rng rng(o.seed);
  PairwiseSynthetic d;
  const int32_t items = std::max(2, o.items);
  const int32_t raters = std::max(1, o.raters);
  d.true_score.resize(items);
  for (double& s : d.true_score) s = Normal(rng);
  d.rater_kind.resize(raters);
  d.rater_bias.assign(raters, 0.0);
  // Exactly round(share x raters) careless raters, at random positions.
  std::vector<int32_t> order(raters);
  for (int32_t r = 0; r < raters; ++r) order[r] = r;
  for (int32_t r = raters - 1; r > 0; --r) std::swap(order[r], order[Below(rng, r + 1)]);
  const int32_t careless = static_cast<int32_t>(std::lround(o.careless_share * raters));
  const int32_t biased = static_cast<int32_t>(std::lround(o.position_biased_share * (raters - careless)));
  for (int32_t i = 0; i < raters; ++i) {
    const int32_t r = order[i];
    if (i < careless) {
      d.rater_kind[r] = RaterKind::kCareless;
    } else if (i < careless + biased) {
      d.rater_kind[r] = RaterKind::kPositionBiased;
      const double magnitude = 0.5 + Uniform(rng);
      d.rater_bias[r] = Uniform(rng) < 0.8 ? magnitude : -magnitude;  // most favour the left
    } else {
      d.rater_kind[r] = RaterKind::kCareful;
    }
  }
  const int32_t per_task = std::clamp(o.votes_per_task, 1, raters);
  std::vector<int32_t> chosen;
  for (int32_t t = 0; t < o.tasks; ++t) {
    const int32_t a = Below(rng, items);
    int32_t b = Below(rng, items - 1);
    if (b >= a) ++b;
    const int32_t task = d.comparisons.AddTask(a, b);
    const double diff = d.true_score[a] - d.true_score[b];
    const double h = 0.5 * diff;
    d.true_outcome.push_back(o.tie_nu > std::exp(std::fabs(h)) ? kTie : (diff >= 0 ? kLeft : kRight));
    chosen.clear();
    while (static_cast<int32_t>(chosen.size()) < per_task) {
      const int32_t r = Below(rng, raters);
      if (std::find(chosen.begin(), chosen.end(), r) == chosen.end()) chosen.push_back(r);
    }
    for (int32_t r : chosen) {
      const bool swap = Uniform(rng) < 0.5;
      const int32_t shown_left = swap ? b : a;
      const double shown_diff = swap ? -diff : diff;
      Outcome y;
      if (d.rater_kind[r] == RaterKind::kCareless) {
        y = DrawDavidson(rng, 0.0, o.tie_nu);
      } else {
        y = DrawDavidson(rng, shown_diff + d.rater_bias[r], o.tie_nu);
      }
      d.comparisons.AddVote(task, r, shown_left, y);
    }
  }
  d.comparisons.num_items = items;
  d.comparisons.num_raters = raters;
  return d;
}

}  // namespace consensusd::consensus
