// LoadDataset on JSON Lines answers (*.jsonl, *.ndjson), and on CSV answers
// written in the ways a CSV may be written: the same data set either way.
#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "consensus/streaming_model.h"
#include "service/label_file.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using consensus::DuplicatePolicy;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A data set as names, to compare loads of different files.
struct Named {
  std::vector<std::string> tasks, workers, classes;
  std::vector<std::vector<std::string>> answers;  // per task: "worker=label", stored order
  std::vector<std::string> gold;                  // per task: class name or ""
  int64_t rows = 0;
  bool operator==(const Named&) const = default;
};

Named ByName(const Dataset& d) {
  Named n{d.tasks.names(), d.workers.names(), d.classes.names(), {}, {}, d.rows};
  for (int32_t t = 0; t < d.matrix.num_tasks; ++t) {
    std::vector<std::string> answers;
    for (int64_t a = d.matrix.task_begin[t]; a < d.matrix.task_begin[t + 1]; ++a) {
      answers.push_back(std::string(d.workers.Name(d.matrix.worker[a])) + "=" +
                        std::string(d.classes.Name(d.matrix.label[a])));
    }
    n.answers.push_back(answers);
    const int32_t g = d.matrix.gold.empty() ? consensus::kNoGold : d.matrix.gold[t];
    n.gold.emplace_back(g == consensus::kNoGold ? "" : d.classes.Name(g));
  }
  return n;
}

class LabelLinesTest : public ::testing::Test {
 protected:
  absl::StatusOr<Dataset> Load(const std::string& name, const std::string& text,
                               DuplicatePolicy duplicates = DuplicatePolicy::kKeepLast) {
    return LoadDataset(dir_.Write(name, text), "", duplicates);
  }
  Named LoadNamed(const std::string& name, const std::string& text,
                  DuplicatePolicy duplicates = DuplicatePolicy::kKeepLast) {
    absl::StatusOr<Dataset> d = Load(name, text, duplicates);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? ByName(*d) : Named{};
  }
  std::string ErrorOf(const std::string& name, const std::string& text) {
    absl::StatusOr<Dataset> d = Load(name, text);
    EXPECT_FALSE(d.ok());
    return d.ok() ? "" : std::string(d.status().message());
  }

  TempDir dir_;
};

TEST_F(LabelLinesTest, JsonLinesReadAsTheSameCsv) {
  const Named csv = LoadNamed("a.csv", "task,worker,label\nt1,w1,cat\nt1,w2,dog\nt2,w1,cat\n");
  const Named jsonl = LoadNamed(
      "a.jsonl",
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"cat\"}\n"
      "{\"project\":\"default\",\"task\":\"t1\",\"worker\":\"w2\",\"label\":\"dog\",\"ts\":5}\n"
      "{\"label\":\"cat\",\"worker\":\"w1\",\"task\":\"t2\",\"extra\":[1]}\n");
  EXPECT_EQ(jsonl, csv);
  EXPECT_EQ(jsonl.rows, 3);
}

TEST_F(LabelLinesTest, NdjsonExtensionCrlfBlankLinesByteOrderMarkAndNoLastLineEnd) {
  const Named want = LoadNamed("b.csv", "t1,w1,1\nt2,w1,true\n");
  EXPECT_EQ(LoadNamed("b.ndjson",
                      "\xEF\xBB\xBF{\"task\":\"t1\",\"worker\":\"w1\",\"label\":1}\r\n\r\n  \n"
                      "{\"task\":\"t2\",\"worker\":\"w1\",\"label\":true}"),
            want);
}

TEST_F(LabelLinesTest, IntegerIdsKeepTheirJsonText) {
  const Named n = LoadNamed("c.jsonl", "{\"task\":17,\"worker\":-0,\"label\":\"x\"}\n");
  EXPECT_THAT(n.tasks, ElementsAre("17"));
  EXPECT_THAT(n.workers, ElementsAre("0"));
}

TEST_F(LabelLinesTest, DuplicatesFollowThePolicyAsInCsv) {
  const std::string lines =
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w2\",\"label\":\"a\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"b\"}\n";
  const std::string csv = "t1,w1,a\nt1,w2,a\nt1,w1,b\n";
  for (DuplicatePolicy p : {DuplicatePolicy::kKeepLast, DuplicatePolicy::kKeepAll}) {
    EXPECT_EQ(LoadNamed("d.jsonl", lines, p), LoadNamed("d.csv", csv, p));
  }
  EXPECT_THAT(LoadNamed("d.jsonl", lines).answers, ElementsAre(ElementsAre("w2=a", "w1=b")));
}

