// Worker statistics exchanged between the instances of one consumer group
// (SPEC 8): the sufficient statistics of each worker's confusion matrix, per
// input partition, so that every instance fits its own tasks against the
// worker model of all partitions.
//
// A record is keyed `<group>/<project>/<worker>/<partition>` (a worker's
// counts in one partition) or `<group>/<project>/<partition>` (the partition's
// class counts), each part escaped as in consensus keys (docs/api.md). The
// group is in the key so that groups sharing the topic never compact away
// each other's records. Values are JSON with names,
// not ids, because instances intern classes and workers in different orders:
//
//   {"group":"g1","project":"p","partition":3,"worker":"ann-17","instance":"host-1234-5",
//    "classes":["neg","pos"],"answers":12,"counts":[[7.9,0.1],[0.2,3.8]]}
//   {"group":"g1","project":"p","partition":3,"instance":"...","classes":["neg","pos"],
//    "class_counts":[310.4,120.6]}
//
// counts[k][l] is the expected number of the worker's answers l on tasks of
// true class k in that partition, weighted by the task posteriors (exactly
// what the M-step of Dawid-Skene EM sums; consensus/parameters.h); `answers`
// counts the worker's stored answers there.
//
//   WorkerStatsRecord r;
//   absl::Status s = DecodeWorkerStats(key, value, &r);
//   std::string value = EncodeWorkerStats(r);
#ifndef CONSENSUSD_ENGINE_WORKER_STATS_H_
#define CONSENSUSD_ENGINE_WORKER_STATS_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"

namespace consensusd::engine {

// One record, decoded. counts is K x K row-major [k][l] (true class k,
// answered l) over `classes`; class_counts has K entries.
struct WorkerStatsRecord {
  std::string group;
  std::string project;
  int32_t partition = -1;
  bool has_worker = false;  // false: the partition's class counts
  std::string worker;
  std::string instance;
  std::vector<std::string> classes;
  int64_t answers = 0;
  std::vector<double> counts;
  std::vector<double> class_counts;
};

std::string WorkerStatsKey(std::string_view group, std::string_view project,
                           const std::string* worker, int32_t partition);
void AppendWorkerStatsJson(const WorkerStatsRecord& record, std::string& out);
// Parses a record's value (the key is redundant with it). InvalidArgument
// names what is wrong.
absl::Status DecodeWorkerStats(std::string_view value, WorkerStatsRecord* record);

// What a project knows of one worker's (or the class counts') statistics in
// one partition, in the project model's class ids.
struct PartitionStats {
  int64_t answers = 0;
  // K x K in the model's [l][k] layout for workers; K entries for class
  // counts; K is the model's class count when the entry was written (classes
  // only grow, so a shorter entry maps onto the first classes). Inline for
  // K <= 2: a project holds one entry per worker and partition.
  absl::InlinedVector<double, 4> counts;
  int32_t num_classes = 0;
};

// One worker's (or the class counts') entries, by partition: a vector sorted
// by partition, since a worker is in at most the P partitions (a btree_map
// took about three times the memory per entry).
class PartitionStatsMap {
 public:
  using Entry = std::pair<int32_t, PartitionStats>;
  using const_iterator = std::vector<Entry>::const_iterator;

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // The partition's entry, or end().
  const_iterator find(int32_t partition) const;
  // The partition's entry, added (empty) if missing.
  PartitionStats& operator[](int32_t partition);
  void erase(int32_t partition);

