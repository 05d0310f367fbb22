// Engine: the worker-statistics exchange of scale-out (SPEC 8). See
// engine/worker_stats.h for the records and docs/scaling.md for the design.
#include <algorithm>
#include <iterator>
#include <limits>
#include <span>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/worker_stats.h"
#include "spdlog/spdlog.h"

namespace consensusd::engine {

absl::flat_hash_set<int32_t> Engine::LocalSet() const {
  std::lock_guard<std::mutex> lock(partitions_mu_);
  return loaded_;
}

absl::flat_hash_set<int32_t> Engine::ReadyLocalSet() const {
  std::lock_guard<std::mutex> lock(partitions_mu_);
  absl::flat_hash_set<int32_t> out;
  for (const int32_t p : ready_) {
    if (loaded_.contains(p)) out.insert(p);
  }
  return out;
}

void Engine::CollectWorkerStats(std::vector<StatsRecord>* out, int32_t partition) {
  CollectWorkerStats(
      [out](std::vector<StatsRecord>& chunk) {
        std::move(chunk.begin(), chunk.end(), std::back_inserter(*out));
        return true;
      },
      partition, std::numeric_limits<size_t>::max());
}

namespace {

// One project's statistics per (partition, worker) as the M-step sums them:
// flat arrays, one entry per key, kk counts each (the first K for a
// partition's class counts). Held only while a collection runs.
class LiveStats {
 public:
  explicit LiveStats(int32_t K) : K_(K), kk_(static_cast<size_t>(K) * K) {}

  int32_t Entry(int32_t partition, int32_t worker) {
    const uint64_t key = ExchangeKey(partition, worker);
    auto [it, fresh] = index_.try_emplace(key, static_cast<int32_t>(keys_.size()));
    if (fresh) {
      keys_.push_back(key);
      answers_.push_back(0);
      counts_.resize(counts_.size() + kk_, 0.0);
    }
    return it->second;
  }
  bool Contains(uint64_t key) const { return index_.contains(key); }
  size_t size() const { return keys_.size(); }
  uint64_t key(size_t e) const { return keys_[e]; }
  int64_t& answers(size_t e) { return answers_[e]; }
  double* counts(size_t e) { return counts_.data() + e * kk_; }
  // The entry's counts: K x K for a worker, K for class counts.
  std::span<const double> View(size_t e) const {
    const bool worker = static_cast<uint32_t>(keys_[e]) != 0;
    return {counts_.data() + e * kk_, worker ? kk_ : static_cast<size_t>(K_)};
  }

 private:
  const int32_t K_;
  const size_t kk_;
  absl::flat_hash_map<uint64_t, int32_t> index_;
  std::vector<uint64_t> keys_;
  std::vector<int64_t> answers_;
  std::vector<double> counts_;
};

// Sums the project's live statistics of the tasks of `parts` into `live`, as
// the M-step sums them. REQUIRES: the project's lock held.
void SumLive(const Project& project, const absl::flat_hash_set<int32_t>& parts, LiveStats* live) {
  const consensus::StreamingModel& m = project.model;
  const int32_t K = m.num_classes();
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    const int32_t p =
        t < static_cast<int32_t>(project.task_partition.size()) ? project.task_partition[t] : -1;
    if (p < 0 || !parts.contains(p)) continue;
    const auto answers = m.Answers(t);
    for (const consensus::TaskAnswer& a : answers) ++live->answers(live->Entry(p, a.worker));
    if (!m.Counted(t)) continue;
    const auto post = m.Posterior(t);
    double* classes = live->counts(live->Entry(p, -1));
    for (int k = 0; k < K; ++k) classes[k] += post[k];
    for (const consensus::TaskAnswer& a : answers) {
      double* cell = live->counts(live->Entry(p, a.worker)) + static_cast<size_t>(a.label) * K;
      for (int k = 0; k < K; ++k) cell[k] += post[k];
    }
  }
}

}  // namespace

