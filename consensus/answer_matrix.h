// AnswerMatrix: a set of answers grouped by task (compressed sparse rows), the
// input of every aggregation method. Ids are dense ints interned at the edge.
//
//   AnswerMatrixBuilder b;
//   b.Add(/*task=*/0, /*worker=*/3, /*label=*/1);
//   AnswerMatrix m = b.Build(/*num_tasks=*/1, /*num_workers=*/4, /*num_classes=*/2,
//                            DuplicatePolicy::kKeepLast);
#ifndef CONSENSUSD_CONSENSUS_ANSWER_MATRIX_H_
#define CONSENSUSD_CONSENSUS_ANSWER_MATRIX_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace consensusd::consensus {

// What a second answer of one worker to one task means (a project's
// `repeats` setting, `aggregate --repeats`; docs/configuration.md).
enum class DuplicatePolicy {
  kKeepLast,  // "replace": an edit, the latest answer replaces earlier ones
  kKeepAll,   // "count": an independent repeat, every answer counts (crowd-kit on raw files)
};
// Reads "replace" or "count", and the older names "last" and "all" (aliases
// of replace and count, so that old scripts keep working).
absl::StatusOr<DuplicatePolicy> ParseDuplicatePolicy(std::string_view name);
// "replace" or "count".
std::string_view DuplicatePolicyName(DuplicatePolicy policy);

inline constexpr int32_t kNoGold = -1;

// Invariants: task_begin.size() == num_tasks + 1, task_begin is non-decreasing,
// the answers of task t are [task_begin[t], task_begin[t+1]) in arrival order,
// 0 <= worker[a] < num_workers, 0 <= label[a] < num_classes,
// gold.size() == num_tasks with kNoGold or a class id,
// class_rank.size() == num_classes (rank of each class when names sort bytewise).
struct AnswerMatrix {
  int32_t num_tasks = 0;
  int32_t num_workers = 0;
  int32_t num_classes = 0;
  std::vector<int64_t> task_begin = {0};
  std::vector<int32_t> worker;
  std::vector<int32_t> label;
  std::vector<int32_t> gold;
  std::vector<int32_t> class_rank;

  int64_t num_answers() const { return static_cast<int64_t>(worker.size()); }
  int64_t TaskSize(int32_t t) const { return task_begin[t + 1] - task_begin[t]; }
};

// Collects (task, worker, label) triplets in arrival order and groups them by task.
class AnswerMatrixBuilder {
 public:
  void Reserve(int64_t n);
  void Add(int32_t task, int32_t worker, int32_t label);
  int64_t size() const { return static_cast<int64_t>(task_.size()); }

  // REQUIRES: every added id is below the matching count.
  // Gold and class_rank are left for the caller to fill (all kNoGold, identity).
  AnswerMatrix Build(int32_t num_tasks, int32_t num_workers, int32_t num_classes,
                     DuplicatePolicy duplicates) const&;
  // The same matrix, taking the builder's arrays: answers that arrived grouped
  // by task in first-seen order (as interning numbers tasks, so any file sorted
  // or grouped by task) are already in the matrix's order and are moved rather
  // than copied, which halves the peak memory of a large load. Leaves the
  // builder empty.
  AnswerMatrix Build(int32_t num_tasks, int32_t num_workers, int32_t num_classes,
                     DuplicatePolicy duplicates) &&;

 private:
  std::vector<int32_t> task_, worker_, label_;
};

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ANSWER_MATRIX_H_
