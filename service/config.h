// The configuration of `consensusd serve` (SPEC 5.6): what every setting is,
// its default, and which combinations are valid. Where values come from (YAML
// file, CONSENSUSD_* environment, flags) is config_load.h; what each key means
// is docs/configuration.md.
//
//   absl::StatusOr<Config> config = LoadConfig("consensusd.yaml", env, overrides);
//   consensus::AggregateOptions fit = config->FitOptions();
//   const ProjectConfig& p = config->ForProject("sentiment-v2");
#ifndef CONSENSUSD_SERVICE_CONFIG_H_
#define CONSENSUSD_SERVICE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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
};

struct Config {
  struct Kafka {
    std::string brokers;  // required
    std::string group = "consensusd";
    std::string labels_topic = "labels";
    std::string consensus_topic = "labels.consensus";
    std::string review_topic = "labels.review";
    std::string dlq_topic = "labels.dlq";
    std::string worker_stats_topic = "consensusd.worker-stats";
    // librdkafka properties passed as-is (SASL, TLS, tuning), except the ones
    // consensusd owns (see kReservedKafkaProperties).
    std::map<std::string, std::string> properties;
    int commit_interval_ms = 20;
    int commit_max_messages = 50000;
  } kafka;

  struct State {
    std::string data_dir = "./consensusd-data";
    size_t write_buffer_mb = 64;
    size_t block_cache_mb = 64;
  } state;

  struct Model {
    std::string method = "ds";  // ds | onecoin (mv and wawa are batch-only)
    double prior = consensus::kDefaultPrior;
    double diagonal_prior = consensus::kDefaultDiagonalPrior;
    double tol = consensus::AggregateOptions{}.tol;
    int max_iter = consensus::AggregateOptions{}.max_iter;
    double sweep_interval_s = 10;
    int threads = consensus::AggregateOptions{}.threads;
    int64_t onecoin_below = consensus::AggregateOptions{}.onecoin_below;
  } model;

  // Declared projects. Each entry is complete: keys it does not set are
  // inherited from project_defaults.
  std::map<std::string, ProjectConfig, std::less<>> projects;
  // Settings of every project not in `projects`. (A separate key, not
  // projects.default: `default` is the name of the project of messages
  // without a project field, SPEC 3.1.)
  ProjectConfig project_defaults;

  consensus::ReviewThresholds review;

  struct Output {
    double min_change = 0.01;  // confidence move that republishes an unchanged label
  } output;

  struct Http {
    std::string address = "127.0.0.1:8080";
    std::string admin_token;  // empty = admin calls answer 403
    size_t max_body_bytes = 1 << 20;
  } http;

  struct Metrics {
    int per_worker_limit = 500;
  } metrics;

  // OK, or InvalidArgument naming the first invalid key, its valid range and
  // the value found.
  absl::Status Validate() const;

  // The batch/sweep options of the model section. REQUIRES: Validate() is OK.
  consensus::AggregateOptions FitOptions() const;
  // Options of the streaming model of `project`. REQUIRES: Validate() is OK.
  consensus::StreamingOptions StreamingOptionsFor(std::string_view project) const;

  // The settings of `project`: its entry in `projects`, else project_defaults.
  const ProjectConfig& ForProject(std::string_view project) const;
};

// librdkafka properties that kafka.properties may not set, because a config
// key owns them or consensusd's guarantees depend on them (SPEC 6, 8).
inline constexpr std::string_view kReservedKafkaProperties[] = {
    "bootstrap.servers",   "metadata.broker.list",     "group.id",
    "enable.auto.commit",  "enable.auto.offset.store", "auto.offset.reset",
    "partition.assignment.strategy"};

// What --print-config shows instead of a secret (http.admin_token, secret
// kafka.properties). A config whose secret is still this placeholder is invalid,
// so a printed config loads back only where the real secret comes from elsewhere
// (e.g. CONSENSUSD_HTTP_ADMIN_TOKEN), never with the placeholder as the secret.
inline constexpr std::string_view kRedactedSecret = "<redacted>";

// Whether a librdkafka property holds a secret, so that --print-config redacts
// it: its name contains password, secret, jaas, key or token (sasl.password,
// sasl.jaas.config, ssl.key.password, sasl.oauthbearer.client.secret, ...), or
// it is sasl.oauthbearer.config.
bool IsSecretKafkaProperty(std::string_view name);

// The shortest decimal text that reads back as `value` ("0.01", "1e-07").
std::string FormatNumber(double value);

// The first invalid setting: `key` is its dotted name (for projects,
// projects.<name>.<key>), `message` says the valid range and the value found.
struct ConfigProblem {
  std::string key;
  std::string message;
};
std::optional<ConfigProblem> FindConfigProblem(const Config& config);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_H_
