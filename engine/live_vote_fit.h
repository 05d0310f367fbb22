// LiveVoteFit: a pairwise or rating project's estimates between sweeps. A
// sweep refits every vote (engine/vote_sweep.cc); between sweeps each applied,
// replaced or retracted vote updates the estimates it touches at once, in
// O(1), from the last sweep's parameters held fixed. Internal to engine/
// (Project owns one; its mutex guards it).
//
//   live.Reset(report.get(), votes);              // after a sweep: its fit, exactly
//   live.Apply(task, &old_vote, &new_vote, votes);  // per vote (either may be null)
//   live.Score(item); live.TaskRating(task, &rating, &sd);
//
// Pairwise: a vote's E-step at the fitted scores, rater bias, reliability,
// careless answers and tie parameter (consensus::CarefulPosterior) weighs its
// gradient and curvature in d (consensus::DavidsonScoreTerms); each of its two
// items keeps the sums of those since the sweep, and its score is one Newton
// step from the fit with the other scores held:
//   s_i = s_i_fit + G_i / (C_i_fit + H_i),
// C_i_fit the fit's curvature (PairwiseModel::score_curvature; the fitted
// votes' gradient is taken as 0, the fit's optimum). A retraction subtracts
// the same terms, so the step is a function of the set of votes since the
// sweep, and a vote retracted again leaves the score where it was. A
// comparison's P(outcome) is consensus::ComparisonPosterior at the two live
// scores. Items first seen since the sweep start at the prior mean 0 with the
// prior's curvature; raters first seen, at the prior's reliability, no bias
// and uniform careless answers. Before the first sweep the tie parameter is
// the fit's starting value from the share of ties.
//
// Rating: each task keeps its posterior of mu (consensus::AddRatingTerm) from
// the fit, or from the fit's prior for a task first rated since; a vote adds
// or removes its term with the rater's fitted bias and precision (a new
// rater: no bias, the prior's precision). No estimate before the first sweep.
//
// Votes of excluded workers are not applied (they leave the fit). Intervals,
// ranks, tied groups and rater parameters change only at a sweep. Memory: a
// few doubles per item, task and worker; vectors grow with new ids only.
#ifndef CONSENSUSD_ENGINE_LIVE_VOTE_FIT_H_
#define CONSENSUSD_ENGINE_LIVE_VOTE_FIT_H_

#include <array>
#include <cstdint>
#include <vector>

#include "engine/project_kind.h"
#include "engine/vote_set.h"

namespace consensusd::engine {

struct VoteReport;

class LiveVoteFit {
 public:
  // Starts from the sweep's fit (null: no sweep yet); ids are
  // those of `votes`. After it every estimate equals the fit's bit for bit.
  void Reset(const VoteReport* report, const VoteSet& votes);
  // The task's vote of one worker went from `removed` to `added` (null: none).
  void Apply(int32_t task, const VoteSet::Vote* removed, const VoteSet::Vote* added, const VoteSet& votes);

  // Pairwise. The item's score, and whether votes since the sweep moved it.
  double Score(int32_t item) const;
  bool Moved(int32_t item) const;
  int64_t ItemVotes(int32_t item) const;
  // The item's id in the last fit, or -1.
  int32_t FitItem(int32_t item) const;
  double log_tie_nu() const;
  // ComparisonPosterior at Score(left) - Score(right).
  void Posterior(int32_t left, int32_t right, double q[3]) const;

  // Rating: the task's consensus (clamped to the fit's scale) and its sd;
  // false without an estimate (no sweep yet). `moved`: votes since the sweep
  // changed it.
  bool TaskRating(int32_t task, double* rating, double* sd, bool* moved) const;

  // Both: the worker's votes in the fit plus those since (excluded: 0).
  int64_t WorkerVotes(int32_t worker) const;

 private:
  struct Item {
    int32_t fit = -1;
    double score = 0, curvature = 0;  // the fit's (new: the prior's)
    double gradient = 0, added_curvature = 0;  // since the sweep
    int64_t votes = 0;
  };
  struct Worker {
    double reliability = 0, bias = 0, precision = 0;
    std::array<double, 3> careless{};
    int64_t votes = 0;
  };
  struct Task {
    double mean = 0, precision = 0;     // the fit's posterior (new: the prior)
    double weighted = 0, added_precision = 0;  // since the sweep
    bool fitted = false;                // the fit's consensus and sd hold
    double fit_rating = 0, fit_sd = 0;
  };
  Item& ItemAt(int32_t item);
  Worker& WorkerAt(int32_t worker);
  Task& TaskAt(int32_t task);
  void ApplyPairwise(const VoteSet::Vote& vote, double sign);
  void ApplyRating(int32_t task, const VoteSet::Vote& vote, double sign);

  bool swept_ = false;
  double log_nu_ = 0;
  int64_t ties_ = 0, votes_ = 0;  // before the first sweep: for the tie parameter
  double prior_mean_ = 0, prior_var_ = 1, scale_min_ = 0, scale_max_ = 0;  // rating
  std::vector<Item> items_;
  std::vector<Worker> workers_;
  std::vector<Task> tasks_;
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_LIVE_VOTE_FIT_H_