 private:
  std::vector<Entry> entries_;  // sorted by partition
};

// Per (partition, worker) (worker -1 for class counts) the StatsFingerprint
// of what was last sent, or kResendFingerprint: to be sent again whatever the
// live values (after a failed delivery). A fingerprint, not the values: 8
// bytes where a copy took about 100.
//
// How it works: per partition, while few of the workers have an entry, a hash
// map from worker to fingerprint (about 17 bytes per slot at a load of 7/16
// to 7/8); once an entry is held for more than a quarter of the worker ids
// seen there, an array indexed by worker id + 1 (8 bytes per worker, 0 meaning
// nothing sent). Workers answer across partitions (the tasks are spread by
// their keys), so the array is the usual form: at 100k workers over 16
// partitions, 1.15M entries took 35 MB in one hash map, 13 MB as arrays.
class SentFingerprints {
 public:
  // The fingerprint sent, or nullopt if nothing was.
  std::optional<uint64_t> Find(int32_t partition, int32_t worker) const;
  void Set(int32_t partition, int32_t worker, uint64_t fingerprint);
  // Forgets what was sent for the partition.
  void ErasePartition(int32_t partition);
  // Forgets what was sent for every partition that `keep` returns false for.
  template <typename Keep>
  void KeepPartitions(Keep&& keep) {
    std::erase_if(partitions_, [&](const Partition& p) { return !keep(p.partition); });
  }
  // Every entry to be sent again (kResendFingerprint).
  void MarkAllForResend();
  // Calls fn(partition, worker) for each entry.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Partition& p : partitions_) {
      if (p.dense.empty()) {
        for (const auto& [w, value] : p.sparse) fn(p.partition, w);
      } else {
        for (size_t i = 0; i < p.dense.size(); ++i) {
          if (p.dense[i] != kNone) fn(p.partition, static_cast<int32_t>(i) - 1);
        }
      }
    }
  }
  // Entries held.
  size_t size() const;

 private:
  // Stored values: kNone (nothing sent), kResend, or a fingerprint (which
  // StatsFingerprint never makes 0 or 1).
  static constexpr uint64_t kNone = 0;
  static constexpr uint64_t kResend = 1;
  struct Partition {
    int32_t partition = 0;
    size_t count = 0;                              // entries held
    size_t ids = 0;                                 // the largest worker id + 2 held (sparse)
    absl::flat_hash_map<int32_t, uint64_t> sparse;  // worker -> value, while dense is empty
    std::vector<uint64_t> dense;                    // [worker + 1] -> value
  };
  Partition* Get(int32_t partition);
  const Partition* Get(int32_t partition) const;

  std::vector<Partition> partitions_;  // in no order: few per instance
};

// The exchange state of one project: what the topic says per partition, and
// what this instance last sent for the partitions it owns. Guarded by the
// project's mutex.
struct ProjectExchange {
  // worker id -> partition -> the topic's latest record.
  absl::flat_hash_map<int32_t, PartitionStatsMap> topic_workers;
  PartitionStatsMap topic_classes;  // partition -> class counts
  // What this instance last sent per partition and worker, or what another
  // instance wrote under that key since.
  SentFingerprints sent;

  // Drops the topic's records of the partition (sent stays).
  void ErasePartition(int32_t partition);
};

inline uint64_t ExchangeKey(int32_t partition, int32_t worker) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(partition)) << 32) |
         static_cast<uint32_t>(worker + 1);
}

// A digest of statistics that decides whether they are sent again. Values
// that differ by more than the publishing threshold (a relative 1e-6: each
// entry is rounded to a step of at most 2^-20 (1 + |x|)), or in the answer
// count or the class count, give different fingerprints (but for a hash
// collision, 2^-64); values within it mostly give the same one, and else are
// sent again, which costs a record. Never kResendFingerprint, never 1.
inline constexpr uint64_t kResendFingerprint = 0;
uint64_t StatsFingerprint(int64_t answers, std::span<const double> counts, int32_t num_classes);
inline uint64_t StatsFingerprint(const PartitionStats& e) {
  return StatsFingerprint(e.answers, e.counts, e.num_classes);
}

// Adds `entry` (written with entry.num_classes classes) to `sum` (K x K, or
// K for class counts when `matrix` is false).
void AddStats(const PartitionStats& entry, int32_t num_classes, bool matrix, double* sum);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_WORKER_STATS_H_
