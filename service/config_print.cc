#include "service/config_print.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "service/config_keys.h"
#include "yaml-cpp/yaml.h"

namespace consensusd::service {

namespace {

// The dotted key names of a table as a tree of sections, in table order.
template <typename Owner>
struct KeyNode {
  std::string name;
  const Key<Owner>* key = nullptr;  // set on leaves
  std::vector<KeyNode> children;
};

template <typename Owner>
std::vector<KeyNode<Owner>> BuildTree(const std::vector<Key<Owner>>& keys) {
  std::vector<KeyNode<Owner>> roots;
  for (const Key<Owner>& key : keys) {
    std::vector<KeyNode<Owner>>* level = &roots;
    size_t start = 0;
    for (size_t dot = key.name.find('.'); dot != std::string::npos;
         start = dot + 1, dot = key.name.find('.', start)) {
      const std::string section = key.name.substr(start, dot - start);
      auto it = std::find_if(level->begin(), level->end(),
                             [&](const KeyNode<Owner>& n) { return n.name == section; });
      if (it == level->end()) it = level->insert(level->end(), KeyNode<Owner>{section, nullptr, {}});
      level = &it->children;
    }
    level->push_back(KeyNode<Owner>{key.name.substr(start), &key, {}});
  }
  return roots;
}

void EmitValue(YAML::Emitter& out, ConstFieldRef field, bool redact) {
  std::visit(
      [&out, redact](const auto* p) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        if constexpr (std::is_same_v<T, std::string>) {
          out << (redact && !p->empty() ? std::string(kRedactedSecret) : *p);
        } else if constexpr (std::is_same_v<T, double>) {
          out << FormatNumber(*p);  // shortest text that reads back to the same double
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const std::string& item : *p) out << item;
          out << YAML::EndSeq;
        } else {
          out << *p;
        }
      },
      field);
}

// Emits the entries of `nodes` into the open map.
template <typename Owner>
void EmitNodes(YAML::Emitter& out, const std::vector<KeyNode<Owner>>& nodes, const Owner& owner,
               Secrets secrets) {
  for (const KeyNode<Owner>& node : nodes) {
    out << YAML::Key << node.name << YAML::Value;
    if (node.key != nullptr) {
      EmitValue(out, node.key->get(owner), node.key->secret && secrets == Secrets::kRedact);
    } else {
      out << YAML::BeginMap;
      EmitNodes(out, node.children, owner, secrets);
      out << YAML::EndMap;
    }
  }
}

void EmitProperties(YAML::Emitter& out, const Config& config, Secrets secrets) {
  out << YAML::Key << "properties" << YAML::Value;
  if (config.kafka.properties.empty()) out << YAML::Flow;  // "properties: {}"
  out << YAML::BeginMap;
  for (const auto& [name, value] : config.kafka.properties) {
    const bool redact = secrets == Secrets::kRedact && IsSecretKafkaProperty(name);
    out << YAML::Key << name << YAML::Value
        << (redact && !value.empty() ? std::string(kRedactedSecret) : value);
  }
  out << YAML::EndMap;
}

void EmitProjects(YAML::Emitter& out, const Config& config, Secrets secrets) {
  static const std::vector<KeyNode<ProjectConfig>> tree = BuildTree(ProjectKeys());
  out << YAML::Key << "projects" << YAML::Value;
  if (config.projects.empty()) out << YAML::Flow;  // "projects: {}"
  out << YAML::BeginMap;
  for (const auto& [name, project] : config.projects) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    EmitNodes(out, tree, project, secrets);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

// Whether --print-config would redact anything.
bool HasSecrets(const Config& config) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.secret && !FormatValue(key.get(config)).empty()) return true;
  }
  for (const auto& [name, value] : config.kafka.properties) {
    if (IsSecretKafkaProperty(name) && !value.empty()) return true;
  }
  return false;
}

std::string Code(const std::string& s) { return "`" + s + "`"; }

