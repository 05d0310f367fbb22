// Fuzzes the HTTP request framing (api/request_framer.h), which reads every
// byte a client sends before any handler runs. The input's first byte picks
// the split points: the bytes are given to one RequestFramer a piece at a
// time, as they would arrive on a socket, and to another all at once.
// Checked, besides ASan/UBSan's memory and UB checks:
//   - both framers reach the same verdict, the same size and the same path;
//   - a complete request's size is within the bytes given and covers the
//     headers; the path lies within the request;
//   - an error has a status among 400, 413, 431, 501 and a message;
//   - once complete or refused, more bytes never change the verdict.
//
//   build-fuzz/request_framer_fuzzer -dict=fuzz/dicts/request_framer.dict fuzz/corpus/request_framer

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/request_framer.h"

namespace consensusd::api {
namespace {

constexpr FramingLimits kLimits{.max_header_bytes = 2048, .max_body_bytes = 4096};

void Require(bool ok) {
  if (!ok) std::abort();
}

bool Same(const RequestFrame& a, const RequestFrame& b) {
  return a.state == b.state && a.size == b.size && a.status == b.status && a.path == b.path;
}

}  // namespace
}  // namespace consensusd::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consensusd::api;
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 16;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  RequestFramer whole(kLimits);
  const RequestFrame all = whole.Check(bytes);

  RequestFramer pieces(kLimits);
  RequestFrame last;
  size_t given = 0;
  while (given < bytes.size()) {
    given = std::min(bytes.size(), given + step);
    last = pieces.Check(bytes.substr(0, given));
    if (last.state != RequestFrame::kIncomplete) break;
  }
  if (last.state == RequestFrame::kComplete) {
    Require(last.size <= given && last.size > 0);
    Require(last.path.data() >= bytes.data() && last.path.data() + last.path.size() <= bytes.data() + last.size);
    // More bytes do not move the end of a complete request.
    const RequestFrame again = pieces.Check(bytes);
    Require(again.state == RequestFrame::kComplete && again.size == last.size);
    Require(Same(all, again));
  } else if (last.state == RequestFrame::kError) {
    Require(last.status == 400 || last.status == 413 || last.status == 431 || last.status == 501);
    Require(!last.message.empty());
    Require(all.state == RequestFrame::kError && all.status == last.status);
  } else {
    Require(all.state == RequestFrame::kIncomplete);
  }
  return 0;
}
