// The configuration flags of `consensusd serve`: --config FILE, --set KEY=VALUE
// (repeatable), --print-config, and the shorthands --brokers, --topic, --group,
// --data-dir and --http.
//
//   ConfigFlags flags;
//   AddConfigFlags(*serve, &flags);  // then app.parse(argc, argv)
//   absl::StatusOr<Config> config = LoadConfig(flags, ConsensusdEnvironment(), &warnings);
#ifndef CONSENSUSD_SERVICE_CONFIG_FLAGS_H_
#define CONSENSUSD_SERVICE_CONFIG_FLAGS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "service/config.h"

namespace consensusd::service {

// What the flags of one parse set. Filled by the parse; must outlive it.
struct ConfigFlags {
  std::string config_path;  // --config; empty = no file
  bool print_config = false;
  // Key -> value of --set and the shorthands, in command-line order.
  std::vector<std::pair<std::string, std::string>> overrides;
};

// Registers the flags on `app` (serve), writing into `flags`; a --set without
// '=' fails the parse.
void AddConfigFlags(CLI::App& app, ConfigFlags* flags);

// The CONSENSUSD_* variables of this process's environment.
std::map<std::string, std::string> ConsensusdEnvironment();

// LoadConfig (config_load.h) of the file and overrides of `flags`; brokers are
// required to run, not to print (--print-config).
absl::StatusOr<Config> LoadConfig(const ConfigFlags& flags,
                                  const std::map<std::string, std::string>& env,
                                  std::vector<std::string>* warnings = nullptr);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_FLAGS_H_
