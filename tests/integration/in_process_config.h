// The config of a Service run in the test process against an EmbeddedKafka
// (tests of outputs and readiness that drive the service's internals).
//
//   Config config = InProcessConfig(kafka, dir.File("state"), "g1");
//   auto service = Service::Start(config);
#ifndef CONSENSUSD_TESTS_INTEGRATION_IN_PROCESS_CONFIG_H_
#define CONSENSUSD_TESTS_INTEGRATION_IN_PROCESS_CONFIG_H_

#include <string>

#include "service/config.h"
#include "service/kafka_topics.h"

namespace consensusd::integration {

// Defaults, a free HTTP port, sweeps every second, and quick reconnection.
inline service::Config InProcessConfig(const service::EmbeddedKafka& kafka,
                                       const std::string& data_dir, const std::string& group) {
  service::Config config;
  config.kafka.brokers = kafka.bootstraps();
  config.kafka.group = group;
  config.state.data_dir = data_dir;
  config.http.address = "127.0.0.1:0";
  config.model.sweep_interval_s = 1;
  // A broker that comes back is found within a second (librdkafka backs off up to 10 s).
  config.kafka.properties["reconnect.backoff.max.ms"] = "500";
  return config;
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_IN_PROCESS_CONFIG_H_
