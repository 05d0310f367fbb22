// What the JSON API (SPEC 5.3) reads from a request, parsed without a server:
// the URL-decoded path segments and the query parameters of the paged lists
// and of the export. RestApi's handlers call these; tests and fuzzers call them
// directly with a request target and httplib's parsed parameters.
//
//   std::vector<std::string> p = PathSegments("/v1/projects/a%2Fb/tasks");  // projects, a/b, tasks
//   absl::StatusOr<TaskListQuery> q = ParseTaskListQuery(req.params);
//   if (!q.ok()) return SendError(res, 400, std::string(q.status().message()));
#ifndef CONSENSUSD_API_REQUEST_PARAMS_H_
#define CONSENSUSD_API_REQUEST_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace consensusd::api {

// A request's query parameters as httplib parses them (httplib::Params): a key
// may repeat, and the first occurrence is the one that counts.
using QueryParams = std::multimap<std::string, std::string>;

inline constexpr int64_t kDefaultLimit = 50;  // rows per page without `limit`
inline constexpr int64_t kMaxLimit = 1000;

// The path after "/v1/" (the query string dropped), split on '/' and
// URL-decoded per segment, so that an id may hold '/' as %2F. Empty when the
// target has no "/v1/". "+" stays "+" in a path.
std::vector<std::string> PathSegments(std::string_view target);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points beyond U+10FFFF).
bool IsUtf8(std::string_view s);

// GET .../tasks?needs_review=true|false&limit=&cursor=
struct TaskListQuery {
  int64_t limit = kDefaultLimit;  // in [1, kMaxLimit]
  int review_filter = -1;         // 1: only tasks that need review, 0: only those that do not, -1: all
  std::string cursor;             // empty: the first page
};
// InvalidArgument with a message for the client on a bad parameter.
absl::StatusOr<TaskListQuery> ParseTaskListQuery(const QueryParams& params);

// GET .../workers?sort=accuracy|answers|spam&order=asc|desc&limit=&cursor=
struct WorkerListQuery {
  int64_t limit = kDefaultLimit;  // in [1, kMaxLimit]
  engine::WorkerSort sort = engine::WorkerSort::kAnswers;
  bool ascending = false;
  std::string cursor;  // opaque to this layer; the engine checks it
};
absl::StatusOr<WorkerListQuery> ParseWorkerListQuery(const QueryParams& params);

// GET .../export?format=csv|jsonl&posteriors=true|false&min_confidence=
// On success min_confidence is in [0, 1] (never NaN).
absl::StatusOr<engine::ExportFormat> ParseExportQuery(const QueryParams& params);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_REQUEST_PARAMS_H_
