#include "engine/engine.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "engine/leaderboard_record.h"
#include "engine/project_views.h"
#include "engine/state_restore.h"
#include "spdlog/spdlog.h"

namespace consensusd::engine {
namespace {

absl::Status NoProject(std::string_view project) {
  return absl::NotFoundError(absl::StrCat("no project '", std::string(project), "'"));
}

}  // namespace

Engine::Engine(storage::StateStore& store, ProjectSet::SettingsFor settings_for,
               metrics::ServiceMetrics* metrics, EngineOptions options)
    : store_(store),
      projects_(std::move(settings_for)),
      metrics_(metrics),
      options_(std::move(options)),
      sweeper_(metrics, options_.per_worker_limit) {}

Engine::~Engine() = default;

absl::Status Engine::Restore(const std::function<void(int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  RestoreStats stats;
  absl::Status s = RestoreState(store_, projects_, /*partition=*/-1, &stats, progress);
  if (!s.ok()) return s;
  absl::flat_hash_set<int32_t> loaded;
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> project_lock(project->mu);
    project->classes_stored = project->model.num_classes();  // declared or restored
    for (const int32_t partition : project->task_partition) {
      if (partition >= 0) loaded.insert(partition);
    }
    for (int32_t t = 0; t < project->votes.tasks().size(); ++t) {
      if (project->votes.TaskPartition(t) >= 0) loaded.insert(project->votes.TaskPartition(t));
    }
  }
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    loaded_ = std::move(loaded);
  }
  s = SweepAll(/*force=*/true);
  if (!s.ok()) return s;
  spdlog::info("restore: {} answers, {} gold, {} projects in {:.2f}s", stats.answers, stats.gold,
               stats.projects,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return absl::OkStatus();
}

// --- Ingest ---

Project& Engine::ProjectFor(IngestBatch& batch, std::string_view name) {
  if (batch.last_project_ == nullptr || batch.last_project_->name != name) {
    batch.last_project_ = &projects_.Get(name);
  }
  return *batch.last_project_;
}

std::optional<EngineRejection> Engine::Apply(IngestBatch& batch, int32_t partition,
                                             const LabelEvent& e) {
  Project& project = ProjectFor(batch, e.project);
  std::lock_guard<std::mutex> lock(project.mu);
  // Not (yet) a categorical project, or not a class answer: engine_votes.cc.
  if (project.kind != ProjectKind::kCategorical || e.answer_kind > ProjectKind::kCategorical) {
    bool categorical = false;
    std::optional<EngineRejection> r = ApplyOtherKind(batch, project, partition, e, &categorical);
    if (!categorical) return r;
  }
  consensus::StreamingModel& model = project.model;
  // A task's records live under the partition that first brought it (its
  // home), so that a later answer or retraction arriving on another partition
  // (a message not keyed by task) replaces the stored one.
  auto home = [&](int32_t task) {
    return task >= 0 && task < static_cast<int32_t>(project.task_partition.size()) &&
                   project.task_partition[task] >= 0
               ? project.task_partition[task]
               : partition;
  };
  // Under repeats: count an answer applied twice counts twice, so a message
  // below the partition's stored offset (a replay) is skipped whole: the
  // state holds what it did, and re-applying only its retractions or gold
  // out of their order would undo later messages.
  const bool counting = model.options().repeats == consensus::DuplicatePolicy::kKeepAll;
  if (counting && AppliedBefore(partition, e)) return std::nullopt;
  bool counts = false;
  if (e.kind == LabelEvent::Kind::kRetract) {
    const int32_t task = model.tasks().Find(e.task);
    const int32_t worker = model.workers().Find(e.worker);
    if (task >= 0 && worker >= 0 && model.Retract(task, worker)) {
      project.Touch(task, home(task));
      counts = true;
    }
    batch.writes_.DeleteAnswer(home(task), project.name, e.task, e.worker);
    if (counting) batch.writes_.PutRepeats(home(task), project.name, e.task, e.worker, {});
  } else {
    int32_t label = model.classes().Find(e.label);
    if (label < 0) {
      if (project.fixed_classes) {
        return EngineRejection{RejectReason::kUnknownClass,
                               absl::StrCat("class '", std::string(e.label),
                                            "' is not declared for project '", project.name, "'")};
      }
      absl::StatusOr<int32_t> added = model.InternClass(e.label);
      if (!added.ok()) {
        return EngineRejection{RejectReason::kTooManyClasses, std::string(added.status().message())};
      }
      label = *added;
    }
    if (label >= project.classes_stored) StoreClasses(project, batch.writes_);
    const int32_t task = model.InternTask(e.task);
    const int32_t task_home = home(task);
    if (e.kind == LabelEvent::Kind::kGold) {
      model.SetGold(task, label);
      batch.writes_.PutGold(task_home, project.name, e.task, e.label);
    } else if (counting) {
      ApplyRepeat(batch, project, task, task_home, label, e);
      counts = true;
    } else {
      model.SetAnswer(task, model.InternWorker(e.worker), label);
      batch.writes_.PutAnswer(task_home, project.name, e.task, e.worker, e.label);
      counts = true;
    }
    project.Touch(task, task_home);
  }
  if (batch.first_event_ms_ < 0 && e.ts_ms >= 0) batch.first_event_ms_ = e.ts_ms;
  if (counts) ++batch.applied_[&project];
  return std::nullopt;
}

bool Engine::AppliedBefore(int32_t partition, const LabelEvent& e) const {
  if (e.offset < 0) return false;
  auto stored = stored_offset_.find(partition);
  return stored != stored_offset_.end() && e.offset < stored->second;
}

void Engine::ApplyRepeat(IngestBatch& batch, Project& project, int32_t task, int32_t task_home,
                         int32_t label, const LabelEvent& e) {
  consensus::StreamingModel& model = project.model;
  const int32_t worker = model.InternWorker(e.worker);
  model.SetAnswer(task, worker, label);
  // The first label is the answer record, the later ones the repeats record,
  // rewritten whole, so that writing either again changes nothing.
  model.WorkerLabels(task, worker, &batch.repeat_labels_);
  if (batch.repeat_labels_.size() == 1) {
    batch.writes_.PutAnswer(task_home, project.name, e.task, e.worker, e.label);
    return;
  }
  batch.repeat_names_.clear();
  for (size_t i = 1; i < batch.repeat_labels_.size(); ++i) {
    batch.repeat_names_.push_back(model.classes().Name(batch.repeat_labels_[i]));
  }
  batch.writes_.PutRepeats(task_home, project.name, e.task, e.worker, batch.repeat_names_);
}

void Engine::EndMessage(IngestBatch& batch, int32_t partition, int64_t next_offset,
                        int64_t fallback_event_ms) {
  ++batch.messages_;
  batch.offsets_[partition] = next_offset;
  batch.event_ms_.push_back(batch.first_event_ms_ >= 0 ? batch.first_event_ms_ : fallback_event_ms);
  batch.first_event_ms_ = -1;
}

void Engine::ResetOffset(IngestBatch& batch, int32_t partition, int64_t next_offset) {
  stored_offset_[partition] = next_offset;
  batch.offsets_[partition] = next_offset;
}

void Engine::StoreClasses(Project& project, storage::StateBatch& batch) {
  const consensus::StreamingModel& m = project.model;
  for (int32_t k = project.classes_stored; k < m.num_classes(); ++k) {
    batch.PutClass(project.name, k, m.classes().Name(k));
  }
  project.classes_stored = m.num_classes();
}

void Engine::TakeConfirmed(storage::StateBatch& batch) {
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    for (const int32_t task : project->acked_changed) {
      project->acked_flag[task] = 0;
      const int32_t partition = project->task_partition[task];
      if (partition < 0) continue;
      const Project::Acked acked = project->AckedOf(task);
      batch.PutPublished(partition, project->name, project->model.tasks().Name(task),
                         {acked.label, acked.confidence, project->acked_review[task] != 0});
    }
    project->acked_changed.clear();
    project->ReleaseWorkLists();
    for (const auto& [name, value] : project->vote_confirmed) {
      const int32_t partition = project->votes.TaskPartition(project->votes.tasks().Find(name));
      if (partition < 0) continue;
      batch.PutPublished(partition, project->name, name, {storage::kVoteRecordClass, value, false});
    }
    project->vote_confirmed.clear();
    if (project->leaderboard_confirmed) {
      batch.PutSnapshot(project->name, kLeaderboardSnapshot, *project->leaderboard_confirmed);
      project->leaderboard_confirmed.reset();
    }
  }
}

