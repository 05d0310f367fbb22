// RealKafka: a single-node Apache Kafka broker (KRaft) for the tests of the
// Kafka semantics that librdkafka's mock cluster does not model: consumer
// groups and their rebalances, broker restarts, log compaction (SPEC 8).
//
//   RealKafka kafka(dir.File("kafka"));
//   ASSERT_TRUE(kafka.Start().ok());
//   ASSERT_TRUE(kafka.CreateTopic("labels", 12).ok());
//   ... kafka.bootstrap() ...
//   kafka.Stop();   // the process ends, its data stays;
//   kafka.Start();  // the same broker again, on the same address
//
// It runs deploy/kafka/kafka.sh (start, stop) on a directory of its own; the
// script fetches the broker's jars once per machine. A broker is a JVM that
// takes several seconds to start, so a test suite shares one
// (SetUpTestSuite) and gives each test its own topics and groups. The broker
// stops with this object, and also when the test process dies without
// destroying it (kafka.sh start --owner). Not thread-safe.
#ifndef CONSENSUSD_TESTS_KAFKA_REAL_KAFKA_H_
#define CONSENSUSD_TESTS_KAFKA_REAL_KAFKA_H_

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "consumer/kafka_client.h"
#include "tests/common/subprocess.h"

namespace consensusd::kafka_tests {

inline const std::string kKafkaScript =
    std::string(CONSENSUSD_SOURCE_DIR) + "/deploy/kafka/kafka.sh";

class RealKafka {
 public:
  // `dir`: the broker's configuration, log and data (created on the first
  // Start). `properties`: broker settings (KEY=VALUE) added to its
  // server.properties at every start.
  explicit RealKafka(std::string dir, std::vector<std::string> properties = {})
      : dir_(std::move(dir)), properties_(std::move(properties)) {}
  ~RealKafka() { Stop().IgnoreError(); }
  RealKafka(const RealKafka&) = delete;
  RealKafka& operator=(const RealKafka&) = delete;

  // Starts the broker and waits until it answers (the first start formats
  // the directory and fetches the jars if needed). A later start keeps the
  // topics, the data and the address: an error if the address changed.
  absl::Status Start() {
    std::vector<std::string> argv = {"bash",  kKafkaScript, "start",      "--dir",
                                     dir_,    "--owner",    std::to_string(getpid())};
    for (const std::string& p : properties_) argv.insert(argv.end(), {"--property", p});
    const tests::RunResult r = tests::RunProgram(argv, std::chrono::minutes(5));
    if (r.exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("kafka.sh start failed (exit ", r.exit_code, "):\n", r.err));
    }
    const std::string out(absl::StripTrailingAsciiWhitespace(r.out));
    const std::string address = out.substr(out.rfind('\n') + 1);  // npos + 1 == 0
    if (!bootstrap_.empty() && address != bootstrap_) {
      return absl::InternalError(
          absl::StrCat("the broker came back on ", address, ", not on ", bootstrap_));
    }
    bootstrap_ = address;
    running_ = true;
    return absl::OkStatus();
  }

