#include "storage/rocksdb_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace consensusd::storage {
namespace {

using ::testing::HasSubstr;

TEST(RocksDbStatusTest, OkStaysOk) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "context").ok());
}

TEST(RocksDbStatusTest, MapsCodes) {
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NotFound()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::Corruption()).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::InvalidArgument()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError()).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NoSpace()).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::Busy()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::TimedOut()).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NotSupported()).code(), absl::StatusCode::kUnimplemented);
}

TEST(RocksDbStatusTest, MessageHasContextAndRocksDbText) {
  absl::Status s = FromRocksDb(rocksdb::Status::IOError("disk on fire"), "writing /data");
  EXPECT_THAT(s.message(), HasSubstr("writing /data: "));
  EXPECT_THAT(s.message(), HasSubstr("disk on fire"));
}

}  // namespace
}  // namespace consensusd::storage
