// Engine: the per-vote update of pairwise and rating projects between sweeps
// (engine/live_vote_fit.h). A vote moves its task's estimate at once, by the
// batch fit's formulas at the last sweep's parameters; a retraction undoes
// it; a sweep replaces every estimate with the batch fit.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "consensus/pairwise.h"
#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

class EngineLiveVotesTest : public EngineTest {
 protected:
  void Vote(std::string_view task, std::string_view worker, std::string_view left,
            std::string_view right, std::string_view label) {
    LabelEvent e = Event(LabelEvent::Kind::kAnswer, "pw", task, worker, label);
    e.answer_kind = ProjectKind::kPairwise;
    e.left = left;
    e.right = right;
    ASSERT_FALSE(Send(0, e).has_value());
  }
  void Rate(std::string_view task, std::string_view worker, double rating) {
    LabelEvent e = Event(LabelEvent::Kind::kAnswer, "rt", task, worker, "");
    e.answer_kind = ProjectKind::kRating;
    e.rating = rating;
    ASSERT_FALSE(Send(0, e).has_value());
  }
  void RetractIn(std::string_view project, std::string_view task, std::string_view worker) {
    LabelEvent e = Event(LabelEvent::Kind::kRetract, project, task, worker, "");
    e.answer_kind = ProjectKind::kUnset;
    ASSERT_FALSE(Send(0, e).has_value());
  }
  // a beats b beats c, with an upset and a tie; then a sweep.
  void FeedTournamentAndSweep() {
    const char* workers[] = {"w1", "w2", "w3", "w4", "w5"};
    int i = 0;
    for (const char* w : workers) {
      Vote("ab", w, "a", "b", i == 3 ? "right" : "left");
      Vote("bc", w, "c", "b", i == 4 ? "tie" : "b");
      Vote("ac", w, "a", "c", "a");
      ++i;
    }
    for (int k = 0; k < 4; ++k) Rate("t1", "r" + std::to_string(k), 3 + k % 2);
    for (int k = 0; k < 4; ++k) Rate("t2", "r" + std::to_string(k), 6);
    Commit();
    Sweep();
  }
  VoteTaskView Task(std::string_view project, std::string_view task) {
    std::optional<VoteTaskView> v = engine_->VoteTask(project, task);
    EXPECT_TRUE(v.has_value()) << task;
    return v.value_or(VoteTaskView{});
  }
  // item -> (score, votes) from the leaderboard view.
  std::map<std::string, LeaderboardItem> Board() {
    absl::StatusOr<LeaderboardView> b = engine_->Leaderboard("pw");
    EXPECT_TRUE(b.ok()) << b.status();
    std::map<std::string, LeaderboardItem> items;
    if (b.ok()) {
      for (const LeaderboardItem& i : b->items) items[i.item] = i;
    }
    return items;
  }
  double TieNu() { return engine_->Leaderboard("pw")->tie_nu; }
  const RaterRow* Rater(const RatersView& v, std::string_view worker) {
    for (const RaterRow& r : v.raters) {
      if (r.worker == worker) return &r;
    }
    return nullptr;
  }
};

