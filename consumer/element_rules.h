// The element rules of SPEC 3.1/3.2: which fields make an answer, a gold
// declaration or a retraction, their types and limits, and the order in which
// they are checked (documented on MessageDecoder). Internal to the consumer
// module; MessageDecoder fills ElementFields while it scans an element.
//
//   ElementFields fields;  // filled by scanning, the last occurrence of a key wins
//   ElementEvents events;
//   ElementFailure failure;
//   if (!ValidateElement(fields, &events, &failure)) Reject(failure.reason, failure.message);
#ifndef CONSENSUSD_CONSUMER_ELEMENT_RULES_H_
#define CONSENSUSD_CONSUMER_ELEMENT_RULES_H_

#include <string>
#include <string_view>

#include "consumer/json_scan.h"
#include "consumer/message_decoder.h"
#include "engine/reject_reason.h"

namespace consensusd::consumer {

// The fields of one element that decoding reads; the last occurrence of a key wins.
struct ElementFields {
  ScannedValue task, worker, project, label, gold, retract, ts;
  ScannedValue left, right, rating;  // pairwise votes and ratings (SPEC 3.1a)
  // The first known field that appeared twice (JSON allows it; which value
  // counts would be a guess, so the element is rejected), or nullptr.
  const char* duplicate = nullptr;

  // The slot for `key`, or nullptr for an unknown field.
  ScannedValue* Slot(std::string_view key) {
    switch (key.size()) {
      case 2:
        return key == "ts" ? &ts : nullptr;
      case 4:
        return key == "task" ? &task : key == "gold" ? &gold : key == "left" ? &left : nullptr;
      case 5:
        return key == "label" ? &label : key == "right" ? &right : nullptr;
      case 6:
        return key == "worker" ? &worker : key == "rating" ? &rating : nullptr;
      case 7:
        return key == "project" ? &project : key == "retract" ? &retract : nullptr;
      default:
        return nullptr;
    }
  }
};

// The name of one of `f`'s slots.
inline const char* FieldNameOf(const ElementFields& f, const ScannedValue* slot) {
  if (slot == &f.task) return "task";
  if (slot == &f.worker) return "worker";
  if (slot == &f.project) return "project";
  if (slot == &f.label) return "label";
  if (slot == &f.gold) return "gold";
  if (slot == &f.retract) return "retract";
  if (slot == &f.left) return "left";
  if (slot == &f.right) return "right";
  if (slot == &f.rating) return "rating";
  return "ts";
}

// What went wrong with a well-formed element.
struct ElementFailure {
  RejectReason reason;
  std::string message;
};

// The events one valid element yields: a worker event (answer or retraction)
// and/or a gold declaration.
struct ElementEvents {
  bool has_worker_event = false;
  bool has_gold = false;
  LabelEvent worker_event;
  LabelEvent gold;
};

// Applies the element rules in their documented order. On success fills *events
// (string views point where the fields' views point; raw is left empty).
bool ValidateElement(const ElementFields& fields, ElementEvents* events, ElementFailure* failure);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_ELEMENT_RULES_H_
