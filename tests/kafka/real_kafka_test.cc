// RealKafka, the broker of the tests of Kafka semantics: topics are created
// as asked, and a stopped broker comes back on the same address with its data.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"
#include "tests/kafka/real_kafka.h"

namespace consensusd::kafka_tests {
namespace {

using integration::KafkaRecord;
using integration::Produce;
using integration::ProduceResult;
using integration::ReadWholePartition;
using service::TempDir;
using std::chrono::seconds;

class RealKafkaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    kafka_ = new RealKafka(dir_->File("kafka"));
    start_status_ = new absl::Status(kafka_->Start());
  }
  static void TearDownTestSuite() {
    delete start_status_;
    delete kafka_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(start_status_->ok()) << *start_status_; }

  // The partition count of `topic` in the broker's metadata; -1 if unknown
  // or the broker did not answer within `timeout_ms`.
  static int Partitions(const std::string& topic, int timeout_ms = 10000) {
    absl::StatusOr<consumer::KafkaHandle> client = consumer::NewKafkaHandle(
        RD_KAFKA_PRODUCER, {{"bootstrap.servers", kafka_->bootstrap()}, {"log_level", "3"}});
    if (!client.ok()) return -1;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(client->get(), topic.c_str(), nullptr);
    const struct rd_kafka_metadata* metadata = nullptr;
    int partitions = -1;
    if (rd_kafka_metadata(client->get(), 0, handle, &metadata, timeout_ms) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partitions = metadata->topics[0].partition_cnt;
    }
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(handle);
    return partitions;
  }

  // The topic's partition count once the broker's metadata lists it (a topic
  // just created is not known at once: a producer then fails with "Unknown
  // topic or partition"), or -1 after 10 s.
  static int PartitionsOnceListed(const std::string& topic) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int partitions = Partitions(topic, 1000);
    while (partitions < 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      partitions = Partitions(topic, 1000);
    }
    return partitions;
  }

  static TempDir* dir_;
  static RealKafka* kafka_;
  static absl::Status* start_status_;
  TempDir test_dir_;
};

TempDir* RealKafkaTest::dir_ = nullptr;
RealKafka* RealKafkaTest::kafka_ = nullptr;
absl::Status* RealKafkaTest::start_status_ = nullptr;

TEST_F(RealKafkaTest, CreatesTopicWithTheRequestedPartitions) {
  const absl::Status created = kafka_->CreateTopic("five", 5, {{"cleanup.policy", "compact"}});
  ASSERT_TRUE(created.ok()) << created;
  EXPECT_EQ(PartitionsOnceListed("five"), 5);
}

TEST_F(RealKafkaTest, CreatingAnExistingTopicFails) {
  ASSERT_TRUE(kafka_->CreateTopic("twice", 2).ok());
  const absl::Status again = kafka_->CreateTopic("twice", 2);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.ToString().find("twice"), std::string::npos) << again;
}

TEST_F(RealKafkaTest, RejectsAnUnknownTopicConfig) {
  EXPECT_FALSE(kafka_->CreateTopic("odd", 1, {{"no.such.config", "1"}}).ok());
}

TEST_F(RealKafkaTest, RestartOnTheSameDirectoryKeepsAddressAndRecords) {
  ASSERT_TRUE(kafka_->CreateTopic("kept", 1).ok());
  ASSERT_EQ(PartitionsOnceListed("kept"), 1);
  const std::string csv =
      test_dir_.Write("answers.csv", "task,worker,label\nt1,w1,a\nt2,w1,b\nt3,w2,a\n");
  const ProduceResult produced = Produce(kafka_->bootstrap(), "kept", csv);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.messages, 3);
  const std::string address = kafka_->bootstrap();

  const absl::Status stopped = kafka_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(kafka_->running());
  EXPECT_EQ(Partitions("kept", 1000), -1) << "the broker still answers";
  const absl::Status started = kafka_->Start();
  ASSERT_TRUE(started.ok()) << started << "\n" << kafka_->LogTail();
  EXPECT_EQ(kafka_->bootstrap(), address);

  const std::vector<KafkaRecord> records =
      ReadWholePartition(kafka_->bootstrap(), "kept", 0, seconds(30));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "t1");
  EXPECT_EQ(records[2].key, "t3");
}

}  // namespace
}  // namespace consensusd::kafka_tests
