// The JSON API of SPEC 5.3, served by the real routes in-process over a real
// engine and RocksDB store, and called with an HTTP client: views, paging with
// cursors, the export, errors, and admin calls with their token, including
// an exclusion whose RocksDB write fails.
//
// The fixture's project "p": tasks whose ids need URL encoding ("img/1 a"),
// workers too ("w/1", "w 2"), and "x-only", answered by worker x alone, so
// that excluding x visibly changes that task's posterior.

#include "api/rest_api.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "api/http_server.h"
#include "tests/engine/engine_fixture.h"

namespace consensusd::api {
namespace {

using engine::kProject;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "s3cret-token";

// Percent-encodes every byte but the unreserved ones (RFC 3986).
std::string Encode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class RestApiTest : public engine::EngineTest {
 protected:
  void SetUp() override {
    const char* tasks[] = {"img/1 a", "img/2", "t 3", "t4", "t5"};
    const char* workers[] = {"w/1", "w 2", "w3"};
    for (int t = 0; t < 5; ++t) {
      for (int w = 0; w < 3; ++w) {
        Answer(tasks[t], workers[w], (t == 4 && w == 2) || (t == 2 && w == 0) ? "cat" : "dog");
      }
    }
    Answer("t4", "w4", "cat");
    Answer("x-only", "x", "cat");
    Commit();
    Sweep();
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  // Serves the API with `token` as the admin token ("" : none).
  void StartServer(const std::string& token) {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Bind("127.0.0.1:0", 1 << 20);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    RegisterApiRoutes(server_->routes(), ApiContext{.engine = engine_.get(), .admin_token = token});
    server_->Start();
    for (int i = 0; i < 2000 && !server_->routes().is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(server_->routes().is_running());
    client_ = std::make_unique<httplib::Client>("http://" + server_->address());
    client_->set_url_encode(false);  // paths are encoded here
  }

  // GET `path`; returns the status and the body.
  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Result res = client_->Get(path);
    EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    if (!res) return {0, ""};
    return {res->status, res->body};
  }
  // GET `path`, EXPECTing 200 and JSON.
  json GetJson(const std::string& path) {
    auto [status, body] = Get(path);
    EXPECT_EQ(status, 200) << path << ": " << body;
    return json::parse(body, nullptr, /*allow_exceptions=*/false);
  }
  // The error of a GET that must fail with `status`.
  std::string GetError(const std::string& path, int status) {
    auto [got, body] = Get(path);
    EXPECT_EQ(got, status) << path << ": " << body;
    const json j = json::parse(body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << path << ": " << body;
    return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  }

  // POST `path` with `authorization` (none when empty).
  std::pair<int, json> Post(const std::string& path, const std::string& authorization) {
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    httplib::Result res = client_->Post(path, headers);
    EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    if (!res) return {0, json()};
    last_post_headers_ = res->headers;
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  std::pair<int, json> Admin(const std::string& path) {
    return Post(path, std::string("Bearer ") + kToken);
  }
  static std::string WorkerPath(const std::string& worker) {
    return "/v1/projects/p/workers/" + Encode(worker);
  }
  static std::string TaskPath(const std::string& task) { return "/v1/projects/p/tasks/" + Encode(task); }

  // Every item of a paged list, following next_cursor.
  std::vector<std::string> AllPages(const std::string& path, const std::string& id_field) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
      const json page = GetJson(path + (cursor.empty() ? "" : sep + "cursor=" + Encode(cursor)));
      if (!page.is_object()) break;
      for (const json& item : page["items"]) out.push_back(item[id_field].get<std::string>());
      if (page["next_cursor"].is_null()) break;
      cursor = page["next_cursor"].get<std::string>();
    }
    return out;
  }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  httplib::Headers last_post_headers_;
};

// --- Admin authorization ---

TEST(TokenMatchesTest, AcceptsOnlyTheSameToken) {
  EXPECT_TRUE(TokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(TokenMatches("s3creT", "s3cret"));
  EXPECT_FALSE(TokenMatches("s3cre", "s3cret"));
  EXPECT_FALSE(TokenMatches("s3crets", "s3cret"));
  EXPECT_FALSE(TokenMatches("", "s3cret"));
  EXPECT_FALSE(TokenMatches(std::string("s3cret\0", 7), "s3cret"));
}

TEST(AuthorizationMatchesTest, AcceptsTheBearerSchemeInAnyCase) {
  EXPECT_TRUE(AuthorizationMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(AuthorizationMatches("bearer s3cret", "s3cret"));
  EXPECT_TRUE(AuthorizationMatches("BEARER s3cret", "s3cret"));
  EXPECT_TRUE(AuthorizationMatches("bEaReR s3cret", "s3cret"));
}

TEST(AuthorizationMatchesTest, RejectsAWrongOrMissingToken) {
  EXPECT_FALSE(AuthorizationMatches("Bearer wrong!", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Bearer ", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Bearer", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("", "s3cret"));
}

TEST(AuthorizationMatchesTest, RejectsATokenWithoutTheBearerScheme) {
  EXPECT_FALSE(AuthorizationMatches("s3cret", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(AuthorizationMatches("Bearers3cret", "s3cret"));
}

TEST_F(RestApiTest, AdminCallWithoutAConfiguredTokenIsForbidden) {
  StartServer("");
  auto [status, body] = Post("/v1/projects/p/recompute", "Bearer anything");
  EXPECT_EQ(status, 403);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("admin_token"));
  EXPECT_EQ(Post(WorkerPath("x") + "/exclude", "").first, 403);
  EXPECT_FALSE(engine_->Worker(kProject, "x")->excluded);
}

TEST_F(RestApiTest, AdminCallWithAWrongTokenIsUnauthorized) {
  StartServer(kToken);
  auto [status, body] = Post(WorkerPath("x") + "/exclude", "Bearer wrong");
  EXPECT_EQ(status, 401);
  EXPECT_TRUE(body["error"].is_string());
  EXPECT_EQ(std::string(httplib::detail::get_header_value(last_post_headers_, "WWW-Authenticate", 0, "")),
            "Bearer");
  EXPECT_FALSE(engine_->Worker(kProject, "x")->excluded);
}

TEST_F(RestApiTest, AdminCallWithoutAnAuthorizationHeaderIsUnauthorized) {
  StartServer(kToken);
  EXPECT_EQ(Post("/v1/projects/p/recompute", "").first, 401);
}

TEST_F(RestApiTest, AdminCallWithTheTokenSucceeds) {
  StartServer(kToken);
  auto [status, body] = Post("/v1/projects/p/recompute", std::string("bearer ") + kToken);
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(body["project"], "p");
  EXPECT_TRUE(body["last_sweep"].is_object());
}

// --- Exclusion ---

TEST_F(RestApiTest, FailedExclusionWriteLeavesTheModelUnchangedAndAnswersWithAnError) {
  StartServer(kToken);
  const json task_before = GetJson(TaskPath("x-only"));
  const json tasks_before = GetJson("/v1/projects/p/tasks?limit=1000");
  store_->SetCommitFaultForTesting(engine::DiskFull);

  auto [status, body] = Admin(WorkerPath("x") + "/exclude");
  EXPECT_GE(status, 500);
  EXPECT_LT(status, 600);
  ASSERT_TRUE(body.is_object() && body["error"].is_string()) << body;
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("exclusion"));
  EXPECT_FALSE(GetJson(WorkerPath("x"))["excluded"].get<bool>());
  EXPECT_EQ(GetJson(TaskPath("x-only")), task_before);
  EXPECT_EQ(GetJson("/v1/projects/p/tasks?limit=1000"), tasks_before);

  store_->SetCommitFaultForTesting(nullptr);
  auto [retry_status, retry] = Admin(WorkerPath("x") + "/exclude");
  EXPECT_EQ(retry_status, 200) << retry;
  EXPECT_TRUE(retry["excluded"].get<bool>());
  EXPECT_TRUE(retry["changed"].get<bool>());
  EXPECT_TRUE(GetJson(WorkerPath("x"))["excluded"].get<bool>());
  const json task_after = GetJson(TaskPath("x-only"));
  EXPECT_NE(task_after["posterior"], task_before["posterior"]);
  EXPECT_TRUE(task_after["answers_by_worker"][0]["excluded"].get<bool>());
}

TEST_F(RestApiTest, ExcludeThenIncludeAWorkerWithAnEncodedId) {
  StartServer(kToken);
  auto [status, body] = Admin(WorkerPath("w/1") + "/exclude");
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(body["worker"], "w/1");
  EXPECT_TRUE(body["excluded"].get<bool>());
  EXPECT_TRUE(body["changed"].get<bool>());
  auto [again_status, again] = Admin(WorkerPath("w/1") + "/exclude");
  EXPECT_EQ(again_status, 200);
  EXPECT_FALSE(again["changed"].get<bool>());
  auto [include_status, included] = Admin(WorkerPath("w/1") + "/include");
  EXPECT_EQ(include_status, 200);
  EXPECT_FALSE(included["excluded"].get<bool>());
  EXPECT_TRUE(included["changed"].get<bool>());
  EXPECT_FALSE(engine_->Worker(kProject, "w/1")->excluded);
}

TEST_F(RestApiTest, ExcludingAnUnknownWorkerOrProjectIsNotFound) {
  StartServer(kToken);
  auto [status, body] = Admin(WorkerPath("nobody") + "/exclude");
  EXPECT_EQ(status, 404);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("nobody"));
  EXPECT_EQ(Admin("/v1/projects/nope/workers/x/exclude").first, 404);
  EXPECT_EQ(Admin("/v1/projects/nope/recompute").first, 404);
}

TEST_F(RestApiTest, AdminCallWithABodyIgnoresTheBody) {
  StartServer(kToken);
  httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kToken}};
  httplib::Result res = client_->Post("/v1/projects/p/recompute", headers, "{\"x\": 1}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

// `curl -X POST` sends neither Content-Length nor Transfer-Encoding: no body.
TEST_F(RestApiTest, AdminCallWithoutContentLengthIsAnswered) {
  StartServer(kToken);
  const std::string address = server_->address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string request = std::string("POST /v1/projects/p/recompute HTTP/1.1\r\nHost: x\r\n") +
                              "Authorization: Bearer " + kToken + "\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[4096];
  while (response.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200"));
}

// --- Views ---

TEST_F(RestApiTest, StatusReportsReadiness) {
  StartServer("");
  const json status = GetJson("/v1/status");
  EXPECT_TRUE(status["ready"].get<bool>());
  EXPECT_GT(status["unix_ms"].get<int64_t>(), 0);
}

TEST_F(RestApiTest, ProjectsListsEveryProject) {
  StartServer("");
  const json body = GetJson("/v1/projects");
  ASSERT_EQ(body["projects"].size(), 1u);
  EXPECT_EQ(body["projects"][0]["project"], "p");
  EXPECT_EQ(body["projects"][0]["tasks"], 6);
}

TEST_F(RestApiTest, ProjectViewAndUnknownProject) {
  StartServer("");
  const json project = GetJson("/v1/projects/p");
  EXPECT_EQ(project["project"], "p");
  EXPECT_EQ(project["answers"], 17);
  EXPECT_THAT(GetError("/v1/projects/nope", 404), HasSubstr("nope"));
}

TEST_F(RestApiTest, TaskWithAnEncodedIdAndUnknownTasks) {
  StartServer("");
  const json task = GetJson(TaskPath("img/1 a"));
  EXPECT_EQ(task["task"], "img/1 a");
  EXPECT_EQ(task["label"], "dog");
  EXPECT_EQ(task["answers"], 3);
  EXPECT_THAT(GetError(TaskPath("img/9"), 404), HasSubstr("img/9"));
  EXPECT_THAT(GetError("/v1/projects/nope/tasks/t4", 404), HasSubstr("nope"));
}

TEST_F(RestApiTest, WorkerWithAnEncodedIdAndUnknownWorkers) {
  StartServer("");
  const json worker = GetJson(WorkerPath("w/1"));
  EXPECT_EQ(worker["worker"], "w/1");
  EXPECT_EQ(worker["answers"], 5);
  EXPECT_EQ(worker["classes"].size(), 2u);
  EXPECT_EQ(worker["confusion_matrix"].size(), 2u);
  EXPECT_THAT(GetError(WorkerPath("w/9"), 404), HasSubstr("w/9"));
  EXPECT_THAT(GetError("/v1/projects/nope/workers/w3", 404), HasSubstr("nope"));
}

TEST_F(RestApiTest, IdsThatAreNotUtf8OnceDecodedAreABadRequest) {
  StartServer("");
  for (const char* path : {"/v1/projects/%FF", "/v1/projects/p/tasks/%C0%AF",
                           "/v1/projects/p/workers/%ED%A0%80", "/v1/projects/%F4%90%80%80/tasks"}) {
    EXPECT_THAT(GetError(path, 400), HasSubstr("not UTF-8")) << path;
  }
  // Well-formed multi-byte ids are fine: an unknown project, not a bad request.
  EXPECT_THAT(GetError("/v1/projects/%C3%A9t%C3%A9", 404), HasSubstr("\xC3\xA9t\xC3\xA9"));
}

TEST_F(RestApiTest, UnknownEndpointIsNotFoundAsJson) {
  StartServer("");
  GetError("/v1/nothing", 404);
  GetError("/v1/projects/p/nothing", 404);
  GetError("/v1/projects/p/tasks/t4/more", 404);
  GetError("/nothing", 404);
}

// --- Paged lists ---

TEST_F(RestApiTest, TasksPageThroughEveryTaskWithCursors) {
  StartServer("");
  const json first = GetJson("/v1/projects/p/tasks?limit=2");
  EXPECT_EQ(first["items"].size(), 2u);
  EXPECT_EQ(first["total"], 6);
  EXPECT_TRUE(first["next_cursor"].is_string());
  EXPECT_THAT(AllPages("/v1/projects/p/tasks?limit=2", "task"),
              ElementsAre("img/1 a", "img/2", "t 3", "t4", "t5", "x-only"));
}

TEST_F(RestApiTest, CursorsRoundTripIdsWithPlusPercentAndSpaces) {
  for (const char* t : {"a+b", "a b", "a%20b", "a%2Fb", "a/b"}) Answer(t, "w+1", "dog");
  Commit();
  StartServer("");
  std::vector<std::string> expected;
  for (const auto& [task, c] : ConsensusOf()) expected.push_back(task);
  EXPECT_EQ(AllPages("/v1/projects/p/tasks?limit=1", "task"), expected);
  const json task = GetJson(TaskPath("a%20b"));
  EXPECT_EQ(task["task"], "a%20b");
  EXPECT_EQ(GetJson(TaskPath("a+b"))["task"], "a+b");
  EXPECT_EQ(GetJson(WorkerPath("w+1"))["worker"], "w+1");
}

TEST_F(RestApiTest, ProjectIdsMayHoldSlashes) {
  AnswerIn("team/a b", 0, "t/1", "w/1", "cat");
  Commit();
  StartServer("");
  const std::string project = "/v1/projects/" + Encode("team/a b");
  EXPECT_EQ(GetJson(project)["project"], "team/a b");
  EXPECT_EQ(GetJson(project + "/tasks/" + Encode("t/1"))["label"], "cat");
  EXPECT_EQ(GetJson(project + "/workers/" + Encode("w/1"))["answers"], 1);
  EXPECT_EQ(GetJson(project + "/tasks")["total"], 1);
}

TEST_F(RestApiTest, TasksNeedsReviewFilter) {
  StartServer("");
  std::set<std::string> expected;
  for (const auto& [task, c] : ConsensusOf()) {
    if (engine_->Task(kProject, task)->needs_review) expected.insert(task);
  }
  const std::vector<std::string> listed = AllPages("/v1/projects/p/tasks?needs_review=true&limit=1", "task");
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), expected);
  EXPECT_EQ(GetJson("/v1/projects/p/tasks?needs_review=true")["total"], expected.size());
  EXPECT_EQ(GetJson("/v1/projects/p/tasks?needs_review=false")["total"], 6 - expected.size());
}

TEST_F(RestApiTest, WorkersPageThroughEveryWorkerWithCursors) {
  StartServer("");
  for (const char* sort : {"answers", "accuracy", "spam"}) {
    for (const char* order : {"asc", "desc"}) {
      const std::string path = std::string("/v1/projects/p/workers?sort=") + sort + "&order=" + order;
      const json whole = GetJson(path + "&limit=1000");
      std::vector<std::string> expected;
      for (const json& item : whole["items"]) expected.push_back(item["worker"].get<std::string>());
      ASSERT_EQ(expected.size(), 5u);
      EXPECT_EQ(AllPages(path + "&limit=2", "worker"), expected) << path;
    }
  }
}

TEST_F(RestApiTest, WorkersDefaultToMostAnswersFirst) {
  StartServer("");
  const json page = GetJson("/v1/projects/p/workers");
  ASSERT_EQ(page["items"].size(), 5u);
  EXPECT_EQ(page["items"][0]["answers"], 5);
  EXPECT_EQ(page["items"][4]["answers"], 1);
  EXPECT_TRUE(page["next_cursor"].is_null());
}

TEST_F(RestApiTest, BadListParametersAreBadRequests) {
  StartServer("");
  for (const char* path : {"/v1/projects/p/tasks?limit=0", "/v1/projects/p/tasks?limit=abc",
                           "/v1/projects/p/tasks?limit=1001", "/v1/projects/p/tasks?needs_review=yes",
                           "/v1/projects/p/workers?limit=-1", "/v1/projects/p/workers?sort=name",
                           "/v1/projects/p/workers?order=up",
                           "/v1/projects/p/workers?cursor=garbage"}) {
    GetError(path, 400);
  }
}

TEST_F(RestApiTest, ListsOfAnUnknownProjectAreNotFound) {
  StartServer("");
  GetError("/v1/projects/nope/tasks", 404);
  GetError("/v1/projects/nope/workers", 404);
  GetError("/v1/projects/nope/export", 404);
}

// --- Export ---

TEST_F(RestApiTest, ExportCsvStartsWithTaskLabelConfidence) {
  StartServer("");
  httplib::Result res = client_->Get("/v1/projects/p/export");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("text/csv"));
  std::vector<std::string> lines = absl::StrSplit(res->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u) << res->body;
  EXPECT_EQ(lines[0], "task,label,confidence");
  EXPECT_THAT(lines[1], StartsWith("img/1 a,dog,"));
}

TEST_F(RestApiTest, ExportWithPosteriorsAddsAColumnPerClass) {
  StartServer("");
  auto [status, body] = Get("/v1/projects/p/export?format=csv&posteriors=true");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, StartsWith("task,label,confidence,p:dog,p:cat\n"));
}

TEST_F(RestApiTest, ExportJsonlHasARecordPerTask) {
  StartServer("");
  auto [status, body] = Get("/v1/projects/p/export?format=jsonl");
  EXPECT_EQ(status, 200);
  std::vector<std::string> lines = absl::StrSplit(body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u);
  for (const std::string& line : lines) {
    const json record = json::parse(line, nullptr, false);
    ASSERT_TRUE(record.is_object()) << line;
    EXPECT_EQ(record["project"], "p");
  }
}

TEST_F(RestApiTest, ExportMinConfidenceOfOneLeavesOnlyCertainTasks) {
  StartServer("");
  size_t certain = 0;
  for (const auto& [task, c] : ConsensusOf()) certain += c.second >= 1.0;
  auto [status, body] = Get("/v1/projects/p/export?min_confidence=1");
  EXPECT_EQ(status, 200);
  std::vector<std::string> lines = absl::StrSplit(body, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1 + certain);
}

TEST_F(RestApiTest, BadExportParametersAreBadRequests) {
  StartServer("");
  GetError("/v1/projects/p/export?format=xml", 400);
  GetError("/v1/projects/p/export?posteriors=1", 400);
  GetError("/v1/projects/p/export?min_confidence=2", 400);
  GetError("/v1/projects/p/export?min_confidence=high", 400);
}

// --- Pairwise and rating projects (SPEC 3.1a) ---

class RestApiKindsTest : public RestApiTest {
 protected:
  void SetUp() override {
    RestApiTest::SetUp();
    const char* rows[][5] = {{"ab", "r1", "a", "b", "left"}, {"ab", "r2", "b", "a", "a"},
                             {"bc", "r1", "b", "c", "tie"},  {"bc", "r3", "b", "c", "left"},
                             {"ac", "r2", "a", "c", "left"}, {"ac", "r3", "c", "a", "right"}};
    for (const auto& r : rows) {
      engine::LabelEvent e = Event(engine::LabelEvent::Kind::kAnswer, "pw", r[0], r[1], r[4]);
      e.answer_kind = engine::ProjectKind::kPairwise;
      e.left = r[2];
      e.right = r[3];
      ASSERT_FALSE(Send(0, e));
    }
    for (const auto& [worker, rating] : {std::pair("r1", 3.0), std::pair("r2", 5.0)}) {
      engine::LabelEvent e = Event(engine::LabelEvent::Kind::kAnswer, "rt", "t/1", worker, "");
      e.answer_kind = engine::ProjectKind::kRating;
      e.rating = rating;
      ASSERT_FALSE(Send(0, e));
    }
    Commit();
    Sweep();
  }
};

TEST_F(RestApiKindsTest, LeaderboardListsItemsBestFirstWithIntervals) {
  StartServer("");
  const json board = GetJson("/v1/projects/pw/leaderboard");
  EXPECT_EQ(board["kind"], "pairwise");
  EXPECT_EQ(board["last_sweep"]["votes"], 6);
  ASSERT_EQ(board["items"].size(), 3u);
  EXPECT_EQ(board["items"][0]["item"], "a");
  for (const json& i : board["items"]) {
    EXPECT_LE(i["low"].get<double>(), i["score"].get<double>());
    EXPECT_GE(i["high"].get<double>(), i["score"].get<double>());
    EXPECT_GE(i["tied_group"].get<int>(), 1);
  }
}

TEST_F(RestApiKindsTest, ItemViewIsItsLeaderboardRowWithItsTiedGroup) {
  StartServer("");
  const json board = GetJson("/v1/projects/pw/leaderboard");
  ASSERT_EQ(board["items"].size(), 3u);
  for (size_t n = 0; n < board["items"].size(); ++n) {
    const json& row = board["items"][n];
    const json item = GetJson("/v1/projects/pw/items/" + row["item"].get<std::string>());
    EXPECT_EQ(item["item"], row["item"]);
    for (const char* field : {"score", "low", "high", "rank", "tied_group", "votes"}) {
      EXPECT_EQ(item[field], row[field]) << field;
    }
    EXPECT_EQ(item["position"], n + 1);
    EXPECT_EQ(item["items"], 3);
    std::vector<std::string> tied;
    for (const json& other : board["items"]) {
      if (other["tied_group"] == row["tied_group"] && other["item"] != row["item"]) {
        tied.push_back(other["item"]);
      }
    }
    EXPECT_EQ(item["tied_with"].get<std::vector<std::string>>(), tied);
  }
  EXPECT_THAT(GetError("/v1/projects/pw/items/zz", 404), HasSubstr("zz"));
  EXPECT_THAT(GetError("/v1/projects/rt/items/a", 409), HasSubstr("is rating"));
}

TEST_F(RestApiKindsTest, ViewsOfAnotherKindAreConflictsAndUnknownProjectsNotFound) {
  StartServer("");
  EXPECT_THAT(GetError("/v1/projects/p/leaderboard", 409), HasSubstr("pairwise projects"));
  EXPECT_THAT(GetError("/v1/projects/rt/leaderboard", 409), HasSubstr("is rating"));
  EXPECT_THAT(GetError("/v1/projects/p/raters", 409), HasSubstr("categorical"));
  EXPECT_THAT(GetError("/v1/projects/nope/leaderboard", 404), HasSubstr("nope"));
  EXPECT_THAT(GetError("/v1/projects/pw/tasks/zz", 404), HasSubstr("zz"));
}

TEST_F(RestApiKindsTest, PairwiseRatersAndTaskView) {
  StartServer("");
  const json raters = GetJson("/v1/projects/pw/raters");
  ASSERT_EQ(raters["raters"].size(), 3u);
  EXPECT_EQ(raters["raters"][0]["worker"], "r1");
  EXPECT_EQ(raters["raters"][0]["votes"], 2);
  EXPECT_TRUE(raters["raters"][0].contains("position_bias"));
  EXPECT_EQ(raters["raters"][0]["excluded"], false);
  const json task = GetJson("/v1/projects/pw/tasks/ab");
  EXPECT_EQ(task["kind"], "pairwise");
  EXPECT_EQ(task["left"], "a");
  EXPECT_EQ(task["consensus"], "left");
  EXPECT_NEAR(task["p_left"].get<double>() + task["p_right"].get<double>() + task["p_tie"].get<double>(),
              1.0, 1e-9);
  ASSERT_EQ(task["answers"].size(), 2u);
  EXPECT_EQ(task["answers"][1]["worker"], "r2");
  EXPECT_EQ(task["answers"][1]["label"], "right");  // "a", shown on the right
}

TEST_F(RestApiKindsTest, RatingRatersAndTaskViewWithAnEncodedId) {
  StartServer("");
  const json task = GetJson("/v1/projects/rt/tasks/" + Encode("t/1"));
  EXPECT_EQ(task["kind"], "rating");
  EXPECT_GE(task["rating"].get<double>(), 3.0);
  EXPECT_LE(task["rating"].get<double>(), 5.0);
  EXPECT_GT(task["sd"].get<double>(), 0.0);
  const json raters = GetJson("/v1/projects/rt/raters");
  ASSERT_EQ(raters["raters"].size(), 2u);
  EXPECT_EQ(raters["raters"][0]["ratings"], 1);
  EXPECT_TRUE(raters["raters"][0].contains("noise_sd"));
  EXPECT_EQ(GetJson("/v1/projects/rt")["kind"], "rating");
}

TEST_F(RestApiKindsTest, ExcludingARaterRefitsWithoutTheirVotes) {
  StartServer(kToken);
  auto [status, body] = Admin("/v1/projects/pw/workers/r3/exclude");
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["excluded"], true);
  EXPECT_EQ(body["changed"], true);
  EXPECT_EQ(GetJson("/v1/projects/pw/leaderboard")["last_sweep"]["votes"], 4);
  const json raters = GetJson("/v1/projects/pw/raters");
  EXPECT_EQ(raters["raters"].back()["worker"], "r3");
  EXPECT_EQ(raters["raters"].back()["excluded"], true);
  EXPECT_EQ(Admin("/v1/projects/pw/workers/r9/exclude").first, 404);
}

}  // namespace
}  // namespace consensusd::api
