// RecordingSink: a DecodeSink for tests that keeps every outcome, both as owned
// copies (safe after the next Decode) and as the decoder's own views (to check
// how long those stay valid), plus a one-line description of each outcome.
#ifndef CONSENSUSD_TESTS_CONSUMER_RECORDING_SINK_H_
#define CONSENSUSD_TESTS_CONSUMER_RECORDING_SINK_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "consumer/message_decoder.h"

namespace consensusd::consumer {

struct RecordedOutcome {
  bool is_event = false;
  LabelEvent view;  // the decoder's views; valid until the next Decode()
  LabelEvent::Kind kind = LabelEvent::Kind::kAnswer;
  std::string project, task, worker, label;
  engine::ProjectKind answer_kind = engine::ProjectKind::kCategorical;
  std::string left, right;
  double rating = 0;
  int64_t ts_ms = -1;
  RejectReason reason = RejectReason::kMalformedJson;
  std::string detail;
  std::string raw;
  std::string_view raw_view;
};

class RecordingSink : public DecodeSink {
 public:
  void OnEvent(const LabelEvent& e) override {
    RecordedOutcome o;
    o.is_event = true;
    o.view = e;
    o.kind = e.kind;
    o.project = std::string(e.project);
    o.task = std::string(e.task);
    o.worker = std::string(e.worker);
    o.label = std::string(e.label);
    o.answer_kind = e.answer_kind;
    o.left = std::string(e.left);
    o.right = std::string(e.right);
    o.rating = e.rating;
    o.ts_ms = e.ts_ms;
    o.raw = std::string(e.raw);
    o.raw_view = e.raw;
    outcomes.push_back(std::move(o));
  }
  void OnReject(const Rejection& r) override {
    RecordedOutcome o;
    o.reason = r.reason;
    o.detail = r.detail;
    o.raw = std::string(r.raw);
    o.raw_view = r.raw;
    outcomes.push_back(std::move(o));
  }

  // "answer(project/task/worker=label)", "gold(project/task=label)",
  // "retract(project/task/worker)", "vote(project/task/worker:left|right=label)",
  // "rating(project/task/worker=6.5)", with " ts=N" when set; "reject(reason_code)".
  std::vector<std::string> Described() const {
    std::vector<std::string> out;
    for (const RecordedOutcome& o : outcomes) out.push_back(Describe(o));
    return out;
  }

  static std::string Describe(const RecordedOutcome& o) {
    if (!o.is_event) return "reject(" + std::string(ReasonCode(o.reason)) + ")";
    std::string s;
    switch (o.kind) {
      case LabelEvent::Kind::kAnswer:
        if (o.answer_kind == engine::ProjectKind::kPairwise) {
          s = "vote(" + o.project + "/" + o.task + "/" + o.worker + ":" + o.left + "|" + o.right +
              "=" + o.label + ")";
        } else if (o.answer_kind == engine::ProjectKind::kRating) {
          char number[32];
          std::snprintf(number, sizeof number, "%g", o.rating);
          s = "rating(" + o.project + "/" + o.task + "/" + o.worker + "=" + number + ")";
        } else {
          s = "answer(" + o.project + "/" + o.task + "/" + o.worker + "=" + o.label + ")";
        }
        break;
      case LabelEvent::Kind::kGold:
        s = "gold(" + o.project + "/" + o.task + "=" + o.label + ")";
        break;
      case LabelEvent::Kind::kRetract:
        s = "retract(" + o.project + "/" + o.task + "/" + o.worker + ")";
        break;
    }
    if (o.ts_ms >= 0) s += " ts=" + std::to_string(o.ts_ms);
    return s;
  }

  std::vector<RecordedOutcome> outcomes;
};

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_TESTS_CONSUMER_RECORDING_SINK_H_
