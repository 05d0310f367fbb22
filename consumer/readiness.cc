#include "consumer/readiness.h"

#include <algorithm>

namespace consensusd::consumer {

void RestoringPartitions::Assigned(int32_t partition, int64_t start) {
  partitions_[partition] = Progress{.position = start, .end = -1};
}

bool RestoringPartitions::SetEnd(int32_t partition, int64_t low, int64_t high) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return false;
  Progress& p = it->second;
  p.end = high;
  p.position = std::max(p.position, low);  // offsets below low are gone
  if (p.position < p.end) return false;
  partitions_.erase(it);
  return true;
}

bool RestoringPartitions::Consumed(int32_t partition, int64_t next_offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return false;
  Progress& p = it->second;
  p.position = std::max(p.position, next_offset);
  if (p.end < 0 || p.position < p.end) return false;
  partitions_.erase(it);
  return true;
}

bool RestoringPartitions::ReachedEnd(int32_t partition) { return partitions_.erase(partition) > 0; }

void RestoringPartitions::Revoked(int32_t partition) { partitions_.erase(partition); }

std::vector<int32_t> RestoringPartitions::WithoutEnd() const {
  std::vector<int32_t> out;
  for (const auto& [partition, p] : partitions_) {
    if (p.end < 0) out.push_back(partition);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool BrokerHealth::AllBrokersDown() {
  failed_probes_ = kFailedProbes;
  const bool changed = state_ != State::kDown;
  state_ = State::kDown;
  return changed;
}

bool BrokerHealth::Answered() {
  failed_probes_ = 0;
  const bool changed = state_ != State::kUp;
  state_ = State::kUp;
  return changed;
}

bool BrokerHealth::ProbeFailed() {
  if (++failed_probes_ < kFailedProbes) return false;
  const bool changed = state_ != State::kDown;
  state_ = State::kDown;
  return changed;
}

}  // namespace consensusd::consumer
