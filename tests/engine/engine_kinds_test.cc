// Engine: pairwise and rating projects (SPEC 3.1a). Kinds declared or fixed
// by the first answer, wrong_kind, out_of_scale, item_mismatch; replacement
// and retraction; votes stored with the offsets and restored; sweeps that
// depend only on the set of votes; the leaderboard, raters and task views.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/leaderboard_record.h"
#include "nlohmann/json.hpp"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

class EngineKindsTest : public EngineTest {
 protected:
  std::optional<EngineRejection> Vote(std::string_view project, std::string_view task,
                                      std::string_view worker, std::string_view left,
                                      std::string_view right, std::string_view label,
                                      int32_t partition = 0) {
    LabelEvent e = Event(LabelEvent::Kind::kAnswer, project, task, worker, label);
    e.answer_kind = ProjectKind::kPairwise;
    e.left = left;
    e.right = right;
    return Send(partition, e);
  }
  std::optional<EngineRejection> Rate(std::string_view project, std::string_view task,
                                      std::string_view worker, double rating,
                                      int32_t partition = 0) {
    LabelEvent e = Event(LabelEvent::Kind::kAnswer, project, task, worker, "");
    e.answer_kind = ProjectKind::kRating;
    e.rating = rating;
    return Send(partition, e);
  }
  std::optional<EngineRejection> RetractIn(std::string_view project, std::string_view task,
                                           std::string_view worker) {
    LabelEvent e = Event(LabelEvent::Kind::kRetract, project, task, worker, "");
    e.answer_kind = ProjectKind::kUnset;
    return Send(0, e);
  }
  int64_t StoredVotes() {
    int64_t n = 0;
    absl::Status s = store_->ForEachVote(-1, [&](const storage::StoredVote&) { ++n; });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }
  std::string ReasonOf(const std::optional<EngineRejection>& r) {
    return r ? std::string(ReasonCode(r->reason)) : "applied";
  }
  // A small tournament: a beats b beats c, with a few upsets.
  void FeedTournament(std::string_view project, bool reversed = false) {
    struct Row { const char* task; const char* worker; const char* l; const char* r; const char* label; };
    std::vector<Row> rows;
    const char* workers[] = {"w1", "w2", "w3", "w4", "w5"};
    int i = 0;
    for (const char* w : workers) {
      rows.push_back({"ab", w, "a", "b", i % 4 == 3 ? "right" : "left"});
      rows.push_back({"bc", w, "c", "b", i % 5 == 4 ? "tie" : "b"});
      rows.push_back({"ac", w, "a", "c", "a"});
      ++i;
    }
    if (reversed) std::reverse(rows.begin(), rows.end());
    for (const Row& r : rows) ASSERT_EQ(ReasonOf(Vote(project, r.task, r.worker, r.l, r.r, r.label)), "applied");
  }
};

TEST_F(EngineKindsTest, FirstAnswerFixesTheKindAndOthersAreWrongKind) {
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w1", "a", "b", "left")), "applied");
  EXPECT_EQ(engine_->KindOf("pw"), ProjectKind::kPairwise);
  EXPECT_EQ(ReasonOf(AnswerIn("pw", 0, "c1", "w2", "yes")), "wrong_kind");
  EXPECT_EQ(ReasonOf(Rate("pw", "c1", "w2", 3)), "wrong_kind");
  EXPECT_EQ(ReasonOf(AnswerIn("cat", 0, "t1", "w1", "yes")), "applied");
  EXPECT_EQ(ReasonOf(Vote("cat", "t1", "w1", "a", "b", "left")), "wrong_kind");
  std::optional<EngineRejection> r = Rate("cat", "t1", "w1", 3);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->detail, HasSubstr("project 'cat' is categorical, not a rating answer"));
}

TEST_F(EngineKindsTest, DeclaredKindRejectsTheOtherKinds) {
  Settings("rt").kind = ProjectKind::kRating;
  EXPECT_EQ(ReasonOf(AnswerIn("rt", 0, "t1", "w1", "yes")), "wrong_kind");
  EXPECT_EQ(ReasonOf(Vote("rt", "t1", "w1", "a", "b", "left")), "wrong_kind");
  EXPECT_EQ(ReasonOf(Send(0, Event(LabelEvent::Kind::kGold, "rt", "t1", "", "5"))), "wrong_kind");
  EXPECT_EQ(ReasonOf(Rate("rt", "t1", "w1", 4)), "applied");
}

