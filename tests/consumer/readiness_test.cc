// RestoringPartitions and BrokerHealth: when a partition stops restoring, and
// when the brokers count as up or down.

#include "consumer/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace consensusd::consumer {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RestoringPartitionsTest, AnAssignedPartitionRestoresUntilItsEndIsKnownAndReached) {
  RestoringPartitions r;
  r.Assigned(0, /*start=*/-1);
  EXPECT_TRUE(r.Contains(0));
  EXPECT_FALSE(r.Consumed(0, 10)) << "no end known yet";
  EXPECT_FALSE(r.SetEnd(0, /*low=*/0, /*high=*/100));
  EXPECT_FALSE(r.Consumed(0, 99));
  EXPECT_TRUE(r.Consumed(0, 100));
  EXPECT_FALSE(r.Contains(0));
  EXPECT_TRUE(r.empty());
}

TEST(RestoringPartitionsTest, AnEmptyPartitionIsReadyAsSoonAsItsEndIsKnown) {
  RestoringPartitions r;
  r.Assigned(1, -1);
  EXPECT_TRUE(r.SetEnd(1, 0, 0));
  EXPECT_TRUE(r.empty());
}

TEST(RestoringPartitionsTest, APartitionResumedAtItsEndIsReadyAtOnce) {
  RestoringPartitions r;
  r.Assigned(2, /*start=*/500);
  EXPECT_TRUE(r.SetEnd(2, 0, 500));
}

TEST(RestoringPartitionsTest, APartitionWhoseOldMessagesAreDeletedStartsAtItsLowWatermark) {
  RestoringPartitions r;
  r.Assigned(3, -1);
  EXPECT_TRUE(r.SetEnd(3, /*low=*/40, /*high=*/40)) << "retention removed every message";
  r.Assigned(4, -1);
  EXPECT_FALSE(r.SetEnd(4, 40, 41));
  EXPECT_TRUE(r.Consumed(4, 41));
}

TEST(RestoringPartitionsTest, MessagesConsumedBeforeTheEndIsKnownCount) {
  RestoringPartitions r;
  r.Assigned(0, -1);
  EXPECT_FALSE(r.Consumed(0, 70));
  EXPECT_TRUE(r.SetEnd(0, 0, 70));
}

TEST(RestoringPartitionsTest, MessagesAddedAfterTheAssignmentDoNotDelayReadiness) {
  RestoringPartitions r;
  r.Assigned(0, 10);
  ASSERT_FALSE(r.SetEnd(0, 0, 20));
  // The partition grows to 1000 meanwhile: its end at assignment counts.
  EXPECT_TRUE(r.Consumed(0, 20));
}

TEST(RestoringPartitionsTest, ReachingTheEndOfAFetchMakesItReady) {
  RestoringPartitions r;
  r.Assigned(0, -1);
  r.Assigned(1, -1);
  ASSERT_FALSE(r.SetEnd(1, 0, 10));
  EXPECT_TRUE(r.ReachedEnd(0)) << "an end that offsets never reach (a transaction marker)";
  EXPECT_TRUE(r.ReachedEnd(1));
  EXPECT_FALSE(r.ReachedEnd(1)) << "already ready";
  EXPECT_TRUE(r.empty());
}

TEST(RestoringPartitionsTest, AReadyPartitionIsNotTrackedAgainUntilAssignedAgain) {
  RestoringPartitions r;
  r.Assigned(0, -1);
  ASSERT_TRUE(r.SetEnd(0, 0, 0));
  EXPECT_FALSE(r.Consumed(0, 5));
  EXPECT_FALSE(r.SetEnd(0, 0, 100));
  EXPECT_TRUE(r.empty());
  r.Assigned(0, 5);
  EXPECT_TRUE(r.Contains(0));
}

TEST(RestoringPartitionsTest, ARevokedPartitionLeavesTheSet) {
  RestoringPartitions r;
  r.Assigned(0, -1);
  r.Revoked(0);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.ReachedEnd(0));
}

TEST(RestoringPartitionsTest, ListsThePartitionsWhoseEndIsUnknownInOrder) {
  RestoringPartitions r;
  r.Assigned(7, -1);
  r.Assigned(2, -1);
  r.Assigned(5, -1);
  ASSERT_FALSE(r.SetEnd(5, 0, 9));
  EXPECT_THAT(r.WithoutEnd(), ElementsAre(2, 7));
  r.ReachedEnd(2);
  r.ReachedEnd(7);
  EXPECT_THAT(r.WithoutEnd(), IsEmpty());
}

TEST(BrokerHealthTest, UnknownUntilTheFirstSign) {
  BrokerHealth h;
  EXPECT_EQ(h.state(), BrokerHealth::State::kUnknown);
  EXPECT_TRUE(h.Answered());
  EXPECT_EQ(h.state(), BrokerHealth::State::kUp);
  EXPECT_FALSE(h.Answered()) << "no change";
}

TEST(BrokerHealthTest, AllBrokersDownIsDownAtOnce) {
  BrokerHealth h;
  h.Answered();
  EXPECT_TRUE(h.AllBrokersDown());
  EXPECT_EQ(h.state(), BrokerHealth::State::kDown);
  EXPECT_FALSE(h.ProbeFailed());
  EXPECT_TRUE(h.Answered());
  EXPECT_EQ(h.state(), BrokerHealth::State::kUp);
}

TEST(BrokerHealthTest, OneFailedProbeIsABlipTwoInARowAreDown) {
  BrokerHealth h;
  h.Answered();
  EXPECT_FALSE(h.ProbeFailed());
  EXPECT_EQ(h.state(), BrokerHealth::State::kUp);
  h.Answered();  // the count starts over
  EXPECT_FALSE(h.ProbeFailed());
  EXPECT_TRUE(h.ProbeFailed());
  EXPECT_EQ(h.state(), BrokerHealth::State::kDown);
}

TEST(BrokerHealthTest, ProbesFailingFromTheStartAreDown) {
  BrokerHealth h;
  h.ProbeFailed();
  EXPECT_TRUE(h.ProbeFailed());
  EXPECT_EQ(h.state(), BrokerHealth::State::kDown);
}

}  // namespace
}  // namespace consensusd::consumer
