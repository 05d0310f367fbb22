#include "consumer/ingest_loop.h"

#include <algorithm>
#include <array>
#include <limits>
#include <thread>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "spdlog/spdlog.h"

namespace consensusd::consumer {

// Applies the decoded elements of one message to the engine.
class IngestLoop::Applier : public DecodeSink {
 public:
  explicit Applier(IngestLoop& loop) : loop_(loop) {}

  void Begin(int32_t partition, int64_t offset, std::string_view key) {
    partition_ = partition;
    offset_ = offset;
    key_ = key;
    auto it = loop_.dead_lettered_below_.find(partition);
    dead_letter_ = it == loop_.dead_lettered_below_.end() || offset >= it->second;
  }

  void OnEvent(const LabelEvent& decoded) override {
    LabelEvent e = decoded;
    e.offset = offset_;
    std::optional<engine::EngineRejection> r = loop_.engine_.Apply(loop_.batch_, partition_, e);
    if (r.has_value()) Reject(r->reason, r->detail, e.raw);
  }

  void OnReject(const Rejection& r) override { Reject(r.reason, r.detail, r.raw); }

 private:
  void Reject(RejectReason reason, std::string_view detail, std::string_view raw) {
    if (!dead_letter_) return;  // a replayed message: dead-lettered the first time
    loop_.publisher_.Reject(key_, raw, ReasonCode(reason), detail);
    loop_.metrics_.Rejected(ReasonCode(reason)).Increment();
  }

  IngestLoop& loop_;
  int32_t partition_ = 0;
  int64_t offset_ = -1;
  std::string_view key_;
  bool dead_letter_ = true;
};

absl::StatusOr<std::unique_ptr<IngestLoop>> IngestLoop::Create(
    const KafkaProperties& properties, const IngestOptions& options, engine::Engine& engine,
    OutputPublisher& publisher, metrics::ServiceMetrics& metrics) {
  // fetch.wait.max.ms: the broker answers a fetch within 5 ms even when it has
  // no data. A Kafka broker answers at once when data arrives during the wait,
  // but librdkafka's mock cluster holds an empty fetch for the whole wait:
  // with 10 ms the p50 ingest latency at 50k answers/s was 19 ms, with 5 ms
  // 14 ms (docs/reliability.md). An idle consumer sends 200 fetches a second.
  // session.timeout.ms: a member that died (kill -9) leaves the group after
  // 10 s rather than librdkafka's 45 s, so that a restarted instance gets its
  // partitions back soon (liveness of the loop itself is max.poll.interval.ms).
  KafkaProperties props = {{"partition.assignment.strategy", "cooperative-sticky"},
                           // A stored offset out of the topic's range is an
                           // error delivered to the loop (OffsetOutOfRange).
                           {"auto.offset.reset", "error"},
                           {"fetch.wait.max.ms", "5"},
                           {"session.timeout.ms", "10000"},
                           {"heartbeat.interval.ms", "2000"}};
  for (const auto& [k, v] : properties) props[k] = v;
  // What exactly-once state relies on: never user-overridable.
  props["group.id"] = options.group;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";  // readiness: a fetch has reached the end
  // With cooperative-sticky, a static member restarted within
  // session.timeout.ms gets its partitions back without a rebalance.
  if (!options.instance_id.empty()) props["group.instance.id"] = options.instance_id;
  absl::StatusOr<KafkaConf> conf = NewKafkaConf(props);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<IngestLoop> loop(new IngestLoop(options, engine, publisher, metrics));
  rd_kafka_conf_set_rebalance_cb(conf->get(), &IngestLoop::OnRebalance);
  rd_kafka_conf_set_error_cb(conf->get(), &IngestLoop::OnError);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &IngestLoop::OnOffsetCommit);
  rd_kafka_conf_set_opaque(conf->get(), loop.get());
  absl::StatusOr<KafkaHandle> consumer = NewKafkaHandle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer.ok()) return consumer.status();
  loop->consumer_ = std::move(*consumer);
  rd_kafka_poll_set_consumer(loop->consumer_.get());
  loop->fetcher_waker_ = std::make_unique<FetcherWaker>(loop->consumer_.get(), options.topic);
  return loop;
}

IngestLoop::IngestLoop(const IngestOptions& options, engine::Engine& engine,
                       OutputPublisher& publisher, metrics::ServiceMetrics& metrics)
    : options_(options),
      engine_(engine),
      publisher_(publisher),
      metrics_(metrics),
      applier_(std::make_unique<Applier>(*this)),
      consumed_counter_(&metrics.Consumed(options.topic)) {}

