#include "consumer/output_publisher.h"

#include <algorithm>
#include <chrono>

#include "spdlog/spdlog.h"

namespace consensusd::consumer {

struct OutputPublisher::Delivery {
  bool dead_letter = false;
  engine::OutputRecord::Ticket ticket;  // outputs
  DeadLetter letter;                    // dead letters
};

absl::StatusOr<std::unique_ptr<OutputPublisher>> OutputPublisher::Create(
    const KafkaProperties& properties, const OutputTopics& topics, engine::Engine& engine,
    metrics::ServiceMetrics& metrics) {
  std::unique_ptr<OutputPublisher> publisher(new OutputPublisher(topics, engine, metrics));
  OutputPublisher* p = publisher.get();
  // message.max.bytes: the dead-letter topic gets a rejected message's
  // original bytes, too_large ones included (over 1 MiB, SPEC 3.2), which
  // librdkafka's default (1,000,000) would refuse to produce.
  KafkaProperties props = {{"message.max.bytes", "100000000"}};
  for (const auto& [k, v] : properties) props[k] = v;
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(
      props,
      [p](void* opaque, bool delivered, rd_kafka_resp_err_t err) { p->OnDelivery(opaque, delivered, err); });
  if (!producer.ok()) return producer.status();
  publisher->producer_ = std::move(*producer);
  return publisher;
}

OutputPublisher::OutputPublisher(const OutputTopics& topics, engine::Engine& engine,
                                 metrics::ServiceMetrics& metrics)
    : topics_(topics), engine_(engine), metrics_(metrics) {}

OutputPublisher::~OutputPublisher() {
  // Messages still queued are dropped with the producer (their Delivery
  // structs belong to the pool, freed with it).
  if (producer_ != nullptr) {
    rd_kafka_purge(producer_->handle(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_->Poll(0);
  }
}

OutputPublisher::Delivery* OutputPublisher::NewDelivery() {
  if (free_.empty()) {
    deliveries_.push_back(std::make_unique<Delivery>());
    return deliveries_.back().get();
  }
  Delivery* d = free_.back();
  free_.pop_back();
  return d;
}

void OutputPublisher::Release(Delivery* d) {
  d->dead_letter = false;
  d->letter = {};
  free_.push_back(d);
}

void OutputPublisher::OnDelivery(void* opaque, bool delivered, rd_kafka_resp_err_t err) {
  Delivery* d = static_cast<Delivery*>(opaque);
  if (d == nullptr) return;
  const bool purged = err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  if (!delivered && !purged) {
    const std::string& topic = d->dead_letter ? topics_.dlq
                               : d->ticket.topic == engine::OutputRecord::Topic::kConsensus
                                   ? topics_.consensus
                                   : topics_.review;
    metrics_.DeliveryFailures(topic).Increment();
    spdlog::warn("output to {} not delivered ({}); it is sent again", topic, rd_kafka_err2str(err));
  }
  if (d->dead_letter) {
    if (!delivered && !purged) dead_letters_.push_back(std::move(d->letter));
  } else {
    engine_.OnDelivered(d->ticket, delivered);
  }
  Release(d);
}

bool OutputPublisher::SendDeadLetter(DeadLetter& letter) {
  const Producer::Header headers[] = {{"consensusd-error", letter.reason},
                                      {"consensusd-error-detail", letter.detail}};
  Delivery* d = NewDelivery();
  d->dead_letter = true;
  absl::Status s = producer_->Send(topics_.dlq, letter.key, letter.raw, headers, d);
  if (!s.ok()) Release(d);
  if (absl::IsUnavailable(s)) return false;
  if (!s.ok()) {
    metrics_.DeliveryFailures(topics_.dlq).Increment();
    spdlog::error("dead letter not queued: {}", s.ToString());
    return true;  // a permanent error (bad topic name): retrying cannot help
  }
  d->letter = std::move(letter);  // the delivery report hands it back on failure
  return true;
}

void OutputPublisher::Reject(std::string_view key, std::string_view raw, std::string_view reason,
                             std::string_view detail) {
  DeadLetter letter{std::string(key), std::string(raw), std::string(reason), std::string(detail)};
  if (!dead_letters_.empty() || !SendDeadLetter(letter)) dead_letters_.push_back(std::move(letter));
}

bool OutputPublisher::Pump() {
  while (!dead_letters_.empty() && SendDeadLetter(dead_letters_.front())) dead_letters_.pop_front();
  records_.Clear();
  const size_t room = producer_->Room();
  engine_pending_ = engine_.CollectOutputs(std::min(room, kMaxRecordsPerPump), &records_);
  for (size_t i = 0; i < records_.size(); ++i) {
    engine::OutputRecord& r = records_[i];
    Delivery* d = NewDelivery();
    d->ticket = r.ticket;
    const std::string& topic =
        r.ticket.topic == engine::OutputRecord::Topic::kConsensus ? topics_.consensus : topics_.review;
    absl::Status s = producer_->Send(topic, r.key, r.value, {}, d);
    if (s.ok()) continue;  // the delivery report releases d
    Release(d);
    if (absl::IsUnavailable(s)) {  // the queue is full: the engine sends it again later
      engine_.OnDelivered(r.ticket, /*delivered=*/false);
      engine_pending_ = true;
      continue;
    }
    // A permanent error (e.g. an unknown topic): retrying at once cannot help
    // and must not stall consumption; the task goes out with its next change.
    metrics_.DeliveryFailures(topic).Increment();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_error_log_) {
      spdlog::error("output not queued: {}", s.ToString());
      next_error_log_ = now + std::chrono::minutes(1);
    }
  }
  metrics_.OutputQueue().Set(static_cast<double>(producer_->queue_depth()));
  return !dead_letters_.empty() || (engine_pending_ && producer_->Room() == 0);
}

void OutputPublisher::Poll() { producer_->Poll(0); }

absl::Status OutputPublisher::Flush(int timeout_ms) { return producer_->Flush(timeout_ms); }

}  // namespace consensusd::consumer
