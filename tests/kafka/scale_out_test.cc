// SPEC 8 on a real Kafka broker: instances of one consumer group share the
// input topic's partitions and together reach the consensus one instance
// reaches alone (the same worker model on every instance, the same labels),
// also when one of them is killed, one joins, or the broker restarts in the
// middle of the stream; no answer is lost or counted twice (SPEC 6).
//
// One broker (SharedKafka, shared with other suites) serves the whole suite;
// each test has its own topics, group and project. The reference, one
// instance on the same answers, runs once.

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/sanitizer.h"
#include "tests/integration/harness.h"
#include "tests/kafka/real_kafka.h"
#include "tests/kafka/serve_group.h"
#include "tests/kafka/shared_kafka.h"

namespace consensusd::kafka_tests {
namespace {

using integration::DistinctAnswersPerTask;
using integration::kBinary;
using integration::kDataDir;
using integration::ParseProduceReport;
using integration::Produce;
using integration::ProduceResult;
using integration::ReadWholeFile;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tests::Redirect;
using tests::Subprocess;
using tests::WaitUntil;

constexpr int kPartitions = 12;
// Product (8,315 tasks, 176 workers, 2 classes), one message per answer.
const std::string kAnswersCsv = kDataDir + "/product/labels.csv";
constexpr int64_t kAnswers = 24945;
// The paced stream lasts about 10 s: long enough to act in its middle.
constexpr int kStreamRate = 2500;
// SPEC 4.2's tolerance, as for the batch agreement test.
constexpr double kMinLabelAgreement = 0.995;
constexpr double kMaxAccuracySpread = 1e-6;
// consensusd_worker_model_age_seconds (checked every second): a model older
// than this is stale (the broker is down), younger is current.
constexpr double kStaleModelAgeS = 5;
constexpr double kCurrentModelAgeS = 3;

class ScaleOutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    kafka_ = &SharedKafka();  // stopped after the last suite
    reference_ = new TaskResults;
    expected_answers_ = new std::map<std::string, int64_t>(DistinctAnswersPerTask(kAnswersCsv));
    setup_error_ = new std::string(RunReference());
  }
  static void TearDownTestSuite() {
    delete setup_error_;
    delete expected_answers_;
    delete reference_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_EQ(*setup_error_, "") << kafka_->LogTail();
    if (!kafka_->running()) {  // a failed test left it stopped
      const absl::Status started = kafka_->Start();
      ASSERT_TRUE(started.ok()) << started;
    }
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const absl::StatusOr<GroupTopics> topics =
        CreateGroupTopics(*kafka_, name, kPartitions, {{"cleanup.policy", "compact"}});
    ASSERT_TRUE(topics.ok()) << topics.status() << "\n" << kafka_->LogTail();
    topics_ = *topics;
    project_ = name;
    group_ = std::make_unique<ServeGroup>(test_dir_, topics_, project_);
  }

  // Starts the broker and runs one instance on the answers: the reference.
  // Returns what went wrong, empty if nothing.
  static std::string RunReference() {
    if (absl::Status s = kafka_->running() ? absl::OkStatus() : kafka_->Start(); !s.ok()) {
      return s.ToString();
    }
    absl::StatusOr<GroupTopics> topics =
        CreateGroupTopics(*kafka_, "Reference", kPartitions, {{"cleanup.policy", "compact"}});
    if (!topics.ok()) return topics.status().ToString();
    const ProduceResult produced =
        Produce(kafka_->bootstrap(), topics->input, kAnswersCsv, {"--project", "reference"});
    if (produced.exit_code != 0 || produced.elements != kAnswers) return produced.err;
    ServeGroup one(*dir_, *topics, "reference");
    if (one.Add() == nullptr) return one.Diagnostics();
    GroupSnapshot s;
    if (!WaitUntil(
            [&] {
              s = one.Snapshot();
              return AnswerCountDiff(s, *expected_answers_).empty();
            },
            seconds(120), seconds(1))) {
      return "the reference instance did not count every answer once:\n" +
             AnswerCountDiff(s, *expected_answers_) + one.Diagnostics();
    }
    if (!WaitSweepsSettled(one.at(0), seconds(60))) {
      return "the reference instance's sweeps did not settle\n" + one.Diagnostics();
    }
    *reference_ = one.Snapshot().tasks;
    if (std::string failed = one.StopAll(); !failed.empty()) return failed + one.Diagnostics();
    return reference_->size() == expected_answers_->size() ? "" : "the reference lost tasks";
  }

