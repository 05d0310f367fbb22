// Scale-out without Kafka: several engines, each owning some input
// partitions, exchange their worker-statistics records as the statistics
// topic would carry them (every record to every engine, in order), and must
// reach the worker model and the labels of one engine that owns everything.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/worker_stats.h"
#include "metrics/service_metrics.h"
#include "storage/state_store.h"
#include "tests/service/temp_dir.h"

namespace consensusd::engine {
namespace {

constexpr int kPartitions = 12;
constexpr char kProject[] = "p";

struct Row {
  std::string task, worker, label;
};

std::vector<Row> ReadLabels(const std::string& data_set) {
  std::ifstream in(std::string(CONSENSUSD_DATA_DIR) + "/" + data_set + "/labels.csv");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    rows.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return rows;
}

int32_t PartitionOf(const std::string& task) {
  return static_cast<int32_t>(std::hash<std::string>{}(task) % kPartitions);
}

// One engine with its own store, as one `serve` process.
class Instance {
 public:
  Instance(std::string name, std::vector<int32_t> partitions)
      : partitions_(std::move(partitions)) {
    auto store = storage::StateStore::Open(dir_.path(), storage::StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    EngineOptions options;
    options.sweep_interval_s = 60;
    options.group = "g";
    options.instance = std::move(name);
    engine_ = std::make_unique<Engine>(
        *store_, [](std::string_view) { return ProjectSettings{}; }, &metrics_, options);
    EXPECT_TRUE(engine_->Restore().ok());
    for (int32_t p : partitions_) {
      EXPECT_TRUE(engine_->Assign(p).ok());
      engine_->SetPartitionReady(p, true);
    }
  }

  bool Owns(int32_t partition) const {
    return std::find(partitions_.begin(), partitions_.end(), partition) != partitions_.end();
  }

  void Answer(const Row& row, int32_t partition) {
    LabelEvent e;
    e.kind = LabelEvent::Kind::kAnswer;
    e.project = kProject;
    e.task = row.task;
    e.worker = row.worker;
    e.label = row.label;
    EXPECT_FALSE(engine_->Apply(batch_, partition, e).has_value());
    engine_->EndMessage(batch_, partition, ++offsets_[partition], -1);
  }

  // Takes over a partition (restoring until SetPartitionReady).
  void Take(int32_t partition) {
    EXPECT_TRUE(engine_->Assign(partition).ok());
    partitions_.push_back(partition);
  }

  Engine& engine() { return *engine_; }
  IngestBatch& batch() { return batch_; }

 private:
  service::TempDir dir_;
  metrics::ServiceMetrics metrics_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Engine> engine_;
  IngestBatch batch_;
  std::map<int32_t, int64_t> offsets_;
  std::vector<int32_t> partitions_;
};

// Runs sweep-and-exchange rounds until no engine sends a record; returns the rounds.
// Returns max_rounds + 1 if it never settled.
int Exchange(std::vector<Instance*> instances, int max_rounds) {
  for (int round = 1; round <= max_rounds; ++round) {
    std::vector<StatsRecord> topic;
    for (Instance* i : instances) {
      EXPECT_TRUE(i->engine().SweepAll(/*force=*/true).ok());
      i->engine().CollectWorkerStats(&topic);
    }
    if (topic.empty()) return round;
    for (Instance* i : instances) {
      for (const StatsRecord& r : topic) EXPECT_TRUE(i->engine().ApplyWorkerStats(r.value).ok());
    }
  }
  return max_rounds + 1;
}

std::map<std::string, double> Accuracies(Engine& engine) {
  std::map<std::string, double> out;
  absl::StatusOr<std::vector<WorkerRow>> rows = engine.AllWorkers(kProject);
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (rows.ok()) {
    for (const WorkerRow& r : *rows) out[r.worker] = r.accuracy;
  }
  return out;
}

std::map<std::string, std::string> LabelsOf(Engine& engine) {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> labels = engine.Labels(kProject);
  EXPECT_TRUE(labels.ok()) << labels.status();
  if (labels.ok()) {
    for (auto& [task, label] : *labels) out[task] = label;
  }
  return out;
}

class ScaleOutTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ScaleOutTest, ThreeInstancesAgreeWithEachOtherAndWithOne) {
  const std::vector<Row> rows = ReadLabels(GetParam());
  ASSERT_GT(rows.size(), 1000u);
  std::vector<int32_t> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.push_back(p);
  Instance single("single", all);
  std::vector<std::unique_ptr<Instance>> three;
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> mine;
    for (int32_t p = i; p < kPartitions; p += 3) mine.push_back(p);
    three.push_back(std::make_unique<Instance>("i" + std::to_string(i), mine));
  }
  // The stream, in three slices, with exchanges in between (as the interval does).
  for (int slice = 0; slice < 3; ++slice) {
    for (size_t r = slice * rows.size() / 3; r < (slice + 1) * rows.size() / 3; ++r) {
      const int32_t p = PartitionOf(rows[r].task);
      single.Answer(rows[r], p);
      for (auto& i : three) {
        if (i->Owns(p)) i->Answer(rows[r], p);
      }
    }
    ASSERT_TRUE(single.engine().Commit(single.batch()).ok());
    for (auto& i : three) ASSERT_TRUE(i->engine().Commit(i->batch()).ok());
    Exchange({three[0].get(), three[1].get(), three[2].get()}, 1);
  }
  ASSERT_TRUE(single.engine().SweepAll(true).ok());
  // Until no statistics change by more than the publishing threshold; on
  // some data sets that takes longer than the rounds given here, and the
  // instances must agree anyway (they show the topic's sums).
  const int rounds = Exchange({three[0].get(), three[1].get(), three[2].get()}, 60);
  // Each holds the topic's records of every partition, its own included:
  // what it shows is computed from them.
  for (auto& i : three) EXPECT_GT(i->engine().TopicStatsHeld(), static_cast<int64_t>(kPartitions));
  // Every instance has the same worker model, with every worker.
  const std::map<std::string, double> reference = Accuracies(single.engine());
  std::vector<std::map<std::string, double>> accuracies;
  for (auto& i : three) accuracies.push_back(Accuracies(i->engine()));
  double max_vs_single = 0;
  for (const auto& [worker, accuracy] : accuracies[0]) {
    for (size_t i = 1; i < accuracies.size(); ++i) {
      ASSERT_TRUE(accuracies[i].contains(worker)) << worker;
      EXPECT_NEAR(accuracies[i].at(worker), accuracy, 1e-6) << worker;
    }
    ASSERT_TRUE(reference.contains(worker)) << worker;
    max_vs_single = std::max(max_vs_single, std::fabs(reference.at(worker) - accuracy));
  }
  EXPECT_EQ(accuracies[0].size(), reference.size());

