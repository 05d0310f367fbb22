// Consensus results as files hold them, for comparing runs in tests: labels
// CSVs (export, aggregate --out), export JSONL (full posteriors, answer counts),
// gold CSVs, and the answers of a task,worker,label CSV.
//
//   TaskResults a = ReadLabelsJsonl("a.jsonl"), b = ReadLabelsJsonl("b.jsonl");
//   EXPECT_EQ(DiffExports(a, b, 1e-9), "");
#ifndef CONSENSUSD_TESTS_INTEGRATION_LABEL_RESULTS_H_
#define CONSENSUSD_TESTS_INTEGRATION_LABEL_RESULTS_H_

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "service/csv.h"
#include "service/label_file.h"

namespace consensusd::integration {

// One task of an export or of aggregate's output.
struct TaskResult {
  std::string label;
  double confidence = 0;
  std::map<std::string, double> posterior;  // jsonl only
  int64_t answers = -1;                     // jsonl only
  std::string gold;                         // jsonl only; empty: none
};
using TaskResults = std::map<std::string, TaskResult>;

// Reads a `task,label,confidence,...` CSV (export, aggregate --out).
inline TaskResults ReadLabelsCsv(const std::string& path) {
  TaskResults results;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return results;
  std::vector<std::string_view> row;
  bool header = true;
  while (reader->Next(&row)) {
    if (header) {
      header = false;
      continue;
    }
    if (row.size() < 3) continue;
    TaskResult& r = results[std::string(row[0])];
    r.label = std::string(row[1]);
    r.confidence = std::strtod(std::string(row[2]).c_str(), nullptr);
  }
  return results;
}

// Parses an export in the jsonl format (`export --format jsonl`, the HTTP
// export with format=jsonl).
inline TaskResults ParseLabelsJsonl(const std::string& text) {
  TaskResults results;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    TaskResult& r = results[j.at("task").get<std::string>()];
    r.label = j.at("label").get<std::string>();
    r.confidence = j.at("confidence").get<double>();
    for (const auto& [k, v] : j.at("posterior").items()) r.posterior[k] = v.get<double>();
    r.answers = j.at("answers").get<int64_t>();
    if (!j.at("gold").is_null()) r.gold = j.at("gold").get<std::string>();
  }
  return results;
}

// Reads an `export --format jsonl` file.
inline TaskResults ReadLabelsJsonl(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseLabelsJsonl(text.str());
}

// task -> label of a task,label CSV (gold.csv), read as the product reads it.
inline std::map<std::string, std::string> ReadGold(const std::string& path) {
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> truth = service::LoadTruth(path);
  if (!truth.ok()) return {};
  return std::map<std::string, std::string>(truth->begin(), truth->end());
}

// task -> number of distinct workers who answered it in a task,worker,label CSV
// (the answer count with duplicates=last: one answer per (task, worker)).
inline std::map<std::string, int64_t> DistinctAnswersPerTask(const std::string& path) {
  std::map<std::string, std::set<std::string>> workers;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return {};
  constexpr const char* kColumns[] = {"task", "worker", "label"};
  std::vector<std::string_view> row;
  while (reader->NextRow(kColumns, &row)) workers[std::string(row[0])].insert(std::string(row[1]));
  if (!reader->status().ok()) return {};
  std::map<std::string, int64_t> counts;
  for (const auto& [task, w] : workers) counts[task] = static_cast<int64_t>(w.size());
  return counts;
}

// task -> answer rows of the task in a task,worker,label CSV (every row counts,
// as under repeats: count).
inline std::map<std::string, int64_t> RowsPerTask(const std::string& path) {
  std::map<std::string, int64_t> counts;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return {};
  constexpr const char* kColumns[] = {"task", "worker", "label"};
  std::vector<std::string_view> row;
  while (reader->NextRow(kColumns, &row)) ++counts[std::string(row[0])];
  if (!reader->status().ok()) return {};
  return counts;
}

// Fraction of the gold tasks present in `results` whose label is the gold label.
inline double Accuracy(const TaskResults& results, const std::map<std::string, std::string>& gold) {
  int64_t right = 0, scored = 0;
  for (const auto& [task, label] : gold) {
    auto it = results.find(task);
    if (it == results.end()) continue;
    ++scored;
    right += it->second.label == label;
  }
  return scored == 0 ? 0 : static_cast<double>(right) / static_cast<double>(scored);
}

// Differences between two jsonl exports: tasks missing on either side, other
// labels or gold, posteriors further apart than `tolerance`, other answer counts. Empty
// when they agree. At most `limit` lines.
inline std::string DiffExports(const TaskResults& a, const TaskResults& b, double tolerance,
                               int limit = 10) {
  std::ostringstream diff;
  int n = 0;
  auto note = [&](const std::string& line) {
    if (n++ < limit) diff << line << "\n";
  };
  for (const auto& [task, ra] : a) {
    auto it = b.find(task);
    if (it == b.end()) {
      note("task " + task + " only in the first");
      continue;
    }
    const TaskResult& rb = it->second;
    if (ra.label != rb.label) note("task " + task + ": label " + ra.label + " vs " + rb.label);
    if (ra.gold != rb.gold) note("task " + task + ": gold '" + ra.gold + "' vs '" + rb.gold + "'");
    if (ra.answers != rb.answers) {
      note("task " + task + ": answers " + std::to_string(ra.answers) + " vs " +
           std::to_string(rb.answers));
    }
    if (ra.posterior.size() != rb.posterior.size()) note("task " + task + ": other classes");
    for (const auto& [k, p] : ra.posterior) {
      auto q = rb.posterior.find(k);
      if (q == rb.posterior.end() || std::abs(p - q->second) > tolerance) {
        std::ostringstream s;
        s.precision(17);
        s << "task " << task << ": p(" << k << ") " << p << " vs "
          << (q == rb.posterior.end() ? -1.0 : q->second);
        note(s.str());
      }
    }
  }
  for (const auto& [task, rb] : b) {
    if (!a.count(task)) note("task " + task + " only in the second");
  }
  if (n > limit) diff << "... " << (n - limit) << " more\n";
  return diff.str();
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_LABEL_RESULTS_H_
