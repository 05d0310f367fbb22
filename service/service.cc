#include "service/service.h"

#include <unistd.h>

#include <random>


#include "api/dashboard.h"
#include "api/rest_api.h"
#include "engine/reject_reason.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace consensusd::service {

consumer::KafkaProperties KafkaPropertiesOf(const Config& config) {
  consumer::KafkaProperties props(config.kafka.properties.begin(), config.kafka.properties.end());
  props["bootstrap.servers"] = config.kafka.brokers;
  return props;
}

std::vector<consumer::TopicSpec> OutputTopicSpecs(const Config& config,
                                                  const std::string& worker_stats_topic) {
  using consumer::TopicSpec;
  return {{.name = config.kafka.consensus_topic, .partitions = TopicSpec::kLikeInput, .compacted = true},
          {.name = config.kafka.review_topic, .partitions = TopicSpec::kLikeInput, .compacted = true},
          {.name = config.kafka.dlq_topic, .partitions = 1, .compacted = false},
          {.name = worker_stats_topic, .partitions = 1, .compacted = true}};
}

api::HttpOptions HttpOptionsOf(const Config::Http& http) {
  api::HttpOptions options;
  options.max_body_bytes = http.max_body_bytes;
  options.request_timeout = std::chrono::milliseconds(http.request_timeout_ms);
  options.threads = http.threads;
  options.max_connections = http.max_connections;
  return options;
}

engine::ProjectSettings ProjectSettingsOf(const Config& config, std::string_view project) {
  const ProjectConfig& p = config.ForProject(project);
  engine::ProjectSettings s;
  s.model = config.StreamingOptionsFor(project);
  s.classes = p.classes;
  s.quality = p.quality;
  s.review = config.review;
  s.min_change = config.output.min_change;
  s.kind = engine::ParseProjectKind(p.kind).value_or(engine::ProjectKind::kUnset);
  if (!p.scale.empty()) s.scale = {p.ScaleMin(), p.ScaleMax()};
  s.bootstrap = p.bootstrap;
  return s;
}

std::unique_ptr<engine::Engine> NewEngine(const Config& config, storage::StateStore& store,
                                          metrics::ServiceMetrics* metrics) {
  engine::EngineOptions options;
  options.input_topic = config.kafka.labels_topic;
  options.sweep_interval_s = config.model.sweep_interval_s;
  options.per_worker_limit = config.metrics.per_worker_limit;
  options.group = config.kafka.group;
  // Unique per process: records of an earlier run count as another writer's.
  char host[256] = "consensusd";
  gethostname(host, sizeof host - 1);
  options.instance = absl::StrCat(config.kafka.instance_id.empty() ? host : config.kafka.instance_id,
                                  "-", getpid(), "-", std::random_device{}() % 1000000);
  return std::make_unique<engine::Engine>(
      store, [config](std::string_view name) { return ProjectSettingsOf(config, name); }, metrics,
      options);
}

Service::Service(const Config& config, bool replay_from_start)
    : config_(config), replay_from_start_(replay_from_start) {}

Service::~Service() {
  if (!waited_) {
    RequestStop();
    (void)Wait();
  }
}

void Service::FlushStateIfIdle() {
  if (store_ != nullptr && store_->FlushIfIdle()) spdlog::debug("state store idle: memtables flushed");
}

void Service::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (engine_) engine_->WakeSweeps();
}

absl::StatusOr<std::unique_ptr<Service>> Service::Start(const Config& config,
                                                        bool replay_from_start) {
  std::unique_ptr<Service> service(new Service(config, replay_from_start));
  absl::Status status = service->Open();
  if (!status.ok()) {
    service->RequestStop();
    (void)service->Wait();
    return status;
  }
  return service;
}

