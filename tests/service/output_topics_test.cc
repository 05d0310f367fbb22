// The output topics `serve` creates when missing (docs/operations.md):
// consensus and review compacted with the input's partition count, the
// dead-letter topic with the broker's defaults, worker statistics compacted.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/config.h"
#include "service/service.h"

namespace consensusd::service {
namespace {

using consumer::TopicSpec;

TEST(OutputTopicSpecsTest, CompactsWhatIsReadAsLatestPerKey) {
  Config config;
  config.kafka.consensus_topic = "c";
  config.kafka.review_topic = "r";
  config.kafka.dlq_topic = "d";
  const std::vector<TopicSpec> specs = OutputTopicSpecs(config, "w");
  ASSERT_EQ(specs.size(), 4u);
  EXPECT_EQ(specs[0].name, "c");
  EXPECT_TRUE(specs[0].compacted);
  EXPECT_EQ(specs[0].partitions, TopicSpec::kLikeInput);
  EXPECT_EQ(specs[1].name, "r");
  EXPECT_TRUE(specs[1].compacted);
  EXPECT_EQ(specs[1].partitions, TopicSpec::kLikeInput);
  EXPECT_EQ(specs[2].name, "d");
  EXPECT_FALSE(specs[2].compacted) << "dead letters are kept as they came";
  EXPECT_EQ(specs[2].partitions, 1);
  EXPECT_EQ(specs[3].name, "w");
  EXPECT_TRUE(specs[3].compacted);
  EXPECT_EQ(specs[3].partitions, 1);
}

}  // namespace
}  // namespace consensusd::service
