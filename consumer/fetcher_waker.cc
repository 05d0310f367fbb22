#include "consumer/fetcher_waker.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/container/inlined_vector.h"

namespace consensusd::consumer {

FetcherWaker::FetcherWaker(rd_kafka_t* consumer, std::string topic)
    : consumer_(consumer), topic_(std::move(topic)) {
  char value[32];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(consumer_), "queued.min.messages", value, &size) == RD_KAFKA_CONF_OK) {
    gate_messages_ = std::max<int64_t>(1, std::strtoll(value, nullptr, 10));
  }
}

bool FetcherWaker::Wake(absl::Span<const int32_t> lagging) {
  gated_ = false;
  if (lagging.empty()) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now >= leaders_expire_) {
    leaders_expire_ = now + std::chrono::seconds(10);
    leader_of_.clear();
    rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer_, topic_.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(consumer_, 0, topic, &metadata, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int t = 0; t < metadata->topic_cnt; ++t) {
        if (topic_ != metadata->topics[t].topic) continue;
        for (int i = 0; i < metadata->topics[t].partition_cnt; ++i) {
          leader_of_[metadata->topics[t].partitions[i].id] = metadata->topics[t].partitions[i].leader;
        }
      }
      rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_topic_destroy(topic);
  }
  absl::InlinedVector<int32_t, 8> woken;  // broker ids
  for (const int32_t p : lagging) {
    auto leader = leader_of_.find(p);
    const int32_t broker = leader == leader_of_.end() ? -1 - p : leader->second;  // unknown: each its own
    if (std::find(woken.begin(), woken.end(), broker) != woken.end()) continue;
    woken.push_back(broker);
    int64_t low = -1, high = -1;
    rd_kafka_query_watermark_offsets(consumer_, topic_.c_str(), p, &low, &high, /*timeout_ms=*/100);
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace consensusd::consumer
