#include "consensus/id_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>

#include "absl/hash/hash.h"

namespace consensusd::consensus {

namespace {

uint32_t HashOf(std::string_view name) {
  // absl's hash mixes every bit into the high half, which the table uses.
  return static_cast<uint32_t>(absl::Hash<absl::string_view>{}(absl::string_view(name.data(), name.size())) >> 32);
}

}  // namespace

size_t IdTable::Probe(std::string_view name, uint32_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return i;
    if (static_cast<uint32_t>(slot >> 32) == hash &&
        Name(static_cast<int32_t>((slot & 0xFFFFFFFFu) - 1)) == name) {
      return i;
    }
  }
}

void IdTable::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(std::max<size_t>(16, old.size() * 2), 0);
  const size_t mask = slots_.size() - 1;
  for (const uint64_t slot : old) {
    if (slot == 0) continue;
    size_t i = (slot >> 32) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

int32_t IdTable::Intern(std::string_view name) {
  if ((ends_.size() + 1) * 4 > slots_.size() * 3) Grow();
  return InternHashed(name, HashOf(name));
}

void IdTable::InternAll(std::span<const std::string_view> names, int32_t* ids) {
  // Room for every name at once, so that no Grow() moves the slots between a
  // prefetch and its probe. (The table may grow sooner than one Intern() at a
  // time would grow it; the ids do not depend on its size.)
  while ((ends_.size() + names.size()) * 4 > slots_.size() * 3) Grow();
  constexpr size_t kAhead = 8;
  hashes_.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) hashes_[i] = HashOf(names[i]);
  const size_t mask = slots_.size() - 1;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i + kAhead < names.size()) __builtin_prefetch(&slots_[hashes_[i + kAhead] & mask]);
    ids[i] = InternHashed(names[i], hashes_[i]);
  }
}

int32_t IdTable::InternHashed(std::string_view name, uint32_t hash) {
  const size_t i = Probe(name, hash);
  if (slots_[i] != 0) return static_cast<int32_t>((slots_[i] & 0xFFFFFFFFu) - 1);
  if (name.size() > kMaxNameBytes) {
    std::fprintf(stderr, "IdTable: a name of %zu bytes (the limit is %zu)\n", name.size(), kMaxNameBytes);
    std::abort();
  }
  const int32_t id = size();
  slots_[i] = (static_cast<uint64_t>(hash) << 32) | static_cast<uint64_t>(id + 1);
  if ((id & kBlockMask) == 0) {
    if (!blocks_.empty()) blocks_.back().shrink_to_fit();
    blocks_.emplace_back();
  }
  std::string& block = blocks_.back();
  block.append(name);
  ends_.push_back(static_cast<uint32_t>(block.size()));
  return id;
}

std::vector<std::string> IdTable::names() const {
  std::vector<std::string> out;
  out.reserve(ends_.size());
  for (int32_t id = 0; id < size(); ++id) out.emplace_back(Name(id));
  return out;
}

int32_t IdTable::Find(std::string_view name) const {
  if (slots_.empty()) return kNotFound;
  const uint64_t slot = slots_[Probe(name, HashOf(name))];
  return slot == 0 ? kNotFound : static_cast<int32_t>((slot & 0xFFFFFFFFu) - 1);
}

std::vector<int32_t> SortedRank(const IdTable& table) {
  std::vector<int32_t> order(table.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return table.Name(a) < table.Name(b);
  });
  std::vector<int32_t> rank(order.size());
  for (int32_t r = 0; r < static_cast<int32_t>(order.size()); ++r) rank[order[r]] = r;
  return rank;
}

}  // namespace consensusd::consensus
