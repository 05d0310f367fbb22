// consensusd produce: publishes a task,worker,label CSV (or JSONL) to Kafka as
// label messages, for backfills, benchmarks and tests.

#include <chrono>
#include <cstdio>
#include <span>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "consumer/label_message.h"
#include "consumer/producer.h"
#include "nlohmann/json.hpp"
#include "service/commands.h"
#include "service/config_load.h"
#include "service/csv.h"
#include "service/kafka_topics.h"
#include "service/label_file.h"
#include "service/progress.h"

namespace consensusd::service {
namespace {

struct ProduceFlags {
  std::string brokers;
  std::string topic = "labels";
  std::string file;
  std::string gold;
  std::string project;
  int batch = 1;
  double rate = 0;
  std::vector<std::string> properties;
};

// Queues messages, one per element or NDJSON batches of `batch` elements per
// partition (keyed by the first element's task; every task maps to the same
// partition as it would alone, so per-task order holds).
class LabelProducer {
 public:
  LabelProducer(consumer::Producer& producer, rd_kafka_topic_t* rkt, int partitions,
                const ProduceFlags& flags)
      : producer_(producer), rkt_(rkt), partitions_(partitions), flags_(flags), pending_(partitions) {
    start_ = std::chrono::steady_clock::now();
  }

  absl::Status Add(std::string_view task, std::string_view json) {
    ++elements_;
    if (flags_.rate > 0) Pace();
    if (flags_.batch <= 1) return Send(RD_KAFKA_PARTITION_UA, task, json);
    const int32_t p = rd_kafka_msg_partitioner_consistent_random(rkt_, task.data(), task.size(),
                                                                 partitions_, nullptr, nullptr);
    Pending& b = pending_[p];
    if (b.count == 0) b.key.assign(task);
    b.value.append(json);
    b.value.push_back('\n');
    if (++b.count >= flags_.batch) return Flush(p);
    return absl::OkStatus();
  }

  absl::Status Finish() {
    for (int p = 0; p < partitions_; ++p) {
      if (absl::Status s = Flush(p); !s.ok()) return s;
    }
    return producer_.Flush(60000);
  }

  int64_t messages() const { return messages_; }
  int64_t elements() const { return elements_; }

 private:
  struct Pending {
    std::string key, value;
    int count = 0;
  };

  absl::Status Flush(int p) {
    Pending& b = pending_[p];
    if (b.count == 0) return absl::OkStatus();
    absl::Status s = Send(p, b.key, b.value);
    b.value.clear();
    b.count = 0;
    return s;
  }

  absl::Status Send(int32_t partition, std::string_view key, std::string_view value) {
    absl::Status s = producer_.SendWaiting(flags_.topic, key, value, {}, nullptr, partition);
    if (!s.ok()) return s;
    ++messages_;
    producer_.Poll(0);
    return absl::OkStatus();
  }

