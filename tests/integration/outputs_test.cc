// The output path (issue: an output path that never drops or blocks): the
// service in process on an embedded two-broker Kafka, so that the broker that
// leads the output topics can go down while the input keeps flowing.
//
// What these pin down: ingest and the HTTP API go on while the outputs cannot
// be delivered, and once the broker is back the latest record per task on the
// consensus topic is the final consensus; a restart without new input (or a
// replay) publishes nothing more; keys are unambiguous; a new project's
// workers show within a second; every rejection reason is exported at 0.

#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "consensus/synthetic.h"
#include "consumer/label_message.h"
#include "consumer/producer.h"
#include "engine/consensus_record.h"
#include "engine/reject_reason.h"
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

struct Answer {
  std::string project, task, worker, label;
};

std::vector<Answer> SyntheticAnswers(const std::string& project, int tasks, uint64_t seed) {
  const consensus::SyntheticData d = consensus::Synthesize(
      {.tasks = tasks, .workers = 20, .classes = 3, .answers_per_task = 5, .seed = seed});
  std::vector<Answer> out;
  for (int32_t t = 0; t < d.answers.num_tasks; ++t) {
    for (int64_t a = d.answers.task_begin[t]; a < d.answers.task_begin[t + 1]; ++a) {
      out.push_back({project, absl::StrCat("t", t), absl::StrCat("w", d.answers.worker[a]),
                     absl::StrCat("c", d.answers.label[a])});
    }
  }
  return out;
}

