#include "service/csv.h"

#include "engine/consensus_record.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"

namespace consensusd::service {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

absl::Status FileError(const char* what, const std::string& path, int err) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(absl::StrCat(message, "; check the path"));
  if (err == EACCES) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

CsvReader::CsvReader(std::string data, std::string name)
    : data_(std::move(data)), name_(std::move(name)), size_(data_.size()) {
  if (std::string_view(data_).substr(0, kUtf8Bom.size()) == kUtf8Bom) pos_ = kUtf8Bom.size();
}

absl::StatusOr<CsvReader> CsvReader::Open(const std::string& path, size_t block_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return FileError("cannot open", path, errno);
  CsvReader reader(std::string(), path);
  reader.file_.reset(f);
  reader.block_bytes_ = std::max<size_t>(block_bytes, 1);
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) reader.size_ = static_cast<size_t>(st.st_size);
  while (reader.data_.size() < kUtf8Bom.size() && reader.file_ != nullptr) {
    if (!reader.Refill()) return reader.status_;
  }
  if (std::string_view(reader.data_).substr(0, kUtf8Bom.size()) == kUtf8Bom) {
    reader.pos_ = kUtf8Bom.size();
  }
  return reader;
}

absl::Status CsvReader::ErrorAtLine(std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(name_, ":", record_line_, ": ", std::string(message)));
}

bool CsvReader::Refill() {
  data_.erase(0, pos_);
  consumed_ += pos_;
  pos_ = 0;
  // Appending at least as much as is held keeps a long record's rescans linear.
  const size_t have = data_.size();
  const size_t want = std::max(block_bytes_, have);
  data_.resize(have + want);
  const size_t got = std::fread(data_.data() + have, 1, want, file_.get());
  data_.resize(have + got);
  if (got < want) {
    if (std::ferror(file_.get()) != 0) {
      status_ = FileError("cannot read", name_, errno);
      return false;
    }
    file_.reset();  // the end of the file: the scan may end records there
  }
  return true;
}

namespace {

// The first of ',', LF or CR at or after `pos`, or n: where an unquoted field ends.
inline size_t FindUnquotedFieldEnd(const char* d, size_t pos, size_t n) {
#ifdef __SSE2__
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  while (pos + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + pos));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
                                     _mm_cmpeq_epi8(v, cr));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return pos + static_cast<size_t>(__builtin_ctz(mask));
    pos += 16;
  }
#endif
  while (pos < n && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') ++pos;
  return pos;
}

// Replaces each "" of `field` (which lives in a buffer the caller may write) by
// one quote, in place, and returns the shortened field.
std::string_view UnescapeInPlace(std::string_view field) {
  char* d = const_cast<char*>(field.data());
  size_t write = 0;
  for (size_t read = 0; read < field.size(); ++read) {
    d[write++] = d[read];
    if (d[read] == '"') ++read;  // the second quote of the pair
  }
  return std::string_view(d, write);
}

}  // namespace

// The scanning loop works on local copies of pos_: the buffer is char, which
// may alias any member, so members would be reloaded per byte.
CsvReader::Scan CsvReader::ScanRecord(std::vector<std::string_view>* fields, size_t* end,
                                      int64_t* newlines) {
  const char* d = data_.data();
  const size_t n = data_.size();
  const bool more = file_ != nullptr;
  size_t pos = pos_;
  int64_t lines = 0;
  escaped_.clear();
  while (true) {
    if (pos < n && d[pos] == '"') {
      const size_t start = pos + 1;
      size_t at = start;
      bool escaped = false;
      while (true) {
        const void* quote = std::memchr(d + at, '"', n - at);
        if (quote == nullptr) {
          if (more) return Scan::kNeedMore;
          status_ = ErrorAtLine(
              "a quoted field never closes: end it with \" and write a quote inside it as \"\"");
          return Scan::kError;
        }
        const size_t q = static_cast<const char*>(quote) - d;
        lines += std::count(d + at, d + q, '\n');
        if (q + 1 >= n && more) return Scan::kNeedMore;  // "" or the closing quote?
        if (q + 1 < n && d[q + 1] == '"') {
          escaped = true;
          at = q + 2;
          continue;
        }
        if (escaped) escaped_.push_back(fields->size());
        fields->emplace_back(d + start, q - start);
        pos = q + 1;
        break;
      }
      if (pos < n && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') {
        status_ = ErrorAtLine(
            "text after a closing quote: quote the whole field and write a quote inside it as "
            "\"\"");
        return Scan::kError;
      }
    } else {
      const size_t start = pos;
      pos = FindUnquotedFieldEnd(d, pos, n);
      fields->emplace_back(d + start, pos - start);
    }
    if (pos >= n) {
      if (more) return Scan::kNeedMore;
      break;  // last record, without a line end
    }
    if (d[pos] == ',') {
      ++pos;
      continue;
    }
    // A line end: LF, CRLF or a lone CR.
    if (d[pos] == '\r') {
      if (pos + 1 >= n && more) return Scan::kNeedMore;
      if (pos + 1 < n && d[pos + 1] == '\n') ++pos;
    }
    ++pos;
    ++lines;
    break;
  }
  *end = pos;
  *newlines = lines;
  return Scan::kRecord;
}

bool CsvReader::Next(std::vector<std::string_view>* fields) {
  fields->clear();
  if (!status_.ok()) return false;
  while (true) {
    if (pos_ >= data_.size()) {
      if (file_ == nullptr) return false;
      if (!Refill()) return false;
      continue;
    }
    record_line_ = line_;
    size_t end = 0;
    int64_t newlines = 0;
    const Scan scan = ScanRecord(fields, &end, &newlines);
    if (scan == Scan::kError) return false;
    if (scan == Scan::kRecord) {
      for (size_t i : escaped_) (*fields)[i] = UnescapeInPlace((*fields)[i]);
      pos_ = end;
      line_ += newlines;
      return true;
    }
    fields->clear();
    if (!Refill()) return false;
  }
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
