// consensusd serve: the service (SPEC 5.1, 5.6, 6).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/commands.h"
#include "service/config_load.h"
#include "service/config_print.h"
#include "service/kafka_topics.h"
#include "service/serve_flags.h"
#include "service/service.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace consensusd::service {

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

void AddServeConfigFlags(CLI::App* app, ServeConfigFlags& flags) {
  app->add_option("--config", flags.config_file, "YAML config file (SPEC 5.6)");
  app->add_option("--set", flags.sets, "set any config key: --set model.prior=0.1 (repeatable)");
  app->add_option("--brokers", flags.brokers, "Kafka bootstrap servers HOST:PORT,... (kafka.brokers)");
  app->add_option("--topic", flags.topic, "input topic (kafka.labels_topic)");
  app->add_option("--group", flags.group, "consumer group (kafka.group)");
  app->add_option("--data-dir", flags.data_dir, "state directory (state.data_dir)");
  app->add_option("--http", flags.http, "HTTP listen address ADDR:PORT (http.address)");
  app->add_flag("--print-config", flags.print_config, "print the effective config as YAML and exit");
  app->add_option("--log-level", flags.log_level, "trace, debug, info, warn, error");
  app->add_flag("--replay", flags.replay,
                "consume every partition from its beginning, ignoring stored offsets "
                "(answers already applied change nothing)");
}

absl::StatusOr<Config> LoadServeConfig(const ServeConfigFlags& flags) {
  std::vector<std::pair<std::string, std::string>> overrides;
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) overrides.emplace_back(key, value);
  };
  add("kafka.brokers", flags.brokers);
  add("kafka.labels_topic", flags.topic);
  add("kafka.group", flags.group);
  add("state.data_dir", flags.data_dir);
  add("http.address", flags.http);
  for (const std::string& set : flags.sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--set expects KEY=VALUE, got '", set, "'"));
    }
    overrides.emplace_back(set.substr(0, eq), set.substr(eq + 1));
  }
  std::vector<std::string> warnings;
  absl::StatusOr<Config> config = LoadConfig(flags.config_file, ProcessEnvironment(), overrides, &warnings);
  for (const std::string& w : warnings) spdlog::warn("{}", w);
  return config;
}

// Runs the service until SIGINT/SIGTERM or a fatal error; bounded shutdown.
int RunService(const Config& config, std::string_view command, bool replay_from_start) {
  BlockStopSignals();
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config, replay_from_start);
  if (!service.ok()) return Failure(command, service.status());
  spdlog::info("serving: consuming {} from {}; http://{}/", config.kafka.labels_topic,
               config.kafka.brokers, (*service)->http_address());
  while (!(*service)->stop_requested()) {
    if (WaitForStopSignal(200) != 0) {
      spdlog::info("stopping: committing state and flushing outputs");
      (*service)->RequestStop();
    }
  }
  // A shutdown that hangs (e.g. brokers gone while leaving the group) must not
  // hang the process: give it a bounded time.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(30));
    spdlog::error("shutdown took longer than 30s; exiting");
    _exit(kExitFailure);
  }).detach();
  absl::Status status = (*service)->Wait();
  service->reset();
  if (!status.ok()) return Failure(command, status);
  spdlog::info("stopped");
  return kExitOk;
}

Command AddServeCommand(CLI::App& parent) {
  auto flags = std::make_shared<ServeConfigFlags>();
  CLI::App* app = parent.add_subcommand(
      "serve",
      "Run the service: consume answers from Kafka, aggregate, persist in RocksDB, publish "
      "consensus to Kafka and serve HTTP. Settings: --config FILE, CONSENSUSD_* env, flags.");
  AddServeConfigFlags(app, *flags);
  return {app, [flags]() -> int {
            if (!flags->log_level.empty()) spdlog::set_level(spdlog::level::from_str(flags->log_level));
            absl::StatusOr<Config> config = LoadServeConfig(*flags);
            if (!config.ok()) return UsageError("serve", config.status().message());
            if (flags->print_config) {
              std::fputs(ConfigToYaml(*config).c_str(), stdout);
              return kExitOk;
            }
            return RunService(*config, "serve", flags->replay);
          }};
}

}  // namespace consensusd::service
