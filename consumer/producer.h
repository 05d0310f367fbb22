// Producer: consensusd's one Kafka producer, used by `serve` (outputs and the
// dead-letter topic), `produce` and `demo`. It never sleeps on a full queue:
// Send() says so (Unavailable) and the caller decides, e.g. the consume loop
// pauses its partitions, a command-line backfill waits with SendWaiting().
//
//   auto producer = Producer::Create(properties, [](void* opaque, bool ok) { ... });
//   absl::Status s = (*producer)->Send("labels", key, value);
//   (*producer)->Poll(0);  // serves delivery reports on this thread
//
// Thread-safety: Send, Poll and Flush may be called from any thread; the
// delivery callback runs on the thread that calls Poll or Flush.
#ifndef CONSENSUSD_CONSUMER_PRODUCER_H_
#define CONSENSUSD_CONSUMER_PRODUCER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consumer/kafka_client.h"

namespace consensusd::consumer {

class Producer {
 public:
  struct Header {
    std::string_view name, value;
  };
  // Called once per sent message with the opaque given to Send and whether
  // the broker acknowledged it (after librdkafka's own retries).
  using DeliveryFn = std::function<void(void* opaque, bool delivered, rd_kafka_resp_err_t err)>;

  // `properties` holds bootstrap.servers and any user properties; defaults
  // for throughput (lz4, linger) and safety (idempotence) are added.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const KafkaProperties& properties,
                                                          DeliveryFn on_delivery = nullptr);

  // Queues one message (copied). Unavailable when the local queue is full
  // (nothing queued); other errors name the topic.
  // `partition` -1 lets the partitioner pick (by key).
  absl::Status Send(std::string_view topic, std::string_view key, std::string_view value,
                    std::span<const Header> headers = {}, void* opaque = nullptr,
                    int32_t partition = RD_KAFKA_PARTITION_UA);
  // Send, serving delivery reports while the queue is full (for commands that
  // may wait; never on a path that must not block).
  absl::Status SendWaiting(std::string_view topic, std::string_view key, std::string_view value,
                           std::span<const Header> headers = {}, void* opaque = nullptr,
                           int32_t partition = RD_KAFKA_PARTITION_UA);

  // The partition count of `topic`, asking the brokers (waits up to timeout_ms).
  absl::StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms);
  // Messages that fit into the local queue now.
  size_t Room() const;
  // Messages queued or in flight.
  int64_t queue_depth() const { return rd_kafka_outq_len(handle_.get()); }
  // Serves delivery reports, waiting up to timeout_ms for one.
  void Poll(int timeout_ms) { rd_kafka_poll(handle_.get(), timeout_ms); }
  // Waits until every queued message is delivered or failed.
  absl::Status Flush(int timeout_ms);
  rd_kafka_t* handle() { return handle_.get(); }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  KafkaHandle handle_;
  DeliveryFn on_delivery_;
  size_t max_messages_ = 100000;  // queue.buffering.max.messages
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_PRODUCER_H_
