// Pairwise and rating projects (SPEC 3.1a, issue 12): the service, fed votes
// through Kafka in their arrival order, reaches after a sweep exactly what
// `consensusd aggregate --kind pairwise|rating` computes from a file of the
// same votes (each worker's last vote per task, which is what the stream
// keeps), and a restarted instance serves the same fit.

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

using nlohmann::json;

constexpr char kConfig[] =
    "projects:\n"
    "  pw: {kind: pairwise}\n"
    "  rt: {kind: rating, scale: [1, 7]}\n";

// The rows of a CSV without quoting (synth's ids need none), header dropped.
std::vector<std::vector<std::string>> ReadRows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadWholeFile(path));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) rows.push_back(absl::StrSplit(line, ','));
  }
  return rows;
}

// Each (task, worker)'s last row, sorted by task then worker: what the stream
// keeps, in the order a sweep fits it.
std::vector<std::vector<std::string>> LastPerTaskAndWorker(const std::vector<std::vector<std::string>>& rows) {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> last;
  for (const auto& r : rows) last[{r[0], r[1]}] = r;
  std::vector<std::vector<std::string>> out;
  for (const auto& [key, r] : last) out.push_back(r);
  return out;
}

void WriteCsv(const std::string& path, const std::string& header,
              const std::vector<std::vector<std::string>>& rows) {
  std::ofstream out(path, std::ios::binary);
  out << header << "\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << r[i];
    out << "\n";
  }
}

double Num(const std::string& s) { return std::stod(s); }

std::optional<json> GetJson(ServeProcess& serve, const std::string& path) {
  std::optional<std::string> body = serve.Get(path);
  if (!body) return std::nullopt;
  return json::parse(*body);
}

// Waits until the project's last sweep fitted `votes` votes.
bool WaitSwept(ServeProcess& serve, const std::string& path, int64_t votes) {
  return WaitUntil(
      [&] {
        std::optional<json> j = GetJson(serve, path);
        return j && !(*j)["last_sweep"].is_null() && (*j)["last_sweep"]["votes"] == votes;
      },
      seconds(60), milliseconds(200));
}

// The leaderboard records of project pw on the consensus topic.
int64_t LeaderboardRecords(MockKafka& kafka) {
  int64_t n = 0;
  for (int32_t partition = 0; partition < 4; ++partition) {
    for (const KafkaRecord& r : ReadWholePartition(kafka.bootstrap(), "labels.consensus", partition, seconds(10))) {
      n += r.key == "pw//leaderboard";
    }
  }
  return n;
}

class KindsBatchAgreementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunConsensusd({"synth", "--kind", "pairwise", "--items", "20", "--workers", "40",
                             "--comparisons", "1500", "--votes-per-comparison", "3", "--seed", "7",
                             "--out", dir_.File("pw")})
                  .exit_code,
              0);
    ASSERT_EQ(RunConsensusd({"synth", "--kind", "rating", "--tasks", "400", "--workers", "30",
                             "--answers-per-task", "3", "--seed", "7", "--out", dir_.File("rt")})
                  .exit_code,
              0);
    pw_rows_ = ReadRows(dir_.File("pw/labels.csv"));  // task,worker,left,right,label
    rt_rows_ = ReadRows(dir_.File("rt/labels.csv"));  // task,worker,rating
    ASSERT_EQ(pw_rows_.size(), 4500u);
    // A worker's second vote on a task, which replaces the first.
    pw_rows_.push_back({pw_rows_[0][0], pw_rows_[0][1], pw_rows_[0][3], pw_rows_[0][2], "tie"});
    rt_rows_.push_back({rt_rows_[0][0], rt_rows_[0][1], "7"});
    // The stream: rating and pairwise votes interleaved, in file order.
    std::ofstream out(dir_.File("stream.jsonl"), std::ios::binary);
    for (size_t i = 0; i < std::max(pw_rows_.size(), rt_rows_.size()); ++i) {
      if (i < pw_rows_.size()) {
        const auto& r = pw_rows_[i];
        out << json{{"project", "pw"}, {"task", r[0]}, {"worker", r[1]}, {"left", r[2]}, {"right", r[3]},
                    {"label", r[4]}}.dump() << "\n";
      }
      if (i < rt_rows_.size()) {
        const auto& r = rt_rows_[i];
        out << json{{"project", "rt"}, {"task", r[0]}, {"worker", r[1]}, {"rating", std::stoi(r[2])}}.dump()
            << "\n";
      }
    }
  }

  TempDir dir_;
  std::vector<std::vector<std::string>> pw_rows_, rt_rows_;
};

