// Crash consistency of StateStore::Commit: a child process commits batches in
// a loop and is killed with SIGKILL at a random moment; the parent reopens the
// store and checks that each partition's stored offset equals the number of
// answers stored for it, i.e. no batch was ever half written, and that no
// batch the child saw committed was lost.
//
// The child is this test binary, forked and re-executed with kChildDirEnv set:
// a global test environment then runs the commit loop instead of the tests. A
// fork() without exec would inherit RocksDB's background thread pools without
// their threads, so the child's flushes would never run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/state_store.h"
#include "tests/service/temp_dir.h"

extern char** environ;

namespace consensusd::storage {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kChildDirEnv[] = "CONSENSUSD_CRASH_CHILD_DIR";
constexpr char kChildFdEnv[] = "CONSENSUSD_CRASH_CHILD_REPORT_FD";
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
// is killed. After each commit it writes the total of its offsets to
// report_fd.
[[noreturn]] void CommitUntilKilled(const std::string& dir, int report_fd) {
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
    if (write(report_fd, &total, sizeof total) != sizeof total) std::_Exit(5);
  }
}

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* dir = std::getenv(kChildDirEnv);
    const char* fd = std::getenv(kChildFdEnv);
    if (dir != nullptr && fd != nullptr) CommitUntilKilled(dir, std::atoi(fd));
  }
};

[[maybe_unused]] ::testing::Environment* const kCrashChildEnvironment =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

struct Child {
  pid_t pid = -1;
  int report_fd = -1;
  std::string pending;  // bytes of a report read only in part
  int64_t last_report = -1;
};

// Starts the commit loop on `dir` in a child process.
Child StartChild(const std::string& dir) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(absl::StrCat(kChildDirEnv, "=", dir));
  env_strings.push_back(absl::StrCat(kChildFdEnv, "=", fds[1]));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=StateStoreCrashTest.*";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(devnull, STDOUT_FILENO);  // keep gtest's banner out of the parent's output
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(devnull);
  close(fds[1]);
  Child child;
  child.pid = pid;
  child.report_fd = fds[0];
  return child;
}

// Reads the child's reports until `deadline`, or until the child has closed
// the pipe (it died), which is then the return value.
bool ReadReportsUntil(Child& child, Clock::time_point deadline, bool stop_at_first_report = false) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{.fd = child.report_fd, .events = POLLIN, .revents = 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(child.report_fd, buf, sizeof buf);
    if (n <= 0) return true;
    child.pending.append(buf, n);
    const size_t whole = child.pending.size() / sizeof(int64_t) * sizeof(int64_t);
    if (whole > 0) {
      std::memcpy(&child.last_report, child.pending.data() + whole - sizeof(int64_t),
                  sizeof(int64_t));
      child.pending.erase(0, whole);
      if (stop_at_first_report) return false;
    }
  }
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
    Child child = StartChild(dir.path());
    ASSERT_GT(child.pid, 0) << "fork failed: " << std::strerror(errno);

    // Kill at a random moment after the child has started committing.
    const bool died_early = ReadReportsUntil(child, Clock::now() + std::chrono::seconds(30),
                                             /*stop_at_first_report=*/true);
    const auto kill_delay =
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng));
    const bool died_before_kill = died_early || ReadReportsUntil(child, Clock::now() + kill_delay);
    kill(child.pid, SIGKILL);
    ReadReportsUntil(child,
                     Clock::now() + std::chrono::seconds(30));  // drain until the pipe closes
    close(child.report_fd);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child.pid, &wstatus, 0), child.pid);
    ASSERT_FALSE(died_before_kill) << "the child died on its own, wait status " << wstatus;
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "wait status " << wstatus;
    ASSERT_GT(child.last_report, stored) << "the child made no progress";

    const int64_t now_stored = ExpectAnswersMatchOffsets(dir.path());
    // A batch is durable once Commit returns (its WAL record is in the OS),
    // so the store holds at least every batch the child reported.
    EXPECT_GE(now_stored, child.last_report);
    stored = now_stored;
  }
}

}  // namespace
}  // namespace consensusd::storage
