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

// The list of keys, the only one: f(name, field) for every key of a project
// (`P` is ProjectConfig or const ProjectConfig), names relative to the project ...
template <typename P, typename F>
void ForEachProjectKey(P& p, F&& f) {
  f("classes", p.classes);
  f("max_classes", p.max_classes);
  f("quality.min_answers", p.quality.min_answers);
  f("quality.min_accuracy", p.quality.min_accuracy);
  f("quality.max_spam_score", p.quality.max_spam_score);
}

// ... and of a Config, in the order of --print-config. The maps
// kafka.properties and projects are handled apart.
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

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
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

// The key table: every dotted key name, and whether its value is a list. The
// keys of projects.<name> are those under project_defaults.
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

const Key* FindKey(std::string_view name) {
  for (const Key& key : Keys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// The keys of section `name`, relative to it ("brokers, group, ..."); empty if
// `name` is not a section.
std::string KeysUnder(const std::string& name) {
  std::string keys;
  for (const Key& key : Keys()) {
    if (!StartsWith(key.name, name + ".")) continue;
    keys += (keys.empty() ? "" : ", ") + key.name.substr(name.size() + 1);
  }
  return keys;
}

// Every key and section name ("kafka", "kafka.brokers", ...); with a project
// prefix ("projects.p."), the names under project_defaults with that prefix.
std::vector<std::string> KnownNames(const std::string& project = "") {
  std::vector<std::string> names = {"kafka.properties", "projects"};
  for (const Key& key : Keys()) {
    for (size_t dot = 0; dot != std::string::npos; dot = key.name.find('.', dot + 1)) {
      const std::string name = key.name.substr(0, key.name.find('.', dot + 1));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  if (project.empty()) return names;
  std::vector<std::string> in_project;
  for (const std::string& name : names) {
    if (StartsWith(name, kDefaults)) in_project.push_back(project + name.substr(kDefaults.size()));
  }
  return in_project;
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
  const std::string suggestion = ClosestName(key, candidates);
  return "unknown key '" + std::string(key) + "'" +
         (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)");
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an empty value";
  }
}

absl::Status Expected(std::string_view type, const std::string& got) {
  return absl::InvalidArgumentError("expected " + std::string(type) + ", got " + got);
}

// Where the value of each dotted key came from: "file:line", "CONSENSUSD_X"
// or "command line". Errors start with it.
using Where = std::map<std::string, std::string>;

absl::Status ErrorAt(const Where& where, const std::string& key, const std::string& message) {
  auto it = where.find(key);
  return absl::InvalidArgumentError(it == where.end() ? message : it->second + ": " + message);
}

// Checks the tree of the YAML file `path` against the key table, and records
// in `where` the line of every value.
class FileChecker {
 public:
  FileChecker(const std::string& path, Where* where) : path_(path), where_(where) {}

  absl::Status Check(const YAML::Node& root) {
    if (root.IsNull() || root.IsMap()) return CheckMap(root, "", "", "");  // null: empty file
    return Error(root, "expected a mapping of sections (kafka, state, model, ...) at the top "
                       "level, got " + Describe(root));
  }

 private:
  std::string Line(const YAML::Node& node) const {
    return path_ + ":" + std::to_string(node.Mark().line + 1);
  }
  absl::Status Error(const YAML::Node& node, const std::string& message) const {
    return absl::InvalidArgumentError(Line(node) + ": " + message);
  }

  // The entries of `map`, each key k shown as `shown` + k and looked up as
  // `table` + k. `project` is "projects.<name>." inside a project, else "".
  absl::Status CheckMap(const YAML::Node& map, const std::string& shown, const std::string& table,
                        const std::string& project) {
    std::map<std::string, int> lines;  // key -> line, to find duplicates
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      const std::string name = shown + key.Scalar(), table_name = table + key.Scalar();
      if (auto [first, inserted] = lines.emplace(key.Scalar(), key.Mark().line + 1); !inserted) {
        return Error(key, "duplicate key '" + name + "' (first at line " +
                              std::to_string(first->second) + ")");
      }
      (*where_)[name] = Line(value.IsNull() ? key : value);
      // A property or project name is a whole key; a property value is a string.
      if (table == kProperties) {
        if (value.IsScalar()) continue;
        return Error(value.IsNull() ? key : value,
                     name + ": expected a string (librdkafka property values are strings; "
                            "nested names are written dotted), got " + Describe(value));
      }
      const bool is_project = table == kProjects;
      const bool is_map = project.empty() && (table_name == "kafka.properties" ||
                                              table_name == "projects");
      const std::string keys = is_project                ? "classes, max_classes, quality"
                               : table_name == "projects" ? "project names"
                               : is_map                   ? "librdkafka properties"
                                                          : KeysUnder(table_name);
      if (keys.empty() && FindKey(table_name) == nullptr) {
        return Error(key, UnknownKey(name, KnownNames(project)));
      }
      if (!is_project && key.Scalar().find('.') != std::string::npos) {
        const size_t dot = name.rfind('.');
        return Error(key, "dotted key '" + name + "': write it nested, as '" +
                              name.substr(dot + 1) + "' under '" + name.substr(0, dot) + "'");
      }
      if (keys.empty() || value.IsNull()) continue;  // a key, or a section with nothing set
      if (!value.IsMap()) {
        return Error(value, "'" + name + "' is a " + (is_project ? "project" : "section") +
                                ": expected a mapping of its keys (" + keys + "), got " +
                                Describe(value));
      }
      absl::Status s = is_project ? CheckMap(value, name + ".", std::string(kDefaults), name + ".")
                                  : CheckMap(value, name + ".", table_name + ".", project);
      if (!s.ok()) return s;
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
  if (absl::Status s = FileChecker(path, where).Check(root); !s.ok()) return s;
  return root;
}

std::string_view Trim(std::string_view s) {
  const size_t start = s.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "";
  return s.substr(start, s.find_last_not_of(" \t\r\n") - start + 1);
}

// A list given as text: a YAML flow sequence, or comma-separated items
// (trimmed; "" is the empty list).
absl::StatusOr<YAML::Node> ParseList(std::string_view text) {
  const std::string_view s = Trim(text);
  if (StartsWith(s, "[")) {
    try {
      if (YAML::Node list = YAML::Load(std::string(s)); list.IsSequence()) return list;
    } catch (const YAML::Exception&) {
    }
    return Expected("a list of strings", "'" + std::string(text) + "'");
  }
  YAML::Node list(YAML::NodeType::Sequence);
  if (!s.empty()) {
    for (const std::string& item : Split(s, ',')) list.push_back(std::string(Trim(item)));
  }
  return list;
}

// Sets the dotted `key` (a table key, kafka.properties.<name> or
// projects.<name>.<key>) to `text` in `root`, and records `origin` in `where`.
absl::Status SetKey(YAML::Node& root, const std::string& key, const std::string& text,
                    const std::string& origin, Where* where) {
  auto error = [&origin](const std::string& message) {
    return absl::InvalidArgumentError(origin + ": " + message);
  };
  const Key* table_key = FindKey(key);
  std::vector<std::string> path = Split(key);
  if (StartsWith(key, kProperties) && key.size() > kProperties.size()) {
    path = {"kafka", "properties", key.substr(kProperties.size())};
  } else if (StartsWith(key, kProjects) && key.size() > kProjects.size()) {
    // The project name may hold dots: the project key at the end decides.
    const std::string rest = key.substr(kProjects.size());
    std::vector<std::string> candidates;  // every way of reading a name off the front
    for (const Key& k : Keys()) {
      if (!StartsWith(k.name, kDefaults)) continue;
      const std::string relative = k.name.substr(kDefaults.size());
      const size_t n = rest.size() - std::min(rest.size(), relative.size() + 1);
      if (n > 0 && rest.substr(n) == "." + relative) {
        table_key = &k;
        path = Split(relative);
        path.insert(path.begin(), {"projects", rest.substr(0, n)});
        break;
      }
      for (size_t dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.', dot + 1)) {
        candidates.push_back(std::string(kProjects) + rest.substr(0, dot) + "." + relative);
      }
    }
    if (table_key == nullptr && candidates.empty()) {
      return error("'" + key + "' is a project, not a key: set one of its keys, e.g. '" + key +
                   ".classes'");
    }
    if (table_key == nullptr) return error(UnknownKey(key, candidates));
  } else if (table_key == nullptr) {
    const std::vector<std::string> known = KnownNames();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return error(UnknownKey(key, known));
    }
    std::string example = key + "." + Split(KeysUnder(key), ',')[0];
    if (key == "projects") example = "projects.NAME.classes";
    if (key == "kafka.properties") example = "kafka.properties.NAME";
    return error("'" + key + "' is a section, not a key: set one of its keys, e.g. '" + example +
                 "'");
  }
  YAML::Node value(text);
  if (table_key != nullptr && table_key->is_list) {
    absl::StatusOr<YAML::Node> list = ParseList(text);
    if (!list.ok()) return error(key + ": " + std::string(list.status().message()));
    value = *list;
  }
  YAML::Node node = root;  // a handle: reset() moves it, '=' would overwrite the node
  for (size_t i = 0; i + 1 < path.size(); ++i) node.reset(node[path[i]]);
  node[path.back()] = value;
  (*where)[key] = origin;
  return absl::OkStatus();
}

absl::Status MergeEnvironment(const std::map<std::string, std::string>& env, YAML::Node& root,
                              Where* where, std::vector<std::string>* warnings) {
  constexpr std::string_view kPropertiesVar = "KAFKA_PROPERTIES_";
  std::map<std::string, std::string> key_of;  // CONSENSUSD_KAFKA_BROKERS -> kafka.brokers
  std::vector<std::string> variables;
  for (const Key& key : Keys()) {
    key_of[EnvVarName(key.name)] = key.name;
    variables.push_back(EnvVarName(key.name));
  }
  for (const auto& [name, value] : env) {
    if (!StartsWith(name, "CONSENSUSD_") || value.empty()) continue;
    const std::string rest = name.substr(std::strlen("CONSENSUSD_"));
    std::string key = key_of.count(name) > 0 ? key_of[name] : "";
    std::string warning;
    if (rest == "ADMIN_TOKEN") {
      auto canonical = env.find("CONSENSUSD_HTTP_ADMIN_TOKEN");
      if (canonical != env.end() && !canonical->second.empty() && canonical->second != value) {
        return absl::InvalidArgumentError(
            "CONSENSUSD_ADMIN_TOKEN and CONSENSUSD_HTTP_ADMIN_TOKEN are both set, to different "
            "values: set only one");
      }
      key = "http.admin_token";
    } else if (key.empty() && StartsWith(rest, kPropertiesVar) &&
               rest.size() > kPropertiesVar.size()) {
      key = std::string(kProperties);
      for (char c : rest.substr(kPropertiesVar.size())) {
        key += c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    } else if (key.empty() && StartsWith(rest, "PROJECTS_")) {
      warning = "ignoring " + name + ": per-project keys cannot be set from the environment; "
                "use the config file or --set projects.NAME.KEY=VALUE";
    } else if (key.empty() && !StartsWith(rest, "SERVICE_") && !StartsWith(rest, "PORT")) {
      // (CONSENSUSD_SERVICE_*, CONSENSUSD_PORT*: Kubernetes service links, not ours.)
      const std::string suggestion = ClosestName(name, variables);
      warning = "ignoring unknown environment variable " + name +
                (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)");
    }
    if (!warning.empty() && warnings != nullptr) warnings->push_back(warning);
    if (key.empty()) continue;
    if (absl::Status s = SetKey(root, key, value, name, where); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// --- Decoding: a node -> a field, by the field's type -----------------------

template <typename T>
constexpr std::string_view kTypeName = std::is_same_v<T, std::string>   ? "a string"
                                       : std::is_floating_point_v<T> ? "a number"
                                       : kIsList<T>                  ? "a list of strings"
                                                                     : "an integer";

// Numbers and integers: decimal, blanks around and a leading '+' allowed;
// numbers finite, integers within the field's range.
template <typename T>
absl::Status ParseScalar(const std::string& text, T* out) {
  if constexpr (std::is_same_v<T, std::string>) {
    *out = text;
    return absl::OkStatus();
  } else {
    std::string_view s = Trim(text);
    if (StartsWith(s, "+")) s.remove_prefix(1);
    std::conditional_t<std::is_integral_v<T>, int64_t, double> value{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
      return Expected(kTypeName<T>, "'" + text + "'");
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (ec != std::errc() || !std::isfinite(value)) {
        return Expected(kTypeName<T>, "'" + text + "'");
      }
    } else {
      const int64_t min = std::numeric_limits<T>::min();
      const int64_t max = std::min<uint64_t>(std::numeric_limits<T>::max(),
                                             std::numeric_limits<int64_t>::max());
      if (ec != std::errc() || value < min || value > max) {
        return Expected("an integer from " + std::to_string(min) + " to " + std::to_string(max),
                        "'" + text + "'");
      }
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  }
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

// The node at the dotted `path` under `node`, if there is one.
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
  // Decodes into `field` the key `prefix` + name, if set under `base`.
  auto decoder = [&status, &where](const YAML::Node& base, const std::string& prefix) {
    return [&status, &where, base, prefix](const std::string& name, auto& field) {
      std::optional<YAML::Node> node = Find(base, name);
      if (!status.ok() || !node) return;
      if (absl::Status s = Decode(*node, &field); !s.ok()) {
        status = ErrorAt(where, prefix + name, prefix + name + ": " + std::string(s.message()));
      }
    };
  };
  ForEachKey(config, decoder(root, ""));
  const YAML::Node properties = Find(root, "kafka.properties").value_or(YAML::Node());
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    config.kafka.properties[it->first.Scalar()] = it->second.Scalar();
  }
  const YAML::Node projects = Find(root, "projects").value_or(YAML::Node());
  for (auto it = projects.begin(); it != projects.end(); ++it) {
    const std::string name = it->first.Scalar();
    ProjectConfig project = config.project_defaults;  // inherits what it does not set
    ForEachProjectKey(project, decoder(it->second, std::string(kProjects) + name + "."));
    config.projects[name] = std::move(project);
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

// Puts `value` at the dotted `path` of `root`; an empty mapping prints "{}".
void Put(YAML::Node root, std::string_view path, const YAML::Node& value) {
  const std::vector<std::string> parts = Split(path);
  for (size_t i = 0; i + 1 < parts.size(); ++i) root.reset(root[parts[i]]);
  root[parts.back()] = value;
  if (value.IsMap() && value.size() == 0) root[parts.back()].SetStyle(YAML::EmitterStyle::Flow);
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
  YAML::Node root(YAML::NodeType::Map);
  ForEachKey(config, [&root](const std::string& name, const auto& field) {
    Put(root, name, ToNode(field));
  });
  Put(root, "http.admin_token", YAML::Node(secret(config.http.admin_token)));
  YAML::Node properties(YAML::NodeType::Map), projects(YAML::NodeType::Map);
  for (const auto& [name, value] : config.kafka.properties) {
    properties[name] = IsSecretKafkaProperty(name) ? secret(value) : value;
  }
  for (const auto& [name, project] : config.projects) {
    YAML::Node node(YAML::NodeType::Map);
    ForEachProjectKey(project, [&node](const std::string& key, const auto& field) {
      Put(node, key, ToNode(field));
    });
    projects[name] = node;
  }
  Put(root, "kafka.properties", properties);
  Put(root, "projects", projects);
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
  std::vector<std::string> names = {std::string(kProperties) + "<name>"};
  for (const Key& key : Keys()) {
    names.push_back(key.name);
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
