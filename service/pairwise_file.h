// Pairwise comparison files (SPEC 5.1, issue 12): reading votes, writing the
// leaderboard, the raters and the per-comparison consensus.
//
//   absl::StatusOr<PairwiseDataset> d = LoadComparisons("votes.csv");
//   absl::StatusOr<consensus::PairwiseModel> m = consensus::FitPairwise(d->comparisons, {});
//   WriteLeaderboardCsv(*d, *m, "leaderboard.csv");
//
// Votes: CSV with columns worker,left,right,label (crowd-kit's layout: one
// comparison per row) or task,worker,left,right,label (rows with the same task
// are votes on one comparison; a later vote may show its items the other way
// round). The header is optional. label is left, right or tie, or the id of
// the preferred item.
#ifndef CONSENSUSD_SERVICE_PAIRWISE_FILE_H_
#define CONSENSUSD_SERVICE_PAIRWISE_FILE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/id_table.h"
#include "consensus/pairwise.h"

namespace consensusd::service {

struct PairwiseDataset {
  consensus::Comparisons comparisons;
  consensus::IdTable items, raters, tasks;  // tasks: named by the task column or "row-<line>"
};

// Errors name the file and line: a row of another width, an unknown label, an
// item compared with itself, a task whose items change.
absl::StatusOr<PairwiseDataset> LoadComparisons(const std::string& path);

// item,score CSV (header optional): known true scores.
absl::StatusOr<absl::flat_hash_map<std::string, double>> LoadItemScores(const std::string& path);

// rank,item,score,low,high,votes: one row per item, best first.
absl::Status WriteLeaderboardCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                                 const std::string& path);
// worker,votes,reliability,careful_log_odds,position_bias,careless.
absl::Status WriteRatersCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                            const std::string& path);
// task,left,right,p_left,p_right,p_tie,consensus.
absl::Status WriteComparisonsCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                                 const std::string& path);

// Spearman's rank correlation of the model's scores with `truth` over the items
// both know (average ranks for ties); NaN with fewer than 2 such items.
double ScoreSpearman(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                     const absl::flat_hash_map<std::string, double>& truth, int64_t* compared);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_PAIRWISE_FILE_H_
