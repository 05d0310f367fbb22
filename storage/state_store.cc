#include "storage/state_store.h"

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "storage/key_codec.h"
#include "storage/rocksdb_status.h"

namespace consensusd::storage {
namespace {

constexpr char kMetaColumnFamily[] = "meta";
// Readahead for the full scans on start: large sequential reads of the SSTs.
constexpr size_t kBulkReadahead = 8 << 20;
// The meta column family holds a few keys per partition.
constexpr size_t kMetaWriteBuffer = 4 << 20;
// What a cleared StateBatch keeps of its buffer at most.
constexpr size_t kKeepCapacity = 4 << 20;
// An iterator over the mutable vector memtable copies and sorts all of it, for
// every scan: loading 64 partitions after a rebalance (4 scans each) sorted a
// 1M-entry memtable 256 times, 0.6 s per partition. Above this many entries a
// scan flushes first (one sort, and the scans then read sorted files).
constexpr uint64_t kScanFlushEntries = 8192;

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

rocksdb::CompressionType FastestCompression() {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  for (rocksdb::CompressionType type : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), type) != supported.end()) return type;
  }
  return rocksdb::kNoCompression;
}

rocksdb::DBOptions ToDbOptions(const StoreOptions& options) {
  rocksdb::DBOptions db;
  db.create_if_missing = options.create_if_missing;
  db.max_background_jobs = 2;
  db.keep_log_file_num = 10;
  // The vector memtable takes one writer at a time (commits come from one
  // consumer thread anyway).
  db.allow_concurrent_memtable_write = false;
  // Flushing the inputs flushes the offsets too; otherwise the small meta
  // column family would rarely flush and would pin every log file since its
  // last flush, all of which a restart after a crash replays.
  db.atomic_flush = true;
  return db;
}

rocksdb::ColumnFamilyOptions InputsOptions(const StoreOptions& options) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_mb << 20;
  cf.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  cf.level_compaction_dynamic_level_bytes = true;
  cf.compression = FastestCompression();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_mb << 20);
  table.block_size = 16 << 10;  // fewer, larger blocks: the main reads are full scans
  table.format_version = 5;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::ColumnFamilyOptions MetaOptions() {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = kMetaWriteBuffer;
  cf.compression = FastestCompression();
  return cf;
}

enum class ScanKind {
  kSmall,  // a few keys; let them use the block cache
  kBulk,   // a full load: read ahead, keep the block cache for others
};

// Calls on_record(key, value) for every key of the column family that starts
// with `prefix`, in key order, on one snapshot. on_record returns false if the
// record does not decode; the scan then stops with DataLoss.
template <typename OnRecord>
absl::Status ScanPrefix(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& dir,
                        std::string_view prefix, ScanKind kind, OnRecord&& on_record) {
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions read;
  if (!upper.empty()) read.iterate_upper_bound = &upper_slice;
  if (kind == ScanKind::kBulk) {
    read.fill_cache = false;
    read.readahead_size = kBulkReadahead;
  }
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read, cf));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    if (!on_record(ToView(it->key()), ToView(it->value()))) {
      return absl::DataLossError(
          absl::StrCat("state store at ", dir, " holds a malformed record, key \"",
                       absl::CHexEscape(ToAbsl(ToView(it->key()))),
                       "\"; restore it from a backup or rebuild it from the input topic"));
    }
  }
  return FromRocksDb(it->status(), absl::StrCat("reading the state store at ", dir));
}

absl::StatusOr<bool> IsEmpty(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                             const std::string& dir) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToFirst();
  if (!it->status().ok()) {
    return FromRocksDb(it->status(), absl::StrCat("reading the state store at ", dir));
  }
  return !it->Valid();
}

absl::Status NotAStateStore(const std::string& dir, std::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(
      "data directory ", dir, " holds a RocksDB database that is not a consensusd state store (",
      ToAbsl(why), "); point the data directory at an empty directory"));
}

absl::Status CheckPartitionArgument(int32_t partition) {
  if (partition < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition ", partition, " is negative; pass -1 for all partitions"));
  }
  return absl::OkStatus();
}

std::string ScanPrefixFor(RecordType type, int32_t partition) {
  return partition == -1 ? RecordPrefix(type) : PartitionPrefix(type, partition);
}

}  // namespace

// StateBatch ---------------------------------------------------------------

