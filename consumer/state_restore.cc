#include "consumer/state_restore.h"

#include "absl/strings/str_cat.h"

namespace consensusd::consumer {
namespace {

// The project of consecutive records, looked up once per run of records.
class ProjectCursor {
 public:
  explicit ProjectCursor(ProjectSet& projects) : projects_(projects) {}
  Project& At(std::string_view name) {
    if (current_ == nullptr || current_->name != name) current_ = &projects_.Get(name);
    return *current_;
  }

 private:
  ProjectSet& projects_;
  Project* current_ = nullptr;
};

}  // namespace

absl::Status RestoreState(const storage::StateStore& store, ProjectSet& projects,
                          RestoreStats* stats, const std::function<void(int64_t)>& progress) {
  ProjectCursor cursor(projects);
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
  });
  if (!s.ok()) return s;
  int64_t answers = 0;
  s = store.ForEachAnswer(-1, [&](const storage::StoredAnswer& a) {
    Project& p = cursor.At(a.project);
    const int32_t label = p.model.classes().Find(a.label);
    if (label < 0) {
      if (problem.ok()) {
        problem = absl::DataLossError(absl::StrCat("stored answer of project '", std::string(a.project),
                                                   "' has class '", std::string(a.label),
                                                   "' that no stored class record names"));
      }
      return;
    }
    const int32_t task = p.model.InternTask(a.task);
    p.model.LoadAnswer(task, p.model.InternWorker(a.worker), label);
    p.Touch(task, a.partition);
    if (++answers % 1000000 == 0 && progress) progress(answers);
  });
  if (!s.ok()) return s;
  if (!problem.ok()) return problem;
  int64_t gold = 0;
  s = store.ForEachGold(-1, [&](const storage::StoredGold& g) {
    Project& p = cursor.At(g.project);
    const int32_t label = p.model.classes().Find(g.label);
    if (label < 0) return;
    const int32_t task = p.model.InternTask(g.task);
    p.model.LoadGold(task, label);
    p.Touch(task, g.partition);
    ++gold;
  });
  if (!s.ok()) return s;
  if (stats != nullptr) {
    stats->answers = answers;
    stats->gold = gold;
    stats->projects = static_cast<int64_t>(projects.List().size());
  }
  return absl::OkStatus();
}

}  // namespace consensusd::consumer
