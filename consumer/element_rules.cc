#include "consumer/element_rules.h"

#include <charconv>
#include <cmath>

namespace consensusd::consumer {
namespace {

using engine::ProjectKind;

constexpr std::string_view kDefaultProject = "default";

enum Accepts : unsigned { kString = 1, kInteger = 2, kBool = 4 };

bool Accepted(JsonKind kind, unsigned accepts) {
  return (kind == JsonKind::kString && (accepts & kString)) ||
         (kind == JsonKind::kInteger && (accepts & kInteger)) ||
         (kind == JsonKind::kBool && (accepts & kBool));
}

std::string FieldName(std::string_view name) { return "field '" + std::string(name) + "'"; }

// Checks an id or class field that is present. On success sets *text.
bool CheckText(const ScannedValue& v, std::string_view name, unsigned accepts,
               std::string_view accepted, std::string_view* text, ElementFailure* failure) {
  if (!Accepted(v.kind, accepts)) {
    *failure = {RejectReason::kBadType, FieldName(name) + " must be " + std::string(accepted) +
                                            ", not " + std::string(KindPhrase(v.kind))};
    return false;
  }
  if (v.bytes == 0) {
    *failure = {RejectReason::kBadType, FieldName(name) + " must not be empty"};
    return false;
  }
  if (v.bytes > kMaxIdBytes) {
    *failure = {RejectReason::kIdTooLong, FieldName(name) + " is " + std::to_string(v.bytes) +
                                              " bytes, the limit is " +
                                              std::to_string(kMaxIdBytes)};
    return false;
  }
  *text = v.text;
  return true;
}

bool CheckRequiredText(const ScannedValue& v, std::string_view name, std::string_view needed_for,
                       unsigned accepts, std::string_view accepted, std::string_view* text,
                       ElementFailure* failure) {
  if (!v.present) {
    *failure = {RejectReason::kMissingField, FieldName(name) + " is missing" +
                                                 std::string(needed_for)};
    return false;
  }
  return CheckText(v, name, accepts, accepted, text, failure);
}

bool CheckTimestamp(const ScannedValue& v, int64_t* ts_ms, ElementFailure* failure) {
  if (!v.present) return true;
  const std::string_view expected = "must be a non-negative integer (epoch milliseconds)";
  if (v.kind != JsonKind::kInteger) {
    *failure = {RejectReason::kBadType, FieldName("ts") + " " + std::string(expected) + ", not " +
                                            std::string(KindPhrase(v.kind))};
    return false;
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), value);
  if (ec != std::errc() || end != v.text.data() + v.text.size() || value < 0) {
    *failure = {RejectReason::kBadType,
                FieldName("ts") + " " + std::string(expected) + ", got " + std::string(v.text)};
    return false;
  }
  *ts_ms = value;
  return true;
}

// Checks a present rating: a finite JSON number. On success sets *rating.
bool CheckRating(const ScannedValue& v, double* rating, ElementFailure* failure) {
  if (v.kind != JsonKind::kInteger && v.kind != JsonKind::kFloat) {
    *failure = {RejectReason::kBadType, FieldName("rating") + " must be a number, not " +
                                            std::string(KindPhrase(v.kind))};
    return false;
  }
  const auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), *rating);
  if (ec != std::errc() || end != v.text.data() + v.text.size() || !std::isfinite(*rating)) {
    *failure = {RejectReason::kBadType,
                FieldName("rating") + " must be a finite number, got " + std::string(v.text)};
    return false;
  }
  return true;
}

}  // namespace

bool ValidateElement(const ElementFields& f, ElementEvents* out, ElementFailure* failure) {
  constexpr unsigned kId = kString | kInteger;
  constexpr unsigned kClass = kString | kInteger | kBool;
  constexpr std::string_view kIdTypes = "a string or an integer";
  constexpr std::string_view kClassTypes = "a string, an integer or a boolean";

  if (f.duplicate != nullptr) {
    *failure = {RejectReason::kMalformedJson,
                std::string("field '") + f.duplicate + "' appears twice in one element"};
    return false;
  }
  LabelEvent common;
  if (!CheckRequiredText(f.task, "task", "", kId, kIdTypes, &common.task, failure)) return false;
  common.project = kDefaultProject;
  if (f.project.present &&
      !CheckText(f.project, "project", kString, "a string", &common.project, failure)) {
    return false;
  }
  if (!CheckTimestamp(f.ts, &common.ts_ms, failure)) return false;
  bool retract = false;
  if (f.retract.present) {
    if (f.retract.kind != JsonKind::kBool) {
      *failure = {RejectReason::kBadType, FieldName("retract") + " must be a boolean, not " +
                                              std::string(KindPhrase(f.retract.kind))};
      return false;
    }
    retract = f.retract.text == "true";
  }
  const bool pairwise = f.left.present || f.right.present;
  out->has_worker_event = retract || f.label.present || f.rating.present || pairwise;
  out->has_gold = f.gold.present;
  if (!out->has_worker_event && !out->has_gold) {
    *failure = {RejectReason::kMissingField,
                "element needs 'label' (an answer), 'rating' (a rating), 'gold' (a gold "
                "declaration) or 'retract': true (a retraction)"};
    return false;
  }
  if (!retract && f.rating.present && (f.label.present || pairwise)) {
    *failure = {RejectReason::kBadType,
                "an answer has 'rating' (a rating) or 'label' (a class, or with 'left' and "
                "'right' a preference), not both"};
    return false;
  }
  if (out->has_worker_event) {
    LabelEvent& e = out->worker_event;
    e = common;
    e.kind = retract ? LabelEvent::Kind::kRetract : LabelEvent::Kind::kAnswer;
    const std::string_view needed_for =
        retract ? " (required for a retraction)" : " (required for an answer)";
    if (!CheckRequiredText(f.worker, "worker", needed_for, kId, kIdTypes, &e.worker, failure)) {
      return false;
    }
    if (retract) {
      e.answer_kind = ProjectKind::kUnset;  // a retraction fits every kind
    } else if (f.rating.present) {
      e.answer_kind = ProjectKind::kRating;
      if (!CheckRating(f.rating, &e.rating, failure)) return false;
    } else if (pairwise) {
      e.answer_kind = ProjectKind::kPairwise;
      constexpr std::string_view kVote = " (required for a pairwise vote)";
      if (!CheckRequiredText(f.left, "left", kVote, kId, kIdTypes, &e.left, failure) ||
          !CheckRequiredText(f.right, "right", kVote, kId, kIdTypes, &e.right, failure)) {
        return false;
      }
      if (e.left == e.right) {
        *failure = {RejectReason::kBadType, "fields 'left' and 'right' are the same item '" +
                                                std::string(e.left) + "': a vote compares two"};
        return false;
      }
      if (!CheckRequiredText(f.label, "label", " (required for a pairwise vote: left, right, tie "
                             "or one of the two items)", kId, kIdTypes, &e.label, failure)) {
        return false;
      }
    } else if (!CheckText(f.label, "label", kClass, kClassTypes, &e.label, failure)) {
      return false;
    }
  }
  if (out->has_gold) {
    LabelEvent& e = out->gold;
    e = common;
    e.kind = LabelEvent::Kind::kGold;
    if (!CheckText(f.gold, "gold", kClass, kClassTypes, &e.label, failure)) return false;
  }
  return true;
}

}  // namespace consensusd::consumer
