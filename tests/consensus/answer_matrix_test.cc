#include "consensus/answer_matrix.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace consensusd::consensus {
namespace {

using ::testing::ElementsAre;

TEST(ParseDuplicatePolicyTest, AcceptsReplaceAndCount) {
  EXPECT_EQ(ParseDuplicatePolicy("replace").value(), DuplicatePolicy::kKeepLast);
  EXPECT_EQ(ParseDuplicatePolicy("count").value(), DuplicatePolicy::kKeepAll);
}

TEST(ParseDuplicatePolicyTest, AcceptsLastAndAllAsOldNames) {
  EXPECT_EQ(ParseDuplicatePolicy("last").value(), DuplicatePolicy::kKeepLast);
  EXPECT_EQ(ParseDuplicatePolicy("all").value(), DuplicatePolicy::kKeepAll);
}

TEST(ParseDuplicatePolicyTest, NamesRoundTrip) {
  for (DuplicatePolicy p : {DuplicatePolicy::kKeepLast, DuplicatePolicy::kKeepAll}) {
    EXPECT_EQ(ParseDuplicatePolicy(DuplicatePolicyName(p)).value(), p);
  }
  EXPECT_EQ(DuplicatePolicyName(DuplicatePolicy::kKeepAll), "count");
}

TEST(ParseDuplicatePolicyTest, RejectsUnknownNameAndSaysWhatIsAllowed) {
  absl::StatusOr<DuplicatePolicy> p = ParseDuplicatePolicy("first");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("first"));
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("replace"));
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("count"));
}

TEST(ParseDuplicatePolicyTest, IsCaseSensitive) { EXPECT_FALSE(ParseDuplicatePolicy("LAST").ok()); }

TEST(AnswerMatrixBuilderTest, GroupsAnswersByTaskInArrivalOrder) {
  AnswerMatrixBuilder b;
  b.Add(1, 0, 1);
  b.Add(0, 2, 0);
  b.Add(1, 1, 0);
  b.Add(0, 0, 1);
  AnswerMatrix m = b.Build(2, 3, 2, DuplicatePolicy::kKeepLast);
  EXPECT_THAT(m.task_begin, ElementsAre(0, 2, 4));
  EXPECT_THAT(m.worker, ElementsAre(2, 0, 0, 1));
  EXPECT_THAT(m.label, ElementsAre(0, 1, 1, 0));
  EXPECT_EQ(m.num_answers(), 4);
  EXPECT_EQ(m.TaskSize(0), 2);
  EXPECT_EQ(m.TaskSize(1), 2);
}

TEST(AnswerMatrixBuilderTest, RecordsCounts) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);
  AnswerMatrix m = b.Build(3, 5, 4, DuplicatePolicy::kKeepAll);
  EXPECT_EQ(m.num_tasks, 3);
  EXPECT_EQ(m.num_workers, 5);
  EXPECT_EQ(m.num_classes, 4);
  EXPECT_EQ(b.size(), 1);
}

// Building from a builder that is given up (std::move) gives the same matrix
// as building from a copy, for answers grouped by task (moved) or not (copied),
// under both repeat settings, and leaves the builder empty.
TEST(AnswerMatrixBuilderTest, BuildingFromAMovedBuilderGivesTheSameMatrix) {
  auto same = [](const AnswerMatrix& a, const AnswerMatrix& b) {
    return a.num_tasks == b.num_tasks && a.num_workers == b.num_workers &&
           a.num_classes == b.num_classes && a.task_begin == b.task_begin && a.worker == b.worker &&
           a.label == b.label && a.gold == b.gold && a.class_rank == b.class_rank;
  };
  const std::vector<std::vector<int32_t>> grouped = {{0, 1, 0}, {0, 2, 1}, {0, 1, 1}, {1, 0, 0},
                                                     {3, 2, 1}, {3, 0, 0}};
  std::vector<std::vector<int32_t>> interleaved = grouped;
  std::swap(interleaved[1], interleaved[3]);  // task 1 arrives between task 0's answers
  for (const auto& rows : {grouped, interleaved}) {
    for (DuplicatePolicy policy : {DuplicatePolicy::kKeepAll, DuplicatePolicy::kKeepLast}) {
      AnswerMatrixBuilder b;
      for (const auto& r : rows) b.Add(r[0], r[1], r[2]);
      const AnswerMatrix copied = b.Build(5, 3, 2, policy);
      const AnswerMatrix moved = std::move(b).Build(5, 3, 2, policy);
      EXPECT_TRUE(same(copied, moved)) << "policy " << DuplicatePolicyName(policy);
      EXPECT_EQ(b.size(), 0);  // NOLINT(bugprone-use-after-move): documented as emptied
      EXPECT_EQ(moved.TaskSize(4), 0);
    }
  }
}

