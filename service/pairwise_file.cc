#include "service/pairwise_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/csv.h"

namespace consensusd::service {
namespace {

constexpr const char* kWithTask[] = {"task", "worker", "left", "right", "label"};
constexpr const char* kWithoutTask[] = {"worker", "left", "right", "label"};

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Whether the file's first record has five fields (a task column).
absl::StatusOr<bool> HasTaskColumn(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string first;
  std::getline(in, first);
  if (!first.empty() && first.back() == '\r') first.pop_back();
  CsvReader reader(first, path);
  std::vector<std::string_view> fields;
  if (!reader.Next(&fields)) return false;
  return fields.size() == 5;
}

// Average ranks (1-based) of `x`.
std::vector<double> Ranks(const std::vector<double>& x) {
  std::vector<size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) rank[idx[k]] = 0.5 * double(i + j) + 1;
    i = j + 1;
  }
  return rank;
}

}  // namespace

absl::StatusOr<PairwiseDataset> LoadComparisons(const std::string& path) {
  absl::StatusOr<bool> with_task = HasTaskColumn(path);
  if (!with_task.ok()) return with_task.status();
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  const std::span<const char* const> columns =
      *with_task ? std::span<const char* const>(kWithTask) : std::span<const char* const>(kWithoutTask);
  PairwiseDataset d;
  std::vector<std::string_view> f;
  while (reader->NextRow(columns, &f)) {
    const size_t base = *with_task ? 1 : 0;
    const std::string_view worker = f[base], left = f[base + 1], right = f[base + 2], label = f[base + 3];
    auto error = [&](std::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", reader->line(), ": ", View(what)));
    };
    if (worker.empty() || left.empty() || right.empty()) return error("worker, left and right must not be empty");
    if (left == right) return error(absl::StrCat("item '", View(left), "' is compared with itself"));
    consensus::Outcome outcome;
    if (label == left) {
      outcome = consensus::kLeft;
    } else if (label == right) {
      outcome = consensus::kRight;
    } else {
      absl::StatusOr<consensus::Outcome> parsed = consensus::ParseOutcome(label);
      if (!parsed.ok()) {
        return error(absl::StrCat("label '", View(label), "' is neither left, right, tie nor one of the items '",
                                  View(left), "' and '", View(right), "'"));
      }
      outcome = *parsed;
    }
    const int32_t a = d.items.Intern(left), b = d.items.Intern(right);
    const int32_t r = d.raters.Intern(worker);
    int32_t t;
    if (*with_task) {
      const std::string_view task = f[0];
      if (task.empty()) return error("task must not be empty");
      t = d.tasks.Intern(task);
      if (t == d.comparisons.num_tasks()) {
        d.comparisons.AddTask(a, b);
      } else {
        const int32_t l = d.comparisons.left[t], rr = d.comparisons.right[t];
        if (!((l == a && rr == b) || (l == b && rr == a))) {
          return error(absl::StrCat("task '", View(task), "' compares '", View(left), "' and '", View(right),
                                    "' here but '", View(d.items.Name(l)), "' and '", View(d.items.Name(rr)), "' before"));
        }
      }
    } else {
      t = d.tasks.Intern(absl::StrCat("row-", reader->line()));
      d.comparisons.AddTask(a, b);
    }
    d.comparisons.AddVote(t, r, a, outcome);
  }
  if (!reader->status().ok()) return reader->status();
  d.comparisons.num_items = d.items.size();
  d.comparisons.num_raters = d.raters.size();
  return d;
}

absl::StatusOr<absl::flat_hash_map<std::string, double>> LoadItemScores(const std::string& path) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  constexpr const char* kColumns[] = {"item", "score"};
  absl::flat_hash_map<std::string, double> scores;
  std::vector<std::string_view> f;
  while (reader->NextRow(kColumns, &f)) {
    double score;
    if (!absl::SimpleAtod(View(f[1]), &score) || !std::isfinite(score)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", reader->line(), ": score '", View(f[1]), "' is not a number"));
    }
    scores[std::string(f[0])] = score;
  }
  if (!reader->status().ok()) return reader->status();
  return scores;
}

absl::Status WriteLeaderboardCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                                 const std::string& path) {
  absl::StatusOr<CsvWriter> w = CsvWriter::Create(path);
  if (!w.ok()) return w.status();
  w->AddRow({"rank", "item", "score", "low", "high", "votes"});
  for (int32_t i : m.order) {
    w->AddInteger(m.rank[i]);
    w->AddField(d.items.Name(i));
    w->AddNumber(m.score[i]);
    w->AddNumber(m.score_low[i]);
    w->AddNumber(m.score_high[i]);
    w->AddInteger(m.item_votes[i]);
    w->EndRow();
  }
  return w->Close();
}

absl::Status WriteRatersCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                            const std::string& path) {
  absl::StatusOr<CsvWriter> w = CsvWriter::Create(path);
  if (!w.ok()) return w.status();
  w->AddRow({"worker", "votes", "reliability", "careful_log_odds", "position_bias", "careless"});
  for (int32_t r = 0; r < d.raters.size(); ++r) {
    w->AddField(d.raters.Name(r));
    w->AddInteger(m.rater_votes[r]);
    w->AddNumber(m.reliability[r]);
    w->AddNumber(m.careful_log_odds[r], 3);
    w->AddNumber(m.position_bias[r]);
    w->AddField(m.careless[r] ? "true" : "false");
    w->EndRow();
  }
  return w->Close();
}

absl::Status WriteComparisonsCsv(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                                 const std::string& path) {
  absl::StatusOr<CsvWriter> w = CsvWriter::Create(path);
  if (!w.ok()) return w.status();
  w->AddRow({"task", "left", "right", "p_left", "p_right", "p_tie", "consensus"});
  for (int32_t t = 0; t < d.comparisons.num_tasks(); ++t) {
    w->AddField(d.tasks.Name(t));
    w->AddField(d.items.Name(d.comparisons.left[t]));
    w->AddField(d.items.Name(d.comparisons.right[t]));
    for (int z = 0; z < consensus::kOutcomes; ++z) w->AddNumber(m.posterior[size_t(t) * 3 + z]);
    w->AddField(consensus::OutcomeName(m.consensus[t]));
    w->EndRow();
  }
  return w->Close();
}

double ScoreSpearman(const PairwiseDataset& d, const consensus::PairwiseModel& m,
                     const absl::flat_hash_map<std::string, double>& truth, int64_t* compared) {
  std::vector<double> ours, theirs;
  for (int32_t i = 0; i < d.items.size(); ++i) {
    auto it = truth.find(std::string(d.items.Name(i)));
    if (it == truth.end()) continue;
    ours.push_back(m.score[i]);
    theirs.push_back(it->second);
  }
  *compared = static_cast<int64_t>(ours.size());
  if (ours.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> a = Ranks(ours), b = Ranks(theirs);
  const double n = double(a.size()), mean = (n + 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - mean) * (b[i] - mean);
    saa += (a[i] - mean) * (a[i] - mean);
    sbb += (b[i] - mean) * (b[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace consensusd::service
