// Engine views: Tasks (keyset paging by id, the review filter, paging while
// answers arrive), Workers (sorts, ties, cursors), Task and Worker lookups,
// and ExportChunk (chunks add up to one export; the confidence filter).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class EngineViewsTest : public EngineTest {
 protected:
  absl::StatusOr<Page<TaskView>> TasksPage(std::string_view after, int64_t limit,
                                           int review_filter = -1) {
    return engine_->Tasks(kProject, after, limit, review_filter);
  }
  static std::vector<std::string> Ids(const Page<TaskView>& page) {
    std::vector<std::string> out;
    for (const TaskView& t : page.items) out.push_back(t.task);
    return out;
  }
  static std::vector<std::string> Ids(const Page<WorkerRow>& page) {
    std::vector<std::string> out;
    for (const WorkerRow& r : page.items) out.push_back(r.worker);
    return out;
  }

  // Every task id, page by page.
  std::vector<std::string> AllTaskIds(int64_t limit, int review_filter = -1) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<Page<TaskView>> page = TasksPage(cursor, limit, review_filter);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const TaskView& t : page->items) out.push_back(t.task);
      if (page->next_cursor.empty()) break;
      cursor = page->next_cursor;
    }
    return out;
  }

  // Every worker, page by page.
  std::vector<std::string> AllWorkerIds(WorkerSort sort, bool ascending, int64_t limit) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<Page<WorkerRow>> page = engine_->Workers(kProject, sort, ascending, cursor, limit);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const WorkerRow& r : page->items) out.push_back(r.worker);
      if (page->next_cursor.empty()) break;
      cursor = page->next_cursor;
    }
    return out;
  }

  // The whole export in chunks of `chunk` tasks.
  std::string Export(const ExportFormat& format, int32_t chunk) {
    std::string out;
    int32_t from = 0;
    for (int calls = 0; from >= 0 && calls < 10000; ++calls) {
      absl::StatusOr<int32_t> next = engine_->ExportChunk(kProject, format, from, chunk, &out);
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok()) break;
      from = *next;
    }
    EXPECT_EQ(from, -1);
    return out;
  }

  // Workers with 3, 3, 2, 2 and 1 answers; one id holds a space.
  void FeedWorkers() {
    for (const char* t : {"t1", "t2", "t3"}) {
      Answer(t, "w-a", "x");
      Answer(t, "w-b", "x");
    }
    Answer("t1", "w-d", "x");
    Answer("t2", "w-d", "y");
    Answer("t1", "w e", "y");
    Answer("t3", "w e", "y");
    Answer("t2", "w-c", "x");
    Commit();
  }
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out = absl::StrSplit(text, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// --- Tasks ---

TEST_F(EngineViewsTest, TasksAreOrderedByIdBytewise) {
  for (const char* t : {"b", "a", "B", "a/1", "a b", "\xc3\xa9"}) Answer(t, "w1", "x");
  Commit();
  absl::StatusOr<Page<TaskView>> page = TasksPage("", 100);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre("B", "a", "a b", "a/1", "b", "\xc3\xa9"));
  EXPECT_EQ(page->total, 6);
  EXPECT_EQ(page->next_cursor, "");
}

