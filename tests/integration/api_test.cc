// The HTTP API of SPEC 5.3 against a running `consensusd serve`: project, task
// and worker views checked against the answers that were produced, paging,
// the export, admin calls with and without a token, an exclusion that flips
// labels and survives a restart, and JSON errors.
//
// One service is shared by the suite (SetUpTestSuite) on one embedded Kafka,
// with three projects:
//   dog    the public dog data set, 20 of its gold tasks declared;
//   synth  a synthetic Dawid-Skene data set from `consensusd synth`;
//   flip   hand-made: a reliable "expert" breaks 1-1 ties against a weaker
//          worker, so excluding the expert flips those tasks; plus ids that
//          need URL encoding.
// A test that changes state (exclude, restart) puts it back before it ends.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

using nlohmann::json;

constexpr char kToken[] = "api-test-token-7f3c";
constexpr int kPartitions = 4;
constexpr int kGoldTasks = 20;
constexpr double kReviewMinConfidence = 0.7;  // review.* defaults
constexpr int64_t kReviewMinAnswers = 3;

// task -> worker -> label (each worker's last answer).
using AnswerSet = std::map<std::string, std::map<std::string, std::string>>;

// What was produced for one project.
struct ProjectData {
  AnswerSet answers;
  std::map<std::string, std::string> gold;  // task -> class

  int64_t NumAnswers() const {
    int64_t n = 0;
    for (const auto& [task, by_worker] : answers) n += static_cast<int64_t>(by_worker.size());
    return n;
  }
  std::set<std::string> Workers() const {
    std::set<std::string> out;
    for (const auto& [task, by_worker] : answers) {
      for (const auto& [worker, label] : by_worker) out.insert(worker);
    }
    return out;
  }
  std::set<std::string> Classes() const {
    std::set<std::string> out;
    for (const auto& [task, by_worker] : answers) {
      for (const auto& [worker, label] : by_worker) out.insert(label);
    }
    for (const auto& [task, label] : gold) out.insert(label);
    return out;
  }
  // The worker's answers: task -> label.
  std::map<std::string, std::string> AnswersOf(const std::string& worker) const {
    std::map<std::string, std::string> out;
    for (const auto& [task, by_worker] : answers) {
      auto it = by_worker.find(worker);
      if (it != by_worker.end()) out[task] = it->second;
    }
    return out;
  }
};

// Reads a task,worker,label CSV into `answers` (a later row replaces an
// earlier one). Returns what went wrong, or "".
std::string ReadAnswers(const std::string& path, AnswerSet* answers) {
  absl::StatusOr<service::CsvReader> reader = service::CsvReader::Open(path);
  if (!reader.ok()) return std::string(reader.status().message());
  std::vector<std::string_view> row;
  while (reader->Next(&row)) {
    if (reader->line() == 1 && row.size() == 3 && row[0] == "task") continue;
    if (row.size() != 3) return absl::StrCat(path, ":", reader->line(), ": not task,worker,label");
    (*answers)[std::string(row[0])][std::string(row[1])] = std::string(row[2]);
  }
  return std::string(reader->status().message());
}

// One HTTP exchange.
struct Reply {
  int status = -1;  // -1: no answer
  std::string body;
  std::string content_type;
  std::string www_authenticate;
  json body_json;  // discarded unless the body is one JSON value
};

// An HTTP client of one serve that sends paths exactly as given (no
// re-encoding), so that the tests choose the percent-encoding.
class ApiClient {
 public:
  ApiClient(std::string host, int port) : host_(std::move(host)), port_(port) {}

  Reply Get(const std::string& path) const {
    httplib::Client client = NewClient();
    return ToReply(client.Get(path));
  }
  // An empty body with Content-Length: 0.
  Reply Post(const std::string& path, const httplib::Headers& headers = {}) const {
    httplib::Client client = NewClient();
    return ToReply(client.Post(path, headers, "", "text/plain"));
  }
  Reply PostWithToken(const std::string& path, const std::string& token = kToken) const {
    return Post(path, {{"Authorization", "Bearer " + token}});
  }

  // Sends `request` as raw bytes on a new connection and returns the raw
  // response (what arrived before the server closed or `timeout` passed).
  std::string Raw(const std::string& request, Clock::duration timeout) const {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    std::string response;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
      const auto deadline = Clock::now() + timeout;
      char buf[4096];
      while (Clock::now() < deadline) {
        pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        response.append(buf, static_cast<size_t>(n));
      }
    }
    close(fd);
    return response;
  }

  const std::string& host() const { return host_; }

  httplib::Client NewClient() const {
    httplib::Client client(host_, port_);
    client.set_url_encode(false);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(20, 0);
    return client;
  }

 private:
  static Reply ToReply(const httplib::Result& res) {
    Reply r;
    if (!res) return r;
    r.status = res->status;
    r.body = res->body;
    r.content_type = res->get_header_value("Content-Type");
    r.www_authenticate = res->get_header_value("WWW-Authenticate");
    r.body_json = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    return r;
  }

  std::string host_;
  int port_;
};

