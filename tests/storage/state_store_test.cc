#include "storage/state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "storage/key_codec.h"
#include "tests/service/temp_dir.h"

namespace consensusd::storage {
namespace {

using ::consensusd::service::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

using Answer = std::tuple<int32_t, std::string, std::string, std::string, std::string>;
using Gold = std::tuple<int32_t, std::string, std::string, std::string>;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<StateStore>> store =
        StateStore::Open(dir_.path(), StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void Commit() { ASSERT_TRUE(store_->Commit(batch_).ok()); }

  std::vector<Answer> Answers(int32_t partition = -1) {
    std::vector<Answer> out;
    absl::Status s = store_->ForEachAnswer(partition, [&](const StoredAnswer& a) {
      out.emplace_back(a.partition, a.project, a.task, a.worker, a.label);
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<Gold> Golds(int32_t partition = -1) {
    std::vector<Gold> out;
    absl::Status s = store_->ForEachGold(partition, [&](const StoredGold& g) {
      out.emplace_back(g.partition, g.project, g.task, g.label);
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<std::tuple<std::string, int32_t, std::string>> Classes() {
    std::vector<std::tuple<std::string, int32_t, std::string>> out;
    absl::Status s =
        store_->ForEachClass([&](std::string_view project, int32_t id, std::string_view name) {
          out.emplace_back(project, id, name);
        });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<std::pair<std::string, std::string>> Excluded() {
    std::vector<std::pair<std::string, std::string>> out;
    absl::Status s =
        store_->ForEachExcluded([&](std::string_view project, std::string_view worker) {
          out.emplace_back(project, worker);
        });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::optional<int64_t> OffsetOf(std::string_view topic, int32_t partition) {
    absl::StatusOr<std::optional<int64_t>> offset = store_->Offset(topic, partition);
    EXPECT_TRUE(offset.ok()) << offset.status();
    return offset.ok() ? *offset : std::nullopt;
  }

  TempDir dir_;
  std::unique_ptr<StateStore> store_;
  StateBatch batch_;
};

TEST_F(StateStoreTest, FreshStoreIsEmpty) {
  EXPECT_THAT(Answers(), IsEmpty());
  EXPECT_THAT(Golds(), IsEmpty());
  EXPECT_THAT(Classes(), IsEmpty());
  EXPECT_THAT(Excluded(), IsEmpty());
  EXPECT_EQ(OffsetOf("in", 0), std::nullopt);
}

TEST_F(StateStoreTest, CommitIsAtomicWithOffsets) {
  batch_.PutAnswer(0, "p", "t1", "w1", "cat");
  batch_.PutAnswer(1, "p", "t2", "w1", "dog");
  batch_.SetOffset("in", 0, 11);
  batch_.SetOffset("in", 1, 21);
  EXPECT_THAT(Answers(), IsEmpty());  // nothing is visible before the commit
  EXPECT_EQ(OffsetOf("in", 0), std::nullopt);

  Commit();

  EXPECT_THAT(Answers(),
              ElementsAre(Answer{0, "p", "t1", "w1", "cat"}, Answer{1, "p", "t2", "w1", "dog"}));
  EXPECT_EQ(OffsetOf("in", 0), 11);
  EXPECT_EQ(OffsetOf("in", 1), 21);
}

TEST_F(StateStoreTest, CommitClearsTheBatch) {
  batch_.PutAnswer(0, "p", "t", "w", "a");
  batch_.SetOffset("in", 0, 1);
  EXPECT_EQ(batch_.Count(), 2u);
  EXPECT_FALSE(batch_.Empty());
  Commit();
  EXPECT_TRUE(batch_.Empty());
  EXPECT_EQ(batch_.Count(), 0u);
}

// The memtables go to disk only after a whole interval without a write, and
// what they held reads back the same after.
TEST_F(StateStoreTest, FlushIfIdleFlushesOnlyAfterAnIntervalWithoutWrites) {
  EXPECT_FALSE(store_->FlushIfIdle()) << "nothing held";
  batch_.PutAnswer(0, "p", "t1", "w1", "cat");
  batch_.SetOffset("in", 0, 1);
  Commit();
  EXPECT_FALSE(store_->FlushIfIdle()) << "a write since the last look";
  const uint64_t before = store_->ApproximateBytes();
  EXPECT_TRUE(store_->FlushIfIdle());
  EXPECT_FALSE(store_->FlushIfIdle()) << "the memtables are empty now";
  ASSERT_TRUE(store_->Flush().ok());  // (waits for the flush started above)
  EXPECT_GT(store_->ApproximateBytes(), 0u);
  EXPECT_NE(store_->ApproximateBytes(), before) << "the memtable became a file";
  batch_.PutAnswer(0, "p", "t2", "w1", "dog");
  Commit();
  EXPECT_FALSE(store_->FlushIfIdle());
  EXPECT_TRUE(store_->FlushIfIdle());
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t1", "w1", "cat"}, Answer{0, "p", "t2", "w1", "dog"}));
  EXPECT_EQ(OffsetOf("in", 0), 1);
  Reopen();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t1", "w1", "cat"}, Answer{0, "p", "t2", "w1", "dog"}));
}

TEST_F(StateStoreTest, EmptyCommitChangesNothing) {
  Commit();
  EXPECT_THAT(Answers(), IsEmpty());
}

TEST_F(StateStoreTest, ClearDiscardsUncommittedChanges) {
  batch_.PutAnswer(0, "p", "t", "w", "a");
  batch_.Clear();
  Commit();
  EXPECT_THAT(Answers(), IsEmpty());
}

TEST_F(StateStoreTest, LaterAnswerReplacesEarlier) {
  batch_.PutAnswer(0, "p", "t", "w", "cat");
  Commit();
  batch_.PutAnswer(0, "p", "t", "w", "dog");
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t", "w", "dog"}));
}

TEST_F(StateStoreTest, LaterAnswerInTheSameBatchReplacesEarlier) {
  batch_.PutAnswer(0, "p", "t", "w", "cat");
  batch_.PutAnswer(0, "p", "t", "w", "dog");
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t", "w", "dog"}));
}

TEST_F(StateStoreTest, DeleteAnswerRemovesOnlyThatWorkersAnswer) {
  batch_.PutAnswer(0, "p", "t", "w1", "cat");
  batch_.PutAnswer(0, "p", "t", "w2", "dog");
  Commit();
  batch_.DeleteAnswer(0, "p", "t", "w1");
  batch_.DeleteAnswer(0, "p", "t", "nobody");  // deleting what is absent is harmless
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t", "w2", "dog"}));
}

// Repeats (repeats: count): the later labels of (task, worker), in order, in a
// record of their own, rewritten whole.
std::vector<Answer> Repeats(const StateStore& store, int32_t partition = -1) {
  std::vector<Answer> out;
  absl::Status s = store.ForEachRepeat(partition, [&](const StoredAnswer& a) {
    out.emplace_back(a.partition, a.project, a.task, a.worker, a.label);
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST_F(StateStoreTest, RepeatsComeBackInOrderApartFromTheAnswer) {
  const std::vector<std::string_view> labels = {"dog", "", "cat"};
  batch_.PutAnswer(3, "p", "t", "w", "cat");
  batch_.PutRepeats(3, "p", "t", "w", labels);
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{3, "p", "t", "w", "cat"}));
  EXPECT_THAT(Repeats(*store_), ElementsAre(Answer{3, "p", "t", "w", "dog"},
                                            Answer{3, "p", "t", "w", ""},
                                            Answer{3, "p", "t", "w", "cat"}));
  EXPECT_THAT(Repeats(*store_, 2), IsEmpty());
}

TEST_F(StateStoreTest, RepeatsAreRewrittenWholeAndDeletedByAnEmptyList) {
  const std::vector<std::string_view> one = {"dog"}, two = {"dog", "cow"};
  batch_.PutRepeats(0, "p", "t", "w", one);
  Commit();
  batch_.PutRepeats(0, "p", "t", "w", two);
  batch_.PutRepeats(0, "p", "t", "w", two);  // written again: the same
  Commit();
  EXPECT_THAT(Repeats(*store_), ElementsAre(Answer{0, "p", "t", "w", "dog"},
                                            Answer{0, "p", "t", "w", "cow"}));
  batch_.PutRepeats(0, "p", "t", "w", {});
  Commit();
  EXPECT_THAT(Repeats(*store_), IsEmpty());
}

TEST_F(StateStoreTest, GoldIsReplacedAndDeleted) {
  batch_.PutGold(2, "p", "t1", "cat");
  batch_.PutGold(2, "p", "t2", "cat");
  Commit();
  batch_.PutGold(2, "p", "t1", "dog");
  batch_.DeleteGold(2, "p", "t2");
  Commit();
  EXPECT_THAT(Golds(), ElementsAre(Gold{2, "p", "t1", "dog"}));
}

TEST_F(StateStoreTest, AnswersAndGoldAreSeparateRecords) {
  batch_.PutAnswer(0, "p", "t", "w", "cat");
  batch_.PutGold(0, "p", "t", "dog");
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "t", "w", "cat"}));
  EXPECT_THAT(Golds(), ElementsAre(Gold{0, "p", "t", "dog"}));
}

TEST_F(StateStoreTest, ForEachAnswerScansOnePartitionOrAll) {
  for (int32_t p : {0, 1, 255, 256, 65536}) batch_.PutAnswer(p, "p", "t", "w", "x");
  Commit();
  EXPECT_THAT(Answers(256), ElementsAre(Answer{256, "p", "t", "w", "x"}));
  EXPECT_THAT(Answers(1), ElementsAre(Answer{1, "p", "t", "w", "x"}));
  EXPECT_THAT(Answers(7), IsEmpty());
  std::vector<int32_t> partitions;
  for (const Answer& a : Answers()) partitions.push_back(std::get<0>(a));
  EXPECT_THAT(partitions, ElementsAre(0, 1, 255, 256, 65536));  // numeric order
}

TEST_F(StateStoreTest, ScansRejectPartitionsBelowMinusOne) {
  EXPECT_EQ(store_->ForEachAnswer(-2, [](const StoredAnswer&) {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ForEachGold(-2, [](const StoredGold&) {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ForEachPublished(-2, [](const StoredPublished&) {}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, ClassesComeBackPerProjectInIdOrder) {
  // Ids past 255 check the id is compared as a number, not as text or a byte.
  batch_.PutClass("b", 0, "yes");
  for (int32_t id = 0; id < 300; ++id) batch_.PutClass("a", id, absl::StrCat("c", id));
  batch_.PutClass("b", 1, "no");
  Commit();
  std::vector<std::tuple<std::string, int32_t, std::string>> classes = Classes();
  ASSERT_EQ(classes.size(), 302u);
  for (int32_t id = 0; id < 300; ++id) {
    EXPECT_EQ(classes[id], std::make_tuple(std::string("a"), id, absl::StrCat("c", id)));
  }
  EXPECT_EQ(classes[300], std::make_tuple(std::string("b"), 0, std::string("yes")));
  EXPECT_EQ(classes[301], std::make_tuple(std::string("b"), 1, std::string("no")));
}

TEST_F(StateStoreTest, ExclusionCanBeLifted) {
  batch_.SetExcluded("p", "spammer", true);
  batch_.SetExcluded("p", "confused", true);
  batch_.SetExcluded("q", "spammer", true);
  Commit();
  batch_.SetExcluded("p", "confused", false);
  Commit();
  EXPECT_THAT(Excluded(), ElementsAre(Pair("p", "spammer"), Pair("q", "spammer")));
}

TEST_F(StateStoreTest, LaterSnapshotReplacesEarlier) {
  batch_.PutSnapshot("p", "leaderboard", 1);
  batch_.PutSnapshot("q", "leaderboard", ~uint64_t{0});
  Commit();
  batch_.PutSnapshot("p", "leaderboard", 0x8000000000000001ull);
  Commit();
  std::vector<std::tuple<std::string, std::string, uint64_t>> snapshots;
  ASSERT_TRUE(store_->ForEachSnapshot([&](std::string_view project, std::string_view name, uint64_t f) {
                      snapshots.emplace_back(project, name, f);
                    }).ok());
  EXPECT_THAT(snapshots, ElementsAre(std::make_tuple("p", "leaderboard", 0x8000000000000001ull),
                                     std::make_tuple("q", "leaderboard", ~uint64_t{0})));
}

TEST_F(StateStoreTest, LaterOffsetReplacesEarlier) {
  batch_.SetOffset("in", 3, 100);
  Commit();
  batch_.SetOffset("in", 3, 250);
  Commit();
  EXPECT_EQ(OffsetOf("in", 3), 250);
}

TEST_F(StateStoreTest, OffsetsListsOneTopicByPartition) {
  batch_.SetOffset("in", 10, 5);
  batch_.SetOffset("in", 2, 7);
  batch_.SetOffset("in2", 1, 9);  // a topic whose name extends "in"
  batch_.SetOffset("i", 1, 9);
  batch_.SetOffset("in", 0, int64_t{1} << 40);
  Commit();
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> offsets = store_->Offsets("in");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_THAT(*offsets, ElementsAre(Pair(0, int64_t{1} << 40), Pair(2, 7), Pair(10, 5)));
  EXPECT_EQ(OffsetOf("in2", 2), std::nullopt);
}

TEST_F(StateStoreTest, PublishedRecordsRoundTripByPartition) {
  batch_.PutPublished(1, "p", "t1", {.class_id = 2, .confidence = 0.8125, .review = true});
  batch_.PutPublished(0, "p", "t0", {.class_id = 0, .confidence = 1.0 / 3, .review = false});
  batch_.PutPublished(1, "p", "t1", {.class_id = 1, .confidence = 0.5, .review = false});  // replaces
  Commit();
  Reopen();
  std::vector<std::tuple<int32_t, std::string, int32_t, double, bool>> seen;
  ASSERT_TRUE(store_
                  ->ForEachPublished(-1,
                                     [&](const StoredPublished& p) {
                                       seen.emplace_back(p.partition, std::string(p.task),
                                                         p.value.class_id, p.value.confidence,
                                                         p.value.review);
                                     })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(std::make_tuple(0, "t0", 0, 1.0 / 3, false),
                                std::make_tuple(1, "t1", 1, 0.5, false)));
  seen.clear();
  ASSERT_TRUE(store_->ForEachPublished(0, [&](const StoredPublished& p) {
                      seen.emplace_back(p.partition, std::string(p.task), p.value.class_id,
                                        p.value.confidence, p.value.review);
                    }).ok());
  EXPECT_EQ(seen.size(), 1u);
}

TEST_F(StateStoreTest, InjectedCommitFaultStoresNothing) {
  store_->SetCommitFaultForTesting([] { return absl::UnavailableError("disk gone"); });
  batch_.PutAnswer(0, "p", "t", "w", "x");
  EXPECT_EQ(store_->Commit(batch_).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(batch_.Empty());  // left as it was
  store_->SetCommitFaultForTesting(nullptr);
  EXPECT_THAT(Answers(), IsEmpty());
  Commit();
  EXPECT_EQ(Answers().size(), 1u);
}

TEST_F(StateStoreTest, IdsWithNulAndSlashRoundTrip) {
  const std::string project("pro/j\0ect", 9), task("\0/t\0", 4), worker("w/\0\xff", 4);
  const std::string label("l\0/\xff", 4);
  batch_.PutAnswer(0, project, task, worker, label);
  batch_.PutGold(0, project, task, label);
  batch_.PutClass(project, 0, label);
  batch_.SetExcluded(project, worker, true);
  batch_.SetOffset(std::string("to/p\0ic", 7), 0, 5);
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, project, task, worker, label}));
  EXPECT_THAT(Golds(), ElementsAre(Gold{0, project, task, label}));
  EXPECT_THAT(Classes(), ElementsAre(std::make_tuple(project, 0, label)));
  EXPECT_THAT(Excluded(), ElementsAre(Pair(project, worker)));
  EXPECT_EQ(OffsetOf(std::string("to/p\0ic", 7), 0), 5);
  EXPECT_EQ(OffsetOf("to/p", 0), std::nullopt);
}

TEST_F(StateStoreTest, IdsThatConcatenateAlikeStayDistinct) {
  // "ab"+"c" and "a"+"bc" would collide under plain concatenation or a
  // separator that ids may contain.
  batch_.PutAnswer(0, "ab", "c", "w", "1");
  batch_.PutAnswer(0, "a", "bc", "w", "2");
  batch_.PutAnswer(0, "a/b", "c", "w", "3");
  batch_.PutAnswer(0, "a", "b/c", "w", "4");
  batch_.PutAnswer(0, "", "", "", "");
  Commit();
  EXPECT_EQ(Answers().size(), 5u);
}

TEST_F(StateStoreTest, ReopenSeesCommittedState) {
  batch_.PutAnswer(3, "p", "t", "w", "cat");
  batch_.PutGold(3, "p", "t", "cat");
  batch_.PutClass("p", 0, "cat");
  batch_.SetExcluded("p", "w", true);
  batch_.SetOffset("in", 3, 42);
  Commit();
  Reopen();
  EXPECT_THAT(Answers(), ElementsAre(Answer{3, "p", "t", "w", "cat"}));
  EXPECT_THAT(Golds(), ElementsAre(Gold{3, "p", "t", "cat"}));
  EXPECT_THAT(Classes(), ElementsAre(std::make_tuple("p", 0, "cat")));
  EXPECT_THAT(Excluded(), ElementsAre(Pair("p", "w")));
  EXPECT_EQ(OffsetOf("in", 3), 42);
}

TEST_F(StateStoreTest, ReopenAfterFlushSeesCommittedState) {
  batch_.PutAnswer(3, "p", "t", "w", "cat");
  batch_.SetOffset("in", 3, 42);
  Commit();
  ASSERT_TRUE(store_->Flush().ok());
  Reopen();
  EXPECT_THAT(Answers(), ElementsAre(Answer{3, "p", "t", "w", "cat"}));
  EXPECT_EQ(OffsetOf("in", 3), 42);
}

TEST_F(StateStoreTest, ScanMergesFlushedAndUnflushedState) {
  batch_.PutAnswer(0, "p", "a", "w", "1");
  batch_.PutAnswer(0, "p", "c", "w", "1");
  Commit();
  ASSERT_TRUE(store_->Flush().ok());
  batch_.PutAnswer(0, "p", "b", "w", "2");
  batch_.PutAnswer(0, "p", "c", "w", "2");  // replaces a flushed answer
  batch_.DeleteAnswer(0, "p", "a", "w");    // deletes one
  Commit();
  EXPECT_THAT(Answers(), ElementsAre(Answer{0, "p", "b", "w", "2"}, Answer{0, "p", "c", "w", "2"}));
}

TEST_F(StateStoreTest, ApproximateBytesGrowsWithState) {
  const uint64_t empty = store_->ApproximateBytes();
  for (int i = 0; i < 10000; ++i) batch_.PutAnswer(0, "p", absl::StrCat("task-", i), "w", "x");
  Commit();
  const uint64_t in_memtable = store_->ApproximateBytes();
  EXPECT_GT(in_memtable, empty + 100000);
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_GT(store_->ApproximateBytes(), empty + 10000);  // now in an SST, compressed
}

TEST_F(StateStoreTest, SecondOpenOfTheSameDirectorySaysItIsInUse) {
  absl::StatusOr<std::unique_ptr<StateStore>> second =
      StateStore::Open(dir_.path(), StoreOptions{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(dir_.path()));
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another process"));
}

// Opening directories that are not (yet) state stores.
class StateStoreOpenTest : public ::testing::Test {
 protected:
  // Writes key -> value into column family `cf` of a plain RocksDB database
  // at dir_, creating the database and the column family if needed.
  void WriteRawRecord(const std::string& cf, const std::string& key, const std::string& value) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(options, dir_.path(), &names).ok()) names = {"default"};
    if (std::find(names.begin(), names.end(), cf) == names.end()) names.push_back(cf);
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const size_t index = std::find(names.begin(), names.end(), cf) - names.begin();
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[index], key, value).ok());
    for (rocksdb::ColumnFamilyHandle* handle : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }

  absl::StatusOr<std::unique_ptr<StateStore>> Open() {
    return StateStore::Open(dir_.path(), StoreOptions{});
  }

  TempDir dir_;
};

TEST_F(StateStoreOpenTest, RejectsForeignFormat) {
  WriteRawRecord("meta", FormatKey(), "consensusd-state 999");
  absl::StatusOr<std::unique_ptr<StateStore>> store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_.path()));
  EXPECT_THAT(store.status().message(), HasSubstr("consensusd-state 999"));
  EXPECT_THAT(store.status().message(), HasSubstr(std::string(kFormatVersion)));
}

TEST_F(StateStoreOpenTest, RejectsDatabaseWithoutFormatMarker) {
  WriteRawRecord("default", "some other program's key", "value");
  absl::StatusOr<std::unique_ptr<StateStore>> store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_.path()));
  EXPECT_THAT(store.status().message(), HasSubstr("not a consensusd state store"));
}

TEST_F(StateStoreOpenTest, FinishesCreationThatStoppedEarly) {
  // A crash while the store was first created can leave an empty database
  // without the store's column family and format marker.
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir_.path(), &raw).ok());
  delete raw;
  absl::StatusOr<std::unique_ptr<StateStore>> store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  store->reset();
  EXPECT_TRUE(Open().ok());  // and the marker is there on the next open
}

TEST_F(StateStoreOpenTest, RejectsUnknownColumnFamily) {
  WriteRawRecord("somebody-elses", "k", "v");
  absl::StatusOr<std::unique_ptr<StateStore>> store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_.path()));
  EXPECT_THAT(store.status().message(), HasSubstr("somebody-elses"));
}

TEST_F(StateStoreOpenTest, MissingDirectoryWithoutCreateIsAnError) {
  const std::string missing = dir_.File("missing");
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      StateStore::Open(missing, StoreOptions{.create_if_missing = false});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(missing));
}

TEST_F(StateStoreOpenTest, MalformedRecordIsDataLossNamingTheDirectory) {
  { ASSERT_TRUE(StateStore::Open(dir_.path(), StoreOptions{}).ok()); }
  std::string truncated;
  AppendAnswerKey(&truncated, {.partition = 0, .project = "p", .task = "t", .worker = "w"});
  truncated.pop_back();
  WriteRawRecord("default", truncated, "x");
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir_.path(), StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Status scan = (*store)->ForEachAnswer(-1, [](const StoredAnswer&) {});
  EXPECT_EQ(scan.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(scan.message(), HasSubstr(dir_.path()));
}

TEST_F(StateStoreOpenTest, SyncWritesCommitAndReopen) {
  const StoreOptions options{.sync_writes = true};
  {
    absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir_.path(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    StateBatch batch;
    batch.PutAnswer(0, "p", "t", "w", "x");
    batch.SetOffset("in", 0, 1);
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(dir_.path(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::optional<int64_t>> offset = (*store)->Offset("in", 0);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, 1);
}

}  // namespace
}  // namespace consensusd::storage
