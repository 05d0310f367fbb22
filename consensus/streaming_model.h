// StreamingModel: the live consensus state of one project. Answers arrive one
// at a time; each update re-estimates its task's posterior and its workers'
// statistics at once (incremental EM, Neal & Hinton 1998), and a full sweep
// re-fits the whole model from scratch (batch EM from majority vote), so the
// result after a sweep depends only on the current answers, gold and exclusions.
//
//   StreamingModel model(StreamingOptions{});
//   int32_t t = model.InternTask("t-1"), w = model.InternWorker("ann-17");
//   absl::StatusOr<int32_t> c = model.InternClass("positive");
//   model.SetAnswer(t, w, *c);
//   model.Label(t), model.Confidence(t)
//   SweepInput in = model.PrepareSweep();  // a full sweep, in three steps
//   absl::StatusOr<Model> fit = model.RunSweep(in);
//   if (fit.ok()) model.InstallSweep(in, *fit);
//
// How it works: for each worker it keeps expected counts[w][l][k] (answers l on
// tasks of true class k, weighted by the task posterior) and for each class the
// sum of task posteriors. An update subtracts the task's old contribution,
// changes the answers, recomputes the task's posterior under the current
// parameters and adds the new contribution: O(answers of the task x K^2),
// without logs. Parameters are derived from the counts with the same formulas
// as batch EM (parameters.h). The arithmetic over classes is Eigen arrays
// mapped over the flat buffers, specialised per K (class_array.h), and gives
// the bits the scalar loops gave (StreamingUpdateTest). Under hds it also keeps the population counts
// (the sum of the included workers' counts), updated by the same contributions.
//
// Scale-out: when the answers of a project are split among instances (by input
// partition), each instance's model holds its own tasks and adds, as "remote"
// statistics, the other partitions' per-worker counts, class counts and answer
// counts (SetRemoteWorker, SetRemoteClassCounts). Parameters are then derived
// from local + remote counts everywhere (updates, sweeps, views); a sweep
// still starts from the majority vote of the local answers, as a single
// instance's does (see docs/scaling.md). Without remote statistics nothing
// changes.
//
// Not thread-safe: the caller serialises access. A sweep can run without the
// caller's lock: PrepareSweep() (locked) copies the answers, RunSweep() (no
// lock) fits, InstallSweep() (locked) installs the result and re-applies the
// tasks that changed in between. Everything is held in memory: with the
// answers in AnswerStore's slots, a project of one answer per task takes about
// 100 bytes per answer together with the engine's per-task arrays
// (engine_tests' ProjectMemoryTest, docs/benchmarks.md).
#ifndef CONSENSUSD_CONSENSUS_STREAMING_MODEL_H_
#define CONSENSUSD_CONSENSUS_STREAMING_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/aggregate.h"
#include "consensus/answer_matrix.h"
#include "consensus/answer_store.h"
#include "consensus/id_table.h"

namespace consensusd::consensus {

struct StreamingOptions {
  AggregateOptions fit;      // method (ds, onecoin, vbds, mace or hds), prior, tol, max_iter, threads
  int32_t max_classes = 64;  // classes discovered beyond this are rejected
  // What a second answer of a worker to a task means: kKeepLast ("replace")
  // replaces the first, kKeepAll ("count") adds an answer (AnswerStore::Add).
  DuplicatePolicy repeats = DuplicatePolicy::kKeepLast;
};

// A copy of the state a sweep fits, taken under the caller's lock.
struct SweepInput {
  AnswerMatrix answers;
  FitContext context;    // exclusions, remote statistics, warm start
  uint64_t version = 0;  // the model's update counter when the copy was taken
  uint32_t epoch = 0;    // the model's sweep epoch it opened (tasks changed since carry it)
};

class StreamingModel {
 public:
  explicit StreamingModel(const StreamingOptions& options);

  StreamingModel(const StreamingModel&) = delete;
  StreamingModel& operator=(const StreamingModel&) = delete;

  // Interning. Tasks and workers are unbounded; classes stop at max_classes
  // (ResourceExhausted, naming the limit).
  int32_t InternTask(std::string_view name);
  int32_t InternWorker(std::string_view name);
  absl::StatusOr<int32_t> InternClass(std::string_view name);

