#include "consensus/answer_store.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <utility>

namespace consensusd::consensus {

int32_t AnswerStore::AddTask() {
  slots_.push_back({0, kEmpty});
  return num_tasks() - 1;
}

std::span<const TaskAnswer> AnswerStore::Of(int32_t task) const {
  const TaskAnswer& slot = slots_[task];
  if (slot.label >= 0) return {&slot, 1};
  if (slot.label == kEmpty) return {};
  return {pool_.data() + slot.worker, static_cast<size_t>(-slot.label)};
}

const TaskAnswer* AnswerStore::Find(int32_t task, int32_t worker) const {
  for (const TaskAnswer& a : Of(task)) {
    if (a.worker == worker) return &a;
  }
  return nullptr;
}

TaskAnswer* AnswerStore::FindMutable(int32_t task, int32_t worker) {
  return const_cast<TaskAnswer*>(std::as_const(*this).Find(task, worker));
}

// Inlined into Put, so that replace's hot path costs what it did before Add.
[[gnu::always_inline]] inline void AnswerStore::Append(int32_t task, int32_t worker,
                                                       int32_t label) {
  TaskAnswer& slot = slots_[task];
  if (slot.label == kEmpty) {
    slot = {worker, label};
    return;
  }
  if (slot.label >= 0) {  // one inline answer: move both to a block of 2
    const TaskAnswer first = slot;
    const int32_t block = Allocate(2);
    pool_[block] = first;
    pool_[block + 1] = {worker, label};
    slots_[task] = {block, -2};
    return;
  }
  const int32_t count = -slot.label;
  int32_t block = slot.worker;
  const int32_t capacity = static_cast<int32_t>(std::bit_ceil(static_cast<uint32_t>(count)));
  if (count == capacity) {  // full: move to a block twice the size
    const int32_t grown = Allocate(2 * capacity);  // may reallocate pool_
    std::copy(pool_.begin() + block, pool_.begin() + block + count, pool_.begin() + grown);
    Free(block, capacity);
    block = grown;
  }
  pool_[block + count] = {worker, label};
  slots_[task] = {block, -(count + 1)};
}

AnswerStore::PutResult AnswerStore::Put(int32_t task, int32_t worker, int32_t label) {
  assert(label >= 0);
  if (TaskAnswer* found = FindMutable(task, worker)) {
    if (found->label == label) return PutResult::kUnchanged;
    found->label = label;
    return PutResult::kReplaced;
  }
  Append(task, worker, label);
  return PutResult::kAdded;
}

void AnswerStore::Add(int32_t task, int32_t worker, int32_t label) {
  assert(label >= 0);
  Append(task, worker, label);
}

bool AnswerStore::Remove(int32_t task, int32_t worker) {
  TaskAnswer& slot = slots_[task];
  if (slot.label == kEmpty) return false;
  if (slot.label >= 0) {
    if (slot.worker != worker) return false;
    slot = {0, kEmpty};
    return true;
  }
  const int32_t count = -slot.label;
  const int32_t block = slot.worker;
  auto begin = pool_.begin() + block, end = begin + count;
  auto it = std::find_if(begin, end, [&](const TaskAnswer& a) { return a.worker == worker; });
  if (it == end) return false;
  std::copy(it + 1, end, it);
  const int32_t left = count - 1;
  if (left == 1) {  // back to inline
    slots_[task] = pool_[block];
    Free(block, 2);
  } else if (std::has_single_bit(static_cast<uint32_t>(left))) {
    // Down to half the block: move to a block of that size (blocks are never
    // split, so that a freed block always fits the next block of its size).
    const int32_t shrunk = Allocate(left);  // may reallocate pool_
    std::copy(pool_.begin() + block, pool_.begin() + block + left, pool_.begin() + shrunk);
    Free(block, 2 * left);
    slots_[task] = {shrunk, -left};
  } else {
    slot = {block, -left};
  }
  return true;
}

int32_t AnswerStore::RemoveAll(int32_t task, int32_t worker) {
  int32_t removed = 0;
  while (Remove(task, worker)) ++removed;
  return removed;
}

void AnswerStore::Clear(int32_t task) {
  TaskAnswer& slot = slots_[task];
  if (slot.label < kEmpty) {
    Free(slot.worker, static_cast<int32_t>(std::bit_ceil(static_cast<uint32_t>(-slot.label))));
  }
  slot = {0, kEmpty};
}

size_t AnswerStore::bytes() const {
  return (slots_.capacity() + pool_.capacity()) * sizeof(TaskAnswer);
}

int AnswerStore::SizeClass(int32_t capacity) {
  return std::countr_zero(static_cast<uint32_t>(capacity));
}

int32_t AnswerStore::Allocate(int32_t capacity) {
  int32_t& head = free_[SizeClass(capacity)];
  if (head != kNoBlock) {
    const int32_t block = head;
    head = pool_[block].worker;
    return block;
  }
  const int32_t block = static_cast<int32_t>(pool_.size());
  pool_.resize(pool_.size() + capacity);
  return block;
}

void AnswerStore::Free(int32_t offset, int32_t capacity) {
  int32_t& head = free_[SizeClass(capacity)];
  pool_[offset].worker = head;
  head = offset;
}

}  // namespace consensusd::consensus
