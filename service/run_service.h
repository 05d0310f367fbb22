// Running the service in the foreground, as `serve` does.
//
//   return RunService(*config, "serve", /*replay_from_start=*/false);
#ifndef CONSENSUSD_SERVICE_RUN_SERVICE_H_
#define CONSENSUSD_SERVICE_RUN_SERVICE_H_

#include <string_view>

#include "service/config.h"

namespace consensusd::service {

// Runs the service until SIGINT/SIGTERM or a fatal error, with a bounded
// shutdown; returns the exit code.
int RunService(const Config& config, std::string_view command, bool replay_from_start = false);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_RUN_SERVICE_H_
