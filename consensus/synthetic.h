// Synthetic answers drawn from a Dawid-Skene model with known truth, for tests,
// benchmarks, the demo and `consensusd synth`.
//
//   SyntheticData d = Synthesize({.tasks = 1000, .workers = 50, .classes = 3});
//   d.answers, d.truth[t], d.confusion[(w * K + k) * K + l]
#ifndef CONSENSUSD_CONSENSUS_SYNTHETIC_H_
#define CONSENSUSD_CONSENSUS_SYNTHETIC_H_

#include <cstdint>
#include <vector>

#include "consensus/answer_matrix.h"

namespace consensusd::consensus {

struct SyntheticOptions {
  int32_t tasks = 1000;
  int32_t workers = 100;
  int32_t classes = 4;
  int32_t answers_per_task = 5;  // distinct workers per task (capped at workers)
  uint64_t seed = 1;
};

// Workers are a mix of reliable annotators (most of them, diagonal 0.6-0.95),
// spammers (answers independent of the truth) and biased annotators (favour
// one class); class priors are uneven. Same options, same data, on every run.
struct SyntheticData {
  AnswerMatrix answers;             // ids 0..n-1; no gold; no duplicates
  std::vector<int32_t> truth;       // per task
  std::vector<double> class_prior;  // K
  std::vector<double> confusion;    // workers x K x K, rows sum to 1
};

SyntheticData Synthesize(const SyntheticOptions& options);

// The accuracy of the posterior argmax under the TRUE class prior and
// confusion matrices (ties to the lower class id): what no method can beat in
// expectation, the reference for the recovery figures in docs/accuracy.md.
double BayesOptimalAccuracy(const SyntheticData& data);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_SYNTHETIC_H_
