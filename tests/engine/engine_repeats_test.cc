// Engine under a project's `repeats: count` (docs/configuration.md): a
// worker's second answer to a task is one more answer, stored and restored;
// a retraction removes all of them; a replayed message is not counted again;
// a project switched back to replace with stored repeats is refused.

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
using ::testing::UnorderedElementsAre;

using Pair = std::pair<std::string, std::string>;

std::vector<Pair> AnswersOf(const std::optional<TaskView>& t) {
  std::vector<Pair> out;
  if (t) {
    for (const TaskAnswerView& a : t->answers) out.emplace_back(a.worker, a.label);
  }
  return out;
}

class EngineRepeatsTest : public EngineTest {
 protected:
  EngineRepeatsTest() { Settings().model.repeats = consensus::DuplicatePolicy::kKeepAll; }

  // One message at its offset, as the consume loop hands it over (the
  // fixture's Send leaves the offset unknown).
  void SendAt(int32_t partition, int64_t offset, LabelEvent e) {
    e.offset = offset;
    engine_->Apply(*batch_, partition, e);
    engine_->EndMessage(*batch_, partition, offset + 1, /*fallback_event_ms=*/-1);
  }
  // The messages of a topic partition, in order; Stream(from) sends [from, end).
  void Stream(const std::vector<LabelEvent>& messages, int64_t from = 0) {
    for (int64_t i = from; i < static_cast<int64_t>(messages.size()); ++i) {
      SendAt(0, i, messages[i]);
    }
  }
  static LabelEvent A(std::string_view task, std::string_view worker, std::string_view label) {
    return Event(LabelEvent::Kind::kAnswer, kProject, task, worker, label);
  }
  static LabelEvent R(std::string_view task, std::string_view worker) {
    return Event(LabelEvent::Kind::kRetract, kProject, task, worker, "");
  }
  // Restarts and takes partition 0 as the consume loop does (its stored offset).
  void RestartAndAssign() {
    Restart();
    Assign(0);
  }
  int64_t AnswerCount(std::string_view task) {
    return static_cast<int64_t>(AnswersOf(engine_->Task(kProject, task)).size());
  }
};

TEST_F(EngineRepeatsTest, SecondAnswerOfAWorkerIsOneMoreAnswer) {
  Answer("t1", "w1", "b");
  Answer("t1", "w2", "a");
  Answer("t1", "w1", "b");
  Answer("t1", "w3", "a");
  Answer("t1", "w1", "b");
  EXPECT_EQ(Commit(), 5);
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              ElementsAre(Pair("w1", "b"), Pair("w2", "a"), Pair("w1", "b"), Pair("w3", "a"),
                          Pair("w1", "b")));
}

TEST_F(EngineRepeatsTest, RepeatsSurviveARestart) {
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "b");
  Commit();
  Answer("t1", "w1", "c");
  Answer("t1", "w2", "a");
  Commit();
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              UnorderedElementsAre(Pair("w1", "a"), Pair("w1", "b"), Pair("w1", "c"),
                                   Pair("w2", "a")));
}

TEST_F(EngineRepeatsTest, RetractionRemovesEveryAnswerOfTheWorkerToTheTask) {
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "b");
  Answer("t1", "w2", "b");
  Answer("t2", "w1", "a");
  Commit();
  Retract("t1", "w1");
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w2", "b")));
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w2", "b")));
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t2")), ElementsAre(Pair("w1", "a")));
}

TEST_F(EngineRepeatsTest, AnswersAfterARetractionStartAgain) {
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "a");
  Retract("t1", "w1");
  Answer("t1", "w1", "b");
  Commit();
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
}

// A replay from the beginning (serve --replay, or a rebuilt partition) sends
// the committed messages again: under count they must not add answers.
TEST_F(EngineRepeatsTest, ReplayAfterRestartDoesNotCountTwice) {
  const std::vector<LabelEvent> topic = {A("t1", "w1", "a"), A("t1", "w1", "a"),
                                         A("t1", "w2", "b"), A("t2", "w1", "b")};
  Stream(topic);
  Commit();
  RestartAndAssign();
  ASSERT_EQ(AnswerCount("t1"), 3);
  Stream(topic);  // the whole partition again
  Commit();
  EXPECT_EQ(AnswerCount("t1"), 3);
  EXPECT_EQ(AnswerCount("t2"), 1);
  Restart();
  EXPECT_EQ(AnswerCount("t1"), 3);
}

TEST_F(EngineRepeatsTest, ReplayCountsOnlyTheMessagesAfterTheStoredOffset) {
  std::vector<LabelEvent> topic = {A("t1", "w1", "a"), A("t1", "w1", "b")};
  Stream(topic);
  Commit();
  RestartAndAssign();
  topic.push_back(A("t1", "w1", "b"));  // produced while the service was down
  Stream(topic);
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              ElementsAre(Pair("w1", "a"), Pair("w1", "b"), Pair("w1", "b")));
}

// Re-applying an old retraction out of order would remove a later answer.
TEST_F(EngineRepeatsTest, ReplayedRetractionDoesNotRemoveALaterAnswer) {
  const std::vector<LabelEvent> topic = {A("t1", "w1", "a"), R("t1", "w1"), A("t1", "w1", "b")};
  Stream(topic);
  Commit();
  RestartAndAssign();
  Stream(topic);
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
}

// Without the stored offset (a crash before the commit) the messages are
// applied: the state did not hold them.
TEST_F(EngineRepeatsTest, UncommittedMessagesAreAppliedOnTheirRedelivery) {
  const std::vector<LabelEvent> topic = {A("t1", "w1", "a"), A("t1", "w1", "a")};
  Stream(topic);
  Commit();
  Stream({A("t1", "w1", "b")}, 0);  // offset 0 again, but into a batch never committed
  RestartAndAssign();
  std::vector<LabelEvent> more = topic;
  more.push_back(A("t1", "w1", "b"));
  Stream(more, 2);
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              ElementsAre(Pair("w1", "a"), Pair("w1", "a"), Pair("w1", "b")));
}

TEST_F(EngineRepeatsTest, ReplaceProjectStillReplacesOnAReplay) {
  Settings().model.repeats = consensus::DuplicatePolicy::kKeepLast;
  const std::vector<LabelEvent> topic = {A("t1", "w1", "a"), A("t1", "w1", "b")};
  Stream(topic);
  Commit();
  RestartAndAssign();
  Stream(topic);
  Commit();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")), ElementsAre(Pair("w1", "b")));
}

TEST_F(EngineRepeatsTest, SwitchingToReplaceWithStoredRepeatsIsRefused) {
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "b");
  Commit();
  Settings().model.repeats = consensus::DuplicatePolicy::kKeepLast;
  engine_.reset();
  store_.reset();
  OpenStore();
  engine_ = MakeEngine();
  const absl::Status s = engine_->Restore();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("projects.p.repeats: count"));
}

TEST_F(EngineRepeatsTest, SwitchingFromReplaceKeepsTheStoredAnswers) {
  Settings().model.repeats = consensus::DuplicatePolicy::kKeepLast;
  Answer("t1", "w1", "a");
  Answer("t1", "w1", "b");
  Commit();
  Settings().model.repeats = consensus::DuplicatePolicy::kKeepAll;
  Restart();
  Answer("t1", "w1", "c");
  Commit();
  Restart();
  EXPECT_THAT(AnswersOf(engine_->Task(kProject, "t1")),
              ElementsAre(Pair("w1", "b"), Pair("w1", "c")));
}

}  // namespace
}  // namespace consensusd::engine
