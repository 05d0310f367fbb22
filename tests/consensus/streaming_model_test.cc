#include "consensus/streaming_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "consensus/synthetic.h"
#include "gtest/gtest.h"

namespace consensusd::consensus {
namespace {

// One answer by name, as the service receives it.
struct Named {
  std::string task, worker, label;
};

void Feed(StreamingModel& m, const std::vector<Named>& answers) {
  for (const Named& a : answers) {
    m.SetAnswer(m.InternTask(a.task), m.InternWorker(a.worker), *m.InternClass(a.label));
  }
}

// A synthetic data set as named answers, in the generator's order.
std::vector<Named> SyntheticAnswers(const SyntheticOptions& o, std::vector<int32_t>* truth = nullptr) {
  const SyntheticData d = Synthesize(o);
  std::vector<Named> out;
  for (int32_t t = 0; t < d.answers.num_tasks; ++t) {
    for (int64_t a = d.answers.task_begin[t]; a < d.answers.task_begin[t + 1]; ++a) {
      out.push_back({absl::StrCat("t", t), absl::StrCat("w", d.answers.worker[a]),
                     absl::StrCat("c", d.answers.label[a])});
    }
  }
  if (truth != nullptr) *truth = d.truth;
  return out;
}

// A full sweep in one go: the three steps the service's sweeper runs.
absl::Status Sweep(StreamingModel& m) {
  const SweepInput input = m.PrepareSweep();
  absl::StatusOr<Model> fitted = m.RunSweep(input);
  if (!fitted.ok()) return fitted.status();
  m.InstallSweep(input, *fitted);
  return absl::OkStatus();
}

double MaxPosteriorDifference(const StreamingModel& a, const StreamingModel& b) {
  double diff = 0;
  for (int32_t t = 0; t < a.num_tasks(); ++t) {
    const int32_t tb = b.tasks().Find(a.tasks().Name(t));
    if (tb < 0) return INFINITY;
    for (int32_t k = 0; k < a.num_classes(); ++k) {
      const int32_t kb = b.classes().Find(a.classes().Name(k));
      diff = std::max(diff, std::fabs(a.Posterior(t)[k] - b.Posterior(tb)[kb]));
    }
  }
  return diff;
}

TEST(StreamingModel, SweepReachesTheBatchResultOnTheSameAnswers) {
  StreamingModel m(StreamingOptions{});
  Feed(m, SyntheticAnswers({.tasks = 2000, .workers = 40, .classes = 3, .answers_per_task = 5, .seed = 5}));
  ASSERT_TRUE(Sweep(m).ok());
  const AnswerMatrix snapshot = m.Snapshot();
  absl::StatusOr<Model> batch = Aggregate(snapshot, AggregateOptions{});
  ASSERT_TRUE(batch.ok());
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    EXPECT_EQ(m.Label(t), batch->label[t]) << t;
    for (int32_t k = 0; k < m.num_classes(); ++k) {
      ASSERT_NEAR(m.Posterior(t)[k], batch->Posterior(t)[k], 1e-12);
    }
  }
}

// Every method the service offers: after a sweep the streaming model derives
// the batch parameters from its counts (the same map from counts to
// parameters).
class StreamingMethodTest : public ::testing::TestWithParam<Method> {};

TEST_P(StreamingMethodTest, SweepAndUpdatesAgreeWithBatch) {
  StreamingOptions options;
  options.fit.method = GetParam();
  options.fit.tol = 1e-12;
  options.fit.max_iter = 500;
  StreamingModel m(options);
  Feed(m, SyntheticAnswers({.tasks = 2000, .workers = 40, .classes = 3, .answers_per_task = 5, .seed = 5}));
  ASSERT_TRUE(Sweep(m).ok());
  absl::StatusOr<Model> batch = Aggregate(m.Snapshot(), options.fit);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(batch->converged);
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    EXPECT_EQ(m.Label(t), batch->label[t]) << t;
    for (int32_t k = 0; k < m.num_classes(); ++k) {
      ASSERT_NEAR(m.Posterior(t)[k], batch->Posterior(t)[k], 1e-12);
    }
  }
  const std::vector<double> prior = m.ClassPrior();
  for (int32_t k = 0; k < m.num_classes(); ++k) EXPECT_NEAR(prior[k], batch->class_prior[k], 1e-12);
  for (int32_t w = 0; w < m.num_workers(); ++w) {
    const std::vector<double> c = m.Confusion(w);
    for (size_t i = 0; i < c.size(); ++i) {
      ASSERT_NEAR(c[i], batch->confusion[w * c.size() + i], 1e-12) << "worker " << w;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EmMethods, StreamingMethodTest,
                         ::testing::Values(Method::kDawidSkene, Method::kOneCoin,
                                           Method::kVariational, Method::kMace,
                                           Method::kHierarchical),
                         [](const auto& info) { return std::string(MethodName(info.param)); });

// hds keeps the population counts incrementally; DropTasks({}) recounts
// every statistic from the posteriors, so the two must agree after any mix
// of updates: new answers, replacements, retractions, exclusions.
void ExpectPopulationIsARecount(StreamingModel& m, const char* after) {
  const std::vector<double> incremental = m.PopulationCounts();
  m.DropTasks({});
  const std::vector<double> recounted = m.PopulationCounts();
  ASSERT_EQ(incremental.size(), recounted.size()) << after;
  double total = 0;
  for (size_t i = 0; i < recounted.size(); ++i) {
    EXPECT_NEAR(incremental[i], recounted[i], 1e-9 * (1 + std::fabs(recounted[i]))) << after << " cell " << i;
    total += recounted[i];
  }
  EXPECT_GT(total, 0) << after;
}

TEST(StreamingModel, HierarchicalPopulationFollowsEveryUpdate) {
  StreamingOptions options;
  options.fit.method = Method::kHierarchical;
  StreamingModel m(options);
  EXPECT_TRUE(m.PopulationCounts().empty());
  Feed(m, SyntheticAnswers({.tasks = 300, .workers = 12, .classes = 3, .answers_per_task = 4, .seed = 7}));
  ASSERT_EQ(m.PopulationCounts().size(), 9u);
  ExpectPopulationIsARecount(m, "answers");
  const int32_t w = m.InternWorker("w1");
  for (int32_t t = 0; t < 40; ++t) m.SetAnswer(t, w, (m.Label(t) + 1) % 3);  // replacements
  for (int32_t t = 40; t < 60; ++t) m.Retract(t, w);
  ExpectPopulationIsARecount(m, "replacements and retractions");
  // An excluded worker's counts leave the population at once.
  const std::vector<double> before = m.PopulationCounts();
  ASSERT_TRUE(m.MarkExcluded(w, true));
  const std::vector<double> without = m.PopulationCounts();
  EXPECT_LT(std::accumulate(without.begin(), without.end(), 0.0),
            std::accumulate(before.begin(), before.end(), 0.0) - 1);
  ExpectPopulationIsARecount(m, "exclusion");
  ASSERT_TRUE(m.MarkExcluded(w, false));
  ExpectPopulationIsARecount(m, "inclusion");
  // Other methods keep no population.
  StreamingOptions ds_options;
  ds_options.fit.method = Method::kDawidSkene;
  StreamingModel ds(ds_options);
  Feed(ds, SyntheticAnswers({.tasks = 10, .workers = 3, .classes = 2, .answers_per_task = 2, .seed = 1}));
  EXPECT_TRUE(ds.PopulationCounts().empty());
}

TEST(StreamingModel, HierarchicalPopulationHoldsTheLatestRemoteCounts) {
  StreamingOptions options;
  options.fit.method = Method::kHierarchical;
  StreamingModel m(options);
  Feed(m, SyntheticAnswers({.tasks = 50, .workers = 5, .classes = 2, .answers_per_task = 3, .seed = 2}));
  const std::vector<double> local = m.PopulationCounts();
  // A worker whose answers are all held by another instance.
  const int32_t w = m.InternWorker("remote-only");
  m.SetRemoteWorker(w, std::vector<double>{5, 1, 2, 7}, 15);
  m.SetRemoteWorker(w, std::vector<double>{10, 0, 0, 10}, 20);  // replaces the first
  const std::vector<double> expected = {local[0] + 10, local[1], local[2], local[3] + 10};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(m.PopulationCounts()[i], expected[i], 1e-9) << i;
  ExpectPopulationIsARecount(m, "remote counts");
  // Excluded, its remote counts leave the population, and a recount agrees.
  ASSERT_TRUE(m.MarkExcluded(w, true));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(m.PopulationCounts()[i], local[i], 1e-9) << i;
  ExpectPopulationIsARecount(m, "excluded remote worker");
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(m.PopulationCounts()[i], local[i], 1e-9) << i;
}

// When every partition is local again the remote statistics go, and the
// model is the one that never had any.
TEST(StreamingModel, RemoteStatisticsAreDroppedOnlyOnceAllZero) {
  StreamingOptions options;
  options.fit.method = Method::kHierarchical;
  const std::vector<Named> answers =
      SyntheticAnswers({.tasks = 200, .workers = 8, .classes = 2, .answers_per_task = 3, .seed = 4});
  StreamingModel never(options), m(options);
  Feed(never, answers);
  Feed(m, answers);
  EXPECT_FALSE(m.ClearRemote());  // nothing to drop
  const int32_t w = m.InternWorker("w1");
  m.SetRemoteWorker(w, std::vector<double>{4, 1, 0, 3}, 8);
  m.SetRemoteClassCounts(std::vector<double>{5, 3});
  ASSERT_TRUE(m.has_remote());
  ASSERT_TRUE(Sweep(m).ok());
  EXPECT_GT(MaxPosteriorDifference(m, never), 1e-6);  // the remote answers count
  // Held while anything remote is not zero.
  m.SetRemoteWorker(w, std::vector<double>{0, 0, 0, 0}, 0);
  EXPECT_FALSE(m.ClearRemote());
  EXPECT_TRUE(m.has_remote());
  m.SetRemoteClassCounts(std::vector<double>{0, 0});
  const uint64_t version = m.version();
  EXPECT_TRUE(m.ClearRemote());
  EXPECT_FALSE(m.has_remote());
  EXPECT_GT(m.version(), version);  // a sweep follows
  EXPECT_EQ(m.RemoteAnswers(w), 0);
  ASSERT_TRUE(Sweep(m).ok());
  ASSERT_TRUE(Sweep(never).ok());
  EXPECT_LT(MaxPosteriorDifference(m, never), 1e-9);
  EXPECT_EQ(m.PopulationCounts(), never.PopulationCounts());
  // New workers and classes after the drop need no remote rows.
  m.SetAnswer(m.InternTask("new"), m.InternWorker("new-worker"), *m.InternClass("c9"));
  EXPECT_FALSE(m.has_remote());
  ASSERT_TRUE(Sweep(m).ok());
  // And remote statistics can come back.
  m.SetRemoteWorker(w, std::vector<double>(9, 1.0), 9);
  EXPECT_TRUE(m.has_remote());
  EXPECT_EQ(m.RemoteAnswers(w), 9);
  ASSERT_TRUE(Sweep(m).ok());
}

TEST(StreamingModel, IncrementalUpdatesAloneBeatMajorityVote) {
  std::vector<int32_t> truth;
  const std::vector<Named> answers =
      SyntheticAnswers({.tasks = 5000, .workers = 50, .classes = 3, .answers_per_task = 5, .seed = 9}, &truth);
  StreamingModel m(StreamingOptions{});
  Feed(m, answers);  // no sweep: only the per-answer updates
  AggregateOptions mv_options;
  mv_options.method = Method::kMajorityVote;
  absl::StatusOr<Model> mv = Aggregate(m.Snapshot(), mv_options);
  ASSERT_TRUE(mv.ok());
  int streamed = 0, voted = 0;
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    const std::string want = absl::StrCat("c", truth[std::stoi(std::string(m.tasks().Name(t).substr(1)))]);
    streamed += m.classes().Name(m.Label(t)) == want;
    voted += m.classes().Name(mv->label[t]) == want;
  }
  EXPECT_GT(streamed, voted) << "streamed " << streamed << ", majority vote " << voted;
}

TEST(StreamingModel, SweepDoesNotDependOnArrivalOrder) {
  std::vector<Named> answers =
      SyntheticAnswers({.tasks = 1000, .workers = 30, .classes = 4, .answers_per_task = 4, .seed = 11});
  StreamingModel a(StreamingOptions{}), b(StreamingOptions{});
  Feed(a, answers);
  std::mt19937 rng(3);
  std::shuffle(answers.begin(), answers.end(), rng);
  Feed(b, answers);
  ASSERT_TRUE(Sweep(a).ok());
  ASSERT_TRUE(Sweep(b).ok());
  ASSERT_EQ(a.num_answers(), b.num_answers());
  EXPECT_LT(MaxPosteriorDifference(a, b), 1e-9);
}

// Releasing a partition: dropping tasks leaves the model a model of the
// rest, as if the dropped tasks had never been answered.
TEST(StreamingModel, DroppedTasksLeaveTheModelOfTheOthers) {
  const std::vector<Named> answers =
      SyntheticAnswers({.tasks = 600, .workers = 20, .classes = 3, .answers_per_task = 4, .seed = 5});
  StreamingModel all(StreamingOptions{}), kept(StreamingOptions{});
  Feed(all, answers);
  std::vector<Named> rest;
  for (const Named& a : answers) {
    if (std::stoi(a.task.substr(1)) % 3 != 0) rest.push_back(a);
  }
  std::vector<int32_t> dropped;
  for (int32_t t = 0; t < all.num_tasks(); ++t) {
    if (std::stoi(std::string(all.tasks().Name(t).substr(1))) % 3 == 0) dropped.push_back(t);
  }
  all.DropTasks(dropped);
  Feed(kept, rest);
  ASSERT_TRUE(Sweep(all).ok());
  ASSERT_TRUE(Sweep(kept).ok());
  EXPECT_EQ(all.num_answers(), kept.num_answers());
  for (int32_t t : dropped) EXPECT_TRUE(all.Answers(t).empty());
  for (int32_t w = 0; w < kept.num_workers(); ++w) {
    const int32_t wa = all.workers().Find(kept.workers().Name(w));
    EXPECT_EQ(all.WorkerAnswers(wa), kept.WorkerAnswers(w));
  }
  for (int32_t t = 0; t < kept.num_tasks(); ++t) {
    const int32_t ta = all.tasks().Find(kept.tasks().Name(t));
    EXPECT_EQ(all.classes().Name(all.Label(ta)), kept.classes().Name(kept.Label(t)));
  }
}

TEST(StreamingModel, ReplacesEarlierAnswerFromSameWorker) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t", "w", "x"}, {"t", "w", "y"}});
  const int32_t t = m.tasks().Find("t");
  ASSERT_EQ(m.Answers(t).size(), 1u);
  EXPECT_EQ(m.classes().Name(m.Answers(t)[0].label), "y");
  EXPECT_EQ(m.num_answers(), 1);
}

