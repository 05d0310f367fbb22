// EngineTest: the fixture of the engine's tests (and of the HTTP API's): a real
// RocksDB StateStore in a temp dir, an Engine over it, and helpers that feed
// the engine one message per call, as the consume loop does (Apply, then
// EndMessage with the partition's next offset), so that Commit() stores the
// answers with their offsets.
//
//   Answer("t-1", "w-1", "cat");          // project kProject, partition 0
//   Commit();                             // ASSERTs success
//   Restart();                            // a new store handle and Engine, restored
//   EXPECT_EQ(engine_->Task(kProject, "t-1")->label, "cat");
#ifndef CONSENSUSD_TESTS_ENGINE_ENGINE_FIXTURE_H_
#define CONSENSUSD_TESTS_ENGINE_ENGINE_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "engine/label_event.h"
#include "engine/project.h"
#include "metrics/service_metrics.h"
#include "storage/state_store.h"
#include "tests/service/temp_dir.h"

namespace consensusd::engine {

inline constexpr char kProject[] = "p";
inline constexpr char kTopic[] = "labels";

// A commit fault for StateStore::SetCommitFaultForTesting.
inline absl::Status DiskFull() { return absl::UnavailableError("injected: disk full"); }

// (label, confidence) of a task.
using Consensus = std::pair<std::string, double>;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    options_.input_topic = kTopic;
    options_.sweep_interval_s = 60;  // no periodic sweep during a test
    options_.confirmed_write_interval_ms = 0;  // every Commit() stores what was confirmed
    OpenStore();
    engine_ = MakeEngine();
  }

  // The settings a project gets when it is first used (read lazily, so a test
  // may set them before feeding the project).
  ProjectSettings& Settings(const std::string& project = kProject) { return settings_[project]; }

  std::unique_ptr<Engine> MakeEngine() {
    return std::make_unique<Engine>(
        *store_,
        [this](std::string_view project) {
          auto it = settings_.find(std::string(project));
          return it == settings_.end() ? ProjectSettings{} : it->second;
        },
        &metrics_, options_);
  }

  void OpenStore() {
    absl::StatusOr<std::unique_ptr<storage::StateStore>> store =
        storage::StateStore::Open(dir_.path(), storage::StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Closes the engine and the store, reopens the store and restores a new
  // engine from it: a process restart. Uncommitted work is lost.
  void Restart() {
    engine_.reset();
    store_.reset();
    batch_ = std::make_unique<IngestBatch>();
    OpenStore();
    engine_ = MakeEngine();
    absl::Status s = engine_->Restore();
    ASSERT_TRUE(s.ok()) << s;
  }

  // One message of one element from `partition`.
  std::optional<EngineRejection> Send(int32_t partition, const LabelEvent& e) {
    std::optional<EngineRejection> r = engine_->Apply(*batch_, partition, e);
    engine_->EndMessage(*batch_, partition, ++next_offset_[partition], /*fallback_event_ms=*/-1);
    return r;
  }
  std::optional<EngineRejection> AnswerIn(std::string_view project, int32_t partition,
                                          std::string_view task, std::string_view worker,
                                          std::string_view label) {
    return Send(partition, Event(LabelEvent::Kind::kAnswer, project, task, worker, label));
  }
  std::optional<EngineRejection> Answer(std::string_view task, std::string_view worker,
                                        std::string_view label, int32_t partition = 0) {
    return AnswerIn(kProject, partition, task, worker, label);
  }
  std::optional<EngineRejection> Gold(std::string_view task, std::string_view label,
                                      int32_t partition = 0) {
    return Send(partition, Event(LabelEvent::Kind::kGold, kProject, task, "", label));
  }
  std::optional<EngineRejection> Retract(std::string_view task, std::string_view worker,
                                         int32_t partition = 0) {
    return Send(partition, Event(LabelEvent::Kind::kRetract, kProject, task, worker, ""));
  }
  static LabelEvent Event(LabelEvent::Kind kind, std::string_view project, std::string_view task,
                          std::string_view worker, std::string_view label) {
    LabelEvent e;
    e.kind = kind;
    e.project = project;
    e.task = task;
    e.worker = worker;
    e.label = label;
    return e;
  }

  // Commits the batch; returns the answers applied, ASSERTing success.
  int64_t Commit() {
    absl::StatusOr<int64_t> n = engine_->Commit(*batch_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  void Sweep() {
    absl::Status s = engine_->SweepAll(/*force=*/true);
    ASSERT_TRUE(s.ok()) << s;
  }

  // Assigns the partition and marks it ready (caught up), as the ingest loop
  // does once the consumer reaches the partition's end.
  void Assign(int32_t partition) {
    absl::StatusOr<std::optional<int64_t>> offset = engine_->Assign(partition);
    ASSERT_TRUE(offset.ok()) << offset.status();
    engine_->SetPartitionReady(partition, true);
  }

  // Label and confidence of every listed task of the project, by task id.
  std::map<std::string, Consensus> ConsensusOf(const std::string& project = kProject) {
    std::map<std::string, Consensus> out;
    absl::StatusOr<Page<TaskView>> page = engine_->Tasks(project, "", 1000000, -1);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (const TaskView& t : page->items) out[t.task] = {t.label.value_or(""), t.confidence};
    return out;
  }

  // Collects every waiting record (room for 1000 at a time).
  std::vector<OutputRecord> CollectAll() {
    std::vector<OutputRecord> all;
    for (int i = 0; i < 100; ++i) {
      std::vector<OutputRecord> records;
      const bool more = engine_->CollectOutputs(1000, &records);
      for (OutputRecord& r : records) all.push_back(std::move(r));
      if (!more) break;
    }
    return all;
  }

  // Reports every record delivered (or not).
  void Deliver(const std::vector<OutputRecord>& records, bool delivered = true) {
    for (const OutputRecord& r : records) engine_->OnDelivered(r.ticket, delivered);
  }

  service::TempDir dir_;
  std::map<std::string, ProjectSettings> settings_;
  EngineOptions options_;
  metrics::ServiceMetrics metrics_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<IngestBatch> batch_ = std::make_unique<IngestBatch>();
  std::map<int32_t, int64_t> next_offset_;  // per partition, of the last message sent
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_TESTS_ENGINE_ENGINE_FIXTURE_H_
