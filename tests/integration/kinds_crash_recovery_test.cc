// SPEC 6 for a pairwise project (issue 12): kill -9 in the middle of a stream
// of votes, replacements and retractions, then a restart, gives the votes and
// the fit of a run that never stopped.

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

using nlohmann::json;

constexpr int kPartitions = 4;

std::optional<json> GetJson(ServeProcess& serve, const std::string& path) {
  std::optional<std::string> body = serve.Get(path);
  if (!body) return std::nullopt;
  return json::parse(*body);
}

// The leaderboard once the last sweep fitted `votes` votes; null on timeout.
json SweptLeaderboard(ServeProcess& serve, int64_t votes) {
  json board;
  WaitUntil(
      [&] {
        std::optional<json> j = GetJson(serve, "/v1/projects/pw/leaderboard");
        if (!j || (*j)["last_sweep"].is_null() || (*j)["last_sweep"]["votes"] != votes) return false;
        board = *j;
        return true;
      },
      seconds(60), milliseconds(200));
  return board;
}

TEST(KindsCrashRecoveryTest, KillNineMidPairwiseStreamThenRestartEqualsUninterruptedRun) {
  TempDir dir;
  ASSERT_EQ(RunConsensusd({"synth", "--kind", "pairwise", "--comparisons", "12000", "--items", "30",
                           "--seed", "3", "--out", dir.File("pw")})
                .exit_code,
            0);
  // The stream: every vote; then a tie replacing every 7th vote and a
  // retraction of every 11th (each changes the state only once, so a
  // message applied twice or lost shows in the final votes).
  std::vector<std::vector<std::string>> rows;
  {
    std::istringstream in(ReadWholeFile(dir.File("pw/labels.csv")));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      if (!line.empty()) rows.push_back(absl::StrSplit(line, ','));
    }
  }
  ASSERT_EQ(rows.size(), 12000u);
  std::map<std::pair<std::string, std::string>, std::string> expected;  // (task, worker) -> label
  int64_t elements = 0;
  {
    std::ofstream out(dir.File("stream.jsonl"), std::ios::binary);
    auto vote = [&](const std::vector<std::string>& r, const std::string& label) {
      out << json{{"project", "pw"}, {"task", r[0]}, {"worker", r[1]}, {"left", r[2]},
                  {"right", r[3]}, {"label", label}}.dump() << "\n";
      expected[{r[0], r[1]}] = label;
      ++elements;
    };
    for (const auto& r : rows) vote(r, r[4]);
    for (size_t i = 0; i < rows.size(); i += 7) vote(rows[i], "tie");
    for (size_t i = 0; i < rows.size(); i += 11) {
      out << json{{"project", "pw"}, {"task", rows[i][0]}, {"worker", rows[i][1]}, {"retract", true}}.dump()
          << "\n";
      expected.erase({rows[i][0], rows[i][1]});
      ++elements;
    }
  }
  MockKafka kafka(dir, "labels", kPartitions);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));
  const std::vector<std::string> settings = {"projects.pw.kind=pairwise", "projects.pw.bootstrap=0"};

  ServeArgs crashing(kafka, "labels", "crash", dir.File("crashed"));
  crashing.sets.insert(crashing.sets.end(), settings.begin(), settings.end());
  ServeProcess first(crashing, dir.File("first.log"));
  ASSERT_TRUE(first.WaitListening()) << first.Log();
  ASSERT_TRUE(WaitUntil([&] { return first.Ready(); }, seconds(30))) << first.Log();
  Subprocess producer({kBinary, "produce", "--brokers", kafka.bootstrap(), "--topic", "labels",
                       dir.File("stream.jsonl"), "--batch", "20", "--rate", "3000"},
                      {Redirect::Null(), Redirect::Null(), Redirect::File(dir.File("produce.err"))});
  double applied_at_kill = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        applied_at_kill = SumMetric(first.Metrics(), "consensusd_answers_applied_total");
        return applied_at_kill >= 0.3 * static_cast<double>(elements);
      },
      seconds(60), milliseconds(20)))
      << first.Log();
  first.Kill();
  ASSERT_LE(applied_at_kill, 0.8 * static_cast<double>(elements))
      << "ingestion was too fast to interrupt in the middle";
  const std::optional<int> produce_exit = producer.WaitExit(seconds(60));
  const ProduceResult produced =
      ParseProduceReport(produce_exit.value_or(-1), ReadWholeFile(dir.File("produce.err")));
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.elements, elements) << produced.err;

  const int64_t votes = static_cast<int64_t>(expected.size());
  json recovered, reference;
  std::map<std::string, json> recovered_tasks;
  {
    ServeProcess restarted(crashing, dir.File("restarted.log"));
    ASSERT_TRUE(restarted.WaitListening()) << restarted.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(restarted, {"labels", kPartitions, -1, -1}, seconds(90), &why))
        << why << "\n" << restarted.Log();
    EXPECT_LT(SumMetric(restarted.Metrics(), "consensusd_messages_consumed_total"),
              static_cast<double>(produced.messages))
        << "the restart consumed everything again";
    recovered = SweptLeaderboard(restarted, votes);
    ASSERT_FALSE(recovered.is_null()) << "the restarted instance never fitted " << votes << " votes\n"
                                      << restarted.Log();
    // Every vote as expected: replaced ones are ties, retracted ones gone.
    int64_t checked = 0;
    for (size_t i = 0; i < rows.size(); i += 5) {
      std::optional<json> t = GetJson(restarted, "/v1/projects/pw/tasks/" + rows[i][0]);
      auto want = expected.find({rows[i][0], rows[i][1]});
      if (want == expected.end()) {
        EXPECT_FALSE(t.has_value() && !(*t)["answers"].empty()) << rows[i][0] << " was retracted";
        continue;
      }
      ASSERT_TRUE(t) << rows[i][0];
      ASSERT_EQ((*t)["answers"].size(), 1u) << rows[i][0];
      const json& a = (*t)["answers"][0];
      const std::string label = want->second == rows[i][2]   ? "left"
                                : want->second == rows[i][3] ? "right"
                                                             : want->second;
      EXPECT_EQ(a["label"], label) << rows[i][0];
      ++checked;
    }
    EXPECT_GT(checked, 1000);
    ASSERT_EQ(restarted.Stop(), 0) << restarted.Log();
  }
  {
    ServeArgs args(kafka, "labels", "clean", dir.File("clean"));
    args.sets.insert(args.sets.end(), settings.begin(), settings.end());
    ServeProcess clean(args, dir.File("clean.log"));
    ASSERT_TRUE(clean.WaitListening()) << clean.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(clean, {"labels", kPartitions, produced.messages, -1}, seconds(90), &why))
        << why << "\n" << clean.Log();
    reference = SweptLeaderboard(clean, votes);
    ASSERT_FALSE(reference.is_null()) << clean.Log();
    ASSERT_EQ(clean.Stop(), 0) << clean.Log();
  }
  ASSERT_EQ(recovered["items"].size(), reference["items"].size());
  for (size_t i = 0; i < reference["items"].size(); ++i) {
    const json& a = recovered["items"][i];
    const json& b = reference["items"][i];
    EXPECT_EQ(a["item"], b["item"]) << i;
    EXPECT_EQ(a["votes"], b["votes"]) << i;
    EXPECT_NEAR(a["score"].get<double>(), b["score"].get<double>(), 1e-12) << i;
  }
}

}  // namespace
}  // namespace consensusd::integration
