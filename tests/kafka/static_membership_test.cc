// Static group membership on a real broker (kafka.instance_id, KIP-345): an
// instance stopped with SIGTERM and started again with the same instance id
// and data dir within the session timeout gets back exactly the partitions it
// had, and no other instance loses or gains one in between (a rolling
// restart moves nothing). Without instance ids, as a contrast, the partitions
// of a stopped instance move to the others at once (it leaves the group).
//
// The broker is SharedKafka, shared with ScaleOutTest; each test has its own
// topics, group and project.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"
#include "tests/kafka/real_kafka.h"
#include "tests/kafka/serve_group.h"
#include "tests/kafka/shared_kafka.h"

namespace consensusd::kafka_tests {
namespace {

using integration::DistinctAnswersPerTask;
using integration::kDataDir;
using integration::MetricSample;
using integration::Produce;
using integration::ProduceResult;
using integration::Samples;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tests::WaitUntil;
using Clock = std::chrono::steady_clock;
using Partitions = std::set<int32_t>;

constexpr int kPartitions = 12;
constexpr int kInstances = 3;
// RTE: 800 tasks with 10 answers each; small, so that a restarted instance
// restores its share quickly, yet every partition has tasks.
const std::string kAnswersCsv = kDataDir + "/rte/labels.csv";
// Long enough for a SIGTERM and a restart on a loaded machine; the test
// checks that the restart took less.
constexpr int kStaticSessionTimeoutMs = 20000;

// The input partitions the instance owns, from its consensusd_partition_ready
// series; nullopt if it did not answer.
std::optional<Partitions> OwnedPartitions(ServeProcess& s) {
  const std::optional<std::string> body = s.Get("/metrics");
  if (!body) return std::nullopt;
  Partitions owned;
  for (const MetricSample& m :
       Samples(integration::ParseMetrics(*body), "consensusd_partition_ready")) {
    owned.insert(std::stoi(m.labels.at("partition")));
  }
  return owned;
}

std::string Describe(const Partitions& p) {
  std::ostringstream text;
  text << "{";
  for (const int32_t i : p) text << (i == *p.begin() ? "" : ",") << i;
  text << "}";
  return text.str();
}

class StaticMembershipTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { kafka_ = &SharedKafka(); }

  void SetUp() override {
    if (!kafka_->running()) {
      const absl::Status started = kafka_->Start();
      ASSERT_TRUE(started.ok()) << started << "\n" << kafka_->LogTail();
    }
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const absl::StatusOr<GroupTopics> topics =
        CreateGroupTopics(*kafka_, name, kPartitions, {{"cleanup.policy", "compact"}});
    ASSERT_TRUE(topics.ok()) << topics.status() << "\n" << kafka_->LogTail();
    topics_ = *topics;
    project_ = name;
    const ProduceResult produced =
        Produce(kafka_->bootstrap(), topics_.input, kAnswersCsv, {"--project", project_});
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    expected_answers_ = DistinctAnswersPerTask(kAnswersCsv);
  }

  // Starts kInstances instances (`instance_ids`: their kafka.instance_id, or
  // none) in session timeout `session_timeout_ms`, and waits until the group
  // is stable with every partition assigned once, each instance is ready and
  // the group has counted every answer once.
  void StartGroup(const std::vector<std::string>& instance_ids, int session_timeout_ms) {
    group_ = std::make_unique<ServeGroup>(
        test_dir_, topics_, project_,
        std::vector<std::string>{
            "kafka.properties.session.timeout.ms=" + std::to_string(session_timeout_ms)});
    for (int i = 0; i < kInstances; ++i) {
      std::vector<std::string> sets;
      if (!instance_ids.empty()) sets.push_back("kafka.instance_id=" + instance_ids[i]);
      ASSERT_NE(group_->Add(sets), nullptr) << group_->Diagnostics();
    }
    std::string why;
    ASSERT_TRUE(WaitGroupSettled(kInstances, &why)) << why << "\n" << group_->Diagnostics();
    ASSERT_TRUE(WaitUntil([&] { return AllReady(); }, seconds(60))) << group_->Diagnostics();
    GroupSnapshot s;
    ASSERT_TRUE(WaitUntil(
        [&] {
          s = group_->Snapshot();
          return AnswerCountDiff(s, expected_answers_).empty();
        },
        seconds(60), milliseconds(500)))
        << AnswerCountDiff(s, expected_answers_) << group_->Diagnostics();
  }

