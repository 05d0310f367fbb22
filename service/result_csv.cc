#include "service/result_csv.h"

#include "absl/strings/str_cat.h"
#include "service/csv.h"

namespace consensusd::service {

absl::Status WriteLabelsCsv(const consensus::IdTable& tasks, const consensus::IdTable& classes,
                            const consensus::Model& model, bool posteriors,
                            const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  out->AddField("task");
  out->AddField("label");
  out->AddField("confidence");
  if (posteriors) {
    for (const std::string& name : classes.names()) out->AddField(absl::StrCat("p:", name));
  }
  out->EndRow();
  for (int32_t t = 0; t < tasks.size(); ++t) {
    const std::span<const double> p = model.Posterior(t);
    const int32_t label = model.label[t];
    out->AddField(tasks.Name(t));
    out->AddField(classes.Name(label));
    out->AddNumber(p[label]);
    if (posteriors) {
      for (double pk : p) out->AddNumber(pk);
    }
    out->EndRow();
  }
  return out->Close();
}

absl::Status WriteWorkersCsv(const consensus::IdTable& workers,
                             const std::vector<consensus::WorkerReport>& reports,
                             const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  for (const char* column : {"worker", "answers", "accuracy", "gold_answers", "gold_accuracy",
                             "agreement", "spam_score", "flagged"}) {
    out->AddField(column);
  }
  out->EndRow();
  for (int32_t w = 0; w < workers.size(); ++w) {
    const consensus::WorkerReport& r = reports[w];
    out->AddField(workers.Name(w));
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

}  // namespace consensusd::service
