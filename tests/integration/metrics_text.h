// Reading /metrics in tests: the Prometheus text format parsed into samples,
// and sums over a family's samples filtered by labels.
//
//   std::vector<MetricSample> m = ParseMetrics(body);
//   double applied = SumMetric(m, "consensusd_answers_applied_total", {{"project", "default"}});
#ifndef CONSENSUSD_TESTS_INTEGRATION_METRICS_TEXT_H_
#define CONSENSUSD_TESTS_INTEGRATION_METRICS_TEXT_H_

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace consensusd::integration {

// One sample of the Prometheus text format.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text exposition format (comments skipped).
inline std::vector<MetricSample> ParseMetrics(const std::string& text) {
  std::vector<MetricSample> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name.push_back(line[i++]);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key, value;
        while (i < line.size() && line[i] != '=') key.push_back(line[i++]);
        i += 2;  // ="
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // }
    }
    s.value = std::strtod(line.c_str() + i, nullptr);
    samples.push_back(std::move(s));
  }
  return samples;
}

// The samples of `name` whose labels include every pair of `match`.
inline std::vector<MetricSample> Samples(const std::vector<MetricSample>& all,
                                         const std::string& name,
                                         const std::map<std::string, std::string>& match = {}) {
  std::vector<MetricSample> out;
  for (const MetricSample& s : all) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      ok = ok && it != s.labels.end() && it->second == v;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

// Sum of the samples of `name` matching `match` (0 when there are none).
inline double SumMetric(const std::vector<MetricSample>& all, const std::string& name,
                        const std::map<std::string, std::string>& match = {}) {
  double sum = 0;
  for (const MetricSample& s : Samples(all, name, match)) sum += s.value;
  return sum;
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_METRICS_TEXT_H_
