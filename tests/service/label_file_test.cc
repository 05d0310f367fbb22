#include "service/label_file.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "consensus/aggregate.h"
#include "engine/consensus_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/result_csv.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using consensus::DuplicatePolicy;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class LabelFileTest : public ::testing::Test {
 protected:
  absl::StatusOr<Dataset> Load(const std::string& labels, const std::string& gold = "",
                               DuplicatePolicy duplicates = DuplicatePolicy::kKeepLast) {
    const std::string gold_path = gold.empty() ? "" : dir_.Write("gold.csv", gold);
    return LoadDataset(dir_.Write("labels.csv", labels), gold_path, duplicates);
  }
  std::string ErrorOf(const absl::StatusOr<Dataset>& d) {
    EXPECT_FALSE(d.ok());
    return std::string(d.status().message());
  }
  // The labels (as names) of task `task`'s answers, in stored order.
  static std::vector<std::string> LabelsOf(const Dataset& d, const std::string& task) {
    const int32_t t = d.tasks.Find(task);
    std::vector<std::string> out;
    for (int64_t a = d.matrix.task_begin[t]; a < d.matrix.task_begin[t + 1]; ++a) {
      out.emplace_back(d.classes.Name(d.matrix.label[a]));
    }
    return out;
  }

  TempDir dir_;
};

TEST_F(LabelFileTest, SkipsTaskWorkerLabelHeader) {
  absl::StatusOr<Dataset> d = Load("task,worker,label\nt1,w1,cat\nt1,w2,dog\nt2,w1,cat\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 3);
  EXPECT_THAT(d->tasks.names(), ElementsAre("t1", "t2"));
  EXPECT_THAT(d->workers.names(), ElementsAre("w1", "w2"));
  EXPECT_THAT(d->classes.names(), ElementsAre("cat", "dog"));
  EXPECT_EQ(d->matrix.num_answers(), 3);
  EXPECT_EQ(d->matrix.num_classes, 2);
}

TEST_F(LabelFileTest, ReadsFileWithoutHeaderByColumnOrder) {
  absl::StatusOr<Dataset> d = Load("item,annotator,answer\n1,2,3\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 2);  // a row that is not exactly the header is data
  EXPECT_THAT(d->tasks.names(), ElementsAre("item", "1"));
  EXPECT_THAT(d->classes.names(), ElementsAre("answer", "3"));
}

TEST_F(LabelFileTest, AHeaderInAnotherOrderSaysWhereEachColumnIs) {
  absl::StatusOr<Dataset> d = Load("label,worker,task\ncat,w1,t1\ndog,w2,t1\ncat,w1,t2\n",
                                   "label,task\ncat,t2\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 3);
  EXPECT_THAT(d->tasks.names(), ElementsAre("t1", "t2"));
  EXPECT_THAT(d->workers.names(), ElementsAre("w1", "w2"));
  EXPECT_THAT(d->classes.names(), ElementsAre("cat", "dog"));
  EXPECT_EQ(d->matrix.gold[d->tasks.Find("t2")], d->classes.Find("cat"));
}

TEST_F(LabelFileTest, MoreDistinctLabelsThanTheClassLimitIsAnErrorAtTheirLine) {
  std::string csv;
  for (int i = 0; i <= 1024; ++i) csv += "t" + std::to_string(i) + ",w,l" + std::to_string(i) + "\n";
  const std::string error = ErrorOf(Load(csv));
  EXPECT_THAT(error, HasSubstr("labels.csv:1025:"));
  EXPECT_THAT(error, HasSubstr("at most 1024 distinct labels"));
}

TEST_F(LabelFileTest, IdsAndLabelsHaveTheKafkaLimitAndWording) {
  const std::string error = ErrorOf(Load("t1,w1,cat\nt2," + std::string(257, 'w') + ",dog\n"));
  EXPECT_THAT(error, HasSubstr("labels.csv:2: worker is 257 bytes, the limit is 256"));
  EXPECT_TRUE(Load("t1," + std::string(256, 'w') + ",cat\n").ok());
}

TEST_F(LabelFileTest, ReadsQuotedIdsAndCrlf) {
  absl::StatusOr<Dataset> d = Load("task,worker,label\r\n\"t,1\",\"w \"\"x\"\"\",\"a\nb\"\r\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->tasks.names(), ElementsAre("t,1"));
  EXPECT_THAT(d->workers.names(), ElementsAre("w \"x\""));
  EXPECT_THAT(d->classes.names(), ElementsAre("a\nb"));
}

TEST_F(LabelFileTest, SkipsBlankLines) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\n\nt2,w1,b\n\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 2);
}

TEST_F(LabelFileTest, ReplacesEarlierAnswerFromSameWorker) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt1,w2,a\nt1,w1,b\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 3);
  EXPECT_EQ(d->matrix.num_answers(), 2);
  EXPECT_THAT(LabelsOf(*d, "t1"), UnorderedElementsAre("a", "b"));  // w2's a, w1's last b
}

