#include "consumer/output_publisher.h"

#include <cmath>

#include "consumer/consensus_record.h"
#include "spdlog/spdlog.h"

namespace consensusd::consumer {

absl::StatusOr<std::unique_ptr<OutputPublisher>> OutputPublisher::Create(
    const KafkaProperties& properties, const OutputTopics& topics) {
  // message.max.bytes: the dead-letter topic gets a rejected message's original
  // bytes, too_large ones included (over 1 MiB, SPEC 3.2), which librdkafka's
  // default (1,000,000) would refuse to produce. This is the largest message
  // the consumer receives by default (receive.message.max.bytes); the DLQ
  // topic's max.message.bytes must allow what the input topic allows.
  KafkaProperties props = {{"linger.ms", "20"}, {"compression.codec", "lz4"},
                           {"enable.idempotence", "true"}, {"message.max.bytes", "100000000"}};
  for (const auto& [k, v] : properties) props[k] = v;
  absl::StatusOr<KafkaConf> conf = NewKafkaConf(props);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<OutputPublisher> publisher(new OutputPublisher(topics));
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &OutputPublisher::OnDelivery);
  rd_kafka_conf_set_opaque(conf->get(), publisher.get());
  absl::StatusOr<KafkaHandle> producer = NewKafkaHandle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer.ok()) return producer.status();
  publisher->producer_ = std::move(*producer);
  return publisher;
}

OutputPublisher::OutputPublisher(OutputTopics topics) : topics_(std::move(topics)) {}

void OutputPublisher::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  ++static_cast<OutputPublisher*>(opaque)->delivery_failures_;
  spdlog::warn("output to {} not delivered: {}", rd_kafka_topic_name(message->rkt),
               rd_kafka_err2str(message->err));
}

void OutputPublisher::Produce(const std::string& topic, std::string_view key,
                              std::string_view value, rd_kafka_headers_t* headers) {
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err;
    if (headers != nullptr) {
      err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END);
    } else {
      err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // librdkafka owns the headers now
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 1000) {
      rd_kafka_poll(producer_.get(), 10);
      continue;
    }
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    ++delivery_failures_;
    spdlog::warn("output to {} not queued: {}", topic, rd_kafka_err2str(err));
    return;
  }
}

int64_t OutputPublisher::PublishChanges(Project& project) {
  int64_t published = 0;
  consensus::StreamingModel& model = project.model;
  if (model.num_classes() == 0) {
    project.dirty_tasks.clear();
    return 0;
  }
  const int64_t now = NowMs();
  std::string record;
  for (const int32_t task : project.dirty_tasks) {
    project.dirty[task] = 0;
    const int32_t label = model.Label(task);
    if (label < 0 || (model.Answers(task).empty() && model.Gold(task) == consensus::kNoGold &&
                      project.published_label[task] < 0)) {
      continue;
    }
    const double confidence = model.Posterior(task)[label];
    const bool review = consensus::NeedsReview(
        confidence, static_cast<int64_t>(model.Answers(task).size()), project.settings.review);
    const bool changed = project.published_label[task] != label ||
                         std::fabs(project.published_confidence[task] - confidence) >=
                             project.settings.min_change;
    if (!changed && review == static_cast<bool>(project.published_review[task])) continue;
    record.clear();
    AppendConsensusJson(project.name, model, task, now, record);
    const std::string key = ConsensusKey(project.name, model.tasks().Name(task));
    if (changed) {
      Produce(topics_.consensus, key, record, nullptr);
      project.published_label[task] = label;
      project.published_confidence[task] = confidence;
      ++published;
    }
    if (review && !project.published_review[task]) Produce(topics_.review, key, record, nullptr);
    project.published_review[task] = review;
  }
  project.dirty_tasks.clear();
  Poll();
  return published;
}

void OutputPublisher::PublishRejection(std::string_view key, std::string_view raw,
                                       std::string_view reason, std::string_view detail) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(2);
  rd_kafka_header_add(headers, "consensusd-error", -1, reason.data(), reason.size());
  rd_kafka_header_add(headers, "consensusd-error-detail", -1, detail.data(), detail.size());
  Produce(topics_.dlq, key, raw, headers);
}

absl::Status OutputPublisher::Flush(int timeout_ms) {
  return KafkaStatus(rd_kafka_flush(producer_.get(), timeout_ms), "flushing outputs");
}

}  // namespace consensusd::consumer
