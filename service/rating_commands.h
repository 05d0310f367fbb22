// The rating kind of `consensusd aggregate` and `consensusd synth`
// (`--kind rating`): a consensus rating per task with its uncertainty and
// each rater's bias and noise from a task,worker,rating CSV, and synthetic
// ratings with known truth.
#ifndef CONSENSUSD_SERVICE_RATING_COMMANDS_H_
#define CONSENSUSD_SERVICE_RATING_COMMANDS_H_

#include <string>

#include "consensus/rating.h"

namespace consensusd::service {

struct RatingAggregateFlags {
  std::string labels;       // task,worker,rating CSV (header optional)
  std::string truth;        // task,rating: prints the mean absolute error against it
  std::string scale;        // "MIN..MAX"; empty: the smallest and largest rating
  std::string out;          // task,rating,sd,ratings
  std::string workers_out;  // worker,ratings,bias,noise_sd
  consensus::RatingOptions options;
};

int RunRatingAggregate(const RatingAggregateFlags& f);

// Writes DIR/labels.csv (task,worker,rating), DIR/truth.csv (task,rating)
// and DIR/workers.csv (worker,bias,noise_sd,careless).
int RunRatingSynth(const consensus::RatingSyntheticOptions& options, const std::string& out);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_RATING_COMMANDS_H_