  // Starts `consensusd produce` of the answers at kStreamRate in the background.
  std::unique_ptr<Subprocess> StartStream(const std::string& csv = kAnswersCsv) {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{kBinary, "produce", "--brokers", kafka_->bootstrap(), "--topic",
                                 topics_.input, csv, "--project", project_, "--rate",
                                 std::to_string(kStreamRate)},
        Subprocess::Stdio{Redirect::Null(), Redirect::Null(),
                          Redirect::File(test_dir_.File("produce.err"))});
  }
  ProduceResult FinishStream(Subprocess& producer) {
    const std::optional<int> code = producer.WaitExit(seconds(120));
    return ParseProduceReport(code.value_or(-1), ReadWholeFile(test_dir_.File("produce.err")));
  }

  // Starts `n` instances and waits until they share the partitions and each
  // one is ready.
  void StartInstances(int n) {
    for (int i = 0; i < n; ++i) ASSERT_NE(group_->Add(), nullptr) << group_->Diagnostics();
    std::string why;
    ASSERT_TRUE(WaitGroupSettled(n, &why)) << why << "\n" << group_->Diagnostics();
    ASSERT_TRUE(WaitUntil([&] { return AllReady(); }, seconds(60))) << group_->Diagnostics();
  }
  // Waits until the broker reports the group stable with `members` members,
  // each assigned partitions, every partition assigned once; else describes
  // the group in *why.
  bool WaitGroupSettled(size_t members, std::string* why) {
    return WaitUntil(
        [&] {
          const absl::StatusOr<RealKafka::GroupDescription> g =
              kafka_->DescribeGroup(topics_.group);
          if (!g.ok()) {
            *why = g.status().ToString();
            return false;
          }
          std::ostringstream text;
          text << "group " << topics_.group << ": " << g->state << ", partitions per member:";
          std::vector<int32_t> all;
          bool each_has_some = true;
          for (const std::vector<int32_t>& partitions : g->members) {
            text << " " << partitions.size();
            each_has_some = each_has_some && !partitions.empty();
            all.insert(all.end(), partitions.begin(), partitions.end());
          }
          *why = text.str();
          std::sort(all.begin(), all.end());
          return g->state == "Stable" && g->members.size() == members && each_has_some &&
                 all.size() == kPartitions &&
                 std::adjacent_find(all.begin(), all.end()) == all.end();
        },
        seconds(60), milliseconds(200));
  }
  bool AllReady() {
    for (ServeProcess* s : group_->Live()) {
      if (!s->Ready()) return false;
    }
    return true;
  }

  // The group's end state: every answer counted once (the union of the
  // exports), then the same worker model on every instance and the labels of
  // the reference; then a clean stop. Returns the last snapshot.
  GroupSnapshot ExpectSameResultAsOneInstance() {
    GroupSnapshot s;
    const bool complete = WaitUntil(
        [&] {
          s = group_->Snapshot();
          return AnswerCountDiff(s, *expected_answers_).empty();
        },
        seconds(120) * kSanitizerSlowdown, seconds(1));
    EXPECT_TRUE(complete) << "the group did not count every answer exactly once:\n"
                          << AnswerCountDiff(s, *expected_answers_) << group_->Diagnostics();
    double spread = std::numeric_limits<double>::infinity(), agreement = 0;
    const bool agreed = complete && WaitUntil(
                                        [&] {
                                          s = group_->Snapshot();
                                          spread = AccuracySpread(s);
                                          agreement = LabelAgreement(s.tasks, *reference_);
                                          return s.error.empty() && spread <= kMaxAccuracySpread &&
                                                 agreement >= kMinLabelAgreement;
                                        },
                                        seconds(60) * kSanitizerSlowdown,
                                        seconds(1));
    std::printf("scale-out: worker accuracies differ by up to %.3g between the instances; labels "
                "agree with one instance's on %.4f of %zu tasks\n",
                spread, agreement, s.tasks.size());
    EXPECT_TRUE(agreed) << "worker accuracies differ by up to " << spread
                        << " between the instances (workers listed: " << WorkerCounts(s)
                        << "); the labels agree with one instance's on " << agreement
                        << " of the tasks (tasks per instance: " << TaskCounts(s) << ")\n"
                        << s.error << group_->Diagnostics();
    EXPECT_EQ(AnswerCountDiff(s, *expected_answers_), "");
    EXPECT_EQ(group_->StopAll(), "") << group_->Diagnostics();
    return s;
  }

  // Each live instance's consensusd_worker_model_age_seconds (-1 if it did
  // not answer).
  std::vector<double> WorkerModelAges() {
    std::vector<double> ages;
    for (ServeProcess* s : group_->Live()) {
      const std::vector<integration::MetricSample> m =
          integration::Samples(s->Metrics(), "consensusd_worker_model_age_seconds");
      ages.push_back(m.empty() ? -1 : m[0].value);
    }
    return ages;
  }
  static std::string Join(const std::vector<double>& values) {
    std::ostringstream text;
    for (const double v : values) text << v << " ";
    return text.str();
  }

  static std::string WorkerCounts(const GroupSnapshot& s) {
    std::ostringstream text;
    for (const auto& a : s.accuracies) text << a.size() << " ";
    return text.str();
  }
  static std::string TaskCounts(const GroupSnapshot& s) {
    std::ostringstream text;
    for (const size_t n : s.tasks_per_instance) text << n << " ";
    return text.str();
  }

  static TempDir* dir_;
  static RealKafka* kafka_;
  static TaskResults* reference_;                          // one instance's export
  static std::map<std::string, int64_t>* expected_answers_;  // task -> answers in the input
  static std::string* setup_error_;

  TempDir test_dir_;
  GroupTopics topics_;
  std::string project_;
  std::unique_ptr<ServeGroup> group_;
};

