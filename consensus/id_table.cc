#include "consensus/id_table.h"

#include <algorithm>
#include <numeric>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace consensusd::consensus {

size_t IdTable::Hash::operator()(std::string_view name) const {
  return absl::Hash<absl::string_view>{}(absl::string_view(name.data(), name.size()));
}

IdTable::IdTable()
    : names_(std::make_unique<Names>()),
      ids_(0, Hash{names_.get()}, Eq{names_.get()}) {}

IdTable::IdTable(const IdTable& other)
    : names_(std::make_unique<Names>(*other.names_)),
      ids_(other.ids_.size(), Hash{names_.get()}, Eq{names_.get()}) {
  for (int32_t id = 0; id < size(); ++id) ids_.insert(id);
}

IdTable& IdTable::operator=(const IdTable& other) {
  if (this != &other) *this = IdTable(other);
  return *this;
}

int32_t IdTable::Intern(std::string_view name) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return *it;
  const int32_t id = size();
  names_->bytes.append(name);
  names_->begin.push_back(names_->bytes.size());
  ids_.insert(id);
  return id;
}

int32_t IdTable::Find(std::string_view name) const {
  auto it = ids_.find(name);
  return it == ids_.end() ? kNotFound : *it;
}

std::vector<std::string> IdTable::names() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (int32_t id = 0; id < size(); ++id) out.emplace_back(Name(id));
  return out;
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
