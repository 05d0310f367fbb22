// Sweeper::SweepVotes: the full refit of a pairwise or rating project.
#include <algorithm>
#include <chrono>
#include <limits>

#include "engine/consensus_record.h"
#include "engine/sweeper.h"
#include "spdlog/spdlog.h"

namespace consensusd::engine {

absl::Status Sweeper::SweepVotes(Project& project, bool force) {
  std::lock_guard<std::mutex> sweep_lock(sweep_mu_);
  auto report = std::make_shared<VoteReport>();
  consensus::Ratings ratings;
  uint64_t version;
  {
    std::lock_guard<std::mutex> lock(project.mu);
    version = project.votes.version();
    auto it = swept_version_.find(&project);
    if (!force && it != swept_version_.end() && it->second == version && project.vote_report) {
      return absl::OkStatus();
    }
    report->kind = project.kind;
    project.vote_changes.clear();  // those of a failed sweep are in this copy
    project.sweep_copying = true;
    if (report->kind == ProjectKind::kPairwise) {
      report->comparisons = project.votes.CanonicalComparisons(&report->names);
    } else {
      ratings = project.votes.CanonicalRatings(&report->names);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  int iterations = 0;
  int64_t flagged = 0, votes = 0;
  if (report->kind == ProjectKind::kPairwise) {
    votes = report->comparisons.num_votes();
    if (votes > 0) {
      // The batch defaults but the project's bootstrap replicates: a sweep
      // equals `aggregate --kind pairwise --bootstrap <replicates>`.
      consensus::PairwiseOptions options;
      options.bootstrap = project.settings.bootstrap;
      absl::StatusOr<consensus::PairwiseModel> m = consensus::FitPairwise(report->comparisons, options);
      if (!m.ok()) return m.status();
      report->pairwise = *std::move(m);
      report->bootstrap = options.bootstrap;
      iterations = report->pairwise.iterations;
      for (const uint8_t c : report->pairwise.careless) flagged += c;
    }
  } else {
    votes = ratings.size();
    if (votes > 0) {
      if (project.settings.scale) {
        ratings.scale_min = project.settings.scale->first;
        ratings.scale_max = project.settings.scale->second;
      } else {  // as `aggregate --kind rating` without --scale
        ratings.scale_min = *std::min_element(ratings.value.begin(), ratings.value.end());
        ratings.scale_max =
            std::max(ratings.scale_min + 1, *std::max_element(ratings.value.begin(), ratings.value.end()));
      }
      absl::StatusOr<consensus::RatingModel> m = consensus::FitRatings(ratings, consensus::RatingOptions{});
      if (!m.ok()) return m.status();
      report->rating = *std::move(m);
      iterations = report->rating.iterations;
    }
    report->scale_min = ratings.scale_min;
    report->scale_max = ratings.scale_max;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int32_t t = 0; t < static_cast<int32_t>(report->names.tasks.size()); ++t) {
    report->task_index.emplace(report->names.tasks[t], t);
  }
  report->sweep_unix_ms = NowMs();
  report->sweep_seconds = seconds;
  auto summary = std::make_shared<ProjectReport>();
  summary->iterations = iterations;
  summary->sweep_seconds = seconds;
  summary->sweep_unix_ms = report->sweep_unix_ms;
  summary->tasks = static_cast<int64_t>(report->names.tasks.size());
  summary->answers = votes;
  summary->workers_flagged = flagged;
  summary->krippendorff_alpha = std::numeric_limits<double>::quiet_NaN();
  const int64_t tasks = summary->tasks, workers = static_cast<int64_t>(report->names.workers.size());
  {
    std::lock_guard<std::mutex> lock(project.mu);
    // Every fitted task is checked for a changed consensus record.
    project.vote_pending.resize(report->names.tasks.size());
    for (size_t t = 0; t < project.vote_pending.size(); ++t) project.vote_pending[t] = static_cast<int32_t>(t);
    project.leaderboard_pending = report->kind == ProjectKind::kPairwise;  // sent if it changed
    project.InstallVoteFit(std::move(report));
    project.report = summary;
    swept_version_[&project] = version;
  }
  if (metrics_ != nullptr) {
    metrics_->EmSweeps(project.name).Increment();
    metrics_->EmSweepDuration(project.name).Observe(seconds);
    metrics_->Tasks(project.name).Set(static_cast<double>(tasks));
    metrics_->Workers(project.name).Set(static_cast<double>(workers));
    metrics_->WorkersFlagged(project.name).Set(static_cast<double>(flagged));
  }
  spdlog::debug("sweep {}: {} votes, {} iterations, {:.3f}s", project.name, votes, iterations, seconds);
  return absl::OkStatus();
}

}  // namespace consensusd::engine
