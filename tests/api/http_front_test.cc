// The HTTP server against clients that misbehave: slow senders, too many
// connections, oversized chunked bodies (issue 9, SPEC 5). Each test uses
// raw sockets, so that it controls every byte and when it is sent.

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http_server.h"

namespace consensusd::api {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A raw TCP connection to the server under test.
class RawClient {
 public:
  explicit RawClient(const std::string& address) {
    const size_t colon = address.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  // What arrives until the server closes, `until` appears, or `timeout` passes.
  std::string Receive(milliseconds timeout, std::string_view until = {}) {
    std::string got;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (!until.empty() && got.find(until) != std::string::npos) break;
    }
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct Served {
  std::unique_ptr<HttpServer> server;
  std::atomic<int> posts{0};
};

// A server with the health routes and POST /echo, started.
std::unique_ptr<Served> Serve(const HttpOptions& options) {
  auto s = std::make_unique<Served>();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Bind("127.0.0.1:0", options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  s->server = *std::move(server);
  RegisterHealthRoutes(
      s->server->routes(), [] { return Readiness{.ready = true, .reason = ""}; },
      [] { return std::string("up 1\n"); });
  Served* raw = s.get();
  s->server->routes().Post("/echo", [raw](const httplib::Request& req, httplib::Response& res) {
    raw->posts.fetch_add(1);
    res.set_content(req.body, "text/plain");
  });
  s->server->routes().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(milliseconds(300));
    res.set_content("slow", "text/plain");
  });
  s->server->Start();
  return s;
}

// Regression (issue 9): eight connections sending one header byte per second
// held all of httplib's eight threads, and /healthz and /metrics went dark.
TEST(HttpFrontTest, SlowClientsCannotStarveProbesOrOtherClients) {
  HttpOptions options;
  options.threads = 2;
  std::unique_ptr<Served> s = Serve(options);
  ASSERT_NE(s, nullptr);
  // 40 connections trickle a request a byte at a time: five times the old pool.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<RawClient>(s->server->address()));
    ASSERT_TRUE(slow.back()->connected());
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string request = "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x');
    for (size_t i = 0; i < request.size() && !stop; ++i) {
      for (auto& c : slow) c->Send(std::string_view(&request[i], 1));
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  std::this_thread::sleep_for(milliseconds(300));
  httplib::Client client("http://" + s->server->address());
  client.set_read_timeout(2, 0);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    const auto start = Clock::now();
    httplib::Result r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_LT(Clock::now() - start, milliseconds(1000)) << path;
  }
  httplib::Result echo = client.Post("/echo", "hello", "text/plain");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "hello");
  stop = true;
  trickle.join();
}

// Regression (issue 9): the read timeout was per read, so a client sending a
// byte every few seconds kept its request, and a thread, forever.
TEST(HttpFrontTest, ARequestNotReceivedWithinTheDeadlineIsAnswered408) {
  HttpOptions options;
  options.request_timeout = milliseconds(600);
  std::unique_ptr<Served> s = Serve(options);
  ASSERT_NE(s, nullptr);
  RawClient c(s->server->address());
  ASSERT_TRUE(c.connected());
  const auto start = Clock::now();
  std::string got;
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  for (size_t i = 0; i < request.size() && got.empty(); ++i) {
    c.Send(std::string_view(&request[i], 1));  // a byte every 100 ms: each read is quick
    got = c.Receive(milliseconds(100));
  }
  if (got.empty()) got = c.Receive(milliseconds(2000));
  EXPECT_THAT(got, StartsWith("HTTP/1.1 408"));
  EXPECT_THAT(got, HasSubstr("http.request_timeout_ms"));
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
}

TEST(HttpFrontTest, ChunkedBodyOverTheLimitIsAnswered413AndNeverServed) {
  HttpOptions options;
  options.max_body_bytes = 1000;
  std::unique_ptr<Served> s = Serve(options);
  ASSERT_NE(s, nullptr);
  RawClient c(s->server->address());
  ASSERT_TRUE(c.connected());
  std::string request = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) request += "64\r\n" + std::string(100, 'y') + "\r\n";  // 2000 bytes
  request += "0\r\n\r\n";
  ASSERT_TRUE(c.Send(request));
  const std::string got = c.Receive(milliseconds(3000));
  EXPECT_THAT(got, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(got, HasSubstr("http.max_body_bytes"));
  EXPECT_EQ(s->posts.load(), 0);
  // Within the limit, chunked bodies are served.
  RawClient ok(s->server->address());
  ASSERT_TRUE(ok.Send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  const std::string echoed = ok.Receive(milliseconds(3000), "abcde");
  EXPECT_THAT(echoed, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(echoed, HasSubstr("abcde"));
}

TEST(HttpFrontTest, ConnectionsBeyondTheLimitAreAnswered503) {
  HttpOptions options;
  options.max_connections = 4;
  std::unique_ptr<Served> s = Serve(options);
  ASSERT_NE(s, nullptr);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawClient>(s->server->address()));
    ASSERT_TRUE(held.back()->Send("G"));  // started, not finished
  }
  std::this_thread::sleep_for(milliseconds(200));
  RawClient extra(s->server->address());
  extra.Send("GET /healthz HTTP/1.1\r\n\r\n");
  const std::string got = extra.Receive(milliseconds(2000));
  EXPECT_THAT(got, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(got, HasSubstr("http.max_connections"));
  // Once they close, connections are accepted again.
  held.clear();
  std::this_thread::sleep_for(milliseconds(300));
  RawClient later(s->server->address());
  later.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(later.Receive(milliseconds(2000), "ok"), StartsWith("HTTP/1.1 200"));
}

// Regression: httplib listens with a backlog of 5, so the sixth of a burst of
// connections waited a second for its SYN to be retried.
TEST(HttpFrontTest, ABurstOfConnectionsIsAcceptedAtOnce) {
  std::unique_ptr<Served> s = Serve(HttpOptions{});
  ASSERT_NE(s, nullptr);
  std::vector<std::unique_ptr<RawClient>> burst;
  const auto start = Clock::now();
  for (int i = 0; i < 60; ++i) {
    burst.push_back(std::make_unique<RawClient>(s->server->address()));
    ASSERT_TRUE(burst.back()->connected());
  }
  EXPECT_LT(Clock::now() - start, milliseconds(900));
}

TEST(HttpFrontTest, PipelinedRequestsAreAnsweredInOrder) {
  std::unique_ptr<Served> s = Serve(HttpOptions{});
  ASSERT_NE(s, nullptr);
  RawClient c(s->server->address());
  ASSERT_TRUE(c.Send(
      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nfirstPOST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\n"
      "second"));
  const std::string got = c.Receive(milliseconds(3000), "second");
  const size_t first = got.find("first");
  ASSERT_NE(first, std::string::npos) << got;
  EXPECT_NE(got.find("second", first), std::string::npos) << got;
  EXPECT_EQ(s->posts.load(), 2);
}

TEST(HttpFrontTest, ExpectContinueGetsOneContinueThenTheAnswer) {
  std::unique_ptr<Served> s = Serve(HttpOptions{});
  ASSERT_NE(s, nullptr);
  RawClient c(s->server->address());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  EXPECT_EQ(c.Receive(milliseconds(2000), "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.Send("body"));
  const std::string got = c.Receive(milliseconds(2000), "body");
  EXPECT_THAT(got, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
}

TEST(HttpFrontTest, ARequestFollowedByHalfCloseIsStillAnswered) {
  std::unique_ptr<Served> s = Serve(HttpOptions{});
  ASSERT_NE(s, nullptr);
  RawClient c(s->server->address());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\n\r\n"));
  c.ShutdownWrite();
  EXPECT_THAT(c.Receive(milliseconds(2000)), StartsWith("HTTP/1.1 200"));
}

TEST(HttpFrontTest, StopWhileRequestsAreServedAndClientsAreConnected) {
  std::unique_ptr<Served> s = Serve(HttpOptions{});
  ASSERT_NE(s, nullptr);
  RawClient idle(s->server->address());
  RawClient partial(s->server->address());
  partial.Send("GET /heal");
  RawClient busy(s->server->address());
  busy.Send("GET /slow HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(100));
  const auto start = Clock::now();
  s->server->Stop();
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  // The request being served was finished, then every connection closed.
  EXPECT_THAT(busy.Receive(milliseconds(2000)), HasSubstr("slow"));
  EXPECT_EQ(partial.Receive(milliseconds(2000)), "");
}

}  // namespace
}  // namespace consensusd::api
