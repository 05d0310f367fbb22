#include "api/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace consensusd::api {
namespace {

// Runs each accepted socket's task at once, on the accept thread: the task
// only hands the socket to the HttpFront.
class InlineTaskQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

bool IsProbePath(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

}  // namespace

// httplib's server with its connection handling replaced by an HttpFront:
// httplib accepts, parses and routes; the front reads the requests.
class HttpServer::FrontedServer final : public httplib::Server {
 public:
  explicit FrontedServer(const HttpOptions& options)
      : front_(
            options,
            [this](httplib::Stream& stream, bool close_connection, bool* connection_closed) {
              return process_request(stream, close_connection, *connection_closed, {});
            },
            IsProbePath) {
    new_task_queue = [] { return new InlineTaskQueue; };
  }

  HttpFront& front() { return front_; }

  // httplib listens with a backlog of 5: a burst of connections beyond it
  // waits for the client's SYN retry, a second or more. listen() again on the
  // bound socket sets the backlog.
  void RaiseBacklog() { ::listen(svr_sock_, SOMAXCONN); }

 private:
  bool process_and_close_socket(socket_t sock) override {
    front_.Adopt(sock);
    return true;
  }

  HttpFront front_;
};

HttpServer::HttpServer(const HttpOptions& options) : server_(std::make_unique<FrontedServer>(options)) {}

httplib::Server& HttpServer::routes() { return *server_; }

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Bind(const std::string& address,
                                                              const HttpOptions& options) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http address '", address, "' is not host:port: set http.address or --http, e.g. 127.0.0.1:8080"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::unique_ptr<HttpServer> server(new HttpServer(options));
  server->server_->set_payload_max_length(options.max_body_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a
  // second instance bind the same address and take half the requests.
  server->server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const char*>(&yes), sizeof yes);
  });
  if (port == 0) {
    port = server->server_->bind_to_any_port(host);
    if (port < 0) return absl::UnavailableError(absl::StrCat("cannot bind HTTP on ", address));
  } else if (!server->server_->bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot bind HTTP on ", address, ": the port is in use or the host is not local; set http.address"));
  }
  server->server_->RaiseBacklog();
  server->address_ = absl::StrCat(address.substr(0, colon), ":", port);
  return server;
}

void HttpServer::Start() {
  server_->front().Start();
  auto done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, done] {
    server_->listen_after_bind();
    *done = true;
  });
  // httplib's stop() does nothing before the listen loop runs: wait for it,
  // so that a Stop() right after Start() returns.
  while (!server_->is_running() && !*done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_->front().Stop();
}

std::string ReadinessJson(const Readiness& r) {
  nlohmann::json body = {{"ready", r.ready},
                         {"partitions",
                          {{"owned", r.partitions_owned},
                           {"restoring", r.partitions_restoring},
                           {"ready", r.partitions_ready}}},
                         {"brokers", r.brokers}};
  if (!r.ready) body["reason"] = r.reason;
  return body.dump() + "\n";
}

void RegisterHealthRoutes(httplib::Server& server, std::function<Readiness()> readiness,
                          std::function<std::string()> render_metrics) {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  server.Get("/readyz", [readiness](const httplib::Request&, httplib::Response& res) {
    const Readiness r = readiness();
    if (!r.ready) res.status = 503;
    res.set_content(ReadinessJson(r), "application/json");
  });
  server.Get("/metrics", [render_metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace consensusd::api
