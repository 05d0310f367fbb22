// WorkerStatsExchange: the Kafka side of the global worker model (SPEC 8;
// engine/worker_stats.h, docs/scaling.md). It reads the whole compacted
// worker-statistics topic, from its beginning and then as it grows, into the
// engine, and publishes the statistics of this instance's ready partitions
// that changed, every interval and when a partition is revoked.
//
//   auto exchange = WorkerStatsExchange::Create(properties, options, engine, metrics);
//   std::thread t([&] { (*exchange)->Run(stop); });
//   (*exchange)->PublishPartition(7);  // before partition 7 is revoked
//
// How it works: a consumer without a group is assigned every partition of
// the topic at its beginning (the topic is read, never consumed as a group
// member); a producer of its own sends the records keyed per project, worker
// and partition, so compaction keeps the latest of each. A record that
// cannot be delivered makes the next interval send everything again. The
// model's age is the time since the reader was last at the end of every
// partition, as the brokers report it.
//
// Thread-safety: Run() on one thread; PublishPartition, caught_up and
// model_age_seconds from any thread.
#ifndef CONSENSUSD_CONSUMER_WORKER_STATS_EXCHANGE_H_
#define CONSENSUSD_CONSUMER_WORKER_STATS_EXCHANGE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "consumer/fetcher_waker.h"
#include "consumer/kafka_client.h"
#include "consumer/producer.h"
#include "engine/engine.h"
#include "metrics/service_metrics.h"

namespace consensusd::consumer {

struct WorkerStatsOptions {
  std::string topic = "consensusd.worker-stats";
  int interval_ms = 5000;
};

class WorkerStatsExchange {
 public:
  static absl::StatusOr<std::unique_ptr<WorkerStatsExchange>> Create(
      const KafkaProperties& properties, const WorkerStatsOptions& options, engine::Engine& engine,
      metrics::ServiceMetrics& metrics);
  ~WorkerStatsExchange();

  // Reads and publishes until `stop`, then publishes what changed one last
  // time and flushes (up to 10 s).
  void Run(const std::atomic<bool>& stop);
  // Publishes the partition's statistics that changed (before a revocation).
  void PublishPartition(int32_t partition);

  // The topic has been read to its end at least once.
  bool caught_up() const { return caught_up_.load(); }
  // Times the reader's fetcher was woken at librdkafka's fetch gate (FetcherWaker).
  int64_t fetcher_wakeups() const { return waker_->wakeups(); }
  // Seconds since the topic was last read to its end (since start before that).
  double model_age_seconds() const;

 private:
  WorkerStatsExchange(const WorkerStatsOptions& options, engine::Engine& engine,
                      metrics::ServiceMetrics& metrics);
  void Publish(int32_t partition);
  // Assigns every partition of the topic once it exists; false until then.
  bool AssignTopic();
  void Handle(const rd_kafka_message_t& m);
  // Whether the reader is at the brokers' end of every partition.
  bool AtEnd();

  const WorkerStatsOptions options_;
  engine::Engine& engine_;
  metrics::ServiceMetrics& metrics_;
  KafkaHandle reader_;
  rd_kafka_queue_t* reader_queue_ = nullptr;  // its consumer queue
  std::unique_ptr<FetcherWaker> waker_;
  std::unique_ptr<Producer> producer_;

  // Reader state (Run's thread only).
  std::vector<int64_t> position_;  // per partition: next offset, -1 unknown
  bool assigned_ = false;
  std::chrono::steady_clock::time_point next_invalid_log_;

  // Publish() from Run and from PublishPartition (the ingest thread): one at
  // a time, so that a key's records reach the producer in the order they
  // were collected (else an older value could be the topic's last).
  std::mutex publish_mu_;

  std::atomic<bool> caught_up_{false};
  std::atomic<bool> resend_{false};  // a record was not delivered
  std::atomic<int64_t> current_at_ms_;  // steady clock ms when last at the end
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_WORKER_STATS_EXCHANGE_H_
