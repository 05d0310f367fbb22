// The memory the live state of a project takes per answer (issue 10, item 4):
// a project holding 2M answers, one per task, from 100k workers, as `serve`
// holds them after ingesting (the model and the engine's per-task arrays).
// Measured through the allocator (bytes in use, mallinfo2), not RSS, so that
// other tests' freed memory and the kernel's paging do not move the number.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "engine/project.h"
#include "tests/common/sanitizer.h"

namespace consensusd::engine {
namespace {

// Bytes the allocator has handed out and not got back (heap and mmap).
int64_t BytesInUse() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

std::string Name(const char* prefix, int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%07lld", prefix, static_cast<long long>(i));
  return buf;
}

TEST(ProjectMemoryTest, TwoMillionSingleAnswerTasksTakeUnder80BytesPerAnswer) {
  if (kSanitized) GTEST_SKIP() << "a sanitizer's allocator does not report mallinfo2";
  constexpr int64_t kTasks = 2'000'000;
  constexpr int64_t kWorkers = 100'000;
  const int64_t before = BytesInUse();
  auto project = std::make_unique<Project>("p", ProjectSettings{});
  consensus::StreamingModel& model = project->model;
  const int32_t classes[2] = {*model.InternClass("neg"), *model.InternClass("pos")};
  for (int64_t i = 0; i < kTasks; ++i) {
    // What Engine::Apply does with an answer (engine.cc).
    const int32_t task = model.InternTask(Name("task-", i));
    model.SetAnswer(task, model.InternWorker(Name("worker-", i % kWorkers)), classes[i % 7 == 0]);
    project->Touch(task, static_cast<int32_t>(i % 16));
  }
  const double per_answer = static_cast<double>(BytesInUse() - before) / kTasks;
  std::printf("live state: %.1f bytes per answer (%lld tasks, %lld workers, 1 answer each)\n",
              per_answer, static_cast<long long>(kTasks), static_cast<long long>(kWorkers));
  EXPECT_EQ(model.num_answers(), kTasks);
  EXPECT_LT(per_answer, 80.0);
}

}  // namespace
}  // namespace consensusd::engine
