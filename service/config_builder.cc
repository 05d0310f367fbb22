#include "service/config_builder.h"

#include <algorithm>
#include <utility>

namespace consensusd::service {

namespace {

constexpr std::string_view kPropertiesPrefix = "kafka.properties.";
constexpr std::string_view kProjectsPrefix = "projects.";

// Stores `value` in `field`: a scalar's text is parsed; a sequence fits only a list.
absl::Status Assign(FieldRef field, const RawValue& value) {
  if (const std::string* text = std::get_if<std::string>(&value)) return ParseInto(field, *text);
  auto* list = std::get_if<std::vector<std::string>*>(&field);
  if (list == nullptr) {
    return absl::InvalidArgumentError(
        "expected " + ExpectedType(TypeOf(field)) + ", got a list");
  }
  **list = std::get<std::vector<std::string>>(value);
  return absl::OkStatus();
}

absl::Status KeyError(const Origin& origin, const std::string& key, const absl::Status& status) {
  return absl::InvalidArgumentError(origin.Annotate(key + ": " + std::string(status.message())));
}

std::string UnknownKey(std::string_view key, const std::vector<std::string>& candidates) {
  std::string message = "unknown key '" + std::string(key) + "'";
  const std::string suggestion = ClosestName(key, candidates);
  if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
  return message;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string Origin::Annotate(const std::string& message) const {
  if (where.empty()) return message;
  if (line > 0) return where + ":" + std::to_string(line) + ": " + message;
  return where + ": " + message;
}

std::string ExpectedType(ValueType type) {
  switch (type) {
    case ValueType::kString: return "a string";
    case ValueType::kInteger: return "an integer";
    case ValueType::kNumber: return "a number";
    case ValueType::kStringList: return "a list of strings";
  }
  return "?";
}

std::vector<std::string> KnownNames() {
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const ConfigKey& key : ConfigKeys()) {
    for (size_t dot = key.name.find('.'); dot != std::string::npos;
         dot = key.name.find('.', dot + 1)) {
      add(key.name.substr(0, dot));
    }
    add(key.name);
  }
  add("kafka.properties");
  add("projects");
  return names;
}

absl::Status ConfigBuilder::SetKey(const ConfigKey& key, const RawValue& value,
                                   const Origin& origin) {
  if (absl::Status s = Assign(key.field(config_), value); !s.ok()) {
    return KeyError(origin, key.name, s);
  }
  origins_[key.name] = origin;
  return absl::OkStatus();
}

void ConfigBuilder::SetProperty(const std::string& name, const std::string& value,
                                const Origin& origin) {
  config_.kafka.properties[name] = value;
  origins_[std::string(kPropertiesPrefix) + name] = origin;
}

void ConfigBuilder::DeclareProject(const std::string& project, const Origin& origin) {
  projects_[project];
  origins_.emplace(std::string(kProjectsPrefix) + project, origin);
}

absl::Status ConfigBuilder::SetProjectKey(const std::string& project, const ProjectKey& key,
                                          const RawValue& value, const Origin& origin) {
  const std::string name = std::string(kProjectsPrefix) + project + "." + key.name;
  ProjectConfig scratch;  // checks the type now, so that the error has its origin
  if (absl::Status s = Assign(key.field(scratch), value); !s.ok()) {
    return KeyError(origin, name, s);
  }
  DeclareProject(project, origin);
  projects_[project].push_back({&key, value});
  origins_[name] = origin;
  return absl::OkStatus();
}

absl::Status ConfigBuilder::SetDotted(std::string_view key, std::string_view text,
                                      const Origin& origin) {
  if (const ConfigKey* k = FindConfigKey(key)) return SetKey(*k, std::string(text), origin);
  if (StartsWith(key, kPropertiesPrefix) && key.size() > kPropertiesPrefix.size()) {
    SetProperty(std::string(key.substr(kPropertiesPrefix.size())), std::string(text), origin);
    return absl::OkStatus();
  }
  if (StartsWith(key, kProjectsPrefix) && key.size() > kProjectsPrefix.size()) {
    const std::string_view rest = key.substr(kProjectsPrefix.size());
    const ProjectKey* best = nullptr;
    for (const ProjectKey& pk : ProjectKeys()) {
      const size_t n = pk.name.size();
      if (rest.size() > n + 1 && rest.substr(rest.size() - n) == pk.name &&
          rest[rest.size() - n - 1] == '.' && (best == nullptr || n > best->name.size())) {
        best = &pk;
      }
    }
    if (best != nullptr) {
      const std::string project(rest.substr(0, rest.size() - best->name.size() - 1));
      return SetProjectKey(project, *best, std::string(text), origin);
    }
    // Suggest a project key for every way of reading a project name off the front.
    std::vector<std::string> candidates;
    for (size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.', dot + 1)) {
      for (const ProjectKey& pk : ProjectKeys()) {
        candidates.push_back(std::string(kProjectsPrefix) + std::string(rest.substr(0, dot)) +
                             "." + pk.name);
      }
    }
    if (candidates.empty()) {
      return absl::InvalidArgumentError(origin.Annotate(
          "'" + std::string(key) + "' is a project, not a key: set one of its keys, e.g. '" +
          std::string(key) + ".classes'"));
    }
    return absl::InvalidArgumentError(origin.Annotate(UnknownKey(key, candidates)));
  }
  const std::vector<std::string> known = KnownNames();
  if (std::find(known.begin(), known.end(), key) != known.end()) {
    std::string example = key == "projects" ? "projects.NAME.classes"
                          : key == "kafka.properties" ? "kafka.properties.NAME"
                                                      : "";
    for (const ConfigKey& k : ConfigKeys()) {
      if (example.empty() && StartsWith(k.name, std::string(key) + ".")) example = k.name;
    }
    return absl::InvalidArgumentError(origin.Annotate(
        "'" + std::string(key) + "' is a section, not a key: set one of its keys, e.g. '" +
        example + "'"));
  }
  return absl::InvalidArgumentError(origin.Annotate(UnknownKey(key, known)));
}

absl::StatusOr<Config> ConfigBuilder::Finish() {
  config_.projects.clear();
  for (const auto& [name, settings] : projects_) {
    ProjectConfig project = config_.project_defaults;
    for (const ProjectSetting& setting : settings) {
      // Cannot fail: SetProjectKey parsed the same value into the same type.
      if (absl::Status s = Assign(setting.key->field(project), setting.value); !s.ok()) return s;
    }
    config_.projects.emplace(name, std::move(project));
  }
  if (std::optional<ConfigProblem> problem = FindConfigProblem(config_)) {
    auto it = origins_.find(problem->key);
    return absl::InvalidArgumentError(
        it != origins_.end() ? it->second.Annotate(problem->message) : problem->message);
  }
  return config_;
}

}  // namespace consensusd::service
