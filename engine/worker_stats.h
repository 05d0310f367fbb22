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

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
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
  // only grow, so a shorter entry maps onto the first classes).
  std::vector<double> counts;
  int32_t num_classes = 0;
  // In `sent`: to be sent again whatever the live values (after a failed
  // delivery); kept rather than erased so that what is gone is sent as zeros.
  bool resend = false;
};

// The exchange state of one project: what the topic says per partition, and
// what this instance last sent for the partitions it owns. Guarded by the
// project's mutex.
struct ProjectExchange {
  // worker id -> partition -> the topic's latest record.
  absl::flat_hash_map<int32_t, absl::btree_map<int32_t, PartitionStats>> topic_workers;
  absl::btree_map<int32_t, PartitionStats> topic_classes;  // partition -> class counts
  // (partition << 32 | worker + 1) -> what this instance last sent (worker -1
  // for class counts), or what another instance wrote under that key since.
  absl::flat_hash_map<uint64_t, PartitionStats> sent;
};

inline uint64_t ExchangeKey(int32_t partition, int32_t worker) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(partition)) << 32) |
         static_cast<uint32_t>(worker + 1);
}

// Whether two statistics differ by more than rounding: any entry by more than
// a relative 1e-6, or the answer count; always when either is marked resend.
bool StatsDiffer(const PartitionStats& a, const PartitionStats& b);
// The same, against values not held in a PartitionStats (never marked resend).
bool StatsDiffer(const PartitionStats& a, int64_t answers, std::span<const double> counts,
                 int32_t num_classes);

// Adds `entry` (written with entry.num_classes classes) to `sum` (K x K, or
// K for class counts when `matrix` is false).
void AddStats(const PartitionStats& entry, int32_t num_classes, bool matrix, double* sum);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_WORKER_STATS_H_
