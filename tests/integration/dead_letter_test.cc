// Every rejection reason of SPEC 3.2 reaches the dead-letter topic with the
// original bytes and its reason header, counts in
// consensusd_messages_rejected_total{reason}, and leaves the good messages
// around it applied.

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace consensusd::integration {
namespace {

// Project "fixed" declares its classes; project "tiny" may discover two.
constexpr char kConfig[] =
    "projects:\n"
    "  fixed:\n"
    "    classes: [cat, dog]\n"
    "  tiny:\n"
    "    max_classes: 2\n"
    "  rt:\n"
    "    kind: rating\n"
    "    scale: [1, 7]\n";

struct Input {
  std::string line;
  std::string reason;  // empty: a good message
};

std::vector<Input> Inputs() {
  const std::string big_pad((1 << 20) + 1000, 'x');
  return {
      {R"({"project":"fixed","task":"f1","worker":"w1","label":"cat"})", ""},
      {R"({"project":"fixed","task":"f1","worker":"w2",)", "malformed_json"},
      {R"({"project":"fixed","task":"f1","worker":"w2","label":"cat"})", ""},
      {R"({"project":"fixed","worker":"w3","label":"dog"})", "missing_field"},
      {R"({"project":"fixed","task":"f1","worker":"w3","label":"cat"})", ""},
      {R"({"project":"fixed","task":"f2","worker":"w1","label":1.5})", "bad_type"},
      {R"({"project":"fixed","task":"f2","worker":"w1","label":"dog"})", ""},
      {R"({"project":"fixed","task":"big","worker":"w1","label":"dog","pad":")" + big_pad + R"("})",
       "too_large"},
      {R"({"project":"fixed","task":"f2","worker":"w2","label":"dog"})", ""},
      {R"({"project":"fixed","task":")" + std::string(300, 't') +
           R"(","worker":"w1","label":"dog"})",
       "id_too_long"},
      {R"({"project":"fixed","task":"f2","worker":"w3","label":"cat"})", ""},
      {R"({"project":"fixed","task":"f3","worker":"w1","label":"bird"})", "unknown_class"},
      {R"({"project":"fixed","task":"f3","worker":"w2","label":"dog"})", ""},
      {R"({"project":"tiny","task":"t1","worker":"w1","label":"a"})", ""},
      {R"({"project":"tiny","task":"t1","worker":"w2","label":"b"})", ""},
      {R"({"project":"tiny","task":"t1","worker":"w3","label":"c"})", "too_many_classes"},
      {R"({"project":"tiny","task":"t1","worker":"w4","label":"a"})", ""},
      {R"({"project":"rt","task":"r1","worker":"w1","rating":5})", ""},
      {R"({"project":"rt","task":"r1","worker":"w2","rating":9})", "out_of_scale"},
      {R"({"project":"rt","task":"r1","worker":"w3","label":"cat"})", "wrong_kind"},
      {R"({"project":"pw","task":"c1","worker":"w1","left":"a","right":"b","label":"left"})", ""},
      {R"({"project":"pw","task":"c1","worker":"w2","left":"a","right":"c","label":"a"})",
       "item_mismatch"},
  };
}