TEST(StreamingModel, RedeliveredAnswerChangesNothing) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t", "w1", "x"}, {"t", "w2", "y"}});
  const uint64_t version = m.version();
  const std::vector<double> before(m.Posterior(0).begin(), m.Posterior(0).end());
  Feed(m, {{"t", "w1", "x"}});
  EXPECT_EQ(m.version(), version);
  EXPECT_EQ(std::vector<double>(m.Posterior(0).begin(), m.Posterior(0).end()), before);
}

TEST(StreamingModel, RetractRemovesTheAnswer) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t", "w1", "x"}, {"t", "w2", "y"}});
  const int32_t t = m.tasks().Find("t");
  EXPECT_TRUE(m.Retract(t, m.workers().Find("w2")));
  EXPECT_FALSE(m.Retract(t, m.workers().Find("w2")));
  ASSERT_EQ(m.Answers(t).size(), 1u);
  EXPECT_EQ(m.num_answers(), 1);
  EXPECT_EQ(m.classes().Name(m.Label(t)), "x");
}

// repeats: count (docs/configuration.md): a worker's second answer to a task
// is an independent judgement, as crowd-kit reads a file of rows.
StreamingOptions Counting() {
  StreamingOptions o;
  o.repeats = DuplicatePolicy::kKeepAll;
  return o;
}