TEST_F(LabelFileTest, CountsEveryRowWithDuplicatesAll) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt1,w2,a\nt1,w1,b\n", "", DuplicatePolicy::kKeepAll);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->matrix.num_answers(), 3);
  EXPECT_THAT(LabelsOf(*d, "t1"), ElementsAre("a", "a", "b"));
}

TEST_F(LabelFileTest, ReportsFileAndLineOfWrongColumnCount) {
  const std::string error = ErrorOf(Load("task,worker,label\nt1,w1,a\nt2,w1\n"));
  EXPECT_THAT(error, HasSubstr("labels.csv:3: expected 3 columns (task,worker,label), got 2"));
}

TEST_F(LabelFileTest, CountsLinesInsideQuotedFieldsInErrors) {
  const std::string error = ErrorOf(Load("t1,w1,\"multi\nline\"\nt2,w1,a,extra\n"));
  EXPECT_THAT(error, HasSubstr("labels.csv:3: expected 3 columns"));
}

TEST_F(LabelFileTest, RejectsEmptyWorker) {
  EXPECT_THAT(ErrorOf(Load("t1,w1,a\nt2,,a\n")), HasSubstr("labels.csv:2: empty worker"));
}

TEST_F(LabelFileTest, RejectsFileWithoutAnswers) {
  EXPECT_THAT(ErrorOf(Load("task,worker,label\n")), HasSubstr("no answers"));
}

TEST_F(LabelFileTest, NamesMissingFile) {
  absl::StatusOr<Dataset> d = LoadDataset(dir_.File("missing.csv"), "", DuplicatePolicy::kKeepLast);
  EXPECT_THAT(ErrorOf(d), HasSubstr("missing.csv"));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LabelFileTest, LoadsGoldForTasksWithAnswers) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt2,w1,b\nt3,w1,a\n", "task,label\nt2,a\nt9,b\n");
  ASSERT_TRUE(d.ok()) << d.status();
  const int32_t a = d->classes.Find("a");
  EXPECT_THAT(d->matrix.gold, ElementsAre(consensus::kNoGold, a, consensus::kNoGold));
  EXPECT_EQ(d->tasks.Find("t9"), consensus::IdTable::kNotFound);  // gold alone adds no task
}

TEST_F(LabelFileTest, AddsGoldClassUnseenAmongLabels) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt2,w1,a\n", "t1,z\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->classes.names(), ElementsAre("a", "z"));
  EXPECT_EQ(d->matrix.num_classes, 2);
  EXPECT_EQ(d->matrix.gold[0], d->classes.Find("z"));
  EXPECT_EQ(d->matrix.class_rank.size(), 2u);
}

TEST_F(LabelFileTest, ReportsLineOfBadGoldRow) {
  EXPECT_THAT(ErrorOf(Load("t1,w1,a\n", "task,label\nt1,a,b\n")),
              HasSubstr("gold.csv:2: expected 2 columns (task,label), got 3"));
}

