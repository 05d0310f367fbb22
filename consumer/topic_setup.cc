#include "consumer/topic_setup.h"

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace consensusd::consumer {
namespace {

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};

struct ClusterView {
  absl::flat_hash_map<std::string, int> topics;  // name -> partition count
  bool has_controller = false;  // the controller it reports is one of its brokers
};

// Every topic the cluster lists, and whether a controller can create topics.
absl::StatusOr<ClusterView> DescribeCluster(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  // All topics: asking for one by name may auto-create it on the broker.
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &raw, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "listing the Kafka topics");
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
  ClusterView view;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR) view.topics[t.topic] = t.partition_cnt;
  }
  // (librdkafka's mock cluster reports controller 0, with brokers from 1.)
  const int32_t controller = rd_kafka_controllerid(rk, 0);
  for (int i = 0; i < metadata->broker_cnt; ++i) {
    if (metadata->brokers[i].id == controller) view.has_controller = true;
  }
  return view;
}

}  // namespace

absl::StatusOr<std::vector<TopicOutcome>> CreateMissingTopics(const KafkaProperties& properties,
                                                              const std::string& input_topic,
                                                              const std::vector<TopicSpec>& specs,
                                                              int timeout_ms) {
  absl::StatusOr<KafkaHandle> admin = NewKafkaHandle(RD_KAFKA_PRODUCER, properties);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<ClusterView> cluster = DescribeCluster(admin->get(), timeout_ms);
  if (!cluster.ok()) return cluster.status();
  const absl::flat_hash_map<std::string, int>& existing = cluster->topics;
  auto input = existing.find(input_topic);
  const int input_partitions = input == existing.end() ? 1 : input->second;

  std::vector<TopicOutcome> outcomes;
  std::vector<std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>> owned;
  std::vector<rd_kafka_NewTopic_t*> requests;
  absl::flat_hash_map<std::string, size_t> index;  // name -> outcome
  for (const TopicSpec& spec : specs) {
    TopicOutcome& outcome = outcomes.emplace_back();
    outcome.name = spec.name;
    if (existing.contains(spec.name) || index.contains(spec.name)) continue;
    outcome.partitions = spec.partitions == TopicSpec::kLikeInput ? input_partitions : spec.partitions;
    char err[512];
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(spec.name.c_str(), outcome.partitions,
                                                       /*replication_factor=*/-1, err, sizeof err);
    if (topic == nullptr) {
      outcome.result = TopicOutcome::Result::kFailed;
      outcome.error = absl::InvalidArgumentError(absl::StrCat("topic ", spec.name, ": ", err));
      continue;
    }
    owned.emplace_back(topic);
    if (spec.compacted) {
      const rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(e, "cleanup.policy=compact");
    }
    requests.push_back(topic);
    index[spec.name] = outcomes.size() - 1;
    outcome.result = TopicOutcome::Result::kFailed;  // until the result says otherwise
    outcome.error = absl::UnknownError(absl::StrCat("creating topic ", spec.name, ": no result"));
  }
  if (requests.empty()) return outcomes;
  // Topics are created through the controller. Without one (librdkafka's mock
  // cluster, which has no Admin API either) the request would only time out.
  if (!cluster->has_controller) {
    return absl::UnimplementedError("the Kafka brokers report no controller: topics cannot be created");
  }

  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(admin->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  char err[512];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, err, sizeof err);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_CreateTopics(admin->get(), requests.data(), requests.size(), options.get(), queue.get());
  // The request's own timeout bounds the wait; the margin covers the rest.
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), 2 * timeout_ms + 1000));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat("creating the Kafka topics: no answer within ", 2 * timeout_ms + 1000, " ms"));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaStatus(rd_kafka_event_error(event.get()),
                       absl::StrCat("creating the Kafka topics (", rd_kafka_event_error_string(event.get()), ")"));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    auto it = index.find(rd_kafka_topic_result_name(results[i]));
    if (it == index.end()) continue;
    TopicOutcome& outcome = outcomes[it->second];
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      outcome.result = TopicOutcome::Result::kCreated;
      outcome.error = absl::OkStatus();
    } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      outcome.result = TopicOutcome::Result::kExisted;  // created meanwhile by another client
      outcome.error = absl::OkStatus();
    } else {
      const char* detail = rd_kafka_topic_result_error_string(results[i]);
      outcome.result = TopicOutcome::Result::kFailed;
      outcome.error = KafkaStatus(e, absl::StrCat("creating topic ", outcome.name,
                                                  detail != nullptr ? absl::StrCat(" (", detail, ")") : ""));
    }
  }
  return outcomes;
}

}  // namespace consensusd::consumer
