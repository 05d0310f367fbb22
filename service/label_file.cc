#include "service/label_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "consumer/message_decoder.h"
#include "consensus/id_table.h"
#include "engine/label_event.h"
#include "engine/reject_reason.h"
#include "service/csv.h"

namespace consensusd::service {

// Every id a file or a message carries fits an IdTable.
static_assert(consumer::kMaxIdBytes <= consensus::IdTable::kMaxNameBytes);

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

// Interns the task ids of consecutive rows once: answer files are usually
// grouped by task, so most rows repeat the previous row's task. The previous
// name is a copy, as the reader's views do not outlive their row; ids are
// at most kMaxIdBytes long, so after the first rows the copy allocates nothing.
class TaskInterner {
 public:
  explicit TaskInterner(IdTable* table) : table_(table) {}
  int32_t Intern(std::string_view name) {
    if (last_id_ == IdTable::kNotFound || name != last_name_) {
      last_id_ = table_->Intern(name);
      last_name_.assign(name);
    }
    return last_id_;
  }

 private:
  IdTable* table_;
  std::string last_name_;
  int32_t last_id_ = IdTable::kNotFound;
};

// Interns worker ids through a hash map of its own in front of the table.
// Answer files repeat each worker many times in no order, and this map finds
// a short id with one cache miss, where IdTable (compact, for the many task
// ids) needs two. The map holds each worker's name a second time.
class WorkerInterner {
 public:
  explicit WorkerInterner(IdTable* table) : table_(table) {}
  int32_t Intern(std::string_view name) {
    auto it = ids_.find(absl::string_view(name.data(), name.size()));
    if (it != ids_.end()) return it->second;
    const int32_t id = table_->Intern(name);
    ids_.emplace(std::string(name), id);
    return id;
  }

 private:
  IdTable* table_;
  absl::flat_hash_map<std::string, int32_t> ids_;
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
    if (recent_.size() < kMaxRecent) recent_.emplace_back(std::string(name), id);
    return id;
  }

 private:
  static constexpr size_t kMaxRecent = 8;
  IdTable* table_;
  std::vector<std::pair<std::string, int32_t>> recent_;  // copies: ids never change
};

// What the readers of both formats fill.
struct Answers {
  explicit Answers(Dataset* d)
      : d(d), tasks(&d->tasks), workers(&d->workers), classes(&d->classes) {}
  Dataset* d;
  consensus::AnswerMatrixBuilder builder;
  int64_t rows = 0;  // answers read, before retractions and duplicates
  TaskInterner tasks;
  WorkerInterner workers;
  ClassInterner classes;
  // Gold declared in the answers file (JSON Lines only), by task name.
  absl::flat_hash_map<std::string, int32_t> gold;

  absl::StatusOr<int32_t> InternClass(std::string_view label) {
    const int32_t c = classes.Intern(label);
    if (static_cast<size_t>(c) >= kMaxClasses) return TooManyClasses(label);
    return c;
  }
};

// The builder's arrays grow by doubling, which for 10^8 answers briefly holds
// the old and the new array: reserving from the size of the first rows avoids
// that. Reserved pages that stay untouched cost no memory.
void ReserveFromFirstRows(size_t file_bytes, size_t bytes_read, int64_t rows,
                          consensus::AnswerMatrixBuilder* builder) {
  if (bytes_read == 0 || file_bytes <= bytes_read) return;
  const double per_row = static_cast<double>(bytes_read) / static_cast<double>(rows);
  builder->Reserve(static_cast<int64_t>(static_cast<double>(file_bytes) / per_row * 1.05) + 1024);
}

// Rows parsed on one thread and interned on another (ReadAnswersCsvPipelined):
// the workers and labels already as ids, the task ids still as text, all of
// them in one buffer.
struct RowBatch {
  static constexpr size_t kRows = 16384;
  std::string task_bytes;          // the rows' task ids, one after the other
  std::vector<uint32_t> task_end;  // where row i's task id ends in task_bytes
  std::vector<int32_t> worker, label;
  size_t position = 0;  // the reader's position after the batch's last row

  void Clear() {
    task_bytes.clear();
    task_end.clear();
    worker.clear();
    label.clear();
  }
};

