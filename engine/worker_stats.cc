#include "engine/worker_stats.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"
#include "simdjson.h"

namespace consensusd::engine {

namespace {

// Bounds on what a record may hold, so that one record (from a buggy or
// hostile writer) can neither allocate more than a few MB nor overflow the
// sums: no project has more than 1024 classes (config max_classes), and no
// count comes near 2^53.
constexpr size_t kMaxRecordClasses = 1024;
constexpr double kMaxCount = 1e15;
constexpr int64_t kMaxAnswers = int64_t{1} << 50;

void AppendNumbers(const double* values, size_t n, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(',');
    AppendProbability(out, values[i]);
  }
  out.push_back(']');
}

}  // namespace

std::string WorkerStatsKey(std::string_view group, std::string_view project,
                           const std::string* worker, int32_t partition) {
  // "<group>/<project>/<worker>/<partition>" or "<group>/<project>/<partition>".
  std::string key = ConsensusKey(group, project);
  key.push_back('/');
  if (worker != nullptr) {
    AppendKeyPart(key, *worker);
    key.push_back('/');
  }
  absl::StrAppend(&key, partition);
  return key;
}

void AppendWorkerStatsJson(const WorkerStatsRecord& r, std::string& out) {
  out += "{\"group\":";
  AppendJsonString(out, r.group);
  out += ",\"project\":";
  AppendJsonString(out, r.project);
  absl::StrAppend(&out, ",\"partition\":", r.partition);
  if (r.has_worker) {
    out += ",\"worker\":";
    AppendJsonString(out, r.worker);
  }
  out += ",\"instance\":";
  AppendJsonString(out, r.instance);
  out += ",\"classes\":[";
  for (size_t i = 0; i < r.classes.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, r.classes[i]);
  }
  out.push_back(']');
  const size_t k = r.classes.size();
  if (r.has_worker) {
    absl::StrAppend(&out, ",\"answers\":", r.answers, ",\"counts\":[");
    for (size_t row = 0; row < k; ++row) {
      if (row > 0) out.push_back(',');
      AppendNumbers(r.counts.data() + row * k, k, out);
    }
    out.push_back(']');
  } else {
    out += ",\"class_counts\":";
    AppendNumbers(r.class_counts.data(), k, out);
  }
  out.push_back('}');
}

