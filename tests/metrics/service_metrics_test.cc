#include "metrics/service_metrics.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/subprocess.h"

namespace consensusd::metrics {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A registry with a sample in every family.
std::string RenderPopulated() {
  ServiceMetrics m;
  m.Consumed("labels").Increment(3);
  m.Rejected("malformed_json").Increment();
  m.AnswersApplied("p").Increment(2);
  m.ConsumerLag("labels", 0).Set(5);
  m.IngestLatency().Observe(0.01);
  m.EmSweeps("p").Increment();
  m.EmSweepDuration("p").Observe(0.2);
  m.Tasks("p").Set(10);
  m.Workers("p").Set(3);
  m.WorkersFlagged("p").Set(1);
  m.TasksNeedingReview("p").Set(2);
  m.SetTaskConfidence("p", {0.5, 0.9, 1.0});
  m.SetWorkerAccuracy("p", {0.7, 0.95});
  m.SetWorkerAccuracyByWorker("p", {{"ann-1", 0.7}, {"ann \"2\"", 0.95}});
  m.StateBytes().Set(1234);
  m.KafkaBrokersUp().Set(1);
  m.SetPartitions("labels", {{0, true}, {1, false}});
  return m.Render();
}

// Names of the metric families in a text exposition.
std::set<std::string> FamilyNames(const std::string& text) {
  std::set<std::string> names;
  std::regex type_line(R"(^# TYPE (\S+) )");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, type_line)) names.insert(m[1]);
  }
  return names;
}

TEST(ServiceMetrics, ExportsEveryMetricOfTheSpec) {
  const std::set<std::string> names = FamilyNames(RenderPopulated());
  for (const char* name :
       {"consensusd_messages_consumed_total", "consensusd_messages_rejected_total",
        "consensusd_answers_applied_total", "consensusd_consumer_lag_messages",
        "consensusd_ingest_latency_seconds", "consensusd_em_sweeps_total",
        "consensusd_em_sweep_duration_seconds", "consensusd_tasks", "consensusd_workers",
        "consensusd_workers_flagged", "consensusd_tasks_needing_review", "consensusd_task_confidence",
        "consensusd_worker_accuracy", "consensusd_worker_accuracy_by_worker", "consensusd_state_bytes",
        "consensusd_partitions", "consensusd_partition_ready", "consensusd_kafka_brokers_up"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

TEST(ServiceMetrics, PassesPromtoolCheckMetrics) {
  const tests::RunResult r =
      tests::RunProgram({"promtool", "check", "metrics"}, std::chrono::seconds(30), RenderPopulated());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(ServiceMetrics, ReplacedDistributionCountsOnlyTheLastValues) {
  ServiceMetrics m;
  m.SetTaskConfidence("p", {0.5, 0.9, 1.0});
  m.SetTaskConfidence("p", {0.99});
  const std::string text = m.Render();
  EXPECT_NE(text.find("consensusd_task_confidence_count{project=\"p\"} 1"), std::string::npos) << text;
}

TEST(ServiceMetrics, PerWorkerSeriesAreReplacedNotAccumulated) {
  ServiceMetrics m;
  m.SetWorkerAccuracyByWorker("p", {{"a", 0.5}, {"b", 0.6}});
  m.SetWorkerAccuracyByWorker("p", {{"c", 0.7}});
  const std::string text = m.Render();
  EXPECT_EQ(text.find("worker=\"a\""), std::string::npos);
  EXPECT_NE(text.find("worker=\"c\""), std::string::npos);
}

TEST(ServiceMetrics, PartitionGaugesExistFromTheStartAtZero) {
  const std::string text = ServiceMetrics().Render();
  for (const char* state : {"owned", "restoring", "ready"}) {
    EXPECT_NE(text.find(std::string("consensusd_partitions{state=\"") + state + "\"} 0"),
              std::string::npos)
        << state << "\n" << text;
  }
  EXPECT_NE(text.find("consensusd_kafka_brokers_up 0"), std::string::npos) << text;
}

TEST(ServiceMetrics, PartitionGaugesCountOwnedPartitionsByState) {
  ServiceMetrics m;
  m.SetPartitions("labels", {{0, true}, {1, false}, {2, true}});
  const std::string text = m.Render();
  EXPECT_NE(text.find("consensusd_partitions{state=\"owned\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("consensusd_partitions{state=\"restoring\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("consensusd_partitions{state=\"ready\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("consensusd_partition_ready{partition=\"1\",topic=\"labels\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("consensusd_partition_ready{partition=\"2\",topic=\"labels\"} 1"),
            std::string::npos)
      << text;
}

TEST(ServiceMetrics, ARevokedPartitionLosesItsReadySeries) {
  ServiceMetrics m;
  m.SetPartitions("labels", {{0, true}, {1, true}});
  m.SetPartitions("labels", {{1, true}});
  const std::string text = m.Render();
  EXPECT_EQ(text.find("partition=\"0\""), std::string::npos) << text;
  EXPECT_NE(text.find("consensusd_partition_ready{partition=\"1\",topic=\"labels\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("consensusd_partitions{state=\"owned\"} 1"), std::string::npos) << text;
}

// Every metric a deploy/ query names must be one the service exports.
std::set<std::string> ReferencedMetrics(const std::string& text) {
  std::set<std::string> out;
  std::regex name(R"(consensusd_[a-z_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0 &&
          n != "consensusd_em_sweeps_total") {
        n = n.substr(0, n.size() - s.size());
      }
    }
    out.insert(n);
  }
  return out;
}

TEST(Deploy, GrafanaDashboardParsesAndQueriesExportedMetrics) {
  const std::string path = std::string(CONSENSUSD_SOURCE_DIR) + "/deploy/grafana/dashboards/consensusd.json";
  const nlohmann::json dashboard = nlohmann::json::parse(ReadFile(path));
  const std::set<std::string> exported = FamilyNames(RenderPopulated());
  int queries = 0;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.at("targets")) {
      const std::string expr = target.at("expr");
      ++queries;
      const std::set<std::string> used = ReferencedMetrics(expr);
      EXPECT_FALSE(used.empty()) << expr;
      for (const std::string& m : used) EXPECT_TRUE(exported.count(m)) << m << " in " << expr;
    }
  }
  EXPECT_GE(queries, 7);
}

TEST(Deploy, AlertRulesQueryExportedMetricsAndPassPromtool) {
  const std::string dir = std::string(CONSENSUSD_SOURCE_DIR) + "/deploy";
  const std::set<std::string> exported = FamilyNames(RenderPopulated());
  for (const std::string& m : ReferencedMetrics(ReadFile(dir + "/alerts.yml"))) {
    EXPECT_TRUE(exported.count(m)) << m;
  }
  const tests::RunResult rules = tests::RunProgram({"promtool", "check", "rules", dir + "/alerts.yml"});
  EXPECT_EQ(rules.exit_code, 0) << rules.out << rules.err;
  const tests::RunResult config =
      tests::RunProgram({"promtool", "check", "config", dir + "/prometheus.yml"});
  EXPECT_EQ(config.exit_code, 0) << config.out << config.err;
}

}  // namespace
}  // namespace consensusd::metrics
