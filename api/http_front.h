// HttpFront: the connections of the HTTP server. One event-loop thread reads
// every connection without blocking until a whole request (headers and body)
// has arrived, within a deadline for the whole request; only then does a
// handler thread serve it. A client that trickles bytes, or opens many
// connections, therefore costs a buffer, never a handler thread, and the
// health and metrics paths have threads of their own: /healthz, /readyz and
// /metrics answer while other clients hold every general thread.
//
//   HttpFront front(options, serve_one_request, [](std::string_view path) {
//     return path == "/healthz";
//   });
//   front.Start();
//   front.Adopt(accepted_fd);   // from the accept loop
//   front.Stop();               // closes every connection, joins the threads
#ifndef CONSENSUSD_API_HTTP_FRONT_H_
#define CONSENSUSD_API_HTTP_FRONT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "api/request_framer.h"

namespace httplib {
class Stream;
}

namespace consensusd::api {

struct HttpOptions {
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 64 << 10;
  // From a request's first byte to its last; a request not received in full
  // by then is answered 408 and its connection closed.
  std::chrono::milliseconds request_timeout{10000};
  // How long a connection may wait, idle, for its next request.
  std::chrono::milliseconds idle_timeout{5000};
  // How long writing one response may take.
  std::chrono::milliseconds write_timeout{30000};
  int threads = 8;        // handler threads of every path but the probes
  int probe_threads = 2;  // handler threads of the probe paths
  // Open connections beyond this are answered 503 and closed at once.
  int max_connections = 512;
  int max_requests_per_connection = 100;
};

class HttpFront {
 public:
  // Serves the one complete request `stream` holds (httplib's
  // Server::process_request); false when the connection must close.
  using ServeFn = std::function<bool(httplib::Stream& stream, bool close_connection,
                                     bool* connection_closed)>;
  using IsProbeFn = std::function<bool(std::string_view path)>;

  HttpFront(HttpOptions options, ServeFn serve, IsProbeFn is_probe);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  void Start();
  // Takes ownership of an accepted socket. Any thread.
  void Adopt(int fd);
  // Closes every connection (requests being served finish first).
  void Stop();

  struct Connection;
  struct Job;

 private:
  class Workers;

  void Loop();
  void TakeInbox();
  void Register(std::unique_ptr<Connection> conn);
  void OnReadable(Connection* conn);
  // Frames what `conn` buffered: dispatches, refuses or waits for more.
  void Advance(Connection* conn);
  void Refuse(Connection* conn, int status, std::string_view message);
  void Expire();
  void Close(int fd);
  // A handler thread's work: serve the request, then hand the connection back.
  void Serve(Job job);
  void GiveBack(std::unique_ptr<Connection> conn);
  void Wake();

  const HttpOptions options_;
  const ServeFn serve_;
  const IsProbeFn is_probe_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_{0};  // connections adopted and not closed
  std::thread loop_;

  std::mutex inbox_mu_;
  std::vector<std::unique_ptr<Connection>> inbox_;  // new and served connections
  bool loop_done_ = false;                          // guarded by inbox_mu_

  // Owned by the loop thread: the connections waiting for bytes.
  std::vector<std::unique_ptr<Connection>> by_fd_;

  std::unique_ptr<Workers> general_;
  std::unique_ptr<Workers> probes_;
};

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_HTTP_FRONT_H_
