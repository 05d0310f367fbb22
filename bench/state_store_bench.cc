// Benchmarks of the state store (storage/state_store.h):
//   BM_CommitAnswerBatches  batches of 1,000 answers plus their partitions'
//                           offsets, one Commit each (WAL, no fsync): answers/s
//   BM_LoadAllAnswers/N     full scan of N stored answers after closing and
//                           reopening the store, as on start (target: 10M in
//                           2-3 s): answers/s
// Stores live in fresh directories under $TMPDIR (or /tmp). Generating ids and
// filling the store for the load benchmark are outside the timed regions. The
// load reads files the fill has just written, so they are in the OS page
// cache, as after a kill -9 and restart; a cold read after a reboot is slower.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "storage/state_store.h"

namespace consensusd::storage {
namespace {

constexpr int32_t kPartitions = 16;
constexpr int kAnswersPerTask = 5;
constexpr int kWorkers = 1'000;
constexpr char kTopic[] = "labels.raw";
constexpr char kProject[] = "sentiment-v2";
const char* const kLabels[] = {"positive", "negative", "neutral", "mixed"};

// A store in a fresh temporary directory, removed with it.
class TempStore {
 public:
  TempStore() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/consensusd-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    Reopen();
  }
  ~TempStore() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  StateStore& store() { return *store_; }
  // Closes and opens the store, as a restart does.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir_, StoreOptions{});
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      std::abort();
    }
    store_ = *std::move(store);
  }

 private:
  std::string dir_;
  std::unique_ptr<StateStore> store_;
};

// Answer i of a synthetic stream: task i / kAnswersPerTask, partitioned by
// task as Kafka keyed by task id would, a pseudo-random worker and label.
struct AnswerStream {
  std::vector<std::string> workers;
  AnswerStream() {
    for (int w = 0; w < kWorkers; ++w) workers.push_back(absl::StrCat("annotator-", w));
  }
  void Append(StateBatch& batch, int64_t i, std::string& task_scratch,
              std::vector<int64_t>& next_offset) const {
    const int64_t task = i / kAnswersPerTask;
    const int32_t partition = static_cast<int32_t>(task % kPartitions);
    const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    task_scratch.clear();
    absl::StrAppend(&task_scratch, "task-", task);
    batch.PutAnswer(partition, kProject, task_scratch, workers[(h >> 20) % kWorkers],
                    kLabels[(h >> 50) % 4]);
    ++next_offset[partition];
  }
};

void CommitBatches(StateStore& store, const AnswerStream& stream, int64_t first, int64_t count,
                   int64_t batch_size, std::vector<int64_t>& next_offset) {
  StateBatch batch;
  std::string task;
  for (int64_t i = first; i < first + count;) {
    const int64_t end = std::min(first + count, i + batch_size);
    for (; i < end; ++i) stream.Append(batch, i, task, next_offset);
    for (int32_t p = 0; p < kPartitions; ++p) batch.SetOffset(kTopic, p, next_offset[p]);
    if (absl::Status s = store.Commit(batch); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::abort();
    }
  }
}

void BM_CommitAnswerBatches(benchmark::State& state) {
  constexpr int64_t kBatch = 1'000;
  TempStore temp;
  AnswerStream stream;
  std::vector<int64_t> next_offset(kPartitions, 0);
  int64_t i = 0;
  for (auto _ : state) {
    CommitBatches(temp.store(), stream, i, kBatch, kBatch, next_offset);
    i += kBatch;
  }
  state.SetItemsProcessed(i);
  state.counters["state_MB"] = static_cast<double>(temp.store().ApproximateBytes()) / (1 << 20);
}
BENCHMARK(BM_CommitAnswerBatches)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(3.0)
    ->UseRealTime()
    ->MeasureProcessCPUTime();  // CPU includes the background flushes and compactions

void BM_LoadAllAnswers(benchmark::State& state) {
  const int64_t n = state.range(0);
  TempStore temp;
  {
    AnswerStream stream;
    std::vector<int64_t> next_offset(kPartitions, 0);
    CommitBatches(temp.store(), stream, 0, n, 10'000, next_offset);
    temp.Reopen();
  }
  int64_t loaded = 0;
  for (auto _ : state) {
    size_t bytes = 0;
    int64_t count = 0;
    absl::Status s = temp.store().ForEachAnswer(-1, [&](const StoredAnswer& a) {
      bytes += a.task.size() + a.worker.size() + a.label.size();
      ++count;
    });
    if (!s.ok() || count != n) state.SkipWithError("the scan did not return every answer");
    benchmark::DoNotOptimize(bytes);
    loaded += count;
  }
  state.SetItemsProcessed(loaded);
  state.counters["state_MB"] = static_cast<double>(temp.store().ApproximateBytes()) / (1 << 20);
}
// CPU is the scanning thread's; compactions may still run in the background
// after the reopen, as they may after a restart.
BENCHMARK(BM_LoadAllAnswers)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace consensusd::storage