  // Holds the rate to flags_.rate elements per second.
  void Pace() {
    const auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(elements_ / flags_.rate));
    while (std::chrono::steady_clock::now() < due) {
      producer_.Poll(0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  consumer::Producer& producer_;
  rd_kafka_topic_t* rkt_;  // for the partitioner
  const int partitions_;
  const ProduceFlags& flags_;
  std::vector<Pending> pending_;
  int64_t messages_ = 0;
  int64_t elements_ = 0;
  std::chrono::steady_clock::time_point start_;
};

bool IsJsonl(const std::string& path) {
  return path.ends_with(".jsonl") || path.ends_with(".ndjson") || path.ends_with(".json");
}

std::span<const char* const> CsvColumns(bool gold) {
  static constexpr const char* kAnswerColumns[] = {"task", "worker", "label"};
  static constexpr const char* kGoldColumns[] = {"task", "label"};
  if (gold) return kGoldColumns;
  return kAnswerColumns;
}

// Reads the whole CSV once before anything is sent, so that a bad row (one
// the service would dead-letter) stops produce with nothing published.
absl::Status CheckCsv(const std::string& path, bool gold) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  const std::span<const char* const> columns = CsvColumns(gold);
  std::vector<std::string_view> row;
  while (reader->NextRow(columns, &row)) {
    if (absl::Status s = CheckRowFields(columns, row); !s.ok()) {
      return reader->ErrorAtLine(std::string(s.message()));
    }
  }
  return reader->status();
}

// Produces the rows of a task,worker,label (answers) or task,label (gold) CSV
// (checked by CheckCsv).
absl::Status ProduceCsv(const std::string& path, bool gold, const ProduceFlags& flags,
                        LabelProducer& producer, ProgressLine& progress) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  const std::span<const char* const> columns = CsvColumns(gold);
  std::vector<std::string_view> row;
  std::string json;
  while (reader->NextRow(columns, &row)) {
    json.clear();
    consumer::AppendLabelMessage({.project = flags.project, .task = row[0],
                                  .worker = gold ? std::string_view() : row[1], .label = row.back()},
                                 json);
    if (absl::Status s = producer.Add(row[0], json); !s.ok()) return s;
    if (producer.elements() % 100000 == 0) {
      progress.Show(absl::StrCat("produced ", producer.elements(), " of ", path, " (",
                                 reader->position() * 100 / std::max<size_t>(1, reader->size()), "%)"));
    }
  }
  return reader->status();
}

absl::Status ProduceJsonl(const std::string& path, LabelProducer& producer) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  for (const absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
    std::string_view value(line.data(), line.size());
    if (value.back() == '\r') value.remove_suffix(1);
    const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    std::string key;  // the task id, as the service expects
    if (j.is_object() && j.contains("task")) {
      key = j["task"].is_string() ? j["task"].get<std::string>() : j["task"].dump();
    }
    if (absl::Status s = producer.Add(key, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

Command AddProduceCommand(CLI::App& parent) {
  auto flags = std::make_shared<ProduceFlags>();
  CLI::App* app = parent.add_subcommand(
      "produce",
      "Publish a task,worker,label CSV (or JSONL of label messages) to Kafka, keyed by task.");
  app->add_option("--brokers", flags->brokers, "Kafka bootstrap servers HOST:PORT,...")->required();
  app->add_option("--topic", flags->topic, "topic to publish to");
  app->add_option("file", flags->file, "task,worker,label CSV, or .jsonl/.ndjson of messages")->required();
  app->add_option("--gold", flags->gold, "task,label CSV of gold declarations to publish after the answers");
  app->add_option("--project", flags->project, "project field of every message (default: none, i.e. 'default')");
  app->add_option("--batch", flags->batch, "answers per Kafka message (NDJSON), per partition")
      ->check(IntegerInRange(1, 10000));
  app->add_option("--rate", flags->rate, "answers per second (0 = as fast as possible)")
      ->check(NonNegativeNumber());
  app->add_option("--property", flags->properties, "librdkafka property KEY=VALUE (repeatable)");
  return {app, [flags]() -> int {
            consumer::KafkaProperties props = {{"bootstrap.servers", flags->brokers},
                                               {"linger.ms", "10"},
                                               {"enable.idempotence", "false"},
                                               {"batch.num.messages", "10000"},
                                               {"queue.buffering.max.messages", "1000000"}};
            for (const std::string& p : flags->properties) {
              absl::StatusOr<std::pair<std::string, std::string>> kv = ParseAssignment(p);
              if (!kv.ok()) return UsageError("produce", "--property " + std::string(kv.status().message()));
              props[kv->first] = kv->second;
            }
            // What the service would dead-letter is refused, as aggregate refuses it.
            absl::Status checked = IsJsonl(flags->file) ? absl::OkStatus() : CheckCsv(flags->file, false);
            if (checked.ok() && !flags->gold.empty()) checked = CheckCsv(flags->gold, true);
            if (!checked.ok()) return Failure("produce", checked);
            absl::StatusOr<std::unique_ptr<consumer::Producer>> producer_or =
                consumer::Producer::Create(props);
            if (!producer_or.ok()) return UsageError("produce", producer_or.status().message());
            consumer::Producer& kafka = **producer_or;
            absl::StatusOr<int> partitions = kafka.PartitionCount(flags->topic, 10000);
            if (!partitions.ok()) {
              return Failure("produce", absl::StrCat(partitions.status().message(),
                                                     ": check --brokers and that the topic exists"));
            }
            rd_kafka_topic_t* rkt = rd_kafka_topic_new(kafka.handle(), flags->topic.c_str(), nullptr);
            LabelProducer producer(kafka, rkt, *partitions, *flags);
            ProgressLine progress;
            const auto start = std::chrono::steady_clock::now();
            absl::Status s = IsJsonl(flags->file)
                                 ? ProduceJsonl(flags->file, producer)
                                 : ProduceCsv(flags->file, /*gold=*/false, *flags, producer, progress);
            if (s.ok() && !flags->gold.empty()) s = ProduceCsv(flags->gold, /*gold=*/true, *flags, producer, progress);
            if (s.ok()) s = producer.Finish();
            rd_kafka_topic_destroy(rkt);
            progress.Clear();
            if (!s.ok()) return Failure("produce", s);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::fprintf(stderr, "produced %lld elements in %lld messages to %s in %.2fs\n",
                         static_cast<long long>(producer.elements()),
                         static_cast<long long>(producer.messages()), flags->topic.c_str(), secs);
            return kExitOk;
          }};
}

}  // namespace consensusd::service