absl::Status Service::Open() {
  // Every series with a known label set exists from the start, at 0, so that
  // rate() and alerts work before the first event.
  for (const engine::RejectReason r : engine::kAllRejectReasons) metrics_.Rejected(engine::ReasonCode(r));
  metrics_.Consumed(config_.kafka.labels_topic);
  for (const std::string* topic : {&config_.kafka.consensus_topic, &config_.kafka.review_topic,
                                   &config_.kafka.dlq_topic}) {
    metrics_.DeliveryFailures(*topic);
  }

  storage::StoreOptions store_options;
  store_options.write_buffer_mb = config_.state.write_buffer_mb;
  store_options.block_cache_mb = config_.state.block_cache_mb;
  absl::StatusOr<std::unique_ptr<storage::StateStore>> store =
      storage::StateStore::Open(config_.state.data_dir, store_options);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  engine_ = NewEngine(config_, *store_, &metrics_);

  absl::StatusOr<std::unique_ptr<api::HttpServer>> http =
      api::HttpServer::Bind(config_.http.address, HttpOptionsOf(config_.http));
  if (!http.ok()) return http.status();
  http_ = std::move(*http);
  api::RegisterHealthRoutes(
      http_->routes(), [this] { return Readiness(); }, [this] {
        // The worker model's age as of now, even while the exchange waits on Kafka.
        if (const consumer::WorkerStatsExchange* x = exchange_view_.load()) {
          metrics_.WorkerModelAge().Set(x->model_age_seconds());
        }
        return metrics_.Render();
      });
  api::ApiContext api;
  api.engine = engine_.get();
  api.admin_token = config_.http.admin_token;
  api.ready = [this] { return ready(); };
  api.answers_committed = [this] { return answers_committed(); };
  api.messages_consumed = [this] { return messages_consumed(); };
  api::RegisterApiRoutes(http_->routes(), std::move(api));
  api::RegisterDashboard(http_->routes());
  http_->Start();
  spdlog::info("http: listening on {}", http_->address());

  absl::Status status = engine_->Restore([](int64_t n) { spdlog::info("restore: {} answers loaded", n); });
  if (!status.ok()) return status;
  restored_ = true;

  const consumer::KafkaProperties kafka = KafkaPropertiesOf(config_);
  consumer::OutputTopics topics;
  topics.consensus = config_.kafka.consensus_topic;
  topics.review = config_.kafka.review_topic;
  topics.dlq = config_.kafka.dlq_topic;
  absl::StatusOr<std::unique_ptr<consumer::OutputPublisher>> publisher =
      consumer::OutputPublisher::Create(kafka, topics, *engine_, metrics_);
  if (!publisher.ok()) return publisher.status();
  publisher_ = std::move(*publisher);

  consumer::WorkerStatsOptions stats;
  stats.topic = config_.kafka.worker_stats_topic;
  stats.interval_ms = config_.kafka.worker_stats_interval_ms;
  absl::StatusOr<std::unique_ptr<consumer::WorkerStatsExchange>> exchange =
      consumer::WorkerStatsExchange::Create(kafka, stats, *engine_, metrics_);
  if (!exchange.ok()) return exchange.status();
  exchange_ = std::move(*exchange);
  exchange_view_ = exchange_.get();

  consumer::IngestOptions ingest;
  ingest.before_revoke = [x = exchange_.get()](int32_t partition) { x->PublishPartition(partition); };
  ingest.topic = config_.kafka.labels_topic;
  ingest.group = config_.kafka.group;
  ingest.instance_id = config_.kafka.instance_id;
  ingest.commit_interval_ms = config_.kafka.commit_interval_ms;
  ingest.commit_max_messages = config_.kafka.commit_max_messages;
  ingest.replay_from_start = replay_from_start_;
  using OutOfRange = consumer::IngestOptions::OutOfRange;
  ingest.offset_out_of_range = config_.kafka.offset_out_of_range == "fail"     ? OutOfRange::kFail
                               : config_.kafka.offset_out_of_range == "latest" ? OutOfRange::kLatest
                                                                               : OutOfRange::kEarliest;
  absl::StatusOr<std::unique_ptr<consumer::IngestLoop>> loop =
      consumer::IngestLoop::Create(kafka, ingest, *engine_, *publisher_, metrics_);
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  ingest_started_ = true;
  ingest_thread_ = std::thread([this] {
    // Before anything is produced: a producer's first record would otherwise
    // let the broker auto-create the topic with its defaults (not compacted).
    CreateOutputTopics();
    ingest_status_ = loop_->Run(stop_);
    if (!ingest_status_.ok()) {
      spdlog::error("ingest stopped: {}", ingest_status_.ToString());
      RequestStop();
    }
  });
  sweep_thread_ = std::thread([this] { engine_->RunSweeps(stop_); });
  stats_thread_ = std::thread([this] { exchange_->Run(stats_stop_); });
  return absl::OkStatus();
}

