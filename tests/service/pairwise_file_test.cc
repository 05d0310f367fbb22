// Reading pairwise votes files and the `--kind pairwise` commands end to end.

#include "service/pairwise_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/subprocess.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using ::testing::HasSubstr;

TEST(PairwiseFileTest, ReadsCrowdKitLayoutWithTheWinnerAsLabel) {
  TempDir dir;
  const std::string path = dir.Write("votes.csv",
                                     "worker,left,right,label\n"
                                     "w1,a,b,a\n"
                                     "w2,a,b,b\n"
                                     "w1,b,c,tie\n");
  absl::StatusOr<PairwiseDataset> d = LoadComparisons(path);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->comparisons.num_tasks(), 3);  // one comparison per row
  EXPECT_EQ(d->comparisons.num_items, 3);
  EXPECT_EQ(d->comparisons.num_raters, 2);
  EXPECT_EQ(d->comparisons.outcome[0], consensus::kLeft);
  EXPECT_EQ(d->comparisons.outcome[1], consensus::kRight);
  EXPECT_EQ(d->comparisons.outcome[2], consensus::kTie);
}

TEST(PairwiseFileTest, VotesOfOneTaskShareItAndMayShowItSwapped) {
  TempDir dir;
  const std::string path = dir.Write("votes.csv",
                                     "task,worker,left,right,label\n"
                                     "cmp-1,r1,resp-a,resp-b,left\n"
                                     "cmp-1,r2,resp-b,resp-a,right\n");
  absl::StatusOr<PairwiseDataset> d = LoadComparisons(path);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->comparisons.num_tasks(), 1);
  EXPECT_EQ(d->comparisons.swapped[0], 0);
  EXPECT_EQ(d->comparisons.swapped[1], 1);
}

TEST(PairwiseFileTest, HeaderIsOptional) {
  TempDir dir;
  absl::StatusOr<PairwiseDataset> d = LoadComparisons(dir.Write("votes.csv", "w1,a,b,left\nw2,a,b,right\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->comparisons.num_votes(), 2);
}

TEST(PairwiseFileTest, ErrorsNameTheFileLineAndFix) {
  TempDir dir;
  auto error = [&](const std::string& text) {
    absl::StatusOr<PairwiseDataset> d = LoadComparisons(dir.Write("votes.csv", text));
    return d.ok() ? std::string("ok") : std::string(d.status().message());
  };
  EXPECT_THAT(error("worker,left,right,label\nw1,a,b,c\n"), HasSubstr("votes.csv:2: label 'c'"));
  EXPECT_THAT(error("worker,left,right,label\nw1,a,a,a\n"), HasSubstr("compared with itself"));
  EXPECT_THAT(error("task,worker,left,right,label\nt,w1,a,b,a\nt,w2,a,c,a\n"),
              HasSubstr("votes.csv:3: task 't' compares 'a' and 'c' here but 'a' and 'b' before"));
  EXPECT_THAT(error("worker,left,right,label\nw1,a,b\n"), HasSubstr("expected 4 columns"));
}

class PairwiseCliTest : public ::testing::Test {
 protected:
  tests::RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), CONSENSUSD_BINARY);
    return tests::RunProgram(args);
  }
  TempDir dir_;
};

TEST_F(PairwiseCliTest, SynthThenAggregateRanksTheItemsAndFlagsCarelessRaters) {
  const tests::RunResult synth = Run({"synth", "--kind", "pairwise", "--comparisons", "8000",
                                      "--items", "20", "--workers", "40", "--out", dir_.path()});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const tests::RunResult r =
      Run({"aggregate", "--kind", "pairwise", "--labels", dir_.File("labels.csv"), "--truth",
           dir_.File("truth.csv"), "--bootstrap", "20", "--out", dir_.File("leaderboard.csv"),
           "--workers-out", dir_.File("raters.csv"), "--comparisons-out", dir_.File("cmp.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("8000 votes on 8000 comparisons of 20 items by 40 workers"));
  const size_t at = r.out.find("spearman");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GE(std::atof(r.out.c_str() + at + 8), 0.9) << r.out;
  EXPECT_THAT(r.out, HasSubstr("careless        8 of 40 workers flagged")) << r.out;
}

TEST_F(PairwiseCliTest, RatingSynthThenAggregateBeatsThePerTaskMean) {
  const tests::RunResult synth = Run({"synth", "--kind", "rating", "--tasks", "3000", "--workers",
                                      "60", "--answers-per-task", "3", "--out", dir_.path()});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const tests::RunResult r =
      Run({"aggregate", "--kind", "rating", "--labels", dir_.File("labels.csv"), "--truth",
           dir_.File("truth.csv"), "--scale", "1..7", "--out", dir_.File("ratings.csv"),
           "--workers-out", dir_.File("raters.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t at = r.out.find("mean abs error");
  ASSERT_NE(at, std::string::npos) << r.out;
  const double ours = std::atof(r.out.c_str() + at + 14);
  const size_t mean_at = r.out.find("ratings: ", at);
  ASSERT_NE(mean_at, std::string::npos) << r.out;
  EXPECT_LT(ours, std::atof(r.out.c_str() + mean_at + 9)) << r.out;
  const tests::RunResult bad =
      Run({"aggregate", "--kind", "rating", "--labels", dir_.File("labels.csv"), "--scale", "7..1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--scale '7..1' is not MIN..MAX"));
}

TEST_F(PairwiseCliTest, UnknownKindExitsTwo) {
  const tests::RunResult r = Run({"aggregate", "--kind", "ratings", "--labels", "x.csv"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown --kind 'ratings'"));
}

}  // namespace
}  // namespace consensusd::service
