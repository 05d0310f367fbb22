// MessageDecoder turns one Kafka message value of the input topic into label
// events and rejections (SPEC 3.1, 3.2). It is the ingestion hot path and has no
// Kafka dependency: bytes in, callbacks out.
//
//   MessageDecoder decoder;                 // one per consuming thread, reused
//   decoder.Decode(message_value, sink);    // sink.OnEvent / sink.OnReject, in payload order
#ifndef CONSENSUSD_CONSUMER_MESSAGE_DECODER_H_
#define CONSENSUSD_CONSUMER_MESSAGE_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/label_event.h"
#include "engine/reject_reason.h"

namespace consensusd::consumer {

inline constexpr size_t kMaxMessageBytes = 1 << 20;  // 1 MiB, larger messages are too_large
inline constexpr size_t kMaxIdBytes = 256;           // task, worker, project, label, gold
inline constexpr int kMaxJsonNesting = 256;          // deeper JSON is malformed_json

// One decoded element (engine/label_event.h). The string views point into the
// decoder's buffers, except `raw`, which points into the payload given to
// Decode(); all of them stay valid until the next Decode() call (and `raw` no
// longer than the payload).
using engine::LabelEvent;
using engine::RejectReason;
using engine::ReasonCode;
using engine::kAllRejectReasons;

struct Rejection {
  RejectReason reason;
  std::string detail;    // human-readable, e.g. "element 3: field 'task' is missing"
  std::string_view raw;  // the element's original bytes, or the whole payload (see MessageDecoder)
};

// Receives the outcome of each element. Called only from inside Decode().
class DecodeSink {
 public:
  virtual ~DecodeSink() = default;
  virtual void OnEvent(const LabelEvent& event) = 0;
  virtual void OnReject(const Rejection& rejection) = 0;
};

// Shapes. A payload whose first non-whitespace byte is '[' is one JSON array of
// elements. Otherwise it is newline-delimited JSON (NDJSON, LF or CRLF): every
// line that is not blank is one element. A single object is NDJSON of one line;
// a single object spread over several lines (pretty-printed) is recognised too:
// when the first line alone is not valid JSON but the whole payload is one JSON
// value, that value is the only element. A UTF-8 byte order mark at the start
// is ignored.
//
// Outcomes. Every element yields exactly one rejection, or events: one event,
// or two when it carries both an answer (or retraction) and a gold class.
// Outcomes are delivered in payload order, all at the end of Decode().
//   - Whole-payload rejections (raw = the whole payload, nothing else reported):
//     too_large (over kMaxMessageBytes; not parsed at all), malformed_json for an
//     empty or blank payload, for an array payload that is not valid JSON anywhere
//     (a JSON array is one JSON text: no element of a broken array is delivered,
//     so the message can be fixed and replayed as a whole), and for NDJSON in
//     which no line is valid JSON (e.g. binary garbage, a broken pretty-printed
//     object).
//   - Otherwise each NDJSON line is independent: a line that is not valid JSON is
//     one malformed_json rejection of that line, the other lines decode normally.
//   - An element that is valid JSON but not usable is rejected with raw = its
//     bytes (whitespace around it trimmed) and a detail prefixed "element <i>: "
//     (0-based index in an array) or "line <n>: " (1-based line of the payload).
// Validation is full RFC 8259 JSON, unknown fields included (On-Demand parsing
// alone would skip them unchecked), with nesting of at most kMaxJsonNesting
// levels.
//
// Element rules, checked in this order; the first failure is the rejection:
//   1. not an object: bad_type.
//   2. task: required (missing_field); a string or an integer, else bad_type.
//   3. project: optional, default "default"; a string, else bad_type.
//   4. ts: optional; a non-negative integer fitting int64 (epoch ms), else bad_type.
//   5. retract: optional; a boolean, else bad_type.
//   6. kind: retract true is a retraction (label, left, right and rating are
//      then ignored), else a rating makes a rating answer, a left or a right a
//      pairwise vote, a label alone a class answer (SPEC 3.1a); a gold makes a
//      gold declaration, in addition to any. None of label, rating, left,
//      right, gold, retract true: missing_field. A rating with a label, left
//      or right: bad_type.
//   7. worker: required for answers and retractions (missing_field); a string or
//      an integer, else bad_type. Ignored for a gold declaration alone.
//   8. label (class answers) then gold: a string, an integer or a boolean,
//      else bad_type.
//      rating: a finite JSON number (integer or not), else bad_type; whether
//      it is on the project's scale is the engine's check (out_of_scale).
//      pairwise: left, right, then label are required (missing_field), ids
//      (a string or an integer, else bad_type), left != right (bad_type);
//      whether label is left, right, tie or one of the items is the
//      engine's check (unknown_class).
// The event's answer_kind says which kind of project it belongs to
// (categorical for a class answer and every gold, kUnset for a retraction).
// Ids and classes (task, worker, project, label, gold): null, floats, objects,
// arrays and empty strings are bad_type; more than kMaxIdBytes bytes (after
// unescaping) is id_too_long. Integers keep their JSON text, which is already
// canonical decimal (any magnitude; -0 becomes "0"); booleans become "true" and
// "false". Floats are rejected rather than normalised because 1.0, 1.00 and 1e0
// would be different classes. Keys match after unescaping ("t\u0061sk" is task);
// a repeated key: the last one wins. Unknown fields are ignored.
//
// An element with both label and gold yields the answer, then the gold
// declaration (a honeypot answer record carrying its known answer), both with the
// same raw bytes.
//
// How it works: the payload is copied once into a reused buffer with simdjson's
// padding and parsed with a reused simdjson On-Demand parser (an NDJSON payload
// line by line, so that a broken line cannot hide the next). Strings without
// escapes are views into that copy; escaped strings are unescaped into a reused
// arena as large as the payload, which bounds their total size. Outcomes are
// buffered, so that a broken array can still be rejected as a whole, then
// delivered. After warm-up, decoding accepted elements allocates nothing;
// rejections allocate their detail text. About 5M elements/s per core
// (bench/decoder_bench.cc).
//
// Not thread-safe: use one decoder per thread.
class MessageDecoder {
 public:
  MessageDecoder();
  ~MessageDecoder();
  MessageDecoder(const MessageDecoder&) = delete;
  MessageDecoder& operator=(const MessageDecoder&) = delete;

  // Decodes one message value and reports every element's outcome to `sink`.
  // Invalidates the views of the previous call's events and rejections.
  void Decode(std::string_view payload, DecodeSink& sink);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_MESSAGE_DECODER_H_
