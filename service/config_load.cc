#include "service/config_load.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "yaml-cpp/yaml.h"

namespace consensusd::service {

namespace {

constexpr std::string_view kDefaults = "project_defaults.", kProjects = "projects.";
constexpr std::string_view kProperties = "kafka.properties.";

using Path = std::vector<std::string>;

std::string Describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  return node.IsSequence() ? "a list" : node.IsMap() ? "a mapping" : "an empty value";
}

absl::Status Expected(const std::string& key, const std::string& type, const std::string& got) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": expected ", type, ", got ", got));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);  // distances from a[0, i) to b[0, j)
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = std::exchange(row[0], i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] != b[j - 1]);
      diagonal = std::exchange(row[j], std::min({row[j] + 1, row[j - 1] + 1, substitute}));
    }
  }
  return row[b.size()];
}

// Puts `value` at `path` in the tree `node`, making mappings on the way.
void Put(YAML::Node node, const Path& path, const YAML::Node& value) {
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!node[path[i]].IsMap()) node[path[i]] = YAML::Node(YAML::NodeType::Map);
    node.reset(node[path[i]]);
  }
  node[path.back()] = value;
}

// The node at the dotted `path` under `node`; undefined if there is none.
YAML::Node Find(YAML::Node node, const std::string& path) {
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    const std::string name(part);
    if (!node.IsMap() || !std::as_const(node)[name]) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(std::as_const(node)[name]);
  }
  return node;
}

// The config as a tree with every key.
YAML::Node ToTree(const Config& config, Secrets secrets) {
  auto secret = [secrets](const std::string& value) {
    return secrets == Secrets::kShow || value.empty() ? value : std::string(kRedactedSecret);
  };
  YAML::Node root(YAML::NodeType::Map);
  // Puts the keys of the table (dotted names after `prefix`) in `root`.
  auto printer = [&root](const Path& prefix) {
    return [&root, prefix](const std::string& name, const auto& field, auto...) {
      Path path = prefix;
      for (absl::string_view part : absl::StrSplit(name, '.')) path.emplace_back(part);
      YAML::Node node(field);
      if constexpr (std::is_floating_point_v<std::remove_cvref_t<decltype(field)>>) {
        node = FormatNumber(field);  // the shortest text that reads back the same
      }
      node.SetStyle(YAML::EmitterStyle::Flow);  // a list prints as [a, b]
      Put(root, path, node);
    };
  };
  ForEachKey(config, printer({}));
  Put(root, {"http", "admin_token"}, YAML::Node(secret(config.http.admin_token)));
  YAML::Node no_properties(YAML::NodeType::Map), no_projects(YAML::NodeType::Map);
  no_properties.SetStyle(YAML::EmitterStyle::Flow);  // an empty map prints as {}
  no_projects.SetStyle(YAML::EmitterStyle::Flow);
  if (config.kafka.properties.empty()) Put(root, {"kafka", "properties"}, no_properties);
  if (config.projects.empty()) Put(root, {"projects"}, no_projects);
  for (const auto& [name, value] : config.kafka.properties) {
    Put(root, {"kafka", "properties", name},
        YAML::Node(IsSecretKafkaProperty(name) ? secret(value) : value));
  }
  for (const auto& [name, project] : config.projects) {
    ForEachProjectKey(project, printer({"projects", name}));
  }
  return root;
}

// The default config as a tree: every section and key, a key's value of its
// type; "*" stands for any property name or project name.
const YAML::Node& Schema() {
  static const YAML::Node* const schema = [] {
    auto* schema = new YAML::Node(ToTree(Config{}, Secrets::kShow));
    (*schema)["kafka"]["properties"]["*"] = "";
    (*schema)["projects"]["*"] = (*schema)["project_defaults"];
    return schema;
  }();
  return *schema;
}