TEST_F(EngineViewsTest, TasksPageHoldsAtMostLimitAndNamesTheNextCursor) {
  for (const char* t : {"t5", "t1", "t4", "t2", "t3"}) Answer(t, "w1", "x");
  Commit();
  absl::StatusOr<Page<TaskView>> first = TasksPage("", 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Ids(*first), ElementsAre("t1", "t2"));
  EXPECT_EQ(first->next_cursor, "t2");
  EXPECT_EQ(first->total, 5);
  absl::StatusOr<Page<TaskView>> second = TasksPage(first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(Ids(*second), ElementsAre("t3", "t4"));
  EXPECT_EQ(second->next_cursor, "t4");
  absl::StatusOr<Page<TaskView>> last = TasksPage(second->next_cursor, 2);
  ASSERT_TRUE(last.ok());
  EXPECT_THAT(Ids(*last), ElementsAre("t5"));
  EXPECT_EQ(last->next_cursor, "");
  EXPECT_EQ(last->total, 5);
}

TEST_F(EngineViewsTest, ExactlyFullLastPageHasNoNextCursor) {
  for (const char* t : {"t1", "t2", "t3", "t4"}) Answer(t, "w1", "x");
  Commit();
  absl::StatusOr<Page<TaskView>> second = TasksPage("t2", 2);
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(Ids(*second), ElementsAre("t3", "t4"));
  EXPECT_EQ(second->next_cursor, "");
}

TEST_F(EngineViewsTest, CursorNeedNotBeATaskId) {
  for (const char* t : {"a1", "b1", "c1"}) Answer(t, "w1", "x");
  Commit();
  absl::StatusOr<Page<TaskView>> page = TasksPage("b", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(*page), ElementsAre("b1", "c1"));
}

TEST_F(EngineViewsTest, ReviewFilterListsOnlyTasksThatNeedReviewOrOnlyThoseThatDoNot) {
  Settings().review.min_answers = 2;
  Settings().review.min_confidence = 0.9;
  for (const char* t : {"agree1", "agree2", "agree3", "agree4"}) {
    const char* label = t[5] < '3' ? "x" : "y";
    Answer(t, "w1", label);
    Answer(t, "w2", label);
    Answer(t, "w3", label);
  }
  Answer("split", "w1", "x");
  Answer("split", "w2", "y");
  Answer("single", "w3", "y");  // one answer: below review.min_answers
  Commit();
  Sweep();
  std::set<std::string> review, fine;
  for (const auto& [task, c] : ConsensusOf()) {
    (engine_->Task(kProject, task)->needs_review ? review : fine).insert(task);
  }
  ASSERT_TRUE(review.contains("split"));
  ASSERT_TRUE(fine.contains("single"));
  absl::StatusOr<Page<TaskView>> needing = TasksPage("", 100, /*review_filter=*/1);
  ASSERT_TRUE(needing.ok());
  const std::vector<std::string> needing_ids = Ids(*needing);
  EXPECT_EQ(std::set<std::string>(needing_ids.begin(), needing_ids.end()), review);
  EXPECT_EQ(needing->total, static_cast<int64_t>(review.size()));
  for (const TaskView& t : needing->items) EXPECT_TRUE(t.needs_review) << t.task;
  absl::StatusOr<Page<TaskView>> not_needing = TasksPage("", 100, /*review_filter=*/0);
  ASSERT_TRUE(not_needing.ok());
  const std::vector<std::string> not_needing_ids = Ids(*not_needing);
  EXPECT_EQ(std::set<std::string>(not_needing_ids.begin(), not_needing_ids.end()), fine);
  EXPECT_EQ(not_needing->total, static_cast<int64_t>(fine.size()));
}

TEST_F(EngineViewsTest, ReviewFilterPagesLikeTheWholeList) {
  Settings().review.min_answers = 2;
  Settings().review.min_confidence = 0.99;
  for (int i = 0; i < 9; ++i) {
    const std::string t = "t" + std::to_string(i);
    Answer(t, "w1", "x");
    Answer(t, "w2", i % 3 == 0 ? "x" : "y");
  }
  Commit();
  const std::vector<std::string> whole = AllTaskIds(1000, 1);
  ASSERT_FALSE(whole.empty());
  EXPECT_EQ(AllTaskIds(2, 1), whole);
}

TEST_F(EngineViewsTest, TasksOfAnUnknownProjectIsNotFound) {
  absl::StatusOr<Page<TaskView>> page = engine_->Tasks("nope", "", 10, -1);
  EXPECT_TRUE(absl::IsNotFound(page.status())) << page.status();
}

TEST_F(EngineViewsTest, PagingWhileAnswersArriveListsEveryTaskOfTheStartExactlyOnce) {
  std::set<std::string> at_start;
  for (int i = 0; i < 40; i += 2) {
    char id[8];
    std::snprintf(id, sizeof id, "t%02d", i);
    Answer(id, "w1", "x");
    at_start.insert(id);
  }
  Commit();
  std::vector<std::string> seen;
  std::string cursor;
  for (int page_no = 0; page_no < 100; ++page_no) {
    absl::StatusOr<Page<TaskView>> page = TasksPage(cursor, 3);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const TaskView& t : page->items) seen.push_back(t.task);
    if (page->next_cursor.empty()) break;
    cursor = page->next_cursor;
    // Between pages: new answers to existing tasks and new tasks on both
    // sides of the cursor.
    char id[8];
    std::snprintf(id, sizeof id, "t%02d", 2 * page_no + 1);
    Answer(id, "w2", "y");
    Answer("t00", "w" + std::to_string(page_no + 3), "y");
    Answer(*at_start.rbegin(), "w" + std::to_string(page_no + 3), "x");
    Answer("u" + std::to_string(page_no), "w1", "x");
    Commit();
  }
  const std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a task was listed twice";
  for (const std::string& t : at_start) EXPECT_EQ(std::count(seen.begin(), seen.end(), t), 1) << t;
}

// --- Task and Worker lookups ---

