#include "consensus/rating.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "absl/strings/str_cat.h"

namespace consensusd::consensus {
namespace {

// ICC(1) and the pooled quadratic-weighted kappa of the raw ratings.
void Agreement(const Ratings& r, RatingModel* m) {
  const int32_t tasks = r.num_tasks;
  std::vector<double> sum(tasks, 0.0), sum2(tasks, 0.0);
  std::vector<int64_t> n(tasks, 0);
  double total = 0, total2 = 0;
  for (int64_t i = 0; i < r.size(); ++i) {
    sum[r.task[i]] += r.value[i];
    sum2[r.task[i]] += r.value[i] * r.value[i];
    ++n[r.task[i]];
    total += r.value[i];
    total2 += r.value[i] * r.value[i];
  }
  // One-way ANOVA over tasks with at least one rating.
  const double N = static_cast<double>(r.size());
  const double grand = N > 0 ? total / N : 0;
  double ssb = 0, ssw = 0, sum_n2 = 0, groups = 0;
  // Pairs within tasks: sum over pairs of (y_i - y_j)^2 = n sum2 - sum^2.
  double pair_sq = 0, pairs = 0;
  for (int32_t t = 0; t < tasks; ++t) {
    if (n[t] == 0) continue;
    const double k = static_cast<double>(n[t]), mean = sum[t] / k;
    ssb += k * (mean - grand) * (mean - grand);
    ssw += sum2[t] - k * mean * mean;
    sum_n2 += k * k;
    groups += 1;
    pair_sq += k * sum2[t] - sum[t] * sum[t];
    pairs += k * (k - 1) / 2;
  }
  m->icc = 0;
  if (groups > 1 && N > groups) {
    const double msb = ssb / (groups - 1), msw = ssw / (N - groups);
    const double k0 = (N - sum_n2 / N) / (groups - 1);
    const double denominator = msb + (k0 - 1) * msw;
    m->icc = denominator > 0 ? (msb - msw) / denominator : 0;
  }
  // Expected squared difference of two independent ratings: 2 var.
  const double var = N > 0 ? total2 / N - grand * grand : 0;
  m->weighted_kappa = pairs > 0 && var > 0 ? 1 - (pair_sq / pairs) / (2 * var) : 0;
}

}  // namespace

void Ratings::Add(int32_t t, int32_t r, double y) {
  task.push_back(t);
  rater.push_back(r);
  value.push_back(y);
  num_tasks = std::max(num_tasks, t + 1);
  num_raters = std::max(num_raters, r + 1);
}

absl::StatusOr<RatingModel> FitRatings(const Ratings& r, const RatingOptions& o) {
  if (!(o.bias_prior_sd > 0) || !(o.noise_prior_sd > 0) || !(o.precision_shape > 1)) {
    return absl::InvalidArgumentError("rating priors: sds must be > 0 and the precision shape > 1");
  }
  if (o.max_iter < 0) return absl::InvalidArgumentError("max_iter must be >= 0");
  if (!(r.scale_min < r.scale_max)) return absl::InvalidArgumentError("the scale's minimum must be below its maximum");
  for (int64_t i = 0; i < r.size(); ++i) {
    if (!std::isfinite(r.value[i]) || r.value[i] < r.scale_min || r.value[i] > r.scale_max) {
      return absl::InvalidArgumentError(absl::StrCat("rating ", r.value[i], " is outside the scale ",
                                                     r.scale_min, "..", r.scale_max));
    }
  }
  const int32_t tasks = r.num_tasks, raters = r.num_raters;
  RatingModel m;
  // Empirical Bayes prior of mu: the ratings' mean and standard deviation.
  double total = 0, total2 = 0;
  for (double y : r.value) {
    total += y;
    total2 += y * y;
  }
  const double N = std::max<double>(1, static_cast<double>(r.size()));
  const double prior_mean = r.size() > 0 ? total / N : 0.5 * (r.scale_min + r.scale_max);
  const double spread = 0.25 * (r.scale_max - r.scale_min);  // when the ratings say nothing
  const double prior_var = std::max(total2 / N - prior_mean * prior_mean, 1e-3 * spread * spread);
  const double inv_bias_var = 1 / (o.bias_prior_sd * o.bias_prior_sd);
  const double rate = o.precision_shape * o.noise_prior_sd * o.noise_prior_sd;  // Gamma rate
  std::vector<double> mu(tasks, prior_mean), b(raters, 0.0), tau(raters, 1 / (o.noise_prior_sd * o.noise_prior_sd));
  m.task_ratings.assign(tasks, 0);
  m.rater_ratings.assign(raters, 0);
  for (int64_t i = 0; i < r.size(); ++i) {
    ++m.task_ratings[r.task[i]];
    ++m.rater_ratings[r.rater[i]];
  }
  std::vector<double> num(std::max(tasks, raters)), den(std::max(tasks, raters));
  auto log_posterior = [&] {
    double lp = 0;
    for (int64_t i = 0; i < r.size(); ++i) {
      const double e = r.value[i] - mu[r.task[i]] - b[r.rater[i]];
      lp += 0.5 * std::log(tau[r.rater[i]]) - 0.5 * tau[r.rater[i]] * e * e;
    }
    for (int32_t t = 0; t < tasks; ++t) lp -= 0.5 * (mu[t] - prior_mean) * (mu[t] - prior_mean) / prior_var;
    for (int32_t w = 0; w < raters; ++w) {
      lp -= 0.5 * inv_bias_var * b[w] * b[w];
      lp += (o.precision_shape - 1) * std::log(tau[w]) - rate * tau[w];
    }
    return lp;
  };
  double previous = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= o.max_iter; ++it) {
    // mu_t = (m / s^2 + sum tau_r (y - b_r)) / (1 / s^2 + sum tau_r)
    std::fill(num.begin(), num.begin() + tasks, prior_mean / prior_var);
    std::fill(den.begin(), den.begin() + tasks, 1 / prior_var);
    for (int64_t i = 0; i < r.size(); ++i) {
      AddRatingTerm(r.value[i], b[r.rater[i]], tau[r.rater[i]], 1.0, &num[r.task[i]], &den[r.task[i]]);
    }
    for (int32_t t = 0; t < tasks; ++t) mu[t] = num[t] / den[t];
    // b_r = tau_r sum (y - mu_t) / (tau_r n_r + 1 / bias_sd^2)
    std::fill(num.begin(), num.begin() + raters, 0.0);
    for (int64_t i = 0; i < r.size(); ++i) num[r.rater[i]] += r.value[i] - mu[r.task[i]];
    for (int32_t w = 0; w < raters; ++w) {
      b[w] = tau[w] * num[w] / (tau[w] * double(m.rater_ratings[w]) + inv_bias_var);
    }
    // tau_r = (n_r / 2 + shape - 1) / (sum e^2 / 2 + rate): the mode of its Gamma posterior.
    std::fill(num.begin(), num.begin() + raters, 0.0);
    for (int64_t i = 0; i < r.size(); ++i) {
      const double e = r.value[i] - mu[r.task[i]] - b[r.rater[i]];
      num[r.rater[i]] += e * e;
    }
    for (int32_t w = 0; w < raters; ++w) {
      tau[w] = (0.5 * double(m.rater_ratings[w]) + o.precision_shape - 1) / (0.5 * num[w] + rate);
    }
    const double objective = log_posterior();
    m.objective_history.push_back(objective);
    m.iterations = it;
    if ((objective - previous) / N < o.tol) {
      m.converged = true;
      break;
    }
    previous = objective;
  }
  m.consensus.resize(tasks);
  m.consensus_sd.resize(tasks);
  std::fill(den.begin(), den.begin() + tasks, 1 / prior_var);
  for (int64_t i = 0; i < r.size(); ++i) den[r.task[i]] += tau[r.rater[i]];
  for (int32_t t = 0; t < tasks; ++t) {
    m.consensus[t] = std::clamp(mu[t], r.scale_min, r.scale_max);
    m.consensus_sd[t] = 1 / std::sqrt(den[t]);
  }
  m.bias = b;
  m.precision = tau;
  m.prior_mean = prior_mean;
  m.prior_var = prior_var;
  m.noise_sd.resize(raters);
  for (int32_t w = 0; w < raters; ++w) m.noise_sd[w] = 1 / std::sqrt(tau[w]);
  Agreement(r, &m);
  return m;
}