absl::Status DecodeWorkerStats(std::string_view value, WorkerStatsRecord* r) {
  // simdjson's DOM, with one parser per thread (its buffers are reused): every
  // instance reads every record of the exchange, its own included, so this
  // runs once per worker and partition each interval.
  namespace dom = simdjson::dom;
  thread_local dom::parser parser;
  dom::object j;
  if (parser.parse(value.data(), value.size()).get_object().get(j) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("worker statistics: not a JSON object");
  }
  auto string_field = [&](const char* name, std::string* out) -> bool {
    std::string_view v;
    if (j[name].get_string().get(v) != simdjson::SUCCESS) return false;
    out->assign(v.data(), v.size());
    return true;
  };
  if (!string_field("group", &r->group) || !string_field("project", &r->project) ||
      !string_field("instance", &r->instance)) {
    return absl::InvalidArgumentError("worker statistics: group, project or instance missing");
  }
  int64_t partition = -1;
  if (j["partition"].get_int64().get(partition) != simdjson::SUCCESS || partition < 0 ||
      partition > INT32_MAX) {
    return absl::InvalidArgumentError("worker statistics: partition missing or out of range");
  }
  r->partition = static_cast<int32_t>(partition);
  dom::array classes;
  if (j["classes"].get_array().get(classes) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("worker statistics: classes missing");
  }
  if (classes.size() > kMaxRecordClasses) {
    return absl::InvalidArgumentError("worker statistics: more than 1024 classes");
  }
  r->classes.clear();
  for (dom::element c : classes) {
    std::string_view name;
    if (c.get_string().get(name) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("worker statistics: a class is not a string");
    }
    r->classes.emplace_back(name);
  }
  const size_t k = r->classes.size();
  {
    std::vector<std::string_view> sorted(r->classes.begin(), r->classes.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return absl::InvalidArgumentError("worker statistics: a class is named twice");
    }
  }
  // A count: any JSON number, finite, in [0, kMaxCount].
  auto count = [](dom::element v, double* out) {
    return v.get_double().get(*out) == simdjson::SUCCESS && std::isfinite(*out) && *out >= 0 &&
           *out <= kMaxCount;
  };
  r->has_worker = string_field("worker", &r->worker);
  if (r->has_worker) {
    int64_t answers = -1;
    dom::array counts;
    if (j["answers"].get_int64().get(answers) != simdjson::SUCCESS || answers < 0 ||
        answers > kMaxAnswers || j["counts"].get_array().get(counts) != simdjson::SUCCESS ||
        counts.size() != k) {
      return absl::InvalidArgumentError("worker statistics: answers or counts malformed");
    }
    r->answers = answers;
    for (dom::element cells : counts) {  // the shape first: K x K is allocated only if present
      dom::array row;
      if (cells.get_array().get(row) != simdjson::SUCCESS || row.size() != k) {
        return absl::InvalidArgumentError("worker statistics: counts is not K x K");
      }
    }
    r->counts.assign(k * k, 0.0);
    size_t row = 0;
    for (dom::element cells : counts) {
      dom::array row_cells;
      if (cells.get_array().get(row_cells) != simdjson::SUCCESS) {  // checked above
        return absl::InvalidArgumentError("worker statistics: counts is not K x K");
      }
      size_t col = 0;
      for (dom::element cell : row_cells) {
        if (!count(cell, &r->counts[row * k + col])) {
          return absl::InvalidArgumentError("worker statistics: a count is not a number >= 0");
        }
        ++col;
      }
      ++row;
    }
    return absl::OkStatus();
  }
  dom::array class_counts;
  if (j["class_counts"].get_array().get(class_counts) != simdjson::SUCCESS || class_counts.size() != k) {
    return absl::InvalidArgumentError("worker statistics: neither worker nor class_counts");
  }
  r->class_counts.assign(k, 0.0);
  size_t i = 0;
  for (dom::element v : class_counts) {
    if (!count(v, &r->class_counts[i++])) {
      return absl::InvalidArgumentError("worker statistics: a count is not a number >= 0");
    }
  }
  return absl::OkStatus();
}

namespace {

// The first entry of `entries` (sorted by partition) not below `partition`.
template <typename Entries>
auto LowerBound(Entries& entries, int32_t partition) {
  return std::lower_bound(entries.begin(), entries.end(), partition,
                          [](const auto& e, int32_t p) { return e.first < p; });
}

}  // namespace

PartitionStatsMap::const_iterator PartitionStatsMap::find(int32_t partition) const {
  auto it = LowerBound(entries_, partition);
  return it != entries_.end() && it->first == partition ? it : entries_.end();
}

// GCC 12 warns, wrongly, that moving an InlinedVector's inline storage reads
// it uninitialised.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
PartitionStats& PartitionStatsMap::operator[](int32_t partition) {
  auto it = LowerBound(entries_, partition);
  if (it == entries_.end() || it->first != partition) {
    it = entries_.emplace(it, std::piecewise_construct, std::forward_as_tuple(partition),
                          std::forward_as_tuple());
  }
  return it->second;
}
#pragma GCC diagnostic pop

void PartitionStatsMap::erase(int32_t partition) {
  auto it = LowerBound(entries_, partition);
  if (it != entries_.end() && it->first == partition) entries_.erase(it);
}

void ProjectExchange::ErasePartition(int32_t partition) {
  topic_classes.erase(partition);
  for (auto it = topic_workers.begin(); it != topic_workers.end();) {
    auto next = std::next(it);
    it->second.erase(partition);
    if (it->second.empty()) topic_workers.erase(it);
    it = next;
  }
}

namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

}  // namespace

SentFingerprints::Partition* SentFingerprints::Get(int32_t partition) {
  for (Partition& p : partitions_) {
    if (p.partition == partition) return &p;
  }
  return nullptr;
}

const SentFingerprints::Partition* SentFingerprints::Get(int32_t partition) const {
  for (const Partition& p : partitions_) {
    if (p.partition == partition) return &p;
  }
  return nullptr;
}

