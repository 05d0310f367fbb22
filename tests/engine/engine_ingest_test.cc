// Engine ingest: Apply + EndMessage + Commit store answers, gold, retractions
// and offsets in one write; what a restart restores; rejections; the
// answers_committed counter; a failed commit.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

// (worker, label) of each answer of the task, in the view's order.
std::vector<std::pair<std::string, std::string>> AnswersOf(const std::optional<TaskView>& t) {
  std::vector<std::pair<std::string, std::string>> out;
  if (t) {
    for (const TaskAnswerView& a : t->answers) out.emplace_back(a.worker, a.label);
  }
  return out;
}

using Pair = std::pair<std::string, std::string>;

class EngineIngestTest : public EngineTest {
 protected:
  int64_t StoredAnswers(int32_t partition = -1) {
    int64_t n = 0;
    absl::Status s = store_->ForEachAnswer(partition, [&](const storage::StoredAnswer&) { ++n; });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }
  std::optional<int64_t> StoredOffset(int32_t partition) {
    absl::StatusOr<std::optional<int64_t>> offset = store_->Offset(kTopic, partition);
    EXPECT_TRUE(offset.ok()) << offset.status();
    return offset.ok() ? *offset : std::nullopt;
  }
};

TEST_F(EngineIngestTest, CommitStoresAnswersWithTheOffsetsOfTheirPartitions) {
  Answer("t1", "w1", "a", /*partition=*/0);
  Answer("t1", "w2", "a", 0);
  Answer("t1", "w3", "b", 0);
  Answer("t2", "w1", "b", /*partition=*/1);
  Answer("t2", "w2", "b", 1);
  EXPECT_EQ(StoredAnswers(), 0);
  EXPECT_EQ(Commit(), 5);
  EXPECT_EQ(StoredAnswers(0), 3);
  EXPECT_EQ(StoredAnswers(1), 2);
  EXPECT_THAT(StoredOffset(0), Optional(3));
  EXPECT_THAT(StoredOffset(1), Optional(2));
}

TEST_F(EngineIngestTest, RestartRestoresTheSameLabels) {
  for (const char* task : {"t1", "t2", "t3", "t4"}) {
    Answer(task, "w1", "a");
    Answer(task, "w2", task[1] % 2 ? "a" : "b");
    Answer(task, "w3", "b");
  }
  Commit();
  Sweep();
  const std::map<std::string, Consensus> before = ConsensusOf();
  ASSERT_EQ(before.size(), 4u);
  Restart();
  const std::map<std::string, Consensus> after = ConsensusOf();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [task, consensus] : before) {
    EXPECT_EQ(after.at(task).first, consensus.first) << task;
    EXPECT_NEAR(after.at(task).second, consensus.second, 1e-9) << task;
  }
}

TEST_F(EngineIngestTest, UncommittedAnswersAreNotStored) {
  Answer("t1", "w1", "a");
  Restart();
  EXPECT_EQ(engine_->Task(kProject, "t1"), std::nullopt);
  EXPECT_EQ(StoredOffset(0), std::nullopt);
}

TEST_F(EngineIngestTest, LaterAnswerOfTheSameWorkerReplacesTheEarlierOne) {
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "b");
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
  EXPECT_EQ(StoredAnswers(), 1);
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
}

TEST_F(EngineIngestTest, ReplacementInALaterCommitReplacesTheStoredAnswer) {
  Answer("t1", "w1", "a");
  Commit();
  Answer("t1", "w1", "b");
  Commit();
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
}

TEST_F(EngineIngestTest, RetractionRemovesTheWorkersAnswer) {
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "b");
  Commit();
  Retract("t1", "w1");
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w2", "b")));
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w2", "b")));
}

// Issue 9: what consensusd_answers_applied_total counts. A retraction of an
// answer never seen changes nothing, and gold declarations are not answers.
TEST_F(EngineIngestTest, OnlyAnswersAndEffectiveRetractionsCountAsApplied) {
  Retract("t1", "w9");
  EXPECT_EQ(Commit(), 0);
  Gold("t1", "a");
  EXPECT_EQ(Commit(), 0);
  Answer("t1", "w1", "a");
  EXPECT_EQ(Commit(), 1);
  Retract("t1", "w1");
  EXPECT_EQ(Commit(), 1);
}

TEST_F(EngineIngestTest, TaskWithEveryAnswerRetractedIsNotListed) {
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "a");
  Commit();
  Retract("t1", "w1");
  Commit();
  absl::StatusOr<Page<TaskView>> page = engine_->Tasks(kProject, "", 10, -1);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 1);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].task, "t2");
  Restart();
  EXPECT_EQ(engine_->Task(kProject, "t1"), std::nullopt);
}

