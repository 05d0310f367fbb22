#include "consensus/pairwise.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "consensus/aggregate.h"

namespace consensusd::consensus {
namespace {

// Newton steps on the scores per M-step (one: more cost a pass each and do
// not cut the iterations EM needs); the E-step that follows re-weights
// the outcomes, so the scores need not be exact before it.
constexpr int kScoreSteps = 1;
// EM iterations of a bootstrap replicate, started from the full fit.
constexpr int kReplicateIterations = 10;
constexpr double kReplicateTol = 1e-6;


// SplitMix64 (Steele et al. 2014): a well-mixed hash of a 64-bit counter.
uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A Poisson(1) draw determined by (seed, replicate, task): inverse CDF.
double PoissonWeight(uint64_t seed, int replicate, int32_t task) {
  static const auto kCdf = [] {
    std::array<double, 12> cdf{};
    double p = std::exp(-1.0), acc = 0;
    for (int k = 0; k < 12; ++k) {
      acc += p;
      cdf[k] = acc;
      p /= (k + 1);
    }
    return cdf;
  }();
  const uint64_t h = SplitMix(SplitMix(seed ^ (uint64_t(replicate) << 32)) ^ uint64_t(uint32_t(task)));
  const double u = static_cast<double>(h >> 11) * 0x1p-53;
  int k = 0;
  while (k < 11 && u >= kCdf[k]) ++k;
  return k;
}

// log of a probability that may have underflowed to 0.
inline double SafeLog(double p) { return std::log(std::max(p, std::numeric_limits<double>::min())); }

class PairwiseFit {
 public:
  PairwiseFit(const Comparisons& c, const PairwiseOptions& o) : c_(c), o_(o) {
    weight_.assign(c.num_tasks(), 1.0);
    score_.assign(c.num_items, 0.0);
    bias_.assign(c.num_raters, 0.0);
    careful_.assign(c.num_votes(), 0.0);
    // Start: everyone careful with the prior's odds, careless answers
    // uniform; nu from the share of ties (P(tie) at d = 0 is nu / (2 + nu)).
    const double eta = o.careful_pseudo_votes / (o.careful_pseudo_votes + o.careless_pseudo_votes);
    log_eta_.assign(c.num_raters, std::log(eta));
    log_not_eta_.assign(c.num_raters, std::log1p(-eta));
    log_xi_.assign(static_cast<size_t>(c.num_raters) * kOutcomes, -std::log(3.0));
    eta_.assign(c.num_raters, eta);
    xi_.assign(static_cast<size_t>(c.num_raters) * kOutcomes, 1.0 / 3);
    int64_t ties = 0;
    for (Outcome y : c.outcome) ties += y == kTie;
    log_nu_ = StartLogTieNu(ties, c.num_votes());
  }

  void SetWeights(std::vector<double> weight) { weight_ = std::move(weight); }

  // EM from the current parameters. `model`, if given, gets the objective
  // after each E-step (the log-posterior up to a constant).
  void Run(int max_iter, double tol, PairwiseModel* model) {
    double previous = -std::numeric_limits<double>::infinity();
    const double scale = 1.0 / std::max<double>(1.0, double(c_.num_votes()));
    for (int it = 1; it <= max_iter; ++it) {
      const double objective = EStep() + LogPrior();
      if (model != nullptr) {
        model->objective_history.push_back(objective);
        model->iterations = it;
      }
      UpdateRaters();
      UpdateScores();
      if ((objective - previous) * scale < tol) {
        if (model != nullptr) model->converged = true;
        break;
      }
      previous = objective;
    }
  }

  const std::vector<double>& score() const { return score_; }
  const std::vector<double>& bias() const { return bias_; }
  double log_nu() const { return log_nu_; }
  double reliability(int32_t r) const { return std::exp(log_eta_[r]); }