TEST_F(LabelLinesTest, ARetractionRemovesTheWorkersEarlierAnswersOnly) {
  const Named n = LoadNamed(
      "e.jsonl",
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w2\",\"label\":\"b\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w1\",\"retract\":true}\n"
      "{\"task\":\"t2\",\"worker\":\"w1\",\"label\":\"a\"}\n"
      "{\"task\":\"t2\",\"worker\":\"w2\",\"retract\":true}\n"
      "{\"task\":\"t9\",\"worker\":\"w1\",\"retract\":true}\n"
      "{\"task\":\"t2\",\"worker\":\"w2\",\"label\":\"b\"}\n",
      DuplicatePolicy::kKeepAll);
  EXPECT_THAT(n.tasks, ElementsAre("t1", "t2"));  // retracting an unseen task adds none
  EXPECT_THAT(n.answers, ElementsAre(ElementsAre("w2=b"), ElementsAre("w1=a", "w2=b")));
  EXPECT_EQ(n.rows, 4);
}

// A file read by aggregate means what the same messages mean to the service
// under the same repeats setting: repeats, retractions and answers after a
// retraction, per task, as multisets of worker=label.
TEST_F(LabelLinesTest, AFileMeansWhatTheStreamMeansUnderEitherRepeatsSetting) {
  struct Line {
    const char *task, *worker, *label;  // label null: a retraction
  };
  const std::vector<Line> lines = {
      {"t1", "w1", "a"}, {"t1", "w1", "b"}, {"t1", "w2", "a"}, {"t1", "w1", "b"},
      {"t2", "w1", "a"}, {"t2", "w1", nullptr}, {"t2", "w1", "b"}, {"t2", "w2", "b"},
      {"t2", "w2", "b"}, {"t3", "w2", "a"}, {"t3", "w2", nullptr}, {"t1", "w3", "a"}};
  std::string text;
  for (const Line& l : lines) {
    text += std::string("{\"task\":\"") + l.task + "\",\"worker\":\"" + l.worker + "\"," +
            (l.label ? std::string("\"label\":\"") + l.label + "\"}\n"
                     : std::string("\"retract\":true}\n"));
  }
  for (DuplicatePolicy p : {DuplicatePolicy::kKeepLast, DuplicatePolicy::kKeepAll}) {
    consensus::StreamingModel m(consensus::StreamingOptions{.repeats = p});
    for (const Line& l : lines) {
      const int32_t t = m.InternTask(l.task), w = m.InternWorker(l.worker);
      if (l.label == nullptr) {
        m.Retract(t, w);
      } else {
        m.SetAnswer(t, w, *m.InternClass(l.label));
      }
    }
    const Named file = LoadNamed("s.jsonl", text, p);
    for (size_t t = 0; t < file.tasks.size(); ++t) {
      std::vector<std::string> streamed;
      for (const consensus::TaskAnswer& a : m.Answers(m.tasks().Find(file.tasks[t]))) {
        streamed.push_back(std::string(m.workers().Name(a.worker)) + "=" +
                           std::string(m.classes().Name(a.label)));
      }
      std::vector<std::string> read = file.answers[t];
      std::sort(streamed.begin(), streamed.end());
      std::sort(read.begin(), read.end());
      EXPECT_EQ(streamed, read) << file.tasks[t] << " under " << DuplicatePolicyName(p);
    }
    EXPECT_EQ(m.num_answers(), p == DuplicatePolicy::kKeepAll ? 8 : 5);
  }
}

TEST_F(LabelLinesTest, GoldLinesAreGoldTheLastWinsAndTasksWithoutAnswersAreIgnored) {
  const Named n = LoadNamed(
      "f.jsonl",
      "{\"task\":\"t1\",\"gold\":\"a\"}\n"
      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
      "{\"task\":\"t2\",\"worker\":\"w1\",\"label\":\"a\",\"gold\":\"z\"}\n"
      "{\"task\":\"t1\",\"gold\":\"b\"}\n"
      "{\"task\":\"t7\",\"gold\":\"a\"}\n");
  EXPECT_THAT(n.tasks, ElementsAre("t1", "t2"));
  EXPECT_THAT(n.gold, ElementsAre("b", "z"));
  EXPECT_THAT(n.classes, ElementsAre("a", "z", "b"));
}

TEST_F(LabelLinesTest, GoldCsvRowsComeAfterTheGoldLines) {
  absl::StatusOr<Dataset> d =
      LoadDataset(dir_.Write("g.jsonl", "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\",\"gold\":\"a\"}\n"),
                  dir_.Write("gold.csv", "t1,c\n"), DuplicatePolicy::kKeepLast);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(ByName(*d).gold, ElementsAre("c"));
}

