// Engine sweeps: Recompute, SweepAll (the result depends only on the answers,
// not on their order), and RunSweeps sweeping a new project soon after its
// first commit.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::HasSubstr;

using Clock = std::chrono::steady_clock;

// (task, worker, label): 12 tasks, 5 workers of varying quality, 3 classes.
std::vector<std::tuple<std::string, std::string, std::string>> SomeAnswers() {
  const char* classes[] = {"a", "b", "c"};
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  for (int t = 0; t < 12; ++t) {
    const int truth = t % 3;
    for (int w = 0; w < 5; ++w) {
      const int label = (w < 3 || (t + w) % 4 != 0) ? truth : (truth + w) % 3;
      out.emplace_back("t" + std::to_string(t), "w" + std::to_string(w), classes[label]);
    }
  }
  return out;
}

class EngineSweepsTest : public EngineTest {};

TEST_F(EngineSweepsTest, ProjectHasNoLastSweepBeforeItsFirstSweep) {
  Answer("t1", "w1", "a");
  Commit();
  std::optional<ProjectView> v = engine_->ProjectDetail(kProject);
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->swept);
  EXPECT_FALSE(v->last_sweep.has_value());
}

TEST_F(EngineSweepsTest, RecomputeReturnsTheProjectWithItsLastSweep) {
  for (const auto& [t, w, l] : SomeAnswers()) Answer(t, w, l);
  Commit();
  absl::StatusOr<ProjectView> v = engine_->Recompute(kProject);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->swept);
  ASSERT_TRUE(v->last_sweep.has_value());
  EXPECT_EQ(v->last_sweep->tasks, 12);
  EXPECT_EQ(v->last_sweep->answers, 60);
  EXPECT_GE(v->last_sweep->iterations, 1);
  EXPECT_GT(v->last_sweep->unix_ms, 0);
  EXPECT_TRUE(engine_->ProjectDetail(kProject)->last_sweep.has_value());
}

TEST_F(EngineSweepsTest, RecomputeOfAnUnknownProjectIsNotFound) {
  absl::StatusOr<ProjectView> v = engine_->Recompute("nope");
  EXPECT_TRUE(absl::IsNotFound(v.status())) << v.status();
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("nope"));
}

TEST_F(EngineSweepsTest, SweptLabelsEqualThoseOfAFreshRestore) {
  // Replacements and retractions on the way, so the live model has history.
  for (const auto& [t, w, l] : SomeAnswers()) Answer(t, w, l == "a" ? "b" : "a");
  Commit();
  for (const auto& [t, w, l] : SomeAnswers()) Answer(t, w, l);
  Answer("t0", "w9", "c");
  Commit();
  Retract("t0", "w9");
  Commit();
  Sweep();
  const std::map<std::string, Consensus> live = ConsensusOf();
  Restart();
  const std::map<std::string, Consensus> restored = ConsensusOf();
  ASSERT_EQ(restored.size(), live.size());
  for (const auto& [task, consensus] : live) {
    EXPECT_EQ(restored.at(task).first, consensus.first) << task;
    EXPECT_NEAR(restored.at(task).second, consensus.second, 1e-9) << task;
  }
}

TEST_F(EngineSweepsTest, SweptLabelsDoNotDependOnTheOrderOfTheAnswers) {
  std::vector<std::tuple<std::string, std::string, std::string>> answers = SomeAnswers();
  for (const auto& [t, w, l] : answers) Answer(t, w, l);
  Commit();
  Sweep();
  const std::map<std::string, Consensus> in_order = ConsensusOf();

  std::shuffle(answers.begin(), answers.end(), std::mt19937(7));
  for (const auto& [t, w, l] : answers) AnswerIn("shuffled", 0, t, w, l);
  Commit();
  Sweep();
  const std::map<std::string, Consensus> shuffled = ConsensusOf("shuffled");
  ASSERT_EQ(shuffled.size(), in_order.size());
  for (const auto& [task, consensus] : in_order) {
    EXPECT_EQ(shuffled.at(task).first, consensus.first) << task;
    EXPECT_NEAR(shuffled.at(task).second, consensus.second, 1e-9) << task;
  }
}

TEST_F(EngineSweepsTest, SweepsAreCountedInTheMetrics) {
  Answer("t1", "w1", "a");
  Commit();
  ASSERT_TRUE(engine_->Recompute(kProject).ok());
  ASSERT_TRUE(engine_->Recompute(kProject).ok());
  EXPECT_THAT(metrics_.Render(), HasSubstr("consensusd_em_sweeps_total{project=\"p\"} 2"));
}

TEST_F(EngineSweepsTest, SweepAllGivesEveryProjectAReport) {
  AnswerIn("p1", 0, "t", "w", "a");
  AnswerIn("p2", 0, "t", "w", "a");
  Commit();
  Sweep();
  for (const ProjectSummary& s : engine_->Projects()) EXPECT_TRUE(s.swept) << s.project;
}

TEST_F(EngineSweepsTest, RunSweepsSweepsANewProjectSoonAfterItsFirstCommit) {
  std::atomic<bool> stop{false};
  std::thread sweeps([&] { engine_->RunSweeps(stop); });  // interval: 60 s
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Answer("t1", "w1", "a");
  Answer("t1", "w2", "a");
  Commit();
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  bool swept = false;
  while (!swept && Clock::now() < deadline) {
    swept = engine_->ProjectDetail(kProject)->swept;
    if (!swept) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(swept);
  std::optional<WorkerView> w = engine_->Worker(kProject, "w1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->answers, 1);

  const auto stopping = Clock::now();
  stop = true;
  engine_->WakeSweeps();
  sweeps.join();
  EXPECT_LT(Clock::now() - stopping, std::chrono::seconds(1));
}

TEST_F(EngineSweepsTest, RunSweepsLeavesASweptProjectAloneUntilTheInterval) {
  Answer("t1", "w1", "a");
  Commit();
  Sweep();
  ASSERT_EQ(engine_->ProjectDetail(kProject)->last_sweep->answers, 1);
  std::atomic<bool> stop{false};
  std::thread sweeps([&] { engine_->RunSweeps(stop); });
  Answer("t1", "w2", "a");
  Commit();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  engine_->WakeSweeps();
  sweeps.join();
  EXPECT_EQ(engine_->ProjectDetail(kProject)->last_sweep->answers, 1);  // not swept again
}

TEST_F(EngineSweepsTest, RunSweepsWaitsWhileAPartitionRestoresThenSweeps) {
  options_.sweep_interval_s = 0.05;
  engine_ = MakeEngine();
  Assign(0);
  Answer("t1", "w1", "a");
  Commit();
  Sweep();
  ASSERT_EQ(engine_->ProjectDetail(kProject)->last_sweep->answers, 1);
  ASSERT_TRUE(engine_->Assign(1).ok());  // restoring: not ready yet
  EXPECT_TRUE(engine_->AnyPartitionRestoring());
  Answer("t1", "w2", "a");
  Commit();
  std::atomic<bool> stop{false};
  std::thread sweeps([&] { engine_->RunSweeps(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // 8 intervals
  EXPECT_EQ(engine_->ProjectDetail(kProject)->last_sweep->answers, 1) << "swept while restoring";
  engine_->SetPartitionReady(1, true);
  EXPECT_FALSE(engine_->AnyPartitionRestoring());
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (engine_->ProjectDetail(kProject)->last_sweep->answers == 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(engine_->ProjectDetail(kProject)->last_sweep->answers, 2) << "not swept once ready";
  stop = true;
  engine_->WakeSweeps();
  sweeps.join();
}

}  // namespace
}  // namespace consensusd::engine
