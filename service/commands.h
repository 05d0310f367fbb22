// The subcommands of the `consensusd` binary. Each lives in its own
// <name>_command.cc with one Add<Name>Command function, and main.cc lists it in
// one line: adding a subcommand is one new file and one registration line.
//
//   CLI::App app{"..."};
//   std::vector<Command> commands = {AddAggregateCommand(app), AddSynthCommand(app)};
//   app.parse(argc, argv);  // then run the command whose app->parsed()
#ifndef CONSENSUSD_SERVICE_COMMANDS_H_
#define CONSENSUSD_SERVICE_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace consensusd::service {

// Exit codes of every subcommand (SPEC 5.1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // runtime failure: unreadable file, bad input, ...
inline constexpr int kExitUsage = 2;    // bad usage or config

// A registered subcommand. Its flags live in state captured by `run`.
struct Command {
  CLI::App* app = nullptr;   // the subcommand, owned by the parent app
  std::function<int()> run;  // runs it after a successful parse; returns the exit code
};

// Subcommand registrations, one per *_command.cc.
Command AddAggregateCommand(CLI::App& parent);
Command AddSynthCommand(CLI::App& parent);
Command AddServeCommand(CLI::App& parent);
Command AddMockKafkaCommand(CLI::App& parent);
Command AddProduceCommand(CLI::App& parent);
Command AddExportCommand(CLI::App& parent);
Command AddDemoCommand(CLI::App& parent);

// Flag checks whose messages name the expected value: "--prior: expects a
// number >= 0, got '-1'".
CLI::Validator NonNegativeNumber();
CLI::Validator PositiveInteger();
CLI::Validator IntegerInRange(int64_t min, int64_t max);

// Print "consensusd <command>: <message>" to stderr and return the exit code.
// A usage error also points to `consensusd <command> --help`. The message is an
// absl::string_view so that Status::message() (Debian's Abseil has its own
// string_view type), std::string and string literals all convert to it.
int UsageError(std::string_view command, absl::string_view message);
int Failure(std::string_view command, absl::string_view message);
int Failure(std::string_view command, const absl::Status& status);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_COMMANDS_H_
