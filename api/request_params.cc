#include "api/request_params.h"

#include <httplib.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace consensusd::api {
namespace {

// The first value of `name`, or nullptr (httplib's Request::get_param_value).
const std::string* Param(const QueryParams& params, const char* name) {
  const auto it = params.lower_bound(name);
  return it != params.end() && it->first == name ? &it->second : nullptr;
}

// A query parameter as an integer in [min, max], or fallback when absent.
absl::StatusOr<int64_t> IntParam(const QueryParams& params, const char* name, int64_t fallback,
                                 int64_t min, int64_t max) {
  const std::string* v = Param(params, name);
  if (v == nullptr) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(*v, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("query parameter '", name,
                                                   "' must be an integer in [", min, ", ", max,
                                                   "], got '", *v, "'"));
  }
  return value;
}

// A query parameter that must be "true" or "false"; fallback when absent.
absl::StatusOr<bool> BoolParam(const QueryParams& params, const char* name, bool fallback) {
  const std::string* v = Param(params, name);
  if (v == nullptr) return fallback;
  if (*v != "true" && *v != "false") {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be true or false"));
  }
  return *v == "true";
}

std::string ParamOr(const QueryParams& params, const char* name, const char* fallback) {
  const std::string* v = Param(params, name);
  return v == nullptr ? fallback : *v;
}

}  // namespace

std::vector<std::string> PathSegments(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  size_t start = target.find("/v1/");
  if (start == std::string_view::npos) return out;
  start += 4;
  while (start <= target.size()) {
    const size_t end = std::min(target.find('/', start), target.size());
    out.push_back(httplib::detail::decode_url(std::string(target.substr(start, end - start)), false));
    start = end + 1;
  }
  return out;
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

absl::StatusOr<TaskListQuery> ParseTaskListQuery(const QueryParams& params) {
  TaskListQuery q;
  absl::StatusOr<int64_t> limit = IntParam(params, "limit", kDefaultLimit, 1, kMaxLimit);
  if (!limit.ok()) return limit.status();
  q.limit = *limit;
  if (Param(params, "needs_review") != nullptr) {
    absl::StatusOr<bool> review = BoolParam(params, "needs_review", false);
    if (!review.ok()) return review.status();
    q.review_filter = *review ? 1 : 0;
  }
  q.cursor = ParamOr(params, "cursor", "");
  return q;
}

absl::StatusOr<WorkerListQuery> ParseWorkerListQuery(const QueryParams& params) {
  WorkerListQuery q;
  absl::StatusOr<int64_t> limit = IntParam(params, "limit", kDefaultLimit, 1, kMaxLimit);
  if (!limit.ok()) return limit.status();
  q.limit = *limit;
  const std::string sort = ParamOr(params, "sort", "answers");
  const std::string order = ParamOr(params, "order", "desc");
  if (sort != "accuracy" && sort != "answers" && sort != "spam") {
    return absl::InvalidArgumentError("sort must be accuracy, answers or spam");
  }
  if (order != "asc" && order != "desc") {
    return absl::InvalidArgumentError("order must be asc or desc");
  }
  q.sort = sort == "accuracy" ? engine::WorkerSort::kAccuracy
           : sort == "spam"   ? engine::WorkerSort::kSpam
                              : engine::WorkerSort::kAnswers;
  q.ascending = order == "asc";
  q.cursor = ParamOr(params, "cursor", "");
  return q;
}

absl::StatusOr<engine::ExportFormat> ParseExportQuery(const QueryParams& params) {
  engine::ExportFormat f;
  const std::string format = ParamOr(params, "format", "csv");
  if (format != "csv" && format != "jsonl") {
    return absl::InvalidArgumentError("format must be csv or jsonl");
  }
  f.jsonl = format == "jsonl";
  absl::StatusOr<bool> posteriors = BoolParam(params, "posteriors", false);
  if (!posteriors.ok()) return posteriors.status();
  f.posteriors = *posteriors;
  if (const std::string* v = Param(params, "min_confidence");
      v != nullptr &&
      (!absl::SimpleAtod(*v, &f.min_confidence) || !(f.min_confidence >= 0 && f.min_confidence <= 1))) {
    return absl::InvalidArgumentError("min_confidence must be a number in [0, 1]");
  }
  return f;
}

}  // namespace consensusd::api
