// consensusd demo: the whole service on an embedded Kafka cluster, fed with a
// synthetic stream of known truth (or a labels file), then a summary.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "consensus/aggregate.h"
#include "consensus/report.h"
#include "consensus/synthetic.h"
#include "consumer/label_message.h"
#include "consumer/producer.h"
#include "engine/consensus_record.h"
#include "service/commands.h"
#include "service/config_load.h"
#include "service/csv.h"
#include "service/kafka_topics.h"
#include "service/label_file.h"
#include "service/progress.h"
#include "service/service.h"
#include "spdlog/spdlog.h"

namespace consensusd::service {
namespace {

struct DemoFlags {
  std::string labels, gold;
  consensus::SyntheticOptions synth{.tasks = 20000, .workers = 100, .classes = 3,
                                    .answers_per_task = 5, .seed = 7};
  int partitions = 4;
  std::string http = "127.0.0.1:8080";
  std::string data_dir;
  bool exit = false;
};

// One answer to publish.
struct StreamAnswer {
  std::string task, worker, label;
};

struct DemoStream {
  std::vector<StreamAnswer> answers;
  absl::flat_hash_map<std::string, std::string> truth;  // task -> true label
};

// The answers of `m` as a stream that interleaves tasks (one answer of each
// task in turn), as a labeling platform emits them over time.
DemoStream StreamOf(const consensus::AnswerMatrix& m, const consensus::IdTable& tasks,
                    const consensus::IdTable& workers, const consensus::IdTable& classes) {
  DemoStream s;
  s.answers.reserve(m.num_answers());
  for (int64_t round = 0; static_cast<int64_t>(s.answers.size()) < m.num_answers(); ++round) {
    for (int32_t t = 0; t < m.num_tasks; ++t) {
      const int64_t a = m.task_begin[t] + round;
      if (a >= m.task_begin[t + 1]) continue;
      s.answers.push_back({std::string(tasks.Name(t)), std::string(workers.Name(m.worker[a])),
                           std::string(classes.Name(m.label[a]))});
    }
  }
  return s;
}

DemoStream SyntheticStream(const consensus::SyntheticOptions& options) {
  const consensus::SyntheticData d = consensus::Synthesize(options);
  consensus::IdTable tasks, workers, classes;
  for (int32_t t = 0; t < d.answers.num_tasks; ++t) tasks.Intern(absl::StrCat("t", t));
  for (int32_t w = 0; w < d.answers.num_workers; ++w) workers.Intern(absl::StrCat("w", w));
  for (int32_t k = 0; k < d.answers.num_classes; ++k) classes.Intern(absl::StrCat("c", k));
  DemoStream s = StreamOf(d.answers, tasks, workers, classes);
  for (int32_t t = 0; t < d.answers.num_tasks; ++t) s.truth[std::string(tasks.Name(t))] = classes.Name(d.truth[t]);
  return s;
}

absl::StatusOr<DemoStream> FileStream(const std::string& labels, const std::string& gold) {
  absl::StatusOr<Dataset> d = LoadDataset(labels, "", consensus::DuplicatePolicy::kKeepAll);
  if (!d.ok()) return d.status();
  DemoStream s = StreamOf(d->matrix, d->tasks, d->workers, d->classes);
  if (!gold.empty()) {
    absl::StatusOr<absl::flat_hash_map<std::string, std::string>> truth = LoadTruth(gold);
    if (!truth.ok()) return truth.status();
    s.truth = std::move(*truth);
  }
  return s;
}

absl::Status Publish(const std::string& brokers, const std::string& topic, const DemoStream& stream) {
  absl::StatusOr<std::unique_ptr<consumer::Producer>> producer = consumer::Producer::Create(
      {{"bootstrap.servers", brokers}, {"linger.ms", "5"}, {"queue.buffering.max.messages", "1000000"}});
  if (!producer.ok()) return producer.status();
  std::string value;
  for (const StreamAnswer& a : stream.answers) {
    value.clear();
    consumer::AppendLabelMessage(
        {.project = {}, .task = a.task, .worker = a.worker, .label = a.label, .ts_ms = engine::NowMs()}, value);
    if (absl::Status s = (*producer)->SendWaiting(topic, a.task, value); !s.ok()) return s;
    (*producer)->Poll(0);
  }
  return (*producer)->Flush(60000);
}

// `measured` answers were committed in `seconds` (see RunDemo).
void PrintSummary(Service& service, const DemoStream& stream, int64_t measured, double seconds) {
  engine::Engine& engine = service.engine();
  for (const engine::ProjectSummary& summary : engine.Projects()) {
    const std::string& name = summary.project;
    absl::StatusOr<engine::Engine::AnswersCopy> answers = engine.Answers(name);
    absl::StatusOr<engine::Page<engine::WorkerRow>> workers =
        engine.Workers(name, engine::WorkerSort::kAccuracy, /*ascending=*/true, "", summary.workers + 1);
    std::optional<engine::ProjectView> view = engine.ProjectDetail(name);
    if (!answers.ok() || !workers.ok() || !view) continue;
    std::printf("\n== consensusd demo: project '%s' ==\n", name.c_str());
    std::printf("answers %lld, tasks %lld, workers %lld, classes %zu\n",
                static_cast<long long>(summary.answers), static_cast<long long>(summary.tasks),
                static_cast<long long>(summary.workers), summary.classes.size());
    std::printf("throughput: %.0f answers/s through Kafka into committed state (%lld answers in %.2fs)\n",
                static_cast<double>(measured) / std::max(seconds, 1e-9), static_cast<long long>(measured),
                seconds);
    consensus::AggregateOptions mv_options;
    mv_options.method = consensus::Method::kMajorityVote;
    absl::StatusOr<consensus::Model> mv = consensus::Aggregate(answers->matrix, mv_options);
    if (!stream.truth.empty() && mv.ok()) {
      const AccuracyResult ds = Accuracy(answers->tasks, answers->classes, answers->label, stream.truth);
      const AccuracyResult mv_acc = Accuracy(answers->tasks, answers->classes, mv->label, stream.truth);
      std::printf("accuracy against the truth (%lld tasks): ds %.4f   mv %.4f\n",
                  static_cast<long long>(ds.evaluated), ds.accuracy, mv_acc.accuracy);
    }
    std::printf("least reliable workers (at least %lld answers):\n",
                static_cast<long long>(view->min_answers));
    std::printf("  %-16s %8s %9s %11s %s\n", "worker", "answers", "accuracy", "spam_score", "flagged");
    int shown = 0;
    for (const engine::WorkerRow& r : workers->items) {
      if (r.answers < view->min_answers || ++shown > 5) continue;
      std::printf("  %-16s %8lld %9.3f %11.3f %s\n", r.worker.c_str(), static_cast<long long>(r.answers),
                  r.accuracy, r.spam_score, r.flagged ? "yes" : "");
    }
  }
}

int RunDemo(DemoFlags& flags) {
  BlockStopSignals();
  ProgressLine progress;
  DemoStream stream;
  if (flags.labels.empty()) {
    stream = SyntheticStream(flags.synth);
  } else {
    absl::StatusOr<DemoStream> loaded = FileStream(flags.labels, flags.gold);
    if (!loaded.ok()) return Failure("demo", loaded.status());
    stream = std::move(*loaded);
  }
  absl::StatusOr<std::unique_ptr<EmbeddedKafka>> kafka = EmbeddedKafka::Start(1);
  if (!kafka.ok()) return Failure("demo", kafka.status());
  if (absl::Status s = (*kafka)->CreateServiceTopics("labels", flags.partitions); !s.ok()) {
    return Failure("demo", s);
  }
  std::string data_dir = flags.data_dir;
  if (data_dir.empty()) {
    char tmpl[] = "/tmp/consensusd-demo-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Failure("demo", "cannot create a temporary state directory");
    data_dir = tmpl;
  }
  std::vector<std::pair<std::string, std::string>> overrides = {
      {"kafka.brokers", (*kafka)->bootstraps()}, {"state.data_dir", data_dir},
      {"http.address", flags.http}, {"model.sweep_interval_s", "2"}};
  absl::StatusOr<Config> config = LoadConfig("", {}, overrides);
  if (!config.ok()) return UsageError("demo", config.status().message());
  spdlog::set_level(spdlog::level::warn);
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(*config);
  if (!service.ok()) return Failure("demo", service.status());
  std::printf("consensusd demo: embedded Kafka at %s, state in %s, %zu answers to stream\n",
              (*kafka)->bootstraps().c_str(), data_dir.c_str(), stream.answers.size());
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  absl::Status published;
  std::thread producer([&] { published = Publish((*kafka)->bootstraps(), "labels", stream); });
  const int64_t total = static_cast<int64_t>(stream.answers.size());
  bool interrupted = false;
  // Throughput counts from the first commit: joining the consumer group (a few
  // seconds on the embedded cluster) is not ingestion.
  std::chrono::steady_clock::time_point first_commit;
  bool committed_any = false;
  int64_t first_done = 0;  // committed at the first commit seen
  while ((*service)->answers_committed() < total && !(*service)->stop_requested()) {
    if (WaitForStopSignal(10) != 0) {
      interrupted = true;
      break;
    }
    const int64_t done = (*service)->answers_committed();
    if (done > 0 && !committed_any) {
      committed_any = true;
      first_commit = std::chrono::steady_clock::now();
      first_done = done;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int width = 30;
    const int filled = static_cast<int>(width * done / std::max<int64_t>(1, total));
    progress.Show(absl::StrFormat("[%s%s] %lld/%lld answers  %.0f/s", std::string(filled, '#'),
                                  std::string(width - filled, '.'), static_cast<long long>(done),
                                  static_cast<long long>(total), done / std::max(secs, 1e-9)));
  }
  const auto end = std::chrono::steady_clock::now();
  // From the first commit, over the answers after it; a stream small enough to
  // land in one commit counts from the start (group join included).
  const bool from_first = committed_any && first_done < total;
  const double seconds = std::chrono::duration<double>(end - (from_first ? first_commit : start)).count();
  const int64_t measured = from_first ? total - first_done : total;
  producer.join();
  progress.Clear();
  if (!published.ok()) return Failure("demo", published);
  if (!interrupted && !(*service)->stop_requested()) {
    if (absl::Status s = (*service)->engine().SweepAll(/*force=*/true); !s.ok()) return Failure("demo", s);
    PrintSummary(**service, stream, measured, seconds);
    // With --exit the service stops next: no URL that is gone when read.
    if (!flags.exit) {
      std::printf("\nDashboard: http://%s/   (metrics: http://%s/metrics)\n",
                  (*service)->http_address().c_str(), (*service)->http_address().c_str());
      std::printf("Press Ctrl-C to stop.\n");
    }
    std::fflush(stdout);
    if (!flags.exit) {
      while (!(*service)->stop_requested() && WaitForStopSignal(200) == 0) {
      }
    }
  }
  (*service)->RequestStop();
  absl::Status status = (*service)->Wait();
  service->reset();
  if (flags.data_dir.empty()) std::filesystem::remove_all(data_dir);
  if (!status.ok()) return Failure("demo", status);
  return kExitOk;
}

}  // namespace

Command AddDemoCommand(CLI::App& parent) {
  auto flags = std::make_shared<DemoFlags>();
  CLI::App* app = parent.add_subcommand(
      "demo",
      "Run the whole service on an embedded Kafka cluster, fed with a synthetic stream of known "
      "truth (or --labels FILE), then print a summary: throughput, accuracy of ds and mv, the "
      "least reliable workers, and the dashboard URL.");
  app->add_option("--labels", flags->labels, "task,worker,label CSV to stream instead of synthetic data");
  app->add_option("--gold", flags->gold, "task,label CSV of true labels, for the accuracy summary");
  app->add_option("--tasks", flags->synth.tasks, "synthetic tasks")->check(PositiveInteger());
  app->add_option("--workers", flags->synth.workers, "synthetic workers")->check(PositiveInteger());
  app->add_option("--classes", flags->synth.classes, "synthetic classes")->check(IntegerInRange(2, 64));
  app->add_option("--answers-per-task", flags->synth.answers_per_task, "synthetic answers per task")
      ->check(PositiveInteger());
  app->add_option("--seed", flags->synth.seed, "synthetic seed");
  app->add_option("--partitions", flags->partitions, "partitions of the input topic")->check(IntegerInRange(1, 64));
  app->add_option("--http", flags->http, "HTTP address ADDR:PORT (port 0 picks a free one)");
  app->add_option("--data-dir", flags->data_dir, "state directory (default: a temporary one, removed at exit)");
  app->add_flag("--exit", flags->exit, "stop after the stream is consumed instead of serving until Ctrl-C");
  return {app, [flags]() -> int { return RunDemo(*flags); }};
}

}  // namespace consensusd::service
