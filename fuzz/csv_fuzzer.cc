// Fuzzes the CSV reader (service/csv.h) and the label files read through it
// (service/label_file.h: the task,worker,label answers and task,label gold CSVs
// of `aggregate` and `demo --labels`).
//
// The input is CSV text. For LoadDataset it is the answers file, or, when it
// holds a NUL byte, the answers file up to the first NUL and the gold file after
// it; both are given to the real file-reading code through an in-memory file.
// Checked, besides ASan/UBSan's memory and UB checks:
//   - Next() always moves forward, yields at least one field, and stops either
//     at the end or with an InvalidArgument error naming the file and line;
//   - what Next() read, written back with AppendCsvField (the one CSV quoter),
//     reads back as the same records;
//   - NextRow() for 3 and 2 columns yields rows of exactly that width, or an error;
//   - LoadDataset either fails naming the file, or returns a matrix whose ids
//     and labels are in range, non-empty and at most kMaxIdBytes bytes, one
//     answer row per 3-column row of the file.
//
//   build-fuzz/csv_fuzzer -dict=fuzz/dicts/csv.dict fuzz/corpus/csv

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "consumer/message_decoder.h"
#include "engine/consensus_record.h"
#include "service/csv.h"
#include "service/label_file.h"

namespace consensusd::service {
namespace {

constexpr const char* kName = "fuzz.csv";
constexpr const char* kLabelsColumns[] = {"task", "worker", "label"};
constexpr const char* kGoldColumns[] = {"task", "label"};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// Whether a status message starts with `prefix` (Debian's Abseil has its own string_view).
bool MessageStartsWith(const absl::Status& status, std::string_view prefix) {
  return std::string_view(status.message().data(), status.message().size()).substr(0, prefix.size()) ==
         prefix;
}

bool ValidName(const std::string& s) { return !s.empty() && s.size() <= consumer::kMaxIdBytes; }

// Every record of `data` by Next(); checks how the reader moves and fails.
std::vector<std::vector<std::string>> ReadAll(std::string data, bool* failed) {
  CsvReader reader(std::move(data), kName);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string_view> fields;
  size_t position = reader.position();
  int64_t line = 0;
  while (reader.Next(&fields)) {
    Check(!fields.empty(), "a record without fields");
    Check(reader.position() > position, "Next() returned a record without moving");
    Check(reader.position() <= reader.size(), "position past the end");
    Check(reader.line() > line, "records out of line order");
    position = reader.position();
    line = reader.line();
    records.emplace_back(fields.begin(), fields.end());
  }
  *failed = !reader.status().ok();
  if (*failed) {
    Check(absl::IsInvalidArgument(reader.status()), "a syntax error that is not InvalidArgument");
    Check(MessageStartsWith(reader.status(), std::string(kName) + ":"),
          "a syntax error that does not name the file");
  } else {
    Check(reader.position() >= reader.size(), "stopped before the end without an error");
  }
  return records;
}

// NextRow() with `columns`: every row has exactly that many fields.
int64_t CountRows(const std::string& data, std::span<const char* const> columns) {
  CsvReader reader(data, kName);
  std::vector<std::string_view> fields;
  int64_t rows = 0;
  while (reader.NextRow(columns, &fields)) {
    Check(fields.size() == columns.size(), "NextRow() gave a row of another width");
    ++rows;
  }
  if (!reader.status().ok()) {
    Check(absl::IsInvalidArgument(reader.status()), "a row error that is not InvalidArgument");
    return -1;
  }
  return rows;
}

void CheckWriteThenRead(const std::vector<std::vector<std::string>>& records) {
  std::string written;
  for (const auto& record : records) {
    for (size_t i = 0; i < record.size(); ++i) {
      if (i > 0) written.push_back(',');
      engine::AppendCsvField(written, record[i]);
    }
    written.push_back('\n');
  }
  bool failed = false;
  const std::vector<std::vector<std::string>> back = ReadAll(std::move(written), &failed);
  Check(!failed, "written CSV does not read back");
  Check(back == records, "written CSV reads back as other records");
}

// A file descriptor's path for the code that opens files by name.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("fuzz-csv", 0)) { Check(fd_ >= 0, "memfd_create failed"); }
  std::string Write(std::string_view data) {
    Check(ftruncate(fd_, 0) == 0, "ftruncate failed");
    Check(pwrite(fd_, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()),
          "pwrite failed");
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

void CheckDataset(std::string_view labels, std::string_view gold, bool has_gold, bool keep_all) {
  static MemoryFile* labels_file = new MemoryFile;
  static MemoryFile* gold_file = new MemoryFile;
  const std::string labels_path = labels_file->Write(labels);
  const std::string gold_path = has_gold ? gold_file->Write(gold) : "";
  absl::StatusOr<Dataset> d =
      LoadDataset(labels_path, gold_path,
                  keep_all ? consensus::DuplicatePolicy::kKeepAll : consensus::DuplicatePolicy::kKeepLast);
  if (!d.ok()) {
    Check(MessageStartsWith(d.status(), labels_path) ||
              (has_gold && MessageStartsWith(d.status(), gold_path)),
          "a label file error that does not name the file");
    return;
  }
  const consensus::AnswerMatrix& m = d->matrix;
  Check(d->rows >= 1, "a dataset without rows");
  Check(d->rows == CountRows(std::string(labels), kLabelsColumns),
        "dataset rows differ from the file's 3-column rows");
  Check(m.num_tasks == d->tasks.size() && m.num_workers == d->workers.size() &&
            m.num_classes == d->classes.size(),
        "matrix dimensions differ from the id tables");
  Check(m.num_answers() >= 1 && m.num_answers() <= d->rows, "answers not in [1, rows]");
  Check(keep_all ? m.num_answers() == d->rows : true, "kKeepAll dropped answers");
  Check(m.num_classes <= 1024 + 0, "more than 1024 classes");
  for (const auto* table : {&d->tasks, &d->workers, &d->classes}) {
    for (const std::string& name : table->names()) Check(ValidName(name), "an empty or too long id");
  }
  Check(static_cast<int64_t>(m.task_begin.size()) == m.num_tasks + 1 &&
            m.task_begin.back() == m.num_answers(),
        "task_begin does not cover the answers");
  for (int64_t i = 0; i < m.num_answers(); ++i) {
    Check(m.worker[i] >= 0 && m.worker[i] < m.num_workers, "worker id out of range");
    Check(m.label[i] >= 0 && m.label[i] < m.num_classes, "label id out of range");
  }
  for (const int32_t g : m.gold) {
    Check(g == consensus::kNoGold || (g >= 0 && g < m.num_classes), "gold class out of range");
  }
  Check(m.gold.empty() || static_cast<int32_t>(m.gold.size()) == m.num_tasks, "gold of another size");
  std::vector<int32_t> ranks = m.class_rank;
  std::sort(ranks.begin(), ranks.end());
  std::vector<int32_t> identity(ranks.size());
  std::iota(identity.begin(), identity.end(), 0);
  Check(static_cast<int32_t>(ranks.size()) == m.num_classes && ranks == identity,
        "class_rank is not a permutation");
}

}  // namespace
}  // namespace consensusd::service

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consensusd::service;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  bool failed = false;
  const std::vector<std::vector<std::string>> records = ReadAll(std::string(input), &failed);
  if (!failed) CheckWriteThenRead(records);
  CountRows(std::string(input), kLabelsColumns);
  CountRows(std::string(input), kGoldColumns);

  const size_t nul = input.find('\0');
  const bool has_gold = nul != std::string_view::npos;
  CheckDataset(input.substr(0, nul), has_gold ? input.substr(nul + 1) : "", has_gold, size % 2 == 1);
  return 0;
}
