// Project: the live state of one project inside the engine: its streaming
// model, the input partition of each task, what was last handed to the output
// producer for each task, and the last sweep's report. ProjectSet creates
// projects on first use and never deletes them.
//
// Internal to engine/: transports read projects through Engine's views.
//
//   ProjectSet projects(settings_for);
//   Project& p = projects.Get("sentiment-v2");
//   std::lock_guard<std::mutex> lock(p.mu);
//   p.model.SetAnswer(...);
//   p.Touch(task, partition);
#ifndef CONSENSUSD_ENGINE_PROJECT_H_
#define CONSENSUSD_ENGINE_PROJECT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "consensus/report.h"
#include "consensus/streaming_model.h"
#include "consensus/pairwise.h"
#include "consensus/rating.h"
#include "engine/live_vote_fit.h"
#include "engine/project_kind.h"
#include "engine/vote_set.h"
#include "engine/worker_stats.h"

namespace consensusd::engine {

// What a project is configured with.
struct ProjectSettings {
  consensus::StreamingOptions model;
  std::vector<std::string> classes;  // declared classes; empty = discovered
  consensus::QualityThresholds quality;
  consensus::ReviewThresholds review;
  double min_change = 0.01;  // output.min_change
  ProjectKind kind = ProjectKind::kUnset;  // declared; kUnset: fixed by the first answer
  // A rating project's declared scale; absent: any finite rating, and the
  // fit's scale runs from the smallest rating to the largest.
  std::optional<std::pair<double, double>> scale;
  // A pairwise project's bootstrap replicates per sweep (0: no intervals).
  int bootstrap = consensus::PairwiseOptions{}.bootstrap;
};

// What the last sweep of a pairwise or rating project fitted: the batch
// model (consensus/pairwise.h or rating.h) on the canonical copy of its
// votes (engine/vote_set.h), with the names of the copy's ids.
struct VoteReport {
  ProjectKind kind = ProjectKind::kUnset;
  CanonicalNames names;
  consensus::Comparisons comparisons;  // pairwise: the fitted votes
  consensus::PairwiseModel pairwise;   // kind pairwise
  consensus::RatingModel rating;       // kind rating
  double scale_min = 0, scale_max = 0; // rating: the scale of the fit
  absl::flat_hash_map<std::string, int32_t> task_index;  // name -> id in the fit
  int64_t sweep_unix_ms = 0;
  double sweep_seconds = 0;
  int bootstrap = 0;
};

// What the last full sweep of a project found (SPEC 4.3), kept for the API
// and the dashboard. Worker reports are indexed by worker id at sweep time.
struct ProjectReport {
  std::vector<consensus::WorkerReport> workers;
  std::vector<double> class_prior;
  double log_likelihood = 0;
  int iterations = 0;
  double sweep_seconds = 0;
  int64_t sweep_unix_ms = 0;
  double mean_confidence = 0;
  double krippendorff_alpha = 0;  // NaN when undefined
  int64_t tasks = 0;
  int64_t answers = 0;
  int64_t tasks_needing_review = 0;
  int64_t workers_flagged = 0;
};

// One project. Every member below `mu` is guarded by it.
struct Project {
  Project(std::string name, ProjectSettings settings);

  const std::string name;
  const ProjectSettings settings;
  const bool fixed_classes;  // classes declared in the config: others are rejected

  mutable std::mutex mu;
  consensus::StreamingModel model;
  // Input partition of each task (-1 unknown): only the owner of a task's
  // partition publishes it, and a revoked partition's tasks are dropped.
  std::vector<int32_t> task_partition;

