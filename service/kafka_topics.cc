#include "service/kafka_topics.h"

#include <signal.h>

#include "absl/strings/str_cat.h"

namespace consensusd::service {

absl::StatusOr<std::unique_ptr<EmbeddedKafka>> EmbeddedKafka::Start(int brokers) {
  std::unique_ptr<EmbeddedKafka> kafka(new EmbeddedKafka());
  // The cluster lives in a client handle; quiet its "no bootstrap.servers" warning.
  absl::StatusOr<consumer::KafkaHandle> handle =
      consumer::NewKafkaHandle(RD_KAFKA_PRODUCER, {{"log_level", "2"}});
  if (!handle.ok()) return handle.status();
  kafka->handle_ = std::move(*handle);
  kafka->cluster_ = rd_kafka_mock_cluster_new(kafka->handle_.get(), brokers);
  if (kafka->cluster_ == nullptr) return absl::InternalError("cannot start the embedded Kafka cluster");
  kafka->bootstraps_ = rd_kafka_mock_cluster_bootstraps(kafka->cluster_);
  return kafka;
}

EmbeddedKafka::~EmbeddedKafka() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

absl::Status EmbeddedKafka::CreateTopic(const std::string& topic, int partitions) {
  return consumer::KafkaStatus(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1),
                               absl::StrCat("creating topic ", topic));
}

absl::Status EmbeddedKafka::CreateServiceTopics(const std::string& topic, int partitions) {
  absl::Status s = CreateTopic(topic, partitions);
  for (const char* suffix : {".consensus", ".review", ".dlq"}) {
    if (s.ok()) s = CreateTopic(topic + suffix, 1);
  }
  return s;
}

namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockStopSignals() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForStopSignal() {
  const sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int WaitForStopSignal(int timeout_ms) {
  const sigset_t set = StopSignals();
  const struct timespec timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  const int sig = sigtimedwait(&set, nullptr, &timeout);
  return sig > 0 ? sig : 0;
}

}  // namespace consensusd::service
