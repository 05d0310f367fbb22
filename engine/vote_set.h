// VoteSet: the answers of a pairwise or rating project (SPEC 3.1a) as the
// engine holds them: one vote per (task, worker), a later vote replacing the
// earlier one and a retraction removing it, and the input partition under
// which each task's records are stored. Internal to engine/ (Project owns
// one; its mutex guards it).
//
//   VoteSet votes;
//   const int32_t t = votes.InternTask("cmp-991");
//   votes.Put(t, partition, {.worker = votes.InternWorker("r-17"),
//                            .left = votes.InternItem("a"), .right = votes.InternItem("b"),
//                            .outcome = consensus::kLeft});
//   consensus::Comparisons c = votes.CanonicalComparisons(&names);  // for a sweep
//
// A sweep fits a canonical copy: the votes of workers not excluded, tasks in
// bytewise order of their ids, each task's votes in bytewise order of worker ids, items and raters numbered by
// first appearance in that order. The fit then depends only on the set of
// votes, not on the order they arrived in, and equals `consensusd aggregate
// --kind pairwise|rating` on a file holding the same votes in that order.
//
// Memory: a few dozen bytes per vote; tasks, workers and items stay interned
// after their votes are retracted or their partition is released.
#ifndef CONSENSUSD_ENGINE_VOTE_SET_H_
#define CONSENSUSD_ENGINE_VOTE_SET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/id_table.h"
#include "consensus/pairwise.h"
#include "consensus/rating.h"

namespace consensusd::engine {

// The names of a canonical copy's ids.
struct CanonicalNames {
  std::vector<std::string> tasks, workers, items;
};

class VoteSet {
 public:
  struct Vote {
    int32_t worker = -1;
    int32_t left = -1, right = -1;                  // pairwise: the items as shown
    consensus::Outcome outcome = consensus::kTie;   // pairwise: as shown
    double rating = 0;                              // rating
  };

  int32_t InternTask(std::string_view name) { return tasks_.Intern(name); }
  int32_t InternWorker(std::string_view name) { return workers_.Intern(name); }
  int32_t InternItem(std::string_view name) { return items_.Intern(name); }
  const consensus::IdTable& tasks() const { return tasks_; }
  const consensus::IdTable& workers() const { return workers_; }
  const consensus::IdTable& items() const { return items_; }

  // The items a task compares, as some current vote of it shows them;
  // false when it has no vote.
  bool TaskItems(int32_t task, int32_t* a, int32_t* b) const;
  // Puts the worker's vote on the task (stored under `partition`, unless the
  // task has a partition already), replacing the worker's earlier one.
  // Returns the task's home partition.
  int32_t Put(int32_t task, int32_t partition, const Vote& vote);
  // Removes the worker's vote on the task; false if there was none.
  bool Remove(int32_t task, int32_t worker);
  // Removes the votes of every task stored under `partition`.
  void DropPartition(int32_t partition);

  // Excludes or re-includes a worker (SPEC 3.3): an excluded worker's votes
  // stay but are left out of the canonical copies. Returns whether it changed.
  bool SetExcluded(int32_t worker, bool excluded);
  bool Excluded(int32_t worker) const {
    return worker >= 0 && worker < static_cast<int32_t>(excluded_.size()) && excluded_[worker];
  }
  // The worker's current votes (O(votes)).
  int64_t CountVotesOf(int32_t worker) const;

  // The task's current votes, in no particular order.
  const std::vector<Vote>& TaskVotes(int32_t task) const;
  // The task's home partition, or -1.
  int32_t TaskPartition(int32_t task) const;
  int64_t num_votes() const { return num_votes_; }
  // Tasks and workers with at least one vote.
  int64_t CountTasksWithVotes() const;
  int64_t CountWorkersWithVotes() const;
  // Changes with every Put, Remove and DropPartition.
  uint64_t version() const { return version_; }

  // The canonical copies (see the top of the file).
  consensus::Comparisons CanonicalComparisons(CanonicalNames* names) const;
  consensus::Ratings CanonicalRatings(CanonicalNames* names) const;

 private:
  // Tasks with votes in bytewise order of their ids.
  std::vector<int32_t> SortedTasks() const;
  // The task's votes in bytewise order of worker ids.
  std::vector<Vote> SortedVotes(int32_t task) const;
  void Size(int32_t task);

  consensus::IdTable tasks_, workers_, items_;
  std::vector<std::vector<Vote>> by_task_;
  std::vector<int32_t> task_partition_;
  std::vector<uint8_t> excluded_;  // per worker
  int64_t num_votes_ = 0;
  uint64_t version_ = 0;
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_VOTE_SET_H_
