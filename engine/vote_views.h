// Read views of pairwise and rating projects (SPEC 3.1a, issue 12), returned
// by value like engine/views.h: the last sweep's fit, with the estimates that
// votes since then updated (engine/live_vote_fit.h).
//
//   absl::StatusOr<LeaderboardView> b = engine.Leaderboard("helpful-v3");
//   for (const LeaderboardItem& i : b->items) Print(i.item, i.score, i.low, i.high);
#ifndef CONSENSUSD_ENGINE_VOTE_VIEWS_H_
#define CONSENSUSD_ENGINE_VOTE_VIEWS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/project_kind.h"

namespace consensusd::engine {

// When and how the last sweep fitted the project.
struct VoteFitSummary {
  int64_t unix_ms = 0;
  double seconds = 0;
  int iterations = 0;
  bool converged = false;
  int64_t tasks = 0;
  int64_t votes = 0;
};

struct LeaderboardItem {
  std::string item;
  double score = 0, low = 0, high = 0;  // Bradley-Terry score, 95% bootstrap interval
  int32_t rank = 0;        // 1 + the number of items whose interval lies wholly above this one's
  int32_t tied_group = 0;  // 1, 2, ...: by score, a new group starts at the first item whose
                           // interval lies wholly below the interval of its group's first item
  int64_t votes = 0;
};

struct LeaderboardView {
  std::string project;
  VoteFitSummary fit;
  double tie_nu = 0;  // Davidson's tie parameter
  int bootstrap = 0;  // replicates behind the intervals
  // Votes since the last sweep moved a score. The items keep the sweep's
  // order, interval, rank and tied group; items first seen since follow, by
  // score, with low = -inf, high = +inf, rank 1 and tied group 0.
  bool updated_since_sweep = false;
  std::vector<LeaderboardItem> items;  // best first (as of the last sweep)
};

struct RaterRow {
  std::string worker;
  int64_t votes = 0;
  // Pairwise: P(a vote is careful), the evidence for care (< 0 with enough
  // votes: flagged careless) and the position bias (logits towards the left).
  double reliability = 0, careful_log_odds = 0, position_bias = 0;
  bool careless = false;
  // Rating: offset from the consensus and noise standard deviation.
  double bias = 0, noise_sd = 0;
  // Excluded by a QA lead: the votes are kept but not fitted, and the
  // fitted fields above are 0.
  bool excluded = false;
};

struct RatersView {
  std::string project;
  ProjectKind kind = ProjectKind::kUnset;
  VoteFitSummary fit;
  std::vector<RaterRow> raters;  // by worker id, bytewise: the fitted, then the excluded
};

struct VoteTaskAnswer {
  std::string worker;
  std::string left, right, label;  // pairwise, as shown
  double rating = 0;               // rating
  bool excluded = false;           // the worker is excluded: not in the fit
};

struct VoteTaskView {
  std::string project, task;
  ProjectKind kind = ProjectKind::kUnset;
  std::vector<VoteTaskAnswer> answers;  // current, by worker id
  // The fields below hold an estimate: the last sweep's fit, updated by the
  // votes since (updated_since_sweep), or for a task first voted on since,
  // an estimate from the sweep's parameters (pairwise: also before any sweep).
  bool fitted = false;
  bool updated_since_sweep = false;
  // Pairwise: the task's items (as its first vote in worker order shows them)
  // and the probabilities for a careful, unbiased rater.
  std::string left, right;
  double p_left = 0, p_right = 0, p_tie = 0;
  std::string consensus;  // left, right or tie
  // Rating: the consensus rating and its posterior standard deviation.
  double rating = 0, sd = 0;
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_VOTE_VIEWS_H_
