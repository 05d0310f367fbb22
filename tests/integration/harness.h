// Harness of the integration tests: the built `consensusd` binary run as
// subprocesses against its own embedded Kafka (`consensusd mock-kafka`).
//
//   TempDir dir;
//   MockKafka kafka(dir, "labels", 4);               // one broker per test
//   ProduceResult p = Produce(kafka, "labels", file); // p.messages for the wait below
//   ServeProcess serve(ServeArgs(kafka, "labels", "g1", dir.File("state")), dir.File("serve.log"));
//   ASSERT_TRUE(serve.WaitListening());
//   ASSERT_TRUE(WaitFullyConsumed(serve, {.partitions = 4, .messages = p.messages}));
//   ASSERT_EQ(serve.Stop(), 0);                       // SIGTERM: commit, flush, exit 0
//
// Every process is owned by an object that kills (SIGKILL) and reaps it when
// destroyed, so a failed assertion never leaves a broker or a service behind;
// children also get SIGKILL if the test binary dies (PR_SET_PDEATHSIG). Waits
// poll with a deadline instead of sleeping fixed times.
#ifndef CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_
#define CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "librdkafka/rdkafka.h"
#include "nlohmann/json.hpp"
#include "service/csv.h"
#include "tests/service/temp_dir.h"

namespace consensusd::integration {

using service::ReadWholeFile;
using service::TempDir;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline const std::string kBinary = CONSENSUSD_BINARY;
inline const std::string kDataDir = CONSENSUSD_DATA_DIR;

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
    return open(path.empty() ? "/dev/null" : path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                0644);
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
                            Clock::duration timeout = seconds(120), const std::string& stdin_path = "") {
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

// Runs `consensusd <args>` to completion (see RunProgram).
inline RunResult RunConsensusd(const TempDir& dir, const std::vector<std::string>& args,
                               Clock::duration timeout = seconds(120)) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(dir, argv, timeout);
}

// `consensusd mock-kafka`: a Kafka-protocol broker on loopback for one test.
class MockKafka {
 public:
  MockKafka(const TempDir& dir, const std::string& topic, int partitions)
      : process_({kBinary, "mock-kafka", "--partitions", std::to_string(partitions), "--topic", topic},
                 Subprocess::Output::PipedStdout(dir.File("mock-kafka.log"))) {
    bootstrap_ = process_.ReadStdoutLine(seconds(20)).value_or("");
  }
  ~MockKafka() {
    process_.Signal(SIGTERM);
    if (!process_.WaitExit(seconds(5))) process_.Kill();
  }

  // HOST:PORT[,...], empty if the broker did not start.
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  Subprocess process_;
  std::string bootstrap_;
};

struct ProduceResult {
  int exit_code = -1;
  int64_t elements = -1;  // as reported by produce: "produced E elements in M messages"
  int64_t messages = -1;
  std::string err;
};

// `consensusd produce --brokers <kafka> --topic <topic> <file> <extra...>`.
inline ProduceResult Produce(const TempDir& dir, const MockKafka& kafka, const std::string& topic,
                             const std::string& file, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"produce", "--brokers", kafka.bootstrap(), "--topic", topic, file};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = RunConsensusd(dir, args);
  ProduceResult p;
  p.exit_code = r.exit_code;
  p.err = r.err;
  long long elements = -1, messages = -1;
  const size_t at = r.err.find("produced ");
  if (at != std::string::npos &&
      std::sscanf(r.err.c_str() + at, "produced %lld elements in %lld messages", &elements, &messages) == 2) {
    p.elements = elements;
    p.messages = messages;
  }
  return p;
}

// One message read back from a topic.
struct KafkaRecord {
  int64_t offset = -1;
  std::string key, value;
  std::map<std::string, std::string> headers;
};

// Reads partition `partition` of `topic` from its beginning with a plain
// librdkafka consumer (no group, nothing committed) until `count` messages are
// read or `timeout` passes; returns what it read.
inline std::vector<KafkaRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                          int32_t partition, size_t count, Clock::duration timeout) {
  std::vector<KafkaRecord> records;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> props[] = {
      {"bootstrap.servers", brokers.c_str()}, {"group.id", "integration-test-reader"},
      {"enable.auto.commit", "false"},        {"fetch.message.max.bytes", "8000000"},
      {"log_level", "3"}};
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return records;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) return records;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, topic.c_str(), partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  const auto deadline = Clock::now() + timeout;
  while (records.size() < count && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaRecord r;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] = value != nullptr ? std::string(static_cast<const char*>(value), size) : "";
        }
      }
      records.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return records;
}

