#include "service/config_load.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "service/config_builder.h"
#include "service/config_keys.h"
#include "yaml-cpp/yaml.h"

namespace consensusd::service {

namespace {

// How a YAML node is described in errors: "'abc'", "a list", ...
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an empty value";
  }
}

// Walks the YAML file into a ConfigBuilder, checking every key against the
// key table. Errors carry the file and line.
class YamlReader {
 public:
  YamlReader(std::string path, ConfigBuilder* builder)
      : path_(std::move(path)), builder_(builder) {}

  absl::Status Read(const YAML::Node& root) {
    if (root.IsNull()) return absl::OkStatus();  // an empty file: all defaults
    if (!root.IsMap()) {
      return Error(root, "expected a mapping of sections (kafka, state, model, ...) at the "
                         "top level, got " + Describe(root));
    }
    std::vector<std::string> leaves;
    for (const ConfigKey& key : ConfigKeys()) leaves.push_back(key.name);
    leaves.push_back("kafka.properties");
    leaves.push_back("projects");
    return Walk(root, "", {leaves, ""},
                [this](const std::string& name, const YAML::Node& key, const YAML::Node& value) {
                  if (name == "kafka.properties") return ReadProperties(value);
                  if (name == "projects") return ReadProjects(value);
                  const ConfigKey& config_key = *FindConfigKey(name);
                  absl::StatusOr<RawValue> raw = Leaf(name, config_key.type(), key, value);
                  if (!raw.ok()) return raw.status();
                  return builder_->SetKey(config_key, *raw, At(key, value));
                });
  }

 private:
  // The names a mapping may hold, relative to its position, and how they are
  // shown in messages (display_prefix + name).
  struct Schema {
    std::vector<std::string> leaves;
    std::string display_prefix;
  };
  // (dotted name relative to the schema, key node, value node)
  using LeafFn =
      std::function<absl::Status(const std::string&, const YAML::Node&, const YAML::Node&)>;

  Origin At(const YAML::Node& node) const { return Origin{path_, node.Mark().line + 1}; }
  // Where the value of `key` is; an empty value has no position of its own.
  Origin At(const YAML::Node& key, const YAML::Node& value) const {
    return At(value.IsNull() ? key : value);
  }
  absl::Status Error(const YAML::Node& node, const std::string& message) const {
    return absl::InvalidArgumentError(At(node).Annotate(message));
  }
  absl::Status Error(const Origin& origin, const std::string& message) const {
    return absl::InvalidArgumentError(origin.Annotate(message));
  }

