// The one adapter from rocksdb::Status to absl::Status. Every RocksDB call in
// storage/ goes through it, so callers outside the module see only absl codes.
//
//   rocksdb::Status s = db->Write(options, &batch);
//   if (!s.ok()) return FromRocksDb(s, "committing to the state store at " + dir);
#ifndef CONSENSUSD_STORAGE_ROCKSDB_STATUS_H_
#define CONSENSUSD_STORAGE_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace consensusd::storage {

// Maps the RocksDB code (and subcode where it matters: out of space, lock
// timeouts) to the closest absl code. The message is "<context>: <RocksDB's
// message>", or RocksDB's message alone if context is empty. OK maps to OK.
absl::Status FromRocksDb(const rocksdb::Status& status, std::string_view context = {});

}  // namespace consensusd::storage

#endif  // CONSENSUSD_STORAGE_ROCKSDB_STATUS_H_
