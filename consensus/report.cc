#include "consensus/report.h"

namespace consensusd::consensus {

double SpamScore(std::span<const double> confusion, int32_t num_classes) {
  const int K = num_classes;
  if (K < 2) return 0.0;
  double s = 0;
  for (int k = 0; k < K; ++k) {
    for (int k2 = k + 1; k2 < K; ++k2) {
      for (int l = 0; l < K; ++l) {
        const double d = confusion[k * K + l] - confusion[k2 * K + l];
        s += d * d;
      }
    }
  }
  return 1.0 - s / (static_cast<double>(K) * (K - 1));
}

double WorkerAccuracy(std::span<const double> confusion, std::span<const double> class_prior) {
  const size_t K = class_prior.size();
  double acc = 0;
  for (size_t k = 0; k < K; ++k) acc += class_prior[k] * confusion[k * K + k];
  return acc;
}

std::vector<WorkerReport> ReportWorkers(const AnswerMatrix& m, const Model& model,
                                        const QualityThresholds& thresholds,
                                        const std::vector<bool>& excluded,
                                        const std::vector<int64_t>& extra_answers) {
  std::vector<WorkerReport> out(m.num_workers);
  std::vector<int64_t> agree(m.num_workers, 0);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    const int32_t gold = m.gold[t];
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      WorkerReport& r = out[m.worker[a]];
      ++r.answers;
      agree[m.worker[a]] += m.label[a] == model.label[t];
      if (gold != kNoGold) {
        ++r.gold_answers;
        r.gold_correct += m.label[a] == gold;
      }
    }
  }
  for (int32_t w = 0; w < m.num_workers; ++w) {
    WorkerReport& r = out[w];
    r.accuracy = WorkerAccuracy(model.Confusion(w), model.class_prior);
    r.spam_score = SpamScore(model.Confusion(w), model.num_classes);
    r.agreement = r.answers > 0 ? static_cast<double>(agree[w]) / r.answers : 0.0;
    if (w < static_cast<int32_t>(extra_answers.size())) r.answers += extra_answers[w];
    r.excluded = w < static_cast<int32_t>(excluded.size()) && excluded[w];
    r.flagged = r.answers >= thresholds.min_answers &&
                (r.accuracy < thresholds.min_accuracy || r.spam_score > thresholds.max_spam_score);
  }
  return out;
}

bool NeedsReview(double confidence, int64_t answers, const ReviewThresholds& thresholds) {
  return answers >= thresholds.min_answers && confidence < thresholds.min_confidence;
}

}  // namespace consensusd::consensus