  // Adds worker's answer for task. Under repeats = replace it replaces the
  // worker's earlier answer (the same label again changes nothing); under
  // count it is one more answer, however many the worker gave before.
  // REQUIRES: ids come from this model's Intern* calls.
  void SetAnswer(int32_t task, int32_t worker, int32_t label);
  // Removes worker's answer for task, under count every answer of the worker
  // to the task; returns false if there was none.
  bool Retract(int32_t task, int32_t worker);
  // The worker's labels for the task, in arrival order (at most one under
  // replace), into *out (cleared first).
  void WorkerLabels(int32_t task, int32_t worker, std::vector<int32_t>* out) const;
  // Removes every answer and the gold of `tasks` (they stay interned, empty),
  // then recounts the statistics from the remaining posteriors: one pass over
  // the answers held, for releasing many tasks at once. A full sweep makes
  // the posteriors exact again.
  void DropTasks(std::span<const int32_t> tasks);
  // Declares the task's known class (kNoGold clears it).
  void SetGold(int32_t task, int32_t label);
  // An excluded worker's answers stay stored but stop counting. Changes the
  // flag only; returns whether it changed. Posteriors are exact again after
  // the next full sweep (which the caller must run).
  bool MarkExcluded(int32_t worker, bool excluded);

  // Remote statistics (see above). `counts` is K x K in the [l][k] layout of
  // parameters.h, in this model's class ids. Posteriors follow at the next
  // update of each task and exactly after the next full sweep.
  // REQUIRES: counts.size() == K * K; class_counts.size() == K.
  void SetRemoteWorker(int32_t worker, std::span<const double> counts, int64_t answers);
  void SetRemoteClassCounts(std::span<const double> class_counts);
  bool has_remote() const { return has_remote_; }
  // Drops the remote statistics and frees their memory (a num_workers x K x K
  // table) once they are all zero: every partition is local again, as when a
  // group shrinks to one instance. Parameters are then the local counts'
  // alone, as before the first Set*Remote* call. Returns whether it dropped
  // them; false (nothing changed) while any remote count or answer is held.
  bool ClearRemote();

  // Bulk loading (restoring state): stores without updating any statistics.
  // REQUIRES: a full sweep after the last Load* call and before any other use.
  void LoadAnswer(int32_t task, int32_t worker, int32_t label);
  void LoadGold(int32_t task, int32_t label) { StoreGold(task, label); }
  void LoadExcluded(int32_t worker) { excluded_[worker] = true; }

  // Full EM sweep over the current state, in three steps (see above).
  SweepInput PrepareSweep() const;
  absl::StatusOr<Model> RunSweep(const SweepInput& input) const;
  void InstallSweep(const SweepInput& input, const Model& fitted);

  // Views.
  int32_t num_classes() const { return K_; }
  int32_t num_tasks() const { return tasks_.size(); }
  int32_t num_workers() const { return workers_.size(); }
  int64_t num_answers() const { return num_answers_; }
  const IdTable& tasks() const { return tasks_; }
  const IdTable& workers() const { return workers_; }
  const IdTable& classes() const { return classes_; }
  std::span<const double> Posterior(int32_t task) const;
  // Consensus class (ties by prior, then name), or -1 before any class exists.
  int32_t Label(int32_t task) const;
  double Confidence(int32_t task) const;
  std::span<const TaskAnswer> Answers(int32_t task) const { return answers_.Of(task); }
  int32_t Gold(int32_t task) const;  // kNoGold if none
  bool Excluded(int32_t worker) const { return excluded_[worker]; }
  // Answers the worker has stored (excluded or not).
  int64_t WorkerAnswers(int32_t worker) const { return worker_answers_[worker]; }
  // Answers of the worker counted elsewhere (remote statistics).
  int64_t RemoteAnswers(int32_t worker) const {
    return has_remote_ ? remote_answers_[worker] : 0;
  }
  // Whether the task's posterior counts in the worker statistics: it has gold
  // or an included answer, and is not left out as a single-answer task.
  bool Counted(int32_t task) const;
  std::vector<double> ClassPrior() const;
  // P(answer l | true class k) as a K x K row-major matrix [k][l].
  std::vector<double> Confusion(int32_t worker) const;
  // hds: the population counts [l][k] (K x K), local plus remote, of the
  // included workers, that every worker's confusion is shrunk towards; empty
  // for the other methods.
  std::vector<double> PopulationCounts() const;
  // The answers as a matrix (with gold and class ranks), for reports and export.
  AnswerMatrix Snapshot() const;
  // The model's view as a batch Model (posteriors, labels, priors, confusions).
  Model ToModel() const;
  uint64_t version() const { return version_; }
  const StreamingOptions& options() const { return options_; }

