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

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Bind(const std::string& address,
                                                              size_t max_body_bytes) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http address '", address, "' is not host:port: set http.address or --http, e.g. 127.0.0.1:8080"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->server_->set_payload_max_length(max_body_bytes);
  server->server_->set_read_timeout(10, 0);
  server->server_->set_write_timeout(30, 0);
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
  server->address_ = absl::StrCat(address.substr(0, colon), ":", port);
  return server;
}

void HttpServer::Start() {
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
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
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
