// Sweeper: full EM sweeps of one project at a time. The fit runs without the
// project's lock, so ingestion goes on during a sweep; tasks changed meanwhile
// are re-estimated incrementally when the result is installed. After a sweep
// every task is marked for an output check, the project's report (for the
// API) is replaced and its gauges and distributions are refreshed.
// A pairwise or rating project is refitted whole by the batch code
// (consensus/pairwise.h, consensus/rating.h) with its default options (but
// the project's bootstrap replicates), so that a sweep gives what
// `aggregate --kind` gives.
//
//   Sweeper sweeper(&metrics, /*per_worker_limit=*/500);
//   absl::Status s = sweeper.SweepProject(project, /*force=*/false);
#ifndef CONSENSUSD_ENGINE_SWEEPER_H_
#define CONSENSUSD_ENGINE_SWEEPER_H_

#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/project.h"
#include "metrics/service_metrics.h"

namespace consensusd::engine {

class Sweeper {
 public:
  // `metrics` may be null (offline use).
  Sweeper(metrics::ServiceMetrics* metrics, int per_worker_limit);

  // Sweeps the project unless it is unchanged since its last sweep (always
  // when force). Thread-safe; sweeps are serialised.
  absl::Status SweepProject(Project& project, bool force);

 private:
  // The sweep of a pairwise or rating project (vote_sweep.cc): the batch
  // fit of the canonical copy of its votes (engine/vote_set.h).
  absl::Status SweepVotes(Project& project, bool force);
  static std::shared_ptr<const ProjectReport> BuildReport(const Project& project,
                                                         const consensus::SweepInput& input,
                                                         const consensus::Model& fitted,
                                                         double seconds);
  void UpdateMetrics(Project& project, const consensus::SweepInput& input,
                     const consensus::Model& fitted, const ProjectReport& report);

  metrics::ServiceMetrics* const metrics_;
  const int per_worker_limit_;
  std::mutex sweep_mu_;  // one sweep at a time; guards swept_version_
  absl::flat_hash_map<const Project*, uint64_t> swept_version_;
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_SWEEPER_H_
