// Pairwise preferences ("response A or B is better", ties allowed): item
// scores, a consensus per comparison and a quality estimate per rater, fitted
// jointly by EM.
//
//   Comparisons c;  // flat arrays of interned ids, one row per vote
//   absl::StatusOr<PairwiseModel> m = FitPairwise(c, PairwiseOptions{});
//   m->score[item], m->score_low[item], m->score_high[item]   // 95% interval
//   m->posterior[3 * task + kLeft]                            // P(left is better)
//
// The model (Bradley-Terry with ties, Davidson 1970; raters as in Crowd-BT,
// Chen et al. 2013, with a careless mode as in MACE, Hovy et al. 2013). Items
// have scores s. A vote shows items a (left) and b (right); a careful rater r
// answers from Davidson's model at the difference d = s_a - s_b + b_r, b_r the
// rater's position bias (logits added to whatever is shown on the left):
//   P(left) = e^{d/2} / D,  P(right) = e^{-d/2} / D,  P(tie) = nu / D,
//   D = e^{d/2} + e^{-d/2} + nu;
// a careless one answers from its own distribution xi_r over the three
// answers, whatever the items. Rater r is careful with probability eta_r (its
// reliability). Priors: s ~ N(0, score_prior_sd^2), b_r ~ N(0, bias_prior_sd^2),
// eta_r ~ Beta, xi_r ~ Dirichlet. EM with one latent careful/careless flag
// per vote: the E-step gives each vote's probability of being careful, the
// M-step re-estimates eta and xi exactly and s, b and nu by Newton steps on
// the expected log-posterior (concave in them), never lowering it. So score
// differences are the log-odds with which a careful, unbiased rater prefers
// one item to the other, the scale of Chatbot-Arena-style leaderboards.
//
// Per comparison task, the consensus is the probability of each outcome for
// a careful, unbiased rater: Davidson's model at s_a - s_b.
//
// Intervals: a Poisson bootstrap over tasks (every task weighted by a
// Poisson(1) draw from a seed, the task and the replicate: deterministic for
// any thread count), each replicate re-fitted by EM from the full fit;
// score_low/high are its percentiles.
#ifndef CONSENSUSD_CONSENSUS_PAIRWISE_H_
#define CONSENSUSD_CONSENSUS_PAIRWISE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace consensusd::consensus {

// An outcome, as answered (screen coordinates) or as the truth of a task.
enum Outcome : int8_t { kLeft = 0, kRight = 1, kTie = 2 };
inline constexpr int kOutcomes = 3;

// "left", "right", "tie" (also "l", "r", "t", "=", any case).
absl::StatusOr<Outcome> ParseOutcome(std::string_view text);
std::string_view OutcomeName(Outcome outcome);

// Votes on comparison tasks. Ids are dense from 0. A task's left and right
// items are those of its first vote; a later vote that showed them the other
// way round has swapped = 1 and its outcome in its own screen coordinates.
struct Comparisons {
  int32_t num_items = 0;
  int32_t num_raters = 0;
  // Per task.
  std::vector<int32_t> left, right;
  // Per vote.
  std::vector<int32_t> task, rater;
  std::vector<Outcome> outcome;
  std::vector<uint8_t> swapped;

  int32_t num_tasks() const { return static_cast<int32_t>(left.size()); }
  int64_t num_votes() const { return static_cast<int64_t>(task.size()); }
  // Adds a task; returns its id. REQUIRES: a != b.
  int32_t AddTask(int32_t a, int32_t b);
  // Adds a vote on `t` as shown with `shown_left` on the left.
  void AddVote(int32_t t, int32_t r, int32_t shown_left, Outcome answer);
};

