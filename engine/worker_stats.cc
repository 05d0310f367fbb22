#include "engine/worker_stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "nlohmann/json.hpp"

namespace consensusd::engine {

namespace {

// Statistics are equal when every entry is within this relative distance:
// far below what moves a label or an accuracy, far above rounding, and large
// enough that the exchange settles (docs/scaling.md).
constexpr double kRelativeTolerance = 1e-6;

// Bounds on what a record may hold, so that one record (from a buggy or
// hostile writer) can neither allocate more than a few MB nor overflow the
// sums: no project has more than 1024 classes (config max_classes), and no
// count comes near 2^53.
constexpr size_t kMaxRecordClasses = 1024;
constexpr double kMaxCount = 1e15;
constexpr int64_t kMaxAnswers = int64_t{1} << 50;

void AppendNumbers(const double* values, size_t n, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(',');
    AppendProbability(out, values[i]);
  }
  out.push_back(']');
}

}  // namespace

std::string WorkerStatsKey(std::string_view group, std::string_view project,
                           const std::string* worker, int32_t partition) {
  // "<group>/<project>/<worker>/<partition>" or "<group>/<project>/<partition>".
  std::string key = ConsensusKey(group, project);
  key.push_back('/');
  if (worker != nullptr) {
    AppendKeyPart(key, *worker);
    key.push_back('/');
  }
  absl::StrAppend(&key, partition);
  return key;
}

void AppendWorkerStatsJson(const WorkerStatsRecord& r, std::string& out) {
  out += "{\"group\":";
  AppendJsonString(out, r.group);
  out += ",\"project\":";
  AppendJsonString(out, r.project);
  absl::StrAppend(&out, ",\"partition\":", r.partition);
  if (r.has_worker) {
    out += ",\"worker\":";
    AppendJsonString(out, r.worker);
  }
  out += ",\"instance\":";
  AppendJsonString(out, r.instance);
  out += ",\"classes\":[";
  for (size_t i = 0; i < r.classes.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, r.classes[i]);
  }
  out.push_back(']');
  const size_t k = r.classes.size();
  if (r.has_worker) {
    absl::StrAppend(&out, ",\"answers\":", r.answers, ",\"counts\":[");
    for (size_t row = 0; row < k; ++row) {
      if (row > 0) out.push_back(',');
      AppendNumbers(r.counts.data() + row * k, k, out);
    }
    out.push_back(']');
  } else {
    out += ",\"class_counts\":";
    AppendNumbers(r.class_counts.data(), k, out);
  }
  out.push_back('}');
}

absl::Status DecodeWorkerStats(std::string_view value, WorkerStatsRecord* r) {
  const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("worker statistics: not a JSON object");
  auto string_field = [&](const char* name, std::string* out) -> bool {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  if (!string_field("group", &r->group) || !string_field("project", &r->project) ||
      !string_field("instance", &r->instance)) {
    return absl::InvalidArgumentError("worker statistics: group, project or instance missing");
  }
  auto partition = j.find("partition");
  if (partition == j.end() || !partition->is_number_integer() || partition->get<int64_t>() < 0 ||
      partition->get<int64_t>() > INT32_MAX) {
    return absl::InvalidArgumentError("worker statistics: partition missing or out of range");
  }
  r->partition = partition->get<int32_t>();
  auto classes = j.find("classes");
  if (classes == j.end() || !classes->is_array()) {
    return absl::InvalidArgumentError("worker statistics: classes missing");
  }
  if (classes->size() > kMaxRecordClasses) {
    return absl::InvalidArgumentError("worker statistics: more than 1024 classes");
  }
  r->classes.clear();
  for (const auto& c : *classes) {
    if (!c.is_string()) return absl::InvalidArgumentError("worker statistics: a class is not a string");
    r->classes.push_back(c.get<std::string>());
  }
  const size_t k = r->classes.size();
  {
    std::vector<std::string_view> sorted(r->classes.begin(), r->classes.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return absl::InvalidArgumentError("worker statistics: a class is named twice");
    }
  }
  auto finite = [](const nlohmann::json& v) {
    return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= 0 &&
           v.get<double>() <= kMaxCount;
  };
  r->has_worker = string_field("worker", &r->worker);
  if (r->has_worker) {
    auto answers = j.find("answers");
    auto counts = j.find("counts");
    if (answers == j.end() || !answers->is_number_integer() || answers->get<int64_t>() < 0 ||
        answers->get<int64_t>() > kMaxAnswers || counts == j.end() || !counts->is_array() ||
        counts->size() != k) {
      return absl::InvalidArgumentError("worker statistics: answers or counts malformed");
    }
    r->answers = answers->get<int64_t>();
    for (const auto& cells : *counts) {  // the shape first: K x K is allocated only if present
      if (!cells.is_array() || cells.size() != k) {
        return absl::InvalidArgumentError("worker statistics: counts is not K x K");
      }
    }
    r->counts.assign(k * k, 0.0);
    for (size_t row = 0; row < k; ++row) {
      const auto& cells = (*counts)[row];
      for (size_t col = 0; col < k; ++col) {
        if (!finite(cells[col])) return absl::InvalidArgumentError("worker statistics: a count is not a number >= 0");
        r->counts[row * k + col] = cells[col].get<double>();
      }
    }
    return absl::OkStatus();
  }
  auto class_counts = j.find("class_counts");
  if (class_counts == j.end() || !class_counts->is_array() || class_counts->size() != k) {
    return absl::InvalidArgumentError("worker statistics: neither worker nor class_counts");
  }
  r->class_counts.assign(k, 0.0);
  for (size_t i = 0; i < k; ++i) {
    if (!finite((*class_counts)[i])) return absl::InvalidArgumentError("worker statistics: a count is not a number >= 0");
    r->class_counts[i] = (*class_counts)[i].get<double>();
  }
  return absl::OkStatus();
}

bool StatsDiffer(const PartitionStats& a, const PartitionStats& b) {
  if (a.resend || b.resend || a.answers != b.answers) return true;
  const size_t n = std::max(a.counts.size(), b.counts.size());
  for (size_t i = 0; i < n; ++i) {
    // Entries past a shorter vector's end (fewer classes then) are 0; a
    // layout change with the class count is rare and sent again anyway.
    const double x = i < a.counts.size() ? a.counts[i] : 0.0;
    const double y = i < b.counts.size() ? b.counts[i] : 0.0;
    if (std::fabs(x - y) > kRelativeTolerance * (1.0 + std::max(std::fabs(x), std::fabs(y)))) {
      return true;
    }
  }
  return a.num_classes != b.num_classes;
}

void AddStats(const PartitionStats& entry, int32_t num_classes, bool matrix, double* sum) {
  const int32_t k = std::min(entry.num_classes, num_classes);
  if (!matrix) {
    for (int32_t i = 0; i < k; ++i) sum[i] += entry.counts[i];
    return;
  }
  for (int32_t l = 0; l < k; ++l) {
    for (int32_t c = 0; c < k; ++c) {
      sum[l * num_classes + c] += entry.counts[static_cast<size_t>(l) * entry.num_classes + c];
    }
  }
}

}  // namespace consensusd::engine
