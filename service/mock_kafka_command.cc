// consensusd mock-kafka: a standalone Kafka-protocol broker on loopback
// (librdkafka's mock cluster) for development and tests.

#include <cstdio>

#include "service/commands.h"
#include "service/kafka_topics.h"

namespace consensusd::service {

Command AddMockKafkaCommand(CLI::App& parent) {
  struct Flags {
    int partitions = 4;
    std::vector<std::string> topics = {"labels"};
    int brokers = 1;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* app = parent.add_subcommand(
      "mock-kafka",
      "Run an embedded Kafka-protocol broker on loopback (librdkafka's mock cluster) for "
      "development and tests. Prints its bootstrap address, then runs until SIGINT/SIGTERM. "
      "Creates the input topic and its .consensus/.review/.dlq outputs. "
      "A partition keeps at most 5 MiB: use more partitions or lz4 for large runs.");
  app->add_option("--partitions", flags->partitions, "partitions of the input topic")
      ->check(PositiveInteger());
  app->add_option("--topic", flags->topics, "input topic name (repeatable)");
  app->add_option("--brokers", flags->brokers, "number of mock brokers")->check(IntegerInRange(1, 16));
  return {app, [flags]() -> int {
            BlockStopSignals();
            absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(flags->brokers);
            if (!kafka.ok()) return Failure("mock-kafka", kafka.status());
            for (const std::string& topic : flags->topics) {
              absl::Status s = (*kafka)->CreateServiceTopics(topic, flags->partitions);
              if (!s.ok()) return Failure("mock-kafka", s);
            }
            std::printf("%s\n", (*kafka)->bootstraps().c_str());
            std::fflush(stdout);
            WaitForStopSignal();
            return kExitOk;
          }};
}

}  // namespace consensusd::service
