#include "metrics/service_metrics.h"

#include <algorithm>

#include "prometheus/text_serializer.h"

namespace consensusd::metrics {
namespace {

using prometheus::Histogram;

// Buckets of probabilities (task confidence, worker accuracy).
Histogram::BucketBoundaries ProbabilityBuckets() {
  return {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99};
}

std::string S(std::string_view v) { return std::string(v); }

}  // namespace

ServiceMetrics::ServiceMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  consumed_ = &prometheus::BuildCounter()
                   .Name("consensusd_messages_consumed_total")
                   .Help("Kafka messages consumed, by topic.")
                   .Register(r);
  rejected_ = &prometheus::BuildCounter()
                   .Name("consensusd_messages_rejected_total")
                   .Help("Input elements sent to the dead-letter topic, by reason code.")
                   .Register(r);
  answers_applied_ = &prometheus::BuildCounter()
                          .Name("consensusd_answers_applied_total")
                          .Help("Answers and retractions applied to state and committed.")
                          .Register(r);
  consumer_lag_ = &prometheus::BuildGauge()
                       .Name("consensusd_consumer_lag_messages")
                       .Help("Messages between the consumer position and the partition's high watermark.")
                       .Register(r);
  offsets_out_of_range_ = &prometheus::BuildCounter()
                              .Name("consensusd_offsets_out_of_range_total")
                              .Help("Stored offsets no longer in the topic, handled by kafka.offset_out_of_range.")
                              .Register(r);
  ingest_latency_ = &prometheus::BuildHistogram()
                         .Name("consensusd_ingest_latency_seconds")
                         .Help("Time from an answer's event time to the commit of the state it produced.")
                         .Register(r)
                         .Add({}, Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  em_sweeps_ = &prometheus::BuildCounter()
                    .Name("consensusd_em_sweeps_total")
                    .Help("Full EM sweeps run, by project.")
                    .Register(r);
  em_sweep_duration_ = &prometheus::BuildHistogram()
                            .Name("consensusd_em_sweep_duration_seconds")
                            .Help("Wall time of full EM sweeps, by project.")
                            .Register(r);
  tasks_ = &prometheus::BuildGauge().Name("consensusd_tasks").Help("Tasks, by project.").Register(r);
  workers_ = &prometheus::BuildGauge().Name("consensusd_workers").Help("Workers, by project.").Register(r);
  workers_flagged_ = &prometheus::BuildGauge()
                          .Name("consensusd_workers_flagged")
                          .Help("Workers flagged by the project's accuracy or spam thresholds.")
                          .Register(r);
  tasks_needing_review_ = &prometheus::BuildGauge()
                               .Name("consensusd_tasks_needing_review")
                               .Help("Tasks whose confidence is below review.min_confidence.")
                               .Register(r);
  task_confidence_ = &prometheus::BuildHistogram()
                          .Name("consensusd_task_confidence")
                          .Help("Distribution of consensus confidence over the project's tasks (last sweep).")
                          .Register(r);
  worker_accuracy_ = &prometheus::BuildHistogram()
                          .Name("consensusd_worker_accuracy")
                          .Help("Distribution of estimated accuracy over the project's workers (last sweep).")
                          .Register(r);
  worker_accuracy_by_worker_ = &prometheus::BuildGauge()
                                    .Name("consensusd_worker_accuracy_by_worker")
                                    .Help("Estimated accuracy of the project's busiest workers (metrics.per_worker_limit).")
                                    .Register(r);
  state_bytes_ = &prometheus::BuildGauge()
                      .Name("consensusd_state_bytes")
                      .Help("Approximate size of the RocksDB state.")
                      .Register(r)
                      .Add({});
  delivery_failures_ = &prometheus::BuildCounter()
                            .Name("consensusd_output_delivery_failures_total")
                            .Help("Output records Kafka did not accept or deliver, by topic; each is sent again.")
                            .Register(r);
  output_queue_ = &prometheus::BuildGauge()
                       .Name("consensusd_output_queue_messages")
                       .Help("Output records queued in the producer, not yet delivered.")
                       .Register(r)
                       .Add({});
  worker_model_age_ = &prometheus::BuildGauge()
                           .Name("consensusd_worker_model_age_seconds")
                           .Help("Seconds since the worker-statistics topic was last read to its end: "
                                 "the age of the worker model this instance uses.")
                           .Register(r)
                           .Add({});
  worker_stats_records_ = &prometheus::BuildCounter()
                               .Name("consensusd_worker_stats_records_total")
                               .Help("Worker-statistics records sent and received (scale-out).")
                               .Register(r);
  WorkerStatsRecords("sent");
  WorkerStatsRecords("received");
  kafka_brokers_up_ = &prometheus::BuildGauge()
                           .Name("consensusd_kafka_brokers_up")
                           .Help("1 while the Kafka brokers answer the consumer, else 0.")
                           .Register(r)
                           .Add({});
  auto& partitions = prometheus::BuildGauge()
                         .Name("consensusd_partitions")
                         .Help("Input partitions assigned to this instance (owned), by state: "
                               "restoring (catching up) or ready.")
                         .Register(r);
  partitions_owned_ = &partitions.Add({{"state", "owned"}});
  partitions_restoring_ = &partitions.Add({{"state", "restoring"}});
  partitions_ready_ = &partitions.Add({{"state", "ready"}});
  partition_ready_ = &prometheus::BuildGauge()
                          .Name("consensusd_partition_ready")
                          .Help("1 when the owned input partition has caught up and publishes, "
                                "0 while it restores.")
                          .Register(r);
}


prometheus::Counter& ServiceMetrics::WorkerStatsRecords(std::string_view direction) {
  return worker_stats_records_->Add({{"direction", S(direction)}});
}


void ServiceMetrics::SetPartitions(std::string_view topic,
                                   const std::vector<std::pair<int32_t, bool>>& owned) {
  std::lock_guard<std::mutex> lock(mu_);
  for (prometheus::Gauge* g : partition_ready_series_) partition_ready_->Remove(g);
  partition_ready_series_.clear();
  int ready = 0;
  for (const auto& [partition, is_ready] : owned) {
    prometheus::Gauge& g =
        partition_ready_->Add({{"topic", S(topic)}, {"partition", std::to_string(partition)}});
    g.Set(is_ready ? 1 : 0);
    partition_ready_series_.push_back(&g);
    ready += is_ready;
  }
  partitions_owned_->Set(static_cast<double>(owned.size()));
  partitions_ready_->Set(ready);
  partitions_restoring_->Set(static_cast<double>(owned.size()) - ready);
}

prometheus::Counter& ServiceMetrics::DeliveryFailures(std::string_view topic) {
  return delivery_failures_->Add({{"topic", S(topic)}});
}

prometheus::Counter& ServiceMetrics::Consumed(std::string_view topic) {
  return consumed_->Add({{"topic", S(topic)}});
}
prometheus::Counter& ServiceMetrics::Rejected(std::string_view reason) {
  return rejected_->Add({{"reason", S(reason)}});
}
prometheus::Counter& ServiceMetrics::AnswersApplied(std::string_view project) {
  return answers_applied_->Add({{"project", S(project)}});
}
prometheus::Gauge& ServiceMetrics::ConsumerLag(std::string_view topic, int32_t partition) {
  return consumer_lag_->Add({{"topic", S(topic)}, {"partition", std::to_string(partition)}});
}
prometheus::Counter& ServiceMetrics::OffsetsOutOfRange(std::string_view topic, int32_t partition) {
  return offsets_out_of_range_->Add({{"topic", S(topic)}, {"partition", std::to_string(partition)}});
}
prometheus::Counter& ServiceMetrics::EmSweeps(std::string_view project) {
  return em_sweeps_->Add({{"project", S(project)}});
}
prometheus::Histogram& ServiceMetrics::EmSweepDuration(std::string_view project) {
  return em_sweep_duration_->Add({{"project", S(project)}},
                                 Histogram::BucketBoundaries{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                             2.5, 5, 10, 30, 60});
}
prometheus::Gauge& ServiceMetrics::Tasks(std::string_view project) {
  return tasks_->Add({{"project", S(project)}});
}
prometheus::Gauge& ServiceMetrics::Workers(std::string_view project) {
  return workers_->Add({{"project", S(project)}});
}
prometheus::Gauge& ServiceMetrics::WorkersFlagged(std::string_view project) {
  return workers_flagged_->Add({{"project", S(project)}});
}
prometheus::Gauge& ServiceMetrics::TasksNeedingReview(std::string_view project) {
  return tasks_needing_review_->Add({{"project", S(project)}});
}

void ServiceMetrics::ReplaceHistogram(prometheus::Family<Histogram>& family,
                                      std::string_view project, const std::vector<double>& values) {
  const Histogram::BucketBoundaries bounds = ProbabilityBuckets();
  std::vector<double> increments(bounds.size() + 1, 0.0);
  double sum = 0;
  for (double v : values) {
    const size_t bucket = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
    increments[bucket] += 1;
    sum += v;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const prometheus::Labels labels = {{"project", S(project)}};
  if (family.Has(labels)) family.Remove(&family.Add(labels, bounds));
  family.Add(labels, bounds).ObserveMultiple(increments, sum);
}

void ServiceMetrics::SetTaskConfidence(std::string_view project, const std::vector<double>& values) {
  ReplaceHistogram(*task_confidence_, project, values);
}

void ServiceMetrics::SetWorkerAccuracy(std::string_view project, const std::vector<double>& values) {
  ReplaceHistogram(*worker_accuracy_, project, values);
}

void ServiceMetrics::SetWorkerAccuracyByWorker(
    std::string_view project, const std::vector<std::pair<std::string, double>>& workers) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(per_worker_.begin(), per_worker_.end(),
                         [&](const auto& p) { return p.first == project; });
  if (it == per_worker_.end()) {
    per_worker_.emplace_back(S(project), std::vector<prometheus::Gauge*>{});
    it = per_worker_.end() - 1;
  }
  for (prometheus::Gauge* g : it->second) worker_accuracy_by_worker_->Remove(g);
  it->second.clear();
  for (const auto& [worker, accuracy] : workers) {
    prometheus::Gauge& g = worker_accuracy_by_worker_->Add({{"project", S(project)}, {"worker", worker}});
    g.Set(accuracy);
    it->second.push_back(&g);
  }
}

std::string ServiceMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace consensusd::metrics
