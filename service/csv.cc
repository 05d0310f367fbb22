#include "service/csv.h"

#include "engine/consensus_record.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace consensusd::service {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

absl::Status FileError(const char* what, const std::string& path, int err) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(absl::StrCat(message, "; check the path"));
  if (err == EACCES) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

}  // namespace

CsvReader::CsvReader(std::string data, std::string name)
    : data_(std::move(data)), name_(std::move(name)) {
  if (std::string_view(data_).substr(0, kUtf8Bom.size()) == kUtf8Bom) pos_ = kUtf8Bom.size();
}

absl::StatusOr<CsvReader> CsvReader::Open(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFileToString(path);
  if (!data.ok()) return data.status();
  return CsvReader(*std::move(data), path);
}

absl::Status CsvReader::ErrorAtLine(std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(name_, ":", record_line_, ": ", std::string(message)));
}

// The scanning loops work on local copies of pos_ and line_: the buffer is
// char, which may alias any member, so members would be reloaded per byte.
bool CsvReader::Next(std::vector<std::string_view>* fields) {
  fields->clear();
  if (!status_.ok() || pos_ >= data_.size()) return false;
  record_line_ = line_;
  const char* d = data_.data();
  const size_t n = data_.size();
  size_t pos = pos_;
  while (true) {
    if (pos < n && d[pos] == '"') {
      std::string_view field;
      if (!ReadQuotedField(&pos, &field)) return false;
      fields->push_back(field);
    } else {
      const size_t start = pos;
      while (pos < n) {
        const char c = d[pos];
        if (c == ',' || c == '\n' || c == '\r') break;
        ++pos;
      }
      fields->emplace_back(d + start, pos - start);
    }
    if (pos >= n) break;  // last record, without a line end
    if (d[pos] == ',') {
      ++pos;
      continue;
    }
    // A line end: LF, CRLF or a lone CR.
    if (d[pos] == '\r' && pos + 1 < n && d[pos + 1] == '\n') ++pos;
    ++pos;
    ++line_;
    break;
  }
  pos_ = pos;
  return true;
}

bool CsvReader::NextRow(std::span<const char* const> columns,
                        std::vector<std::string_view>* fields) {
  while (Next(fields)) {
    if (fields->size() == 1 && (*fields)[0].empty()) continue;  // a blank line
    const bool first = !row_seen_;
    row_seen_ = true;
    if (fields->size() != columns.size()) {
      std::string names;
      for (const char* c : columns) absl::StrAppend(&names, names.empty() ? "" : ",", c);
      status_ = ErrorAtLine(absl::StrCat("expected ", columns.size(), " columns (", names,
                                         "), got ", fields->size()));
      return false;
    }
    // Each column named exactly once (the widths are equal): a header.
    const auto names_every_column = [&] {
      for (const char* c : columns) {
        if (std::count(fields->begin(), fields->end(), std::string_view(c)) != 1) return false;
      }
      return true;
    };
    if (first && names_every_column()) {
      // A header: the columns may come in any order (label,worker,task).
      order_.clear();
      if (!std::equal(fields->begin(), fields->end(), columns.begin())) {
        for (const char* c : columns) {
          order_.push_back(std::find(fields->begin(), fields->end(), std::string_view(c)) -
                           fields->begin());
        }
      }
      continue;
    }
    if (!order_.empty()) {
      reordered_.assign(order_.size(), {});
      for (size_t i = 0; i < order_.size(); ++i) reordered_[i] = (*fields)[order_[i]];
      fields->swap(reordered_);
    }
    return true;
  }
  return false;
}

bool CsvReader::ReadQuotedField(size_t* pos_inout, std::string_view* field) {
  char* d = data_.data();
  const size_t n = data_.size();
  size_t pos = *pos_inout + 1;  // past the opening quote
  int64_t newlines = 0;
  const size_t start = pos;
  size_t write = pos;  // unescaped bytes are compacted over the escaped ones
  while (true) {
    if (pos >= n) {
      status_ = ErrorAtLine(
          "a quoted field never closes: end it with \" and write a quote inside it as \"\"");
      return false;
    }
    const char c = d[pos];
    if (c == '"') {
      if (pos + 1 < n && d[pos + 1] == '"') {
        d[write++] = '"';
        pos += 2;
        continue;
      }
      ++pos;  // the closing quote
      break;
    }
    newlines += c == '\n';
    d[write++] = c;
    ++pos;
  }
  line_ += newlines;
  if (pos < n && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') {
    status_ = ErrorAtLine(
        "text after a closing quote: quote the whole field and write a quote inside it as "
        "\"\"");
    return false;
  }
  *pos_inout = pos;
  *field = std::string_view(d + start, write - start);
  return true;
}

absl::StatusOr<CsvWriter> CsvWriter::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return FileError("cannot write", path, errno);
  return CsvWriter(f, path);
}

void CsvWriter::StartField() {
  if (row_started_) buffer_.push_back(',');
  row_started_ = true;
}

void CsvWriter::AddField(std::string_view text) {
  StartField();
  engine::AppendCsvField(buffer_, text);
}

void CsvWriter::AddRow(std::initializer_list<std::string_view> fields) {
  for (const std::string_view f : fields) AddField(f);
  EndRow();
}

void CsvWriter::AddInteger(int64_t value) {
  StartField();
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  buffer_.append(buf, end);
}

void CsvWriter::AddNumber(double value, int decimals) {
  StartField();
  char buf[64];
  const auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed, decimals);
  if (ec == std::errc()) {
    buffer_.append(buf, end);
  } else {
    buffer_.append(std::to_string(value));
  }
}

void CsvWriter::EndRow() {
  buffer_.push_back('\n');
  row_started_ = false;
  FlushIfFull();
}

void CsvWriter::FlushIfFull() {
  constexpr size_t kFlushBytes = 1 << 20;
  if (buffer_.size() < kFlushBytes) return;
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
    write_failed_ = true;
  }
  buffer_.clear();
}

absl::Status CsvWriter::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  if (!buffer_.empty() &&
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
    write_failed_ = true;
  }
  buffer_.clear();
  int err = write_failed_ ? errno : 0;
  if (std::fclose(file_.release()) != 0 && err == 0) err = errno;
  if (write_failed_ || err != 0) return FileError("cannot write", path_, err == 0 ? EIO : err);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return FileError("cannot open", path, errno);
  std::string data;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
    data.resize(static_cast<size_t>(st.st_size));
    const size_t got = std::fread(data.data(), 1, data.size(), f);
    data.resize(got);
  }
  // Whatever fstat did not cover (pipes, files that grew).
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, got);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return FileError("cannot read", path, err);
  return data;
}

}  // namespace consensusd::service
