// Engine: the live service state between the math (consensus/) and the
// transports (consumer/ for Kafka, api/ for HTTP, the commands). It owns the
// projects and their streaming models, the RocksDB state store, which input
// partitions this instance owns, full EM sweeps, the restore on start, and
// what each task last sent to the output topics. Every change goes through it,
// store first, so that a failed write changes nothing in memory.
//
//   Engine engine(store, settings_for, &metrics, EngineOptions{.input_topic = "labels"});
//   engine.Restore();
//   IngestBatch batch;                                   // the consume loop's thread
//   if (auto r = engine.Apply(batch, partition, event)) dead_letter(*r);
//   engine.EndMessage(batch, partition, offset + 1, event_ms);
//   engine.Commit(batch);                                // answers + offsets, one write
//   engine.CollectOutputs(room, &records);               // then produce them, unlocked
//   std::optional<TaskView> t = engine.Task("p", "t-1"); // any thread
//
// Kinds (SPEC 3.1a): a categorical project's answers feed its streaming
// model; a pairwise or rating project's votes are kept in a VoteSet and
// refitted whole by each sweep with the batch code (engine_votes.cc,
// vote_sweep.cc); between sweeps each vote updates the estimates it touches
// (engine/live_vote_fit.h). Both are stored and committed the same way.
//
// Partitions: an assigned partition is owned but restoring (its tasks are not
// published, so that a partition being rebuilt from the input topic does not
// publish half-rebuilt labels) until SetPartitionReady(p, true); then its
// changed tasks are published. Revoke ends both.
//
// Thread-safety: every public method may be called from any thread, except
// that one IngestBatch is used by one thread at a time and partition calls
// (Assign, SetPartitionReady, Revoke, ReleaseUnassigned) come from the thread
// that commits.
// Locking is private: each project has a mutex, held briefly; sweeps fit
// without it. No method does network I/O, and none waits on a producer.
#ifndef CONSENSUSD_ENGINE_ENGINE_H_
#define CONSENSUSD_ENGINE_ENGINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/label_event.h"
#include "engine/project.h"
#include "engine/reject_reason.h"
#include "engine/sweeper.h"
#include "engine/views.h"
#include "engine/vote_views.h"
#include "metrics/service_metrics.h"
#include "storage/state_store.h"

namespace consensusd::engine {

struct EngineOptions {
  std::string input_topic = "labels";  // offsets are stored under this name
  double sweep_interval_s = 10;        // background sweeps of changed projects
  int per_worker_limit = 500;          // per-worker accuracy series per project
  // Commit() stores what Kafka confirmed at most this often (each task once
  // per write); after a crash, the records of that last interval are sent
  // again. PersistPublished() stores it at once.
  int confirmed_write_interval_ms = 10000;
  // Scale-out (SPEC 8): the consumer group, whose worker statistics are the
  // only ones counted, and this process's name in the records it writes.
  std::string group = "consensusd";
  std::string instance = "consensusd";
};

// A worker-statistics record to produce (engine/worker_stats.h).
struct StatsRecord {
  std::string key;
  std::string value;
};

// An input element the engine could not use (SPEC 3.2).
struct EngineRejection {
  RejectReason reason;
  std::string detail;
};

// The loop thread's uncommitted work: applied changes and the offsets they
// came from. Not thread-safe.
class IngestBatch {
 public:
  int64_t messages() const { return messages_; }
  bool empty() const { return messages_ == 0 && writes_.Empty(); }

