// AnswerStore: the answers of every task, (worker, label) pairs in arrival
// order, in two flat arrays instead of a heap vector per task.
//
//   AnswerStore answers;
//   answers.AddTask();                       // task 0, no answers
//   answers.Put(0, /*worker=*/7, /*label=*/1);
//   for (const TaskAnswer& a : answers.Of(0)) ...
//
// How it works: each task has one 8-byte slot. A task with one answer (the
// common case) keeps it in its slot; a task with none or with several marks
// the slot with a negative label: -1 none, -n for n >= 2 answers held in the
// pool at offset `worker`, in a block of bit_ceil(n) entries. A full block
// moves to a block twice its size, one down to half its size to a block of
// that size. Freed blocks go to a free list per size (linked through their
// first entry) and are reused by the next block of that size; blocks are never
// split nor merged, so the pool holds at most the largest number of blocks of
// each size in use at once. So a task with one answer costs 8 bytes, a task
// with n >= 2 answers 8 + 8 * bit_ceil(n), against 24 + a heap block (at least
// 32 bytes) for a std::vector. Limit: the pool holds at most 2^31 entries.
//
// Repeats (a project's `repeats: count`): Add() appends a worker's further
// answer to a task as an entry of its own, so a repeat costs what another
// worker's answer costs and a task with one answer stays in its 8-byte slot.
//
// Not thread-safe. A span returned by Of() is valid until the next change.
#ifndef CONSENSUSD_CONSENSUS_ANSWER_STORE_H_
#define CONSENSUSD_CONSENSUS_ANSWER_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace consensusd::consensus {

// One stored answer of a task.
struct TaskAnswer {
  int32_t worker;
  int32_t label;
};

class AnswerStore {
 public:
  // What Put did.
  enum class PutResult { kUnchanged, kReplaced, kAdded };

  AnswerStore() { free_.fill(kNoBlock); }

  // Appends a task without answers; returns its id.
  int32_t AddTask();
  int32_t num_tasks() const { return static_cast<int32_t>(slots_.size()); }

  // The task's answers, in the order they were first given.
  std::span<const TaskAnswer> Of(int32_t task) const;
  // The worker's answer to the task, or null.
  const TaskAnswer* Find(int32_t task, int32_t worker) const;
  // Adds the worker's answer (at the end) or replaces its label in place.
  // REQUIRES: label >= 0.
  PutResult Put(int32_t task, int32_t worker, int32_t label);
  // Appends an answer, even if the worker already has one for the task (an
  // independent repeat). REQUIRES: label >= 0.
  void Add(int32_t task, int32_t worker, int32_t label);
  // Removes the worker's (first) answer, keeping the others' order; false if none.
  bool Remove(int32_t task, int32_t worker);
  // Removes every answer of the worker to the task; returns how many.
  int32_t RemoveAll(int32_t task, int32_t worker);
  // Removes every answer of the task.
  void Clear(int32_t task);

  // Bytes held (slots and pool capacity), for tests and metrics.
  size_t bytes() const;

 private:
  static constexpr int32_t kEmpty = -1;
  TaskAnswer* FindMutable(int32_t task, int32_t worker);
  // Appends an entry (Add without its check).
  void Append(int32_t task, int32_t worker, int32_t label);
  static constexpr int32_t kNoBlock = -1;

  // Size class of a block of `capacity` entries (a power of two >= 2).
  static int SizeClass(int32_t capacity);
  // Offset of a free block of `capacity` entries.
  int32_t Allocate(int32_t capacity);
  void Free(int32_t offset, int32_t capacity);

  std::vector<TaskAnswer> slots_;  // per task: an answer, kEmpty, or -count
  std::vector<TaskAnswer> pool_;   // blocks of tasks with >= 2 answers
  // Head of each size class's free list (kNoBlock: empty); a free block's
  // first entry's worker is the next free block of its class.
  std::array<int32_t, 32> free_;
};

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ANSWER_STORE_H_
