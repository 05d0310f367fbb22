#include "api/views.h"

#include <cmath>

namespace consensusd::api {

using nlohmann::json;

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

namespace {

json Pairs(const std::vector<std::pair<std::string, double>>& pairs) {
  json j = json::object();
  for (const auto& [name, p] : pairs) j[name] = p;
  return j;
}

}  // namespace

json ProjectSummaryJson(const engine::ProjectSummary& s) {
  json j = {{"project", s.project},
            {"kind", s.kind.empty() ? json(nullptr) : json(s.kind)},
            {"tasks", s.tasks},
            {"workers", s.workers},
            {"answers", s.answers},
            {"classes", s.classes}};
  if (s.swept) {
    j["workers_flagged"] = s.workers_flagged;
    j["tasks_needing_review"] = s.tasks_needing_review;
    j["mean_confidence"] = Number(s.mean_confidence);
  }
  return j;
}

json ProjectJson(const engine::ProjectView& v) {
  json j = ProjectSummaryJson(v);
  j["class_priors"] = Pairs(v.class_priors);
  j["method"] = v.method;
  j["declared_classes"] = v.declared_classes;
  j["last_sweep"] = !v.last_sweep ? json(nullptr)
                                  : json{{"unix_ms", v.last_sweep->unix_ms},
                                         {"seconds", v.last_sweep->seconds},
                                         {"iterations", v.last_sweep->iterations},
                                         {"log_likelihood", Number(v.last_sweep->log_likelihood)},
                                         {"tasks", v.last_sweep->tasks},
                                         {"answers", v.last_sweep->answers}};
  j["krippendorff_alpha"] = Number(v.krippendorff_alpha);
  j["thresholds"] = {{"min_answers", v.min_answers},
                     {"min_accuracy", v.min_accuracy},
                     {"max_spam_score", v.max_spam_score},
                     {"review_min_confidence", v.review_min_confidence},
                     {"review_min_answers", v.review_min_answers}};
  return j;
}

json TaskJson(const engine::TaskView& v) {
  json j = {{"project", v.project}, {"task", v.task}};
  j["label"] = v.label ? json(*v.label) : json(nullptr);
  j["confidence"] = v.label ? json(v.confidence) : json(nullptr);
  j["posterior"] = Pairs(v.posterior);
  json by_worker = json::array();
  for (const engine::TaskAnswerView& a : v.answers) {
    by_worker.push_back({{"worker", a.worker}, {"label", a.label}, {"excluded", a.excluded}});
  }
  j["answers"] = v.answers.size();
  j["answers_by_worker"] = by_worker;
  j["gold"] = v.gold ? json(*v.gold) : json(nullptr);
  j["needs_review"] = v.needs_review;
  return j;
}

json WorkerRowJson(const engine::WorkerRow& r) {
  json j = {{"worker", r.worker}, {"excluded", r.excluded}};
  j["answers"] = r.answers;
  j["accuracy"] = Number(r.accuracy);
  j["gold_answers"] = r.gold_answers;
  j["gold_correct"] = r.gold_correct;
  j["gold_accuracy"] = r.gold_answers > 0
                           ? json(static_cast<double>(r.gold_correct) / static_cast<double>(r.gold_answers))
                           : json(nullptr);
  j["agreement"] = Number(r.agreement);
  j["spam_score"] = Number(r.spam_score);
  j["flagged"] = r.flagged;
  return j;
}

json WorkerJson(const engine::WorkerView& v) {
  json j = WorkerRowJson(v);
  j["project"] = v.project;
  j["classes"] = v.classes;
  j["confusion_matrix"] = v.confusion;  // rows: true class, columns: answered class
  return j;
}

}  // namespace consensusd::api
