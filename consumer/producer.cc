#include "consumer/producer.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace consensusd::consumer {

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaProperties& properties,
                                                           DeliveryFn on_delivery) {
  KafkaProperties props = {{"linger.ms", "20"},
                           {"compression.codec", "lz4"},
                           {"enable.idempotence", "true"},
                           {"queue.buffering.max.messages", "100000"}};
  for (const auto& [k, v] : properties) props[k] = v;
  absl::StatusOr<KafkaConf> conf = NewKafkaConf(props);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<Producer> producer(new Producer());
  producer->on_delivery_ = std::move(on_delivery);
  producer->max_messages_ = std::strtoull(props["queue.buffering.max.messages"].c_str(), nullptr, 10);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Producer::OnDelivery);
  rd_kafka_conf_set_opaque(conf->get(), producer.get());
  absl::StatusOr<KafkaHandle> handle = NewKafkaHandle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!handle.ok()) return handle.status();
  producer->handle_ = std::move(*handle);
  return producer;
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* producer = static_cast<Producer*>(opaque);
  if (producer->on_delivery_) {
    producer->on_delivery_(message->_private, message->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                           message->err);
  }
}

absl::Status Producer::Send(std::string_view topic, std::string_view key, std::string_view value,
                            std::span<const Header> headers, void* opaque, int32_t partition) {
  const std::string topic_name(topic);
  rd_kafka_resp_err_t err;
  if (!headers.empty()) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const Header& header : headers) {
      rd_kafka_header_add(h, header.name.data(), static_cast<ssize_t>(header.name.size()),
                          header.value.data(), static_cast<ssize_t>(header.value.size()));
    }
    err = rd_kafka_producev(handle_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()),
                            RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(h);  // not taken
  } else {
    err = rd_kafka_producev(handle_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()),
                            RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                            RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_END);
  }
  return KafkaStatus(err, absl::StrCat("producing to ", topic_name));
}

absl::Status Producer::SendWaiting(std::string_view topic, std::string_view key,
                                   std::string_view value, std::span<const Header> headers,
                                   void* opaque, int32_t partition) {
  for (;;) {
    absl::Status s = Send(topic, key, value, headers, opaque, partition);
    if (!absl::IsUnavailable(s)) return s;
    Poll(10);
  }
}

absl::StatusOr<int> Producer::PartitionCount(const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err) return KafkaStatus(err, absl::StrCat("reading metadata of topic ", topic));
  int partitions = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md->topic_cnt == 1) {
    partitions = md->topics[0].partition_cnt;
    topic_err = md->topics[0].err;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err) return KafkaStatus(topic_err, absl::StrCat("topic ", topic));
  if (partitions <= 0) return absl::NotFoundError(absl::StrCat("topic ", topic, " has no partitions"));
  return partitions;
}

size_t Producer::Room() const {
  const int64_t depth = rd_kafka_outq_len(handle_.get());
  return depth >= static_cast<int64_t>(max_messages_) ? 0 : max_messages_ - static_cast<size_t>(depth);
}

absl::Status Producer::Flush(int timeout_ms) {
  return KafkaStatus(rd_kafka_flush(handle_.get(), timeout_ms), "flushing outputs");
}

}  // namespace consensusd::consumer
