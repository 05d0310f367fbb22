// Engine::SetExcluded: the flag is stored first, so a failed write changes
// nothing; then the model changes and a sweep runs.
//
// The fixture's project: five tasks where g1..g3 agree on "b" (g3 once says
// "a"), and "x-only", answered by worker x alone. x's answer counts in its
// posterior until x is excluded; then the posterior is the class prior.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::HasSubstr;

class EngineExclusionTest : public EngineTest {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) {
      const std::string t = "t" + std::to_string(i);
      Answer(t, "g1", "b");
      Answer(t, "g2", "b");
      Answer(t, "g3", i == 4 ? "a" : "b");
    }
    Answer("x-only", "x", "a");
    Commit();
  }

  std::vector<std::pair<std::string, double>> Posterior(const std::string& task) {
    std::optional<TaskView> t = engine_->Task(kProject, task);
    EXPECT_TRUE(t.has_value()) << task;
    return t ? t->posterior : std::vector<std::pair<std::string, double>>{};
  }
  bool Excluded(const std::string& worker) { return engine_->Worker(kProject, worker)->excluded; }
};

TEST_F(EngineExclusionTest, FailedWriteReturnsAnErrorAndChangesNothing) {
  const std::map<std::string, Consensus> before = ConsensusOf();
  const auto posterior_before = Posterior("x-only");
  store_->SetCommitFaultForTesting(DiskFull);
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("exclusion"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("injected: disk full"));
  EXPECT_FALSE(Excluded("x"));
  EXPECT_EQ(ConsensusOf(), before);
  EXPECT_EQ(Posterior("x-only"), posterior_before);
  EXPECT_FALSE(engine_->Task(kProject, "x-only")->answers[0].excluded);
}

TEST_F(EngineExclusionTest, FailedWriteIsNotStored) {
  store_->SetCommitFaultForTesting(DiskFull);
  ASSERT_FALSE(engine_->SetExcluded(kProject, "x", true).ok());
  store_->SetCommitFaultForTesting(nullptr);
  Restart();
  EXPECT_FALSE(Excluded("x"));
}

TEST_F(EngineExclusionTest, RetryAfterAFailedWriteSucceeds) {
  store_->SetCommitFaultForTesting(DiskFull);
  ASSERT_FALSE(engine_->SetExcluded(kProject, "x", true).ok());
  store_->SetCommitFaultForTesting(nullptr);
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_TRUE(Excluded("x"));
}

TEST_F(EngineExclusionTest, ExclusionMarksTheWorkerAndRunsASweep) {
  ASSERT_FALSE(engine_->ProjectDetail(kProject)->last_sweep.has_value());
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_TRUE(r->worker.excluded);
  EXPECT_EQ(r->worker.worker, "x");
  EXPECT_EQ(r->worker.project, kProject);
  EXPECT_TRUE(Excluded("x"));
  EXPECT_TRUE(engine_->ProjectDetail(kProject)->last_sweep.has_value());
  EXPECT_TRUE(engine_->Task(kProject, "x-only")->answers[0].excluded);
}

TEST_F(EngineExclusionTest, ExcludedWorkersAnswersStopCounting) {
  Sweep();
  const auto counted = Posterior("x-only");
  ASSERT_TRUE(engine_->SetExcluded(kProject, "x", true).ok());
  const auto posterior = Posterior("x-only");
  EXPECT_NE(posterior, counted);
  const std::vector<std::pair<std::string, double>> prior =
      engine_->ProjectDetail(kProject)->class_priors;
  ASSERT_EQ(posterior.size(), prior.size());
  // The task's E-step ran during the sweep; the class priors moved on by
  // the sweep's tolerance after it (hds: the population follows the
  // exclusion), far less than one counted answer would move it.
  for (size_t k = 0; k < prior.size(); ++k) {
    EXPECT_EQ(posterior[k].first, prior[k].first);
    EXPECT_NEAR(posterior[k].second, prior[k].second, 1e-6) << prior[k].first;
  }
}

TEST_F(EngineExclusionTest, RepeatingAnExclusionChangesNothing) {
  ASSERT_TRUE(engine_->SetExcluded(kProject, "x", true).ok());
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->changed);
  EXPECT_TRUE(r->worker.excluded);
}

TEST_F(EngineExclusionTest, IncludingAnIncludedWorkerChangesNothing) {
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->changed);
  EXPECT_FALSE(r->worker.excluded);
}

TEST_F(EngineExclusionTest, IncludingAgainRestoresTheSweptPosteriors) {
  Sweep();
  const std::map<std::string, Consensus> before = ConsensusOf();
  ASSERT_TRUE(engine_->SetExcluded(kProject, "x", true).ok());
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "x", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_FALSE(Excluded("x"));
  const std::map<std::string, Consensus> after = ConsensusOf();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [task, consensus] : before) {
    EXPECT_EQ(after.at(task).first, consensus.first) << task;
    EXPECT_NEAR(after.at(task).second, consensus.second, 1e-9) << task;
  }
}

TEST_F(EngineExclusionTest, ExclusionSurvivesARestart) {
  ASSERT_TRUE(engine_->SetExcluded(kProject, "x", true).ok());
  Restart();
  EXPECT_TRUE(Excluded("x"));
  EXPECT_TRUE(engine_->Task(kProject, "x-only")->answers[0].excluded);
}

TEST_F(EngineExclusionTest, UnknownWorkerIsNotFound) {
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded(kProject, "nobody", true);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nobody"));
}

TEST_F(EngineExclusionTest, UnknownProjectIsNotFound) {
  absl::StatusOr<Engine::ExclusionResult> r = engine_->SetExcluded("nope", "x", true);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nope"));
}

}  // namespace
}  // namespace consensusd::engine
