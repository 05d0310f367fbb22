// Builds input messages (SPEC 3.1), the inverse of MessageDecoder: what
// `produce` and `demo` publish.
//
//   std::string json;
//   AppendLabelMessage({.task = "t-1", .worker = "ann-17", .label = "positive"}, json);
#ifndef CONSENSUSD_CONSUMER_LABEL_MESSAGE_H_
#define CONSENSUSD_CONSUMER_LABEL_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace consensusd::consumer {

struct LabelMessage {
  std::string_view project;  // omitted when empty (the default project)
  std::string_view task;
  std::string_view worker;   // empty: a gold declaration of `label`
  std::string_view label;
  int64_t ts_ms = -1;        // omitted when negative
};

// Appends the message as one JSON object (no newline).
void AppendLabelMessage(const LabelMessage& m, std::string& out);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_LABEL_MESSAGE_H_
