// Readiness (SPEC 5.3, 6, 8) on the embedded Kafka, the service in process:
// each assigned partition restores until the consumer has caught up with it
// and publishes nothing meanwhile; /readyz says so in its body and the
// partition gauges agree; a broker outage turns /readyz 503 within seconds,
// and it is 200 again once the brokers are back.

#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "consumer/label_message.h"
#include "consumer/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "service/kafka_topics.h"
#include "service/service.h"
#include "tests/integration/harness.h"
#include "tests/integration/in_process_config.h"

namespace consensusd::integration {
namespace {

using service::Config;
using service::EmbeddedKafka;
using service::Service;

// `tasks` tasks (t<first>, ...) with 3 answers each, one message per answer,
// keyed by task, each in its own batch (so that small fetches take many round trips).
void PublishAnswers(const std::string& brokers, int tasks, int first = 0) {
  absl::StatusOr<std::unique_ptr<consumer::Producer>> producer = consumer::Producer::Create(
      {{"bootstrap.servers", brokers}, {"linger.ms", "0"}, {"batch.num.messages", "1"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::string value;
  for (int t = first; t < first + tasks; ++t) {
    for (int w = 0; w < 3; ++w) {
      const std::string task = absl::StrCat("t", t);
      value.clear();
      consumer::AppendLabelMessage(
          {.project = "p", .task = task, .worker = absl::StrCat("w", w), .label = w == 2 ? "b" : "a"},
          value);
      ASSERT_TRUE((*producer)->SendWaiting("labels", task, value).ok());
    }
  }
  ASSERT_TRUE((*producer)->Flush(30000).ok());
}

struct ReadyzAnswer {
  int status = 0;
  nlohmann::json body;
};

ReadyzAnswer GetReadyz(const Service& s) {
  httplib::Client client(s.http_address());
  client.set_read_timeout(5, 0);
  httplib::Result r = client.Get("/readyz");
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

double Metric(Service& s, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  return SumMetric(ParseMetrics(s.metrics().Render()), name, labels);
}

TEST(ReadinessTest, PartitionsRestoreWithoutPublishingThenTurnReady) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 2).ok());
  PublishAnswers(k.bootstraps(), 200);
  Config config = InProcessConfig(k, dir.File("state"), "restore");
  // Small fetches, each 20 ms away: the restore takes seconds.
  config.kafka.properties["max.partition.fetch.bytes"] = "1";
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(k.cluster(), -1, 20), RD_KAFKA_RESP_ERR_NO_ERROR);
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;

  // Restoring: 503, both partitions owned and restoring, nothing published.
  ReadyzAnswer restoring;
  ASSERT_TRUE(WaitUntil(
      [&] {
        restoring = GetReadyz(s);
        // A quarter of the answers applied and committed while restoring.
        return restoring.body.is_object() && restoring.body["partitions"]["owned"] == 2 &&
               s.answers_committed() >= 150;
      },
      seconds(30), std::chrono::milliseconds(20)))
      << restoring.body.dump();
  std::this_thread::sleep_for(seconds(1));  // what was sent is delivered
  const size_t published = ReadWholePartition(k.bootstraps(), "labels.consensus", 0, seconds(10)).size();
  const ReadyzAnswer after = GetReadyz(s);
  ASSERT_EQ(after.body["partitions"]["restoring"], 2)
      << "the restore ended too soon for this test: " << after.body.dump();
  EXPECT_EQ(after.status, 503);
  EXPECT_EQ(after.body["ready"], false);
  EXPECT_EQ(after.body["partitions"]["ready"], 0);
  EXPECT_EQ(after.body["brokers"], "up");
  EXPECT_EQ(after.body["reason"], "partitions restoring");
  EXPECT_EQ(published, 0u) << "a restoring partition published";
  EXPECT_EQ(Metric(s, "consensusd_partitions", {{"state", "restoring"}}), 2);

  // Caught up: 200, both ready, and every task is published.
  ReadyzAnswer ready;
  ASSERT_TRUE(WaitUntil([&] { return (ready = GetReadyz(s)).status == 200; }, seconds(120)))
      << ready.body.dump();
  EXPECT_EQ(ready.body, nlohmann::json::parse(
                            R"({"ready":true,"partitions":{"owned":2,"restoring":0,"ready":2},"brokers":"up"})"));
  EXPECT_TRUE(WaitUntil([&] { return s.answers_committed() == 600; }, seconds(10)));
  EXPECT_EQ(Metric(s, "consensusd_partitions", {{"state", "owned"}}), 2);
  EXPECT_EQ(Metric(s, "consensusd_partitions", {{"state", "ready"}}), 2);
  EXPECT_EQ(Metric(s, "consensusd_partitions", {{"state", "restoring"}}), 0);
  for (const char* p : {"0", "1"}) {
    EXPECT_EQ(Metric(s, "consensusd_partition_ready", {{"topic", "labels"}, {"partition", p}}), 1) << p;
  }
  EXPECT_EQ(Metric(s, "consensusd_kafka_brokers_up"), 1);
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(k.cluster(), -1, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<std::string, std::string> latest;
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const KafkaRecord& r : ReadWholePartition(k.bootstraps(), "labels.consensus", 0, seconds(10))) {
          latest[r.key] = r.value;
        }
        return latest.size() == 200;
      },
      seconds(60), seconds(1)))
      << latest.size() << " of 200 tasks published";
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

