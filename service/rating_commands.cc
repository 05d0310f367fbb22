#include "service/rating_commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "consensus/id_table.h"
#include "service/commands.h"
#include "service/csv.h"
#include "service/progress.h"

namespace consensusd::service {
namespace {

constexpr char kAggregate[] = "aggregate";
constexpr char kSynth[] = "synth";

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct RatingDataset {
  consensus::Ratings ratings;
  consensus::IdTable tasks, raters;
};

absl::StatusOr<double> ParseRating(std::string_view text) {
  double y;
  if (!absl::SimpleAtod(View(text), &y) || !std::isfinite(y)) {
    return absl::InvalidArgumentError(absl::StrCat("rating '", View(text), "' is not a number"));
  }
  return y;
}

absl::StatusOr<RatingDataset> LoadRatings(const std::string& path) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  constexpr const char* kColumns[] = {"task", "worker", "rating"};
  RatingDataset d;
  std::vector<std::string_view> f;
  while (reader->NextRow(kColumns, &f)) {
    if (f[0].empty() || f[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", reader->line(), ": task and worker must not be empty"));
    }
    absl::StatusOr<double> y = ParseRating(f[2]);
    if (!y.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", reader->line(), ": ", y.status().message()));
    d.ratings.Add(d.tasks.Intern(f[0]), d.raters.Intern(f[1]), *y);
  }
  if (!reader->status().ok()) return reader->status();
  return d;
}

// "MIN..MAX" with MIN < MAX.
absl::Status ParseScale(const std::string& text, consensus::Ratings* r) {
  std::vector<std::string> parts = absl::StrSplit(text, "..");
  double lo, hi;
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &lo) || !absl::SimpleAtod(parts[1], &hi) || !(lo < hi)) {
    return absl::InvalidArgumentError(absl::StrCat("--scale '", text, "' is not MIN..MAX (for example 1..7)"));
  }
  r->scale_min = lo;
  r->scale_max = hi;
  return absl::OkStatus();
}

}  // namespace

int RunRatingAggregate(const RatingAggregateFlags& f) {
  if (f.labels.empty()) return UsageError(kAggregate, "--labels is required: pass the task,worker,rating CSV");
  ProgressLine progress;
  progress.Show(absl::StrCat("reading ", f.labels));
  absl::StatusOr<RatingDataset> d = LoadRatings(f.labels);
  if (!d.ok()) return Failure(kAggregate, d.status());
  consensus::Ratings& r = d->ratings;
  r.num_tasks = d->tasks.size();
  r.num_raters = d->raters.size();
  if (!f.scale.empty()) {
    absl::Status s = ParseScale(f.scale, &r);
    if (!s.ok()) return UsageError(kAggregate, s.message());
  } else if (r.size() > 0) {
    r.scale_min = *std::min_element(r.value.begin(), r.value.end());
    r.scale_max = std::max(r.scale_min + 1, *std::max_element(r.value.begin(), r.value.end()));
  }
  progress.Show("fitting ratings");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<consensus::RatingModel> m = consensus::FitRatings(r, f.options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!m.ok()) return Failure(kAggregate, m.status());
  if (!f.out.empty()) {
    absl::StatusOr<CsvWriter> w = CsvWriter::Create(f.out);
    if (!w.ok()) return Failure(kAggregate, w.status());
    w->AddRow({"task", "rating", "sd", "ratings"});
    for (int32_t t = 0; t < r.num_tasks; ++t) {
      w->AddField(d->tasks.Name(t));
      w->AddNumber(m->consensus[t], 4);
      w->AddNumber(m->consensus_sd[t], 4);
      w->AddInteger(m->task_ratings[t]);
      w->EndRow();
    }
    absl::Status s = w->Close();
    if (!s.ok()) return Failure(kAggregate, s);
  }
  if (!f.workers_out.empty()) {
    absl::StatusOr<CsvWriter> w = CsvWriter::Create(f.workers_out);
    if (!w.ok()) return Failure(kAggregate, w.status());
    w->AddRow({"worker", "ratings", "bias", "noise_sd"});
    for (int32_t x = 0; x < r.num_raters; ++x) {
      w->AddField(d->raters.Name(x));
      w->AddInteger(m->rater_ratings[x]);
      w->AddNumber(m->bias[x], 4);
      w->AddNumber(m->noise_sd[x], 4);
      w->EndRow();
    }
    absl::Status s = w->Close();
    if (!s.ok()) return Failure(kAggregate, s);
  }
  progress.Clear();
  std::printf("%s: %lld ratings of %d tasks by %d workers, scale %g..%g\n", f.labels.c_str(),
              static_cast<long long>(r.size()), r.num_tasks, r.num_raters, r.scale_min, r.scale_max);
  std::printf("kind            rating (Gaussian raters: bias and noise per worker)\n");
  std::printf("iterations      %d (%s)\n", m->iterations, m->converged ? "converged" : "not converged");
  std::printf("fit time        %.3f s\n", seconds);
  std::printf("agreement       ICC(1) %.4f, quadratic-weighted kappa %.4f\n", m->icc, m->weighted_kappa);
  if (!f.out.empty()) std::printf("ratings         %s\n", f.out.c_str());
  if (!f.workers_out.empty()) std::printf("workers report  %s\n", f.workers_out.c_str());
  if (!f.truth.empty()) {
    absl::StatusOr<CsvReader> reader = CsvReader::Open(f.truth);
    if (!reader.ok()) return Failure(kAggregate, reader.status());
    constexpr const char* kColumns[] = {"task", "rating"};
    std::vector<std::string_view> row;
    double error = 0, mean_error = 0;
    int64_t n = 0;
    std::vector<double> sum(r.num_tasks, 0.0);
    std::vector<int64_t> count(r.num_tasks, 0);
    for (int64_t i = 0; i < r.size(); ++i) {
      sum[r.task[i]] += r.value[i];
      ++count[r.task[i]];
    }
    while (reader->NextRow(kColumns, &row)) {
      const int32_t t = d->tasks.Find(row[0]);
      absl::StatusOr<double> y = ParseRating(row[1]);
      if (!y.ok()) return Failure(kAggregate, absl::StrCat(f.truth, ":", reader->line(), ": ", y.status().message()));
      if (t < 0) continue;
      error += std::fabs(m->consensus[t] - *y);
      mean_error += std::fabs(sum[t] / count[t] - *y);
      ++n;
    }
    if (!reader->status().ok()) return Failure(kAggregate, reader->status());
    std::printf("mean abs error  %.4f (per-task mean of the ratings: %.4f; %lld tasks in %s)\n",
                n ? error / n : 0.0, n ? mean_error / n : 0.0, static_cast<long long>(n), f.truth.c_str());
  }
  return kExitOk;
}