std::optional<uint64_t> SentFingerprints::Find(int32_t partition, int32_t worker) const {
  const Partition* p = Get(partition);
  if (p == nullptr) return std::nullopt;
  uint64_t value = kNone;
  const size_t i = static_cast<size_t>(worker) + 1;
  if (!p->dense.empty()) {
    if (i < p->dense.size()) value = p->dense[i];
  } else if (auto it = p->sparse.find(worker); it != p->sparse.end()) {
    value = it->second;
  }
  if (value == kNone) return std::nullopt;
  return value == kResend ? kResendFingerprint : value;
}

void SentFingerprints::Set(int32_t partition, int32_t worker, uint64_t fingerprint) {
  const uint64_t value = fingerprint == kResendFingerprint ? kResend : fingerprint;
  Partition* p = Get(partition);
  if (p == nullptr) {
    p = &partitions_.emplace_back();
    p->partition = partition;
  }
  const size_t i = static_cast<size_t>(worker) + 1;
  if (p->dense.empty()) {
    auto [it, fresh] = p->sparse.try_emplace(worker, value);
    if (!fresh) {
      it->second = value;
      return;
    }
    ++p->count;
    p->ids = std::max(p->ids, i + 1);
    // An array pays once more than a quarter of the worker ids seen here
    // have an entry: 8 bytes per id against about 34 per entry.
    if (p->count < 64 || p->count * 4 < p->ids) return;
    p->dense.assign(p->ids, kNone);
    for (const auto& [w, v] : p->sparse) p->dense[static_cast<size_t>(w) + 1] = v;
    p->sparse = {};
    return;
  }
  // (an eighth more at a time: resize writes every new entry, so spare
  // room is resident memory)
  if (i >= p->dense.size()) p->dense.resize(std::max(i + 1, p->dense.size() + p->dense.size() / 8), kNone);
  if (p->dense[i] == kNone) ++p->count;
  p->dense[i] = value;
}

void SentFingerprints::ErasePartition(int32_t partition) {
  std::erase_if(partitions_, [&](const Partition& p) { return p.partition == partition; });
}

void SentFingerprints::MarkAllForResend() {
  for (Partition& p : partitions_) {
    for (auto& [w, value] : p.sparse) value = kResend;
    for (uint64_t& value : p.dense) {
      if (value != kNone) value = kResend;
    }
  }
}

size_t SentFingerprints::size() const {
  size_t n = 0;
  for (const Partition& p : partitions_) n += p.count;
  return n;
}

uint64_t StatsFingerprint(int64_t answers, std::span<const double> counts, int32_t num_classes) {
  uint64_t h = Mix(static_cast<uint64_t>(answers), static_cast<uint64_t>(num_classes));
  for (const double x : counts) {
    // The publishing threshold, a relative 1e-6, is far below what moves a
    // label or an accuracy, far above rounding, and large enough that the
    // exchange settles (docs/scaling.md). The step 2^(e - 20), where
    // 2^e <= 1 + |x| < 2^(e + 1), is between 2^-21 and 2^-20 of 1 + |x|:
    // below the threshold, so a change beyond the threshold always moves the
    // rounded value (or the exponent).
    const int e = std::ilogb(1.0 + std::fabs(x));
    const int64_t q = std::llround(std::ldexp(x, 20 - e));
    h = Mix(Mix(h, static_cast<uint64_t>(e)), static_cast<uint64_t>(q));
  }
  return h <= 1 ? h + 2 : h;  // (SentFingerprints stores 0 and 1 for itself)
}

void AddStats(const PartitionStats& entry, int32_t num_classes, bool matrix, double* sum) {
  const int32_t k = std::min(entry.num_classes, num_classes);
  if (!matrix) {
    for (int32_t i = 0; i < k; ++i) sum[i] += entry.counts[i];
    return;
  }
  for (int32_t l = 0; l < k; ++l) {
    for (int32_t c = 0; c < k; ++c) {
      sum[l * num_classes + c] += entry.counts[static_cast<size_t>(l) * entry.num_classes + c];
    }
  }
}

}  // namespace consensusd::engine