TEST(ReadinessTest, AnEmptyTopicIsReadyAtOnce) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 3).ok());
  absl::StatusOr<std::unique_ptr<Service>> service =
      Service::Start(InProcessConfig(k, dir.File("state"), "empty"));
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ReadyzAnswer r;
  ASSERT_TRUE(WaitUntil([&] { return (r = GetReadyz(s)).status == 200; }, seconds(30))) << r.body.dump();
  EXPECT_EQ(r.body["partitions"]["owned"], 3);
  EXPECT_EQ(r.body["partitions"]["ready"], 3);
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

TEST(ReadinessTest, BrokerOutageTurnsReadyzNotReadyWithinSecondsAndBackAfterwards) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 2).ok());
  PublishAnswers(k.bootstraps(), 20);
  absl::StatusOr<std::unique_ptr<Service>> service =
      Service::Start(InProcessConfig(k, dir.File("state"), "outage"));
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ASSERT_TRUE(WaitUntil([&] { return GetReadyz(s).status == 200; }, seconds(30)));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(k.cluster(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto down = Clock::now();
  ReadyzAnswer r;
  ASSERT_TRUE(WaitUntil([&] { return (r = GetReadyz(s)).status == 503; }, seconds(15)))
      << r.body.dump();
  const double to_503 = std::chrono::duration<double>(Clock::now() - down).count();
  std::printf("readyz 503 %.1f s after the broker went down\n", to_503);
  EXPECT_LT(to_503, 5);
  EXPECT_EQ(r.body["brokers"], "down");
  EXPECT_EQ(r.body["reason"], "the Kafka brokers do not answer");
  EXPECT_EQ(Metric(s, "consensusd_kafka_brokers_up"), 0);
  // The lag is unknown, not a stale number.
  EXPECT_TRUE(WaitUntil([&] { return std::isnan(Metric(s, "consensusd_consumer_lag_messages")); }, seconds(5)))
      << Metric(s, "consensusd_consumer_lag_messages");
  httplib::Client client(s.http_address());
  httplib::Result projects = client.Get("/v1/projects/p");
  EXPECT_TRUE(projects && projects->status == 200) << "the API answers during the outage";

  ASSERT_EQ(rd_kafka_mock_broker_set_up(k.cluster(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto up = Clock::now();
  ASSERT_TRUE(WaitUntil([&] { return (r = GetReadyz(s)).status == 200; }, seconds(60)))
      << r.body.dump();
  std::printf("readyz 200 %.1f s after the broker came back\n",
              std::chrono::duration<double>(Clock::now() - up).count());
  EXPECT_EQ(r.body["brokers"], "up");
  EXPECT_EQ(Metric(s, "consensusd_kafka_brokers_up"), 1);
  EXPECT_TRUE(WaitUntil([&] { return Metric(s, "consensusd_consumer_lag_messages") == 0; }, seconds(5)))
      << Metric(s, "consensusd_consumer_lag_messages");
  // And it consumes again.
  PublishAnswers(k.bootstraps(), 21);
  EXPECT_TRUE(WaitUntil([&] { return s.answers_committed() == 60 + 63; }, seconds(30)))
      << s.answers_committed();
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

// A broker that hangs rather than refuses: no error arrives, the probe times out.
TEST(ReadinessTest, BrokersThatStopAnsweringTurnReadyzNotReady) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 1).ok());
  absl::StatusOr<std::unique_ptr<Service>> service =
      Service::Start(InProcessConfig(k, dir.File("state"), "slow"));
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ASSERT_TRUE(WaitUntil([&] { return GetReadyz(s).status == 200; }, seconds(30)));

  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(k.cluster(), -1, 4000), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto slow = Clock::now();
  ReadyzAnswer r;
  ASSERT_TRUE(WaitUntil([&] { return (r = GetReadyz(s)).status == 503; }, seconds(15)))
      << r.body.dump();
  const double to_503 = std::chrono::duration<double>(Clock::now() - slow).count();
  std::printf("readyz 503 %.1f s after the broker stopped answering\n", to_503);
  EXPECT_LT(to_503, 8);  // two probes of 1 s, a second apart, and some slack
  EXPECT_EQ(r.body["brokers"], "down");

  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(k.cluster(), -1, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_TRUE(WaitUntil([&] { return (r = GetReadyz(s)).status == 200; }, seconds(30)))
      << r.body.dump();
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

// The stored offset is past the end of the topic (the broker lost its data;
// retention, the other way out of range, works the same): kafka.offset_out_of_range
// decides, loudly and counted, instead of librdkafka resetting silently.
struct OutOfRangeRun {
  absl::Status status;     // of Service::Wait
  int64_t committed = -1;  // answers committed by the second run
  double counted = -1;     // consensusd_offsets_out_of_range_total
  // A restart afterwards (not after fail): the same two.
  int64_t committed_after_restart = -1;
  double counted_after_restart = -1;
};

OutOfRangeRun RunWithLostBrokerData(const std::string& policy) {
  TempDir dir;
  OutOfRangeRun run;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
    EXPECT_TRUE(kafka.ok()) << kafka.status();
    if (!kafka.ok()) return run;
    EXPECT_TRUE((*kafka)->CreateServiceTopics("labels", 1).ok());
    PublishAnswers((*kafka)->bootstraps(), 20);  // offsets 0..59
    absl::StatusOr<std::unique_ptr<Service>> service =
        Service::Start(InProcessConfig(**kafka, dir.File("state"), "lost"));
    EXPECT_TRUE(service.ok()) << service.status();
    if (!service.ok()) return run;
    EXPECT_TRUE(WaitUntil([&] { return (*service)->answers_committed() == 60; }, seconds(30)));
    (*service)->RequestStop();
    EXPECT_TRUE((*service)->Wait().ok());
  }
  // A new, empty broker: the stored offset 60 is beyond its end.
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  EXPECT_TRUE(kafka.ok()) << kafka.status();
  if (!kafka.ok()) return run;
  EXPECT_TRUE((*kafka)->CreateServiceTopics("labels", 1).ok());
  PublishAnswers((*kafka)->bootstraps(), 2, /*first=*/100);  // offsets 0..5
  Config config = InProcessConfig(**kafka, dir.File("state"), "lost");
  config.kafka.offset_out_of_range = policy;
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  EXPECT_TRUE(service.ok()) << service.status();
  if (!service.ok()) return run;
  Service& s = **service;
  WaitUntil([&] { return Metric(s, "consensusd_offsets_out_of_range_total") > 0; }, seconds(20));
  if (policy != "fail") {
    // What arrives afterwards is consumed in every case.
    PublishAnswers((*kafka)->bootstraps(), 1, /*first=*/200);
    const int64_t expected = policy == "earliest" ? 9 : 3;
    WaitUntil([&] { return s.answers_committed() >= expected; }, seconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing more comes
    run.committed = s.answers_committed();
    s.RequestStop();
  } else {
    run.committed = s.answers_committed();
  }
  run.status = s.Wait();
  run.counted = Metric(s, "consensusd_offsets_out_of_range_total");
  if (policy == "fail") return run;
  // The new position was stored: a restart resumes there, with nothing out of range.
  absl::StatusOr<std::unique_ptr<Service>> again = Service::Start(config);
  EXPECT_TRUE(again.ok()) << again.status();
  if (!again.ok()) return run;
  EXPECT_TRUE(WaitUntil([&] { return GetReadyz(**again).status == 200; }, seconds(30)));
  PublishAnswers((*kafka)->bootstraps(), 1, /*first=*/300);
  WaitUntil([&] { return (*again)->answers_committed() >= 3; }, seconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run.committed_after_restart = (*again)->answers_committed();
  run.counted_after_restart = Metric(**again, "consensusd_offsets_out_of_range_total");
  (*again)->RequestStop();
  EXPECT_TRUE((*again)->Wait().ok());
  return run;
}

TEST(OffsetOutOfRangeTest, EarliestResumesAtTheOldestOffsetAndCountsIt) {
  const OutOfRangeRun run = RunWithLostBrokerData("earliest");
  EXPECT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.counted, 1);
  EXPECT_EQ(run.committed, 6 + 3);  // the new broker's 6 answers, then 3 more
  EXPECT_EQ(run.counted_after_restart, 0);
  EXPECT_EQ(run.committed_after_restart, 3);  // only the newest 3: none again
}

TEST(OffsetOutOfRangeTest, LatestSkipsToTheEndAndCountsIt) {
  const OutOfRangeRun run = RunWithLostBrokerData("latest");
  EXPECT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.counted, 1);
  EXPECT_EQ(run.committed, 3);  // only what arrived after the reset
  EXPECT_EQ(run.counted_after_restart, 0);
  EXPECT_EQ(run.committed_after_restart, 3);
}

TEST(OffsetOutOfRangeTest, FailStopsTheServiceWithTheReason) {
  const OutOfRangeRun run = RunWithLostBrokerData("fail");
  EXPECT_TRUE(absl::IsDataLoss(run.status)) << run.status;
  EXPECT_THAT(std::string(run.status.message()), ::testing::HasSubstr("is no longer in the topic"));
  EXPECT_THAT(std::string(run.status.message()), ::testing::HasSubstr("kafka.offset_out_of_range"));
  EXPECT_EQ(run.counted, 1);
  EXPECT_EQ(run.committed, 0);
}

// The group session times out during a broker outage; when the broker is back
// the consumer rejoins and reloads every partition's state. A stop requested
// while it reloads ends the reload at the next partition (SPEC 6: exit within
// the shutdown limit), and a restart loses nothing.
TEST(RebalanceTest, StopDuringTheReloadAfterASessionTimeoutTakesNoMorePartitions) {
  constexpr int kPartitions = 32;
  constexpr int kTasks = 20000;  // 3 answers each
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", kPartitions).ok());
  {
    absl::StatusOr<std::unique_ptr<consumer::Producer>> producer =
        consumer::Producer::Create({{"bootstrap.servers", k.bootstraps()}, {"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::string value;
    for (int t = 0; t < kTasks; ++t) {
      const std::string task = absl::StrCat("t", t);
      for (int w = 0; w < 3; ++w) {
        value.clear();
        consumer::AppendLabelMessage({.project = "p",
                                      .task = task,
                                      .worker = absl::StrCat("w", (t + w) % 50),
                                      .label = w == 2 ? "b" : "a"},
                                     value);
        ASSERT_TRUE((*producer)->SendWaiting("labels", task, value).ok());
      }
    }
    ASSERT_TRUE((*producer)->Flush(30000).ok());
  }
  Config config = InProcessConfig(k, dir.File("state"), "reload");
  config.kafka.properties["session.timeout.ms"] = "6000";
  config.kafka.properties["heartbeat.interval.ms"] = "500";
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ASSERT_TRUE(WaitUntil([&] { return s.answers_committed() == 3 * kTasks; }, seconds(60)))
      << s.answers_committed();
  ASSERT_EQ(s.engine().OwnedPartitions().size(), kPartitions);

  // Down for longer than the session: the group drops the member, the member
  // finds its assignment lost and gives its partitions up.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(k.cluster(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(WaitUntil([&] { return s.engine().OwnedPartitions().empty(); }, seconds(30)));
  std::this_thread::sleep_for(seconds(7));  // the coordinator's session timer runs out too
  ASSERT_EQ(rd_kafka_mock_broker_set_up(k.cluster(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);

  // Stop as soon as the first partition is back, while the others reload.
  size_t owned_at_stop = 0;
  const auto deadline = Clock::now() + seconds(60);
  while (Clock::now() < deadline && (owned_at_stop = s.engine().OwnedPartitions().size()) == 0) {
    std::this_thread::yield();
  }
  s.RequestStop();
  const auto stop = Clock::now();
  ASSERT_GT(owned_at_stop, 0u) << "the partitions never came back";
  EXPECT_TRUE(s.Wait().ok());
  const double stop_s = std::chrono::duration<double>(Clock::now() - stop).count();
  // (The engine is gone after Wait; the gauge keeps what the last assignment took.)
  const size_t owned_at_exit = static_cast<size_t>(Metric(s, "consensusd_partitions", {{"state", "owned"}}));
  std::printf("stop requested with %zu of %d partitions reloaded; %zu at exit, %.2f s later\n",
              owned_at_stop, kPartitions, owned_at_exit, stop_s);
  // At most the partition being loaded when the stop came was finished.
  EXPECT_LE(owned_at_exit, owned_at_stop + 1);
  EXPECT_LT(owned_at_exit, static_cast<size_t>(kPartitions));
  EXPECT_LT(stop_s, 15);
  service->reset();

  // Nothing was lost: a restart holds every answer.
  absl::StatusOr<std::unique_ptr<Service>> again = Service::Start(config);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(WaitUntil([&] { return GetReadyz(**again).status == 200; }, seconds(60)));
  httplib::Client client((*again)->http_address());
  httplib::Result project = client.Get("/v1/projects/p");
  ASSERT_TRUE(project && project->status == 200);
  const nlohmann::json view = nlohmann::json::parse(project->body);
  EXPECT_EQ(view["answers"], 3 * kTasks) << view.dump();
  EXPECT_EQ(view["tasks"], kTasks) << view.dump();
  (*again)->RequestStop();
  EXPECT_TRUE((*again)->Wait().ok());
}

}  // namespace
}  // namespace consensusd::integration
