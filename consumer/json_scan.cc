#include "consumer/json_scan.h"

#include <algorithm>
#include <cstring>

namespace consensusd::consumer {
namespace {

namespace od = simdjson::ondemand;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Classifies a number token by the RFC 8259 grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
simdjson::error_code ScanNumber(std::string_view t, ScannedValue* out) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i < n && t[i] == '0') {
    ++i;
  } else if (i < n && IsDigit(t[i])) {
    while (i < n && IsDigit(t[i])) ++i;
  } else {
    return simdjson::NUMBER_ERROR;
  }
  bool integer = true;
  if (i < n && t[i] == '.') {
    const size_t digits = ++i;
    while (i < n && IsDigit(t[i])) ++i;
    if (i == digits) return simdjson::NUMBER_ERROR;
    integer = false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    const size_t digits = i;
    while (i < n && IsDigit(t[i])) ++i;
    if (i == digits) return simdjson::NUMBER_ERROR;
    integer = false;
  }
  if (i != n) return simdjson::NUMBER_ERROR;
  out->kind = integer ? JsonKind::kInteger : JsonKind::kFloat;
  out->text = integer && t == "-0" ? std::string_view("0") : t;
  out->bytes = out->text.size();
  return simdjson::SUCCESS;
}

// Scans a token that is not a string, an object or an array.
simdjson::error_code ScanAtom(std::string_view token, ScannedValue* out) {
  const std::string_view t = TrimRight(token);
  out->text = {};
  out->bytes = 0;
  switch (t.empty() ? '\0' : t.front()) {
    case 't':
      if (t != "true") return simdjson::T_ATOM_ERROR;
      out->kind = JsonKind::kBool;
      out->text = t;
      out->bytes = t.size();
      return simdjson::SUCCESS;
    case 'f':
      if (t != "false") return simdjson::F_ATOM_ERROR;
      out->kind = JsonKind::kBool;
      out->text = t;
      out->bytes = t.size();
      return simdjson::SUCCESS;
    case 'n':
      if (t != "null") return simdjson::N_ATOM_ERROR;
      out->kind = JsonKind::kNull;
      return simdjson::SUCCESS;
    default:
      if (t.empty() || (t.front() != '-' && !IsDigit(t.front()))) return simdjson::TAPE_ERROR;
      return ScanNumber(t, out);
  }
}

// Scans a string value; `token` starts at its opening quote.
simdjson::error_code ScanString(od::value& value, std::string_view token, StringArena* arena,
                                ScannedValue* out) {
  size_t size = 0;
  bool escaped = false;
  ScanStringBody(token.data() + 1, &size, &escaped);
  out->kind = JsonKind::kString;
  if (!escaped) {
    out->text = std::string_view(token.data() + 1, size);
    out->bytes = size;
    return simdjson::SUCCESS;
  }
  std::string_view unescaped;
  SIMDJSON_TRY(value.get_string().get(unescaped));  // checks the escapes
  out->bytes = unescaped.size();
  out->text = {};
  if (arena != nullptr && unescaped.size() <= kMaxIdBytes &&
      !arena->Copy(unescaped, &out->text)) {
    return simdjson::CAPACITY;  // unreachable while the arena's invariant holds
  }
  return simdjson::SUCCESS;
}

}  // namespace

void ScanStringBody(const char* body, size_t* size, bool* escaped) {
  // Stage 1 found the closing quote with the same escape rule, so it is there.
  *escaped = false;
  const char* p = body;
  for (; *p != '"'; ++p) {
    if (*p == '\\') {
      *escaped = true;
      ++p;  // the escaped character, checked when unescaping
    }
  }
  *size = static_cast<size_t>(p - body);
}

simdjson::error_code ReadKey(od::field& field, std::string_view* key) {
  const char* body = field.key().raw();
  size_t size = 0;
  bool escaped = false;
  ScanStringBody(body, &size, &escaped);
  if (!escaped) {
    *key = std::string_view(body, size);
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*key);
}

std::string_view KindPhrase(JsonKind kind) {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kBool:
      return "a boolean";
    case JsonKind::kInteger:
      return "an integer";
    case JsonKind::kFloat:
      return "a non-integer number";
    case JsonKind::kString:
      return "a string";
    case JsonKind::kArray:
      return "an array";
    case JsonKind::kObject:
      return "an object";
  }
  return "a value";
}

void StringArena::Reserve(size_t bytes) {
  used_ = 0;
  if (bytes <= capacity_) return;
  capacity_ = std::max(bytes, 2 * capacity_);
  data_.reset(new char[capacity_]);
}

bool StringArena::Copy(std::string_view s, std::string_view* copy) {
  if (s.size() > capacity_ - used_) return false;
  char* begin = data_.get() + used_;
  if (!s.empty()) std::memcpy(begin, s.data(), s.size());
  used_ += s.size();
  *copy = std::string_view(begin, s.size());
  return true;
}

simdjson::error_code ScanValue(od::value& value, int depth, StringArena* arena,
                               ScannedValue* out) {
  const std::string_view token = value.raw_json_token();
  switch (token.empty() ? '\0' : token.front()) {
    case '"':
      return ScanString(value, token, arena, out);
    case '{': {
      if (depth > kMaxJsonNesting) return simdjson::DEPTH_ERROR;
      od::object object;
      SIMDJSON_TRY(value.get_object().get(object));
      for (auto field_or : object) {
        od::field field;
        std::string_view key;
        ScannedValue ignored;
        SIMDJSON_TRY(std::move(field_or).get(field));
        SIMDJSON_TRY(ReadKey(field, &key));
        SIMDJSON_TRY(ScanValue(field.value(), depth + 1, nullptr, &ignored));
      }
      *out = ScannedValue{out->present, JsonKind::kObject, {}, 0};
      return simdjson::SUCCESS;
    }
    case '[': {
      if (depth > kMaxJsonNesting) return simdjson::DEPTH_ERROR;
      od::array array;
      SIMDJSON_TRY(value.get_array().get(array));
      for (auto element_or : array) {
        od::value element;
        ScannedValue ignored;
        SIMDJSON_TRY(std::move(element_or).get(element));
        SIMDJSON_TRY(ScanValue(element, depth + 1, nullptr, &ignored));
      }
      *out = ScannedValue{out->present, JsonKind::kArray, {}, 0};
      return simdjson::SUCCESS;
    }
    default:
      return ScanAtom(token, out);
  }
}

simdjson::error_code ScanRoot(od::document& doc, std::string_view text, JsonKind* kind) {
  ScannedValue scanned;
  switch (text.front()) {
    case '"': {
      std::string_view unescaped;
      SIMDJSON_TRY(doc.get_string().get(unescaped));  // checks the escapes
      scanned.kind = JsonKind::kString;
      break;
    }
    case '[':
    case '{': {
      od::value value;
      SIMDJSON_TRY(doc.get_value().get(value));
      SIMDJSON_TRY(ScanValue(value, 1, nullptr, &scanned));
      break;
    }
    default: {
      // Any other scalar: one token, which must be the whole text.
      std::string_view token;
      SIMDJSON_TRY(doc.raw_json_token().get(token));
      token = TrimRight(token);
      if (token.size() != text.size()) return simdjson::TRAILING_CONTENT;
      SIMDJSON_TRY(ScanAtom(token, &scanned));
      *kind = scanned.kind;
      return simdjson::SUCCESS;
    }
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return simdjson::TRAILING_CONTENT;
  }
  *kind = scanned.kind;
  return simdjson::SUCCESS;
}

}  // namespace consensusd::consumer
