// Property tests of MessageDecoder: generated valid elements decode to exactly
// themselves in every shape; arbitrary and mutated bytes never crash and yield
// only well-formed outcomes; each NDJSON line yields exactly one outcome.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "consumer/message_decoder.h"
#include "tests/consumer/recording_sink.h"

namespace consensusd::consumer {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendEscape(uint32_t unit, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  *out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(unit >> shift) & 0xF]);
}

// A JSON string literal for the code points `cps`; `escape_all` writes every
// code point as \uXXXX (surrogate pairs above U+FFFF).
std::string JsonString(const std::vector<uint32_t>& cps, bool escape_all) {
  std::string out = "\"";
  for (uint32_t cp : cps) {
    if (escape_all || cp < 0x20) {
      if (cp >= 0x10000) {
        AppendEscape(0xD800 + ((cp - 0x10000) >> 10), &out);
        AppendEscape(0xDC00 + ((cp - 0x10000) & 0x3FF), &out);
      } else {
        AppendEscape(cp, &out);
      }
    } else if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else {
      AppendUtf8(cp, &out);
    }
  }
  return out + "\"";
}

rc::Gen<uint32_t> CodePoint() {
  return rc::gen::weightedOneOf<uint32_t>({
      {6, rc::gen::inRange<uint32_t>(0x20, 0x7F)},
      {1, rc::gen::inRange<uint32_t>(0x00, 0x20)},
      {2, rc::gen::inRange<uint32_t>(0x80, 0xD800)},
      {1, rc::gen::inRange<uint32_t>(0xE000, 0x110000)},
  });
}

// One generated field value: its JSON text and the text the decoder must give.
struct GenValue {
  std::string json;
  std::string expected;
};

// An id or class: a non-empty string (<= 4 bytes per code point, so <= 160
// bytes), an integer, or (for classes) a boolean.
GenValue GenId(bool allow_bool) {
  const int choice = *rc::gen::inRange(0, allow_bool ? 4 : 3);
  if (choice == 1) {
    const int64_t n = *rc::gen::arbitrary<int64_t>();
    return {std::to_string(n), std::to_string(n)};
  }
  if (choice == 3) {
    const bool b = *rc::gen::arbitrary<bool>();
    return {b ? "true" : "false", b ? "true" : "false"};
  }
  const auto cps = *rc::gen::container<std::vector<uint32_t>>(*rc::gen::inRange<size_t>(1, 40),
                                                             CodePoint());
  std::string expected;
  for (uint32_t cp : cps) AppendUtf8(cp, &expected);
  return {JsonString(cps, *rc::gen::arbitrary<bool>()), expected};
}

// Whitespace between tokens; line breaks only where the shape allows them.
std::string Space(bool line_breaks) {
  return line_breaks ? *rc::gen::element<std::string>("", " ", "\t", " \r\n ", "\n")
                     : *rc::gen::element<std::string>("", " ", "  ", "\t");
}

struct GenElement {
  std::string json;
  std::vector<std::string> expected;  // RecordingSink::Describe of each event
};

