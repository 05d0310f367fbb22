// The JSON API of SPEC 5.3 under /v1/, plus /v1/status for the dashboard.
//
//   RegisterApiRoutes(server.routes(), ApiContext{...});
//
// Ids in paths are URL-decoded per segment (so ids may hold '/', as %2F).
// Errors are {"error": "..."} with the right status. Admin calls (exclude,
// include, recompute) need `Authorization: Bearer <token>`: 403 when no token
// is configured, 401 on a missing or wrong one (compared in constant time).
// Everything goes through the engine's facade (no lock is taken here); the
// export streams in chunks so that ingestion goes on. Paged lists use keyset
// cursors: `next_cursor` of one page is the `cursor` of the next.
#ifndef CONSENSUSD_API_REST_API_H_
#define CONSENSUSD_API_REST_API_H_

#include <cstdint>
#include <functional>
#include <string>

#include "engine/engine.h"

namespace httplib {
class Server;
}

namespace consensusd::api {

struct ApiContext {
  engine::Engine* engine = nullptr;
  std::string admin_token;  // empty: admin calls answer 403
  std::function<bool()> ready;
  std::function<int64_t()> answers_committed;
  std::function<int64_t()> messages_consumed;
};

void RegisterApiRoutes(httplib::Server& server, ApiContext context);

// Constant-time comparison of a presented token with the configured one.
bool TokenMatches(const std::string& presented, const std::string& expected);
// Whether an Authorization header is "Bearer <expected>" (scheme in any case).
bool AuthorizationMatches(const std::string& header, const std::string& expected);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_REST_API_H_
