#include "service/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <type_traits>

namespace consensusd::service {

namespace {

std::string Quoted(std::string_view s) { return std::string("'").append(s) + "'"; }

// Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
bool IsValidTopicName(std::string_view name) {
  constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  return !name.empty() && name.size() <= 249 && name != "." && name != ".." &&
         name.find_first_not_of(kAllowed) == std::string_view::npos;
}

// HOST:PORT with a non-empty host (IPv6 in brackets) and a port 0-65535.
bool IsValidAddress(std::string_view address) {
  const size_t colon = address.rfind(':');
  const std::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  return colon != std::string_view::npos && !port.empty() && port.size() <= 5 &&
         (bracketed || (!host.empty() && host.find_first_of("[]:") == std::string_view::npos)) &&
         port.find_first_not_of("0123456789") == std::string_view::npos &&
         std::stoi(std::string(port)) <= 65535;
}

// A finite decimal number, the whole text.
bool ParseNumber(const std::string& text, double* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && std::isfinite(*value);
}

}  // namespace

double ProjectConfig::ScaleMin() const {
  double v = 0;
  ParseNumber(scale.at(0), &v);
  return v;
}

double ProjectConfig::ScaleMax() const {
  double v = 0;
  ParseNumber(scale.at(1), &v);
  return v;
}

bool IsSecretKafkaProperty(std::string_view name) {
  for (std::string_view word : {"password", "secret", "jaas", "key", "token"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return name == "sasl.oauthbearer.config";
}

std::string FormatNumber(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

absl::Status Config::Validate() const {
  std::string problem;  // the first one found
  auto require = [&problem](bool ok, const std::string& message) {
    if (!ok && problem.empty()) problem = message;
  };
  // The range of a numeric key (ForEachKey's f), written so that NaN fails it.
  auto in_range = [&require](const std::string& name, const auto& field, auto... range) {
    if constexpr (sizeof...(range) == 1) {
      const Range r{range...};
      const double v = static_cast<double>(field);
      const std::string min = FormatNumber(r.min), max = FormatNumber(r.max);
      require((r.above ? v > r.min : v >= r.min) && v <= r.max,
              name + " must be " +
                  (r.max == std::numeric_limits<double>::infinity() ? (r.above ? "> " : ">= ") + min
                   : r.above ? "> " + min + " and <= " + max
                             : "from " + min + " to " + max) +
                  ", got " + FormatNumber(v));
    }
  };
  // `prefix` is "project_defaults." or "projects.<name>.".
  auto check_project = [&](const std::string& prefix, const ProjectConfig& p) {
    ForEachProjectKey(p, [&](const std::string& key, const auto& field, auto... range) {
      in_range(prefix + key, field, range...);
    });
    require(p.repeats == "replace" || p.repeats == "count",
            prefix + "repeats must be replace (a later answer of a worker to a task replaces "
                     "the earlier one) or count (every answer counts), got " +
                Quoted(p.repeats) +
                (p.repeats == "last" || p.repeats == "all"
                     ? " (last and all are accepted by consensusd aggregate only: write " +
                           std::string(p.repeats == "last" ? "replace" : "count") + ")"
                     : ""));
    const std::string kind = prefix + "kind";
    require(p.kind.empty() || p.kind == "categorical" || p.kind == "pairwise" || p.kind == "rating",
            kind + " must be categorical, pairwise or rating (or unset: the first answer "
                   "fixes it), got " + Quoted(p.kind));
    const bool categorical = p.kind.empty() || p.kind == "categorical";
    require(categorical || p.classes.empty(),
            prefix + "classes is set but " + kind + " is " + p.kind +
                ": classes apply to categorical projects only");
    require(categorical || p.repeats == "replace",
            prefix + "repeats: count is for categorical projects only; a " + p.kind +
                " project keeps each worker's last answer per task (repeats: replace)");
    if (!p.scale.empty()) {
      double lo = 0, hi = 0;
      const bool numbers = p.scale.size() == 2 && ParseNumber(p.scale[0], &lo) &&
                           ParseNumber(p.scale[1], &hi);
      require(numbers && lo < hi, prefix + "scale must be [min, max], two numbers with min < max "
                                           "(e.g. [1, 7])");
      require(p.kind.empty() || p.kind == "rating",
              prefix + "scale is set but " + kind + " is " + p.kind +
                  ": a scale applies to rating projects only");
    }
    const std::string classes = prefix + "classes";
    require(p.classes.size() != 1,
            classes + " declares one class: declare at least two, or none to discover them");
    require(p.classes.size() <= static_cast<size_t>(std::max(p.max_classes, 0)),
            classes + " declares " + std::to_string(p.classes.size()) + " classes, more than " +
                prefix + "max_classes (" + std::to_string(p.max_classes) + "): raise max_classes");
    std::set<std::string_view> seen;
    for (const std::string& c : p.classes) {
      require(!c.empty(), classes + " has an empty class name");
      require(seen.insert(c).second, classes + " lists " + Quoted(c) + " twice");
    }
  };

  require(!kafka.brokers.empty(),
          "--brokers is required: set it or kafka.brokers in the config file "
          "(or CONSENSUSD_KAFKA_BROKERS)");
  require(!kafka.group.empty(), "kafka.group must not be empty");
  std::map<std::string, std::string> topic_keys;  // topic -> the first key naming it
  ForEachKey(*this, [&](const std::string& key, const auto& topic, auto...) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(topic)>, std::string>) {
      if (!key.ends_with("_topic")) return;
      require(IsValidTopicName(topic),
              key + " " + Quoted(topic) + " is not a Kafka topic name: use 1 to 249 of a-z A-Z "
                                          "0-9 . _ -");
      auto [first, unique] = topic_keys.emplace(topic, key);
      require(unique,
              key + " must differ from " + first->second + " (both are " + Quoted(topic) + ")");
    }
  });
  std::map<std::string, std::string> secrets = {{"http.admin_token", http.admin_token}};
  for (const auto& [name, value] : kafka.properties) {
    const std::string key = "kafka.properties." + name;
    secrets[key] = value;
    require(name != "bootstrap.servers" && name != "metadata.broker.list",
            key + " cannot be set: use kafka.brokers (--brokers)");
    require(name != "group.id", key + " cannot be set: use kafka.group (--group)");
    require(name != "group.instance.id", key + " cannot be set: use kafka.instance_id");
    require(std::ranges::find(kReservedKafkaProperties, name) == std::end(kReservedKafkaProperties),
            key + " cannot be set: consensusd manages it (offsets are stored with the state; "
                  "partitions are assigned cooperative-sticky)");
  }
  for (const auto& [key, value] : secrets) {
    require(value != kRedactedSecret, key + " is the placeholder " + Quoted(kRedactedSecret) +
                                          " printed by --print-config: set the real value");
  }
  require(!state.data_dir.empty(), "state.data_dir must not be empty");
  require(kafka.offset_out_of_range == "earliest" || kafka.offset_out_of_range == "latest" ||
              kafka.offset_out_of_range == "fail",
          "kafka.offset_out_of_range must be earliest, latest or fail, got " +
              Quoted(kafka.offset_out_of_range));
  require(model.method == "ds" || model.method == "onecoin" || model.method == "vbds" ||
              model.method == "mace" || model.method == "hds",
          "model.method must be ds, onecoin, vbds, mace or hds, got " + Quoted(model.method) +
              (model.method == "mv" || model.method == "wawa"
                   ? " (mv and wawa are batch-only: consensusd aggregate --method " +
                         model.method + ")"
                   : ""));
  require(IsValidAddress(http.address),
          "http.address must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got " +
              Quoted(http.address));
  ForEachKey(*this, in_range);
  check_project("project_defaults.", project_defaults);
  for (const auto& [name, project] : projects) {
    require(!name.empty(), "a project name under projects is empty");
    check_project("projects." + name + ".", project);
  }
  return problem.empty() ? absl::OkStatus() : absl::InvalidArgumentError(problem);
}

consensus::AggregateOptions Config::FitOptions() const {
  // Validate() admits only the EM methods, so ParseMethod cannot fail here.
  return {.method = consensus::ParseMethod(model.method).value_or(consensus::Method::kHierarchical),
          .prior = model.prior, .diagonal_prior = model.diagonal_prior, .tol = model.tol,
          .max_iter = model.max_iter, .threads = model.threads,
          .onecoin_below = model.onecoin_below};
}

consensus::StreamingOptions Config::StreamingOptionsFor(std::string_view project) const {
  const ProjectConfig& p = ForProject(project);
  return {.fit = FitOptions(),
          .max_classes = p.max_classes,
          .repeats = p.repeats == "count" ? consensus::DuplicatePolicy::kKeepAll
                                          : consensus::DuplicatePolicy::kKeepLast};
}

const ProjectConfig& Config::ForProject(std::string_view project) const {
  auto it = projects.find(project);
  return it != projects.end() ? it->second : project_defaults;
}

}  // namespace consensusd::service
