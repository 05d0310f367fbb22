// JSON value scanning for MessageDecoder: walks a simdjson On-Demand value to
// its end, so that the whole value is validated (On-Demand alone only checks
// what is read), and gives the text of scalars. Internal to the consumer module.
//
//   ScannedValue v;
//   if (auto error = ScanValue(field.value(), depth, &arena, &v)) return error;  // malformed
//   if (v.kind == JsonKind::kInteger) Use(v.text);                              // "42"
#ifndef CONSENSUSD_CONSUMER_JSON_SCAN_H_
#define CONSENSUSD_CONSUMER_JSON_SCAN_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "consumer/message_decoder.h"
#include "simdjson.h"

namespace consensusd::consumer {

enum class JsonKind { kNull, kBool, kInteger, kFloat, kString, kArray, kObject };

// "null", "a boolean", "an integer", "a non-integer number", "a string", ...
std::string_view KindPhrase(JsonKind kind);

// Storage for the unescaped strings of one message: a buffer reserved to the
// message's size, handed out front to back, reused across messages.
// Invariant: used_ <= capacity_, and views handed out stay valid until Clear() or
// Reserve().
class StringArena {
 public:
  // REQUIRES: nothing handed out since the last Clear() is still in use.
  void Reserve(size_t bytes);
  void Clear() { used_ = 0; }
  // Copies `s` and points *copy at the copy; returns false, copying nothing,
  // if there is no room.
  bool Copy(std::string_view s, std::string_view* copy);

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

// A scanned JSON value.
struct ScannedValue {
  bool present = false;  // set by the caller for fields that occurred
  JsonKind kind = JsonKind::kNull;
  // kString: the unescaped string; kInteger: its JSON text, except "0" for -0;
  // kFloat: its JSON text; kBool: "true" or "false". Empty otherwise, and for a string of more than
  // kMaxIdBytes bytes that had escapes (its size is still in `bytes`).
  std::string_view text;
  size_t bytes = 0;  // the size of the (unescaped) string or of `text`
};

// Measures the body of a JSON string, from after its opening quote to its
// closing quote. Sets *size (of the body, escapes unexpanded) and *escaped
// (whether it has escapes).
// REQUIRES: the document passed stage 1 (simdjson's parser.iterate()), which
// checks that strings are closed and hold no raw control characters.
void ScanStringBody(const char* body, size_t* size, bool* escaped);

// Reads the key of `field`, unescaped and checked.
simdjson::error_code ReadKey(simdjson::ondemand::field& field, std::string_view* key);

// Scans `value` at nesting `depth` (a root value is at depth 1) to its end.
// Strings without escapes are views into the parsed buffer; strings with
// escapes are unescaped into `arena`, or only checked when `arena` is null.
// Returns a simdjson error if the value is not valid JSON, DEPTH_ERROR if it
// nests deeper than kMaxJsonNesting.
simdjson::error_code ScanValue(simdjson::ondemand::value& value, int depth, StringArena* arena,
                               ScannedValue* out);

// Scans a document whose root is not an object; `text` is the whole document
// without surrounding whitespace. Sets *kind. Returns an error if the document is
// not one valid JSON value.
simdjson::error_code ScanRoot(simdjson::ondemand::document& doc, std::string_view text,
                              JsonKind* kind);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_JSON_SCAN_H_
