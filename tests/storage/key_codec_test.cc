#include "storage/key_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace consensusd::storage {
namespace {

std::string AnswerKeyOf(int32_t partition, std::string_view project, std::string_view task,
                        std::string_view worker) {
  std::string key;
  AppendAnswerKey(&key,
                  {.partition = partition, .project = project, .task = task, .worker = worker});
  return key;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

TEST(KeyCodecTest, VarintRoundTripsBoundaries) {
  for (uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 0xffffffffu}) {
    std::string buf;
    PutVarint32(&buf, v);
    std::string_view in = buf;
    uint32_t out = 0;
    ASSERT_TRUE(GetVarint32(&in, &out)) << v;
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
  }
}

TEST(KeyCodecTest, VarintRejectsTruncatedAndOverlongInput) {
  std::string_view truncated("\x80\x80", 2);
  uint32_t out;
  EXPECT_FALSE(GetVarint32(&truncated, &out));
  std::string_view too_wide("\xff\xff\xff\xff\x1f", 5);  // 35 bits
  EXPECT_FALSE(GetVarint32(&too_wide, &out));
  std::string_view endless("\xff\xff\xff\xff\xff\x01", 6);
  EXPECT_FALSE(GetVarint32(&endless, &out));
}

TEST(KeyCodecTest, AnswerKeyRoundTrips) {
  const std::string project("p\0/", 3);
  const std::string key = AnswerKeyOf(70000, project, "", "w");
  AnswerKey decoded;
  ASSERT_TRUE(DecodeAnswerKey(key, &decoded));
  EXPECT_EQ(decoded.partition, 70000);
  EXPECT_EQ(decoded.project, project);
  EXPECT_EQ(decoded.task, "");
  EXPECT_EQ(decoded.worker, "w");
}

TEST(KeyCodecTest, DecodeRejectsTruncatedTrailingAndForeignKeys) {
  const std::string key = AnswerKeyOf(1, "p", "t", "w");
  AnswerKey answer;
  for (size_t n = 0; n < key.size(); ++n)
    EXPECT_FALSE(DecodeAnswerKey(key.substr(0, n), &answer)) << n;
  EXPECT_FALSE(DecodeAnswerKey(key + "x", &answer));
  GoldKey gold;
  EXPECT_FALSE(DecodeGoldKey(key, &gold));  // right shape for nothing else
  OffsetKey offset;
  EXPECT_FALSE(DecodeOffsetKey(key, &offset));
}

TEST(KeyCodecTest, PartitionPrefixCoversExactlyItsPartition) {
  const std::string prefix = PartitionPrefix(RecordType::kAnswer, 256);
  EXPECT_TRUE(StartsWith(AnswerKeyOf(256, "p", "t", "w"), prefix));
  EXPECT_FALSE(StartsWith(AnswerKeyOf(1, "p", "t", "w"), prefix));
  EXPECT_FALSE(StartsWith(AnswerKeyOf(257, "p", "t", "w"), prefix));
  const std::string end = PrefixSuccessor(prefix);
  EXPECT_LT(AnswerKeyOf(256, "\xff\xff", "\xff", "\xff"), end);
  EXPECT_GE(AnswerKeyOf(257, "", "", ""), end);
}

TEST(KeyCodecTest, PrefixSuccessorSkipsTrailingFF) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff", 1)), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
}

TEST(KeyCodecTest, TopicPrefixDoesNotMatchLongerTopic) {
  std::string key;
  AppendOffsetKey(&key, {.topic = "in2", .partition = 0});
  EXPECT_FALSE(StartsWith(key, TopicOffsetPrefix("in")));
  EXPECT_TRUE(StartsWith(key, TopicOffsetPrefix("in2")));
}

TEST(KeyCodecTest, OffsetValueRoundTripsAndRejectsWrongWidth) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{1} << 40, INT64_MAX}) {
    int64_t out = -1;
    ASSERT_TRUE(DecodeOffsetValue(EncodeOffsetValue(v), &out));
    EXPECT_EQ(out, v);
  }
  int64_t out;
  EXPECT_FALSE(DecodeOffsetValue("1234567", &out));
  EXPECT_FALSE(DecodeOffsetValue("123456789", &out));
}

TEST(KeyCodecTest, RecordTypesDoNotShareKeys) {
  std::string gold, cls, excluded, offset;
  AppendGoldKey(&gold, {.partition = 0, .project = "p", .task = "t"});
  AppendClassKey(&cls, {.project = "p", .class_id = 0});
  AppendExcludedKey(&excluded, {.project = "p", .worker = "w"});
  AppendOffsetKey(&offset, {.topic = "t", .partition = 0});
  EXPECT_TRUE(StartsWith(gold, RecordPrefix(RecordType::kGold)));
  EXPECT_TRUE(StartsWith(cls, RecordPrefix(RecordType::kClass)));
  EXPECT_TRUE(StartsWith(excluded, RecordPrefix(RecordType::kExcluded)));
  EXPECT_TRUE(StartsWith(offset, RecordPrefix(RecordType::kOffset)));
  EXPECT_TRUE(StartsWith(FormatKey(), RecordPrefix(RecordType::kFormat)));
}

TEST(KeyCodecTest, SnapshotKeyRoundTripsAndIsNotAnExcludedKey) {
  std::string key;
  AppendSnapshotKey(&key, {.project = "p/q", .name = "leaderboard"});
  EXPECT_TRUE(StartsWith(key, RecordPrefix(RecordType::kSnapshot)));
  SnapshotKey decoded;
  ASSERT_TRUE(DecodeSnapshotKey(key, &decoded));
  EXPECT_EQ(decoded.project, "p/q");
  EXPECT_EQ(decoded.name, "leaderboard");
  ExcludedKey excluded;
  EXPECT_FALSE(DecodeExcludedKey(key, &excluded));
  EXPECT_FALSE(DecodeSnapshotKey(key + "x", &decoded));
}

