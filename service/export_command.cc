// consensusd export: consensus labels (or worker reports) from a stopped
// instance's state, to standard output or --out FILE.

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "service/commands.h"
#include "service/config_flags.h"
#include "service/config_load.h"
#include "service/csv.h"
#include "service/progress.h"
#include "service/result_csv.h"
#include "service/service.h"
#include "storage/state_store.h"

namespace consensusd::service {
namespace {

struct ExportFlags {
  std::string config_path;  // the instance's config: model settings must match serve's
  std::string data_dir;
  std::vector<std::string> sets;  // KEY=VALUE
  std::string project;
  std::string format = "csv";
  std::string out;
  bool workers = false;
  bool posteriors = false;
};

// Writes the project's labels in `format`, chunk by chunk, to `path`.
absl::Status WriteLabels(const engine::Engine& engine, const std::string& project,
                         const engine::ExportFormat& format, const std::string& path) {
  absl::StatusOr<CsvWriter> out = CsvWriter::Create(path);
  if (!out.ok()) return out.status();
  for (int32_t next = 0; next >= 0; out->EndRaw()) {
    absl::StatusOr<int32_t> n = engine.ExportChunk(project, format, next, 65536, &out->raw());
    if (!n.ok()) return n.status();
    next = *n;
  }
  return out->Close();
}

int RunExport(const ExportFlags& flags) {
  // export needs no brokers; the config's requirement is satisfied with a placeholder.
  std::vector<std::pair<std::string, std::string>> overrides = {{"kafka.brokers", "unused:9092"},
                                                                {"state.data_dir", flags.data_dir}};
  for (const std::string& set : flags.sets) {
    absl::StatusOr<std::pair<std::string, std::string>> kv = ParseAssignment(set);
    if (!kv.ok()) return UsageError("export", "--set " + std::string(kv.status().message()));
    overrides.push_back(*kv);
  }
  absl::StatusOr<Config> config = LoadConfig(flags.config_path, ConsensusdEnvironment(), overrides);
  if (!config.ok()) return UsageError("export", config.status().message());
  // A mistyped directory is reported as such, and nothing is created.
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(config->state.data_dir) / "CURRENT", ec)) {
    return Failure("export", absl::StrCat("no consensusd state in ", config->state.data_dir,
                                          ": check --data-dir (state.data_dir of the instance)"));
  }
  storage::StoreOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::StateStore>> store =
      storage::StateStore::Open(config->state.data_dir, options);
  if (!store.ok()) {
    // RocksDB's lock file: held by a running instance.
    const bool locked = absl::StrContains(store.status().message(), "lock");
    return Failure("export", absl::StrCat(store.status().message(),
                                          locked ? " (is an instance still running on it? stop it first)"
                                                 : ""));
  }
  const Config& c = *config;
  std::unique_ptr<engine::Engine> engine = NewEngine(c, **store, nullptr);
  ProgressLine progress;
  progress.Show("restoring state");
  absl::Status s = engine->Restore([&](int64_t n) {
    progress.Show(absl::StrCat("restoring state: ", n, " answers"));
  });
  if (!s.ok()) return Failure("export", s);
  std::vector<engine::ProjectSummary> all = engine->Projects();
  std::string project = flags.project;
  if (!project.empty()) {
    if (!engine->ProjectDetail(project)) {
      return Failure("export", absl::StrCat("no project '", project, "' in the state"));
    }
  } else if (all.size() == 1) {
    project = all[0].project;
  } else if (all.empty()) {
    return Failure("export", absl::StrCat("the state in ", c.state.data_dir, " holds no answers"));
  } else {
    std::string names;
    for (const engine::ProjectSummary& p : all) names += " " + p.project;
    return UsageError("export", absl::StrCat("the state holds several projects: pass --project, one of", names));
  }
  progress.Clear();
  const std::string path = flags.out.empty() ? "/dev/stdout" : flags.out;
  if (flags.workers) {
    absl::StatusOr<std::vector<engine::WorkerRow>> rows = engine->AllWorkers(project);
    s = rows.ok() ? WriteWorkersCsv(*rows, path) : rows.status();
  } else {
    engine::ExportFormat format;
    format.jsonl = flags.format == "jsonl";
    format.posteriors = flags.posteriors;
    s = WriteLabels(*engine, project, format, path);
  }
  if (!s.ok()) return Failure("export", s);
  return kExitOk;
}

}  // namespace

Command AddExportCommand(CLI::App& parent) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* app = parent.add_subcommand(
      "export",
      "Export consensus labels (or --workers) from a stopped instance's state directory. "
      "Runs a full EM sweep over the stored answers first, with the model settings of "
      "--config/--set (use the same as serve).");
  app->add_option("--data-dir", flags->data_dir, "state directory of the instance")->required();
  app->add_option("--config", flags->config_path, "the instance's YAML config (model settings)");
  app->add_option("--set", flags->sets, "config KEY=VALUE (repeatable)");
  app->add_option("--project", flags->project, "project to export (required when the state has several)");
  app->add_option("--format", flags->format, "csv or jsonl")->check(CLI::IsMember({"csv", "jsonl"}));
  app->add_flag("--workers", flags->workers, "export worker reports (CSV) instead of labels");
  app->add_flag("--posteriors", flags->posteriors, "add one p:<class> column per class (CSV)");
  app->add_option("--out", flags->out, "output file (default: standard output)");
  return {app, [flags]() -> int { return RunExport(*flags); }};
}

}  // namespace consensusd::service
