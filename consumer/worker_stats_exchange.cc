#include "consumer/worker_stats_exchange.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace consensusd::consumer {

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerStatsExchange>> WorkerStatsExchange::Create(
    const KafkaProperties& properties, const WorkerStatsOptions& options, engine::Engine& engine,
    metrics::ServiceMetrics& metrics) {
  std::unique_ptr<WorkerStatsExchange> x(new WorkerStatsExchange(options, engine, metrics));
  // The reader: assigned partitions, never a group member and nothing
  // committed (librdkafka wants a group.id even so); the end of each
  // partition is reported, to know when the topic has been read.
  KafkaProperties reader = properties;
  reader.erase("group.instance.id");
  reader["group.id"] = "consensusd-worker-stats-reader";
  reader["enable.auto.commit"] = "false";
  reader["enable.auto.offset.store"] = "false";
  reader["enable.partition.eof"] = "true";
  reader["auto.offset.reset"] = "earliest";
  reader["fetch.wait.max.ms"] = "100";
  // The reader applies records as they come: a small prefetch is enough,
  // and librdkafka's default (100,000 messages per partition) held hundreds
  // of MB of small records (docs/benchmarks.md, memory).
  reader.try_emplace("queued.min.messages", "10000");
  reader.try_emplace("queued.max.messages.kbytes", "16384");
  absl::StatusOr<KafkaHandle> handle = NewKafkaHandle(RD_KAFKA_CONSUMER, reader);
  if (!handle.ok()) return handle.status();
  x->reader_ = std::move(*handle);
  rd_kafka_poll_set_consumer(x->reader_.get());
  x->reader_queue_ = rd_kafka_queue_get_consumer(x->reader_.get());
  x->waker_ = std::make_unique<FetcherWaker>(x->reader_.get(), options.topic);
  WorkerStatsExchange* self = x.get();
  // At most 20,000 records queued (librdkafka copies each): a publication
  // waits for the brokers rather than holding all its records at once.
  KafkaProperties writer = properties;
  writer.try_emplace("queue.buffering.max.messages", "20000");
  absl::StatusOr<std::unique_ptr<Producer>> producer =
      Producer::Create(writer, [self](void*, bool delivered, rd_kafka_resp_err_t err) {
        if (delivered) return;
        self->metrics_.DeliveryFailures(self->options_.topic).Increment();
        if (!self->resend_.exchange(true)) {
          spdlog::warn("worker statistics: a record was not delivered ({}); all are sent again",
                       rd_kafka_err2str(err));
        }
      });
  if (!producer.ok()) return producer.status();
  x->producer_ = std::move(*producer);
  return x;
}

WorkerStatsExchange::WorkerStatsExchange(const WorkerStatsOptions& options, engine::Engine& engine,
                                         metrics::ServiceMetrics& metrics)
    : options_(options), engine_(engine), metrics_(metrics), current_at_ms_(SteadyMs()) {}

WorkerStatsExchange::~WorkerStatsExchange() {
  if (reader_queue_ != nullptr) rd_kafka_queue_destroy(reader_queue_);
  if (reader_ != nullptr) rd_kafka_consumer_close(reader_.get());
}

double WorkerStatsExchange::model_age_seconds() const {
  return static_cast<double>(SteadyMs() - current_at_ms_.load()) / 1000.0;
}

void WorkerStatsExchange::Run(const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.interval_ms);
  auto next_publish = Clock::now() + interval;
  auto next_check = Clock::now();
  while (!stop.load()) {
    const auto now = Clock::now();
    if (now >= next_check) {
      next_check = now + std::chrono::seconds(1);
      if (!assigned_) assigned_ = AssignTopic();
      if (assigned_ && AtEnd()) {
        current_at_ms_ = SteadyMs();
        if (!caught_up_.exchange(true)) spdlog::info("worker statistics: {} read", options_.topic);
      }
      metrics_.WorkerModelAge().Set(model_age_seconds());
    }
    if (now >= next_publish) {
      next_publish = now + interval;
      Publish(-1);
    }
    producer_->Poll(0);
    if (!assigned_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int taken = 0;
    for (; taken < 1000; ++taken) {  // a bounded burst, then the clock again
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader_.get(), taken == 0 ? 100 : 0);
      if (m == nullptr) break;
      if (taken == 0) waker_->Polled(1, rd_kafka_queue_length(reader_queue_));
      Handle(*m);
      rd_kafka_message_destroy(m);
    }
    if (taken < 1000 && waker_->gated()) {
      // Drained after the queue was at the fetch gate: wake the fetcher of
      // the partitions with more to read (FetcherWaker).
      std::vector<int32_t> lagging;
      for (int32_t p = 0; p < static_cast<int32_t>(position_.size()); ++p) {
        int64_t low = -1, high = -1;
        if (position_[p] >= 0 &&
            rd_kafka_get_watermark_offsets(reader_.get(), options_.topic.c_str(), p, &low, &high) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            high > position_[p]) {
          lagging.push_back(p);
        }
      }
      waker_->Wake(lagging);
    }
  }
  Publish(-1);
  absl::Status flushed = producer_->Flush(10000);
  if (!flushed.ok()) spdlog::warn("worker statistics: {}", flushed.ToString());
}