TEST_F(EngineKindsTest, RejectedFirstAnswerLeavesTheKindOpen) {
  Settings("rt").scale = std::pair(1.0, 7.0);
  EXPECT_EQ(ReasonOf(Rate("rt", "t1", "w1", 9)), "out_of_scale");
  EXPECT_EQ(engine_->KindOf("rt"), ProjectKind::kUnset);
  EXPECT_EQ(ReasonOf(AnswerIn("rt", 0, "t1", "w1", "x")), "applied");
}

TEST_F(EngineKindsTest, RatingOutsideTheScaleIsOutOfScale) {
  Settings("rt").kind = ProjectKind::kRating;
  Settings("rt").scale = std::pair(1.0, 7.0);
  std::optional<EngineRejection> r = Rate("rt", "t1", "w1", 7.5);
  ASSERT_TRUE(r);
  EXPECT_EQ(ReasonOf(r), "out_of_scale");
  EXPECT_THAT(r->detail, HasSubstr("rating 7.5 is outside the scale [1, 7]"));
  EXPECT_EQ(ReasonOf(Rate("rt", "t1", "w1", 1)), "applied");
  EXPECT_EQ(ReasonOf(Rate("rt", "t1", "w2", 7)), "applied");
}

TEST_F(EngineKindsTest, PairwiseLabelMustNameAnOutcomeOrAnItem) {
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w1", "a", "b", "b")), "applied");
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w2", "a", "b", "TIE")), "applied");
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w3", "a", "b", "c")), "unknown_class");
}

TEST_F(EngineKindsTest, VoteOnATaskOfOtherItemsIsItemMismatch) {
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w1", "a", "b", "left")), "applied");
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w2", "b", "a", "left")), "applied");  // swapped: the same pair
  EXPECT_EQ(ReasonOf(Vote("pw", "c1", "w3", "a", "c", "left")), "item_mismatch");
}

TEST_F(EngineKindsTest, LaterVoteReplacesAndRetractionRemoves) {
  Vote("pw", "c1", "w1", "a", "b", "left");
  Vote("pw", "c1", "w1", "a", "b", "right");
  Vote("pw", "c1", "w2", "a", "b", "left");
  EXPECT_EQ(Commit(), 3);
  EXPECT_EQ(StoredVotes(), 2);
  std::optional<VoteTaskView> t = engine_->VoteTask("pw", "c1");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->answers.size(), 2u);
  EXPECT_EQ(t->answers[0].worker, "w1");
  EXPECT_EQ(t->answers[0].label, "right");
  EXPECT_EQ(ReasonOf(RetractIn("pw", "c1", "w1")), "applied");
  EXPECT_EQ(Commit(), 1);
  EXPECT_EQ(StoredVotes(), 1);
  EXPECT_EQ(engine_->VoteTask("pw", "c1")->answers.size(), 1u);
}

TEST_F(EngineKindsTest, VotesCommitWithTheirOffsets) {
  Rate("rt", "t1", "w1", 3, /*partition=*/2);
  Rate("rt", "t1", "w2", 4, 2);
  EXPECT_EQ(StoredVotes(), 0);
  EXPECT_EQ(Commit(), 2);
  EXPECT_EQ(StoredVotes(), 2);
  absl::StatusOr<std::optional<int64_t>> offset = store_->Offset(kTopic, 2);
  ASSERT_TRUE(offset.ok());
  EXPECT_THAT(*offset, Optional(2));
}

TEST_F(EngineKindsTest, RestartRestoresVotesKindAndTheSameFit) {
  FeedTournament("pw");
  Rate("rt", "t1", "w1", 3);
  Rate("rt", "t1", "w2", 5);
  Commit();
  Sweep();
  absl::StatusOr<LeaderboardView> before = engine_->Leaderboard("pw");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->items.size(), 3u);
  Restart();
  EXPECT_EQ(engine_->KindOf("pw"), ProjectKind::kPairwise);
  EXPECT_EQ(engine_->KindOf("rt"), ProjectKind::kRating);
  EXPECT_EQ(ReasonOf(AnswerIn("pw", 0, "x", "w1", "yes")), "wrong_kind");
  absl::StatusOr<LeaderboardView> after = engine_->Leaderboard("pw");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->items.size(), before->items.size());
  for (size_t i = 0; i < after->items.size(); ++i) {
    EXPECT_EQ(after->items[i].item, before->items[i].item);
    EXPECT_DOUBLE_EQ(after->items[i].score, before->items[i].score);
    EXPECT_DOUBLE_EQ(after->items[i].low, before->items[i].low);
  }
  std::optional<VoteTaskView> t = engine_->VoteTask("rt", "t1");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->fitted);
  EXPECT_GE(t->rating, 3);
  EXPECT_LE(t->rating, 5);
}

