#include "engine/vote_set.h"

#include <algorithm>

namespace consensusd::engine {

void VoteSet::Size(int32_t task) {
  if (static_cast<int32_t>(by_task_.size()) <= task) {
    by_task_.resize(static_cast<size_t>(task) + 1);
    task_partition_.resize(static_cast<size_t>(task) + 1, -1);
  }
}

bool VoteSet::TaskItems(int32_t task, int32_t* a, int32_t* b) const {
  if (task < 0 || task >= static_cast<int32_t>(by_task_.size()) || by_task_[task].empty()) {
    return false;
  }
  *a = by_task_[task].front().left;
  *b = by_task_[task].front().right;
  return true;
}

int32_t VoteSet::Put(int32_t task, int32_t partition, const Vote& vote) {
  Size(task);
  if (task_partition_[task] < 0) task_partition_[task] = partition;
  ++version_;
  std::vector<Vote>& votes = by_task_[task];
  for (Vote& v : votes) {
    if (v.worker == vote.worker) {
      v = vote;
      return task_partition_[task];
    }
  }
  votes.push_back(vote);
  ++num_votes_;
  return task_partition_[task];
}

bool VoteSet::Remove(int32_t task, int32_t worker) {
  if (task < 0 || task >= static_cast<int32_t>(by_task_.size())) return false;
  std::vector<Vote>& votes = by_task_[task];
  auto it = std::find_if(votes.begin(), votes.end(), [&](const Vote& v) { return v.worker == worker; });
  if (it == votes.end()) return false;
  votes.erase(it);
  --num_votes_;
  ++version_;
  return true;
}

void VoteSet::DropPartition(int32_t partition) {
  for (size_t t = 0; t < by_task_.size(); ++t) {
    if (task_partition_[t] != partition) continue;
    num_votes_ -= static_cast<int64_t>(by_task_[t].size());
    by_task_[t].clear();
    task_partition_[t] = -1;
  }
  ++version_;
}

bool VoteSet::SetExcluded(int32_t worker, bool excluded) {
  if (Excluded(worker) == excluded) return false;
  if (static_cast<int32_t>(excluded_.size()) <= worker) excluded_.resize(static_cast<size_t>(worker) + 1, 0);
  excluded_[worker] = excluded ? 1 : 0;
  ++version_;
  return true;
}

int64_t VoteSet::CountVotesOf(int32_t worker) const {
  int64_t n = 0;
  for (const std::vector<Vote>& votes : by_task_) {
    for (const Vote& v : votes) n += v.worker == worker;
  }
  return n;
}

const std::vector<VoteSet::Vote>& VoteSet::TaskVotes(int32_t task) const {
  static const std::vector<Vote> kNone;
  return task >= 0 && task < static_cast<int32_t>(by_task_.size()) ? by_task_[task] : kNone;
}

int32_t VoteSet::TaskPartition(int32_t task) const {
  return task >= 0 && task < static_cast<int32_t>(task_partition_.size()) ? task_partition_[task] : -1;
}

int64_t VoteSet::CountTasksWithVotes() const {
  return std::count_if(by_task_.begin(), by_task_.end(), [](const auto& v) { return !v.empty(); });
}

int64_t VoteSet::CountWorkersWithVotes() const {
  std::vector<uint8_t> seen(workers_.size(), 0);
  int64_t n = 0;
  for (const std::vector<Vote>& votes : by_task_) {
    for (const Vote& v : votes) n += !std::exchange(seen[v.worker], 1);
  }
  return n;
}

std::vector<int32_t> VoteSet::SortedTasks() const {
  std::vector<int32_t> tasks;
  for (int32_t t = 0; t < static_cast<int32_t>(by_task_.size()); ++t) {
    const auto& votes = by_task_[t];
    if (std::any_of(votes.begin(), votes.end(), [&](const Vote& v) { return !Excluded(v.worker); })) {
      tasks.push_back(t);
    }
  }
  std::sort(tasks.begin(), tasks.end(),
            [&](int32_t a, int32_t b) { return tasks_.Name(a) < tasks_.Name(b); });
  return tasks;
}

std::vector<VoteSet::Vote> VoteSet::SortedVotes(int32_t task) const {
  std::vector<Vote> votes;
  for (const Vote& v : by_task_[task]) {
    if (!Excluded(v.worker)) votes.push_back(v);
  }
  std::sort(votes.begin(), votes.end(), [&](const Vote& a, const Vote& b) {
    return workers_.Name(a.worker) < workers_.Name(b.worker);
  });
  return votes;
}

consensus::Comparisons VoteSet::CanonicalComparisons(CanonicalNames* names) const {
  consensus::Comparisons c;
  consensus::IdTable items, raters;
  names->tasks.clear();
  for (const int32_t t : SortedTasks()) {
    int32_t task = -1;
    for (const Vote& v : SortedVotes(t)) {
      const int32_t a = items.Intern(items_.Name(v.left));
      const int32_t b = items.Intern(items_.Name(v.right));
      const int32_t r = raters.Intern(workers_.Name(v.worker));
      if (task < 0) {
        task = c.AddTask(a, b);
        names->tasks.emplace_back(tasks_.Name(t));
      }
      c.AddVote(task, r, a, v.outcome);
    }
  }
  c.num_items = items.size();
  c.num_raters = raters.size();
  names->items = items.names();
  names->workers = raters.names();
  return c;
}

consensus::Ratings VoteSet::CanonicalRatings(CanonicalNames* names) const {
  consensus::Ratings r;
  consensus::IdTable raters;
  names->tasks.clear();
  names->items.clear();
  for (const int32_t t : SortedTasks()) {
    const int32_t task = static_cast<int32_t>(names->tasks.size());
    names->tasks.emplace_back(tasks_.Name(t));
    for (const Vote& v : SortedVotes(t)) r.Add(task, raters.Intern(workers_.Name(v.worker)), v.rating);
  }
  r.num_tasks = static_cast<int32_t>(names->tasks.size());
  r.num_raters = raters.size();
  names->workers = raters.names();
  return r;
}

}  // namespace consensusd::engine