  // Waits until the broker reports the group stable with `members` members,
  // each assigned partitions, every partition assigned once; then *group is
  // that description. Else describes the group in *why.
  bool WaitGroupSettled(size_t members, std::string* why,
                        RealKafka::GroupDescription* group = nullptr) {
    return WaitUntil(
        [&] {
          const absl::StatusOr<RealKafka::GroupDescription> g =
              kafka_->DescribeGroup(topics_.group);
          if (!g.ok()) {
            *why = g.status().ToString();
            return false;
          }
          *why = DescribeAssignment(*g);
          std::vector<int32_t> all;
          bool each_has_some = true;
          for (const std::vector<int32_t>& partitions : g->members) {
            each_has_some = each_has_some && !partitions.empty();
            all.insert(all.end(), partitions.begin(), partitions.end());
          }
          std::sort(all.begin(), all.end());
          const bool settled = g->state == "Stable" && g->members.size() == members &&
                               each_has_some && all.size() == kPartitions &&
                               std::adjacent_find(all.begin(), all.end()) == all.end();
          if (settled && group != nullptr) *group = *g;
          return settled;
        },
        seconds(60), milliseconds(200));
  }

  std::string DescribeAssignment(const RealKafka::GroupDescription& g) {
    std::ostringstream text;
    text << "group " << topics_.group << ": " << g.state << ", partitions per member:";
    for (size_t m = 0; m < g.members.size(); ++m) {
      text << " " << (g.instance_ids[m].empty() ? "(dynamic)" : g.instance_ids[m]) << "="
           << Describe(Partitions(g.members[m].begin(), g.members[m].end()));
    }
    return text.str();
  }

  bool AllReady() {
    for (ServeProcess* s : group_->Live()) {
      if (!s->Ready()) return false;
    }
    return true;
  }

  // Each instance's owned partitions, by its metrics; an instance that did
  // not answer has none.
  std::vector<Partitions> OwnedByEachInstance() {
    std::vector<Partitions> owned;
    for (size_t i = 0; i < group_->size(); ++i) {
      owned.push_back(OwnedPartitions(group_->at(i)).value_or(Partitions{}));
    }
    return owned;
  }

  static RealKafka* kafka_;

  TempDir test_dir_;
  GroupTopics topics_;
  std::string project_;
  std::map<std::string, int64_t> expected_answers_;
  std::unique_ptr<ServeGroup> group_;
};

RealKafka* StaticMembershipTest::kafka_ = nullptr;

TEST_F(StaticMembershipTest, RollingRestartWithInstanceIdsMovesNoPartition) {
  const std::vector<std::string> ids = {"static-a", "static-b", "static-c"};
  ASSERT_NO_FATAL_FAILURE(StartGroup(ids, kStaticSessionTimeoutMs));

  // The assignment, as the broker sees it (by instance id) and as each
  // instance sees it (its metrics): the same.
  RealKafka::GroupDescription described;
  std::string why;
  ASSERT_TRUE(WaitGroupSettled(kInstances, &why, &described)) << why;
  std::map<std::string, Partitions> before;
  for (size_t m = 0; m < described.members.size(); ++m) {
    before[described.instance_ids[m]] =
        Partitions(described.members[m].begin(), described.members[m].end());
  }
  const std::vector<Partitions> owned_before = OwnedByEachInstance();
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_EQ(Describe(owned_before[i]), Describe(before[ids[i]]))
        << "instance " << i << " (" << ids[i] << ") owns other partitions than the broker says\n"
        << why;
  }
  std::printf("static membership: before the restart %s\n", why.c_str());

