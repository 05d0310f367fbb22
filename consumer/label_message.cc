#include "consumer/label_message.h"

#include "engine/consensus_record.h"

namespace consensusd::consumer {

void AppendLabelMessage(const LabelMessage& m, std::string& out) {
  out.push_back('{');
  if (!m.project.empty()) {
    out += "\"project\":";
    engine::AppendJsonString(out, m.project);
    out.push_back(',');
  }
  out += "\"task\":";
  engine::AppendJsonString(out, m.task);
  if (!m.worker.empty()) {
    out += ",\"worker\":";
    engine::AppendJsonString(out, m.worker);
    out += ",\"label\":";
  } else {
    out += ",\"gold\":";
  }
  engine::AppendJsonString(out, m.label);
  if (m.ts_ms >= 0) {
    out += ",\"ts\":";
    out += std::to_string(m.ts_ms);
  }
  out.push_back('}');
}

}  // namespace consensusd::consumer
