// IdTable interns string ids (tasks, workers, class names) to dense int32 ids,
// so the hot paths work on flat arrays of small integers.
//
//   IdTable workers;
//   int32_t w = workers.Intern("ann-17");   // 0 the first time, the same id after
//   workers.Name(w) == "ann-17";
//
// How it stores them: every name's bytes are appended to one arena, an id is
// the index of its name's start offset, and the lookup table is a hash set of
// ids that hashes and compares the names in the arena. A name costs its bytes
// plus about 16 (offset and hash slot), not a std::string and a map entry
// (about 100 bytes for a short name): a `serve` holding millions of tasks
// keeps their names in memory (issue 10).
#ifndef CONSENSUSD_CONSENSUS_ID_TABLE_H_
#define CONSENSUSD_CONSENSUS_ID_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace consensusd::consensus {

// Ids are assigned in first-seen order, 0, 1, 2, ... and never change.
// Not thread-safe.
class IdTable {
 public:
  static constexpr int32_t kNotFound = -1;

  IdTable();
  IdTable(const IdTable& other);
  IdTable& operator=(const IdTable& other);
  IdTable(IdTable&&) noexcept = default;
  IdTable& operator=(IdTable&&) noexcept = default;

  // Returns the id of `name`, assigning the next id if it is new.
  int32_t Intern(std::string_view name);
  // Returns the id of `name`, or kNotFound.
  int32_t Find(std::string_view name) const;
  // REQUIRES: 0 <= id < size(). The view stays valid until the next Intern.
  std::string_view Name(int32_t id) const { return names_->Name(id); }
  int32_t size() const { return static_cast<int32_t>(names_->begin.size() - 1); }
  // Every name, by id (a copy).
  std::vector<std::string> names() const;

 private:
  // The arena, on the heap so that its address (held by the hash set's
  // functors) survives moving the table.
  struct Names {
    std::string bytes;                // every name, back to back
    std::vector<size_t> begin = {0};  // name id is bytes[begin[id], begin[id + 1])
    std::string_view Name(int32_t id) const {
      return std::string_view(bytes.data() + begin[id], begin[id + 1] - begin[id]);
    }
  };
  struct Hash {
    using is_transparent = void;
    const Names* names;
    size_t operator()(std::string_view name) const;
    size_t operator()(int32_t id) const { return (*this)(names->Name(id)); }
  };
  struct Eq {
    using is_transparent = void;
    const Names* names;
    bool operator()(int32_t a, int32_t b) const { return a == b; }
    bool operator()(int32_t a, std::string_view b) const { return names->Name(a) == b; }
    bool operator()(std::string_view a, int32_t b) const { return a == names->Name(b); }
  };

  std::unique_ptr<Names> names_;
  absl::flat_hash_set<int32_t, Hash, Eq> ids_;
};

// The rank of each id when the names are sorted bytewise: rank[id] == 0 for the
// name that sorts first. Used to break ties deterministically.
std::vector<int32_t> SortedRank(const IdTable& table);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ID_TABLE_H_