// Every message of partition `partition` of `topic` (up to its high
// watermark when called), or what could be read within `timeout`.
inline std::vector<KafkaRecord> ReadWholePartition(const std::string& brokers, const std::string& topic,
                                                   int32_t partition, Clock::duration timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) return {};
  int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk, topic.c_str(), partition, &low, &high,
      static_cast<int>(std::chrono::duration_cast<milliseconds>(timeout).count()));
  rd_kafka_destroy(rk);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || high <= low) return {};
  return ReadTopic(brokers, topic, partition, static_cast<size_t>(high - low), timeout);
}

// One sample of the Prometheus text format.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text exposition format (comments skipped).
inline std::vector<MetricSample> ParseMetrics(const std::string& text) {
  std::vector<MetricSample> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name.push_back(line[i++]);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key, value;
        while (i < line.size() && line[i] != '=') key.push_back(line[i++]);
        i += 2;  // ="
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // }
    }
    s.value = std::strtod(line.c_str() + i, nullptr);
    samples.push_back(std::move(s));
  }
  return samples;
}

// The samples of `name` whose labels include every pair of `match`.
inline std::vector<MetricSample> Samples(const std::vector<MetricSample>& all, const std::string& name,
                                         const std::map<std::string, std::string>& match = {}) {
  std::vector<MetricSample> out;
  for (const MetricSample& s : all) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      ok = ok && it != s.labels.end() && it->second == v;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

// Sum of the samples of `name` matching `match` (0 when there are none).
inline double SumMetric(const std::vector<MetricSample>& all, const std::string& name,
                        const std::map<std::string, std::string>& match = {}) {
  double sum = 0;
  for (const MetricSample& s : Samples(all, name, match)) sum += s.value;
  return sum;
}

// The arguments of `consensusd serve` for one instance on `kafka`.
struct ServeArgs {
  std::string brokers, topic, group, data_dir;
  std::string config_file;        // optional --config
  std::vector<std::string> sets;  // --set KEY=VALUE
  bool replay = false;

  ServeArgs(const MockKafka& kafka, std::string topic, std::string group, std::string data_dir)
      : brokers(kafka.bootstrap()), topic(topic), group(std::move(group)), data_dir(std::move(data_dir)) {
    // Output topics follow the input topic, as mock-kafka creates them.
    sets = {"kafka.consensus_topic=" + topic + ".consensus", "kafka.review_topic=" + topic + ".review",
            "kafka.dlq_topic=" + topic + ".dlq", "model.sweep_interval_s=1",
            // The mock broker holds the first join after the group's last
            // member left (or died) for the session timeout minus 1 s: keep
            // restarts in a test short (librdkafka's default is 45 s).
            "kafka.properties.session.timeout.ms=4000", "kafka.properties.heartbeat.interval.ms=1000"};
  }

  std::vector<std::string> Argv() const {
    std::vector<std::string> argv = {kBinary,    "serve",    "--brokers", brokers,   "--topic",
                                     topic,      "--group",  group,       "--data-dir", data_dir,
                                     "--http",   "127.0.0.1:0", "--log-level", "info"};
    if (!config_file.empty()) argv.insert(argv.end(), {"--config", config_file});
    for (const std::string& s : sets) argv.insert(argv.end(), {"--set", s});
    if (replay) argv.push_back("--replay");
    return argv;
  }
};

// `consensusd serve`, its log in a file, its HTTP endpoint on an ephemeral port.
class ServeProcess {
 public:
  ServeProcess(const ServeArgs& args, std::string log_path)
      : log_path_(std::move(log_path)), process_(args.Argv(), Subprocess::Output::Files(log_path_, log_path_)) {}
  ~ServeProcess() { process_.Kill(); }

  // Waits for the "http: listening on HOST:PORT" log line.
  bool WaitListening(Clock::duration timeout = seconds(30)) {
    return WaitUntil(
        [&] {
          const std::string log = Log();
          const std::string marker = "http: listening on ";
          const size_t at = log.find(marker);
          if (at == std::string::npos) return !process_.running();
          const size_t end = log.find_first_of("\r\n", at);
          const std::string address = log.substr(at + marker.size(), end - at - marker.size());
          const size_t colon = address.rfind(':');
          host_ = address.substr(0, colon);
          port_ = std::atoi(address.c_str() + colon + 1);
          return true;
        },
        timeout) && port_ > 0;
  }

  // GET `path`; nullopt unless it answered 200.
  std::optional<std::string> Get(const std::string& path) {
    httplib::Client client(host_, port_);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(10, 0);
    httplib::Result res = client.Get(path);
    if (!res || res->status != 200) return std::nullopt;
    return res->body;
  }
  std::vector<MetricSample> Metrics() {
    std::optional<std::string> body = Get("/metrics");
    return body ? ParseMetrics(*body) : std::vector<MetricSample>{};
  }
  bool Ready() { return Get("/readyz").has_value(); }

  // SIGTERM, then the exit code (nullopt if it did not exit in time).
  std::optional<int> Stop(Clock::duration timeout = seconds(40)) {
    process_.Signal(SIGTERM);
    return process_.WaitExit(timeout);
  }
  // kill -9.
  void Kill() { process_.Kill(); }
  bool running() { return process_.running(); }

  std::string Log() const { return ReadWholeFile(log_path_); }

 private:
  std::string log_path_;
  Subprocess process_;
  std::string host_;
  int port_ = 0;
};

// What "fully consumed" means for one wait.
struct ConsumedGoal {
  std::string topic = "labels";
  int partitions = 1;
  int64_t messages = -1;  // consensusd_messages_consumed_total to reach; -1: not checked
  int64_t applied = -1;   // consensusd_answers_applied_total to reach; -1: not checked
};

// Waits until the instance has consumed everything: a lag sample of 0 for
// every partition and the goal's counters reached, unchanged over two polls at
// least 1.2 s apart (the lag gauges refresh every second). On timeout, returns
// false with a description of the last poll in *why.
inline bool WaitFullyConsumed(ServeProcess& serve, const ConsumedGoal& goal,
                              Clock::duration timeout = seconds(90), std::string* why = nullptr) {
  std::optional<std::pair<double, double>> previous;
  std::string last;
  const bool ok = WaitUntil(
      [&] {
        const std::vector<MetricSample> m = serve.Metrics();
        const std::vector<MetricSample> lag =
            Samples(m, "consensusd_consumer_lag_messages", {{"topic", goal.topic}});
        const double consumed = SumMetric(m, "consensusd_messages_consumed_total", {{"topic", goal.topic}});
        const double applied = SumMetric(m, "consensusd_answers_applied_total");
        double total_lag = 0;
        for (const MetricSample& s : lag) total_lag += s.value;
        last = "lag samples " + std::to_string(lag.size()) + ", total lag " + std::to_string(total_lag) +
               ", consumed " + std::to_string(consumed) + ", applied " + std::to_string(applied);
        const bool done = static_cast<int>(lag.size()) == goal.partitions && total_lag == 0 &&
                          (goal.messages < 0 || consumed == static_cast<double>(goal.messages)) &&
                          (goal.applied < 0 || applied == static_cast<double>(goal.applied));
        if (!done) {
          previous.reset();
          return false;
        }
        if (previous && previous->first == consumed && previous->second == applied) return true;
        previous = {consumed, applied};
        return false;
      },
      timeout, milliseconds(1200));
  if (why != nullptr) *why = last;
  return ok;
}

// One task of an export or of aggregate's output.
struct TaskResult {
  std::string label;
  double confidence = 0;
  std::map<std::string, double> posterior;  // jsonl only
  int64_t answers = -1;                     // jsonl only
  std::string gold;                         // jsonl only; empty: none
};
using TaskResults = std::map<std::string, TaskResult>;

// Reads a `task,label,confidence,...` CSV (export, aggregate --out).
inline TaskResults ReadLabelsCsv(const std::string& path) {
  TaskResults results;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return results;
  std::vector<std::string_view> row;
  bool header = true;
  while (reader->Next(&row)) {
    if (header) {
      header = false;
      continue;
    }
    if (row.size() < 3) continue;
    TaskResult& r = results[std::string(row[0])];
    r.label = std::string(row[1]);
    r.confidence = std::strtod(std::string(row[2]).c_str(), nullptr);
  }
  return results;
}

// Reads an `export --format jsonl` file.
inline TaskResults ReadLabelsJsonl(const std::string& path) {
  TaskResults results;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    TaskResult& r = results[j.at("task").get<std::string>()];
    r.label = j.at("label").get<std::string>();
    r.confidence = j.at("confidence").get<double>();
    for (const auto& [k, v] : j.at("posterior").items()) r.posterior[k] = v.get<double>();
    r.answers = j.at("answers").get<int64_t>();
    if (!j.at("gold").is_null()) r.gold = j.at("gold").get<std::string>();
  }
  return results;
}

