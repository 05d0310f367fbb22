#include "consumer/ingest_loop.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "consumer/consensus_record.h"
#include "spdlog/spdlog.h"

namespace consensusd::consumer {

// Applies decoded elements of one message to the models and the batch.
class IngestLoop::Applier : public DecodeSink {
 public:
  explicit Applier(IngestLoop& loop) : loop_(loop) {}

  void Begin(int32_t partition, std::string_view key) {
    partition_ = partition;
    key_ = key;
    first_event_ms_ = -1;
  }
  int64_t first_event_ms() const { return first_event_ms_; }

  void OnEvent(const LabelEvent& e) override {
    Project& project = ProjectFor(e.project);
    std::lock_guard<std::mutex> lock(project.mu);
    consensus::StreamingModel& model = project.model;
    if (e.kind == LabelEvent::Kind::kRetract) {
      const int32_t task = model.tasks().Find(e.task);
      const int32_t worker = model.workers().Find(e.worker);
      if (task >= 0 && worker >= 0 && model.Retract(task, worker)) project.Touch(task, partition_);
      loop_.batch_.DeleteAnswer(partition_, project.name, e.task, e.worker);
      Applied(project, e);
      return;
    }
    int32_t label = model.classes().Find(e.label);
    if (label < 0) {
      if (project.fixed_classes) {
        Reject(e, RejectReason::kUnknownClass,
               absl::StrCat("class '", std::string(e.label), "' is not declared for project '",
                            project.name, "'"));
        return;
      }
      absl::StatusOr<int32_t> added = model.InternClass(e.label);
      if (!added.ok()) {
        Reject(e, RejectReason::kTooManyClasses, std::string(added.status().message()));
        return;
      }
      label = *added;
      loop_.batch_.PutClass(project.name, label, e.label);
    }
    const int32_t task = model.InternTask(e.task);
    if (e.kind == LabelEvent::Kind::kGold) {
      model.SetGold(task, label);
      loop_.batch_.PutGold(partition_, project.name, e.task, e.label);
    } else {
      model.SetAnswer(task, model.InternWorker(e.worker), label);
      loop_.batch_.PutAnswer(partition_, project.name, e.task, e.worker, e.label);
    }
    project.Touch(task, partition_);
    Applied(project, e);
  }

  void OnReject(const Rejection& r) override {
    loop_.publisher_.PublishRejection(key_, r.raw, ReasonCode(r.reason), r.detail);
    loop_.metrics_.Rejected(ReasonCode(r.reason)).Increment();
  }

 private:
  Project& ProjectFor(std::string_view name) {
    if (last_project_ == nullptr || last_project_->name != name) last_project_ = &loop_.projects_.Get(name);
    return *last_project_;
  }

  void Applied(Project& project, const LabelEvent& e) {
    if (first_event_ms_ < 0 && e.ts_ms >= 0) first_event_ms_ = e.ts_ms;
    int64_t& n = loop_.pending_applied_[&project];
    if (n++ == 0) loop_.pending_projects_.push_back(&project);
  }

  void Reject(const LabelEvent& e, RejectReason reason, const std::string& detail) {
    OnReject(Rejection{reason, detail, e.raw});
  }