TEST_F(EngineLiveVotesTest, VoteAfterASweepMovesItsTaskTowardTheVoteByTheBatchFormula) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("pw", "ab");
  const auto board_before = Board();
  ASSERT_FALSE(before.updated_since_sweep);
  Vote("ab", "w9", "b", "a", "left");  // shown the other way round: b wins
  const VoteTaskView after = Task("pw", "ab");
  EXPECT_TRUE(after.fitted);
  EXPECT_TRUE(after.updated_since_sweep);
  EXPECT_LT(after.p_left, before.p_left);
  EXPECT_GT(after.p_right, before.p_right);
  EXPECT_NEAR(after.p_left + after.p_right + after.p_tie, 1.0, 1e-12);
  const auto board = Board();
  EXPECT_LT(board.at("a").score, board_before.at("a").score);
  EXPECT_GT(board.at("b").score, board_before.at("b").score);
  EXPECT_EQ(board.at("c").score, board_before.at("c").score);
  EXPECT_EQ(board.at("a").votes, board_before.at("a").votes + 1);
  EXPECT_EQ(board.at("b").votes, board_before.at("b").votes + 1);
  EXPECT_EQ(board.at("a").low, board_before.at("a").low);  // intervals wait for the sweep
  // The task's consensus is the batch fit's, at the items' current scores.
  double q[consensus::kOutcomes];
  consensus::ComparisonPosterior(board.at("a").score - board.at("b").score, std::log(TieNu()), q);
  EXPECT_NEAR(after.p_left, q[consensus::kLeft], 1e-12);
  EXPECT_NEAR(after.p_right, q[consensus::kRight], 1e-12);
  EXPECT_NEAR(after.p_tie, q[consensus::kTie], 1e-12);
  // The tasks sharing an item move too.
  EXPECT_TRUE(Task("pw", "ac").updated_since_sweep);
  EXPECT_TRUE(Task("pw", "bc").updated_since_sweep);
}

TEST_F(EngineLiveVotesTest, ReplacedVoteMovesItsTaskTheOtherWay) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("pw", "ab");
  Vote("ab", "w1", "a", "b", "right");  // w1 voted left before the sweep
  const VoteTaskView after = Task("pw", "ab");
  EXPECT_LT(after.p_left, before.p_left);
  EXPECT_EQ(Board().at("a").votes, 10);  // replaced, not added
}

TEST_F(EngineLiveVotesTest, RetractedVoteRestoresTheTaskViewAndLeaderboard) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("pw", "ab");
  const auto board_before = Board();
  Vote("ab", "w9", "a", "b", "right");
  ASSERT_NE(Task("pw", "ab").p_left, before.p_left);
  RetractIn("pw", "ab", "w9");
  const VoteTaskView after = Task("pw", "ab");
  EXPECT_EQ(after.p_left, before.p_left);
  EXPECT_EQ(after.p_right, before.p_right);
  EXPECT_EQ(after.p_tie, before.p_tie);
  EXPECT_FALSE(after.updated_since_sweep);
  for (const auto& [item, i] : board_before) {
    EXPECT_EQ(Board().at(item).score, i.score) << item;
    EXPECT_EQ(Board().at(item).votes, i.votes) << item;
  }
}

TEST_F(EngineLiveVotesTest, RetractingAFittedVoteMovesItsTaskAway) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("pw", "ab");
  RetractIn("pw", "ab", "w1");  // a "left" vote
  EXPECT_LT(Task("pw", "ab").p_left, before.p_left);
  EXPECT_EQ(Board().at("b").votes, 9);
  EXPECT_EQ(Rater(*engine_->Raters("pw"), "w1")->votes, 2);
}

TEST_F(EngineLiveVotesTest, NewItemAppearsBeforeAnySweepWithAnUnknownInterval) {
  Vote("xy", "w1", "x", "y", "left");
  Vote("xy", "w2", "y", "x", "right");
  const auto board = Board();
  ASSERT_EQ(board.size(), 2u);
  EXPECT_GT(board.at("x").score, 0.0);
  EXPECT_LT(board.at("y").score, 0.0);
  EXPECT_EQ(board.at("x").votes, 2);
  EXPECT_EQ(board.at("x").low, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(board.at("x").high, std::numeric_limits<double>::infinity());
  EXPECT_EQ(board.at("x").tied_group, 0);
  EXPECT_EQ(engine_->Leaderboard("pw")->items[0].item, "x");
  const VoteTaskView t = Task("pw", "xy");
  EXPECT_TRUE(t.fitted);
  EXPECT_EQ(t.left, "x");
  EXPECT_GT(t.p_left, t.p_right);
  EXPECT_EQ(t.consensus, "left");
}

TEST_F(EngineLiveVotesTest, NewItemAfterASweepFollowsTheFittedOnes) {
  FeedTournamentAndSweep();
  Vote("ad", "w1", "a", "d", "right");
  absl::StatusOr<LeaderboardView> b = engine_->Leaderboard("pw");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->items.size(), 4u);
  EXPECT_EQ(b->items[3].item, "d");
  EXPECT_GT(b->items[3].score, 0.0);
  EXPECT_EQ(b->items[3].votes, 1);
  EXPECT_TRUE(b->updated_since_sweep);
  EXPECT_GT(Task("pw", "ad").p_right, Task("pw", "ad").p_left);
}

