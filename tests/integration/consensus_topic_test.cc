// The consensus output topic (SPEC 5.2): one record per changed task, keyed
// project/task; a consumer that keeps the latest record per key holds every
// task's current consensus.

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

TEST(ConsensusTopicTest, LatestRecordPerKeyIsTheFinalConsensusOfEveryTask) {
  TempDir dir;
  MockKafka kafka(dir, "labels", 4);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));
  const ProduceResult produced = Produce(kafka, "labels", kDataDir + "/rte/labels.csv",
                                         {"--project", "rte", "--batch", "10"});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  ServeProcess serve(ServeArgs(kafka, "labels", "outputs", dir.File("state")),
                     dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 4, produced.messages, produced.elements},
                                seconds(60), &why))
      << why << "\n"
      << serve.Log();
  // Background sweeps (every second) publish what they change; once their
  // count stops moving, the last one has seen every answer.
  double sweeps = -1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const double now =
            SumMetric(serve.Metrics(), "consensusd_em_sweeps_total", {{"project", "rte"}});
        const bool settled = now > 0 && now == sweeps;
        sweeps = now;
        return settled;
      },
      seconds(30), milliseconds(1500)));
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();  // flushes the outputs

  const RunResult exported =
      RunConsensusd({"export", "--data-dir", dir.File("state"), "--format", "jsonl", "--out",
                          dir.File("export.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const TaskResults expected = ReadLabelsJsonl(dir.File("export.jsonl"));
  ASSERT_EQ(expected.size(), 800u);

  const std::vector<KafkaRecord> records =
      ReadWholePartition(kafka.bootstrap(), "labels.consensus", 0, seconds(30));
  ASSERT_GE(records.size(), expected.size());
  std::map<std::string, nlohmann::json> latest;  // key -> value
  for (const KafkaRecord& r : records) {
    nlohmann::json value = nlohmann::json::parse(r.value, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(value.is_object()) << r.value;
    for (const char* field :
         {"project", "task", "label", "confidence", "posterior", "answers", "gold", "updated_ms"}) {
      ASSERT_TRUE(value.contains(field)) << "no '" << field << "' in " << r.value;
    }
    ASSERT_EQ(r.key, value["project"].get<std::string>() + "/" + value["task"].get<std::string>());
    latest[r.key] = std::move(value);
  }
  EXPECT_EQ(latest.size(), expected.size());
  int64_t missing = 0, other_label = 0;
  for (const auto& [task, want] : expected) {
    auto it = latest.find("rte/" + task);
    if (it == latest.end()) {
      ++missing;
      continue;
    }
    other_label += it->second["label"].get<std::string>() != want.label;
    // Republished when the confidence moves by output.min_change (0.01).
    EXPECT_NEAR(it->second["confidence"].get<double>(), want.confidence, 0.01 + 1e-9) << task;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(other_label, 0);
}

}  // namespace
}  // namespace consensusd::integration
