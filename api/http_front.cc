#include "api/http_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace consensusd::api {

using Clock = std::chrono::steady_clock;

namespace {

// How long a refused connection may still send (discarded) before it is
// closed: closing with unread input would reset the connection and could
// destroy the answer before the client reads it.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

const char* Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// A complete response with a JSON error body, as the API answers errors.
std::string ErrorResponse(int status, std::string_view message) {
  const std::string body =
      nlohmann::json{{"error", std::string(message)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  return absl::StrCat("HTTP/1.1 ", status, " ", Reason(status),
                      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

// Best effort on a non-blocking socket: what does not fit now is dropped.
void SendNow(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

}  // namespace

struct HttpFront::Connection {
  Connection(int fd, FramingLimits limits) : fd(fd), framer(limits) {}
  int fd;
  std::string buffer;  // received, not yet served
  RequestFramer framer;
  Clock::time_point deadline;
  bool reading = false;   // the current request's first byte arrived
  bool draining = false;  // refused: input is discarded until EOF or the deadline
  bool sent_continue = false;
  int served = 0;
};

struct HttpFront::Job {
  std::unique_ptr<Connection> conn;
  size_t size = 0;  // bytes of the request at the front of conn->buffer
};

// A complete request in memory, as httplib reads it; responses go to the socket.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(HttpFront::Connection& conn, size_t size, Clock::time_point write_deadline)
      : conn_(conn), request_(conn.buffer.data(), size), write_deadline_(write_deadline) {}

  bool is_readable() const override { return pos_ < request_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size() - pos_);
    std::memcpy(ptr, request_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    // The front already said "100 Continue" (to get the body before serving).
    if (conn_.sent_continue && std::string_view(ptr, size) == kContinue) {
      conn_.sent_continue = false;
      return static_cast<ssize_t>(size);
    }
    size_t done = 0;
    while (done < size) {
      const ssize_t n = send(conn_.fd, ptr + done, size - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(write_deadline_ - Clock::now());
        pollfd p{conn_.fd, POLLOUT, 0};
        if (left.count() > 0 && poll(&p, 1, static_cast<int>(left.count())) > 0) continue;
      }
      return -1;
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { AddressOf(conn_.fd, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { AddressOf(conn_.fd, false, ip, port); }
  socket_t socket() const override { return conn_.fd; }

 private:
  HttpFront::Connection& conn_;
  std::string_view request_;
  size_t pos_ = 0;
  Clock::time_point write_deadline_;
};

// A fixed set of threads serving jobs in arrival order.
class HttpFront::Workers {
 public:
  Workers(int threads, std::function<void(Job)> work) : work_(std::move(work)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Workers() { Stop(); }

  void Push(Job job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // Lets the jobs being served finish. Queued jobs are dropped: take them first.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
    jobs_.clear();
  }
  std::deque<Job> TakeQueued() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(jobs_);
  }

 private:
  void Run() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      work_(std::move(job));
    }
  }

  std::function<void(Job)> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

HttpFront::HttpFront(HttpOptions options, ServeFn serve, IsProbeFn is_probe)
    : options_(options), serve_(std::move(serve)), is_probe_(std::move(is_probe)) {}

HttpFront::~HttpFront() { Stop(); }

void HttpFront::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  general_ = std::make_unique<Workers>(options_.threads, [this](Job job) { Serve(std::move(job)); });
  probes_ = std::make_unique<Workers>(options_.probe_threads, [this](Job job) { Serve(std::move(job)); });
  loop_ = std::thread([this] { Loop(); });
}

void HttpFront::Stop() {
  if (!loop_.joinable()) return;
  stopping_ = true;
  Wake();
  loop_.join();
  // Requests being served finish (their connections close in GiveBack).
  for (Workers* w : {general_.get(), probes_.get()}) {
    for (Job& job : w->TakeQueued()) Close(job.conn->fd);
    w->Stop();
  }
  std::lock_guard<std::mutex> lock(inbox_mu_);
  for (auto& conn : inbox_) Close(conn->fd);
  inbox_.clear();
  close(epoll_fd_);
  close(wake_fd_);
}

void HttpFront::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void HttpFront::Close(int fd) {
  close(fd);
  open_.fetch_sub(1);
}

void HttpFront::Adopt(int fd) {
  open_.fetch_add(1);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  if (stopping_) {
    Close(fd);
    return;
  }
  if (open_.load() > options_.max_connections) {
    SendNow(fd, ErrorResponse(503, absl::StrCat("more than ", options_.max_connections,
                                                " open connections (http.max_connections)")));
    Close(fd);
    static std::atomic<int64_t> last_log{0};
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    if (now_s - last_log.exchange(now_s) >= 10) {
      spdlog::warn("http: refusing connections: {} open (http.max_connections)", options_.max_connections);
    }
    return;
  }
  auto conn = std::make_unique<Connection>(
      fd, FramingLimits{.max_header_bytes = options_.max_header_bytes, .max_body_bytes = options_.max_body_bytes});
  conn->deadline = Clock::now() + std::min(options_.idle_timeout, options_.request_timeout);
  GiveBack(std::move(conn));
}

void HttpFront::GiveBack(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (!loop_done_) {
      inbox_.push_back(std::move(conn));
      conn = nullptr;
    }
  }
  if (conn) {
    Close(conn->fd);
    return;
  }
  Wake();
}

void HttpFront::Loop() {
  epoll_event events[64];
  while (!stopping_) {
    const int n = epoll_wait(epoll_fd_, events, 64, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
        continue;
      }
      if (fd >= 0 && static_cast<size_t>(fd) < by_fd_.size() && by_fd_[fd]) OnReadable(by_fd_[fd].get());
    }
    TakeInbox();
    Expire();
  }
  std::lock_guard<std::mutex> lock(inbox_mu_);
  loop_done_ = true;
  for (auto& conn : inbox_) Close(conn->fd);
  inbox_.clear();
  for (auto& conn : by_fd_) {
    if (conn) Close(conn->fd);
  }
  by_fd_.clear();
}

void HttpFront::TakeInbox() {
  std::vector<std::unique_ptr<Connection>> taken;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    taken.swap(inbox_);
  }
  for (auto& conn : taken) Register(std::move(conn));
}

void HttpFront::Register(std::unique_ptr<Connection> conn) {
  const int fd = conn->fd;
  if (static_cast<size_t>(fd) >= by_fd_.size()) by_fd_.resize(static_cast<size_t>(fd) + 1);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    Close(fd);
    return;
  }
  by_fd_[fd] = std::move(conn);
  // A pipelined request may already be complete.
  if (!by_fd_[fd]->buffer.empty()) Advance(by_fd_[fd].get());
}

void HttpFront::OnReadable(Connection* conn) {
  const int fd = conn->fd;
  // Enough for one request of the largest size; more waits in the socket.
  const size_t cap = options_.max_header_bytes + options_.max_body_bytes + (64 << 10);
  char chunk[16 << 10];
  bool eof = false;
  for (;;) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      eof = true;  // or a reset: either way nothing more will come
      break;
    }
    if (conn->draining) continue;
    if (!conn->reading) {
      conn->reading = true;
      conn->deadline = Clock::now() + options_.request_timeout;
    }
    conn->buffer.append(chunk, static_cast<size_t>(n));
    if (conn->buffer.size() >= cap) break;
  }
  // A client may send its request and then shut its side: serve it anyway.
  // (After Advance() the connection may belong to a handler thread.)
  if (!conn->draining) Advance(conn);
  if (eof && by_fd_[fd]) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    by_fd_[fd].reset();
    Close(fd);
  }
}