IngestLoop::~IngestLoop() = default;

absl::Status IngestLoop::Run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) return KafkaStatus(err, absl::StrCat("subscribing to ", options_.topic));

  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.commit_interval_ms);
  auto last_housekeeping = Clock::now();
  absl::Status status;
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer_.get());
  std::array<rd_kafka_message_t*, kPollBatch> messages;
  int64_t since_housekeeping = 0;
  while (!stop.load() && status.ok()) {
    // What is queued already, without waiting; else wait up to 20 ms for one.
    ssize_t n = rd_kafka_consume_batch_queue(queue, 0, messages.data(), messages.size());
    if (n > 0 && !fetcher_waker_->gated()) fetcher_waker_->Polled(n, rd_kafka_queue_length(queue));
    if (n <= 0) {
      // Drained: what was applied is committed before waiting for more.
      if (status.ok() && batch_.messages() > 0) status = Commit();
      if (fetcher_waker_->gated()) WakeFetcher();
      messages[0] = rd_kafka_consumer_poll(consumer_.get(), 20);
      n = messages[0] != nullptr ? 1 : 0;
    }
    for (ssize_t i = 0; i < n; ++i) {
      // After a failed commit nothing more is applied; the rest is dropped
      // (its offsets are not stored: a restart reads it again).
      if (status.ok()) HandleMessage(*messages[i]);
      rd_kafka_message_destroy(messages[i]);
      if (!rebalance_status_.ok()) status = rebalance_status_;
      const int64_t pending = batch_.messages();
      if (status.ok() && pending > 0) {
        // Commit when full or when the oldest change is due (the clock is
        // read every 256 messages).
        bool due = pending >= options_.commit_max_messages;
        if (!due && pending % 256 == 0) due = Clock::now() - first_pending_ >= interval;
        if (due) status = Commit();
      }
    }
    const bool idle = n == 0;
    if (all_brokers_down_.load(std::memory_order_relaxed) && all_brokers_down_.exchange(false)) {
      SetBrokerState(broker_health_.AllBrokersDown());
    }
    if (query_ends_) QueryRestoreEnds();  // of the partitions just assigned
    if (!rebalance_status_.ok()) status = rebalance_status_;
    // Commit when idle, and when the oldest change is due.
    if (status.ok() && batch_.messages() > 0 && (idle || Clock::now() - first_pending_ >= interval)) {
      status = Commit();
    }
    since_housekeeping += n;
    if (idle || since_housekeeping >= 4096) {
      since_housekeeping = 0;
      const auto now = Clock::now();
      if (now - last_housekeeping >= std::chrono::seconds(1)) {
        last_housekeeping = now;
        UpdateLag();
        // A message consumed since the last look is an answer from a broker;
        // only a loop that received nothing asks them (a blocking request).
        const int64_t consumed = messages_consumed_.load(std::memory_order_relaxed);
        if (consumed == consumed_at_check_) {
          CheckBrokers();
        } else {
          SetBrokerState(broker_health_.Answered());
        }
        consumed_at_check_ = consumed;
        QueryRestoreEnds();
        // Every position once more, a second at most after a commit: an async
        // commit that failed in a rebalance would otherwise stay behind.
        if ((recommit_ || kafka_commit_dirty_) && batch_.empty()) CommitPositionsToKafka();
        // While idle, what Kafka confirmed is still stored now and then.
        if (status.ok() && batch_.empty()) status = engine_.Commit(batch_).status();
      }
      publisher_.Poll();
      if (idle) PumpOutputs(/*idle=*/true);  // what sweeps and admin calls changed, and retries
    }
  }
  rd_kafka_queue_destroy(queue);
  if (status.ok()) status = Commit();
  // Shutdown: what waits for room in the producer's queue (dead letters
  // included) gets a bounded time to be queued before the producer flushes.
  const auto drain_until = Clock::now() + std::chrono::seconds(10);
  while (status.ok() && Clock::now() < drain_until) {
    const bool full = publisher_.Pump();
    if (!publisher_.backlogged()) break;
    publisher_.Poll();
    if (full) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ready_ = false;
  closing_ = true;
  rd_kafka_consumer_close(consumer_.get());  // revokes the assignment through OnRebalance
  if (status.ok()) status = rebalance_status_;
  return status;
}