TEST_F(EngineKindsTest, SweepDependsOnlyOnTheSetOfVotes) {
  FeedTournament("forward");
  FeedTournament("backward", /*reversed=*/true);
  Commit();
  Sweep();
  absl::StatusOr<LeaderboardView> f = engine_->Leaderboard("forward");
  absl::StatusOr<LeaderboardView> b = engine_->Leaderboard("backward");
  ASSERT_TRUE(f.ok() && b.ok());
  ASSERT_EQ(f->items.size(), 3u);
  EXPECT_EQ(f->items[0].item, "a");
  EXPECT_EQ(f->items[2].item, "c");
  for (size_t i = 0; i < f->items.size(); ++i) {
    EXPECT_EQ(f->items[i].item, b->items[i].item);
    EXPECT_EQ(f->items[i].score, b->items[i].score);
    EXPECT_EQ(f->items[i].high, b->items[i].high);
  }
}

TEST_F(EngineKindsTest, BootstrapReplicatesComeFromTheProjectSettings) {
  Settings("none").bootstrap = 0;
  FeedTournament("none");
  FeedTournament("some");
  Commit();
  Sweep();
  absl::StatusOr<LeaderboardView> none = engine_->Leaderboard("none");
  absl::StatusOr<LeaderboardView> some = engine_->Leaderboard("some");
  ASSERT_TRUE(none.ok() && some.ok());
  EXPECT_EQ(none->bootstrap, 0);
  EXPECT_EQ(some->bootstrap, 100);
  for (const LeaderboardItem& i : none->items) EXPECT_EQ(i.low, i.score) << i.item;
  EXPECT_LT(some->items[0].low, some->items[0].high);
}

TEST_F(EngineKindsTest, RatersAndTaskViewsAfterASweep) {
  FeedTournament("pw");
  Commit();
  Sweep();
  absl::StatusOr<RatersView> raters = engine_->Raters("pw");
  ASSERT_TRUE(raters.ok()) << raters.status();
  ASSERT_EQ(raters->raters.size(), 5u);
  EXPECT_EQ(raters->raters[0].worker, "w1");
  EXPECT_EQ(raters->raters[0].votes, 3);
  EXPECT_GT(raters->raters[0].reliability, 0.5);
  std::optional<VoteTaskView> t = engine_->VoteTask("pw", "ab");
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->fitted);
  EXPECT_NEAR(t->p_left + t->p_right + t->p_tie, 1.0, 1e-9);
  EXPECT_GT(t->p_left, t->p_right);
  EXPECT_EQ(t->consensus, "left");
  EXPECT_FALSE(engine_->Leaderboard("nope").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(engine_->Raters("none-yet").status()) ||
              absl::IsNotFound(engine_->Raters("none-yet").status()));
}

TEST_F(EngineKindsTest, RevokedPartitionDropsItsVotesAndAssignReloadsThem) {
  Assign(0);
  Assign(1);
  Vote("pw", "c0", "w1", "a", "b", "left", /*partition=*/0);
  Vote("pw", "c1", "w1", "a", "c", "left", /*partition=*/1);
  Commit();
  ASSERT_TRUE(engine_->Revoke(1).ok());
  EXPECT_TRUE(engine_->VoteTask("pw", "c0"));
  EXPECT_FALSE(engine_->VoteTask("pw", "c1"));
  Assign(1);
  ASSERT_TRUE(engine_->VoteTask("pw", "c1"));
  EXPECT_EQ(engine_->VoteTask("pw", "c1")->answers.size(), 1u);
}

TEST_F(EngineKindsTest, SweepPublishesEachFittedTaskOnceUntilItChanges) {
  Assign(0);
  FeedTournament("pw");
  Rate("rt", "t1", "w1", 3);
  Rate("rt", "t1", "w2", 5);
  Commit();
  Sweep();
  std::vector<OutputRecord> records = CollectAll();
  std::map<std::string, std::string> by_key;
  for (const OutputRecord& r : records) by_key[r.key] = r.value;
  ASSERT_EQ(by_key.size(), 5u);  // ab, ac, bc, t1 and pw's leaderboard
  EXPECT_THAT(by_key.at("pw/ab"), HasSubstr(R"("kind":"pairwise","left":"a","right":"b","p_left":)"));
  EXPECT_THAT(by_key.at("pw/ab"), HasSubstr(R"("consensus":"left","votes":5,"updated_ms":)"));
  EXPECT_THAT(by_key.at("rt/t1"), HasSubstr(R"("project":"rt","task":"t1","kind":"rating","rating":)"));
  EXPECT_THAT(by_key.at("rt/t1"), HasSubstr(R"("ratings":2,)"));
  Deliver(records);
  Sweep();
  EXPECT_TRUE(CollectAll().empty()) << "nothing changed";
  // One rater's two upsets move P(left) of ab.
  Vote("pw", "ab", "w1", "a", "b", "right");
  Vote("pw", "ab", "w2", "a", "b", "right");
  Commit();
  Sweep();
  records = CollectAll();
  ASSERT_FALSE(records.empty());
  bool ab = false;
  for (const OutputRecord& r : records) ab = ab || r.key == "pw/ab";
  EXPECT_TRUE(ab);
  Deliver(records, /*delivered=*/false);
  std::vector<OutputRecord> again = CollectAll();
  EXPECT_EQ(again.size(), records.size()) << "failed deliveries are sent again";
}