void Engine::CopyLiveToTopic(Project& project, const absl::flat_hash_set<int32_t>& parts) {
  const int32_t K = project.model.num_classes();
  if (K == 0 || parts.empty()) return;
  LiveStats live(K);
  SumLive(project, parts, &live);
  ProjectExchange& x = project.exchange;
  for (size_t e = 0; e < live.size(); ++e) {
    const uint64_t key = live.key(e);
    const int32_t p = static_cast<int32_t>(key >> 32);
    const int32_t w = static_cast<int32_t>(key & 0xffffffffu) - 1;
    PartitionStats& entry = w >= 0 ? x.topic_workers[w][p] : x.topic_classes[p];
    const std::span<const double> counts = live.View(e);
    entry.answers = live.answers(e);
    entry.counts.assign(counts.begin(), counts.end());
    entry.num_classes = K;
  }
}

void Engine::BeforeFirstRemote(Project& project, const absl::flat_hash_set<int32_t>& local,
                               bool remote) {
  if (project.model.has_remote()) return;
  const ProjectExchange& x = project.exchange;
  for (const auto& [p, e] : x.topic_classes) remote = remote || !local.contains(p);
  for (auto it = x.topic_workers.begin(); !remote && it != x.topic_workers.end(); ++it) {
    for (const auto& [p, e] : it->second) remote = remote || !local.contains(p);
  }
  if (!remote) return;
  absl::flat_hash_set<int32_t> parts = ReadyLocalSet();
  absl::erase_if(parts, [&](int32_t p) { return !local.contains(p); });
  CopyLiveToTopic(project, parts);
}

void Engine::AfterLastRemote(Project& project, const absl::flat_hash_set<int32_t>& local) {
  if (!project.model.has_remote()) return;
  ProjectExchange& x = project.exchange;
  for (const auto& [p, e] : x.topic_classes) {
    if (!local.contains(p)) return;
  }
  for (const auto& [worker, entries] : x.topic_workers) {
    for (const auto& [p, e] : entries) {
      if (!local.contains(p)) return;
    }
  }
  // RecomputeRemote has set every remote statistic to zero.
  if (!project.model.ClearRemote()) return;
  // The records of partitions still restoring stay, as without remote
  // statistics: MarkReady drops them once the live model holds the same.
  for (const int32_t p : ReadyLocalSet()) x.ErasePartition(p);
}

void Engine::CollectWorkerStats(const std::function<bool(std::vector<StatsRecord>&)>& sink,
                                int32_t partition, size_t chunk) {
  chunk = std::max<size_t>(chunk, 1);
  WorkerStatsRecord record;
  record.group = options_.group;
  record.instance = options_.instance;
  std::vector<StatsRecord> records;
  // Only caught-up partitions: a partition being rebuilt would publish a
  // part of its statistics over the complete ones its last owner published.
  // Read under the project's lock (the lock order allows it): Revoke ends
  // readiness before it retracts the partition's answers under this lock,
  // so a partition seen ready here still has all its answers (else its
  // every worker would be published as zeros right after the hand-over).
  auto ready_parts = [&] {
    absl::flat_hash_set<int32_t> parts;
    std::lock_guard<std::mutex> partitions_lock(partitions_mu_);
    if (partition < 0) {
      parts = ready_;
    } else if (ready_.contains(partition)) {
      parts = {partition};
    }
    return parts;
  };
  for (Project* project : projects_.List()) {
    std::unique_lock<std::mutex> lock(project->mu);
    absl::flat_hash_set<int32_t> parts = ready_parts();
    if (parts.empty()) continue;
    const consensus::StreamingModel& m = project->model;
    const int32_t K = m.num_classes();
    if (K == 0) continue;
    const size_t kk = static_cast<size_t>(K) * K;
    LiveStats live(K);
    SumLive(*project, parts, &live);
    // What is gone since (a worker's last answer there retracted) is sent as zeros.
    project->exchange.sent.ForEach([&](int32_t p, int32_t w) {
      if (parts.contains(p) && !live.Contains(ExchangeKey(p, w))) live.Entry(p, w);
    });
    record.project = project->name;
    record.classes.clear();
    for (int32_t k = 0; k < K; ++k) record.classes.emplace_back(m.classes().Name(k));
    // The records go out in chunks, without the project's lock: a
    // publication holds one record per worker and partition, too many to
    // hold as strings at once. Between chunks the partitions may move: only
    // those still ready are sent.
    for (size_t e = 0; e < live.size(); ++e) {
      const uint64_t key = live.key(e);
      record.partition = static_cast<int32_t>(key >> 32);
      if (!parts.contains(record.partition)) continue;
      const std::span<const double> counts = live.View(e);
      const int64_t answers = live.answers(e);
      const uint64_t fingerprint = StatsFingerprint(answers, counts, K);
      const int32_t w = static_cast<int32_t>(key & 0xffffffffu) - 1;
      if (project->exchange.sent.Find(record.partition, w) == fingerprint) continue;
      record.has_worker = w >= 0;
      if (record.has_worker) {
        record.worker = m.workers().Name(w);
        record.answers = answers;
        record.counts.assign(kk, 0.0);  // [k][l] from the model's [l][k]
        for (int l = 0; l < K; ++l) {
          for (int k = 0; k < K; ++k) record.counts[k * K + l] = counts[l * K + k];
        }
      } else {
        record.class_counts.assign(counts.begin(), counts.end());
      }
      StatsRecord& r = records.emplace_back();
      r.key = WorkerStatsKey(options_.group, project->name,
                             record.has_worker ? &record.worker : nullptr, record.partition);
      AppendWorkerStatsJson(record, r.value);
      project->exchange.sent.Set(record.partition, w, fingerprint);
      if (records.size() >= chunk) {
        lock.unlock();
        const bool more = sink(records);
        records.clear();
        if (!more) return;
        lock.lock();
        parts = ready_parts();
      }
    }
    lock.unlock();
    if (!records.empty()) {
      const bool more = sink(records);
      records.clear();
      if (!more) return;
    }
  }
}

