// The compacted output topics on a real broker's log cleaner (SPEC 5.2, 8):
// once compacted, the consensus topic holds one record per task, its latest
// (the current consensus), and the worker-stats topic one record per
// project/worker/partition, its latest. librdkafka's mock cluster does not
// compact, so only a real broker shows what a late reader of the topics gets.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"
#include "tests/kafka/real_kafka.h"
#include "tests/kafka/serve_group.h"

namespace consensusd::kafka_tests {
namespace {

using integration::DistinctAnswersPerTask;
using integration::KafkaRecord;
using integration::kDataDir;
using integration::Produce;
using integration::ProduceResult;
using integration::ReadWholeFile;
using integration::ReadWholePartition;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tests::WaitUntil;

// RTE: 800 tasks with 10 answers each (a task's answers are adjacent rows).
const std::string kAnswersCsv = kDataDir + "/rte/labels.csv";
constexpr size_t kTasks = 800;
// Compacted topics; the test has the cleaner compact them at once only when
// it has read what the service wrote (it never compacts the segment being
// written, and with the default segment.ms of 7 days that is all of it).
const std::map<std::string, std::string> kCompacted = {{"cleanup.policy", "compact"}};
const std::map<std::string, std::string> kCompactedFast = {
    {"cleanup.policy", "compact"}, {"segment.ms", "100"}, {"min.cleanable.dirty.ratio", "0.01"}};
// A key no consensusd record has: the record that closes the last segment.
constexpr char kRollKey[] = "compaction-test/roll";

// Writes one record to partition 0 of `topic` and waits for its delivery.
absl::Status WriteRecord(const std::string& brokers, const std::string& topic,
                         const std::string& key, const std::string& value) {
  absl::StatusOr<consumer::KafkaHandle> producer = consumer::NewKafkaHandle(
      RD_KAFKA_PRODUCER, {{"bootstrap.servers", brokers}, {"log_level", "3"}});
  if (!producer.ok()) return producer.status();
  absl::Status s = consumer::KafkaStatus(
      rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
      "producing");
  if (s.ok()) s = consumer::KafkaStatus(rd_kafka_flush(producer->get(), 30000), "flushing");
  return s;
}

// The last value of each key, in offset order.
std::map<std::string, std::string> LatestPerKey(const std::vector<KafkaRecord>& records) {
  std::map<std::string, std::string> latest;
  for (const KafkaRecord& r : records) latest[r.key] = r.value;
  return latest;
}

class CompactionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    // The cleaner looks for work every half second (the default is 15 s).
    kafka_ = new RealKafka(dir_->File("kafka"), {"log.cleaner.backoff.ms=500"});
    start_status_ = new absl::Status(kafka_->Start());
  }
  static void TearDownTestSuite() {
    delete start_status_;
    delete kafka_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const absl::StatusOr<GroupTopics> topics =
        CreateGroupTopics(*kafka_, name, /*partitions=*/4, kCompacted);
    ASSERT_TRUE(topics.ok()) << topics.status() << "\n" << kafka_->LogTail();
    topics_ = *topics;
    project_ = name;  // the tests' statistics share no key of consensusd.worker-stats
  }

  // One instance consumes every other answer, publishes a consensus of every
  // task, then consumes the rest, which updates them; once its
  // consensus has settled it stops, flushing its outputs.
  void RunOneInstance() {
    std::istringstream lines(ReadWholeFile(kAnswersCsv));
    std::string header;
    std::getline(lines, header);
    std::string halves[2] = {header + "\n", header + "\n"};
    int row = 0;
    for (std::string line; std::getline(lines, line); ++row) halves[row % 2] += line + "\n";
    // Every change of a consensus is published, however small.
    ServeGroup group(test_dir_, topics_, project_, {"output.min_change=0"});
    ASSERT_NE(group.Add(), nullptr) << group.Diagnostics();
    ASSERT_TRUE(WaitUntil([&] { return group.at(0).Ready(); }, seconds(60)))
        << group.Diagnostics();

    ProduceResult produced = Produce(kafka_->bootstrap(), topics_.input,
                                     test_dir_.Write("even.csv", halves[0]), {"--project", project_});
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    size_t published = 0;
    ASSERT_TRUE(WaitUntil(
        [&] {
          published = LatestPerKey(ReadWholePartition(kafka_->bootstrap(), topics_.consensus, 0,
                                                      seconds(10)))
                          .size();
          return published == kTasks;
        },
        seconds(60), seconds(1)))
        << published << " tasks published\n"
        << group.Diagnostics();
    produced = Produce(kafka_->bootstrap(), topics_.input, test_dir_.Write("odd.csv", halves[1]),
                       {"--project", project_});
    ASSERT_EQ(produced.exit_code, 0) << produced.err;

    const std::map<std::string, int64_t> expected = DistinctAnswersPerTask(kAnswersCsv);
    GroupSnapshot s;
    ASSERT_TRUE(WaitUntil(
        [&] {
          s = group.Snapshot();
          return AnswerCountDiff(s, expected).empty();
        },
        seconds(60), seconds(1)))
        << AnswerCountDiff(s, expected) << group.Diagnostics();
    ASSERT_TRUE(WaitSweepsSettled(group.at(0), seconds(60))) << group.Diagnostics();
    ASSERT_EQ(group.StopAll(), "") << group.Diagnostics();
  }

