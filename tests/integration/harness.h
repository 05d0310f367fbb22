// Harness of the integration tests: the built `consensusd` binary run as
// subprocesses, each test against its own embedded Kafka (`consensusd mock-kafka`).
//
//   TempDir dir;
//   MockKafka kafka(dir, "labels", 4);
//   ProduceResult p = Produce(dir, kafka, "labels", file);
//   ServeProcess serve(ServeArgs(kafka, "labels", "g1", dir.File("state")), dir.File("serve.log"));
//   ASSERT_TRUE(serve.WaitListening());
//   ASSERT_TRUE(WaitFullyConsumed(serve, {.partitions = 4, .messages = p.messages}));
//   ASSERT_EQ(serve.Stop(), 0);  // SIGTERM: commit, flush, exit 0
//
// Every process is owned by an object that kills (SIGKILL) and reaps it when
// destroyed (see tests/common/subprocess.h). Waits poll with a deadline instead of sleeping
// fixed times.
#ifndef CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_
#define CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_

#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/subprocess.h"
#include "tests/integration/label_results.h"
#include "tests/integration/metrics_text.h"
#include "tests/integration/topic_reader.h"
#include "tests/service/temp_dir.h"

namespace consensusd::integration {

using service::ReadWholeFile;
using service::TempDir;
using tests::Redirect;
using tests::RunProgram;
using tests::RunResult;
using tests::Subprocess;
using tests::WaitUntil;
using std::chrono::seconds;

inline const std::string kBinary = CONSENSUSD_BINARY;
inline const std::string kDataDir = CONSENSUSD_DATA_DIR;

// Runs `consensusd <args>` to completion (see RunProgram).
inline RunResult RunConsensusd(const std::vector<std::string>& args,
                               Clock::duration timeout = seconds(120)) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, timeout);
}

// `consensusd mock-kafka`: a Kafka-protocol broker on loopback for one test.
class MockKafka {
 public:
  MockKafka(const TempDir& dir, const std::string& topic, int partitions)
      : process_(
            {kBinary, "mock-kafka", "--partitions", std::to_string(partitions), "--topic", topic},
            {Redirect::Null(), Redirect::Capture(), Redirect::File(dir.File("mock-kafka.log"))}) {
    // Its first line of output is the bootstrap address.
    std::string out;
    WaitUntil(
        [&] {
          out = process_.Stdout();
          return out.find('\n') != std::string::npos || !process_.running();
        },
        seconds(20), milliseconds(10));
    const size_t end = out.find('\n');
    if (end != std::string::npos) bootstrap_ = out.substr(0, end);
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

// The counts in produce's closing report ("produced E elements in M
// messages ..." on stderr); -1 where there is none.
inline ProduceResult ParseProduceReport(int exit_code, const std::string& err) {
  ProduceResult p;
  p.exit_code = exit_code;
  p.err = err;
  long long elements = -1, messages = -1;
  const size_t at = err.find("produced ");
  if (at != std::string::npos &&
      std::sscanf(err.c_str() + at, "produced %lld elements in %lld messages", &elements,
                  &messages) == 2) {
    p.elements = elements;
    p.messages = messages;
  }
  return p;
}

// `consensusd produce --brokers <brokers> --topic <topic> <file> <extra...>`.
inline ProduceResult Produce(const std::string& brokers, const std::string& topic,
                             const std::string& file, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"produce", "--brokers", brokers, "--topic", topic, file};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = RunConsensusd(args);
  return ParseProduceReport(r.exit_code, r.err);
}
inline ProduceResult Produce(const MockKafka& kafka, const std::string& topic,
                             const std::string& file, const std::vector<std::string>& extra = {}) {
  return Produce(kafka.bootstrap(), topic, file, extra);
}

// The arguments of `consensusd serve` for one instance, and its environment.
struct ServeArgs {
  std::string brokers, topic, group, data_dir;
  std::string config_file;        // optional --config
  std::vector<std::string> sets;  // --set KEY=VALUE
  std::vector<std::string> env;   // NAME=VALUE added to the environment
  bool replay = false;

  ServeArgs(std::string brokers, std::string topic, std::string group, std::string data_dir,
            std::vector<std::string> sets)
      : brokers(std::move(brokers)),
        topic(std::move(topic)),
        group(std::move(group)),
        data_dir(std::move(data_dir)),
        sets(std::move(sets)) {}

  // An instance on `kafka`.
  ServeArgs(const MockKafka& kafka, std::string topic, std::string group, std::string data_dir)
      : brokers(kafka.bootstrap()),
        topic(topic),
        group(std::move(group)),
        data_dir(std::move(data_dir)) {
    // Output topics follow the input topic, as mock-kafka creates them.
    sets = {
        "kafka.consensus_topic=" + topic + ".consensus", "kafka.review_topic=" + topic + ".review",
        "kafka.dlq_topic=" + topic + ".dlq", "model.sweep_interval_s=1",
        // The mock broker holds the first join after the group's last
        // member left (or died) for the session timeout minus 1 s: keep
        // restarts in a test short (librdkafka's default is 45 s).
        "kafka.properties.session.timeout.ms=4000", "kafka.properties.heartbeat.interval.ms=1000"};
  }

  std::vector<std::string> Argv() const {
    std::vector<std::string> argv = {
        kBinary, "serve",      "--brokers", brokers,  "--topic",     topic,         "--group",
        group,   "--data-dir", data_dir,    "--http", "127.0.0.1:0", "--log-level", "info"};
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
      : log_path_(std::move(log_path)),
        process_(args.Argv(),
                 {Redirect::Null(), Redirect::File(log_path_), Redirect::File(log_path_)},
                 args.env) {}
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
                 const std::string address =
                     log.substr(at + marker.size(), end - at - marker.size());
                 const size_t colon = address.rfind(':');
                 host_ = address.substr(0, colon);
                 port_ = std::atoi(address.c_str() + colon + 1);
                 return true;
               },
               timeout) &&
           port_ > 0;
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
  // The same in two steps, to stop several at once.
  void Signal(int sig) { process_.Signal(sig); }
  std::optional<int> WaitExit(Clock::duration timeout = seconds(40)) {
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
        const double consumed =
            SumMetric(m, "consensusd_messages_consumed_total", {{"topic", goal.topic}});
        const double applied = SumMetric(m, "consensusd_answers_applied_total");
        double total_lag = 0;
        for (const MetricSample& s : lag) total_lag += s.value;
        last = "lag samples " + std::to_string(lag.size()) + ", total lag " +
               std::to_string(total_lag) + ", consumed " + std::to_string(consumed) + ", applied " +
               std::to_string(applied);
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

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_HARNESS_H_
