// Loading the configuration of `consensusd serve` (SPEC 5.6) from its sources,
// by precedence: flag > CONSENSUSD_* environment variable > YAML file > default.
//
//   std::vector<std::string> warnings;
//   absl::StatusOr<Config> config =
//       LoadConfig("consensusd.yaml", ConsensusdEnvironment(), {{"kafka.brokers", "k:9092"}},
//                  &warnings);
//   if (!config.ok()) ... exit 2 with config.status().message()
//
// Keys are the dotted names of the key table (config_keys.h); the YAML file
// nests them (`kafka: {brokers: ...}`). Errors name the key and where the bad
// value came from: "consensusd.yaml:12: unknown key 'kafka.brokerz' (did you
// mean 'kafka.brokers'?)", "model.tol: expected a number, got 'x' (from
// CONSENSUSD_MODEL_TOL)".
//
// Environment: CONSENSUSD_<KEY> with the key upper-cased and '.' -> '_'
// (CONSENSUSD_KAFKA_BROKERS); CONSENSUSD_ADMIN_TOKEN is an alias of
// CONSENSUSD_HTTP_ADMIN_TOKEN; CONSENSUSD_KAFKA_PROPERTIES_<NAME> sets the
// librdkafka property <name> lower-cased with '_' -> '.'
// (CONSENSUSD_KAFKA_PROPERTIES_SASL_PASSWORD -> sasl.password). An empty
// variable counts as unset. projects.<name>.* cannot be set from the
// environment (names are case-sensitive and may hold '-' and '.'). Any other
// CONSENSUSD_* variable is reported as a warning, not an error: environments
// hold unrelated CONSENSUSD_* variables (Kubernetes injects CONSENSUSD_PORT,
// CONSENSUSD_SERVICE_HOST, ... for a Service named consensusd; those are
// skipped silently).
//
// Flags: dotted key -> value, applied in order (the last one of a key wins).
// Lists are comma-separated or a YAML flow sequence ("[a, 'b,c']");
// kafka.properties.<name> and projects.<name>.<key> are accepted too.
//
// Projects: projects.<name> inherits every key it does not set from
// project_defaults, whatever the source of either.
#ifndef CONSENSUSD_SERVICE_CONFIG_LOAD_H_
#define CONSENSUSD_SERVICE_CONFIG_LOAD_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "service/config.h"
#include "service/config_print.h"  // ConfigToYaml, the inverse of LoadConfig

namespace consensusd::service {

// Returns a valid config (Validate() is OK) or InvalidArgument naming the
// problem, the key, the source and the fix. `yaml_path` may be empty (no
// file). `env` is the process environment (only CONSENSUSD_* entries are
// read). Warnings (unknown CONSENSUSD_* variables) go to `warnings` if not null.
absl::StatusOr<Config> LoadConfig(
    const std::string& yaml_path, const std::map<std::string, std::string>& env,
    const std::vector<std::pair<std::string, std::string>>& flag_overrides,
    std::vector<std::string>* warnings = nullptr);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_LOAD_H_
