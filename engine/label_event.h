// LabelEvent: one decoded input element (an answer, a gold declaration or a
// retraction), as the transports hand it to the engine (SPEC 3.1).
#ifndef CONSENSUSD_ENGINE_LABEL_EVENT_H_
#define CONSENSUSD_ENGINE_LABEL_EVENT_H_

#include <cstdint>
#include <string_view>

#include "engine/project_kind.h"

namespace consensusd::engine {

// The string views belong to the caller and need to stay valid only during
// the call that receives the event.
struct LabelEvent {
  enum class Kind { kAnswer, kGold, kRetract };
  Kind kind = Kind::kAnswer;
  std::string_view project;  // "default" when absent
  std::string_view task;
  std::string_view worker;   // empty for kGold
  std::string_view label;    // the answer's class for kAnswer, the gold class for kGold, empty for kRetract
  // The kind of project an answer or gold belongs to (SPEC 3.1a). A
  // retraction fits every kind: kUnset.
  ProjectKind answer_kind = ProjectKind::kCategorical;
  // kPairwise: the items shown left and right; `label` is left, right, tie
  // or one of the two items.
  std::string_view left, right;
  double rating = 0;  // kRating: the rating, a finite number
  int64_t ts_ms = -1;        // -1 when absent
  // The input message's offset in its partition, -1 unknown. Under a
  // project's `repeats: count` an answer of a message below the partition's
  // stored offset was counted before (a replay) and is not counted again.
  int64_t offset = -1;
  std::string_view raw;      // the element's original bytes, for rejecting it later (unknown_class, ...)
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_LABEL_EVENT_H_