absl::StatusOr<int64_t> Engine::Commit(IngestBatch& batch) {
  for (const auto& [partition, offset] : batch.offsets_) {
    // Never backwards: a replay (consuming again from the beginning) keeps
    // the stored position, below which every message was applied.
    int64_t& stored = stored_offset_[partition];
    stored = std::max(stored, offset);
    batch.writes_.SetOffset(options_.input_topic, partition, stored);
  }
  // Classes interned from the worker-statistics topic: stored before (or
  // with) any answer or published record that names their ids.
  if (classes_pending_.exchange(false)) {
    for (Project* project : projects_.List()) {
      std::lock_guard<std::mutex> lock(project->mu);
      StoreClasses(*project, batch.writes_);
    }
  }
  // What Kafka confirmed goes to the store at most once an interval: a task
  // confirmed many times in between is written once, and a crash only means
  // that the last interval's records are published again.
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_confirmed_write_) {
    TakeConfirmed(batch.writes_);
    next_confirmed_write_ = now + std::chrono::milliseconds(options_.confirmed_write_interval_ms);
  }
  if (batch.writes_.Empty() && batch.messages_ == 0) return 0;
  absl::Status status = store_.Commit(batch.writes_);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("committing state: ", status.message()));
  }
  int64_t applied = 0;
  if (metrics_ != nullptr) {
    const int64_t now_ms = NowMs();
    for (const int64_t event_ms : batch.event_ms_) {
      if (event_ms > 0) {
        metrics_->IngestLatency().Observe(static_cast<double>(std::max<int64_t>(0, now_ms - event_ms)) / 1000.0);
      }
    }
  }
  bool unswept = false;
  for (const auto& [project, n] : batch.applied_) {
    applied += n;
    std::lock_guard<std::mutex> lock(project->mu);
    unswept = unswept || project->report == nullptr;
    if (metrics_ != nullptr) {
      metrics_->AnswersApplied(project->name).Increment(static_cast<double>(n));
      // (A pairwise or rating project's gauges are its sweeps'.)
      if (project->kind != ProjectKind::kPairwise && project->kind != ProjectKind::kRating) {
        metrics_->Tasks(project->name).Set(project->model.num_tasks());
        metrics_->Workers(project->name).Set(project->model.num_workers());
      }
    }
  }
  if (unswept) WakeSweeps();  // a new project: its first sweep now
  answers_committed_ += applied;
  batch.messages_ = 0;
  batch.offsets_.clear();
  batch.event_ms_.clear();
  batch.applied_.clear();
  return applied;
}