absl::Status Engine::ApplyWorkerStats(std::string_view value) {
  WorkerStatsRecord r;
  if (absl::Status s = DecodeWorkerStats(value, &r); !s.ok()) return s;
  if (r.group != options_.group) return absl::OkStatus();
  Project& project = projects_.Get(r.project);
  std::lock_guard<std::mutex> lock(project.mu);
  // Under the project's lock (a project's mu, then partitions_mu_): an
  // ownership change either happened before (and is seen here) or runs its
  // recomputation after this record is in.
  const absl::flat_hash_set<int32_t> owned = LocalSet();
  consensus::StreamingModel& m = project.model;
  // Unknown classes: none for declared classes, and all of them or none
  // within the limit (a rejected record interns nothing).
  int32_t unknown = 0;
  for (const std::string& name : r.classes) unknown += m.classes().Find(name) < 0 ? 1 : 0;
  if (unknown > 0 && project.fixed_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "worker statistics: a class not declared for project '", project.name, "'"));
  }
  if (unknown > 0 && m.num_classes() + unknown > m.options().max_classes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "worker statistics: ", unknown, " new classes would exceed project '", project.name,
        "''s limit of ", m.options().max_classes));
  }
  std::vector<int32_t> ids;
  ids.reserve(r.classes.size());
  for (const std::string& name : r.classes) {
    absl::StatusOr<int32_t> id = m.InternClass(name);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  if (unknown > 0) classes_pending_ = true;  // stored by the next Commit
  const int32_t K = m.num_classes();
  const size_t rk = r.classes.size();
  PartitionStats e;
  e.num_classes = K;
  int32_t worker = -1;
  if (r.has_worker) {
    worker = m.InternWorker(r.worker);
    e.answers = r.answers;
    e.counts.assign(static_cast<size_t>(K) * K, 0.0);
    for (size_t k = 0; k < rk; ++k) {
      for (size_t l = 0; l < rk; ++l) e.counts[ids[l] * K + ids[k]] += r.counts[k * rk + l];
    }
  } else {
    e.counts.assign(K, 0.0);
    for (size_t k = 0; k < rk; ++k) e.counts[ids[k]] += r.class_counts[k];
  }
  ProjectExchange& x = project.exchange;
  if (owned.contains(r.partition) && r.instance != options_.instance) {
    // Another instance wrote a partition this one owns (an old owner's last
    // record, or a previous run of this process): the topic holds that now.
    x.sent.Set(r.partition, worker, StatsFingerprint(e));
  }
  if (owned.contains(r.partition) && !m.has_remote() && PartitionReady(r.partition)) {
    // The live model holds what this record says (or what answers it); no
    // copy until one is needed (CopyLiveToTopic): at 100k workers over 16
    // partitions, 1.15M copies took about 70 MB.
    return absl::OkStatus();
  }
  if (!owned.contains(r.partition)) BeforeFirstRemote(project, owned, /*remote=*/true);
  if (worker >= 0) {
    x.topic_workers[worker][r.partition] = std::move(e);
  } else {
    x.topic_classes[r.partition] = std::move(e);
  }
  if (!owned.contains(r.partition)) RecomputeRemote(project, worker, owned);
  return absl::OkStatus();
}