// Hands RowBatches from one producer to one consumer, a fixed number of them
// in flight (reused: no allocation per batch once they have grown).
class BatchPipe {
 public:
  explicit BatchPipe(int batches) : batches_(static_cast<size_t>(batches)) {
    for (RowBatch& b : batches_) free_.push_back(&b);
  }

  // An empty batch to fill; waits while every batch is queued or in use.
  RowBatch* TakeFree() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !free_.empty(); });
    RowBatch* b = free_.front();
    free_.pop_front();
    b->Clear();
    return b;
  }
  void PushFull(RowBatch* b) { Push(&full_, b); }
  void Recycle(RowBatch* b) { Push(&free_, b); }
  // The producer is done: TakeFull returns nullptr once the queue is drained.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    changed_.notify_all();
  }
  // The next filled batch, in the order pushed, or nullptr after Finish().
  RowBatch* TakeFull() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !full_.empty() || finished_; });
    if (full_.empty()) return nullptr;
    RowBatch* b = full_.front();
    full_.pop_front();
    return b;
  }

 private:
  void Push(std::deque<RowBatch*>* queue, RowBatch* b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue->push_back(b);
    }
    changed_.notify_all();
  }

  std::vector<RowBatch> batches_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<RowBatch*> free_;  // guarded by mu_
  std::deque<RowBatch*> full_;  // guarded by mu_
  bool finished_ = false;       // guarded by mu_
};

absl::Status ReadAnswersCsv(const std::string& path, Answers* answers) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<std::string_view> f;
  constexpr int64_t kRowsBeforeReserve = 4096;
  while (reader->NextRow(kLabelsHeader, &f)) {
    if (absl::Status s = CheckRowFields(kLabelsHeader, f); !s.ok()) {
      return reader->ErrorAtLine(std::string(s.message()));
    }
    absl::StatusOr<int32_t> label = answers->InternClass(f[2]);
    if (!label.ok()) return reader->ErrorAtLine(std::string(label.status().message()));
    answers->builder.Add(answers->tasks.Intern(f[0]), answers->workers.Intern(f[1]), *label);
    ++answers->rows;
    if (answers->builder.size() == kRowsBeforeReserve) {
      ReserveFromFirstRows(reader->size(), reader->position(), kRowsBeforeReserve, &answers->builder);
    }
  }
  return reader->status();
}

// ReadAnswersCsv on two threads, with the same result: a second thread parses
// and checks the rows and interns workers and labels (in file order, so with
// the same ids), while this one interns the task ids (the large table, whose
// probes miss the cache) and adds the answers. Errors are found by the parser,
// in file order, with the same wording and line.
absl::Status ReadAnswersCsvPipelined(const std::string& path, Answers* answers) {
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path);
  if (!reader.ok()) return reader.status();
  const size_t file_bytes = reader->size();
  BatchPipe pipe(4);
  absl::Status parse_status;
  std::thread parser([&] {
    std::vector<std::string_view> f;
    RowBatch* batch = pipe.TakeFree();
    while (reader->NextRow(kLabelsHeader, &f)) {
      if (absl::Status s = CheckRowFields(kLabelsHeader, f); !s.ok()) {
        parse_status = reader->ErrorAtLine(std::string(s.message()));
        break;
      }
      absl::StatusOr<int32_t> label = answers->InternClass(f[2]);
      if (!label.ok()) {
        parse_status = reader->ErrorAtLine(std::string(label.status().message()));
        break;
      }
      batch->task_bytes.append(f[0]);
      batch->task_end.push_back(static_cast<uint32_t>(batch->task_bytes.size()));
      batch->worker.push_back(answers->workers.Intern(f[1]));
      batch->label.push_back(*label);
      if (batch->task_end.size() == RowBatch::kRows) {
        batch->position = reader->position();
        pipe.PushFull(batch);
        batch = pipe.TakeFree();
      }
    }
    if (parse_status.ok()) parse_status = reader->status();
    batch->position = reader->position();
    pipe.PushFull(batch);
    pipe.Finish();
  });
  bool reserved = false;
  // Scratch for a batch: its runs of rows with the same task, their names and ids.
  std::vector<std::string_view> run_names;
  std::vector<uint32_t> run_end;
  std::vector<int32_t> run_ids;
  while (RowBatch* batch = pipe.TakeFull()) {
    const std::string_view bytes = batch->task_bytes;
    run_names.clear();
    run_end.clear();
    uint32_t begin = 0;
    for (size_t i = 0; i < batch->task_end.size(); ++i) {
      const std::string_view task = bytes.substr(begin, batch->task_end[i] - begin);
      begin = batch->task_end[i];
      if (run_names.empty() || task != run_names.back()) {
        run_names.push_back(task);
        run_end.push_back(static_cast<uint32_t>(i + 1));
      } else {
        run_end.back() = static_cast<uint32_t>(i + 1);
      }
    }
    run_ids.resize(run_names.size());
    answers->d->tasks.InternAll(run_names, run_ids.data());
    size_t row = 0;
    for (size_t r = 0; r < run_ids.size(); ++r) {
      for (; row < run_end[r]; ++row) answers->builder.Add(run_ids[r], batch->worker[row], batch->label[row]);
    }
    answers->rows += static_cast<int64_t>(batch->task_end.size());
    if (!reserved && answers->rows > 0) {
      ReserveFromFirstRows(file_bytes, batch->position, answers->rows, &answers->builder);
      reserved = true;
    }
    pipe.Recycle(batch);
  }
  parser.join();
  return parse_status;
}