  // SIGTERM instance 1 and start it again on the same data dir; meanwhile
  // the others keep exactly their partitions (a rebalance would hand them the
  // stopped one's, or take some away) and the broker keeps the stopped
  // member's assignment.
  constexpr size_t kRestarted = 1;
  const auto stopped_at = Clock::now();
  const std::optional<int> code = group_->Stop(kRestarted);
  ASSERT_EQ(code, 0) << group_->Diagnostics();
  const double stop_s = std::chrono::duration<double>(Clock::now() - stopped_at).count();
  auto check_others_and_broker = [&](const char* when) {
    for (size_t i = 0; i < static_cast<size_t>(kInstances); ++i) {
      if (i == kRestarted) continue;
      const std::optional<Partitions> owned = OwnedPartitions(group_->at(i));
      ASSERT_TRUE(owned.has_value()) << "instance " << i << " did not answer " << when;
      ASSERT_EQ(Describe(*owned), Describe(owned_before[i]))
          << "instance " << i << " (" << ids[i] << ") owns other partitions " << when;
    }
    const absl::StatusOr<RealKafka::GroupDescription> g = kafka_->DescribeGroup(topics_.group);
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_EQ(g->members.size(), static_cast<size_t>(kInstances))
        << "the broker no longer lists the stopped static member " << when << ": "
        << DescribeAssignment(*g);
    for (size_t m = 0; m < g->members.size(); ++m) {
      ASSERT_EQ(Describe(Partitions(g->members[m].begin(), g->members[m].end())),
                Describe(before[g->instance_ids[m]]))
          << "member " << g->instance_ids[m] << "'s assignment changed " << when << ": "
          << DescribeAssignment(*g) << "\n"
          << group_->Diagnostics();
    }
  };
  ASSERT_NO_FATAL_FAILURE(check_others_and_broker("while instance 1 is stopped"));
  ServeProcess* restarted = group_->Restart(kRestarted);
  ASSERT_NE(restarted, nullptr) << group_->Diagnostics();
  // Back in the group: it owns its partitions again (and reads them to their ends).
  Partitions owned_again;
  const bool rejoined = WaitUntil(
      [&] {
        owned_again = OwnedPartitions(*restarted).value_or(Partitions{});
        return !owned_again.empty();
      },
      seconds(60), milliseconds(100));
  const double rejoin_s = std::chrono::duration<double>(Clock::now() - stopped_at).count();
  std::printf("static membership: instance 1 stopped in %.1f s, owned partitions again %.1f s "
              "after the SIGTERM (session timeout %.0f s)\n",
              stop_s, rejoin_s, kStaticSessionTimeoutMs / 1000.0);
  ASSERT_TRUE(rejoined) << "the restarted instance owns no partition\n" << group_->Diagnostics();
  ASSERT_LT(rejoin_s, kStaticSessionTimeoutMs / 1000.0)
      << "the restart took longer than the session timeout: the test proves nothing";
  EXPECT_EQ(Describe(owned_again), Describe(owned_before[kRestarted]))
      << "the restarted instance got other partitions back\n"
      << group_->Diagnostics();
  ASSERT_NO_FATAL_FAILURE(check_others_and_broker("after instance 1's restart"));
  EXPECT_TRUE(WaitUntil([&] { return restarted->Ready(); }, seconds(60)))
      << "the restarted instance did not become ready again\n"
      << group_->Diagnostics();

  // Settled: the broker's and the instances' assignment are the one before,
  // and every answer is counted once.
  ASSERT_TRUE(WaitGroupSettled(kInstances, &why, &described)) << why << "\n"
                                                              << group_->Diagnostics();
  const std::vector<Partitions> owned_after = OwnedByEachInstance();
  for (int i = 0; i < kInstances; ++i) {
    EXPECT_EQ(Describe(owned_after[i]), Describe(owned_before[i]))
        << "instance " << i << " (" << ids[i] << ")\n"
        << why;
  }
  ASSERT_NO_FATAL_FAILURE(check_others_and_broker("once settled"));
  const GroupSnapshot s = group_->Snapshot();
  EXPECT_EQ(AnswerCountDiff(s, expected_answers_), "") << group_->Diagnostics();
  EXPECT_EQ(group_->StopAll(), "") << group_->Diagnostics();
}

// The contrast: a dynamic member stopped with SIGTERM leaves the group, and
// the others take its partitions without waiting for its session to time out.
TEST_F(StaticMembershipTest, WithoutInstanceIdsAStoppedInstancesPartitionsMove) {
  constexpr int kSessionTimeoutMs = 30000;  // longer than the test waits
  ASSERT_NO_FATAL_FAILURE(StartGroup({}, kSessionTimeoutMs));
  const std::vector<Partitions> owned_before = OwnedByEachInstance();
  constexpr size_t kStopped = 1;
  ASSERT_FALSE(owned_before[kStopped].empty());

  const auto stopped_at = Clock::now();
  ASSERT_EQ(group_->Stop(kStopped), 0) << group_->Diagnostics();
  std::string why;
  ASSERT_TRUE(WaitUntil(
      [&] {
        Partitions taken;
        for (size_t i = 0; i < static_cast<size_t>(kInstances); ++i) {
          if (i == kStopped) continue;
          const Partitions owned = OwnedPartitions(group_->at(i)).value_or(Partitions{});
          taken.insert(owned.begin(), owned.end());
        }
        return std::includes(taken.begin(), taken.end(), owned_before[kStopped].begin(),
                             owned_before[kStopped].end());
      },
      seconds(kSessionTimeoutMs / 1000 - 5), milliseconds(200)))
      << "the stopped instance's partitions " << Describe(owned_before[kStopped])
      << " did not move to the others before its session would time out\n"
      << group_->Diagnostics();
  std::printf("dynamic membership: the stopped instance's partitions moved %.1f s after the "
              "SIGTERM\n",
              std::chrono::duration<double>(Clock::now() - stopped_at).count());
  EXPECT_TRUE(WaitGroupSettled(kInstances - 1, &why)) << why << "\n" << group_->Diagnostics();
  EXPECT_EQ(group_->StopAll(), "") << group_->Diagnostics();
}

}  // namespace
}  // namespace consensusd::kafka_tests
