#include "service/config_flags.h"

#include "service/config_keys.h"
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
         [flags](const std::string& assignment) {
           const size_t eq = assignment.find('=');
           flags->overrides.emplace_back(assignment.substr(0, eq), assignment.substr(eq + 1));
         },
         "Set a config key, e.g. --set model.prior=0.5 or "
         "--set kafka.properties.security.protocol=SASL_SSL (repeatable; over the "
         "environment and the file)")
      ->type_name("KEY=VALUE")
      ->trigger_on_parse()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const size_t eq = value.find('=');
            if (eq == std::string::npos || eq == 0) {
              return "expects KEY=VALUE, e.g. --set model.prior=0.5, got '" + value + "'";
            }
            return "";
          },
          ""));
  app.add_flag("--print-config", flags->print_config,
               "Print the effective config as YAML (secrets redacted) and exit");
  for (const ShortFlag& short_flag : kShortFlags) {
    const std::string key(short_flag.key);
    app.add_option_function<std::string>(
           std::string(short_flag.flag),
           [flags, key](const std::string& value) { flags->overrides.emplace_back(key, value); },
           "Same as --set " + key + "=VALUE")
        ->type_name(std::string(short_flag.type_name))
        ->trigger_on_parse();
  }
}

std::map<std::string, std::string> ConsensusdEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || text.substr(0, kEnvPrefix.size()) != kEnvPrefix) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

absl::StatusOr<Config> LoadConfig(const ConfigFlags& flags,
                                  const std::map<std::string, std::string>& env,
                                  std::vector<std::string>* warnings) {
  return LoadConfig(flags.config_path, env, flags.overrides, warnings);
}

}  // namespace consensusd::service
