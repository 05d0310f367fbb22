// Benchmarks of MessageDecoder, the ingestion hot path (target: more than 1M
// elements/s per core). items_per_second is elements decoded per second.
//   BM_DecodeSingleObject   one answer per message, the recommended message shape
//   BM_DecodeNdjson100      100 answers per message, newline-delimited
//   BM_DecodeArray100       100 answers per message, as one JSON array
//   BM_DecodeNdjson100Escaped  as BM_DecodeNdjson100 with \u escapes in every id
// Messages are built outside the timed loop; the decoder and sink are reused,
// as in the consume loop.
#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "consumer/message_decoder.h"

namespace consensusd::consumer {
namespace {

// Consumes every view so that nothing is optimised away; never allocates.
class ChecksumSink : public DecodeSink {
 public:
  void OnEvent(const LabelEvent& e) override {
    sum_ += e.task.size() + e.worker.size() + e.label.size() + e.project.size() +
            static_cast<uint64_t>(e.ts_ms);
    ++events_;
  }
  void OnReject(const Rejection&) override { ++rejections_; }
  uint64_t sum() const { return sum_; }
  int64_t events() const { return events_; }
  int64_t rejections() const { return rejections_; }

 private:
  uint64_t sum_ = 0;
  int64_t events_ = 0;
  int64_t rejections_ = 0;
};

// An answer as a labeling platform would send it (SPEC 3.1's example).
std::string Answer(int i, bool escaped) {
  const std::string n = std::to_string(i);
  if (escaped) {
    return R"({"project": "sentiment-v\u0032", "task": "t-\u0031)" + n +
           R"(", "worker": "ann-\u00e9)" + std::to_string(i % 97) +
           R"(", "label": "positiv\u0065", "ts": 17323500)" + n + "}";
  }
  return R"({"project": "sentiment-v2", "task": "t-1)" + n + R"(", "worker": "ann-)" +
         std::to_string(i % 97) + R"(", "label": ")" + (i % 3 == 0 ? "negative" : "positive") +
         R"(", "ts": 17323500)" + n + "}";
}

void Run(benchmark::State& state, const std::string& payload, int64_t elements) {
  MessageDecoder decoder;
  ChecksumSink sink;
  for (auto _ : state) {
    decoder.Decode(payload, sink);
  }
  benchmark::DoNotOptimize(sink.sum());
  if (sink.rejections() != 0 || sink.events() != elements * state.iterations()) {
    state.SkipWithError("the benchmark message did not decode cleanly");
  }
  state.SetItemsProcessed(elements * state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(payload.size()) * state.iterations());
}

void BM_DecodeSingleObject(benchmark::State& state) { Run(state, Answer(10442, false), 1); }
BENCHMARK(BM_DecodeSingleObject);

void BM_DecodeNdjson100(benchmark::State& state) {
  std::string payload;
  for (int i = 0; i < 100; ++i) payload += Answer(i, false) + "\n";
  Run(state, payload, 100);
}
BENCHMARK(BM_DecodeNdjson100);

void BM_DecodeArray100(benchmark::State& state) {
  std::string payload = "[";
  for (int i = 0; i < 100; ++i) payload += (i > 0 ? ",\n" : "") + Answer(i, false);
  payload += "]";
  Run(state, payload, 100);
}
BENCHMARK(BM_DecodeArray100);

void BM_DecodeNdjson100Escaped(benchmark::State& state) {
  std::string payload;
  for (int i = 0; i < 100; ++i) payload += Answer(i, true) + "\n";
  Run(state, payload, 100);
}
BENCHMARK(BM_DecodeNdjson100Escaped);

}  // namespace
}  // namespace consensusd::consumer