  // The union of their labels is the single instance's.
  std::map<std::string, std::string> expected = LabelsOf(single.engine()), merged;
  for (auto& i : three) {
    for (auto& [task, label] : LabelsOf(i->engine())) EXPECT_TRUE(merged.emplace(task, label).second) << task;
  }
  ASSERT_EQ(merged.size(), expected.size());
  int64_t same = 0;
  for (auto& [task, label] : expected) {
    same += merged.at(task) == label;
  }
  const double agreement = static_cast<double>(same) / expected.size();
  EXPECT_GE(agreement, 0.995);
  std::printf("%s: %zu tasks, label agreement with one instance %.4f, worker accuracy max |diff| "
              "%.2e, %d exchange rounds\n",
              GetParam(), expected.size(), agreement, max_vs_single, rounds);
}

INSTANTIATE_TEST_SUITE_P(DataSets, ScaleOutTest, ::testing::Values("rte", "dog", "bluebirds", "product"));

// One instance owning every partition reads back its own records (and the
// records of an earlier run): they describe tasks it holds, so nothing changes.
TEST(WorkerStatsTest, ReadingBackOwnRecordsChangesNothing) {
  const std::vector<Row> rows = ReadLabels("dog");
  std::vector<int32_t> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.push_back(p);
  Instance single("single", all);
  for (const Row& row : rows) single.Answer(row, PartitionOf(row.task));
  ASSERT_TRUE(single.engine().Commit(single.batch()).ok());
  ASSERT_TRUE(single.engine().SweepAll(true).ok());
  const std::map<std::string, std::string> labels = LabelsOf(single.engine());
  const std::map<std::string, double> accuracies = Accuracies(single.engine());
  std::vector<StatsRecord> records;
  single.engine().CollectWorkerStats(&records);
  ASSERT_GT(records.size(), 100u);
  for (const StatsRecord& r : records) {
    std::string foreign = r.value;  // as if an earlier run of this process wrote it
    foreign.replace(foreign.find("\"instance\":\"single\""), 19, "\"instance\":\"earlier\"");
    ASSERT_TRUE(single.engine().ApplyWorkerStats(r.value).ok());
    ASSERT_TRUE(single.engine().ApplyWorkerStats(foreign).ok());
  }
  // The live model holds what the records say: no copy is kept.
  EXPECT_EQ(single.engine().TopicStatsHeld(), 0);
  ASSERT_TRUE(single.engine().SweepAll(true).ok());
  EXPECT_EQ(LabelsOf(single.engine()), labels);
  EXPECT_EQ(Accuracies(single.engine()), accuracies);  // exactly: no remote statistics
  // What the topic holds equals the live values: nothing to send again.
  records.clear();
  single.engine().CollectWorkerStats(&records);
  EXPECT_EQ(records.size(), 0u);
}

// A group that shrinks to one instance: the survivor takes over the other's
// partitions and reads their answers again. Then it holds what an instance
// that owned everything from the start holds: no remote statistics (a table
// as large as the model's own) and no copy of the topic's records.
TEST(WorkerStatsTest, TheLastInstanceLeftDropsItsRemoteStatistics) {
  const std::vector<Row> rows = ReadLabels("dog");
  std::vector<int32_t> all, even, odd;
  for (int32_t p = 0; p < kPartitions; ++p) {
    all.push_back(p);
    (p % 2 == 0 ? even : odd).push_back(p);
  }
  Instance single("single", all), a("a", even), b("b", odd);
  for (const Row& row : rows) {
    const int32_t p = PartitionOf(row.task);
    single.Answer(row, p);
    (p % 2 == 0 ? a : b).Answer(row, p);
  }
  for (Instance* i : {&single, &a, &b}) ASSERT_TRUE(i->engine().Commit(i->batch()).ok());
  ASSERT_TRUE(single.engine().SweepAll(true).ok());
  Exchange({&a, &b}, 60);
  const int64_t held = a.engine().TopicStatsHeld();
  EXPECT_GT(held, 100);
  // b leaves; a restores its partitions from the input topic.
  for (int32_t p : odd) a.Take(p);
  // The records of the partitions still restoring stay until they are ready.
  EXPECT_GT(a.engine().TopicStatsHeld(), 0);
  EXPECT_LT(a.engine().TopicStatsHeld(), held);
  for (const Row& row : rows) {
    const int32_t p = PartitionOf(row.task);
    if (p % 2 == 1) a.Answer(row, p);
  }
  ASSERT_TRUE(a.engine().Commit(a.batch()).ok());
  for (int32_t p : odd) a.engine().SetPartitionReady(p, true);
  EXPECT_EQ(a.engine().TopicStatsHeld(), 0);
  ASSERT_TRUE(a.engine().SweepAll(true).ok());
  const std::map<std::string, double> expected = Accuracies(single.engine()), got = Accuracies(a.engine());
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [worker, accuracy] : expected) {
    ASSERT_TRUE(got.contains(worker)) << worker;
    EXPECT_NEAR(got.at(worker), accuracy, 1e-9) << worker;
  }
  EXPECT_EQ(LabelsOf(a.engine()), LabelsOf(single.engine()));
  // As a single instance, it keeps no copy of records it reads back.
  std::vector<StatsRecord> records;
  a.engine().CollectWorkerStats(&records);
  for (const StatsRecord& r : records) ASSERT_TRUE(a.engine().ApplyWorkerStats(r.value).ok());
  EXPECT_EQ(a.engine().TopicStatsHeld(), 0);
}

