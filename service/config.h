// The configuration of `consensusd serve` (SPEC 5.6): every setting with its
// default, its key and valid range (ForEachKey, the one key table), and
// Validate. Loading is config_load.h; the keys' meaning, docs/configuration.md.
//
//   absl::StatusOr<Config> config = LoadConfig("consensusd.yaml", env, overrides);
//   consensus::AggregateOptions fit = config->FitOptions();
//   const ProjectConfig& p = config->ForProject("sentiment-v2");
#ifndef CONSENSUSD_SERVICE_CONFIG_H_
#define CONSENSUSD_SERVICE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "consensus/aggregate.h"
#include "consensus/report.h"
#include "consensus/streaming_model.h"

namespace consensusd::service {

// Settings of one project (SPEC 3.3, 4.3).
struct ProjectConfig {
  std::vector<std::string> classes;  // declared class set, in order; empty = discovered
  int32_t max_classes = 64;          // cap on discovered classes
  consensus::QualityThresholds quality;  // when a worker is flagged
  // What a worker's second answer to a task means: "replace" (an edit) or
  // "count" (an independent repeat). docs/configuration.md says why replace
  // is the service's default.
  std::string repeats = "replace";
  // What one answer is (SPEC 3.1a): categorical, pairwise or rating; empty:
  // fixed by the project's first answer.
  std::string kind;
  // A rating project's scale, [min, max] (e.g. [1, 7]); ratings outside it
  // are rejected (out_of_scale). Empty: any finite rating, and the fit's
  // scale runs from the smallest rating to the largest.
  std::vector<std::string> scale;
  // A pairwise project's bootstrap replicates per sweep (the intervals);
  // 100 as `aggregate --kind pairwise`, fewer for large projects (each
  // replicate is a refit), 0 for none.
  int bootstrap = 100;

  // The scale as numbers. REQUIRES: Validate() is OK and scale is not empty.
  double ScaleMin() const;
  double ScaleMax() const;
};

struct Config {
  struct Kafka {
    std::string brokers;  // required
    std::string group = "consensusd";
    // Static group membership (group.instance.id); empty = dynamic.
    std::string instance_id;
    std::string labels_topic = "labels";
    std::string consensus_topic = "labels.consensus";
    std::string review_topic = "labels.review";
    std::string dlq_topic = "labels.dlq";
    // Scale-out (SPEC 8): the compacted topic of per-partition worker
    // statistics, and how often the owned partitions' changes are published.
    std::string worker_stats_topic = "consensusd.worker-stats";
    int worker_stats_interval_ms = 5000;
    // librdkafka properties passed as-is, except kReservedKafkaProperties.
    std::map<std::string, std::string> properties;
    int commit_interval_ms = 5;
    int commit_max_messages = 50000;
    // When a partition's stored offset is no longer in the topic (retention
    // deleted it, or the broker lost data): "earliest" resumes at the oldest
    // offset the topic holds, "latest" at its end, "fail" stops serve.
    std::string offset_out_of_range = "earliest";
  } kafka;
  struct State {
    std::string data_dir = "./consensusd-data";
    size_t write_buffer_mb = 64;
    size_t block_cache_mb = 64;
  } state;
  struct Model {
    std::string method = "hds";  // ds | onecoin | vbds | mace | hds (mv and wawa are batch-only)
    double prior = consensus::kDefaultPrior;
    double diagonal_prior = consensus::kDefaultDiagonalPrior;
    double tol = consensus::AggregateOptions{}.tol;
    int max_iter = consensus::AggregateOptions{}.max_iter;
    double sweep_interval_s = 10;
    int threads = consensus::AggregateOptions{}.threads;
    int64_t onecoin_below = consensus::AggregateOptions{}.onecoin_below;
  } model;

  // Declared projects, complete: keys they do not set come from project_defaults.
  std::map<std::string, ProjectConfig, std::less<>> projects;
  // Settings of every project not in `projects`. (Not projects.default:
  // `default` is the project of messages without a project field, SPEC 3.1.)
  ProjectConfig project_defaults;
  consensus::ReviewThresholds review;
  struct Output {
    double min_change = 0.01;  // confidence move that republishes an unchanged label
  } output;
  struct Http {
    std::string address = "127.0.0.1:8080";
    std::string admin_token;  // empty = admin calls answer 403
    size_t max_body_bytes = 1 << 20;
    int request_timeout_ms = 10000;  // a whole request, headers and body
    int threads = 8;                 // handler threads (the probes have their own)
    int max_connections = 512;
  } http;
  struct Metrics {
    int per_worker_limit = 500;
  } metrics;

  // OK, or InvalidArgument naming the first invalid key ("model.tol must be > 0, got 0").
  absl::Status Validate() const;