int RunRatingSynth(const consensus::RatingSyntheticOptions& options, const std::string& out) {
  if (out.empty()) {
    return UsageError(kSynth, "--out is required: pass the directory to write labels.csv, truth.csv and workers.csv into");
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return Failure(kSynth, absl::StrCat("cannot create --out directory ", out, ": ", ec.message()));
  const consensus::RatingSynthetic d = consensus::SynthesizeRatings(options);
  const std::filesystem::path dir(out);
  const consensus::Ratings& r = d.ratings;
  absl::StatusOr<CsvWriter> w = CsvWriter::Create((dir / "labels.csv").string());
  if (!w.ok()) return Failure(kSynth, w.status());
  w->AddRow({"task", "worker", "rating"});
  for (int64_t i = 0; i < r.size(); ++i) {
    w->AddField(absl::StrCat("t", r.task[i]));
    w->AddField(absl::StrCat("r", r.rater[i]));
    w->AddInteger(static_cast<int64_t>(r.value[i]));
    w->EndRow();
  }
  absl::Status s = w->Close();
  if (s.ok()) {
    absl::StatusOr<CsvWriter> truth = CsvWriter::Create((dir / "truth.csv").string());
    if (!truth.ok()) return Failure(kSynth, truth.status());
    truth->AddRow({"task", "rating"});
    for (int32_t t = 0; t < r.num_tasks; ++t) {
      truth->AddField(absl::StrCat("t", t));
      truth->AddInteger(static_cast<int64_t>(d.true_rating[t]));
      truth->EndRow();
    }
    s = truth->Close();
  }
  if (s.ok()) {
    absl::StatusOr<CsvWriter> workers = CsvWriter::Create((dir / "workers.csv").string());
    if (!workers.ok()) return Failure(kSynth, workers.status());
    workers->AddRow({"worker", "bias", "noise_sd", "careless"});
    for (int32_t x = 0; x < r.num_raters; ++x) {
      workers->AddField(absl::StrCat("r", x));
      workers->AddNumber(d.true_bias[x], 4);
      workers->AddNumber(d.true_noise[x], 4);
      workers->AddField(d.careless[x] ? "true" : "false");
      workers->EndRow();
    }
    s = workers->Close();
  }
  if (!s.ok()) return Failure(kSynth, s);
  std::printf("wrote %lld ratings (%d tasks, %d workers, scale %g..%g, seed %llu) to %s\n",
              static_cast<long long>(r.size()), r.num_tasks, r.num_raters, r.scale_min, r.scale_max,
              static_cast<unsigned long long>(options.seed), (dir / "labels.csv").string().c_str());
  return kExitOk;
}

}  // namespace consensusd::service
