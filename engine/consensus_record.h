// The consensus of a task in the forms consensusd writes it, one code path for
// every output: the JSON record of the consensus and review topics and of the
// JSONL exports, the consensus-label CSV rows of `aggregate --out`, `export`
// and the HTTP export, and the key of every keyed output topic.
//
//   std::string line;
//   AppendConsensusJson(project.name, model, task, NowMs(), line);
//   AppendLabelsHeader(classes.names(), /*posteriors=*/false, line);
//   AppendLabelsRow(task_name, class_name, confidence, posterior, false, line);
#ifndef CONSENSUSD_ENGINE_CONSENSUS_RECORD_H_
#define CONSENSUSD_ENGINE_CONSENSUS_RECORD_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/streaming_model.h"

namespace consensusd::engine {

// Appends `s` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string& out, std::string_view s);
// Appends a probability: the shortest text that reads back as the same double.
void AppendProbability(std::string& out, double p);

// Appends the task's record:
//   {"project","task","label","confidence","posterior":{class:p},"answers","gold","updated_ms"}
// REQUIRES: the model has at least one class.
void AppendConsensusJson(std::string_view project, const consensus::StreamingModel& model,
                         int32_t task, int64_t updated_ms, std::string& out);

// Appends `field` as an RFC 4180 CSV field: quoted when it holds a comma,
// quote, CR or LF or starts with a UTF-8 byte-order mark, with quotes doubled.
void AppendCsvField(std::string& out, std::string_view field);

// The consensus-label CSV (SPEC 5.1): `task,label,confidence`, then with
// `posteriors` one `p:<class>` column per class. Numbers are the shortest text
// that reads back as the same double. Each call appends one line with its "\n".
void AppendLabelsHeader(const std::vector<std::string>& classes, bool posteriors, std::string& out);
void AppendLabelsRow(std::string_view task, std::string_view label, double confidence,
                     std::span<const double> posterior, bool posteriors, std::string& out);

// The key of a task's records on the keyed output topics: "<project>/<task>",
// where in each part every '%' is written "%25" and every '/' "%2F", so that
// distinct (project, task) pairs never share a key and ids without '/' or '%'
// read as they are: ("a/b", "c") -> "a%2Fb/c", ("a", "b/c") -> "a/b%2Fc".
std::string ConsensusKey(std::string_view project, std::string_view task);
// Appends one part of a key with '%' written %25 and '/' written %2F.
void AppendKeyPart(std::string& out, std::string_view part);
void AppendConsensusKey(std::string_view project, std::string_view task, std::string& out);

int64_t NowMs();

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_CONSENSUS_RECORD_H_
