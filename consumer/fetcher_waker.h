// FetcherWaker: works around librdkafka 2.0's fetch gate for one consumer and
// one topic. librdkafka fetches a partition only while the consumer's queue
// holds fewer than queued.min.messages (with a group or poll_set_consumer the
// partitions share one queue, so it is the total); at the gate it sends no
// fetch, and the broker thread looks again only when something wakes it
// (network activity on its connection, an operation for it, or its
// one-second timer). A consumer that drains the queue faster than that waits
// for the timer each time (docs/benchmarks.md, "The fetch gate").
//
//   FetcherWaker waker(rk, "labels");
//   n = rd_kafka_consume_batch_queue(queue, 0, batch, size);
//   waker.Polled(n, rd_kafka_queue_length(queue));
//   if (n == 0 && waker.gated()) waker.Wake(lagging_partitions);
//
// Wake() asks each broker that leads one of the lagging partitions for that
// partition's watermarks (one blocking round trip per broker, short timeout;
// the leaders are looked up at most every 10 s). Sending the request wakes
// the broker's thread, which then fetches. It changes nothing about the
// fetch (unlike a seek, which drops a fetch in flight).
//
// Thread-compatible: the consumer's polling thread only.
#ifndef CONSENSUSD_CONSUMER_FETCHER_WAKER_H_
#define CONSENSUSD_CONSUMER_FETCHER_WAKER_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"

namespace consensusd::consumer {

class FetcherWaker {
 public:
  // Reads queued.min.messages of `consumer`, which must outlive this.
  FetcherWaker(rd_kafka_t* consumer, std::string topic);

  // After a poll that returned `taken` messages and left `queued` in the queue.
  void Polled(int64_t taken, int64_t queued) {
    if (taken > 0 && !gated_) gated_ = taken + queued >= gate_messages_;
  }
  // The queue was seen at the gate since the last Wake().
  bool gated() const { return gated_; }
  // Wakes the brokers that lead `lagging` (partitions of the topic with more
  // to fetch); clears gated(). Returns whether any request was sent.
  bool Wake(absl::Span<const int32_t> lagging);

  // Wake() calls that sent a request (any thread).
  int64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  rd_kafka_t* const consumer_;
  const std::string topic_;
  int64_t gate_messages_ = 100000;
  bool gated_ = false;
  absl::flat_hash_map<int32_t, int32_t> leader_of_;  // partition -> broker id
  std::chrono::steady_clock::time_point leaders_expire_;
  std::atomic<int64_t> wakeups_{0};
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_FETCHER_WAKER_H_
