// SPEC 6: "After kill -9 at any moment and a restart, the state equals that of
// a run that never stopped": no answer lost, none counted twice.

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

constexpr int kPartitions = 4;

// Under either repeats setting (adult2 has 2,918 repeated (task, worker)
// pairs): under count, an answer re-applied after the restart would count twice.
class CrashRecoveryTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Repeats, CrashRecoveryTest, ::testing::Values("replace", "count"),
                         [](const auto& info) { return info.param; });

TEST_P(CrashRecoveryTest, KillNineMidIngestionThenRestartEqualsUninterruptedRun) {
  const std::string repeats = "project_defaults.repeats=" + GetParam();
  const std::string labels = kDataDir + "/adult2/labels.csv";
  const std::string gold = kDataDir + "/adult2/gold.csv";
  TempDir dir;
  MockKafka kafka(dir, "labels", kPartitions);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));

  // The interrupted instance is consuming while the answers arrive, paced so
  // that ingestion lasts a few seconds: it is killed in the middle of it.
  ServeArgs crashing(kafka, "labels", "crash", dir.File("crashed"));
  crashing.sets.push_back(repeats);
  ServeProcess first(crashing, dir.File("first.log"));
  ASSERT_TRUE(first.WaitListening()) << first.Log();
  ASSERT_TRUE(WaitUntil([&] { return first.Ready(); }, seconds(30))) << first.Log();
  Subprocess producer({kBinary, "produce", "--brokers", kafka.bootstrap(), "--topic", "labels",
                       labels, "--gold", gold, "--batch", "50", "--rate", "30000"},
                      {Redirect::Null(), Redirect::Null(), Redirect::File(dir.File("produce.err"))});
  constexpr double kAnswers = 92721;
  constexpr double kElements = kAnswers + 333;  // answers, then gold declarations
  double applied_at_kill = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        applied_at_kill = SumMetric(first.Metrics(), "consensusd_answers_applied_total");
        return applied_at_kill >= 0.3 * kAnswers;  // answers_applied counts no gold
      },
      seconds(60), milliseconds(20)))
      << first.Log();
  first.Kill();
  ASSERT_LE(applied_at_kill, 0.8 * kAnswers)
      << "ingestion was too fast to interrupt in the middle";
  const std::optional<int> produce_exit = producer.WaitExit(seconds(60));
  const ProduceResult produced =
      ParseProduceReport(produce_exit.value_or(-1), ReadWholeFile(dir.File("produce.err")));
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, static_cast<int64_t>(kElements)) << produced.err;

  // Restart on the same state: it resumes from the stored offsets.
  {
    ServeProcess restarted(crashing, dir.File("restarted.log"));
    ASSERT_TRUE(restarted.WaitListening()) << restarted.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(restarted, {"labels", kPartitions, -1, -1}, seconds(90), &why))
        << why << "\n"
        << restarted.Log();
    const double consumed = SumMetric(restarted.Metrics(), "consensusd_messages_consumed_total");
    EXPECT_LT(consumed, static_cast<double>(produced.messages))
        << "the restart consumed everything again";
    EXPECT_GT(consumed, 0);
    ASSERT_EQ(restarted.Stop(), 0) << restarted.Log();
  }

  // The reference: another group and state, never interrupted.
  {
    ServeArgs args(kafka, "labels", "clean", dir.File("clean"));
    args.sets.push_back(repeats);
    ServeProcess clean(args, dir.File("clean.log"));
    ASSERT_TRUE(clean.WaitListening()) << clean.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(
        clean, {"labels", kPartitions, produced.messages, static_cast<int64_t>(kAnswers)},
        seconds(90), &why))
        << why << "\n"
        << clean.Log();
    ASSERT_EQ(clean.Stop(), 0) << clean.Log();
  }

  for (const char* state : {"crashed", "clean"}) {
    const RunResult r =
        RunConsensusd({"export", "--data-dir", dir.File(state), "--set", repeats, "--format",
                       "jsonl", "--out", dir.File(std::string(state) + ".jsonl")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const TaskResults recovered = ReadLabelsJsonl(dir.File("crashed.jsonl"));
  const TaskResults reference = ReadLabelsJsonl(dir.File("clean.jsonl"));
  ASSERT_EQ(reference.size(), 11040u);
  EXPECT_EQ(DiffExports(recovered, reference, 1e-9), "");
  EXPECT_EQ(ReadGold(gold).size(), 333u);
  for (const auto& [task, label] : ReadGold(gold)) {
    ASSERT_TRUE(recovered.count(task)) << task;
    EXPECT_EQ(recovered.at(task).gold, label) << task;
  }

  // Whichever run: one answer per (task, worker) under replace (as aggregate
  // --repeats replace), every row under count (as aggregate's default).
  const std::map<std::string, int64_t> expected =
      GetParam() == "count" ? RowsPerTask(labels) : DistinctAnswersPerTask(labels);
  ASSERT_EQ(expected.size(), 11040u);
  int64_t wrong = 0;
  std::string first_wrong;
  for (const auto& [task, n] : expected) {
    auto it = recovered.find(task);
    if (it == recovered.end() || it->second.answers != n) {
      if (wrong++ == 0) {
        first_wrong =
            task + ": " + std::to_string(n) + " expected, " +
            (it == recovered.end() ? std::string("missing") : std::to_string(it->second.answers));
      }
    }
  }
  EXPECT_EQ(wrong, 0) << "first: " << first_wrong;
}

}  // namespace
}  // namespace consensusd::integration