void IngestLoop::HandleMessage(const rd_kafka_message_t& m) {
  // A batch is taken from librdkafka's queue before it is applied, and a
  // rebalance served while it was taken (its callback runs inside the poll)
  // can leave in it messages of a partition revoked since, or of one
  // assigned again from its stored offset, which the fetcher then delivers
  // once more. Neither may be applied: only the partitions owned now, and no
  // offset below the next one expected.
  if (m.err) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!Owns(m.partition)) return;
      // A fetch reached the end of the partition (m.offset is that end).
      if (m.offset >= 0) next_offset_[m.partition] = std::max(next_offset_[m.partition], m.offset);
      if (restoring_.ReachedEnd(m.partition)) MarkReady(m.partition, "reached its end");
      return;
    }
    if (m.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) SetBrokerState(broker_health_.AllBrokersDown());
    if (m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      if (Owns(m.partition)) OffsetOutOfRange(m);
      return;
    }
    spdlog::warn("consumer: {}", rd_kafka_message_errstr(&m));
    return;
  }
  if (!Owns(m.partition)) return;
  if (auto next = next_offset_.find(m.partition); next != next_offset_.end() && m.offset < next->second) {
    return;  // delivered again after an assignment that started below it
  }
  if (broker_health_.state() != BrokerHealth::State::kUp) SetBrokerState(broker_health_.Answered());
  consumed_counter_->Increment();
  ++messages_consumed_;
  if (batch_.messages() == 0) first_pending_ = std::chrono::steady_clock::now();
  const std::string_view key(static_cast<const char*>(m.key), m.key ? m.key_len : 0);
  const std::string_view payload(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
  applier_->Begin(m.partition, m.offset, key);
  decoder_.Decode(payload, *applier_);
  engine_.EndMessage(batch_, m.partition, m.offset + 1, rd_kafka_message_timestamp(&m, nullptr));
  pending_offsets_[m.partition] = m.offset + 1;
  next_offset_[m.partition] = m.offset + 1;
  if (!restoring_.empty() && restoring_.Consumed(m.partition, m.offset + 1)) {
    MarkReady(m.partition, "caught up");
  }
}

absl::Status IngestLoop::Commit() {
  if (batch_.empty()) return absl::OkStatus();
  absl::StatusOr<int64_t> applied = engine_.Commit(batch_);
  if (!applied.ok()) return applied.status();
  answers_committed_ += *applied;
  // For operators' lag tools only; the stored offsets are the ones that count.
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(
      static_cast<int>(pending_offsets_.size()));
  for (const auto& [partition, offset] : pending_offsets_) {
    rd_kafka_topic_partition_list_add(offsets, options_.topic.c_str(), partition)->offset = offset;
  }
  if (offsets->cnt > 0) rd_kafka_commit(consumer_.get(), offsets, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(offsets);
  kafka_commit_dirty_ = kafka_commit_dirty_ || !pending_offsets_.empty();
  pending_offsets_.clear();
  PumpOutputs();
  return absl::OkStatus();
}

void IngestLoop::OnOffsetCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  // Served by the consumer's poll, on the loop thread.
  bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) failed |= offsets->elems[i].err != 0;
  if (failed) static_cast<IngestLoop*>(opaque)->recommit_ = true;
}

void IngestLoop::CommitPositionsToKafka() {
  recommit_ = kafka_commit_dirty_ = false;
  rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
  for (const int32_t p : assigned_) {
    auto it = next_offset_.find(p);
    if (it != next_offset_.end()) {
      rd_kafka_topic_partition_list_add(offsets, options_.topic.c_str(), p)->offset = it->second;
    }
  }
  if (offsets->cnt > 0) rd_kafka_commit(consumer_.get(), offsets, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(offsets);
}

void IngestLoop::PumpOutputs(bool idle) {
  bool full = publisher_.Pump();
  if (idle) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    while (!full && publisher_.backlogged() && std::chrono::steady_clock::now() < until) {
      full = publisher_.Pump();
    }
  }
  if (full != paused_) SetPaused(full);
}

void IngestLoop::SetPaused(bool paused) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(
      static_cast<int>(assigned_.size()));
  for (const int32_t p : assigned_) rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p);
  const rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(consumer_.get(), list)
                                         : rd_kafka_resume_partitions(consumer_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("consumer: {} partitions: {}", paused ? "pausing" : "resuming", rd_kafka_err2str(err));
    return;
  }
  paused_ = paused;
  // Logged once a minute at most: while the brokers catch up, the queue may
  // fill and drain many times a second.
  const auto now = std::chrono::steady_clock::now();
  if (!paused || now < next_pause_log_) return;
  next_pause_log_ = now + std::chrono::minutes(1);
  spdlog::warn("outputs: the producer's queue is full; consumption pauses until it drains "
               "(consensusd_output_queue_messages)");
}