// Checks `tree` (the keys under `prefix`) against `schema`: every key known,
// every section a mapping. The values of keys are typed when decoded.
absl::Status CheckTree(const YAML::Node& tree, const YAML::Node& schema,
                       const std::string& prefix) {
  std::set<std::string> seen;
  for (const auto& entry : tree) {
    const std::string key = entry.first.Scalar(), name = prefix + key;
    const YAML::Node known = schema[key] ? schema[key] : schema["*"];
    if (!seen.insert(key).second) return absl::InvalidArgumentError("duplicate key '" + name + "'");
    if (!known) {
      std::string hint = Find(schema, key) ? " (write it nested)" : "";
      size_t best = std::max<size_t>(2, key.size() / 3) + 1;  // farther is not a typo
      for (const auto& sibling : schema) {
        const size_t d = EditDistance(key, sibling.first.Scalar());
        if (d < best && d < key.size()) {
          best = d, hint = " (did you mean '" + prefix + sibling.first.Scalar() + "'?)";
        }
      }
      return absl::InvalidArgumentError("unknown key '" + name + "'" + hint);
    }
    if (!known.IsMap() || entry.second.IsNull()) continue;  // a key, or an empty section
    const YAML::Node& value = entry.second;
    if (!value.IsMap()) return Expected(name, "a mapping of its keys", Describe(value));
    if (absl::Status s = CheckTree(value, known, name + "."); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Sets the dotted `key` (a key of the table, kafka.properties.<name> or
// projects.<name>.<key>) to `text` in `root`. A list is a YAML flow sequence,
// its brackets optional: "a, b" or "[a, 'b,c']".
absl::Status SetKey(YAML::Node& root, const std::string& key, const std::string& text) {
  Path path = absl::StrSplit(key, '.');
  std::string table_key = key;  // where `key` is in the schema
  if (key.starts_with(kProperties)) {
    path = {"kafka", "properties", key.substr(kProperties.size())};
  } else if (key.starts_with(kProjects)) {  // a project name may hold dots
    const ProjectConfig defaults;
    ForEachProjectKey(defaults, [&](const std::string& name, auto&&...) {
      const size_t end = key.size() - std::min(key.size(), name.size() + 1);
      if (table_key != key || end <= kProjects.size() || key.substr(end) != "." + name) return;
      table_key = std::string(kDefaults) + name;
      path = {"projects", key.substr(kProjects.size(), end - kProjects.size())};
      for (absl::string_view part : absl::StrSplit(name, '.')) path.emplace_back(part);
    });
  }
  YAML::Node value(text);
  if (Find(Schema(), table_key).IsSequence()) {
    try {
      const bool bracketed = absl::StartsWith(absl::StripAsciiWhitespace(text), "[");
      value = YAML::Load(bracketed ? text : "[" + text + "]");
    } catch (const YAML::Exception&) {
      return Expected(key, "a list of strings", "'" + text + "'");
    }
  }
  Put(root, path, value);
  return absl::OkStatus();
}

absl::Status MergeEnvironment(const std::map<std::string, std::string>& env, YAML::Node& root,
                              std::vector<std::string>* warnings) {
  const std::string kPropertiesVar = "CONSENSUSD_KAFKA_PROPERTIES_";
  std::map<std::string, std::string> key_of = {{"CONSENSUSD_ADMIN_TOKEN", "http.admin_token"}};
  for (const std::string& key : ConfigKeyNames()) key_of[EnvVarName(key)] = key;
  std::map<std::string, std::string> owner;  // key -> the variable that set it
  for (const auto& [name, value] : env) {
    std::string key = key_of.contains(name) ? key_of[name] : "";
    if (!name.starts_with("CONSENSUSD_") || value.empty()) continue;
    if (name.starts_with(kPropertiesVar) && name.size() > kPropertiesVar.size()) {
      key = std::string(kProperties) + absl::AsciiStrToLower(absl::StrReplaceAll(
                                           name.substr(kPropertiesVar.size()), {{"_", "."}}));
    }
    if (key.empty()) {
      if (warnings != nullptr && !name.starts_with("CONSENSUSD_SERVICE_") &&
          !name.starts_with("CONSENSUSD_PORT")) {  // Kubernetes service links: not ours
        warnings->push_back("ignoring unknown environment variable " + name);
      }
    } else if (auto [by, fresh] = owner.emplace(key, name); !fresh && env.at(by->second) != value) {
      return absl::InvalidArgumentError(by->second + " and " + name + " set " + key +
                                        " to different values: set only one");
    } else if (absl::Status s = SetKey(root, key, value); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Decodes `node` into `out`, or says what `key` expected. Numbers are decimal
// and finite (blanks around and '+' allowed), integers within the field's range.
template <typename T>
absl::Status Decode(const YAML::Node& node, const std::string& key, T* out) {
  if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    auto is_scalar = [](const YAML::Node& item) { return item.IsScalar(); };
    if (!node.IsSequence() || !std::all_of(node.begin(), node.end(), is_scalar)) {
      return Expected(key, "a list of strings", Describe(node));
    }
    *out = node.as<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!node.IsScalar()) return Expected(key, "a string", Describe(node));
    *out = node.Scalar();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), out) || !std::isfinite(*out)) {
      return Expected(key, "a number", Describe(node));
    }
  } else if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), out)) {
    return Expected(key, absl::StrCat("an integer from ", std::numeric_limits<T>::min(), " to ",
                                      std::numeric_limits<T>::max()),
                    Describe(node));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> DecodeConfig(const YAML::Node& root) {
  Config config;
  absl::Status status;
  // Decodes into `field` the key `prefix` + name, if set under `base`.
  auto decoder = [&status](const YAML::Node& base, const std::string& prefix) {
    return [&status, base, prefix](const std::string& name, auto& field, auto...) {
      const YAML::Node node = Find(base, name);
      if (status.ok() && node) status = Decode(node, prefix + name, &field);
    };
  };
  ForEachKey(config, decoder(root, ""));
  for (const auto& property : Find(root, "kafka.properties")) {
    const std::string name = property.first.Scalar();
    const std::string key = std::string(kProperties) + name;
    if (status.ok()) status = Decode(property.second, key, &config.kafka.properties[name]);
  }
  for (const auto& project : Find(root, "projects")) {
    const std::string name = project.first.Scalar();
    ProjectConfig p = config.project_defaults;  // inherits what it does not set
    ForEachProjectKey(p, decoder(project.second, std::string(kProjects) + name + "."));
    config.projects[name] = std::move(p);
  }
  return status.ok() ? absl::StatusOr<Config>(std::move(config)) : status;
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& yaml_path,
                                  const std::map<std::string, std::string>& env,
                                  const std::vector<std::pair<std::string, std::string>>& overrides,
                                  std::vector<std::string>* warnings, bool require_brokers) {
  YAML::Node root(YAML::NodeType::Map);
  if (!yaml_path.empty()) {
    std::ifstream in(yaml_path, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError("cannot read config file '" + yaml_path +
                                        "': " + std::strerror(errno));
    }
    try {
      root = YAML::Load(in);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(yaml_path + ": invalid YAML: " + e.what());
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);  // an empty file
    if (!root.IsMap()) return Expected(yaml_path, "a mapping of sections", Describe(root));
    if (absl::Status s = CheckTree(root, Schema(), ""); !s.ok()) return s;  // before merging
  }
  if (absl::Status s = MergeEnvironment(env, root, warnings); !s.ok()) return s;
  for (const auto& [key, value] : overrides) {
    if (absl::Status s = SetKey(root, key, value); !s.ok()) return s;
  }
  if (absl::Status s = CheckTree(root, Schema(), ""); !s.ok()) return s;
  absl::StatusOr<Config> config = DecodeConfig(root);
  if (!config.ok()) return config.status();
  Config checked = *config;
  if (!require_brokers && checked.kafka.brokers.empty()) checked.kafka.brokers = "unset";
  if (absl::Status s = checked.Validate(); !s.ok()) return s;
  return config;
}

std::string ConfigToYaml(const Config& config, Secrets secrets) {
  YAML::Emitter out;
  out << YAML::Comment("consensusd serve: effective configuration "
                       "(flag > CONSENSUSD_* environment > file > default)")
      << ToTree(config, secrets);
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ConfigKeyNames() {
  std::vector<std::string> names = {std::string(kProperties) + "<name>"};
  const Config defaults;
  ForEachKey(defaults, [&names](const std::string& key, auto&&...) {
    names.push_back(key);
    if (key.starts_with(kDefaults)) {
      names.push_back("projects.<name>." + key.substr(kDefaults.size()));
    }
  });
  return names;
}

std::string EnvVarName(std::string_view key) {
  return "CONSENSUSD_" + absl::AsciiStrToUpper(absl::StrReplaceAll(std::string(key), {{".", "_"}}));
}

absl::StatusOr<std::pair<std::string, std::string>> ParseAssignment(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError("expects KEY=VALUE, got '" + std::string(text) + "'");
  }
  return std::pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

}  // namespace consensusd::service