// --- Partitions ---

absl::StatusOr<std::optional<int64_t>> Engine::Assign(int32_t partition) {
  absl::StatusOr<std::optional<int64_t>> offset = store_.Offset(options_.input_topic, partition);
  if (!offset.ok()) return offset.status();
  stored_offset_[partition] = offset->value_or(0);
  bool load = false;
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    load = !loaded_.contains(partition);
  }
  if (load) {
    RestoreStats stats;
    absl::Status s = RestoreState(store_, projects_, partition, &stats);
    if (!s.ok()) return s;
    if (stats.answers + stats.gold > 0) {
      spdlog::info("partition {}: loaded {} answers and {} gold from the state store", partition,
                   stats.answers, stats.gold);
    }
  }
  bool newly_owned;
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    loaded_.insert(partition);
    newly_owned = owned_.insert(partition).second;
    ready_.erase(partition);  // restoring until the consumer has caught up
  }
  if (newly_owned) OnOwnershipChange(partition);
  return *offset;
}

void Engine::SetPartitionReady(int32_t partition, bool ready) {
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    if (!ready) {
      ready_.erase(partition);
      return;
    }
    if (!owned_.contains(partition) || !ready_.insert(partition).second) return;
  }
  // Its tasks were not published while it restored (nor while it was not
  // ours): mark them all; CollectOutputs sends those whose consensus differs
  // from what was last sent. (Project locks after partitions_mu_ is released:
  // the lock order is a project's mu, then partitions_mu_.)
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> project_lock(project->mu);
    for (int32_t t = 0; t < static_cast<int32_t>(project->task_partition.size()); ++t) {
      if (project->task_partition[t] == partition) project->Touch(t, -1);
    }
    // Its live statistics are complete now: the topic's copy of them is not
    // kept while the project has no remote statistics (CopyLiveToTopic).
    if (!project->model.has_remote()) project->exchange.ErasePartition(partition);
    if (project->vote_report != nullptr) {  // pairwise and rating: check every fitted task
      project->vote_pending.resize(project->vote_report->names.tasks.size());
      for (size_t t = 0; t < project->vote_pending.size(); ++t) project->vote_pending[t] = static_cast<int32_t>(t);
      project->leaderboard_pending = project->vote_report->kind == ProjectKind::kPairwise;
    }
  }
}