TEST(WorkerStatsTest, RecordsRoundTripWithEscapedKeys) {
  WorkerStatsRecord r;
  r.group = "g";
  r.project = "a/b";
  r.partition = 7;
  r.has_worker = true;
  r.worker = "w%1";
  r.instance = "i";
  r.classes = {"x", "y"};
  r.answers = 3;
  r.counts = {1.5, 0.5, 0.25, 0.75};
  std::string value;
  AppendWorkerStatsJson(r, value);
  WorkerStatsRecord back;
  ASSERT_TRUE(DecodeWorkerStats(value, &back).ok()) << value;
  EXPECT_EQ(back.project, "a/b");
  EXPECT_EQ(back.worker, "w%1");
  EXPECT_EQ(back.partition, 7);
  EXPECT_EQ(back.counts, r.counts);
  EXPECT_EQ(back.answers, 3);
  EXPECT_EQ(WorkerStatsKey(r.group, r.project, &r.worker, r.partition), "g/a%2Fb/w%251/7");
  EXPECT_EQ(WorkerStatsKey(r.group, r.project, nullptr, r.partition), "g/a%2Fb/7");
}

TEST(WorkerStatsTest, MalformedRecordsAreRejected) {
  WorkerStatsRecord r;
  for (const char* bad : {"", "[]", "{\"group\":\"g\"}",
                          R"({"group":"g","project":"p","instance":"i","partition":-1,"classes":[]})",
                          R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a"],"worker":"w","answers":1,"counts":[[1,2]]})",
                          R"({"group":"g","project":"p","instance":"i","partition":1,"classes":["a"],"worker":"w","answers":1,"counts":[[-1]]})"}) {
    EXPECT_FALSE(DecodeWorkerStats(bad, &r).ok()) << bad;
  }
}