TEST_F(LabelLinesTest, ABadLineIsAnErrorNamingItsLineAndTheDecodersReason) {
  const std::string ok = "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n";
  EXPECT_THAT(ErrorOf("h.jsonl", ok + "\n{\"task\":\"t2\",\"label\":\"a\"}\n"),
              HasSubstr("h.jsonl:3: missing_field: "));
  EXPECT_THAT(ErrorOf("h.jsonl", ok + "{\"task\":\"t2\",\"worker\":\"w1\",\"label\":\n"),
              HasSubstr("h.jsonl:2: malformed_json: "));
  EXPECT_THAT(ErrorOf("h.jsonl", ok + "{\"task\":1.5,\"worker\":\"w1\",\"label\":\"a\"}\n"),
              HasSubstr("h.jsonl:2: bad_type: "));
  EXPECT_THAT(ErrorOf("h.jsonl", "{\"task\":\"" + std::string(257, 't') +
                                     "\",\"worker\":\"w1\",\"label\":\"a\"}\n"),
              HasSubstr("h.jsonl:1: id_too_long: "));
  EXPECT_THAT(ErrorOf("h.jsonl", ok + "[1]\n"), HasSubstr("h.jsonl:2: bad_type: "));
}

TEST_F(LabelLinesTest, MixingProjectsIsAnError) {
  EXPECT_THAT(ErrorOf("i.jsonl",
                      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
                      "{\"project\":\"p2\",\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"),
              HasSubstr("i.jsonl:2: project 'p2' differs from the file's first project 'default'"));
}

TEST_F(LabelLinesTest, PairwiseVotesAndRatingsAreAnErrorNamingTheKind) {
  EXPECT_THAT(ErrorOf("v.jsonl",
                      "{\"task\":\"t1\",\"worker\":\"w1\",\"label\":\"a\"}\n"
                      "{\"task\":\"c\",\"worker\":\"w1\",\"left\":\"a\",\"right\":\"b\",\"label\":\"left\"}\n"),
              HasSubstr("v.jsonl:2: a pairwise answer: JSON Lines files hold class answers"));
  EXPECT_THAT(ErrorOf("r.jsonl", "{\"task\":\"t1\",\"worker\":\"w1\",\"rating\":3}\n"),
              HasSubstr("r.jsonl:1: a rating answer"));
}

TEST_F(LabelLinesTest, TheClassLimitAppliesAtItsLine) {
  std::string lines;
  for (int i = 0; i <= 1024; ++i) {
    lines += "{\"task\":\"t" + std::to_string(i) + "\",\"worker\":\"w\",\"label\":\"l" +
             std::to_string(i) + "\"}\n";
  }
  const std::string error = ErrorOf("j.jsonl", lines);
  EXPECT_THAT(error, HasSubstr("j.jsonl:1025: "));
  EXPECT_THAT(error, HasSubstr("at most 1024 distinct labels"));
}

TEST_F(LabelLinesTest, AFileWithoutAnswersIsAnError) {
  EXPECT_THAT(ErrorOf("k.jsonl", "{\"task\":\"t1\",\"gold\":\"a\"}\n\n"), HasSubstr("k.jsonl: no answers"));
}

TEST_F(LabelLinesTest, NamesAMissingFile) {
  absl::StatusOr<Dataset> d = LoadDataset(dir_.File("missing.jsonl"), "", DuplicatePolicy::kKeepLast);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

// The CSV reader streams through blocks: quoted ids, CRLF, a byte-order mark and
// a missing last line end read as the plain file does.
TEST_F(LabelLinesTest, TrickyCsvReadsAsThePlainOne) {
  const Named plain = LoadNamed("p.csv", "task,worker,label\nt\"1,w1,a\nt2,w 2,b\nt2,w1,a\n");
  EXPECT_EQ(LoadNamed("q.csv",
                      "\xEF\xBB\xBF\"label\",worker,task\r\n\"a\",\"w1\",\"t\"\"1\"\r\nb,w 2,t2\r\n"
                      "\r\n\"a\",w1,\"t2\""),
            plain);
}

TEST_F(LabelLinesTest, CsvErrorsKeepTheirLines) {
  EXPECT_THAT(ErrorOf("r.csv", "t1,w1,\"a\nb\"\nt2,,a\n"), HasSubstr("r.csv:3: empty worker"));
  EXPECT_THAT(ErrorOf("r.csv", "t1,w1,\"a\n"), HasSubstr("r.csv:1: a quoted field never closes"));
}

}  // namespace
}  // namespace consensusd::service