void WorkerStatsExchange::PublishPartition(int32_t partition) { Publish(partition); }

void WorkerStatsExchange::Publish(int32_t partition) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  if (resend_.exchange(false)) engine_.ResendWorkerStats();
  engine_.CollectWorkerStats(
      [this](std::vector<engine::StatsRecord>& records) {
        for (const engine::StatsRecord& r : records) {
          // A publication may hold more records than the producer's queue (one
          // per worker and partition): wait for the brokers to take some.
          // Giving up at once made every later interval send everything
          // again, never finishing.
          absl::Status s = producer_->Send(options_.topic, r.key, r.value);
          const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (absl::IsUnavailable(s) && std::chrono::steady_clock::now() < give_up) {
            producer_->Poll(10);
            s = producer_->Send(options_.topic, r.key, r.value);
          }
          if (!s.ok()) {
            // Still full after 10 s (brokers down), or a bad topic: everything
            // goes again next time.
            metrics_.DeliveryFailures(options_.topic).Increment();
            resend_ = true;
            spdlog::warn("worker statistics: {}", s.ToString());
            return false;
          }
          metrics_.WorkerStatsRecords("sent").Increment();
        }
        return true;
      },
      partition);
}

bool WorkerStatsExchange::AssignTopic() {
  rd_kafka_topic_t* topic = rd_kafka_topic_new(reader_.get(), options_.topic.c_str(), nullptr);
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(reader_.get(), 0, topic, &md, 2000);
  rd_kafka_topic_destroy(topic);
  int partitions = 0;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0) {
    partitions = md->topics[0].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (partitions <= 0) return false;  // not created yet: the first record creates it
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  const rd_kafka_resp_err_t assigned = rd_kafka_assign(reader_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("worker statistics: assigning {}: {}", options_.topic, rd_kafka_err2str(assigned));
    return false;
  }
  position_.assign(partitions, -1);
  spdlog::info("worker statistics: reading {} ({} partitions)", options_.topic, partitions);
  return true;
}

void WorkerStatsExchange::Handle(const rd_kafka_message_t& m) {
  if (m.partition < 0 || m.partition >= static_cast<int32_t>(position_.size())) return;
  if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    position_[m.partition] = m.offset;
    return;
  }
  if (m.err) {
    spdlog::debug("worker statistics: {}", rd_kafka_message_errstr(&m));
    return;
  }
  position_[m.partition] = m.offset + 1;
  if (m.payload == nullptr) return;  // a tombstone
  metrics_.WorkerStatsRecords("received").Increment();
  absl::Status s = engine_.ApplyWorkerStats(
      std::string_view(static_cast<const char*>(m.payload), m.len));
  if (!s.ok()) {
    // Not ours to fix: logged once a minute at most, and skipped.
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_invalid_log_) {
      next_invalid_log_ = now + std::chrono::minutes(1);
      spdlog::warn("worker statistics: skipped a record at {}[{}]@{}: {}", options_.topic,
                   m.partition, m.offset, s.ToString());
    }
  }
}

bool WorkerStatsExchange::AtEnd() {
  // The brokers must answer (a metadata request keeps to its timeout, where
  // librdkafka 2.0's watermark query does not when they are down) ...
  rd_kafka_topic_t* topic = rd_kafka_topic_new(reader_.get(), options_.topic.c_str(), nullptr);
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(reader_.get(), 0, topic, &md, 1000);
  rd_kafka_topic_destroy(topic);
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return false;  // the model ages
  // ... and the reader be at the end of every partition, as the last fetch
  // responses give it (cached: no request).
  for (int32_t p = 0; p < static_cast<int32_t>(position_.size()); ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(reader_.get(), options_.topic.c_str(), p, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return false;
    }
    if (high < 0) return false;  // no fetch response yet
    if (high > low && position_[p] < high) return false;
  }
  return true;
}

}  // namespace consensusd::consumer