TEST_F(EngineViewsTest, TaskViewHoldsTheConsensusAndTheAnswers) {
  Answer("t1", "w1", "x");
  Answer("t1", "w2", "x");
  Gold("t1", "x");
  Commit();
  std::optional<TaskView> t = engine_->Task(kProject, "t1");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->project, kProject);
  EXPECT_EQ(t->task, "t1");
  EXPECT_EQ(t->label, "x");
  EXPECT_EQ(t->gold, "x");
  EXPECT_EQ(t->answers.size(), 2u);
  ASSERT_EQ(t->posterior.size(), 1u);
  EXPECT_EQ(t->posterior[0].first, "x");
  EXPECT_DOUBLE_EQ(t->confidence, t->posterior[0].second);
}

TEST_F(EngineViewsTest, UnknownTaskOrWorkerHasNoView) {
  Answer("t1", "w1", "x");
  Commit();
  EXPECT_EQ(engine_->Task(kProject, "t2"), std::nullopt);
  EXPECT_EQ(engine_->Task("nope", "t1"), std::nullopt);
  EXPECT_EQ(engine_->Worker(kProject, "w2"), std::nullopt);
  EXPECT_EQ(engine_->Worker("nope", "w1"), std::nullopt);
  EXPECT_EQ(engine_->ProjectDetail("nope"), std::nullopt);
  EXPECT_TRUE(engine_->Worker(kProject, "w1").has_value());
}

TEST_F(EngineViewsTest, WorkerViewHasAConfusionRowPerClass) {
  Answer("t1", "w1", "x");
  Answer("t2", "w1", "y");
  Answer("t3", "w1", "z");
  Commit();
  Sweep();
  std::optional<WorkerView> w = engine_->Worker(kProject, "w1");
  ASSERT_TRUE(w.has_value());
  EXPECT_THAT(w->classes, ElementsAre("x", "y", "z"));
  ASSERT_EQ(w->confusion.size(), 3u);
  for (const std::vector<double>& row : w->confusion) {
    ASSERT_EQ(row.size(), 3u);
    EXPECT_NEAR(row[0] + row[1] + row[2], 1.0, 1e-9);
  }
  EXPECT_EQ(w->answers, 3);
}

// --- Workers ---

TEST_F(EngineViewsTest, WorkersByAnswersDescendingBreakTiesByWorkerId) {
  FeedWorkers();
  absl::StatusOr<Page<WorkerRow>> page = engine_->Workers(kProject, WorkerSort::kAnswers, false, "", 100);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre("w-a", "w-b", "w e", "w-d", "w-c"));
  EXPECT_EQ(page->total, 5);
  EXPECT_EQ(page->next_cursor, "");
}

TEST_F(EngineViewsTest, WorkersByAnswersAscendingBreakTiesByWorkerId) {
  FeedWorkers();
  absl::StatusOr<Page<WorkerRow>> page = engine_->Workers(kProject, WorkerSort::kAnswers, true, "", 100);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre("w-c", "w e", "w-d", "w-a", "w-b"));
}

TEST_F(EngineViewsTest, WorkersAreSortedByAccuracyAndBySpamScore) {
  FeedWorkers();
  Sweep();
  for (const WorkerSort sort : {WorkerSort::kAccuracy, WorkerSort::kSpam}) {
    for (const bool ascending : {true, false}) {
      absl::StatusOr<Page<WorkerRow>> page = engine_->Workers(kProject, sort, ascending, "", 100);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_EQ(page->items.size(), 5u);
      for (size_t i = 1; i < page->items.size(); ++i) {
        const WorkerRow& a = page->items[i - 1];
        const WorkerRow& b = page->items[i];
        const double ka = sort == WorkerSort::kAccuracy ? a.accuracy : a.spam_score;
        const double kb = sort == WorkerSort::kAccuracy ? b.accuracy : b.spam_score;
        if (ka == kb) {
          EXPECT_LT(a.worker, b.worker);
        } else {
          EXPECT_EQ(ka < kb, ascending) << a.worker << " " << ka << " then " << b.worker << " " << kb;
        }
      }
    }
  }
}

TEST_F(EngineViewsTest, WorkerCursorsCoverEveryWorkerExactlyOnceInEverySort) {
  FeedWorkers();
  Sweep();
  for (const WorkerSort sort : {WorkerSort::kAnswers, WorkerSort::kAccuracy, WorkerSort::kSpam}) {
    for (const bool ascending : {true, false}) {
      const std::vector<std::string> whole = AllWorkerIds(sort, ascending, 100);
      ASSERT_EQ(whole.size(), 5u);
      EXPECT_EQ(AllWorkerIds(sort, ascending, 2), whole);
      EXPECT_EQ(AllWorkerIds(sort, ascending, 1), whole);
    }
  }
}

