// SPEC 6 at scale: "After kill -9 at any moment and a restart, the state
// equals that of a run that never stopped", tried many times in one stream.
//
// A paced producer publishes a synthetic stream, one Kafka message per answer
// as platforms emit them: answers, re-answers (a worker replacing their earlier
// answer) and, last, gold declarations. One instance consumes it and is killed
// with SIGKILL at random moments, each time restarted on the same data
// directory; a second instance in another group consumes the same stream and is
// never interrupted. After the last restart has consumed everything, the two
// exports (labels with posteriors and answer counts, and worker reports) must be
// equal, and every task must hold exactly one answer per worker who answered it.
//
// The moments are drawn from a seed that is printed first; the environment
// sets the scale, so that `make soak` runs this same test on 5M answers:
//   CONSENSUSD_CRASH_ANSWERS     answers before re-answers (default 200000)
//   CONSENSUSD_CRASH_KILLS       kill -9s (default 20)
//   CONSENSUSD_CRASH_PARTITIONS  partitions of the input topic (default 8)
//   CONSENSUSD_CRASH_SECONDS     how long the producer takes (default 5 s a kill)
//   CONSENSUSD_CRASH_SEED        the seed of the data and the moments (default: random)
// The seed replays the data and the schedule; the processes' timing is the
// machine's.

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

constexpr int kAnswersPerTask = 5;
constexpr int kClasses = 4;
constexpr int kReanswerEvery = 20;  // one re-answer after every 20th answer
constexpr int kGoldPercent = 1;     // of the tasks

// The scale and the seed of one run, from the environment.
struct CrashPlan {
  int64_t answers = 200000;
  int kills = 20;
  int partitions = 8;
  double seconds = 0;
  uint64_t seed = 0;

  static CrashPlan FromEnvironment() {
    CrashPlan plan;
    auto number = [](const char* name, double fallback) {
      const char* v = std::getenv(name);
      return v != nullptr && *v != '\0' ? std::strtod(v, nullptr) : fallback;
    };
    plan.answers = static_cast<int64_t>(number("CONSENSUSD_CRASH_ANSWERS", 200000));
    plan.kills = static_cast<int>(number("CONSENSUSD_CRASH_KILLS", 20));
    plan.partitions = static_cast<int>(number("CONSENSUSD_CRASH_PARTITIONS", 8));
    // A restart takes about 4.5 s on the mock broker (the dead member's
    // session runs out, then the group waits 2 s before it rebalances) and an
    // instance lives up to 1.5 s after that: the stream outlasts the kills.
    plan.seconds = number("CONSENSUSD_CRASH_SECONDS", 5.0 * plan.kills);
    const char* seed = std::getenv("CONSENSUSD_CRASH_SEED");
    plan.seed = seed != nullptr && *seed != '\0' ? std::strtoull(seed, nullptr, 10)
                                                 : std::random_device{}() % 1000000;
    return plan;
  }
};

// The stream of one run, as files for `consensusd produce`.
struct Stream {
  std::string labels;  // task,worker,label: answers and re-answers, in stream order
  std::string gold;    // task,label
  int64_t rows = 0;    // answers + re-answers
  int64_t reanswers = 0;
  std::map<std::string, std::string> gold_labels;
  std::map<std::string, int64_t> answers_per_task;  // distinct workers
  int64_t distinct_answers = 0;
};