 private:
  friend class Engine;
  storage::StateBatch writes_;
  int64_t messages_ = 0;
  absl::flat_hash_map<int32_t, int64_t> offsets_;  // partition -> next offset
  std::vector<int64_t> event_ms_;                  // per message, -1 unknown
  absl::flat_hash_map<Project*, int64_t> applied_;  // answers applied per project
  Project* last_project_ = nullptr;
  // Scratch of repeats (a worker's labels for a task), kept for its capacity.
  std::vector<int32_t> repeat_labels_;
  std::vector<std::string_view> repeat_names_;
  int64_t first_event_ms_ = -1;  // of the message being applied
};

// A record for an output topic, formed under the engine's lock; the producer
// sends it after the lock is released and reports back with OnDelivered().
struct OutputRecord {
  enum class Topic { kConsensus, kReview };
  // What the record says, to confirm or undo it on delivery.
  struct Ticket {
    Project* project = nullptr;  // opaque to transports
    Topic topic = Topic::kConsensus;
    int32_t task = -1;
    int32_t label = -1;
    double confidence = 0;
    bool review = false;
    // A pairwise or rating record: `task` is the project's VoteSet task id
    // and `confidence` the value sent (P(left) or the rating).
    bool vote = false;
    // A pairwise project's leaderboard snapshot (with vote): `fingerprint`
    // is its content's (engine/leaderboard_record.h); `task` is -1.
    bool leaderboard = false;
    uint64_t fingerprint = 0;
  };
  std::string key;
  std::string value;
  Ticket ticket;
};

// The records of one collection. It keeps its records (and their strings'
// capacity) from call to call, so that forming a record allocates nothing.
class OutputBatch {
 public:
  size_t size() const { return size_; }
  OutputRecord& operator[](size_t i) { return records_[i]; }
  void Clear() { size_ = 0; }
  // A record to fill, its strings empty.
  OutputRecord& Add();

 private:
  std::vector<OutputRecord> records_;
  size_t size_ = 0;  // records_[0, size_) are this collection's
};

// An input partition assigned to this instance (SPEC 8): restoring from
// assignment until the consumer has caught up with it, then ready.
struct OwnedPartition {
  int32_t partition = -1;
  bool ready = false;
};

enum class WorkerSort { kAnswers, kAccuracy, kSpam };

// CSV or JSONL consensus labels (SPEC 5.1, 5.3); the same bytes for the HTTP
// export, `export` and, for CSV, `aggregate --out`.
struct ExportFormat {
  bool jsonl = false;
  bool posteriors = false;  // CSV: one p:<class> column per class
  double min_confidence = 0;
};

class Engine {
 public:
  Engine(storage::StateStore& store, ProjectSet::SettingsFor settings_for,
         metrics::ServiceMetrics* metrics, EngineOptions options);
  ~Engine();

  // Loads every stored input and what was published, then sweeps every project
  // (without publishing). REQUIRES: called once, before any other use.
  // `progress`, if set, is called every 1M answers loaded.
  absl::Status Restore(const std::function<void(int64_t)>& progress = nullptr);

  // --- Ingest (one thread) ---
  // Applies one decoded element of a message from `partition` to its model and
  // to the batch's pending write. Returns why it cannot be used, if so.
  // Under the project's repeats: count, an element of a message below the
  // partition's stored offset (e.offset, when known) changes nothing: it was
  // applied and stored before (docs/configuration.md, "Repeated answers").
  std::optional<EngineRejection> Apply(IngestBatch& batch, int32_t partition, const LabelEvent& e);
  // Closes a message: the next offset of its partition, and its event time
  // (the first element's ts, else `fallback_event_ms`) for the latency metric.
  void EndMessage(IngestBatch& batch, int32_t partition, int64_t next_offset,
                  int64_t fallback_event_ms);
  // Writes the batch's changes and offsets, and what outputs were confirmed
  // since the last commit, in one atomic write; clears the batch. On error the
  // batch is kept and nothing is stored (the caller stops and restarts from
  // the committed state). Returns the answers applied.
  absl::StatusOr<int64_t> Commit(IngestBatch& batch);
  // The partition's stored offset is no longer in the topic and consumption
  // moves to `next_offset`: stored with the batch's next commit, even below
  // the stored offset (which otherwise never moves backwards).
  void ResetOffset(IngestBatch& batch, int32_t partition, int64_t next_offset);