// task -> label of a task,label CSV (gold.csv).
inline std::map<std::string, std::string> ReadGold(const std::string& path) {
  std::map<std::string, std::string> gold;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return gold;
  std::vector<std::string_view> row;
  bool header = true;
  while (reader->Next(&row)) {
    if (header) {
      header = false;
      if (row.size() >= 2 && row[0] == "task") continue;
    }
    if (row.size() >= 2) gold[std::string(row[0])] = std::string(row[1]);
  }
  return gold;
}

// task -> number of distinct workers who answered it in a task,worker,label CSV
// (the answer count with duplicates=last: one answer per (task, worker)).
inline std::map<std::string, int64_t> DistinctAnswersPerTask(const std::string& path) {
  std::map<std::string, std::set<std::string>> workers;
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return {};
  std::vector<std::string_view> row;
  bool header = true;
  while (reader->Next(&row)) {
    if (header) {
      header = false;
      if (row.size() >= 2 && row[0] == "task") continue;
    }
    if (row.size() >= 3) workers[std::string(row[0])].insert(std::string(row[1]));
  }
  std::map<std::string, int64_t> counts;
  for (const auto& [task, w] : workers) counts[task] = static_cast<int64_t>(w.size());
  return counts;
}

// Fraction of the gold tasks present in `results` whose label is the gold label.
inline double Accuracy(const TaskResults& results, const std::map<std::string, std::string>& gold) {
  int64_t right = 0, scored = 0;
  for (const auto& [task, label] : gold) {
    auto it = results.find(task);
    if (it == results.end()) continue;
    ++scored;
    right += it->second.label == label;
  }
  return scored == 0 ? 0 : static_cast<double>(right) / static_cast<double>(scored);
}

