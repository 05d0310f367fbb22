#include "api/rest_api.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/views.h"
#include "consumer/consensus_record.h"

namespace consensusd::api {
namespace {

using nlohmann::json;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr int32_t kExportChunk = 5000;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, json{{"error", message}});
}

// The path after /v1/, split on '/' and URL-decoded per segment.
std::vector<std::string> PathSegments(const httplib::Request& req) {
  std::string target = req.target.empty() ? req.path : req.target;
  target = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  size_t start = target.find("/v1/");
  if (start == std::string::npos) return out;
  start += 4;
  while (start <= target.size()) {
    const size_t end = std::min(target.find('/', start), target.size());
    out.push_back(httplib::detail::decode_url(target.substr(start, end - start), false));
    start = end + 1;
  }
  return out;
}

// A query parameter as an integer in [min, max], or an error message.
bool IntParam(const httplib::Request& req, const char* name, int64_t fallback, int64_t min,
              int64_t max, int64_t* out, std::string* error) {
  *out = fallback;
  if (!req.has_param(name)) return true;
  const std::string v = req.get_param_value(name);
  if (!absl::SimpleAtoi(v, out) || *out < min || *out > max) {
    *error = absl::StrCat("query parameter '", name, "' must be an integer in [", min, ", ", max,
                          "], got '", v, "'");
    return false;
  }
  return true;
}

class Api {
 public:
  explicit Api(ApiContext context) : ctx_(std::move(context)) {}

  void Get(const httplib::Request& req, httplib::Response& res) {
    const std::vector<std::string> p = PathSegments(req);
    if (p.size() == 1 && p[0] == "status") return Status(res);
    if (p.size() == 1 && p[0] == "projects") return Projects(res);
    if (p.empty() || p[0] != "projects" || p.size() < 2) return SendError(res, 404, "no such endpoint");
    consumer::Project* project = ctx_.projects->Find(p[1]);
    if (project == nullptr) return SendError(res, 404, absl::StrCat("no project '", p[1], "'"));
    if (p.size() == 2) return WithLock(*project, res, [&] { return ProjectView(*project); });
    if (p.size() == 3 && p[2] == "tasks") return Tasks(*project, req, res);
    if (p.size() == 4 && p[2] == "tasks") return Task(*project, p[3], res);
    if (p.size() == 3 && p[2] == "workers") return Workers(*project, req, res);
    if (p.size() == 4 && p[2] == "workers") return Worker(*project, p[3], res);
    if (p.size() == 3 && p[2] == "export") return Export(*project, req, res);
    return SendError(res, 404, "no such endpoint");
  }

  void Post(const httplib::Request& req, httplib::Response& res) {
    const std::vector<std::string> p = PathSegments(req);
    const bool exclude = p.size() == 5 && p[2] == "workers" && (p[4] == "exclude" || p[4] == "include");
    const bool recompute = p.size() == 3 && p[2] == "recompute";
    if (p.size() < 2 || p[0] != "projects" || (!exclude && !recompute)) {
      return SendError(res, 404, "no such endpoint");
    }
    if (ctx_.admin_token.empty()) {
      return SendError(res, 403, "admin calls are disabled: set http.admin_token or CONSENSUSD_ADMIN_TOKEN");
    }
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "bearer ";  // the scheme is case-insensitive (RFC 7235)
    std::string scheme = auth.substr(0, prefix.size());
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != prefix ||
        !TokenMatches(auth.substr(prefix.size()), ctx_.admin_token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      return SendError(res, 401, "missing or wrong admin token: send Authorization: Bearer <token>");
    }
    consumer::Project* project = ctx_.projects->Find(p[1]);
    if (project == nullptr) return SendError(res, 404, absl::StrCat("no project '", p[1], "'"));
    if (recompute) return Recompute(*project, res);
    return Exclude(*project, p[3], p[4] == "exclude", res);
  }

 private:
  template <typename ViewFn>
  void WithLock(consumer::Project& project, httplib::Response& res, ViewFn view) {
    json body;
    {
      std::lock_guard<std::mutex> lock(project.mu);
      body = view();
    }
    SendJson(res, 200, body);
  }

  void Status(httplib::Response& res) {
    SendJson(res, 200,
             json{{"ready", ctx_.ready ? ctx_.ready() : true},
                  {"answers_committed", ctx_.answers_committed ? ctx_.answers_committed() : 0},
                  {"messages_consumed", ctx_.messages_consumed ? ctx_.messages_consumed() : 0},
                  {"unix_ms", consumer::NowMs()}});
  }

  void Projects(httplib::Response& res) {
    json items = json::array();
    for (consumer::Project* project : ctx_.projects->List()) {
      std::lock_guard<std::mutex> lock(project->mu);
      items.push_back(ProjectSummary(*project));
    }
    SendJson(res, 200, json{{"projects", items}});
  }