// Applies the events of one JSON Lines line, stopping at the first rejection
// or error. Answers are held here, not in the builder, because a retraction
// removes earlier answers.
class JsonLinesSink : public consumer::DecodeSink {
 public:
  JsonLinesSink(const std::string& path, Answers* answers) : path_(path), answers_(answers) {}

  void StartLine(int64_t line) { line_ = line; }
  const absl::Status& status() const { return status_; }

  void OnEvent(const engine::LabelEvent& e) override {
    if (!status_.ok()) return;
    if (project_.empty()) {
      project_.assign(e.project);
    } else if (e.project != project_) {
      Fail(absl::StrCat("project '", std::string(e.project), "' differs from the file's first project '",
                        project_, "': aggregate one project at a time"));
      return;
    }
    switch (e.kind) {
      case engine::LabelEvent::Kind::kAnswer: {
        if (e.answer_kind != engine::ProjectKind::kCategorical) {
          return Fail(absl::StrCat("a ", std::string(engine::ProjectKindName(e.answer_kind)),
                                   " answer: JSON Lines files hold class answers; aggregate "
                                   "pairwise votes or ratings with --kind pairwise|rating on a CSV"));
        }
        absl::StatusOr<int32_t> label = answers_->InternClass(e.label);
        if (!label.ok()) return Fail(std::string(label.status().message()));
        task_.push_back(answers_->tasks.Intern(e.task));
        worker_.push_back(answers_->workers.Intern(e.worker));
        label_.push_back(*label);
        ++answers_->rows;
        return;
      }
      case engine::LabelEvent::Kind::kGold: {
        absl::StatusOr<int32_t> label = answers_->InternClass(e.label);
        if (!label.ok()) return Fail(std::string(label.status().message()));
        answers_->gold.insert_or_assign(std::string(e.task), *label);
        return;
      }
      case engine::LabelEvent::Kind::kRetract: {
        // Unknown task or worker: no earlier answer to remove.
        const int32_t task = answers_->d->tasks.Find(e.task);
        const int32_t worker = answers_->d->workers.Find(e.worker);
        if (task == IdTable::kNotFound || worker == IdTable::kNotFound) return;
        retracted_before_[Key(task, worker)] = static_cast<int64_t>(task_.size());
        return;
      }
    }
  }

  void OnReject(const consumer::Rejection& r) override {
    if (!status_.ok()) return;
    Fail(absl::StrCat(std::string(engine::ReasonCode(r.reason)), ": ", r.detail));
  }

  void Fail(std::string_view message) {
    status_ = absl::InvalidArgumentError(absl::StrCat(path_, ":", line_, ": ", std::string(message)));
  }