void StateBatch::PutAnswer(int32_t partition, std::string_view project, std::string_view task,
                           std::string_view worker, std::string_view label) {
  assert(partition >= 0);
  key_.clear();
  AppendAnswerKey(&key_,
                  {.partition = partition, .project = project, .task = task, .worker = worker});
  inputs_.Put(ToSlice(key_), ToSlice(label));
}

void StateBatch::DeleteAnswer(int32_t partition, std::string_view project, std::string_view task,
                              std::string_view worker) {
  assert(partition >= 0);
  key_.clear();
  AppendAnswerKey(&key_,
                  {.partition = partition, .project = project, .task = task, .worker = worker});
  inputs_.Delete(ToSlice(key_));
}

void StateBatch::PutRepeats(int32_t partition, std::string_view project, std::string_view task,
                            std::string_view worker, std::span<const std::string_view> labels) {
  assert(partition >= 0);
  key_.clear();
  AppendRepeatsKey(&key_,
                   {.partition = partition, .project = project, .task = task, .worker = worker});
  if (labels.empty()) {
    inputs_.Delete(ToSlice(key_));
    return;
  }
  value_.clear();
  for (std::string_view label : labels) PutLengthPrefixed(&value_, label);
  inputs_.Put(ToSlice(key_), ToSlice(value_));
}

void StateBatch::PutVote(int32_t partition, std::string_view project, std::string_view task,
                         std::string_view worker, const VoteValue& vote) {
  assert(partition >= 0);
  key_.clear();
  AppendVoteKey(&key_, {.partition = partition, .project = project, .task = task, .worker = worker});
  value_.clear();
  AppendVoteValue(&value_, vote);
  inputs_.Put(ToSlice(key_), ToSlice(value_));
}

void StateBatch::DeleteVote(int32_t partition, std::string_view project, std::string_view task,
                            std::string_view worker) {
  assert(partition >= 0);
  key_.clear();
  AppendVoteKey(&key_, {.partition = partition, .project = project, .task = task, .worker = worker});
  inputs_.Delete(ToSlice(key_));
}

void StateBatch::PutGold(int32_t partition, std::string_view project, std::string_view task,
                         std::string_view label) {
  assert(partition >= 0);
  key_.clear();
  AppendGoldKey(&key_, {.partition = partition, .project = project, .task = task});
  inputs_.Put(ToSlice(key_), ToSlice(label));
}

void StateBatch::PutPublished(int32_t partition, std::string_view project, std::string_view task,
                              const PublishedValue& value) {
  assert(partition >= 0);
  key_.clear();
  AppendPublishedKey(&key_, {.partition = partition, .project = project, .task = task});
  value_.clear();
  AppendPublishedValue(&value_, value);
  inputs_.Put(ToSlice(key_), ToSlice(value_));
}

void StateBatch::PutSnapshot(std::string_view project, std::string_view name, uint64_t fingerprint) {
  key_.clear();
  AppendSnapshotKey(&key_, {.project = project, .name = name});
  inputs_.Put(ToSlice(key_), ToSlice(EncodeOffsetValue(static_cast<int64_t>(fingerprint))));
}

void StateBatch::DeleteGold(int32_t partition, std::string_view project, std::string_view task) {
  assert(partition >= 0);
  key_.clear();
  AppendGoldKey(&key_, {.partition = partition, .project = project, .task = task});
  inputs_.Delete(ToSlice(key_));
}

void StateBatch::PutClass(std::string_view project, int32_t class_id, std::string_view name) {
  assert(class_id >= 0);
  key_.clear();
  AppendClassKey(&key_, {.project = project, .class_id = class_id});
  inputs_.Put(ToSlice(key_), ToSlice(name));
}

void StateBatch::SetExcluded(std::string_view project, std::string_view worker, bool excluded) {
  key_.clear();
  AppendExcludedKey(&key_, {.project = project, .worker = worker});
  if (excluded) {
    inputs_.Put(ToSlice(key_), rocksdb::Slice());
  } else {
    inputs_.Delete(ToSlice(key_));
  }
}

void StateBatch::SetOffset(std::string_view topic, int32_t partition, int64_t next_offset) {
  assert(partition >= 0);
  PendingOffset& pending = offsets_.emplace_back();
  AppendOffsetKey(&pending.key, {.topic = topic, .partition = partition});
  pending.next_offset = next_offset;
}

void StateBatch::Clear() {
  // A batch that once grew large (the confirmations of every task after a
  // backlog, about 16 bytes per task) gives its buffer back rather than
  // keeping it for the process's life; an ordinary batch keeps it.
  if (inputs_.Data().capacity() > kKeepCapacity) {
    inputs_ = rocksdb::WriteBatch();
  } else {
    inputs_.Clear();
  }
  offsets_.clear();
}