  void Task(consumer::Project& project, const std::string& name, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(project.mu);
    const int32_t task = project.model.tasks().Find(name);
    if (task < 0) return SendError(res, 404, absl::StrCat("no task '", name, "' in project '", project.name, "'"));
    SendJson(res, 200, TaskView(project, task));
  }

  void Worker(consumer::Project& project, const std::string& name, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(project.mu);
    const int32_t worker = project.model.workers().Find(name);
    if (worker < 0) {
      return SendError(res, 404, absl::StrCat("no worker '", name, "' in project '", project.name, "'"));
    }
    SendJson(res, 200, WorkerView(project, worker));
  }

  // Tasks in id order; the cursor is the next task id.
  void Tasks(consumer::Project& project, const httplib::Request& req, httplib::Response& res) {
    int64_t limit = 0, cursor = 0;
    std::string error;
    if (!IntParam(req, "limit", kDefaultLimit, 1, kMaxLimit, &limit, &error) ||
        !IntParam(req, "cursor", 0, 0, INT32_MAX, &cursor, &error)) {
      return SendError(res, 400, error);
    }
    // needs_review=true: only tasks that need review; false: only those that do not.
    int review_filter = -1;
    if (req.has_param("needs_review")) {
      const std::string v = req.get_param_value("needs_review");
      if (v != "true" && v != "false") return SendError(res, 400, "needs_review must be true or false");
      review_filter = v == "true" ? 1 : 0;
    }
    json items = json::array();
    json next = nullptr;
    {
      std::lock_guard<std::mutex> lock(project.mu);
      const int32_t n = project.model.num_tasks();
      for (int32_t t = static_cast<int32_t>(cursor); t < n; ++t) {
        if (project.model.Answers(t).empty() && project.model.Gold(t) == consensus::kNoGold) continue;
        if (review_filter >= 0 && TaskNeedsReview(project, t) != (review_filter == 1)) continue;
        if (static_cast<int64_t>(items.size()) == limit) {
          next = std::to_string(t);
          break;
        }
        items.push_back(TaskView(project, t));
      }
    }
    SendJson(res, 200, json{{"items", items}, {"next_cursor", next}});
  }

