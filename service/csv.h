// RFC 4180 CSV: the one reader of every CSV consensusd reads (it streams a file
// through a reused block buffer, or parses a whole buffer given to it) and the
// one writer. Quoted fields may hold commas, newlines
// and "" (an escaped quote); lines may end in LF or CRLF; a UTF-8 byte-order
// mark at the start is skipped.
//
//   constexpr const char* kColumns[] = {"task", "worker", "label"};
//   absl::StatusOr<CsvReader> r = CsvReader::Open("labels.csv");
//   std::vector<std::string_view> row;
//   while (r->NextRow(kColumns, &row)) Use(row, r->line());
//   if (!r->status().ok()) return r->status();   // names the file and line
#ifndef CONSENSUSD_SERVICE_CSV_H_
#define CONSENSUSD_SERVICE_CSV_H_

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace consensusd::service {

// Reads records from a buffer it owns. Unescaping happens in place, so a field
// costs no allocation. A quote inside an unquoted field is taken literally (a
// common, harmless deviation); an unterminated quoted field or text after a
// closing quote is an error. Not thread-safe.
//
// How it works: a record is first scanned without changing the buffer (field
// bounds, and which quoted fields hold ""): an unquoted field 16 bytes at a
// time (SSE2) to the next ',', CR or LF, a quoted one by memchr to its next
// quote. A record cut by the end of a file block is scanned again once the
// unconsumed tail has moved to the front of the buffer and the next block has
// been read after it (at least as much as the buffer holds, so a long record
// costs linear time); only a complete record's "" are then unescaped. So a file of
// any size is read with one block of memory, and a record's result does not
// depend on where the blocks end.
class CsvReader {
 public:
  static constexpr size_t kDefaultBlockBytes = 8 << 20;

  // Parses `data`, held whole. `name` is used in error messages
  // ("labels.csv:17: ..."). The views Next() yields stay valid while the
  // reader lives.
  CsvReader(std::string data, std::string name);

  // Streams the file in blocks of about `block_bytes` (tests use tiny blocks).
  // The views Next() yields stay valid only until the next call of Next() or
  // NextRow(). The error names the file and the OS reason.
  static absl::StatusOr<CsvReader> Open(const std::string& path,
                                        size_t block_bytes = kDefaultBlockBytes);

  CsvReader(CsvReader&&) = default;
  CsvReader& operator=(CsvReader&&) = default;

  // Replaces *fields with the next record's fields and returns true, or returns
  // false at the end of input or on a syntax error (then status() says which).
  // An empty line yields one empty field.
  bool Next(std::vector<std::string_view>* fields);

  // Next() for a table with `columns` (e.g. {"task", "worker", "label"}) whose
  // header is optional (SPEC 5.1): skips blank lines and a first row that
  // names the columns, in any order (then every row's fields come back in the
  // order of `columns`), and stops with an error on a row of another width, e.g.
  // "labels.csv:2: expected 3 columns (task,worker,label), got 2".
  // REQUIRES: every call on this reader passes the same columns.
  bool NextRow(std::span<const char* const> columns, std::vector<std::string_view>* fields);

  // The 1-based line on which the record last returned by Next() or NextRow() starts.
  int64_t line() const { return record_line_; }
  // OK unless Next() stopped on a syntax error or NextRow() on a row's width.
  const absl::Status& status() const { return status_; }
  const std::string& name() const { return name_; }
  // Bytes consumed so far and in total (the file's size when it was opened),
  // for progress reports.
  size_t position() const { return consumed_ + pos_; }
  size_t size() const { return size_; }

  // An error located at the current record: "<name>:<line>: <message>".
  absl::Status ErrorAtLine(std::string_view message) const;

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  enum class Scan { kRecord, kNeedMore, kError };

  // Scans the record at pos_ into *fields without changing the buffer; quoted
  // fields are views of their text between the quotes, "" still doubled (and
  // then listed in escaped_). kNeedMore: the buffer ends inside the record
  // and more of the file is to come. On success sets *end and *newlines (the
  // position after the record, the line ends it spans).
  Scan ScanRecord(std::vector<std::string_view>* fields, size_t* end, int64_t* newlines);
  // Moves the unconsumed bytes to the front and reads the next block after
  // them. False on a read error (then status_ says so).
  bool Refill();

  std::string data_;  // the file's bytes from position() on, up to data_.size()
  std::string name_;
  std::unique_ptr<std::FILE, FileCloser> file_;  // null when all the input is in data_
  size_t block_bytes_ = 0;
  size_t consumed_ = 0;  // file bytes dropped from the front of data_
  size_t size_ = 0;
  std::vector<size_t> escaped_;  // fields of the current record whose "" are to be unescaped
  size_t pos_ = 0;
  int64_t line_ = 1;         // line of pos_
  int64_t record_line_ = 0;  // line where the last record started
  bool row_seen_ = false;    // NextRow() has read a row that is not blank
  // For a header that names the columns in another order: order_[i] is the
  // field that holds columns[i] (empty: the columns' own order).
  std::vector<size_t> order_;
  std::vector<std::string_view> reordered_;
  absl::Status status_;
};

// Writes CSV rows to a file through a large buffer, quoting fields as needed
// (engine::AppendCsvField, the one CSV quoter).
// Close() flushes and reports any write error; a writer destroyed without
// Close() drops what it buffered.
//
//   absl::StatusOr<CsvWriter> w = CsvWriter::Create("out.csv");
//   w->AddField("task"); w->AddNumber(0.97); w->EndRow();
//   absl::Status s = w->Close();
class CsvWriter {
 public:
  static absl::StatusOr<CsvWriter> Create(const std::string& path);

  void AddField(std::string_view text);
  // A whole row of text fields.
  void AddRow(std::initializer_list<std::string_view> fields);
  void AddInteger(int64_t value);
  void AddNumber(double value, int decimals = 6);  // fixed notation
  void EndRow();
  // Whole lines formatted elsewhere (engine::AppendLabelsRow). REQUIRES: no row started.
  std::string& raw() { return buffer_; }
  void EndRaw() { FlushIfFull(); }
  absl::Status Close();

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  CsvWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  void StartField();
  void FlushIfFull();

  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string path_;
  std::string buffer_;
  bool row_started_ = false;
  bool write_failed_ = false;
};

// An error about `path` from errno `err` ("cannot open labels.csv: No such
// file or directory; check the path"); `what` says what failed.
absl::Status FileError(const char* what, const std::string& path, int err);

// Reads a whole file into memory; the error names the path and the OS reason.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_CSV_H_
