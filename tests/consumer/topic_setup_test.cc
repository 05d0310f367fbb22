// CreateMissingTopics on librdkafka's mock cluster, which has no Admin API:
// what exists is left alone, creating is refused at once (not after a
// timeout), and a cluster that does not answer is an error. (Creation itself
// needs a real broker: see docs/operations.md.)

#include "consumer/topic_setup.h"

#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <chrono>

namespace consensusd::consumer {
namespace {

class TopicSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<KafkaHandle> handle = NewKafkaHandle(RD_KAFKA_PRODUCER, {{"log_level", "2"}});
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = std::move(*handle);
    cluster_ = rd_kafka_mock_cluster_new(handle_.get(), 1);
    ASSERT_NE(cluster_, nullptr);
    properties_ = {{"bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster_)}};
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "labels", 3, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "labels.consensus", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void TearDown() override {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  }

  KafkaHandle handle_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  KafkaProperties properties_;
};

TEST_F(TopicSetupTest, TopicsThatExistAreLeftAlone) {
  absl::StatusOr<std::vector<TopicOutcome>> outcomes = CreateMissingTopics(
      properties_, "labels",
      {{.name = "labels.consensus", .partitions = TopicSpec::kLikeInput, .compacted = true}}, 5000);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_EQ((*outcomes)[0].name, "labels.consensus");
  EXPECT_EQ((*outcomes)[0].result, TopicOutcome::Result::kExisted);
}

TEST_F(TopicSetupTest, AClusterWithoutControllerCannotCreateTopicsAndSaysSoAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<TopicOutcome>> outcomes = CreateMissingTopics(
      properties_, "labels", {{.name = "labels.review", .compacted = true}}, 5000);
  EXPECT_TRUE(absl::IsUnimplemented(outcomes.status())) << outcomes.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(TopicSetupTest, AClusterThatDoesNotAnswerIsAnError) {
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  absl::StatusOr<std::vector<TopicOutcome>> outcomes =
      CreateMissingTopics(properties_, "labels", {{.name = "labels.dlq"}}, 500);
  EXPECT_FALSE(outcomes.ok());
}

}  // namespace
}  // namespace consensusd::consumer
