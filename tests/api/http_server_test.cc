// HttpServer: binding (early failure on a bad address), the health routes,
// and stopping.

#include "api/http_server.h"

#include <httplib.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace consensusd::api {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::unique_ptr<HttpServer> BindOrDie(const std::string& address) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Bind(address, 1 << 20);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// Starts the server and waits until it accepts connections.
void StartAndWait(HttpServer& server) {
  server.Start();
  for (int i = 0; i < 2000 && !server.routes().is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(server.routes().is_running());
}

TEST(HttpServerTest, PortZeroPicksAFreePort) {
  std::unique_ptr<HttpServer> server = BindOrDie("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(server->address(), MatchesRegex("127\\.0\\.0\\.1:[1-9][0-9]*"));
}

TEST(HttpServerTest, AddressWithoutAPortIsInvalid) {
  for (const char* address : {"localhost", ":8080", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1"}) {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Bind(address, 1 << 20);
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << address << ": " << server.status();
    EXPECT_THAT(std::string(server.status().message()), HasSubstr("host:port")) << address;
  }
}

// Regression (fixed): httplib's default socket options set SO_REUSEPORT as well as
// SO_REUSEADDR, so a second Bind() of a port in use by the same user succeeds,
// and the kernel then splits connections between the two servers (two
// consensusd instances on one http.address both start, each answering a
// share of the requests). Bind() should set only SO_REUSEADDR
// (httplib::Server::set_socket_options).
TEST(HttpServerTest, PortInUseFailsAtBind) {
  std::unique_ptr<HttpServer> first = BindOrDie("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Bind(first->address(), 1 << 20);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(first->address()));
}

TEST(HttpServerTest, HealthRoutesAnswerForLivenessReadinessAndMetrics) {
  std::unique_ptr<HttpServer> server = BindOrDie("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  std::atomic<bool> ready{false};
  RegisterHealthRoutes(
      server->routes(), [&] { return Readiness{.ready = ready.load()}; },
      [] { return std::string("up 1\n"); });
  StartAndWait(*server);
  httplib::Client client("http://" + server->address());
  httplib::Result healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  httplib::Result not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  ready = true;
  httplib::Result is_ready = client.Get("/readyz");
  ASSERT_TRUE(is_ready);
  EXPECT_EQ(is_ready->status, 200);
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body, "up 1\n");
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("text/plain"));
  server->Stop();
}

TEST(HttpServerTest, StopEndsServing) {
  std::unique_ptr<HttpServer> server = BindOrDie("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  RegisterHealthRoutes(
      server->routes(), [] { return Readiness{.ready = true}; }, [] { return std::string(); });
  StartAndWait(*server);
  server->Stop();
  httplib::Client client("http://" + server->address());
  client.set_connection_timeout(1, 0);
  EXPECT_FALSE(client.Get("/healthz"));
}

TEST(HttpServerTest, ReadyzBodySaysWhichPartitionsRestoreAndWhetherBrokersAnswer) {
  std::unique_ptr<HttpServer> server = BindOrDie("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  std::atomic<bool> restoring{true};
  RegisterHealthRoutes(
      server->routes(),
      [&] {
        const int r = restoring.load() ? 1 : 0;
        return Readiness{.ready = r == 0,
                         .reason = r ? "partitions restoring" : "",
                         .partitions_owned = 3,
                         .partitions_restoring = r,
                         .partitions_ready = 3 - r,
                         .brokers = "up"};
      },
      [] { return std::string(); });
  StartAndWait(*server);
  httplib::Client client("http://" + server->address());
  httplib::Result not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(not_ready->body,
            "{\"brokers\":\"up\",\"partitions\":{\"owned\":3,\"ready\":2,\"restoring\":1},"
            "\"ready\":false,\"reason\":\"partitions restoring\"}\n");
  EXPECT_THAT(not_ready->get_header_value("Content-Type"), HasSubstr("application/json"));
  restoring = false;
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body,
            "{\"brokers\":\"up\",\"partitions\":{\"owned\":3,\"ready\":3,\"restoring\":0},"
            "\"ready\":true}\n");
  server->Stop();
}

// Binds, starts and at once stops a server, 20 times, under alarm(5): a Stop()
// that never returns ends the child with SIGALRM.
void StartThenStopAtOnce() {
  alarm(5);
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Bind("127.0.0.1:0", 1 << 20);
    if (!server.ok()) std::_Exit(2);
    (*server)->Start();
    (*server)->Stop();
  }
  std::_Exit(0);
}

// Regression (fixed): Start() runs listen_after_bind() on a new thread, and
// httplib's stop() does nothing until that thread has set is_running(); a
// Stop() (or the destructor) that comes first then joins a thread that
// listens forever. The service hits it when start-up fails right after the
// HTTP server started (e.g. the restore fails at once).
TEST(HttpServerDeathTest, StopRightAfterStartReturns) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(StartThenStopAtOnce(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace consensusd::api
