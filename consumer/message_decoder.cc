#include "consumer/message_decoder.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "consumer/element_rules.h"
#include "consumer/json_scan.h"
#include "simdjson.h"

namespace consensusd::consumer {
namespace {

namespace od = simdjson::ondemand;

constexpr size_t kInitialCapacity = 64 << 10;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";  // ignored at the start (RFC 8259 8.1)

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

// True when the document has been consumed to its end (no trailing content).
bool AtEnd(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

std::string ErrorText(simdjson::error_code error) {
  if (error == simdjson::DEPTH_ERROR) {
    return "JSON nested deeper than " + std::to_string(kMaxJsonNesting) + " levels";
  }
  return "not valid JSON: " + std::string(simdjson::error_message(error));
}

}  // namespace

class MessageDecoder::Impl {
 public:
  Impl() { Reserve(kInitialCapacity); }

  void Decode(std::string_view payload, DecodeSink& sink);

 private:
  // Where an element sits, for the detail text.
  struct Where {
    enum class Type { kWhole, kElement, kLine };
    Type type;
    size_t n;
    std::string Prefix() const {
      switch (type) {
        case Type::kElement:
          return "element " + std::to_string(n) + ": ";
        case Type::kLine:
          return "line " + std::to_string(n) + ": ";
        case Type::kWhole:
          break;
      }
      return "";
    }
  };
  // One outcome in payload order: an event, or rejections_[rejection].
  struct Outcome {
    LabelEvent event;
    int32_t rejection = -1;
  };

  void Load(std::string_view payload);
  void Reserve(size_t parser_capacity);
  void DecodeArray(std::string_view text);
  simdjson::error_code DecodeArrayElement(simdjson::simdjson_result<od::value> element,
                                          size_t index);
  void DecodeLines(std::string_view text);
  // Decodes `text`, one whole JSON text holding one element, and records its
  // outcome. Returns the JSON error, recording nothing, if `text` is not valid JSON.
  simdjson::error_code DecodeText(std::string_view text, Where where);
  simdjson::error_code ScanFields(od::object& object, int depth, ElementFields* fields);
  // Records the outcome of a well-formed element whose bytes are `raw`.
  void AddElement(const ElementFields& fields, Where where, std::string_view raw);
  void AddNotAnObject(JsonKind kind, Where where, std::string_view raw);
  void AddRejection(RejectReason reason, std::string detail, std::string_view raw);
  // Drops everything recorded so far and rejects the whole payload.
  void RejectWholePayload(RejectReason reason, std::string detail);
  void Discard();
  simdjson::error_code Iterate(std::string_view text, od::document* doc);
  // The bytes of `payload_` at the same place as `in_buffer`, a view into buffer_.
  std::string_view Original(std::string_view in_buffer) const {
    return payload_.substr(static_cast<size_t>(in_buffer.data() - buffer_.get()), in_buffer.size());
  }

