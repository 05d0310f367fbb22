// Synthetic pairwise preferences with known truth, for tests, benchmarks and
// `consensusd synth --kind pairwise`.
//
//   PairwiseSynthetic d = SynthesizePairwise({.items = 50, .raters = 100});
//   d.comparisons, d.true_score[item], d.rater_kind[rater]
//
// True item scores are standard normal. A task shows two distinct random items
// in a random order to `votes_per_task` distinct raters. A careful rater
// answers from Davidson's model on the score difference as shown, plus the
// rater's position bias (logits added to the left item: 0 for most careful
// raters, +-0.5 to 1.5 for `position_biased_share` of them); a careless rater
// answers left or right with equal odds, and tie with the model's tie rate at
// a difference of 0. Same options, same data, on every run.
#ifndef CONSENSUSD_CONSENSUS_PAIRWISE_SYNTHETIC_H_
#define CONSENSUSD_CONSENSUS_PAIRWISE_SYNTHETIC_H_

#include <cstdint>
#include <vector>

#include "consensus/pairwise.h"

namespace consensusd::consensus {

struct PairwiseSyntheticOptions {
  int32_t items = 50;
  int32_t raters = 100;
  int32_t tasks = 20000;
  int32_t votes_per_task = 1;
  double careless_share = 0.2;
  double position_biased_share = 0.2;  // of the careful raters
  double tie_nu = 0.3;                  // Davidson's nu of the truth
  uint64_t seed = 1;
};

enum class RaterKind : int8_t { kCareful, kPositionBiased, kCareless };

struct PairwiseSynthetic {
  Comparisons comparisons;
  std::vector<double> true_score;          // per item
  std::vector<RaterKind> rater_kind;       // per rater
  std::vector<double> rater_bias;          // per rater, logits towards the left item
  std::vector<Outcome> true_outcome;       // per task: the most likely outcome, task coordinates
};

PairwiseSynthetic SynthesizePairwise(const PairwiseSyntheticOptions& options);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_PAIRWISE_SYNTHETIC_H_
