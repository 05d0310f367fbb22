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
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace consensusd::consensus {

// Ids are assigned in first-seen order, 0, 1, 2, ... and never change.
// Not thread-safe.
class IdTable {
 public:
  static constexpr int32_t kNotFound = -1;

  // Returns the id of `name`, assigning the next id if it is new.
  int32_t Intern(std::string_view name);
  // Returns the id of `name`, or kNotFound.
  int32_t Find(std::string_view name) const;
  // REQUIRES: 0 <= id < size().
  const std::string& Name(int32_t id) const { return names_[id]; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> names_;  // names_[id]
};

// The rank of each id when the names are sorted bytewise: rank[id] == 0 for the
// name that sorts first. Used to break ties deterministically.
std::vector<int32_t> SortedRank(const IdTable& table);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_ID_TABLE_H_