RatingSynthetic SynthesizeRatings(const RatingSyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1p-53; };
  auto normal = [&] {
    const double u = 1.0 - uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * uniform());
  };
  const int32_t lo = o.scale_min, hi = std::max(o.scale_min + 1, o.scale_max);
  const int32_t levels = hi - lo + 1;
  RatingSynthetic d;
  d.ratings.scale_min = lo;
  d.ratings.scale_max = hi;
  const int32_t raters = std::max(1, o.raters);
  d.true_bias.resize(raters);
  d.true_noise.resize(raters);
  d.careless.resize(raters);
  for (int32_t w = 0; w < raters; ++w) {
    d.careless[w] = uniform() < o.careless_share;
    d.true_bias[w] = d.careless[w] ? 0.0 : 0.7 * normal();
    d.true_noise[w] = 0.3 + 0.9 * uniform();
  }
  const int32_t per_task = std::clamp(o.ratings_per_task, 1, raters);
  std::vector<int32_t> chosen;
  for (int32_t t = 0; t < o.tasks; ++t) {
    const double truth = lo + static_cast<int32_t>(uniform() * levels);
    d.true_rating.push_back(truth);
    chosen.clear();
    while (static_cast<int32_t>(chosen.size()) < per_task) {
      const int32_t w = static_cast<int32_t>(uniform() * raters);
      if (std::find(chosen.begin(), chosen.end(), w) == chosen.end()) chosen.push_back(w);
    }
    for (int32_t w : chosen) {
      const double y = d.careless[w] ? lo + static_cast<int32_t>(uniform() * levels)
                                     : std::round(truth + d.true_bias[w] + d.true_noise[w] * normal());
      d.ratings.Add(t, w, std::clamp<double>(y, lo, hi));
    }
  }
  d.ratings.num_tasks = o.tasks;
  d.ratings.num_raters = raters;
  return d;
}

}  // namespace consensusd::consensus
