// IngestLoop: consumes the input topic in a consumer group, decodes and
// validates each message, applies it to the engine, and commits the state
// changes together with each partition's next offset in one RocksDB write
// (Engine::Commit); then hands the consensus changes to the output publisher.
//
//   auto loop = IngestLoop::Create(properties, options, engine, publisher, metrics);
//   std::thread t([&] { status = (*loop)->Run(stop); });
//
// How it works: one thread takes what librdkafka has queued, up to
// kPollBatch messages at a time without waiting (or waits up to 20 ms for
// one), applies it message by message, and accumulates a batch, committed
// every commit_interval_ms or commit_max_messages. librdkafka 2.0's batch
// call can return messages that a rebalance served during the call made
// stale: they are dropped by partition and offset (HandleMessage). Offsets are never taken
// from Kafka: on assignment each partition starts at the offset stored in
// RocksDB (Engine::Assign), or at the beginning of the topic when none is
// stored, so the state and the offsets always agree (exactly-once state) and
// a new instance or group replays every answer. Offsets are also committed to
// Kafka (async), for operators' lag tools only. Rejected elements go to the
// dead-letter topic as they are met, except on a replay, for messages below
// the stored offset (they went there the first time). While the output
// producer's queue is full the assigned partitions are paused, so that
// nothing waits and nothing is dropped. A failed state commit stops the loop
// with an error: the process must restart from the committed state.
//
// Readiness: each assigned partition restores (Engine::SetPartitionReady is
// false, its outputs wait) until the consumer reaches the partition's end as
// it was at assignment (RestoringPartitions); the loop is ready when it has
// joined the group, no partition restores and the brokers answer. Broker
// health comes from librdkafka's all-brokers-down error and a metadata probe
// every second (short timeout), so an outage shows within a few seconds even
// when no message arrives.
//
// Thread-safety: Run() on one thread; ready(), brokers(), counters from any thread.
#ifndef CONSENSUSD_CONSUMER_INGEST_LOOP_H_
#define CONSENSUSD_CONSUMER_INGEST_LOOP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consumer/fetcher_waker.h"
#include "consumer/kafka_client.h"
#include "consumer/message_decoder.h"
#include "consumer/output_publisher.h"
#include "consumer/readiness.h"
#include "engine/engine.h"
#include "metrics/service_metrics.h"

namespace consensusd::consumer {

struct IngestOptions {
  std::string topic = "labels";
  std::string group = "consensusd";
  // Static membership (group.instance.id); empty = dynamic.
  std::string instance_id;
  // Called with each partition being revoked, after what was consumed from
  // it is committed and before it is released (scale-out: its worker
  // statistics are published one last time). May be empty.
  std::function<void(int32_t partition)> before_revoke;
  int commit_interval_ms = 5;
  int commit_max_messages = 50000;
  // Start every assigned partition at its beginning, ignoring stored offsets
  // (a replay: answers already applied change nothing).
  bool replay_from_start = false;
  // A stored offset that is no longer in the topic (docs/operations.md).
  enum class OutOfRange { kEarliest, kLatest, kFail };
  OutOfRange offset_out_of_range = OutOfRange::kEarliest;
};

class IngestLoop {
 public:
  // Messages taken from librdkafka's queue per call. Taking them one by one
  // (rd_kafka_consumer_poll) costs more than applying a single-answer message.
  static constexpr size_t kPollBatch = 256;

  // `properties` holds bootstrap.servers and any user properties; the group
  // and the offset settings the design needs are added here.
  static absl::StatusOr<std::unique_ptr<IngestLoop>> Create(
      const KafkaProperties& properties, const IngestOptions& options, engine::Engine& engine,
      OutputPublisher& publisher, metrics::ServiceMetrics& metrics);
  ~IngestLoop();

  // Consumes until `stop` is set, then commits and leaves the group. Returns
  // an error if state cannot be committed.
  absl::Status Run(const std::atomic<bool>& stop);

  // The group assigned partitions (none is fine), every one has caught up,
  // and the brokers answer.
  bool ready() const { return ready_.load(); }
  // Whether the group has given this member its assignment (possibly empty),
  // and no rebalance has taken partitions away since without giving the
  // new assignment yet (e.g. after the session was lost in an outage).
  bool joined() const { return joined_.load(); }
  BrokerHealth::State brokers() const { return brokers_state_.load(); }
  int64_t messages_consumed() const { return messages_consumed_.load(); }
  int64_t answers_committed() const { return answers_committed_.load(); }
  // Times the fetcher was woken after stopping at queued.min.messages (WakeFetcher).
  int64_t fetcher_wakeups() const { return fetcher_waker_->wakeups(); }