  // Visits the entries of `map`, whose keys are relative to `prefix`: leaves
  // go to `on_leaf`, sections (prefixes of leaves) are walked recursively.
  absl::Status Walk(const YAML::Node& map, const std::string& prefix, const Schema& schema,
                    const LeafFn& on_leaf) {
    std::map<std::string, int> seen;  // name -> line
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies: the iterator hands out a temporary pair. (Nodes are handles.)
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) return Error(key, "a key must be a plain name, got " + Describe(key));
      const std::string name = prefix + key.Scalar();
      const std::string shown = schema.display_prefix + name;
      if (auto [first, inserted] = seen.emplace(name, key.Mark().line + 1); !inserted) {
        return Error(key, "duplicate key '" + shown + "' (first at line " +
                              std::to_string(first->second) + ")");
      }
      std::vector<std::string> below;  // leaves under `name` if it is a section
      for (const std::string& leaf : schema.leaves) {
        if (leaf.compare(0, name.size() + 1, name + ".") == 0) below.push_back(leaf);
      }
      const bool is_leaf =
          std::find(schema.leaves.begin(), schema.leaves.end(), name) != schema.leaves.end();
      if (!is_leaf && below.empty()) return Error(key, UnknownKeyMessage(shown, schema));
      // One spelling per key: `kafka.brokers:` at the top level would otherwise
      // be a second one (and a silent duplicate of `kafka: {brokers:}`).
      if (key.Scalar().find('.') != std::string::npos) {
        const size_t dot = shown.rfind('.');
        return Error(key, "dotted key '" + shown + "': write it nested, as '" +
                              shown.substr(dot + 1) + "' under '" + shown.substr(0, dot) + "'");
      }
      if (is_leaf) {
        if (absl::Status s = on_leaf(name, key, value); !s.ok()) return s;
        continue;
      }
      if (value.IsNull()) continue;  // a section with every key commented out
      if (!value.IsMap()) {
        std::string keys;
        for (const std::string& leaf : below) {
          keys += (keys.empty() ? "" : ", ") + leaf.substr(name.size() + 1);
        }
        return Error(value, "'" + shown + "' is a section: expected a mapping of its keys (" +
                                keys + "), got " + Describe(value));
      }
      if (absl::Status s = Walk(value, name + ".", schema, on_leaf); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static std::string UnknownKeyMessage(const std::string& shown, const Schema& schema) {
    std::vector<std::string> candidates;
    for (const std::string& leaf : schema.leaves) {
      candidates.push_back(schema.display_prefix + leaf);
      for (size_t dot = leaf.find('.'); dot != std::string::npos; dot = leaf.find('.', dot + 1)) {
        candidates.push_back(schema.display_prefix + leaf.substr(0, dot));
      }
    }
    if (schema.display_prefix.empty()) {
      for (const std::string& known : KnownNames()) candidates.push_back(known);
    }
    std::string message = "unknown key '" + shown + "'";
    const std::string suggestion = ClosestName(shown, candidates);
    if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
    return message;
  }

  // A leaf's value: a scalar's text, or a sequence of scalars for a list key.
  absl::StatusOr<RawValue> Leaf(const std::string& shown, ValueType type, const YAML::Node& key,
                                const YAML::Node& value) const {
    const std::string expected = shown + ": expected " + ExpectedType(type) + ", got ";
    if (type == ValueType::kStringList) {
      if (!value.IsSequence()) return Error(At(key, value), expected + Describe(value));
      std::vector<std::string> items;
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) return Error(item, expected + "a list holding " + Describe(item));
        items.push_back(item.Scalar());
      }
      return RawValue(std::move(items));
    }
    if (!value.IsScalar()) return Error(At(key, value), expected + Describe(value));
    return RawValue(value.Scalar());
  }

  absl::Status ReadProperties(const YAML::Node& map) {
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
      const std::string shown = "kafka.properties." + key.Scalar();
      if (auto [first, inserted] = seen.emplace(shown, key.Mark().line + 1); !inserted) {
        return Error(key, "duplicate key '" + shown + "' (first at line " +
                                    std::to_string(first->second) + ")");
      }
      if (!value.IsScalar()) {
        return Error(At(key, value), shown +
                                         ": expected a string (librdkafka property values are "
                                         "strings; nested names are written dotted), got " +
                                         Describe(value));
      }
      builder_->SetProperty(key.Scalar(), value.Scalar(), At(value));
    }
    return absl::OkStatus();
  }

  absl::Status ReadProjects(const YAML::Node& map) {
    if (map.IsNull()) return absl::OkStatus();
    if (!map.IsMap()) {
      return Error(map, "projects: expected a mapping of project names to their settings, got " +
                            Describe(map));
    }
    std::vector<std::string> leaves;
    for (const ProjectKey& project_key : ProjectKeys()) leaves.push_back(project_key.name);
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first, body = it->second;
      if (!key.IsScalar() || key.Scalar().empty()) {
        return Error(key, "projects: a project name must be a plain, non-empty name");
      }
      const std::string project = key.Scalar();
      const std::string prefix = "projects." + project + ".";
      if (auto [first, inserted] = seen.emplace(project, key.Mark().line + 1); !inserted) {
        return Error(key, "duplicate key 'projects." + project + "' (first at line " +
                                    std::to_string(first->second) + ")");
      }
      builder_->DeclareProject(project, At(key));
      if (body.IsNull()) continue;  // declared with every key inherited
      if (!body.IsMap()) {
        return Error(body, "projects." + project +
                               ": expected a mapping of project keys (classes, max_classes, "
                               "quality), got " + Describe(body));
      }
      absl::Status s = Walk(body, "", {leaves, prefix},
                            [&](const std::string& name, const YAML::Node& leaf_key,
                                const YAML::Node& value) {
                              const ProjectKey& pk = *FindProjectKey(name);
                              absl::StatusOr<RawValue> raw =
                                  Leaf(prefix + name, pk.type(), leaf_key, value);
                              if (!raw.ok()) return raw.status();
                              return builder_->SetProjectKey(project, pk, *raw,
                                                             At(leaf_key, value));
                            });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  const std::string path_;
  ConfigBuilder* const builder_;
};

