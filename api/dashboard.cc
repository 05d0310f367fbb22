#include "api/dashboard.h"

#include <httplib.h>

#include <string>

#include "api/dashboard_html.h"  // generated from api/dashboard.html

namespace consensusd::api {

void RegisterDashboard(httplib::Server& server) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kDashboardHtml), "text/html; charset=utf-8");
  });
}

}  // namespace consensusd::api
