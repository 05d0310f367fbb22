// Engine calls from several threads at once, as engine.h allows ("every public
// method may be called from any thread"): the producer's thread collects
// outputs while the committing thread takes partitions.
//
// A deadlock would hang the test binary, so each scenario runs in a death-test
// child process under alarm(): a hang ends the child with SIGALRM and fails
// the test instead of stalling the suite.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "metrics/service_metrics.h"
#include "storage/state_store.h"
#include "tests/engine/engine_fixture.h"
#include "tests/service/temp_dir.h"

namespace consensusd::engine {
namespace {

constexpr int kProjects = 200;
constexpr int kPartitions = 32;
constexpr int32_t kIdlePartition = 99;  // restored, never assigned

std::unique_ptr<storage::StateStore> OpenStore(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<storage::StateStore>> store =
      storage::StateStore::Open(dir, storage::StoreOptions{});
  if (!store.ok()) std::abort();
  return *std::move(store);
}

ProjectSettings DefaultSettings(std::string_view) { return ProjectSettings{}; }

// One answer of `project`'s task `task` from `partition`.
void Feed(Engine& engine, IngestBatch& batch, const std::string& project, const std::string& task,
          int32_t partition) {
  LabelEvent e;
  e.project = project;
  e.task = task;
  e.worker = "w";
  e.label = "a";
  engine.Apply(batch, partition, e);
  engine.EndMessage(batch, partition, 1, -1);
}

void AssignWhileCollectingOutputsIn(const std::string& dir) {
  {
    std::unique_ptr<storage::StateStore> store = OpenStore(dir);
    Engine engine(*store, DefaultSettings, nullptr, EngineOptions{});
    IngestBatch batch;
    char name[16];
    for (int p = 0; p < kProjects; ++p) {
      std::snprintf(name, sizeof name, "a%03d", p);
      Feed(engine, batch, name, "t", kIdlePartition);
    }
    for (int32_t partition = 0; partition < kPartitions; ++partition) {
      Feed(engine, batch, "zz", "t" + std::to_string(partition), partition);
    }
    if (!engine.Commit(batch).ok()) std::abort();
  }
  std::unique_ptr<storage::StateStore> store = OpenStore(dir);
  metrics::ServiceMetrics metrics;
  Engine engine(*store, DefaultSettings, &metrics, EngineOptions{});
  if (!engine.Restore().ok()) std::abort();

  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop.load()) {
      std::vector<OutputRecord> records;
      engine.CollectOutputs(2, &records);  // one record a call: short lock holds
      for (const OutputRecord& r : records) engine.OnDelivered(r.ticket, /*delivered=*/false);
    }
  });
  for (int32_t partition = 0; partition < kPartitions; ++partition) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (!engine.Assign(partition).ok()) std::abort();
    engine.SetPartitionReady(partition, true);  // re-marks the partition's tasks
  }
  stop = true;
  producer.join();
}

// Stores kProjects projects "a000".. with a task on a partition that is never
// assigned, and a last project "zz" with a task on each of kPartitions
// partitions; restores a new engine from them (every partition loaded, none
// owned); then assigns the partitions one by one while another thread keeps
// collecting outputs and reporting them undelivered, so that "zz" always has
// work to collect. Each Assign walks every project's lock while it holds the
// partitions lock, and the collector goes through the same projects to "zz".
// Exits 0 when every Assign returned.
void AssignWhileCollectingOutputs() {
  alarm(5);
  {
    service::TempDir dir;
    AssignWhileCollectingOutputsIn(dir.path());
  }
  std::_Exit(0);
}

// The lock order is a project's mu, then partitions_mu_. Assign() once held
// partitions_mu_ while it took each project's mu (to re-mark the partition's
// tasks) and deadlocked against CollectOutputs(); this test then failed 3 runs
// out of 3 (the child died of SIGALRM after 5 s).
TEST(EngineConcurrencyDeathTest, AssignWhileOutputsAreCollectedDoesNotDeadlock) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(AssignWhileCollectingOutputs(), ::testing::ExitedWithCode(0), "");
}


// Aborts the process (instead of hanging it) if not destroyed within `limit`.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: still running after %llds: a deadlock?\n",
                         static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

class EngineConcurrencyTest : public EngineTest {};

// Ingest commits while sweeps run every 10 ms, outputs are collected and
// confirmed, an admin toggles an exclusion, and readers page through tasks,
// workers and the export. Afterwards a sweep gives what a fresh restore of
// the store gives, and every answer was counted once.
TEST_F(EngineConcurrencyTest, IngestSweepsOutputsAdminAndViewsAtOnceEndConsistent) {
  Watchdog watchdog(std::chrono::seconds(20));
  options_.sweep_interval_s = 0.01;
  engine_ = MakeEngine();
  Assign(0);
  Assign(1);
  // A first answer, so that the admin thread has a worker to toggle.
  Answer("t0", "w0", "a");
  Commit();

  std::atomic<bool> stop{false};
  std::thread sweeps([&] { engine_->RunSweeps(stop); });
  std::thread producer([&] {
    while (!stop.load()) {
      std::vector<OutputRecord> records;
      engine_->CollectOutputs(64, &records);
      for (const OutputRecord& r : records) engine_->OnDelivered(r.ticket, r.key.size() % 3 != 0);
    }
  });
  std::thread admin([&] {
    for (bool excluded = true; !stop.load(); excluded = !excluded) {
      EXPECT_TRUE(engine_->SetExcluded(kProject, "w0", excluded).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  std::thread reader([&] {
    while (!stop.load()) {
      std::string cursor;
      do {
        absl::StatusOr<Page<TaskView>> page = engine_->Tasks(kProject, cursor, 7, -1);
        ASSERT_TRUE(page.ok());
        cursor = page->next_cursor;
      } while (!cursor.empty());
      absl::StatusOr<Page<WorkerRow>> workers =
          engine_->Workers(kProject, WorkerSort::kAccuracy, true, "", 5);
      ASSERT_TRUE(workers.ok());
      std::string csv;
      ASSERT_TRUE(engine_->ExportChunk(kProject, ExportFormat{}, 0, 1 << 20, &csv).ok());
      engine_->Task(kProject, "t1");
      engine_->Worker(kProject, "w1");
      engine_->Projects();
    }
  });

  int64_t answers = 1;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 25; ++i) {
      const int n = round * 25 + i;
      const int task = n % 97;  // each task on one partition, as keyed by task id
      Answer("t" + std::to_string(task), "w" + std::to_string(n % 13 + 1),
             (n * 7) % 5 < 3 ? "a" : "b", task % 2);
      ++answers;
    }
    Commit();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  stop = true;
  engine_->WakeSweeps();
  sweeps.join();
  producer.join();
  admin.join();
  reader.join();

  EXPECT_EQ(engine_->answers_committed(), answers);
  Sweep();
  const std::map<std::string, Consensus> live = ConsensusOf();
  const bool excluded = engine_->Worker(kProject, "w0")->excluded;
  Restart();
  EXPECT_EQ(engine_->Worker(kProject, "w0")->excluded, excluded);
  const std::map<std::string, Consensus> restored = ConsensusOf();
  ASSERT_EQ(restored.size(), live.size());
  for (const auto& [task, consensus] : live) {
    EXPECT_EQ(restored.at(task).first, consensus.first) << task;
    EXPECT_NEAR(restored.at(task).second, consensus.second, 1e-9) << task;
  }
}

}  // namespace
}  // namespace consensusd::engine
