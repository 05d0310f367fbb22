// The consensus record of one task, as published to the consensus topic and
// exported as JSONL:
//   {"project","task","label","confidence","posterior":{class:p},"answers","gold","updated_ms"}
//
//   std::string line;
//   AppendConsensusJson(project.name, model, task, NowMs(), line);
#ifndef CONSENSUSD_CONSUMER_CONSENSUS_RECORD_H_
#define CONSENSUSD_CONSUMER_CONSENSUS_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "consensus/streaming_model.h"

namespace consensusd::consumer {

// Appends `s` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string& out, std::string_view s);
// Appends a probability: the shortest text that reads back as the same double.
void AppendProbability(std::string& out, double p);

// Appends the task's record. REQUIRES: the model has at least one class.
void AppendConsensusJson(std::string_view project, const consensus::StreamingModel& model,
                         int32_t task, int64_t updated_ms, std::string& out);

// The record key: "project/task".
std::string ConsensusKey(std::string_view project, std::string_view task);

int64_t NowMs();

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_CONSENSUS_RECORD_H_
