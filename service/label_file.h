// Label files for batch use: the `task,worker,label` answers CSV of crowd-kit
// and the public data sets, and `task,label` gold / truth CSVs. Each file may
// start with its header (`task,worker,label` or `task,label`); otherwise the
// column order alone says what a column is. Answers may also come as JSON
// Lines (a path ending .jsonl or .ndjson): one input-topic message per line.
//
//   absl::StatusOr<Dataset> d = LoadDataset("labels.csv", "gold.csv",
//                                           consensus::DuplicatePolicy::kKeepLast);
//   absl::StatusOr<Model> m = consensus::Aggregate(d->matrix, {});
#ifndef CONSENSUSD_SERVICE_LABEL_FILE_H_
#define CONSENSUSD_SERVICE_LABEL_FILE_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "consensus/aggregate.h"
#include "consensus/answer_matrix.h"
#include "consensus/id_table.h"

namespace consensusd::service {

// Answers with their string ids. Task, worker and class ids are in first-seen
// order; matrix ids index the three tables.
struct Dataset {
  consensus::IdTable tasks, workers, classes;
  consensus::AnswerMatrix matrix;
  int64_t rows = 0;  // answer rows read, before duplicates are resolved
};

// True for the paths LoadDataset reads as JSON Lines: *.jsonl, *.ndjson.
bool IsJsonLinesPath(std::string_view path);

// Loads a task,worker,label CSV (or JSON Lines, see below) and, unless
// gold_path is empty, a task,label gold CSV. Sets matrix.gold and
// matrix.class_rank = SortedRank(classes). Gold classes not seen among the
// labels become classes; gold for tasks absent from the labels is ignored; a
// later gold row for a task replaces an earlier one.
// Errors name the file and line:
// "labels.csv:17: expected 3 columns (task,worker,label), got 2".
//
// JSON Lines: each line that is not blank is decoded as one message value of
// the input topic (consumer::MessageDecoder, SPEC 3), so the same elements are
// accepted, and a refused one stops the load with the decoder's reason and
// detail: "labels.jsonl:17: missing_field: field 'worker' is missing
// (required for an answer)". A batch means what the stream means at its end:
// an answer counts (subject to `duplicates`); a retraction removes the
// worker's answers to the task on earlier lines; a gold declaration is gold as
// in the gold CSV (the last one of a task wins, gold of a task without answers
// is ignored, rows of gold_path come after it). Every element must be of one
// project.
//
// An answers CSV of at least pipelined_min_bytes is read on two threads (one
// parses, one interns the task ids), with the same result: ids, order, errors.
inline constexpr int64_t kPipelinedMinBytes = 4 << 20;
absl::StatusOr<Dataset> LoadDataset(const std::string& labels_path, const std::string& gold_path,
                                    consensus::DuplicatePolicy duplicates,
                                    int64_t pipelined_min_bytes = kPipelinedMinBytes);

// OK, or why a row of a label CSV cannot be used: an empty field, or an id or
// label over the Kafka path's 256 bytes, worded as the service words it
// ("task is 300 bytes, the limit is 256"). For aggregate and produce alike.
absl::Status CheckRowFields(std::span<const char* const> header, std::span<const std::string_view> fields);

// Reads a task,label CSV into a map from task name to label name (the last row
// of a task wins).
absl::StatusOr<absl::flat_hash_map<std::string, std::string>> LoadTruth(const std::string& path);

struct AccuracyResult {
  double accuracy = 0;     // correct / evaluated; 0 when nothing was evaluated
  int64_t evaluated = 0;   // tasks of the dataset that have a truth entry
};

// The fraction of tasks with a truth entry whose consensus label equals that
// entry; labels[t] is task t's class id (-1: none, counted as wrong).
AccuracyResult Accuracy(const std::vector<std::string>& tasks,
                        const std::vector<std::string>& classes, std::span<const int32_t> labels,
                        const absl::flat_hash_map<std::string, std::string>& truth);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_LABEL_FILE_H_
