#include "engine/project_views.h"

#include <cmath>
#include <limits>

#include "consensus/aggregate.h"
#include "consensus/parameters.h"
#include "consensus/report.h"

namespace consensusd::engine {

ProjectSummary SummaryOf(const Project& project) {
  const consensus::StreamingModel& m = project.model;
  ProjectSummary s;
  s.project = project.name;
  s.tasks = m.num_tasks();
  s.workers = m.num_workers();
  s.answers = m.num_answers();
  s.classes = m.classes().names();
  s.kind = std::string(ProjectKindName(project.kind));
  if (project.kind == ProjectKind::kPairwise || project.kind == ProjectKind::kRating) {
    s.tasks = project.votes.CountTasksWithVotes();
    s.workers = project.votes.CountWorkersWithVotes();
    s.answers = project.votes.num_votes();
  }
  if (project.report != nullptr) {
    s.swept = true;
    s.workers_flagged = project.report->workers_flagged;
    s.tasks_needing_review = project.report->tasks_needing_review;
    s.mean_confidence = project.report->mean_confidence;
  }
  return s;
}

ProjectView ProjectViewOf(const Project& project) {
  const consensus::StreamingModel& m = project.model;
  ProjectView v;
  static_cast<ProjectSummary&>(v) = SummaryOf(project);
  const std::vector<double> prior = m.ClassPrior();
  for (int32_t k = 0; k < m.num_classes(); ++k) v.class_priors.emplace_back(m.classes().Name(k), prior[k]);
  v.method = std::string(consensus::MethodName(project.settings.model.fit.method));
  v.declared_classes = project.fixed_classes;
  v.krippendorff_alpha = std::numeric_limits<double>::quiet_NaN();
  if (const ProjectReport* r = project.report.get()) {
    v.last_sweep = SweepSummary{.unix_ms = r->sweep_unix_ms,
                                .seconds = r->sweep_seconds,
                                .iterations = r->iterations,
                                .log_likelihood = r->log_likelihood,
                                .tasks = r->tasks,
                                .answers = r->answers};
    v.krippendorff_alpha = r->krippendorff_alpha;
  }
  v.min_answers = project.settings.quality.min_answers;
  v.min_accuracy = project.settings.quality.min_accuracy;
  v.max_spam_score = project.settings.quality.max_spam_score;
  v.review_min_confidence = project.settings.review.min_confidence;
  v.review_min_answers = project.settings.review.min_answers;
  return v;
}

bool TaskNeedsReview(const Project& project, int32_t task) {
  const consensus::StreamingModel& m = project.model;
  if (m.num_classes() == 0) return false;
  return consensus::NeedsReview(m.Confidence(task), static_cast<int64_t>(m.Answers(task).size()),
                                project.settings.review);
}

bool TaskListed(const Project& project, int32_t task) {
  return !project.model.Answers(task).empty() || project.model.Gold(task) != consensus::kNoGold;
}

TaskView TaskViewOf(const Project& project, int32_t task) {
  const consensus::StreamingModel& m = project.model;
  TaskView v;
  v.project = project.name;
  v.task = m.tasks().Name(task);
  const int32_t label = m.Label(task);
  if (label >= 0) {
    v.label = m.classes().Name(label);
    v.confidence = m.Posterior(task)[label];
  }
  for (int32_t k = 0; k < m.num_classes(); ++k) v.posterior.emplace_back(m.classes().Name(k), m.Posterior(task)[k]);
  for (const consensus::TaskAnswer& a : m.Answers(task)) {
    v.answers.push_back({std::string(m.workers().Name(a.worker)), std::string(m.classes().Name(a.label)),
                         m.Excluded(a.worker)});
  }
  if (m.Gold(task) != consensus::kNoGold) v.gold = m.classes().Name(m.Gold(task));
  v.needs_review = TaskNeedsReview(project, task);
  return v;
}

namespace {

// Scale-out: the worker model as the statistics topic holds it, the sum of
// every partition's latest record (this instance's own included, as read
// back), so that every instance that has read the same records shows the
// same figures. False for a single instance (no statistics from elsewhere:
// the live model is shown) or a worker the topic does not hold yet.
// `confusion` is K x K [k][l].
bool PublishedWorker(const Project& project, int32_t worker, std::vector<double>* confusion,
                     std::vector<double>* class_prior, int64_t* answers) {
  const consensus::StreamingModel& m = project.model;
  const ProjectExchange& x = project.exchange;
  const int32_t K = m.num_classes();
  if (!m.has_remote() || K == 0) return false;
  auto entries = x.topic_workers.find(worker);
  if (entries == x.topic_workers.end()) return false;
  const size_t kk = static_cast<size_t>(K) * K;
  std::vector<double> counts(kk, 0.0), class_counts(K, 0.0), log_prior(K);
  *answers = 0;
  for (const auto& [partition, e] : entries->second) {
    AddStats(e, K, /*matrix=*/true, counts.data());
    *answers += e.answers;
  }
  for (const auto& [partition, e] : x.topic_classes) AddStats(e, K, /*matrix=*/false, class_counts.data());
  const consensus::AggregateOptions& fit = m.options().fit;
  confusion->assign(kk, 0.0);
  // hds: the live model's population (local plus remote) is this instance's
  // view of the pooled counts.
  const std::vector<double> population = m.PopulationCounts();
  consensus::WorkerConfusion(counts.data(), K,
                             consensus::WorkerPriorOf(fit, population.empty() ? nullptr : population.data()),
                             consensus::WorkerModelOf(fit, *answers), confusion->data());
  consensus::ClassLogPrior(class_counts.data(), K, fit.prior, consensus::VariationalClassPrior(fit),
                           log_prior.data());
  class_prior->assign(K, 0.0);
  double prior_sum = 0;
  for (int32_t k = 0; k < K; ++k) prior_sum += ((*class_prior)[k] = std::exp(log_prior[k]));
  if (consensus::VariationalClassPrior(fit)) {
    for (int32_t k = 0; k < K; ++k) (*class_prior)[k] /= prior_sum;
  }
  return true;
}

}  // namespace

WorkerRow WorkerRowOf(const Project& project, int32_t worker) {
  const consensus::StreamingModel& m = project.model;
  WorkerRow r;
  r.worker = m.workers().Name(worker);
  r.excluded = m.Excluded(worker);
  std::vector<double> confusion, class_prior;
  int64_t published_answers = 0;
  const bool published = PublishedWorker(project, worker, &confusion, &class_prior, &published_answers);
  const ProjectReport* report = project.report.get();
  if (report != nullptr && worker < static_cast<int32_t>(report->workers.size())) {
    const consensus::WorkerReport& w = report->workers[worker];
    r.answers = w.answers;
    r.accuracy = w.accuracy;
    r.gold_answers = w.gold_answers;
    r.gold_correct = w.gold_correct;
    r.agreement = w.agreement;
    r.spam_score = w.spam_score;
    r.flagged = w.flagged;
    if (published) {
      r.answers = published_answers;
      r.accuracy = consensus::WorkerAccuracy(confusion, class_prior);
      r.spam_score = consensus::SpamScore(confusion, m.num_classes());
      const consensus::QualityThresholds& q = project.settings.quality;
      r.flagged = r.answers >= q.min_answers &&
                  (r.accuracy < q.min_accuracy || r.spam_score > q.max_spam_score);
    }
    return r;
  }
  // Not in a sweep yet: the live model's estimates (agreement and gold
  // accuracy come with the next sweep).
  r.answers = published ? published_answers : m.WorkerAnswers(worker);
  if (m.num_classes() > 0) {
    if (!published) {
      confusion = m.Confusion(worker);
      class_prior = m.ClassPrior();
    }
    r.accuracy = consensus::WorkerAccuracy(confusion, class_prior);
    r.spam_score = consensus::SpamScore(confusion, m.num_classes());
  }
  return r;
}

WorkerView WorkerViewOf(const Project& project, int32_t worker) {
  const consensus::StreamingModel& m = project.model;
  WorkerView v;
  static_cast<WorkerRow&>(v) = WorkerRowOf(project, worker);
  v.project = project.name;
  v.classes = m.classes().names();
  std::vector<double> confusion, class_prior;
  int64_t answers;
  if (!PublishedWorker(project, worker, &confusion, &class_prior, &answers)) {
    confusion = m.Confusion(worker);
  }
  const int32_t K = m.num_classes();
  for (int32_t k = 0; k < K; ++k) {
    v.confusion.emplace_back(confusion.begin() + k * K, confusion.begin() + (k + 1) * K);
  }
  return v;
}

}  // namespace consensusd::engine
