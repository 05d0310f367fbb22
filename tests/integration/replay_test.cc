// Redelivery changes nothing (SPEC 3.3, 6): replaying the whole input topic
// into existing state gives the same state, and a restart resumes from the
// stored offsets.

#include <fstream>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

// rte with gold declared for its first 100 gold tasks, produced in batches of
// 10 answers to 4 partitions; then one instance consumes it all and stops.
class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(kafka_.bootstrap().empty()) << ReadWholeFile(dir_.File("mock-kafka.log"));
    std::ifstream in(kDataDir + "/rte/gold.csv");
    std::ofstream out(dir_.File("gold.csv"));
    std::string line;
    for (int i = 0; i <= 100 && std::getline(in, line); ++i) out << line << "\n";
    out.close();
    produced_ = Produce(kafka_, "labels", kDataDir + "/rte/labels.csv",
                        {"--gold", dir_.File("gold.csv"), "--batch", "10"});
    ASSERT_EQ(produced_.exit_code, 0) << produced_.err;
    ASSERT_EQ(produced_.elements, 8100);
    answers_ = produced_.elements - 100;  // answers_applied counts answers, not gold
  }

  ServeArgs Args() const { return ServeArgs(kafka_, "labels", "replay", dir_.File("state")); }

  // Runs an instance until it has consumed `messages` (and `applied`
  // answers), then stops it. `log` names its log file.
  void ServeUntilConsumed(const ServeArgs& args, int64_t messages, int64_t applied,
                          const std::string& log) {
    ServeProcess serve(args, dir_.File(log));
    ASSERT_TRUE(serve.WaitListening()) << serve.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 4, messages, applied}, seconds(60), &why))
        << why << "\n"
        << serve.Log();
    ASSERT_EQ(serve.Stop(), 0) << serve.Log();
  }

  TaskResults Export(const std::string& name, std::vector<std::string> sets = {}) {
    std::vector<std::string> args = {"export", "--data-dir", dir_.File("state"), "--format",
                                     "jsonl", "--out", dir_.File(name)};
    for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
    const RunResult r = RunConsensusd(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ReadLabelsJsonl(dir_.File(name));
  }

  TempDir dir_;
  MockKafka kafka_{dir_, "labels", 4};
  ProduceResult produced_;
  int64_t answers_ = 0;
};

TEST_F(ReplayTest, ReplayingTheWholeTopicIntoExistingStateChangesNothing) {
  ServeUntilConsumed(Args(), produced_.messages, answers_, "first.log");
  const TaskResults before = Export("before.jsonl");
  ASSERT_EQ(before.size(), 800u);

  ServeArgs replay = Args();
  replay.replay = true;
  ServeUntilConsumed(replay, produced_.messages, answers_, "replay.log");
  const TaskResults after = Export("after.jsonl");

  EXPECT_EQ(DiffExports(before, after, 1e-9), "");
  int64_t answers = 0, gold = 0;
  for (const auto& [task, r] : after) {
    answers += r.answers;
    gold += !r.gold.empty();
  }
  EXPECT_EQ(answers, 8000);
  EXPECT_EQ(gold, 100);
}

// Under repeats: count an answer applied again would count twice: the
// replayed messages below the stored offsets are skipped, and the state is
// the same (docs/configuration.md, "Repeated answers").
TEST_F(ReplayTest, ReplayUnderCountDoesNotCountAnyAnswerTwice) {
  const std::string count = "project_defaults.repeats=count";
  ServeArgs first = Args();
  first.sets.push_back(count);
  ServeUntilConsumed(first, produced_.messages, answers_, "first.log");
  const TaskResults before = Export("before.jsonl", {count});
  ASSERT_EQ(before.size(), 800u);

  ServeArgs replay = first;
  replay.replay = true;
  ServeUntilConsumed(replay, produced_.messages, /*applied=*/-1, "replay.log");
  const TaskResults after = Export("after.jsonl", {count});

  EXPECT_EQ(DiffExports(before, after, 1e-9), "");
  int64_t answers = 0;
  for (const auto& [task, r] : after) answers += r.answers;
  EXPECT_EQ(answers, 8000);
}

TEST_F(ReplayTest, RestartResumesFromStoredOffsetsWithZeroLag) {
  ServeUntilConsumed(Args(), produced_.messages, answers_, "first.log");
  const TaskResults before = Export("before.jsonl");

  // Nothing new on the topic: the restarted instance consumes nothing and
  // reports every partition caught up.
  ServeUntilConsumed(Args(), 0, 0, "restart.log");
  EXPECT_EQ(DiffExports(before, Export("after.jsonl"), 1e-9), "");
}

}  // namespace
}  // namespace consensusd::integration
