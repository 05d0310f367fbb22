// ServeGroup: `consensusd serve` instances of one consumer group on a real
// broker, and what the scale-out tests (SPEC 8) read from them over HTTP: the
// union of their consensus exports and each instance's worker accuracies.
//
//   ServeGroup group(dir, topics, "proj");
//   for (int i = 0; i < 3; ++i) ASSERT_NE(group.Add(), nullptr) << group.Diagnostics();
//   GroupSnapshot s = group.Snapshot();
//   EXPECT_EQ(AnswerCountDiff(s, DistinctAnswersPerTask(csv)), "");
//   EXPECT_LE(AccuracySpread(s), 1e-6);
//
// Each instance serves (and publishes) only the tasks of the partitions it
// owns, so the union of the exports is the group's consensus; a task in two
// exports, or with another answer count than the input holds, is an answer
// lost or counted twice. Not thread-safe.
#ifndef CONSENSUSD_TESTS_KAFKA_SERVE_GROUP_H_
#define CONSENSUSD_TESTS_KAFKA_SERVE_GROUP_H_

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"
#include "tests/kafka/real_kafka.h"

namespace consensusd::kafka_tests {

using integration::ServeArgs;
using integration::ServeProcess;
using integration::TaskResults;
using service::TempDir;

// The topics and group of one test's instances.
struct GroupTopics {
  std::string brokers;
  std::string input;         // answers, keyed by task
  std::string group;         // kafka.group
  std::string consensus;     // kafka.consensus_topic
  std::string worker_stats;  // kafka.worker_stats_topic
};

// Creates the topics of a test named `name` (they and the group are named
// after it): the input with `partitions` partitions, the consensus and worker
// statistics with `compacted` (at least cleanup.policy=compact), the review
// and dead-letter topics; the outputs have one partition.
inline absl::StatusOr<GroupTopics> CreateGroupTopics(
    RealKafka& kafka, const std::string& name, int partitions,
    const std::map<std::string, std::string>& compacted) {
  GroupTopics t = {kafka.bootstrap(), name + ".labels", name, name + ".consensus",
                   name + ".worker-stats"};
  absl::Status s = kafka.CreateTopic(t.input, partitions);
  if (s.ok()) s = kafka.CreateTopic(t.consensus, 1, compacted);
  if (s.ok()) s = kafka.CreateTopic(t.worker_stats, 1, compacted);
  if (s.ok()) s = kafka.CreateTopic(t.input + ".review", 1);
  if (s.ok()) s = kafka.CreateTopic(t.input + ".dlq", 1);
  if (!s.ok()) return s;
  return t;
}

// What the live instances of a group served at one moment.
struct GroupSnapshot {
  std::string error;  // the first instance that did not answer; empty if all did
  TaskResults tasks;  // the union of the instances' exports
  std::vector<std::string> duplicated;  // tasks in more than one export
  std::vector<size_t> tasks_per_instance;
  // Per instance: worker -> accuracy (-1 where the instance reports null).
  std::vector<std::map<std::string, double>> accuracies;
};

class ServeGroup {
 public:
  // `sets`: more --set KEY=VALUE for every instance.
  ServeGroup(const TempDir& dir, GroupTopics topics, std::string project,
             std::vector<std::string> sets = {})
      : dir_(dir),
        topics_(std::move(topics)),
        project_(std::move(project)),
        sets_(std::move(sets)) {}

  // Starts one more instance (state in instance-<i>/, log instance-<i>.log)
  // and waits until it listens; nullptr if it does not. `sets`: more --set
  // KEY=VALUE for this instance only (e.g. its kafka.instance_id).
  ServeProcess* Add(const std::vector<std::string>& sets = {}) {
    const std::string name = absl::StrCat("instance-", instances_.size());
    ServeArgs args(topics_.brokers, topics_.input, topics_.group, dir_.File(name),
                   {"kafka.consensus_topic=" + topics_.consensus,
                    "kafka.review_topic=" + topics_.input + ".review",
                    "kafka.dlq_topic=" + topics_.input + ".dlq", "model.sweep_interval_s=1",
                    // A killed member's partitions move on after its session
                    // times out; 6 s is the broker's minimum.
                    "kafka.properties.session.timeout.ms=6000",
                    "kafka.properties.heartbeat.interval.ms=1000"});
    args.sets.insert(args.sets.end(), sets_.begin(), sets_.end());
    args.sets.insert(args.sets.end(), sets.begin(), sets.end());
    // Through the environment: a version without these keys ignores them
    // with a warning where a --set would be an error.
    args.env = {"CONSENSUSD_KAFKA_WORKER_STATS_TOPIC=" + topics_.worker_stats,
                "CONSENSUSD_KAFKA_WORKER_STATS_INTERVAL_MS=500"};
    instances_.push_back(std::make_unique<ServeProcess>(args, dir_.File(name + ".log")));
    args_.push_back(std::move(args));
    ended_.push_back(nullptr);
    ServeProcess* added = instances_.back().get();
    return added->WaitListening() ? added : nullptr;
  }

