// OutputPublisher: the producer side of the service. Publishes consensus
// changes (compacted consensus topic), tasks that start needing review (review
// topic) and rejected input (dead-letter topic, original bytes and a
// `consensusd-error` header). Thread-safe. Delivery is at-least-once: librdkafka retries,
// and a restart republishes every task's consensus.
//
//   auto publisher = OutputPublisher::Create(properties, topics);
//   std::lock_guard<std::mutex> lock(project.mu);
//   (*publisher)->PublishChanges(project);
#ifndef CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_
#define CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "consumer/kafka_client.h"
#include "consumer/project_set.h"

namespace consensusd::consumer {

struct OutputTopics {
  std::string consensus = "labels.consensus";
  std::string review = "labels.review";
  std::string dlq = "labels.dlq";
};

class OutputPublisher {
 public:
  // `properties` holds bootstrap.servers and any user properties.
  static absl::StatusOr<std::unique_ptr<OutputPublisher>> Create(const KafkaProperties& properties,
                                                                 const OutputTopics& topics);

  // Publishes every dirty task of `project` whose label changed or whose
  // confidence moved by at least min_change since it was last published, and
  // the tasks that became needs_review; clears the dirty list.
  // REQUIRES: project.mu held. Returns the number of consensus records published.
  int64_t PublishChanges(Project& project);

  // Publishes a rejected element to the dead-letter topic.
  void PublishRejection(std::string_view key, std::string_view raw, std::string_view reason,
                        std::string_view detail);

  // Serves delivery reports; call often.
  void Poll() { rd_kafka_poll(producer_.get(), 0); }
  // Waits for every queued message (shutdown).
  absl::Status Flush(int timeout_ms);
  int64_t delivery_failures() const { return delivery_failures_.load(); }

 private:
  explicit OutputPublisher(OutputTopics topics);
  void Produce(const std::string& topic, std::string_view key, std::string_view value,
               rd_kafka_headers_t* headers);
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  KafkaHandle producer_;
  const OutputTopics topics_;
  std::atomic<int64_t> delivery_failures_{0};
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_OUTPUT_PUBLISHER_H_
