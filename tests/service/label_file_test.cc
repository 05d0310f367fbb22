#include "service/label_file.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
