// consensusd serve: the service (SPEC 5.1, 5.6, 6).

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/commands.h"
#include "service/config_flags.h"
#include "service/config_load.h"
#include "service/kafka_topics.h"
#include "service/service.h"
#include "spdlog/spdlog.h"

namespace consensusd::service {
namespace {

// How often the main thread hands free heap memory back to the system.
constexpr auto kTrimInterval = std::chrono::seconds(10);

// glibc's allocator, left to itself, holds on to what a long-running service
// frees: each thread allocates from its own arena (librdkafka's and RocksDB's
// threads included) and an arena gives memory back only from its top; and
// once a large block was freed, blocks up to 32 MiB come from the arenas
// rather than from their own mappings. After 2M answers, `serve` held about
// 800 MiB of which about 300 were free (docs/benchmarks.md, memory). So: fewer
// arenas, a fixed mapping threshold (large blocks always get their own
// mapping, and unmapping returns them), and a periodic malloc_trim, which
// releases the free pages inside every arena.
void TuneAllocator() {
  mallopt(M_ARENA_MAX, 4);
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

// Runs the service until SIGINT/SIGTERM or a fatal error; bounded shutdown.
int RunService(const Config& config, std::string_view command, bool replay_from_start) {
  BlockStopSignals();
  TuneAllocator();
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Start(config, replay_from_start);
  if (!service.ok()) return Failure(command, service.status());
  spdlog::info("serving: consuming {} from {}; http://{}/", config.kafka.labels_topic,
               config.kafka.brokers, (*service)->http_address());
  auto next_trim = std::chrono::steady_clock::now() + kTrimInterval;
  while (!(*service)->stop_requested()) {
    if (WaitForStopSignal(200) != 0) {
      spdlog::info("stopping: committing state and flushing outputs");
      (*service)->RequestStop();
    }
    if (const auto now = std::chrono::steady_clock::now(); now >= next_trim) {
      // Memtables untouched for a whole interval go to disk first, so that
      // the trim gets their memory back too.
      (*service)->FlushStateIfIdle();
      malloc_trim(0);
      next_trim = now + kTrimInterval;
    }
  }
  // A shutdown that hangs (e.g. brokers gone while leaving the group) must not
  // hang the process: this thread gives it a bounded time.
  std::promise<absl::Status> stopped;
  std::future<absl::Status> result = stopped.get_future();
  std::thread waiter([&] { stopped.set_value((*service)->Wait()); });
  if (result.wait_for(std::chrono::seconds(30)) == std::future_status::timeout) {
    spdlog::error("shutdown took longer than 30s; exiting");
    std::fflush(nullptr);
    _exit(kExitFailure);
  }
  waiter.join();
  absl::Status status = result.get();
  service->reset();
  if (!status.ok()) return Failure(command, status);
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

Command AddServeCommand(CLI::App& parent) {
  struct Flags {
    ConfigFlags config;
    std::string log_level;
    bool replay = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* app = parent.add_subcommand(
      "serve",
      "Run the service: consume answers from Kafka, aggregate, persist in RocksDB, publish "
      "consensus to Kafka and serve HTTP. Settings: --config FILE, CONSENSUSD_* env, flags.");
  AddConfigFlags(*app, &flags->config);
  app->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error");
  app->add_flag("--replay", flags->replay,
                "consume every partition from its beginning, ignoring stored offsets "
                "(answers already applied change nothing)");
  return {app, [flags]() -> int {
            if (!flags->log_level.empty()) spdlog::set_level(spdlog::level::from_str(flags->log_level));
            std::vector<std::string> warnings;
            absl::StatusOr<Config> config = LoadConfig(flags->config, ConsensusdEnvironment(), &warnings);
            for (const std::string& w : warnings) spdlog::warn("{}", w);
            if (!config.ok()) return UsageError("serve", config.status().message());
            if (flags->config.print_config) {
              std::fputs(ConfigToYaml(*config).c_str(), stdout);
              return kExitOk;
            }
            return RunService(*config, "serve", flags->replay);
          }};
}

}  // namespace consensusd::service
