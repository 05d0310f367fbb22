#include "service/pairwise_commands.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "service/commands.h"
#include "service/csv.h"
#include "service/pairwise_file.h"
#include "service/progress.h"

namespace consensusd::service {
namespace {

constexpr char kAggregate[] = "aggregate";
constexpr char kSynth[] = "synth";
constexpr int kLeaderboardLines = 10;

void PrintSummary(const PairwiseAggregateFlags& f, const PairwiseDataset& d,
                  const consensus::PairwiseModel& m, double seconds) {
  const consensus::Comparisons& c = d.comparisons;
  int64_t careless = 0;
  for (uint8_t flag : m.careless) careless += flag;
  std::printf("%s: %lld votes on %d comparisons of %d items by %d workers\n", f.labels.c_str(),
              static_cast<long long>(c.num_votes()), c.num_tasks(), c.num_items, c.num_raters);
  std::printf("kind            pairwise (Bradley-Terry-Davidson, careless and position-biased raters)\n");
  std::printf("iterations      %d (%s)\n", m.iterations, m.converged ? "converged" : "not converged");
  std::printf("fit time        %.3f s (%d bootstrap replicates)\n", seconds, f.options.bootstrap);
  std::printf("tie parameter   %.4f\n", m.tie_nu);
  std::printf("careless        %lld of %d workers flagged\n", static_cast<long long>(careless), c.num_raters);
  std::printf("%-5s %-24s %9s %21s %8s\n", "rank", "item", "score", "95% interval", "votes");
  for (int i = 0; i < std::min<int>(kLeaderboardLines, static_cast<int>(m.order.size())); ++i) {
    const int32_t item = m.order[i];
    std::printf("%-5d %-24s %9.4f [%9.4f, %9.4f] %8lld\n", m.rank[item], std::string(d.items.Name(item)).c_str(),
                m.score[item], m.score_low[item], m.score_high[item],
                static_cast<long long>(m.item_votes[item]));
  }
  if (!f.out.empty()) std::printf("leaderboard     %s\n", f.out.c_str());
  if (!f.workers_out.empty()) std::printf("workers report  %s\n", f.workers_out.c_str());
  if (!f.comparisons_out.empty()) std::printf("comparisons     %s\n", f.comparisons_out.c_str());
}

}  // namespace

int RunPairwiseAggregate(const PairwiseAggregateFlags& f) {
  if (f.labels.empty()) {
    return UsageError(kAggregate, "--labels is required: pass the worker,left,right,label CSV");
  }
  ProgressLine progress;
  progress.Show(absl::StrCat("reading ", f.labels));
  absl::StatusOr<PairwiseDataset> d = LoadComparisons(f.labels);
  if (!d.ok()) return Failure(kAggregate, d.status());
  absl::StatusOr<absl::flat_hash_map<std::string, double>> truth;
  if (!f.truth.empty()) {
    truth = LoadItemScores(f.truth);
    if (!truth.ok()) return Failure(kAggregate, truth.status());
  }
  progress.Show("fitting pairwise");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<consensus::PairwiseModel> m = consensus::FitPairwise(d->comparisons, f.options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!m.ok()) return Failure(kAggregate, m.status());
  absl::Status s;
  if (!f.out.empty()) s = WriteLeaderboardCsv(*d, *m, f.out);
  if (s.ok() && !f.workers_out.empty()) s = WriteRatersCsv(*d, *m, f.workers_out);
  if (s.ok() && !f.comparisons_out.empty()) s = WriteComparisonsCsv(*d, *m, f.comparisons_out);
  if (!s.ok()) return Failure(kAggregate, s);
  progress.Clear();
  PrintSummary(f, *d, *m, seconds);
  if (!f.truth.empty()) {
    int64_t compared = 0;
    const double rho = ScoreSpearman(*d, *m, *truth, &compared);
    std::printf("spearman        %.4f (%lld items in %s)\n", rho, static_cast<long long>(compared),
                f.truth.c_str());
  }
  return kExitOk;
}

int RunPairwiseSynth(const consensus::PairwiseSyntheticOptions& options, const std::string& out) {
  if (out.empty()) {
    return UsageError(kSynth, "--out is required: pass the directory to write labels.csv, "
                              "truth.csv and workers.csv into");
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return Failure(kSynth, absl::StrCat("cannot create --out directory ", out, ": ", ec.message()));
  const consensus::PairwiseSynthetic d = consensus::SynthesizePairwise(options);
  const std::filesystem::path dir(out);
  const std::string labels = (dir / "labels.csv").string();
  const consensus::Comparisons& c = d.comparisons;
  auto item = [](int32_t i) { return absl::StrCat("item", i); };
  auto worker = [](int32_t r) { return absl::StrCat("r", r); };
  absl::StatusOr<CsvWriter> w = CsvWriter::Create(labels);
  if (!w.ok()) return Failure(kSynth, w.status());
  w->AddRow({"task", "worker", "left", "right", "label"});
  for (int64_t v = 0; v < c.num_votes(); ++v) {
    const int32_t t = c.task[v];
    const int32_t shown_left = c.swapped[v] ? c.right[t] : c.left[t];
    const int32_t shown_right = c.swapped[v] ? c.left[t] : c.right[t];
    w->AddRow({absl::StrCat("cmp", t), worker(c.rater[v]), item(shown_left), item(shown_right),
               consensus::OutcomeName(c.outcome[v])});
  }
  absl::Status s = w->Close();
  if (s.ok()) {
    absl::StatusOr<CsvWriter> truth = CsvWriter::Create((dir / "truth.csv").string());
    if (!truth.ok()) return Failure(kSynth, truth.status());
    truth->AddRow({"item", "score"});
    for (int32_t i = 0; i < c.num_items; ++i) {
      truth->AddField(item(i));
      truth->AddNumber(d.true_score[i]);
      truth->EndRow();
    }
    s = truth->Close();
  }
  if (s.ok()) {
    absl::StatusOr<CsvWriter> raters = CsvWriter::Create((dir / "workers.csv").string());
    if (!raters.ok()) return Failure(kSynth, raters.status());
    raters->AddRow({"worker", "kind", "position_bias"});
    for (int32_t r = 0; r < c.num_raters; ++r) {
      raters->AddField(worker(r));
      raters->AddField(d.rater_kind[r] == consensus::RaterKind::kCareless         ? "careless"
                       : d.rater_kind[r] == consensus::RaterKind::kPositionBiased ? "position_biased"
                                                                                   : "careful");
      raters->AddNumber(d.rater_bias[r]);
      raters->EndRow();
    }
    s = raters->Close();
  }
  if (!s.ok()) return Failure(kSynth, s);
  std::printf("wrote %lld pairwise votes (%d comparisons of %d items, %d workers, seed %llu) to %s\n",
              static_cast<long long>(c.num_votes()), c.num_tasks(), c.num_items, c.num_raters,
              static_cast<unsigned long long>(options.seed), labels.c_str());
  std::printf("true item scores in %s, worker kinds in %s\n", (dir / "truth.csv").string().c_str(),
              (dir / "workers.csv").string().c_str());
  return kExitOk;
}

}  // namespace consensusd::service
