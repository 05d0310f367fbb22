#include "consensus/agreement.h"

#include <cmath>
#include <limits>

namespace consensusd::consensus {

double KrippendorffAlpha(const AnswerMatrix& m, const std::vector<bool>& excluded) {
  const int K = m.num_classes;
  std::vector<double> class_total(K, 0.0);
  std::vector<int64_t> in_task(K, 0);
  double n = 0, disagreement = 0;
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    int64_t mu = 0;
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      const int32_t w = m.worker[a];
      if (w < static_cast<int32_t>(excluded.size()) && excluded[w]) continue;
      ++in_task[m.label[a]];
      ++mu;
    }
    if (mu >= 2) {
      double same = 0;
      for (int c = 0; c < K; ++c) {
        same += static_cast<double>(in_task[c]) * in_task[c];
        class_total[c] += static_cast<double>(in_task[c]);
      }
      disagreement += (static_cast<double>(mu) * mu - same) / (mu - 1);
      n += static_cast<double>(mu);
    }
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) in_task[m.label[a]] = 0;
  }
  double expected = n * n;
  for (int c = 0; c < K; ++c) expected -= class_total[c] * class_total[c];
  if (n < 2 || expected <= 0) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 - (n - 1) * disagreement / expected;
}

}  // namespace consensusd::consensus