bool Engine::AnyPartitionRestoring() const {
  std::lock_guard<std::mutex> lock(partitions_mu_);
  return ready_.size() < owned_.size();
}

bool Engine::PartitionReady(int32_t partition) const {
  std::lock_guard<std::mutex> lock(partitions_mu_);
  return ready_.contains(partition);
}

std::vector<OwnedPartition> Engine::OwnedPartitions() const {
  std::vector<OwnedPartition> out;
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    for (const int32_t p : owned_) out.push_back({p, ready_.contains(p)});
  }
  std::sort(out.begin(), out.end(),
            [](const OwnedPartition& a, const OwnedPartition& b) { return a.partition < b.partition; });
  return out;
}

absl::Status Engine::Revoke(int32_t partition) {
  bool was_loaded, was_ready;
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    owned_.erase(partition);
    was_ready = ready_.erase(partition) > 0;
    was_loaded = loaded_.erase(partition) > 0;
  }
  if (!was_loaded) return absl::OkStatus();
  // Memory holds what the store holds for this partition (the tasks whose home
  // it is): drop their answers and gold at once, then recount the statistics
  // (O(answers held), where retracting one answer at a time cost an E-step
  // each). What this instance sent for them is stale once another one publishes.
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> project_lock(project->mu);
    // Its statistics turn remote: they are what this instance published
    // (before_revoke), and a project without remote statistics kept no copy.
    if (was_ready && !project->model.has_remote()) CopyLiveToTopic(*project, {partition});
    std::vector<int32_t> tasks;
    for (int32_t t = 0; t < static_cast<int32_t>(project->task_partition.size()); ++t) {
      if (project->task_partition[t] != partition) continue;
      tasks.push_back(t);
      project->ForgetSent(t);
      project->sent_review[t] = project->acked_review[t] = 0;
    }
    if (!tasks.empty()) project->model.DropTasks(tasks);
    for (int32_t t = 0; t < project->votes.tasks().size(); ++t) {
      if (project->votes.TaskPartition(t) == partition) project->vote_sent.erase(std::string(project->votes.tasks().Name(t)));
    }
    project->votes.DropPartition(partition);
  }
  // Its tasks left the model: its worker statistics now come from the topic
  // (the last ones published).
  OnOwnershipChange(-1);
  return absl::OkStatus();
}

absl::Status Engine::ReleaseUnassigned(const std::vector<int32_t>& assigned) {
  std::vector<int32_t> release;
  {
    std::lock_guard<std::mutex> lock(partitions_mu_);
    for (const int32_t p : loaded_) {
      if (std::find(assigned.begin(), assigned.end(), p) == assigned.end()) release.push_back(p);
    }
  }
  for (const int32_t p : release) {
    if (absl::Status s = Revoke(p); !s.ok()) return s;
    spdlog::info("partition {}: not assigned here, released", p);
  }
  return absl::OkStatus();
}

// --- Outputs ---

bool Engine::PublishesTask(const Project& project, int32_t task) const {
  const int32_t partition = project.task_partition[task];
  return partition < 0 || ready_.contains(partition);
}

