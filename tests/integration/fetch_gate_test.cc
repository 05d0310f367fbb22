// The ingest loop against librdkafka 2.0's fetch gate: the fetcher stops while
// the consumer's queue holds queued.min.messages or more and looks again only
// when its broker thread wakes (network activity, an operation, or a second
// later). IngestLoop::WakeFetcher wakes it, once the queue is drained, with a
// request to the broker that leads a lagging partition. What is pinned down
// here: the wake happens, and every answer is applied exactly once (the loop
// now takes messages in batches, and drops any that a rebalance made stale).
// Without the wake this backlog takes about 40 s instead of about 1.5 s
// after the group join (printed), which is not asserted: timing is measured
// by benchmarks, not tests.

#include <chrono>
#include <functional>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "consensus/synthetic.h"
#include "consumer/label_message.h"
#include "consumer/producer.h"
#include "gtest/gtest.h"
#include "service/kafka_topics.h"
#include "service/service.h"
#include "tests/integration/harness.h"
#include "tests/integration/in_process_config.h"
#include "tests/integration/metrics_text.h"

namespace consensusd::integration {
namespace {

using service::Config;
using service::EmbeddedKafka;
using service::Service;

// Publishes the answers of tasks [begin, end) of `d`, one per message, and
// flushes every 250 messages (then calls `after_flush`): each partition gets
// many message sets, and the mock broker returns one set per partition and
// fetch, so reading them takes many fetches.
void PublishAnswers(const std::string& brokers, const consensus::SyntheticData& d, int32_t begin,
                    int32_t end, const std::function<void()>& after_flush) {
  absl::StatusOr<std::unique_ptr<consumer::Producer>> producer =
      consumer::Producer::Create({{"bootstrap.servers", brokers}, {"linger.ms", "5"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::string value;
  int64_t sent = 0;
  for (int32_t t = begin; t < end; ++t) {
    for (int64_t a = d.answers.task_begin[t]; a < d.answers.task_begin[t + 1]; ++a) {
      const std::string task = absl::StrCat("t", t);
      value.clear();
      consumer::AppendLabelMessage({.project = "default",
                                    .task = task,
                                    .worker = absl::StrCat("w", d.answers.worker[a]),
                                    .label = absl::StrCat("c", d.answers.label[a])},
                                   value);
      ASSERT_TRUE((*producer)->SendWaiting("labels", task, value).ok());
      if (++sent % 250 == 0) {
        ASSERT_TRUE((*producer)->Flush(30000).ok());
        after_flush();
      }
    }
  }
  ASSERT_TRUE((*producer)->Flush(30000).ok());
}

// One embedded broker with the service's topics, 4 partitions each.
std::unique_ptr<EmbeddedKafka> StartKafka() {
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  EXPECT_TRUE(kafka.ok()) << kafka.status();
  if (!kafka.ok()) return nullptr;
  absl::Status topics = (*kafka)->CreateServiceTopics("labels", 4);
  EXPECT_TRUE(topics.ok()) << topics;
  return topics.ok() ? std::move(*kafka) : nullptr;
}

TEST(FetchGateTest, ADrainedQueueWakesTheFetcherAndEveryAnswerIsAppliedOnce) {
  TempDir dir;
  std::unique_ptr<EmbeddedKafka> kafka = StartKafka();
  ASSERT_NE(kafka, nullptr);
  EmbeddedKafka& k = *kafka;
  // One answer per message, as platforms send them, all in the topic before
  // the service starts: a backlog, so the queue reaches the gate at once.
  const consensus::SyntheticData d = consensus::Synthesize(
      {.tasks = 2000, .workers = 30, .classes = 3, .answers_per_task = 5, .seed = 11});
  PublishAnswers(k.bootstraps(), d, 0, d.answers.num_tasks, [] {});
  const int64_t total = d.answers.num_answers();
  Config config = InProcessConfig(k, dir.File("state"), "gate");
  // A gate of 50 messages: every fetch response of the backlog (a set of
  // about 60 messages per partition) reaches it, so the fetcher stops after
  // each one.
  config.kafka.properties["queued.min.messages"] = "50";
  const auto start = Clock::now();
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config);
  ASSERT_TRUE(service.ok()) << service.status();
  Service& s = **service;
  ASSERT_TRUE(WaitUntil([&] { return s.answers_committed() >= total; }, seconds(120)))
      << s.answers_committed() << " of " << total;
  std::printf("%lld answers committed %.2f s after the start, %lld fetcher wakeups\n",
              static_cast<long long>(total), std::chrono::duration<double>(Clock::now() - start).count(),
              static_cast<long long>(s.fetcher_wakeups()));
  EXPECT_GT(s.fetcher_wakeups(), 0);
  // Nothing more arrives: an answer applied twice would have counted twice.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(s.answers_committed(), total);
  EXPECT_EQ(s.messages_consumed(), total);
  // Every task has all of its answers.
  for (int32_t t = 0; t < d.answers.num_tasks; t += 97) {
    const std::optional<engine::TaskView> view = s.engine().Task("default", absl::StrCat("t", t));
    ASSERT_TRUE(view.has_value()) << "t" << t;
    EXPECT_EQ(view->answers.size(), static_cast<size_t>(d.answers.task_begin[t + 1] - d.answers.task_begin[t]))
        << "t" << t;
  }
  s.RequestStop();
  EXPECT_TRUE(s.Wait().ok());
}

// The worker-statistics reader (its own consumer, queued.min.messages 10,000
// by default) is woken the same way: a second instance reads the statistics
// that the first published in many small publications.
TEST(FetchGateTest, TheWorkerStatisticsReaderIsWokenAndReadsEveryRecord) {
  TempDir dir;
  std::unique_ptr<EmbeddedKafka> kafka = StartKafka();
  ASSERT_NE(kafka, nullptr);
  EmbeddedKafka& k = *kafka;
  const consensus::SyntheticData d = consensus::Synthesize(
      {.tasks = 1000, .workers = 400, .classes = 3, .answers_per_task = 5, .seed = 12});
  double sent = 0;
  {
    // The first instance publishes its statistics every 50 ms while the
    // answers arrive a few hundred at a time.
    Config config = InProcessConfig(k, dir.File("state-a"), "gate-a");
    config.kafka.worker_stats_interval_ms = 50;
    absl::StatusOr<std::unique_ptr<Service>> a = Service::Start(config);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(WaitUntil([&] { return (*a)->ready(); }, seconds(60)));
    PublishAnswers(k.bootstraps(), d, 0, d.answers.num_tasks,
                   [] { std::this_thread::sleep_for(milliseconds(60)); });
    ASSERT_TRUE(WaitUntil([&] { return (*a)->answers_committed() == d.answers.num_answers(); }, seconds(60)));
    (*a)->RequestStop();
    ASSERT_TRUE((*a)->Wait().ok());
    sent = SumMetric(ParseMetrics((*a)->metrics().Render()), "consensusd_worker_stats_records_total",
                     {{"direction", "sent"}});
  }
  ASSERT_GT(sent, 0);
  Config config = InProcessConfig(k, dir.File("state-b"), "gate-b");
  config.kafka.properties["queued.min.messages"] = "50";
  absl::StatusOr<std::unique_ptr<Service>> b = Service::Start(config);
  ASSERT_TRUE(b.ok()) << b.status();
  auto received = [&] {
    return SumMetric(ParseMetrics((*b)->metrics().Render()), "consensusd_worker_stats_records_total",
                     {{"direction", "received"}});
  };
  // Every record of the first instance (and the second's own, as they come).
  EXPECT_TRUE(WaitUntil([&] { return received() >= sent; }, seconds(60))) << received() << " of " << sent;
  std::printf("%.0f worker-statistics records published; the reader's fetcher woken %lld times\n", sent,
              static_cast<long long>((*b)->stats_fetcher_wakeups()));
  EXPECT_GT((*b)->stats_fetcher_wakeups(), 0);
  (*b)->RequestStop();
  EXPECT_TRUE((*b)->Wait().ok());
}

}  // namespace
}  // namespace consensusd::integration
