#include "consensus/answer_store.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace consensusd::consensus {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Pair = std::pair<int32_t, int32_t>;

std::vector<Pair> Answers(const AnswerStore& s, int32_t task) {
  std::vector<Pair> out;
  for (const TaskAnswer& a : s.Of(task)) out.emplace_back(a.worker, a.label);
  return out;
}

TEST(AnswerStoreTest, NewTaskHasNoAnswers) {
  AnswerStore s;
  EXPECT_EQ(s.AddTask(), 0);
  EXPECT_EQ(s.AddTask(), 1);
  EXPECT_THAT(Answers(s, 1), IsEmpty());
  EXPECT_EQ(s.Find(1, 0), nullptr);
}

TEST(AnswerStoreTest, KeepsAnswersInArrivalOrder) {
  AnswerStore s;
  s.AddTask();
  for (int32_t w : {5, 3, 9, 1, 7}) EXPECT_EQ(s.Put(0, w, w % 2), AnswerStore::PutResult::kAdded);
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{5, 1}, Pair{3, 1}, Pair{9, 1}, Pair{1, 1}, Pair{7, 1}));
}

TEST(AnswerStoreTest, ReplacesLabelInPlace) {
  AnswerStore s;
  s.AddTask();
  s.Put(0, 1, 0);
  EXPECT_EQ(s.Put(0, 1, 0), AnswerStore::PutResult::kUnchanged);
  EXPECT_EQ(s.Put(0, 1, 2), AnswerStore::PutResult::kReplaced);
  s.Put(0, 2, 0);
  EXPECT_EQ(s.Put(0, 1, 3), AnswerStore::PutResult::kReplaced);
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{1, 3}, Pair{2, 0}));
}

TEST(AnswerStoreTest, RemoveKeepsTheOthersOrder) {
  AnswerStore s;
  s.AddTask();
  for (int32_t w = 0; w < 5; ++w) s.Put(0, w, 0);
  EXPECT_TRUE(s.Remove(0, 2));
  EXPECT_FALSE(s.Remove(0, 2));
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{0, 0}, Pair{1, 0}, Pair{3, 0}, Pair{4, 0}));
  EXPECT_TRUE(s.Remove(0, 0));
  EXPECT_TRUE(s.Remove(0, 4));
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{1, 0}, Pair{3, 0}));
  EXPECT_TRUE(s.Remove(0, 1));
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{3, 0}));
  EXPECT_FALSE(s.Remove(0, 1));
  EXPECT_TRUE(s.Remove(0, 3));
  EXPECT_THAT(Answers(s, 0), IsEmpty());
}

TEST(AnswerStoreTest, ClearedTaskTakesAnswersAgain) {
  AnswerStore s;
  s.AddTask();
  s.AddTask();
  for (int32_t w = 0; w < 3; ++w) s.Put(0, w, 1);
  s.Put(1, 9, 0);
  s.Clear(0);
  s.Clear(1);
  EXPECT_THAT(Answers(s, 0), IsEmpty());
  EXPECT_THAT(Answers(s, 1), IsEmpty());
  s.Put(0, 4, 1);
  s.Put(0, 5, 0);
  EXPECT_THAT(Answers(s, 0), ElementsAre(Pair{4, 1}, Pair{5, 0}));
}

TEST(AnswerStoreTest, OneAnswerPerTaskTakesEightBytes) {
  AnswerStore s;
  for (int32_t t = 0; t < 1000; ++t) s.Put(s.AddTask(), t, 0);
  EXPECT_LE(s.bytes(), 1024 * sizeof(TaskAnswer));
}

TEST(AnswerStoreTest, FreedBlocksAreReused) {
  AnswerStore s;
  s.AddTask();
  s.AddTask();
  // Task 0 grows to 8 answers and shrinks back to 1 a hundred times, task 1
  // between 1 and 3: the pool does not grow past the blocks held at once
  // (2 + 4 + 8 and 2 + 4 entries; without reuse it would take 1,400).
  for (int round = 0; round < 100; ++round) {
    for (int32_t w = 0; w < 8; ++w) s.Put(0, w, 0);
    for (int32_t w = 0; w < 7; ++w) s.Remove(0, w);
    s.Put(1, round % 3, 0);
    if (round % 3 == 2) s.Remove(1, 0);
  }
  EXPECT_LE(s.bytes(), (2 + 64) * sizeof(TaskAnswer));
}

// Random puts, replacements, removals and clears on a few tasks agree with a
// vector per task.
TEST(AnswerStoreTest, AgreesWithVectorPerTask) {
  std::mt19937 rng(42);
  AnswerStore s;
  constexpr int kTasks = 20, kWorkers = 40;
  std::vector<std::vector<Pair>> want(kTasks);
  for (int t = 0; t < kTasks; ++t) s.AddTask();
  for (int step = 0; step < 50000; ++step) {
    const int32_t t = rng() % kTasks, w = rng() % kWorkers, op = rng() % 100;
    std::vector<Pair>& v = want[t];
    auto it = std::find_if(v.begin(), v.end(), [&](const Pair& p) { return p.first == w; });
    if (op < 60) {
      const int32_t label = rng() % 3;
      const AnswerStore::PutResult r = s.Put(t, w, label);
      if (it == v.end()) {
        ASSERT_EQ(r, AnswerStore::PutResult::kAdded);
        v.emplace_back(w, label);
      } else {
        ASSERT_EQ(r, it->second == label ? AnswerStore::PutResult::kUnchanged
                                         : AnswerStore::PutResult::kReplaced);
        it->second = label;
      }
    } else if (op < 99) {
      ASSERT_EQ(s.Remove(t, w), it != v.end());
      if (it != v.end()) v.erase(it);
    } else {
      s.Clear(t);
      v.clear();
    }
    for (int u = 0; u < kTasks; ++u) ASSERT_EQ(Answers(s, u), want[u]) << "step " << step;
  }
}

TEST(AnswerStoreTest, AddKeepsARepeatOfTheSameWorker) {
  AnswerStore s;
  s.AddTask();
  s.Add(0, 4, 1);
  s.Add(0, 4, 1);
  s.Add(0, 2, 0);
  s.Add(0, 4, 0);
  ASSERT_EQ(s.Of(0).size(), 4u);
  EXPECT_EQ(s.Of(0)[3].worker, 4);
  EXPECT_EQ(s.Of(0)[3].label, 0);
}

TEST(AnswerStoreTest, RemoveAllTakesEveryAnswerOfTheWorker) {
  AnswerStore s;
  s.AddTask();
  for (int32_t i = 0; i < 5; ++i) s.Add(0, i % 2, i);  // worker 0: 0, 2, 4; worker 1: 1, 3
  EXPECT_EQ(s.RemoveAll(0, 0), 3);
  EXPECT_EQ(s.RemoveAll(0, 0), 0);
  ASSERT_EQ(s.Of(0).size(), 2u);
  EXPECT_EQ(s.Of(0)[0].label, 1);
  EXPECT_EQ(s.Of(0)[1].label, 3);
  EXPECT_EQ(s.RemoveAll(0, 1), 2);
  EXPECT_TRUE(s.Of(0).empty());
}

TEST(AnswerStoreTest, OneAnswerStaysInItsSlotWhateverTheSetting) {
  AnswerStore put, add;
  for (int32_t t = 0; t < 1000; ++t) {
    put.Put(put.AddTask(), t, 0);
    add.Add(add.AddTask(), t, 0);
  }
  EXPECT_EQ(add.bytes(), put.bytes());
}

}  // namespace
}  // namespace consensusd::consensus