TEST_F(KindsBatchAgreementTest, StreamedVotesMatchBatchAggregateAfterASweepAndARestart) {
  MockKafka kafka(dir_, "labels", 4);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir_.File("mock-kafka.log"));
  const ProduceResult produced = Produce(kafka, "labels", dir_.File("stream.jsonl"));
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  const int64_t elements = static_cast<int64_t>(pw_rows_.size() + rt_rows_.size());
  ASSERT_EQ(produced.elements, elements);

  const auto pw = LastPerTaskAndWorker(pw_rows_);
  const auto rt = LastPerTaskAndWorker(rt_rows_);
  WriteCsv(dir_.File("pw.csv"), "task,worker,left,right,label", pw);
  WriteCsv(dir_.File("rt.csv"), "task,worker,rating", rt);
  ASSERT_EQ(RunConsensusd({"aggregate", "--kind", "pairwise", "--labels", dir_.File("pw.csv"), "--out",
                           dir_.File("leaderboard.csv"), "--workers-out", dir_.File("raters.csv"),
                           "--comparisons-out", dir_.File("comparisons.csv")})
                .exit_code,
            0);
  ASSERT_EQ(RunConsensusd({"aggregate", "--kind", "rating", "--labels", dir_.File("rt.csv"), "--scale",
                           "1..7", "--out", dir_.File("ratings.csv"), "--workers-out",
                           dir_.File("rating_workers.csv")})
                .exit_code,
            0);

  const std::string config = dir_.Write("consensusd.yaml", kConfig);
  ServeArgs args(kafka, "labels", "kinds", dir_.File("state"));
  args.config_file = config;
  int64_t snapshots_sent = 0;  // leaderboard records on the topic after run 0
  for (int run = 0; run < 2; ++run) {  // run 1: restarted from the stored state
    SCOPED_TRACE(run == 0 ? "streamed" : "restarted");
    ServeProcess serve(args, dir_.File("serve" + std::to_string(run) + ".log"));
    ASSERT_TRUE(serve.WaitListening()) << serve.Log();
    std::string why;
    ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 4, run == 0 ? produced.messages : 0, run == 0 ? elements : 0},
                                  seconds(90), &why))
        << why << "\n" << serve.Log();
    ASSERT_TRUE(WaitSwept(serve, "/v1/projects/pw/leaderboard", static_cast<int64_t>(pw.size())))
        << serve.Log();
    ASSERT_TRUE(WaitSwept(serve, "/v1/projects/rt/raters", static_cast<int64_t>(rt.size()))) << serve.Log();

    // Leaderboard: rank,item,score,low,high,votes.
    const json board = *GetJson(serve, "/v1/projects/pw/leaderboard");
    std::map<std::string, json> items;
    for (const json& i : board["items"]) items[i["item"]] = i;
    const auto lb = ReadRows(dir_.File("leaderboard.csv"));
    ASSERT_EQ(items.size(), lb.size());
    for (const auto& r : lb) {
      const json& i = items.at(r[1]);
      EXPECT_EQ(i["rank"].get<int>(), std::stoi(r[0])) << r[1];
      EXPECT_NEAR(i["score"].get<double>(), Num(r[2]), 1e-6) << r[1];
      EXPECT_NEAR(i["low"].get<double>(), Num(r[3]), 1e-6) << r[1];
      EXPECT_NEAR(i["high"].get<double>(), Num(r[4]), 1e-6) << r[1];
      EXPECT_EQ(i["votes"].get<int64_t>(), std::stoll(r[5])) << r[1];
    }
    EXPECT_EQ(board["items"][0]["item"], lb[0][1]);

    // Raters: worker,votes,reliability,careful_log_odds,position_bias,careless.
    const json raters = *GetJson(serve, "/v1/projects/pw/raters");
    std::map<std::string, json> by_worker;
    for (const json& r : raters["raters"]) by_worker[r["worker"]] = r;
    const auto rows = ReadRows(dir_.File("raters.csv"));
    ASSERT_EQ(by_worker.size(), rows.size());
    for (const auto& r : rows) {
      const json& w = by_worker.at(r[0]);
      EXPECT_EQ(w["votes"].get<int64_t>(), std::stoll(r[1])) << r[0];
      EXPECT_NEAR(w["reliability"].get<double>(), Num(r[2]), 1e-6) << r[0];
      EXPECT_NEAR(w["position_bias"].get<double>(), Num(r[4]), 1e-6) << r[0];
      EXPECT_EQ(w["careless"].get<bool>(), r[5] == "1" || r[5] == "true") << r[0];
    }

    // Per comparison: task,left,right,p_left,p_right,p_tie,consensus (every 15th).
    const auto comparisons = ReadRows(dir_.File("comparisons.csv"));
    ASSERT_EQ(comparisons.size(), 1500u);
    for (size_t k = 0; k < comparisons.size(); k += 15) {
      const auto& r = comparisons[k];
      std::optional<json> t = GetJson(serve, "/v1/projects/pw/tasks/" + r[0]);
      ASSERT_TRUE(t) << r[0];
      EXPECT_EQ((*t)["left"], r[1]);
      EXPECT_EQ((*t)["right"], r[2]);
      EXPECT_NEAR((*t)["p_left"].get<double>(), Num(r[3]), 1e-6) << r[0];
      EXPECT_NEAR((*t)["p_tie"].get<double>(), Num(r[5]), 1e-6) << r[0];
      EXPECT_EQ((*t)["consensus"], r[6]) << r[0];
    }

    // Ratings: task,rating,sd,ratings (4 decimals); workers: worker,ratings,bias,noise_sd.
    const auto ratings = ReadRows(dir_.File("ratings.csv"));
    ASSERT_EQ(ratings.size(), 400u);
    for (size_t k = 0; k < ratings.size(); k += 8) {
      const auto& r = ratings[k];
      std::optional<json> t = GetJson(serve, "/v1/projects/rt/tasks/" + r[0]);
      ASSERT_TRUE(t) << r[0];
      EXPECT_NEAR((*t)["rating"].get<double>(), Num(r[1]), 6e-5) << r[0];
      EXPECT_NEAR((*t)["sd"].get<double>(), Num(r[2]), 6e-5) << r[0];
      EXPECT_EQ((*t)["answers"].size(), std::stoul(r[3])) << r[0];
    }
    const json rating_raters = *GetJson(serve, "/v1/projects/rt/raters");
    std::map<std::string, json> rating_by_worker;
    for (const json& r : rating_raters["raters"]) rating_by_worker[r["worker"]] = r;
    const auto rating_rows = ReadRows(dir_.File("rating_workers.csv"));
    ASSERT_EQ(rating_by_worker.size(), rating_rows.size());
    for (const auto& r : rating_rows) {
      const json& w = rating_by_worker.at(r[0]);
      EXPECT_EQ(w["ratings"].get<int64_t>(), std::stoll(r[1])) << r[0];
      EXPECT_NEAR(w["bias"].get<double>(), Num(r[2]), 6e-5) << r[0];
      EXPECT_NEAR(w["noise_sd"].get<double>(), Num(r[3]), 6e-5) << r[0];
    }

    if (run == 0) {
      // The consensus topic: the latest record of every task is within
      // output.min_change (0.01; for ratings a share of the scale, 0.06) of
      // the final fit.
      std::map<std::string, json> latest;
      WaitUntil(
          [&] {
            latest.clear();
            for (int32_t partition = 0; partition < 4; ++partition) {
              for (const KafkaRecord& r :
                   ReadWholePartition(kafka.bootstrap(), "labels.consensus", partition, seconds(10))) {
                latest[r.key] = json::parse(r.value);
              }
            }
            return latest.size() >= comparisons.size() + ratings.size() + 1 &&
                   latest.contains("pw//leaderboard") &&
                   latest["pw//leaderboard"]["votes"] == static_cast<int64_t>(pw.size());
          },
          seconds(30), milliseconds(500));
      ASSERT_EQ(latest.size(), comparisons.size() + ratings.size() + 1);  // and pw's leaderboard
      for (const auto& r : comparisons) {
        const json& record = latest.at("pw/" + r[0]);
        EXPECT_EQ(record["kind"], "pairwise");
        EXPECT_EQ(record["left"], r[1]);
        EXPECT_NEAR(record["p_left"].get<double>(), Num(r[3]), 0.01) << r[0];
      }
      for (const auto& r : ratings) {
        const json& record = latest.at("rt/" + r[0]);
        EXPECT_EQ(record["kind"], "rating");
        EXPECT_NEAR(record["rating"].get<double>(), Num(r[1]), 0.06) << r[0];
        EXPECT_EQ(record["ratings"].get<int64_t>(), std::stoll(r[3])) << r[0];
      }
      // The leaderboard snapshot: the HTTP leaderboard, number for number,
      // and `aggregate --kind pairwise`'s.
      const json& snapshot = latest.at("pw//leaderboard");
      EXPECT_EQ(snapshot["project"], "pw");
      EXPECT_EQ(snapshot["record"], "leaderboard");
      EXPECT_EQ(snapshot["swept_ms"], board["last_sweep"]["unix_ms"]);
      EXPECT_EQ(snapshot["bootstrap"], board["bootstrap"]);
      EXPECT_EQ(snapshot["tie_nu"], board["tie_nu"]);
      EXPECT_EQ(snapshot["items"], board["items"]);
      ASSERT_EQ(snapshot["items"].size(), lb.size());
      for (size_t k = 0; k < lb.size(); ++k) {
        const json& i = snapshot["items"][k];
        EXPECT_EQ(i["item"], lb[k][1]);
        EXPECT_EQ(i["rank"].get<int>(), std::stoi(lb[k][0])) << lb[k][1];
        EXPECT_NEAR(i["score"].get<double>(), Num(lb[k][2]), 1e-6) << lb[k][1];
        EXPECT_NEAR(i["low"].get<double>(), Num(lb[k][3]), 1e-6) << lb[k][1];
        EXPECT_NEAR(i["high"].get<double>(), Num(lb[k][4]), 1e-6) << lb[k][1];
        EXPECT_EQ(i["votes"].get<int64_t>(), std::stoll(lb[k][5])) << lb[k][1];
      }
      snapshots_sent = LeaderboardRecords(kafka);
      ASSERT_GE(snapshots_sent, 1);
    } else {
      // The restarted instance refits the same votes: the stored snapshot is
      // current, so none is sent again.
      std::this_thread::sleep_for(seconds(3));
      EXPECT_EQ(LeaderboardRecords(kafka), snapshots_sent);
    }

    const json project = *GetJson(serve, "/v1/projects/pw");
    EXPECT_EQ(project["kind"], "pairwise");
    EXPECT_EQ(project["answers"].get<int64_t>(), static_cast<int64_t>(pw.size()));
    const std::vector<MetricSample> metrics = serve.Metrics();
    if (run == 0) {
      EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "pw"}}),
                static_cast<double>(pw_rows_.size()));
      EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "rt"}}),
                static_cast<double>(rt_rows_.size()));
    }
    EXPECT_EQ(SumMetric(metrics, "consensusd_messages_rejected_total"), 0);
    EXPECT_EQ(SumMetric(metrics, "consensusd_tasks", {{"project", "pw"}}), 1500);
    EXPECT_EQ(SumMetric(metrics, "consensusd_workers", {{"project", "rt"}}), 30);
    EXPECT_GE(SumMetric(metrics, "consensusd_em_sweeps_total", {{"project", "pw"}}), 1);
    // The exposition with these projects' series is valid Prometheus text.
    const std::optional<std::string> text = serve.Get("/metrics");
    ASSERT_TRUE(text.has_value());
    const RunResult check = RunProgram({"/usr/bin/promtool", "check", "metrics"}, seconds(30), *text);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_EQ(check.out + check.err, "") << "promtool found problems";
    ASSERT_EQ(serve.Stop(), 0) << serve.Log();
  }
}

}  // namespace
}  // namespace consensusd::integration