TempDir* ScaleOutTest::dir_ = nullptr;
RealKafka* ScaleOutTest::kafka_ = nullptr;
TaskResults* ScaleOutTest::reference_ = nullptr;
std::map<std::string, int64_t>* ScaleOutTest::expected_answers_ = nullptr;
std::string* ScaleOutTest::setup_error_ = nullptr;

TEST_F(ScaleOutTest, ThreeInstancesReachTheConsensusOfOne) {
  StartInstances(3);
  const ProduceResult produced =
      Produce(kafka_->bootstrap(), topics_.input, kAnswersCsv, {"--project", project_});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.messages, kAnswers) << produced.err;  // one message per answer

  const GroupSnapshot s = ExpectSameResultAsOneInstance();
  ASSERT_EQ(s.tasks_per_instance.size(), 3u);
  for (const size_t n : s.tasks_per_instance) EXPECT_GT(n, 0u) << "an instance owns no task";
}

TEST_F(ScaleOutTest, KillNineOfThreeMidStreamHandsItsPartitionsToTheOthers) {
  StartInstances(3);
  std::unique_ptr<Subprocess> producer = StartStream();
  double applied = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        applied = group_->AnswersApplied();
        return applied >= 0.3 * kAnswers;
      },
      seconds(60), milliseconds(50)))
      << group_->Diagnostics();
  group_->Kill(2);
  ASSERT_LE(applied, 0.8 * kAnswers) << "the stream was too fast to interrupt in the middle";
  // Once the killed member's session times out, the others own every partition.
  std::string why;
  EXPECT_TRUE(WaitGroupSettled(2, &why)) << why << "\n" << group_->Diagnostics();
  const ProduceResult produced = FinishStream(*producer);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, kAnswers) << produced.err;

  const GroupSnapshot s = ExpectSameResultAsOneInstance();
  EXPECT_EQ(s.tasks_per_instance.size(), 2u);
}