// A data set where some workers answer some tasks again, with the same or
// another label: the synthetic answers plus a repeat of every fifth one.
std::vector<Named> WithRepeats(std::vector<Named> answers) {
  const size_t n = answers.size();
  for (size_t i = 0; i < n; i += 5) {
    Named again = answers[i];
    if (i % 10 == 0) again.label = again.label == "c0" ? "c1" : "c0";  // conflicting
    answers.push_back(again);
  }
  return answers;
}

TEST(StreamingModelCount, SecondAnswerOfAWorkerAddsAnAnswer) {
  StreamingModel m(Counting());
  Feed(m, {{"t", "w", "x"}, {"t", "w", "y"}, {"t", "w", "y"}});
  const int32_t t = m.tasks().Find("t"), w = m.workers().Find("w");
  ASSERT_EQ(m.Answers(t).size(), 3u);
  EXPECT_EQ(m.num_answers(), 3);
  EXPECT_EQ(m.WorkerAnswers(w), 3);
  std::vector<int32_t> labels;
  m.WorkerLabels(t, w, &labels);
  EXPECT_EQ(labels, (std::vector<int32_t>{*m.InternClass("x"), *m.InternClass("y"),
                                          *m.InternClass("y")}));
  EXPECT_EQ(m.classes().Name(m.Label(t)), "y");  // two votes against one
}

