// Reading an output topic back in tests (dead letters, consensus records) with
// a plain librdkafka consumer: no group, nothing committed.
//
//   std::vector<KafkaRecord> dlq = ReadTopic(brokers, "labels.dlq", 0, 7, seconds(30));
//   std::vector<KafkaRecord> all = ReadWholePartition(brokers, "labels.consensus", 0, seconds(30));
//
// Both read by offset, so they also read compacted topics, whose offsets have gaps.
#ifndef CONSENSUSD_TESTS_INTEGRATION_TOPIC_READER_H_
#define CONSENSUSD_TESTS_INTEGRATION_TOPIC_READER_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "librdkafka/rdkafka.h"

namespace consensusd::integration {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One message read back from a topic.
struct KafkaRecord {
  int64_t offset = -1;
  std::string key, value;
  std::map<std::string, std::string> headers;
};

// Reads partition `partition` of `topic` from its beginning with a plain
// librdkafka consumer (no group, nothing committed) until `count` messages are
// read, the next offset to read reaches `end_offset` (-1: no such limit) or
// `timeout` passes; returns what it read.
inline std::vector<KafkaRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                          int32_t partition, size_t count,
                                          Clock::duration timeout, int64_t end_offset = -1) {
  std::vector<KafkaRecord> records;
  int64_t next_offset = 0;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> props[] = {{"bootstrap.servers", brokers.c_str()},
                                                       {"group.id", "integration-test-reader"},
                                                       {"enable.auto.commit", "false"},
                                                       {"fetch.message.max.bytes", "8000000"},
                                                       {"enable.partition.eof", "true"},
                                                       {"log_level", "3"}};
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return records;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) return records;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, topic.c_str(), partition)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  const auto deadline = Clock::now() + timeout;
  while (records.size() < count && (end_offset < 0 || next_offset < end_offset) &&
         Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) next_offset = std::max(next_offset, m->offset);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      next_offset = m->offset + 1;
      KafkaRecord r;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] =
              value != nullptr ? std::string(static_cast<const char*>(value), size) : "";
        }
      }
      records.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return records;
}

// The low and high watermarks of a partition: the offset of its oldest message
// still held, and the offset the next message will get. A low watermark above 0
// means the broker dropped messages (the mock cluster drops a partition's oldest
// past 5 MiB). {-1, -1} if the broker did not answer within `timeout`.
struct Watermarks {
  int64_t low = -1, high = -1;
};
inline Watermarks QueryWatermarks(const std::string& brokers, const std::string& topic,
                                  int32_t partition, Clock::duration timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) return {};
  Watermarks w;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk, topic.c_str(), partition, &w.low, &w.high,
      static_cast<int>(std::chrono::duration_cast<milliseconds>(timeout).count()));
  rd_kafka_destroy(rk);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  return w;
}

// Every message of partition `partition` of `topic` (up to its high
// watermark when called), or what could be read within `timeout`.
inline std::vector<KafkaRecord> ReadWholePartition(const std::string& brokers,
                                                   const std::string& topic, int32_t partition,
                                                   Clock::duration timeout) {
  const Watermarks w = QueryWatermarks(brokers, topic, partition, timeout);
  if (w.high <= w.low) return {};
  return ReadTopic(brokers, topic, partition, static_cast<size_t>(w.high - w.low), timeout, w.high);
}

}  // namespace consensusd::integration

#endif  // CONSENSUSD_TESTS_INTEGRATION_TOPIC_READER_H_