  IngestLoop& loop_;
  int32_t partition_ = 0;
  std::string_view key_;
  int64_t first_event_ms_ = -1;
  Project* last_project_ = nullptr;
};

absl::StatusOr<std::unique_ptr<IngestLoop>> IngestLoop::Create(
    const KafkaProperties& properties, const IngestOptions& options, storage::StateStore& store,
    ProjectSet& projects, OutputPublisher& publisher, metrics::ServiceMetrics& metrics) {
  // fetch.wait.max.ms: the broker answers a fetch within 10 ms even when it has
  // little data, which bounds the ingest latency at low rates.
  // session.timeout.ms: a member that died (kill -9) leaves the group after
  // 10 s rather than librdkafka's 45 s, so that a restarted instance gets its
  // partitions back soon (liveness of the loop itself is max.poll.interval.ms).
  KafkaProperties props = {{"partition.assignment.strategy", "cooperative-sticky"},
                           {"auto.offset.reset", "earliest"},
                           {"fetch.wait.max.ms", "10"},
                           {"session.timeout.ms", "10000"},
                           {"heartbeat.interval.ms", "2000"}};
  for (const auto& [k, v] : properties) props[k] = v;
  // What exactly-once state relies on: never user-overridable.
  props["group.id"] = options.group;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";  // readiness: a fetch has reached the end
  absl::StatusOr<KafkaConf> conf = NewKafkaConf(props);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<IngestLoop> loop(new IngestLoop(options, store, projects, publisher, metrics));
  rd_kafka_conf_set_rebalance_cb(conf->get(), &IngestLoop::OnRebalance);
  rd_kafka_conf_set_opaque(conf->get(), loop.get());
  absl::StatusOr<KafkaHandle> consumer = NewKafkaHandle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!consumer.ok()) return consumer.status();
  loop->consumer_ = std::move(*consumer);
  rd_kafka_poll_set_consumer(loop->consumer_.get());
  return loop;
}

IngestLoop::IngestLoop(const IngestOptions& options, storage::StateStore& store,
                       ProjectSet& projects, OutputPublisher& publisher,
                       metrics::ServiceMetrics& metrics)
    : options_(options),
      store_(store),
      projects_(projects),
      publisher_(publisher),
      metrics_(metrics),
      applier_(std::make_unique<Applier>(*this)),
      consumed_counter_(&metrics.Consumed(options.topic)) {}

IngestLoop::~IngestLoop() = default;

absl::Status IngestLoop::Run(const std::atomic<bool>& stop) {
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) return KafkaStatus(err, absl::StrCat("subscribing to ", options_.topic));

  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.commit_interval_ms);
  auto last_housekeeping = Clock::now();
  absl::Status status;
  while (!stop.load() && status.ok()) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 20);
    if (message != nullptr) {
      HandleMessage(*message);
      rd_kafka_message_destroy(message);
    }
    if (!rebalance_status_.ok()) status = rebalance_status_;
    if (status.ok() && pending_messages_ > 0) {
      // Commit when idle, when full, or when the oldest change is due
      // (the clock is read every 256 messages).
      bool due = message == nullptr || pending_messages_ >= options_.commit_max_messages;
      if (!due && pending_messages_ % 256 == 0) due = Clock::now() - first_pending_ >= interval;
      if (due) status = Commit();
    }
    if (message == nullptr || pending_messages_ % 4096 == 0) {
      const auto now = Clock::now();
      if (now - last_housekeeping >= std::chrono::seconds(1)) {
        last_housekeeping = now;
        UpdateLag();
        CheckBrokers();
        metrics_.StateBytes().Set(static_cast<double>(store_.ApproximateBytes()));
      }
      publisher_.Poll();
    }
  }
  if (status.ok()) status = Commit();
  ready_ = false;
  rd_kafka_consumer_close(consumer_.get());  // revokes the assignment through OnRebalance
  if (status.ok()) status = rebalance_status_;
  return status;
}

void IngestLoop::HandleMessage(const rd_kafka_message_t& m) {
  if (m.err) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      consuming_ = true;  // a fetch reached the end of a partition
      UpdateReady();
      return;
    }
    if (m.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || m.err == RD_KAFKA_RESP_ERR__TRANSPORT) {
      brokers_down_ = true;
      UpdateReady();
    }
    spdlog::warn("consumer: {}", rd_kafka_message_errstr(&m));
    return;
  }
  if (brokers_down_ || !consuming_) {
    brokers_down_ = false;
    consuming_ = true;
    UpdateReady();
  }
  consumed_counter_->Increment();
  ++messages_consumed_;
  if (pending_messages_++ == 0) first_pending_ = std::chrono::steady_clock::now();
  const std::string_view key(static_cast<const char*>(m.key), m.key ? m.key_len : 0);
  const std::string_view payload(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
  applier_->Begin(m.partition, key);
  decoder_.Decode(payload, *applier_);
  int64_t event_ms = applier_->first_event_ms();
  if (event_ms < 0) event_ms = rd_kafka_message_timestamp(&m, nullptr);
  pending_event_ms_.push_back(event_ms);
  pending_offsets_[m.partition] = m.offset + 1;
  next_offset_[m.partition] = m.offset + 1;
}

