// Loading the configuration of `consensusd serve` (SPEC 5.6), and printing it.
//
//   absl::StatusOr<Config> config =
//       LoadConfig("consensusd.yaml", env, {{"kafka.brokers", "k:9092"}}, &warnings);
//   if (!config.ok()) ... exit 2 with config.status().message()
//   std::fputs(ConfigToYaml(*config).c_str(), stdout);  // secrets redacted
//
// The sources are merged into one YAML tree, each over the ones before it: the
// YAML file, the CONSENSUSD_* environment, then the overrides (--set KEY=VALUE
// and the short flags, in command-line order, so the last one of a key wins).
// Every key is checked against the list of keys (docs/configuration.md) and the
// tree is decoded into a Config once. projects.<name> inherits every key it
// does not set from project_defaults, whatever the source of either. Errors
// name the key and where its value came from: "consensusd.yaml:12: unknown key
// 'kafka.brokerz' (did you mean 'kafka.brokers'?)", "CONSENSUSD_MODEL_TOL:
// model.tol: expected a number, got 'x'", "command line: model.tol must be > 0".
//
// Environment: CONSENSUSD_<KEY>, the key upper-cased with '.' -> '_'
// (CONSENSUSD_KAFKA_BROKERS); CONSENSUSD_ADMIN_TOKEN is an alias of
// CONSENSUSD_HTTP_ADMIN_TOKEN; CONSENSUSD_KAFKA_PROPERTIES_<NAME> sets the
// librdkafka property <name> lower-cased with '_' -> '.'. An empty variable
// counts as unset. projects.<name>.* cannot be set from the environment. Other
// CONSENSUSD_* variables are warnings, not errors (Kubernetes injects
// CONSENSUSD_SERVICE_* and CONSENSUSD_PORT* for a Service named consensusd;
// those are skipped silently).
//
// Values from the environment and overrides are text, read as the key's type;
// a list is comma-separated or a YAML flow sequence ("[a, 'b,c']").
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

// Returns a valid config (Validate() is OK; with `require_brokers` false,
// kafka.brokers may be empty) or InvalidArgument naming the problem, the key,
// its source and the fix. `yaml_path` may be empty (no file). `env` holds the
// CONSENSUSD_* variables (others are ignored). `overrides` are dotted key ->
// value, including kafka.properties.<name> and projects.<name>.<key>.
// Warnings (unknown CONSENSUSD_* variables) go to `warnings` if not null.
absl::StatusOr<Config> LoadConfig(const std::string& yaml_path,
                                  const std::map<std::string, std::string>& env,
                                  const std::vector<std::pair<std::string, std::string>>& overrides,
                                  std::vector<std::string>* warnings = nullptr,
                                  bool require_brokers = true);

enum class Secrets {
  kRedact,  // non-empty secrets print as kRedactedSecret
  kShow,
};

// The config as a YAML file with every key (defaults included). LoadConfig of
// this text gives back `config`, except that with Secrets::kRedact each
// non-empty secret must come from elsewhere (e.g. the environment).
std::string ConfigToYaml(const Config& config, Secrets secrets = Secrets::kRedact);

// Every key, dotted, as docs/configuration.md lists them: "kafka.brokers", ...,
// "kafka.properties.<name>", "projects.<name>.classes", ...
std::vector<std::string> ConfigKeyNames();

// "kafka.brokers" -> "CONSENSUSD_KAFKA_BROKERS".
std::string EnvVarName(std::string_view key);

// "KEY=VALUE" -> {KEY, VALUE}; VALUE may hold '=' and be empty. For --set,
// --property and the like. InvalidArgument "expects KEY=VALUE, got '<text>'"
// when there is no '=' or KEY is empty.
absl::StatusOr<std::pair<std::string, std::string>> ParseAssignment(std::string_view text);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_LOAD_H_
