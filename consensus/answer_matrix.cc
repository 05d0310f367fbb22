#include "consensus/answer_matrix.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace consensusd::consensus {

absl::StatusOr<DuplicatePolicy> ParseDuplicatePolicy(std::string_view name) {
  if (name == "replace" || name == "last") return DuplicatePolicy::kKeepLast;
  if (name == "count" || name == "all") return DuplicatePolicy::kKeepAll;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown repeats setting '", std::string(name),
      "': use 'replace' (a later answer of a worker to a task replaces the earlier one) or "
      "'count' (every answer counts); 'last' and 'all' are accepted as their old names"));
}

std::string_view DuplicatePolicyName(DuplicatePolicy policy) {
  return policy == DuplicatePolicy::kKeepAll ? "count" : "replace";
}

void AnswerMatrixBuilder::Reserve(int64_t n) {
  task_.reserve(n);
  worker_.reserve(n);
  label_.reserve(n);
}

void AnswerMatrixBuilder::Add(int32_t task, int32_t worker, int32_t label) {
  task_.push_back(task);
  worker_.push_back(worker);
  label_.push_back(label);
}

namespace {

// A matrix without answers yet: no gold, classes ranked by id.
AnswerMatrix EmptyMatrix(int32_t num_tasks, int32_t num_workers, int32_t num_classes) {
  AnswerMatrix m;
  m.num_tasks = num_tasks;
  m.num_workers = num_workers;
  m.num_classes = num_classes;
  m.gold.assign(num_tasks, kNoGold);
  m.class_rank.resize(num_classes);
  std::iota(m.class_rank.begin(), m.class_rank.end(), 0);
  return m;
}

// begin[t] = the number of answers of the tasks before t (num_tasks + 1 entries).
std::vector<int64_t> TaskBegin(const std::vector<int32_t>& task, int32_t num_tasks) {
  std::vector<int64_t> begin(num_tasks + 1, 0);
  for (const int32_t t : task) ++begin[t + 1];
  for (int32_t t = 0; t < num_tasks; ++t) begin[t + 1] += begin[t];
  return begin;
}

}  // namespace

AnswerMatrix AnswerMatrixBuilder::Build(int32_t num_tasks, int32_t num_workers,
                                        int32_t num_classes, DuplicatePolicy duplicates) && {
  if (duplicates != DuplicatePolicy::kKeepAll || !std::is_sorted(task_.begin(), task_.end())) {
    AnswerMatrix m = std::as_const(*this).Build(num_tasks, num_workers, num_classes, duplicates);
    *this = AnswerMatrixBuilder();
    return m;
  }
  AnswerMatrix m = EmptyMatrix(num_tasks, num_workers, num_classes);
  m.task_begin = TaskBegin(task_, num_tasks);
  std::vector<int32_t>().swap(task_);
  m.worker = std::move(worker_);
  m.label = std::move(label_);
  *this = AnswerMatrixBuilder();
  return m;
}

AnswerMatrix AnswerMatrixBuilder::Build(int32_t num_tasks, int32_t num_workers,
                                        int32_t num_classes,
                                        DuplicatePolicy duplicates) const& {
  AnswerMatrix m = EmptyMatrix(num_tasks, num_workers, num_classes);

  // Stable counting sort by task keeps arrival order within each task.
  const int64_t n = size();
  std::vector<int64_t> begin = TaskBegin(task_, num_tasks);
  std::vector<int64_t> fill(begin.begin(), begin.end() - 1);
  std::vector<int32_t> worker(n), label(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = fill[task_[i]]++;
    worker[at] = worker_[i];
    label[at] = label_[i];
  }
  if (duplicates == DuplicatePolicy::kKeepAll) {
    m.task_begin = std::move(begin);
    m.worker = std::move(worker);
    m.label = std::move(label);
    return m;
  }

  // Keep each worker's last answer per task, at the position of that last answer.
  m.task_begin.assign(num_tasks + 1, 0);
  m.worker.reserve(n);
  m.label.reserve(n);
  std::vector<int64_t> order;
  std::vector<char> keep;
  for (int32_t t = 0; t < num_tasks; ++t) {
    const int64_t b = begin[t], e = begin[t + 1];
    order.resize(e - b);
    std::iota(order.begin(), order.end(), b);
    // Sort by worker, later answers first, then keep the first of each worker.
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return worker[x] != worker[y] ? worker[x] < worker[y] : x > y;
    });
    keep.assign(e - b, 0);
    for (size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || worker[order[i]] != worker[order[i - 1]]) keep[order[i] - b] = 1;
    }
    for (int64_t a = b; a < e; ++a) {
      if (!keep[a - b]) continue;
      m.worker.push_back(worker[a]);
      m.label.push_back(label[a]);
    }
    m.task_begin[t + 1] = static_cast<int64_t>(m.worker.size());
  }
  return m;
}

}  // namespace consensusd::consensus