TEST(AnswerMatrixBuilderTest, TaskWithoutAnswersHasEmptyRange) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);
  b.Add(2, 0, 1);
  AnswerMatrix m = b.Build(4, 1, 2, DuplicatePolicy::kKeepLast);
  EXPECT_THAT(m.task_begin, ElementsAre(0, 1, 1, 2, 2));
  EXPECT_EQ(m.TaskSize(1), 0);
  EXPECT_EQ(m.TaskSize(3), 0);
}

TEST(AnswerMatrixBuilderTest, EmptyBuilderGivesEmptyMatrix) {
  AnswerMatrixBuilder b;
  AnswerMatrix m = b.Build(0, 0, 2, DuplicatePolicy::kKeepLast);
  EXPECT_EQ(m.num_answers(), 0);
  EXPECT_THAT(m.task_begin, ElementsAre(0));
  EXPECT_TRUE(m.gold.empty());
}

TEST(AnswerMatrixBuilderTest, LeavesGoldEmptyAndClassRankIdentity) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 2);
  AnswerMatrix m = b.Build(2, 1, 3, DuplicatePolicy::kKeepLast);
  EXPECT_THAT(m.gold, ElementsAre(kNoGold, kNoGold));
  EXPECT_THAT(m.class_rank, ElementsAre(0, 1, 2));
}

TEST(AnswerMatrixBuilderTest, KeepLastKeepsLatestAnswerOfWorker) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);  // replaced below
  b.Add(0, 1, 1);
  b.Add(0, 0, 1);  // worker 0 changes their mind
  AnswerMatrix m = b.Build(1, 2, 2, DuplicatePolicy::kKeepLast);
  ASSERT_EQ(m.num_answers(), 2);
  // The kept answer stays at the position of the last one.
  EXPECT_THAT(m.worker, ElementsAre(1, 0));
  EXPECT_THAT(m.label, ElementsAre(1, 1));
}

TEST(AnswerMatrixBuilderTest, KeepLastKeepsOnlyTheLastOfMany) {
  AnswerMatrixBuilder b;
  b.Add(0, 3, 0);
  b.Add(0, 3, 2);
  b.Add(0, 3, 1);
  AnswerMatrix m = b.Build(1, 4, 3, DuplicatePolicy::kKeepLast);
  EXPECT_THAT(m.worker, ElementsAre(3));
  EXPECT_THAT(m.label, ElementsAre(1));
}

TEST(AnswerMatrixBuilderTest, KeepLastTreatsRepeatedIdenticalAnswerAsOne) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 1);
  b.Add(0, 0, 1);  // a redelivered message
  AnswerMatrix m = b.Build(1, 1, 2, DuplicatePolicy::kKeepLast);
  EXPECT_EQ(m.num_answers(), 1);
}

TEST(AnswerMatrixBuilderTest, KeepAllKeepsEveryAnswerInArrivalOrder) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);
  b.Add(0, 1, 1);
  b.Add(0, 0, 1);
  AnswerMatrix m = b.Build(1, 2, 2, DuplicatePolicy::kKeepAll);
  EXPECT_THAT(m.worker, ElementsAre(0, 1, 0));
  EXPECT_THAT(m.label, ElementsAre(0, 1, 1));
  EXPECT_THAT(m.task_begin, ElementsAre(0, 3));
}

TEST(AnswerMatrixBuilderTest, SameWorkerOnDifferentTasksIsNotADuplicate) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);
  b.Add(1, 0, 1);
  b.Add(0, 1, 1);
  AnswerMatrix m = b.Build(2, 2, 2, DuplicatePolicy::kKeepLast);
  EXPECT_EQ(m.num_answers(), 3);
  EXPECT_THAT(m.task_begin, ElementsAre(0, 2, 3));
}

TEST(AnswerMatrixBuilderTest, KeepLastResolvesDuplicatesPerTask) {
  AnswerMatrixBuilder b;
  b.Add(1, 0, 0);
  b.Add(0, 0, 0);
  b.Add(1, 0, 1);  // replaces (1, 0, 0)
  b.Add(0, 1, 1);
  AnswerMatrix m = b.Build(2, 2, 2, DuplicatePolicy::kKeepLast);
  EXPECT_THAT(m.task_begin, ElementsAre(0, 2, 3));
  EXPECT_THAT(m.worker, ElementsAre(0, 1, 0));
  EXPECT_THAT(m.label, ElementsAre(0, 1, 1));
}

TEST(AnswerMatrixBuilderTest, BuildDoesNotConsumeTheBuilder) {
  AnswerMatrixBuilder b;
  b.Add(0, 0, 0);
  b.Add(0, 0, 1);
  AnswerMatrix last = b.Build(1, 1, 2, DuplicatePolicy::kKeepLast);
  AnswerMatrix all = b.Build(1, 1, 2, DuplicatePolicy::kKeepAll);
  EXPECT_EQ(last.num_answers(), 1);
  EXPECT_EQ(all.num_answers(), 2);
}

}  // namespace
}  // namespace consensusd::consensus
