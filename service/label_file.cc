#include "service/label_file.h"

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "consumer/message_decoder.h"
#include "service/csv.h"

namespace consensusd::service {

namespace {

using consensus::IdTable;

// Header names as C strings: Debian's Abseil has its own string_view, which
// absl::StrCat takes but std::string_view does not convert to.
constexpr const char* kLabelsHeader[] = {"task", "worker", "label"};
constexpr const char* kTaskLabelHeader[] = {"task", "label"};
// The most classes a data set may have: the service's limit on a project's
// classes (project_defaults.max_classes allows up to 1024). A CSV with more
// distinct labels is not a classification task (a free-text column?), and EM
// would need K x K doubles per worker for it.
constexpr size_t kMaxClasses = 1024;

absl::Status TooManyClasses(std::string_view label) {
  return absl::InvalidArgumentError(
      absl::StrCat("label '", std::string(label.substr(0, 64)), "' would be class number ", kMaxClasses + 1,
                   "; at most ", kMaxClasses, " distinct labels are aggregated"));
}

}  // namespace

absl::Status CheckRowFields(std::span<const char* const> header, std::span<const std::string_view> fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty ", header[i], ": every row needs ", absl::StrJoin(header, ",")));
    }
    // The limit of the Kafka path, with its wording, so that batch and
    // streaming accept the same ids and labels.
    if (fields[i].size() > consumer::kMaxIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat(header[i], " is ", fields[i].size(),
                                                     " bytes, the limit is ", consumer::kMaxIdBytes));
    }
  }
  return absl::OkStatus();
}

namespace {

// Calls on_row(fields) for every data row of the CSV at `path` (see
// CsvReader::NextRow), where each row must have exactly header.size()
// non-empty fields. Stops at the first error, which names the file and line.
template <typename OnRow>
absl::Status ForEachRow(const std::string& path, std::span<const char* const> header,
                        OnRow on_row) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<std::string_view> fields;
  while (reader->NextRow(header, &fields)) {
    if (absl::Status s = CheckRowFields(header, fields); !s.ok()) {
      return reader->ErrorAtLine(std::string(s.message()));
    }
    absl::Status s = on_row(fields);
    if (!s.ok()) return reader->ErrorAtLine(std::string(s.message()));
  }
  return reader->status();
}

// Both interners hold views into the CSV buffer: use one only while the rows of
// one CsvReader are read.

// Interns the task ids of consecutive rows once: answer files are usually
// grouped by task, so most rows repeat the previous row's task.
class TaskInterner {
 public:
  explicit TaskInterner(IdTable* table) : table_(table) {}
  int32_t Intern(std::string_view name) {
    if (last_id_ == IdTable::kNotFound || name != last_name_) {
      last_id_ = table_->Intern(name);
      last_name_ = name;
    }
    return last_id_;
  }

 private:
  IdTable* table_;
  std::string_view last_name_;  // points into the CSV buffer
  int32_t last_id_ = IdTable::kNotFound;
};

// Interns class names through a short list scanned linearly: most label sets
// are a handful of classes, for which a scan beats hashing.
class ClassInterner {
 public:
  explicit ClassInterner(IdTable* table) : table_(table) {}
  int32_t Intern(std::string_view name) {
    for (const auto& [known, id] : recent_) {
      if (known == name) return id;
    }
    const int32_t id = table_->Intern(name);
    if (recent_.size() < kMaxRecent) recent_.emplace_back(name, id);
    return id;
  }

 private:
  static constexpr size_t kMaxRecent = 8;
  IdTable* table_;
  std::vector<std::pair<std::string_view, int32_t>> recent_;  // views into the CSV buffer
};

}  // namespace

absl::StatusOr<Dataset> LoadDataset(const std::string& labels_path, const std::string& gold_path,
                                    consensus::DuplicatePolicy duplicates) {
  Dataset d;
  consensus::AnswerMatrixBuilder builder;
  TaskInterner tasks(&d.tasks);
  ClassInterner classes(&d.classes);
  absl::Status status = ForEachRow(labels_path, kLabelsHeader, [&](const auto& f) {
    const int32_t label = classes.Intern(f[2]);
    if (static_cast<size_t>(label) >= kMaxClasses) return TooManyClasses(f[2]);
    builder.Add(tasks.Intern(f[0]), d.workers.Intern(f[1]), label);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  d.rows = builder.size();
  if (d.rows == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path, ": no answers; expected rows of task,worker,label"));
  }

  std::vector<int32_t> gold;
  if (!gold_path.empty()) {
    gold.assign(d.tasks.size(), consensus::kNoGold);
    status = ForEachRow(gold_path, kTaskLabelHeader, [&](const auto& f) {
      const int32_t task = d.tasks.Find(f[0]);
      if (task == IdTable::kNotFound) return absl::OkStatus();
      gold[task] = d.classes.Intern(f[1]);
      if (static_cast<size_t>(gold[task]) >= kMaxClasses) return TooManyClasses(f[1]);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }

  d.matrix = builder.Build(d.tasks.size(), d.workers.size(), d.classes.size(), duplicates);
  if (!gold.empty()) d.matrix.gold = std::move(gold);
  d.matrix.class_rank = consensus::SortedRank(d.classes);
  return d;
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> LoadTruth(const std::string& path) {
  absl::flat_hash_map<std::string, std::string> truth;
  absl::Status status = ForEachRow(path, kTaskLabelHeader, [&](const auto& f) {
    truth.insert_or_assign(std::string(f[0]), std::string(f[1]));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return truth;
}

AccuracyResult Accuracy(const std::vector<std::string>& tasks,
                        const std::vector<std::string>& classes, std::span<const int32_t> labels,
                        const absl::flat_hash_map<std::string, std::string>& truth) {
  AccuracyResult result;
  int64_t correct = 0;
  for (size_t t = 0; t < tasks.size(); ++t) {
    auto it = truth.find(tasks[t]);
    if (it == truth.end()) continue;
    ++result.evaluated;
    correct += labels[t] >= 0 && classes[labels[t]] == it->second;
  }
  if (result.evaluated > 0) {
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.evaluated);
  }
  return result;
}

}  // namespace consensusd::service
