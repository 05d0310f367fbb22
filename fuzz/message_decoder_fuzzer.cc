// Fuzzes the Kafka input decoder (consumer/message_decoder.h): arbitrary bytes
// as one message value of the labels topic (SPEC 3.1, 3.2).
//
// One MessageDecoder is reused across inputs, as a consuming thread reuses it.
// Checked for every input, besides ASan/UBSan's memory and UB checks:
//   - every payload but an empty array ("[]") yields at least one outcome
//     (nothing is silently dropped);
//   - an accepted element has the fields its kind needs, each non-empty and at
//     most kMaxIdBytes bytes, a timestamp of -1 or more, and raw bytes inside
//     the payload; a rejection has a reason the decoder can give, a detail, and
//     raw bytes inside the payload;
//   - decoding the same bytes again gives the same outcomes (buffer reuse);
//   - an answer or gold declaration written back by AppendLabelMessage (what
//     `produce` publishes) decodes to the same event.
//
//   scripts/fuzz.sh 60                         # builds build-fuzz, runs every target
//   build-fuzz/message_decoder_fuzzer -dict=fuzz/dicts/message_decoder.dict fuzz/corpus/message_decoder

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "consumer/label_message.h"
#include "consumer/message_decoder.h"

namespace consensusd::consumer {
namespace {

// An owned copy of one outcome, comparable across Decode() calls.
struct Outcome {
  bool rejected = false;
  RejectReason reason = RejectReason::kMalformedJson;
  LabelEvent::Kind kind = LabelEvent::Kind::kAnswer;
  std::string project, task, worker, label, detail, raw;
  int64_t ts_ms = -1;
  engine::ProjectKind answer_kind = engine::ProjectKind::kCategorical;
  std::string left, right;
  double rating = 0;

  bool operator==(const Outcome&) const = default;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Whether `payload` is an empty JSON array, the one payload without outcomes.
bool IsEmptyArray(std::string_view payload) {
  if (payload.substr(0, 3) == "\xEF\xBB\xBF") payload.remove_prefix(3);
  std::string tokens;
  for (const char c : payload) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') tokens.push_back(c);
  }
  return tokens == "[]";
}

bool ValidId(std::string_view id) { return !id.empty() && id.size() <= kMaxIdBytes; }

class CheckingSink : public DecodeSink {
 public:
  explicit CheckingSink(std::string_view payload) : payload_(payload) {}

  void OnEvent(const LabelEvent& e) override {
    Check(ValidId(e.project), "event project is empty or too long");
    Check(ValidId(e.task), "event task is empty or too long");
    Check(e.ts_ms >= -1, "event timestamp below -1");
    Check(!e.raw.empty() && Inside(e.raw, payload_), "event raw bytes outside the payload");
    switch (e.kind) {
      case LabelEvent::Kind::kAnswer:
        Check(ValidId(e.worker), "answer worker is empty or too long");
        if (e.answer_kind == engine::ProjectKind::kRating) {
          Check(std::isfinite(e.rating), "rating is not finite");
        } else {
          Check(ValidId(e.label), "answer label is empty or too long");
        }
        if (e.answer_kind == engine::ProjectKind::kPairwise) {
          Check(ValidId(e.left) && ValidId(e.right), "vote item is empty or too long");
          Check(e.left != e.right, "vote compares an item with itself");
        }
        break;
      case LabelEvent::Kind::kRetract:
        Check(ValidId(e.worker), "retraction worker is empty or too long");
        break;
      case LabelEvent::Kind::kGold:
        Check(ValidId(e.label), "gold label is empty or too long");
        break;
    }
    outcomes.push_back({false, RejectReason::kMalformedJson, e.kind, std::string(e.project),
                        std::string(e.task), std::string(e.worker), std::string(e.label), "",
                        std::string(e.raw), e.ts_ms, e.answer_kind, std::string(e.left),
                        std::string(e.right), e.rating});
  }

  void OnReject(const Rejection& r) override {
    Check(r.reason != RejectReason::kUnknownClass && r.reason != RejectReason::kTooManyClasses &&
              r.reason != RejectReason::kWrongKind && r.reason != RejectReason::kOutOfScale &&
              r.reason != RejectReason::kItemMismatch,
          "the decoder gave a reason only the engine can give");
    Check(!r.detail.empty(), "rejection without a detail");
    Check(r.raw.empty() ? payload_.empty() : Inside(r.raw, payload_),
          "rejection raw bytes outside the payload");
    Outcome o;
    o.rejected = true;
    o.reason = r.reason;
    o.detail = r.detail;
    o.raw = std::string(r.raw);
    outcomes.push_back(std::move(o));
  }

  std::vector<Outcome> outcomes;

 private:
  std::string_view payload_;
};

// What AppendLabelMessage writes for an accepted answer or gold declaration
// must decode to that same event.
void CheckRoundTrip(const Outcome& o, MessageDecoder& decoder) {
  // (AppendLabelMessage writes class answers and gold only.)
  if (o.rejected || o.kind == LabelEvent::Kind::kRetract ||
      o.answer_kind != engine::ProjectKind::kCategorical) {
    return;
  }
  std::string message;
  AppendLabelMessage({.project = o.project,
                      .task = o.task,
                      .worker = o.kind == LabelEvent::Kind::kGold ? std::string_view() : o.worker,
                      .label = o.label,
                      .ts_ms = o.ts_ms},
                     message);
  CheckingSink sink(message);
  decoder.Decode(message, sink);
  Check(sink.outcomes.size() == 1 && !sink.outcomes[0].rejected,
        "a re-encoded event is not one accepted event");
  const Outcome& back = sink.outcomes[0];
  Check(back.kind == o.kind && back.project == o.project && back.task == o.task &&
            back.worker == o.worker && back.label == o.label && back.ts_ms == o.ts_ms,
        "a re-encoded event decodes differently");
}

}  // namespace
}  // namespace consensusd::consumer

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consensusd::consumer;
  static MessageDecoder* decoder = new MessageDecoder;
  static MessageDecoder* round_trip = new MessageDecoder;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);

  CheckingSink first(payload);
  decoder->Decode(payload, first);
  Check(!first.outcomes.empty() || IsEmptyArray(payload), "a payload without any outcome");

  CheckingSink second(payload);
  decoder->Decode(payload, second);
  Check(first.outcomes == second.outcomes, "decoding the same bytes twice differs");

  for (const Outcome& o : first.outcomes) CheckRoundTrip(o, *round_trip);
  return 0;
}