TEST(StreamingModelCount, ReplaceKeepsOneAnswerOnTheSameInput) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t", "w", "x"}, {"t", "w", "y"}, {"t", "w", "y"}});
  EXPECT_EQ(m.num_answers(), 1);
  std::vector<int32_t> labels;
  m.WorkerLabels(0, 0, &labels);
  EXPECT_EQ(labels.size(), 1u);
}

TEST(StreamingModelCount, RetractRemovesEveryAnswerOfTheWorkerToTheTask) {
  StreamingModel m(Counting());
  Feed(m, {{"t", "w1", "x"}, {"t", "w2", "y"}, {"t", "w1", "x"}, {"t", "w1", "y"}, {"u", "w1", "x"}});
  const int32_t t = m.tasks().Find("t"), w1 = m.workers().Find("w1");
  EXPECT_TRUE(m.Retract(t, w1));
  EXPECT_FALSE(m.Retract(t, w1));
  ASSERT_EQ(m.Answers(t).size(), 1u);
  EXPECT_EQ(m.workers().Name(m.Answers(t)[0].worker), "w2");
  EXPECT_EQ(m.num_answers(), 2);
  EXPECT_EQ(m.WorkerAnswers(w1), 1);  // the answer to u stays
  EXPECT_EQ(m.classes().Name(m.Label(t)), "y");
}

