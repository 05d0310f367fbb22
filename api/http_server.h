// HttpServer: the service's HTTP endpoint (cpp-httplib), bound at start-up so
// that a bad address fails early, serving on its own threads until Stop().
//
//   auto server = HttpServer::Bind("127.0.0.1:0", /*max_body_bytes=*/1 << 20);
//   RegisterHealthRoutes((*server)->routes(), readiness_fn, metrics_fn);
//   (*server)->Start();   // (*server)->address() is "127.0.0.1:<port>"
#ifndef CONSENSUSD_API_HTTP_SERVER_H_
#define CONSENSUSD_API_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "api/http_front.h"

namespace httplib {
class Server;
}

namespace consensusd::api {

class HttpServer {
 public:
  // `address` is host:port; port 0 picks a free port. Connections are read
  // by an HttpFront (api/http_front.h): whole requests within a deadline,
  // /healthz, /readyz and /metrics on threads of their own.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Bind(const std::string& address,
                                                          const HttpOptions& options);
  static absl::StatusOr<std::unique_ptr<HttpServer>> Bind(const std::string& address,
                                                          size_t max_body_bytes) {
    HttpOptions options;
    options.max_body_bytes = max_body_bytes;
    return Bind(address, options);
  }
  ~HttpServer();

  // Register routes before Start().
  httplib::Server& routes();
  void Start();
  void Stop();
  // host:port actually bound.
  const std::string& address() const { return address_; }

 private:
  class FrontedServer;
  explicit HttpServer(const HttpOptions& options);

  std::unique_ptr<FrontedServer> server_;
  std::string address_;
  std::thread thread_;
};

// What GET /readyz reports (SPEC 5.3, docs/api.md).
struct Readiness {
  bool ready = false;
  std::string reason;  // why not, when not ready
  int partitions_owned = 0;
  int partitions_restoring = 0;
  int partitions_ready = 0;
  std::string brokers = "unknown";  // "up", "down" or "unknown" (not reached yet)
};

// {"ready":false,"partitions":{"owned":2,"restoring":1,"ready":1},"brokers":"up",
//  "reason":"..."} (reason only when not ready), one line.
std::string ReadinessJson(const Readiness& readiness);

// GET /healthz (200 while running), GET /readyz (200 when readiness().ready,
// else 503; the body is ReadinessJson), GET /metrics (Prometheus text format
// from render_metrics()).
void RegisterHealthRoutes(httplib::Server& server, std::function<Readiness()> readiness,
                          std::function<std::string()> render_metrics);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_HTTP_SERVER_H_
