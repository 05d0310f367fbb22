// The bookkeeping behind readiness (SPEC 5.3 /readyz, SPEC 8): which owned
// partitions are still restoring, and whether the brokers answer. Pure state,
// no Kafka calls: the ingest loop feeds it what the consumer saw.
//
//   RestoringPartitions restoring;
//   restoring.Assigned(3, /*start=*/120);           // resumes at offset 120
//   restoring.SetEnd(3, /*low=*/0, /*high=*/500);    // the end at assignment
//   if (restoring.Consumed(3, /*next_offset=*/500)) engine.SetPartitionReady(3, true);
#ifndef CONSENSUSD_CONSUMER_READINESS_H_
#define CONSENSUSD_CONSUMER_READINESS_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace consensusd::consumer {

// Owned partitions that are restoring: each from its assignment until the
// consumer's position reaches the partition's high watermark as it was at
// assignment (its end then), or until a fetch reaches the partition's end
// (EOF; this also covers an end that offsets never reach, such as a
// transaction marker), whichever comes first. A partition that starts at its
// end (empty, or resumed there) is ready as soon as its end is known. Once
// ready, a partition stays ready until it is revoked. Not thread-safe.
class RestoringPartitions {
 public:
  // A partition assigned, to be consumed from `start` (-1: from its beginning).
  void Assigned(int32_t partition, int64_t start);
  // The partition's low and high watermarks at assignment. Returns true if it
  // is ready now (its position is already at the end); it then leaves this set.
  bool SetEnd(int32_t partition, int64_t low, int64_t high);
  // The consumer's position moved to `next_offset`. Returns true if the
  // partition became ready (and leaves this set).
  bool Consumed(int32_t partition, int64_t next_offset);
  // A fetch reached the end of the partition. Returns true if it was restoring.
  bool ReachedEnd(int32_t partition);
  // The partition was revoked: no longer tracked.
  void Revoked(int32_t partition);

  bool empty() const { return partitions_.empty(); }
  bool Contains(int32_t partition) const { return partitions_.contains(partition); }
  // Restoring partitions whose end is not known yet (to query).
  std::vector<int32_t> WithoutEnd() const;

 private:
  struct Progress {
    int64_t position = -1;  // next offset to consume; -1 unknown (from the beginning)
    int64_t end = -1;       // high watermark at assignment; -1 unknown
  };
  absl::flat_hash_map<int32_t, Progress> partitions_;
};

// Whether the brokers answer: up after any sign of life (an assignment, a
// message, a successful probe), down at once when librdkafka reports every
// broker down, or after `kFailedProbes` probes in a row failed (a broker
// that hangs rather than refuses). Unknown until the first sign either way.
// Not thread-safe.
class BrokerHealth {
 public:
  enum class State { kUnknown, kUp, kDown };
  static constexpr int kFailedProbes = 2;

  // Each returns true if the state changed.
  bool AllBrokersDown();
  bool Answered();
  bool ProbeFailed();

  State state() const { return state_; }

 private:
  State state_ = State::kUnknown;
  int failed_probes_ = 0;
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_READINESS_H_