  // Stops the broker (SIGTERM, then SIGKILL after 30 s) and waits for its
  // exit; its directory stays for the next Start.
  absl::Status Stop() {
    if (!running_) return absl::OkStatus();
    running_ = false;
    const tests::RunResult r =
        tests::RunProgram({"bash", kKafkaScript, "stop", "--dir", dir_}, std::chrono::minutes(1));
    if (r.exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("kafka.sh stop failed (exit ", r.exit_code, "):\n", r.err));
    }
    return absl::OkStatus();
  }

  // HOST:PORT; empty before the first successful Start.
  const std::string& bootstrap() const { return bootstrap_; }
  // Started by this object and not stopped since.
  bool running() const { return running_; }

  // Creates `topic` with `partitions` partitions and topic-level `configs`
  // (e.g. {"cleanup.policy", "compact"}) through the Admin API, and waits
  // until the controller has created it. An existing topic is an error.
  absl::Status CreateTopic(const std::string& topic, int partitions,
                           const std::map<std::string, std::string>& configs = {}) {
    char errstr[512];
    std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> new_topic(
        rd_kafka_NewTopic_new(topic.c_str(), partitions, /*replication_factor=*/1, errstr,
                              sizeof errstr),
        &rd_kafka_NewTopic_destroy);
    if (new_topic == nullptr) return absl::InvalidArgumentError(errstr);
    for (const auto& [name, value] : configs) {
      if (absl::Status s = consumer::KafkaStatus(
              rd_kafka_NewTopic_set_config(new_topic.get(), name.c_str(), value.c_str()),
              absl::StrCat("topic config ", name));
          !s.ok()) {
        return s;
      }
    }
    const std::string context = absl::StrCat("creating topic ", topic);
    return AdminCall(
        RD_KAFKA_ADMIN_OP_CREATETOPICS, context,
        [&](rd_kafka_t* rk, const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
          rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
          rd_kafka_CreateTopics(rk, topics, 1, options, queue);
        },
        [&](rd_kafka_event_t* event) {
          size_t n = 0;
          const rd_kafka_topic_result_t** results =
              rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
          for (size_t i = 0; i < n; ++i) {
            const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
            const char* message = rd_kafka_topic_result_error_string(results[i]);
            return absl::InternalError(
                absl::StrCat(context, ": ", message != nullptr ? message : rd_kafka_err2str(err)));
          }
          return absl::OkStatus();
        });
  }

  // Replaces the topic-level configs of `topic` with `configs` (the Admin
  // API's AlterConfigs: a config not listed returns to its default).
  absl::Status SetTopicConfigs(const std::string& topic,
                               const std::map<std::string, std::string>& configs) {
    std::unique_ptr<rd_kafka_ConfigResource_t, decltype(&rd_kafka_ConfigResource_destroy)>
        resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()),
                 &rd_kafka_ConfigResource_destroy);
    for (const auto& [name, value] : configs) {
      if (absl::Status s = consumer::KafkaStatus(
              rd_kafka_ConfigResource_set_config(resource.get(), name.c_str(), value.c_str()),
              absl::StrCat("topic config ", name));
          !s.ok()) {
        return s;
      }
    }
    const std::string context = absl::StrCat("altering the configs of topic ", topic);
    return AdminCall(
        RD_KAFKA_ADMIN_OP_ALTERCONFIGS, context,
        [&](rd_kafka_t* rk, const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
          rd_kafka_ConfigResource_t* resources[] = {resource.get()};
          rd_kafka_AlterConfigs(rk, resources, 1, options, queue);
        },
        [&](rd_kafka_event_t* event) {
          size_t n = 0;
          const rd_kafka_ConfigResource_t** results = rd_kafka_AlterConfigs_result_resources(
              rd_kafka_event_AlterConfigs_result(event), &n);
          for (size_t i = 0; i < n; ++i) {
            const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(results[i]);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
            const char* message = rd_kafka_ConfigResource_error_string(results[i]);
            return absl::InternalError(
                absl::StrCat(context, ": ", message != nullptr ? message : rd_kafka_err2str(err)));
          }
          return absl::OkStatus();
        });
  }

  // A consumer group as the broker's coordinator sees it.
  struct GroupDescription {
    std::string state;  // "Stable", "PreparingRebalance", "Empty", ...
    std::vector<std::vector<int32_t>> members;  // each member's assigned partitions
    std::vector<std::string> instance_ids;  // each member's group.instance.id ("" if dynamic)
  };
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group) {
    GroupDescription description;
    const std::string context = absl::StrCat("describing group ", group);
    absl::Status s = AdminCall(
        RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, context,
        [&](rd_kafka_t* rk, const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
          const char* groups[] = {group.c_str()};
          rd_kafka_DescribeConsumerGroups(rk, groups, 1, options, queue);
        },
        [&](rd_kafka_event_t* event) {
          size_t n = 0;
          const rd_kafka_ConsumerGroupDescription_t** groups =
              rd_kafka_DescribeConsumerGroups_result_groups(
                  rd_kafka_event_DescribeConsumerGroups_result(event), &n);
          if (n != 1) return absl::InternalError(absl::StrCat(context, ": ", n, " results"));
          if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(groups[0])) {
            return absl::InternalError(absl::StrCat(context, ": ", rd_kafka_error_string(e)));
          }
          description.state = rd_kafka_consumer_group_state_name(
              rd_kafka_ConsumerGroupDescription_state(groups[0]));
          for (size_t m = 0; m < rd_kafka_ConsumerGroupDescription_member_count(groups[0]); ++m) {
            const rd_kafka_topic_partition_list_t* assigned =
                rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(
                    rd_kafka_ConsumerGroupDescription_member(groups[0], m)));
            const char* instance_id = rd_kafka_MemberDescription_group_instance_id(
                rd_kafka_ConsumerGroupDescription_member(groups[0], m));
            description.instance_ids.emplace_back(instance_id != nullptr ? instance_id : "");
            std::vector<int32_t>& partitions = description.members.emplace_back();
            for (int i = 0; assigned != nullptr && i < assigned->cnt; ++i) {
              partitions.push_back(assigned->elems[i].partition);
            }
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return description;
  }

  // The last `lines` lines of the broker's log, for failure messages.
  std::string LogTail(size_t lines = 30) const {
    std::ifstream in(dir_ + "/kafka.log");
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(std::move(line));
      if (tail.size() > lines) tail.pop_front();
    }
    std::string text;
    for (const std::string& line : tail) absl::StrAppend(&text, line, "\n");
    return text;
  }

 private:
  // One Admin API request on a client of its own: `send` issues it on the
  // queue, `read` turns its result event into the outcome.
  absl::Status AdminCall(
      rd_kafka_admin_op_t op, const std::string& context,
      const std::function<void(rd_kafka_t*, const rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>&
          send,
      const std::function<absl::Status(rd_kafka_event_t*)>& read) {
    absl::StatusOr<consumer::KafkaHandle> admin = consumer::NewKafkaHandle(
        RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap_}, {"log_level", "3"}});
    if (!admin.ok()) return admin.status();
    char errstr[512];
    std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> options(
        rd_kafka_AdminOptions_new(admin->get(), op), &rd_kafka_AdminOptions_destroy);
    rd_kafka_AdminOptions_set_request_timeout(options.get(), 30000, errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), 30000, errstr, sizeof errstr);
    std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
        rd_kafka_queue_new(admin->get()), &rd_kafka_queue_destroy);
    send(admin->get(), options.get(), queue.get());
    std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
        rd_kafka_queue_poll(queue.get(), 60000), &rd_kafka_event_destroy);
    if (event == nullptr) return absl::DeadlineExceededError(context);
    if (absl::Status s = consumer::KafkaStatus(rd_kafka_event_error(event.get()), context);
        !s.ok()) {
      return s;
    }
    return read(event.get());
  }

  std::string dir_;
  std::vector<std::string> properties_;
  std::string bootstrap_;
  bool running_ = false;
};

}  // namespace consensusd::kafka_tests

#endif  // CONSENSUSD_TESTS_KAFKA_REAL_KAFKA_H_