TEST_F(EngineIngestTest, GoldFixesTheLabelAndIsStored) {
  Answer("t1", "w1", "b");
  Gold("t1", "a");
  Commit();
  std::optional<TaskView> t = engine_->Task(kProject, "t1");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->gold, "a");
  EXPECT_EQ(t->label, "a");
  Restart();
  t = engine_->Task(kProject, "t1");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->gold, "a");
  EXPECT_EQ(t->label, "a");
}

TEST_F(EngineIngestTest, GoldAloneListsTheTask) {
  Gold("t1", "a");
  Commit();
  absl::StatusOr<Page<TaskView>> page = engine_->Tasks(kProject, "", 10, -1);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 1);
}

TEST_F(EngineIngestTest, DeclaredClassesRejectAnAnswerWithAnotherClass) {
  Settings().classes = {"cat", "dog"};
  std::optional<EngineRejection> r = Answer("t1", "w1", "cow");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, RejectReason::kUnknownClass);
  EXPECT_THAT(r->detail, HasSubstr("cow"));
  EXPECT_EQ(Commit(), 0);
  EXPECT_EQ(engine_->Task(kProject, "t1"), std::nullopt);
}

TEST_F(EngineIngestTest, DeclaredClassesRejectGoldWithAnotherClass) {
  Settings().classes = {"cat", "dog"};
  std::optional<EngineRejection> r = Gold("t1", "cow");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, RejectReason::kUnknownClass);
}

TEST_F(EngineIngestTest, DeclaredClassesKeepTheirOrderAndAcceptTheirMembers) {
  Settings().classes = {"cat", "dog"};
  EXPECT_EQ(Answer("t1", "w1", "dog"), std::nullopt);
  EXPECT_EQ(Answer("t1", "w2", "cat"), std::nullopt);
  Commit();
  std::optional<ProjectView> v = engine_->ProjectDetail(kProject);
  ASSERT_TRUE(v.has_value());
  EXPECT_THAT(v->classes, ElementsAre("cat", "dog"));
  EXPECT_TRUE(v->declared_classes);
  Restart();
  EXPECT_THAT(engine_->ProjectDetail(kProject)->classes, ElementsAre("cat", "dog"));
}

TEST_F(EngineIngestTest, DiscoveredClassesKeepFirstSeenOrderAcrossRestarts) {
  Answer("t1", "w1", "zebra");
  Answer("t1", "w2", "ant");
  Commit();
  Restart();
  EXPECT_THAT(engine_->ProjectDetail(kProject)->classes, ElementsAre("zebra", "ant"));
}

TEST_F(EngineIngestTest, ClassBeyondMaxClassesIsRejected) {
  Settings().model.max_classes = 2;
  EXPECT_EQ(Answer("t1", "w1", "a"), std::nullopt);
  EXPECT_EQ(Answer("t1", "w2", "b"), std::nullopt);
  std::optional<EngineRejection> r = Answer("t1", "w3", "c");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, RejectReason::kTooManyClasses);
  EXPECT_FALSE(r->detail.empty());
  EXPECT_EQ(Commit(), 2);
  EXPECT_THAT(engine_->ProjectDetail(kProject)->classes, ElementsAre("a", "b"));
  EXPECT_EQ(Answer("t2", "w1", "b"), std::nullopt);  // a known class still goes in
}

TEST_F(EngineIngestTest, RejectedElementStillAdvancesTheOffset) {
  Settings().classes = {"cat"};
  ASSERT_TRUE(Answer("t1", "w1", "cow").has_value());
  Commit();
  EXPECT_THAT(StoredOffset(0), Optional(1));
}

TEST_F(EngineIngestTest, AnswersCommittedCountsAnswersAndEffectiveRetractions) {
  Answer("t1", "w1", "a");          // 1
  Answer("t1", "w2", "b");          // 1
  Gold("t2", "a");                  // gold: not an answer
  Retract("t1", "w1");              // 1: removes an answer
  Retract("t1", "w9");              // no such answer
  Retract("no-such-task", "w1");    // no such task
  EXPECT_EQ(Commit(), 3);
  EXPECT_EQ(engine_->answers_committed(), 3);
  Answer("t3", "w1", "a");
  EXPECT_EQ(Commit(), 1);
  EXPECT_EQ(engine_->answers_committed(), 4);
}

