#include "service/config_keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <type_traits>

#include "yaml-cpp/yaml.h"

namespace consensusd::service {

namespace {

// A key whose field is `access(owner)`; `access` is a generic lambda
// `[](auto& c) -> auto& { return c.section.member; }`, so one lambda gives
// both the mutable and the const reference.
template <typename Owner, typename Access>
Key<Owner> MakeKey(std::string name, std::string description, Access access,
                   bool secret = false) {
  return Key<Owner>{std::move(name), std::move(description), secret,
                    [access](Owner& o) -> FieldRef { return &access(o); },
                    [access](const Owner& o) -> ConstFieldRef { return &access(o); }};
}

std::vector<ProjectKey> MakeProjectKeys() {
  auto key = [](std::string name, std::string description, auto access) {
    return MakeKey<ProjectConfig>(std::move(name), std::move(description), access);
  };
  return {
      key("classes",
          "Declared class set, in order; labels outside it are rejected (unknown_class). "
          "Empty: classes are discovered as labels arrive, in first-seen order.",
          [](auto& p) -> auto& { return p.classes; }),
      key("max_classes",
          "Most classes a project may discover; labels beyond it are rejected "
          "(too_many_classes).",
          [](auto& p) -> auto& { return p.max_classes; }),
      key("quality.min_answers", "Answers a worker needs before they can be flagged.",
          [](auto& p) -> auto& { return p.quality.min_answers; }),
      key("quality.min_accuracy", "A worker whose estimated accuracy is below this is flagged.",
          [](auto& p) -> auto& { return p.quality.min_accuracy; }),
      key("quality.max_spam_score", "A worker whose spam score is above this is flagged.",
          [](auto& p) -> auto& { return p.quality.max_spam_score; }),
  };
}

std::vector<ConfigKey> MakeConfigKeys() {
  auto key = [](std::string name, std::string description, auto access, bool secret = false) {
    return MakeKey<Config>(std::move(name), std::move(description), access, secret);
  };
  std::vector<ConfigKey> keys = {
      key("kafka.brokers", "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]. Required.",
          [](auto& c) -> auto& { return c.kafka.brokers; }),
      key("kafka.group",
          "Consumer group; instances in the same group share the input partitions.",
          [](auto& c) -> auto& { return c.kafka.group; }),
      key("kafka.labels_topic", "Input topic: answers, gold declarations and retractions.",
          [](auto& c) -> auto& { return c.kafka.labels_topic; }),
      key("kafka.consensus_topic", "Output topic (compacted) of consensus labels.",
          [](auto& c) -> auto& { return c.kafka.consensus_topic; }),
      key("kafka.review_topic", "Output topic of tasks that became needs_review.",
          [](auto& c) -> auto& { return c.kafka.review_topic; }),
      key("kafka.dlq_topic",
          "Dead-letter topic: rejected messages, with the reason in header consensusd-error.",
          [](auto& c) -> auto& { return c.kafka.dlq_topic; }),
      key("kafka.worker_stats_topic",
          "Compacted topic through which instances share per-worker statistics.",
          [](auto& c) -> auto& { return c.kafka.worker_stats_topic; }),
      key("kafka.commit_interval_ms",
          "Longest time between two commits of state and offsets, in milliseconds.",
          [](auto& c) -> auto& { return c.kafka.commit_interval_ms; }),
      key("kafka.commit_max_messages",
          "Messages applied before a commit is made, whatever the interval.",
          [](auto& c) -> auto& { return c.kafka.commit_max_messages; }),
      key("state.data_dir", "Directory of the RocksDB state.",
          [](auto& c) -> auto& { return c.state.data_dir; }),
      key("state.write_buffer_mb", "RocksDB write buffer (memtable) size, in MiB.",
          [](auto& c) -> auto& { return c.state.write_buffer_mb; }),
      key("state.block_cache_mb", "RocksDB block cache size, in MiB.",
          [](auto& c) -> auto& { return c.state.block_cache_mb; }),
      key("model.method",
          "Streaming model: ds (Dawid-Skene, a confusion matrix per worker) or onecoin "
          "(one accuracy per worker).",
          [](auto& c) -> auto& { return c.model.method; }),
      key("model.prior",
          "Dirichlet pseudo-count added to every confusion-matrix cell and class count; "
          "0 gives maximum-likelihood Dawid-Skene.",
          [](auto& c) -> auto& { return c.model.prior; }),
      key("model.diagonal_prior",
          "Extra pseudo-count on each confusion-matrix diagonal (workers beat chance); "
          "ignored when model.prior is 0.",
          [](auto& c) -> auto& { return c.model.diagonal_prior; }),
      key("model.tol", "EM stops when the objective per answer improves by less than this.",
          [](auto& c) -> auto& { return c.model.tol; }),
      key("model.max_iter", "EM stops after this many iterations.",
          [](auto& c) -> auto& { return c.model.max_iter; }),
      key("model.sweep_interval_s", "Seconds between two background full EM sweeps.",
          [](auto& c) -> auto& { return c.model.sweep_interval_s; }),
      key("model.threads", "Threads of a full EM sweep; results are identical for every count.",
          [](auto& c) -> auto& { return c.model.threads; }),
      key("model.onecoin_below",
          "Under ds, workers with fewer answers than this get one accuracy instead of a "
          "confusion matrix; 0 disables.",
          [](auto& c) -> auto& { return c.model.onecoin_below; }),
  };
  // project_defaults.<key>: the project keys, on Config::project_defaults.
  for (const ProjectKey& pk : ProjectKeys()) {
    keys.push_back(ConfigKey{
        "project_defaults." + pk.name, pk.description, pk.secret,
        [f = pk.field](Config& c) { return f(c.project_defaults); },
        [g = pk.get](const Config& c) { return g(c.project_defaults); }});
  }
  std::vector<ConfigKey> rest = {
      key("review.min_confidence",
          "A task is needs_review when its confidence is below this after review.min_answers "
          "answers.",
          [](auto& c) -> auto& { return c.review.min_confidence; }),
      key("review.min_answers", "Answers a task needs before it can be needs_review.",
          [](auto& c) -> auto& { return c.review.min_answers; }),
      key("output.min_change",
          "A consensus label is republished when it changes or its confidence moves by at "
          "least this.",
          [](auto& c) -> auto& { return c.output.min_change; }),
      key("http.address", "HTTP listen address, HOST:PORT (IPv6: [::1]:8080).",
          [](auto& c) -> auto& { return c.http.address; }),
      key("http.admin_token",
          "Bearer token of the admin calls; empty: admin calls answer 403. "
          "Also read from CONSENSUSD_ADMIN_TOKEN.",
          [](auto& c) -> auto& { return c.http.admin_token; }, /*secret=*/true),
      key("http.max_body_bytes", "Largest HTTP request body accepted, in bytes.",
          [](auto& c) -> auto& { return c.http.max_body_bytes; }),
      key("metrics.per_worker_limit",
          "Workers per project (the busiest) with a consensusd_worker_accuracy_by_worker "
          "series; 0: none.",
          [](auto& c) -> auto& { return c.metrics.per_worker_limit; }),
  };
  keys.insert(keys.end(), rest.begin(), rest.end());
  return keys;
}

std::string_view Trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

absl::Status Expected(std::string_view what, std::string_view text) {
  return absl::InvalidArgumentError("expected " + std::string(what) + ", got '" +
                                    std::string(text) + "'");
}

template <typename Int>
absl::Status ParseInteger(std::string_view text, Int* out) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  const bool whole = !s.empty() && ec != std::errc::invalid_argument &&
                     end == s.data() + s.size();
  if (!whole) return Expected("an integer", text);
  if constexpr (std::is_unsigned_v<Int>) {
    if (ec == std::errc::result_out_of_range || value < 0) {
      return Expected("an integer from 0 to " +
                          std::to_string(std::numeric_limits<int64_t>::max()),
                      text);
    }
  } else {
    if (ec == std::errc::result_out_of_range || value < std::numeric_limits<Int>::min() ||
        value > std::numeric_limits<Int>::max()) {
      return Expected("an integer from " + std::to_string(std::numeric_limits<Int>::min()) +
                          " to " + std::to_string(std::numeric_limits<Int>::max()),
                      text);
    }
  }
  *out = static_cast<Int>(value);
  return absl::OkStatus();
}

absl::Status ParseNumber(std::string_view text, double* out) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return Expected("a number", text);
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ParseList(std::string_view text, std::vector<std::string>* out) {
  std::string_view s = Trim(text);
  std::vector<std::string> items;
  if (!s.empty() && s.front() == '[') {
    try {
      YAML::Node node = YAML::Load(std::string(s));
      if (!node.IsSequence()) return Expected("a list of strings", text);
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) return Expected("a list of strings", text);
        items.push_back(item.Scalar());
      }
    } catch (const YAML::Exception&) {
      return Expected("a list of strings", text);
    }
  } else if (!s.empty()) {
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      items.emplace_back(Trim(s.substr(start, comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  *out = std::move(items);
  return absl::OkStatus();
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string_view LastSegment(std::string_view name) {
  const size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kString: return "string";
    case ValueType::kInteger: return "integer";
    case ValueType::kNumber: return "number";
    case ValueType::kStringList: return "list of strings";
  }
  return "?";
}

ValueType TypeOf(ConstFieldRef field) {
  return std::visit(
      [](auto* p) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        if constexpr (std::is_same_v<T, std::string>) return ValueType::kString;
        else if constexpr (std::is_same_v<T, double>) return ValueType::kNumber;
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) return ValueType::kStringList;
        else return ValueType::kInteger;
      },
      field);
}

ValueType TypeOf(FieldRef field) {
  return TypeOf(std::visit([](auto* p) -> ConstFieldRef { return p; }, field));
}

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey>* const keys = new std::vector<ConfigKey>(MakeConfigKeys());
  return *keys;
}

