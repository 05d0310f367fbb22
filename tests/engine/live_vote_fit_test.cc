// LiveVoteFit and Project's vote changes: the per-vote step is the batch
// fit's E-step and one Newton step on each item's score from the fit; votes
// applied while a sweep fits its copy are applied again to the new fit;
// an excluded worker's votes change nothing.

#include "engine/live_vote_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "consensus/pairwise.h"
#include "engine/project.h"

namespace consensusd::engine {
namespace {

class LiveVoteFitTest : public ::testing::Test {
 protected:
  LiveVoteFitTest() : project_("pw", ProjectSettings{}) { project_.kind = ProjectKind::kPairwise; }

  // Puts the vote, as the engine does, and returns it.
  VoteSet::Vote Put(std::string_view task, std::string_view worker, std::string_view left,
                    std::string_view right, consensus::Outcome outcome) {
    VoteSet& votes = project_.votes;
    const int32_t t = votes.InternTask(task);
    const VoteSet::Vote vote{.worker = votes.InternWorker(worker), .left = votes.InternItem(left),
                             .right = votes.InternItem(right), .outcome = outcome};
    std::optional<VoteSet::Vote> removed;
    for (const VoteSet::Vote& v : votes.TaskVotes(t)) {
      if (v.worker == vote.worker) removed = v;
    }
    votes.Put(t, 0, vote);
    project_.ApplyVoteChange(t, removed ? &*removed : nullptr, &vote);
    return vote;
  }
  void Tournament() {
    const char* workers[] = {"w1", "w2", "w3", "w4"};
    for (const char* w : workers) {
      Put("ab", w, "a", "b", consensus::kLeft);
      Put("bc", w, "b", "c", consensus::kLeft);
      Put("ac", w, "a", "c", w[1] == '4' ? consensus::kTie : consensus::kLeft);
    }
  }
  // What a sweep does: the copy (the changes after it are kept), the fit, the install.
  std::shared_ptr<VoteReport> Copy() {
    auto report = std::make_shared<VoteReport>();
    report->kind = ProjectKind::kPairwise;
    report->comparisons = project_.votes.CanonicalComparisons(&report->names);
    project_.vote_changes.clear();
    project_.sweep_copying = true;
    return report;
  }
  void FitAndInstall(std::shared_ptr<VoteReport> report) {
    consensus::PairwiseOptions options;
    options.bootstrap = 0;
    absl::StatusOr<consensus::PairwiseModel> m = consensus::FitPairwise(report->comparisons, options);
    ASSERT_TRUE(m.ok()) << m.status();
    report->pairwise = *std::move(m);
    project_.InstallVoteFit(std::move(report));
  }
  int32_t Item(std::string_view name) const { return project_.votes.items().Find(name); }
  int32_t FitItem(std::string_view name) const { return project_.live.FitItem(Item(name)); }

  Project project_;
};

TEST_F(LiveVoteFitTest, AfterASweepEveryScoreIsTheFitsExactly) {
  Tournament();
  FitAndInstall(Copy());
  const consensus::PairwiseModel& m = project_.vote_report->pairwise;
  for (const char* item : {"a", "b", "c"}) {
    EXPECT_EQ(project_.live.Score(Item(item)), m.score[FitItem(item)]) << item;
    EXPECT_FALSE(project_.live.Moved(Item(item)));
  }
  EXPECT_EQ(project_.live.log_tie_nu(), m.log_tie_nu);
}

TEST_F(LiveVoteFitTest, OneVoteIsTheBatchEStepAndOneNewtonStepOnEachItem) {
  Tournament();
  FitAndInstall(Copy());
  const consensus::PairwiseModel& m = project_.vote_report->pairwise;
  const int32_t r = 1;  // w2 in the fit (workers in bytewise order)
  ASSERT_EQ(project_.vote_report->names.workers[r], "w2");
  Put("cb", "w2", "c", "b", consensus::kLeft);  // a new comparison, shown c left: c wins
  const int32_t b = FitItem("b"), c = FitItem("c");
  double p[consensus::kOutcomes], likelihood, g, h;
  consensus::Davidson(m.score[c] - m.score[b] + m.position_bias[r], m.tie_nu, p);
  const double careful = consensus::CarefulPosterior(p[consensus::kLeft], m.reliability[r],
                                                     m.careless_answers[3 * r + consensus::kLeft], &likelihood);
  consensus::DavidsonScoreTerms(careful, consensus::kLeft, p, &g, &h);
  EXPECT_GT(g, 0);
  EXPECT_NEAR(project_.live.Score(Item("c")), m.score[c] + g / (m.score_curvature[c] + h), 1e-12);
  EXPECT_NEAR(project_.live.Score(Item("b")), m.score[b] - g / (m.score_curvature[b] + h), 1e-12);
  EXPECT_EQ(project_.live.Score(Item("a")), m.score[FitItem("a")]);
}

TEST_F(LiveVoteFitTest, VotesDuringASweepAreAppliedAgainToItsFit) {
  Tournament();
  FitAndInstall(Copy());
  std::shared_ptr<VoteReport> report = Copy();
  Put("ab", "w9", "a", "b", consensus::kRight);  // after the copy, before the install
  const double b_before_install = project_.live.Score(Item("b"));
  FitAndInstall(report);
  EXPECT_TRUE(project_.live.Moved(Item("b")));
  EXPECT_GT(project_.live.Score(Item("b")), project_.vote_report->pairwise.score[FitItem("b")]);
  EXPECT_EQ(project_.live.ItemVotes(Item("b")), 9);
  // The new fit is of the same copy as the last one, so the same step again.
  EXPECT_EQ(project_.live.Score(Item("b")), b_before_install);
  EXPECT_TRUE(project_.vote_changes.empty());
  EXPECT_FALSE(project_.sweep_copying);
}

TEST_F(LiveVoteFitTest, ExcludedWorkersVotesChangeNothing) {
  Tournament();
  FitAndInstall(Copy());
  ASSERT_TRUE(project_.votes.SetExcluded(project_.votes.InternWorker("w9"), true));
  Put("ab", "w9", "a", "b", consensus::kRight);
  EXPECT_FALSE(project_.live.Moved(Item("a")));
  EXPECT_EQ(project_.live.ItemVotes(Item("a")), 8);
}

}  // namespace
}  // namespace consensusd::engine
