// Sweeper: full EM sweeps over each project's state, in the background at a
// fixed interval (only for projects changed since their last sweep), or now
// (restore, admin recompute). The fit runs without the project's lock, so
// ingestion goes on during a sweep; tasks changed meanwhile are re-estimated
// incrementally when the result is installed. After a sweep it publishes the
// changed consensus and refreshes the project's gauges and distributions.
//
//   Sweeper sweeper(projects, publisher, metrics, {.interval_s = 10});
//   std::thread t([&] { sweeper.Run(stop); });
#ifndef CONSENSUSD_CONSUMER_SWEEPER_H_
#define CONSENSUSD_CONSUMER_SWEEPER_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "consumer/output_publisher.h"
#include "consumer/project_set.h"
#include "metrics/service_metrics.h"

namespace consensusd::consumer {

struct SweeperOptions {
  double interval_s = 10;
  int per_worker_limit = 500;  // per-worker accuracy series per project
};

class Sweeper {
 public:
  // `publisher` may be null (no Kafka outputs, e.g. offline restore).
  Sweeper(ProjectSet& projects, OutputPublisher* publisher, metrics::ServiceMetrics* metrics,
          SweeperOptions options);

  // Sweeps changed projects every interval until `stop` is set.
  void Run(const std::atomic<bool>& stop);
  // Sweeps every project that changed since its last sweep (all when force).
  absl::Status SweepAll(bool force);
  // Sweeps one project now. Thread-safe; sweeps of one project are serialised.
  // Without publish, changed tasks stay dirty for a later PublishPending().
  absl::Status SweepProject(Project& project, bool force, bool publish = true);
  // Sweeps every project without publishing (the restore on start, which must
  // not wait for millions of output messages before the service is ready).
  absl::Status SweepAllQuietly();
  // Publishes the dirty tasks of every project (what a quiet sweep left).
  void PublishPending();

 private:
  static std::shared_ptr<const ProjectReport> BuildReport(const Project& project,
                                                         const consensus::SweepInput& input,
                                                         const consensus::Model& fitted,
                                                         double seconds);
  void UpdateMetrics(Project& project, const consensus::SweepInput& input,
                     const consensus::Model& fitted, const ProjectReport& report);

  ProjectSet& projects_;
  OutputPublisher* const publisher_;
  metrics::ServiceMetrics* const metrics_;
  const SweeperOptions options_;
  std::mutex sweep_mu_;  // one sweep at a time; guards swept_version_
  absl::flat_hash_map<const Project*, uint64_t> swept_version_;
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_SWEEPER_H_
