#include "consumer/kafka_client.h"

#include <cstring>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace consensusd::consumer {
namespace {

std::mutex last_failure_mu;
std::string last_failure;  // guarded by last_failure_mu

// librdkafka's log lines, through the service's logger. A broker that is down
// makes every client log a refused connection at each retry: those lines go to
// debug (consensusd says once that the brokers do not answer, and once that
// they answer again), and the last one is kept for that message.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  const bool connection = std::strcmp(facility, "FAIL") == 0 || std::strcmp(facility, "ERROR") == 0;
  if (connection) {
    std::lock_guard<std::mutex> lock(last_failure_mu);
    last_failure = line;
  }
  spdlog::level::level_enum to = spdlog::level::debug;
  if (!connection) {
    to = level <= 3 ? spdlog::level::err : level == 4 ? spdlog::level::warn : spdlog::level::debug;
  }
  spdlog::log(to, "librdkafka {} {}: {}", rk ? rd_kafka_name(rk) : "", facility, line);
}

}  // namespace

std::string LastBrokerFailure() {
  std::lock_guard<std::mutex> lock(last_failure_mu);
  return last_failure;
}

absl::Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string message = absl::StrCat(std::string(context), ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::UnavailableError(message);
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return absl::UnimplementedError(message);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(message);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<KafkaConf> NewKafkaConf(const KafkaProperties& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &LogToSpdlog);
  char err[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property '", key, "': ", err, " (check kafka.properties)"));
    }
  }
  return conf;
}

absl::StatusOr<KafkaHandle> NewKafkaHandle(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("Kafka client: ", err));
  conf.release();  // rd_kafka_new took it
  return KafkaHandle(rk);
}

absl::StatusOr<KafkaHandle> NewKafkaHandle(rd_kafka_type_t type, const KafkaProperties& properties) {
  absl::StatusOr<KafkaConf> conf = NewKafkaConf(properties);
  if (!conf.ok()) return conf.status();
  return NewKafkaHandle(type, std::move(*conf));
}

}  // namespace consensusd::consumer
