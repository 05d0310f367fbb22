#include "api/views.h"

#include <cmath>

#include "consensus/report.h"

namespace consensusd::api {

using nlohmann::json;

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

namespace {

json Classes(const consensus::StreamingModel& model) { return json(model.classes().names()); }

const consensus::WorkerReport* ReportOf(const consumer::Project& project, int32_t worker) {
  if (project.report == nullptr || worker >= static_cast<int32_t>(project.report->workers.size())) {
    return nullptr;
  }
  return &project.report->workers[worker];
}

}  // namespace

json ProjectSummary(const consumer::Project& project) {
  const consensus::StreamingModel& m = project.model;
  json j = {{"project", project.name},
            {"tasks", m.num_tasks()},
            {"workers", m.num_workers()},
            {"answers", m.num_answers()},
            {"classes", Classes(m)}};
  if (project.report != nullptr) {
    j["workers_flagged"] = project.report->workers_flagged;
    j["tasks_needing_review"] = project.report->tasks_needing_review;
    j["mean_confidence"] = Number(project.report->mean_confidence);
  }
  return j;
}

json ProjectView(const consumer::Project& project) {
  const consensus::StreamingModel& m = project.model;
  json j = ProjectSummary(project);
  json priors = json::object();
  const std::vector<double> prior = m.ClassPrior();
  for (int32_t k = 0; k < m.num_classes(); ++k) priors[m.classes().Name(k)] = prior[k];
  j["class_priors"] = priors;
  j["method"] = std::string(consensus::MethodName(project.settings.model.fit.method));
  j["declared_classes"] = project.fixed_classes;
  const consumer::ProjectReport* r = project.report.get();
  j["last_sweep"] = r == nullptr ? json(nullptr)
                                 : json{{"unix_ms", r->sweep_unix_ms},
                                        {"seconds", r->sweep_seconds},
                                        {"iterations", r->iterations},
                                        {"log_likelihood", Number(r->log_likelihood)},
                                        {"tasks", r->tasks},
                                        {"answers", r->answers}};
  j["krippendorff_alpha"] = r == nullptr ? json(nullptr) : Number(r->krippendorff_alpha);
  j["thresholds"] = {{"min_answers", project.settings.quality.min_answers},
                     {"min_accuracy", project.settings.quality.min_accuracy},
                     {"max_spam_score", project.settings.quality.max_spam_score},
                     {"review_min_confidence", project.settings.review.min_confidence},
                     {"review_min_answers", project.settings.review.min_answers}};
  return j;
}

bool TaskNeedsReview(const consumer::Project& project, int32_t task) {
  const consensus::StreamingModel& m = project.model;
  if (m.num_classes() == 0) return false;
  return consensus::NeedsReview(m.Confidence(task), static_cast<int64_t>(m.Answers(task).size()),
                                project.settings.review);
}

json TaskView(const consumer::Project& project, int32_t task) {
  const consensus::StreamingModel& m = project.model;
  json j = {{"project", project.name}, {"task", m.tasks().Name(task)}};
  const int32_t label = m.Label(task);
  j["label"] = label < 0 ? json(nullptr) : json(m.classes().Name(label));
  j["confidence"] = label < 0 ? json(nullptr) : json(m.Posterior(task)[label]);
  json posterior = json::object();
  for (int32_t k = 0; k < m.num_classes(); ++k) posterior[m.classes().Name(k)] = m.Posterior(task)[k];
  j["posterior"] = posterior;
  json by_worker = json::array();
  for (const consensus::TaskAnswer& a : m.Answers(task)) {
    by_worker.push_back({{"worker", m.workers().Name(a.worker)},
                         {"label", m.classes().Name(a.label)},
                         {"excluded", m.Excluded(a.worker)}});
  }
  j["answers"] = by_worker.size();
  j["answers_by_worker"] = by_worker;
  j["gold"] = m.Gold(task) == consensus::kNoGold ? json(nullptr) : json(m.classes().Name(m.Gold(task)));
  j["needs_review"] = TaskNeedsReview(project, task);
  return j;
}

json WorkerRow(const consumer::Project& project, int32_t worker) {
  const consensus::StreamingModel& m = project.model;
  json j = {{"worker", m.workers().Name(worker)}, {"excluded", m.Excluded(worker)}};
  const consensus::WorkerReport* r = ReportOf(project, worker);
  if (r == nullptr) {
    j["answers"] = nullptr;
    j["accuracy"] = nullptr;
    return j;
  }
  j["answers"] = r->answers;
  j["accuracy"] = Number(r->accuracy);
  j["gold_answers"] = r->gold_answers;
  j["gold_correct"] = r->gold_correct;
  j["gold_accuracy"] =
      r->gold_answers > 0 ? json(static_cast<double>(r->gold_correct) / r->gold_answers) : json(nullptr);
  j["agreement"] = Number(r->agreement);
  j["spam_score"] = Number(r->spam_score);
  j["flagged"] = r->flagged;
  return j;
}

json WorkerView(const consumer::Project& project, int32_t worker) {
  const consensus::StreamingModel& m = project.model;
  json j = WorkerRow(project, worker);
  j["project"] = project.name;
  j["classes"] = Classes(m);
  const std::vector<double> confusion = m.Confusion(worker);
  json rows = json::array();
  for (int32_t k = 0; k < m.num_classes(); ++k) {
    json row = json::array();
    for (int32_t l = 0; l < m.num_classes(); ++l) row.push_back(confusion[k * m.num_classes() + l]);
    rows.push_back(row);
  }
  j["confusion_matrix"] = rows;  // rows: true class, columns: answered class
  return j;
}

}  // namespace consensusd::api