TEST_F(LabelFileTest, RanksClassesBySortedName) {
  absl::StatusOr<Dataset> d = Load("t1,w1,b\nt1,w2,c\nt1,w3,a\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->matrix.class_rank, ElementsAre(1, 2, 0));  // b, c, a by first sight
}

TEST_F(LabelFileTest, LoadTruthReadsWithOrWithoutHeaderLastRowWins) {
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> with_header =
      LoadTruth(dir_.Write("truth.csv", "task,label\nt1,a\nt2,b\nt1,c\n"));
  ASSERT_TRUE(with_header.ok()) << with_header.status();
  EXPECT_THAT(*with_header, UnorderedElementsAre(Pair("t1", "c"), Pair("t2", "b")));

  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> without_header =
      LoadTruth(dir_.Write("truth2.csv", "t1,a\n"));
  ASSERT_TRUE(without_header.ok()) << without_header.status();
  EXPECT_THAT(*without_header, UnorderedElementsAre(Pair("t1", "a")));
}

TEST_F(LabelFileTest, AccuracyCountsOnlyTasksWithTruth) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt2,w1,b\nt3,w1,a\n");
  ASSERT_TRUE(d.ok()) << d.status();
  consensus::Model m;
  m.num_classes = 2;
  m.label = {d->classes.Find("a"), d->classes.Find("b"), d->classes.Find("b")};
  const AccuracyResult r = Accuracy(d->tasks.names(), d->classes.names(), m.label,
                                    {{"t1", "a"}, {"t3", "a"}, {"t7", "a"}});
  EXPECT_EQ(r.evaluated, 2);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.5);
}

TEST_F(LabelFileTest, AccuracyCountsATaskWithoutLabelAsWrong) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt2,w1,a\n");
  ASSERT_TRUE(d.ok()) << d.status();
  const std::vector<int32_t> labels = {d->classes.Find("a"), -1};
  const AccuracyResult r = Accuracy(d->tasks.names(), d->classes.names(), labels, {{"t1", "a"}, {"t2", "a"}});
  EXPECT_EQ(r.evaluated, 2);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.5);
}

TEST_F(LabelFileTest, AccuracyIsZeroWithNothingToEvaluate) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\n");
  ASSERT_TRUE(d.ok()) << d.status();
  consensus::Model m;
  m.label = {0};
  const AccuracyResult r = Accuracy(d->tasks.names(), d->classes.names(), m.label, {});
  EXPECT_EQ(r.evaluated, 0);
  EXPECT_EQ(r.accuracy, 0);
}

TEST(SharedDataTest, LoadsBluebirdsWithGold) {
  const std::string dir = std::string(CONSENSUSD_DATA_DIR) + "/bluebirds/";
  absl::StatusOr<Dataset> d =
      LoadDataset(dir + "labels.csv", dir + "gold.csv", DuplicatePolicy::kKeepLast);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->tasks.size(), 108);
  EXPECT_EQ(d->workers.size(), 39);
  EXPECT_EQ(d->matrix.num_answers(), 4212);
  int gold = 0;
  for (int32_t g : d->matrix.gold) gold += g != consensus::kNoGold;
  EXPECT_EQ(gold, 108);
}

