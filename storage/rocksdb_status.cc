#include "storage/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace consensusd::storage {
namespace {

absl::StatusCode CodeOf(const rocksdb::Status& status) {
  using R = rocksdb::Status;
  switch (status.code()) {
    case R::kOk:
      return absl::StatusCode::kOk;
    case R::kNotFound:
      return absl::StatusCode::kNotFound;
    case R::kCorruption:
      return absl::StatusCode::kDataLoss;
    case R::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case R::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case R::kIOError:
      if (status.subcode() == R::kNoSpace || status.subcode() == R::kSpaceLimit) {
        return absl::StatusCode::kResourceExhausted;
      }
      return absl::StatusCode::kInternal;
    case R::kIncomplete:
    case R::kMergeInProgress:
      return absl::StatusCode::kInternal;
    case R::kShutdownInProgress:
    case R::kBusy:
    case R::kTryAgain:
      return absl::StatusCode::kUnavailable;
    case R::kTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case R::kAborted:
      if (status.subcode() == R::kMemoryLimit) return absl::StatusCode::kResourceExhausted;
      return absl::StatusCode::kAborted;
    case R::kExpired:
    case R::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    case R::kCompactionTooLarge:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = status.ToString();
  if (context.empty()) return absl::Status(CodeOf(status), message);
  return absl::Status(
      CodeOf(status),
      absl::StrCat(absl::string_view(context.data(), context.size()), ": ", message));
}

}  // namespace consensusd::storage