  size_t size() const { return instances_.size(); }
  ServeProcess& at(size_t i) { return *instances_[i]; }

  // kill -9 instance `i`; it no longer counts as live.
  void Kill(size_t i) {
    instances_[i]->Kill();
    ended_[i] = "killed by the test";
  }

  // SIGTERM to instance `i`, then its exit code (nullopt if it did not exit
  // in time); it no longer counts as live.
  std::optional<int> Stop(size_t i) {
    const std::optional<int> code = instances_[i]->Stop();
    ended_[i] = "stopped by the test";
    return code;
  }

  // Starts instance `i` again after Kill or Stop, with the same arguments
  // (data dir, instance id) and a log of its own (instance-<i>.<restart>.log),
  // and waits until it listens; nullptr if it does not.
  ServeProcess* Restart(size_t i) {
    retired_.emplace_back(i, std::move(instances_[i]));
    size_t restarts = 0;
    for (const auto& [index, process] : retired_) restarts += index == i;
    instances_[i] = std::make_unique<ServeProcess>(
        args_[i], dir_.File(absl::StrCat("instance-", i, ".", restarts, ".log")));
    ended_[i] = nullptr;
    return instances_[i]->WaitListening() ? instances_[i].get() : nullptr;
  }

  // The instances not killed or stopped, in the order they were added.
  std::vector<ServeProcess*> Live() {
    std::vector<ServeProcess*> live;
    for (size_t i = 0; i < instances_.size(); ++i) {
      if (ended_[i] == nullptr) live.push_back(instances_[i].get());
    }
    return live;
  }

  // Answers applied by the live instances (a rebuilt partition counts again).
  double AnswersApplied() {
    double sum = 0;
    for (ServeProcess* s : Live()) {
      sum += integration::SumMetric(s->Metrics(), "consensusd_answers_applied_total");
    }
    return sum;
  }

  // Reads every live instance's export and worker list.
  GroupSnapshot Snapshot() {
    GroupSnapshot snapshot;
    std::set<std::string> seen;
    const std::vector<ServeProcess*> live = Live();
    for (size_t i = 0; i < live.size(); ++i) {
      const std::optional<std::string> body =
          live[i]->Get("/v1/projects/" + project_ + "/export?format=jsonl");
      std::optional<std::map<std::string, double>> accuracies = WorkerAccuracies(*live[i]);
      if (!body || !accuracies) {
        if (snapshot.error.empty()) {
          snapshot.error = absl::StrCat("live instance ", i, " did not answer its ",
                                        body ? "workers" : "export");
        }
        continue;
      }
      const TaskResults tasks = integration::ParseLabelsJsonl(*body);
      snapshot.tasks_per_instance.push_back(tasks.size());
      for (const auto& [task, result] : tasks) {
        if (!seen.insert(task).second) snapshot.duplicated.push_back(task);
        snapshot.tasks[task] = result;
      }
      snapshot.accuracies.push_back(std::move(*accuracies));
    }
    return snapshot;
  }

  // Per instance: alive or not, then the end of its log (and of the logs of
  // its runs before a restart).
  std::string Diagnostics(size_t lines = 25) {
    std::string text;
    for (const auto& [i, s] : retired_) {
      absl::StrAppend(&text, "--- instance ", i, " before a restart, last lines of its log:\n",
                      Tail(s->Log(), lines));
    }
    for (size_t i = 0; i < instances_.size(); ++i) {
      ServeProcess& s = *instances_[i];
      const std::string state = ended_[i] != nullptr ? ended_[i]
                                : s.running()         ? "running"
                                                      : "exited";
      absl::StrAppend(&text, "--- instance ", i, " (", state, "), last lines of its log:\n",
                      Tail(s.Log(), lines));
    }
    return text;
  }

  // SIGTERM to every live instance at once, then waits for each; returns the
  // instances that did not exit with 0 in time, empty if all did.
  std::string StopAll() {
    for (ServeProcess* s : Live()) s->Signal(SIGTERM);
    std::string failed;
    const std::vector<ServeProcess*> live = Live();
    for (size_t i = 0; i < live.size(); ++i) {
      const std::optional<int> code = live[i]->WaitExit();
      if (code != 0) {
        absl::StrAppend(&failed, "live instance ", i, ": ",
                        code ? absl::StrCat("exit code ", *code) : "still running", "\n");
      }
    }
    return failed;
  }

