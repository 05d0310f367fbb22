// Engine outputs: what CollectOutputs hands to the producer (one consensus
// record per changed task, review records, the room limit), what a delivery
// report does, and what a restart publishes (nothing already confirmed).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/consensus_record.h"
#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

using Topic = OutputRecord::Topic;

// The keys of the records for `topic`, in order.
std::vector<std::string> Keys(const std::vector<OutputRecord>& records,
                              Topic topic = Topic::kConsensus) {
  std::vector<std::string> keys;
  for (const OutputRecord& r : records) {
    if (r.ticket.topic == topic) keys.push_back(r.key);
  }
  return keys;
}

class EngineOutputsTest : public EngineTest {
 protected:
  // Collects and confirms everything waiting.
  void PublishAll() { Deliver(CollectAll()); }

  double Confidence(const std::string& task) {
    std::optional<TaskView> t = engine_->Task(kProject, task);
    EXPECT_TRUE(t.has_value()) << task;
    return t ? t->confidence : -1;
  }
};

TEST_F(EngineOutputsTest, FirstCollectionSendsOneConsensusRecordPerTask) {
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Answer("t2", "w2", "b");
  Answer("t3", "w2", "a");
  Commit();
  const std::vector<OutputRecord> records = CollectAll();
  EXPECT_THAT(Keys(records), UnorderedElementsAre("p/t1", "p/t2", "p/t3"));
  EXPECT_THAT(Keys(records, Topic::kReview), IsEmpty());
}

TEST_F(EngineOutputsTest, RecordValueIsTheTasksConsensus) {
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "a");
  Gold("t2", "b");
  Commit();
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(records.size(), 2u);
  for (const OutputRecord& r : records) {
    const nlohmann::json v = nlohmann::json::parse(r.value);
    const std::optional<TaskView> t = engine_->Task(kProject, v.at("task").get<std::string>());
    ASSERT_TRUE(t.has_value()) << r.value;
    EXPECT_EQ(r.key, ConsensusKey(kProject, t->task));
    EXPECT_EQ(v.at("project"), kProject);
    EXPECT_EQ(v.at("label"), *t->label);
    EXPECT_DOUBLE_EQ(v.at("confidence").get<double>(), t->confidence);
    EXPECT_EQ(v.at("answers"), t->answers.size());
    EXPECT_EQ(v.at("gold").is_null(), !t->gold.has_value());
    EXPECT_EQ(r.ticket.topic, Topic::kConsensus);
  }
}

TEST_F(EngineOutputsTest, KeyEscapesSlashesAndPercentSigns) {
  Assign(0);
  AnswerIn("a/b", 0, "c%d/e", "w1", "x");
  Commit();
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("a%2Fb/c%25d%2Fe"));
}

TEST_F(EngineOutputsTest, NothingIsSentAgainWithoutAChange) {
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Commit();
  PublishAll();
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, ConfidenceMoveBelowMinChangeSendsNothing) {
  Settings().min_change = 0.5;  // with two classes no move of the same label gets there
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "a");
  Answer("t2", "w1", "b");
  Answer("t2", "w2", "b");
  Commit();
  PublishAll();
  const double before = Confidence("t1");
  Answer("t1", "w3", "a");
  Commit();
  ASSERT_NE(Confidence("t1"), before);
  ASSERT_EQ(engine_->Task(kProject, "t1")->label, "a");
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, ConfidenceMoveOfAtLeastMinChangeSends) {
  Settings().min_change = 0.005;
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "b");
  Answer("t1", "w3", "a");
  Answer("t2", "w1", "b");
  Commit();
  PublishAll();
  const double before = Confidence("t1");
  Answer("t1", "w4", "a");
  Answer("t1", "w5", "a");
  Commit();
  ASSERT_EQ(engine_->Task(kProject, "t1")->label, "a");
  ASSERT_GE(std::fabs(Confidence("t1") - before), 0.005);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t1"));
}

TEST_F(EngineOutputsTest, LabelChangeSends) {
  Settings().min_change = 0.5;
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Commit();
  PublishAll();
  for (const char* w : {"w2", "w3", "w4"}) Answer("t1", w, "b");
  Commit();
  ASSERT_EQ(engine_->Task(kProject, "t1")->label, "b");
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_THAT(Keys(records), ElementsAre("p/t1"));
  EXPECT_EQ(nlohmann::json::parse(records[0].value).at("label"), "b");
}

