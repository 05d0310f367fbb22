// StateStore: consensusd's durable state in RocksDB. It holds the inputs of
// the consensus model (answers, gold, class order, exclusions) and the
// consumer's offsets; the derived state (posteriors, worker statistics) is not
// stored but rebuilt on start by loading the inputs and running a full sweep.
// It also holds what the consensus topic confirmed per task, so that a
// restart publishes only changes.
//
//   auto store = StateStore::Open("/var/lib/consensusd", StoreOptions{});
//   StateBatch batch;
//   batch.PutAnswer(3, "sentiment-v2", "t-10442", "ann-17", "positive");
//   batch.SetOffset("labels.raw", 3, 1043);
//   absl::Status s = (*store)->Commit(batch);  // answers and offset, all or nothing
//
// How it works: one key per stored fact (storage/key_codec.h has the layout).
// Answers, gold and published records are keyed by input partition first, so
// one partition's records are one key range (loaded when a partition is
// assigned). A
// StateBatch becomes one rocksdb::WriteBatch, written with one DB::Write, so
// after a crash (kill -9 at any moment) either all of a batch is visible or
// none of it: the stored offsets always match the stored state. Without
// sync_writes a committed batch survives a process crash (its write-ahead log
// record is in the OS) but not a power loss.
//
// Two column families share the write-ahead log (so a batch spanning both is
// still atomic): the default one holds the model's inputs in a vector
// memtable, where a write is an append (about 8x cheaper than a skiplist
// insert; commits are the hot path), and "meta" holds the format marker and
// the offsets in a skiplist memtable, so Offset() stays cheap. The price:
// every ForEach* scan first sorts a copy of the unflushed inputs (about 0.5 s
// of CPU when the 64 MB memtable is full, even for the few class records).
// Scans at start cost nothing extra, since opening flushes the recovered
// memtable; while consuming, scan rarely (not per message or per request).
//
// Thread safety: StateStore may be used from several threads at once
// (RocksDB serialises writes). A StateBatch is not thread-safe.
#ifndef CONSENSUSD_STORAGE_STATE_STORE_H_
#define CONSENSUSD_STORAGE_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/key_codec.h"

namespace consensusd::storage {

struct StoreOptions {
  bool create_if_missing = true;
  size_t write_buffer_mb = 64;  // per memtable
  size_t block_cache_mb = 64;
  // fsync every commit. kill -9 safety needs only the write-ahead log, which
  // every commit writes; sync also survives power loss, at a large cost.
  bool sync_writes = false;
};

// Changes that commit atomically (StateStore::Commit). Ids and labels may hold
// any bytes. REQUIRES for every call: partition >= 0, class_id >= 0.
// Changes apply in the order they were made.
class StateBatch {
 public:
  // A later answer of the same worker for the same task replaces the earlier one.
  void PutAnswer(int32_t partition, std::string_view project, std::string_view task,
                 std::string_view worker, std::string_view label);
  void DeleteAnswer(int32_t partition, std::string_view project, std::string_view task,
                    std::string_view worker);
  // Repeats (a project's `repeats: count`): the worker's second and later
  // labels for the task, in order, all of them (the answer record holds the
  // first). An empty list deletes the record.
  void PutRepeats(int32_t partition, std::string_view project, std::string_view task,
                  std::string_view worker, std::span<const std::string_view> labels);
  // A pairwise or rating answer (SPEC 3.1a); a later vote of the same
  // worker for the same task replaces the earlier one.
  void PutVote(int32_t partition, std::string_view project, std::string_view task,
               std::string_view worker, const VoteValue& vote);
  void DeleteVote(int32_t partition, std::string_view project, std::string_view task,
                  std::string_view worker);
  void PutGold(int32_t partition, std::string_view project, std::string_view task,
               std::string_view label);
  void DeleteGold(int32_t partition, std::string_view project, std::string_view task);
  // Class order is first-seen order; ids are dense from 0 within a project.
  void PutClass(std::string_view project, int32_t class_id, std::string_view name);
  void SetExcluded(std::string_view project, std::string_view worker, bool excluded);
  // What the consensus topic confirmed for the task.
  void PutPublished(int32_t partition, std::string_view project, std::string_view task,
                    const PublishedValue& value);
  // What the consensus topic confirmed of a project-wide record (e.g.
  // "leaderboard"): a fingerprint of its content.
  void PutSnapshot(std::string_view project, std::string_view name, uint64_t fingerprint);
  // The next offset to consume from (topic, partition).
  void SetOffset(std::string_view topic, int32_t partition, int64_t next_offset);

  // Number of changes in the batch.
  size_t Count() const { return inputs_.Count() + offsets_.size(); }
  bool Empty() const { return Count() == 0; }
  // Approximate bytes the batch will write (for sizing batches).
  size_t ByteSize() const { return inputs_.GetDataSize() + offsets_.size() * 32; }
  void Clear();

 private:
  friend class StateStore;

  struct PendingOffset {
    std::string key;  // encoded offset key
    int64_t next_offset;
  };