struct PairwiseOptions {
  // Prior standard deviation of an item's score (logits: a difference of 3
  // is a 95% win probability). Keeps the score of an item that never lost
  // finite; weak against the data of any item with a few dozen comparisons.
  double score_prior_sd = 3.0;
  // Prior standard deviation of a rater's position bias (logits).
  double bias_prior_sd = 1.0;
  // Beta prior on a rater's reliability, as pseudo-votes: careful, careless
  // (a prior mean of 0.95: most raters of a paid platform work with care, and
  // a careless rater must be shown so by the votes). A weak prior mean would
  // let the careless mode absorb the upsets of careful raters and inflate
  // the scale of the scores.
  double careful_pseudo_votes = 10.0;
  double careless_pseudo_votes = 0.5;
  // Dirichlet pseudo-count on each of a careless rater's three answers.
  double careless_answer_prior = 1.0;
  double tol = 1e-7;  // EM stops when the objective per vote gains less
  int max_iter = 500;
  // Bootstrap replicates for the score intervals; 0: no intervals.
  int bootstrap = 100;
  double interval = 0.95;
  uint64_t seed = 1;
  int threads = 0;  // 0: AvailableCores(); results identical for any count
  // A rater with at least this many votes whose votes are likelier under
  // "careless" than under "careful" (careful_log_odds < 0) is flagged.
  int64_t min_votes_to_flag = 20;
};

struct PairwiseModel {
  // Per item: score (centred: mean 0 over items that have votes), and the
  // bootstrap interval (equal to the score when bootstrap == 0).
  std::vector<double> score, score_low, score_high;
  std::vector<int64_t> item_votes;
  // Per item, leaderboard: rank 1 + the number of items whose interval lies
  // wholly above this one's (items that tie statistically share a rank), and
  // position: the order by score (0 = best).
  std::vector<int32_t> rank;
  std::vector<int32_t> order;  // items by descending score
  double tie_nu = 0;           // Davidson's tie parameter
  double log_tie_nu = 0;       // its log, as the fit holds it
  // Per item: the curvature of the log-posterior in its score at the fit
  // (the prior's 1 / score_prior_sd^2 plus each vote's weighted curvature,
  // DavidsonScoreTerms): what a Newton step on that one score divides by.
  std::vector<double> score_curvature;
  // Per task: the consensus, P(outcome) for a careful unbiased rater in the
  // task's coordinates (num_tasks x 3), and its most likely outcome.
  std::vector<double> posterior;
  std::vector<Outcome> consensus;
  // Per rater: votes; reliability (eta: P(a vote is careful)); position bias
  // (b, logits towards the left); the careless answer distribution xi
  // (num_raters x 3); and the careless flag (see PairwiseOptions).
  std::vector<int64_t> rater_votes;
  std::vector<double> reliability, position_bias, careless_answers;
  // log P(votes | careful, the fitted scores and bias) - log P(votes |
  // careless, answering with the rater's own answer frequencies): the
  // evidence for the rater's care, independent of the reliability's prior.
  std::vector<double> careful_log_odds;
  std::vector<uint8_t> careless;
  std::vector<double> objective_history;
  int iterations = 0;
  bool converged = false;
};

// The per-vote and per-comparison formulas of the fit, shared with the
// streaming update between sweeps (engine/live_vote_fit.h).
//
// Davidson's P(outcome | d, nu) for the three outcomes, d = shown left score
// minus shown right score plus the rater's bias.
void Davidson(double d, double nu, double p[kOutcomes]);
// The same in logs, with log nu: no overflow at any d.
void DavidsonLog(double d, double log_nu, double out[kOutcomes]);
// A comparison's consensus: P(outcome) for a careful, unbiased rater at
// d = s_left - s_right (Davidson's model, exponentiated from DavidsonLog).
void ComparisonPosterior(double d, double log_nu, double q[kOutcomes]);
// A vote's E-step (the careful/careless mixture): P(careful | answer) =
// eta P(answer | d) / (eta P(answer | d) + (1 - eta) xi_answer); *likelihood
// gets the denominator, P(answer).
double CarefulPosterior(double p_answer, double eta, double xi_answer, double* likelihood);
// A vote's part, weighted by w (its P(careful)), in the gradient and the
// curvature of the score objective with respect to d:
// d/dd log P(y | d) = ([y = left] - [y = right] - (p_l - p_r)) / 2,
// -d2/dd2 = ((p_l + p_r) - (p_l - p_r)^2) / 4.
void DavidsonScoreTerms(double w, Outcome y, const double p[kOutcomes], double* gradient, double* curvature);
// The fit's starting log nu: P(tie) at d = 0, nu / (2 + nu), set to the
// share of ties (clamped to [0.001, 0.9]).
double StartLogTieNu(int64_t ties, int64_t votes);

// Fits the model. Errors: options out of range.
absl::StatusOr<PairwiseModel> FitPairwise(const Comparisons& comparisons,
                                          const PairwiseOptions& options);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_PAIRWISE_H_
