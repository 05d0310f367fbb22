// The worker-statistics exchange of one engine, record by record: what a
// record from the topic may change (classes, the store), what a hostile one
// may not, and what is sent after a failed delivery.
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/worker_stats.h"
#include "metrics/service_metrics.h"
#include "storage/state_store.h"
#include "tests/service/temp_dir.h"

namespace consensusd::engine {
namespace {

constexpr char kProject[] = "p";

// One engine over a store in `dir`, owning partition 0 (ready).
class OneEngine {
 public:
  explicit OneEngine(const std::string& dir, ProjectSettings settings = {}) {
    auto store = storage::StateStore::Open(dir, storage::StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    EngineOptions options;
    options.sweep_interval_s = 60;
    options.group = "g";
    options.instance = "me";
    engine_ = std::make_unique<Engine>(
        *store_, [settings](std::string_view) { return settings; }, &metrics_, options);
    restored_ = engine_->Restore();
    if (!restored_.ok()) return;
    EXPECT_TRUE(engine_->Assign(0).ok());
    engine_->SetPartitionReady(0, true);
  }

  void Event(LabelEvent::Kind kind, const std::string& task, const std::string& worker,
             const std::string& label, int32_t partition = 0) {
    LabelEvent e;
    e.kind = kind;
    e.project = kProject;
    e.task = task;
    e.worker = worker;
    e.label = label;
    std::optional<EngineRejection> r = engine_->Apply(batch_, partition, e);
    EXPECT_FALSE(r.has_value()) << r->detail;
    engine_->EndMessage(batch_, partition, ++offset_[partition], -1);
  }
  void Commit() { ASSERT_TRUE(engine_->Commit(batch_).ok()); }

  Engine& engine() { return *engine_; }
  const absl::Status& restored() const { return restored_; }

 private:
  metrics::ServiceMetrics metrics_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Engine> engine_;
  absl::Status restored_;
  IngestBatch batch_;
  int64_t offset_[2] = {0, 0};  // per partition (0 and 1)
};

std::string ClassCountsRecord(const std::vector<std::string>& classes, int32_t partition = 1) {
  WorkerStatsRecord r;
  r.group = "g";
  r.project = kProject;
  r.partition = partition;
  r.instance = "other";
  r.classes = classes;
  r.class_counts.assign(classes.size(), 1.0);
  std::string value;
  AppendWorkerStatsJson(r, value);
  return value;
}

std::vector<std::string> ClassesOf(Engine& engine) {
  std::optional<ProjectView> v = engine.ProjectDetail(kProject);
  return v ? v->classes : std::vector<std::string>{};
}

// A class another instance saw first is interned here from the topic; the
// answers this instance stores later must restore after a restart (class ids
// are stored densely from 0).
TEST(EngineWorkerStatsTest, ClassesLearnedFromTheTopicSurviveARestart) {
  service::TempDir dir;
  {
    OneEngine e(dir.path());
    ASSERT_TRUE(e.restored().ok());
    ASSERT_TRUE(e.engine().ApplyWorkerStats(ClassCountsRecord({"x", "y"})).ok());
    e.Event(LabelEvent::Kind::kAnswer, "t1", "w1", "z");  // a new class here
    e.Event(LabelEvent::Kind::kAnswer, "t2", "w1", "y");  // known from the topic only
    e.Commit();
  }
  OneEngine again(dir.path());
  ASSERT_TRUE(again.restored().ok()) << again.restored();
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> labels =
      again.engine().Labels(kProject);
  ASSERT_TRUE(labels.ok()) << labels.status();
  std::map<std::string, std::string> by_task(labels->begin(), labels->end());
  EXPECT_EQ(by_task["t1"], "z");
  EXPECT_EQ(by_task["t2"], "y");
}

// Declared classes are the project's only classes, whatever the topic says.
TEST(EngineWorkerStatsTest, DeclaredClassesAreNotExtendedByTheTopic) {
  service::TempDir dir;
  ProjectSettings settings;
  settings.classes = {"a", "b"};
  OneEngine e(dir.path(), settings);
  EXPECT_FALSE(e.engine().ApplyWorkerStats(ClassCountsRecord({"a", "zzz"})).ok());
  EXPECT_EQ(ClassesOf(e.engine()), (std::vector<std::string>{"a", "b"}));
}

// A record over the class limit changes nothing (no class of it is interned).
TEST(EngineWorkerStatsTest, ARecordOverTheClassLimitInternsNothing) {
  service::TempDir dir;
  ProjectSettings settings;
  settings.model.max_classes = 3;
  OneEngine e(dir.path(), settings);
  e.Event(LabelEvent::Kind::kAnswer, "t1", "w1", "a");
  EXPECT_FALSE(e.engine().ApplyWorkerStats(ClassCountsRecord({"b", "c", "d", "e"})).ok());
  EXPECT_EQ(ClassesOf(e.engine()), (std::vector<std::string>{"a"}));
}

// After a failed delivery everything is sent again, including the zeros of a
// worker whose last answer in the partition was retracted since.
TEST(EngineWorkerStatsTest, ResendStillSendsWhatIsGone) {
  service::TempDir dir;
  OneEngine e(dir.path());
  e.Event(LabelEvent::Kind::kAnswer, "t1", "w1", "a");
  e.Event(LabelEvent::Kind::kAnswer, "t1", "w2", "b");
  e.Event(LabelEvent::Kind::kAnswer, "t2", "w1", "b");
  e.Commit();
  std::vector<StatsRecord> records;
  e.engine().CollectWorkerStats(&records);
  ASSERT_FALSE(records.empty());
  e.engine().ResendWorkerStats();  // a record was not delivered
  e.Event(LabelEvent::Kind::kRetract, "t1", "w2", "");
  e.Commit();
  records.clear();
  e.engine().CollectWorkerStats(&records);
  bool w2 = false;
  for (const StatsRecord& r : records) {
    WorkerStatsRecord decoded;
    ASSERT_TRUE(DecodeWorkerStats(r.value, &decoded).ok());
    if (decoded.has_worker && decoded.worker == "w2") {
      w2 = true;
      EXPECT_EQ(decoded.answers, 0);
    }
  }
  EXPECT_TRUE(w2) << "the topic would keep w2's retracted statistics for ever";
}

// A publication goes out in chunks without the project's lock; a partition
// revoked between two chunks sends nothing more.
TEST(EngineWorkerStatsTest, APartitionRevokedBetweenChunksSendsNothingMore) {
  // The partition of each record handed over, in order, revoking partition 1
  // after the second chunk when `revoke`.
  auto publish = [](bool revoke) {
    service::TempDir dir;
    OneEngine e(dir.path());
    EXPECT_TRUE(e.engine().Assign(1).ok());
    e.engine().SetPartitionReady(1, true);
    for (int32_t p : {0, 1}) {
      for (int i = 0; i < 4; ++i) {
        e.Event(LabelEvent::Kind::kAnswer, absl::StrCat("t", p, "-", i), absl::StrCat("w", i), "x", p);
      }
    }
    e.Commit();
    std::vector<int32_t> partitions;
    e.engine().CollectWorkerStats(
        [&](std::vector<StatsRecord>& chunk) {
          EXPECT_EQ(chunk.size(), 1u);
          for (const StatsRecord& r : chunk) {
            WorkerStatsRecord decoded;
            EXPECT_TRUE(DecodeWorkerStats(r.value, &decoded).ok());
            partitions.push_back(decoded.partition);
          }
          // The lock is not held here, so revoking cannot deadlock.
          if (revoke && partitions.size() == 2) EXPECT_TRUE(e.engine().Revoke(1).ok());
          return true;
        },
        -1, /*chunk=*/1);
    return partitions;
  };
  // Partition 0's tasks come first: its 4 workers, then partition 1's.
  EXPECT_EQ(publish(false), (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(publish(true), (std::vector<int32_t>{0, 0, 0, 0}));
}

// A record of 100k classes (under 1 MB) and K empty count rows must be
// rejected without allocating K x K doubles (80 GB).
void DecodeHugeClassList() {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // A sanitizer reserves terabytes of address space for its shadow memory, so
  // it cannot run under RLIMIT_AS; its allocator's own cap stops an allocation
  // that large instead (max_allocation_size_mb, sanitizers/options.cc).
  rlimit limit{.rlim_cur = 2ull << 30, .rlim_max = 2ull << 30};
  setrlimit(RLIMIT_AS, &limit);
#endif
  constexpr int kClasses = 100000;
  std::string value = R"({"group":"g","project":"p","partition":1,"instance":"i","worker":"w","answers":1,"classes":[)";
  for (int i = 0; i < kClasses; ++i) absl::StrAppend(&value, i > 0 ? "," : "", "\"", i, "\"");
  value += R"(],"counts":[)";
  for (int i = 0; i < kClasses; ++i) value += i > 0 ? ",[]" : "[]";
  value += "]}";
  WorkerStatsRecord r;
  _exit(DecodeWorkerStats(value, &r).ok() ? 1 : 0);  // no exit handlers in the child
}

TEST(EngineWorkerStatsTest, AHugeClassListIsRejectedWithoutAllocating) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(DecodeHugeClassList(), ::testing::ExitedWithCode(0), "");
}

// Counts that would overflow the sums (to inf, then NaN parameters) and
// answer counts that would overflow int64 are rejected.
TEST(EngineWorkerStatsTest, OutOfRangeNumbersAreRejected) {
  WorkerStatsRecord r;
  for (const char* bad : {
           R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a"],"worker":"w","answers":1,"counts":[[1e300]]})",
           R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a"],"worker":"w","answers":9223372036854775807,"counts":[[1]]})",
           R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a"],"class_counts":[1e300]})",
           R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a","a"],"class_counts":[1,1]})"}) {
    EXPECT_FALSE(DecodeWorkerStats(bad, &r).ok()) << bad;
  }
}

}  // namespace
}  // namespace consensusd::engine