// The two-thread reader (files of at least pipelined_min_bytes) against the
// one-thread reader on the same files: the same tables, the same matrix, the
// same errors. Files of many batches (16,384 rows each), tasks grouped and not.
class PipelinedLoadTest : public ::testing::Test {
 protected:
  static constexpr int64_t kAlways = 0;
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // rows answers: task ids in runs of `run` rows (run 0: scattered), a few
  // quoted ids with commas and newlines, CRLF line ends.
  static std::string MakeFile(int rows, int run, const std::string& header) {
    std::mt19937 rng(5);
    std::string text = header;
    for (int i = 0; i < rows; ++i) {
      const int task = run > 0 ? i / run : static_cast<int>(rng() % 9000);
      const std::string name = i % 997 == 0 ? absl::StrCat("\"t,", task, "\n\"\"x\"") : absl::StrCat("t", task);
      const char label[2] = {"abcde"[rng() % 5], 0};
      absl::StrAppend(&text, name, ",w", rng() % 300, ",", label, i % 2 ? "\r\n" : "\n");
    }
    return text;
  }
  absl::StatusOr<Dataset> Load(const std::string& text, int64_t pipelined_min_bytes,
                               DuplicatePolicy duplicates = DuplicatePolicy::kKeepAll) {
    return LoadDataset(dir_.Write("labels.csv", text), "", duplicates, pipelined_min_bytes);
  }
  static void ExpectSame(const Dataset& a, const Dataset& b) {
    EXPECT_EQ(a.tasks.names(), b.tasks.names());
    EXPECT_EQ(a.workers.names(), b.workers.names());
    EXPECT_EQ(a.classes.names(), b.classes.names());
    EXPECT_EQ(a.rows, b.rows);
    EXPECT_EQ(a.matrix.task_begin, b.matrix.task_begin);
    EXPECT_EQ(a.matrix.worker, b.matrix.worker);
    EXPECT_EQ(a.matrix.label, b.matrix.label);
    EXPECT_EQ(a.matrix.class_rank, b.matrix.class_rank);
  }

  TempDir dir_;
};

TEST_F(PipelinedLoadTest, GivesTheOneThreadResultForGroupedAndScatteredTasks) {
  for (int run : {0, 1, 5, 40000}) {
    for (const char* header : {"", "task,worker,label\n", "label,task,worker\n"}) {
      SCOPED_TRACE(::testing::Message() << "run " << run << ", header '" << header << "'");
      std::string text = MakeFile(70000, run, "");
      if (std::string(header) == "label,task,worker\n") {
        // The same answers with the columns in the header's order.
        absl::StatusOr<Dataset> plain = Load(text, kNever);
        ASSERT_TRUE(plain.ok()) << plain.status();
        std::string moved = header;
        for (int64_t t = 0; t < plain->matrix.num_tasks; ++t) {
          for (int64_t a = plain->matrix.task_begin[t]; a < plain->matrix.task_begin[t + 1]; ++a) {
            absl::StrAppend(&moved, std::string(plain->classes.Name(plain->matrix.label[a])), ",\"",
                            absl::StrReplaceAll(std::string(plain->tasks.Name(static_cast<int32_t>(t))),
                                                {{"\"", "\"\""}}),
                            "\",", std::string(plain->workers.Name(plain->matrix.worker[a])), "\n");
          }
        }
        text = moved;
      } else {
        text = header + text;
      }
      absl::StatusOr<Dataset> one = Load(text, kNever);
      absl::StatusOr<Dataset> two = Load(text, kAlways);
      ASSERT_TRUE(one.ok()) << one.status();
      ASSERT_TRUE(two.ok()) << two.status();
      EXPECT_EQ(two->rows, 70000);
      ExpectSame(*one, *two);
    }
  }
}

TEST_F(PipelinedLoadTest, KeepsTheLastAnswerAsTheOneThreadReaderDoes) {
  const std::string text = MakeFile(50000, 0, "task,worker,label\n");
  absl::StatusOr<Dataset> one = Load(text, kNever, DuplicatePolicy::kKeepLast);
  absl::StatusOr<Dataset> two = Load(text, kAlways, DuplicatePolicy::kKeepLast);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_LT(two->matrix.num_answers(), 50000) << "the file has repeated (task, worker) pairs";
  ExpectSame(*one, *two);
}

// An error several batches in stops the load with the one-thread reader's
// message and line, and the reader's thread ends (no hang, no crash).
TEST_F(PipelinedLoadTest, AnErrorDeepInTheFileIsReportedAtItsLine) {
  const std::string good = MakeFile(60000, 5, "task,worker,label\n");
  const std::string good_tail = MakeFile(20000, 5, "");
  int64_t lines = 0;
  for (char c : good) lines += c == '\n';
  for (const std::string& bad : {std::string("t1,w1\n"), std::string("t1,,a\n"),
                                 absl::StrCat("t1,w1,", std::string(300, 'x'), "\n")}) {
    const std::string text = good + bad + good_tail;
    absl::StatusOr<Dataset> one = Load(text, kNever);
    absl::StatusOr<Dataset> two = Load(text, kAlways);
    ASSERT_FALSE(one.ok());
    ASSERT_FALSE(two.ok());
    EXPECT_EQ(two.status(), one.status());
    EXPECT_THAT(std::string(two.status().message()), HasSubstr(absl::StrCat("labels.csv:", lines + 1, ": ")));
  }
}

