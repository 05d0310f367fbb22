// The service, fed a public data set through Kafka, reaches the consensus that
// the batch command computes from the same file (SPEC 4.2: "agree with
// `consensusd aggregate` on the same answers"), for every method the service
// offers.

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

class BatchAgreementTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchAgreementTest, StreamedDogDatasetMatchesBatchAggregate) {
  const std::string method = GetParam();
  const std::string labels = kDataDir + "/dog/labels.csv";
  const std::string gold_csv = kDataDir + "/dog/gold.csv";
  TempDir dir;
  MockKafka kafka(dir, "labels", 4);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));

  const ProduceResult produced = Produce(kafka, "labels", labels);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, 8070);

  ServeArgs args(kafka, "labels", "agreement", dir.File("state"));
  args.sets.push_back("model.method=" + method);
  ServeProcess serve(args, dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 4, produced.messages, produced.elements},
                                seconds(60), &why))
      << why << "\n"
      << serve.Log();
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();

  // export sweeps the restored state again, with the model settings it is given.
  const RunResult exported =
      RunConsensusd({"export", "--data-dir", dir.File("state"), "--set", "model.method=" + method,
                     "--out", dir.File("export.csv")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // The service replaces a worker's later answer by default; the dog set has
  // no repeats, and --duplicates last is the old name of --repeats replace.
  const RunResult batch = RunConsensusd({"aggregate", "--labels", labels, "--method", method,
                                        "--duplicates", "last", "--out", dir.File("batch.csv")});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;

  const TaskResults streamed = ReadLabelsCsv(dir.File("export.csv"));
  const TaskResults expected = ReadLabelsCsv(dir.File("batch.csv"));
  ASSERT_EQ(expected.size(), 807u);
  ASSERT_EQ(streamed.size(), expected.size());
  int64_t same = 0;
  for (const auto& [task, r] : expected) {
    auto it = streamed.find(task);
    same += it != streamed.end() && it->second.label == r.label;
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(expected.size()), 0.995)
      << same << " of " << expected.size() << " tasks agree";
  const std::map<std::string, std::string> gold = ReadGold(gold_csv);
  ASSERT_FALSE(gold.empty());
  EXPECT_NEAR(Accuracy(streamed, gold), Accuracy(expected, gold), 0.002);
}

INSTANTIATE_TEST_SUITE_P(Methods, BatchAgreementTest, ::testing::Values("ds", "onecoin", "vbds", "mace", "hds"),
                         [](const auto& info) { return info.param; });

// adult2 holds 2,918 (task, worker) pairs answered more than once, 149 of them
// with different labels. A project with repeats: count keeps every row, as
// `aggregate` does by default, and both reach the same consensus.
TEST(BatchRepeatsAgreementTest, StreamedRepeatsUnderCountMatchBatchAggregate) {
  const std::string labels = kDataDir + "/adult2/labels.csv";
  TempDir dir;
  MockKafka kafka(dir, "labels", 4);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));

  const ProduceResult produced = Produce(kafka, "labels", labels);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, 92721);

  ServeArgs args(kafka, "labels", "agreement", dir.File("state"));
  args.sets.push_back("project_defaults.repeats=count");
  ServeProcess serve(args, dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 4, produced.messages, produced.elements},
                                seconds(120), &why))
      << why << "\n"
      << serve.Log();
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();

  const RunResult exported =
      RunConsensusd({"export", "--data-dir", dir.File("state"), "--set",
                     "project_defaults.repeats=count", "--format", "jsonl", "--out",
                     dir.File("export.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const RunResult batch =
      RunConsensusd({"aggregate", "--labels", labels, "--out", dir.File("batch.csv")});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  ASSERT_NE(batch.out.find("(92721 rows, repeats count)"), std::string::npos) << batch.out;

  const TaskResults streamed = ReadLabelsJsonl(dir.File("export.jsonl"));
  const TaskResults expected = ReadLabelsCsv(dir.File("batch.csv"));
  ASSERT_EQ(streamed.size(), expected.size());
  int64_t answers = 0;
  for (const auto& [task, r] : streamed) answers += r.answers;
  EXPECT_EQ(answers, 92721) << "every row counts, repeats included";
  int64_t same = 0;
  for (const auto& [task, r] : expected) {
    auto it = streamed.find(task);
    same += it != streamed.end() && it->second.label == r.label;
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(expected.size()), 0.995)
      << same << " of " << expected.size() << " tasks agree";
}

}  // namespace
}  // namespace consensusd::integration