  // Per rater: log P(votes | careful) - log P(votes | careless), careless
  // answering with the rater's own answer frequencies whatever the items.
  std::vector<double> CarefulLogOdds() const {
    const int32_t raters = c_.num_raters;
    std::vector<double> careful(raters, 0.0), answers(size_t(raters) * kOutcomes, 0.0), n(raters, 0.0);
    for (int64_t v = 0; v < c_.num_votes(); ++v) {
      double lp[kOutcomes];
      DavidsonLog(ShownDifference(v, score_, bias_), log_nu_, lp);
      careful[c_.rater[v]] += lp[c_.outcome[v]];
      answers[size_t(c_.rater[v]) * kOutcomes + c_.outcome[v]] += 1;
      n[c_.rater[v]] += 1;
    }
    for (int32_t r = 0; r < raters; ++r) {
      for (int y = 0; y < kOutcomes; ++y) {
        const double k = answers[size_t(r) * kOutcomes + y];
        if (k > 0) careful[r] -= k * std::log(k / n[r]);
      }
    }
    return careful;
  }
  // Per item: the curvature of the expected log-posterior in its score at the
  // current parameters (the E-step's careful weights redone here), the prior's
  // included: the precision of the Laplace approximation with the other scores held.
  std::vector<double> ScoreCurvature() const {
    std::vector<double> curvature(c_.num_items, 1.0 / (o_.score_prior_sd * o_.score_prior_sd));
    const double nu = std::exp(log_nu_);
    for (int64_t v = 0; v < c_.num_votes(); ++v) {
      const int32_t r = c_.rater[v];
      const Outcome y = c_.outcome[v];
      double p[kOutcomes], likelihood, g, c;
      Davidson(ShownDifference(v, score_, bias_), nu, p);
      const double w = CarefulPosterior(p[y], eta_[r], xi_[size_t(r) * kOutcomes + y], &likelihood);
      DavidsonScoreTerms(w, y, p, &g, &c);
      const int32_t t = c_.task[v];
      curvature[c_.left[t]] += c;
      curvature[c_.right[t]] += c;
    }
    return curvature;
  }
  double careless_answer(int32_t r, int y) const { return std::exp(log_xi_[size_t(r) * kOutcomes + y]); }

 private:
  // The difference a vote's rater answered from: shown left minus shown right, plus bias.
  double ShownDifference(int64_t v, const std::vector<double>& s, const std::vector<double>& b) const {
    const int32_t t = c_.task[v];
    const double d = s[c_.left[t]] - s[c_.right[t]];
    return (c_.swapped[v] ? -d : d) + b[c_.rater[v]];
  }

  // Each vote's probability of being careful; returns the weighted
  // log-likelihood. Also sets score_objective_, ScoreObjective(score_, bias_,
  // log_nu_) with the new careful_, from the same P(y | d) and summed in the
  // same order, so bit for bit the same, without its own pass over the votes
  // (UpdateRaters, which runs in between, changes none of its inputs).
  double EStep() {
    double ll = 0, f = 0;
    const double nu = std::exp(log_nu_);
    for (int64_t v = 0; v < c_.num_votes(); ++v) {
      const int32_t r = c_.rater[v];
      const int y = c_.outcome[v];
      double p[kOutcomes];
      Davidson(ShownDifference(v, score_, bias_), nu, p);
      double sum;
      careful_[v] = CarefulPosterior(p[y], eta_[r], xi_[size_t(r) * kOutcomes + y], &sum);
      const double weight = weight_[c_.task[v]];
      ll += weight * SafeLog(sum);
      const double w = weight * careful_[v];
      if (w != 0) f += w * SafeLog(p[y]);
    }
    score_objective_ = f + GaussianLogPrior(score_, bias_);
    return ll;
  }

  // eta and xi: exact MAP from the expected careful / careless votes.
  void UpdateRaters() {
    const int32_t raters = c_.num_raters;
    std::vector<double> careful(raters, 0.0), careless(size_t(raters) * kOutcomes, 0.0);
    for (int64_t v = 0; v < c_.num_votes(); ++v) {
      const double w = weight_[c_.task[v]];
      careful[c_.rater[v]] += w * careful_[v];
      careless[size_t(c_.rater[v]) * kOutcomes + c_.outcome[v]] += w * (1 - careful_[v]);
    }
    for (int32_t r = 0; r < raters; ++r) {
      double* xi = &careless[size_t(r) * kOutcomes];
      const double n_careless = xi[0] + xi[1] + xi[2];
      const double a = careful[r] + o_.careful_pseudo_votes;
      const double b = n_careless + o_.careless_pseudo_votes;
      eta_[r] = a / (a + b);
      log_eta_[r] = std::log(a / (a + b));
      log_not_eta_[r] = std::log(b / (a + b));
      const double total = n_careless + kOutcomes * o_.careless_answer_prior;
      for (int y = 0; y < kOutcomes; ++y) {
        xi_[size_t(r) * kOutcomes + y] = (xi[y] + o_.careless_answer_prior) / total;
        log_xi_[size_t(r) * kOutcomes + y] = std::log(xi_[size_t(r) * kOutcomes + y]);
      }
    }
  }

