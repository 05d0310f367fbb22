// The forms consensusd writes a consensus in: the output topics' key, the
// consensus-label CSV (SPEC 5.1), JSON strings and probabilities.

#include "engine/consensus_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace consensusd::engine {
namespace {

// --- ConsensusKey ---

TEST(ConsensusKeyTest, JoinsProjectAndTaskWithASlash) {
  EXPECT_EQ(ConsensusKey("sentiment-v2", "t-10442"), "sentiment-v2/t-10442");
}

TEST(ConsensusKeyTest, EscapesASlashInTheProject) { EXPECT_EQ(ConsensusKey("a/b", "c"), "a%2Fb/c"); }

TEST(ConsensusKeyTest, EscapesASlashInTheTask) { EXPECT_EQ(ConsensusKey("a", "b/c"), "a/b%2Fc"); }

TEST(ConsensusKeyTest, EscapesPercentSigns) {
  EXPECT_EQ(ConsensusKey("100%", "50%"), "100%25/50%25");
  EXPECT_EQ(ConsensusKey("a%2Fb", "c"), "a%252Fb/c");
}

TEST(ConsensusKeyTest, KeepsOtherBytes) {
  EXPECT_EQ(ConsensusKey("p q", std::string("t\0\xff", 3)), std::string("p q/t\0\xff", 7));
}

// Ids drawn mostly from the bytes that matter to the escaping.
rc::Gen<std::string> TrickyId() {
  return rc::gen::container<std::string>(rc::gen::element('/', '%', '2', 'F', '5', 'a'));
}

RC_GTEST_PROP(ConsensusKeyProperty, DistinctPairsNeverShareAKey, ()) {
  const std::string p1 = *TrickyId(), t1 = *TrickyId();
  const std::string p2 = *TrickyId(), t2 = *TrickyId();
  RC_PRE(p1 != p2 || t1 != t2);
  RC_ASSERT(ConsensusKey(p1, t1) != ConsensusKey(p2, t2));
}

RC_GTEST_PROP(ConsensusKeyProperty, IdsWithoutSlashOrPercentReadAsTheyAre, ()) {
  const std::string project = *rc::gen::container<std::string>(rc::gen::element('a', 'b', '-', ' ', '2'));
  const std::string task = *rc::gen::container<std::string>(rc::gen::element('x', '.', '_', 'F'));
  RC_ASSERT(ConsensusKey(project, task) == project + "/" + task);
}

// --- The consensus-label CSV ---

// The rule of docs/api.md (issue 9): cells that a spreadsheet would run as a
// formula are data, written as they are, so that exports read back unchanged.
TEST(LabelsCsvTest, CellsThatLookLikeFormulasAreWrittenAsTheyAre) {
  for (std::string_view cell : {"=1+1", "+1", "-1", "@SUM(A1)", "=HYPERLINK(\"x\")"}) {
    std::string out;
    AppendCsvField(out, cell);
    const std::string expected =
        cell.find('"') == std::string_view::npos ? std::string(cell) : "\"=HYPERLINK(\"\"x\"\")\"";
    EXPECT_EQ(out, expected) << cell;
  }
}

TEST(LabelsCsvTest, HeaderStartsWithTaskLabelConfidence) {
  std::string out;
  AppendLabelsHeader({"cat", "dog"}, /*posteriors=*/false, out);
  EXPECT_EQ(out, "task,label,confidence\n");
}

TEST(LabelsCsvTest, HeaderWithPosteriorsAddsOneColumnPerClass) {
  std::string out;
  AppendLabelsHeader({"cat", "dog"}, /*posteriors=*/true, out);
  EXPECT_EQ(out, "task,label,confidence,p:cat,p:dog\n");
}

TEST(LabelsCsvTest, HeaderQuotesAClassColumnThatNeedsIt) {
  std::string out;
  AppendLabelsHeader({"a,b", "say \"hi\""}, /*posteriors=*/true, out);
  EXPECT_EQ(out, "task,label,confidence,\"p:a,b\",\"p:say \"\"hi\"\"\"\n");
}

TEST(LabelsCsvTest, RowHoldsTaskLabelAndConfidence) {
  std::string out;
  const std::vector<double> posterior = {0.25, 0.75};
  AppendLabelsRow("t-1", "dog", 0.75, posterior, /*posteriors=*/false, out);
  EXPECT_EQ(out, "t-1,dog,0.75\n");
}

TEST(LabelsCsvTest, RowWithPosteriorsAddsThemInClassOrder) {
  std::string out;
  const std::vector<double> posterior = {0.25, 0.75};
  AppendLabelsRow("t-1", "dog", 0.75, posterior, /*posteriors=*/true, out);
  EXPECT_EQ(out, "t-1,dog,0.75,0.25,0.75\n");
}

TEST(LabelsCsvTest, RowQuotesFieldsWithCommasQuotesAndLineBreaks) {
  std::string out;
  const std::vector<double> posterior = {1};
  AppendLabelsRow("a,b", "x\"y", 1, posterior, false, out);
  AppendLabelsRow("line\nbreak", "cr\rhere", 1, posterior, false, out);
  EXPECT_EQ(out, "\"a,b\",\"x\"\"y\",1\n\"line\nbreak\",\"cr\rhere\",1\n");
}

TEST(LabelsCsvTest, RowLeavesPlainFieldsUnquoted) {
  std::string out;
  const std::vector<double> posterior = {1};
  AppendLabelsRow("t 1/é", "label;x", 1, posterior, false, out);
  EXPECT_EQ(out, "t 1/é,label;x,1\n");
}

TEST(LabelsCsvTest, NumbersAreTheShortestTextThatReadsBack) {
  std::string out;
  const std::vector<double> posterior = {0.1, 1.0 / 3, 1e-20};
  AppendLabelsRow("t", "l", 0.1, posterior, true, out);
  EXPECT_EQ(out, "t,l,0.1,0.1,0.3333333333333333,1e-20\n");
}

RC_GTEST_PROP(AppendProbabilityProperty, ReadsBackAsTheSameDouble, ()) {
  const double p = *rc::gen::map(rc::gen::inRange<int64_t>(0, int64_t{1} << 53),
                                 [](int64_t n) { return std::ldexp(static_cast<double>(n), -53); });
  std::string out;
  AppendProbability(out, p);
  RC_ASSERT(std::strtod(out.c_str(), nullptr) == p);
}

// --- JSON strings ---

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlBytes) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\nd\te\x01", 10));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(JsonStringTest, KeepsUtf8AsIs) {
  std::string out;
  AppendJsonString(out, "é/ü");
  EXPECT_EQ(out, "\"é/ü\"");
}

}  // namespace
}  // namespace consensusd::engine
