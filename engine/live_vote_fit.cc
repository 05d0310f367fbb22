#include "engine/live_vote_fit.h"

#include <algorithm>
#include <cmath>

#include "consensus/pairwise.h"
#include "consensus/rating.h"
#include "engine/project.h"

namespace consensusd::engine {
namespace {

const consensus::PairwiseOptions kPairwise;  // the priors of a sweep's fit
const consensus::RatingOptions kRating;
const double kScorePrecision = 1 / (kPairwise.score_prior_sd * kPairwise.score_prior_sd);

}  // namespace

LiveVoteFit::Item& LiveVoteFit::ItemAt(int32_t item) {
  if (item >= static_cast<int32_t>(items_.size())) {
    items_.resize(item + 1, Item{.curvature = kScorePrecision});
  }
  return items_[item];
}

LiveVoteFit::Worker& LiveVoteFit::WorkerAt(int32_t worker) {
  if (worker >= static_cast<int32_t>(workers_.size())) {
    const double eta = kPairwise.careful_pseudo_votes /
                       (kPairwise.careful_pseudo_votes + kPairwise.careless_pseudo_votes);
    workers_.resize(worker + 1, Worker{.reliability = eta,
                                       .precision = 1 / (kRating.noise_prior_sd * kRating.noise_prior_sd),
                                       .careless = {1.0 / 3, 1.0 / 3, 1.0 / 3}});
  }
  return workers_[worker];
}

LiveVoteFit::Task& LiveVoteFit::TaskAt(int32_t task) {
  if (task >= static_cast<int32_t>(tasks_.size())) {
    tasks_.resize(task + 1, Task{.mean = prior_mean_, .precision = 1 / prior_var_});
  }
  return tasks_[task];
}

void LiveVoteFit::Reset(const VoteReport* report, const VoteSet& votes) {
  items_.clear();
  workers_.clear();
  tasks_.clear();
  swept_ = report != nullptr;
  if (report == nullptr) return;
  if (report->kind == ProjectKind::kPairwise) {
    const consensus::PairwiseModel& m = report->pairwise;
    log_nu_ = m.log_tie_nu;
    for (int32_t i = 0; i < static_cast<int32_t>(report->names.items.size()); ++i) {
      const int32_t id = votes.items().Find(report->names.items[i]);
      if (id < 0 || i >= static_cast<int32_t>(m.score.size())) continue;
      Item& item = ItemAt(id);
      item = {.fit = i, .score = m.score[i], .curvature = m.score_curvature[i], .votes = m.item_votes[i]};
    }
    for (int32_t r = 0; r < static_cast<int32_t>(report->names.workers.size()); ++r) {
      const int32_t id = votes.workers().Find(report->names.workers[r]);
      if (id < 0 || r >= static_cast<int32_t>(m.reliability.size())) continue;
      Worker& w = WorkerAt(id);
      w.reliability = m.reliability[r];
      w.bias = m.position_bias[r];
      for (int y = 0; y < consensus::kOutcomes; ++y) w.careless[y] = m.careless_answers[size_t(r) * 3 + y];
      w.votes = m.rater_votes[r];
    }
    return;
  }
  const consensus::RatingModel& m = report->rating;
  prior_mean_ = m.prior_mean;
  prior_var_ = m.prior_var;
  scale_min_ = report->scale_min;
  scale_max_ = report->scale_max;
  for (int32_t t = 0; t < static_cast<int32_t>(report->names.tasks.size()); ++t) {
    const int32_t id = votes.tasks().Find(report->names.tasks[t]);
    if (id < 0 || t >= static_cast<int32_t>(m.consensus.size())) continue;
    Task& task = TaskAt(id);
    const double sd = m.consensus_sd[t];
    task = {.mean = m.consensus[t], .precision = 1 / (sd * sd), .fitted = true,
            .fit_rating = m.consensus[t], .fit_sd = sd};
  }
  for (int32_t r = 0; r < static_cast<int32_t>(report->names.workers.size()); ++r) {
    const int32_t id = votes.workers().Find(report->names.workers[r]);
    if (id < 0 || r >= static_cast<int32_t>(m.bias.size())) continue;
    Worker& w = WorkerAt(id);
    w.bias = m.bias[r];
    w.precision = m.precision[r];
    w.votes = m.rater_ratings[r];
  }
}

void LiveVoteFit::Apply(int32_t task, const VoteSet::Vote* removed, const VoteSet::Vote* added,
                        const VoteSet& votes) {
  if (removed != nullptr && !votes.Excluded(removed->worker)) {
    if (removed->left >= 0) ApplyPairwise(*removed, -1);
    else ApplyRating(task, *removed, -1);
  }
  if (added != nullptr && !votes.Excluded(added->worker)) {
    if (added->left >= 0) ApplyPairwise(*added, 1);
    else ApplyRating(task, *added, 1);
  }
}

// The vote's E-step at the fitted parameters, then its gradient and
// curvature terms on its two items (see the top of the header).
void LiveVoteFit::ApplyPairwise(const VoteSet::Vote& vote, double sign) {
  ItemAt(std::max(vote.left, vote.right));
  const Worker& rater = WorkerAt(vote.worker);
  Item& left = items_[vote.left];
  Item& right = items_[vote.right];
  const consensus::Outcome y = vote.outcome;
  double p[consensus::kOutcomes], likelihood, gradient, curvature;
  consensus::Davidson(left.score - right.score + rater.bias, std::exp(log_tie_nu()), p);
  const double careful = consensus::CarefulPosterior(p[y], rater.reliability, rater.careless[y], &likelihood);
  consensus::DavidsonScoreTerms(careful, y, p, &gradient, &curvature);
  left.gradient += sign * gradient;
  right.gradient -= sign * gradient;
  left.added_curvature += sign * curvature;
  right.added_curvature += sign * curvature;
  left.votes += static_cast<int64_t>(sign);
  right.votes += static_cast<int64_t>(sign);
  workers_[vote.worker].votes += static_cast<int64_t>(sign);
  ties_ += y == consensus::kTie ? static_cast<int64_t>(sign) : 0;
  votes_ += static_cast<int64_t>(sign);
}

void LiveVoteFit::ApplyRating(int32_t task, const VoteSet::Vote& vote, double sign) {
  Worker& rater = WorkerAt(vote.worker);
  rater.votes += static_cast<int64_t>(sign);
  Task& t = TaskAt(task);
  consensus::AddRatingTerm(vote.rating, rater.bias, rater.precision, sign, &t.weighted, &t.added_precision);
}

double LiveVoteFit::Score(int32_t item) const {
  if (item < 0 || item >= static_cast<int32_t>(items_.size())) return 0;
  const Item& i = items_[item];
  if (!Moved(item)) return i.score;
  return i.score + i.gradient / std::max(i.curvature + i.added_curvature, kScorePrecision);
}

bool LiveVoteFit::Moved(int32_t item) const {
  if (item < 0 || item >= static_cast<int32_t>(items_.size())) return false;
  return items_[item].gradient != 0 || items_[item].added_curvature != 0;
}

int64_t LiveVoteFit::ItemVotes(int32_t item) const {
  return item >= 0 && item < static_cast<int32_t>(items_.size()) ? items_[item].votes : 0;
}

int32_t LiveVoteFit::FitItem(int32_t item) const {
  return item >= 0 && item < static_cast<int32_t>(items_.size()) ? items_[item].fit : -1;
}

double LiveVoteFit::log_tie_nu() const {
  return swept_ ? log_nu_ : consensus::StartLogTieNu(ties_, votes_);
}

void LiveVoteFit::Posterior(int32_t left, int32_t right, double q[3]) const {
  consensus::ComparisonPosterior(Score(left) - Score(right), log_tie_nu(), q);
}

bool LiveVoteFit::TaskRating(int32_t task, double* rating, double* sd, bool* moved) const {
  if (!swept_) return false;
  Task t{.mean = prior_mean_, .precision = 1 / prior_var_};
  if (task >= 0 && task < static_cast<int32_t>(tasks_.size())) t = tasks_[task];
  *moved = t.weighted != 0 || t.added_precision != 0;
  if (!*moved && t.fitted) {
    *rating = t.fit_rating;
    *sd = t.fit_sd;
    return true;
  }
  const double precision = std::max(t.precision + t.added_precision, 1 / prior_var_);
  *rating = std::clamp((t.mean * t.precision + t.weighted) / precision, scale_min_, scale_max_);
  *sd = 1 / std::sqrt(precision);
  return true;
}

int64_t LiveVoteFit::WorkerVotes(int32_t worker) const {
  return worker >= 0 && worker < static_cast<int32_t>(workers_.size()) ? workers_[worker].votes : 0;
}

}  // namespace consensusd::engine