// Draws a Dawid-Skene data set with `consensusd synth` and writes it as a
// stream: after every kReanswerEvery-th answer, the answer ten rows earlier
// again with the next class (a replacement: one answer per task and worker
// still counts), then gold for the first kGoldPercent of the tasks.
Stream WriteStream(const TempDir& dir, const CrashPlan& plan) {
  const int64_t tasks = std::max<int64_t>(1, plan.answers / kAnswersPerTask);
  // About 200 answers a worker, at most 2,000 workers: every instance publishes
  // a record per worker and partition to the worker-statistics topic, so
  // workers x partitions sets its volume (docs/reliability.md).
  const int64_t workers = std::clamp<int64_t>(plan.answers / 200, 50, 2000);
  const RunResult synth = RunConsensusd(
      {"synth", "--tasks", std::to_string(tasks), "--workers", std::to_string(workers),
       "--classes", std::to_string(kClasses), "--answers-per-task",
       std::to_string(kAnswersPerTask), "--seed", std::to_string(plan.seed), "--out",
       dir.File("synth")},
      seconds(600));
  EXPECT_EQ(synth.exit_code, 0) << synth.err;

  Stream s;
  s.labels = dir.File("stream.csv");
  s.gold = dir.File("gold.csv");
  absl::StatusOr<service::CsvReader> in = service::CsvReader::Open(dir.File("synth/labels.csv"));
  absl::StatusOr<service::CsvWriter> out = service::CsvWriter::Create(s.labels);
  EXPECT_TRUE(in.ok() && out.ok());
  if (!in.ok() || !out.ok()) return s;
  out->AddRow({"task", "worker", "label"});
  constexpr const char* kColumns[] = {"task", "worker", "label"};
  std::vector<std::array<std::string, 3>> recent;  // the last rows, to re-answer
  std::vector<std::string_view> row;
  std::string last_task;
  std::set<std::string> task_workers;
  auto end_task = [&] {
    if (!last_task.empty()) s.answers_per_task[last_task] = static_cast<int64_t>(task_workers.size());
    task_workers.clear();
  };
  int64_t n = 0;
  while (in->NextRow(kColumns, &row)) {
    // synth writes a task's answers together.
    if (row[0] != last_task) {
      end_task();
      last_task = std::string(row[0]);
    }
    task_workers.insert(std::string(row[1]));
    out->AddRow({row[0], row[1], row[2]});
    ++s.rows;
    recent.push_back({std::string(row[0]), std::string(row[1]), std::string(row[2])});
    if (recent.size() > 10) recent.erase(recent.begin());
    if (++n % kReanswerEvery == 0 && recent.size() == 10) {
      const std::array<std::string, 3>& earlier = recent.front();
      const int k = std::atoi(earlier[2].c_str() + 1);  // synth's classes are c0, c1, ...
      const std::string other = "c" + std::to_string((k + 1) % kClasses);
      out->AddRow({earlier[0], earlier[1], other});
      ++s.rows;
      ++s.reanswers;
    }
  }
  end_task();
  EXPECT_TRUE(in->status().ok()) << in->status();
  EXPECT_TRUE(out->Close().ok());
  for (const auto& [task, count] : s.answers_per_task) s.distinct_answers += count;

  const std::map<std::string, std::string> truth = ReadGold(dir.File("synth/truth.csv"));
  absl::StatusOr<service::CsvWriter> gold = service::CsvWriter::Create(s.gold);
  EXPECT_TRUE(gold.ok());
  if (!gold.ok()) return s;
  gold->AddRow({"task", "label"});
  const int64_t gold_tasks = std::max<int64_t>(1, tasks * kGoldPercent / 100);
  for (int64_t t = 0; t < gold_tasks; ++t) {
    const std::string task = "t" + std::to_string(t);
    gold->AddRow({task, truth.at(task)});
    s.gold_labels[task] = truth.at(task);
  }
  EXPECT_TRUE(gold->Close().ok());
  return s;
}

// Where an instance was when it was killed.
enum class Phase { kStarting, kJoining, kConsuming };

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kStarting:
      return "starting (HTTP not up yet)";
    case Phase::kJoining:
      return "restoring or joining (nothing applied yet)";
    case Phase::kConsuming:
      return "consuming";
  }
  return "?";
}

// The moment of one kill: either `delay` after the process started (any
// moment of its start-up: restore, group join, the first fetches), or `delay`
// after it applied its first answer (in the middle of consuming).
struct KillMoment {
  bool during_startup = false;
  double delay_s = 0;
};

std::vector<KillMoment> DrawKillMoments(int kills, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<KillMoment> moments(kills);
  for (KillMoment& m : moments) {
    m.during_startup = unit(rng) < 0.25;
    m.delay_s = m.during_startup ? 5.0 * unit(rng) : 1.5 * unit(rng);
  }
  return moments;
}