OutputRecord& OutputBatch::Add() {
  if (size_ == records_.size()) records_.emplace_back();
  OutputRecord& r = records_[size_++];
  r.key.clear();
  r.value.clear();
  return r;
}

bool Engine::CollectOutputs(size_t max_records, std::vector<OutputRecord>* out) {
  OutputBatch batch;
  const bool more = CollectOutputs(max_records, &batch);
  for (size_t i = 0; i < batch.size(); ++i) out->push_back(std::move(batch[i]));
  return more;
}

bool Engine::CollectOutputs(size_t max_records, OutputBatch* out) {
  const int64_t now = NowMs();
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    if (!project->vote_pending.empty() || project->leaderboard_pending) {
      if (CollectVoteOutputs(*project, max_records, now, out)) return true;
      continue;
    }
    if (project->dirty_tasks.empty()) continue;
    consensus::StreamingModel& model = project->model;
    if (model.num_classes() == 0) {
      for (const int32_t t : project->dirty_tasks) project->dirty[t] = 0;
      project->dirty_tasks.clear();
      continue;
    }
    std::lock_guard<std::mutex> partitions_lock(partitions_mu_);
    size_t done = 0;
    for (; done < project->dirty_tasks.size(); ++done) {
      if (out->size() >= max_records) break;  // (a task may add a second record)
      const int32_t task = project->dirty_tasks[done];
      project->dirty[task] = 0;
      // Not ours, or restoring: SetPartitionReady marks it again when ready.
      if (!PublishesTask(*project, task)) continue;
      const int32_t label = model.Label(task);
      const bool listed = TaskListed(*project, task);
      if (label < 0 || (!listed && project->sent_label[task] < 0)) continue;
      const double confidence = model.Posterior(task)[label];
      const bool review = TaskNeedsReview(*project, task);
      const bool changed = project->sent_label[task] != label ||
                           std::fabs(project->sent_confidence[task] - confidence) >=
                               project->settings.min_change;
      const bool newly_review = review && !project->sent_review[task];
      if (!review && project->acked_review[task]) {
        // Left review (no record says so): store that, so that after a
        // restart the review record is sent again when it needs review again.
        project->acked_review[task] = 0;
        Confirm(*project, task);
      }
      if (!changed && !newly_review) {
        project->sent_review[task] = review;
        continue;
      }
      const OutputRecord::Ticket ticket{project, OutputRecord::Topic::kConsensus, task, label,
                                        confidence, review};
      // The consensus record when it changed, the review record when the task
      // started needing review: the same bytes.
      const size_t first = out->size();
      OutputRecord& record = out->Add();
      AppendConsensusKey(project->name, model.tasks().Name(task), record.key);
      AppendConsensusJson(project->name, model, task, now, record.value);
      record.ticket = ticket;
      if (!changed) record.ticket.topic = OutputRecord::Topic::kReview;
      if (changed && newly_review) {
        OutputRecord& review_record = out->Add();  // (may move the first)
        review_record.key = (*out)[first].key;
        review_record.value = (*out)[first].value;
        review_record.ticket = ticket;
        review_record.ticket.topic = OutputRecord::Topic::kReview;
      }
      if (changed) {
        project->SetSent(task, static_cast<int16_t>(label), static_cast<float>(confidence));
      }
      project->sent_review[task] = review;
    }
    project->dirty_tasks.erase(project->dirty_tasks.begin(), project->dirty_tasks.begin() + done);
    if (!project->dirty_tasks.empty()) return true;
    project->ReleaseWorkLists();
  }
  return false;
}

void Engine::OnDelivered(const OutputRecord::Ticket& ticket, bool delivered) {
  if (ticket.vote) return OnVoteDelivered(ticket, delivered);
  Project& project = *ticket.project;
  std::lock_guard<std::mutex> lock(project.mu);
  const int32_t task = ticket.task;
  const bool consensus = ticket.topic == OutputRecord::Topic::kConsensus;
  if (!delivered) {
    // Send again whatever the task holds then.
    if (consensus) {
      project.SetSent(task, -1, project.sent_confidence[task]);
    } else {
      project.sent_review[task] = 0;
    }
    project.Touch(task, -1);
    return;
  }
  if (consensus) {
    project.SetAcked(task, {static_cast<int16_t>(ticket.label), static_cast<float>(ticket.confidence)});
  } else if (project.sent_review[task]) {  // (a late report for a task that left review is moot)
    project.acked_review[task] = 1;
  }
  Confirm(project, task);
}