 private:
  // Every worker of the project, paging through /workers; nullopt if the
  // instance did not answer.
  std::optional<std::map<std::string, double>> WorkerAccuracies(ServeProcess& s) {
    std::map<std::string, double> accuracies;
    std::string cursor;
    do {
      const std::optional<std::string> body =
          s.Get("/v1/projects/" + project_ + "/workers?sort=answers&limit=1000" +
                (cursor.empty() ? "" : "&cursor=" + cursor));
      if (!body) return std::nullopt;
      const nlohmann::json page = nlohmann::json::parse(*body, nullptr, false);
      if (!page.is_object() || !page.contains("items")) return std::nullopt;
      for (const nlohmann::json& w : page["items"]) {
        const nlohmann::json& a = w["accuracy"];
        accuracies[w["worker"].get<std::string>()] = a.is_number() ? a.get<double>() : -1;
      }
      const nlohmann::json& next = page["next_cursor"];
      cursor = next.is_string() ? next.get<std::string>() : "";
    } while (!cursor.empty());
    return accuracies;
  }

  static std::string Tail(const std::string& text, size_t lines) {
    size_t at = text.size();
    for (size_t n = 0; n <= lines; ++n) {
      if (at == 0 || (at = text.rfind('\n', at - 1)) == std::string::npos) return text;
    }
    return text.substr(at + 1);
  }

  const TempDir& dir_;
  GroupTopics topics_;
  std::string project_;
  std::vector<std::string> sets_;
  std::vector<std::unique_ptr<ServeProcess>> instances_;
  std::vector<ServeArgs> args_;       // parallel to instances_
  std::vector<const char*> ended_;    // parallel to instances_: why not live, or nullptr
  std::vector<std::pair<size_t, std::unique_ptr<ServeProcess>>> retired_;  // before a Restart
};

// Waits until the instance's background sweeps (model.sweep_interval_s=1)
// have settled: each sweep may change the consensus until one has seen every
// answer, and then their count stops moving.
inline bool WaitSweepsSettled(ServeProcess& s, std::chrono::steady_clock::duration timeout) {
  double sweeps = -1;
  return tests::WaitUntil(
      [&] {
        const double now = integration::SumMetric(s.Metrics(), "consensusd_em_sweeps_total");
        const bool settled = now > 0 && now == sweeps;
        sweeps = now;
        return settled;
      },
      timeout, std::chrono::milliseconds(1500));
}

// Where the snapshot's answers differ from `expected` (task -> answers in the
// input): an instance that did not answer, tasks exported twice, missing,
// unexpected or with another answer count. Empty when every answer is
// counted exactly once. At most `limit` examples of each kind.
inline std::string AnswerCountDiff(const GroupSnapshot& s,
                                   const std::map<std::string, int64_t>& expected,
                                   size_t limit = 3) {
  std::string diff = s.error.empty() ? "" : s.error + "\n";
  if (!s.duplicated.empty()) {
    absl::StrAppend(&diff, s.duplicated.size(), " tasks in two exports, e.g. ", s.duplicated[0],
                    "\n");
  }
  std::vector<std::string> missing, other;
  for (const auto& [task, n] : expected) {
    auto it = s.tasks.find(task);
    if (it == s.tasks.end()) {
      missing.push_back(task);
    } else if (it->second.answers != n) {
      other.push_back(absl::StrCat(task, " (", it->second.answers, " answers, not ", n, ")"));
    }
  }
  int64_t unexpected = 0;
  for (const auto& [task, result] : s.tasks) unexpected += expected.count(task) == 0;
  auto report = [&](const std::vector<std::string>& tasks, const char* what) {
    if (tasks.empty()) return;
    absl::StrAppend(&diff, tasks.size(), " tasks ", what, ", e.g.");
    for (size_t i = 0; i < std::min(limit, tasks.size()); ++i) {
      absl::StrAppend(&diff, " ", tasks[i]);
    }
    diff += "\n";
  };
  report(missing, "missing");
  report(other, "with another answer count");
  if (unexpected > 0) absl::StrAppend(&diff, unexpected, " tasks not in the input\n");
  return diff;
}

// The largest difference between two instances' accuracy of one worker;
// infinity when the instances do not list the same workers.
inline double AccuracySpread(const GroupSnapshot& s) {
  double spread = 0;
  for (size_t i = 1; i < s.accuracies.size(); ++i) {
    if (s.accuracies[i].size() != s.accuracies[0].size()) {
      return std::numeric_limits<double>::infinity();
    }
    for (const auto& [worker, accuracy] : s.accuracies[0]) {
      auto it = s.accuracies[i].find(worker);
      if (it == s.accuracies[i].end()) return std::numeric_limits<double>::infinity();
      spread = std::max(spread, std::abs(it->second - accuracy));
    }
  }
  return spread;
}

// The fraction of the reference's tasks that have the reference's label in `tasks`.
inline double LabelAgreement(const TaskResults& tasks, const TaskResults& reference) {
  int64_t same = 0;
  for (const auto& [task, r] : reference) {
    auto it = tasks.find(task);
    same += it != tasks.end() && it->second.label == r.label;
  }
  return reference.empty() ? 0 : static_cast<double>(same) / static_cast<double>(reference.size());
}

}  // namespace consensusd::kafka_tests

#endif  // CONSENSUSD_TESTS_KAFKA_SERVE_GROUP_H_