  // Moves the answers that no later retraction removed into the builder.
  void Finish() {
    for (size_t i = 0; i < task_.size(); ++i) {
      if (!retracted_before_.empty()) {
        auto it = retracted_before_.find(Key(task_[i], worker_[i]));
        if (it != retracted_before_.end() && static_cast<int64_t>(i) < it->second) continue;
      }
      answers_->builder.Add(task_[i], worker_[i], label_[i]);
    }
  }

 private:
  static uint64_t Key(int32_t task, int32_t worker) {
    return (static_cast<uint64_t>(task) << 32) | static_cast<uint32_t>(worker);
  }

  const std::string& path_;
  Answers* answers_;
  int64_t line_ = 0;
  std::string project_;
  std::vector<int32_t> task_, worker_, label_;
  // (task, worker) -> the number of answers read when it was last retracted.
  absl::flat_hash_map<uint64_t, int64_t> retracted_before_;
  absl::Status status_;
};

// Decodes each line as the Kafka consumer decodes a message value, so that the
// same elements are accepted and refused with the same wording (SPEC 3).
absl::Status ReadAnswersJsonLines(const std::string& path, Answers* answers) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return FileError("cannot open", path, errno);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(f, &std::fclose);
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  consumer::MessageDecoder decoder;
  JsonLinesSink sink(path, answers);
  struct LineBuffer {
    ~LineBuffer() { std::free(data); }
    char* data = nullptr;  // getline()'s, reused and grown by it
    size_t capacity = 0;
  } buffer;
  int64_t line_number = 0;
  ssize_t got;
  while ((got = getline(&buffer.data, &buffer.capacity, f)) >= 0) {
    ++line_number;
    std::string_view line(buffer.data, static_cast<size_t>(got));
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ' ||
                             line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;  // blank lines separate nothing
    sink.StartLine(line_number);
    decoder.Decode(line, sink);
    if (!sink.status().ok()) return sink.status();
  }
  if (std::ferror(f) != 0) return FileError("cannot read", path, errno);
  sink.Finish();
  return absl::OkStatus();
}

// The size of a regular file, or -1 (not one, or no such file: the reader
// says which).
int64_t FileBytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

}  // namespace

bool IsJsonLinesPath(std::string_view path) {
  return path.ends_with(".jsonl") || path.ends_with(".ndjson");
}

absl::StatusOr<Dataset> LoadDataset(const std::string& labels_path, const std::string& gold_path,
                                    consensus::DuplicatePolicy duplicates, int64_t pipelined_min_bytes) {
  Dataset d;
  Answers answers(&d);
  absl::Status status;
  if (IsJsonLinesPath(labels_path)) {
    status = ReadAnswersJsonLines(labels_path, &answers);
  } else if (FileBytes(labels_path) >= pipelined_min_bytes) {
    status = ReadAnswersCsvPipelined(labels_path, &answers);
  } else {
    status = ReadAnswersCsv(labels_path, &answers);
  }
  if (!status.ok()) return status;
  d.rows = answers.rows;
  if (d.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels_path, IsJsonLinesPath(labels_path)
                         ? ": no answers; expected lines of {\"task\":..,\"worker\":..,\"label\":..}"
                         : ": no answers; expected rows of task,worker,label"));
  }

  std::vector<int32_t> gold;
  if (!answers.gold.empty() || !gold_path.empty()) {
    gold.assign(d.tasks.size(), consensus::kNoGold);
    for (const auto& [name, label] : answers.gold) {
      const int32_t task = d.tasks.Find(name);
      if (task != IdTable::kNotFound) gold[task] = label;
    }
  }
  if (!gold_path.empty()) {
    status = ForEachRow(gold_path, kTaskLabelHeader, [&](const auto& f) {
      const int32_t task = d.tasks.Find(f[0]);
      if (task == IdTable::kNotFound) return absl::OkStatus();
      gold[task] = d.classes.Intern(f[1]);
      if (static_cast<size_t>(gold[task]) >= kMaxClasses) return TooManyClasses(f[1]);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }

  d.matrix = std::move(answers.builder).Build(d.tasks.size(), d.workers.size(), d.classes.size(), duplicates);
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