  // What was last handed to the producer per task (label -1: nothing). A
  // failed delivery resets it, so that the task is sent again. Narrow types,
  // as these are per task: class ids stop at 1024 (config.h), and a
  // confidence is only compared with output.min_change.
  std::vector<int16_t> sent_label;
  std::vector<float> sent_confidence;
  std::vector<bool> sent_review;
  // What Kafka confirmed per task (what is stored, and restored into sent_*):
  // the consensus record (AckedOf) and whether the review record stands.
  // Once delivered, a task's confirmed record is the one sent, so the
  // confirmed label and confidence are kept only for the tasks where they
  // differ (a record in flight, or a failed one): 6 bytes per task less.
  struct Acked {
    int16_t label = -1;
    float confidence = 0.0f;
  };
  absl::flat_hash_map<int32_t, Acked> acked_differs;
  std::vector<bool> acked_review;
  // Tasks whose acked_* changed since they were last stored (deduplicated).
  std::vector<int32_t> acked_changed;
  std::vector<bool> acked_flag;
  // Tasks changed since their outputs were last checked (deduplicated).
  std::vector<int32_t> dirty_tasks;
  std::vector<bool> dirty;
  // The last sweep's report (null before the first sweep).
  std::shared_ptr<const ProjectReport> report;
  // Worker statistics of other partitions, and what this instance sent (SPEC 8).
  ProjectExchange exchange;
  // Classes [0, classes_stored) are declared or in the state store; the rest
  // were interned from the worker-statistics topic and are stored (densely,
  // by id) before any stored record refers to them.
  int32_t classes_stored = 0;
  // The project's kind: declared, or fixed by its first accepted answer
  // (and, after a restart, by its stored answers).
  ProjectKind kind = ProjectKind::kUnset;
  // A pairwise or rating project's votes (the model above stays empty), and
  // the last sweep's fit of them (null before the first sweep).
  VoteSet votes;
  std::shared_ptr<const VoteReport> vote_report;
  // The estimates between sweeps: vote_report's fit, updated per vote
  // (engine/live_vote_fit.h). While a sweep fits a copy of the votes, the
  // changes since the copy are also kept in vote_changes (its capacity is
  // reused), to be applied again to the new fit when it is installed.
  LiveVoteFit live;
  struct VoteChange {
    int32_t task = -1;
    bool had = false, has = false;  // whether removed / added hold a vote
    VoteSet::Vote removed, added;
  };
  std::vector<VoteChange> vote_changes;
  bool sweep_copying = false;  // a sweep took its copy and has not installed its fit
  // Their consensus records (SPEC 5.2, engine_votes.cc): per task id, the
  // value (P(left) or the rating) last handed to the producer, and the tasks
  // of vote_report still to check after its sweep (ids of that fit).
  absl::flat_hash_map<std::string, double> vote_sent;
  std::vector<int32_t> vote_pending;
  // What Kafka confirmed since it was last stored (task id -> value).
  absl::flat_hash_map<std::string, double> vote_confirmed;
  // A pairwise project's leaderboard snapshot (engine/leaderboard_record.h):
  // the fingerprint of the content last handed to the producer (restored:
  // last confirmed), whether vote_report's leaderboard is still to check, and
  // what Kafka confirmed since it was last stored.
  std::optional<uint64_t> leaderboard_sent;
  bool leaderboard_pending = false;
  std::optional<uint64_t> leaderboard_confirmed;

  // REQUIRES: mu held. Sizes the per-task vectors for a new task id and marks
  // it dirty; partition -1 keeps the known one.
  void Touch(int32_t task, int32_t partition);
  // REQUIRES: mu held. Marks every task dirty (after a sweep or a restore).
  void TouchAll();
  // REQUIRES: mu held, task touched. The consensus record Kafka last
  // confirmed for the task (label -1: none).
  Acked AckedOf(int32_t task) const;
  // REQUIRES: mu held, task touched. What was handed to the producer (label
  // -1: nothing, to be sent again); the confirmed record stays.
  void SetSent(int32_t task, int16_t label, float confidence);
  // REQUIRES: mu held, task touched. What Kafka confirmed.
  void SetAcked(int32_t task, Acked acked);
  // REQUIRES: mu held, task touched. Nothing sent or confirmed (the task's
  // partition left), keeping the last confidence.
  void ForgetSent(int32_t task);
  // REQUIRES: mu held. Gives back the capacity of the per-task work lists
  // when they are empty after a backlog (2M tasks held 8 MB each).
  void ReleaseWorkLists();
  // REQUIRES: mu held. A pairwise or rating task's vote of one worker went
  // from `removed` to `added` (null: none): updates `live` at once (O(1)).
  void ApplyVoteChange(int32_t task, const VoteSet::Vote* removed, const VoteSet::Vote* added);
  // REQUIRES: mu held. Installs a sweep's fit: `live` restarts from it, then
  // takes the changes made since the sweep's copy.
  void InstallVoteFit(std::shared_ptr<const VoteReport> report);
};

class ProjectSet {
 public:
  using SettingsFor = std::function<ProjectSettings(std::string_view project)>;
  explicit ProjectSet(SettingsFor settings_for);

  // The project, created with its settings on first use. Thread-safe; the
  // reference stays valid for the set's life.
  Project& Get(std::string_view name);
  Project* Find(std::string_view name) const;
  // All projects, sorted by name.
  std::vector<Project*> List() const;

 private:
  const SettingsFor settings_for_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Project>> projects_;  // guarded by mu_
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_PROJECT_H_
