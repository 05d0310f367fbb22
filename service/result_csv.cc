#include "service/result_csv.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "service/csv.h"

namespace consensusd::service {

namespace {

// Rows [first, end) of the labels CSV, appended to out.
void AppendLabelRows(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                     const consensus::Model& model, bool posteriors, int32_t first, int32_t end,
                     std::string& out) {
  for (int32_t t = first; t < end; ++t) {
    const std::span<const double> p = model.Posterior(t);
    const int32_t label = model.label[t];
    engine::AppendLabelsRow(tasks.Name(t), classes.Name(label), p[label], p, posteriors, out);
  }
}

}  // namespace

absl::Status WriteLabelsCsv(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                            const consensus::Model& model, bool posteriors,
                            const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  engine::AppendLabelsHeader(classes.names(), posteriors, out->raw());
  // Formatting the numbers is most of the cost: in chunks of rows, the odd
  // chunks formatted by a second thread while this one formats and writes the
  // even ones, every chunk written in order (the same bytes as one thread).
  constexpr int32_t kChunkRows = 16384;
  const int32_t num_tasks = tasks.size();
  const int32_t chunks = (num_tasks + kChunkRows - 1) / kChunkRows;
  auto chunk_end = [&](int32_t c) { return std::min(num_tasks, (c + 1) * kChunkRows); };
  if (chunks < 4) {
    for (int32_t c = 0; c < chunks; ++c) {
      AppendLabelRows(tasks, classes, model, posteriors, c * kChunkRows, chunk_end(c), out->raw());
      out->EndRaw();
    }
    return out->Close();
  }
  std::mutex mu;
  std::condition_variable changed;
  std::string odd;         // a formatted odd chunk, guarded by mu
  bool odd_full = false;   // guarded by mu
  std::thread helper([&] {
    std::string mine;
    for (int32_t c = 1; c < chunks; c += 2) {
      mine.clear();
      AppendLabelRows(tasks, classes, model, posteriors, c * kChunkRows, chunk_end(c), mine);
      std::unique_lock<std::mutex> lock(mu);
      changed.wait(lock, [&] { return !odd_full; });
      odd.swap(mine);
      odd_full = true;
      changed.notify_all();
    }
  });
  for (int32_t c = 0; c < chunks; ++c) {
    if (c % 2 == 0) {
      AppendLabelRows(tasks, classes, model, posteriors, c * kChunkRows, chunk_end(c), out->raw());
    } else {
      std::unique_lock<std::mutex> lock(mu);
      changed.wait(lock, [&] { return odd_full; });
      out->raw().append(odd);
      odd_full = false;
      changed.notify_all();
    }
    out->EndRaw();
  }
  helper.join();
  return out->Close();
}

absl::Status WriteWorkersCsv(const std::vector<engine::WorkerRow>& rows, const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  out->AddRow({"worker", "answers", "accuracy", "gold_answers", "gold_accuracy", "agreement",
               "spam_score", "flagged"});
  for (const engine::WorkerRow& r : rows) {
    out->AddField(r.worker);
    out->AddInteger(r.answers);
    out->AddNumber(r.accuracy);
    out->AddInteger(r.gold_answers);
    if (r.gold_answers > 0) {
      out->AddNumber(static_cast<double>(r.gold_correct) / static_cast<double>(r.gold_answers));
    } else {
      out->AddField("");
    }
    out->AddNumber(r.agreement);
    out->AddNumber(r.spam_score);
    out->AddField(r.flagged ? "true" : "false");
    out->EndRow();
  }
  return out->Close();
}

std::vector<engine::WorkerRow> WorkerRows(const consensus::IdTable& workers,
                                          const std::vector<consensus::WorkerReport>& reports) {
  std::vector<engine::WorkerRow> rows(reports.size());
  for (int32_t w = 0; w < workers.size(); ++w) {
    const consensus::WorkerReport& r = reports[w];
    rows[w] = {.worker = std::string(workers.Name(w)), .excluded = r.excluded, .answers = r.answers,
               .accuracy = r.accuracy, .gold_answers = r.gold_answers,
               .gold_correct = r.gold_correct, .agreement = r.agreement,
               .spam_score = r.spam_score, .flagged = r.flagged};
  }
  return rows;
}

}  // namespace consensusd::service
