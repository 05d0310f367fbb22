#include "service/config_flags.h"

#include "absl/strings/str_split.h"
#include "service/config_load.h"

extern char** environ;

namespace consensusd::service {

void AddConfigFlags(CLI::App& app, ConfigFlags* flags) {
  app.add_option("--config", flags->config_path,
                 "YAML config file (docs/configuration.md); keys also come from --set and "
                 "CONSENSUSD_* environment variables")
      ->type_name("FILE");
  // Callbacks run at each occurrence (trigger_on_parse), so `overrides` keeps
  // command-line order and the last value of a key wins.
  auto set = [flags](const std::string& text) {
    absl::StatusOr<std::pair<std::string, std::string>> kv = ParseAssignment(text);
    if (!kv.ok()) throw CLI::ValidationError("--set", std::string(kv.status().message()));
    flags->overrides.push_back(*kv);
  };
  app.add_option_function<std::string>("--set", set,
                                        "Set a config key over the environment and the file, "
                                        "e.g. model.prior=0.5 (repeatable)")
      ->type_name("KEY=VALUE")
      ->trigger_on_parse();
  app.add_flag("--print-config", flags->print_config,
               "Print the effective config as YAML (secrets redacted) and exit");
  const char* const short_flags[][3] = {{"--brokers", "kafka.brokers", "HOST:PORT,..."},
                                        {"--topic", "kafka.labels_topic", "TOPIC"},
                                        {"--group", "kafka.group", "GROUP"},
                                        {"--data-dir", "state.data_dir", "DIR"},
                                        {"--http", "http.address", "ADDR:PORT"}};
  for (const auto& [flag, key, type_name] : short_flags) {
    auto set = [=](const std::string& value) { flags->overrides.emplace_back(key, value); };
    app.add_option_function<std::string>(flag, set, std::string("Same as --set ") + key + "=VALUE")
        ->type_name(type_name)
        ->trigger_on_parse();
  }
}

std::map<std::string, std::string> ConsensusdEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::pair<std::string, std::string> variable = absl::StrSplit(*entry, absl::MaxSplits('=', 1));
    if (variable.first.starts_with("CONSENSUSD_")) env.insert(std::move(variable));
  }
  return env;
}

absl::StatusOr<Config> LoadConfig(const ConfigFlags& flags,
                                  const std::map<std::string, std::string>& env,
                                  std::vector<std::string>* warnings) {
  return LoadConfig(flags.config_path, env, flags.overrides, warnings,
                    /*require_brokers=*/!flags.print_config);
}

}  // namespace consensusd::service