// StateStore ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir,
                                                             const StoreOptions& options) {
  std::unique_ptr<StateStore> store(new StateStore(dir, options));
  if (absl::Status s = store->OpenDatabase(); !s.ok()) return s;
  if (absl::Status s = store->CheckFormat(); !s.ok()) return s;
  return store;
}

StateStore::StateStore(std::string dir, const StoreOptions& options)
    : dir_(std::move(dir)), options_(options) {}

StateStore::~StateStore() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* cf : {inputs_, meta_}) {
    if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
  }
  // Everything committed is in the write-ahead log already; a failing close
  // loses nothing.
  db_->Close().PermitUncheckedError();
}

absl::Status StateStore::OpenDatabase() {
  const std::string context = absl::StrCat("opening the state store at ", dir_);
  const rocksdb::DBOptions db_options = ToDbOptions(options_);
  // Which column families exist decides what this directory is: nothing yet,
  // a store, or something else, which must not be changed.
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(dir_) / "CURRENT", ec)) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir_, &names);
    if (!s.ok()) return FromRocksDb(s, context);
  }
  const std::set<std::string> found(names.begin(), names.end());
  for (const std::string& name : found) {
    if (name != rocksdb::kDefaultColumnFamilyName && name != kMetaColumnFamily) {
      return NotAStateStore(dir_, absl::StrCat("unknown column family \"", name, "\""));
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, InputsOptions(options_)}};
  const bool has_meta = found.count(kMetaColumnFamily) > 0;
  if (has_meta) descriptors.push_back({kMetaColumnFamily, MetaOptions()});

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles, &raw);
  if (s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat("state store at ", dir_, " is in use by another process (", s.ToString(),
                     "); stop the consensusd that has it open, or use another data directory"));
  }
  if (!s.ok()) return FromRocksDb(s, context);
  db_.reset(raw);
  inputs_ = handles[0];
  if (has_meta) {
    meta_ = handles[1];
    return absl::OkStatus();
  }
  // A new store, or one whose creation stopped before the meta column family
  // existed; anything else with data in it is not ours.
  absl::StatusOr<bool> empty = IsEmpty(*db_, inputs_, dir_);
  if (!empty.ok()) return empty.status();
  if (!*empty) return NotAStateStore(dir_, "no format marker");
  return FromRocksDb(db_->CreateColumnFamily(MetaOptions(), kMetaColumnFamily, &meta_), context);
}

absl::Status StateStore::CheckFormat() {
  std::string found;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, FormatKey(), &found);
  if (s.ok()) {
    if (found == kFormatVersion) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("state store at ", dir_, " has format \"", absl::CHexEscape(found),
                     "\" but this consensusd reads \"", ToAbsl(kFormatVersion),
                     "\"; run the consensusd version that wrote it, or point the data directory "
                     "at an empty directory and rebuild the state from the input topic"));
  }
  if (!s.IsNotFound()) return FromRocksDb(s, absl::StrCat("reading the state store at ", dir_));
  for (rocksdb::ColumnFamilyHandle* cf : {inputs_, meta_}) {
    absl::StatusOr<bool> empty = IsEmpty(*db_, cf, dir_);
    if (!empty.ok()) return empty.status();
    if (!*empty) return NotAStateStore(dir_, "no format marker");
  }
  rocksdb::WriteOptions write;
  write.sync = true;
  return FromRocksDb(db_->Put(write, meta_, FormatKey(), ToSlice(kFormatVersion)),
                     absl::StrCat("initialising the state store at ", dir_));
}

absl::Status StateStore::Commit(StateBatch& batch) {
  if (batch.Empty()) return absl::OkStatus();
  if (commit_fault_) {
    if (absl::Status fault = commit_fault_(); !fault.ok()) return fault;
  }
  rocksdb::WriteBatch& write_batch = batch.inputs_;
  write_batch.SetSavePoint();
  for (const StateBatch::PendingOffset& offset : batch.offsets_) {
    write_batch.Put(meta_, ToSlice(offset.key), ToSlice(EncodeOffsetValue(offset.next_offset)));
  }
  rocksdb::WriteOptions write;
  write.sync = options_.sync_writes;
  absl::Status s = FromRocksDb(db_->Write(write, &write_batch),
                               absl::StrCat("committing to the state store at ", dir_));
  if (s.ok()) {
    batch.Clear();
  } else {
    write_batch.RollbackToSavePoint()
        .PermitUncheckedError();  // the offsets go back to offsets_ only
  }
  return s;
}