TEST_F(EngineOutputsTest, TaskThatStartsNeedingReviewGoesToTheReviewTopicOnce) {
  Settings().review.min_answers = 2;
  Settings().review.min_confidence = 0.9;
  Assign(0);
  Answer("t1", "w1", "a");  // one answer: below review.min_answers
  Answer("t2", "w1", "b");
  Commit();
  ASSERT_FALSE(engine_->Task(kProject, "t1")->needs_review);
  const std::vector<OutputRecord> first = CollectAll();
  EXPECT_THAT(Keys(first, Topic::kReview), IsEmpty());
  Deliver(first);

  Answer("t1", "w2", "b");  // a split: low confidence after two answers
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t1")->needs_review);
  const std::vector<OutputRecord> second = CollectAll();
  EXPECT_THAT(Keys(second, Topic::kReview), ElementsAre("p/t1"));
  Deliver(second);

  Sweep();  // every task is checked again; t1 still needs review
  ASSERT_TRUE(engine_->Task(kProject, "t1")->needs_review);
  EXPECT_THAT(Keys(CollectAll(), Topic::kReview), IsEmpty());
}

TEST_F(EngineOutputsTest, MaxRecordsLimitsACollectionAndTheRestComesNext) {
  Assign(0);
  for (int i = 0; i < 7; ++i) Answer("t" + std::to_string(i), "w1", "a");
  Commit();
  std::vector<OutputRecord> first;
  EXPECT_TRUE(engine_->CollectOutputs(3, &first));
  EXPECT_GE(first.size(), 1u);
  EXPECT_LE(first.size(), 3u);
  std::multiset<std::string> keys;
  for (const std::string& k : Keys(first)) keys.insert(k);
  bool more = true;
  for (int calls = 0; more && calls < 20; ++calls) {
    std::vector<OutputRecord> next;
    more = engine_->CollectOutputs(3, &next);
    EXPECT_LE(next.size(), 3u);
    for (const std::string& k : Keys(next)) keys.insert(k);
  }
  EXPECT_FALSE(more);
  EXPECT_EQ(keys, (std::multiset<std::string>{"p/t0", "p/t1", "p/t2", "p/t3", "p/t4", "p/t5",
                                              "p/t6"}));
}

TEST_F(EngineOutputsTest, FailedDeliveryMakesTheTaskComeBack) {
  Assign(0);
  for (const char* t : {"t1", "t2", "t3"}) Answer(t, "w1", "a");
  Commit();
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(records.size(), 3u);
  for (const OutputRecord& r : records) engine_->OnDelivered(r.ticket, r.key != "p/t2");
  const std::vector<OutputRecord> again = CollectAll();
  EXPECT_THAT(Keys(again), ElementsAre("p/t2"));
  Deliver(again);
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, FailedReviewDeliverySendsTheReviewRecordAgain) {
  Settings().review.min_answers = 2;
  Settings().review.min_confidence = 0.9;
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "b");
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t1")->needs_review);
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_THAT(Keys(records, Topic::kReview), ElementsAre("p/t1"));
  for (const OutputRecord& r : records) engine_->OnDelivered(r.ticket, r.ticket.topic != Topic::kReview);
  const std::vector<OutputRecord> again = CollectAll();
  EXPECT_THAT(Keys(again, Topic::kReview), ElementsAre("p/t1"));
  EXPECT_THAT(Keys(again, Topic::kConsensus), IsEmpty());
}

TEST_F(EngineOutputsTest, RestartPublishesNothingThatWasConfirmedAndCommitted) {
  Assign(0);
  Assign(1);
  for (const char* t : {"t1", "t2", "t3"}) {
    Answer(t, "w1", "a", 0);
    Answer(t, "w2", "a", 0);
  }
  Answer("u1", "w1", "b", 1);
  Answer("u1", "w3", "b", 1);
  Commit();
  Sweep();
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(Keys(records).size(), 4u);
  Deliver(records);
  Commit();  // no new input: stores only what was confirmed
  Restart();
  Assign(0);
  Assign(1);
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, ConfirmationsAreStoredOncePerIntervalOrAtPersist) {
  options_.confirmed_write_interval_ms = 3600 * 1000;
  Restart();
  Assign(0);
  Answer("t1", "w1", "a");
  Commit();  // the first commit stores (nothing confirmed yet) and starts the interval
  Deliver(CollectAll());
  Answer("t2", "w1", "a");
  Commit();  // within the interval: the confirmation of t1 waits
  Restart();
  Assign(0);
  const std::vector<OutputRecord> again = CollectAll();
  EXPECT_THAT(Keys(again), Contains("p/t1")) << "confirmed but not stored: sent again";
  Deliver(again);
  ASSERT_TRUE(engine_->PersistPublished().ok());
  Restart();
  Assign(0);
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, PersistPublishedStoresWhatWasConfirmed) {
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Commit();
  Sweep();
  Deliver(CollectAll());
  absl::Status s = engine_->PersistPublished();
  ASSERT_TRUE(s.ok()) << s;
  Restart();
  Assign(0);
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, RestartSendsAgainWhatWasNeverConfirmed) {
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Commit();
  Sweep();
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(records.size(), 2u);
  Deliver(records, /*delivered=*/false);
  Commit();
  Restart();
  Assign(0);
  EXPECT_THAT(Keys(CollectAll()), UnorderedElementsAre("p/t1", "p/t2"));
}