// The answers total of a project as the HTTP API reports it; -1 if it did not answer.
int64_t ProjectAnswers(ServeProcess& serve) {
  std::optional<std::string> body = serve.Get("/v1/projects/default");
  if (!body) return -1;
  const nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_object() || !j.contains("answers")) return -1;
  return j["answers"].get<int64_t>();
}

// worker -> fields of an `export --workers` CSV; numbers compared to 1e-6 (the
// CSV has 6 decimals), everything else exactly.
using WorkerRows = std::map<std::string, std::vector<std::string>>;

WorkerRows ReadWorkersCsv(const std::string& path) {
  WorkerRows rows;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return rows;
  std::vector<std::string_view> row;
  bool header = true;
  while (reader->Next(&row)) {
    if (header) {
      header = false;
      continue;
    }
    if (row.empty()) continue;
    std::vector<std::string>& fields = rows[std::string(row[0])];
    for (size_t i = 1; i < row.size(); ++i) fields.emplace_back(row[i]);
  }
  return rows;
}

std::string DiffWorkers(const WorkerRows& a, const WorkerRows& b, int limit = 10) {
  std::string diff;
  int n = 0;
  auto note = [&](const std::string& line) {
    if (n++ < limit) diff += line + "\n";
  };
  for (const auto& [worker, fa] : a) {
    auto it = b.find(worker);
    if (it == b.end()) {
      note("worker " + worker + " only in the first");
      continue;
    }
    const std::vector<std::string>& fb = it->second;
    bool same = fa.size() == fb.size();
    for (size_t i = 0; same && i < fa.size(); ++i) {
      if (fa[i] == fb[i]) continue;
      char* end_a = nullptr;
      char* end_b = nullptr;
      const double x = std::strtod(fa[i].c_str(), &end_a);
      const double y = std::strtod(fb[i].c_str(), &end_b);
      same = *end_a == '\0' && *end_b == '\0' && !fa[i].empty() && std::abs(x - y) <= 1.5e-6;
    }
    if (!same) note("worker " + worker + " differs");
  }
  for (const auto& [worker, fb] : b) {
    if (!a.count(worker)) note("worker " + worker + " only in the second");
  }
  if (n > limit) diff += "... " + std::to_string(n - limit) + " more\n";
  return diff;
}