TEST_F(EngineLiveVotesTest, SweepReplacesTheUpdatesWithTheBatchFit) {
  FeedTournamentAndSweep();
  Vote("ab", "w9", "a", "b", "right");
  Commit();
  const double live = Task("pw", "ab").p_left;
  Sweep();
  const VoteTaskView swept = Task("pw", "ab");
  EXPECT_FALSE(swept.updated_since_sweep);
  EXPECT_FALSE(engine_->Leaderboard("pw")->updated_since_sweep);
  EXPECT_NE(swept.p_left, live);  // the refit moves every parameter, not only two scores
}

TEST_F(EngineLiveVotesTest, RatingAfterASweepUpdatesItsTaskByTheBatchPosterior) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("rt", "t1");
  absl::StatusOr<RatersView> raters = engine_->Raters("rt");
  ASSERT_TRUE(raters.ok());
  const RaterRow r0 = *Rater(*raters, "r0");
  RetractIn("rt", "t1", "r0");  // r0 rated t1 3; now 5
  EXPECT_EQ(Rater(*engine_->Raters("rt"), "r0")->votes, 1);
  Rate("t1", "r0", 5);
  const VoteTaskView after = Task("rt", "t1");
  EXPECT_TRUE(after.updated_since_sweep);
  EXPECT_GT(after.rating, before.rating);
  // mu | ratings ~ N: precision 1/sd^2 + tau, mean (mu/sd^2 + tau (y - b)) / precision,
  // from the fit's posterior with r0's old term taken out.
  const double tau = 1 / (r0.noise_sd * r0.noise_sd);
  const double precision = 1 / (before.sd * before.sd);
  const double weighted = before.rating * precision - tau * (3 - r0.bias) + tau * (5 - r0.bias);
  EXPECT_NEAR(after.rating, weighted / precision, 1e-9);
  EXPECT_NEAR(after.sd, before.sd, 1e-9);
  EXPECT_EQ(Rater(*engine_->Raters("rt"), "r0")->votes, 2);
}

TEST_F(EngineLiveVotesTest, NewRatingAddsItsTermAndItsRetractionRestoresTheTask) {
  FeedTournamentAndSweep();
  const VoteTaskView before = Task("rt", "t2");
  Rate("t2", "r9", 1);
  const VoteTaskView after = Task("rt", "t2");
  EXPECT_LT(after.rating, before.rating);
  EXPECT_LT(after.sd, before.sd);
  RetractIn("rt", "t2", "r9");
  const VoteTaskView restored = Task("rt", "t2");
  EXPECT_EQ(restored.rating, before.rating);
  EXPECT_EQ(restored.sd, before.sd);
  EXPECT_FALSE(restored.updated_since_sweep);
}

TEST_F(EngineLiveVotesTest, TaskFirstRatedAfterASweepGetsAnEstimate) {
  FeedTournamentAndSweep();
  Rate("t3", "r1", 6);
  const VoteTaskView t = Task("rt", "t3");
  EXPECT_TRUE(t.fitted);
  EXPECT_TRUE(t.updated_since_sweep);
  EXPECT_GT(t.rating, 4.0);
  EXPECT_LE(t.rating, 6.0);
}

}  // namespace
}  // namespace consensusd::engine