TEST(StreamingModelCount, SweepReachesTheBatchResultOfEveryRow) {
  const std::vector<Named> answers = WithRepeats(
      SyntheticAnswers({.tasks = 1500, .workers = 30, .classes = 3, .answers_per_task = 4, .seed = 7}));
  StreamingModel m(Counting());
  Feed(m, answers);
  ASSERT_EQ(m.num_answers(), static_cast<int64_t>(answers.size()));
  ASSERT_TRUE(Sweep(m).ok());
  // The batch side builds its matrix from the rows itself, as aggregate does.
  AnswerMatrixBuilder b;
  for (const Named& a : answers) {
    b.Add(m.tasks().Find(a.task), m.workers().Find(a.worker), m.classes().Find(a.label));
  }
  AnswerMatrix rows = b.Build(m.num_tasks(), m.num_workers(), m.num_classes(), DuplicatePolicy::kKeepAll);
  rows.class_rank = m.Snapshot().class_rank;
  absl::StatusOr<Model> batch = Aggregate(rows, AggregateOptions{});
  ASSERT_TRUE(batch.ok());
  absl::StatusOr<Model> last = Aggregate(
      b.Build(m.num_tasks(), m.num_workers(), m.num_classes(), DuplicatePolicy::kKeepLast),
      AggregateOptions{});
  ASSERT_TRUE(last.ok());
  int differs_from_last = 0;
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    EXPECT_EQ(m.Label(t), batch->label[t]) << t;
    for (int32_t k = 0; k < m.num_classes(); ++k) {
      ASSERT_NEAR(m.Posterior(t)[k], batch->Posterior(t)[k], 1e-9) << t;
    }
    differs_from_last += std::fabs(m.Posterior(t)[0] - last->Posterior(t)[0]) > 1e-6;
  }
  EXPECT_GT(differs_from_last, 0) << "the repeats should matter";
}