  // Has the cleaner compact the topic at once (segment.ms 100, the last
  // segment closed by one more record) and waits until it leaves one record
  // per key; then that record must be the key's latest of `before`.
  void ExpectCompactedToLatestPerKey(const std::string& topic,
                                     const std::vector<KafkaRecord>& before) {
    const std::map<std::string, std::string> latest = LatestPerKey(before);
    const absl::Status altered = kafka_->SetTopicConfigs(topic, kCompactedFast);
    ASSERT_TRUE(altered.ok()) << altered;
    std::this_thread::sleep_for(milliseconds(200));  // > segment.ms
    const absl::Status rolled = WriteRecord(kafka_->bootstrap(), topic, kRollKey, "{}");
    ASSERT_TRUE(rolled.ok()) << rolled;
    std::vector<KafkaRecord> after;
    const bool compacted = WaitUntil(
        [&] {
          after = ReadWholePartition(kafka_->bootstrap(), topic, 0, seconds(30));
          return !after.empty() && LatestPerKey(after).size() == after.size();
        },
        seconds(90), seconds(1));
    ASSERT_TRUE(compacted) << topic << " still has " << after.size() << " records for "
                           << LatestPerKey(after).size() << " keys\n"
                           << kafka_->LogTail();
    EXPECT_LT(after.size(), before.size());
    std::map<std::string, std::string> survivors = LatestPerKey(after);
    ASSERT_EQ(survivors.erase(kRollKey), 1u);
    EXPECT_EQ(survivors.size(), latest.size());
    int64_t other_value = 0;
    for (const auto& [key, value] : latest) {
      auto it = survivors.find(key);
      other_value += it == survivors.end() || it->second != value;
    }
    EXPECT_EQ(other_value, 0) << "keys whose surviving record is not their latest";
  }

  static TempDir* dir_;
  static RealKafka* kafka_;
  static absl::Status* start_status_;

  TempDir test_dir_;
  GroupTopics topics_;
  std::string project_;
};

TempDir* CompactionTest::dir_ = nullptr;
RealKafka* CompactionTest::kafka_ = nullptr;
absl::Status* CompactionTest::start_status_ = nullptr;

TEST_F(CompactionTest, ConsensusTopicKeepsTheLatestRecordOfEveryTask) {
  RunOneInstance();
  if (HasFatalFailure()) return;
  const std::vector<KafkaRecord> before =
      ReadWholePartition(kafka_->bootstrap(), topics_.consensus, 0, seconds(30));
  const std::map<std::string, std::string> latest = LatestPerKey(before);
  ASSERT_EQ(latest.size(), kTasks);  // <project>/<task>
  ASSERT_GE(before.size(), 2 * kTasks) << "too few updates per task to compact";
  ExpectCompactedToLatestPerKey(topics_.consensus, before);
}

TEST_F(CompactionTest, WorkerStatsTopicKeepsTheLatestRecordOfEveryKey) {
  RunOneInstance();
  if (HasFatalFailure()) return;
  const std::vector<KafkaRecord> before =
      ReadWholePartition(kafka_->bootstrap(), topics_.worker_stats, 0, seconds(30));
  ASSERT_FALSE(before.empty()) << "the instance wrote no worker statistics to "
                               << topics_.worker_stats << " (kafka.worker_stats_topic)";
  ASSERT_GT(before.size(), LatestPerKey(before).size()) << "no key was updated";
  ExpectCompactedToLatestPerKey(topics_.worker_stats, before);
}

}  // namespace
}  // namespace consensusd::kafka_tests
