// The table of configuration keys: one entry per settable scalar or list key,
// shared by the YAML loader, the CONSENSUSD_* environment, --set, --print-config
// and the reference docs, so that none of them can miss a key.
//
//   for (const ConfigKey& key : ConfigKeys()) {
//     std::printf("%s = %s (%s)\n", key.name.c_str(),
//                 FormatValue(key.get(config)).c_str(), EnvVarName(key.name).c_str());
//   }
//
// Map-valued keys are not in the table: kafka.properties.<property> (any
// librdkafka property) and projects.<name>.<key>, whose <key>s are ProjectKeys()
// (the same keys as project_defaults.<key>, which is in the table).
#ifndef CONSENSUSD_SERVICE_CONFIG_KEYS_H_
#define CONSENSUSD_SERVICE_CONFIG_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "service/config.h"

namespace consensusd::service {

enum class ValueType { kString, kInteger, kNumber, kStringList };

// "string", "integer", "number", "list of strings".
std::string_view TypeName(ValueType type);

// A typed pointer to one field of a Config (or ProjectConfig).
using FieldRef = std::variant<std::string*, int32_t*, int64_t*, size_t*, double*,
                              std::vector<std::string>*>;
using ConstFieldRef = std::variant<const std::string*, const int32_t*, const int64_t*,
                                   const size_t*, const double*, const std::vector<std::string>*>;

ValueType TypeOf(ConstFieldRef field);
ValueType TypeOf(FieldRef field);

// One key of the table, on the struct `Owner` (Config, or ProjectConfig for the
// keys under projects.<name>).
template <typename Owner>
struct Key {
  std::string name;         // dotted, e.g. "kafka.brokers"
  std::string description;  // one sentence, for the reference docs
  bool secret = false;      // redacted by --print-config
  std::function<FieldRef(Owner&)> field;
  std::function<ConstFieldRef(const Owner&)> get;

  ValueType type() const { return TypeOf(get(Owner{})); }
};
using ConfigKey = Key<Config>;
using ProjectKey = Key<ProjectConfig>;

// Every key, in the order of the reference docs and --print-config: kafka,
// state, model, project_defaults, review, output, http, metrics.
const std::vector<ConfigKey>& ConfigKeys();
// The keys of one project: classes, max_classes, quality.*.
const std::vector<ProjectKey>& ProjectKeys();

const ConfigKey* FindConfigKey(std::string_view name);
const ProjectKey* FindProjectKey(std::string_view name);

// "kafka.brokers" -> "CONSENSUSD_KAFKA_BROKERS".
std::string EnvVarName(std::string_view key);
inline constexpr std::string_view kEnvPrefix = "CONSENSUSD_";

// Parses `text` as the field's type and stores it. Integers and numbers are
// decimal (leading and trailing blanks ignored; numbers must be finite); a
// list is comma-separated items or a YAML flow sequence ("[a, 'b,c']"), items
// trimmed. On error returns InvalidArgument "expected <type>, got '<text>'"
// (without the key: the caller knows where the text came from).
absl::Status ParseInto(FieldRef field, std::string_view text);

// The value as text: strings as they are, numbers in the shortest form that
// reads back to the same value, lists as "[a, b]".
std::string FormatValue(ConstFieldRef field);
std::string FormatNumber(double value);

// The candidate closest to `unknown` by edit distance, if close enough to be a
// likely typo, else one whose last dotted segment equals unknown's (a key put
// in the wrong section); empty if none.
std::string ClosestName(std::string_view unknown, const std::vector<std::string>& candidates);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CONFIG_KEYS_H_
