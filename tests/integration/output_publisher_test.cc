// OutputPublisher: how much one Pump call sends and when it asks the consume
// loop to pause. A sweep changes every task at once; sending all of them in
// one call held the consume loop for 100 ms, and pausing until the engine had
// nothing left paused it for seconds (ingest latency p99 of 150 ms at 50k
// answers/s). Pump sends a bounded chunk and asks for a pause only when the
// producer's queue is full (or dead letters wait).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "consumer/output_publisher.h"
#include "service/kafka_topics.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using consumer::OutputPublisher;

class OutputPublisherTest : public EngineTest {
 protected:
  static constexpr int kTasks = 5000;

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<service::EmbeddedKafka>> kafka = service::EmbeddedKafka::Start(1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = *std::move(kafka);
    ASSERT_TRUE(kafka_->CreateServiceTopics(kTopic, 1).ok());
    Assign(0);
    // Three agreeing answers a task: confident once a sweep has read every
    // task with the workers' fitted accuracy, so no task also needs review.
    // (The first task's answers arrive before the crowd has any, when the
    // default hds reads a worker as only better than chance.)
    for (int t = 0; t < kTasks; ++t) {
      for (const char* worker : {"w1", "w2", "w3"}) Answer(absl::StrCat("t", t), worker, t % 2 ? "a" : "b");
    }
    Sweep();
    Commit();
  }

  std::unique_ptr<OutputPublisher> Publisher(int queue_messages) {
    consumer::OutputTopics topics;
    topics.consensus = absl::StrCat(kTopic, ".consensus");
    topics.review = absl::StrCat(kTopic, ".review");
    topics.dlq = absl::StrCat(kTopic, ".dlq");
    absl::StatusOr<std::unique_ptr<OutputPublisher>> publisher = OutputPublisher::Create(
        {{"bootstrap.servers", kafka_->bootstraps()},
         {"queue.buffering.max.messages", std::to_string(queue_messages)}},
        topics, *engine_, metrics_);
    EXPECT_TRUE(publisher.ok()) << publisher.status();
    return publisher.ok() ? *std::move(publisher) : nullptr;
  }

  double QueueDepth() { return metrics_.OutputQueue().Value(); }

  std::unique_ptr<service::EmbeddedKafka> kafka_;
};

TEST_F(OutputPublisherTest, ChangesOfEveryTaskGoOutInChunksWithoutAPause) {
  std::unique_ptr<OutputPublisher> publisher = Publisher(100000);
  ASSERT_NE(publisher, nullptr);
  EXPECT_FALSE(publisher->Pump()) << "room in the queue: no pause";
  EXPECT_TRUE(publisher->backlogged()) << "more than a chunk waits";
  EXPECT_EQ(QueueDepth(), static_cast<double>(OutputPublisher::kMaxRecordsPerPump));
  int calls = 1;
  while (publisher->backlogged() && calls < 100) {
    EXPECT_FALSE(publisher->Pump());
    ++calls;
  }
  EXPECT_FALSE(publisher->backlogged());
  EXPECT_EQ(calls, (kTasks + OutputPublisher::kMaxRecordsPerPump - 1) / OutputPublisher::kMaxRecordsPerPump);
  ASSERT_TRUE(publisher->Flush(10000).ok());
}

TEST_F(OutputPublisherTest, AFullQueuePausesUntilItDrains) {
  std::unique_ptr<OutputPublisher> publisher = Publisher(1000);
  ASSERT_NE(publisher, nullptr);
  EXPECT_TRUE(publisher->Pump()) << "the queue took 1000 and is full: pause";
  EXPECT_EQ(QueueDepth(), 1000);
  EXPECT_TRUE(publisher->backlogged());
  // Once delivered, the queue has room again; each call refills it, and in
  // the end everything is sent.
  int calls = 0;
  while (publisher->backlogged() && calls < 1000) {
    ASSERT_TRUE(publisher->Flush(10000).ok());
    const bool full = publisher->Pump();
    EXPECT_LE(QueueDepth(), 1000);
    EXPECT_EQ(full, publisher->backlogged()) << "a pause exactly while outputs wait for a full queue";
    ++calls;
  }
  EXPECT_FALSE(publisher->backlogged());
  EXPECT_EQ(calls, (kTasks - 1) / 1000);
}

}  // namespace
}  // namespace consensusd::engine
