#include "api/rest_api.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "api/request_params.h"
#include "api/views.h"
#include "api/vote_views.h"
#include "engine/consensus_record.h"

namespace consensusd::api {
namespace {

using nlohmann::json;

constexpr int32_t kExportChunk = 5000;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Never an exception for bytes that are not UTF-8: they become U+FFFD.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, json{{"error", message}});
}

// The path after /v1/, split on '/' and URL-decoded per segment.
std::vector<std::string> SegmentsOf(const httplib::Request& req) {
  return api::PathSegments(req.target.empty() ? req.path : req.target);
}

class Api {
 public:
  explicit Api(ApiContext context) : ctx_(std::move(context)) {}

  // 400 for a path whose percent-decoded ids are not UTF-8 text.
  static bool RejectNonUtf8(const std::vector<std::string>& path, httplib::Response& res) {
    for (const std::string& segment : path) {
      if (!IsUtf8(segment)) {
        SendError(res, 400, "a path segment is not UTF-8 once percent-decoded: ids are UTF-8 text");
        return true;
      }
    }
    return false;
  }

  void Get(const httplib::Request& req, httplib::Response& res) {
    const std::vector<std::string> p = SegmentsOf(req);
    if (RejectNonUtf8(p, res)) return;
    if (p.size() == 1 && p[0] == "status") return Status(res);
    if (p.size() == 1 && p[0] == "projects") return Projects(res);
    if (p.empty() || p[0] != "projects" || p.size() < 2) return SendError(res, 404, "no such endpoint");
    if (p.size() == 2) {
      std::optional<engine::ProjectView> v = ctx_.engine->ProjectDetail(p[1]);
      if (!v) return SendError(res, 404, absl::StrCat("no project '", p[1], "'"));
      return SendJson(res, 200, ProjectJson(*v));
    }
    if (p.size() == 3 && p[2] == "tasks") return Tasks(p[1], req, res);
    if (p.size() == 4 && p[2] == "tasks") return Task(p[1], p[3], res);
    if (p.size() == 3 && p[2] == "workers") return Workers(p[1], req, res);
    if (p.size() == 4 && p[2] == "workers") return Worker(p[1], p[3], res);
    if (p.size() == 3 && p[2] == "export") return Export(p[1], req, res);
    if (p.size() == 3 && p[2] == "leaderboard") return Leaderboard(p[1], res);
    if (p.size() == 4 && p[2] == "items") return Item(p[1], p[3], res);
    if (p.size() == 3 && p[2] == "raters") return Raters(p[1], res);
    return SendError(res, 404, "no such endpoint");
  }

