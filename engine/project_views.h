// Building the read views (views.h) of one project. Internal to engine/:
// each function REQUIRES project.mu held.
#ifndef CONSENSUSD_ENGINE_PROJECT_VIEWS_H_
#define CONSENSUSD_ENGINE_PROJECT_VIEWS_H_

#include <cstdint>

#include "engine/project.h"
#include "engine/views.h"

namespace consensusd::engine {

ProjectSummary SummaryOf(const Project& project);
ProjectView ProjectViewOf(const Project& project);
TaskView TaskViewOf(const Project& project, int32_t task);
WorkerRow WorkerRowOf(const Project& project, int32_t worker);
WorkerView WorkerViewOf(const Project& project, int32_t worker);

// Whether the task needs review under the project's thresholds.
bool TaskNeedsReview(const Project& project, int32_t task);
// Whether the task is listed and exported: it has answers or gold.
bool TaskListed(const Project& project, int32_t task);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_PROJECT_VIEWS_H_
