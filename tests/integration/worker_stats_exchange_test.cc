// The worker-statistics exchange (SPEC 8) of one instance whose publication
// holds more records (one per worker and partition) than its producer's
// queue: found by the soak (docs/reliability.md), where 25k workers over 64
// partitions made an idle instance send 100k records every interval forever.

#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

constexpr int kPartitions = 4;

TEST(WorkerStatsExchangeTest, APublicationLargerThanTheProducerQueueIsSentOnceThenNothingMore) {
  TempDir dir;
  MockKafka kafka(dir, "labels", kPartitions);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));
  const ProduceResult produced = Produce(kafka, "labels", kDataDir + "/adult2/labels.csv");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  // adult2: 825 workers over 4 partitions, about 2,000 (worker, partition)
  // records; the queue holds 500.
  ServeArgs args(kafka, "labels", "g", dir.File("state"));
  args.sets.push_back("kafka.worker_stats_interval_ms=300");
  args.sets.push_back("kafka.properties.queue.buffering.max.messages=500");
  args.sets.push_back("model.sweep_interval_s=3600");  // nothing changes once consumed
  ServeProcess serve(args, dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", kPartitions, produced.messages, 92721},
                                seconds(90), &why))
      << why << "\n"
      << serve.Log();

  auto sent = [&] {
    return SumMetric(serve.Metrics(), "consensusd_worker_stats_records_total",
                     {{"direction", "sent"}});
  };
  // Everything published once: the count stops growing.
  double settled = -1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const double before = sent();
        std::this_thread::sleep_for(milliseconds(1500));  // five intervals
        settled = sent();
        return settled > 0 && settled == before;
      },
      seconds(60), milliseconds(0)))
      << "still sending: " << settled << " records so far\n"
      << serve.Log();
  EXPECT_GT(settled, 1000);
  EXPECT_LT(settled, 10000) << "sent the whole set again and again";
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(sent(), settled);
  EXPECT_EQ(serve.Log().find("Queue full"), std::string::npos) << serve.Log();
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();
}

}  // namespace
}  // namespace consensusd::integration
