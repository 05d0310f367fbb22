#include "service/config.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <type_traits>
#include <utility>

namespace consensusd::service {

namespace {

constexpr int32_t kMaxClassesLimit = 1024;  // K x K doubles per worker stay small
constexpr size_t kMaxMegabytes = size_t{1} << 20;
constexpr int kMaxThreads = 256;

template <typename T>
std::string Num(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    return FormatNumber(value);
  } else {
    return std::to_string(value);
  }
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
  int value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && port.size() <= 5 && port[0] != '-' && ec == std::errc() &&
         end == port.data() + port.size() && value <= 65535;
}

// Keeps the first problem found; every check after it is a no-op. Comparisons
// are written so that NaN fails them.
class Checker {
 public:
  void Require(bool ok, const std::string& key, const std::string& message) {
    if (!ok && !problem_) problem_ = ConfigProblem{key, message};
  }
  template <typename T>
  void AtLeast(const std::string& key, T value, T min) {
    Require(value >= min, key, key + " must be >= " + Num(min) + ", got " + Num(value));
  }
  void Positive(const std::string& key, double value) {
    Require(value > 0, key, key + " must be > 0, got " + Num(value));
  }
  void Between(const std::string& key, double value, double min, double max,
               const std::string& unit = "") {
    Require(value >= min && value <= max, key,
            key + " must be from " + Num(min) + " to " + Num(max) + unit + ", got " + Num(value));
  }
  std::optional<ConfigProblem> problem() const { return problem_; }