TEST(DeadLetterTest, EveryRejectionReasonReachesTheDlqAndGoodMessagesAreApplied) {
  TempDir dir;
  MockKafka kafka(dir, "labels", 2);
  ASSERT_FALSE(kafka.bootstrap().empty()) << ReadWholeFile(dir.File("mock-kafka.log"));
  const std::vector<Input> inputs = Inputs();
  {
    std::ofstream out(dir.File("input.jsonl"), std::ios::binary);
    for (const Input& in : inputs) out << in.line << "\n";
  }
  int64_t good = 0;
  std::map<std::string, std::string> raw_of;  // reason -> original bytes
  for (const Input& in : inputs) {
    if (in.reason.empty())
      ++good;
    else
      raw_of[in.reason] = in.line;
  }
  const ProduceResult produced = Produce(kafka, "labels", dir.File("input.jsonl"),
                                         {"--property", "message.max.bytes=3000000"});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  ASSERT_EQ(produced.messages, static_cast<int64_t>(inputs.size()));

  const std::string config = dir.Write("consensusd.yaml", kConfig);
  ServeArgs args(kafka, "labels", "dlq", dir.File("state"));
  args.config_file = config;
  ServeProcess serve(args, dir.File("serve.log"));
  ASSERT_TRUE(serve.WaitListening()) << serve.Log();
  std::string why;
  ASSERT_TRUE(WaitFullyConsumed(serve, {"labels", 2, produced.messages, good}, seconds(60), &why))
      << why << "\n"
      << serve.Log();

  const std::vector<MetricSample> metrics = serve.Metrics();
  for (const auto& [reason, raw] : raw_of) {
    EXPECT_EQ(SumMetric(metrics, "consensusd_messages_rejected_total", {{"reason", reason}}), 1)
        << reason;
  }
  EXPECT_EQ(SumMetric(metrics, "consensusd_messages_rejected_total"),
            static_cast<double>(raw_of.size()));
  EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "fixed"}}), 7);
  EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "tiny"}}), 3);
  EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "rt"}}), 1);
  EXPECT_EQ(SumMetric(metrics, "consensusd_answers_applied_total", {{"project", "pw"}}), 1);

  const std::vector<KafkaRecord> dlq =
      ReadTopic(kafka.bootstrap(), "labels.dlq", 0, raw_of.size(), seconds(30));
  std::map<std::string, std::string> dlq_by_reason;
  for (const KafkaRecord& r : dlq) {
    auto h = r.headers.find("consensusd-error");
    ASSERT_NE(h, r.headers.end()) << "DLQ message at offset " << r.offset
                                  << " has no consensusd-error header";
    EXPECT_TRUE(dlq_by_reason.emplace(h->second, r.value).second)
        << "two DLQ messages for " << h->second;
  }
  for (const auto& [reason, raw] : raw_of) {
    auto it = dlq_by_reason.find(reason);
    ASSERT_NE(it, dlq_by_reason.end()) << "no DLQ message with consensusd-error: " << reason << "\n"
                                       << serve.Log();
    EXPECT_EQ(it->second.size(), raw.size()) << reason;
    EXPECT_TRUE(it->second == raw) << reason << ": the DLQ holds other bytes than the input";
  }
  EXPECT_EQ(dlq.size(), raw_of.size());
  ASSERT_EQ(serve.Stop(), 0) << serve.Log();

  const RunResult fixed = RunConsensusd(
      {"export", "--data-dir", dir.File("state"), "--config", config, "--project", "fixed",
            "--format", "jsonl", "--out", dir.File("fixed.jsonl")});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  const TaskResults f = ReadLabelsJsonl(dir.File("fixed.jsonl"));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f.at("f1").label, "cat");
  EXPECT_EQ(f.at("f1").answers, 3);
  EXPECT_EQ(f.at("f2").label, "dog");
  EXPECT_EQ(f.at("f2").answers, 3);
  EXPECT_EQ(f.at("f3").label, "dog");
  EXPECT_EQ(f.at("f3").answers, 1);
  EXPECT_THAT(f.at("f1").posterior, ::testing::SizeIs(2));  // cat, dog: no "bird"

  const RunResult tiny = RunConsensusd(
      {"export", "--data-dir", dir.File("state"), "--config", config, "--project", "tiny",
            "--format", "jsonl", "--out", dir.File("tiny.jsonl")});
  ASSERT_EQ(tiny.exit_code, 0) << tiny.err;
  const TaskResults t = ReadLabelsJsonl(dir.File("tiny.jsonl"));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.at("t1").answers, 3);
  EXPECT_EQ(t.at("t1").label, "a");
  EXPECT_THAT(t.at("t1").posterior, ::testing::SizeIs(2));  // a, b: no "c"
}

}  // namespace
}  // namespace consensusd::integration