  // log P(eta, xi, s, b) up to a constant.
  double LogPrior() const {
    double p = 0;
    for (int32_t r = 0; r < c_.num_raters; ++r) {
      p += o_.careful_pseudo_votes * log_eta_[r] + o_.careless_pseudo_votes * log_not_eta_[r];
      for (int y = 0; y < kOutcomes; ++y) p += o_.careless_answer_prior * log_xi_[size_t(r) * kOutcomes + y];
    }
    return p + GaussianLogPrior(score_, bias_);
  }

  double GaussianLogPrior(const std::vector<double>& s, const std::vector<double>& b) const {
    const double inv_s = 1.0 / (o_.score_prior_sd * o_.score_prior_sd);
    const double inv_b = 1.0 / (o_.bias_prior_sd * o_.bias_prior_sd);
    double p = 0;
    for (double x : s) p -= 0.5 * inv_s * x * x;
    for (double x : b) p -= 0.5 * inv_b * x * x;
    return p;
  }

  // The part of the expected complete log-posterior that depends on s, b and
  // nu: sum_v w_v careful_v log P(y_v | d_v, nu) + the Gaussian log-priors.
  double ScoreObjective(const std::vector<double>& s, const std::vector<double>& b, double log_nu) const {
    double f = 0;
    const double nu = std::exp(log_nu);
    for (int64_t v = 0; v < c_.num_votes(); ++v) {
      const double w = weight_[c_.task[v]] * careful_[v];
      if (w == 0) continue;
      double p[kOutcomes];
      Davidson(ShownDifference(v, s, b), nu, p);
      f += w * SafeLog(p[c_.outcome[v]]);
    }
    return f + GaussianLogPrior(s, b);
  }

  // Diagonal Newton steps on s, b and log nu: each coordinate's gradient
  // divided by its own curvature (the prior's included), all at once. That
  // ignores the coupling between coordinates and can overshoot, so a step
  // that lowers the objective is halved until it does not: the objective
  // never falls, and EM stays monotone.
  void UpdateScores() {
    const int32_t n = c_.num_items, raters = c_.num_raters;
    const double inv_s = 1.0 / (o_.score_prior_sd * o_.score_prior_sd);
    const double inv_b = 1.0 / (o_.bias_prior_sd * o_.bias_prior_sd);
    std::vector<double> gs(n), cs(n), gb(raters), cb(raters), ts(n), tb(raters);
    double current = score_objective_;  // ScoreObjective(score_, bias_, log_nu_), from EStep()
    for (int step = 0; step < kScoreSteps; ++step) {
      std::fill(gs.begin(), gs.end(), 0.0);
      std::fill(cs.begin(), cs.end(), 0.0);
      std::fill(gb.begin(), gb.end(), 0.0);
      std::fill(cb.begin(), cb.end(), 0.0);
      double g_nu = 0, c_nu = 0;
      const double nu = std::exp(log_nu_);
      for (int64_t v = 0; v < c_.num_votes(); ++v) {
        const double w = weight_[c_.task[v]] * careful_[v];
        if (w == 0) continue;
        double p[kOutcomes];
        Davidson(ShownDifference(v, score_, bias_), nu, p);
        const double pt = p[kTie];
        const Outcome y = c_.outcome[v];
        double g, c;
        DavidsonScoreTerms(w, y, p, &g, &c);
        const int32_t t = c_.task[v];
        const double sign = c_.swapped[v] ? -1.0 : 1.0;
        gs[c_.left[t]] += sign * g;
        gs[c_.right[t]] -= sign * g;
        gb[c_.rater[v]] += g;
        cs[c_.left[t]] += c;
        cs[c_.right[t]] += c;
        cb[c_.rater[v]] += c;
        g_nu += w * ((y == kTie) - pt);
        c_nu += w * pt * (1 - pt);
      }
      const double d_nu = c_nu > 0 ? g_nu / c_nu : 0.0;
      double shrink = 1.0;
      for (int halving = 0; halving < 30; ++halving, shrink *= 0.5) {
        for (int32_t i = 0; i < n; ++i) {
          ts[i] = score_[i] + shrink * (gs[i] - inv_s * score_[i]) / (cs[i] + inv_s);
        }
        for (int32_t r = 0; r < raters; ++r) {
          tb[r] = bias_[r] + shrink * (gb[r] - inv_b * bias_[r]) / (cb[r] + inv_b);
        }
        const double trial_nu = std::clamp(log_nu_ + shrink * d_nu, -30.0, 30.0);
        const double value = ScoreObjective(ts, tb, trial_nu);
        if (value >= current) {
          score_.swap(ts);
          bias_.swap(tb);
          log_nu_ = trial_nu;
          current = value;
          break;
        }
      }
    }
  }