TEST_F(EngineIngestTest, RetractionOfAnAlreadyRetractedAnswerIsNotCounted) {
  Answer("t1", "w1", "a");
  Commit();
  Retract("t1", "w1");
  Retract("t1", "w1");
  EXPECT_EQ(Commit(), 1);
}

TEST_F(EngineIngestTest, EmptyCommitWritesNothing) {
  EXPECT_EQ(Commit(), 0);
  EXPECT_EQ(StoredOffset(0), std::nullopt);
}

TEST_F(EngineIngestTest, FailedCommitReturnsTheErrorAndStoresNothing) {
  Answer("t1", "w1", "a");
  store_->SetCommitFaultForTesting(DiskFull);
  absl::StatusOr<int64_t> n = engine_->Commit(*batch_);
  ASSERT_FALSE(n.ok());
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("injected: disk full"));
  EXPECT_EQ(engine_->answers_committed(), 0);
  EXPECT_EQ(StoredAnswers(), 0);
  EXPECT_EQ(StoredOffset(0), std::nullopt);
}

TEST_F(EngineIngestTest, FailedCommitKeepsTheBatchSoThatARetrySucceeds) {
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "a");
  store_->SetCommitFaultForTesting(DiskFull);
  ASSERT_FALSE(engine_->Commit(*batch_).ok());
  EXPECT_FALSE(batch_->empty());
  store_->SetCommitFaultForTesting(nullptr);
  EXPECT_EQ(Commit(), 2);
  EXPECT_EQ(engine_->answers_committed(), 2);
  EXPECT_TRUE(batch_->empty());
  EXPECT_THAT(StoredOffset(0), Optional(2));
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              UnorderedElementsAre(Pair("w1", "a"), Pair("w2", "a")));
}

TEST_F(EngineIngestTest, ProjectsAreIndependent) {
  AnswerIn("p1", 0, "t", "w1", "a");
  AnswerIn("p2", 0, "t", "w1", "b");
  Commit();
  EXPECT_EQ(engine_->Task("p1", "t")->label, "a");
  EXPECT_EQ(engine_->Task("p2", "t")->label, "b");
  std::vector<std::string> names;
  for (const ProjectSummary& s : engine_->Projects()) names.push_back(s.project);
  EXPECT_THAT(names, ElementsAre("p1", "p2"));
}

TEST_F(EngineIngestTest, BatchCountsItsMessagesUntilCommitted) {
  EXPECT_TRUE(batch_->empty());
  Answer("t1", "w1", "a");
  Retract("t9", "w9");
  EXPECT_EQ(batch_->messages(), 2);
  EXPECT_FALSE(batch_->empty());
  Commit();
  EXPECT_EQ(batch_->messages(), 0);
  EXPECT_TRUE(batch_->empty());
}

TEST_F(EngineIngestTest, CommitCountsAppliedAnswersPerProjectInTheMetrics) {
  AnswerIn("p1", 0, "t1", "w1", "a");
  AnswerIn("p1", 0, "t1", "w2", "a");
  AnswerIn("p2", 0, "t1", "w1", "a");
  Commit();
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("consensusd_answers_applied_total{project=\"p1\"} 2"));
  EXPECT_THAT(text, HasSubstr("consensusd_answers_applied_total{project=\"p2\"} 1"));
}

TEST_F(EngineIngestTest, LabelsListsTheConsensusOfEveryListedTask) {
  Answer("t1", "w1", "a");
  Answer("t2", "w1", "b");
  Answer("t3", "w1", "a");
  Commit();
  Retract("t3", "w1");
  Commit();
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> labels = engine_->Labels(kProject);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(*labels, UnorderedElementsAre(Pair("t1", "a"), Pair("t2", "b")));
  EXPECT_TRUE(absl::IsNotFound(engine_->Labels("nope").status()));
}

TEST_F(EngineIngestTest, AnswersCopyHoldsEveryAnswerWithItsNames) {
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "b");
  Answer("t2", "w2", "b");
  Gold("t2", "a");
  Commit();
  absl::StatusOr<Engine::AnswersCopy> copy = engine_->Answers(kProject);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->matrix.num_answers(), 3);
  EXPECT_THAT(copy->tasks, ElementsAre("t1", "t2"));
  EXPECT_THAT(copy->workers, ElementsAre("w1", "w2"));
  EXPECT_THAT(copy->classes, ElementsAre("a", "b"));
  EXPECT_EQ(copy->matrix.gold[1], 0);  // t2: gold "a"
  EXPECT_TRUE(absl::IsNotFound(engine_->Answers("nope").status()));
}

}  // namespace
}  // namespace consensusd::engine