void Publish(const std::string& brokers, const std::vector<Answer>& answers, size_t begin,
             size_t end) {
  absl::StatusOr<std::unique_ptr<consumer::Producer>> producer =
      consumer::Producer::Create({{"bootstrap.servers", brokers}, {"linger.ms", "5"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::string value;
  for (size_t i = begin; i < end; ++i) {
    const Answer& a = answers[i];
    value.clear();
    consumer::AppendLabelMessage({.project = a.project, .task = a.task, .worker = a.worker, .label = a.label},
                                 value);
    ASSERT_TRUE((*producer)->SendWaiting("labels", a.task, value).ok());
  }
  ASSERT_TRUE((*producer)->Flush(30000).ok());
}

// The latest record per key of the consensus topic (one partition).
std::map<std::string, nlohmann::json> LatestConsensus(const EmbeddedKafka& kafka, size_t* records = nullptr) {
  std::map<std::string, nlohmann::json> latest;
  const std::vector<KafkaRecord> all =
      ReadWholePartition(kafka.bootstraps(), "labels.consensus", 0, seconds(10));
  for (const KafkaRecord& r : all) latest[r.key] = nlohmann::json::parse(r.value, nullptr, false);
  if (records != nullptr) *records = all.size();
  return latest;
}

// Whether the latest record of every task equals the service's final
// consensus: the same label, the confidence within output.min_change.
bool TopicMatchesFinal(Service& service, const EmbeddedKafka& kafka, const std::string& project,
                       std::string* why) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> labels =
      service.engine().Labels(project);
  if (!labels.ok()) {
    *why = labels.status().ToString();
    return false;
  }
  const std::map<std::string, nlohmann::json> latest = LatestConsensus(kafka);
  for (const auto& [task, label] : *labels) {
    auto it = latest.find(engine::ConsensusKey(project, task));
    if (it == latest.end()) {
      *why = "no record for " + task;
      return false;
    }
    const std::optional<engine::TaskView> view = service.engine().Task(project, task);
    if (it->second.value("label", "") != label ||
        std::fabs(it->second.value("confidence", -1.0) - view->confidence) >= 0.01) {
      *why = absl::StrCat(task, ": topic says ", it->second.dump(), ", final is ", label, " ",
                          view->confidence);
      return false;
    }
  }
  *why = absl::StrCat(labels->size(), " tasks match");
  return true;
}

std::unique_ptr<EmbeddedKafka> SplitCluster(const std::string& group);

double Metric(Service& service, const std::string& name) {
  return SumMetric(ParseMetrics(service.metrics().Render()), name);
}

TEST(OutputsTest, OutputBrokerDownNeitherBlocksIngestNorTheApiAndLatestRecordsEqualFinalConsensus) {
  TempDir dir;
  std::unique_ptr<EmbeddedKafka> kafka = SplitCluster("outage");
  ASSERT_NE(kafka, nullptr);
  EmbeddedKafka& k = *kafka;
  Config config = InProcessConfig(k, dir.File("state"), "outage");
  config.kafka.properties["message.timeout.ms"] = "2000";  // deliveries fail during the outage
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  const std::vector<Answer> answers = SyntheticAnswers("default", 400, 11);
  const size_t half = answers.size() / 2;
  Publish(k.bootstraps(), answers, 0, half);
  ASSERT_TRUE(WaitUntil([&] { return s.answers_committed() == static_cast<int64_t>(half); }, seconds(60)));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(k.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  Publish(k.bootstraps(), answers, half, answers.size());
  // Ingest goes on, and the API answers, while the outputs cannot be delivered.
  httplib::Client client(s.http_address());
  client.set_read_timeout(5, 0);
  double slowest_ms = 0;
  int api_calls = 0;
  const bool ingested = WaitUntil(
      [&] {
        const auto start = Clock::now();
        httplib::Result r = client.Get("/v1/projects/default");
        slowest_ms = std::max(slowest_ms, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        ++api_calls;
        EXPECT_TRUE(r && r->status == 200);
        return s.answers_committed() == static_cast<int64_t>(answers.size()) &&
               Metric(s, "consensusd_output_delivery_failures_total") > 0;
      },
      seconds(60), milliseconds(50));
  ASSERT_TRUE(ingested) << "committed " << s.answers_committed() << " of " << answers.size()
                        << ", delivery failures "
                        << Metric(s, "consensusd_output_delivery_failures_total");
  std::printf("output broker down: %d API calls, slowest %.1f ms; all %zu answers committed\n",
              api_calls, slowest_ms, answers.size());
  EXPECT_LT(slowest_ms, 1000);

  ASSERT_EQ(rd_kafka_mock_broker_set_up(k.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(s.engine().Recompute("default").ok());
  std::string why;
  EXPECT_TRUE(WaitUntil([&] { return TopicMatchesFinal(s, k, "default", &why); }, seconds(60), seconds(1)))
      << why;
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

// Two brokers: broker 1 leads the input and the group, broker 2 the outputs.
std::unique_ptr<EmbeddedKafka> SplitCluster(const std::string& group) {
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(2);
  if (!kafka.ok() || !(*kafka)->CreateServiceTopics("labels", 2).ok()) return nullptr;
  EmbeddedKafka& k = **kafka;
  for (int32_t p = 0; p < 2; ++p) rd_kafka_mock_partition_set_leader(k.cluster(), "labels", p, 1);
  for (const char* topic : {"labels.consensus", "labels.review", "labels.dlq"}) {
    rd_kafka_mock_partition_set_leader(k.cluster(), topic, 0, 2);
  }
  rd_kafka_mock_coordinator_set(k.cluster(), "group", group.c_str(), 1);
  return std::move(*kafka);
}

TEST(OutputsTest, FullProducerQueuePausesConsumptionUntilItDrains) {
  TempDir dir;
  std::unique_ptr<EmbeddedKafka> kafka = SplitCluster("full");
  ASSERT_NE(kafka, nullptr);
  EmbeddedKafka& k = *kafka;
  Config config = InProcessConfig(k, dir.File("state"), "full");
  config.kafka.properties["queue.buffering.max.messages"] = "100";
  config.kafka.commit_max_messages = 50;
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ASSERT_TRUE(WaitUntil([&] { return s.ready(); }, seconds(60)));
  ASSERT_EQ(rd_kafka_mock_broker_set_down(k.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  const std::vector<Answer> answers = SyntheticAnswers("default", 600, 9);
  Publish(k.bootstraps(), answers, 0, answers.size());
  // The queue fills at once; consumption stops short of the end and stays there.
  ASSERT_TRUE(WaitUntil([&] { return s.answers_committed() > 0; }, seconds(30)));
  std::this_thread::sleep_for(seconds(3));
  const int64_t stalled = s.answers_committed();
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(s.answers_committed(), stalled) << "consumption went on with the output queue full";
  EXPECT_LT(stalled, static_cast<int64_t>(answers.size()));
  httplib::Client client(s.http_address());
  httplib::Result r = client.Get("/healthz");
  EXPECT_TRUE(r && r->status == 200);
  // Back: the queue drains, consumption resumes, every answer lands.
  ASSERT_EQ(rd_kafka_mock_broker_set_up(k.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto up = Clock::now();
  EXPECT_TRUE(WaitUntil([&] { return s.answers_committed() == static_cast<int64_t>(answers.size()); },
                        seconds(120)))
      << s.answers_committed() << " of " << answers.size();
  std::printf("paused at %lld of %zu answers; all committed %.1f s after the broker came back\n",
              static_cast<long long>(stalled), answers.size(),
              std::chrono::duration<double>(Clock::now() - up).count());
  ASSERT_TRUE(s.engine().Recompute("default").ok());
  std::string why;
  EXPECT_TRUE(WaitUntil([&] { return TopicMatchesFinal(s, k, "default", &why); }, seconds(60), seconds(1)))
      << why;
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

TEST(OutputsTest, RestartWithoutNewInputAndReplayPublishNothingMore) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 2).ok());
  const std::vector<Answer> answers = SyntheticAnswers("default", 300, 5);
  Publish(k.bootstraps(), answers, 0, answers.size());
  {  // one bad message of each of two reasons, for the dead-letter topic
    absl::StatusOr<std::unique_ptr<consumer::Producer>> p =
        consumer::Producer::Create({{"bootstrap.servers", k.bootstraps()}});
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->SendWaiting("labels", "x", "{\"task\":").ok());
    ASSERT_TRUE((*p)->SendWaiting("labels", "y", "{\"worker\":\"w\",\"label\":\"c0\"}").ok());
    ASSERT_TRUE((*p)->Flush(10000).ok());
  }
  const Config config = InProcessConfig(k, dir.File("state"), "restart");
  auto run = [&](bool replay, const char* what) -> std::pair<size_t, size_t> {
    absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config, replay);
    EXPECT_TRUE(service.ok()) << service.status();
    if (!service.ok()) return {0, 0};
    Service& s = **service;
    // Every message consumed (a replay consumes all again), then a sweep.
    EXPECT_TRUE(WaitUntil([&] { return s.ready(); }, seconds(60))) << what;
    if (replay) {
      EXPECT_TRUE(WaitUntil([&] { return s.messages_consumed() == static_cast<int64_t>(answers.size() + 2); },
                            seconds(60)))
          << what;
    } else {
      EXPECT_TRUE(WaitUntil([&] { return s.engine().Labels("default").ok() &&
                                         s.engine().Labels("default")->size() == 300; },
                            seconds(60)))
          << what;
    }
    EXPECT_TRUE(s.engine().Recompute("default").ok());
    std::string why;
    EXPECT_TRUE(WaitUntil([&] { return TopicMatchesFinal(s, k, "default", &why); }, seconds(30), milliseconds(500)))
        << what << ": " << why;
    std::this_thread::sleep_for(milliseconds(1500));  // a background sweep or two more
    s.RequestStop();
    EXPECT_TRUE(s.Wait().ok());
    size_t consensus = 0;
    LatestConsensus(k, &consensus);
    const size_t dlq = ReadWholePartition(k.bootstraps(), "labels.dlq", 0, seconds(10)).size();
    return {consensus, dlq};
  };
  const auto [consensus1, dlq1] = run(false, "first run");
  EXPECT_GE(consensus1, 300u);
  EXPECT_EQ(dlq1, 2u);
  const auto [consensus2, dlq2] = run(false, "restart");
  EXPECT_EQ(consensus2, consensus1) << "a restart without new input published again";
  const auto [consensus3, dlq3] = run(true, "replay");
  EXPECT_EQ(consensus3, consensus1) << "a replay published again";
  EXPECT_EQ(dlq3, dlq1) << "a replay dead-lettered again";
}

TEST(OutputsTest, IdsThatDifferOnlyInWhereASlashFallsGetDistinctKeys) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 1).ok());
  Publish(k.bootstraps(),
          {{"a/b", "c", "w1", "yes"}, {"a", "b/c", "w1", "no"}, {"a", "50%", "w1", "no"}}, 0, 3);
  absl::StatusOr<std::unique_ptr<Service>> service =
      Service::Start(InProcessConfig(k, dir.File("state"), "keys"));
  ASSERT_TRUE(service.ok()) << service.status();
  std::map<std::string, nlohmann::json> latest;
  ASSERT_TRUE(WaitUntil([&] { return (latest = LatestConsensus(k)).size() == 3; }, seconds(60), milliseconds(200)))
      << latest.size();
  EXPECT_EQ(latest["a%2Fb/c"].value("project", ""), "a/b");
  EXPECT_EQ(latest["a%2Fb/c"].value("task", ""), "c");
  EXPECT_EQ(latest["a/b%2Fc"].value("project", ""), "a");
  EXPECT_EQ(latest["a/b%2Fc"].value("task", ""), "b/c");
  EXPECT_EQ(latest["a/50%25"].value("task", ""), "50%");
}

TEST(OutputsTest, FreshStartExportsEveryReasonAtZeroAndNewWorkersShowWithinASecond) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EmbeddedKafka& k = **kafka;
  ASSERT_TRUE(k.CreateServiceTopics("labels", 1).ok());
  Config config = InProcessConfig(k, dir.File("state"), "fresh");
  config.model.sweep_interval_s = 60;  // visibility must not wait for the interval
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  const std::vector<MetricSample> metrics = ParseMetrics(s.metrics().Render());
  for (const engine::RejectReason r : engine::kAllRejectReasons) {
    const std::vector<MetricSample> samples = Samples(
        metrics, "consensusd_messages_rejected_total", {{"reason", std::string(engine::ReasonCode(r))}});
    ASSERT_EQ(samples.size(), 1u) << engine::ReasonCode(r);
    EXPECT_EQ(samples[0].value, 0);
  }
  ASSERT_TRUE(WaitUntil([&] { return s.ready(); }, seconds(60)));

  Publish(k.bootstraps(), SyntheticAnswers("fresh", 50, 3), 0, 250);
  ASSERT_TRUE(WaitUntil([&] { return s.answers_committed() > 0; }, seconds(30), milliseconds(2)));
  const auto first_commit = Clock::now();
  httplib::Client client(s.http_address());
  ASSERT_TRUE(WaitUntil(
      [&] {
        httplib::Result r = client.Get("/v1/projects/fresh/workers");
        if (!r || r->status != 200) return false;
        const nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
        return body.contains("items") && !body["items"].empty() &&
               body["items"][0].value("answers", 0) > 0;
      },
      seconds(10), milliseconds(10)));
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - first_commit).count();
  std::printf("workers visible %.0f ms after the first commit\n", ms);
  EXPECT_LT(ms, 1000);
  httplib::Result project = client.Get("/v1/projects/fresh");
  ASSERT_TRUE(project && project->status == 200);
  EXPECT_FALSE(nlohmann::json::parse(project->body)["last_sweep"].is_null());
}

}  // namespace
}  // namespace consensusd::integration
