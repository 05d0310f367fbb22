#include "engine/reject_reason.h"

namespace consensusd::engine {

std::string_view ReasonCode(RejectReason reason) {
  switch (reason) {
    case RejectReason::kMalformedJson:
      return "malformed_json";
    case RejectReason::kMissingField:
      return "missing_field";
    case RejectReason::kBadType:
      return "bad_type";
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kIdTooLong:
      return "id_too_long";
    case RejectReason::kUnknownClass:
      return "unknown_class";
    case RejectReason::kTooManyClasses:
      return "too_many_classes";
    case RejectReason::kWrongKind:
      return "wrong_kind";
    case RejectReason::kOutOfScale:
      return "out_of_scale";
    case RejectReason::kItemMismatch:
      return "item_mismatch";
  }
  return "unknown";
}

}  // namespace consensusd::engine