absl::Status IngestLoop::Commit() {
  if (pending_messages_ == 0 && batch_.Empty()) return absl::OkStatus();
  for (const auto& [partition, offset] : pending_offsets_) {
    batch_.SetOffset(options_.topic, partition, offset);
  }
  absl::Status status = store_.Commit(batch_);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("committing state: ", status.message()));
  }
  const int64_t now_ms = NowMs();
  for (const int64_t event_ms : pending_event_ms_) {
    if (event_ms > 0) metrics_.IngestLatency().Observe(std::max<int64_t>(0, now_ms - event_ms) / 1000.0);
  }
  int64_t applied = 0;
  for (Project* project : pending_projects_) {
    const int64_t n = pending_applied_[project];
    applied += n;
    metrics_.AnswersApplied(project->name).Increment(static_cast<double>(n));
    std::lock_guard<std::mutex> lock(project->mu);
    publisher_.PublishChanges(*project);
  }
  answers_committed_ += applied;
  // For operators' lag tools only; the stored offsets are the ones that count.
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(
      static_cast<int>(pending_offsets_.size()));
  for (const auto& [partition, offset] : pending_offsets_) {
    rd_kafka_topic_partition_list_add(offsets, options_.topic.c_str(), partition)->offset = offset;
  }
  if (offsets->cnt > 0) rd_kafka_commit(consumer_.get(), offsets, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(offsets);
  pending_messages_ = 0;
  pending_offsets_.clear();
  pending_event_ms_.clear();
  pending_projects_.clear();
  pending_applied_.clear();
  return absl::OkStatus();
}

void IngestLoop::UpdateReady() {
  ready_ = assigned_once_.load() && consuming_ && !brokers_down_;
}

void IngestLoop::UpdateLag() {
  for (const int32_t partition : assigned_) {
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
  if (!brokers_down_) return;
  const struct rd_kafka_metadata* metadata = nullptr;
  if (rd_kafka_metadata(consumer_.get(), 0, nullptr, &metadata, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
    brokers_down_ = false;
    UpdateReady();
    spdlog::info("consumer: brokers reachable again");
  }
}

void IngestLoop::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<IngestLoop*>(opaque)->Rebalance(err, partitions);
}

void IngestLoop::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(consumer_.get())) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& p = partitions->elems[i];
      absl::StatusOr<std::optional<int64_t>> stored = store_.Offset(options_.topic, p.partition);
      if (!stored.ok()) {
        rebalance_status_ = stored.status();
        return;
      }
      p.offset = stored->has_value() && !options_.replay_from_start ? **stored
                                                                    : RD_KAFKA_OFFSET_BEGINNING;
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
      spdlog::info("consumer: assigned {}[{}] from offset {}", options_.topic, p.partition,
                   stored->has_value() ? std::to_string(**stored) : std::string("beginning"));
    }
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_.get(), partitions)) {
        spdlog::error("consumer: incremental assign: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(consumer_.get(), partitions);
    }
    assigned_once_ = true;
    if (assigned_.empty()) consuming_ = true;  // nothing to fetch: consuming is trivially true
    UpdateReady();
    return;
  }
  // Revocation (or loss): commit what was consumed from these partitions first.
  absl::Status status = Commit();
  if (!status.ok()) rebalance_status_ = status;
  for (int i = 0; i < partitions->cnt; ++i) {
    const int32_t partition = partitions->elems[i].partition;
    assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), partition), assigned_.end());
    next_offset_.erase(partition);
  }
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_.get(), partitions)) {
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(consumer_.get(), nullptr);
  }
}

}  // namespace consensusd::consumer
