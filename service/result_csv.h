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

namespace consensusd::service {

// Columns task,label,confidence and, with `posteriors`, one p:<class> column
// per class in class-id order. One row per task, in task-id order.
// REQUIRES: model was fitted on answers whose ids index `tasks` and `classes`.
absl::Status WriteLabelsCsv(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                            const consensus::Model& model, bool posteriors,
                            const std::string& path);

// Columns worker,answers,accuracy,gold_answers,gold_accuracy,agreement,
// spam_score,flagged; gold_accuracy is empty for a worker without gold answers,
// flagged is true or false. One row per worker, in worker-id order.
// REQUIRES: reports.size() == workers.size().
absl::Status WriteWorkersCsv(const consensus::IdTable& workers,
                             const std::vector<consensus::WorkerReport>& reports,
                             const std::string& path);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_RESULT_CSV_H_