  const Comparisons& c_;
  const PairwiseOptions& o_;
  std::vector<double> weight_;    // per task
  std::vector<double> score_;     // per item
  std::vector<double> bias_;      // per rater
  std::vector<double> log_eta_, log_not_eta_;  // per rater
  std::vector<double> log_xi_;    // per rater x 3
  std::vector<double> eta_, xi_;  // the same, not in logs
  std::vector<double> careful_;   // per vote: P(careful | vote)
  double log_nu_ = 0;
  double score_objective_ = 0;    // set by EStep() for UpdateScores()
};

// The score intervals: percentiles of the replicates' scores.
void Bootstrap(const Comparisons& c, const PairwiseOptions& o, const PairwiseFit& full,
               PairwiseModel* model) {
  const int32_t n = c.num_items;
  const int b = o.bootstrap;
  std::vector<double> samples(static_cast<size_t>(n) * b);  // [item][replicate]
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int r = next++; r < b; r = next++) {
      PairwiseFit fit = full;
      std::vector<double> weight(c.num_tasks());
      for (int32_t t = 0; t < c.num_tasks(); ++t) weight[t] = PoissonWeight(o.seed, r, t);
      fit.SetWeights(std::move(weight));
      fit.Run(kReplicateIterations, kReplicateTol, nullptr);
      for (int32_t i = 0; i < n; ++i) samples[size_t(i) * b + r] = fit.score()[i];
    }
  };
  const int threads = std::clamp(o.threads == 0 ? AvailableCores() : o.threads, 1, std::max(1, b));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  const double tail = (1 - o.interval) / 2;
  for (int32_t i = 0; i < n; ++i) {
    double* s = &samples[size_t(i) * b];
    std::sort(s, s + b);
    // Percentile by linear interpolation between order statistics.
    auto at = [&](double p) {
      const double x = p * (b - 1);
      const int lo = static_cast<int>(std::floor(x));
      const int hi = std::min(b - 1, lo + 1);
      return s[lo] + (x - lo) * (s[hi] - s[lo]);
    };
    model->score_low[i] = std::min(at(tail), model->score[i]);
    model->score_high[i] = std::max(at(1 - tail), model->score[i]);
  }
}

}  // namespace

// With one exp: numerator and denominator divided by e^{|d|/2}.
void Davidson(double d, double nu, double p[kOutcomes]) {
  const double e = std::exp(-0.5 * std::fabs(d));  // in [0, 1]
  const double inv = 1 / (1 + e * e + nu * e);
  p[d >= 0 ? kLeft : kRight] = inv;
  p[d >= 0 ? kRight : kLeft] = e * e * inv;
  p[kTie] = nu * e * inv;
}

void DavidsonLog(double d, double log_nu, double out[kOutcomes]) {
  const double h = 0.5 * d;
  const double m = std::max({h, -h, log_nu});
  const double log_norm = m + std::log(std::exp(h - m) + std::exp(-h - m) + std::exp(log_nu - m));
  out[kLeft] = h - log_norm;
  out[kRight] = -h - log_norm;
  out[kTie] = log_nu - log_norm;
}

void ComparisonPosterior(double d, double log_nu, double q[kOutcomes]) {
  double lp[kOutcomes];
  DavidsonLog(d, log_nu, lp);
  for (int z = 0; z < kOutcomes; ++z) q[z] = std::exp(lp[z]);
}

double CarefulPosterior(double p_answer, double eta, double xi_answer, double* likelihood) {
  const double careful = eta * p_answer;
  const double careless = (1 - eta) * xi_answer;
  const double sum = careful + careless;
  *likelihood = sum;
  return careful / sum;
}

void DavidsonScoreTerms(double w, Outcome y, const double p[kOutcomes], double* gradient, double* curvature) {
  const double pl = p[kLeft], pr = p[kRight];
  *gradient = 0.5 * w * ((y == kLeft) - (y == kRight) - (pl - pr));
  *curvature = 0.25 * w * ((pl + pr) - (pl - pr) * (pl - pr));
}

double StartLogTieNu(int64_t ties, int64_t votes) {
  const double f = std::clamp(votes > 0 ? double(ties) / votes : 0.0, 1e-3, 0.9);
  return std::log(2 * f / (1 - f));
}

absl::StatusOr<Outcome> ParseOutcome(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (lower == "left" || lower == "l") return kLeft;
  if (lower == "right" || lower == "r") return kRight;
  if (lower == "tie" || lower == "t" || lower == "=") return kTie;
  return absl::InvalidArgumentError(
      absl::StrCat("'", std::string(text), "' is not an outcome: use left, right or tie"));
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case kLeft: return "left";
    case kRight: return "right";
    case kTie: return "tie";
  }
  return "?";
}