TEST(StreamingModelCount, LoadAnswerKeepsRepeats) {
  StreamingModel m(Counting());
  const int32_t t = m.InternTask("t"), w = m.InternWorker("w");
  const int32_t x = *m.InternClass("x");
  m.LoadAnswer(t, w, x);
  m.LoadAnswer(t, w, x);
  EXPECT_EQ(m.Answers(t).size(), 2u);
  EXPECT_EQ(m.num_answers(), 2);
}

TEST(StreamingModel, GoldClampsThePosteriorAtOnce) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t", "w1", "x"}, {"t", "w2", "x"}, {"t", "w3", "y"}});
  const int32_t t = m.tasks().Find("t");
  m.SetGold(t, m.classes().Find("y"));
  EXPECT_EQ(m.classes().Name(m.Label(t)), "y");
  EXPECT_DOUBLE_EQ(m.Confidence(t), 1.0);
}

// Gold is held for the few tasks that have it: set, changed, cleared,
// dropped, and in the snapshot, for those tasks only.
TEST(StreamingModel, GoldIsKeptPerTaskThroughSetClearAndDrop) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"a", "w1", "x"}, {"b", "w1", "y"}, {"c", "w2", "x"}, {"d", "w2", "y"}});
  const int32_t x = m.classes().Find("x"), y = m.classes().Find("y");
  const int32_t a = m.tasks().Find("a"), b = m.tasks().Find("b"), c = m.tasks().Find("c");
  const int32_t d = m.tasks().Find("d");
  m.SetGold(a, y);
  m.SetGold(b, x);
  m.SetGold(c, y);
  m.SetGold(b, y);        // changed
  m.SetGold(c, kNoGold);  // cleared
  EXPECT_EQ(m.Gold(a), y);
  EXPECT_EQ(m.Gold(b), y);
  EXPECT_EQ(m.Gold(c), kNoGold);
  EXPECT_EQ(m.Gold(d), kNoGold);
  EXPECT_EQ(m.Label(b), y);
  const int32_t drop[] = {a};
  m.DropTasks(drop);
  EXPECT_EQ(m.Gold(a), kNoGold);
  const AnswerMatrix snapshot = m.Snapshot();
  ASSERT_EQ(snapshot.gold.size(), 4u);
  EXPECT_EQ(snapshot.gold[a], kNoGold);
  EXPECT_EQ(snapshot.gold[b], y);
  EXPECT_EQ(snapshot.gold[c], kNoGold);
  EXPECT_EQ(snapshot.gold[d], kNoGold);
  m.LoadGold(d, x);
  EXPECT_EQ(m.Gold(d), x);
}

