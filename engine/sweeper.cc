#include "engine/sweeper.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "consensus/agreement.h"
#include "consensus/report.h"
#include "engine/consensus_record.h"
#include "spdlog/spdlog.h"

namespace consensusd::engine {

Sweeper::Sweeper(metrics::ServiceMetrics* metrics, int per_worker_limit)
    : metrics_(metrics), per_worker_limit_(per_worker_limit) {}

absl::Status Sweeper::SweepProject(Project& project, bool force) {
  bool votes;
  {
    std::lock_guard<std::mutex> lock(project.mu);
    votes = project.kind == ProjectKind::kPairwise || project.kind == ProjectKind::kRating;
  }
  if (votes) return SweepVotes(project, force);
  std::lock_guard<std::mutex> sweep_lock(sweep_mu_);
  consensus::SweepInput input;
  {
    std::lock_guard<std::mutex> lock(project.mu);
    auto it = swept_version_.find(&project);
    if (!force && it != swept_version_.end() && it->second == project.model.version()) {
      return absl::OkStatus();
    }
    input = project.model.PrepareSweep();
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<consensus::Model> fitted = project.model.RunSweep(input);  // const: no lock
  if (!fitted.ok()) return fitted.status();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::shared_ptr<const ProjectReport> report = BuildReport(project, input, *fitted, seconds);
  {
    std::lock_guard<std::mutex> lock(project.mu);
    project.model.InstallSweep(input, *fitted);
    project.report = report;
    project.TouchAll();
    swept_version_[&project] = input.version;
  }
  if (metrics_ != nullptr) {
    metrics_->EmSweeps(project.name).Increment();
    metrics_->EmSweepDuration(project.name).Observe(seconds);
    UpdateMetrics(project, input, *fitted, *report);
  }
  spdlog::debug("sweep {}: {} answers, {} iterations, {:.3f}s", project.name,
                input.answers.num_answers(), fitted->iterations, seconds);
  return absl::OkStatus();
}

std::shared_ptr<const ProjectReport> Sweeper::BuildReport(const Project& project,
                                                         const consensus::SweepInput& input,
                                                         const consensus::Model& fitted,
                                                         double seconds) {
  auto report = std::make_shared<ProjectReport>();
  const consensus::AnswerMatrix& m = input.answers;
  report->class_prior = fitted.class_prior;
  report->log_likelihood = fitted.log_likelihood;
  report->iterations = fitted.iterations;
  report->sweep_seconds = seconds;
  report->sweep_unix_ms = NowMs();
  report->tasks = m.num_tasks;
  report->answers = m.num_answers();
  report->krippendorff_alpha = consensus::KrippendorffAlpha(m, input.context.excluded);
  if (m.num_classes == 0) return report;
  double confidence_sum = 0;
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    const double c = fitted.Posterior(t)[fitted.label[t]];
    confidence_sum += c;
    report->tasks_needing_review += consensus::NeedsReview(c, m.TaskSize(t), project.settings.review);
  }
  report->mean_confidence = m.num_tasks > 0 ? confidence_sum / m.num_tasks : 0.0;
  // Scale-out: a worker's answers in other instances' partitions count too.
  report->workers = consensus::ReportWorkers(m, fitted, project.settings.quality,
                                             input.context.excluded, input.context.extra_answers);
  for (const consensus::WorkerReport& r : report->workers) report->workers_flagged += r.flagged;
  return report;
}

void Sweeper::UpdateMetrics(Project& project, const consensus::SweepInput& input,
                            const consensus::Model& fitted, const ProjectReport& report) {
  const consensus::AnswerMatrix& m = input.answers;
  const std::string& name = project.name;
  metrics_->Tasks(name).Set(m.num_tasks);
  metrics_->Workers(name).Set(m.num_workers);
  metrics_->TasksNeedingReview(name).Set(static_cast<double>(report.tasks_needing_review));
  metrics_->WorkersFlagged(name).Set(static_cast<double>(report.workers_flagged));
  if (m.num_classes == 0) return;
  std::vector<double> confidence;
  confidence.reserve(m.num_tasks);
  for (int32_t t = 0; t < m.num_tasks; ++t) confidence.push_back(fitted.Posterior(t)[fitted.label[t]]);
  metrics_->SetTaskConfidence(name, confidence);
  const std::vector<consensus::WorkerReport>& workers = report.workers;
  std::vector<double> accuracy;
  accuracy.reserve(workers.size());
  for (const consensus::WorkerReport& r : workers) accuracy.push_back(r.accuracy);
  metrics_->SetWorkerAccuracy(name, accuracy);

  // The busiest workers get a series of their own.
  std::vector<int32_t> order(workers.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t limit = std::min<size_t>(order.size(), std::max(0, per_worker_limit_));
  std::partial_sort(order.begin(), order.begin() + limit, order.end(), [&](int32_t a, int32_t b) {
    return workers[a].answers != workers[b].answers ? workers[a].answers > workers[b].answers : a < b;
  });
  std::vector<std::pair<std::string, double>> top;
  top.reserve(limit);
  {
    std::lock_guard<std::mutex> lock(project.mu);
    for (size_t i = 0; i < limit; ++i) {
      top.emplace_back(project.model.workers().Name(order[i]), workers[order[i]].accuracy);
    }
  }
  metrics_->SetWorkerAccuracyByWorker(name, top);
}

}  // namespace consensusd::engine
