// The request parsing of the JSON API (api/request_params.h): path segments and
// the query parameters of the lists and the export, without a server.

#include "api/request_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace consensusd::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(PathSegmentsTest, SplitsAfterV1AndDecodesEachSegment) {
  EXPECT_THAT(PathSegments("/v1/projects/a%2Fb/tasks/t%201"),
              ElementsAre("projects", "a/b", "tasks", "t 1"));
}

TEST(PathSegmentsTest, DropsTheQueryAndKeepsPlus) {
  EXPECT_THAT(PathSegments("/v1/projects/a+b?limit=2"), ElementsAre("projects", "a+b"));
}

TEST(PathSegmentsTest, KeepsEmptySegments) {
  EXPECT_THAT(PathSegments("/v1/projects//"), ElementsAre("projects", "", ""));
}

TEST(PathSegmentsTest, NothingWithoutV1) {
  EXPECT_THAT(PathSegments("/v2/projects"), IsEmpty());
  EXPECT_THAT(PathSegments(""), IsEmpty());
}

TEST(IsUtf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
}

TEST(IsUtf8Test, RejectsOverlongSurrogateTruncatedAndOutOfRange) {
  EXPECT_FALSE(IsUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xED\xA0\x80"));      // U+D800
  EXPECT_FALSE(IsUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsUtf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(IsUtf8("\xFF"));
}

TEST(TaskListQueryTest, DefaultsWithoutParameters) {
  absl::StatusOr<TaskListQuery> q = ParseTaskListQuery({});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit, kDefaultLimit);
  EXPECT_EQ(q->review_filter, -1);
  EXPECT_EQ(q->cursor, "");
}

TEST(TaskListQueryTest, ReadsEveryParameter) {
  absl::StatusOr<TaskListQuery> q =
      ParseTaskListQuery({{"limit", "1000"}, {"needs_review", "false"}, {"cursor", "t 9"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit, 1000);
  EXPECT_EQ(q->review_filter, 0);
  EXPECT_EQ(q->cursor, "t 9");
}

TEST(TaskListQueryTest, RejectsALimitOutOfRangeOrNotAnInteger) {
  for (const char* limit : {"0", "1001", "-1", "abc", "", "1.5", "99999999999999999999"}) {
    absl::StatusOr<TaskListQuery> q = ParseTaskListQuery({{"limit", limit}});
    ASSERT_FALSE(q.ok()) << limit;
    EXPECT_TRUE(absl::IsInvalidArgument(q.status()));
    EXPECT_THAT(q.status().message(), HasSubstr("'limit' must be an integer in [1, 1000]"));
  }
}

TEST(TaskListQueryTest, RejectsNeedsReviewOtherThanTrueOrFalse) {
  EXPECT_FALSE(ParseTaskListQuery({{"needs_review", "yes"}}).ok());
  EXPECT_FALSE(ParseTaskListQuery({{"needs_review", ""}}).ok());
}

TEST(TaskListQueryTest, TheFirstOfARepeatedParameterCounts) {
  absl::StatusOr<TaskListQuery> q = ParseTaskListQuery({{"limit", "3"}, {"limit", "abc"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit, 3);
}

TEST(WorkerListQueryTest, DefaultsToMostAnswersFirst) {
  absl::StatusOr<WorkerListQuery> q = ParseWorkerListQuery({});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->sort, engine::WorkerSort::kAnswers);
  EXPECT_FALSE(q->ascending);
  EXPECT_EQ(q->limit, kDefaultLimit);
}

TEST(WorkerListQueryTest, ReadsSortAndOrder) {
  absl::StatusOr<WorkerListQuery> q = ParseWorkerListQuery({{"sort", "spam"}, {"order", "asc"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->sort, engine::WorkerSort::kSpam);
  EXPECT_TRUE(q->ascending);
}

TEST(WorkerListQueryTest, RejectsUnknownSortOrOrder) {
  EXPECT_FALSE(ParseWorkerListQuery({{"sort", "name"}}).ok());
  EXPECT_FALSE(ParseWorkerListQuery({{"order", "up"}}).ok());
  EXPECT_FALSE(ParseWorkerListQuery({{"limit", "0"}}).ok());
}

TEST(ExportQueryTest, DefaultsToCsvWithoutPosteriors) {
  absl::StatusOr<engine::ExportFormat> f = ParseExportQuery({});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->jsonl);
  EXPECT_FALSE(f->posteriors);
  EXPECT_EQ(f->min_confidence, 0);
}

TEST(ExportQueryTest, ReadsEveryParameter) {
  absl::StatusOr<engine::ExportFormat> f =
      ParseExportQuery({{"format", "jsonl"}, {"posteriors", "true"}, {"min_confidence", "0.75"}});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->jsonl);
  EXPECT_TRUE(f->posteriors);
  EXPECT_EQ(f->min_confidence, 0.75);
}

TEST(ExportQueryTest, RejectsMinConfidenceOutsideZeroToOneOrNotANumber) {
  for (const char* v : {"2", "-0.1", "high", "", "nan", "inf", "1e400"}) {
    absl::StatusOr<engine::ExportFormat> f = ParseExportQuery({{"min_confidence", v}});
    ASSERT_FALSE(f.ok()) << v;
    EXPECT_THAT(f.status().message(), HasSubstr("min_confidence must be a number in [0, 1]"));
  }
}

TEST(ExportQueryTest, RejectsUnknownFormatOrPosteriors) {
  EXPECT_FALSE(ParseExportQuery({{"format", "xml"}}).ok());
  EXPECT_FALSE(ParseExportQuery({{"posteriors", "1"}}).ok());
}

}  // namespace
}  // namespace consensusd::api
