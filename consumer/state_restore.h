// Rebuilds the projects' in-memory models from the RocksDB state on start:
// class sets (in their stored order, so class ids are stable), exclusions,
// answers and gold. The derived state (posteriors, worker statistics) is not
// stored: a full sweep after the restore recomputes it exactly, since after a
// sweep it depends only on these inputs.
//
//   RestoreStats stats;
//   absl::Status s = RestoreState(store, projects, &stats);
//   sweeper.SweepAll(/*force=*/true);
#ifndef CONSENSUSD_CONSUMER_STATE_RESTORE_H_
#define CONSENSUSD_CONSUMER_STATE_RESTORE_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "consumer/project_set.h"
#include "storage/state_store.h"

namespace consensusd::consumer {

struct RestoreStats {
  int64_t answers = 0;
  int64_t gold = 0;
  int64_t projects = 0;
};

// REQUIRES: the projects are empty, and nothing else uses them meanwhile.
// `progress`, if set, is called every 1M answers with the count so far.
absl::Status RestoreState(const storage::StateStore& store, ProjectSet& projects,
                          RestoreStats* stats,
                          const std::function<void(int64_t)>& progress = nullptr);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_STATE_RESTORE_H_
