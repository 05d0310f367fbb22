// `consensusd aggregate`: batch aggregation of a task,worker,label CSV or of
// JSON Lines input-topic messages (SPEC 5.1).
// Prints a summary to stdout; writes consensus labels to --out and the worker
// report to --workers-out. `--method all` instead prints one accuracy line per
// method, scored against --truth (or, without --truth, against --gold, which is
// then only the answer key and not an anchor of the fit).

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "consensus/aggregate.h"
#include "consensus/agreement.h"
#include "consensus/report.h"
#include "service/commands.h"
#include "service/label_file.h"
#include "service/pairwise_commands.h"
#include "service/rating_commands.h"
#include "service/progress.h"
#include "service/result_csv.h"

namespace consensusd::service {

namespace {

constexpr char kName[] = "aggregate";
constexpr consensus::Method kAllMethods[] = {
    consensus::Method::kDawidSkene,  consensus::Method::kOneCoin,
    consensus::Method::kVariational, consensus::Method::kMace,
    consensus::Method::kHierarchical, consensus::Method::kMajorityVote,
    consensus::Method::kWawa};

struct AggregateFlags {
  std::string labels, gold, truth;
  std::string method = "hds";
  // Each row is a judgement (docs/configuration.md, "Repeated answers").
  std::string repeats = "count";
  std::string tie_break = "prior";
  std::string out, workers_out;
  bool posteriors = false;
  consensus::AggregateOptions options;
  std::string kind = "categorical";
  PairwiseAggregateFlags pairwise;  // --kind pairwise
  RatingAggregateFlags rating;      // --kind rating
  bool max_iter_set = false;        // pairwise has its own default
};

using Truth = absl::flat_hash_map<std::string, std::string>;

struct Fit {
  absl::StatusOr<consensus::Model> model;
  double seconds = 0;
};

Fit TimedAggregate(const Dataset& d, const consensus::AggregateOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Fit fit{consensus::Aggregate(d.matrix, options)};
  fit.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return fit;
}

int64_t GoldTasks(const consensus::AnswerMatrix& m) {
  int64_t n = 0;
  for (int32_t g : m.gold) n += g != consensus::kNoGold;
  return n;
}

void PrintDatasetLine(const AggregateFlags& f, const Dataset& d) {
  std::printf("%s: %d tasks, %d workers, %lld answers (%lld rows), %d classes, %lld gold tasks\n",
              f.labels.c_str(), d.tasks.size(), d.workers.size(),
              static_cast<long long>(d.matrix.num_answers()), static_cast<long long>(d.rows),
              d.classes.size(), static_cast<long long>(GoldTasks(d.matrix)));
  std::printf("agreement: Krippendorff's alpha (nominal) %.4f\n", consensus::KrippendorffAlpha(d.matrix));
}

// One line per method: accuracy against the truth, EM iterations, fit time.
int CompareMethods(const AggregateFlags& f, const Dataset& d, const std::optional<Truth>& truth,
                   const std::string& truth_path, ProgressLine& progress) {
  std::vector<std::string> lines;
  for (consensus::Method method : kAllMethods) {
    progress.Show(absl::StrCat("fitting ", std::string(consensus::MethodName(method))));
    consensus::AggregateOptions options = f.options;
    options.method = method;
    Fit fit = TimedAggregate(d, options);
    if (!fit.model.ok()) return Failure(kName, fit.model.status());
    char line[160];
    std::string accuracy = "-", evaluated = "-";
    if (truth.has_value()) {
      const AccuracyResult a = Accuracy(d.tasks.names(), d.classes.names(), fit.model->label, *truth);
      if (a.evaluated > 0) {
        std::snprintf(line, sizeof(line), "%.4f", a.accuracy);
        accuracy = line;
      } else {
        accuracy = "n/a";
      }
      evaluated = absl::StrCat(a.evaluated);
    }
    std::snprintf(line, sizeof(line), "%-9s %-9s %-10s %-11d %.4f\n",
                  std::string(consensus::MethodName(method)).c_str(), accuracy.c_str(),
                  evaluated.c_str(), fit.model->iterations, fit.seconds);
    lines.push_back(line);
  }
  progress.Clear();
  PrintDatasetLine(f, d);
  std::printf("accuracy against %s; prior %g, tol %g, max-iter %d, repeats %s\n",
              truth.has_value() ? truth_path.c_str() : "(no --truth or --gold given)",
              f.options.prior, f.options.tol, f.options.max_iter, f.repeats.c_str());
  std::printf("%-9s %-9s %-10s %-11s %s\n", "method", "accuracy", "evaluated", "iterations",
              "fit_s");
  for (const std::string& line : lines) std::fputs(line.c_str(), stdout);
  return kExitOk;
}

void PrintSummary(const AggregateFlags& f, const Dataset& d, const consensus::Model& m,
                  double seconds, const std::optional<Truth>& truth) {
  std::printf("method          %s\n", f.method.c_str());
  std::printf("tasks           %d\n", d.tasks.size());
  std::printf("workers         %d\n", d.workers.size());
  std::printf("answers         %lld (%lld rows, repeats %s)\n",
              static_cast<long long>(d.matrix.num_answers()), static_cast<long long>(d.rows),
              f.repeats.c_str());
  std::printf("classes         %d\n", d.classes.size());
  std::printf("alpha           %.4f (Krippendorff, nominal)\n", consensus::KrippendorffAlpha(d.matrix));
  std::printf("gold tasks      %lld\n", static_cast<long long>(GoldTasks(d.matrix)));
  std::printf("iterations      %d%s\n", m.iterations, m.converged ? " (converged)" : "");
  std::printf("log-likelihood  %.6f\n", m.log_likelihood);
  std::printf("fit time        %.4f s\n", seconds);
  if (truth.has_value()) {
    const AccuracyResult a = Accuracy(d.tasks.names(), d.classes.names(), m.label, *truth);
    if (a.evaluated == 0) {
      std::printf("accuracy        n/a (no task of %s occurs in %s)\n", f.truth.c_str(),
                  f.labels.c_str());
    } else {
      std::printf("accuracy        %.4f (%lld of %lld tasks in %s)\n", a.accuracy,
                  std::llround(a.accuracy * a.evaluated), static_cast<long long>(a.evaluated),
                  f.truth.c_str());
    }
  }
  if (!f.out.empty()) std::printf("labels          %s\n", f.out.c_str());
  if (!f.workers_out.empty()) std::printf("workers report  %s\n", f.workers_out.c_str());
}

int RunAggregate(AggregateFlags& f) {
  if (f.kind == "pairwise") {
    f.pairwise.labels = f.labels;
    f.pairwise.truth = f.truth;
    f.pairwise.out = f.out;
    f.pairwise.workers_out = f.workers_out;
    f.pairwise.options.threads = f.options.threads;
    f.pairwise.options.tol = f.options.tol;
    if (f.max_iter_set) f.pairwise.options.max_iter = f.options.max_iter;
    return RunPairwiseAggregate(f.pairwise);
  }
  if (f.kind == "rating") {
    f.rating.labels = f.labels;
    f.rating.truth = f.truth;
    f.rating.out = f.out;
    f.rating.workers_out = f.workers_out;
    if (f.max_iter_set) f.rating.options.max_iter = f.options.max_iter;
    return RunRatingAggregate(f.rating);
  }
  if (f.kind != "categorical") {
    return UsageError(kName, absl::StrCat("unknown --kind '", f.kind,
                                          "': use categorical (task,worker,label), pairwise "
                                          "(worker,left,right,label) or rating (task,worker,rating)"));
  }
  if (f.labels.empty()) {
    return UsageError(kName, "--labels is required: pass the task,worker,label CSV to aggregate");
  }
  absl::StatusOr<consensus::DuplicatePolicy> duplicates = consensus::ParseDuplicatePolicy(f.repeats);
  if (!duplicates.ok()) {
    return UsageError(kName, absl::StrCat("unknown --repeats '", f.repeats,
                                          "': use count (every row counts, the default) or "
                                          "replace (a worker's later answer to a task replaces "
                                          "the earlier one); last and all are their old names"));
  }
  f.repeats = std::string(consensus::DuplicatePolicyName(*duplicates));
  if (f.tie_break == "name") {
    f.options.tie_break = consensus::TieBreak::kName;
  } else if (f.tie_break != "prior") {
    return UsageError(kName, absl::StrCat("unknown --tie-break '", f.tie_break,
                                          "': use prior (larger class prior, then name) or name "
                                          "(the class that sorts first, as crowd-kit)"));
  }
  const bool all = f.method == "all";
  if (!all) {
    absl::StatusOr<consensus::Method> method = consensus::ParseMethod(f.method);
    if (!method.ok()) {
      return UsageError(kName, absl::StrCat("unknown --method '", f.method,
                                            "': use ds, onecoin, vbds, mace, hds, mv, wawa, or all to compare"));
    }
    f.options.method = *method;
  } else if (!f.out.empty() || !f.workers_out.empty() || f.posteriors) {
    return UsageError(kName,
                      "--method all only prints a comparison table: pick one method to write "
                      "--out, --workers-out or --posteriors");
  }

  // --method all without --truth scores against --gold instead of fitting with it.
  const bool gold_is_truth = all && f.truth.empty() && !f.gold.empty();
  const std::string truth_path = gold_is_truth ? f.gold : f.truth;

  ProgressLine progress;
  progress.Show(absl::StrCat("reading ", f.labels));
  absl::StatusOr<Dataset> data =
      LoadDataset(f.labels, gold_is_truth ? std::string() : f.gold, *duplicates);
  if (!data.ok()) return Failure(kName, data.status());
  std::optional<Truth> truth;
  if (!truth_path.empty()) {
    progress.Show(absl::StrCat("reading ", truth_path));
    absl::StatusOr<Truth> t = LoadTruth(truth_path);
    if (!t.ok()) return Failure(kName, t.status());
    truth = *std::move(t);
  }
  if (all) return CompareMethods(f, *data, truth, truth_path, progress);

  progress.Show(absl::StrCat("fitting ", f.method));
  Fit fit = TimedAggregate(*data, f.options);
  if (!fit.model.ok()) return Failure(kName, fit.model.status());
  if (!f.out.empty()) {
    progress.Show(absl::StrCat("writing ", f.out));
    absl::Status s = WriteLabelsCsv(data->tasks, data->classes, *fit.model, f.posteriors, f.out);
    if (!s.ok()) return Failure(kName, s);
  }
  if (!f.workers_out.empty()) {
    progress.Show(absl::StrCat("writing ", f.workers_out));
    const std::vector<consensus::WorkerReport> reports =
        consensus::ReportWorkers(data->matrix, *fit.model, consensus::QualityThresholds{});
    absl::Status s = WriteWorkersCsv(WorkerRows(data->workers, reports), f.workers_out);
    if (!s.ok()) return Failure(kName, s);
  }
  progress.Clear();
  PrintSummary(f, *data, *fit.model, fit.seconds, truth);
  return kExitOk;
}

}  // namespace

Command AddAggregateCommand(CLI::App& parent) {
  auto f = std::make_shared<AggregateFlags>();
  CLI::App* app = parent.add_subcommand(
      std::string(kName), "Batch aggregation of a task,worker,label CSV: consensus labels, "
                          "worker quality, accuracy against known truth");
  app->option_defaults()->always_capture_default();
  app->add_option("--labels", f->labels,
                  "Answers CSV: task,worker,label (header optional); or JSON Lines (*.jsonl, "
                  "*.ndjson): one input-topic message per line")
      ->type_name("FILE");
  app->add_option("--gold", f->gold,
                  "Gold CSV task,label: known true classes, used as anchors of the fit")
      ->type_name("FILE");
  app->add_option("--truth", f->truth,
                  "Truth CSV task,label: prints the accuracy of the consensus against it")
      ->type_name("FILE");
  app->add_option("--method", f->method,
                  "ds (Dawid-Skene), onecoin, vbds (variational Bayesian Dawid-Skene), "
                  "mace, hds (hierarchical Dawid-Skene), mv (majority vote), wawa, or all to "
                  "print the accuracy of every method")
      ->type_name("METHOD");
  app->add_option("--prior", f->options.prior,
                  "Dirichlet pseudo-count added to every confusion-matrix cell and class "
                  "count (with a diagonal pseudo-count when > 0); 0 = plain "
                  "maximum-likelihood Dawid-Skene, as crowd-kit; vbds and mace use their own "
                  "fixed priors, hds its population's for the confusion matrices")
      ->check(NonNegativeNumber());
  app->add_option("--tol", f->options.tol,
                  "EM stops when the objective per answer improves by less than this")
      ->check(NonNegativeNumber());
  app->add_option("--max-iter", f->options.max_iter,
                  "EM stops after this many iterations (pairwise: 500 unless given)")
      ->check(PositiveInteger())
      ->each([f](const std::string&) { f->max_iter_set = true; });
  app->add_option("--threads", f->options.threads,
                  "EM worker threads; 0 (the default): one per available core. Results are "
                  "identical for every count")
      ->check(NonNegativeNumber());
  app->add_option("--tie-break", f->tie_break,
                  "Ties between classes: prior (the larger class prior, then the name that sorts "
                  "first; the default) or name (the name that sorts first, as crowd-kit)")
      ->type_name("prior|name");
  app->add_option("--repeats,--duplicates", f->repeats,
                  "Several answers of one worker for one task: count (the default) counts "
                  "every row, as crowd-kit does; replace keeps the last one, as a service "
                  "project with repeats: replace does. --duplicates all|last is the old name "
                  "of --repeats count|replace")
      ->type_name("count|replace");
  app->add_option("--out", f->out, "Write consensus labels here: task,label,confidence")
      ->type_name("FILE");
  app->add_flag("--posteriors", f->posteriors, "Add one p:<class> column per class to --out");
  app->add_option("--workers-out", f->workers_out,
                  "Write the worker report here: worker,answers,accuracy,... (pairwise: "
                  "worker,votes,reliability,careful_log_odds,position_bias,careless)")
      ->type_name("FILE");
  app->add_option("--kind", f->kind,
                  "categorical (task,worker,label); pairwise ([task,]worker,left,right,label "
                  "with label left, right, tie or the preferred item; --out gets the "
                  "leaderboard, --truth item,score gives Spearman's rho); or rating "
                  "(task,worker,rating; --out gets task,rating,sd,ratings)")
      ->type_name("categorical|pairwise|rating");
  app->add_option("--scale", f->rating.scale,
                  "Rating: the scale MIN..MAX (default: the smallest and largest rating)")
      ->type_name("MIN..MAX");
  app->add_option("--comparisons-out", f->pairwise.comparisons_out,
                  "Pairwise: write the per-comparison consensus here: "
                  "task,left,right,p_left,p_right,p_tie,consensus")
      ->type_name("FILE");
  app->add_option("--bootstrap", f->pairwise.options.bootstrap,
                  "Pairwise: bootstrap replicates for the 95% score intervals (0: none)")
      ->check(NonNegativeNumber());
  app->add_option("--seed", f->pairwise.options.seed, "Pairwise: the bootstrap's random seed");
  return {app, [f] { return RunAggregate(*f); }};
}

}  // namespace consensusd::service
