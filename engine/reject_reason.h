// RejectReason: why an input element was not applied (SPEC 3.2). Each reason has
// a stable reason code, the value of the dead-letter header `consensusd-error`
// and of the `reason` label of `consensusd_messages_rejected_total`.
//
//   ReasonCode(RejectReason::kMissingField) == "missing_field"
//   for (RejectReason r : kAllRejectReasons) metrics.Rejected(ReasonCode(r));  // pre-create series
#ifndef CONSENSUSD_ENGINE_REJECT_REASON_H_
#define CONSENSUSD_ENGINE_REJECT_REASON_H_

#include <array>
#include <string_view>

namespace consensusd::engine {

enum class RejectReason {
  kMalformedJson,   // not valid JSON
  kMissingField,    // a required field is absent
  kBadType,         // a field or element has the wrong JSON type or an empty value
  kTooLarge,        // the whole message exceeds kMaxMessageBytes
  kIdTooLong,       // an id or class name exceeds kMaxIdBytes
  kUnknownClass,    // a label outside the project's declared class set
  kTooManyClasses,  // a new label beyond the project's max_classes
  kWrongKind,       // an answer of another kind than the project's (SPEC 3.1a)
  kOutOfScale,      // a rating outside the project's declared scale
  kItemMismatch,    // a pairwise vote on a task that compares other items
};

inline constexpr std::array<RejectReason, 10> kAllRejectReasons = {
    RejectReason::kMalformedJson, RejectReason::kMissingField,   RejectReason::kBadType,
    RejectReason::kTooLarge,      RejectReason::kIdTooLong,      RejectReason::kUnknownClass,
    RejectReason::kTooManyClasses, RejectReason::kWrongKind,     RejectReason::kOutOfScale,
    RejectReason::kItemMismatch,
};

// The reason code: "malformed_json", "missing_field", "bad_type", "too_large",
// "id_too_long", "unknown_class", "too_many_classes", "wrong_kind",
// "out_of_scale", "item_mismatch". Part of the contract.
std::string_view ReasonCode(RejectReason reason);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_REJECT_REASON_H_