TEST(KeyCodecTest, RepeatsKeyRoundTripsAndIsNotAnAnswerKey) {
  std::string key;
  AppendRepeatsKey(&key, {.partition = 9, .project = "p", .task = "t", .worker = "w"});
  EXPECT_TRUE(StartsWith(key, PartitionPrefix(RecordType::kRepeats, 9)));
  AnswerKey decoded;
  ASSERT_TRUE(DecodeRepeatsKey(key, &decoded));
  EXPECT_EQ(decoded.partition, 9);
  EXPECT_EQ(decoded.worker, "w");
  EXPECT_FALSE(DecodeAnswerKey(key, &decoded));
  std::string answer;
  AppendAnswerKey(&answer, {.partition = 9, .project = "p", .task = "t", .worker = "w"});
  EXPECT_FALSE(DecodeRepeatsKey(answer, &decoded));
}

TEST(KeyCodecTest, VoteKeyRoundTripsAndIsNotAnAnswerKey) {
  std::string key;
  AppendVoteKey(&key, {.partition = 4, .project = "p", .task = "t", .worker = "w"});
  EXPECT_TRUE(StartsWith(key, PartitionPrefix(RecordType::kVote, 4)));
  AnswerKey decoded;
  ASSERT_TRUE(DecodeVoteKey(key, &decoded));
  EXPECT_EQ(decoded.partition, 4);
  EXPECT_EQ(decoded.task, "t");
  EXPECT_FALSE(DecodeAnswerKey(key, &decoded));
  EXPECT_FALSE(DecodeRepeatsKey(key, &decoded));
}

TEST(KeyCodecTest, PairwiseVoteValueRoundTrips) {
  std::string value;
  AppendVoteValue(&value, {.pairwise = true, .left = "resp-a", .right = "", .outcome = 2});
  VoteValue out;
  ASSERT_TRUE(DecodeVoteValue(value, &out));
  EXPECT_TRUE(out.pairwise);
  EXPECT_EQ(out.left, "resp-a");
  EXPECT_EQ(out.right, "");
  EXPECT_EQ(out.outcome, 2);
}

TEST(KeyCodecTest, RatingVoteValueRoundTripsExactly) {
  std::string value;
  AppendVoteValue(&value, {.pairwise = false, .rating = 0.1 + 0.2});
  VoteValue out;
  ASSERT_TRUE(DecodeVoteValue(value, &out));
  EXPECT_FALSE(out.pairwise);
  EXPECT_EQ(out.rating, 0.1 + 0.2);
}

TEST(KeyCodecTest, VoteValueRejectsMalformedBytes) {
  VoteValue out;
  EXPECT_FALSE(DecodeVoteValue("", &out));
  EXPECT_FALSE(DecodeVoteValue("x", &out));
  EXPECT_FALSE(DecodeVoteValue("r1234567", &out));    // 7 bytes of a double
  EXPECT_FALSE(DecodeVoteValue("r123456789", &out));  // 9
  std::string value;
  AppendVoteValue(&value, {.pairwise = true, .left = "a", .right = "b", .outcome = 0});
  value.back() = 3;  // no such outcome
  EXPECT_FALSE(DecodeVoteValue(value, &out));
  value.pop_back();
  EXPECT_FALSE(DecodeVoteValue(value, &out));
}

RC_GTEST_PROP(KeyCodecProperty, AnswerKeysRoundTrip,
              (uint32_t partition, const std::string& project, const std::string& task,
               const std::string& worker)) {
  const int32_t p = static_cast<int32_t>(partition & 0x7fffffff);
  const std::string key = AnswerKeyOf(p, project, task, worker);
  AnswerKey decoded;  // views into `key`
  RC_ASSERT(DecodeAnswerKey(key, &decoded));
  RC_ASSERT(decoded.partition == p);
  RC_ASSERT(decoded.project == project);
  RC_ASSERT(decoded.task == task);
  RC_ASSERT(decoded.worker == worker);
}

RC_GTEST_PROP(KeyCodecProperty, DistinctAnswersHaveDistinctKeys,
              (const std::string& a1, const std::string& a2, const std::string& a3,
               const std::string& b1, const std::string& b2, const std::string& b3)) {
  const bool same = a1 == b1 && a2 == b2 && a3 == b3;
  RC_ASSERT((AnswerKeyOf(0, a1, a2, a3) == AnswerKeyOf(0, b1, b2, b3)) == same);
}

RC_GTEST_PROP(KeyCodecProperty, KeysSortByPartitionFirst,
              (uint16_t p1, uint16_t p2, const std::string& project1,
               const std::string& project2)) {
  RC_PRE(p1 != p2);
  const bool less = AnswerKeyOf(p1, project1, "t", "w") < AnswerKeyOf(p2, project2, "t", "w");
  RC_ASSERT(less == (p1 < p2));
}

RC_GTEST_PROP(KeyCodecProperty, ClassKeysSortByProjectThenId,
              (const std::string& project, uint32_t id1, uint32_t id2)) {
  RC_PRE(id1 != id2);
  const int32_t c1 = static_cast<int32_t>(id1 & 0x7fffffff),
                c2 = static_cast<int32_t>(id2 & 0x7fffffff);
  RC_PRE(c1 != c2);
  std::string k1, k2;
  AppendClassKey(&k1, {.project = project, .class_id = c1});
  AppendClassKey(&k2, {.project = project, .class_id = c2});
  RC_ASSERT((k1 < k2) == (c1 < c2));
}

}  // namespace
}  // namespace consensusd::storage
