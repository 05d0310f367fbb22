// Engine: the pairwise and rating kinds (SPEC 3.1a): applying their answers
// and retractions, and their views. The categorical path is engine.cc.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "engine/engine.h"
#include "engine/leaderboard_record.h"

namespace consensusd::engine {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

EngineRejection WrongKind(const Project& project, const LabelEvent& e) {
  std::string what = e.kind == LabelEvent::Kind::kGold
                         ? "a gold declaration (categorical projects only)"
                         : absl::StrCat("a ", std::string(ProjectKindName(e.answer_kind)), " answer");
  return {RejectReason::kWrongKind,
          absl::StrCat("project '", project.name, "' is ", std::string(ProjectKindName(project.kind)), ", not ",
                       what, ": send it to a project of that kind")};
}

// The outcome a vote's label names, in the vote's screen coordinates, as
// `aggregate --kind pairwise` reads it: the left item, the right item, then
// left|right|tie.
std::optional<consensus::Outcome> OutcomeOf(const LabelEvent& e) {
  if (e.label == e.left) return consensus::kLeft;
  if (e.label == e.right) return consensus::kRight;
  absl::StatusOr<consensus::Outcome> parsed = consensus::ParseOutcome(e.label);
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

VoteFitSummary FitSummaryOf(const VoteReport& r) {
  VoteFitSummary s;
  s.unix_ms = r.sweep_unix_ms;
  s.seconds = r.sweep_seconds;
  s.tasks = static_cast<int64_t>(r.names.tasks.size());
  if (r.kind == ProjectKind::kPairwise) {
    s.iterations = r.pairwise.iterations;
    s.converged = r.pairwise.converged;
    s.votes = r.comparisons.num_votes();
  } else {
    s.iterations = r.rating.iterations;
    s.converged = r.rating.converged;
    for (const int64_t n : r.rating.task_ratings) s.votes += n;
  }
  return s;
}

// The leaderboard of a pairwise fit: items best first, with their tied groups.
LeaderboardView LeaderboardOf(const std::string& project, const VoteReport& report) {
  LeaderboardView v;
  v.project = project;
  const consensus::PairwiseModel& m = report.pairwise;
  v.fit = FitSummaryOf(report);
  v.tie_nu = m.tie_nu;
  v.bootstrap = report.bootstrap;
  int32_t group = 0;
  double group_low = 0;
  for (const int32_t i : m.order) {
    if (group == 0 || m.score_high[i] < group_low) {
      ++group;
      group_low = m.score_low[i];
    }
    v.items.push_back({.item = report.names.items[i],
                       .score = m.score[i],
                       .low = m.score_low[i],
                       .high = m.score_high[i],
                       .rank = m.rank[i],
                       .tied_group = group,
                       .votes = m.item_votes[i]});
  }
  return v;
}

// The worker's current vote on the task, if any (a scan of the task's votes).
std::optional<VoteSet::Vote> CurrentVote(const VoteSet& votes, int32_t task, int32_t worker) {
  for (const VoteSet::Vote& v : votes.TaskVotes(task)) {
    if (v.worker == worker) return v;
  }
  return std::nullopt;
}

// The leaderboard as of now: the last sweep's (or, before one, none) with the
// scores and votes updated since, then the items first seen since the sweep,
// by score, with an unknown interval, rank 1 and tied group 0 (LiveVoteFit).
// REQUIRES: project.mu held.
LeaderboardView LiveLeaderboard(const Project& project) {
  LeaderboardView v;
  v.project = project.name;
  const VoteSet& votes = project.votes;
  const LiveVoteFit& live = project.live;
  if (project.vote_report != nullptr) {
    v = LeaderboardOf(project.name, *project.vote_report);
    for (LeaderboardItem& i : v.items) {
      const int32_t id = votes.items().Find(i.item);
      i.score = live.Score(id);
      i.votes = live.ItemVotes(id);
      v.updated_since_sweep = v.updated_since_sweep || live.Moved(id);
    }
  } else {
    v.tie_nu = std::exp(live.log_tie_nu());
  }
  const size_t fitted = v.items.size();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (int32_t id = 0; id < votes.items().size(); ++id) {
    if (live.FitItem(id) >= 0 || live.ItemVotes(id) <= 0) continue;
    v.items.push_back({.item = std::string(votes.items().Name(id)), .score = live.Score(id), .low = -kInf, .high = kInf,
                       .rank = 1, .tied_group = 0, .votes = live.ItemVotes(id)});
    v.updated_since_sweep = true;
  }
  std::sort(v.items.begin() + fitted, v.items.end(), [](const LeaderboardItem& a, const LeaderboardItem& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  });
  return v;
}

absl::Status NoProject(std::string_view project) {
  return absl::NotFoundError(absl::StrCat("no project '", Str(project), "'"));
}

}  // namespace

std::optional<EngineRejection> Engine::ApplyOtherKind(IngestBatch& batch, Project& project,
                                                      int32_t partition, const LabelEvent& e,
                                                      bool* categorical) {
  const ProjectKind given = e.answer_kind;  // kUnset for a retraction
  if (project.kind == ProjectKind::kUnset) {
    if (given == ProjectKind::kCategorical) project.kind = ProjectKind::kCategorical;
    if (given == ProjectKind::kCategorical || given == ProjectKind::kUnset) {
      *categorical = true;  // a class answer fixes the kind; a retraction leaves it open
      return std::nullopt;
    }
  } else if (project.kind == ProjectKind::kCategorical ||
             (given != ProjectKind::kUnset && given != project.kind)) {
    return WrongKind(project, e);
  }
  const ProjectKind kind = project.kind == ProjectKind::kUnset ? given : project.kind;
  VoteSet& votes = project.votes;
  const int32_t task = votes.InternTask(e.task);
  const int32_t task_home = votes.TaskPartition(task) >= 0 ? votes.TaskPartition(task) : partition;
  bool counts = false;
  if (e.kind == LabelEvent::Kind::kRetract) {
    const int32_t worker = votes.workers().Find(e.worker);
    const std::optional<VoteSet::Vote> removed = worker >= 0 ? CurrentVote(votes, task, worker) : std::nullopt;
    counts = worker >= 0 && votes.Remove(task, worker);
    if (counts && removed) project.ApplyVoteChange(task, &*removed, nullptr);
    batch.writes_.DeleteVote(task_home, project.name, e.task, e.worker);
  } else if (kind == ProjectKind::kPairwise) {
    const std::optional<consensus::Outcome> outcome = OutcomeOf(e);
    if (!outcome) {
      return EngineRejection{
          RejectReason::kUnknownClass,
          absl::StrCat("label '", Str(e.label), "' is neither left, right, tie nor one of the items '",
                       Str(e.left), "' and '", Str(e.right), "'")};
    }
    const int32_t left = votes.InternItem(e.left), right = votes.InternItem(e.right);
    int32_t a, b;
    if (votes.TaskItems(task, &a, &b) && !((a == left && b == right) || (a == right && b == left))) {
      return EngineRejection{
          RejectReason::kItemMismatch,
          absl::StrCat("task '", Str(e.task), "' compares '", Str(votes.items().Name(a)), "' and '",
                       Str(votes.items().Name(b)), "', not '", Str(e.left), "' and '", Str(e.right),
                       "': send another comparison under another task id")};
    }
    const VoteSet::Vote vote{.worker = votes.InternWorker(e.worker), .left = left, .right = right,
                             .outcome = *outcome};
    const std::optional<VoteSet::Vote> removed = CurrentVote(votes, task, vote.worker);
    votes.Put(task, partition, vote);
    project.ApplyVoteChange(task, removed ? &*removed : nullptr, &vote);
    batch.writes_.PutVote(task_home, project.name, e.task, e.worker,
                          {.pairwise = true, .left = e.left, .right = e.right,
                           .outcome = static_cast<int>(*outcome)});
    counts = true;
  } else {
    if (const auto& scale = project.settings.scale;
        scale && (e.rating < scale->first || e.rating > scale->second)) {
      char text[128];
      std::snprintf(text, sizeof text, "rating %g is outside the scale [%g, %g]", e.rating,
                    scale->first, scale->second);
      return EngineRejection{RejectReason::kOutOfScale,
                             absl::StrCat(text, " of project '", project.name, "'")};
    }
    const VoteSet::Vote vote{.worker = votes.InternWorker(e.worker), .rating = e.rating};
    const std::optional<VoteSet::Vote> removed = CurrentVote(votes, task, vote.worker);
    votes.Put(task, partition, vote);
    project.ApplyVoteChange(task, removed ? &*removed : nullptr, &vote);
    batch.writes_.PutVote(task_home, project.name, e.task, e.worker,
                          {.pairwise = false, .left = {}, .right = {}, .outcome = 0, .rating = e.rating});
    counts = true;
  }
  project.kind = kind;
  if (batch.first_event_ms_ < 0 && e.ts_ms >= 0) batch.first_event_ms_ = e.ts_ms;
  if (counts) ++batch.applied_[&project];
  return std::nullopt;
}

// The consensus record of a fitted task (SPEC 5.2 for these kinds):
//   pairwise {"project","task","kind","left","right","p_left","p_right","p_tie","consensus","votes","updated_ms"}
//   rating   {"project","task","kind","rating","sd","ratings","updated_ms"}
// then a pairwise project's leaderboard snapshot (engine/leaderboard_record.h)
// when its content differs from the one last sent or confirmed.
bool Engine::CollectVoteOutputs(Project& project, size_t max_records, int64_t now, OutputBatch* out) {
  const VoteReport& report = *project.vote_report;
  const bool pairwise = report.kind == ProjectKind::kPairwise;
  // min_change is a probability: for ratings, a share of the scale.
  const double min_change =
      project.settings.min_change * (pairwise ? 1.0 : report.scale_max - report.scale_min);
  std::lock_guard<std::mutex> partitions_lock(partitions_mu_);
  while (!project.vote_pending.empty()) {
    if (out->size() >= max_records) return true;
    const int32_t t = project.vote_pending.back();
    project.vote_pending.pop_back();
    const std::string& name = report.names.tasks[t];
    const int32_t task = project.votes.tasks().Find(name);
    const int32_t partition = project.votes.TaskPartition(task);
    if (task < 0 || project.votes.TaskVotes(task).empty()) continue;  // retracted or released
    if (partition >= 0 && !ready_.contains(partition)) continue;     // SetPartitionReady checks again
    const double value = pairwise ? report.pairwise.posterior[3 * t + consensus::kLeft]
                                  : report.rating.consensus[t];
    auto sent = project.vote_sent.find(name);
    if (sent != project.vote_sent.end() && std::fabs(sent->second - value) < min_change) continue;
    OutputRecord& record = out->Add();
    AppendConsensusKey(project.name, name, record.key);
    std::string& j = record.value;
    j += "{\"project\":";
    AppendJsonString(j, project.name);
    j += ",\"task\":";
    AppendJsonString(j, name);
    if (pairwise) {
      const double* p = &report.pairwise.posterior[3 * static_cast<size_t>(t)];
      j += ",\"kind\":\"pairwise\",\"left\":";
      AppendJsonString(j, report.names.items[report.comparisons.left[t]]);
      j += ",\"right\":";
      AppendJsonString(j, report.names.items[report.comparisons.right[t]]);
      j += ",\"p_left\":";
      AppendProbability(j, p[consensus::kLeft]);
      j += ",\"p_right\":";
      AppendProbability(j, p[consensus::kRight]);
      j += ",\"p_tie\":";
      AppendProbability(j, p[consensus::kTie]);
      j += ",\"consensus\":";
      AppendJsonString(j, consensus::OutcomeName(report.pairwise.consensus[t]));
    } else {
      j += ",\"kind\":\"rating\",\"rating\":";
      AppendProbability(j, report.rating.consensus[t]);
      j += ",\"sd\":";
      AppendProbability(j, report.rating.consensus_sd[t]);
    }
    absl::StrAppend(&j, pairwise ? ",\"votes\":" : ",\"ratings\":",
                    static_cast<int64_t>(project.votes.TaskVotes(task).size()), ",\"updated_ms\":", now, "}");
    record.ticket = {.project = &project, .topic = OutputRecord::Topic::kConsensus, .task = task,
                     .confidence = value, .vote = true};
    project.vote_sent[name] = value;
  }
  if (!project.leaderboard_pending) return false;
  if (out->size() >= max_records) return true;
  project.leaderboard_pending = false;
  // It sums over every partition held here: not while one of them restores
  // (SetPartitionReady marks it pending again).
  for (const int32_t partition : loaded_) {
    if (!ready_.contains(partition)) return false;
  }
  if (!pairwise) return false;
  const LeaderboardView board = LeaderboardOf(project.name, report);
  std::string body;
  AppendLeaderboardBody(board, body);
  const uint64_t fingerprint = ContentFingerprint(body);
  if (project.leaderboard_sent == fingerprint) return false;
  OutputRecord& record = out->Add();
  AppendLeaderboardKey(project.name, record.key);
  AppendLeaderboardRecord(board, body, now, record.value);
  record.ticket = {.project = &project, .topic = OutputRecord::Topic::kConsensus, .vote = true,
                   .leaderboard = true, .fingerprint = fingerprint};
  project.leaderboard_sent = fingerprint;
  return false;
}

void Engine::OnVoteDelivered(const OutputRecord::Ticket& ticket, bool delivered) {
  Project& project = *ticket.project;
  std::lock_guard<std::mutex> lock(project.mu);
  if (ticket.leaderboard) {
    if (delivered) {  // stored by the next Commit (TakeConfirmed), restored as leaderboard_sent
      project.leaderboard_confirmed = ticket.fingerprint;
    } else {  // sent again, as the last sweep has it then
      project.leaderboard_sent.reset();
      project.leaderboard_pending = project.vote_report != nullptr;
    }
    return;
  }
  const std::string name(project.votes.tasks().Name(ticket.task));
  if (delivered) {  // stored by the next Commit (TakeConfirmed), restored as vote_sent
    project.vote_confirmed[name] = ticket.confidence;
    return;
  }
  project.vote_sent.erase(name);  // sent again with whatever the task holds then
  if (project.vote_report != nullptr) {
    auto it = project.vote_report->task_index.find(name);
    if (it != project.vote_report->task_index.end()) project.vote_pending.push_back(it->second);
  }
}

bool Engine::IsVoteKind(const Project& project) {
  std::lock_guard<std::mutex> lock(project.mu);
  return project.kind == ProjectKind::kPairwise || project.kind == ProjectKind::kRating;
}

absl::StatusOr<Engine::ExclusionResult> Engine::SetVoteExcluded(Project& project,
                                                                std::string_view worker_name,
                                                                bool excluded) {
  bool changed = false;
  ExclusionResult result;
  {
    // Held across the write: the stored flag and the vote set change together.
    std::lock_guard<std::mutex> lock(project.mu);
    const int32_t worker = project.votes.workers().Find(worker_name);
    if (worker < 0) {
      return absl::NotFoundError(absl::StrCat("no worker '", Str(worker_name), "' in project '",
                                              project.name, "'"));
    }
    if (project.votes.Excluded(worker) != excluded) {
      storage::StateBatch batch;
      batch.SetExcluded(project.name, worker_name, excluded);
      if (absl::Status s = store_.Commit(batch); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("could not store the exclusion: ", s.message()));
      }
      changed = project.votes.SetExcluded(worker, excluded);
    }
    result.worker.worker = Str(worker_name);
    result.worker.project = project.name;
    result.worker.excluded = excluded;
    result.worker.answers = project.votes.CountVotesOf(worker);
  }
  result.changed = changed;
  if (changed) {
    if (absl::Status s = sweeper_.SweepProject(project, /*force=*/true); !s.ok()) return s;
  }
  return result;
}

