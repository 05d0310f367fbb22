// The JSON API of SPEC 5.3 under /v1/, plus /v1/status for the dashboard.
//
//   RegisterApiRoutes(server.routes(), ApiContext{...});
//
// Ids in paths are URL-decoded per segment (so ids may hold '/', as %2F).
// Errors are {"error": "..."} with the right status. Admin calls (exclude,
// include, recompute) need `Authorization: Bearer <token>`: 403 when no token
// is configured, 401 on a missing or wrong one (compared in constant time).
// Reads take the project's lock briefly; the export streams in chunks so that
// ingestion goes on.
#ifndef CONSENSUSD_API_REST_API_H_
#define CONSENSUSD_API_REST_API_H_

#include <cstdint>
#include <functional>
#include <string>

#include "consumer/project_set.h"
#include "consumer/sweeper.h"
#include "storage/state_store.h"

namespace httplib {
class Server;
}

namespace consensusd::api {

struct ApiContext {
  consumer::ProjectSet* projects = nullptr;
  consumer::Sweeper* sweeper = nullptr;
  storage::StateStore* store = nullptr;  // exclusions are persisted
  std::string admin_token;               // empty: admin calls answer 403
  std::function<bool()> ready;
  std::function<int64_t()> answers_committed;
  std::function<int64_t()> messages_consumed;
};

void RegisterApiRoutes(httplib::Server& server, ApiContext context);

// Constant-time comparison of a presented token with the configured one.
bool TokenMatches(const std::string& presented, const std::string& expected);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_REST_API_H_