absl::StatusOr<std::optional<int64_t>> StateStore::Offset(std::string_view topic,
                                                          int32_t partition) const {
  std::string key;
  AppendOffsetKey(&key, {.topic = topic, .partition = partition});
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, key, &value);
  if (s.IsNotFound()) return std::optional<int64_t>();
  if (!s.ok()) {
    return FromRocksDb(s, absl::StrCat("reading an offset from the state store at ", dir_));
  }
  int64_t offset;
  if (!DecodeOffsetValue(value, &offset)) {
    return absl::DataLossError(absl::StrCat("state store at ", dir_,
                                            " holds a malformed offset for topic ", ToAbsl(topic),
                                            " partition ", partition));
  }
  return std::optional<int64_t>(offset);
}

absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> StateStore::Offsets(
    std::string_view topic) const {
  std::vector<std::pair<int32_t, int64_t>> offsets;
  absl::Status s =
      ScanPrefix(*db_, meta_, dir_, TopicOffsetPrefix(topic), ScanKind::kSmall,
                 [&](std::string_view key, std::string_view value) {
                   OffsetKey decoded;
                   int64_t offset;
                   if (!DecodeOffsetKey(key, &decoded) || !DecodeOffsetValue(value, &offset)) {
                     return false;
                   }
                   offsets.emplace_back(decoded.partition, offset);
                   return true;
                 });
  if (!s.ok()) return s;
  return offsets;
}

absl::Status StateStore::ForEachAnswer(int32_t partition,
                                       absl::FunctionRef<void(const StoredAnswer&)> fn) const {
  if (absl::Status s = CheckPartitionArgument(partition); !s.ok()) return s;
  FlushLargeMemtable();
  return ScanPrefix(*db_, inputs_, dir_, ScanPrefixFor(RecordType::kAnswer, partition),
                    ScanKind::kBulk, [&](std::string_view key, std::string_view value) {
                      AnswerKey k;
                      if (!DecodeAnswerKey(key, &k)) return false;
                      fn(StoredAnswer{.partition = k.partition,
                                      .project = k.project,
                                      .task = k.task,
                                      .worker = k.worker,
                                      .label = value});
                      return true;
                    });
}

absl::Status StateStore::ForEachRepeat(int32_t partition,
                                       absl::FunctionRef<void(const StoredAnswer&)> fn) const {
  if (absl::Status s = CheckPartitionArgument(partition); !s.ok()) return s;
  FlushLargeMemtable();
  return ScanPrefix(*db_, inputs_, dir_, ScanPrefixFor(RecordType::kRepeats, partition),
                    ScanKind::kBulk, [&](std::string_view key, std::string_view value) {
                      AnswerKey k;
                      if (!DecodeRepeatsKey(key, &k) || value.empty()) return false;
                      while (!value.empty()) {
                        std::string_view label;
                        if (!GetLengthPrefixed(&value, &label)) return false;
                        fn(StoredAnswer{.partition = k.partition,
                                        .project = k.project,
                                        .task = k.task,
                                        .worker = k.worker,
                                        .label = label});
                      }
                      return true;
                    });
}

absl::Status StateStore::ForEachPublished(
    int32_t partition, absl::FunctionRef<void(const StoredPublished&)> fn) const {
  if (absl::Status s = CheckPartitionArgument(partition); !s.ok()) return s;
  FlushLargeMemtable();
  return ScanPrefix(
      *db_, inputs_, dir_, ScanPrefixFor(RecordType::kPublished, partition), ScanKind::kBulk,
      [&](std::string_view key, std::string_view value) {
        PublishedKey k;
        PublishedValue v;
        if (!DecodePublishedKey(key, &k) || !DecodePublishedValue(value, &v)) return false;
        fn(StoredPublished{.partition = k.partition, .project = k.project, .task = k.task, .value = v});
        return true;
      });
}