ProjectKind Engine::KindOf(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return ProjectKind::kUnset;
  std::lock_guard<std::mutex> lock(project->mu);
  return project->kind;
}

absl::StatusOr<LeaderboardView> Engine::Leaderboard(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  {
    std::lock_guard<std::mutex> lock(project->mu);
    if (project->kind != ProjectKind::kPairwise) {
      return absl::FailedPreconditionError(absl::StrCat(
          "project '", project->name, "' is ",
          project->kind == ProjectKind::kUnset ? "of no kind yet" : std::string(ProjectKindName(project->kind)),
          ": leaderboards are for pairwise projects"));
    }
    return LiveLeaderboard(*project);
  }
}

absl::StatusOr<RatersView> Engine::Raters(std::string_view name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return NoProject(name);
  std::shared_ptr<const VoteReport> report;
  RatersView v;
  {
    std::lock_guard<std::mutex> lock(project->mu);
    if (project->kind != ProjectKind::kPairwise && project->kind != ProjectKind::kRating) {
      return absl::FailedPreconditionError(absl::StrCat(
          "project '", project->name, "' is ",
          project->kind == ProjectKind::kUnset ? "of no kind yet" : std::string(ProjectKindName(project->kind)),
          ": raters are for pairwise and rating projects (see .../workers for categorical ones)"));
    }
    v.kind = project->kind;
    report = project->vote_report;
  }
  v.project = project->name;
  if (report == nullptr) return v;
  v.fit = FitSummaryOf(*report);
  const std::vector<std::string>& workers = report->names.workers;
  std::vector<int32_t> order(workers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return workers[a] < workers[b]; });
  std::vector<int64_t> live_votes(order.size());  // votes since the sweep included
  {
    std::lock_guard<std::mutex> lock(project->mu);
    for (size_t r = 0; r < workers.size(); ++r) {
      live_votes[r] = project->live.WorkerVotes(project->votes.workers().Find(workers[r]));
    }
  }
  for (const int32_t r : order) {
    RaterRow row;
    row.worker = workers[r];
    if (report->kind == ProjectKind::kPairwise) {
      const consensus::PairwiseModel& m = report->pairwise;
      row.votes = live_votes[r];
      row.reliability = m.reliability[r];
      row.careful_log_odds = m.careful_log_odds[r];
      row.position_bias = m.position_bias[r];
      row.careless = m.careless[r] != 0;
    } else {
      const consensus::RatingModel& m = report->rating;
      row.votes = live_votes[r];
      row.bias = m.bias[r];
      row.noise_sd = m.noise_sd[r];
    }
    v.raters.push_back(std::move(row));
  }
  {
    std::lock_guard<std::mutex> lock(project->mu);
    const VoteSet& votes = project->votes;
    std::vector<RaterRow> excluded;
    for (int32_t w = 0; w < votes.workers().size(); ++w) {
      if (!votes.Excluded(w)) continue;
      const int64_t n = votes.CountVotesOf(w);
      if (n > 0) excluded.push_back({.worker = std::string(votes.workers().Name(w)), .votes = n, .excluded = true});
    }
    std::sort(excluded.begin(), excluded.end(),
              [](const RaterRow& a, const RaterRow& b) { return a.worker < b.worker; });
    for (RaterRow& r : excluded) v.raters.push_back(std::move(r));
  }
  return v;
}

