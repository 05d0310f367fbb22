// /metrics is valid Prometheus text (promtool check metrics) and exposes every
// family of SPEC 5.4, each with samples, once the service has ingested data.

#include <fstream>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

constexpr char kPromtool[] = "/usr/bin/promtool";

// SPEC 5.4: the families a user's dashboards and alerts rely on.
const char* const kSpecFamilies[] = {"consensusd_messages_consumed_total",
                                     "consensusd_messages_rejected_total",
                                     "consensusd_answers_applied_total",
                                     "consensusd_consumer_lag_messages",
                                     "consensusd_ingest_latency_seconds",
                                     "consensusd_em_sweeps_total",
                                     "consensusd_em_sweep_duration_seconds",
                                     "consensusd_tasks",
                                     "consensusd_workers",
                                     "consensusd_workers_flagged",
                                     "consensusd_tasks_needing_review",
                                     "consensusd_task_confidence",
                                     "consensusd_worker_accuracy",
                                     "consensusd_worker_accuracy_by_worker",
                                     "consensusd_state_bytes",
                                     // docs/metrics.md: readiness
                                     "consensusd_partitions",
                                     "consensusd_partition_ready",
                                     "consensusd_kafka_brokers_up",
                                     // docs/metrics.md: worker statistics
                                     "consensusd_worker_model_age_seconds",
                                     "consensusd_worker_stats_records_total"};

// The families declared by # TYPE lines, with their types.
std::map<std::string, std::string> DeclaredFamilies(const std::string& text) {
  std::map<std::string, std::string> families;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::string name, type;
    fields >> name >> type;
    families[name] = type;
  }
  return families;
}

// Whether `sample` belongs to family `family` of type `type`.
bool InFamily(const std::string& sample, const std::string& family, const std::string& type) {
  if (sample == family) return true;
  if (type != "histogram" && type != "summary") return false;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (sample == family + suffix) return true;
  }
  return false;
}

// answers_applied counts answers (39 workers x 108 tasks), not gold declarations.
constexpr int64_t kBluebirdsAnswers = 4212;

TEST(MetricsFormatTest, MetricsPassPromtoolAndEveryFamilyHasSamples) {
  ASSERT_EQ(access(kPromtool, X_OK), 0) << kPromtool << " is missing: apt-get install prometheus";
  TempDir dir;
  MockKafka kafka(dir, "labels", 2);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));
  // bluebirds with gold, and one message of each of two rejection reasons.
  const ProduceResult answers =
      Produce(kafka, "labels", kDataDir + "/bluebirds/labels.csv",
              {"--gold", kDataDir + "/bluebirds/gold.csv", "--batch", "20"});
  ASSERT_EQ(answers.exit_code, 0) << answers.err;
  const std::string bad =
      dir.Write("bad.jsonl", "{\"task\":\"x\",\n{\"worker\":\"w\",\"label\":\"1\"}\n");
  const ProduceResult rejected = Produce(kafka, "labels", bad);
  ASSERT_EQ(rejected.exit_code, 0) << rejected.err;

  ServeProcess serve(ServeArgs(kafka, "labels", "metrics", dir.File("state")),
                     dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(
      serve, {"labels", 2, answers.messages + rejected.messages, kBluebirdsAnswers}, seconds(60),
      &why))
      << why << "\n"
      << serve.Log();
  // A background sweep over every answer fills the per-project gauges.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return SumMetric(serve.Metrics(), "consensusd_tasks", {{"project", "default"}}) == 108;
      },
      seconds(20)))
      << serve.Log();

  const std::optional<std::string> body = serve.Get("/metrics");
  ASSERT_TRUE(body.has_value());
  const RunResult check = RunProgram({kPromtool, "check", "metrics"}, seconds(30), *body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool found problems";

  const std::map<std::string, std::string> families = DeclaredFamilies(*body);
  const std::vector<MetricSample> samples = ParseMetrics(*body);
  for (const char* name : kSpecFamilies)
    EXPECT_TRUE(families.count(name)) << name << " is not exposed";
  for (const auto& [family, type] : families) {
    int n = 0;
    for (const MetricSample& s : samples) n += InFamily(s.name, family, type);
    EXPECT_GT(n, 0) << family << " has no samples";
  }
  EXPECT_EQ(
      SumMetric(samples, "consensusd_messages_rejected_total", {{"reason", "malformed_json"}}), 1);
  EXPECT_EQ(SumMetric(samples, "consensusd_messages_rejected_total", {{"reason", "missing_field"}}),
            1);
  EXPECT_GE(SumMetric(samples, "consensusd_em_sweeps_total", {{"project", "default"}}), 1);
  EXPECT_EQ(SumMetric(samples, "consensusd_partitions", {{"state", "owned"}}), 2);
  EXPECT_EQ(SumMetric(samples, "consensusd_partitions", {{"state", "ready"}}), 2);
  EXPECT_EQ(SumMetric(samples, "consensusd_partition_ready", {{"topic", "labels"}}), 2);
  EXPECT_EQ(SumMetric(samples, "consensusd_kafka_brokers_up"), 1);
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();
}

}  // namespace
}  // namespace consensusd::integration