int64_t Engine::TopicStatsHeld() const {
  int64_t n = 0;
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    const ProjectExchange& x = project->exchange;
    n += static_cast<int64_t>(x.topic_classes.size());
    for (const auto& [worker, entries] : x.topic_workers) n += static_cast<int64_t>(entries.size());
  }
  return n;
}

void Engine::RecomputeRemote(Project& project, int32_t worker,
                             const absl::flat_hash_set<int32_t>& owned) {
  consensus::StreamingModel& m = project.model;
  const int32_t K = m.num_classes();
  const ProjectExchange& x = project.exchange;
  const PartitionStatsMap* entries = nullptr;
  if (worker < 0) {
    entries = &x.topic_classes;
  } else if (auto it = x.topic_workers.find(worker); it != x.topic_workers.end()) {
    entries = &it->second;
  }
  std::vector<double> sum(worker < 0 ? K : static_cast<size_t>(K) * K, 0.0);
  int64_t answers = 0;
  bool any = false;
  if (entries != nullptr) {
    for (const auto& [partition, e] : *entries) {  // in partition order: the same sum everywhere
      if (owned.contains(partition)) continue;
      AddStats(e, K, worker >= 0, sum.data());
      answers += e.answers;
      any = true;
    }
  }
  // A single instance (it owns every partition) keeps its model as it is.
  if (!any && !m.has_remote()) return;
  if (worker < 0) {
    m.SetRemoteClassCounts(sum);
  } else {
    m.SetRemoteWorker(worker, sum, answers);
  }
}

void Engine::OnOwnershipChange(int32_t assigned) {
  const absl::flat_hash_set<int32_t> owned = LocalSet();
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    ProjectExchange& x = project->exchange;
    // What was sent for partitions no longer here is of no use (and would
    // grow with every partition ever held).
    x.sent.KeepPartitions([&](int32_t partition) { return owned.contains(partition); });
    if (assigned >= 0) {
      // Compare what this instance will send for it with what the topic holds.
      x.sent.ErasePartition(assigned);
      for (const auto& [worker, entries] : x.topic_workers) {
        if (auto e = entries.find(assigned); e != entries.end()) {
          x.sent.Set(assigned, worker, StatsFingerprint(e->second));
        }
      }
      if (auto e = x.topic_classes.find(assigned); e != x.topic_classes.end()) {
        x.sent.Set(assigned, -1, StatsFingerprint(e->second));
      }
    }
    if (!project->model.has_remote() && x.topic_workers.empty() && x.topic_classes.empty()) continue;
    BeforeFirstRemote(*project, owned, /*remote=*/false);
    for (const auto& [worker, entries] : x.topic_workers) RecomputeRemote(*project, worker, owned);
    RecomputeRemote(*project, -1, owned);
    AfterLastRemote(*project, owned);
  }
}

void Engine::ResendWorkerStats() {
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    // Marked, not erased: an entry whose live statistics are gone since must
    // still be sent (as zeros), or the topic would keep it for ever.
    project->exchange.sent.MarkAllForResend();
  }
}

}  // namespace consensusd::engine
