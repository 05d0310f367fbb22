// Pins down the hot-path promise of MessageDecoder: after warm-up, decoding
// accepted elements allocates nothing. Counts operator new calls made by this
// thread while counting is switched on (the replacement below only counts).
#include <cstdlib>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "consumer/message_decoder.h"

namespace {

thread_local bool counting = false;
thread_local long allocations = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace consensusd::consumer {
namespace {

// Counts outcomes without allocating.
class CountingSink : public DecodeSink {
 public:
  void OnEvent(const LabelEvent& e) override {
    ++events;
    bytes += e.task.size() + e.worker.size() + e.label.size() + e.project.size();
  }
  void OnReject(const Rejection&) override { ++rejections; }
  long events = 0, rejections = 0;
  size_t bytes = 0;
};

// Decodes `payload` `n` times after one warm-up call; returns the allocations.
long AllocationsPerRun(MessageDecoder& decoder, const std::string& payload, CountingSink& sink,
                       int n) {
  decoder.Decode(payload, sink);
  allocations = 0;
  counting = true;
  for (int i = 0; i < n; ++i) decoder.Decode(payload, sink);
  counting = false;
  return allocations;
}

TEST(MessageDecoderAllocationTest, DoesNotAllocateForAcceptedElementsAfterWarmUp) {
  std::string ndjson;
  for (int i = 0; i < 100; ++i) {
    ndjson += R"({"project": "p\u00e9", "task": ")" + std::to_string(i) +
              R"(", "worker": 17, "label": true, "gold": "g\"", "ts": 1732350000123, "meta": {"a": [1.5]}})"
              "\n";
  }
  const std::string array = "[" + std::string(R"({"task": "t", "worker": "w", "label": "a"})") +
                            "," + R"({"task": "t", "worker": "w", "retract": true})" + "]";
  const std::string single = R"({"task": "t", "worker": "w", "label": "a"})";
  MessageDecoder decoder;
  CountingSink sink;
  // Warm up with the largest message first, as a long-running consumer would be.
  EXPECT_EQ(AllocationsPerRun(decoder, ndjson, sink, 10), 0);
  EXPECT_EQ(AllocationsPerRun(decoder, array, sink, 10), 0);
  EXPECT_EQ(AllocationsPerRun(decoder, single, sink, 10), 0);
  EXPECT_EQ(sink.rejections, 0);
  EXPECT_EQ(sink.events, 11 * 200 + 11 * 2 + 11);
}

TEST(MessageDecoderAllocationTest, CountsAllocationsAtAll) {
  // Guards the test above against a counter that never counts.
  allocations = 0;
  counting = true;
  std::string* s = new std::string(100, 'x');
  counting = false;
  delete s;
  EXPECT_GT(allocations, 0);
}

}  // namespace
}  // namespace consensusd::consumer