 private:
  std::optional<ConfigProblem> problem_;
};

void CheckKafka(const Config::Kafka& k, Checker& check) {
  check.Require(!k.brokers.empty(), "kafka.brokers",
                "--brokers is required: set it or kafka.brokers in the config file "
                "(or CONSENSUSD_KAFKA_BROKERS)");
  check.Require(!k.group.empty(), "kafka.group", "kafka.group must not be empty");
  const std::pair<std::string, const std::string*> topics[] = {
      {"kafka.labels_topic", &k.labels_topic},
      {"kafka.consensus_topic", &k.consensus_topic},
      {"kafka.review_topic", &k.review_topic},
      {"kafka.dlq_topic", &k.dlq_topic},
      {"kafka.worker_stats_topic", &k.worker_stats_topic}};
  for (size_t i = 0; i < std::size(topics); ++i) {
    const auto& [key, topic] = topics[i];
    check.Require(IsValidTopicName(*topic), key,
                  key + " " + Quoted(*topic) +
                      " is not a Kafka topic name: use 1 to 249 of a-z A-Z 0-9 . _ -");
    for (size_t j = 0; j < i; ++j) {
      check.Require(*topics[j].second != *topic, key,
                    key + " must differ from " + topics[j].first + " (both are " +
                        Quoted(*topic) + ")");
    }
  }
  for (const auto& [name, value] : k.properties) {
    const std::string key = "kafka.properties." + name;
    const bool reserved = std::find(std::begin(kReservedKafkaProperties),
                                    std::end(kReservedKafkaProperties),
                                    name) != std::end(kReservedKafkaProperties);
    check.Require(name != "bootstrap.servers" && name != "metadata.broker.list", key,
                  key + " cannot be set: use kafka.brokers (--brokers)");
    check.Require(name != "group.id", key, key + " cannot be set: use kafka.group (--group)");
    check.Require(!reserved, key,
                  key + " cannot be set: consensusd manages it (offsets are stored with the "
                        "state; partitions are assigned cooperative-sticky)");
    check.Require(value != kRedactedSecret, key,
                  key + " is the placeholder " + Quoted(kRedactedSecret) +
                      " printed by --print-config: set the real value");
  }
  check.AtLeast("kafka.commit_interval_ms", k.commit_interval_ms, 1);
  check.AtLeast("kafka.commit_max_messages", k.commit_max_messages, 1);
}

void CheckStateAndModel(const Config& c, Checker& check) {
  check.Require(!c.state.data_dir.empty(), "state.data_dir", "state.data_dir must not be empty");
  const double max_mb = kMaxMegabytes;
  check.Between("state.write_buffer_mb", c.state.write_buffer_mb, 1, max_mb, " (MiB)");
  check.Between("state.block_cache_mb", c.state.block_cache_mb, 1, max_mb, " (MiB)");
  const Config::Model& m = c.model;
  std::string method = "model.method must be ds or onecoin, got " + Quoted(m.method);
  if (m.method == "mv" || m.method == "wawa") {
    method += " (mv and wawa are batch-only: consensusd aggregate --method " + m.method + ")";
  }
  check.Require(m.method == "ds" || m.method == "onecoin", "model.method", method);
  check.AtLeast("model.prior", m.prior, 0.0);
  check.AtLeast("model.diagonal_prior", m.diagonal_prior, 0.0);
  check.Positive("model.tol", m.tol);
  check.AtLeast("model.max_iter", m.max_iter, 1);
  check.Positive("model.sweep_interval_s", m.sweep_interval_s);
  check.Between("model.threads", m.threads, 1, kMaxThreads);
  check.AtLeast("model.onecoin_below", m.onecoin_below, int64_t{0});
}

// `prefix` is "project_defaults." or "projects.<name>.".
void CheckProject(const std::string& prefix, const ProjectConfig& p, Checker& check) {
  check.Between(prefix + "max_classes", p.max_classes, 2, kMaxClassesLimit);
  const std::string classes = prefix + "classes";
  check.Require(p.classes.size() != 1, classes,
                classes + " declares one class: declare at least two, or none to discover them");
  check.Require(p.classes.size() <= static_cast<size_t>(std::max(p.max_classes, 0)), classes,
                classes + " declares " + std::to_string(p.classes.size()) +
                    " classes, more than " + prefix + "max_classes (" +
                    std::to_string(p.max_classes) + "): raise max_classes");
  std::set<std::string_view> seen;
  for (const std::string& c : p.classes) {
    check.Require(!c.empty(), classes, classes + " has an empty class name");
    check.Require(seen.insert(c).second, classes, classes + " lists " + Quoted(c) + " twice");
  }
  check.AtLeast(prefix + "quality.min_answers", p.quality.min_answers, int64_t{0});
  check.Between(prefix + "quality.min_accuracy", p.quality.min_accuracy, 0, 1);
  check.Between(prefix + "quality.max_spam_score", p.quality.max_spam_score, 0, 1);
}

void CheckRest(const Config& c, Checker& check) {
  check.Require(c.review.min_confidence > 0 && c.review.min_confidence <= 1,
                "review.min_confidence",
                "review.min_confidence must be > 0 and <= 1, got " + Num(c.review.min_confidence));
  check.AtLeast("review.min_answers", c.review.min_answers, int64_t{0});
  check.Between("output.min_change", c.output.min_change, 0, 1);
  check.Require(IsValidAddress(c.http.address), "http.address",
                "http.address must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got " +
                    Quoted(c.http.address));
  check.Require(c.http.admin_token != kRedactedSecret, "http.admin_token",
                "http.admin_token is the placeholder " + Quoted(kRedactedSecret) +
                    " printed by --print-config: set the real token in the config file or "
                    "CONSENSUSD_HTTP_ADMIN_TOKEN");
  check.AtLeast("http.max_body_bytes", c.http.max_body_bytes, size_t{1});
  check.AtLeast("metrics.per_worker_limit", c.metrics.per_worker_limit, 0);
}

}  // namespace

bool IsSecretKafkaProperty(std::string_view name) {
  for (std::string_view word : {"password", "secret", "jaas", "key", "token"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return name == "sasl.oauthbearer.config";
}

std::string FormatNumber(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

std::optional<ConfigProblem> FindConfigProblem(const Config& config) {
  Checker check;
  CheckKafka(config.kafka, check);
  CheckStateAndModel(config, check);
  // The defaults first: a bad default is reported once, under its own key.
  CheckProject("project_defaults.", config.project_defaults, check);
  for (const auto& [name, project] : config.projects) {
    check.Require(!name.empty(), "projects", "a project name under projects is empty");
    CheckProject("projects." + name + ".", project, check);
  }
  CheckRest(config, check);
  return check.problem();
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
