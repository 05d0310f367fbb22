// Rebuilds the projects' in-memory models from the RocksDB state: class sets
// (in their stored order, so class ids are stable), exclusions, answers, gold
// and what was published per task. The derived state (posteriors, worker
// statistics) is not stored: a full sweep after the restore recomputes it
// exactly, since after a sweep it depends only on these inputs.
//
//   RestoreStats stats;
//   absl::Status s = RestoreState(store, projects, /*partition=*/-1, &stats);
#ifndef CONSENSUSD_ENGINE_STATE_RESTORE_H_
#define CONSENSUSD_ENGINE_STATE_RESTORE_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "engine/project.h"
#include "storage/state_store.h"

namespace consensusd::engine {

struct RestoreStats {
  int64_t answers = 0;
  int64_t gold = 0;
  int64_t projects = 0;
};

// partition -1 restores everything (REQUIRES: the projects are empty; they
// are locked while loading, so readers may look). A partition >= 0 loads that
// partition's answers and gold into live models, with incremental updates
// (classes and exclusions are already loaded; what was published is not
// loaded, so the partition's tasks are published once again). `progress`, if set, is called every 1M answers.
absl::Status RestoreState(const storage::StateStore& store, ProjectSet& projects,
                          int32_t partition, RestoreStats* stats,
                          const std::function<void(int64_t)>& progress = nullptr);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_STATE_RESTORE_H_