TEST_F(ScaleOutTest, FourthInstanceJoiningMidStreamTakesPartitions) {
  StartInstances(3);
  std::unique_ptr<Subprocess> producer = StartStream();
  double applied = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        applied = group_->AnswersApplied();
        return applied >= 0.3 * kAnswers;
      },
      seconds(60), milliseconds(50)))
      << group_->Diagnostics();
  ServeProcess* fourth = group_->Add();
  ASSERT_NE(fourth, nullptr) << group_->Diagnostics();
  ASSERT_LE(applied, 0.8 * kAnswers) << "the stream was too fast to join in the middle";
  // The group rebalances (cooperatively: the others keep the partitions they
  // do not hand over) and the newcomer rebuilds its share from the topic.
  std::string why;
  EXPECT_TRUE(WaitGroupSettled(4, &why)) << why << "\n" << group_->Diagnostics();
  EXPECT_TRUE(WaitUntil([&] { return fourth->Ready(); }, seconds(60))) << group_->Diagnostics();
  const ProduceResult produced = FinishStream(*producer);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, kAnswers) << produced.err;

  const GroupSnapshot s = ExpectSameResultAsOneInstance();
  ASSERT_EQ(s.tasks_per_instance.size(), 4u);
  EXPECT_GT(s.tasks_per_instance[3], 0u) << "the fourth instance took no partition";
}

TEST_F(ScaleOutTest, BrokerRestartMidStreamIsNotReadyThenResumesByItself) {
  // The stream in two halves, the broker down between them.
  std::istringstream lines(ReadWholeFile(kAnswersCsv));
  std::string header;
  std::getline(lines, header);
  std::string halves[2] = {header + "\n", header + "\n"};
  int64_t row = 0;
  for (std::string line; std::getline(lines, line); ++row) {
    halves[row < kAnswers / 2 ? 0 : 1] += line + "\n";
  }
  ASSERT_EQ(row, kAnswers);
  const std::string first = test_dir_.Write("first.csv", halves[0]);
  const std::string second = test_dir_.Write("second.csv", halves[1]);

  StartInstances(3);
  ProduceResult produced =
      Produce(kafka_->bootstrap(), topics_.input, first, {"--project", project_});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_TRUE(WaitUntil([&] { return group_->AnswersApplied() > 0; }, seconds(30)))
      << group_->Diagnostics();

  const absl::Status stopped = kafka_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  std::vector<bool> seen_not_ready(3, false);
  const bool all_not_ready = WaitUntil(
      [&] {
        for (size_t i = 0; i < 3; ++i) {
          seen_not_ready[i] = seen_not_ready[i] || !group_->at(i).Ready();
        }
        return std::count(seen_not_ready.begin(), seen_not_ready.end(), true) == 3;
      },
      seconds(30), milliseconds(200));
  std::string stayed_ready;
  for (size_t i = 0; i < 3; ++i) {
    if (!seen_not_ready[i]) stayed_ready += " " + std::to_string(i);
  }
  EXPECT_TRUE(all_not_ready) << "instances" << stayed_ready
                             << " answered /readyz with 200 all along with the broker down\n"
                             << group_->Diagnostics();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(group_->at(i).running()) << "instance " << i << "\n" << group_->Diagnostics();
    EXPECT_TRUE(group_->at(i).Get("/healthz").has_value()) << "instance " << i;
  }
  // The worker-statistics topic cannot be read to its end: every instance's
  // worker model ages.
  std::vector<double> ages(3, -1);
  EXPECT_TRUE(WaitUntil(
      [&] {
        ages = WorkerModelAges();
        return *std::min_element(ages.begin(), ages.end()) > kStaleModelAgeS;
      },
      seconds(30), milliseconds(500)))
      << "worker model ages with the broker down: " << Join(ages) << "\n"
      << group_->Diagnostics();

  const absl::Status started = kafka_->Start();  // the same log dir and address
  ASSERT_TRUE(started.ok()) << started;
  std::string why;
  EXPECT_TRUE(WaitGroupSettled(3, &why)) << why << "\n" << group_->Diagnostics();
  EXPECT_TRUE(WaitUntil([&] { return AllReady(); }, seconds(90)))
      << "the instances did not become ready again\n"
      << group_->Diagnostics();
  // The topic is read to its end again: the models are current.
  EXPECT_TRUE(WaitUntil(
      [&] {
        ages = WorkerModelAges();
        return *std::max_element(ages.begin(), ages.end()) < kCurrentModelAgeS;
      },
      seconds(30), milliseconds(500)))
      << "worker model ages with the broker back: " << Join(ages) << "\n"
      << group_->Diagnostics();
  produced = Produce(kafka_->bootstrap(), topics_.input, second, {"--project", project_});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  ExpectSameResultAsOneInstance();
}

}  // namespace
}  // namespace consensusd::kafka_tests
