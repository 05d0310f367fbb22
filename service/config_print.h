// The configuration as text: the effective config as YAML (--print-config),
// which loads back to the same config, and the Markdown reference of every key
// (docs/configuration.md), both generated from the key table.
//
//   std::fputs(ConfigToYaml(*config).c_str(), stdout);  // secrets redacted
#ifndef CONSENSUSD_SERVICE_CONFIG_PRINT_H_
#define CONSENSUSD_SERVICE_CONFIG_PRINT_H_

#include <string>

#include "service/config.h"

namespace consensusd::service {

enum class Secrets {
  kRedact,  // non-empty secrets print as kRedactedSecret
  kShow,
};

// The config as a YAML file with every key, sections in the order of the key
// table. LoadConfig(file with this text) gives back `config`, except that with
// Secrets::kRedact each non-empty secret must come from elsewhere (e.g. the
// environment, which has precedence); a placeholder left in place is a load
// error, never a silently wrong secret.
std::string ConfigToYaml(const Config& config, Secrets secrets = Secrets::kRedact);

// Markdown reference of every key: name, type, default, environment
// variable, description; plus precedence, kafka.properties and projects.
std::string ConfigReference();

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_PRINT_H_