// Sets (or, with nullopt, unsets) an environment variable while it lives;
// children started meanwhile inherit it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A serve with or without an admin token (CONSENSUSD_ADMIN_TOKEN in its
// environment) on `kafka`, listening on an ephemeral port. Null with *error
// set when it does not start listening.
std::unique_ptr<ServeProcess> StartServe(const ServeArgs& args, bool with_token,
                                         const std::string& log, std::unique_ptr<ApiClient>* client,
                                         std::string* error) {
  std::unique_ptr<ServeProcess> serve;
  {
    ScopedEnv token("CONSENSUSD_ADMIN_TOKEN",
                    with_token ? std::optional<std::string>(kToken) : std::nullopt);
    ScopedEnv canonical("CONSENSUSD_HTTP_ADMIN_TOKEN", std::nullopt);
    serve = std::make_unique<ServeProcess>(args, log);
  }
  if (!serve->WaitListening()) {
    *error = "serve did not start listening:\n" + serve->Log();
    return nullptr;
  }
  const std::string log_text = serve->Log();
  const std::string marker = "http: listening on ";
  const size_t at = log_text.find(marker) + marker.size();
  const std::string address = log_text.substr(at, log_text.find_first_of("\r\n", at) - at);
  const size_t colon = address.rfind(':');
  *client =
      std::make_unique<ApiClient>(address.substr(0, colon), std::atoi(address.c_str() + colon + 1));
  return serve;
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

std::set<std::string> Strings(const json& array) {
  std::set<std::string> out;
  for (const json& v : array) out.insert(v.get<std::string>());
  return out;
}

// worker -> (label, excluded) of a task view's answers_by_worker.
std::map<std::string, std::pair<std::string, bool>> ByWorker(const json& view) {
  std::map<std::string, std::pair<std::string, bool>> out;
  for (const json& a : view.at("answers_by_worker")) {
    out[a.at("worker").get<std::string>()] = {a.at("label").get<std::string>(),
                                              a.at("excluded").get<bool>()};
  }
  return out;
}

double Sum(const json& object) {
  double sum = 0;
  for (const auto& [k, v] : object.items()) sum += v.get<double>();
  return sum;
}

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(StartSuite()); }

  static void TearDownTestSuite() {
    if (serve_ != nullptr) serve_->Stop();
    client_.reset();
    serve_.reset();
    kafka_.reset();
    data_.clear();
    dir_.reset();
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(setup_error_, nullptr);
    ASSERT_TRUE(setup_error_->empty()) << *setup_error_;
  }

  // Produces the three projects, starts serve with the admin token and waits
  // until everything is applied and swept. Returns what went wrong, or "".
  static std::string StartSuite() {
    dir_ = std::make_unique<TempDir>();
    kafka_ = std::make_unique<MockKafka>(*dir_, "labels", kPartitions);
    if (kafka_->bootstrap().empty())
      return "mock-kafka did not start: " + ReadWholeFile(dir_->File("mock-kafka.log"));

    // dog, with a small gold file of the first kGoldTasks gold rows.
    ProjectData& dog = data_["dog"];
    if (std::string e = ReadAnswers(kDataDir + "/dog/labels.csv", &dog.answers); !e.empty()) return e;
    {
      const std::map<std::string, std::string> all_gold = ReadGold(kDataDir + "/dog/gold.csv");
      std::string csv = "task,label\n";
      for (const auto& [task, label] : all_gold) {
        if (static_cast<int>(dog.gold.size()) == kGoldTasks) break;
        if (!dog.answers.count(task)) continue;
        dog.gold[task] = label;
        csv += task + "," + label + "\n";
      }
      dir_->Write("dog-gold.csv", csv);
    }

    // synth.
    const RunResult synth = RunConsensusd(
        {"synth", "--tasks", "300", "--workers", "25", "--classes", "3",
                "--answers-per-task", "4", "--seed", "7", "--out", dir_->File("synth")});
    if (synth.exit_code != 0) return "synth failed: " + synth.err;
    if (std::string e = ReadAnswers(dir_->File("synth/labels.csv"), &data_["synth"].answers); !e.empty()) {
      return e;
    }

    // flip, as JSONL messages.
    const std::string flip_path = dir_->File("flip.jsonl");
    {
      ProjectData& flip = data_["flip"];
      std::ofstream out(flip_path);
      auto answer = [&](const std::string& task, const std::string& worker,
                        const std::string& label) {
        out << json{{"project", "flip"}, {"task", task}, {"worker", worker}, {"label", label}}
                   .dump()
            << "\n";
        flip.answers[task][worker] = label;
      };
      // Anchors: the true class alternates; e, g1..g3 always right, n wrong on every tenth.
      for (int i = 0; i < 40; ++i) {
        const std::string task = absl::StrCat("a", i / 10, i % 10);
        const std::string truth = i % 2 == 0 ? "x" : "y", other = i % 2 == 0 ? "y" : "x";
        for (const char* w : {"e", "g1", "g2", "g3"}) answer(task, w, truth);
        answer(task, "n", i % 10 == 3 ? other : truth);
      }
      // Ties the expert decides.
      for (const std::string& task : FlipTies()) {
        answer(task, "e", "x");
        answer(task, "n", "y");
      }
      // Ids that need URL encoding.
      answer("img/cat 01.jpg", "ann/1 x", "x");
      answer("img/cat 01.jpg", "g1", "x");
      answer("a+b", "g2", "y");
      answer("a+b", "g3", "y");
    }

    struct Job {
      std::string file;
      std::vector<std::string> extra;
    };
    const std::vector<Job> jobs = {
        {kDataDir + "/dog/labels.csv",
         {"--project", "dog", "--gold", dir_->File("dog-gold.csv"), "--batch", "50"}},
        {dir_->File("synth/labels.csv"), {"--project", "synth", "--batch", "50"}},
        {flip_path, {}}};
    for (const Job& job : jobs) {
      const ProduceResult p = Produce(*kafka_, "labels", job.file, job.extra);
      if (p.exit_code != 0 || p.messages <= 0) return "produce " + job.file + " failed: " + p.err;
      produced_messages_ += p.messages;
      produced_elements_ += p.elements;
    }
    // What answers_applied and answers_committed count: answers, not gold.
    produced_elements_ -= static_cast<int64_t>(data_["dog"].gold.size());

    std::string error;
    serve_ = StartServe(Args(), /*with_token=*/true, dir_->File("serve1.log"), &client_, &error);
    if (serve_ == nullptr) return error;
    std::string why;
    if (!WaitFullyConsumed(*serve_, {"labels", kPartitions, produced_messages_, produced_elements_},
                           seconds(60), &why)) {
      return "not fully consumed: " + why + "\n" + serve_->Log();
    }
    return WaitSwept();
  }

  static ServeArgs Args() { return ServeArgs(*kafka_, "labels", "api", dir_->File("state")); }

  static std::vector<std::string> FlipTies() { return {"c0", "c1", "c2", "c3"}; }

  // Waits until every project's last sweep has seen all of its answers, and
  // then until a sweeper round (every second) finds nothing left to sweep:
  // the reports are current (gold declared after the answers included).
  static std::string WaitSwept() {
    std::string last;
    std::optional<double> sweeps;
    const bool ok = WaitUntil(
        [&] {
          for (const auto& [name, data] : data_) {
            const Reply r = client_->Get("/v1/projects/" + name);
            last = name + ": " + r.body;
            if (r.status != 200 || !r.body_json.is_object()) return false;
            const json& sweep = r.body_json.at("last_sweep");
            if (!sweep.is_object() || sweep.at("answers") != data.NumAnswers() ||
                r.body_json.at("answers") != data.NumAnswers()) {
              sweeps.reset();
              return false;
            }
          }
          const double now = SumMetric(serve_->Metrics(), "consensusd_em_sweeps_total");
          const bool settled = sweeps == now;
          sweeps = now;
          return settled;
        },
        seconds(30), milliseconds(1200));
    return ok ? "" : "no sweep over every answer: " + last;
  }

  static Reply Get(const std::string& path) { return client_->Get(path); }

  // GET that must answer 200 with JSON.
  static json GetJson(const std::string& path) {
    const Reply r = Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << path;
    return r.status == 200 ? r.body_json : json();
  }

  // Every page of `path` with `limit`, following next_cursor.
  static std::vector<json> AllPages(const std::string& path, int limit, int* pages = nullptr) {
    std::vector<json> items;
    std::string cursor;
    for (int page = 1; page <= 10000; ++page) {
      std::string url = path + (path.find('?') == std::string::npos ? "?" : "&") +
                        "limit=" + std::to_string(limit);
      if (!cursor.empty()) url += "&cursor=" + httplib::detail::encode_query_param(cursor);
      const json body = GetJson(url);
      if (!body.is_object()) {
        ADD_FAILURE() << "no page at " << url;
        break;
      }
      EXPECT_LE(body.at("items").size(), static_cast<size_t>(limit)) << url;
      for (const json& item : body.at("items")) items.push_back(item);
      if (pages != nullptr) *pages = page;
      if (body.at("next_cursor").is_null()) break;
      cursor = body.at("next_cursor").get<std::string>();
    }
    return items;
  }

  // task -> view, for every task of the project.
  static std::map<std::string, json> TaskViews(const std::string& project) {
    std::map<std::string, json> views;
    for (const json& item :
         AllPages("/v1/projects/" + project + "/tasks", 1000)) {
      views[item.at("task").get<std::string>()] = item;
    }
    return views;
  }

  // Checks a task view against what was produced for the task.
  static void ExpectTaskMatchesInput(const json& view, const std::string& project,
                                     const std::string& task) {
    SCOPED_TRACE(project + "/" + task);
    const ProjectData& data = data_.at(project);
    ASSERT_TRUE(view.is_object()) << view;
    EXPECT_EQ(view.at("project"), project);
    EXPECT_EQ(view.at("task"), task);
    ASSERT_TRUE(view.at("posterior").is_object()) << view;
    EXPECT_EQ(Keys(view.at("posterior")), data.Classes());
    EXPECT_NEAR(Sum(view.at("posterior")), 1.0, 1e-9);
    ASSERT_TRUE(view.at("label").is_string()) << view;
    const std::string label = view.at("label");
    const double confidence = view.at("confidence").get<double>();
    EXPECT_EQ(confidence, view.at("posterior").at(label).get<double>());
    for (const auto& [k, p] : view.at("posterior").items()) {
      EXPECT_GE(p.get<double>(), 0.0) << k;
      EXPECT_LE(p.get<double>(), confidence) << "the label is not the most probable class: " << k;
    }
    std::map<std::string, std::string> by_worker;
    for (const json& a : view.at("answers_by_worker")) {
      EXPECT_TRUE(
          by_worker.emplace(a.at("worker").get<std::string>(), a.at("label").get<std::string>())
              .second)
          << "two answers of " << a.at("worker");
      EXPECT_EQ(a.at("excluded"), false) << a;
    }
    const auto& want = data.answers.at(task);
    EXPECT_EQ(by_worker, want);
    EXPECT_EQ(view.at("answers"), want.size());
    const auto gold = data.gold.find(task);
    if (gold == data.gold.end()) {
      EXPECT_TRUE(view.at("gold").is_null()) << view;
    } else {
      EXPECT_EQ(view.at("gold"), gold->second);
    }
    EXPECT_EQ(view.at("needs_review").get<bool>(),
              static_cast<int64_t>(want.size()) >= kReviewMinAnswers &&
                  confidence < kReviewMinConfidence);
  }

  static std::string* setup_error_;
  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<MockKafka> kafka_;
  static std::unique_ptr<ServeProcess> serve_;
  static std::unique_ptr<ApiClient> client_;
  static std::map<std::string, ProjectData> data_;
  static int64_t produced_messages_, produced_elements_;
};