int32_t Comparisons::AddTask(int32_t a, int32_t b) {
  left.push_back(a);
  right.push_back(b);
  num_items = std::max({num_items, a + 1, b + 1});
  return num_tasks() - 1;
}

void Comparisons::AddVote(int32_t t, int32_t r, int32_t shown_left, Outcome answer) {
  task.push_back(t);
  rater.push_back(r);
  outcome.push_back(answer);
  swapped.push_back(shown_left != left[t]);
  num_raters = std::max(num_raters, r + 1);
}

absl::StatusOr<PairwiseModel> FitPairwise(const Comparisons& c, const PairwiseOptions& o) {
  if (!(o.score_prior_sd > 0)) return absl::InvalidArgumentError("score prior sd must be > 0");
  if (!(o.bias_prior_sd > 0)) return absl::InvalidArgumentError("bias prior sd must be > 0");
  if (!(o.careful_pseudo_votes > 0) || !(o.careless_pseudo_votes > 0) || !(o.careless_answer_prior > 0)) {
    return absl::InvalidArgumentError("rater pseudo-votes and the careless answer prior must be > 0");
  }
  if (o.max_iter < 0 || o.bootstrap < 0 || o.threads < 0) {
    return absl::InvalidArgumentError("max_iter, bootstrap and threads must be >= 0");
  }
  if (!(o.interval > 0 && o.interval < 1)) return absl::InvalidArgumentError("interval must be in (0, 1)");
  for (int32_t t = 0; t < c.num_tasks(); ++t) {
    if (c.left[t] == c.right[t]) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t, " compares an item with itself"));
    }
  }
  PairwiseModel m;
  PairwiseFit fit(c, o);
  fit.Run(o.max_iter, o.tol, &m);
  m.score = fit.score();
  m.tie_nu = std::exp(fit.log_nu());
  m.posterior.resize(static_cast<size_t>(c.num_tasks()) * kOutcomes);
  m.consensus.resize(c.num_tasks());
  m.log_tie_nu = fit.log_nu();
  for (int32_t t = 0; t < c.num_tasks(); ++t) {
    double* q = &m.posterior[size_t(t) * kOutcomes];
    ComparisonPosterior(m.score[c.left[t]] - m.score[c.right[t]], fit.log_nu(), q);
    m.consensus[t] = static_cast<Outcome>(std::max_element(q, q + kOutcomes) - q);
  }
  m.item_votes.assign(c.num_items, 0);
  m.rater_votes.assign(c.num_raters, 0);
  for (int64_t v = 0; v < c.num_votes(); ++v) {
    ++m.item_votes[c.left[c.task[v]]];
    ++m.item_votes[c.right[c.task[v]]];
    ++m.rater_votes[c.rater[v]];
  }
  m.reliability.resize(c.num_raters);
  m.careless_answers.resize(static_cast<size_t>(c.num_raters) * kOutcomes);
  m.careless.resize(c.num_raters);
  m.position_bias = fit.bias();
  m.careful_log_odds = fit.CarefulLogOdds();
  m.score_curvature = fit.ScoreCurvature();
  for (int32_t r = 0; r < c.num_raters; ++r) {
    m.reliability[r] = fit.reliability(r);
    for (int y = 0; y < kOutcomes; ++y) m.careless_answers[size_t(r) * kOutcomes + y] = fit.careless_answer(r, y);
    m.careless[r] = m.rater_votes[r] >= o.min_votes_to_flag && m.careful_log_odds[r] < 0;
  }
  m.score_low = m.score;
  m.score_high = m.score;
  if (o.bootstrap > 0 && c.num_votes() > 0) Bootstrap(c, o, fit, &m);
  // Leaderboard.
  m.order.resize(c.num_items);
  std::iota(m.order.begin(), m.order.end(), 0);
  std::stable_sort(m.order.begin(), m.order.end(),
                   [&](int32_t a, int32_t b) { return m.score[a] > m.score[b]; });
  std::vector<double> lows = m.score_low;
  std::sort(lows.begin(), lows.end());
  m.rank.resize(c.num_items);
  for (int32_t i = 0; i < c.num_items; ++i) {
    const auto above = lows.end() - std::upper_bound(lows.begin(), lows.end(), m.score_high[i]);
    m.rank[i] = 1 + static_cast<int32_t>(above);
  }
  return m;
}

}  // namespace consensusd::consensus
