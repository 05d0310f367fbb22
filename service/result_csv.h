// The CSVs consensusd writes for a fitted model (SPEC 5.1): consensus labels,
// whose first columns are always task,label,confidence, and the worker report,
// whose first columns are always worker,answers,accuracy.
//
//   absl::Status s = WriteLabelsCsv(d.tasks, d.classes, model, /*posteriors=*/true, "out.csv");
#ifndef CONSENSUSD_SERVICE_RESULT_CSV_H_
#define CONSENSUSD_SERVICE_RESULT_CSV_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "consensus/aggregate.h"
#include "consensus/id_table.h"
#include "consensus/report.h"
#include "engine/views.h"

namespace consensusd::service {

// Columns task,label,confidence and, with `posteriors`, one p:<class> column
// per class in class-id order (engine/consensus_record.h: the same bytes as
// `export` and the HTTP export). One row per task, in task-id order.
// REQUIRES: model was fitted on answers whose ids index `tasks` and `classes`.
absl::Status WriteLabelsCsv(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                            const consensus::Model& model, bool posteriors,
                            const std::string& path);

// Columns worker,answers,accuracy,gold_answers,gold_accuracy,agreement,
// spam_score,flagged; gold_accuracy is empty for a worker without gold answers,
// flagged is true or false. One row per worker, in worker-id order.
absl::Status WriteWorkersCsv(const std::vector<engine::WorkerRow>& rows, const std::string& path);

// The rows of workers' reports. REQUIRES: reports.size() == workers.size().
std::vector<engine::WorkerRow> WorkerRows(const consensus::IdTable& workers,
                                          const std::vector<consensus::WorkerReport>& reports);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_RESULT_CSV_H_