TEST_F(EngineOutputsTest, RestartSendsOnlyWhatChangedSinceItWasConfirmed) {
  Assign(0);
  AnswerIn("stable", 0, "t1", "w1", "a");
  AnswerIn("stable", 0, "t2", "w1", "b");
  Answer("t1", "w1", "a");
  Commit();
  Sweep();
  Deliver(CollectAll());
  Commit();
  for (const char* w : {"w2", "w3", "w4"}) Answer("t1", w, "b");  // committed, never collected
  Commit();
  Restart();
  Assign(0);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t1"));
}

// The confirmed record is kept apart from the sent one only while they
// differ (Project::acked_differs): two records of a task in flight, confirmed
// in either order, store the one confirmed last.
TEST_F(EngineOutputsTest, TheRecordConfirmedLastIsStoredWhenTwoAreInFlight) {
  for (const bool older_confirmed_last : {false, true}) {
    SCOPED_TRACE(older_confirmed_last ? "older confirmed last" : "newer confirmed last");
    Restart();
    Assign(0);
    const std::string task = older_confirmed_last ? "late" : "in-order";
    Answer(task, "w1", "a");
    Commit();
    Sweep();
    const std::vector<OutputRecord> older = CollectAll();
    ASSERT_THAT(Keys(older), ElementsAre("p/" + task));
    for (const char* w : {"w2", "w3"}) Answer(task, w, "b");
    Commit();
    Sweep();
    const std::vector<OutputRecord> newer = CollectAll();
    ASSERT_THAT(Keys(newer), ElementsAre("p/" + task));
    if (older_confirmed_last) {
      Deliver(newer);
      Deliver(older);
    } else {
      Deliver(older);
      Deliver(newer);
    }
    ASSERT_TRUE(engine_->PersistPublished().ok());
    Restart();
    Assign(0);
    if (older_confirmed_last) {
      EXPECT_THAT(Keys(CollectAll()), Contains("p/" + task)) << "stored: the older label";
    } else {
      EXPECT_THAT(Keys(CollectAll()), Not(Contains("p/" + task)));
    }
  }
}

// A failed delivery after a confirmed one: the confirmed record stays stored.
TEST_F(EngineOutputsTest, AFailedNewerRecordKeepsTheOlderConfirmation) {
  Assign(0);
  Answer("t1", "w1", "a");
  Commit();
  Sweep();
  Deliver(CollectAll());
  for (const char* w : {"w2", "w3"}) Answer("t1", w, "b");
  Commit();
  Sweep();
  Deliver(CollectAll(), /*delivered=*/false);
  for (const char* w : {"w2", "w3"}) Retract("t1", w);
  Commit();
  Sweep();
  // Back to the confirmed label: sent again (the failure asked for it), and
  // once that is confirmed a restart sends nothing.
  const std::vector<OutputRecord> again = CollectAll();
  EXPECT_THAT(Keys(again), ElementsAre("p/t1"));
  Deliver(again);
  ASSERT_TRUE(engine_->PersistPublished().ok());
  Restart();
  Assign(0);
  EXPECT_THAT(CollectAll(), IsEmpty());
}

TEST_F(EngineOutputsTest, TasksOfAnUnassignedPartitionWaitForItsAssignment) {
  Assign(0);
  Answer("t0", "w1", "a", /*partition=*/0);
  Answer("t1", "w1", "a", /*partition=*/1);
  Commit();
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t0"));
  Assign(1);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t1"));
}

TEST_F(EngineOutputsTest, AfterRestartOnlyAssignedPartitionsArePublished) {
  Answer("t0", "w1", "a", 0);
  Answer("t1", "w1", "a", 1);
  Answer("t2", "w1", "b", 2);
  Commit();
  Restart();
  Assign(0);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t0"));
  Assign(2);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t2"));
}