void Engine::Confirm(Project& project, int32_t task) {
  if (!project.acked_flag[task]) {
    project.acked_flag[task] = 1;
    project.acked_changed.push_back(task);
  }
}

absl::Status Engine::PersistPublished() {
  storage::StateBatch batch;
  TakeConfirmed(batch);
  return store_.Commit(batch);
}

// --- Sweeps and admin ---

void Engine::WakeSweeps() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  wake_.notify_all();
}

void Engine::RunSweeps(const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  // Sweeps are background work: below ingestion (whose latency counts), and
  // so are the EM threads they start (a thread inherits its creator's nice).
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  if (errno == 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(19, nice + kSweepNice)) != 0) {
    spdlog::debug("sweeps: cannot lower the thread's priority: {}", std::strerror(errno));
  }
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.sweep_interval_s));
  auto next = Clock::now() + interval;
  auto next_gauge = Clock::now();
  std::optional<Clock::time_point> deferred_since;  // a due round waits for restoring partitions
  while (!stop.load()) {
    if (metrics_ != nullptr && Clock::now() >= next_gauge) {
      metrics_->StateBytes().Set(static_cast<double>(store_.ApproximateBytes()));
      next_gauge = Clock::now() + std::chrono::seconds(1);
    }
    bool unswept = false;
    for (Project* project : projects_.List()) {
      std::lock_guard<std::mutex> lock(project->mu);
      if (project->report == nullptr &&
          (project->model.num_answers() > 0 || project->votes.num_votes() > 0)) {
        unswept = true;
      }
    }
    bool due = Clock::now() >= next;
    if (due && AnyPartitionRestoring()) {
      if (!deferred_since) deferred_since = Clock::now();
      due = Clock::now() - *deferred_since >= kMaxSweepDeferral;
    }
    if (due) deferred_since.reset();
    if (due || unswept) {
      const auto round_start = Clock::now();
      for (Project* project : projects_.List()) {
        bool first;
        {
          std::lock_guard<std::mutex> lock(project->mu);
          first = project->report == nullptr;
        }
        if (!due && !first) continue;
        absl::Status s = sweeper_.SweepProject(*project, /*force=*/false);
        if (!s.ok()) spdlog::error("sweep {}: {}", project->name, s.ToString());
      }
      if (due) {
        const auto now = Clock::now();
        next = now + std::max(interval, now - round_start);
      }
    }
    // Commit() wakes this for a new project's first sweep; otherwise the
    // 200 ms cap bounds how long a stop request waits.
    std::unique_lock<std::mutex> lock(wake_mu_);
    if (stop.load()) break;
    const auto cap = Clock::now() + std::chrono::milliseconds(200);
    wake_.wait_until(lock, deferred_since ? cap : std::min(next, cap));
  }
}

