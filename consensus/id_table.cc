#include "consensus/id_table.h"

#include <algorithm>
#include <numeric>

namespace consensusd::consensus {

int32_t IdTable::Intern(std::string_view name) {
  auto it = ids_.find(absl::string_view(name.data(), name.size()));
  if (it != ids_.end()) return it->second;
  const int32_t id = size();
  ids_.emplace(std::string(name), id);
  names_.emplace_back(name);
  return id;
}

int32_t IdTable::Find(std::string_view name) const {
  auto it = ids_.find(absl::string_view(name.data(), name.size()));
  return it == ids_.end() ? kNotFound : it->second;
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
