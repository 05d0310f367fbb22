// RequestFramer: finds where an HTTP/1.1 request ends in the bytes received so
// far on a connection, and refuses one that breaks the limits, before any
// handler thread is involved (api/http_front.h). It reads only the framing:
// the end of the headers, Content-Length, Transfer-Encoding: chunked and the
// chunk sizes; httplib parses the complete request afterwards.
//
//   RequestFramer framer(limits);
//   buffer += bytes_received;
//   RequestFrame f = framer.Check(buffer);   // buffer only grows until Reset()
//   if (f.state == RequestFrame::kComplete) Dispatch(buffer.substr(0, f.size));
//
// Check() resumes where the previous call stopped, so a request that arrives
// one byte at a time costs linear time.
#ifndef CONSENSUSD_API_REQUEST_FRAMER_H_
#define CONSENSUSD_API_REQUEST_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace consensusd::api {

struct FramingLimits {
  size_t max_header_bytes = 64 << 10;  // request line and headers (and chunk trailers)
  size_t max_body_bytes = 1 << 20;     // body after chunked decoding
};

struct RequestFrame {
  enum State { kIncomplete, kComplete, kError };
  State state = kIncomplete;
  // kComplete: bytes of the whole request (headers and body).
  size_t size = 0;
  // kError: the status to answer (400, 413, 431, 501) and why.
  int status = 0;
  std::string message;
  // The headers are complete, the body is not, and the client waits for
  // "100 Continue" before sending it (Expect: 100-continue).
  bool expects_continue = false;
  // Once the headers are complete: the request target's path ("/healthz").
  std::string_view path;
};

class RequestFramer {
 public:
  explicit RequestFramer(FramingLimits limits) : limits_(limits) {}

  // `buffered`: every byte received since the request began; each call passes
  // the same bytes plus any that arrived since. `path` points into `buffered`.
  RequestFrame Check(std::string_view buffered);

  // The next request starts (the bytes of the previous one were removed).
  void Reset();

 private:
  RequestFrame Error(int status, std::string message);
  // Parses the request line and headers, buffered[0, header_end_), into the
  // body's framing; false with *error set when they are refused.
  bool ParseHeaders(std::string_view headers, RequestFrame* error);
  // Advances over the complete chunks in `buffered`.
  RequestFrame CheckChunked(std::string_view buffered);

  FramingLimits limits_;
  size_t scanned_ = 0;     // the end of the headers is not before this offset
  size_t header_end_ = 0;  // offset of the body; 0 until the headers are complete
  size_t path_begin_ = 0;  // the request target's path in the buffer
  size_t path_size_ = 0;
  bool expect_continue_ = false;
  bool chunked_ = false;
  uint64_t content_length_ = 0;
  // Chunked bodies: the next chunk-size line, the body bytes so far, and
  // whether the last chunk was read (the trailers follow).
  size_t chunk_pos_ = 0;
  uint64_t chunk_total_ = 0;
  bool in_trailers_ = false;
  size_t trailer_start_ = 0;
  size_t complete_ = 0;  // the request's size, once complete
};

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_REQUEST_FRAMER_H_
