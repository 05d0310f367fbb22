// Loading the configuration of `consensusd serve` (SPEC 5.6), and printing it.
//
//   absl::StatusOr<Config> config = LoadConfig("consensusd.yaml", env, overrides, &warnings);
//   std::fputs(ConfigToYaml(*config).c_str(), stdout);  // secrets redacted
//
// The file, the CONSENSUSD_* environment and the overrides (--set and the short
// flags, in command-line order) merge into one YAML tree, each over the ones
// before it, which is checked against the key table (config.h) and decoded
// once; projects.<name> inherits what it does not set from project_defaults.
#ifndef CONSENSUSD_SERVICE_CONFIG_LOAD_H_
#define CONSENSUSD_SERVICE_CONFIG_LOAD_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "service/config.h"

namespace consensusd::service {

// A valid config (with `require_brokers` false, kafka.brokers may be empty), or
// InvalidArgument naming the key and the problem. `yaml_path` may be empty (no
// file). `env`: CONSENSUSD_<KEY> (upper-cased, '.' -> '_'), the alias
// CONSENSUSD_ADMIN_TOKEN, CONSENSUSD_KAFKA_PROPERTIES_<NAME> (lower-cased, '_'
// -> '.'); empty ones are unset, unknown ones go to `warnings`. `overrides` map
// dotted keys (kafka.properties.<name>, projects.<name>.<key> too) to values.
// Variables and overrides are text; a list is a flow sequence, brackets optional.
absl::StatusOr<Config> LoadConfig(const std::string& yaml_path,
                                  const std::map<std::string, std::string>& env,
                                  const std::vector<std::pair<std::string, std::string>>& overrides,
                                  std::vector<std::string>* warnings = nullptr,
                                  bool require_brokers = true);

enum class Secrets { kRedact, kShow };  // kRedact: non-empty secrets print as kRedactedSecret

// The config as a YAML file with every key, which LoadConfig reads back to
// `config` if any redacted secret is set again elsewhere (environment).
std::string ConfigToYaml(const Config& config, Secrets secrets = Secrets::kRedact);

// Every key as docs/configuration.md lists them ("projects.<name>.classes", ...).
std::vector<std::string> ConfigKeyNames();

// "kafka.brokers" -> "CONSENSUSD_KAFKA_BROKERS".
std::string EnvVarName(std::string_view key);

// "KEY=VALUE" -> {KEY, VALUE} (VALUE may hold '=' or be empty), for --set,
// --property and the like; InvalidArgument "expects KEY=VALUE, got '...'".
absl::StatusOr<std::pair<std::string, std::string>> ParseAssignment(std::string_view text);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_LOAD_H_