TEST(WorkerStatsTest, AChangeBeyondTheThresholdChangesTheFingerprint) {
  const std::vector<double> counts = {7.9, 0.1, 0.2, 3.8};
  const uint64_t f = StatsFingerprint(12, counts, 2);
  EXPECT_NE(f, kResendFingerprint);
  EXPECT_EQ(StatsFingerprint(12, counts, 2), f);
  EXPECT_NE(StatsFingerprint(13, counts, 2), f);  // the answer count
  EXPECT_NE(StatsFingerprint(12, counts, 3), f);  // the class count
  // Every entry, at every magnitude, moved by 1.01 times the threshold, a
  // relative 1e-6 of (1 + |x|), either way.
  for (double x : {0.0, 1e-9, 0.3, 1.0, 7.9, 1234.5, 3.3e7}) {
    for (size_t i = 0; i < counts.size(); ++i) {
      for (double sign : {-1.0, 1.0}) {
        std::vector<double> moved = counts;
        moved[i] = x;
        const uint64_t base = StatsFingerprint(12, moved, 2);
        moved[i] = x + sign * 1.01e-6 * (1.0 + std::fabs(x));
        EXPECT_NE(StatsFingerprint(12, moved, 2), base) << "x " << x << " entry " << i;
      }
    }
  }
  // Rounding noise, far below the threshold, mostly keeps it (a value next to
  // a step's edge may cross it: that record is only sent again).
  int same = 0;
  for (int i = 1; i <= 1000; ++i) {
    std::vector<double> noisy = counts;
    for (double& c : noisy) c *= 1.0 + 1e-12 * i;
    same += StatsFingerprint(12, noisy, 2) == f;
  }
  EXPECT_GE(same, 990);
}