std::string DefaultText(ConstFieldRef field) {
  const std::string text = FormatValue(field);
  if (TypeOf(field) == ValueType::kString) return Code("\"" + text + "\"");
  return Code(text);
}

}  // namespace

std::string ConfigToYaml(const Config& config, Secrets secrets) {
  static const std::vector<KeyNode<Config>> tree = BuildTree(ConfigKeys());
  YAML::Emitter out;
  out << YAML::Comment("consensusd serve: effective configuration "
                       "(flag > CONSENSUSD_* environment > file > default)");
  if (secrets == Secrets::kRedact && HasSecrets(config)) {
    out << YAML::Newline
        << YAML::Comment("secrets print as \"" + std::string(kRedactedSecret) +
                         "\": set them again (e.g. by environment) to load this file");
  }
  out << YAML::BeginMap;
  for (const KeyNode<Config>& section : tree) {
    out << YAML::Key << section.name << YAML::Value << YAML::BeginMap;
    EmitNodes(out, section.children, config, secrets);
    if (section.name == "kafka") EmitProperties(out, config, secrets);
    out << YAML::EndMap;
    if (section.name == "project_defaults") EmitProjects(out, config, secrets);
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string ConfigReference() {
  const Config defaults;
  std::string md;
  md += "# Configuration reference\n\n";
  md += "<!-- Generated from the key table (service/config_keys.cc) by ConfigReference();\n"
        "     tests/service/config_docs_test.cc fails when this file is stale. Regenerate:\n"
        "     CONSENSUSD_UPDATE_DOCS=1 build/service_tests --gtest_filter='ConfigDocs*' -->\n\n";
  md += "`consensusd serve` reads one YAML file (`--config FILE`; an annotated example is\n"
        "`deploy/consensusd.yaml`). Every key can also be set by a `CONSENSUSD_` environment\n"
        "variable and by a flag. Precedence: **flag > environment > file > default**.\n"
        "`consensusd serve --print-config` prints the effective configuration as YAML (the\n"
        "same format as the file) and exits.\n\n";
  md += "## Sources\n\n"
        "- **File**: keys nest by their dots (`kafka.brokers` is `brokers:` under `kafka:`).\n"
        "  An unknown key, a duplicate key or a value of the wrong type is an error naming\n"
        "  the key, the file and the line, with a suggestion for a likely typo.\n"
        "- **Environment**: `CONSENSUSD_` + the key upper-cased with `.` replaced by `_`\n"
        "  (`CONSENSUSD_KAFKA_BROKERS`). An empty variable counts as unset.\n"
        "  `CONSENSUSD_ADMIN_TOKEN` is an alias of `CONSENSUSD_HTTP_ADMIN_TOKEN` (setting both,\n"
        "  to different values, is an error). Other `CONSENSUSD_*` variables are ignored with a\n"
        "  warning (a typo shows up in the log; unrelated variables, e.g. the\n"
        "  `CONSENSUSD_SERVICE_*`/`CONSENSUSD_PORT*` ones Kubernetes injects for a Service named\n"
        "  consensusd, do not stop the service). `projects.<name>.*` cannot be set from the\n"
        "  environment.\n"
        "- **Flags**: `--set KEY=VALUE` (repeatable; any key, including\n"
        "  `kafka.properties.<name>` and `projects.<name>.<key>`), and the short flags\n"
        "  `--brokers` (`kafka.brokers`), `--topic` (`kafka.labels_topic`), `--group`\n"
        "  (`kafka.group`), `--data-dir` (`state.data_dir`), `--http` (`http.address`). Flags\n"
        "  apply in command-line order: the last one of a key wins.\n"
        "- **Values**: integers and numbers are decimal; in the environment and flags a list\n"
        "  is comma-separated (`a,b,c`) or a YAML flow sequence (`[a, \"b,c\"]`); in the file it\n"
        "  is a YAML sequence.\n\n";
  md += "## Keys\n\n| key | type | default | environment variable | description |\n"
        "|---|---|---|---|---|\n";
  for (const ConfigKey& key : ConfigKeys()) {
    std::string env = Code(EnvVarName(key.name));
    if (key.name == "http.admin_token") env += ", `CONSENSUSD_ADMIN_TOKEN`";
    md += "| " + Code(key.name) + " | " + std::string(TypeName(key.type())) + " | " +
          DefaultText(key.get(defaults)) + " | " + env + " | " + key.description + " |\n";
  }
  md += "\n## kafka.properties\n\n"
        "A map of librdkafka properties passed to the Kafka clients as they are, for SASL,\n"
        "TLS and tuning (see librdkafka's CONFIGURATION.md):\n\n"
        "```yaml\nkafka:\n  properties:\n    security.protocol: SASL_SSL\n"
        "    sasl.mechanism: PLAIN\n    sasl.username: consensusd\n```\n\n"
        "Also `--set kafka.properties.sasl.mechanism=PLAIN`, and\n"
        "`CONSENSUSD_KAFKA_PROPERTIES_SASL_PASSWORD=...` (the name after the prefix is\n"
        "lower-cased with `_` replaced by `.`, so a property whose name holds `_` can only be\n"
        "set from the file or `--set`). Values are strings. These properties are owned by\n"
        "consensusd and rejected: `bootstrap.servers`, `metadata.broker.list` (use\n"
        "`kafka.brokers`), `group.id` (use `kafka.group`), `enable.auto.commit`,\n"
        "`enable.auto.offset.store`, `auto.offset.reset` (offsets are stored with the state),\n"
        "`partition.assignment.strategy` (cooperative-sticky).\n\n";
  md += "## projects\n\n"
        "Per-project settings, under `projects.<name>`. A project inherits every key it does\n"
        "not set from `project_defaults`, which also applies to every project not listed.\n"
        "(The defaults are not `projects.default`: `default` is the project of messages\n"
        "without a `project` field.) Set from the file or with\n"
        "`--set projects.<name>.<key>=VALUE`.\n\n"
        "```yaml\nprojects:\n  sentiment-v2:\n    classes: [negative, neutral, positive]\n"
        "    quality: {min_accuracy: 0.6}\n```\n\n"
        "| key | type | default | description |\n|---|---|---|---|\n";
  const ProjectConfig project_defaults;
  for (const ProjectKey& key : ProjectKeys()) {
    md += "| " + Code("projects.<name>." + key.name) + " | " + std::string(TypeName(key.type())) +
          " | " + DefaultText(key.get(project_defaults)) + " | " + key.description + " |\n";
  }
  md += "\n## Secrets\n\n"
        "`--print-config` prints `http.admin_token` and the secret `kafka.properties` (names\n"
        "holding `password` or `secret`, `ssl.key.pem`, `ssl_key`, `sasl.oauthbearer.config`)\n"
        "as `\"" + std::string(kRedactedSecret) + "\"`. The printed file loads back to the same\n"
        "configuration when the secrets come from the environment, which has precedence (the\n"
        "recommended place for them); a placeholder left in place is an error at start-up,\n"
        "never a wrong secret.\n\n";
  md += "## Validation\n\n"
        "`consensusd serve` exits with code 2 and one message naming the key, its source and\n"
        "the valid range when a value is out of range: `kafka.brokers` is required; topic names\n"
        "are valid Kafka names and all different; `model.method` is `ds` or `onecoin`;\n"
        "`model.prior`, `model.diagonal_prior` >= 0; `model.tol`, `model.sweep_interval_s` > 0;\n"
        "`0 < review.min_confidence <= 1`; fractions (`quality.*`, `output.min_change`) in\n"
        "[0, 1]; `max_classes` from 2 to 1024, at least the number of declared classes;\n"
        "declared classes are distinct and non-empty; `http.address` is `HOST:PORT`.\n";
  return md;
}

}  // namespace consensusd::service