void Service::CreateOutputTopics() {
  using consumer::TopicOutcome;
  absl::StatusOr<std::vector<TopicOutcome>> outcomes =
      consumer::CreateMissingTopics(KafkaPropertiesOf(config_), config_.kafka.labels_topic,
                                    OutputTopicSpecs(config_, config_.kafka.worker_stats_topic), 10000);
  if (absl::IsUnimplemented(outcomes.status())) {
    spdlog::info("kafka: the brokers cannot create topics (an embedded mock cluster?): "
                 "the output topics are used as they are");
    return;
  }
  if (!outcomes.ok()) {
    const std::string failure = consumer::LastBrokerFailure();
    if (absl::IsUnavailable(outcomes.status()) || absl::IsDeadlineExceeded(outcomes.status())) {
      spdlog::warn("kafka: cannot reach the brokers at {}{}{}: retrying; /readyz is 503 until they answer",
                   config_.kafka.brokers, failure.empty() ? "" : ": ", failure);
    }
    spdlog::warn("kafka: the output topics were not checked ({}); create any that is missing "
                 "(docs/operations.md)", outcomes.status().ToString());
    return;
  }
  for (const TopicOutcome& o : *outcomes) {
    if (o.result == TopicOutcome::Result::kCreated) {
      spdlog::info("kafka: created topic {}, partitions: {}", o.name, o.partitions);
    } else if (o.result == TopicOutcome::Result::kFailed) {
      spdlog::warn("kafka: {}; create the topic yourself (docs/operations.md)", o.error.ToString());
    }
  }
}

api::Readiness Service::Readiness() const {
  api::Readiness r;
  if (engine_ != nullptr && restored_.load()) {
    for (const engine::OwnedPartition& p : engine_->OwnedPartitions()) {
      ++r.partitions_owned;
      ++(p.ready ? r.partitions_ready : r.partitions_restoring);
    }
  }
  if (!restored_.load()) {
    r.reason = "loading the state";
    return r;
  }
  if (!ingest_started_.load() || stop_.load()) {
    r.reason = stop_.load() ? "stopping" : "starting";
    return r;
  }
  switch (loop_->brokers()) {
    case consumer::BrokerHealth::State::kUp: r.brokers = "up"; break;
    case consumer::BrokerHealth::State::kDown: r.brokers = "down"; break;
    case consumer::BrokerHealth::State::kUnknown: r.brokers = "unknown"; break;
  }
  r.ready = loop_->ready() && r.partitions_restoring == 0 && exchange_->caught_up();
  if (r.ready) return r;
  if (r.brokers != "up") {
    r.reason = r.brokers == "down" ? "the Kafka brokers do not answer" : "connecting to Kafka";
  } else if (!loop_->joined()) {
    r.reason = "waiting for partitions from the consumer group";
  } else if (!exchange_->caught_up()) {
    r.reason = "reading the worker statistics";
  } else {
    r.reason = "partitions restoring";
  }
  return r;
}

absl::Status Service::Wait() {
  {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait(lock, [this] { return stop_.load(); });
  }
  waited_ = true;
  if (ingest_thread_.joinable()) ingest_thread_.join();
  if (sweep_thread_.joinable()) sweep_thread_.join();
  // After the ingest loop, whose revocations publish statistics one last time.
  stats_stop_ = true;
  if (stats_thread_.joinable()) stats_thread_.join();
  if (publisher_) {
    absl::Status flushed = publisher_->Flush(10000);
    if (!flushed.ok()) spdlog::warn("outputs: {}", flushed.ToString());
  }
  if (engine_ && restored_) {
    absl::Status persisted = engine_->PersistPublished();
    if (!persisted.ok()) spdlog::warn("state: {}", persisted.ToString());
  }
  if (http_) http_->Stop();
  loop_.reset();
  exchange_view_ = nullptr;
  exchange_.reset();
  publisher_.reset();
  engine_.reset();
  if (store_) {
    absl::Status flushed = store_->Flush();
    if (!flushed.ok()) spdlog::warn("state: {}", flushed.ToString());
  }
  store_.reset();
  return ingest_status_;
}

}  // namespace consensusd::service
