#include "engine/project.h"

#include <algorithm>

namespace consensusd::engine {

Project::Project(std::string project_name, ProjectSettings project_settings)
    : name(std::move(project_name)),
      settings(std::move(project_settings)),
      fixed_classes(!settings.classes.empty()),
      model(settings.model) {
  for (const std::string& c : settings.classes) {
    (void)model.InternClass(c);  // declared classes come first, in config order
  }
  classes_stored = model.num_classes();
  kind = settings.kind != ProjectKind::kUnset ? settings.kind
         : fixed_classes                      ? ProjectKind::kCategorical
                                              : ProjectKind::kUnset;
}

void Project::Touch(int32_t task, int32_t partition) {
  const size_t n = static_cast<size_t>(task) + 1;
  if (task_partition.size() < n) {
    task_partition.resize(n, -1);
    sent_label.resize(n, -1);
    sent_confidence.resize(n, 0.0f);
    sent_review.resize(n, 0);
    acked_review.resize(n, 0);
    acked_flag.resize(n, 0);
    dirty.resize(n, 0);
  }
  if (partition >= 0) task_partition[task] = partition;
  if (!dirty[task]) {
    dirty[task] = 1;
    dirty_tasks.push_back(task);
  }
}

void Project::TouchAll() {
  for (int32_t t = 0; t < model.num_tasks(); ++t) Touch(t, -1);
}

Project::Acked Project::AckedOf(int32_t task) const {
  const auto it = acked_differs.find(task);
  return it != acked_differs.end() ? it->second : Acked{sent_label[task], sent_confidence[task]};
}

void Project::SetSent(int32_t task, int16_t label, float confidence) {
  const Acked acked = AckedOf(task);
  sent_label[task] = label;
  sent_confidence[task] = confidence;
  SetAcked(task, acked);
}

void Project::SetAcked(int32_t task, Acked acked) {
  if (acked.label == sent_label[task] && acked.confidence == sent_confidence[task]) {
    acked_differs.erase(task);
  } else {
    acked_differs[task] = acked;
  }
}

void Project::ForgetSent(int32_t task) {
  sent_label[task] = -1;
  acked_differs.erase(task);
}

void Project::ReleaseWorkLists() {
  constexpr size_t kKeep = size_t{1} << 16;
  if (dirty_tasks.empty() && dirty_tasks.capacity() > kKeep) std::vector<int32_t>().swap(dirty_tasks);
  if (acked_changed.empty() && acked_changed.capacity() > kKeep) std::vector<int32_t>().swap(acked_changed);
  // (after a flood of changes the table would keep its buckets)
  if (acked_differs.empty() && acked_differs.bucket_count() > kKeep) acked_differs = {};
}

void Project::ApplyVoteChange(int32_t task, const VoteSet::Vote* removed, const VoteSet::Vote* added) {
  live.Apply(task, removed, added, votes);
  if (!sweep_copying) return;
  VoteChange& change = vote_changes.emplace_back();
  change.task = task;
  change.had = removed != nullptr;
  change.has = added != nullptr;
  if (removed != nullptr) change.removed = *removed;
  if (added != nullptr) change.added = *added;
}

void Project::InstallVoteFit(std::shared_ptr<const VoteReport> report) {
  vote_report = std::move(report);
  live.Reset(vote_report.get(), votes);
  for (const VoteChange& c : vote_changes) {
    live.Apply(c.task, c.had ? &c.removed : nullptr, c.has ? &c.added : nullptr, votes);
  }
  vote_changes.clear();
  sweep_copying = false;
}

ProjectSet::ProjectSet(SettingsFor settings_for) : settings_for_(std::move(settings_for)) {}

Project& ProjectSet::Get(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = projects_.find(absl::string_view(name.data(), name.size()));
  if (it != projects_.end()) return *it->second;
  auto project = std::make_unique<Project>(std::string(name), settings_for_(name));
  Project& ref = *project;
  projects_.emplace(std::string(name), std::move(project));
  return ref;
}

Project* ProjectSet::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = projects_.find(absl::string_view(name.data(), name.size()));
  return it == projects_.end() ? nullptr : it->second.get();
}

std::vector<Project*> ProjectSet::List() const {
  std::vector<Project*> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, project] : projects_) out.push_back(project.get());
  }
  std::sort(out.begin(), out.end(), [](Project* a, Project* b) { return a->name < b->name; });
  return out;
}

}  // namespace consensusd::engine