TEST(CrashAtScaleTest, KillNineAtRandomMomentsOfAStreamThenStateEqualsUninterruptedRun) {
  const CrashPlan plan = CrashPlan::FromEnvironment();
  std::printf("crash test: seed %" PRIu64 " (rerun with CONSENSUSD_CRASH_SEED=%" PRIu64
              "), %" PRId64 " answers, %d kills, %d partitions, stream over %.0f s\n",
              plan.seed, plan.seed, plan.answers, plan.kills, plan.partitions, plan.seconds);
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(plan.seed));
  ASSERT_GT(plan.answers, 0);
  ASSERT_GT(plan.seconds, 0);

  TempDir dir;
  const Stream stream = WriteStream(dir, plan);
  ASSERT_GT(stream.rows, 0);
  const int64_t elements = stream.rows + static_cast<int64_t>(stream.gold_labels.size());
  const double rate = static_cast<double>(elements) / plan.seconds;
  // Generous for slow machines: a restarted instance may be millions behind.
  const auto catch_up = seconds(90 + plan.answers / 5000);

  MockKafka kafka(dir, "labels", plan.partitions);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));

  // The reference consumes the stream as it arrives and is never interrupted.
  ServeProcess clean(ServeArgs(kafka, "labels", "clean", dir.File("clean")), dir.File("clean.log"));
  ASSERT_TRUE(clean.WaitListening()) << clean.Log();
  ServeArgs crashing(kafka, "labels", "crash", dir.File("crashed"));
  // Restarts after a kill wait for the dead member's session to time out: 3 s.
  for (std::string& s : crashing.sets) {
    if (s.starts_with("kafka.properties.session.timeout.ms=")) {
      s = "kafka.properties.session.timeout.ms=3000";
    }
  }
  std::optional<ServeProcess> serve;
  serve.emplace(crashing, dir.File("crashed-0.log"));
  ASSERT_TRUE(serve->WaitListening()) << serve->Log();
  ASSERT_TRUE(WaitUntil([&] { return serve->Ready(); }, seconds(30))) << serve->Log();

  Subprocess producer({kBinary, "produce", "--brokers", kafka.bootstrap(), "--topic", "labels",
                       stream.labels, "--gold", stream.gold, "--rate", std::to_string(rate)},
                      {Redirect::Null(), Redirect::Null(), Redirect::File(dir.File("produce.err"))});
  const auto stream_start = Clock::now();

  std::map<Phase, int> kills_by_phase;
  int kills_in_flight = 0;
  int crashes = 0;  // lives that ended before their kill
  const std::vector<KillMoment> moments = DrawKillMoments(plan.kills, plan.seed);
  for (int i = 0; i < plan.kills; ++i) {
    const KillMoment& m = moments[i];
    const auto started = Clock::now();
    if (i > 0) serve.emplace(crashing, dir.File("crashed-" + std::to_string(i) + ".log"));
    double applied = 0;
    if (m.during_startup) {
      std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(m.delay_s)));
    } else {
      ASSERT_TRUE(serve->WaitListening()) << serve->Log();
      ASSERT_TRUE(WaitUntil(
          [&] {
            return SumMetric(serve->Metrics(), "consensusd_answers_applied_total") > 0 ||
                   !producer.running();
          },
          seconds(60), milliseconds(10)))
          << serve->Log();
      std::this_thread::sleep_for(std::chrono::duration<double>(m.delay_s));
    }
    Phase phase = Phase::kStarting;
    if (serve->WaitListening(milliseconds(0))) {
      applied = SumMetric(serve->Metrics(), "consensusd_answers_applied_total");
      phase = applied > 0 ? Phase::kConsuming : Phase::kJoining;
    }
    const bool in_flight = producer.running();
    if (!serve->running()) {
      ++crashes;
      ADD_FAILURE() << "serve exited by itself before kill " << i + 1 << ":\n" << serve->Log();
    }
    serve->Kill();
    ++kills_by_phase[phase];
    kills_in_flight += in_flight;
    std::printf("kill %2d/%d at %6.2f s of the stream, %.2f s into this life: %s, %.0f answers "
                "applied in this life%s\n",
                i + 1, plan.kills,
                std::chrono::duration<double>(Clock::now() - stream_start).count(),
                std::chrono::duration<double>(Clock::now() - started).count(), PhaseName(phase),
                applied, in_flight ? "" : " (the producer had finished)");
    std::fflush(stdout);
  }

  // The last restart, on the same state.
  serve.emplace(crashing, dir.File("crashed-last.log"));
  ASSERT_TRUE(serve->WaitListening()) << serve->Log();
  const std::optional<int> produce_exit =
      producer.WaitExit(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(plan.seconds + 120)));
  const ProduceResult produced =
      ParseProduceReport(produce_exit.value_or(-1), ReadWholeFile(dir.File("produce.err")));
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, elements) << produced.err;
  ASSERT_EQ(produced.messages, elements) << "one message per answer";

  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(*serve, {"labels", plan.partitions, -1, -1}, catch_up, &why))
      << why << "\n"
      << serve->Log();
  // Nothing was dropped by the broker (it drops a partition's oldest past 5 MiB).
  // It may hold a few messages twice: the mock broker, overloaded on a busy
  // machine, appends a retried batch again although the producer is
  // idempotent (seen: 20 of 5.26M). Both runs read the same log, so their
  // states must still agree; a duplicate changes no answer count.
  int64_t held = 0;
  for (int p = 0; p < plan.partitions; ++p) {
    const Watermarks w = QueryWatermarks(kafka.bootstrap(), "labels", p, seconds(10));
    EXPECT_EQ(w.low, 0) << "the broker dropped the oldest messages of partition " << p
                        << ": use more partitions (CONSENSUSD_CRASH_PARTITIONS)";
    held += w.high - w.low;
  }
  const int64_t duplicates = held - produced.messages;
  EXPECT_GE(duplicates, 0);
  EXPECT_LE(duplicates * 10000, produced.messages) << "more than 0.01% of the messages twice";
  // The uninterrupted run read every message once and applied every answer
  // once (a duplicated message is an answer applied again, or gold).
  ASSERT_TRUE(WaitFullyConsumed(clean, {"labels", plan.partitions, held, -1}, catch_up, &why))
      << why << "\n"
      << clean.Log();
  const int64_t clean_applied = static_cast<int64_t>(SumMetric(clean.Metrics(), "consensusd_answers_applied_total"));
  EXPECT_GE(clean_applied, stream.rows);
  EXPECT_LE(clean_applied, stream.rows + duplicates);

  // The HTTP API's count: one answer per (task, worker) in either run.
  EXPECT_EQ(ProjectAnswers(*serve), stream.distinct_answers);
  EXPECT_EQ(ProjectAnswers(clean), stream.distinct_answers);
  ASSERT_EQ(serve->Stop(), 0) << serve->Log();
  ASSERT_EQ(clean.Stop(), 0) << clean.Log();

  for (const char* state : {"crashed", "clean"}) {
    const std::string name(state);
    RunResult r = RunConsensusd({"export", "--data-dir", dir.File(name), "--format", "jsonl",
                                 "--out", dir.File(name + ".jsonl")},
                                seconds(600));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunConsensusd({"export", "--data-dir", dir.File(name), "--workers", "--out",
                       dir.File(name + "-workers.csv")},
                      seconds(600));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const TaskResults recovered = ReadLabelsJsonl(dir.File("crashed.jsonl"));
  const TaskResults reference = ReadLabelsJsonl(dir.File("clean.jsonl"));
  EXPECT_EQ(reference.size(), stream.answers_per_task.size());
  EXPECT_EQ(DiffExports(recovered, reference, 1e-9), "");
  const WorkerRows recovered_workers = ReadWorkersCsv(dir.File("crashed-workers.csv"));
  EXPECT_GT(recovered_workers.size(), 0u);
  EXPECT_EQ(DiffWorkers(recovered_workers, ReadWorkersCsv(dir.File("clean-workers.csv"))), "");
  int64_t gold_wrong = 0;
  for (const auto& [task, label] : stream.gold_labels) {
    auto it = recovered.find(task);
    gold_wrong += it == recovered.end() || it->second.gold != label;
  }
  EXPECT_EQ(gold_wrong, 0) << "gold declarations lost";

  // Answers lost and counted twice, task by task, against the stream itself.
  int64_t lost = 0, doubled = 0;
  std::string first_wrong;
  for (const auto& [task, expected] : stream.answers_per_task) {
    auto it = recovered.find(task);
    const int64_t got = it == recovered.end() ? 0 : it->second.answers;
    if (got != expected && first_wrong.empty()) {
      first_wrong = task + ": " + std::to_string(expected) + " expected, " + std::to_string(got);
    }
    lost += std::max<int64_t>(0, expected - got);
    doubled += std::max<int64_t>(0, got - expected);
  }
  EXPECT_EQ(lost, 0) << "first: " << first_wrong;
  EXPECT_EQ(doubled, 0) << "first: " << first_wrong;

  std::printf("crash test: %" PRId64 " answers + %" PRId64 " re-answers + %zu gold in %" PRId64
              " messages on %d partitions over %.1f s; %d kills (%d starting, %d restoring or "
              "joining, %d consuming), %d of them with the producer running; crashes %d, answers lost %" PRId64
              ", double-counted %" PRId64 ", tasks %zu, workers %zu; messages the broker holds twice %" PRId64 "\n",
              stream.rows - stream.reanswers, stream.reanswers, stream.gold_labels.size(),
              produced.messages, plan.partitions,
              std::chrono::duration<double>(Clock::now() - stream_start).count(), plan.kills,
              kills_by_phase[Phase::kStarting], kills_by_phase[Phase::kJoining],
              kills_by_phase[Phase::kConsuming], kills_in_flight, crashes, lost, doubled,
              recovered.size(), recovered_workers.size(), duplicates);
  // The kills happened while answers were arriving, most in the middle of consuming.
  EXPECT_GE(kills_in_flight * 4, plan.kills * 3) << "the stream ended before most kills: raise "
                                                    "CONSENSUSD_CRASH_SECONDS";
  EXPECT_GE(kills_by_phase[Phase::kConsuming] * 2, plan.kills);
}

}  // namespace
}  // namespace consensusd::integration
