#include "service/config_flags.h"

#include "service/config_load.h"

extern char** environ;

namespace consensusd::service {

void AddConfigFlags(CLI::App& app, ConfigFlags* flags) {
  app.add_option("--config", flags->config_path,
                 "YAML config file (see docs/configuration.md); every key can also be set "
                 "by --set or a CONSENSUSD_* environment variable")
      ->type_name("FILE");
  // Callbacks run at each occurrence (trigger_on_parse), so `overrides` keeps
  // command-line order and the last value of a key wins.
  app.add_option_function<std::string>(
         "--set",
         [flags](const std::string& text) { flags->overrides.push_back(*ParseAssignment(text)); },
         "Set a config key, e.g. --set model.prior=0.5 or "
         "--set kafka.properties.security.protocol=SASL_SSL (repeatable; over the "
         "environment and the file)")
      ->type_name("KEY=VALUE")
      ->trigger_on_parse()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            absl::StatusOr<std::pair<std::string, std::string>> kv = ParseAssignment(text);
            return kv.ok() ? "" : std::string(kv.status().message());
          },
          ""));
  app.add_flag("--print-config", flags->print_config,
               "Print the effective config as YAML (secrets redacted) and exit");
  const struct {
    const char* flag;
    const char* key;
    const char* type_name;
  } short_flags[] = {{"--brokers", "kafka.brokers", "HOST:PORT,..."},
                     {"--topic", "kafka.labels_topic", "TOPIC"},
                     {"--group", "kafka.group", "GROUP"},
                     {"--data-dir", "state.data_dir", "DIR"},
                     {"--http", "http.address", "ADDR:PORT"}};
  for (const auto& short_flag : short_flags) {
    const std::string key = short_flag.key;
    app.add_option_function<std::string>(
           short_flag.flag,
           [flags, key](const std::string& value) { flags->overrides.emplace_back(key, value); },
           "Same as --set " + key + "=VALUE")
        ->type_name(short_flag.type_name)
        ->trigger_on_parse();
  }
}

std::map<std::string, std::string> ConsensusdEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || text.rfind("CONSENSUSD_", 0) != 0) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
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
