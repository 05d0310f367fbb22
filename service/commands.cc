#include "service/commands.h"

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace consensusd::service {

CLI::Validator NonNegativeNumber() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        double x;
        if (absl::SimpleAtod(value, &x) && x >= 0) return "";
        return absl::StrCat("expects a number >= 0, got '", value, "'");
      },
      "NONNEGATIVE");
}

CLI::Validator PositiveInteger() {
  return IntegerInRange(1, INT32_MAX).description("POSITIVE");
}

CLI::Validator IntegerInRange(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        int64_t x;
        if (absl::SimpleAtoi(value, &x) && x >= min && x <= max) return "";
        return absl::StrCat("expects a whole number from ", min, " to ", max, ", got '", value,
                            "'");
      },
      absl::StrCat("[", min, " - ", max, "]"));
}

int UsageError(std::string_view command, absl::string_view message) {
  std::fprintf(stderr, "consensusd %.*s: %.*s\nRun 'consensusd %.*s --help' for the options.\n",
               static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data(),
               static_cast<int>(command.size()), command.data());
  return kExitUsage;
}

int Failure(std::string_view command, absl::string_view message) {
  std::fprintf(stderr, "consensusd %.*s: %.*s\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
  return kExitFailure;
}

int Failure(std::string_view command, const absl::Status& status) {
  return Failure(command, status.message());
}

}  // namespace consensusd::service
