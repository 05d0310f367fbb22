// Quality reports derived from a fitted Model: per-worker accuracy, confusion,
// gold accuracy, agreement and spam score (SPEC 4.3), per-task review flags.
//
//   std::vector<WorkerReport> workers = ReportWorkers(matrix, model, QualityThresholds{});
//   if (workers[w].flagged) ...
#ifndef CONSENSUSD_CONSENSUS_REPORT_H_
#define CONSENSUSD_CONSENSUS_REPORT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "consensus/aggregate.h"
#include "consensus/answer_matrix.h"

namespace consensusd::consensus {

// When a worker is flagged: after at least min_answers answers, estimated
// accuracy below min_accuracy or spam score above max_spam_score.
struct QualityThresholds {
  int64_t min_answers = 20;
  double min_accuracy = 0.5;
  double max_spam_score = 0.95;
};

// When a task needs review: confidence below min_confidence after at least
// min_answers answers.
struct ReviewThresholds {
  int64_t min_answers = 3;
  double min_confidence = 0.7;
};

struct WorkerReport {
  int64_t answers = 0;
  // P(answer == true class) under the class priors: sum_k prior[k] * confusion[k][k].
  double accuracy = 0;
  int64_t gold_answers = 0;  // answers on tasks with gold
  int64_t gold_correct = 0;  // of those, equal to the gold class
  double agreement = 0;      // fraction of answers equal to the consensus label
  double spam_score = 0;     // 1 - Raykar & Yu (2011) spammer score; 1 = answers ignore the truth
  bool flagged = false;
  bool excluded = false;
};

// Raykar & Yu (2011), "Ranking annotators for crowdsourced labeling tasks":
// S = 1/(K(K-1)) sum_{k<k'} sum_l (A[k][l] - A[k'][l])^2, in [0, 1]; returns 1 - S.
// REQUIRES: confusion is K x K row-major.
double SpamScore(std::span<const double> confusion, int32_t num_classes);

// Accuracy under class priors: sum_k prior[k] * confusion[k][k].
double WorkerAccuracy(std::span<const double> confusion, std::span<const double> class_prior);

// `extra_answers`, if not empty, holds per worker the answers counted
// elsewhere (scale-out): they add to `answers` (and count for flagging); the
// agreement and gold figures are over the local answers.
std::vector<WorkerReport> ReportWorkers(const AnswerMatrix& answers, const Model& model,
                                        const QualityThresholds& thresholds,
                                        const std::vector<bool>& excluded = {},
                                        const std::vector<int64_t>& extra_answers = {});

bool NeedsReview(double confidence, int64_t answers, const ReviewThresholds& thresholds);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_REPORT_H_
