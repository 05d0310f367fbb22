// Crash consistency of StateStore::Commit: a child process commits batches in
// a loop and is killed with SIGKILL at a random moment; the parent reopens the
// store and checks that each partition's stored offset equals the number of
// answers stored for it, i.e. no batch was ever half written, and that no
// batch the child saw committed was lost.
//
// The child is this test binary, re-executed with kChildDirEnv set: a global
// test environment then runs the commit loop instead of the tests. (A fork()
// without exec would inherit RocksDB's background thread pools without their
// threads, so the child's flushes would never run.)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/state_store.h"
#include "tests/common/subprocess.h"
#include "tests/service/temp_dir.h"

namespace consensusd::storage {
namespace {

using tests::Redirect;
using tests::Subprocess;
using tests::WaitUntil;

constexpr char kChildDirEnv[] = "CONSENSUSD_CRASH_CHILD_DIR";
constexpr char kReport[] = "committed ";  // the child's report line: "committed <total>\n"
constexpr char kTopic[] = "labels.raw";
constexpr char kProject[] = "crash";
constexpr int32_t kPartitions = 8;

// The commit loop writes answer i of a partition (i = 0, 1, ...) with these
// ids; tasks are zero-padded so that key order is index order.
std::string TaskName(int64_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "t%010lld", static_cast<long long>(i));
  return name;
}
std::string WorkerOf(int64_t i) { return absl::StrCat("w", i % 7); }
std::string LabelOf(int64_t i) { return absl::StrCat("l", i % 3); }

// Small memtables, so that kills also land during flushes and compactions.
StoreOptions ChildOptions() { return StoreOptions{.write_buffer_mb = 1, .block_cache_mb = 8}; }

// The child: resumes from the stored offsets and commits batches of answers
// for 1-4 random partitions, each with the partitions' new offsets, until it
// is killed. After each commit it writes a report line with the total of its
// offsets to stdout.
[[noreturn]] void CommitUntilKilled(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir, ChildOptions());
  if (!store.ok()) {
    std::fprintf(stderr, "crash child: %s\n", store.status().ToString().c_str());
    std::_Exit(2);
  }
  std::vector<int64_t> next(kPartitions, 0);
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> offsets = (*store)->Offsets(kTopic);
  if (!offsets.ok()) std::_Exit(3);
  for (const auto& [partition, offset] : *offsets) next[partition] = offset;

  std::mt19937_64 rng(getpid());
  std::vector<int32_t> partitions(kPartitions);
  std::iota(partitions.begin(), partitions.end(), 0);
  StateBatch batch;
  for (;;) {
    std::shuffle(partitions.begin(), partitions.end(), rng);
    const int touched = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int j = 0; j < touched; ++j) {
      const int32_t p = partitions[j];
      const int n = std::uniform_int_distribution<int>(1, 300)(rng);
      for (int k = 0; k < n; ++k, ++next[p]) {
        batch.PutAnswer(p, kProject, TaskName(next[p]), WorkerOf(next[p]), LabelOf(next[p]));
      }
      batch.SetOffset(kTopic, p, next[p]);
    }
    if (!(*store)->Commit(batch).ok()) std::_Exit(4);
    const int64_t total = std::accumulate(next.begin(), next.end(), int64_t{0});
    char line[64];
    const int n = std::snprintf(line, sizeof line, "%s%lld\n", kReport, static_cast<long long>(total));
    if (write(STDOUT_FILENO, line, n) != n) std::_Exit(5);
  }
}

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* dir = std::getenv(kChildDirEnv);
    if (dir != nullptr) CommitUntilKilled(dir);
  }
};

[[maybe_unused]] ::testing::Environment* const kCrashChildEnvironment =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

// Starts the commit loop on `dir` in a child process; its stdout (gtest's
// banner, then the reports) is captured.
Subprocess StartChild(const std::string& dir) {
  return Subprocess({"/proc/self/exe", "--gtest_filter=StateStoreCrashTest.*"},
                    {Redirect::Null(), Redirect::Capture(), Redirect::Inherit()},
                    {absl::StrCat(kChildDirEnv, "=", dir)});
}

// The total of the child's last complete report line, -1 if none.
int64_t LastReport(const Subprocess& child) {
  const std::string out = child.Stdout();
  const size_t end = out.rfind('\n');
  if (end == std::string::npos) return -1;
  const size_t at = out.rfind(kReport, end);
  if (at == std::string::npos) return -1;
  return std::atoll(out.c_str() + at + sizeof kReport - 1);
}

// Checks that each partition holds exactly the answers 0 .. offset-1 of the
// commit loop. Returns the total of the stored offsets.
int64_t ExpectAnswersMatchOffsets(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir, ChildOptions());
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return -1;
  std::vector<int64_t> offset(kPartitions, 0);
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> offsets = (*store)->Offsets(kTopic);
  EXPECT_TRUE(offsets.ok()) << offsets.status();
  if (!offsets.ok()) return -1;
  for (const auto& [partition, next] : *offsets) offset[partition] = next;

  std::vector<int64_t> count(kPartitions, 0);
  std::string first_mismatch;
  absl::Status scan = (*store)->ForEachAnswer(-1, [&](const StoredAnswer& a) {
    const int64_t i = count[a.partition]++;
    if (first_mismatch.empty() &&
        (a.task != TaskName(i) || a.worker != WorkerOf(i) || a.label != LabelOf(i))) {
      first_mismatch = absl::StrCat("partition ", a.partition, " answer ", i, " is task ",
                                    absl::string_view(a.task.data(), a.task.size()));
    }
  });
  EXPECT_TRUE(scan.ok()) << scan;
  EXPECT_EQ(first_mismatch, "");
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(count[p], offset[p]) << "partition " << p << ": answers and offset disagree";
  }
  return std::accumulate(offset.begin(), offset.end(), int64_t{0});
}

TEST(StateStoreCrashTest, KillNineNeverSplitsOrLosesACommittedBatch) {
  service::TempDir dir;
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 6;
  int64_t stored = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    Subprocess child = StartChild(dir.path());
    ASSERT_TRUE(child.started()) << "could not start the child";

    // Kill at a random moment after the child has started committing.
    WaitUntil([&] { return LastReport(child) >= 0 || !child.running(); }, std::chrono::seconds(30),
              std::chrono::milliseconds(1));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    const bool died_before_kill = !child.running();
    child.Kill();
    const std::optional<int> exit_code = child.WaitExit(std::chrono::seconds(0));
    ASSERT_FALSE(died_before_kill) << "the child died on its own, exit code " << *exit_code;
    ASSERT_EQ(exit_code, 128 + SIGKILL);
    const int64_t last_report = LastReport(child);
    ASSERT_GT(last_report, stored) << "the child made no progress";

    const int64_t now_stored = ExpectAnswersMatchOffsets(dir.path());
    // A batch is durable once Commit returns (its WAL record is in the OS),
    // so the store holds at least every batch the child reported.
    EXPECT_GE(now_stored, last_report);
    stored = now_stored;
  }
}

}  // namespace
}  // namespace consensusd::storage
