// Thin adapters over librdkafka's C API: configuration from a property map,
// error conversion to absl::Status, and owning handles.
//
//   absl::StatusOr<KafkaHandle> producer = NewKafkaHandle(RD_KAFKA_PRODUCER, properties);
#ifndef CONSENSUSD_CONSUMER_KAFKA_CLIENT_H_
#define CONSENSUSD_CONSUMER_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace consensusd::consumer {

using KafkaProperties = std::map<std::string, std::string>;

// The one conversion of librdkafka error codes (OK maps to OkStatus).
absl::Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context);

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

// A configuration with every property set; an unknown property or bad value
// is an error naming it.
// Every client logs through spdlog: refused connections at debug level (the
// service reports broker outages itself), other warnings and errors as such.
absl::StatusOr<KafkaConf> NewKafkaConf(const KafkaProperties& properties);

// The last connection failure any client logged ("127.0.0.1:9092/bootstrap:
// Connect to ipv4#127.0.0.1:9092 failed: Connection refused ..."), or "".
std::string LastBrokerFailure();

// A client of `type` configured with `properties` (takes the conf).
absl::StatusOr<KafkaHandle> NewKafkaHandle(rd_kafka_type_t type, KafkaConf conf);
absl::StatusOr<KafkaHandle> NewKafkaHandle(rd_kafka_type_t type, const KafkaProperties& properties);

}  // namespace consensusd::consumer

#endif  // CONSENSUSD_CONSUMER_KAFKA_CLIENT_H_
