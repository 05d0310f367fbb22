#include "api/request_framer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace consensusd::api {
namespace {

// The longest chunk-size line accepted (hex size and extensions).
constexpr size_t kMaxChunkLine = 1024;

// One line of `text` from `pos`, without its "\n" or "\r\n"; npos end when
// the line is not complete yet.
struct Line {
  std::string_view text;
  size_t next = std::string_view::npos;  // offset after the line's "\n"
};

Line LineAt(std::string_view text, size_t pos) {
  const size_t eol = text.find('\n', pos);
  if (eol == std::string_view::npos) return {};
  std::string_view line = text.substr(pos, eol - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return {line, eol + 1};
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A client's text quoted in an error message: at most 64 bytes.
std::string Quote(std::string_view s) {
  return s.size() <= 64 ? std::string(s) : std::string(s.substr(0, 64)) + "...";
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, at most 19 (no overflow).
bool ParseLength(std::string_view s, uint64_t* value) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Where the blank line that ends the headers ends, searching from `from`;
// npos if it has not arrived.
size_t FindHeaderEnd(std::string_view text, size_t from) {
  for (size_t i = text.find('\n', from); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') return i + 2;
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

}  // namespace

void RequestFramer::Reset() { *this = RequestFramer(limits_); }

RequestFrame RequestFramer::Error(int status, std::string message) {
  RequestFrame frame;
  frame.state = RequestFrame::kError;
  frame.status = status;
  frame.message = std::move(message);
  return frame;
}

RequestFrame RequestFramer::Check(std::string_view buffered) {
  if (complete_ > 0) {  // more bytes belong to the next request
    RequestFrame frame;
    frame.state = RequestFrame::kComplete;
    frame.size = complete_;
    frame.path = buffered.substr(path_begin_, path_size_);
    return frame;
  }
  if (header_end_ == 0) {
    const size_t end = FindHeaderEnd(buffered, scanned_);
    if (end == std::string_view::npos) {
      if (buffered.size() > limits_.max_header_bytes) {
        return Error(431, absl::StrCat("request headers exceed ", limits_.max_header_bytes, " bytes"));
      }
      // The terminator may straddle this call's end: look at its last bytes again.
      scanned_ = buffered.size() > 2 ? buffered.size() - 2 : 0;
      return RequestFrame{};
    }
    if (end > limits_.max_header_bytes) {
      return Error(431, absl::StrCat("request headers exceed ", limits_.max_header_bytes, " bytes"));
    }
    RequestFrame error;
    if (!ParseHeaders(buffered.substr(0, end), &error)) return error;
    header_end_ = end;
    chunk_pos_ = end;
  }
  RequestFrame frame;
  if (chunked_) {
    frame = CheckChunked(buffered);
  } else if (buffered.size() - header_end_ >= content_length_) {
    frame.state = RequestFrame::kComplete;
    frame.size = header_end_ + content_length_;
  }
  if (frame.state == RequestFrame::kIncomplete) frame.expects_continue = expect_continue_;
  if (frame.state == RequestFrame::kComplete) complete_ = frame.size;
  if (frame.state != RequestFrame::kError) frame.path = buffered.substr(path_begin_, path_size_);
  return frame;
}

bool RequestFramer::ParseHeaders(std::string_view headers, RequestFrame* error) {
  Line line = LineAt(headers, 0);
  // The request line: METHOD SP target SP version. A malformed one is left to
  // httplib, which answers 400; only the path matters here.
  const size_t sp = line.text.find(' ');
  if (sp != std::string_view::npos) {
    std::string_view target = line.text.substr(sp + 1);
    target = target.substr(0, target.find(' '));
    target = target.substr(0, target.find_first_of("?#"));
    path_begin_ = static_cast<size_t>(target.data() - headers.data());
    path_size_ = target.size();
  }
  bool has_length = false;
  for (size_t pos = line.next; pos < headers.size();) {
    line = LineAt(headers, pos);
    if (line.next == std::string_view::npos) break;
    pos = line.next;
    const size_t colon = line.text.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.text.substr(0, colon);
    const std::string_view value = Trim(line.text.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Length")) {
      uint64_t length = 0;
      if (!ParseLength(value, &length)) {
        *error = Error(400, absl::StrCat("Content-Length '", Quote(value), "' is not a byte count"));
        return false;
      }
      if (has_length && length != content_length_) {
        *error = Error(400, "two different Content-Length headers");
        return false;
      }
      has_length = true;
      content_length_ = length;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      if (!EqualsIgnoreCase(value, "chunked")) {
        *error = Error(501, absl::StrCat("Transfer-Encoding '", Quote(value),
                                         "' is not supported: send Content-Length or chunked"));
        return false;
      }
      chunked_ = true;
    } else if (EqualsIgnoreCase(name, "Expect")) {
      expect_continue_ = EqualsIgnoreCase(value, "100-continue");
    }
  }
  if (chunked_ && has_length) {
    *error = Error(400, "both Content-Length and Transfer-Encoding: send one");
    return false;
  }
  if (content_length_ > limits_.max_body_bytes) {
    *error = Error(413, absl::StrCat("request body of ", content_length_, " bytes exceeds the limit of ",
                                     limits_.max_body_bytes, " bytes (http.max_body_bytes)"));
    return false;
  }
  return true;
}

RequestFrame RequestFramer::CheckChunked(std::string_view buffered) {
  for (;;) {
    const Line line = LineAt(buffered, chunk_pos_);
    if (line.next == std::string_view::npos) {
      if (in_trailers_ && buffered.size() - trailer_start_ > limits_.max_header_bytes) {
        return Error(431, absl::StrCat("chunk trailers exceed ", limits_.max_header_bytes, " bytes"));
      }
      if (!in_trailers_ && buffered.size() - chunk_pos_ > kMaxChunkLine) return Error(400, "chunk size line too long");
      return RequestFrame{};
    }
    if (in_trailers_) {
      chunk_pos_ = line.next;
      if (line.next - trailer_start_ > limits_.max_header_bytes) {
        return Error(431, absl::StrCat("chunk trailers exceed ", limits_.max_header_bytes, " bytes"));
      }
      if (line.text.empty()) {
        RequestFrame frame;
        frame.state = RequestFrame::kComplete;
        frame.size = line.next;
        return frame;
      }
      continue;
    }
    if (line.next - chunk_pos_ > kMaxChunkLine) return Error(400, "chunk size line too long");
    std::string_view size_text = Trim(line.text.substr(0, line.text.find(';')));
    if (size_text.empty()) return Error(400, "chunk without a size");
    uint64_t size = 0;
    for (char c : size_text) {
      const int digit = HexDigit(c);
      if (digit < 0) return Error(400, absl::StrCat("chunk size '", Quote(size_text), "' is not hexadecimal"));
      if (size > (limits_.max_body_bytes >> 4)) size = limits_.max_body_bytes + 1;  // saturate
      else size = size * 16 + static_cast<uint64_t>(digit);
    }
    if (size == 0) {
      in_trailers_ = true;
      chunk_pos_ = line.next;
      trailer_start_ = line.next;
      continue;
    }
    if (size > limits_.max_body_bytes - chunk_total_) {
      return Error(413, absl::StrCat("chunked request body exceeds the limit of ", limits_.max_body_bytes,
                                     " bytes (http.max_body_bytes)"));
    }
    const size_t data_end = line.next + size;
    if (buffered.size() < data_end + 2) return RequestFrame{};
    if (buffered[data_end] != '\r' || buffered[data_end + 1] != '\n') {
      return Error(400, "chunk data not followed by CRLF");
    }
    chunk_total_ += size;
    chunk_pos_ = data_end + 2;
  }
}

}  // namespace consensusd::api