absl::Status Engine::SweepAll(bool force) {
  for (Project* project : projects_.List()) {
    if (absl::Status s = sweeper_.SweepProject(*project, force); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<ProjectView> Engine::Recompute(std::string_view name) {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  if (absl::Status s = sweeper_.SweepProject(*project, /*force=*/true); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(project->mu);
  return ProjectViewOf(*project);
}

absl::StatusOr<Engine::ExclusionResult> Engine::SetExcluded(std::string_view name,
                                                            std::string_view worker_name,
                                                            bool excluded) {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  auto find = [&]() -> absl::StatusOr<int32_t> {
    const int32_t worker = project->model.workers().Find(worker_name);
    if (worker < 0) {
      return absl::NotFoundError(absl::StrCat("no worker '", std::string(worker_name),
                                              "' in project '", project->name, "'"));
    }
    return worker;
  };
  if (IsVoteKind(*project)) return SetVoteExcluded(*project, worker_name, excluded);
  bool changed = false;
  {
    // The lock is held across the write so that no other change interleaves
    // between the stored flag and the model's.
    std::lock_guard<std::mutex> lock(project->mu);
    absl::StatusOr<int32_t> worker = find();
    if (!worker.ok()) return worker.status();
    if (project->model.Excluded(*worker) != excluded) {
      storage::StateBatch batch;
      batch.SetExcluded(project->name, worker_name, excluded);
      if (absl::Status s = store_.Commit(batch); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("could not store the exclusion: ", s.message()));
      }
      changed = project->model.MarkExcluded(*worker, excluded);
    }
  }
  if (changed) {
    if (absl::Status s = sweeper_.SweepProject(*project, /*force=*/true); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(project->mu);
  absl::StatusOr<int32_t> worker = find();
  if (!worker.ok()) return worker.status();
  return ExclusionResult{WorkerViewOf(*project, *worker), changed};
}

// --- Views ---

std::vector<ProjectSummary> Engine::Projects() const {
  std::vector<ProjectSummary> out;
  for (Project* project : projects_.List()) {
    std::lock_guard<std::mutex> lock(project->mu);
    out.push_back(SummaryOf(*project));
  }
  return out;
}

std::optional<ProjectView> Engine::ProjectDetail(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(project->mu);
  return ProjectViewOf(*project);
}

std::optional<TaskView> Engine::Task(std::string_view name, std::string_view task_name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(project->mu);
  const int32_t task = project->model.tasks().Find(task_name);
  if (task < 0) return std::nullopt;
  return TaskViewOf(*project, task);
}

std::optional<WorkerView> Engine::Worker(std::string_view name, std::string_view worker_name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(project->mu);
  const int32_t worker = project->model.workers().Find(worker_name);
  if (worker < 0) return std::nullopt;
  return WorkerViewOf(*project, worker);
}

absl::StatusOr<Page<TaskView>> Engine::Tasks(std::string_view name, std::string_view after,
                                             int64_t limit, int review_filter) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::lock_guard<std::mutex> lock(project->mu);
  const consensus::IdTable& tasks = project->model.tasks();
  // The `limit + 1` smallest ids after the cursor, by a bounded max-heap.
  auto less = [&](int32_t a, int32_t b) { return tasks.Name(a) < tasks.Name(b); };
  std::priority_queue<int32_t, std::vector<int32_t>, decltype(less)> heap(less);
  Page<TaskView> page;
  for (int32_t t = 0; t < project->model.num_tasks(); ++t) {
    if (!TaskListed(*project, t)) continue;
    if (review_filter >= 0 && TaskNeedsReview(*project, t) != (review_filter == 1)) continue;
    ++page.total;
    if (!after.empty() && tasks.Name(t) <= after) continue;
    if (static_cast<int64_t>(heap.size()) <= limit) {
      heap.push(t);
    } else if (less(t, heap.top())) {
      heap.pop();
      heap.push(t);
    }
  }
  std::vector<int32_t> ids;
  while (!heap.empty()) {
    ids.push_back(heap.top());
    heap.pop();
  }
  std::reverse(ids.begin(), ids.end());
  const bool more = static_cast<int64_t>(ids.size()) > limit;
  if (more) ids.pop_back();
  for (const int32_t t : ids) page.items.push_back(TaskViewOf(*project, t));
  if (more && !ids.empty()) page.next_cursor = tasks.Name(ids.back());
  return page;
}

namespace {

double SortKey(const WorkerRow& r, WorkerSort sort) {
  switch (sort) {
    case WorkerSort::kAccuracy: return r.accuracy;
    case WorkerSort::kSpam: return r.spam_score;
    case WorkerSort::kAnswers: break;
  }
  return static_cast<double>(r.answers);
}

// A workers cursor: the sort key of the last row (as "%.17g"), a space, then
// its worker id.
std::string WorkerCursor(double key, const std::string& worker) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", key);
  return absl::StrCat(buf, " ", worker);
}

bool ParseWorkerCursor(std::string_view cursor, double* key, std::string_view* worker) {
  const size_t space = cursor.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  const std::string number(cursor.substr(0, space));
  char* end = nullptr;
  *key = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return false;
  *worker = cursor.substr(space + 1);
  return true;
}

}  // namespace

absl::StatusOr<std::vector<WorkerRow>> Engine::AllWorkers(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::lock_guard<std::mutex> lock(project->mu);
  std::vector<WorkerRow> rows;
  rows.reserve(project->model.num_workers());
  for (int32_t w = 0; w < project->model.num_workers(); ++w) rows.push_back(WorkerRowOf(*project, w));
  return rows;
}

absl::StatusOr<Page<WorkerRow>> Engine::Workers(std::string_view name, WorkerSort sort,
                                                bool ascending, std::string_view cursor,
                                                int64_t limit) const {
  double cursor_key = 0;
  std::string_view cursor_worker;
  if (!cursor.empty() && !ParseWorkerCursor(cursor, &cursor_key, &cursor_worker)) {
    return absl::InvalidArgumentError("cursor is not a next_cursor of this list");
  }
  absl::StatusOr<std::vector<WorkerRow>> rows = AllWorkers(name);
  if (!rows.ok()) return rows.status();
  // Order: by key (ascending or descending), then by worker id ascending.
  auto before = [&](double ka, const std::string& wa, double kb, std::string_view wb) {
    if (ka != kb) return ascending ? ka < kb : ka > kb;
    return std::string_view(wa) < wb;
  };
  std::sort(rows->begin(), rows->end(), [&](const WorkerRow& a, const WorkerRow& b) {
    return before(SortKey(a, sort), a.worker, SortKey(b, sort), b.worker);
  });
  Page<WorkerRow> page;
  page.total = static_cast<int64_t>(rows->size());
  auto it = rows->begin();
  if (!cursor.empty()) {
    it = std::find_if(rows->begin(), rows->end(), [&](const WorkerRow& r) {
      return before(cursor_key, std::string(cursor_worker), SortKey(r, sort), r.worker);
    });
  }
  for (; it != rows->end() && static_cast<int64_t>(page.items.size()) < limit; ++it) {
    page.items.push_back(std::move(*it));
  }
  if (it != rows->end() && !page.items.empty()) {
    page.next_cursor = WorkerCursor(SortKey(page.items.back(), sort), page.items.back().worker);
  }
  return page;
}

absl::StatusOr<int32_t> Engine::ExportChunk(std::string_view name, const ExportFormat& format,
                                            int32_t from, int32_t max, std::string* out) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::lock_guard<std::mutex> lock(project->mu);
  const consensus::StreamingModel& m = project->model;
  if (from == 0 && !format.jsonl) AppendLabelsHeader(m.classes().names(), format.posteriors, *out);
  const int32_t end = std::min<int64_t>(m.num_tasks(), static_cast<int64_t>(from) + max);
  const int64_t now = NowMs();
  for (int32_t t = from; t < end; ++t) {
    const int32_t label = m.Label(t);
    if (label < 0 || !TaskListed(*project, t)) continue;
    const double confidence = m.Posterior(t)[label];
    if (confidence < format.min_confidence) continue;
    if (format.jsonl) {
      AppendConsensusJson(project->name, m, t, now, *out);
      out->push_back('\n');
    } else {
      AppendLabelsRow(m.tasks().Name(t), m.classes().Name(label), confidence, m.Posterior(t),
                      format.posteriors, *out);
    }
  }
  return end >= m.num_tasks() ? -1 : end;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Engine::Labels(
    std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::lock_guard<std::mutex> lock(project->mu);
  const consensus::StreamingModel& m = project->model;
  std::vector<std::pair<std::string, std::string>> out;
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    const int32_t label = m.Label(t);
    if (label < 0 || !TaskListed(*project, t)) continue;
    out.emplace_back(m.tasks().Name(t), m.classes().Name(label));
  }
  return out;
}

absl::StatusOr<Engine::AnswersCopy> Engine::Answers(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::lock_guard<std::mutex> lock(project->mu);
  const consensus::StreamingModel& m = project->model;
  AnswersCopy copy{m.Snapshot(), m.tasks().names(), m.workers().names(), m.classes().names(), {}};
  for (int32_t t = 0; t < m.num_tasks(); ++t) copy.label.push_back(m.Label(t));
  return copy;
}

}  // namespace consensusd::engine
