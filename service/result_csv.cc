#include "service/result_csv.h"

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "service/csv.h"

namespace consensusd::service {

absl::Status WriteLabelsCsv(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                            const consensus::Model& model, bool posteriors,
                            const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  engine::AppendLabelsHeader(classes.names(), posteriors, out->raw());
  for (int32_t t = 0; t < tasks.size(); ++t) {
    const std::span<const double> p = model.Posterior(t);
    const int32_t label = model.label[t];
    engine::AppendLabelsRow(tasks.Name(t), classes.Name(label), p[label], p, posteriors, out->raw());
    out->EndRaw();
  }
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
