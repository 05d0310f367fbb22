#include "consensus/id_table.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace consensusd::consensus {
namespace {

using ::testing::ElementsAre;

TEST(IdTableTest, AssignsIdsInFirstSeenOrder) {
  IdTable t;
  EXPECT_EQ(t.Intern("b"), 0);
  EXPECT_EQ(t.Intern("a"), 1);
  EXPECT_EQ(t.Intern("c"), 2);
  EXPECT_EQ(t.size(), 3);
}

TEST(IdTableTest, InterningAgainReturnsSameId) {
  IdTable t;
  t.Intern("x");
  t.Intern("y");
  EXPECT_EQ(t.Intern("x"), 0);
  EXPECT_EQ(t.Intern("y"), 1);
  EXPECT_EQ(t.size(), 2);
}

TEST(IdTableTest, NameReturnsInternedString) {
  IdTable t;
  t.Intern("ann-17");
  t.Intern("ann-3");
  EXPECT_EQ(t.Name(0), "ann-17");
  EXPECT_EQ(t.Name(1), "ann-3");
  EXPECT_THAT(t.names(), ElementsAre("ann-17", "ann-3"));
}

TEST(IdTableTest, FindDoesNotAssignIds) {
  IdTable t;
  t.Intern("known");
  EXPECT_EQ(t.Find("known"), 0);
  EXPECT_EQ(t.Find("unknown"), IdTable::kNotFound);
  EXPECT_EQ(t.size(), 1);
}

TEST(IdTableTest, EmptyTableFindsNothing) {
  IdTable t;
  EXPECT_EQ(t.size(), 0);
  EXPECT_EQ(t.Find(""), IdTable::kNotFound);
  EXPECT_TRUE(t.names().empty());
}

TEST(IdTableTest, EmptyStringIsAnOrdinaryName) {
  IdTable t;
  EXPECT_EQ(t.Intern(""), 0);
  EXPECT_EQ(t.Intern("a"), 1);
  EXPECT_EQ(t.Find(""), 0);
}

TEST(IdTableTest, KeysAreCopiedNotViewed) {
  IdTable t;
  {
    std::string temporary = "task-1";
    t.Intern(std::string_view(temporary));
    temporary = "overwritten";
  }
  EXPECT_EQ(t.Find("task-1"), 0);
  EXPECT_EQ(t.Name(0), "task-1");
}

TEST(IdTableTest, InternsSubstringViewsByTheirBytes) {
  IdTable t;
  const std::string line = "t1,w1,positive";
  EXPECT_EQ(t.Intern(std::string_view(line).substr(0, 2)), 0);
  EXPECT_EQ(t.Intern(std::string_view(line).substr(3, 2)), 1);
  EXPECT_EQ(t.Find("t1"), 0);
  EXPECT_EQ(t.Find("w1"), 1);
}

TEST(IdTableTest, NamesDifferingOnlyInCaseAreDistinct) {
  IdTable t;
  const int32_t upper = t.Intern("Yes");
  EXPECT_NE(upper, t.Intern("yes"));
}

TEST(IdTableTest, NamesWithEmbeddedNulAreDistinct) {
  IdTable t;
  const std::string with_nul("a\0b", 3);
  const int32_t id = t.Intern(with_nul);
  EXPECT_NE(id, t.Intern("a"));
  EXPECT_EQ(t.Name(id).size(), 3u);
}

TEST(IdTableTest, KeepsEveryIdThroughManyGrowths) {
  IdTable t;
  constexpr int kNames = 200000;
  for (int i = 0; i < kNames; ++i) {
    ASSERT_EQ(t.Intern("task-" + std::to_string(i)), i);
    ASSERT_EQ(t.Intern("task-" + std::to_string(i / 2)), i / 2);  // a repeat
  }
  EXPECT_EQ(t.size(), kNames);
  for (int i = 0; i < kNames; ++i) ASSERT_EQ(t.Find("task-" + std::to_string(i)), i);
  EXPECT_EQ(t.Find("task-" + std::to_string(kNames)), IdTable::kNotFound);
  EXPECT_EQ(t.Name(12345), "task-12345");
}

// Absent names probe past full groups and stop at the first free slot; at
// every size between growths (the table up to 7/8 full), none is found and
// every present one is.
TEST(IdTableTest, AbsentNamesAreNotFoundAtEveryLoad) {
  IdTable t;
  for (int i = 0; i < 30000; ++i) {
    ASSERT_EQ(t.Intern("w" + std::to_string(i)), i);
    if (i % 997 == 0) {
      for (int j = 0; j <= i; j += 7) ASSERT_EQ(t.Find("w" + std::to_string(j)), j);
      for (int j = 0; j < 2000; ++j) {
        ASSERT_EQ(t.Find("absent-" + std::to_string(j)), IdTable::kNotFound);
      }
    }
  }
}

// The ends are stored per block of 65,536 ids: names on either side of a
// block's first id, and names up to the limit, read back whole.
TEST(IdTableTest, NamesAcrossBlocksAndOfTheLongestSizeReadBack) {
  IdTable t;
  std::vector<std::string> names;
  for (int i = 0; i < 3 * 65536 + 7; ++i) {
    names.push_back(i % 50000 == 0 ? std::string(IdTable::kMaxNameBytes, static_cast<char>('a' + i % 26))
                                   : "n" + std::to_string(i));
    ASSERT_EQ(t.Intern(names.back()), i);
  }
  for (int i = 0; i < static_cast<int>(names.size()); ++i) {
    ASSERT_EQ(t.Name(i), names[i]) << i;
    ASSERT_EQ(t.Find(names[i]), i) << i;
  }
}

TEST(IdTableDeathTest, ANameOverTheLimitAborts) {
  IdTable t;
  EXPECT_DEATH(t.Intern(std::string(IdTable::kMaxNameBytes + 1, 'x')), "the limit is");
}

TEST(IdTableTest, CopiesAndMovesKeepTheIds) {
  IdTable t;
  for (const char* n : {"a", "b", "c"}) t.Intern(n);
  IdTable copy = t;
  IdTable moved = std::move(t);
  EXPECT_EQ(copy.Find("c"), 2);
  EXPECT_EQ(moved.Find("b"), 1);
  EXPECT_EQ(copy.Intern("d"), 3);
  EXPECT_EQ(moved.Intern("a"), 0);
}

// InternAll gives the ids of Intern one name at a time, across growth of the
// table and with names repeated within and across calls.
TEST(IdTableTest, InternAllGivesTheIdsOfInternInTurn) {
  std::mt19937 rng(3);
  IdTable one, all;
  std::vector<std::string> storage;
  for (int call = 0; call < 40; ++call) {
    const size_t n = rng() % 3000;
    storage.clear();
    for (size_t i = 0; i < n; ++i) storage.push_back("id" + std::to_string(rng() % 50000));
    std::vector<std::string_view> names(storage.begin(), storage.end());
    std::vector<int32_t> ids(n, -7);
    all.InternAll(names, ids.data());
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(ids[i], one.Intern(names[i])) << "call " << call << ", name " << i;
  }
  EXPECT_EQ(all.names(), one.names());
  for (const std::string& name : one.names()) EXPECT_EQ(all.Find(name), one.Find(name));
  EXPECT_EQ(all.Find("absent"), IdTable::kNotFound);
  all.InternAll({}, nullptr);
  EXPECT_EQ(all.size(), one.size());
}

TEST(SortedRankTest, RanksNamesBytewise) {
  IdTable t;
  t.Intern("pos");  // 0
  t.Intern("neg");  // 1
  t.Intern("neu");  // 2
  // neg < neu < pos
  EXPECT_THAT(SortedRank(t), ElementsAre(2, 0, 1));
}

TEST(SortedRankTest, UppercaseSortsBeforeLowercase) {
  IdTable t;
  t.Intern("a");
  t.Intern("B");
  EXPECT_THAT(SortedRank(t), ElementsAre(1, 0));
}

TEST(SortedRankTest, NumbersSortAsStringsNotAsValues) {
  IdTable t;
  t.Intern("9");
  t.Intern("10");
  t.Intern("2");
  // "10" < "2" < "9"
  EXPECT_THAT(SortedRank(t), ElementsAre(2, 0, 1));
}

TEST(SortedRankTest, PrefixSortsFirst) {
  IdTable t;
  t.Intern("ab");
  t.Intern("a");
  EXPECT_THAT(SortedRank(t), ElementsAre(1, 0));
}

TEST(SortedRankTest, BytesAboveAsciiSortAfterAscii) {
  IdTable t;
  t.Intern("\xc3\xa9");  // é in UTF-8: bytes 0xC3 0xA9
  t.Intern("z");
  EXPECT_THAT(SortedRank(t), ElementsAre(1, 0));
}

TEST(IdTableTest, FindsEveryNameAfterManyGrowths) {
  IdTable t;
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(t.Intern("task-" + std::to_string(i)), i);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(t.Find("task-" + std::to_string(i)), i);
  EXPECT_EQ(t.Name(12345), "task-12345");
  EXPECT_EQ(t.Find("task-100000"), IdTable::kNotFound);
}

TEST(IdTableTest, NamesWithSharedPrefixesAndNulBytesStayDistinct) {
  IdTable t;
  EXPECT_EQ(t.Intern("ab"), 0);
  EXPECT_EQ(t.Intern("a"), 1);
  EXPECT_EQ(t.Intern("b"), 2);
  EXPECT_EQ(t.Intern(std::string_view("a\0b", 3)), 3);
  EXPECT_EQ(t.Find("ab"), 0);
  EXPECT_EQ(t.Find(std::string_view("a\0b", 3)), 3);
  EXPECT_EQ(t.Name(3), std::string_view("a\0b", 3));
}

TEST(IdTableTest, CopyIsIndependentOfTheOriginal) {
  IdTable a;
  a.Intern("x");
  a.Intern("y");
  IdTable b = a;
  b.Intern("z");
  a.Intern("w");
  EXPECT_EQ(b.Find("y"), 1);
  EXPECT_EQ(b.Find("z"), 2);
  EXPECT_EQ(b.Find("w"), IdTable::kNotFound);
  EXPECT_EQ(a.Find("w"), 2);
  EXPECT_EQ(a.Find("z"), IdTable::kNotFound);
  a = b;
  EXPECT_EQ(a.Find("z"), 2);
  EXPECT_EQ(a.size(), 3);
}

TEST(IdTableTest, MovedTableKeepsFindingAndInterning) {
  IdTable a;
  a.Intern("x");
  IdTable b = std::move(a);
  EXPECT_EQ(b.Find("x"), 0);
  EXPECT_EQ(b.Intern("y"), 1);
  std::vector<IdTable> tables;
  tables.push_back(std::move(b));
  tables.emplace_back();  // moves tables[0] again
  EXPECT_EQ(tables[0].Find("y"), 1);
  EXPECT_EQ(tables[0].Intern("z"), 2);
  EXPECT_EQ(tables[1].Find("x"), IdTable::kNotFound);
}

TEST(SortedRankTest, EmptyTableHasNoRanks) {
  IdTable t;
  EXPECT_TRUE(SortedRank(t).empty());
}

TEST(SortedRankTest, IsAPermutation) {
  IdTable t;
  for (const char* n : {"d", "a", "c", "e", "b"}) t.Intern(n);
  std::vector<int32_t> rank = SortedRank(t);
  EXPECT_THAT(rank, ElementsAre(3, 0, 2, 4, 1));
}

}  // namespace
}  // namespace consensusd::consensus