void IngestLoop::UpdateReady() {
  ready_ = !closing_ && joined_.load() && restoring_.empty() &&
           broker_health_.state() == BrokerHealth::State::kUp;
}

void IngestLoop::MarkReady(int32_t partition, const char* how) {
  engine_.SetPartitionReady(partition, true);
  double seconds = 0;
  if (auto it = assigned_at_.find(partition); it != assigned_at_.end()) {
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second).count();
    assigned_at_.erase(it);
  }
  spdlog::info("consumer: {}[{}] is ready: {} {:.1f}s after its assignment", options_.topic,
               partition, how, seconds);
  ExportPartitions();
  UpdateReady();
}

void IngestLoop::ExportPartitions() {
  std::vector<std::pair<int32_t, bool>> owned;
  for (const engine::OwnedPartition& p : engine_.OwnedPartitions()) owned.emplace_back(p.partition, p.ready);
  metrics_.SetPartitions(options_.topic, owned);
}

void IngestLoop::QueryRestoreEnds() {
  query_ends_ = false;
  if (broker_health_.state() == BrokerHealth::State::kDown) return;
  for (const int32_t partition : restoring_.WithoutEnd()) {
    // A short timeout: this runs on the loop thread (an unreachable broker
    // is retried at the next housekeeping; the end-of-partition event may
    // make the partition ready first).
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        consumer_.get(), options_.topic.c_str(), partition, &low, &high, 1000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::debug("consumer: the end of {}[{}]: {}", options_.topic, partition, rd_kafka_err2str(err));
      return;  // the others too, probably: not now
    }
    if (restoring_.SetEnd(partition, low, high)) {
      MarkReady(partition, "at its end");
    } else {
      spdlog::info("consumer: {}[{}] restores up to offset {}", options_.topic, partition, high);
    }
  }
}