std::string* ApiTest::setup_error_ = nullptr;
std::unique_ptr<TempDir> ApiTest::dir_;
std::unique_ptr<MockKafka> ApiTest::kafka_;
std::unique_ptr<ServeProcess> ApiTest::serve_;
std::unique_ptr<ApiClient> ApiTest::client_;
std::map<std::string, ProjectData> ApiTest::data_;
int64_t ApiTest::produced_messages_ = 0;
int64_t ApiTest::produced_elements_ = 0;

// --- projects and status ---------------------------------------------------

TEST_F(ApiTest, ListsEveryProjectByNameWithItsCounts) {
  const json body = GetJson("/v1/projects");
  ASSERT_TRUE(body.at("projects").is_array()) << body;
  std::vector<std::string> names;
  for (const json& p : body.at("projects")) {
    const std::string name = p.at("project");
    names.push_back(name);
    SCOPED_TRACE(name);
    const ProjectData& data = data_.at(name);
    EXPECT_EQ(p.at("tasks"), data.answers.size());
    EXPECT_EQ(p.at("workers"), data.Workers().size());
    EXPECT_EQ(p.at("answers"), data.NumAnswers());
    EXPECT_EQ(Strings(p.at("classes")), data.Classes());
    EXPECT_EQ(p.at("classes").size(), data.Classes().size());
    EXPECT_GT(p.at("mean_confidence").get<double>(), 0.5);
    EXPECT_LE(p.at("mean_confidence").get<double>(), 1.0);
    EXPECT_LE(p.at("workers_flagged").get<int64_t>(), p.at("workers").get<int64_t>());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dog", "flip", "synth"}));
}

TEST_F(ApiTest, ProjectViewReportsPriorsLastSweepAndAlpha) {
  for (const auto& [name, data] : data_) {
    SCOPED_TRACE(name);
    const json p = GetJson("/v1/projects/" + name);
    ASSERT_TRUE(p.is_object());
    EXPECT_EQ(p.at("project"), name);
    EXPECT_EQ(p.at("method"), "hds");
    EXPECT_EQ(Strings(p.at("classes")), data.Classes());
    EXPECT_EQ(Keys(p.at("class_priors")), data.Classes());
    EXPECT_NEAR(Sum(p.at("class_priors")), 1.0, 1e-9);
    for (const auto& [k, v] : p.at("class_priors").items()) {
      EXPECT_GT(v.get<double>(), 0.0) << k;
      EXPECT_LT(v.get<double>(), 1.0) << k;
    }
    const json& sweep = p.at("last_sweep");
    ASSERT_TRUE(sweep.is_object()) << p;
    EXPECT_EQ(sweep.at("answers"), data.NumAnswers());
    EXPECT_EQ(sweep.at("tasks"), data.answers.size());
    EXPECT_GE(sweep.at("iterations").get<int>(), 1);
    EXPECT_GE(sweep.at("seconds").get<double>(), 0.0);
    EXPECT_LT(sweep.at("log_likelihood").get<double>(), 0.0);
    const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    EXPECT_GT(sweep.at("unix_ms").get<int64_t>(), now_ms - 10 * 60 * 1000);
    EXPECT_LE(sweep.at("unix_ms").get<int64_t>(), now_ms + 1000);
    ASSERT_TRUE(p.at("krippendorff_alpha").is_number()) << p;
    // Every data set here agrees better than chance.
    EXPECT_GT(p.at("krippendorff_alpha").get<double>(), 0.0);
    EXPECT_LE(p.at("krippendorff_alpha").get<double>(), 1.0);
    EXPECT_EQ(p.at("thresholds").at("review_min_confidence"), kReviewMinConfidence);
    EXPECT_EQ(p.at("thresholds").at("review_min_answers"), kReviewMinAnswers);
  }
}

TEST_F(ApiTest, StatusCountsEverythingConsumed) {
  const json s = GetJson("/v1/status");
  EXPECT_EQ(s.at("ready"), true);
  EXPECT_EQ(s.at("messages_consumed"), produced_messages_);
  EXPECT_EQ(s.at("answers_committed"), produced_elements_);  // answers (gold is not an answer)
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_NEAR(static_cast<double>(s.at("unix_ms").get<int64_t>()), static_cast<double>(now_ms),
              5000.0);
}

// --- tasks -------------------------------------------------------------------

TEST_F(ApiTest, TaskViewsMatchTheProducedAnswers) {
  for (const std::string project : {"dog", "synth", "flip"}) {
    const std::map<std::string, json> views = TaskViews(project);
    EXPECT_EQ(views.size(), data_.at(project).answers.size()) << project;
    int n = 0;
    for (const auto& [task, view] : views) {
      ExpectTaskMatchesInput(view, project, task);
      // Every 25th task also on its own endpoint: the same view.
      if (n++ % 25 != 0 || task.find_first_of("/ +") != std::string::npos) continue;
      EXPECT_EQ(GetJson("/v1/projects/" + project + "/tasks/" + task), view)
          << project << "/" << task;
    }
  }
}

TEST_F(ApiTest, GoldTaskReportsItsGoldAndIsClampedToIt) {
  ASSERT_EQ(data_.at("dog").gold.size(), static_cast<size_t>(kGoldTasks));
  for (const auto& [task, gold] : data_.at("dog").gold) {
    const json view = GetJson("/v1/projects/dog/tasks/" + task);
    ExpectTaskMatchesInput(view, "dog", task);
    EXPECT_EQ(view.at("gold"), gold) << task;
    EXPECT_EQ(view.at("label"), gold) << task;
    EXPECT_DOUBLE_EQ(view.at("confidence").get<double>(), 1.0) << task;
  }
}

TEST_F(ApiTest, UnknownTaskProjectOrWorkerIs404WithJsonError) {
  for (const std::string path :
       {"/v1/projects/dog/tasks/no-such-task", "/v1/projects/no-such-project",
        "/v1/projects/no-such-project/tasks/1", "/v1/projects/dog/workers/no-such-worker",
        "/v1/projects/no-such-project/workers?sort=answers"}) {
    const Reply r = Get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << path;
    ASSERT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << path << ": " << r.body;
    EXPECT_NE(r.body_json.at("error").get<std::string>().find("no-such-"), std::string::npos)
        << r.body;
  }
}

TEST_F(ApiTest, IdsInPathsAreUrlDecoded) {
  const json slash_space = GetJson("/v1/projects/flip/tasks/img%2Fcat%2001.jpg");
  ExpectTaskMatchesInput(slash_space, "flip", "img/cat 01.jpg");

  // '+' is a plus in a path, written raw or as %2B; never a space.
  ExpectTaskMatchesInput(GetJson("/v1/projects/flip/tasks/a+b"), "flip", "a+b");
  ExpectTaskMatchesInput(GetJson("/v1/projects/flip/tasks/a%2Bb"), "flip", "a+b");
  EXPECT_EQ(Get("/v1/projects/flip/tasks/a%20b").status, 404);

  const json worker = GetJson("/v1/projects/flip/workers/ann%2F1%20x");
  EXPECT_EQ(worker.at("worker"), "ann/1 x");
  EXPECT_EQ(worker.at("answers"), 1);

  // Without encoding, the '/' splits the path: no such endpoint.
  EXPECT_EQ(Get("/v1/projects/flip/tasks/img/cat%2001.jpg").status, 404);
}

TEST_F(ApiTest, ReviewQueuePagesCoverEveryReviewTaskExactlyOnce) {
  for (const std::string project : {"synth", "dog"}) {
    SCOPED_TRACE(project);
    int pages = 0;
    const std::vector<json> paged =
        AllPages("/v1/projects/" + project + "/tasks?needs_review=true", 7, &pages);
    const std::vector<json> whole =
        AllPages("/v1/projects/" + project + "/tasks?needs_review=true", 1000);
    std::set<std::string> seen;
    for (const json& item : paged) {
      EXPECT_TRUE(seen.insert(item.at("task").get<std::string>()).second)
          << "twice: " << item.at("task");
      EXPECT_EQ(item.at("needs_review"), true) << item;
      EXPECT_LT(item.at("confidence").get<double>(), kReviewMinConfidence) << item;
      EXPECT_GE(item.at("answers").get<int64_t>(), kReviewMinAnswers) << item;
    }
    EXPECT_EQ(paged, whole);  // same items, same (id) order
    // Exactly the tasks that need review, and more than one page of them.
    int64_t expected = 0;
    for (const auto& [task, view] : TaskViews(project)) {
      expected += view.at("needs_review").get<bool>();
    }
    EXPECT_EQ(static_cast<int64_t>(paged.size()), expected);
    EXPECT_EQ(GetJson("/v1/projects/" + project).at("tasks_needing_review"), expected);
    if (project == "synth") {
      EXPECT_GT(paged.size(), 7u) << "the data should need more than one page of review";
    }
    EXPECT_EQ(pages, static_cast<int>((paged.size() + 6) / 7));
  }
}

TEST_F(ApiTest, BadTaskQueriesAre400WithJsonError) {
  // (Any text is a task cursor: the tasks after it by id.)
  for (const std::string query : {"limit=0", "limit=abc", "limit=1001", "limit=-3",
                                  "needs_review=maybe"}) {
    const Reply r = Get("/v1/projects/dog/tasks?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << query << ": " << r.body;
  }
  const Reply r = Get("/v1/projects/dog/tasks?limit=abc");
  EXPECT_NE(r.body.find("limit"), std::string::npos)
      << "the error should name the parameter: " << r.body;
}

// --- workers -----------------------------------------------------------------

TEST_F(ApiTest, WorkerListsAreSortedAndPagesCoverEveryWorkerOnce) {
  const std::string project = "dog";
  const ProjectData& data = data_.at(project);
  const json summary = GetJson("/v1/projects/" + project);
  for (const std::string sort : {"accuracy", "answers", "spam"}) {
    for (const std::string order : {"asc", "desc"}) {
      SCOPED_TRACE(sort + " " + order);
      const std::string path =
          "/v1/projects/" + project + "/workers?sort=" + sort + "&order=" + order;
      const json first = GetJson(path + "&limit=7");
      EXPECT_EQ(first.at("total"), summary.at("workers"));
      EXPECT_EQ(first.at("total"), data.Workers().size());
      const std::vector<json> rows = AllPages(path, 7);
      std::set<std::string> seen;
      for (const json& row : rows) {
        EXPECT_TRUE(seen.insert(row.at("worker").get<std::string>()).second)
            << "twice: " << row.at("worker");
      }
      EXPECT_EQ(seen, data.Workers());
      EXPECT_EQ(rows, AllPages(path, 1000));
      const char* column = sort == "accuracy" ? "accuracy"
                           : sort == "spam"   ? "spam_score"
                                              : "answers";
      for (size_t i = 1; i < rows.size(); ++i) {
        const double a = rows[i - 1].at(column).get<double>(), b = rows[i].at(column).get<double>();
        if (a == b) {
          EXPECT_LT(rows[i - 1].at("worker").get<std::string>(),
                    rows[i].at("worker").get<std::string>())
              << "ties go by name";
        } else {
          EXPECT_TRUE(order == "asc" ? a < b : a > b) << rows[i - 1] << "\n" << rows[i];
        }
      }
      for (const json& row : rows) {
        const std::string worker = row.at("worker");
        EXPECT_EQ(row.at("answers"), data.AnswersOf(worker).size()) << worker;
        EXPECT_EQ(row.at("excluded"), false) << worker;
      }
    }
  }
  // The default is the busiest first.
  const json busiest = GetJson("/v1/projects/dog/workers?limit=1");
  EXPECT_EQ(busiest.at("items").at(0),
            AllPages("/v1/projects/dog/workers?sort=answers&order=desc", 1).at(0));
}

TEST_F(ApiTest, BadWorkerQueriesAre400WithJsonError) {
  for (const std::string query :
       {"sort=bogus", "order=sideways", "limit=0", "limit=abc", "cursor=abc"}) {
    const Reply r = Get("/v1/projects/dog/workers?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << query << ": " << r.body;
  }
}

TEST_F(ApiTest, WorkerViewHasConfusionMatrixAndCountsFromTheInput) {
  const ProjectData& data = data_.at("dog");
  const json project = GetJson("/v1/projects/dog");
  const std::vector<json> rows = AllPages("/v1/projects/dog/workers?sort=answers&order=desc", 1000);
  ASSERT_FALSE(rows.empty());
  int64_t with_gold = 0;
  for (const json& row : rows) {
    const std::string worker = row.at("worker");
    SCOPED_TRACE(worker);
    const json view = GetJson("/v1/projects/dog/workers/" + worker);
    ASSERT_TRUE(view.is_object());
    EXPECT_EQ(view.at("project"), "dog");
    EXPECT_EQ(view.at("worker"), worker);
    EXPECT_EQ(view.at("classes"), project.at("classes"));
    const size_t k = project.at("classes").size();
    ASSERT_EQ(view.at("confusion_matrix").size(), k);
    double accuracy = 0;
    for (size_t i = 0; i < k; ++i) {
      const json& r = view.at("confusion_matrix").at(i);
      ASSERT_EQ(r.size(), k);
      double sum = 0;
      for (const json& p : r) {
        EXPECT_GE(p.get<double>(), 0.0);
        sum += p.get<double>();
      }
      EXPECT_NEAR(sum, 1.0, 1e-9) << "row " << i;
      const std::string cls = project.at("classes").at(i);
      accuracy += project.at("class_priors").at(cls).get<double>() * r.at(i).get<double>();
    }
    // accuracy = sum_k prior[k] * confusion[k][k], from the last sweep.
    EXPECT_NEAR(view.at("accuracy").get<double>(), accuracy, 1e-6);

    const std::map<std::string, std::string> answers = data.AnswersOf(worker);
    EXPECT_EQ(view.at("answers"), answers.size());
    int64_t gold_answers = 0, gold_correct = 0;
    for (const auto& [task, label] : answers) {
      auto g = data.gold.find(task);
      if (g == data.gold.end()) continue;
      ++gold_answers;
      gold_correct += label == g->second;
    }
    EXPECT_EQ(view.at("gold_answers"), gold_answers);
    EXPECT_EQ(view.at("gold_correct"), gold_correct);
    if (gold_answers == 0) {
      EXPECT_TRUE(view.at("gold_accuracy").is_null());
    } else {
      EXPECT_DOUBLE_EQ(view.at("gold_accuracy").get<double>(),
                       static_cast<double>(gold_correct) / gold_answers);
    }
    with_gold += gold_answers > 0;
    for (const char* field : {"agreement", "spam_score", "accuracy"}) {
      EXPECT_GE(view.at(field).get<double>(), 0.0) << field;
      EXPECT_LE(view.at(field).get<double>(), 1.0) << field;
    }
    // The list row is the view without the matrix.
    json without = view;
    for (const char* field : {"project", "classes", "confusion_matrix"}) without.erase(field);
    EXPECT_EQ(without, row);
  }
  EXPECT_GT(with_gold, 0);
}

// --- export ------------------------------------------------------------------

TEST_F(ApiTest, CsvExportHasOneRowPerTaskMatchingTheTaskViews) {
  for (const std::string project : {"dog", "flip"}) {
    SCOPED_TRACE(project);
    const std::map<std::string, json> views = TaskViews(project);
    const json classes = GetJson("/v1/projects/" + project).at("classes");
    const Reply r = Get("/v1/projects/" + project + "/export?format=csv&posteriors=true");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "text/csv");
    service::CsvReader csv(r.body, "export.csv");
    std::vector<std::string_view> row;
    ASSERT_TRUE(csv.Next(&row));
    std::vector<std::string> header(row.begin(), row.end());
    std::vector<std::string> want = {"task", "label", "confidence"};
    for (const json& c : classes) want.push_back("p:" + c.get<std::string>());
    EXPECT_EQ(header, want);
    std::set<std::string> seen;
    while (csv.Next(&row)) {
      ASSERT_EQ(row.size(), want.size()) << csv.line();
      const std::string task(row[0]);
      EXPECT_TRUE(seen.insert(task).second) << "twice: " << task;
      auto view = views.find(task);
      ASSERT_NE(view, views.end()) << task;
      EXPECT_EQ(std::string(row[1]), view->second.at("label")) << task;
      EXPECT_NEAR(std::stod(std::string(row[2])), view->second.at("confidence").get<double>(),
                  1e-11)
          << task;
      for (size_t k = 0; k < classes.size(); ++k) {
        EXPECT_NEAR(std::stod(std::string(row[3 + k])),
                    view->second.at("posterior").at(classes.at(k).get<std::string>()).get<double>(),
                    1e-11)
            << task << " " << classes.at(k);
      }
    }
    EXPECT_TRUE(csv.status().ok()) << csv.status();
    EXPECT_EQ(seen.size(), views.size());
  }
}

TEST_F(ApiTest, JsonlExportMatchesTheTaskViews) {
  const std::map<std::string, json> views = TaskViews("dog");
  const Reply r = Get("/v1/projects/dog/export?format=jsonl");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/x-ndjson");
  std::istringstream in(r.body);
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(record.is_object()) << line;
    const std::string task = record.at("task");
    EXPECT_TRUE(seen.insert(task).second) << "twice: " << task;
    auto view = views.find(task);
    ASSERT_NE(view, views.end()) << task;
    const json& v = view->second;
    EXPECT_EQ(record.at("project"), "dog");
    EXPECT_EQ(record.at("label"), v.at("label")) << task;
    EXPECT_NEAR(record.at("confidence").get<double>(), v.at("confidence").get<double>(), 1e-11)
        << task;
    EXPECT_EQ(Keys(record.at("posterior")), Keys(v.at("posterior"))) << task;
    for (const auto& [k, p] : v.at("posterior").items()) {
      EXPECT_NEAR(record.at("posterior").at(k).get<double>(), p.get<double>(), 1e-11)
          << task << " " << k;
    }
    EXPECT_EQ(record.at("answers"), v.at("answers")) << task;
    EXPECT_EQ(record.at("gold"), v.at("gold")) << task;
    EXPECT_TRUE(record.at("updated_ms").is_number_integer()) << line;
  }
  EXPECT_EQ(seen.size(), views.size());
}

TEST_F(ApiTest, ExportMinConfidenceKeepsOnlyConfidentTasks) {
  const std::map<std::string, json> views = TaskViews("dog");
  for (const double threshold : {0.9, 0.99}) {
    std::set<std::string> confident;
    for (const auto& [task, view] : views) {
      if (view.at("confidence").get<double>() >= threshold) confident.insert(task);
    }
    ASSERT_LT(confident.size(), views.size()) << "the threshold should drop some tasks";
    ASSERT_GT(confident.size(), 0u);
    for (const std::string format : {"csv", "jsonl"}) {
      SCOPED_TRACE(format + " " + std::to_string(threshold));
      const Reply r = Get("/v1/projects/dog/export?format=" + format +
                          "&min_confidence=" + std::to_string(threshold));
      ASSERT_EQ(r.status, 200) << r.body;
      std::set<std::string> exported;
      std::istringstream in(r.body);
      std::string line;
      if (format == "csv") std::getline(in, line);  // header
      while (std::getline(in, line)) {
        const std::string task = format == "csv" ? line.substr(0, line.find(','))
                                                 : json::parse(line).at("task").get<std::string>();
        exported.insert(task);
      }
      EXPECT_EQ(exported, confident);
    }
  }
}

TEST_F(ApiTest, BadExportQueriesAre400WithJsonError) {
  for (const std::string query :
       {"format=xml", "format=csv&min_confidence=2", "format=csv&min_confidence=abc"}) {
    const Reply r = Get("/v1/projects/dog/export?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << query << ": " << r.body;
  }
}

// --- admin -------------------------------------------------------------------

TEST_F(ApiTest, AdminCallsNeedTheRightBearerToken) {
  const std::string path =
      "/v1/projects/flip/workers/g1/include";  // g1 is not excluded: changes nothing
  const std::vector<std::pair<std::string, httplib::Headers>> wrong = {
      {"no header", {}},
      {"wrong token", {{"Authorization", "Bearer not-the-token"}}},
      {"token prefix",
       {{"Authorization", std::string("Bearer ") + std::string(kToken).substr(0, 5)}}},
      {"token plus a byte", {{"Authorization", std::string("Bearer ") + kToken + "x"}}},
      {"no scheme", {{"Authorization", kToken}}},
      {"basic scheme", {{"Authorization", std::string("Basic ") + kToken}}},
  };
  for (const auto& [what, headers] : wrong) {
    const Reply r = client_->Post(path, headers);
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_EQ(r.www_authenticate, "Bearer") << what;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << what << ": " << r.body;
  }
  const Reply recompute = client_->Post("/v1/projects/flip/recompute");
  EXPECT_EQ(recompute.status, 401) << recompute.body;

  const Reply ok = client_->PostWithToken(path);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body_json.at("worker"), "g1");
  EXPECT_EQ(ok.body_json.at("excluded"), false);
  EXPECT_EQ(ok.body_json.at("changed"), false);

  // With the right token, unknown names are 404.
  EXPECT_EQ(client_->PostWithToken("/v1/projects/flip/workers/nobody/exclude").status, 404);
  EXPECT_EQ(client_->PostWithToken("/v1/projects/nothing/workers/g1/exclude").status, 404);
  EXPECT_EQ(client_->PostWithToken("/v1/projects/nothing/recompute").status, 404);
}

TEST_F(ApiTest, AdminCallWithoutABodyOrContentLengthIsAnswered) {
  // `curl -X POST -H "Authorization: Bearer ..." URL` (docs/api.md) sends no
  // Content-Length: a request without one has no body (RFC 7230 3.3.3).
  const auto start = Clock::now();
  const std::string response = client_->Raw(
      "POST /v1/projects/flip/workers/g1/include HTTP/1.1\r\nHost: " + client_->host() +
          "\r\nAuthorization: Bearer " + kToken + "\r\nConnection: close\r\n\r\n",
      seconds(15));
  EXPECT_EQ(response.substr(0, 15), "HTTP/1.1 200 OK") << response;
  EXPECT_NE(response.find("\"worker\":\"g1\""), std::string::npos) << response;
  EXPECT_LT(Clock::now() - start, seconds(5))
      << "the server waited for a body that was never announced";

  // A body, when announced, is read and ignored: the kept-alive connection
  // stays in step for the next request.
  httplib::Client keep_alive = client_->NewClient();
  keep_alive.set_keep_alive(true);
  const httplib::Result post = keep_alive.Post("/v1/projects/flip/workers/g1/include",
                                               {{"Authorization", std::string("Bearer ") + kToken}},
                                               "some ignored body", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200) << post->body;
  const httplib::Result get = keep_alive.Get("/v1/projects/flip/workers/g1");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200) << get->body;
  EXPECT_EQ(json::parse(get->body, nullptr, false).value("worker", ""), "g1") << get->body;
}

