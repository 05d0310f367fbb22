#include "service/config.h"

#include <set>
#include <utility>

#include "service/config_keys.h"

namespace consensusd::service {

namespace {

constexpr int32_t kMaxClassesLimit = 1024;  // K x K doubles per worker stay small
constexpr size_t kMaxMegabytes = size_t{1} << 20;
constexpr int kMaxThreads = 256;

using Problem = std::optional<ConfigProblem>;

Problem Bad(std::string key, std::string message) {
  return ConfigProblem{std::move(key), std::move(message)};
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
bool IsValidTopicName(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// HOST:PORT with a non-empty host (IPv6 in brackets) and a port 0-65535.
bool IsValidAddress(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.front() == '[' ? host.back() != ']' || host.size() < 3
                          : host.find(':') != std::string_view::npos) {
    return false;
  }
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value <= 65535;
}

Problem CheckKafka(const Config::Kafka& k) {
  if (k.brokers.empty()) {
    return Bad("kafka.brokers",
               "--brokers is required: set it or kafka.brokers in the config file "
               "(or CONSENSUSD_KAFKA_BROKERS)");
  }
  if (k.group.empty()) return Bad("kafka.group", "kafka.group must not be empty");
  const std::pair<const char*, const std::string*> topics[] = {
      {"kafka.labels_topic", &k.labels_topic},
      {"kafka.consensus_topic", &k.consensus_topic},
      {"kafka.review_topic", &k.review_topic},
      {"kafka.dlq_topic", &k.dlq_topic},
      {"kafka.worker_stats_topic", &k.worker_stats_topic}};
  for (size_t i = 0; i < std::size(topics); ++i) {
    const auto& [key, topic] = topics[i];
    if (!IsValidTopicName(*topic)) {
      return Bad(key, std::string(key) + " " + Quoted(*topic) +
                          " is not a Kafka topic name: use 1 to 249 of a-z A-Z 0-9 . _ -");
    }
    for (size_t j = 0; j < i; ++j) {
      if (*topics[j].second == *topic) {
        return Bad(key, std::string(key) + " must differ from " + topics[j].first +
                            " (both are " + Quoted(*topic) + ")");
      }
    }
  }
  for (const auto& [name, value] : k.properties) {
    const std::string key = "kafka.properties." + name;
    if (name == "bootstrap.servers" || name == "metadata.broker.list") {
      return Bad(key, key + " cannot be set: use kafka.brokers (--brokers)");
    }
    if (name == "group.id") return Bad(key, key + " cannot be set: use kafka.group (--group)");
    for (std::string_view reserved : kReservedKafkaProperties) {
      if (name == reserved) {
        return Bad(key, key +
                            " cannot be set: consensusd manages it (offsets are stored with "
                            "the state; partitions are assigned cooperative-sticky)");
      }
    }
    if (value == kRedactedSecret) {
      return Bad(key, key + " is the placeholder " + Quoted(kRedactedSecret) +
                          " printed by --print-config: set the real value");
    }
  }
  if (k.commit_interval_ms < 1) {
    return Bad("kafka.commit_interval_ms",
               "kafka.commit_interval_ms must be >= 1, got " + std::to_string(k.commit_interval_ms));
  }
  if (k.commit_max_messages < 1) {
    return Bad("kafka.commit_max_messages", "kafka.commit_max_messages must be >= 1, got " +
                                                std::to_string(k.commit_max_messages));
  }
  return std::nullopt;
}

Problem CheckState(const Config::State& s) {
  if (s.data_dir.empty()) return Bad("state.data_dir", "state.data_dir must not be empty");
  const std::pair<const char*, size_t> sizes[] = {{"state.write_buffer_mb", s.write_buffer_mb},
                                                  {"state.block_cache_mb", s.block_cache_mb}};
  for (const auto& [key, mb] : sizes) {
    if (mb < 1 || mb > kMaxMegabytes) {
      return Bad(key, std::string(key) + " must be from 1 to " + std::to_string(kMaxMegabytes) +
                          " (MiB), got " + std::to_string(mb));
    }
  }
  return std::nullopt;
}

Problem CheckModel(const Config::Model& m) {
  if (m.method != "ds" && m.method != "onecoin") {
    std::string message = "model.method must be ds or onecoin, got " + Quoted(m.method);
    if (m.method == "mv" || m.method == "wawa") {
      message += " (mv and wawa are batch-only: consensusd aggregate --method " + m.method + ")";
    }
    return Bad("model.method", message);
  }
  // Written so that NaN fails every check.
  if (!(m.prior >= 0)) {
    return Bad("model.prior", "model.prior must be >= 0, got " + FormatNumber(m.prior));
  }
  if (!(m.diagonal_prior >= 0)) {
    return Bad("model.diagonal_prior",
               "model.diagonal_prior must be >= 0, got " + FormatNumber(m.diagonal_prior));
  }
  if (!(m.tol > 0)) return Bad("model.tol", "model.tol must be > 0, got " + FormatNumber(m.tol));
  if (m.max_iter < 1) {
    return Bad("model.max_iter", "model.max_iter must be >= 1, got " + std::to_string(m.max_iter));
  }
  if (!(m.sweep_interval_s > 0)) {
    return Bad("model.sweep_interval_s",
               "model.sweep_interval_s must be > 0, got " + FormatNumber(m.sweep_interval_s));
  }
  if (m.threads < 1 || m.threads > kMaxThreads) {
    return Bad("model.threads", "model.threads must be from 1 to " + std::to_string(kMaxThreads) +
                                    ", got " + std::to_string(m.threads));
  }
  if (m.onecoin_below < 0) {
    return Bad("model.onecoin_below",
               "model.onecoin_below must be >= 0, got " + std::to_string(m.onecoin_below));
  }
  return std::nullopt;
}

// `prefix` is "project_defaults." or "projects.<name>.".
Problem CheckProject(const std::string& prefix, const ProjectConfig& p) {
  if (p.max_classes < 2 || p.max_classes > kMaxClassesLimit) {
    return Bad(prefix + "max_classes", prefix + "max_classes must be from 2 to " +
                                           std::to_string(kMaxClassesLimit) + ", got " +
                                           std::to_string(p.max_classes));
  }
  const std::string classes = prefix + "classes";
  if (p.classes.size() == 1) {
    return Bad(classes, classes + " declares one class: declare at least two, or none to "
                                  "discover them");
  }
  if (p.classes.size() > static_cast<size_t>(p.max_classes)) {
    return Bad(classes, classes + " declares " + std::to_string(p.classes.size()) +
                            " classes, more than " + prefix + "max_classes (" +
                            std::to_string(p.max_classes) + "): raise max_classes");
  }
  std::set<std::string_view> seen;
  for (const std::string& c : p.classes) {
    if (c.empty()) return Bad(classes, classes + " has an empty class name");
    if (!seen.insert(c).second) return Bad(classes, classes + " lists " + Quoted(c) + " twice");
  }
  const consensus::QualityThresholds& q = p.quality;
  if (q.min_answers < 0) {
    return Bad(prefix + "quality.min_answers", prefix + "quality.min_answers must be >= 0, got " +
                                                   std::to_string(q.min_answers));
  }
  const std::pair<std::string, double> fractions[] = {
      {prefix + "quality.min_accuracy", q.min_accuracy},
      {prefix + "quality.max_spam_score", q.max_spam_score}};
  for (const auto& [key, value] : fractions) {
    if (!(value >= 0 && value <= 1)) {
      return Bad(key, key + " must be from 0 to 1, got " + FormatNumber(value));
    }
  }
  return std::nullopt;
}

Problem CheckRest(const Config& c) {
  if (!(c.review.min_confidence > 0 && c.review.min_confidence <= 1)) {
    return Bad("review.min_confidence", "review.min_confidence must be > 0 and <= 1, got " +
                                            FormatNumber(c.review.min_confidence));
  }
  if (c.review.min_answers < 0) {
    return Bad("review.min_answers",
               "review.min_answers must be >= 0, got " + std::to_string(c.review.min_answers));
  }
  if (!(c.output.min_change >= 0 && c.output.min_change <= 1)) {
    return Bad("output.min_change",
               "output.min_change must be from 0 to 1, got " + FormatNumber(c.output.min_change));
  }
  if (!IsValidAddress(c.http.address)) {
    return Bad("http.address", "http.address must be HOST:PORT (e.g. 127.0.0.1:8080 or "
                               "[::1]:8080), got " + Quoted(c.http.address));
  }
  if (c.http.admin_token == kRedactedSecret) {
    return Bad("http.admin_token",
               "http.admin_token is the placeholder " + Quoted(kRedactedSecret) +
                   " printed by --print-config: set the real token in the config file or "
                   "CONSENSUSD_HTTP_ADMIN_TOKEN");
  }
  if (c.http.max_body_bytes < 1) {
    return Bad("http.max_body_bytes", "http.max_body_bytes must be >= 1, got 0");
  }
  if (c.metrics.per_worker_limit < 0) {
    return Bad("metrics.per_worker_limit", "metrics.per_worker_limit must be >= 0, got " +
                                               std::to_string(c.metrics.per_worker_limit));
  }
  return std::nullopt;
}

}  // namespace

bool IsSecretKafkaProperty(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos || name == "ssl.key.pem" ||
         name == "ssl_key" || name == "sasl.oauthbearer.config";
}

std::optional<ConfigProblem> FindConfigProblem(const Config& config) {
  if (Problem p = CheckKafka(config.kafka)) return p;
  if (Problem p = CheckState(config.state)) return p;
  if (Problem p = CheckModel(config.model)) return p;
  // The defaults first: a bad default is reported once, under its own key.
  if (Problem p = CheckProject("project_defaults.", config.project_defaults)) return p;
  for (const auto& [name, project] : config.projects) {
    if (name.empty()) return Bad("projects", "a project name under projects is empty");
    if (Problem p = CheckProject("projects." + name + ".", project)) return p;
  }
  return CheckRest(config);
}

absl::Status Config::Validate() const {
  if (std::optional<ConfigProblem> problem = FindConfigProblem(*this)) {
    return absl::InvalidArgumentError(problem->message);
  }
  return absl::OkStatus();
}

consensus::AggregateOptions Config::FitOptions() const {
  consensus::AggregateOptions options;
  options.method = model.method == "onecoin" ? consensus::Method::kOneCoin
                                             : consensus::Method::kDawidSkene;
  options.prior = model.prior;
  options.diagonal_prior = model.diagonal_prior;
  options.tol = model.tol;
  options.max_iter = model.max_iter;
  options.threads = model.threads;
  options.onecoin_below = model.onecoin_below;
  return options;
}

consensus::StreamingOptions Config::StreamingOptionsFor(std::string_view project) const {
  consensus::StreamingOptions options;
  options.fit = FitOptions();
  options.max_classes = ForProject(project).max_classes;
  return options;
}

const ProjectConfig& Config::ForProject(std::string_view project) const {
  auto it = projects.find(project);
  return it != projects.end() ? it->second : project_defaults;
}

}  // namespace consensusd::service
