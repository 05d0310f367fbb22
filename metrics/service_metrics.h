// ServiceMetrics: the process's Prometheus metrics (SPEC 5.4), one registry,
// rendered in the text exposition format for GET /metrics.
//
//   ServiceMetrics metrics;
//   metrics.Consumed("labels").Increment();
//   std::string body = metrics.Render();
//
// Families are created once; a series is added on first use of its labels
// and the returned reference stays valid for the process's life (hot paths
// look it up once and keep the pointer). Thread-safe, as prometheus-cpp is.
// Distributions over tasks and workers (task confidence, worker accuracy) are
// snapshots, replaced after every sweep by ReplaceDistribution().
#ifndef CONSENSUSD_METRICS_SERVICE_METRICS_H_
#define CONSENSUSD_METRICS_SERVICE_METRICS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace consensusd::metrics {

class ServiceMetrics {
 public:
  ServiceMetrics();

  prometheus::Counter& Consumed(std::string_view topic);
  prometheus::Counter& Rejected(std::string_view reason);
  prometheus::Counter& AnswersApplied(std::string_view project);
  // NaN while the brokers do not answer: the lag is unknown then, not 0.
  prometheus::Gauge& ConsumerLag(std::string_view topic, int32_t partition);
  // Stored offsets found no longer in the topic (kafka.offset_out_of_range).
  prometheus::Counter& OffsetsOutOfRange(std::string_view topic, int32_t partition);
  prometheus::Histogram& IngestLatency() { return *ingest_latency_; }
  prometheus::Counter& EmSweeps(std::string_view project);
  prometheus::Histogram& EmSweepDuration(std::string_view project);
  prometheus::Gauge& Tasks(std::string_view project);
  prometheus::Gauge& Workers(std::string_view project);
  prometheus::Gauge& WorkersFlagged(std::string_view project);
  prometheus::Gauge& TasksNeedingReview(std::string_view project);
  prometheus::Gauge& StateBytes() { return *state_bytes_; }
  // Output records (consensus, review, dead letters) that Kafka did not accept
  // or deliver, by topic; each is sent again.
  prometheus::Counter& DeliveryFailures(std::string_view topic);
  // Messages in the output producer's queue, not yet delivered.
  prometheus::Gauge& OutputQueue() { return *output_queue_; }
  // Scale-out (SPEC 8): seconds since the worker-statistics topic was last
  // read to its end (the age of the worker model this instance uses), and the
  // records sent and received.
  prometheus::Gauge& WorkerModelAge() { return *worker_model_age_; }
  prometheus::Counter& WorkerStatsRecords(std::string_view direction);
  // 1 while the Kafka brokers answer, else 0 (0 until first reached).
  prometheus::Gauge& KafkaBrokersUp() { return *kafka_brokers_up_; }

  // Replaces the partition gauges with the owned partitions of `topic`
  // (partition, ready): the counts by state (owned, restoring, ready) and one
  // 0/1 series per owned partition; a partition no longer listed loses its series.
  void SetPartitions(std::string_view topic, const std::vector<std::pair<int32_t, bool>>& owned);

  // Replaces a project's task-confidence / worker-accuracy distribution with
  // the given values (each in [0, 1]).
  void SetTaskConfidence(std::string_view project, const std::vector<double>& values);
  void SetWorkerAccuracy(std::string_view project, const std::vector<double>& values);
  // Replaces the per-worker accuracy series of a project with `workers`
  // (name, accuracy); the caller passes at most metrics.per_worker_limit.
  void SetWorkerAccuracyByWorker(std::string_view project,
                                 const std::vector<std::pair<std::string, double>>& workers);

  // The Prometheus text format of every metric.
  std::string Render() const;
  prometheus::Registry& registry() { return *registry_; }

 private:
  void ReplaceHistogram(prometheus::Family<prometheus::Histogram>& family,
                        std::string_view project, const std::vector<double>& values);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* consumed_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* answers_applied_;
  prometheus::Family<prometheus::Gauge>* consumer_lag_;
  prometheus::Family<prometheus::Counter>* offsets_out_of_range_;
  prometheus::Histogram* ingest_latency_;
  prometheus::Family<prometheus::Counter>* em_sweeps_;
  prometheus::Family<prometheus::Histogram>* em_sweep_duration_;
  prometheus::Family<prometheus::Gauge>* tasks_;
  prometheus::Family<prometheus::Gauge>* workers_;
  prometheus::Family<prometheus::Gauge>* workers_flagged_;
  prometheus::Family<prometheus::Gauge>* tasks_needing_review_;
  prometheus::Family<prometheus::Histogram>* task_confidence_;
  prometheus::Family<prometheus::Histogram>* worker_accuracy_;
  prometheus::Family<prometheus::Gauge>* worker_accuracy_by_worker_;
  prometheus::Gauge* state_bytes_;
  prometheus::Family<prometheus::Counter>* delivery_failures_;
  prometheus::Gauge* output_queue_;
  prometheus::Gauge* worker_model_age_;
  prometheus::Family<prometheus::Counter>* worker_stats_records_;
  prometheus::Gauge* kafka_brokers_up_;
  prometheus::Gauge* partitions_owned_;
  prometheus::Gauge* partitions_restoring_;
  prometheus::Gauge* partitions_ready_;
  prometheus::Family<prometheus::Gauge>* partition_ready_;

  std::mutex mu_;  // guards the replace-style updates below
  std::vector<std::pair<std::string, std::vector<prometheus::Gauge*>>> per_worker_;
  std::vector<prometheus::Gauge*> partition_ready_series_;
};

}  // namespace consensusd::metrics

#endif  // CONSENSUSD_METRICS_SERVICE_METRICS_H_