// Differences between two jsonl exports: tasks missing on either side, other
// labels or gold, posteriors further apart than `tolerance`, other answer counts. Empty
// when they agree. At most `limit` lines.
inline std::string DiffExports(const TaskResults& a, const TaskResults& b, double tolerance,
                               int limit = 10) {
  std::ostringstream diff;
  int n = 0;
  auto note = [&](const std::string& line) {
    if (n++ < limit) diff << line << "\n";
  };
  for (const auto& [task, ra] : a) {
    auto it = b.find(task);
    if (it == b.end()) {
      note("task " + task + " only in the first");
      continue;
    }
    const TaskResult& rb = it->second;
    if (ra.label != rb.label) note("task " + task + ": label " + ra.label + " vs " + rb.label);
    if (ra.gold != rb.gold) note("task " + task + ": gold '" + ra.gold + "' vs '" + rb.gold + "'");
    if (ra.answers != rb.answers) {
      note("task " + task + ": answers " + std::to_string(ra.answers) + " vs " + std::to_string(rb.answers));
    }
    if (ra.posterior.size() != rb.posterior.size()) note("task " + task + ": other classes");
    for (const auto& [k, p] : ra.posterior) {
      auto q = rb.posterior.find(k);
      if (q == rb.posterior.end() || std::abs(p - q->second) > tolerance) {
        std::ostringstream s;
        s.precision(17);
        s << "task " << task << ": p(" << k << ") " << p << " vs "
          << (q == rb.posterior.end() ? -1.0 : q->second);
        note(s.str());
      }
    }
  }
  for (const auto& [task, rb] : b) {
    if (!a.count(task)) note("task " + task + " only in the second");
  }
  if (n > limit) diff << "... " << (n - limit) << " more\n";
  return diff.str();
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_