void IngestLoop::OffsetOutOfRange(const rd_kafka_message_t& m) {
  const int32_t partition = m.partition;
  metrics_.OffsetsOutOfRange(options_.topic, partition).Increment();
  int64_t low = -1, high = -1;
  rd_kafka_query_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition, &low, &high, 5000);
  auto it = next_offset_.find(partition);
  const std::string position = it == next_offset_.end() ? "unknown" : std::to_string(it->second);
  using OutOfRange = IngestOptions::OutOfRange;
  const OutOfRange policy = options_.offset_out_of_range;
  const char* next = policy == OutOfRange::kFail     ? "stopping (kafka.offset_out_of_range=fail)"
                     : policy == OutOfRange::kLatest ? "resuming at its end: the answers before it are skipped "
                                                       "(kafka.offset_out_of_range=latest)"
                                                     : "resuming at its oldest offset: the answers deleted "
                                                       "before it are lost (kafka.offset_out_of_range=earliest)";
  spdlog::error("consumer: the stored offset {} of {}[{}] is no longer in the topic, which holds offsets {} to {} "
                "(retention deleted it, or the broker lost data); {}",
                position, options_.topic, partition, low, high, next);
  if (policy == OutOfRange::kFail) {
    rebalance_status_ = absl::DataLossError(absl::StrCat(
        "the stored offset ", position, " of ", options_.topic, "[", partition,
        "] is no longer in the topic (offsets ", low, " to ", high,
        "); set kafka.offset_out_of_range to earliest or latest to go on"));
    return;
  }
  // The partition's fetcher stopped at the error and cannot seek: assign it
  // again at the chosen offset.
  rd_kafka_topic_partition_list_t* at = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(at, options_.topic.c_str(), partition)->offset =
      policy == OutOfRange::kLatest ? (high >= 0 ? high : RD_KAFKA_OFFSET_END)
                                    : (low >= 0 ? low : RD_KAFKA_OFFSET_BEGINNING);
  const int64_t target = at->elems[0].offset;
  rd_kafka_error_t* e = nullptr;
  if (std::string_view(rd_kafka_rebalance_protocol(consumer_.get())) == "COOPERATIVE") {
    e = rd_kafka_incremental_unassign(consumer_.get(), at);
    if (e == nullptr) e = rd_kafka_incremental_assign(consumer_.get(), at);
  } else {
    rd_kafka_topic_partition_list_t* all = rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
    for (const int32_t p : assigned_) {
      rd_kafka_topic_partition_list_add(all, options_.topic.c_str(), p)->offset =
          p == partition ? target : (next_offset_.count(p) ? next_offset_[p] : RD_KAFKA_OFFSET_STORED);
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), all)) {
      spdlog::error("consumer: assigning {}[{}] again: {}", options_.topic, partition, rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(all);
  }
  if (e != nullptr) {
    spdlog::error("consumer: assigning {}[{}] again: {}", options_.topic, partition, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  rd_kafka_topic_partition_list_destroy(at);
  if (target >= 0) {
    next_offset_[partition] = target;
    engine_.ResetOffset(batch_, partition, target);  // a restart resumes there, not out of range again
    rebalance_status_.Update(Commit());
  }
}

void IngestLoop::UpdateLag() {
  // With no broker answering, the watermarks are stale: the lag is unknown.
  const bool unknown = broker_health_.state() == BrokerHealth::State::kDown;
  for (const int32_t partition : assigned_) {
    if (unknown) {
      prometheus::Gauge*& gauge = lag_gauges_[partition];
      if (gauge == nullptr) gauge = &metrics_.ConsumerLag(options_.topic, partition);
      gauge->Set(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR || high < 0) {
      continue;
    }
    auto it = next_offset_.find(partition);
    const int64_t position = it == next_offset_.end() ? low : std::max(it->second, low);
    prometheus::Gauge*& gauge = lag_gauges_[partition];
    if (gauge == nullptr) gauge = &metrics_.ConsumerLag(options_.topic, partition);
    gauge->Set(static_cast<double>(std::max<int64_t>(0, high - position)));
  }
}

void IngestLoop::CheckBrokers() {
  // Metadata of the locally known topics from any broker: a request that a
  // broker must answer, so it fails when none does (a timeout or a refused
  // connection), even when no message or error would arrive.
  const struct rd_kafka_metadata* metadata = nullptr;
  if (rd_kafka_metadata(consumer_.get(), 0, nullptr, &metadata, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
    SetBrokerState(broker_health_.Answered());
  } else {
    SetBrokerState(broker_health_.ProbeFailed());
  }
}

void IngestLoop::SetBrokerState(bool changed) {
  if (!changed) return;
  const BrokerHealth::State state = broker_health_.state();
  brokers_state_ = state;
  metrics_.KafkaBrokersUp().Set(state == BrokerHealth::State::kUp ? 1 : 0);
  UpdateLag();
  if (state == BrokerHealth::State::kDown) {
    const std::string failure = LastBrokerFailure();
    spdlog::warn("consumer: the Kafka brokers do not answer{}{}; not ready, and lag unknown (NaN), until they do",
                 failure.empty() ? "" : " (last: ", failure.empty() ? "" : failure + ")");
  } else {
    spdlog::info("consumer: the Kafka brokers answer");
  }
  UpdateReady();
}

void IngestLoop::OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* loop = static_cast<IngestLoop*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) loop->all_brokers_down_ = true;
  // A lost connection is retried by librdkafka (and logged by it); the rest,
  // e.g. failed authentication, needs the operator.
  // All brokers down: SetBrokerState says so once, with the last failure.
  const auto level = err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                         ? spdlog::level::debug
                         : spdlog::level::warn;
  spdlog::log(level, "consumer: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
}

void IngestLoop::WakeFetcher() {
  absl::InlinedVector<int32_t, 64> lagging;
  for (const int32_t p : assigned_) {
    auto next = next_offset_.find(p);
    int64_t low = -1, high = -1;
    if (next != next_offset_.end() &&
        rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), p, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high > next->second) {
      lagging.push_back(p);  // (the cached end, from the last fetch)
    }
  }
  fetcher_waker_->Wake(lagging);
}

void IngestLoop::SetOwned(int32_t partition, bool owned) {
  if (partition < 0) return;
  if (static_cast<size_t>(partition) >= owned_.size()) owned_.resize(partition + 1, false);
  owned_[partition] = owned;
}

void IngestLoop::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<IngestLoop*>(opaque)->Rebalance(err, partitions);
}

void IngestLoop::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(consumer_.get())) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Loading a partition's state can take a while (a large state after the
    // session timed out): a stop requested meanwhile ends the loading, and
    // only the partitions loaded so far are taken, so that shutdown stays
    // within its time limit. Leaving the group hands the rest back.
    int loaded = 0;
    for (; loaded < partitions->cnt; ++loaded) {
      if (closing_ || (stop_ != nullptr && stop_->load())) {
        spdlog::info("consumer: stopping: {} of {} assigned partitions loaded, leaving the group",
                     loaded, partitions->cnt);
        break;
      }
      rd_kafka_topic_partition_t& p = partitions->elems[loaded];
      // Loads the partition's stored state unless this instance holds it.
      absl::StatusOr<std::optional<int64_t>> stored = engine_.Assign(p.partition);
      if (!stored.ok()) {
        rebalance_status_ = stored.status();
        return;
      }
      p.offset = stored->has_value() && !options_.replay_from_start ? **stored
                                                                    : RD_KAFKA_OFFSET_BEGINNING;
      if (options_.replay_from_start && stored->has_value()) {
        dead_lettered_below_[p.partition] = **stored;
      }
      // The lag gauge counts from here until a message arrives: a partition
      // resumed at its end has no lag, not its whole length.
      if (p.offset >= 0) {
        next_offset_[p.partition] = p.offset;
      } else {
        next_offset_.erase(p.partition);
      }
      if (std::find(assigned_.begin(), assigned_.end(), p.partition) == assigned_.end()) {
        assigned_.push_back(p.partition);
      }
      SetOwned(p.partition, true);
      // Restoring until the consumer reaches the partition's end as it is now
      // (queried after the assignment, from the loop).
      restoring_.Assigned(p.partition, p.offset >= 0 ? p.offset : -1);
      query_ends_ = true;
      assigned_at_[p.partition] = std::chrono::steady_clock::now();
      spdlog::info("consumer: assigned {}[{}] from offset {}", options_.topic, p.partition,
                   stored->has_value() ? std::to_string(**stored) : std::string("beginning"));
    }
    rd_kafka_topic_partition_list_t* taken = partitions;
    if (loaded < partitions->cnt) {
      taken = rd_kafka_topic_partition_list_new(loaded);
      for (int i = 0; i < loaded; ++i) {
        const rd_kafka_topic_partition_t& p = partitions->elems[i];
        rd_kafka_topic_partition_list_add(taken, p.topic, p.partition)->offset = p.offset;
      }
    }
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_.get(), taken)) {
        spdlog::error("consumer: incremental assign: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(consumer_.get(), taken);
    }
    if (taken != partitions) rd_kafka_topic_partition_list_destroy(taken);
    if (!assigned_once_.exchange(true)) {
      // The restore on start loaded every stored partition; keep only ours.
      if (absl::Status s = engine_.ReleaseUnassigned(assigned_); !s.ok()) rebalance_status_ = s;
    }
    if (paused_) SetPaused(true);  // the new partitions wait for the outputs too
    // The group coordinator answered.
    joined_ = true;
    SetBrokerState(broker_health_.Answered());
    ExportPartitions();
    UpdateReady();
    return;
  }
  // Revocation (or loss): commit what was consumed from these partitions
  // first. Both protocols follow it with an assignment (cooperative: at
  // once, possibly empty; eager, or lost partitions: after rejoining).
  joined_ = false;
  absl::Status status = Commit();
  if (!status.ok()) rebalance_status_ = status;
  const bool lost = rd_kafka_assignment_lost(consumer_.get()) == 1;
  for (int i = 0; i < partitions->cnt; ++i) {
    const int32_t partition = partitions->elems[i].partition;
    assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), partition), assigned_.end());
    SetOwned(partition, false);
    next_offset_.erase(partition);
    dead_lettered_below_.erase(partition);
    restoring_.Revoked(partition);
    if (auto gauge = lag_gauges_.find(partition); gauge != lag_gauges_.end()) {
      gauge->second->Set(0);  // another instance reports its lag now
    }
    assigned_at_.erase(partition);
    // Another instance owns it now. (Not when this one is leaving: its state
    // stays in memory until the process ends.)
    // Not for a lost assignment: another instance may own it already.
    if (status.ok() && options_.before_revoke && !lost) options_.before_revoke(partition);
    if (status.ok() && !closing_) {
      absl::Status released = engine_.Revoke(partition);
      if (!released.ok()) rebalance_status_ = released;
    }
  }
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_.get(), partitions)) {
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(consumer_.get(), nullptr);
  }
  if (!closing_) ExportPartitions();
  UpdateReady();
}

}  // namespace consensusd::consumer
