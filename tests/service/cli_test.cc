// Runs the built consensusd binary as a user would and checks exit codes,
// messages and the files it writes.

#include <cstdlib>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/subprocess.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using tests::RunResult;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The number after `key` on the line of `text` that starts with `key`, or -1.
double ValueAfter(const std::string& text, const std::string& key) {
  for (const std::string& line : Lines(text)) {
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + key.size());
  }
  return -1;
}

class CliTest : public ::testing::Test {
 protected:
  // Runs `consensusd <args>` to completion, its output captured.
  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), CONSENSUSD_BINARY);
    return tests::RunProgram(args);
  }
  std::string SmallLabels() {
    return dir_.Write("labels.csv",
                      "task,worker,label\n"
                      "t1,w1,\"x,y\"\nt1,w2,\"x,y\"\nt1,w3,z\n"
                      "t2,w1,z\nt2,w2,z\nt2,w3,z\n");
  }

  TempDir dir_;
};

TEST_F(CliTest, HelpListsSubcommandOptions) {
  const RunResult r = Run({"aggregate", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--labels"));
  EXPECT_THAT(r.out, HasSubstr("--workers-out"));
  EXPECT_EQ(Run({"synth", "--help"}).exit_code, 0);
}

TEST_F(CliTest, UnknownFlagExitsTwoNamingTheFlag) {
  const RunResult r = Run({"aggregate", "--labels", SmallLabels(), "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
  EXPECT_THAT(r.err, HasSubstr("consensusd aggregate --help"));
}

TEST_F(CliTest, ExportFromADirectoryWithoutStateSaysSoAndCreatesNothing) {
  const std::string missing = dir_.path() + "/no-such-state";
  const RunResult r = Run({"export", "--data-dir", missing});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("no consensusd state in " + missing));
  EXPECT_THAT(r.err, Not(HasSubstr("still running")));
  EXPECT_FALSE(std::filesystem::exists(missing));
}

// Regression (issue 9): with no broker, stderr filled with librdkafka's
// refused connections (every client, every retry) and consensusd itself said
// nothing for seconds. Now librdkafka's lines go through the service's log at
// debug level, and the service says once what is wrong.
TEST_F(CliTest, ServeWithoutABrokerSaysSoOnceInsteadOfFlooding) {
  tests::Subprocess serve({CONSENSUSD_BINARY, "serve", "--brokers", "127.0.0.1:1", "--data-dir",
                           dir_.path() + "/state", "--http", "127.0.0.1:0"},
                          {tests::Redirect::Null(), tests::Redirect::Capture(), tests::Redirect::Capture()});
  EXPECT_TRUE(tests::WaitUntil(
      [&] { return serve.Stdout().find("the Kafka brokers do not answer") != std::string::npos; },
      std::chrono::seconds(40)))
      << serve.Stdout();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // more retries: still quiet
  serve.Signal(SIGTERM);
  EXPECT_TRUE(serve.WaitExit(std::chrono::seconds(30)).has_value());
  const std::string out = serve.Stdout();
  EXPECT_THAT(out, HasSubstr("cannot reach the brokers at 127.0.0.1:1: "));
  EXPECT_THAT(out, HasSubstr("Connection refused"));
  EXPECT_THAT(serve.Stderr(), Not(HasSubstr("Connection refused")));
  int refused = 0;
  for (const std::string& line : Lines(out)) refused += line.find("Connection refused") != std::string::npos;
  EXPECT_LE(refused, 2) << out;
}

// One set of limits (issue 9): produce refuses what the service would
// dead-letter, and aggregate refuses it too, in the service's words.
TEST_F(CliTest, ProduceAndAggregateRefuseAnOverlongIdAlike) {
  const std::string labels =
      dir_.Write("long.csv", "task,worker,label\n" + std::string(300, 't') + ",w1,a\n");
  const RunResult produce = Run({"produce", "--brokers", "127.0.0.1:1", "--topic", "labels", labels});
  EXPECT_NE(produce.exit_code, 0);
  EXPECT_THAT(produce.err, HasSubstr("long.csv:2: task is 300 bytes, the limit is 256"));
  const RunResult aggregate = Run({"aggregate", "--labels", labels});
  EXPECT_NE(aggregate.exit_code, 0);
  EXPECT_THAT(aggregate.err, HasSubstr("long.csv:2: task is 300 bytes, the limit is 256"));
}

// JSON Lines answers (issue 10): the same consensus file as the same answers in
// a CSV, and a line the service would dead-letter stops aggregate at that line.
TEST_F(CliTest, AggregateReadsJsonLinesAsTheSameCsv) {
  const std::string jsonl = dir_.Write(
      "labels.jsonl",
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"x,y\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w2\",\"label\":\"x,y\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w3\",\"label\":\"z\"}\n"
      "{\"task\":\"t2\",\"worker\":\"w1\",\"label\":\"z\"}\n"
      "{\"task\":\"t2\",\"worker\":\"w2\",\"label\":\"z\"}\n"
      "{\"task\":\"t2\",\"worker\":\"w3\",\"label\":\"z\"}\n");
  const RunResult from_csv = Run({"aggregate", "--labels", SmallLabels(), "--out", dir_.File("csv.out")});
  ASSERT_EQ(from_csv.exit_code, 0) << from_csv.err;
  const RunResult from_jsonl = Run({"aggregate", "--labels", jsonl, "--out", dir_.File("jsonl.out")});
  ASSERT_EQ(from_jsonl.exit_code, 0) << from_jsonl.err;
  EXPECT_EQ(ReadWholeFile(dir_.File("jsonl.out")), ReadWholeFile(dir_.File("csv.out")));

  const std::string bad = dir_.Write("bad.ndjson",
                                     "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
                                     "{\"task\":\"t1\",\"label\":\"a\"}\n");
  const RunResult r = Run({"aggregate", "--labels", bad});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bad.ndjson:2: missing_field"));
}

// The whole service on the embedded Kafka, end to end; with --exit it prints
// no dashboard URL, since the service is gone when the command returns.
TEST_F(CliTest, DemoWithExitSummarisesAndPrintsNoURL) {
  const RunResult r = Run({"demo", "--exit", "--tasks", "1000", "--workers", "20", "--http",
                           "127.0.0.1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("accuracy against the truth (1000 tasks)"));
  EXPECT_THAT(r.out, Not(HasSubstr("http://")));
}

TEST_F(CliTest, UnknownCommandExitsTwo) {
  const RunResult r = Run({"aggregte"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'aggregte'"));
}

TEST_F(CliTest, MissingLabelsExitsTwoWithTheFix) {
  const RunResult r = Run({"aggregate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--labels is required: pass the task,worker,label CSV"));
}

TEST_F(CliTest, BadMethodExitsTwo) {
  const RunResult r = Run({"aggregate", "--labels", SmallLabels(), "--method", "glad"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown --method 'glad'"));
}

TEST_F(CliTest, NonNumericFlagExitsTwo) {
  const RunResult r = Run({"aggregate", "--labels", SmallLabels(), "--max-iter", "lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--max-iter"));
}

TEST_F(CliTest, MissingFileExitsOneNamingTheFile) {
  const RunResult r = Run({"aggregate", "--labels", dir_.File("nope.csv")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir_.File("nope.csv")));
}

TEST_F(CliTest, BadCsvLineExitsOneWithFileAndLine) {
  const std::string labels = dir_.Write("bad.csv", "t1,w1,a\nt1,w2\n");
  const RunResult r = Run({"aggregate", "--labels", labels});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:2: expected 3 columns (task,worker,label), got 2"));
}

TEST_F(CliTest, AggregateWritesLabelsWithHeaderAndPosteriors) {
  const RunResult r = Run({"aggregate", "--method", "mv", "--labels", SmallLabels(), "--out",
                           dir_.File("out.csv"), "--posteriors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(ReadWholeFile(dir_.File("out.csv")));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "task,label,confidence,\"p:x,y\",p:z");
  EXPECT_THAT(lines[1], StartsWith("t1,\"x,y\","));
  EXPECT_EQ(lines[2], "t2,z,1,0,1");  // shortest text that reads back as the same double
  EXPECT_THAT(r.out, HasSubstr("tasks           2"));
}

TEST_F(CliTest, AggregateWithoutPosteriorsWritesThreeColumns) {
  const RunResult r =
      Run({"aggregate", "--labels", SmallLabels(), "--out", dir_.File("out.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(ReadWholeFile(dir_.File("out.csv")))[0], "task,label,confidence");
}

TEST_F(CliTest, WorkersOutStartsWithWorkerAnswersAccuracy) {
  const RunResult r =
      Run({"aggregate", "--labels", SmallLabels(), "--workers-out", dir_.File("workers.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(ReadWholeFile(dir_.File("workers.csv")));
  ASSERT_EQ(lines.size(), 4u);  // header + 3 workers
  EXPECT_EQ(lines[0],
            "worker,answers,accuracy,gold_answers,gold_accuracy,agreement,spam_score,flagged");
  EXPECT_THAT(lines[1], StartsWith("w1,2,"));
}

TEST_F(CliTest, UnwritableOutExitsOne) {
  const RunResult r =
      Run({"aggregate", "--labels", SmallLabels(), "--out", dir_.File("no/such/dir/out.csv")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no/such/dir/out.csv"));
}

TEST_F(CliTest, SynthThenAggregateRecoversTheTruth) {
  const RunResult synth = Run({"synth", "--tasks", "2000", "--workers", "40", "--classes", "3",
                               "--answers-per-task", "7", "--seed", "11", "--out", dir_.File("syn")});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_EQ(Lines(ReadWholeFile(dir_.File("syn/labels.csv")))[0], "task,worker,label");
  EXPECT_EQ(Lines(ReadWholeFile(dir_.File("syn/labels.csv"))).size(), 2000u * 7 + 1);
  EXPECT_EQ(Lines(ReadWholeFile(dir_.File("syn/truth.csv")))[0], "task,label");
  const std::vector<std::string> workers = Lines(ReadWholeFile(dir_.File("syn/workers.csv")));
  ASSERT_EQ(workers.size(), 41u);
  EXPECT_THAT(workers[0], StartsWith("worker,"));
  EXPECT_THAT(workers[0], HasSubstr("p:c2:c1"));

  const RunResult ds = Run({"aggregate", "--labels", dir_.File("syn/labels.csv"), "--truth",
                            dir_.File("syn/truth.csv")});
  ASSERT_EQ(ds.exit_code, 0) << ds.err;
  EXPECT_GT(ValueAfter(ds.out, "accuracy"), 0.95) << ds.out;  // mv: about 0.93
}

TEST_F(CliTest, SynthIsReproducibleForASeed) {
  ASSERT_EQ(Run({"synth", "--tasks", "300", "--workers", "20", "--seed", "5", "--out", dir_.File("a")}).exit_code, 0);
  ASSERT_EQ(Run({"synth", "--tasks", "300", "--workers", "20", "--seed", "5", "--out", dir_.File("b")}).exit_code, 0);
  ASSERT_EQ(Run({"synth", "--tasks", "300", "--workers", "20", "--seed", "6", "--out", dir_.File("c")}).exit_code, 0);
  EXPECT_EQ(ReadWholeFile(dir_.File("a/labels.csv")), ReadWholeFile(dir_.File("b/labels.csv")));
  EXPECT_NE(ReadWholeFile(dir_.File("a/labels.csv")), ReadWholeFile(dir_.File("c/labels.csv")));
}

TEST_F(CliTest, SynthWithoutOutExitsTwo) {
  const RunResult r = Run({"synth", "--tasks", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--out is required"));
}

TEST_F(CliTest, MethodAllScoresEveryMethodAgainstGold) {
  const std::string dir = std::string(CONSENSUSD_DATA_DIR) + "/bluebirds/";
  const RunResult r =
      Run({"aggregate", "--method", "all", "--labels", dir + "labels.csv", "--gold", dir + "gold.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* method : {"ds ", "onecoin ", "vbds ", "mace ", "hds ", "mv ", "wawa "}) {
    const double accuracy = ValueAfter(r.out, method);
    EXPECT_GE(accuracy, 0.5) << method << "\n" << r.out;
    EXPECT_LE(accuracy, 1.0) << method;
  }
  // Gold is the answer key here, not an anchor: an anchored fit would score 1.0.
  EXPECT_LT(ValueAfter(r.out, "mv "), 0.99);
}

TEST_F(CliTest, QuietWhenStderrIsNotATerminal) {
  const RunResult r = Run({"aggregate", "--labels", SmallLabels()});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, AggregateReportsKrippendorffAlpha) {
  // Two tasks: {xy, xy, z} and {z, z, z}. n = 6, n_xy = 2, n_z = 4; disagreement
  // (9 - 5) / 2 = 2 in the first task; alpha = 1 - 5 * 2 / (36 - 4 - 16) = 0.375.
  const RunResult r = Run({"aggregate", "--labels", SmallLabels()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("alpha           0.3750"), std::string::npos) << r.out;
}

TEST_F(CliTest, TieBreakByNameIsAvailableForCrowdKitComparisons) {
  EXPECT_EQ(Run({"aggregate", "--method", "mv", "--tie-break", "name", "--labels", SmallLabels()}).exit_code, 0);
  const RunResult bad = Run({"aggregate", "--tie-break", "coin", "--labels", SmallLabels()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--tie-break"), std::string::npos) << bad.err;
}

// Repeats: w1 answers t1 three times (a, b, b); w2 and w3 answer a once each.
// Counting every row, b has three votes against two; keeping the last, a wins.
class CliRepeatsTest : public CliTest {
 protected:
  std::string RepeatedLabels() {
    return dir_.Write("repeats.csv", "task,worker,label\nt1,w1,b\nt1,w2,a\nt1,w1,b\nt1,w3,a\nt1,w1,b\n"
                                     "t2,w4,b\nt2,w5,b\n");
  }
  // The label of t1 and the answers line of `aggregate --method mv` with `flags`.
  std::pair<std::string, double> LabelAndAnswers(std::vector<std::string> flags) {
    std::vector<std::string> args = {"aggregate", "--method", "mv", "--labels", RepeatedLabels(),
                                     "--out", dir_.File("out.csv")};
    args.insert(args.end(), flags.begin(), flags.end());
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> lines = Lines(ReadWholeFile(dir_.File("out.csv")));
    std::string label = lines.size() > 1 ? lines[1].substr(0, lines[1].find(',', 3)) : "";
    return {label, ValueAfter(r.out, "answers ")};
  }
};

TEST_F(CliRepeatsTest, CountIsTheDefaultAndCountsEveryRow) {
  EXPECT_EQ(LabelAndAnswers({}), std::make_pair(std::string("t1,b"), 7.0));
  EXPECT_EQ(LabelAndAnswers({"--repeats", "count"}), std::make_pair(std::string("t1,b"), 7.0));
}

TEST_F(CliRepeatsTest, ReplaceKeepsEachWorkersLastAnswer) {
  EXPECT_EQ(LabelAndAnswers({"--repeats", "replace"}), std::make_pair(std::string("t1,a"), 5.0));
}

TEST_F(CliRepeatsTest, OldDuplicatesNamesStillWork) {
  EXPECT_EQ(LabelAndAnswers({"--duplicates", "all"}), std::make_pair(std::string("t1,b"), 7.0));
  EXPECT_EQ(LabelAndAnswers({"--duplicates", "last"}), std::make_pair(std::string("t1,a"), 5.0));
  EXPECT_EQ(LabelAndAnswers({"--repeats", "last"}), std::make_pair(std::string("t1,a"), 5.0));
}

TEST_F(CliRepeatsTest, SummaryNamesTheSetting) {
  const RunResult r = Run({"aggregate", "--labels", RepeatedLabels(), "--duplicates", "last"});
  EXPECT_THAT(r.out, HasSubstr("answers         5 (7 rows, repeats replace)"));
}

TEST_F(CliRepeatsTest, UnknownValueIsAUsageErrorNamingBothValues) {
  const RunResult r = Run({"aggregate", "--labels", RepeatedLabels(), "--repeats", "twice"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown --repeats 'twice': use count"));
  EXPECT_THAT(r.err, HasSubstr("replace"));
}

// serve's config without a Kafka to talk to: brokers are required to run, not
// to print (docs/operations.md runs `consensusd serve --print-config` bare).
class CliServeConfigTest : public CliTest {
 protected:
  void SetUp() override { ::unsetenv("CONSENSUSD_KAFKA_BROKERS"); }
};

TEST_F(CliServeConfigTest, PrintConfigWithoutBrokersPrintsTheDefaults) {
  const RunResult r = Run({"serve", "--print-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  brokers: \"\"\n"));
  EXPECT_THAT(r.out, HasSubstr("  labels_topic: labels\n"));
  EXPECT_THAT(r.out, HasSubstr("  address: 127.0.0.1:8080\n"));
}

TEST_F(CliServeConfigTest, ServeWithoutBrokersExitsTwoNamingTheFix) {
  const RunResult r = Run({"serve"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--brokers is required: set it or kafka.brokers"));
}

TEST_F(CliServeConfigTest, PrintConfigStillRejectsInvalidValues) {
  const RunResult r = Run({"serve", "--print-config", "--set", "model.tol=0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("model.tol must be > 0"));
}

TEST_F(CliServeConfigTest, PrintConfigRedactsSaslJaasConfig) {
  const RunResult r = Run(
      {"serve", "--print-config", "--brokers", "k:9092", "--set",
       "kafka.properties.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
       "required username=\"u\" password=\"hunter2\";",
       "--set", "kafka.properties.ssl.key.password=hunter3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("sasl.jaas.config: <redacted>"));
  EXPECT_THAT(r.out, HasSubstr("ssl.key.password: <redacted>"));
  EXPECT_THAT(r.out, Not(HasSubstr("hunter")));
}

}  // namespace
}  // namespace consensusd::service