TEST_F(ApiTest, RecomputeRunsASweepAndReturnsTheProjectView) {
  const json before = GetJson("/v1/projects/dog");
  const std::map<std::string, json> views = TaskViews("dog");
  std::this_thread::sleep_for(milliseconds(5));
  const Reply r = client_->PostWithToken("/v1/projects/dog/recompute");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& after = r.body_json;
  EXPECT_EQ(after.at("project"), "dog");
  EXPECT_GT(after.at("last_sweep").at("unix_ms").get<int64_t>(),
            before.at("last_sweep").at("unix_ms").get<int64_t>());
  EXPECT_EQ(after.at("last_sweep").at("answers"), before.at("answers"));
  EXPECT_EQ(after.at("answers"), before.at("answers"));
  EXPECT_EQ(after.at("classes"), before.at("classes"));
  EXPECT_NEAR(Sum(after.at("class_priors")), 1.0, 1e-9);
  EXPECT_NEAR(after.at("last_sweep").at("log_likelihood").get<double>(),
              before.at("last_sweep").at("log_likelihood").get<double>(), 1e-9);
  EXPECT_EQ(GetJson("/v1/projects/dog"), after);
  // The same answers give the same consensus.
  for (const auto& [task, view] : TaskViews("dog")) {
    EXPECT_EQ(view.at("label"), views.at(task).at("label")) << task;
    EXPECT_NEAR(view.at("confidence").get<double>(), views.at(task).at("confidence").get<double>(),
                1e-9)
        << task;
  }
}

