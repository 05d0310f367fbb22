// IdTable interns string ids (tasks, workers, class names) to dense int32 ids,
// so the hot paths work on flat arrays of small integers.
//
//   IdTable workers;
//   int32_t w = workers.Intern("ann-17");   // 0 the first time, the same id after
//   workers.Name(w) == "ann-17";  // a string_view into the table
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
// How it works: the names of each block of 65,536 ids are held back to back
// in that block's buffer, blocks_[id >> 16], and ends_[id] is where name id
// ends in it: 32-bit, which names of at most 64 KiB keep below 4 GiB (every
// input limits an id to 256 bytes). A full block gives back its spare
// capacity, so only the last one has any, and no growth copies more than
// one block's names.
//
// The index is an open-addressing table of groups, each one cache line: 12
// ids and, for each, a tag byte of its name's hash (0: empty). A name's hash
// picks its first group; a probe compares the tags of a whole group at once,
// reads a name only where a tag matches (1 time in 255 otherwise), and moves
// to the next group only when this one is full (ids are never removed, so a
// group with an empty slot ends the probe). At most 7/8 of the slots are
// used. Growing re-hashes the names in id order (sequential reads, each
// group fetched a run ahead of its write).
//
// A name costs its bytes plus 4, plus 6.1 to 12.2 for its slot (5.3 bytes a
// slot, 7/16 to 7/8 of them used); 8-byte (hash, id) slots at most 3/4 full
// took 10.7 to 21.3 (at 2M names, 32 MiB against 16). A std::string per
// name took 32 bytes however short the name (and a heap block more past 15
// characters, as a UUID is), and a hash map keyed by std::string held every
// name twice.
class IdTable {
 public:
  static constexpr int32_t kNotFound = -1;

  // The longest name a table takes.
  static constexpr size_t kMaxNameBytes = (size_t{1} << 16) - 1;

  // Returns the id of `name`, assigning the next id if it is new.
  // REQUIRES: name.size() <= kMaxNameBytes (checked: aborts).
  int32_t Intern(std::string_view name);
  // ids[i] = Intern(names[i]) for each i in order (the same ids), faster for
  // a table much larger than the cache: the names are hashed first and each
  // probe's slot is fetched from memory a few names ahead of its use.
  void InternAll(std::span<const std::string_view> names, int32_t* ids);
  // Returns the id of `name`, or kNotFound.
  int32_t Find(std::string_view name) const;
  // REQUIRES: 0 <= id < size(). Valid until the next Intern*.
  std::string_view Name(int32_t id) const {
    const uint32_t begin = (id & kBlockMask) == 0 ? 0 : ends_[id - 1];
    return std::string_view(blocks_[static_cast<uint32_t>(id) >> kBlockBits].data() + begin,
                            ends_[id] - begin);
  }
  int32_t size() const { return static_cast<int32_t>(ends_.size()); }
  // Every name, by id (a copy).
  std::vector<std::string> names() const;

 private:
  static constexpr int kGroupSlots = 12;
  // One cache line: tags[i] != 0 marks ids[i] as used; tags 12..15 stay 0.
  struct alignas(64) Group {
    uint8_t tags[16];
    uint32_t ids[kGroupSlots];
  };
  // Where a probe for a name ended: the slot holding its id, or the empty
  // slot where it would go (found false).
  struct Slot {
    size_t group;
    int index;
    bool found;
  };
  // REQUIRES: !groups_.empty().
  Slot Probe(std::string_view name, uint64_t hash) const;
  // Intern with the hash computed. REQUIRES: room for one more name.
  int32_t InternHashed(std::string_view name, uint64_t hash);
  // Makes room for `more` names beyond size().
  void Reserve(size_t more);

  static constexpr int kBlockBits = 16;
  static constexpr int32_t kBlockMask = (1 << kBlockBits) - 1;

  std::vector<std::string> blocks_;  // blocks_[b]: the names of ids b << 16 ..., back to back
  std::vector<uint32_t> ends_;       // ends_[id]: the end of name id in its block
  std::vector<Group> groups_;        // size 0 or a power of two
  std::vector<uint64_t> hashes_;     // InternAll's scratch
};

// The rank of each id when the names are sorted bytewise: rank[id] == 0 for the
// name that sorts first. Used to break ties deterministically.
std::vector<int32_t> SortedRank(const IdTable& table);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ID_TABLE_H_
