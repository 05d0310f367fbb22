// JSON views of projects, tasks and workers (SPEC 4.3, 5.3).
//
//   std::lock_guard<std::mutex> lock(project.mu);
//   nlohmann::json j = TaskView(project, task);
#ifndef CONSENSUSD_API_VIEWS_H_
#define CONSENSUSD_API_VIEWS_H_

#include <cstdint>

#include "consumer/project_set.h"
#include "nlohmann/json.hpp"

namespace consensusd::api {

// Each REQUIRES project.mu held.
nlohmann::json ProjectSummary(const consumer::Project& project);
nlohmann::json ProjectView(const consumer::Project& project);
nlohmann::json TaskView(const consumer::Project& project, int32_t task);
// The list row of a worker (no confusion matrix).
nlohmann::json WorkerRow(const consumer::Project& project, int32_t worker);
// The full view: WorkerRow plus the live confusion matrix and the classes.
nlohmann::json WorkerView(const consumer::Project& project, int32_t worker);

// Whether the task needs review under the project's thresholds.
bool TaskNeedsReview(const consumer::Project& project, int32_t task);

// A double, or null when it is not finite (JSON has no NaN).
nlohmann::json Number(double v);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_VIEWS_H_
