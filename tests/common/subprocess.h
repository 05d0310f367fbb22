// Child processes for tests: run a program to completion and get its exit code
// and output, or start a long-running one, read its output as it goes, signal
// it and wait for it. A child is killed and reaped when its Subprocess is
// destroyed, so a failed assertion never leaves one behind, and it gets SIGKILL
// if the thread that started it dies (PR_SET_PDEATHSIG).
//
//   RunResult r = RunProgram({"/usr/bin/promtool", "check", "metrics"}, seconds(30), text);
//   EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
//
//   Subprocess p({binary, "mock-kafka"}, {Redirect::Null(), Redirect::Capture(), Redirect::File(log)});
//   WaitUntil([&] { return p.Stdout().find('\n') != std::string::npos; }, seconds(20));
//   p.Signal(SIGTERM);
//   std::optional<int> code = p.WaitExit(seconds(5));  // nullopt: still running
#ifndef CONSENSUSD_TESTS_COMMON_SUBPROCESS_H_
#define CONSENSUSD_TESTS_COMMON_SUBPROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace consensusd::tests {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `done` every `interval` until it returns true (true) or `timeout`
// passes (false).
inline bool WaitUntil(const std::function<bool()>& done, Clock::duration timeout,
                      Clock::duration interval = milliseconds(50)) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

// Where one standard stream of a child goes. The default is /dev/null.
class Redirect {
 public:
  static Redirect Null() { return Redirect(); }
  // The test binary's own stream.
  static Redirect Inherit() { return Redirect(Kind::kInherit, ""); }
  // stdin: read from the file; stdout, stderr: appended to it (created if missing).
  static Redirect File(std::string path) { return Redirect(Kind::kFile, std::move(path)); }
  // stdin only: reads `data`, then end of file.
  static Redirect String(std::string data) { return Redirect(Kind::kString, std::move(data)); }
  // stdout, stderr only: kept in memory, see Subprocess::Stdout and Stderr.
  static Redirect Capture() { return Redirect(Kind::kCapture, ""); }

  Redirect() = default;

 private:
  friend class Subprocess;
  enum class Kind { kNull, kInherit, kFile, kString, kCapture };
  Redirect(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}

  Kind kind_ = Kind::kNull;
  std::string text_;  // kFile: the path; kString: the data
};

// A child process running `argv`; argv[0] is looked up in PATH unless it
// holds a '/'. Not thread-safe: one thread owns a Subprocess.
class Subprocess {
 public:
  // The child's standard streams, in the order of their descriptors.
  struct Stdio {
    Redirect in, out, err;
  };

