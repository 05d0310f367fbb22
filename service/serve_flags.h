// The flags `serve` and `demo` share for settings, and how they turn into a
// Config (flag > CONSENSUSD_* env > --config file > default).
//
//   ServeConfigFlags flags;
//   AddServeConfigFlags(app, flags);
//   absl::StatusOr<Config> config = LoadServeConfig(flags);
#ifndef CONSENSUSD_SERVICE_SERVE_FLAGS_H_
#define CONSENSUSD_SERVICE_SERVE_FLAGS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "service/config.h"

namespace consensusd::service {

struct ServeConfigFlags {
  std::string config_file;
  std::vector<std::string> sets;  // KEY=VALUE
  std::string brokers, topic, group, data_dir, http, log_level;
  bool print_config = false;
  bool replay = false;
};

void AddServeConfigFlags(CLI::App* app, ServeConfigFlags& flags);
absl::StatusOr<Config> LoadServeConfig(const ServeConfigFlags& flags);
std::map<std::string, std::string> ProcessEnvironment();

// Runs the service until SIGINT/SIGTERM or a fatal error, with a bounded
// shutdown; returns the exit code.
int RunService(const Config& config, std::string_view command, bool replay_from_start = false);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_SERVE_FLAGS_H_
