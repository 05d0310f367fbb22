// Inter-annotator agreement: Krippendorff's alpha for nominal data.
//
//   double alpha = KrippendorffAlpha(matrix);   // 1 = perfect agreement, 0 = chance
#ifndef CONSENSUSD_CONSENSUS_AGREEMENT_H_
#define CONSENSUSD_CONSENSUS_AGREEMENT_H_

#include <vector>

#include "consensus/answer_matrix.h"

namespace consensusd::consensus {

// Krippendorff (2004), nominal metric, from the coincidence matrix:
//   alpha = 1 - (n - 1) * sum_u (m_u^2 - sum_c n_uc^2) / (m_u - 1) / (n^2 - sum_c n_c^2)
// over tasks u with m_u >= 2 counted answers (n_uc of class c), n = sum of m_u,
// n_c = answers of class c in those tasks. Answers of excluded workers (flags
// per worker, may be empty) do not count. NaN when there is no pair of answers
// or every answer has the same class (alpha is undefined).
double KrippendorffAlpha(const AnswerMatrix& answers, const std::vector<bool>& excluded = {});

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_AGREEMENT_H_
