// Fuzzes the HTTP API's request parsing (api/request_params.h): the input is a
// request target as a client sends it, e.g.
// "/v1/projects/p/tasks?needs_review=true&limit=2&cursor=t-10460". It is split
// and decoded as httplib's server does (path before '?', the query into
// parameters by httplib::detail::parse_query_text), then given to PathSegments,
// IsUtf8 and the parsers of the tasks, workers and export parameters.
// Checked, besides ASan/UBSan's memory and UB checks:
//   - a target with "/v1/" has one segment per '/' after it, and
//     percent-encoding the segments again gives back the same segments;
//   - IsUtf8 agrees with a plain decoder written here from RFC 3629;
//   - an accepted query has limit in [1, 1000], a review filter of -1, 0 or 1,
//     the first `cursor` given, and min_confidence in [0, 1]; a rejected one is
//     InvalidArgument with a message.
//
//   build-fuzz/request_params_fuzzer -dict=fuzz/dicts/request_params.dict fuzz/corpus/request_params

#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_params.h"

namespace consensusd::api {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

std::string PercentEncodeAll(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    out.push_back('%');
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// RFC 3629 by its table of well-formed byte sequences.
bool ReferenceIsUtf8(std::string_view s) {
  const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    const auto at = [&](size_t k) -> unsigned char { return i + k < s.size() ? s[i + k] : 0; };
    if (c <= 0x7F) {
      i += 1;
    } else if (in(c, 0xC2, 0xDF) && in(at(1), 0x80, 0xBF)) {
      i += 2;
    } else if ((c == 0xE0 && in(at(1), 0xA0, 0xBF) && in(at(2), 0x80, 0xBF)) ||
               ((in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) && in(at(1), 0x80, 0xBF) &&
                in(at(2), 0x80, 0xBF)) ||
               (c == 0xED && in(at(1), 0x80, 0x9F) && in(at(2), 0x80, 0xBF))) {
      i += 3;
    } else if ((c == 0xF0 && in(at(1), 0x90, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF)) ||
               (in(c, 0xF1, 0xF3) && in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) &&
                in(at(3), 0x80, 0xBF)) ||
               (c == 0xF4 && in(at(1), 0x80, 0x8F) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF))) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

void CheckPath(std::string_view target) {
  const std::vector<std::string> segments = PathSegments(target);
  const std::string_view path = target.substr(0, target.find('?'));
  const size_t v1 = path.find("/v1/");
  if (v1 == std::string_view::npos) {
    Check(segments.empty(), "segments without /v1/");
    return;
  }
  const std::string_view rest = path.substr(v1 + 4);
  Check(segments.size() == 1 + static_cast<size_t>(std::count(rest.begin(), rest.end(), '/')),
        "not one segment per '/'");
  std::string encoded = "/v1/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) encoded.push_back('/');
    encoded += PercentEncodeAll(segments[i]);
    Check(IsUtf8(segments[i]) == ReferenceIsUtf8(segments[i]), "IsUtf8 disagrees with RFC 3629");
  }
  Check(PathSegments(encoded) == segments, "re-encoded segments decode differently");
}

const std::string* First(const QueryParams& params, const char* name) {
  const auto [begin, end] = params.equal_range(name);  // in the order given
  return begin == end ? nullptr : &begin->second;
}

void CheckRejection(const absl::Status& s) {
  Check(absl::IsInvalidArgument(s) && !s.message().empty(), "a rejection without InvalidArgument and message");
}

void CheckQueries(const QueryParams& params) {
  const std::string* cursor = First(params, "cursor");
  const std::string expected_cursor = cursor == nullptr ? "" : *cursor;
  if (absl::StatusOr<TaskListQuery> q = ParseTaskListQuery(params); q.ok()) {
    Check(q->limit >= 1 && q->limit <= kMaxLimit, "task limit out of range");
    Check(q->review_filter >= -1 && q->review_filter <= 1, "review filter out of range");
    Check(q->cursor == expected_cursor, "task cursor is not the first one given");
  } else {
    CheckRejection(q.status());
  }
  if (absl::StatusOr<WorkerListQuery> q = ParseWorkerListQuery(params); q.ok()) {
    Check(q->limit >= 1 && q->limit <= kMaxLimit, "worker limit out of range");
    Check(q->cursor == expected_cursor, "worker cursor is not the first one given");
  } else {
    CheckRejection(q.status());
  }
  if (absl::StatusOr<engine::ExportFormat> f = ParseExportQuery(params); f.ok()) {
    Check(f->min_confidence >= 0 && f->min_confidence <= 1, "min_confidence out of [0, 1]");
  } else {
    CheckRejection(f.status());
  }
}

}  // namespace
}  // namespace consensusd::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consensusd::api;
  const std::string target(reinterpret_cast<const char*>(data), size);
  CheckPath(target);
  Check(IsUtf8(target) == ReferenceIsUtf8(target), "IsUtf8 disagrees with RFC 3629");

  // As httplib's server splits a request target.
  const size_t question = target.find('?');
  QueryParams params;
  if (question != std::string::npos) httplib::detail::parse_query_text(target.substr(question + 1), params);
  CheckQueries(params);
  return 0;
}
