// Helpers for the Kafka-facing commands: the embedded (mock) cluster and
// waiting for a stop signal.
//
//   absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
//   (*kafka)->CreateTopic("labels", 8);
//   std::string brokers = (*kafka)->bootstraps();
#ifndef CONSENSUSD_SERVICE_KAFKA_TOPICS_H_
#define CONSENSUSD_SERVICE_KAFKA_TOPICS_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "consumer/kafka_client.h"

namespace consensusd::service {

// librdkafka's mock cluster: a Kafka-protocol broker on loopback, in process.
// It keeps at most 5 MiB or 100,000 message batches per partition.
class EmbeddedKafka {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedKafka>> Start(int brokers);
  ~EmbeddedKafka();

  absl::Status CreateTopic(const std::string& topic, int partitions);
  // The input topic and the service's default output topics derived from it
  // (<topic>.consensus, <topic>.review, <topic>.dlq).
  absl::Status CreateServiceTopics(const std::string& topic, int partitions);
  const std::string& bootstraps() const { return bootstraps_; }
  // For fault injection (rd_kafka_mock_broker_set_down, partition leaders).
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

 private:
  EmbeddedKafka() = default;
  consumer::KafkaHandle handle_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

// Blocks SIGINT and SIGTERM in the calling thread (call before starting
// threads, so they inherit the mask) and returns; WaitForStopSignal() then
// waits for one of them.
void BlockStopSignals();
int WaitForStopSignal();
// Waits up to timeout_ms for SIGINT or SIGTERM; returns the signal or 0.
int WaitForStopSignal(int timeout_ms);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_KAFKA_TOPICS_H_