TEST_F(EngineViewsTest, MalformedWorkerCursorIsInvalidArgument) {
  FeedWorkers();
  for (const char* cursor : {"garbage", "1.5x w-a", " w-a", "x1 w-a"}) {
    absl::StatusOr<Page<WorkerRow>> page =
        engine_->Workers(kProject, WorkerSort::kAnswers, false, cursor, 10);
    EXPECT_TRUE(absl::IsInvalidArgument(page.status())) << cursor << ": " << page.status();
  }
}

TEST_F(EngineViewsTest, WorkersOfAnUnknownProjectIsNotFound) {
  absl::StatusOr<Page<WorkerRow>> page = engine_->Workers("nope", WorkerSort::kAnswers, false, "", 10);
  EXPECT_TRUE(absl::IsNotFound(page.status())) << page.status();
}

// --- Export ---

class EngineExportTest : public EngineViewsTest {
 protected:
  void SetUp() override {
    for (int i = 0; i < 7; ++i) {
      const std::string t = "t" + std::to_string(i);
      Answer(t, "w1", "x");
      Answer(t, "w2", i % 2 ? "x" : "y");
      if (i < 3) Answer(t, "w3", "x");
    }
    Answer("gone", "w1", "x");
    Commit();
    Retract("gone", "w1");
    Commit();
    Sweep();
  }
};

TEST_F(EngineExportTest, CsvStartsWithTheHeaderAndHasARowPerListedTask) {
  const std::vector<std::string> lines = Lines(Export(ExportFormat{}, 1000));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "task,label,confidence");
  std::map<std::string, Consensus> expected = ConsensusOf();
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = absl::StrSplit(lines[i], ',');
    ASSERT_EQ(fields.size(), 3u) << lines[i];
    ASSERT_TRUE(expected.contains(fields[0])) << lines[i];
    EXPECT_EQ(fields[1], expected[fields[0]].first);
    EXPECT_EQ(std::stod(fields[2]), expected[fields[0]].second);
  }
}

TEST_F(EngineExportTest, CsvWithPosteriorsHasAColumnPerClass) {
  ExportFormat format;
  format.posteriors = true;
  const std::vector<std::string> lines = Lines(Export(format, 1000));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "task,label,confidence,p:x,p:y");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = absl::StrSplit(lines[i], ',');
    ASSERT_EQ(fields.size(), 5u) << lines[i];
    EXPECT_NEAR(std::stod(fields[3]) + std::stod(fields[4]), 1.0, 1e-9) << lines[i];
  }
}

TEST_F(EngineExportTest, CsvInChunksEqualsOneChunk) {
  for (const bool posteriors : {false, true}) {
    ExportFormat format;
    format.posteriors = posteriors;
    const std::string whole = Export(format, 1000);
    EXPECT_EQ(Export(format, 1), whole);
    EXPECT_EQ(Export(format, 3), whole);
  }
}

TEST_F(EngineExportTest, JsonlInChunksEqualsOneChunk) {
  ExportFormat format;
  format.jsonl = true;
  // updated_ms is the time of the export call.
  auto without_time = [](const std::string& s) {
    return std::regex_replace(s, std::regex("\"updated_ms\":[0-9]+"), "\"updated_ms\":0");
  };
  const std::string whole = without_time(Export(format, 1000));
  EXPECT_EQ(Lines(whole).size(), 7u);
  EXPECT_THAT(whole, StartsWith("{\"project\":\"p\","));
  EXPECT_EQ(without_time(Export(format, 1)), whole);
  EXPECT_EQ(without_time(Export(format, 4)), whole);
}

TEST_F(EngineExportTest, MinConfidenceLeavesOutLessConfidentTasks) {
  const std::map<std::string, Consensus> all = ConsensusOf();
  double low = 1, high = 0;
  for (const auto& [task, c] : all) {
    low = std::min(low, c.second);
    high = std::max(high, c.second);
  }
  ASSERT_LT(low, high);
  ExportFormat format;
  format.min_confidence = (low + high) / 2;
  std::set<std::string> expected;
  for (const auto& [task, c] : all) {
    if (c.second >= format.min_confidence) expected.insert(task);
  }
  std::set<std::string> exported;
  const std::vector<std::string> lines = Lines(Export(format, 2));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "task,label,confidence");
  for (size_t i = 1; i < lines.size(); ++i) exported.insert(lines[i].substr(0, lines[i].find(',')));
  EXPECT_EQ(exported, expected);
  EXPECT_LT(exported.size(), all.size());
}

TEST_F(EngineExportTest, ExportOfAnUnknownProjectIsNotFound) {
  std::string out;
  absl::StatusOr<int32_t> next = engine_->ExportChunk("nope", ExportFormat{}, 0, 10, &out);
  EXPECT_TRUE(absl::IsNotFound(next.status())) << next.status();
  EXPECT_THAT(out, IsEmpty());
}

}  // namespace
}  // namespace consensusd::engine
