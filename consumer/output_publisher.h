// OutputPublisher: the service's outputs on Kafka. It moves the engine's
// consensus changes to the compacted consensus topic and the review topic,
// and rejected input to the dead-letter topic (original bytes, header
// `consensusd-error`), through the one Producer.
//
//   OutputPublisher publisher(producer, engine, topics, metrics);
//   publisher.Reject(key, raw, "malformed_json", detail);
//   bool full = publisher.Pump();  // true: pause consumption until it drains
//
// Delivery is at-least-once and never blocks: records are formed by the
// engine under its lock and sent after it is released, only as many as the
// producer's queue has room for, and at most kMaxRecordsPerPump a call: a
// sweep that changes a million tasks is sent over many calls, between which
// the consume loop goes on applying answers (a pending consensus change is a
// flag per task, so nothing grows while it waits). A task counts as published
// when its delivery report succeeds; a failed delivery makes the engine send
// it again. Dead letters that do not fit wait in a backlog (the consume loop
// pauses while they wait, or while the queue is full, so the backlog stays
// small); a failed one is re-queued.
//
// Thread-safety: one thread calls Pump, Reject and Poll (the consume loop);
// delivery reports arrive on that thread.
#ifndef CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_
#define CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consumer/producer.h"
#include "engine/engine.h"
#include "metrics/service_metrics.h"

namespace consensusd::consumer {

struct OutputTopics {
  std::string consensus = "labels.consensus";
  std::string review = "labels.review";
  std::string dlq = "labels.dlq";
};

class OutputPublisher {
 public:
  // Creates the producer from `properties` (bootstrap.servers and the user's).
  static absl::StatusOr<std::unique_ptr<OutputPublisher>> Create(const KafkaProperties& properties,
                                                                 const OutputTopics& topics,
                                                                 engine::Engine& engine,
                                                                 metrics::ServiceMetrics& metrics);
  ~OutputPublisher();

  // Records formed per Pump call: about a millisecond of the loop's time.
  static constexpr size_t kMaxRecordsPerPump = 2048;

  // Sends the dead-letter backlog and up to kMaxRecordsPerPump of the engine's
  // pending outputs, as many as the producer's queue takes. Returns true when
  // consumption should pause: dead letters wait, or outputs wait for a full
  // queue.
  bool Pump();
  // Sends a rejected element to the dead-letter topic (or the backlog).
  void Reject(std::string_view key, std::string_view raw, std::string_view reason,
              std::string_view detail);
  // Whether something waits for room in the producer's queue.
  bool backlogged() const { return engine_pending_ || !dead_letters_.empty(); }
  // Serves delivery reports.
  void Poll();
  // Waits for every queued message (shutdown).
  absl::Status Flush(int timeout_ms);

 private:
  struct DeadLetter {
    std::string key, raw, reason, detail;
  };
  struct Delivery;  // the opaque of each sent message

  OutputPublisher(const OutputTopics& topics, engine::Engine& engine,
                  metrics::ServiceMetrics& metrics);
  // Sends a dead letter; false (and it stays with the caller) when the queue is full.
  bool SendDeadLetter(DeadLetter& letter);
  void OnDelivery(void* opaque, bool delivered, rd_kafka_resp_err_t err);

  const OutputTopics topics_;
  engine::Engine& engine_;
  metrics::ServiceMetrics& metrics_;
  std::unique_ptr<Producer> producer_;
  // A Delivery from the pool (or a new one); Release gives it back.
  Delivery* NewDelivery();
  void Release(Delivery* d);

  std::deque<DeadLetter> dead_letters_;  // waiting for room
  engine::OutputBatch records_;          // scratch, reused
  // Every Delivery made, and those free: one allocation per message in
  // flight at the peak, not one per message.
  std::vector<std::unique_ptr<Delivery>> deliveries_;
  std::vector<Delivery*> free_;
  bool engine_pending_ = false;
  std::chrono::steady_clock::time_point next_error_log_;  // permanent errors log once a minute
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_