const std::vector<ProjectKey>& ProjectKeys() {
  static const std::vector<ProjectKey>* const keys =
      new std::vector<ProjectKey>(MakeProjectKeys());
  return *keys;
}

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

const ProjectKey* FindProjectKey(std::string_view name) {
  for (const ProjectKey& key : ProjectKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string EnvVarName(std::string_view key) {
  std::string name(kEnvPrefix);
  for (char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

absl::Status ParseInto(FieldRef field, std::string_view text) {
  return std::visit(
      [text](auto* p) -> absl::Status {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *p = std::string(text);
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, double>) {
          return ParseNumber(text, p);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return ParseList(text, p);
        } else {
          return ParseInteger(text, p);
        }
      },
      field);
}

std::string FormatNumber(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

std::string FormatValue(ConstFieldRef field) {
  return std::visit(
      [](const auto* p) -> std::string {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        if constexpr (std::is_same_v<T, std::string>) {
          return *p;
        } else if constexpr (std::is_same_v<T, double>) {
          return FormatNumber(*p);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string text = "[";
          for (size_t i = 0; i < p->size(); ++i) text += (i > 0 ? ", " : "") + (*p)[i];
          return text + "]";
        } else {
          return std::to_string(*p);
        }
      },
      field);
}

std::string ClosestName(std::string_view unknown, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& candidate : candidates) {
    const size_t d = EditDistance(unknown, candidate);
    if (d < best_distance) best = &candidate, best_distance = d;
  }
  if (best != nullptr && ((best_distance <= 2 && best_distance < unknown.size()) ||
                          best_distance * 3 <= unknown.size())) {
    return *best;
  }
  for (const std::string& candidate : candidates) {
    if (LastSegment(candidate) == LastSegment(unknown)) return candidate;
  }
  return "";
}

}  // namespace consensusd::service