  // Workers sorted by a column of the last sweep's report; the cursor is an offset.
  void Workers(consumer::Project& project, const httplib::Request& req, httplib::Response& res) {
    int64_t limit = 0, cursor = 0;
    std::string error;
    if (!IntParam(req, "limit", kDefaultLimit, 1, kMaxLimit, &limit, &error) ||
        !IntParam(req, "cursor", 0, 0, INT32_MAX, &cursor, &error)) {
      return SendError(res, 400, error);
    }
    const std::string sort = req.has_param("sort") ? req.get_param_value("sort") : "answers";
    const std::string order = req.has_param("order") ? req.get_param_value("order") : "desc";
    if (sort != "accuracy" && sort != "answers" && sort != "spam") {
      return SendError(res, 400, "sort must be accuracy, answers or spam");
    }
    if (order != "asc" && order != "desc") return SendError(res, 400, "order must be asc or desc");
    json items = json::array();
    json next = nullptr;
    int64_t total = 0;
    {
      std::lock_guard<std::mutex> lock(project.mu);
      const std::shared_ptr<const consumer::ProjectReport> report = project.report;
      const int32_t n = report == nullptr ? 0 : static_cast<int32_t>(report->workers.size());
      std::vector<int32_t> ids(n);
      std::iota(ids.begin(), ids.end(), 0);
      auto key = [&](int32_t w) {
        const consensus::WorkerReport& r = report->workers[w];
        return sort == "accuracy" ? r.accuracy : sort == "spam" ? r.spam_score : static_cast<double>(r.answers);
      };
      std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
        const double ka = key(a), kb = key(b);
        if (ka != kb) return order == "asc" ? ka < kb : ka > kb;
        return project.model.workers().Name(a) < project.model.workers().Name(b);
      });
      total = n;
      for (int64_t i = cursor; i < n && static_cast<int64_t>(items.size()) < limit; ++i) {
        items.push_back(WorkerRow(project, ids[i]));
      }
      if (cursor + limit < n) next = std::to_string(cursor + limit);
    }
    SendJson(res, 200, json{{"items", items}, {"next_cursor", next}, {"total", total}});
  }

  // Streams every task's consensus, a chunk of tasks per lock.
  void Export(consumer::Project& project, const httplib::Request& req, httplib::Response& res) {
    const std::string format = req.has_param("format") ? req.get_param_value("format") : "csv";
    if (format != "csv" && format != "jsonl") return SendError(res, 400, "format must be csv or jsonl");
    double min_confidence = 0;
    if (req.has_param("min_confidence") &&
        (!absl::SimpleAtod(req.get_param_value("min_confidence"), &min_confidence) ||
         min_confidence < 0 || min_confidence > 1)) {
      return SendError(res, 400, "min_confidence must be a number in [0, 1]");
    }
    consumer::Project* p = &project;
    auto next_task = std::make_shared<int32_t>(0);
    auto header_sent = std::make_shared<bool>(format == "jsonl");
    res.set_chunked_content_provider(
        format == "csv" ? "text/csv" : "application/x-ndjson",
        [p, format, min_confidence, next_task, header_sent](size_t, httplib::DataSink& sink) {
          std::string chunk;
          bool done = false;
          {
            std::lock_guard<std::mutex> lock(p->mu);
            const consensus::StreamingModel& m = p->model;
            if (!*header_sent) {
              chunk = "task,label,confidence";
              for (int32_t k = 0; k < m.num_classes(); ++k) {
                chunk += ",";
                chunk += CsvField("p:" + m.classes().Name(k));
              }
              chunk += "\n";
              *header_sent = true;
            }
            const int32_t end = std::min(m.num_tasks(), *next_task + kExportChunk);
            const int64_t now = consumer::NowMs();
            for (int32_t t = *next_task; t < end; ++t) {
              const int32_t label = m.Label(t);
              if (label < 0 || (m.Answers(t).empty() && m.Gold(t) == consensus::kNoGold)) continue;
              const double confidence = m.Posterior(t)[label];
              if (confidence < min_confidence) continue;
              if (format == "jsonl") {
                consumer::AppendConsensusJson(p->name, m, t, now, chunk);
                chunk += "\n";
                continue;
              }
              chunk += CsvField(m.tasks().Name(t));
              chunk += ",";
              chunk += CsvField(m.classes().Name(label));
              for (int32_t k = -1; k < m.num_classes(); ++k) {
                chunk += ",";
                consumer::AppendProbability(chunk, k < 0 ? confidence : m.Posterior(t)[k]);
              }
              chunk += "\n";
            }
            *next_task = end;
            done = end >= m.num_tasks();
          }
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          if (done) sink.done();
          return true;
        });
  }

  void Exclude(consumer::Project& project, const std::string& name, bool exclude,
               httplib::Response& res) {
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(project.mu);
      const int32_t worker = project.model.workers().Find(name);
      if (worker < 0) {
        return SendError(res, 404, absl::StrCat("no worker '", name, "' in project '", project.name, "'"));
      }
      changed = project.model.MarkExcluded(worker, exclude);
    }
    if (changed) {
      storage::StateBatch batch;
      batch.SetExcluded(project.name, name, exclude);
      if (absl::Status s = ctx_.store->Commit(batch); !s.ok()) {
        return SendError(res, 500, absl::StrCat("could not store the exclusion: ", s.message()));
      }
      if (absl::Status s = ctx_.sweeper->SweepProject(project, /*force=*/true); !s.ok()) {
        return SendError(res, 500, absl::StrCat("sweep failed: ", s.message()));
      }
    }
    std::lock_guard<std::mutex> lock(project.mu);
    json body = WorkerView(project, project.model.workers().Find(name));
    body["changed"] = changed;
    SendJson(res, 200, body);
  }

  void Recompute(consumer::Project& project, httplib::Response& res) {
    if (absl::Status s = ctx_.sweeper->SweepProject(project, /*force=*/true); !s.ok()) {
      return SendError(res, 500, absl::StrCat("sweep failed: ", s.message()));
    }
    WithLock(project, res, [&] { return ProjectView(project); });
  }

  static std::string CsvField(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }

  const ApiContext ctx_;
};

}  // namespace

bool TokenMatches(const std::string& presented, const std::string& expected) {
  // Constant time in the presented token's content: every byte is compared.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  const size_t n = std::max(presented.size(), expected.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? presented[i] : 0;
    const unsigned char b = i < expected.size() ? expected[i] : 0;
    diff |= a ^ b;
  }
  return diff == 0;
}

void RegisterApiRoutes(httplib::Server& server, ApiContext context) {
  auto api = std::make_shared<Api>(std::move(context));
  server.Get(R"(/v1/.*)", [api](const httplib::Request& req, httplib::Response& res) { api->Get(req, res); });
  // With a ContentReader, httplib leaves the body to the handler. A POST with
  // neither Content-Length nor Transfer-Encoding has no body (RFC 7230 3.3.3),
  // as `curl -X POST` sends it; httplib would wait for the connection to close
  // and answer 400. An announced body is read (the connection stays in sync)
  // and ignored: no admin call takes one.
  server.Post(R"(/v1/.*)", [api](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& content) {
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      if (!content([](const char*, size_t) { return true; })) {
        if (res.status < 400) res.status = 400;
        return;
      }
    }
    api->Post(req, res);
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const std::string message = res.status == 404 ? "not found" : absl::StrCat("HTTP status ", res.status);
      res.set_content(json{{"error", message}}.dump() + "\n", "application/json");
    }
  });
}

}  // namespace consensusd::api
