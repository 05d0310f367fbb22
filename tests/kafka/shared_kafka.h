// SharedKafka: one broker for the suites of the test binary that need no
// broker settings of their own, so that the JVM starts once for them all.
//
//   static void SetUpTestSuite() { kafka_ = &SharedKafka(); ... }
//   void SetUp() override { if (!kafka_->running()) kafka_->Start(); ... }
//
// The first call creates it (not started: the suite starts it, and starts it
// again when a test left it stopped); it stops after the last test, in a
// global test environment's TearDown. Each test names its own topics and
// groups. Not thread-safe.
#ifndef CONSENSUSD_TESTS_KAFKA_SHARED_KAFKA_H_
#define CONSENSUSD_TESTS_KAFKA_SHARED_KAFKA_H_

#include "gtest/gtest.h"
#include "tests/kafka/real_kafka.h"
#include "tests/service/temp_dir.h"

namespace consensusd::kafka_tests {

namespace internal {

class SharedKafkaEnvironment : public ::testing::Environment {
 public:
  RealKafka& kafka() {
    if (kafka_ == nullptr) {
      dir_ = std::make_unique<service::TempDir>();
      kafka_ = std::make_unique<RealKafka>(dir_->File("kafka"));
    }
    return *kafka_;
  }
  void TearDown() override {
    kafka_.reset();  // stops the broker
    dir_.reset();
  }

 private:
  std::unique_ptr<service::TempDir> dir_;
  std::unique_ptr<RealKafka> kafka_;
};

// Registered before main (gtest owns it); one per binary.
inline SharedKafkaEnvironment* const shared_kafka_environment =
    static_cast<SharedKafkaEnvironment*>(
        ::testing::AddGlobalTestEnvironment(new SharedKafkaEnvironment));

}  // namespace internal

inline RealKafka& SharedKafka() { return internal::shared_kafka_environment->kafka(); }

}  // namespace consensusd::kafka_tests

#endif  // CONSENSUSD_TESTS_KAFKA_SHARED_KAFKA_H_