absl::Status StateStore::ForEachVote(int32_t partition,
                                     absl::FunctionRef<void(const StoredVote&)> fn) const {
  if (absl::Status s = CheckPartitionArgument(partition); !s.ok()) return s;
  return ScanPrefix(*db_, inputs_, dir_, ScanPrefixFor(RecordType::kVote, partition),
                    ScanKind::kBulk, [&](std::string_view key, std::string_view value) {
                      AnswerKey k;
                      VoteValue v;
                      if (!DecodeVoteKey(key, &k) || !DecodeVoteValue(value, &v)) return false;
                      fn(StoredVote{.partition = k.partition,
                                    .project = k.project,
                                    .task = k.task,
                                    .worker = k.worker,
                                    .vote = v});
                      return true;
                    });
}

absl::Status StateStore::ForEachGold(int32_t partition,
                                     absl::FunctionRef<void(const StoredGold&)> fn) const {
  if (absl::Status s = CheckPartitionArgument(partition); !s.ok()) return s;
  FlushLargeMemtable();
  return ScanPrefix(
      *db_, inputs_, dir_, ScanPrefixFor(RecordType::kGold, partition), ScanKind::kBulk,
      [&](std::string_view key, std::string_view value) {
        GoldKey k;
        if (!DecodeGoldKey(key, &k)) return false;
        fn(StoredGold{
            .partition = k.partition, .project = k.project, .task = k.task, .label = value});
        return true;
      });
}

absl::Status StateStore::ForEachClass(
    absl::FunctionRef<void(std::string_view project, int32_t class_id, std::string_view name)> fn)
    const {
  return ScanPrefix(*db_, inputs_, dir_, RecordPrefix(RecordType::kClass), ScanKind::kSmall,
                    [&](std::string_view key, std::string_view value) {
                      ClassKey k;
                      if (!DecodeClassKey(key, &k)) return false;
                      fn(k.project, k.class_id, value);
                      return true;
                    });
}

absl::Status StateStore::ForEachExcluded(
    absl::FunctionRef<void(std::string_view project, std::string_view worker)> fn) const {
  return ScanPrefix(*db_, inputs_, dir_, RecordPrefix(RecordType::kExcluded), ScanKind::kSmall,
                    [&](std::string_view key, std::string_view) {
                      ExcludedKey k;
                      if (!DecodeExcludedKey(key, &k)) return false;
                      fn(k.project, k.worker);
                      return true;
                    });
}

absl::Status StateStore::ForEachSnapshot(
    absl::FunctionRef<void(std::string_view project, std::string_view name, uint64_t fingerprint)> fn)
    const {
  return ScanPrefix(*db_, inputs_, dir_, RecordPrefix(RecordType::kSnapshot), ScanKind::kSmall,
                    [&](std::string_view key, std::string_view value) {
                      SnapshotKey k;
                      int64_t fingerprint;
                      if (!DecodeSnapshotKey(key, &k) || !DecodeOffsetValue(value, &fingerprint)) return false;
                      fn(k.project, k.name, static_cast<uint64_t>(fingerprint));
                      return true;
                    });
}

uint64_t StateStore::ApproximateBytes() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : {inputs_, meta_}) {
    uint64_t sst = 0, memtables = 0;
    db_->GetIntProperty(cf, rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
    db_->GetIntProperty(cf, rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    total += sst + memtables;
  }
  return total;
}

void StateStore::FlushLargeMemtable() const {
  uint64_t entries = 0;
  if (!db_->GetIntProperty(inputs_, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &entries) ||
      entries <= kScanFlushEntries) {
    return;
  }
  // A failed flush (a full disk) leaves the memtable as it was: the scan is
  // then slower, not wrong, and the next commit reports the disk.
  db_->Flush(rocksdb::FlushOptions(), {inputs_, meta_}).PermitUncheckedError();
}

bool StateStore::FlushIfIdle() {
  const uint64_t sequence = db_->GetLatestSequenceNumber();
  const bool idle = sequence == idle_check_sequence_;
  idle_check_sequence_ = sequence;
  if (!idle) return false;
  uint64_t memtables = 0;
  for (rocksdb::ColumnFamilyHandle* cf : {inputs_, meta_}) {
    uint64_t entries = 0;
    if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &entries)) {
      memtables += entries;
    }
  }
  if (memtables == 0) return false;
  rocksdb::FlushOptions flush;
  flush.wait = false;
  // A failed flush (a full disk) leaves the memtables as they were; the next
  // commit reports the disk.
  db_->Flush(flush, {inputs_, meta_}).PermitUncheckedError();
  return true;
}

absl::Status StateStore::Flush() {
  return FromRocksDb(db_->Flush(rocksdb::FlushOptions(), {inputs_, meta_}),
                     absl::StrCat("flushing the state store at ", dir_));
}

}  // namespace consensusd::storage
