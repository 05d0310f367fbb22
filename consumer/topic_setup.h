// Creates the output topics a real Kafka cluster lacks, with the settings the
// service needs (compaction for the topics read as "latest per key"), through
// librdkafka's Admin API. A topic that exists is never altered, so that an
// operator's own settings (partitions, retention, replication) stay.
//
//   std::vector<TopicSpec> specs = {{.name = "labels.consensus", .compacted = true}};
//   absl::StatusOr<std::vector<TopicOutcome>> done =
//       CreateMissingTopics(properties, "labels", specs, /*timeout_ms=*/10000);
#ifndef CONSENSUSD_CONSUMER_TOPIC_SETUP_H_
#define CONSENSUSD_CONSUMER_TOPIC_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consumer/kafka_client.h"

namespace consensusd::consumer {

struct TopicSpec {
  // Partitions of a topic created like the input topic (as many as it has).
  static constexpr int kLikeInput = 0;

  std::string name;
  int partitions = 1;      // or kLikeInput
  bool compacted = false;  // cleanup.policy=compact; else the broker's defaults
};

struct TopicOutcome {
  enum class Result { kExisted, kCreated, kFailed };
  std::string name;
  Result result = Result::kExisted;
  int partitions = 0;   // when created
  absl::Status error;   // when failed
};

// Creates each topic of `specs` that the cluster does not list, with
// replication and every unset setting at the broker's defaults; a topic that
// another client creates meanwhile counts as existed. Returns the outcome of
// each spec, in order, or an error if the cluster could not be asked at all
// (no broker answered within `timeout_ms`). Unimplemented when the brokers do
// not support creating topics (librdkafka's mock cluster). If the input
// topic does not exist, kLikeInput means 1 partition.
absl::StatusOr<std::vector<TopicOutcome>> CreateMissingTopics(const KafkaProperties& properties,
                                                              const std::string& input_topic,
                                                              const std::vector<TopicSpec>& specs,
                                                              int timeout_ms);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_TOPIC_SETUP_H_