std::optional<VoteTaskView> Engine::VoteTask(std::string_view name, std::string_view task_name) const {
  Project* project = projects_.Find(name);
  if (project == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(project->mu);
  if (project->kind != ProjectKind::kPairwise && project->kind != ProjectKind::kRating) {
    return std::nullopt;
  }
  const VoteSet& votes = project->votes;
  const int32_t task = votes.tasks().Find(task_name);
  const VoteReport* report = project->vote_report.get();
  int32_t t = -1;  // the task's id in the last fit
  if (report != nullptr) {
    auto it = report->task_index.find(Str(task_name));
    if (it != report->task_index.end()) t = it->second;
  }
  const bool in_fit = t >= 0;
  if ((task < 0 || votes.TaskVotes(task).empty()) && !in_fit) return std::nullopt;
  VoteTaskView v;
  v.project = project->name;
  v.task = Str(task_name);
  v.kind = project->kind;
  if (task >= 0) {
    for (const VoteSet::Vote& vote : votes.TaskVotes(task)) {
      VoteTaskAnswer a;
      a.worker = votes.workers().Name(vote.worker);
      a.excluded = votes.Excluded(vote.worker);
      if (project->kind == ProjectKind::kPairwise) {
        a.left = votes.items().Name(vote.left);
        a.right = votes.items().Name(vote.right);
        a.label = Str(consensus::OutcomeName(vote.outcome));
      } else {
        a.rating = vote.rating;
      }
      v.answers.push_back(std::move(a));
    }
    std::sort(v.answers.begin(), v.answers.end(),
              [](const VoteTaskAnswer& a, const VoteTaskAnswer& b) { return a.worker < b.worker; });
  }
  const LiveVoteFit& live = project->live;
  if (project->kind == ProjectKind::kPairwise) {
    // The items as the fit has them, or as the first vote in worker order shows them.
    int32_t left, right;
    if (in_fit) {
      left = votes.items().Find(report->names.items[report->comparisons.left[t]]);
      right = votes.items().Find(report->names.items[report->comparisons.right[t]]);
    } else if (!v.answers.empty()) {
      left = votes.items().Find(v.answers[0].left);
      right = votes.items().Find(v.answers[0].right);
    } else {
      return v;
    }
    double q[consensus::kOutcomes];
    v.updated_since_sweep = live.Moved(left) || live.Moved(right) || !in_fit;
    if (v.updated_since_sweep) {
      live.Posterior(left, right, q);
    } else {
      std::copy_n(&report->pairwise.posterior[3 * static_cast<size_t>(t)], consensus::kOutcomes, q);
    }
    v.fitted = true;
    v.left = votes.items().Name(left);
    v.right = votes.items().Name(right);
    v.p_left = q[consensus::kLeft];
    v.p_right = q[consensus::kRight];
    v.p_tie = q[consensus::kTie];
    v.consensus = Str(consensus::OutcomeName(static_cast<consensus::Outcome>(std::max_element(q, q + 3) - q)));
  } else {
    bool moved = false;
    if (!live.TaskRating(task, &v.rating, &v.sd, &moved)) return v;
    v.fitted = true;
    v.updated_since_sweep = moved || !in_fit;
  }
  return v;
}

}  // namespace consensusd::engine