TEST(WorkerStatsTest, PartitionStatsMapKeepsPartitionsSorted) {
  PartitionStatsMap m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(3), m.end());
  for (int32_t p : {7, 3, 11, 0, 3}) m[p].answers += p + 1;
  std::vector<int32_t> order;
  for (const auto& [p, e] : m) order.push_back(p);
  EXPECT_EQ(order, (std::vector<int32_t>{0, 3, 7, 11}));
  ASSERT_NE(m.find(3), m.end());
  EXPECT_EQ(m.find(3)->second.answers, 8);  // written twice
  EXPECT_EQ(m.find(5), m.end());
  m[11].counts.assign({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0});  // K = 3 leaves the inline storage
  EXPECT_EQ(m.find(11)->second.counts[8], 9.0);
  EXPECT_EQ(m.find(0)->second.answers, 1);
}

// SentFingerprints against a std::map doing the same, through both forms of
// a partition (a hash map while sparse, an array once a quarter of the worker
// ids have an entry), resends, and erased partitions.
TEST(WorkerStatsTest, SentFingerprintsActsAsAMapInBothForms) {
  SentFingerprints sent;
  std::map<std::pair<int32_t, int32_t>, uint64_t> model;
  auto check = [&] {
    ASSERT_EQ(sent.size(), model.size());
    std::map<std::pair<int32_t, int32_t>, int> seen;
    sent.ForEach([&](int32_t p, int32_t w) { ++seen[{p, w}]; });
    ASSERT_EQ(seen.size(), model.size());
    for (const auto& [key, value] : model) {
      ASSERT_EQ(seen[key], 1) << key.first << "/" << key.second;
      ASSERT_EQ(sent.Find(key.first, key.second), value) << key.first << "/" << key.second;
    }
  };
  uint64_t next = 100;
  // Partition 0 sparse (every 50th worker id of 20,000), partition 1 dense
  // (every other id), partition 2 only class counts; a few ids rewritten.
  for (int32_t w = 0; w < 20000; w += 50) model[{0, w}] = next++;
  for (int32_t w = 1; w < 20000; w += 2) model[{1, w}] = next++;
  model[{2, -1}] = next++;
  model[{1, -1}] = next++;
  for (const auto& [key, value] : model) sent.Set(key.first, key.second, value);
  for (int32_t w = 1; w < 200; w += 2) sent.Set(1, w, model[{1, w}] = next++);
  check();
  EXPECT_EQ(sent.Find(0, 1), std::nullopt);
  EXPECT_EQ(sent.Find(1, 2), std::nullopt);
  EXPECT_EQ(sent.Find(1, 50000), std::nullopt);  // past the array
  EXPECT_EQ(sent.Find(3, 1), std::nullopt);
  sent.Set(1, 50000, model[{1, 50000}] = next++);  // grows the array
  sent.Set(0, 7, model[{0, 7}] = kResendFingerprint);
  check();
  sent.MarkAllForResend();
  for (auto& [key, value] : model) value = kResendFingerprint;
  check();
  sent.ErasePartition(1);
  std::erase_if(model, [](const auto& e) { return e.first.first == 1; });
  check();
  sent.KeepPartitions([](int32_t p) { return p != 2; });
  std::erase_if(model, [](const auto& e) { return e.first.first == 2; });
  check();
  EXPECT_EQ(sent.size(), 400u + 1u);
}

TEST(WorkerStatsTest, AFingerprintIsNeverZeroOrOne) {
  // (SentFingerprints stores those for "nothing" and "resend".)
  for (int64_t answers = 0; answers < 100000; ++answers) {
    const double counts[1] = {static_cast<double>(answers % 7)};
    const uint64_t f = StatsFingerprint(answers, counts, 1);
    ASSERT_GT(f, 1u) << answers;
  }
}

}  // namespace
}  // namespace consensusd::engine