 private:
  void GrowClasses(int32_t new_k);
  // Adds or replaces the worker's answer (no statistics); false if unchanged.
  bool PutAnswer(int32_t task, int32_t worker, int32_t label);
  // SetAnswer under repeats = count.
  void CountAnswer(int32_t task, int32_t worker, int32_t label);
  // Appends the worker's answer as one more (repeats = count; no statistics).
  void AddRepeat(int32_t task, int32_t worker, int32_t label);
  // Adds (sign = +1) or removes (sign = -1) the task's posterior-weighted
  // contribution to worker counts and class counts.
  void Contribute(int32_t task, double sign);
  // Recomputes the task's posterior under the current parameters.
  void EStep(int32_t task);
  // The two above for kK classes (or Eigen::Dynamic, any K), chosen by
  // SelectUpdateKernels whenever K changes.
  template <int kK>
  void ContributeFor(int32_t task, double sign);
  template <int kK>
  void EStepFor(int32_t task);
  void SelectUpdateKernels();
  // Runs the incremental update for one task around `change`.
  template <typename Change>
  void UpdateTask(int32_t task, Change change);
  bool Active(int32_t task) const;
  // The worker model of the fit (WorkerModelOf with local + remote answers).
  WorkerModel ModelOf(int32_t worker) const;
  // The counts parameters come from: local, plus remote when there is any
  // (summed into `scratch`, K x K).
  const double* ParameterCounts(int32_t worker, double* scratch) const;
  void ParameterClassCounts(double* out) const;
  // hds: local + remote population counts into out (K x K).
  void ParameterPopulation(double* out) const;
  void EnsureRemote();
  void RecountFromPosteriors();
  // Sets or (kNoGold) clears the task's gold, without updating statistics.
  void StoreGold(int32_t task, int32_t label);

  static constexpr int kMaxStackClasses = 64;

  const StreamingOptions options_;
  int32_t K_ = 0;
  IdTable tasks_, workers_, classes_;
  std::vector<int32_t> class_rank_;
  // Per task.
  AnswerStore answers_;
  // Gold labels: few tasks have one, so a bit per task and a map of those
  // that do (classes stop at 1024: config.h).
  std::vector<bool> has_gold_;
  absl::flat_hash_map<int32_t, int16_t> gold_;
  std::vector<double> posterior_;       // num_tasks x K
  // sweep_epoch_ at the task's last change: a task changed while a sweep
  // ran carries the epoch its PrepareSweep opened (4 bytes, not a version's 8).
  std::vector<uint32_t> task_epoch_;
  // Per worker.
  std::vector<double> counts_;  // num_workers x K x K, [w][l][k]
  std::vector<int64_t> worker_answers_;
  std::vector<bool> excluded_;
  // Per class.
  std::vector<double> class_counts_;
  // hds only (else empty): the sum of counts_ over included workers, K x K [l][k].
  std::vector<double> population_;
  // Remote statistics (empty until the first Set*Remote* call, and again
  // after ClearRemote).
  bool has_remote_ = false;
  std::vector<double> remote_counts_;  // num_workers x K x K
  std::vector<int64_t> remote_answers_;
  std::vector<double> remote_class_counts_;
  std::vector<double> remote_population_;  // hds: the sum of remote_counts_ over included workers
  // The update code for K_ classes (SelectUpdateKernels).
  void (StreamingModel::*contribute_)(int32_t task, double sign) = nullptr;
  void (StreamingModel::*estep_)(int32_t task) = nullptr;
  WorkerLikelihoodFn likelihood_ = nullptr;
  int64_t num_answers_ = 0;
  uint64_t version_ = 0;
  mutable uint32_t sweep_epoch_ = 0;  // PrepareSweep calls
  int last_sweep_iterations_ = 0;
  double last_sweep_log_likelihood_ = 0;
};

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_STREAMING_MODEL_H_
