// ConfigBuilder: applies settings from the config sources to a Config, one
// source after another in order of precedence (file, then environment, then
// flags), remembering where each key's value came from so that errors can say.
// Used by LoadConfig (config_load.h); not thread-safe.
//
//   ConfigBuilder b;
//   b.SetDotted("model.prior", "0.5", Origin{"command line"});
//   absl::StatusOr<Config> config = b.Finish();
#ifndef CONSENSUSD_SERVICE_CONFIG_BUILDER_H_
#define CONSENSUSD_SERVICE_CONFIG_BUILDER_H_

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/config.h"
#include "service/config_keys.h"

namespace consensusd::service {

// Where a value came from.
struct Origin {
  std::string where;  // a file path, an environment variable, "command line"
  int line = 0;       // 1-based line in the file `where`; 0 when not from a file

  // "consensusd.yaml:12: <message>", "CONSENSUSD_MODEL_TOL: <message>".
  std::string Annotate(const std::string& message) const;
};

// A value as written: the text of a scalar, or the items of a YAML sequence.
using RawValue = std::variant<std::string, std::vector<std::string>>;

class ConfigBuilder {
 public:
  // Each returns InvalidArgument, annotated with `origin`, when the value does
  // not parse as the key's type.
  absl::Status SetKey(const ConfigKey& key, const RawValue& value, const Origin& origin);
  void SetProperty(const std::string& name, const std::string& value, const Origin& origin);
  void DeclareProject(const std::string& project, const Origin& origin);
  absl::Status SetProjectKey(const std::string& project, const ProjectKey& key,
                             const RawValue& value, const Origin& origin);
  // A dotted key of any kind: a table key, kafka.properties.<name> or
  // projects.<name>.<key> (split before the longest project key that ends it,
  // so project names may contain dots). Unknown keys are an error with a
  // suggestion.
  absl::Status SetDotted(std::string_view key, std::string_view text, const Origin& origin);

  // Resolves projects against project_defaults and validates. The error names
  // where the invalid value came from.
  absl::StatusOr<Config> Finish();

 private:
  struct ProjectSetting {
    const ProjectKey* key;
    RawValue value;
  };

  Config config_;
  std::map<std::string, Origin> origins_;  // dotted key -> where its value came from
  // Declared projects and their settings in order of precedence, applied on a
  // copy of project_defaults by Finish().
  std::map<std::string, std::vector<ProjectSetting>> projects_;
};

// Every name a key can have ("kafka", "kafka.brokers", ..., "projects"), for
// suggestions on unknown keys.
std::vector<std::string> KnownNames();

// "a string", "an integer", "a number", "a list of strings".
std::string ExpectedType(ValueType type);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_BUILDER_H_
