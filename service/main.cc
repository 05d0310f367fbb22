// The consensusd binary: one subcommand per *_command.cc (see commands.h).

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "service/commands.h"

namespace {

constexpr char kVersion[] = "consensusd 0.1.0";

// The name of the subcommand being parsed, for error messages.
std::string CommandName(const CLI::App& app) {
  std::string name;
  for (const CLI::App* sub : app.get_subcommands()) name = sub->get_name();
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace consensusd::service;
  CLI::App app{"consensusd: trustworthy labels and annotator quality from crowd answers "
               "(Dawid-Skene truth inference)",
               "consensusd"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);

  const std::vector<Command> commands = {
      AddServeCommand(app),
      AddDemoCommand(app),
      AddAggregateCommand(app),
      AddSynthCommand(app),
      AddProduceCommand(app),
      AddMockKafkaCommand(app),
      AddExportCommand(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    const std::string command = CommandName(app);
    if (command.empty()) {
      std::string message = e.what();
      if (argc == 1 || argv[1][0] != '-') {
        message = argc == 1 ? "a command is required: one of"
                            : "unknown command '" + std::string(argv[1]) + "': use one of";
        for (const Command& c : commands) message += " " + c.app->get_name();
      }
      std::fprintf(stderr, "consensusd: %s\nRun 'consensusd --help' for the commands.\n",
                   message.c_str());
      return kExitUsage;
    }
    return UsageError(command, e.what());
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return kExitUsage;
}
