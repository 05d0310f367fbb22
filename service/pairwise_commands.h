// The pairwise kind of `consensusd aggregate` and `consensusd synth`
// (`--kind pairwise`): Bradley-Terry-Davidson scores, rater quality and
// per-comparison consensus from a votes CSV, and synthetic votes with known
// item scores, careless and position-biased raters.
#ifndef CONSENSUSD_SERVICE_PAIRWISE_COMMANDS_H_
#define CONSENSUSD_SERVICE_PAIRWISE_COMMANDS_H_

#include <string>

#include "consensus/pairwise.h"
#include "consensus/pairwise_synthetic.h"

namespace consensusd::service {

struct PairwiseAggregateFlags {
  std::string labels;           // votes CSV (service/pairwise_file.h)
  std::string truth;            // item,score: prints Spearman's rho against it
  std::string out;              // leaderboard CSV
  std::string workers_out;      // raters CSV
  std::string comparisons_out;  // per-comparison consensus CSV
  consensus::PairwiseOptions options;
};

int RunPairwiseAggregate(const PairwiseAggregateFlags& f);

// Writes DIR/labels.csv (task,worker,left,right,label), DIR/truth.csv
// (item,score) and DIR/workers.csv (worker,kind,position_bias).
int RunPairwiseSynth(const consensus::PairwiseSyntheticOptions& options, const std::string& out);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_PAIRWISE_COMMANDS_H_
