// IdTable interns string ids (tasks, workers, class names) to dense int32 ids,
// so the hot paths work on flat arrays of small integers.
//
//   IdTable workers;
//   int32_t w = workers.Intern("ann-17");   // 0 the first time, the same id after
//   workers.Name(w) == "ann-17";
#ifndef CONSENSUSD_CONSENSUS_ID_TABLE_H_
#define CONSENSUSD_CONSENSUS_ID_TABLE_H_

#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"  // for the files that relied on it here

namespace consensusd::consensus {

// Ids are assigned in first-seen order, 0, 1, 2, ... and never change.
// Not thread-safe.
//
// How it works: names_[id] holds each name once. slots_ is an open-addressing
// table (linear probing, at most 3/4 full) of (32-bit hash, id + 1) pairs, 0
// meaning empty: a probe reads a name only when the hashes match, and growing
// re-places the pairs by their stored hash without reading any name. A short
// name costs about 32 + 11 bytes, where a hash map keyed by std::string held
// every name twice (about 90 bytes): 20M task ids take 0.9 GB, not 2 GB.
class IdTable {
 public:
  static constexpr int32_t kNotFound = -1;

  // Returns the id of `name`, assigning the next id if it is new.
  int32_t Intern(std::string_view name);
  // ids[i] = Intern(names[i]) for each i in order (the same ids), faster for
  // a table much larger than the cache: the names are hashed first and each
  // probe's slot is fetched from memory a few names ahead of its use.
  void InternAll(std::span<const std::string_view> names, int32_t* ids);
  // Returns the id of `name`, or kNotFound.
  int32_t Find(std::string_view name) const;
  // REQUIRES: 0 <= id < size().
  const std::string& Name(int32_t id) const { return names_[id]; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  // The slot of `name`, whose hash is `hash`: the one holding its id, or the
  // empty slot where it would go. REQUIRES: !slots_.empty().
  size_t Probe(std::string_view name, uint32_t hash) const;
  // Intern with the hash computed. REQUIRES: room for one more name.
  int32_t InternHashed(std::string_view name, uint32_t hash);
  void Grow();

  std::vector<std::string> names_;  // names_[id]
  std::vector<uint64_t> slots_;     // hash << 32 | (id + 1), or 0; size 0 or a power of two
  std::vector<uint32_t> hashes_;    // InternAll's scratch
};

// The rank of each id when the names are sorted bytewise: rank[id] == 0 for the
// name that sorts first. Used to break ties deterministically.
std::vector<int32_t> SortedRank(const IdTable& table);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ID_TABLE_H_