  // The inputs' changes, for the default column family.
  rocksdb::WriteBatch inputs_;
  // The offsets, added to inputs_ for the "meta" column family at commit
  // (a WriteBatch needs the column family's handle, which only the store has).
  std::vector<PendingOffset> offsets_;
  std::string key_;    // scratch for encoding, reused so a Put allocates nothing
  std::string value_;  // scratch for encoded values
};

// One stored answer or gold label. The views are valid only during the
// callback that receives them.
struct StoredAnswer {
  int32_t partition;
  std::string_view project, task, worker, label;
};
struct StoredGold {
  int32_t partition;
  std::string_view project, task, label;
};
struct StoredVote {
  int32_t partition;
  std::string_view project, task, worker;
  VoteValue vote;
};
struct StoredPublished {
  int32_t partition;
  std::string_view project, task;
  PublishedValue value;
};

class StateStore {
 public:
  // Opens (or, with create_if_missing, creates) the store in `dir`. Fails,
  // naming `dir`, with FailedPrecondition if it holds a database of another
  // format or one that is not a consensusd state store, and with Unavailable
  // if another process has it open.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& dir,
                                                          const StoreOptions& options);

  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;
  ~StateStore();

  // Writes the batch as one atomic write and clears it. On error nothing of
  // the batch is stored and the batch is left as it was.
  absl::Status Commit(StateBatch& batch);

  // The stored next offset of (topic, partition), or nullopt if none.
  absl::StatusOr<std::optional<int64_t>> Offset(std::string_view topic, int32_t partition) const;
  // Every stored (partition, next offset) of the topic, by partition.
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> Offsets(std::string_view topic) const;

  // Scans in key order: by partition, then project, task, worker (ordered by
  // the encoding, which is not the bytewise order of the ids). partition = -1
  // scans all partitions. Each scan reads one consistent snapshot; two scans
  // may see different snapshots if commits run in between.
  absl::Status ForEachAnswer(int32_t partition,
                             absl::FunctionRef<void(const StoredAnswer&)> fn) const;
  // The repeats records, one call per stored label (in the order given).
  absl::Status ForEachRepeat(int32_t partition,
                             absl::FunctionRef<void(const StoredAnswer&)> fn) const;
  absl::Status ForEachGold(int32_t partition, absl::FunctionRef<void(const StoredGold&)> fn) const;
  // The pairwise and rating answers, in the answers' key order.
  absl::Status ForEachVote(int32_t partition, absl::FunctionRef<void(const StoredVote&)> fn) const;
  absl::Status ForEachPublished(int32_t partition,
                                absl::FunctionRef<void(const StoredPublished&)> fn) const;
  // Per project, in class_id order.
  absl::Status ForEachClass(
      absl::FunctionRef<void(std::string_view project, int32_t class_id, std::string_view name)> fn)
      const;
  absl::Status ForEachExcluded(
      absl::FunctionRef<void(std::string_view project, std::string_view worker)> fn) const;
  // The snapshot records (StateBatch::PutSnapshot), by project then name.
  absl::Status ForEachSnapshot(
      absl::FunctionRef<void(std::string_view project, std::string_view name, uint64_t fingerprint)> fn)
      const;

  // Fault injection for tests: while set, Commit() first calls `fault` and,
  // when it returns an error, fails with it and stores nothing.
  void SetCommitFaultForTesting(std::function<absl::Status()> fault) {
    commit_fault_ = std::move(fault);
  }

  // Live SST files plus memtables, in bytes (the consensusd_state_bytes gauge).
  uint64_t ApproximateBytes() const;
  // Writes the memtables to SST files and waits for it.
  absl::Status Flush();
  // Starts writing the memtables to SST files (without waiting) if they hold
  // anything and nothing was written since the previous call; returns whether
  // it did. Called periodically, an idle service gives the memtables' memory
  // back (up to state.write_buffer_mb per column family, twice while one
  // flushes) and a restart has no log to replay. One caller at a time.
  bool FlushIfIdle();

  const std::string& dir() const { return dir_; }

 private:
  StateStore(std::string dir, const StoreOptions& options);
  // Opens or creates the database and its column families.
  absl::Status OpenDatabase();
  // Checks the format marker, or writes it into a new, empty store.
  absl::Status CheckFormat();
  // Called before a partition's bulk scans: flushes the inputs if their
  // mutable memtable holds many entries (see kScanFlushEntries).
  void FlushLargeMemtable() const;

  const std::string dir_;
  const StoreOptions options_;
  uint64_t idle_check_sequence_ = 0;  // FlushIfIdle's last look at the sequence number
  std::unique_ptr<rocksdb::DB> db_;
  // Column family handles, destroyed before db_ is closed.
  rocksdb::ColumnFamilyHandle* inputs_ = nullptr;  // the default column family
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  std::function<absl::Status()> commit_fault_;  // tests only; set before concurrent use
};

}  // namespace consensusd::storage

#endif  // CONSENSUSD_STORAGE_STATE_STORE_H_