TEST_F(ApiTest, ExcludingTheExpertFlipsItsTiesAndIncludingRestoresThemAcrossARestart) {
  const std::map<std::string, json> original = TaskViews("flip");
  for (const std::string& task : FlipTies()) {
    ASSERT_EQ(original.at(task).at("label"), "x")
        << "the expert should decide " << task << ": " << original.at(task);
  }
  const std::set<std::string> expert_tasks = [] {
    std::set<std::string> out;
    for (const auto& [task, label] : data_.at("flip").AnswersOf("e")) out.insert(task);
    return out;
  }();

  const Reply excluded = client_->PostWithToken("/v1/projects/flip/workers/e/exclude");
  ASSERT_EQ(excluded.status, 200) << excluded.body;
  EXPECT_EQ(excluded.body_json.at("worker"), "e");
  EXPECT_EQ(excluded.body_json.at("excluded"), true);
  EXPECT_EQ(excluded.body_json.at("changed"), true);
  EXPECT_EQ(client_->PostWithToken("/v1/projects/flip/workers/e/exclude").body_json.at("changed"),
            false);

  // The expert's answers stay stored and marked, and stop counting.
  auto expect_excluded = [&](const std::string& when, std::map<std::string, json>* views) {
    SCOPED_TRACE(when);
    *views = TaskViews("flip");
    const std::map<std::string, json>& now = *views;
    ASSERT_EQ(now.size(), original.size());
    for (const std::string& task : expert_tasks) {
      const json& view = now.at(task);
      EXPECT_EQ(view.at("answers"), original.at(task).at("answers")) << task;
      for (const json& a : view.at("answers_by_worker")) {
        EXPECT_EQ(a.at("excluded"), a.at("worker") == "e") << task << ": " << a;
      }
    }
    for (const std::string& task : FlipTies()) {
      EXPECT_EQ(now.at(task).at("label"), "y")
          << "only n counts on " << task << ": " << now.at(task);
    }
    const json worker = GetJson("/v1/projects/flip/workers/e");
    EXPECT_EQ(worker.at("excluded"), true);
    EXPECT_EQ(worker.at("answers"), expert_tasks.size());
    bool listed = false;
    for (const json& row : AllPages("/v1/projects/flip/workers?sort=answers", 1000)) {
      if (row.at("worker") == "e") listed = row.at("excluded") == true;
    }
    EXPECT_TRUE(listed) << "the worker list should show e as excluded";
  };
  std::map<std::string, json> flipped;
  expect_excluded("after exclude", &flipped);

  // The exclusion is in RocksDB: a restarted serve still has it.
  ASSERT_EQ(serve_->Stop(), 0) << serve_->Log();
  std::string error;
  serve_ = StartServe(Args(), /*with_token=*/true, dir_->File("serve2.log"), &client_, &error);
  ASSERT_NE(serve_, nullptr) << error;
  ASSERT_TRUE(WaitUntil([&] { return serve_->Ready(); }, seconds(60))) << serve_->Log();
  ASSERT_EQ(WaitSwept(), "");
  std::map<std::string, json> restarted;
  expect_excluded("after restart", &restarted);
  for (const std::string& task : FlipTies()) {
    ASSERT_TRUE(restarted.count(task) && flipped.count(task)) << task;
    EXPECT_NEAR(restarted.at(task).at("confidence").get<double>(),
                flipped.at(task).at("confidence").get<double>(), 1e-9)
        << task;
  }

  const Reply included = client_->PostWithToken("/v1/projects/flip/workers/e/include");
  ASSERT_EQ(included.status, 200) << included.body;
  EXPECT_EQ(included.body_json.at("excluded"), false);
  EXPECT_EQ(included.body_json.at("changed"), true);
  const std::map<std::string, json> restored = TaskViews("flip");
  ASSERT_EQ(restored.size(), original.size());
  for (const auto& [task, view] : original) {
    const json& now = restored.at(task);
    EXPECT_EQ(now.at("label"), view.at("label")) << task;
    EXPECT_EQ(ByWorker(now), ByWorker(view)) << task;  // a restart may list them in another order
    for (const auto& [k, p] : view.at("posterior").items()) {
      EXPECT_NEAR(now.at("posterior").at(k).get<double>(), p.get<double>(), 1e-9)
          << task << " " << k;
    }
  }
}

