// Service: the whole `consensusd serve` process as an object, so that `serve`
// and `demo` run the same thing: the RocksDB state, the engine and its
// restore, the ingest loop, background sweeps, the Kafka outputs and the HTTP
// endpoint.
//
//   absl::StatusOr<std::unique_ptr<Service>> s = Service::Start(config);
//   ... (*s)->RequestStop();             // e.g. from a signal
//   absl::Status done = (*s)->Wait();    // commits, flushes, closes
//
// Start order: state store, HTTP (healthz answers during the restore, readyz
// says 503), restore and a full sweep, then Kafka. Stop order: the ingest loop
// commits and leaves the group, sweeps stop, outputs are flushed and what they
// confirmed is stored, HTTP stops, RocksDB closes.
#ifndef CONSENSUSD_SERVICE_SERVICE_H_
#define CONSENSUSD_SERVICE_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/http_server.h"
#include "consumer/ingest_loop.h"
#include "consumer/output_publisher.h"
#include "consumer/worker_stats_exchange.h"
#include "consumer/topic_setup.h"
#include "engine/engine.h"
#include "metrics/service_metrics.h"
#include "service/config.h"
#include "storage/state_store.h"

namespace consensusd::service {

class Service {
 public:
  // REQUIRES: config.Validate() is OK.
  // replay_from_start: consume every partition from its beginning, ignoring
  // the stored offsets (serve --replay).
  static absl::StatusOr<std::unique_ptr<Service>> Start(const Config& config,
                                                        bool replay_from_start = false);
  ~Service();

  // Thread-safe; may be called from any thread (not from a signal handler).
  void RequestStop();
  bool stop_requested() const { return stop_.load(); }
  // Blocks until RequestStop() (or a fatal ingest error), then shuts down in
  // order. Returns the ingest loop's error, if any.
  absl::Status Wait();

  // What /readyz reports: ready once the state is restored, the group has
  // assigned partitions, every owned partition has caught up and the brokers
  // answer.
  api::Readiness Readiness() const;
  bool ready() const { return Readiness().ready; }
  const std::string& http_address() const { return http_->address(); }
  engine::Engine& engine() { return *engine_; }
  // Flushes the state store's memtables when nothing was written since the
  // previous call (StateStore::FlushIfIdle); for the main thread's periodic
  // housekeeping, one caller.
  void FlushStateIfIdle();
  metrics::ServiceMetrics& metrics() { return metrics_; }
  // (HTTP threads call these from the start: loop_ is read only once
  // ingest_started_ says it is set.)
  int64_t messages_consumed() const {
    return ingest_started_.load() && loop_ ? loop_->messages_consumed() : 0;
  }
  int64_t answers_committed() const {
    return ingest_started_.load() && loop_ ? loop_->answers_committed() : 0;
  }
  int64_t fetcher_wakeups() const {
    return ingest_started_.load() && loop_ ? loop_->fetcher_wakeups() : 0;
  }
  // The same for the worker-statistics reader.
  int64_t stats_fetcher_wakeups() const {
    const consumer::WorkerStatsExchange* x = exchange_view_.load();
    return x != nullptr ? x->fetcher_wakeups() : 0;
  }

 private:
  Service(const Config& config, bool replay_from_start);
  absl::Status Open();
  // Creates the output topics the cluster lacks (a warning if it cannot).
  void CreateOutputTopics();

  const Config config_;
  const bool replay_from_start_;
  metrics::ServiceMetrics metrics_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<consumer::OutputPublisher> publisher_;
  std::unique_ptr<consumer::WorkerStatsExchange> exchange_;
  std::atomic<const consumer::WorkerStatsExchange*> exchange_view_{nullptr};  // for /metrics
  std::unique_ptr<consumer::IngestLoop> loop_;
  std::unique_ptr<api::HttpServer> http_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> restored_{false};
  std::atomic<bool> ingest_started_{false};  // loop_ is set
  std::atomic<bool> stats_stop_{false};  // set after the ingest loop has stopped
  std::thread ingest_thread_, sweep_thread_, stats_thread_;
  absl::Status ingest_status_;
  bool waited_ = false;
};

// The settings of a project under `config` (model, classes, thresholds, output).
engine::ProjectSettings ProjectSettingsOf(const Config& config, std::string_view project);

// The HTTP server's options under the http section.
api::HttpOptions HttpOptionsOf(const Config::Http& http);

// librdkafka properties of the config: kafka.properties plus bootstrap.servers.
consumer::KafkaProperties KafkaPropertiesOf(const Config& config);

// The output topics `serve` creates when missing (docs/operations.md): the
// consensus and review topics compacted, with the input topic's partition
// count; the dead-letter topic with one partition and the broker's defaults;
// the worker-statistics topic compacted, with one partition.
std::vector<consumer::TopicSpec> OutputTopicSpecs(const Config& config,
                                                  const std::string& worker_stats_topic);

// An engine over `store` with the config's project settings and sweep options.
std::unique_ptr<engine::Engine> NewEngine(const Config& config, storage::StateStore& store,
                                          metrics::ServiceMetrics* metrics);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_SERVICE_H_