  // --- Partitions (the committing thread) ---
  // Takes ownership of a partition: loads its stored state unless loaded, and
  // returns where to resume (nullopt: from the beginning). The partition is
  // restoring (not ready) until SetPartitionReady(partition, true).
  absl::StatusOr<std::optional<int64_t>> Assign(int32_t partition);
  // Marks an owned partition ready (caught up: its tasks are published from
  // now on, each changed one once) or restoring again. Ignored for a
  // partition not owned.
  void SetPartitionReady(int32_t partition, bool ready);
  // Whether the partition is owned and ready (any thread).
  bool PartitionReady(int32_t partition) const;
  // The owned partitions, by partition (any thread).
  std::vector<OwnedPartition> OwnedPartitions() const;
  // Releases a partition: its answers and gold leave memory (they stay
  // stored) and its tasks are no longer published here. REQUIRES: everything
  // consumed from it is committed.
  absl::Status Revoke(int32_t partition);
  // Releases every loaded partition not in `assigned` (the restore loads all).
  absl::Status ReleaseUnassigned(const std::vector<int32_t>& assigned);

  // --- Outputs ---
  // Forms up to `max_records` records for tasks whose consensus changed (label,
  // or confidence by at least output.min_change) or that started to need
  // review, in owned partitions, and marks them sent. Returns whether more are
  // waiting (the caller's queue was the limit).
  bool CollectOutputs(size_t max_records, OutputBatch* out);
  // The same, appending to a vector.
  bool CollectOutputs(size_t max_records, std::vector<OutputRecord>* out);
  // The delivery report of a collected record. A failed one is sent again.
  void OnDelivered(const OutputRecord::Ticket& ticket, bool delivered);
  // Stores what was confirmed since the last commit (shutdown).
  absl::Status PersistPublished();

  // --- Worker statistics (scale-out, SPEC 8; engine/worker_stats.h) ---
  // Appends the records of the ready partitions' statistics that changed since
  // they were last sent, or that the topic holds otherwise (another instance
  // wrote them); only `partition`'s when it is >= 0 (before a revocation).
  // Hands them to `sink` in chunks of at most `chunk` records, without any
  // lock held (a publication has one record per worker and partition: too
  // many to hold as strings at once); stops when `sink` returns false. What
  // is handed over counts as sent.
  void CollectWorkerStats(const std::function<bool(std::vector<StatsRecord>&)>& sink,
                          int32_t partition = -1, size_t chunk = 4096);
  // All of them at once, into *out.
  void CollectWorkerStats(std::vector<StatsRecord>* out, int32_t partition = -1);
  // Applies a record read from the statistics topic: the statistics of a
  // partition this instance does not own are added into its worker model.
  // Records of other groups are ignored. InvalidArgument if malformed.
  absl::Status ApplyWorkerStats(std::string_view value);
  // The topic's worker-statistics records held in memory, over every project
  // (none of a project's own caught-up partitions while it has no remote
  // statistics: the live model holds them).
  int64_t TopicStatsHeld() const;
  // Forgets what was sent, so that the next collection sends everything of
  // the owned partitions again (after a failed delivery).
  void ResendWorkerStats();

  // --- Sweeps and admin ---
  // Sweeps, until `stop`: a project that has never been swept soon after its
  // first answer, and every changed project each sweep interval. A round of
  // sweeps that took longer than the interval is followed by a pause as long
  // as the round, so that sweeps take at most half a core whatever the state's
  // size; and while a partition is restoring (catching up with its input) the
  // periodic sweeps wait, for at most kMaxSweepDeferral, so that catching up
  // gets the cores. The calling thread's priority is lowered (kSweepNice).
  void RunSweeps(const std::atomic<bool>& stop);
  static constexpr std::chrono::seconds kMaxSweepDeferral{60};
  // How much lower than ingestion sweeps run (nice steps of their thread).
  static constexpr int kSweepNice = 19;
  // Whether an owned partition is not ready yet.
  bool AnyPartitionRestoring() const;
  // Wakes RunSweeps (e.g. to stop).
  void WakeSweeps();
  absl::Status SweepAll(bool force);
  // Runs a full sweep of the project now (admin recompute). NotFound if unknown.
  absl::StatusOr<ProjectView> Recompute(std::string_view project);
  // Excludes or re-includes a worker: stores the flag, then changes the
  // model, then sweeps; a failed write changes nothing. NotFound if the
  // project or worker is unknown. `changed` is false when it already was so.
  struct ExclusionResult {
    WorkerView worker;
    bool changed = false;
  };
  absl::StatusOr<ExclusionResult> SetExcluded(std::string_view project, std::string_view worker,
                                              bool excluded);