// A valid element yielding exactly one event, on one line unless `line_breaks`.
GenElement GenValidElement(bool line_breaks) {
  const int kind = *rc::gen::inRange(0, 3);  // answer, gold, retract
  std::vector<std::pair<std::string, std::string>> fields;
  std::string project = "default";
  if (*rc::gen::arbitrary<bool>()) {
    GenValue p = GenId(false);
    if (p.json.front() == '"') {
      fields.push_back({"project", p.json});
      project = p.expected;
    }
  }
  const GenValue task = GenId(false);
  fields.push_back({"task", task.json});
  GenValue worker, label;
  if (kind != 1) {
    worker = GenId(false);
    fields.push_back({"worker", worker.json});
  }
  if (kind == 0) {
    label = GenId(true);
    fields.push_back({"label", label.json});
    if (*rc::gen::arbitrary<bool>()) fields.push_back({"retract", "false"});
  } else if (kind == 1) {
    label = GenId(true);
    fields.push_back({"gold", label.json});
  } else {
    fields.push_back({"retract", "true"});
  }
  int64_t ts = -1;
  if (*rc::gen::arbitrary<bool>()) {
    ts = *rc::gen::inRange<int64_t>(0, INT64_MAX);
    fields.push_back({"ts", std::to_string(ts)});
  }
  if (*rc::gen::arbitrary<bool>()) fields.push_back({"extra", R"({"a": [1, -2.5e-3, null, "x"]})"});
  // Shuffle the field order.
  for (size_t i = fields.size(); i > 1; --i) {
    std::swap(fields[i - 1], fields[*rc::gen::inRange<size_t>(0, i)]);
  }
  std::string json = "{";
  json += Space(line_breaks);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) json.append(",").append(Space(line_breaks));
    json.append("\"").append(fields[i].first).append("\"").append(Space(line_breaks));
    json.append(":").append(Space(line_breaks)).append(fields[i].second).append(Space(line_breaks));
  }
  json += "}";

  RecordedOutcome o;
  o.is_event = true;
  o.kind = kind == 0 ? LabelEvent::Kind::kAnswer
                     : kind == 1 ? LabelEvent::Kind::kGold : LabelEvent::Kind::kRetract;
  o.project = project;
  o.task = task.expected;
  o.worker = worker.expected;
  o.label = label.expected;
  o.ts_ms = ts;
  return {json, {RecordingSink::Describe(o)}};
}

// Whole payloads and elements: every outcome is well-formed.
void CheckOutcomes(std::string_view payload, const RecordingSink& sink) {
  for (const RecordedOutcome& o : sink.outcomes) {
    RC_ASSERT(o.raw_view.data() >= payload.data());
    RC_ASSERT(o.raw_view.data() + o.raw_view.size() <= payload.data() + payload.size());
    if (o.is_event) {
      RC_ASSERT(!o.project.empty() && o.project.size() <= kMaxIdBytes);
      RC_ASSERT(!o.task.empty() && o.task.size() <= kMaxIdBytes);
      RC_ASSERT((o.kind == LabelEvent::Kind::kGold) == o.worker.empty());
      RC_ASSERT((o.kind == LabelEvent::Kind::kRetract) == o.label.empty());
      RC_ASSERT(o.worker.size() <= kMaxIdBytes && o.label.size() <= kMaxIdBytes);
      RC_ASSERT(o.ts_ms >= -1);
    } else {
      RC_ASSERT(!o.detail.empty());
      RC_ASSERT(o.reason != RejectReason::kUnknownClass &&
                o.reason != RejectReason::kTooManyClasses);
      RC_ASSERT((o.reason == RejectReason::kTooLarge) == (payload.size() > kMaxMessageBytes));
    }
  }
  // Only an empty array yields nothing.
  if (sink.outcomes.empty()) {
    const size_t first = payload.find_first_not_of(" \t\r\n");
    RC_ASSERT(first != std::string_view::npos && payload[first] == '[');
  }
}

RC_GTEST_PROP(MessageDecoderPropertyTest, DecodesGeneratedElementsInEveryShape, ()) {
  const auto count = *rc::gen::inRange<size_t>(1, 30);
  const bool array = *rc::gen::arbitrary<bool>();
  // A single object may span lines too (pretty-printed).
  const bool line_breaks = array || (count == 1 && *rc::gen::arbitrary<bool>());
  std::vector<GenElement> elements;
  std::vector<std::string> expected;
  for (size_t i = 0; i < count; ++i) {
    elements.push_back(GenValidElement(line_breaks));
    expected.insert(expected.end(), elements.back().expected.begin(), elements.back().expected.end());
  }
  std::string payload = Space(true);
  if (array) {
    payload += "[";
    for (size_t i = 0; i < count; ++i) {
      if (i > 0) payload += ",";
      payload.append(Space(true)).append(elements[i].json);
    }
    payload += Space(true) + "]";
  } else {
    const std::string eol = *rc::gen::element<std::string>("\n", "\r\n");
    for (const GenElement& e : elements) {
      payload += e.json + eol;
      if (*rc::gen::inRange(0, 4) == 0) payload += " \t" + eol;
    }
  }
  payload += Space(true);
  MessageDecoder decoder;
  RecordingSink sink;
  decoder.Decode(payload, sink);
  RC_LOG() << "payload: " << payload << "\n";
  for (const std::string& d : sink.Described()) RC_LOG() << "decoded: " << d << "\n";
  RC_ASSERT(sink.Described() == expected);
  CheckOutcomes(payload, sink);
}

