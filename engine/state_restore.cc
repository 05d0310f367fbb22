#include "engine/state_restore.h"

#include "absl/strings/str_cat.h"
#include "engine/leaderboard_record.h"

namespace consensusd::engine {
namespace {

// The project of consecutive records, looked up (and locked: the HTTP API
// may read while the state loads) once per run of records.
class ProjectCursor {
 public:
  explicit ProjectCursor(ProjectSet& projects) : projects_(projects) {}
  Project& At(std::string_view name) {
    if (current_ == nullptr || current_->name != name) {
      lock_ = {};
      current_ = &projects_.Get(name);
      lock_ = std::unique_lock<std::mutex>(current_->mu);
    }
    return *current_;
  }

 private:
  ProjectSet& projects_;
  Project* current_ = nullptr;
  std::unique_lock<std::mutex> lock_;
};

absl::Status RestoreClasses(const storage::StateStore& store, ProjectCursor& cursor) {
  absl::Status problem;
  absl::Status s = store.ForEachClass([&](std::string_view project, int32_t class_id,
                                          std::string_view name) {
    Project& p = cursor.At(project);
    absl::StatusOr<int32_t> id = p.model.InternClass(name);
    if (problem.ok() && (!id.ok() || *id != class_id)) {
      problem = absl::DataLossError(absl::StrCat(
          "stored class '", std::string(name), "' of project '", std::string(project), "' has id ",
          class_id, " but the project's classes give it ", id.ok() ? std::to_string(*id) : "none",
          ": the declared classes in the config differ from the stored state"));
    }
  });
  if (!s.ok()) return s;
  if (!problem.ok()) return problem;
  s = store.ForEachExcluded([&](std::string_view project, std::string_view worker) {
    Project& p = cursor.At(project);
    p.model.LoadExcluded(p.model.InternWorker(worker));
    p.votes.SetExcluded(p.votes.InternWorker(worker), true);  // for a pairwise or rating project
  });
  if (!s.ok()) return s;
  return store.ForEachSnapshot([&](std::string_view project, std::string_view name, uint64_t fingerprint) {
    if (name == kLeaderboardSnapshot) cursor.At(project).leaderboard_sent = fingerprint;
  });
}

}  // namespace

absl::Status RestoreState(const storage::StateStore& store, ProjectSet& projects,
                          int32_t partition, RestoreStats* stats,
                          const std::function<void(int64_t)>& progress) {
  const bool live = partition >= 0;
  ProjectCursor cursor(projects);
  if (!live) {
    if (absl::Status s = RestoreClasses(store, cursor); !s.ok()) return s;
  }
  absl::Status problem;
  int64_t answers = 0;
  // Answer records first, then each worker's later answers under repeats:
  // count (an answer's position within its task does not change a sweep).
  bool repeats = false;
  auto load_answer = [&](const storage::StoredAnswer& a) {
    Project& p = cursor.At(a.project);
    if (repeats && p.model.options().repeats != consensus::DuplicatePolicy::kKeepAll) {
      if (problem.ok()) {
        problem = absl::FailedPreconditionError(absl::StrCat(
            "project '", std::string(a.project), "' has repeated answers stored under repeats: "
            "count, but its config says repeats: replace: set projects.", std::string(a.project),
            ".repeats: count, or replay the input topic into an empty state.data_dir"));
      }
      return;
    }
    const int32_t label = p.model.classes().Find(a.label);
    if (label < 0) {
      if (problem.ok()) {
        problem = absl::DataLossError(absl::StrCat("stored answer of project '", std::string(a.project),
                                                   "' has class '", std::string(a.label),
                                                   "' that no stored class record names"));
      }
      return;
    }
    if (p.kind == ProjectKind::kUnset) p.kind = ProjectKind::kCategorical;
    const int32_t task = p.model.InternTask(a.task);
    const int32_t worker = p.model.InternWorker(a.worker);
    if (live) {
      p.model.SetAnswer(task, worker, label);
    } else {
      p.model.LoadAnswer(task, worker, label);
    }
    p.Touch(task, a.partition);
    if (++answers % 1000000 == 0 && progress) progress(answers);
  };
  absl::Status s = store.ForEachAnswer(partition, load_answer);
  if (!s.ok()) return s;
  repeats = true;
  s = store.ForEachRepeat(partition, load_answer);
  if (!s.ok()) return s;
  if (!problem.ok()) return problem;
  int64_t gold = 0;
  s = store.ForEachGold(partition, [&](const storage::StoredGold& g) {
    Project& p = cursor.At(g.project);
    const int32_t label = p.model.classes().Find(g.label);
    if (label < 0) return;
    if (p.kind == ProjectKind::kUnset) p.kind = ProjectKind::kCategorical;
    const int32_t task = p.model.InternTask(g.task);
    if (live) {
      p.model.SetGold(task, label);
    } else {
      p.model.LoadGold(task, label);
    }
    p.Touch(task, g.partition);
    ++gold;
  });
  if (!s.ok()) return s;
  // Pairwise and rating answers; their kind fixes an undeclared project's.
  s = store.ForEachVote(partition, [&](const storage::StoredVote& v) {
    Project& p = cursor.At(v.project);
    const ProjectKind kind = v.vote.pairwise ? ProjectKind::kPairwise : ProjectKind::kRating;
    if (p.kind == ProjectKind::kUnset) p.kind = kind;
    if (p.kind != kind) {
      if (problem.ok()) {
        problem = absl::FailedPreconditionError(absl::StrCat(
            "project '", std::string(v.project), "' has stored ", std::string(ProjectKindName(kind)),
            " answers but is ", std::string(ProjectKindName(p.kind)), " (declared in the config or by its "
            "stored answers): set projects.", std::string(v.project), ".kind: ",
            std::string(ProjectKindName(kind)), ", or replay the input topic into an empty state.data_dir"));
      }
      return;
    }
    VoteSet::Vote vote{.worker = p.votes.InternWorker(v.worker)};
    if (v.vote.pairwise) {
      vote.left = p.votes.InternItem(v.vote.left);
      vote.right = p.votes.InternItem(v.vote.right);
      vote.outcome = static_cast<consensus::Outcome>(v.vote.outcome);
    } else {
      vote.rating = v.vote.rating;
    }
    p.votes.Put(p.votes.InternTask(v.task), v.partition, vote);
    if (++answers % 1000000 == 0 && progress) progress(answers);
  });
  if (!s.ok()) return s;
  if (!problem.ok()) return problem;
  // What was published is loaded on start only: a partition that comes back
  // after another instance owned it publishes each task once again (what the
  // other instance sent is unknown here).
  if (!live) {
    s = store.ForEachPublished(partition, [&](const storage::StoredPublished& r) {
      Project& p = cursor.At(r.project);
      if (r.value.class_id == storage::kVoteRecordClass) {  // a pairwise or rating task
        p.vote_sent[std::string(r.task)] = r.value.confidence;
        return;
      }
      const int32_t task = p.model.tasks().Find(r.task);
      if (task < 0 || r.value.class_id >= p.model.num_classes()) return;
      p.Touch(task, r.partition);
      p.sent_label[task] = static_cast<int16_t>(r.value.class_id);  // (and so the acked one)
      p.sent_confidence[task] = static_cast<float>(r.value.confidence);
      p.acked_differs.erase(task);
      p.sent_review[task] = p.acked_review[task] = r.value.review;
    });
  }
  if (!s.ok()) return s;
  if (stats != nullptr) {
    stats->answers = answers;
    stats->gold = gold;
    stats->projects = static_cast<int64_t>(projects.List().size());
  }
  return absl::OkStatus();
}

}  // namespace consensusd::engine
