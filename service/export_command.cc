// consensusd export: consensus labels (or worker reports) from a stopped
// instance's state, to standard output or --out FILE.

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "consensus/report.h"
#include "consumer/consensus_record.h"
#include "consumer/project_set.h"
#include "consumer/state_restore.h"
#include "consumer/sweeper.h"
#include "service/commands.h"
#include "service/progress.h"
#include "service/result_csv.h"
#include "service/service.h"
#include "service/config_flags.h"
#include "service/config_load.h"
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

absl::Status WriteJsonl(const consumer::Project& project, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::NotFoundError(absl::StrCat("cannot write ", path));
  std::string line;
  const int64_t now = consumer::NowMs();
  for (int32_t t = 0; t < project.model.num_tasks(); ++t) {
    if (project.model.Answers(t).empty() && project.model.Gold(t) == consensus::kNoGold) continue;
    line.clear();
    consumer::AppendConsensusJson(project.name, project.model, t, now, line);
    line.push_back('\n');
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("writing ", path, " failed"));
  return absl::OkStatus();
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
  storage::StoreOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::StateStore>> store =
      storage::StateStore::Open(config->state.data_dir, options);
  if (!store.ok()) {
    return Failure("export", absl::StrCat(store.status().message(),
                                          " (is an instance still running on it? stop it first)"));
  }
  const Config& c = *config;
  consumer::ProjectSet projects([&c](std::string_view name) { return ProjectSettingsOf(c, name); });
  ProgressLine progress;
  progress.Show("restoring state");
  consumer::RestoreStats stats;
  absl::Status s = consumer::RestoreState(**store, projects, &stats, [&](int64_t n) {
    progress.Show(absl::StrCat("restoring state: ", n, " answers"));
  });
  if (!s.ok()) return Failure("export", s);
  std::vector<consumer::Project*> all = projects.List();
  consumer::Project* project = nullptr;
  if (!flags.project.empty()) {
    project = projects.Find(flags.project);
    if (project == nullptr) return Failure("export", absl::StrCat("no project '", flags.project, "' in the state"));
  } else if (all.size() == 1) {
    project = all[0];
  } else if (all.empty()) {
    return Failure("export", absl::StrCat("the state in ", c.state.data_dir, " holds no answers"));
  } else {
    std::string names;
    for (consumer::Project* p : all) names += " " + p->name;
    return UsageError("export", absl::StrCat("the state holds several projects: pass --project, one of", names));
  }
  progress.Show(absl::StrCat("fitting ", project->name));
  consumer::Sweeper sweeper(projects, nullptr, nullptr, consumer::SweeperOptions{});
  s = sweeper.SweepProject(*project, /*force=*/true);
  if (!s.ok()) return Failure("export", s);
  progress.Clear();
  const std::string path = flags.out.empty() ? "/dev/stdout" : flags.out;
  const consensus::Model model = project->model.ToModel();
  if (flags.workers) {
    const consensus::AnswerMatrix answers = project->model.Snapshot();
    std::vector<bool> excluded(answers.num_workers);
    for (int32_t w = 0; w < answers.num_workers; ++w) excluded[w] = project->model.Excluded(w);
    s = WriteWorkersCsv(project->model.workers(),
                        consensus::ReportWorkers(answers, model, project->settings.quality, excluded), path);
  } else if (flags.format == "jsonl") {
    s = WriteJsonl(*project, path);
  } else {
    s = WriteLabelsCsv(project->model.tasks(), project->model.classes(), model, flags.posteriors, path);
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