  // `env` holds NAME=VALUE entries added to (or replacing those of) the
  // parent's environment.
  explicit Subprocess(const std::vector<std::string>& argv, const Stdio& stdio = {},
                      const std::vector<std::string>& env = {}) {
    // Everything the child needs is built before fork(): after it, only
    // async-signal-safe calls.
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings = Environment(env);
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int fds[3] = {Open(stdio.in, O_RDONLY), out_fd_ = Open(stdio.out, O_WRONLY),
                        err_fd_ = Open(stdio.err, O_WRONLY)};
    const bool opened = fds[0] != -1 && fds[1] != -1 && fds[2] != -1;
    const pid_t parent = getpid();
    if (opened) pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      for (int i = 0; i < 3; ++i) {
        if (fds[i] != kInheritFd) dup2(fds[i], i);  // dup2 clears O_CLOEXEC on the copy
      }
      // The child must not inherit the stop signals blocked by a parent thread.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execvpe(args[0], args.data(), envp.data());
      _exit(127);
    }
    if (fds[0] >= 0) close(fds[0]);
    if (stdio.out.kind_ != Redirect::Kind::kCapture) CloseFd(out_fd_);
    if (stdio.err.kind_ != Redirect::Kind::kCapture) CloseFd(err_fd_);
  }

  ~Subprocess() {
    Kill();
    CloseFd(out_fd_);
    CloseFd(err_fd_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // False if a redirect could not be opened or fork failed; the other calls
  // then do nothing.
  bool started() const { return pid_ > 0; }
  bool running() {
    Reap(false);
    return pid_ > 0 && !exited_;
  }
  pid_t pid() const { return pid_; }

  void Signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

  // The exit code once the process has exited within `timeout`; 128+N if it
  // was killed by signal N; nullopt if it is still running.
  std::optional<int> WaitExit(Clock::duration timeout) {
    if (pid_ <= 0) return std::nullopt;
    WaitUntil([&] { return !running(); }, timeout, milliseconds(5));
    if (!exited_) return std::nullopt;
    return exit_code_;
  }

  // SIGKILL and reap (no-op if it already exited).
  void Kill() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGKILL);
    Reap(true);
  }

  // All the child has written so far to a Redirect::Capture() stdout or
  // stderr; empty for other redirects.
  std::string Stdout() const { return ReadAll(out_fd_); }
  std::string Stderr() const { return ReadAll(err_fd_); }

 private:
  // The parent's environment with `extra` added; an entry of `extra` replaces
  // the parent's entry of the same name.
  static std::vector<std::string> Environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      bool replaced = false;
      for (const std::string& x : extra) {
        replaced |= entry.compare(0, entry.find('='), x, 0, x.find('=')) == 0;
      }
      if (!replaced) env.push_back(entry);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }

  static constexpr int kInheritFd = -2;

  // The descriptor the child gets for `r`, close-on-exec in the parent;
  // kInheritFd: the parent's own; -1: it could not be opened.
  static int Open(const Redirect& r, int mode) {
    switch (r.kind_) {
      case Redirect::Kind::kInherit:
        return kInheritFd;
      case Redirect::Kind::kFile:
        return mode == O_RDONLY ? open(r.text_.c_str(), O_RDONLY | O_CLOEXEC)
                                : open(r.text_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                                       0644);
      case Redirect::Kind::kString:
      case Redirect::Kind::kCapture: {
        // An in-memory file: no pipe to keep drained, no SIGPIPE, no temp file.
        const int fd = memfd_create("subprocess", MFD_CLOEXEC);
        size_t written = 0;
        while (fd >= 0 && written < r.text_.size()) {
          const ssize_t n = write(fd, r.text_.data() + written, r.text_.size() - written);
          if (n <= 0) break;
          written += n;
        }
        if (fd >= 0) lseek(fd, 0, SEEK_SET);
        return fd;
      }
      case Redirect::Kind::kNull:
        break;
    }
    return open("/dev/null", mode | O_CLOEXEC);
  }

  static std::string ReadAll(int fd) {
    std::string text;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return text;
    text.resize(st.st_size);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = pread(fd, text.data() + got, text.size() - got, got);
      if (n <= 0) break;
      got += n;
    }
    text.resize(got);
    return text;
  }

  static void CloseFd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }

  void Reap(bool block) {
    if (pid_ <= 0 || exited_) return;
    int status = 0;
    if (waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) return;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;  // the child's stdout if captured, else -1
  int err_fd_ = -1;  // the child's stderr if captured, else -1
  bool exited_ = false;
  int exit_code_ = -1;
};

struct RunResult {
  int exit_code = -1;  // 128+N: killed by signal N; -1: timed out (and killed)
  std::string out, err;
};

// Runs `argv` to completion, at most `timeout`, with `input` on stdin;
// returns its exit code, stdout and stderr.
inline RunResult RunProgram(const std::vector<std::string>& argv,
                            Clock::duration timeout = seconds(120), std::string input = "") {
  Subprocess p(argv, {Redirect::String(std::move(input)), Redirect::Capture(), Redirect::Capture()});
  RunResult r;
  r.exit_code = p.WaitExit(timeout).value_or(-1);
  p.Kill();
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

}  // namespace consensusd::tests

#endif  // CONSENSUSD_TESTS_COMMON_SUBPROCESS_H_