TEST_F(ApiTest, AdminCallsAre403WhenNoTokenIsConfigured) {
  // A second serve, without a token, on its own state and consumer group.
  ServeArgs args(*kafka_, "labels", "api-no-token", dir_->File("state-no-token"));
  std::unique_ptr<ApiClient> client;
  std::string error;
  std::unique_ptr<ServeProcess> serve =
      StartServe(args, /*with_token=*/false, dir_->File("serve-no-token.log"), &client, &error);
  ASSERT_NE(serve, nullptr) << error;
  for (const std::string path :
       {"/v1/projects/flip/workers/e/exclude", "/v1/projects/flip/workers/e/include",
        "/v1/projects/flip/recompute"}) {
    for (const std::string token : {"", kToken}) {
      const Reply r = token.empty() ? client->Post(path) : client->PostWithToken(path, token);
      EXPECT_EQ(r.status, 403) << path << ": " << r.body;
      ASSERT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
          << path << ": " << r.body;
      EXPECT_NE(r.body_json.at("error").get<std::string>().find("CONSENSUSD_ADMIN_TOKEN"),
                std::string::npos)
          << "the error should name the fix: " << r.body;
    }
  }
  EXPECT_EQ(client->Get("/v1/status").status, 200);
  EXPECT_EQ(serve->Stop(), 0) << serve->Log();
}

// --- errors ------------------------------------------------------------------

TEST_F(ApiTest, UnknownEndpointIs404WithJsonError) {
  for (const std::string path :
       {"/v1/nope", "/v1/", "/v1/projects/dog/nope", "/v1/projects/dog/tasks/1/extra",
        "/v1/projects/dog/workers/1/exclude", "/nope", "/v2/projects"}) {
    const Reply r = Get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << path;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << path << ": " << r.body;
  }
  for (const std::string path :
       {"/v1/projects", "/v1/projects/dog/nope", "/v1/projects/dog/workers/1/delete", "/nope"}) {
    const Reply r = client_->PostWithToken(path);
    EXPECT_EQ(r.status, 404) << "POST " << path << ": " << r.body;
    EXPECT_TRUE(r.body_json.is_object() && r.body_json.at("error").is_string())
        << path << ": " << r.body;
  }
}

}  // namespace
}  // namespace consensusd::integration