  void Post(const httplib::Request& req, httplib::Response& res) {
    const std::vector<std::string> p = SegmentsOf(req);
    if (RejectNonUtf8(p, res)) return;
    const bool exclude = p.size() == 5 && p[2] == "workers" && (p[4] == "exclude" || p[4] == "include");
    const bool recompute = p.size() == 3 && p[2] == "recompute";
    if (p.size() < 2 || p[0] != "projects" || (!exclude && !recompute)) {
      return SendError(res, 404, "no such endpoint");
    }
    if (ctx_.admin_token.empty()) {
      return SendError(res, 403, "admin calls are disabled: set http.admin_token or CONSENSUSD_ADMIN_TOKEN");
    }
    if (!AuthorizationMatches(req.get_header_value("Authorization"), ctx_.admin_token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      return SendError(res, 401, "missing or wrong admin token: send Authorization: Bearer <token>");
    }
    if (recompute) {
      absl::StatusOr<engine::ProjectView> v = ctx_.engine->Recompute(p[1]);
      if (!v.ok()) return SendStatus(res, v.status());
      return SendJson(res, 200, ProjectJson(*v));
    }
    absl::StatusOr<engine::Engine::ExclusionResult> r =
        ctx_.engine->SetExcluded(p[1], p[3], p[4] == "exclude");
    if (!r.ok()) return SendStatus(res, r.status());
    json body = WorkerJson(r->worker);
    body["changed"] = r->changed;
    SendJson(res, 200, body);
  }

 private:
  // An engine error as an HTTP error: unknown ids 404, bad input 400, the rest 500.
  static void SendStatus(httplib::Response& res, const absl::Status& s) {
    const int status = absl::IsNotFound(s)             ? 404
                       : absl::IsInvalidArgument(s)    ? 400
                       : absl::IsFailedPrecondition(s) ? 409  // a view of another project kind
                                                       : 500;
    SendError(res, status, std::string(s.message()));
  }

  void Status(httplib::Response& res) {
    SendJson(res, 200,
             json{{"ready", ctx_.ready ? ctx_.ready() : true},
                  {"answers_committed", ctx_.answers_committed ? ctx_.answers_committed() : 0},
                  {"messages_consumed", ctx_.messages_consumed ? ctx_.messages_consumed() : 0},
                  {"unix_ms", engine::NowMs()}});
  }

  void Projects(httplib::Response& res) {
    json items = json::array();
    for (const engine::ProjectSummary& s : ctx_.engine->Projects()) items.push_back(ProjectSummaryJson(s));
    SendJson(res, 200, json{{"projects", items}});
  }

  // Pairwise and rating projects (SPEC 3.1a), as of their last sweep.
  void Leaderboard(const std::string& project, httplib::Response& res) {
    absl::StatusOr<engine::LeaderboardView> v = ctx_.engine->Leaderboard(project);
    if (!v.ok()) return SendStatus(res, v.status());
    SendJson(res, 200, LeaderboardJson(*v));
  }

  // One item of a pairwise project: its leaderboard row and its tied group.
  void Item(const std::string& project, const std::string& item, httplib::Response& res) {
    absl::StatusOr<engine::LeaderboardView> v = ctx_.engine->Leaderboard(project);
    if (!v.ok()) return SendStatus(res, v.status());
    std::optional<json> j = ItemJson(*v, item);
    if (!j) return SendError(res, 404, absl::StrCat("no item '", item, "' in project '", project, "'"));
    SendJson(res, 200, *j);
  }

  void Raters(const std::string& project, httplib::Response& res) {
    absl::StatusOr<engine::RatersView> v = ctx_.engine->Raters(project);
    if (!v.ok()) return SendStatus(res, v.status());
    SendJson(res, 200, RatersJson(*v));
  }

  void Task(const std::string& project, const std::string& name, httplib::Response& res) {
    const engine::ProjectKind kind = ctx_.engine->KindOf(project);
    if (kind == engine::ProjectKind::kPairwise || kind == engine::ProjectKind::kRating) {
      std::optional<engine::VoteTaskView> v = ctx_.engine->VoteTask(project, name);
      if (!v) return SendError(res, 404, absl::StrCat("no task '", name, "' in project '", project, "'"));
      return SendJson(res, 200, VoteTaskJson(*v));
    }
    std::optional<engine::TaskView> v = ctx_.engine->Task(project, name);
    if (!v) {
      if (!ctx_.engine->ProjectDetail(project)) return SendError(res, 404, absl::StrCat("no project '", project, "'"));
      return SendError(res, 404, absl::StrCat("no task '", name, "' in project '", project, "'"));
    }
    SendJson(res, 200, TaskJson(*v));
  }

  void Worker(const std::string& project, const std::string& name, httplib::Response& res) {
    std::optional<engine::WorkerView> v = ctx_.engine->Worker(project, name);
    if (!v) {
      if (!ctx_.engine->ProjectDetail(project)) return SendError(res, 404, absl::StrCat("no project '", project, "'"));
      return SendError(res, 404, absl::StrCat("no worker '", name, "' in project '", project, "'"));
    }
    SendJson(res, 200, WorkerJson(*v));
  }

  static json Cursor(const std::string& next) { return next.empty() ? json(nullptr) : json(next); }

  // Tasks by id (bytewise); the cursor is the last id of the previous page.
  void Tasks(const std::string& project, const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<TaskListQuery> q = ParseTaskListQuery(req.params);
    if (!q.ok()) return SendStatus(res, q.status());
    absl::StatusOr<engine::Page<engine::TaskView>> page =
        ctx_.engine->Tasks(project, q->cursor, q->limit, q->review_filter);
    if (!page.ok()) return SendStatus(res, page.status());
    json items = json::array();
    for (const engine::TaskView& t : page->items) items.push_back(TaskJson(t));
    SendJson(res, 200, json{{"items", items}, {"next_cursor", Cursor(page->next_cursor)}, {"total", page->total}});
  }

  // Workers by a column (of the last sweep), then by id; the cursor is opaque.
  void Workers(const std::string& project, const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<WorkerListQuery> q = ParseWorkerListQuery(req.params);
    if (!q.ok()) return SendStatus(res, q.status());
    absl::StatusOr<engine::Page<engine::WorkerRow>> page =
        ctx_.engine->Workers(project, q->sort, q->ascending, q->cursor, q->limit);
    if (!page.ok()) return SendStatus(res, page.status());
    json items = json::array();
    for (const engine::WorkerRow& r : page->items) items.push_back(WorkerRowJson(r));
    SendJson(res, 200, json{{"items", items}, {"next_cursor", Cursor(page->next_cursor)}, {"total", page->total}});
  }

  // Streams every task's consensus, a chunk of tasks per call into the engine.
  void Export(const std::string& project, const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<engine::ExportFormat> format = ParseExportQuery(req.params);
    if (!format.ok()) return SendStatus(res, format.status());
    const engine::ExportFormat f = *format;
    if (!ctx_.engine->ProjectDetail(project)) return SendError(res, 404, absl::StrCat("no project '", project, "'"));
    engine::Engine* eng = ctx_.engine;
    auto next_task = std::make_shared<int32_t>(0);
    res.set_chunked_content_provider(
        f.jsonl ? "application/x-ndjson" : "text/csv",
        [eng, project, f, next_task](size_t, httplib::DataSink& sink) {
          std::string chunk;
          absl::StatusOr<int32_t> next = eng->ExportChunk(project, f, *next_task, kExportChunk, &chunk);
          if (!next.ok()) return false;
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          *next_task = *next;
          if (*next < 0) sink.done();
          return true;
        });
  }

  const ApiContext ctx_;
};

}  // namespace

bool AuthorizationMatches(const std::string& header, const std::string& expected) {
  const std::string prefix = "bearer ";  // the scheme is case-insensitive (RFC 7235)
  if (header.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != prefix[i]) return false;
  }
  return TokenMatches(header.substr(prefix.size()), expected);
}

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
