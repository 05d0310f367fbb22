// Child processes for the integration tests: started with fork/exec, their
// output in files (or stdout in a pipe), killed and reaped by the destructor, so
// a failed assertion never leaves one behind; they also get SIGKILL if the
// test binary dies (PR_SET_PDEATHSIG).
//
//   Subprocess p({"/bin/true"}, Subprocess::Output::Files(dir.File("out"), dir.File("err")));
//   std::optional<int> code = p.WaitExit(seconds(5));   // nullopt: still running
//   RunResult r = RunProgram(dir, {"/usr/bin/promtool", "check", "metrics"}, seconds(30),
//   "in.txt");
#ifndef CONSENSUSD_TESTS_INTEGRATION_SUBPROCESS_H_
#define CONSENSUSD_TESTS_INTEGRATION_SUBPROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/service/temp_dir.h"

namespace consensusd::integration {

using service::ReadWholeFile;
using service::TempDir;
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

// A child process running `argv`. stdout and stderr go to files (or stdout to a
// pipe, see ReadStdoutLine); stdin is /dev/null or a file. The destructor kills and
// reaps a child that is still running.
class Subprocess {
 public:
  // Where the child's standard streams go. An empty path is /dev/null.
  struct Output {
    std::string stdout_path, stderr_path, stdin_path;
    bool stdout_pipe = false;  // stdout to a pipe instead, see ReadStdoutLine

    static Output Files(std::string out, std::string err, std::string in = "") {
      Output o;
      o.stdout_path = std::move(out);
      o.stderr_path = std::move(err);
      o.stdin_path = std::move(in);
      return o;
    }
    static Output PipedStdout(std::string err) {
      Output o;
      o.stderr_path = std::move(err);
      o.stdout_pipe = true;
      return o;
    }
  };

  Subprocess(const std::vector<std::string>& argv, const Output& output) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int pipe_fds[2] = {-1, -1};
    if (output.stdout_pipe && pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    const int in = open(output.stdin_path.empty() ? "/dev/null" : output.stdin_path.c_str(),
                        O_RDONLY | O_CLOEXEC);
    const int out = output.stdout_pipe ? pipe_fds[1] : OpenOutput(output.stdout_path);
    const int err = OpenOutput(output.stderr_path);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      // The child must not inherit the stop signals blocked by a parent thread.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(in);
    close(out);
    close(err);
    stdout_fd_ = pipe_fds[0];
  }

  ~Subprocess() {
    Kill();
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

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
    WaitUntil([&] { return !running(); }, timeout, milliseconds(20));
    if (!exited_) return std::nullopt;
    return exit_code_;
  }

  // SIGKILL and reap (no-op if it already exited).
  void Kill() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGKILL);
    Reap(true);
  }

  // One line (without '\n') from the stdout pipe, waiting at most `timeout`.
  std::optional<std::string> ReadStdoutLine(Clock::duration timeout) {
    std::string line;
    const auto deadline = Clock::now() + timeout;
    while (stdout_fd_ >= 0) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p = {stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char c;
      if (read(stdout_fd_, &c, 1) != 1) return std::nullopt;  // EOF: the child exited
      if (c == '\n') return line;
      line.push_back(c);
    }
    return std::nullopt;
  }

 private:
  static int OpenOutput(const std::string& path) {
    return open(path.empty() ? "/dev/null" : path.c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }

  void Reap(bool block) {
    if (pid_ <= 0 || exited_) return;
    int status = 0;
    if (waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) return;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

struct RunResult {
  int exit_code = -1;  // -1: timed out (and killed)
  std::string out, err;
};

// Runs `argv` (argv[0] a path) to completion, at most `timeout`, with stdin
// from `stdin_path` (empty: /dev/null) and its output captured in files of `dir`.
inline RunResult RunProgram(const TempDir& dir, const std::vector<std::string>& argv,
                            Clock::duration timeout = seconds(120),
                            const std::string& stdin_path = "") {
  static int runs = 0;
  const std::string tag = std::to_string(++runs);
  const std::string out = dir.File("run" + tag + ".out"), err = dir.File("run" + tag + ".err");
  RunResult r;
  {
    Subprocess p(argv, Subprocess::Output::Files(out, err, stdin_path));
    r.exit_code = p.WaitExit(timeout).value_or(-1);
  }
  r.out = ReadWholeFile(out);
  r.err = ReadWholeFile(err);
  return r;
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_SUBPROCESS_H_