void HttpFront::Advance(Connection* conn) {
  const RequestFrame frame = conn->framer.Check(conn->buffer);
  switch (frame.state) {
    case RequestFrame::kIncomplete:
      if (frame.expects_continue && !conn->sent_continue) {
        SendNow(conn->fd, kContinue);
        conn->sent_continue = true;
      }
      return;
    case RequestFrame::kError:
      Refuse(conn, frame.status, frame.message);
      return;
    case RequestFrame::kComplete:
      break;
  }
  const int fd = conn->fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  const bool probe = is_probe_(frame.path);
  Job job{std::move(by_fd_[fd]), frame.size};
  (probe ? probes_ : general_)->Push(std::move(job));
}

void HttpFront::Refuse(Connection* conn, int status, std::string_view message) {
  SendNow(conn->fd, ErrorResponse(status, message));
  shutdown(conn->fd, SHUT_WR);
  conn->draining = true;
  conn->buffer.clear();
  conn->deadline = Clock::now() + kDrainTime;
}

void HttpFront::Expire() {
  const Clock::time_point now = Clock::now();
  for (auto& conn : by_fd_) {
    if (!conn || conn->deadline > now) continue;
    if (conn->reading && !conn->draining) {
      Refuse(conn.get(), 408,
             absl::StrCat("the request was not received within ", options_.request_timeout.count(),
                          " ms (http.request_timeout_ms)"));
      continue;
    }
    const int fd = conn->fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    conn.reset();
    Close(fd);
  }
}

void HttpFront::Serve(Job job) {
  Connection& conn = *job.conn;
  const bool last = stopping_ || ++conn.served >= options_.max_requests_per_connection;
  bool closed = false;
  bool ok = false;
  {
    RequestStream stream(conn, job.size, Clock::now() + options_.write_timeout);
    ok = serve_(stream, last, &closed);
  }
  if (!ok || closed || last || stopping_) {
    Close(conn.fd);
    return;
  }
  conn.buffer.erase(0, job.size);
  conn.framer.Reset();
  conn.sent_continue = false;
  conn.reading = !conn.buffer.empty();
  conn.deadline = Clock::now() + (conn.reading ? options_.request_timeout : options_.idle_timeout);
  GiveBack(std::move(job.conn));
}

}  // namespace consensusd::api