TEST(StreamingModel, ExcludedWorkerStopsCountingAndIncludeRestores) {
  StreamingModel m(StreamingOptions{});
  Feed(m, SyntheticAnswers({.tasks = 500, .workers = 20, .classes = 2, .answers_per_task = 3, .seed = 2}));
  ASSERT_TRUE(Sweep(m).ok());
  std::vector<double> before;
  for (int32_t t = 0; t < m.num_tasks(); ++t) before.push_back(m.Posterior(t)[0]);
  const int32_t w = m.workers().Find("w3");
  ASSERT_TRUE(m.MarkExcluded(w, true));
  ASSERT_TRUE(Sweep(m).ok());
  // Equals the batch fit with that worker excluded.
  std::vector<bool> excluded(m.num_workers(), false);
  excluded[w] = true;
  absl::StatusOr<Model> batch = Aggregate(m.Snapshot(), AggregateOptions{}, excluded);
  ASSERT_TRUE(batch.ok());
  double changed = 0;
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    ASSERT_NEAR(m.Posterior(t)[0], batch->Posterior(t)[0], 1e-12);
    changed = std::max(changed, std::fabs(m.Posterior(t)[0] - before[t]));
  }
  EXPECT_GT(changed, 1e-6);
  ASSERT_TRUE(m.MarkExcluded(w, false));
  ASSERT_TRUE(Sweep(m).ok());
  for (int32_t t = 0; t < m.num_tasks(); ++t) ASSERT_NEAR(m.Posterior(t)[0], before[t], 1e-12);
}

TEST(StreamingModel, DiscoversClassesUpToTheLimit) {
  StreamingOptions o;
  o.max_classes = 2;
  StreamingModel m(o);
  EXPECT_TRUE(m.InternClass("a").ok());
  EXPECT_TRUE(m.InternClass("b").ok());
  EXPECT_EQ(*m.InternClass("a"), 0);
  absl::StatusOr<int32_t> c = m.InternClass("c");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(c.status().message().find("max_classes"), std::string::npos);
}

TEST(StreamingModel, NewClassKeepsEarlierPosteriorsNormalised) {
  StreamingModel m(StreamingOptions{});
  Feed(m, {{"t1", "w1", "x"}, {"t1", "w2", "x"}, {"t2", "w1", "y"}, {"t3", "w2", "z"}});
  ASSERT_EQ(m.num_classes(), 3);
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    const auto p = m.Posterior(t);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-12) << t;
  }
}

TEST(StreamingModel, ChangesDuringABackgroundSweepAreKept) {
  StreamingModel m(StreamingOptions{});
  Feed(m, SyntheticAnswers({.tasks = 300, .workers = 15, .classes = 2, .answers_per_task = 3, .seed = 4}));
  const SweepInput input = m.PrepareSweep();
  // Arrives while the sweep runs: a new task and a changed one.
  Feed(m, {{"late", "w1", "c1"}, {"late", "w2", "c1"}, {"t0", "w99", "c0"}});
  absl::StatusOr<Model> fitted = m.RunSweep(input);
  ASSERT_TRUE(fitted.ok());
  m.InstallSweep(input, *fitted);
  const int32_t late = m.tasks().Find("late");
  ASSERT_GE(late, 0);
  EXPECT_EQ(m.classes().Name(m.Label(late)), "c1");
  EXPECT_EQ(m.Answers(m.tasks().Find("t0")).size(), 4u);
  // A full sweep afterwards equals the batch result on everything.
  ASSERT_TRUE(Sweep(m).ok());
  absl::StatusOr<Model> batch = Aggregate(m.Snapshot(), AggregateOptions{});
  ASSERT_TRUE(batch.ok());
  for (int32_t t = 0; t < m.num_tasks(); ++t) {
    ASSERT_NEAR(m.Posterior(t)[1], batch->Posterior(t)[1], 1e-12);
  }
}

}  // namespace
}  // namespace consensusd::consensus