  // --- Views (any thread) ---
  std::vector<ProjectSummary> Projects() const;
  std::optional<ProjectView> ProjectDetail(std::string_view project) const;
  std::optional<TaskView> Task(std::string_view project, std::string_view task) const;
  std::optional<WorkerView> Worker(std::string_view project, std::string_view worker) const;
  // Tasks with answers or gold, by task id (bytewise); `after` is the cursor:
  // the last id of the previous page. review_filter: -1 all, 0 not needing
  // review, 1 needing it. NotFound if the project is unknown.
  absl::StatusOr<Page<TaskView>> Tasks(std::string_view project, std::string_view after,
                                       int64_t limit, int review_filter) const;
  // Workers by `sort` (ties by worker id); `cursor` is the previous page's
  // next_cursor. InvalidArgument on a malformed cursor.
  absl::StatusOr<Page<WorkerRow>> Workers(std::string_view project, WorkerSort sort, bool ascending,
                                          std::string_view cursor, int64_t limit) const;
  // Every worker, by worker id.
  absl::StatusOr<std::vector<WorkerRow>> AllWorkers(std::string_view project) const;
  // Appends the labels of tasks [from, from + max) with answers or gold to
  // *out (the CSV header when from == 0), and returns the next task to
  // export, or -1 when done. NotFound if the project is unknown.
  absl::StatusOr<int32_t> ExportChunk(std::string_view project, const ExportFormat& format,
                                      int32_t from, int32_t max, std::string* out) const;
  // Consensus label of every task with answers or gold: (task, label).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Labels(
      std::string_view project) const;
  // A copy of the project's answers with the id names and the consensus
  // class of each task (-1 none), to compare methods.
  struct AnswersCopy {
    consensus::AnswerMatrix matrix;
    std::vector<std::string> tasks, workers, classes;
    std::vector<int32_t> label;
  };
  absl::StatusOr<AnswersCopy> Answers(std::string_view project) const;

  // --- Pairwise and rating projects (SPEC 3.1a; engine_votes.cc) ---
  // As of the last sweep. NotFound if the project is unknown,
  // FailedPrecondition if it is not of that kind.
  absl::StatusOr<LeaderboardView> Leaderboard(std::string_view project) const;
  absl::StatusOr<RatersView> Raters(std::string_view project) const;
  // The task view of a pairwise or rating project; nullopt if the project
  // or the task is unknown or the project is of another kind.
  std::optional<VoteTaskView> VoteTask(std::string_view project, std::string_view task) const;
  // The project's kind (kUnset if unknown or not fixed yet).
  ProjectKind KindOf(std::string_view project) const;

  int64_t answers_committed() const { return answers_committed_.load(); }