TEST_F(EngineOutputsTest, RevokedPartitionsTasksAreNoLongerPublished) {
  Assign(0);
  Assign(1);
  Answer("t0", "w1", "a", 0);
  Answer("t1", "w1", "a", 1);
  Commit();
  ASSERT_TRUE(engine_->Revoke(1).ok());
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t0"));
}

// Regression (fixed): a task that leaves review without a record (same label,
// confidence moved less than min_change) keeps its stored "published with
// review" flag, since only delivered records are stored. When it needs review
// again, its review record is collected; if the process stops before that
// record is confirmed, the restart restores review=true and never sends it:
// the review topic loses the event (outputs are at-least-once, SPEC 6).
TEST_F(EngineOutputsTest, ReviewRecordLostInACrashIsSentAfterTheRestart) {
  Settings().review.min_answers = 3;
  Settings().review.min_confidence = 0.9999999;
  Settings().min_change = 0.5;
  Assign(0);
  // Workers who disagree elsewhere, so that t's confidence stays below 1.
  Answer("u1", "w1", "a");
  Answer("u1", "w2", "b");
  Answer("u1", "w3", "a");
  Answer("u1", "w4", "b");
  Answer("u2", "w1", "b");
  Answer("u2", "w2", "b");
  Answer("u2", "w3", "a");
  Answer("u2", "w4", "a");
  Answer("t", "w1", "a");
  Answer("t", "w2", "a");
  Answer("t", "w3", "b");
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t")->needs_review);
  const std::vector<OutputRecord> entered = CollectAll();
  ASSERT_THAT(Keys(entered, Topic::kReview), Contains("p/t"));
  Deliver(entered);
  Commit();

  Retract("t", "w3");  // two answers: below review.min_answers
  Commit();
  ASSERT_FALSE(engine_->Task(kProject, "t")->needs_review);
  ASSERT_EQ(engine_->Task(kProject, "t")->label, "a");
  EXPECT_THAT(Keys(CollectAll()), Not(Contains("p/t")));

  Answer("t", "w4", "b");  // needs review again
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t")->needs_review);
  ASSERT_EQ(engine_->Task(kProject, "t")->label, "a");
  ASSERT_THAT(Keys(CollectAll(), Topic::kReview), Contains("p/t"));  // collected, never confirmed

  Restart();
  Assign(0);
  ASSERT_TRUE(engine_->Task(kProject, "t")->needs_review);
  EXPECT_THAT(Keys(CollectAll(), Topic::kReview), Contains("p/t"));
}

}  // namespace
}  // namespace consensusd::engine

namespace consensusd::engine {
namespace {

// Review (helper-5): a task that left review through a label change (a
// consensus record, no review record) must not keep a stored review flag,
// or after a restart its next need for review would send nothing.
TEST_F(EngineOutputsTest, LeavingReviewWithALabelChangeIsStoredSoTheNextReviewIsSent) {
  Settings().review.min_answers = 2;
  Settings().review.min_confidence = 0.9;
  Assign(0);
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "b");  // a split: needs review
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t1")->needs_review);
  Deliver(CollectAll());
  for (const char* w : {"w3", "w4", "w5", "w6"}) Answer("t1", w, "b");  // clearly b now
  Commit();
  ASSERT_FALSE(engine_->Task(kProject, "t1")->needs_review);
  Deliver(CollectAll());
  Commit();  // stores what was confirmed
  Restart();
  Assign(0);
  Deliver(CollectAll());
  for (const char* w : {"w7", "w8", "w9", "w10"}) Answer("t1", w, "a");  // split again
  Commit();
  ASSERT_TRUE(engine_->Task(kProject, "t1")->needs_review);
  EXPECT_THAT(Keys(CollectAll(), Topic::kReview), ElementsAre("p/t1"));
}

// Review (helper-5): what this instance sent for a partition it lost is
// stale (another instance published since), so a partition that comes back
// publishes its tasks once again.
TEST_F(EngineOutputsTest, APartitionThatComesBackPublishesItsTasksAgain) {
  Assign(0);
  Answer("t1", "w1", "a");
  Commit();
  Deliver(CollectAll());
  ASSERT_TRUE(engine_->Revoke(0).ok());
  Assign(0);
  EXPECT_THAT(Keys(CollectAll()), ElementsAre("p/t1"));
}

}  // namespace
}  // namespace consensusd::engine
