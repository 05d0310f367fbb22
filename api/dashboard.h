// The dashboard of SPEC 5.5: one self-contained HTML page (no build step, no
// internet) served at GET /, reading the JSON API. The page is
// api/dashboard.html, compiled into the binary.
//
//   RegisterDashboard(server.routes());
#ifndef CONSENSUSD_API_DASHBOARD_H_
#define CONSENSUSD_API_DASHBOARD_H_

namespace httplib {
class Server;
}

namespace consensusd::api {

void RegisterDashboard(httplib::Server& server);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_DASHBOARD_H_
