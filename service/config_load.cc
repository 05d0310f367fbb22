#include "service/config_load.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>

#include "yaml-cpp/yaml.h"

namespace consensusd::service {

namespace {

constexpr std::string_view kDefaults = "project_defaults.";
constexpr std::string_view kProperties = "kafka.properties.";
constexpr std::string_view kProjects = "projects.";

// The keys, once: f(relative name, field) for every key of a project (`P` is
// ProjectConfig or const ProjectConfig) ...
template <typename P, typename F>
void ForEachProjectKey(P& p, F&& f) {
  f("classes", p.classes);
  f("max_classes", p.max_classes);
  f("quality.min_answers", p.quality.min_answers);
  f("quality.min_accuracy", p.quality.min_accuracy);
  f("quality.max_spam_score", p.quality.max_spam_score);
}

// ... and f(dotted name, field) for every key of a Config, in the order of
// --print-config. The maps kafka.properties and projects are not keys here.
template <typename C, typename F>
void ForEachKey(C& c, F&& f) {
  f("kafka.brokers", c.kafka.brokers);
  f("kafka.group", c.kafka.group);
  f("kafka.labels_topic", c.kafka.labels_topic);
  f("kafka.consensus_topic", c.kafka.consensus_topic);
  f("kafka.review_topic", c.kafka.review_topic);
  f("kafka.dlq_topic", c.kafka.dlq_topic);
  f("kafka.worker_stats_topic", c.kafka.worker_stats_topic);
  f("kafka.commit_interval_ms", c.kafka.commit_interval_ms);
  f("kafka.commit_max_messages", c.kafka.commit_max_messages);
  f("state.data_dir", c.state.data_dir);
  f("state.write_buffer_mb", c.state.write_buffer_mb);
  f("state.block_cache_mb", c.state.block_cache_mb);
  f("model.method", c.model.method);
  f("model.prior", c.model.prior);
  f("model.diagonal_prior", c.model.diagonal_prior);
  f("model.tol", c.model.tol);
  f("model.max_iter", c.model.max_iter);
  f("model.sweep_interval_s", c.model.sweep_interval_s);
  f("model.threads", c.model.threads);
  f("model.onecoin_below", c.model.onecoin_below);
  ForEachProjectKey(c.project_defaults, [&f](const std::string& name, auto& field) {
    f(std::string(kDefaults) + name, field);
  });
  f("review.min_confidence", c.review.min_confidence);
  f("review.min_answers", c.review.min_answers);
  f("output.min_change", c.output.min_change);
  f("http.address", c.http.address);
  f("http.admin_token", c.http.admin_token);
  f("http.max_body_bytes", c.http.max_body_bytes);
  f("metrics.per_worker_limit", c.metrics.per_worker_limit);
}

template <typename T>
constexpr bool kIsList = std::is_same_v<std::remove_cvref_t<T>, std::vector<std::string>>;

// The table every key is checked against. The keys of projects.<name> are
// those of project_defaults.
struct Key {
  std::string name;
  bool is_list;
};
const std::vector<Key>& Keys() {
  static const std::vector<Key>* const keys = [] {
    auto* keys = new std::vector<Key>;
    Config c;
    ForEachKey(c, [keys](const std::string& name, auto& field) {
      keys->push_back({name, kIsList<decltype(field)>});
    });
    return keys;
  }();
  return *keys;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

const Key* FindKey(std::string_view name) {
  for (const Key& key : Keys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// The keys under section `name`, relative to it ("brokers, group, ..."); empty
// if `name` is not a section.
std::string KeysUnder(const std::string& name) {
  std::string keys;
  for (const Key& key : Keys()) {
    if (StartsWith(key.name, name + ".")) {
      keys += (keys.empty() ? "" : ", ") + key.name.substr(name.size() + 1);
    }
  }
  return keys;
}

// Every name a key or section has ("kafka", "kafka.brokers", ...), for suggestions.
std::vector<std::string> KnownNames() {
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const Key& key : Keys()) {
    for (size_t dot = key.name.find('.'); dot != std::string::npos;
         dot = key.name.find('.', dot + 1)) {
      add(key.name.substr(0, dot));
    }
    add(key.name);
  }
  add("kafka.properties");
  add("projects");
  return names;
}

std::vector<std::string> Split(std::string_view text, char separator = '.') {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
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

// The candidate closest to `unknown` if close enough to be a typo, else one
// with the same last segment (a key in the wrong section); empty if none.
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
  auto last = [](std::string_view s) { return s.substr(s.rfind('.') + 1); };
  for (const std::string& candidate : candidates) {
    if (last(candidate) == last(unknown)) return candidate;
  }
  return "";
}

std::string UnknownKey(std::string_view key, const std::vector<std::string>& candidates) {
  std::string message = "unknown key '" + std::string(key) + "'";
  const std::string suggestion = ClosestName(key, candidates);
  if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
  return message;
}

// Where each key's value came from: "file:line", "CONSENSUSD_X", "command line".
using Where = std::map<std::string, std::string>;

absl::Status ErrorAt(const Where& where, const std::string& key, const std::string& message) {
  auto it = where.find(key);
  return absl::InvalidArgumentError(it == where.end() ? message : it->second + ": " + message);
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an empty value";
  }
}

// Checks a YAML file's tree against the key table, and records in `where`
// the line of every value.
class FileChecker {
 public:
  FileChecker(std::string path, Where* where) : path_(std::move(path)), where_(where) {}

  absl::Status CheckRoot(const YAML::Node& root) {
    if (root.IsNull()) return absl::OkStatus();  // an empty file: all defaults
    if (!root.IsMap()) {
      return Error(root, "expected a mapping of sections (kafka, state, model, ...) at the "
                         "top level, got " + Describe(root));
    }
    return CheckMap(root, "", "", "");
  }

 private:
  std::string Line(const YAML::Node& node) const {
    return path_ + ":" + std::to_string(node.Mark().line + 1);
  }
  absl::Status Error(const YAML::Node& node, const std::string& message) const {
    return absl::InvalidArgumentError(Line(node) + ": " + message);
  }
  // OK unless `key` is in `seen` (the keys before it in the same mapping).
  absl::Status CheckUnique(const YAML::Node& key, const std::string& shown,
                           std::map<std::string, int>& seen) const {
    auto [first, inserted] = seen.emplace(key.Scalar(), key.Mark().line + 1);
    if (inserted) return absl::OkStatus();
    return Error(key, "duplicate key '" + shown + "' (first at line " +
                          std::to_string(first->second) + ")");
  }

  // The entries of `map`: a key k is shown as `shown` + k and is `table` + k in
  // the key table. `project` is "projects.<name>." inside a project, else "".
  absl::Status CheckMap(const YAML::Node& map, const std::string& shown, const std::string& table,
                        const std::string& project) {
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      if (!key.IsScalar()) return Error(key, "a key must be a plain name, got " + Describe(key));
      const std::string name = shown + key.Scalar(), table_name = table + key.Scalar();
      if (absl::Status s = CheckUnique(key, name, seen); !s.ok()) return s;
      const bool is_map = project.empty() && (table_name == "kafka.properties" || table_name == "projects");
      const bool is_leaf = FindKey(table_name) != nullptr || is_map;
      const std::string keys_under = KeysUnder(table_name);
      if (!is_leaf && keys_under.empty()) return Error(key, UnknownKey(name, Candidates(project)));
      if (key.Scalar().find('.') != std::string::npos) {
        const size_t dot = name.rfind('.');
        return Error(key, "dotted key '" + name + "': write it nested, as '" +
                              name.substr(dot + 1) + "' under '" + name.substr(0, dot) + "'");
      }
      absl::Status s;
      if (table_name == "kafka.properties") {
        s = CheckProperties(value);
      } else if (is_map) {
        s = CheckProjects(value);
      } else if (is_leaf) {
        (*where_)[name] = Line(value.IsNull() ? key : value);
      } else if (value.IsMap()) {
        s = CheckMap(value, name + ".", table_name + ".", project);
      } else if (!value.IsNull()) {  // null: a section with every key commented out
        return Error(value, "'" + name + "' is a section: expected a mapping of its keys (" +
                                keys_under + "), got " + Describe(value));
      }
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static std::vector<std::string> Candidates(const std::string& project) {
    std::vector<std::string> names = KnownNames();
    if (project.empty()) return names;
    std::vector<std::string> in_project;
    for (const std::string& name : names) {
      if (StartsWith(name, kDefaults)) in_project.push_back(project + name.substr(kDefaults.size()));
    }
    return in_project;
  }

  absl::Status CheckProperties(const YAML::Node& map) {
    if (map.IsNull()) return absl::OkStatus();
    if (!map.IsMap()) {
      return Error(map, "kafka.properties: expected a mapping of librdkafka properties "
                        "(e.g. security.protocol: SASL_SSL), got " + Describe(map));
    }
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      if (!key.IsScalar() || key.Scalar().empty()) {
        return Error(key, "kafka.properties: a property name must be a plain name");
      }
      const std::string name = std::string(kProperties) + key.Scalar();
      if (absl::Status s = CheckUnique(key, name, seen); !s.ok()) return s;
      if (!value.IsScalar()) {
        return Error(value.IsNull() ? key : value,
                     name + ": expected a string (librdkafka property values are strings; "
                            "nested names are written dotted), got " + Describe(value));
      }
      (*where_)[name] = Line(value);
    }
    return absl::OkStatus();
  }

  absl::Status CheckProjects(const YAML::Node& map) {
    if (map.IsNull()) return absl::OkStatus();
    if (!map.IsMap()) {
      return Error(map, "projects: expected a mapping of project names to their settings, got " +
                            Describe(map));
    }
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first, body = it->second;
      if (!key.IsScalar() || key.Scalar().empty()) {
        return Error(key, "projects: a project name must be a plain, non-empty name");
      }
      const std::string name = std::string(kProjects) + key.Scalar();
      if (absl::Status s = CheckUnique(key, name, seen); !s.ok()) return s;
      (*where_)[name] = Line(key);
      if (body.IsNull()) continue;  // declared, with every key inherited
      if (!body.IsMap()) {
        return Error(body, name + ": expected a mapping of project keys (classes, max_classes, "
                                  "quality), got " + Describe(body));
      }
      const std::string prefix = name + ".";
      if (absl::Status s = CheckMap(body, prefix, std::string(kDefaults), prefix); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  const std::string path_;
  Where* const where_;
};

absl::StatusOr<YAML::Node> ReadYamlFile(const std::string& path, Where* where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError("cannot read config file '" + path +
                                      "': " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    const std::string at = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1) + ":" +
                                                   std::to_string(e.mark.column + 1);
    return absl::InvalidArgumentError(path + at + ": invalid YAML: " + e.msg);
  }
  if (absl::Status s = FileChecker(path, where).CheckRoot(root); !s.ok()) return s;
  return root;
}

std::string_view Trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// A list given as text: a YAML flow sequence, or comma-separated items
// (trimmed; "" is the empty list).
absl::StatusOr<YAML::Node> ParseList(std::string_view text) {
  const std::string_view s = Trim(text);
  if (StartsWith(s, "[")) {
    try {
      YAML::Node list = YAML::Load(std::string(s));
      if (list.IsSequence()) return list;
    } catch (const YAML::Exception&) {
    }
    return absl::InvalidArgumentError("expected a list of strings, got '" + std::string(text) + "'");
  }
  YAML::Node list(YAML::NodeType::Sequence);
  if (s.empty()) return list;
  for (const std::string& item : Split(s, ',')) list.push_back(std::string(Trim(item)));
  return list;
}

// Sets the dotted `key` (a table key, kafka.properties.<name> or
// projects.<name>.<key>) to `text` in `root`, and records `origin`.
absl::Status SetKey(YAML::Node& root, const std::string& key, const std::string& text,
                    const std::string& origin, Where* where) {
  std::vector<std::string> path;
  const Key* table_key = FindKey(key);
  if (table_key != nullptr) {
    path = Split(key);
  } else if (StartsWith(key, kProperties) && key.size() > kProperties.size()) {
    path = {"kafka", "properties", key.substr(kProperties.size())};
  } else if (StartsWith(key, kProjects) && key.size() > kProjects.size()) {
    // projects.<name>.<key>: the name may hold dots, the project key decides.
    const std::string rest = key.substr(kProjects.size());
    std::vector<std::string> candidates;
    for (const Key& k : Keys()) {
      if (!StartsWith(k.name, kDefaults)) continue;
      const std::string relative = k.name.substr(kDefaults.size());
      const size_t n = rest.size() - std::min(rest.size(), relative.size() + 1);
      if (n > 0 && rest.substr(n) == "." + relative) {
        table_key = &k;
        path = {"projects", rest.substr(0, n)};
        for (std::string& part : Split(relative)) path.push_back(std::move(part));
        break;
      }
      for (size_t dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.', dot + 1)) {
        candidates.push_back(std::string(kProjects) + rest.substr(0, dot) + "." + relative);
      }
    }
    if (path.empty() && candidates.empty()) {
      return absl::InvalidArgumentError(origin + ": '" + key +
                                        "' is a project, not a key: set one of its keys, e.g. '" +
                                        key + ".classes'");
    }
    if (path.empty()) return absl::InvalidArgumentError(origin + ": " + UnknownKey(key, candidates));
  } else {
    const std::vector<std::string> known = KnownNames();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return absl::InvalidArgumentError(origin + ": " + UnknownKey(key, known));
    }
    const std::string example = key == "projects"           ? "projects.NAME.classes"
                                : key == "kafka.properties" ? "kafka.properties.NAME"
                                                            : key + "." + Split(KeysUnder(key), ',')[0];
    return absl::InvalidArgumentError(origin + ": '" + key +
                                      "' is a section, not a key: set one of its keys, e.g. '" +
                                      example + "'");
  }
  YAML::Node value(text);
  if (table_key != nullptr && table_key->is_list) {
    absl::StatusOr<YAML::Node> list = ParseList(text);
    if (!list.ok()) return absl::InvalidArgumentError(origin + ": " + key + ": " + std::string(list.status().message()));
    value = *list;
  }
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) node.reset(node[path[i]]);
  node[path.back()] = value;
  (*where)[key] = origin;
  return absl::OkStatus();
}

absl::Status MergeEnvironment(const std::map<std::string, std::string>& env, YAML::Node& root,
                              Where* where, std::vector<std::string>* warnings) {
  constexpr std::string_view kPrefix = "CONSENSUSD_", kPropertiesVar = "KAFKA_PROPERTIES_";
  std::map<std::string, std::string> key_of;  // CONSENSUSD_KAFKA_BROKERS -> kafka.brokers
  std::vector<std::string> variables;
  for (const Key& key : Keys()) {
    key_of[EnvVarName(key.name)] = key.name;
    variables.push_back(EnvVarName(key.name));
  }
  auto warn = [warnings](std::string message) {
    if (warnings != nullptr) warnings->push_back(std::move(message));
  };
  for (const auto& [name, value] : env) {
    if (!StartsWith(name, kPrefix) || value.empty()) continue;
    const std::string rest = name.substr(kPrefix.size());
    std::string key;
    if (rest == "ADMIN_TOKEN") {
      auto canonical = env.find("CONSENSUSD_HTTP_ADMIN_TOKEN");
      if (canonical != env.end() && !canonical->second.empty() && canonical->second != value) {
        return absl::InvalidArgumentError(
            "CONSENSUSD_ADMIN_TOKEN and CONSENSUSD_HTTP_ADMIN_TOKEN are both set, to different "
            "values: set only one");
      }
      key = "http.admin_token";
    } else if (auto it = key_of.find(name); it != key_of.end()) {
      key = it->second;
    } else if (StartsWith(rest, kPropertiesVar) && rest.size() > kPropertiesVar.size()) {
      key = std::string(kProperties);
      for (char c : rest.substr(kPropertiesVar.size())) {
        key += c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    } else if (StartsWith(rest, "PROJECTS_")) {
      warn("ignoring " + name + ": per-project keys cannot be set from the environment; use "
           "the config file or --set projects.NAME.KEY=VALUE");
      continue;
    } else if (StartsWith(rest, "SERVICE_") || StartsWith(rest, "PORT")) {
      continue;  // Kubernetes service links for a Service named consensusd: not ours.
    } else {
      const std::string suggestion = ClosestName(name, variables);
      warn("ignoring unknown environment variable " + name +
           (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
      continue;
    }
    if (absl::Status s = SetKey(root, key, value, name, where); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// --- Decoding: text -> field, by the field's type ---------------------------

absl::Status Expected(std::string_view what, const std::string& got) {
  return absl::InvalidArgumentError("expected " + std::string(what) + ", got " + got);
}

template <typename T>
constexpr std::string_view kTypeName = std::is_same_v<T, std::string>   ? "a string"
                                       : std::is_floating_point_v<T> ? "a number"
                                       : kIsList<T>                  ? "a list of strings"
                                                                     : "an integer";

absl::Status ParseScalar(const std::string& text, std::string* out) {
  *out = text;
  return absl::OkStatus();
}

// Decimal, blanks around ignored, a leading '+' allowed; finite.
absl::Status ParseScalar(const std::string& text, double* out) {
  std::string_view s = Trim(text);
  if (StartsWith(s, "+")) s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(*out)) {
    return Expected("a number", "'" + text + "'");
  }
  return absl::OkStatus();
}

template <typename Int>
absl::Status ParseScalar(const std::string& text, Int* out) {
  std::string_view s = Trim(text);
  if (StartsWith(s, "+")) s.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    return Expected("an integer", "'" + text + "'");
  }
  using Limits = std::numeric_limits<Int>;
  const int64_t max = std::min<uint64_t>(Limits::max(), std::numeric_limits<int64_t>::max());
  if (ec == std::errc::result_out_of_range || value < int64_t{Limits::min()} || value > max) {
    return Expected("an integer from " + std::to_string(Limits::min()) + " to " +
                        std::to_string(max),
                    "'" + text + "'");
  }
  *out = static_cast<Int>(value);
  return absl::OkStatus();
}

template <typename T>
absl::Status Decode(const YAML::Node& node, T* out) {
  if constexpr (kIsList<T>) {
    if (node.IsSequence()) {
      out->clear();
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) return Expected(kTypeName<T>, "a list holding " + Describe(item));
        out->push_back(item.Scalar());
      }
      return absl::OkStatus();
    }
  } else if (node.IsScalar()) {
    return ParseScalar(node.Scalar(), out);
  }
  return Expected(kTypeName<T>, Describe(node));
}

// The node at `path` (dotted) under `node`, if any.
std::optional<YAML::Node> Find(YAML::Node node, std::string_view path) {
  for (const std::string& part : Split(path)) {
    if (!node.IsMap()) return std::nullopt;
    const YAML::Node child = std::as_const(node)[part];
    if (!child) return std::nullopt;
    node.reset(child);
  }
  return node;
}

absl::StatusOr<Config> DecodeConfig(const YAML::Node& root, const Where& where) {
  Config config;
  absl::Status status;
  // Decodes the key `shown` + name from `base`, unless an error came before.
  auto decoder = [&status, &where](const YAML::Node& base, const std::string& shown) {
    return [&status, &where, base, shown](const std::string& name, auto& field) {
      std::optional<YAML::Node> node = Find(base, name);
      if (!status.ok() || !node) return;
      if (absl::Status s = Decode(*node, &field); !s.ok()) {
        status = ErrorAt(where, shown + name, shown + name + ": " + std::string(s.message()));
      }
    };
  };
  ForEachKey(config, decoder(root, ""));
  if (std::optional<YAML::Node> properties = Find(root, "kafka.properties")) {
    for (auto it = properties->begin(); it != properties->end(); ++it) {
      config.kafka.properties[it->first.Scalar()] = it->second.Scalar();
    }
  }
  if (std::optional<YAML::Node> projects = Find(root, "projects")) {
    for (auto it = projects->begin(); it != projects->end(); ++it) {
      const std::string name = it->first.Scalar();
      ProjectConfig project = config.project_defaults;  // inherits what it does not set
      ForEachProjectKey(project, decoder(it->second, std::string(kProjects) + name + "."));
      config.projects[name] = std::move(project);
    }
  }
  if (!status.ok()) return status;
  return config;
}

// --- Printing ---------------------------------------------------------------

template <typename T>
YAML::Node ToNode(const T& value) {
  if constexpr (kIsList<T>) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const std::string& item : value) list.push_back(item);
    list.SetStyle(YAML::EmitterStyle::Flow);
    return list;
  } else if constexpr (std::is_floating_point_v<T>) {
    return YAML::Node(FormatNumber(value));  // the shortest text that reads back the same
  } else if constexpr (std::is_integral_v<T>) {
    return YAML::Node(std::to_string(value));
  } else {
    return YAML::Node(value);
  }
}

void Put(YAML::Node root, std::string_view path, const YAML::Node& value) {
  const std::vector<std::string> parts = Split(path);
  for (size_t i = 0; i + 1 < parts.size(); ++i) root.reset(root[parts[i]]);
  root[parts.back()] = value;
}

// An empty mapping prints as "{}" on its key's line.
YAML::Node Mapping(YAML::Node map) {
  if (map.size() == 0) map.SetStyle(YAML::EmitterStyle::Flow);
  return map;
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& yaml_path,
                                  const std::map<std::string, std::string>& env,
                                  const std::vector<std::pair<std::string, std::string>>& overrides,
                                  std::vector<std::string>* warnings, bool require_brokers) {
  Where where;
  YAML::Node root(YAML::NodeType::Map);
  if (!yaml_path.empty()) {
    absl::StatusOr<YAML::Node> file = ReadYamlFile(yaml_path, &where);
    if (!file.ok()) return file.status();
    if (file->IsMap()) root.reset(*file);
  }
  if (absl::Status s = MergeEnvironment(env, root, &where, warnings); !s.ok()) return s;
  for (const auto& [key, value] : overrides) {
    if (absl::Status s = SetKey(root, key, value, "command line", &where); !s.ok()) return s;
  }
  absl::StatusOr<Config> config = DecodeConfig(root, where);
  if (!config.ok()) return config.status();
  Config checked = *config;
  if (!require_brokers && checked.kafka.brokers.empty()) checked.kafka.brokers = "unset";
  if (std::optional<ConfigProblem> problem = FindConfigProblem(checked)) {
    return ErrorAt(where, problem->key, problem->message);
  }
  return config;
}

std::string ConfigToYaml(const Config& config, Secrets secrets) {
  bool redacted = false;
  auto secret = [&](const std::string& value) {
    if (secrets == Secrets::kShow || value.empty()) return value;
    redacted = true;
    return std::string(kRedactedSecret);
  };
  YAML::Node keys(YAML::NodeType::Map);
  ForEachKey(config, [&keys](const std::string& name, const auto& field) {
    Put(keys, name, ToNode(field));
  });
  keys["http"]["admin_token"] = secret(config.http.admin_token);
  YAML::Node properties(YAML::NodeType::Map);
  for (const auto& [name, value] : config.kafka.properties) {
    properties[name] = IsSecretKafkaProperty(name) ? secret(value) : value;
  }
  keys["kafka"]["properties"] = Mapping(properties);
  YAML::Node projects(YAML::NodeType::Map);
  for (const auto& [name, project] : config.projects) {
    YAML::Node node(YAML::NodeType::Map);
    ForEachProjectKey(project, [&node](const std::string& key, const auto& field) {
      Put(node, key, ToNode(field));
    });
    projects[name] = node;
  }
  YAML::Node root(YAML::NodeType::Map);  // the sections, with projects after their defaults
  for (auto it = keys.begin(); it != keys.end(); ++it) {
    root[it->first.Scalar()] = it->second;
    if (it->first.Scalar() == "project_defaults") root["projects"] = Mapping(projects);
  }
  YAML::Emitter out;
  out << YAML::Comment("consensusd serve: effective configuration "
                       "(flag > CONSENSUSD_* environment > file > default)");
  if (redacted) {
    out << YAML::Newline
        << YAML::Comment("secrets print as \"" + std::string(kRedactedSecret) +
                         "\": set them again (e.g. by environment) to load this file");
  }
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ConfigKeyNames() {
  std::vector<std::string> names;
  for (const Key& key : Keys()) names.push_back(key.name);
  names.push_back(std::string(kProperties) + "<name>");
  for (const Key& key : Keys()) {
    if (StartsWith(key.name, kDefaults)) {
      names.push_back("projects.<name>." + key.name.substr(kDefaults.size()));
    }
  }
  return names;
}

std::string EnvVarName(std::string_view key) {
  std::string name = "CONSENSUSD_";
  for (char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseAssignment(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError("expects KEY=VALUE, got '" + std::string(text) + "'");
  }
  return std::pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

}  // namespace consensusd::service
