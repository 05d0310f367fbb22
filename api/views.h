// JSON forms of the engine's read views (SPEC 4.3, 5.3).
//
//   std::optional<engine::TaskView> t = engine.Task(project, task);
//   nlohmann::json j = TaskJson(*t);
#ifndef CONSENSUSD_API_VIEWS_H_
#define CONSENSUSD_API_VIEWS_H_

#include "engine/views.h"
#include "nlohmann/json.hpp"

namespace consensusd::api {

nlohmann::json ProjectSummaryJson(const engine::ProjectSummary& s);
nlohmann::json ProjectJson(const engine::ProjectView& v);
nlohmann::json TaskJson(const engine::TaskView& v);
// The list row of a worker (no confusion matrix).
nlohmann::json WorkerRowJson(const engine::WorkerRow& r);
// The full view: the row plus the confusion matrix and the classes.
nlohmann::json WorkerJson(const engine::WorkerView& v);

// A double, or null when it is not finite (JSON has no NaN).
nlohmann::json Number(double v);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_VIEWS_H_