TEST_F(PipelinedLoadTest, TheClassLimitIsTheSameErrorAtTheSameLine) {
  std::string text = MakeFile(40000, 5, "");
  for (int c = 0; c < 1100; ++c) absl::StrAppend(&text, "tx,w", c, ",class", c, "\n");
  absl::StatusOr<Dataset> one = Load(text, kNever);
  absl::StatusOr<Dataset> two = Load(text, kAlways);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(two.status(), one.status());
  EXPECT_THAT(std::string(two.status().message()), HasSubstr("at most 1024 distinct labels"));
}

TEST_F(PipelinedLoadTest, AnUnterminatedQuoteIsTheSameError) {
  const std::string text = MakeFile(40000, 3, "") + "\"t1,w1,a\n";
  absl::StatusOr<Dataset> one = Load(text, kNever);
  absl::StatusOr<Dataset> two = Load(text, kAlways);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(two.status(), one.status());
}

TEST_F(PipelinedLoadTest, ASmallFileStillLoadsOnTwoThreads) {
  absl::StatusOr<Dataset> d = Load("t1,w1,a\nt1,w2,b\nt2,w1,a\n", kAlways);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->tasks.names(), ElementsAre("t1", "t2"));
  EXPECT_EQ(d->matrix.num_answers(), 3);
}

// The labels CSV written on two threads (chunks of 16,384 rows, odd chunks
// formatted by a second thread) has the bytes of one thread's rows, in task
// order: about 70,000 tasks make five chunks, the last one short.
TEST_F(PipelinedLoadTest, TheLabelsCsvWrittenInChunksHasTheBytesOfOneThread) {
  for (bool posteriors : {false, true}) {
    absl::StatusOr<Dataset> d = Load(MakeFile(140000, 2, "task,worker,label\n"), kAlways);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_GT(d->tasks.size(), 4 * 16384) << "five chunks, the last one short";
    absl::StatusOr<consensus::Model> model = consensus::Aggregate(d->matrix, {});
    ASSERT_TRUE(model.ok()) << model.status();
    std::string want;
    engine::AppendLabelsHeader(d->classes.names(), posteriors, want);
    for (int32_t t = 0; t < d->tasks.size(); ++t) {
      const std::span<const double> p = model->Posterior(t);
      const int32_t label = model->label[t];
      engine::AppendLabelsRow(d->tasks.Name(t), d->classes.Name(label), p[label], p, posteriors, want);
    }
    const std::string path = dir_.File("out.csv");
    ASSERT_TRUE(WriteLabelsCsv(d->tasks, d->classes, *model, posteriors, path).ok());
    std::ifstream in(path, std::ios::binary);
    const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "posteriors " << posteriors;
  }
}

TEST(SharedDataTest, Adult2RepeatedPairsCountOnceUnlessDuplicatesAll) {
  const std::string labels = std::string(CONSENSUSD_DATA_DIR) + "/adult2/labels.csv";
  absl::StatusOr<Dataset> all = LoadDataset(labels, "", DuplicatePolicy::kKeepAll);
  absl::StatusOr<Dataset> last = LoadDataset(labels, "", DuplicatePolicy::kKeepLast);
  ASSERT_TRUE(all.ok() && last.ok());
  EXPECT_EQ(all->matrix.num_answers(), 92721);  // every row, as crowd-kit counts them
  EXPECT_EQ(last->rows, 92721);
  EXPECT_LT(last->matrix.num_answers(), 92721 - 2000);  // 2,918 pairs repeat
}

}  // namespace
}  // namespace consensusd::service