TEST_F(EngineKindsTest, RestartPublishesOnlyWhatChangedSinceTheLastConfirmedRecords) {
  Assign(0);
  FeedTournament("pw");
  Commit();
  Sweep();
  std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(records.size(), 4u);  // ab, ac, bc and the leaderboard
  Deliver(records);
  Commit();  // stores what Kafka confirmed
  Restart();
  Assign(0);
  EXPECT_TRUE(CollectAll().empty()) << "the restart sent unchanged tasks again";
  Vote("pw", "ab", "w1", "a", "b", "right");
  Vote("pw", "ab", "w2", "a", "b", "right");
  Commit();
  Sweep();
  EXPECT_FALSE(CollectAll().empty());
}

TEST_F(EngineKindsTest, RestoringPartitionPublishesNothingUntilReady) {
  absl::StatusOr<std::optional<int64_t>> offset = engine_->Assign(0);
  ASSERT_TRUE(offset.ok());
  FeedTournament("pw");
  Commit();
  Sweep();
  EXPECT_TRUE(CollectAll().empty());
  engine_->SetPartitionReady(0, true);
  EXPECT_EQ(CollectAll().size(), 4u);  // ab, ac, bc and the leaderboard
}

// The leaderboard snapshot (docs/api.md, "Kafka").
std::optional<OutputRecord> LeaderboardRecord(const std::vector<OutputRecord>& records,
                                              const std::string& project) {
  for (const OutputRecord& r : records) {
    if (r.key == project + "//leaderboard") return r;
  }
  return std::nullopt;
}

TEST_F(EngineKindsTest, LeaderboardSnapshotEqualsTheLeaderboardView) {
  Assign(0);
  FeedTournament("pw");
  Commit();
  Sweep();
  const std::optional<OutputRecord> record = LeaderboardRecord(CollectAll(), "pw");
  ASSERT_TRUE(record);
  const nlohmann::json j = nlohmann::json::parse(record->value);
  const absl::StatusOr<LeaderboardView> view = engine_->Leaderboard("pw");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(j["project"], "pw");
  EXPECT_EQ(j["kind"], "pairwise");
  EXPECT_EQ(j["record"], "leaderboard");
  EXPECT_EQ(j["votes"], 15);
  EXPECT_EQ(j["bootstrap"], view->bootstrap);
  EXPECT_EQ(j["tie_nu"].get<double>(), view->tie_nu);
  EXPECT_EQ(j["swept_ms"], view->fit.unix_ms);
  EXPECT_TRUE(j["updated_ms"].is_number_integer());
  ASSERT_EQ(j["items"].size(), view->items.size());
  for (size_t k = 0; k < view->items.size(); ++k) {
    const nlohmann::json& i = j["items"][k];
    const LeaderboardItem& v = view->items[k];
    EXPECT_EQ(i["item"], v.item);
    EXPECT_EQ(i["score"].get<double>(), v.score) << v.item;  // the same double, not just close
    EXPECT_EQ(i["low"].get<double>(), v.low) << v.item;
    EXPECT_EQ(i["high"].get<double>(), v.high) << v.item;
    EXPECT_EQ(i["rank"], v.rank);
    EXPECT_EQ(i["tied_group"], v.tied_group);
    EXPECT_EQ(i["votes"], v.votes);
  }
  EXPECT_EQ(j["items"][0]["item"], "a");
}

TEST_F(EngineKindsTest, LeaderboardKeyIsNeverATaskKey) {
  EXPECT_EQ(LeaderboardKey("pw"), "pw//leaderboard");
  EXPECT_EQ(LeaderboardKey("a/b%"), "a%2Fb%25//leaderboard");
  Assign(0);
  Vote("pw", "leaderboard", "w1", "a", "b", "left");
  Commit();
  Sweep();
  std::map<std::string, int> keys;
  for (const OutputRecord& r : CollectAll()) ++keys[r.key];
  EXPECT_EQ(keys, (std::map<std::string, int>{{"pw/leaderboard", 1}, {"pw//leaderboard", 1}}));
}