  // The batch/sweep options of the model section. REQUIRES: Validate() is OK.
  consensus::AggregateOptions FitOptions() const;
  // Options of the streaming model of `project`. REQUIRES: Validate() is OK.
  consensus::StreamingOptions StreamingOptionsFor(std::string_view project) const;

  // The settings of `project`: its entry in `projects`, else project_defaults.
  const ProjectConfig& ForProject(std::string_view project) const;
};

// The valid values of a number: from `min` (excluded if `above`) to `max`.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool above = false;
};

// The key table: f(name, field[, range]) for every key of a [const] ProjectConfig ...
template <typename P, typename F>
void ForEachProjectKey(P& p, F&& f) {
  f("classes", p.classes);
  f("max_classes", p.max_classes, Range{2, 1024});  // K x K doubles per worker stay small
  f("repeats", p.repeats);
  f("kind", p.kind);
  f("scale", p.scale);
  f("bootstrap", p.bootstrap, Range{0, 10000});
  f("quality.min_answers", p.quality.min_answers, Range{0});
  f("quality.min_accuracy", p.quality.min_accuracy, Range{0, 1});
  f("quality.max_spam_score", p.quality.max_spam_score, Range{0, 1});
}

// ... and of a Config, in the order of --print-config; the maps
// kafka.properties and projects (projects.<name>.<project key>) apart.
template <typename C, typename F>
void ForEachKey(C& c, F&& f) {
  constexpr Range kPositive{.min = 0, .above = true}, kMegabytes{1, 1 << 20};
  f("kafka.brokers", c.kafka.brokers);
  f("kafka.group", c.kafka.group);
  f("kafka.instance_id", c.kafka.instance_id);
  f("kafka.labels_topic", c.kafka.labels_topic);
  f("kafka.consensus_topic", c.kafka.consensus_topic);
  f("kafka.review_topic", c.kafka.review_topic);
  f("kafka.dlq_topic", c.kafka.dlq_topic);
  f("kafka.worker_stats_topic", c.kafka.worker_stats_topic);
  f("kafka.worker_stats_interval_ms", c.kafka.worker_stats_interval_ms, Range{10});
  f("kafka.commit_interval_ms", c.kafka.commit_interval_ms, Range{1});
  f("kafka.commit_max_messages", c.kafka.commit_max_messages, Range{1});
  f("kafka.offset_out_of_range", c.kafka.offset_out_of_range);
  f("state.data_dir", c.state.data_dir);
  f("state.write_buffer_mb", c.state.write_buffer_mb, kMegabytes);
  f("state.block_cache_mb", c.state.block_cache_mb, kMegabytes);
  f("model.method", c.model.method);
  f("model.prior", c.model.prior, Range{0});
  f("model.diagonal_prior", c.model.diagonal_prior, Range{0});
  f("model.tol", c.model.tol, kPositive);
  f("model.max_iter", c.model.max_iter, Range{1});
  f("model.sweep_interval_s", c.model.sweep_interval_s, kPositive);
  f("model.threads", c.model.threads, Range{0, 256});
  f("model.onecoin_below", c.model.onecoin_below, Range{0});
  ForEachProjectKey(c.project_defaults, [&f](const std::string& name, auto& field, auto... range) {
    f("project_defaults." + name, field, range...);
  });
  f("review.min_confidence", c.review.min_confidence, Range{0, 1, /*above=*/true});
  f("review.min_answers", c.review.min_answers, Range{0});
  f("output.min_change", c.output.min_change, Range{0, 1});
  f("http.address", c.http.address);
  f("http.admin_token", c.http.admin_token);
  f("http.max_body_bytes", c.http.max_body_bytes, Range{1});
  f("http.request_timeout_ms", c.http.request_timeout_ms, Range{1});
  f("http.threads", c.http.threads, Range{1, 256});
  f("http.max_connections", c.http.max_connections, Range{1, 65536});
  f("metrics.per_worker_limit", c.metrics.per_worker_limit, Range{0});
}

// librdkafka properties that a key owns or consensusd's guarantees need (SPEC 6, 8).
inline constexpr std::string_view kReservedKafkaProperties[] = {
    "bootstrap.servers",   "metadata.broker.list",     "group.id",  "group.instance.id",
    "enable.auto.commit",  "enable.auto.offset.store", "auto.offset.reset",
    "partition.assignment.strategy"};

// What --print-config shows instead of a secret. A config holding it is
// invalid: the real secret must come from elsewhere (e.g. the environment).
inline constexpr std::string_view kRedactedSecret = "<redacted>";

// Whether --print-config redacts a librdkafka property: its name holds password,
// secret, jaas, key or token (sasl.jaas.config, ...), or is sasl.oauthbearer.config.
bool IsSecretKafkaProperty(std::string_view name);

// The shortest decimal text that reads back as `value` ("0.01", "1e-07").
std::string FormatNumber(double value);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_H_