absl::Status ReadYamlFile(const std::string& path, ConfigBuilder* builder) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError("cannot read config file '" + path +
                                      "': " + std::strerror(errno));
  }
  std::string contents;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0;) contents.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return absl::InvalidArgumentError("cannot read config file '" + path + "'");
  try {
    return YamlReader(path, builder).Read(YAML::Load(contents));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(path + ": invalid YAML: " + e.msg);
    return absl::InvalidArgumentError(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                      std::to_string(e.mark.column + 1) +
                                      ": invalid YAML: " + e.msg);
  }
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

absl::Status ReadEnvironment(const std::map<std::string, std::string>& env,
                             ConfigBuilder* builder, std::vector<std::string>* warnings) {
  constexpr std::string_view kAdminTokenAlias = "CONSENSUSD_ADMIN_TOKEN";
  constexpr std::string_view kPropertiesPrefix = "CONSENSUSD_KAFKA_PROPERTIES_";
  std::map<std::string, const ConfigKey*, std::less<>> by_name;
  std::vector<std::string> names;
  for (const ConfigKey& key : ConfigKeys()) {
    by_name[EnvVarName(key.name)] = &key;
    names.push_back(EnvVarName(key.name));
  }
  auto warn = [warnings](std::string message) {
    if (warnings != nullptr) warnings->push_back(std::move(message));
  };
  for (const auto& [name, value] : env) {
    if (!StartsWith(name, kEnvPrefix) || value.empty()) continue;
    const std::string_view rest = std::string_view(name).substr(kEnvPrefix.size());
    const Origin origin{name};
    if (name == kAdminTokenAlias) {
      auto canonical = env.find(EnvVarName("http.admin_token"));
      if (canonical != env.end() && !canonical->second.empty() && canonical->second != value) {
        return absl::InvalidArgumentError(
            "CONSENSUSD_ADMIN_TOKEN and CONSENSUSD_HTTP_ADMIN_TOKEN are both set, to different "
            "values: set only one");
      }
      absl::Status s = builder->SetKey(*FindConfigKey("http.admin_token"), value, origin);
      if (!s.ok()) return s;
    } else if (auto it = by_name.find(name); it != by_name.end()) {
      if (absl::Status s = builder->SetKey(*it->second, value, origin); !s.ok()) return s;
    } else if (StartsWith(name, kPropertiesPrefix) && name.size() > kPropertiesPrefix.size()) {
      std::string property = name.substr(kPropertiesPrefix.size());
      for (char& c : property) {
        c = c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      builder->SetProperty(property, value, origin);
    } else if (StartsWith(rest, "PROJECTS_")) {
      warn("ignoring " + name + ": per-project keys cannot be set from the environment; use "
           "the config file or --set projects.NAME.KEY=VALUE");
    } else if (StartsWith(rest, "SERVICE_") || StartsWith(rest, "PORT")) {
      // Kubernetes service links for a Service named consensusd: not ours.
    } else {
      std::string message = "ignoring unknown environment variable " + name;
      const std::string suggestion = ClosestName(name, names);
      if (!suggestion.empty()) message += " (did you mean " + suggestion + "?)";
      warn(message);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> LoadConfig(
    const std::string& yaml_path, const std::map<std::string, std::string>& env,
    const std::vector<std::pair<std::string, std::string>>& flag_overrides,
    std::vector<std::string>* warnings) {
  ConfigBuilder builder;
  if (!yaml_path.empty()) {
    if (absl::Status s = ReadYamlFile(yaml_path, &builder); !s.ok()) return s;
  }
  if (absl::Status s = ReadEnvironment(env, &builder, warnings); !s.ok()) return s;
  const Origin command_line{"command line"};
  for (const auto& [key, value] : flag_overrides) {
    if (absl::Status s = builder.SetDotted(key, value, command_line); !s.ok()) return s;
  }
  return builder.Finish();
}

}  // namespace consensusd::service