 private:
  class Applier;
  IngestLoop(const IngestOptions& options, engine::Engine& engine, OutputPublisher& publisher,
             metrics::ServiceMetrics& metrics);

  void HandleMessage(const rd_kafka_message_t& message);
  absl::Status Commit();
  void UpdateLag();
  // A fetch position no longer in the topic: logs, counts, and applies
  // options_.offset_out_of_range.
  void OffsetOutOfRange(const rd_kafka_message_t& m);
  void UpdateReady();
  // Probes the brokers (metadata, short timeout) and updates their state.
  void CheckBrokers();
  void SetBrokerState(bool changed);
  // Queries the end of each restoring partition whose end is unknown.
  void QueryRestoreEnds();
  // The partition caught up: its outputs may go.
  void MarkReady(int32_t partition, const char* how);
  // The partition gauges from the engine's owned partitions.
  void ExportPartitions();
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  // A failed offset commit to Kafka (e.g. during a rebalance) is made again at
  // the next housekeeping, so that lag tools do not show a stale offset.
  static void OnOffsetCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void CommitPositionsToKafka();
  // Pumps outputs; pauses the assigned partitions while the producer is full.
  // Between messages one chunk is sent; `idle` (nothing was consumed) sends
  // chunks for up to a few milliseconds.
  void PumpOutputs(bool idle = false);
  void SetPaused(bool paused);
  // The queue was seen at librdkafka's fetch gate and is drained: wakes the
  // brokers that lead the partitions with more to fetch (FetcherWaker).
  void WakeFetcher();
  // Whether `partition` is assigned to this instance now (assigned_, by index).
  bool Owns(int32_t partition) const {
    return partition >= 0 && static_cast<size_t>(partition) < owned_.size() && owned_[partition];
  }
  void SetOwned(int32_t partition, bool owned);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  const IngestOptions options_;
  engine::Engine& engine_;
  OutputPublisher& publisher_;
  metrics::ServiceMetrics& metrics_;
  KafkaHandle consumer_;
  std::unique_ptr<Applier> applier_;
  MessageDecoder decoder_;

  // The uncommitted batch (loop thread only).
  engine::IngestBatch batch_;
  std::chrono::steady_clock::time_point first_pending_;
  absl::flat_hash_map<int32_t, int64_t> pending_offsets_;  // partition -> next offset, for Kafka

  // Assignment and positions (loop thread only).
  std::vector<int32_t> assigned_;
  std::vector<bool> owned_;  // by partition: in assigned_
  std::unique_ptr<FetcherWaker> fetcher_waker_;
  absl::flat_hash_map<int32_t, int64_t> next_offset_;
  // On a replay: the stored offset per partition, below which rejections were
  // already dead-lettered.
  absl::flat_hash_map<int32_t, int64_t> dead_lettered_below_;
  bool paused_ = false;
  bool recommit_ = false;  // an offset commit to Kafka failed (loop thread only)
  bool kafka_commit_dirty_ = false;  // offsets committed since the last full commit
  bool closing_ = false;  // Run() is leaving the group
  const std::atomic<bool>* stop_ = nullptr;  // Run()'s; read between partition loads
  std::chrono::steady_clock::time_point next_pause_log_;
  absl::flat_hash_map<int32_t, prometheus::Gauge*> lag_gauges_;
  prometheus::Counter* consumed_counter_;
  RestoringPartitions restoring_;
  bool query_ends_ = false;  // partitions were assigned: query their ends
  absl::flat_hash_map<int32_t, std::chrono::steady_clock::time_point> assigned_at_;
  BrokerHealth broker_health_;
  // Set by the error callback (librdkafka's threads or the poll), taken by the loop.
  std::atomic<bool> all_brokers_down_{false};

  std::atomic<bool> ready_{false};
  std::atomic<BrokerHealth::State> brokers_state_{BrokerHealth::State::kUnknown};
  std::atomic<bool> assigned_once_{false};
  std::atomic<bool> joined_{false};
  std::atomic<int64_t> messages_consumed_{0};
  int64_t consumed_at_check_ = -1;  // messages_consumed_ at the last housekeeping
  std::atomic<int64_t> answers_committed_{0};
  absl::Status rebalance_status_;
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_INGEST_LOOP_H_
