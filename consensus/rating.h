// Ratings on a numeric scale (for example helpfulness 1..7): a consensus
// rating per task with its uncertainty, and each rater's bias (offset) and
// noise, fitted jointly.
//
//   Ratings r;  // flat arrays of interned ids, one row per rating
//   absl::StatusOr<RatingModel> m = FitRatings(r, RatingOptions{});
//   m->consensus[task], m->consensus_sd[task], m->bias[rater], m->noise_sd[rater]
//
// The model (a Gaussian rater model with conjugate priors, as in the
// additive-bias models of peer grading, Piech et al. 2013): rating y of task t
// by rater r is y = mu_t + b_r + e, e ~ N(0, 1 / tau_r). Priors: mu_t ~
// N(m, s^2) with m and s the mean and standard deviation of all ratings (an
// empirical Bayes prior: a task with one rating is pulled towards the
// typical task), b_r ~ N(0, bias_prior_sd^2), tau_r ~ Gamma(precision_shape,
// precision_shape * noise_prior_sd^2) (a prior noise of noise_prior_sd).
// Fitted by exact coordinate ascent on the log-posterior (each block's update
// is its exact maximiser given the others), which never falls. A careless
// rater is one with a large noise: their ratings count for little.
#ifndef CONSENSUSD_CONSENSUS_RATING_H_
#define CONSENSUSD_CONSENSUS_RATING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace consensusd::consensus {

struct Ratings {
  int32_t num_tasks = 0;
  int32_t num_raters = 0;
  double scale_min = 1, scale_max = 7;  // the declared scale
  std::vector<int32_t> task, rater;     // per rating
  std::vector<double> value;

  int64_t size() const { return static_cast<int64_t>(value.size()); }
  void Add(int32_t t, int32_t r, double y);
};

struct RatingOptions {
  double bias_prior_sd = 1.0;    // in scale points
  double noise_prior_sd = 1.0;   // in scale points
  double precision_shape = 2.0;  // Gamma shape: the prior's weight, in pseudo-ratings x 2
  double tol = 1e-9;             // stops when the log-posterior per rating gains less
  int max_iter = 500;
};

struct RatingModel {
  // Per task: the consensus (mu, clamped to the scale), its posterior
  // standard deviation, and the number of ratings.
  std::vector<double> consensus, consensus_sd;
  std::vector<int64_t> task_ratings;
  // Per rater: bias b (positive: rates higher than the consensus), noise
  // standard deviation 1/sqrt(tau), and the number of ratings.
  std::vector<double> bias, noise_sd;
  std::vector<int64_t> rater_ratings;
  // Agreement of the raw ratings: ICC(1) (one-way random effects, Shrout &
  // Fleiss 1979; unbalanced tasks use the average group size k0), and the
  // quadratic-weighted kappa over every pair of ratings of a task (Cohen 1968,
  // pooled over pairs: 1 - observed / expected squared difference).
  // The fit's prior of mu (mean and variance) and each rater's precision
  // tau = 1 / noise_sd^2: with bias, what a task's posterior needs
  // (AddRatingTerm).
  double prior_mean = 0, prior_var = 1;
  std::vector<double> precision;
  double icc = 0, weighted_kappa = 0;
  std::vector<double> objective_history;
  int iterations = 0;
  bool converged = false;
};

// A task's posterior of mu given the raters (conjugate Gaussian): precision
// 1 / s^2 + sum_r tau_r, mean (m / s^2 + sum_r tau_r (y_r - b_r)) / precision.
// Adds one rating's terms (sign -1 removes them) to the weighted sum and the precision.
inline void AddRatingTerm(double y, double bias, double tau, double sign, double* weighted,
                          double* precision) {
  *weighted += sign * (tau * (y - bias));
  *precision += sign * tau;
}

// Errors: options out of range, a rating outside the scale or not finite.
absl::StatusOr<RatingModel> FitRatings(const Ratings& ratings, const RatingOptions& options);

// Synthetic ratings with known truth: integer true ratings uniform on the
// scale; raters with a bias ~ N(0, 0.7^2) and a noise sd uniform in
// [0.3, 1.2], careless_share of them rating uniformly at random; each
// rating rounded and clamped to the scale. Same options, same data.
struct RatingSyntheticOptions {
  int32_t tasks = 5000;
  int32_t raters = 100;
  int32_t ratings_per_task = 3;
  int32_t scale_min = 1, scale_max = 7;
  double careless_share = 0.1;
  uint64_t seed = 1;
};
struct RatingSynthetic {
  Ratings ratings;
  std::vector<double> true_rating;  // per task
  std::vector<double> true_bias;    // per rater (0 for careless raters)
  std::vector<double> true_noise;   // per rater
  std::vector<uint8_t> careless;    // per rater
};
RatingSynthetic SynthesizeRatings(const RatingSyntheticOptions& options);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_RATING_H_
