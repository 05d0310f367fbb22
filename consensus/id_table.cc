#include "consensus/id_table.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>

#include "absl/hash/hash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace consensusd::consensus {

namespace {

uint64_t HashOf(std::string_view name) {
  return absl::Hash<absl::string_view>{}(absl::string_view(name.data(), name.size()));
}

// The group a hash starts at, and its tag (never 0, which marks a free slot).
size_t GroupOf(uint64_t hash, size_t mask) { return static_cast<size_t>(hash >> 8) & mask; }
uint8_t TagOf(uint64_t hash) {
  const uint8_t tag = static_cast<uint8_t>(hash);
  return tag == 0 ? 1 : tag;
}

// Bit i set where tags[i] == tag, for the 12 slots of a group.
uint32_t MatchTags(const uint8_t* tags, uint8_t tag) {
#if defined(__SSE2__)
  const __m128i group = _mm_load_si128(reinterpret_cast<const __m128i*>(tags));
  const __m128i eq = _mm_cmpeq_epi8(group, _mm_set1_epi8(static_cast<char>(tag)));
  return static_cast<uint32_t>(_mm_movemask_epi8(eq)) & 0xFFFu;
#else
  uint32_t bits = 0;
  for (int i = 0; i < 12; ++i) bits |= static_cast<uint32_t>(tags[i] == tag) << i;
  return bits;
#endif
}

}  // namespace

IdTable::Slot IdTable::Probe(std::string_view name, uint64_t hash) const {
  const size_t mask = groups_.size() - 1;
  const uint8_t tag = TagOf(hash);
  for (size_t g = GroupOf(hash, mask);; g = (g + 1) & mask) {
    const Group& group = groups_[g];
    for (uint32_t match = MatchTags(group.tags, tag); match != 0; match &= match - 1) {
      const int i = std::countr_zero(match);
      if (Name(static_cast<int32_t>(group.ids[i])) == name) return {g, i, true};
    }
    // Slots fill in order and are never freed: the first free one ends the probe.
    if (const uint32_t free = MatchTags(group.tags, 0); free != 0) {
      return {g, std::countr_zero(free), false};
    }
  }
}

void IdTable::Reserve(size_t more) {
  const size_t need = ends_.size() + more;
  size_t groups = std::max<size_t>(groups_.size(), 1);
  while (need * 8 > groups * kGroupSlots * 7) groups *= 2;
  if (groups == groups_.size()) return;
  groups_.clear();
  groups_.shrink_to_fit();  // the old table goes before the new one comes
  groups_.resize(groups);   // value-initialized: every tag 0
  const size_t mask = groups - 1;
  // In runs: the hashes of a run first, each group fetched ahead of its use.
  constexpr int32_t kRun = 64;
  uint64_t hashes[kRun];
  for (int32_t first = 0; first < size(); first += kRun) {
    const int32_t n = std::min(kRun, size() - first);
    for (int32_t j = 0; j < n; ++j) {
      hashes[j] = HashOf(Name(first + j));
      __builtin_prefetch(&groups_[GroupOf(hashes[j], mask)], 1);
    }
    for (int32_t j = 0; j < n; ++j) {
      const uint64_t hash = hashes[j];
      for (size_t g = GroupOf(hash, mask);; g = (g + 1) & mask) {
        Group& group = groups_[g];
        if (const uint32_t free = MatchTags(group.tags, 0); free != 0) {
          const int i = std::countr_zero(free);
          group.tags[i] = TagOf(hash);
          group.ids[i] = static_cast<uint32_t>(first + j);
          break;
        }
      }
    }
  }
}

int32_t IdTable::Intern(std::string_view name) {
  Reserve(1);
  return InternHashed(name, HashOf(name));
}

void IdTable::InternAll(std::span<const std::string_view> names, int32_t* ids) {
  // Room for every name at once, so that no growth moves the groups between
  // a prefetch and its probe. (The table may grow sooner than one Intern() at
  // a time would grow it; the ids do not depend on its size.)
  Reserve(names.size());
  constexpr size_t kAhead = 8;
  hashes_.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) hashes_[i] = HashOf(names[i]);
  const size_t mask = groups_.size() - 1;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i + kAhead < names.size()) __builtin_prefetch(&groups_[GroupOf(hashes_[i + kAhead], mask)]);
    ids[i] = InternHashed(names[i], hashes_[i]);
  }
}

int32_t IdTable::InternHashed(std::string_view name, uint64_t hash) {
  const Slot slot = Probe(name, hash);
  Group& group = groups_[slot.group];
  if (slot.found) return static_cast<int32_t>(group.ids[slot.index]);
  if (name.size() > kMaxNameBytes) {
    std::fprintf(stderr, "IdTable: a name of %zu bytes (the limit is %zu)\n", name.size(), kMaxNameBytes);
    std::abort();
  }
  const int32_t id = size();
  group.tags[slot.index] = TagOf(hash);
  group.ids[slot.index] = static_cast<uint32_t>(id);
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
  if (groups_.empty()) return kNotFound;
  const Slot slot = Probe(name, HashOf(name));
  return slot.found ? static_cast<int32_t>(groups_[slot.group].ids[slot.index]) : kNotFound;
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