RC_GTEST_PROP(MessageDecoderPropertyTest, ArbitraryBytesNeverCrash, (const std::string& payload)) {
  MessageDecoder decoder;
  RecordingSink sink;
  decoder.Decode(payload, sink);
  CheckOutcomes(payload, sink);
}

RC_GTEST_PROP(MessageDecoderPropertyTest, JsonLikeBytesNeverCrash, ()) {
  const std::string payload = *rc::gen::container<std::string>(rc::gen::elementOf(
      std::string("{}[]\":,\\ \n\r\ttrufalsn0123456789.-+eEu\x80\xC3\xA9")));
  MessageDecoder decoder;
  RecordingSink sink;
  decoder.Decode(payload, sink);
  CheckOutcomes(payload, sink);
}

RC_GTEST_PROP(MessageDecoderPropertyTest, MutatedValidPayloadsNeverCrash, ()) {
  std::string payload = "[";
  const auto count = *rc::gen::inRange<size_t>(1, 5);
  for (size_t i = 0; i < count; ++i) payload += (i > 0 ? ",\n" : "") + GenValidElement(false).json;
  payload += "]";
  if (*rc::gen::arbitrary<bool>()) payload = payload.substr(1, payload.size() - 2);  // NDJSON
  const auto mutations = *rc::gen::inRange(1, 4);
  for (int i = 0; i < mutations && !payload.empty(); ++i) {
    const auto at = *rc::gen::inRange<size_t>(0, payload.size());
    const char byte = *rc::gen::arbitrary<char>();
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        payload[at] = byte;
        break;
      case 1:
        payload.erase(at, 1);
        break;
      default:
        payload.insert(at, 1, byte);
    }
  }
  MessageDecoder decoder;
  RecordingSink sink;
  decoder.Decode(payload, sink);
  CheckOutcomes(payload, sink);
}

RC_GTEST_PROP(MessageDecoderPropertyTest, EveryNdjsonLineYieldsExactlyOneOutcome, ()) {
  // Junk never starts an object, so it can never decode to an event, nor an
  // array, which would make the whole payload one array.
  const auto junk_gen = rc::gen::suchThat(
      rc::gen::container<std::string>(
          rc::gen::elementOf(std::string("[]\":,\\ \ttrufalsn0123456789.-eE}x"))),
      [](const std::string& s) {
        const size_t first = s.find_first_not_of(" \t");
        return first != std::string::npos && s[first] != '{' && s[first] != '[';
      });
  const auto count = *rc::gen::inRange<size_t>(1, 20);
  const auto valid_at = *rc::gen::inRange<size_t>(0, count);
  std::string payload;
  std::vector<std::string> expected;  // an event description, or "" for a rejection
  for (size_t i = 0; i < count; ++i) {
    if (i == valid_at || *rc::gen::arbitrary<bool>()) {
      GenElement e = GenValidElement(false);
      payload += e.json;
      expected.push_back(e.expected[0]);
    } else {
      payload += *junk_gen;
      expected.push_back("");
    }
    payload += "\n";
  }
  MessageDecoder decoder;
  RecordingSink sink;
  decoder.Decode(payload, sink);
  RC_LOG() << "payload: " << payload << "\n";
  for (const RecordedOutcome& o : sink.outcomes) RC_LOG() << "decoded: " << RecordingSink::Describe(o) << " " << o.detail << "\n";
  RC_ASSERT(sink.outcomes.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].empty()) {
      RC_ASSERT(!sink.outcomes[i].is_event);
    } else {
      RC_ASSERT(RecordingSink::Describe(sink.outcomes[i]) == expected[i]);
    }
  }
  CheckOutcomes(payload, sink);
}

}  // namespace
}  // namespace consensusd::consumer