TEST_F(EngineKindsTest, LeaderboardSnapshotIsSentAgainOnlyWhenItChangesOrItsDeliveryFailed) {
  Assign(0);
  FeedTournament("pw");
  Commit();
  Sweep();
  std::vector<OutputRecord> records = CollectAll();
  ASSERT_TRUE(LeaderboardRecord(records, "pw"));
  Deliver(records);
  Sweep();  // the same votes, the same leaderboard
  EXPECT_FALSE(LeaderboardRecord(CollectAll(), "pw"));
  Vote("pw", "bc", "w1", "c", "b", "c");
  Commit();
  Sweep();
  records = CollectAll();
  const std::optional<OutputRecord> changed = LeaderboardRecord(records, "pw");
  ASSERT_TRUE(changed);
  Deliver(records, /*delivered=*/false);
  const std::optional<OutputRecord> again = LeaderboardRecord(CollectAll(), "pw");
  ASSERT_TRUE(again) << "a failed delivery is sent again";
  EXPECT_EQ(again->ticket.fingerprint, changed->ticket.fingerprint);
}

TEST_F(EngineKindsTest, RestartSendsTheLeaderboardAgainOnlyIfItsLastOneWasNotConfirmed) {
  Assign(0);
  FeedTournament("pw");
  FeedTournament("unconfirmed");
  Commit();
  Sweep();
  std::vector<OutputRecord> confirmed;
  for (OutputRecord& r : CollectAll()) {
    if (r.key.starts_with("pw")) confirmed.push_back(std::move(r));  // the other is lost in flight
  }
  Deliver(confirmed);
  Commit();  // stores what Kafka confirmed
  Restart();
  Assign(0);
  std::vector<OutputRecord> records = CollectAll();
  EXPECT_FALSE(LeaderboardRecord(records, "pw")) << "unchanged and confirmed";
  EXPECT_TRUE(LeaderboardRecord(records, "unconfirmed"));
}

TEST_F(EngineKindsTest, RatingProjectsHaveNoLeaderboardSnapshot) {
  Assign(0);
  Rate("rt", "t1", "w1", 3);
  Commit();
  Sweep();
  const std::vector<OutputRecord> records = CollectAll();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, "rt/t1");
}

TEST_F(EngineKindsTest, ExcludedRaterIsLeftOutOfTheFitAcrossRestartsUntilIncluded) {
  FeedTournament("with");
  FeedTournament("without");
  Vote("with", "ab", "spammer", "a", "b", "right");
  Vote("with", "bc", "spammer", "b", "c", "right");
  Commit();
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded("with", "spammer", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->worker.answers, 2);
  EXPECT_FALSE(engine_->SetExcluded("with", "nobody", true).ok());
  auto same_board = [&] {
    absl::StatusOr<LeaderboardView> a = engine_->Leaderboard("with");
    absl::StatusOr<LeaderboardView> b = engine_->Leaderboard("without");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->items.size(), b->items.size());
    for (size_t i = 0; i < a->items.size(); ++i) {
      EXPECT_EQ(a->items[i].item, b->items[i].item);
      EXPECT_EQ(a->items[i].score, b->items[i].score);
    }
  };
  Sweep();
  same_board();
  absl::StatusOr<RatersView> raters = engine_->Raters("with");
  ASSERT_TRUE(raters.ok());
  ASSERT_EQ(raters->raters.size(), 6u);
  EXPECT_EQ(raters->raters.back().worker, "spammer");
  EXPECT_TRUE(raters->raters.back().excluded);
  EXPECT_EQ(raters->raters.back().votes, 2);
  Restart();
  same_board();
  ASSERT_TRUE(engine_->SetExcluded("with", "spammer", false).ok());
  absl::StatusOr<LeaderboardView> back = engine_->Leaderboard("with");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->fit.votes, 17);
}

TEST_F(EngineKindsTest, CategoricalRetractionBeforeAnyAnswerLeavesTheKindOpen) {
  EXPECT_EQ(ReasonOf(RetractIn("open", "t1", "w1")), "applied");
  EXPECT_EQ(engine_->KindOf("open"), ProjectKind::kUnset);
  EXPECT_EQ(ReasonOf(Rate("open", "t1", "w1", 2)), "applied");
}

}  // namespace
}  // namespace consensusd::engine
