// `consensusd synth`: a synthetic data set drawn from a Dawid-Skene model with
// known truth (SPEC 5.1). Writes DIR/labels.csv (task,worker,label),
// DIR/truth.csv (task,label) and DIR/workers.csv (each worker's true accuracy,
// spam score and confusion matrix as p:<true>:<answered> columns). Tasks are
// named t0, t1, ..., workers w0, ..., classes c0, ...

#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "consensus/report.h"
#include "consensus/synthetic.h"
#include "service/commands.h"
#include "service/csv.h"
#include "service/pairwise_commands.h"
#include "service/rating_commands.h"
#include "service/progress.h"

namespace consensusd::service {

namespace {

constexpr char kName[] = "synth";

struct SynthFlags {
  consensus::SyntheticOptions options;
  std::string out;
  std::string kind = "categorical";
  consensus::PairwiseSyntheticOptions pairwise;
};

std::string TaskName(int32_t t) { return absl::StrCat("t", t); }
std::string WorkerName(int32_t w) { return absl::StrCat("w", w); }
std::string ClassName(int32_t k) { return absl::StrCat("c", k); }

absl::Status WriteLabels(const consensus::SyntheticData& d, const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  out->AddRow({"task", "worker", "label"});
  const consensus::AnswerMatrix& m = d.answers;
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    const std::string task = TaskName(t);
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      out->AddRow({task, WorkerName(m.worker[a]), ClassName(m.label[a])});
    }
  }
  return out->Close();
}

absl::Status WriteTruth(const consensus::SyntheticData& d, const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  out->AddRow({"task", "label"});
  for (int32_t t = 0; t < static_cast<int32_t>(d.truth.size()); ++t) {
    out->AddRow({TaskName(t), ClassName(d.truth[t])});
  }
  return out->Close();
}

absl::Status WriteWorkers(const consensus::SyntheticData& d, const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  const int32_t k = d.answers.num_classes;
  out->AddField("worker");
  out->AddField("accuracy");
  out->AddField("spam_score");
  for (int32_t truth = 0; truth < k; ++truth) {
    for (int32_t answer = 0; answer < k; ++answer) {
      out->AddField(absl::StrCat("p:", ClassName(truth), ":", ClassName(answer)));
    }
  }
  out->EndRow();
  const size_t kk = static_cast<size_t>(k) * k;
  for (int32_t w = 0; w < d.answers.num_workers; ++w) {
    const std::span<const double> confusion(d.confusion.data() + w * kk, kk);
    out->AddField(WorkerName(w));
    out->AddNumber(consensus::WorkerAccuracy(confusion, d.class_prior));
    out->AddNumber(consensus::SpamScore(confusion, k));
    for (double p : confusion) out->AddNumber(p);
    out->EndRow();
  }
  return out->Close();
}

int RunSynth(SynthFlags& f) {
  if (f.kind == "pairwise") {
    f.pairwise.seed = f.options.seed;
    f.pairwise.raters = f.options.workers;
    return RunPairwiseSynth(f.pairwise, f.out);
  }
  if (f.kind == "rating") {
    consensus::RatingSyntheticOptions o;
    o.tasks = f.options.tasks;
    o.raters = f.options.workers;
    o.ratings_per_task = f.options.answers_per_task;
    o.seed = f.options.seed;
    return RunRatingSynth(o, f.out);
  }
  if (f.kind != "categorical") {
    return UsageError(kName, absl::StrCat("unknown --kind '", f.kind, "': use categorical, pairwise or rating"));
  }
  if (f.out.empty()) {
    return UsageError(kName, "--out is required: pass the directory to write labels.csv, "
                             "truth.csv and workers.csv into");
  }
  std::error_code ec;
  std::filesystem::create_directories(f.out, ec);
  if (ec) {
    return Failure(kName, absl::StrCat("cannot create --out directory ", f.out, ": ",
                                       ec.message()));
  }
  ProgressLine progress;
  progress.Show("drawing answers");
  const consensus::SyntheticData d = consensus::Synthesize(f.options);
  const std::filesystem::path dir(f.out);
  const std::string labels = (dir / "labels.csv").string();
  const std::string truth = (dir / "truth.csv").string();
  const std::string workers = (dir / "workers.csv").string();
  progress.Show(absl::StrCat("writing ", labels));
  absl::Status s = WriteLabels(d, labels);
  if (s.ok()) s = WriteTruth(d, truth);
  if (s.ok()) s = WriteWorkers(d, workers);
  if (!s.ok()) return Failure(kName, s);
  progress.Clear();
  std::printf("wrote %lld answers (%d tasks, %d workers, %d classes, seed %llu) to %s\n",
              static_cast<long long>(d.answers.num_answers()), d.answers.num_tasks,
              d.answers.num_workers, d.answers.num_classes,
              static_cast<unsigned long long>(f.options.seed), labels.c_str());
  std::printf("true labels in %s, true worker confusion matrices in %s\n", truth.c_str(),
              workers.c_str());
  std::printf("Bayes-optimal accuracy %.4f (posterior argmax under the true class prior and "
              "confusion matrices)\n",
              consensus::BayesOptimalAccuracy(d));
  return kExitOk;
}

}  // namespace

Command AddSynthCommand(CLI::App& parent) {
  auto f = std::make_shared<SynthFlags>();
  CLI::App* app = parent.add_subcommand(
      std::string(kName), "Write a synthetic data set drawn from a Dawid-Skene model with "
                          "known truth: labels.csv, truth.csv, workers.csv");
  app->option_defaults()->always_capture_default();
  app->add_option("--tasks", f->options.tasks, "Number of tasks")->check(PositiveInteger());
  app->add_option("--workers", f->options.workers, "Number of workers")
      ->check(PositiveInteger());
  app->add_option("--classes", f->options.classes, "Number of classes")
      ->check(IntegerInRange(2, 1 << 16));
  app->add_option("--answers-per-task", f->options.answers_per_task,
                  "Distinct workers answering each task (at most --workers)")
      ->check(PositiveInteger());
  app->add_option("--seed", f->options.seed, "Random seed: same seed, same data");
  app->add_option("--kind", f->kind,
                  "categorical (Dawid-Skene answers), pairwise (preference votes with known "
                  "item scores; --workers is the number of raters) or rating (1..7 ratings "
                  "by biased, noisy and careless raters; --tasks, --workers, --answers-per-task)")
      ->type_name("categorical|pairwise|rating");
  app->add_option("--items", f->pairwise.items, "Pairwise: items compared")
      ->check(IntegerInRange(2, 1 << 30));
  app->add_option("--comparisons", f->pairwise.tasks, "Pairwise: comparison tasks")
      ->check(PositiveInteger());
  app->add_option("--votes-per-comparison", f->pairwise.votes_per_task,
                  "Pairwise: distinct raters voting on each comparison")
      ->check(PositiveInteger());
  app->add_option("--careless-share", f->pairwise.careless_share,
                  "Pairwise: share of raters who answer at random")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--position-biased-share", f->pairwise.position_biased_share,
                  "Pairwise: share of the careful raters who favour one side")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--out", f->out, "Directory to write the three CSVs into (created if needed)")
      ->type_name("DIR");
  return {app, [f] { return RunSynth(*f); }};
}

}  // namespace consensusd::service