 private:
  engine::Project& ProjectFor(IngestBatch& batch, std::string_view name);
  // Whether the task's partition is ready here (tasks without a partition
  // always are). REQUIRES: partitions_mu_ held.
  bool PublishesTask(const engine::Project& project, int32_t task) const;
  // REQUIRES: project.mu held. Adds the project's classes not stored yet to
  // `batch` (class ids are stored densely from 0: see RestoreClasses).
  static void StoreClasses(engine::Project& project, storage::StateBatch& batch);
  // Whether the event's message is below its partition's stored offset, so
  // that its changes are in the state already (loop thread).
  bool AppliedBefore(int32_t partition, const LabelEvent& e) const;
  // Apply() of an event that is not a class answer to a categorical project
  // (engine_votes.cc): fixes an unset project's kind, rejects an answer of
  // another kind (wrong_kind), applies pairwise and rating answers and
  // retractions. Sets *categorical, applying nothing, when the event is for
  // the categorical path after all. REQUIRES: project.mu held.
  std::optional<EngineRejection> ApplyOtherKind(IngestBatch& batch, engine::Project& project,
                                                int32_t partition, const LabelEvent& e,
                                                bool* categorical);
  // Applies an answer of a project with repeats: count. REQUIRES: project.mu held.
  void ApplyRepeat(IngestBatch& batch, engine::Project& project, int32_t task, int32_t task_home,
                   int32_t label, const LabelEvent& e);
  // Forms the consensus records of a pairwise or rating project's tasks whose
  // fitted value moved since last sent, then a pairwise project's leaderboard
  // snapshot if it changed and no owned partition is restoring
  // (engine_votes.cc). Returns whether more are waiting. REQUIRES: project.mu
  // held.
  bool CollectVoteOutputs(engine::Project& project, size_t max_records, int64_t now,
                          OutputBatch* out);
  // Whether the project is pairwise or rating (engine_votes.cc).
  static bool IsVoteKind(const engine::Project& project);
  // SetExcluded for a pairwise or rating project (engine_votes.cc).
  absl::StatusOr<ExclusionResult> SetVoteExcluded(engine::Project& project,
                                                  std::string_view worker, bool excluded);
  // OnDelivered of a pairwise or rating record.
  static void OnVoteDelivered(const OutputRecord::Ticket& ticket, bool delivered);
  // REQUIRES: project.mu held. Marks the task's confirmed state for storing.
  static void Confirm(engine::Project& project, int32_t task);
  // Adds the confirmed state of every marked task to `batch`.
  void TakeConfirmed(storage::StateBatch& batch);
  // REQUIRES: project.mu held. Sets the model's remote statistics of `worker`
  // (-1: class counts) from the topic's records of the partitions that are not
  // `local` (whose tasks are not in this model: not loaded).
  void RecomputeRemote(Project& project, int32_t worker,
                       const absl::flat_hash_set<int32_t>& local);
  // After an ownership change: every project's remote statistics, and what
  // the topic holds for a newly owned partition as "sent".
  void OnOwnershipChange(int32_t assigned);
  // The partitions whose answers the models hold (loaded_): the topic's
  // records of every other partition are remote statistics.
  absl::flat_hash_set<int32_t> LocalSet() const;
  // The loaded partitions that have caught up.
  absl::flat_hash_set<int32_t> ReadyLocalSet() const;
  // REQUIRES: project.mu held. Stores the live statistics of `parts` as the
  // topic's records of them. A project without remote statistics keeps no
  // copy of the records of its own caught-up partitions (its live model holds
  // the same values, to within the publishing threshold); it needs one when
  // such a partition turns remote (revoked) and, for the views, once it has
  // remote statistics (docs/scaling.md).
  void CopyLiveToTopic(Project& project, const absl::flat_hash_set<int32_t>& parts);
  // REQUIRES: project.mu held. CopyLiveToTopic of its caught-up partitions
  // if the project has no remote statistics yet and is about to get them:
  // `remote` (a record of a partition not in `local` is being added), or
  // `local` leaves some of the topic's records remote.
  void BeforeFirstRemote(Project& project, const absl::flat_hash_set<int32_t>& local, bool remote);
  // REQUIRES: project.mu held. The reverse of BeforeFirstRemote: once no
  // record the project holds is of a partition outside `local` (the group
  // shrank to this instance), drops the model's remote statistics
  // (StreamingModel::ClearRemote) and the copies of the caught-up
  // partitions' records, so that a project that had remote statistics holds
  // what one that never had them does.
  void AfterLastRemote(Project& project, const absl::flat_hash_set<int32_t>& local);

  storage::StateStore& store_;
  ProjectSet projects_;
  metrics::ServiceMetrics* const metrics_;  // may be null (offline use)
  const EngineOptions options_;

  // Partition ownership; guarded by partitions_mu_ (read while collecting
  // outputs). Lock order: a project's mu, then partitions_mu_.
  mutable std::mutex partitions_mu_;
  absl::flat_hash_set<int32_t> loaded_;  // partitions whose state is in memory
  absl::flat_hash_set<int32_t> owned_;   // assigned to this instance
  absl::flat_hash_set<int32_t> ready_;   // owned and caught up; a subset of owned_

  // The stored next offset per partition (the committing thread only, which
  // is also the ingest thread that Apply reads it from).
  absl::flat_hash_map<int32_t, int64_t> stored_offset_;
  // When Commit() next stores what Kafka confirmed (the committing thread only).
  std::chrono::steady_clock::time_point next_confirmed_write_;

  Sweeper sweeper_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::atomic<int64_t> answers_committed_{0};
  // A project interned classes from the worker-statistics topic that the
  // next Commit stores.
  std::atomic<bool> classes_pending_{false};
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_ENGINE_H_