  od::parser parser_;
  std::unique_ptr<char[]> buffer_;  // a copy of the payload, then SIMDJSON_PADDING zero bytes
  size_t buffer_capacity_ = 0;
  StringArena arena_;
  std::string_view payload_;
  std::vector<Outcome> outcomes_;
  std::vector<Rejection> rejections_;
};

void MessageDecoder::Impl::Decode(std::string_view payload, DecodeSink& sink) {
  Discard();
  payload_ = payload;
  if (payload.size() > kMaxMessageBytes) {
    RejectWholePayload(RejectReason::kTooLarge,
                       "message is " + std::to_string(payload.size()) + " bytes, the limit is " +
                           std::to_string(kMaxMessageBytes));
  } else {
    Load(payload);
    std::string_view all(buffer_.get(), payload.size());
    if (all.substr(0, kUtf8Bom.size()) == kUtf8Bom) all.remove_prefix(kUtf8Bom.size());
    const std::string_view text = Trim(all);
    if (text.empty()) {
      RejectWholePayload(RejectReason::kMalformedJson,
                         payload.empty() ? "empty message" : "blank message");
    } else if (text.front() == '[') {
      DecodeArray(text);
    } else {
      DecodeLines(text);
    }
  }
  for (const Outcome& o : outcomes_) {
    if (o.rejection < 0) {
      sink.OnEvent(o.event);
    } else {
      sink.OnReject(rejections_[o.rejection]);
    }
  }
}

void MessageDecoder::Impl::Load(std::string_view payload) {
  const size_t needed = payload.size() + simdjson::SIMDJSON_PADDING;
  if (buffer_capacity_ < needed) {
    buffer_capacity_ = std::max(needed, std::min(2 * buffer_capacity_, kMaxMessageBytes +
                                                                           simdjson::SIMDJSON_PADDING));
    buffer_capacity_ = std::max(buffer_capacity_, kInitialCapacity);
    buffer_.reset(new char[buffer_capacity_]);
  }
  std::memcpy(buffer_.get(), payload.data(), payload.size());
  std::memset(buffer_.get() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  // Unescaping never lengthens a string, and each kept string comes from its own
  // bytes of the payload: the payload's size bounds the arena's use per pass.
  arena_.Reserve(payload.size());
  if (parser_.capacity() < payload.size()) {
    Reserve(std::max(payload.size(), std::min(2 * parser_.capacity(), kMaxMessageBytes)));
  }
}

void MessageDecoder::Impl::Reserve(size_t parser_capacity) {
  // Growing ahead of need saves reallocations while warming up. On failure
  // iterate() allocates by itself and reports MEMALLOC if that fails too.
  const simdjson::error_code error = parser_.allocate(parser_capacity);
  (void)error;
}

simdjson::error_code MessageDecoder::Impl::Iterate(std::string_view text, od::document* doc) {
  const size_t allocated = buffer_capacity_ - static_cast<size_t>(text.data() - buffer_.get());
  return parser_.iterate(text.data(), text.size(), allocated).get(*doc);
}

void MessageDecoder::Impl::DecodeArray(std::string_view text) {
  od::document doc;
  od::array array;
  simdjson::error_code error = Iterate(text, &doc);
  if (!error) error = doc.get_array().get(array);
  if (error) {
    RejectWholePayload(RejectReason::kMalformedJson, ErrorText(error));
    return;
  }
  size_t index = 0;  // of the element being decoded
  for (auto element : array) {
    if ((error = DecodeArrayElement(element, index))) break;
    ++index;
  }
  if (error) {
    RejectWholePayload(RejectReason::kMalformedJson,
                       "element " + std::to_string(index) + ": " + ErrorText(error));
  } else if (!AtEnd(doc)) {
    RejectWholePayload(RejectReason::kMalformedJson,
                       "after the array: " + ErrorText(simdjson::TRAILING_CONTENT));
  }
}

simdjson::error_code MessageDecoder::Impl::DecodeArrayElement(
    simdjson::simdjson_result<od::value> element, size_t index) {
  od::value value;
  SIMDJSON_TRY(std::move(element).get(value));
  const std::string_view token = value.raw_json_token();
  if (token.empty()) return simdjson::TAPE_ERROR;
  const bool is_object = token.front() == '{';
  ElementFields fields;
  ScannedValue scanned;
  if (is_object) {
    od::object object;
    SIMDJSON_TRY(value.get_object().get(object));
    SIMDJSON_TRY(ScanFields(object, 2, &fields));
  } else {
    SIMDJSON_TRY(ScanValue(value, 2, nullptr, &scanned));
  }
  // The element's bytes: a container ends where the next token (',' or ']')
  // starts; a scalar is its token.
  std::string_view raw = token;
  if (is_object || token.front() == '[') {
    const char* end = nullptr;
    SIMDJSON_TRY(value.current_location().get(end));
    raw = std::string_view(token.data(), static_cast<size_t>(end - token.data()));
  }
  const Where where{Where::Type::kElement, index};
  if (is_object) {
    AddElement(fields, where, Trim(raw));
  } else {
    AddNotAnObject(scanned.kind, where, Trim(raw));
  }
  return simdjson::SUCCESS;
}

void MessageDecoder::Impl::DecodeLines(std::string_view text) {
  size_t eol = text.find('\n');
  if (eol == std::string_view::npos) {  // a single element
    const simdjson::error_code error = DecodeText(text, {Where::Type::kWhole, 0});
    if (error) RejectWholePayload(RejectReason::kMalformedJson, ErrorText(error));
    return;
  }
  size_t line_number =
      1 + static_cast<size_t>(std::count(static_cast<const char*>(buffer_.get()), text.data(), '\n'));
  const std::string_view first_line = Trim(text.substr(0, eol));
  const Where first_where{Where::Type::kLine, line_number};
  const simdjson::error_code first_error = DecodeText(first_line, first_where);
  if (first_error) {
    // Perhaps one JSON value spread over several lines, not NDJSON.
    Discard();
    if (!DecodeText(text, {Where::Type::kWhole, 0})) return;
    Discard();
    AddRejection(RejectReason::kMalformedJson, first_where.Prefix() + ErrorText(first_error),
                 Original(first_line));
  }
  bool any_valid_line = !first_error;
  while (eol != std::string_view::npos) {
    const size_t begin = eol + 1;
    eol = text.find('\n', begin);
    const std::string_view line =
        Trim(text.substr(begin, eol == std::string_view::npos ? std::string_view::npos : eol - begin));
    ++line_number;
    if (line.empty()) continue;
    const Where where{Where::Type::kLine, line_number};
    const simdjson::error_code error = DecodeText(line, where);
    if (error) {
      AddRejection(RejectReason::kMalformedJson, where.Prefix() + ErrorText(error), Original(line));
    } else {
      any_valid_line = true;
    }
  }
  if (!any_valid_line) {
    RejectWholePayload(RejectReason::kMalformedJson,
                       "no line is valid JSON; line " + std::to_string(first_where.n) + ": " +
                           ErrorText(first_error));
  }
}

simdjson::error_code MessageDecoder::Impl::DecodeText(std::string_view text, Where where) {
  od::document doc;
  SIMDJSON_TRY(Iterate(text, &doc));
  if (text.front() == '{') {
    od::object object;
    ElementFields fields;
    SIMDJSON_TRY(doc.get_object().get(object));
    SIMDJSON_TRY(ScanFields(object, 1, &fields));
    if (!AtEnd(doc)) return simdjson::TRAILING_CONTENT;
    AddElement(fields, where, text);
    return simdjson::SUCCESS;
  }
  JsonKind kind;
  SIMDJSON_TRY(ScanRoot(doc, text, &kind));
  AddNotAnObject(kind, where, text);
  return simdjson::SUCCESS;
}

simdjson::error_code MessageDecoder::Impl::ScanFields(od::object& object, int depth,
                                                      ElementFields* fields) {
  for (auto field_or : object) {
    od::field field;
    std::string_view key;
    SIMDJSON_TRY(std::move(field_or).get(field));
    SIMDJSON_TRY(ReadKey(field, &key));
    ScannedValue* slot = fields->Slot(key);
    if (slot == nullptr) {
      ScannedValue ignored;
      SIMDJSON_TRY(ScanValue(field.value(), depth + 1, nullptr, &ignored));
    } else {
      if (slot->present && fields->duplicate == nullptr) fields->duplicate = FieldNameOf(*fields, slot);
      SIMDJSON_TRY(ScanValue(field.value(), depth + 1, &arena_, slot));
      slot->present = true;
    }
  }
  return simdjson::SUCCESS;
}

void MessageDecoder::Impl::AddElement(const ElementFields& fields, Where where,
                                      std::string_view raw) {
  ElementEvents events;
  ElementFailure failure;
  if (!ValidateElement(fields, &events, &failure)) {
    AddRejection(failure.reason, where.Prefix() + failure.message, Original(raw));
    return;
  }
  if (events.has_worker_event) {
    events.worker_event.raw = Original(raw);
    outcomes_.push_back({events.worker_event});
  }
  if (events.has_gold) {
    events.gold.raw = Original(raw);
    outcomes_.push_back({events.gold});
  }
}

void MessageDecoder::Impl::AddNotAnObject(JsonKind kind, Where where, std::string_view raw) {
  AddRejection(RejectReason::kBadType,
               where.Prefix() + "element must be an object, not " + std::string(KindPhrase(kind)),
               Original(raw));
}

void MessageDecoder::Impl::AddRejection(RejectReason reason, std::string detail,
                                        std::string_view raw) {
  outcomes_.push_back({LabelEvent{}, static_cast<int32_t>(rejections_.size())});
  rejections_.push_back({reason, std::move(detail), raw});
}

void MessageDecoder::Impl::RejectWholePayload(RejectReason reason, std::string detail) {
  Discard();
  AddRejection(reason, std::move(detail), payload_);
}

void MessageDecoder::Impl::Discard() {
  outcomes_.clear();
  rejections_.clear();
  arena_.Clear();
}

MessageDecoder::MessageDecoder() : impl_(std::make_unique<Impl>()) {}
MessageDecoder::~MessageDecoder() = default;

void MessageDecoder::Decode(std::string_view payload, DecodeSink& sink) {
  impl_->Decode(payload, sink);
}

}  // namespace consensusd::consumer
