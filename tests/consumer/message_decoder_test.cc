#include "consumer/message_decoder.h"

#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/reject_reason.h"
#include "tests/consumer/recording_sink.h"

namespace consensusd::consumer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

class MessageDecoderTest : public ::testing::Test {
 protected:
  // Decodes `payload` and describes the outcomes (see RecordingSink::Describe).
  std::vector<std::string> Decode(std::string_view payload) {
    sink_ = RecordingSink();
    decoder_.Decode(payload, sink_);
    return sink_.Described();
  }
  // Decodes `payload`, which must yield exactly one outcome, and returns it.
  RecordedOutcome DecodeOne(std::string_view payload) {
    Decode(payload);
    EXPECT_THAT(sink_.outcomes, SizeIs(1)) << payload;
    return sink_.outcomes.empty() ? RecordedOutcome() : sink_.outcomes[0];
  }
  // The reason code of the single outcome of `payload`, or "event".
  std::string ReasonOf(std::string_view payload) {
    const RecordedOutcome o = DecodeOne(payload);
    return o.is_event ? "event" : std::string(ReasonCode(o.reason));
  }

  MessageDecoder decoder_;
  RecordingSink sink_;
};

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// ---- Reason codes ----

TEST(RejectReasonTest, ReasonCodesAreTheContractStrings) {
  EXPECT_EQ(ReasonCode(RejectReason::kMalformedJson), "malformed_json");
  EXPECT_EQ(ReasonCode(RejectReason::kMissingField), "missing_field");
  EXPECT_EQ(ReasonCode(RejectReason::kBadType), "bad_type");
  EXPECT_EQ(ReasonCode(RejectReason::kTooLarge), "too_large");
  EXPECT_EQ(ReasonCode(RejectReason::kIdTooLong), "id_too_long");
  EXPECT_EQ(ReasonCode(RejectReason::kUnknownClass), "unknown_class");
  EXPECT_EQ(ReasonCode(RejectReason::kTooManyClasses), "too_many_classes");
}

TEST(RejectReasonTest, AllReasonsListsEachReasonOnce) {
  std::vector<std::string_view> codes;
  for (RejectReason r : kAllRejectReasons) codes.push_back(ReasonCode(r));
  EXPECT_THAT(codes, ElementsAre("malformed_json", "missing_field", "bad_type", "too_large",
                                 "id_too_long", "unknown_class", "too_many_classes", "wrong_kind",
                                 "out_of_scale", "item_mismatch"));
}

// ---- Shapes ----

TEST_F(MessageDecoderTest, DecodesSingleAnswer) {
  EXPECT_THAT(Decode(R"({"project": "sentiment-v2", "task": "t-10442", "worker": "ann-17",)"
                     R"( "label": "positive", "ts": 1732350000123})"),
              ElementsAre("answer(sentiment-v2/t-10442/ann-17=positive) ts=1732350000123"));
}

TEST_F(MessageDecoderTest, DecodesGoldDeclaration) {
  EXPECT_THAT(Decode(R"({"project": "sentiment-v2", "task": "t-10442", "gold": "positive"})"),
              ElementsAre("gold(sentiment-v2/t-10442=positive)"));
  EXPECT_THAT(sink_.outcomes[0].worker, IsEmpty());
}

TEST_F(MessageDecoderTest, DecodesRetraction) {
  EXPECT_THAT(Decode(R"({"project": "p", "task": "t", "worker": "w", "retract": true})"),
              ElementsAre("retract(p/t/w)"));
  EXPECT_THAT(sink_.outcomes[0].label, IsEmpty());
}

TEST_F(MessageDecoderTest, DefaultsProjectAndLeavesTsUnset) {
  const RecordedOutcome o = DecodeOne(R"({"task": "t", "worker": "w", "label": "a"})");
  EXPECT_EQ(o.project, "default");
  EXPECT_EQ(o.ts_ms, -1);
}

TEST_F(MessageDecoderTest, DecodesArrayOfObjectsInOrder) {
  EXPECT_THAT(Decode(R"([{"task": "t1", "worker": "w", "label": "a"},)"
                     R"( {"task": "t2", "gold": "b"},)"
                     R"( {"task": "t1", "worker": "w", "retract": true}])"),
              ElementsAre("answer(default/t1/w=a)", "gold(default/t2=b)", "retract(default/t1/w)"));
}

TEST_F(MessageDecoderTest, DecodesEmptyArrayToNothing) {
  EXPECT_THAT(Decode("[]"), IsEmpty());
  EXPECT_THAT(Decode(" [ ] \n"), IsEmpty());
}

TEST_F(MessageDecoderTest, DecodesNdjson) {
  EXPECT_THAT(Decode("{\"task\": \"t1\", \"worker\": \"w1\", \"label\": \"a\"}\n"
                     "{\"task\": \"t1\", \"worker\": \"w2\", \"label\": \"b\"}\n"
                     "{\"task\": \"t1\", \"gold\": \"a\"}\n"),
              ElementsAre("answer(default/t1/w1=a)", "answer(default/t1/w2=b)",
                          "gold(default/t1=a)"));
}

TEST_F(MessageDecoderTest, DecodesNdjsonWithCrlf) {
  EXPECT_THAT(Decode("{\"task\": \"t1\", \"worker\": \"w1\", \"label\": \"a\"}\r\n"
                     "{\"task\": \"t2\", \"worker\": \"w1\", \"label\": \"b\"}\r\n"),
              ElementsAre("answer(default/t1/w1=a)", "answer(default/t2/w1=b)"));
  EXPECT_EQ(sink_.outcomes[1].raw, "{\"task\": \"t2\", \"worker\": \"w1\", \"label\": \"b\"}");
}

TEST_F(MessageDecoderTest, SkipsBlankAndWhitespaceOnlyLinesInNdjson) {
  EXPECT_THAT(Decode("\n  \n{\"task\": \"t1\", \"gold\": \"a\"}\n\t \r\n\n"
                     "{\"task\": \"t2\", \"gold\": \"b\"}\n \n"),
              ElementsAre("gold(default/t1=a)", "gold(default/t2=b)"));
}

TEST_F(MessageDecoderTest, DecodesPrettyPrintedSingleObject) {
  EXPECT_THAT(Decode("{\n  \"task\": \"t1\",\n  \"worker\": \"w\",\n  \"label\": \"a\"\n}\n"),
              ElementsAre("answer(default/t1/w=a)"));
}

TEST_F(MessageDecoderTest, DecodesPrettyPrintedArray) {
  EXPECT_THAT(Decode("[\n  {\n    \"task\": \"t1\",\n    \"gold\": \"a\"\n  },\n"
                     "  {\"task\": \"t2\", \"gold\": \"b\"}\n]\n"),
              ElementsAre("gold(default/t1=a)", "gold(default/t2=b)"));
}

TEST_F(MessageDecoderTest, IgnoresWhitespaceAroundSingleObject) {
  EXPECT_THAT(Decode(" \r\n\t{\"task\": \"t\", \"gold\": \"a\"} \r\n"),
              ElementsAre("gold(default/t=a)"));
  EXPECT_EQ(sink_.outcomes[0].raw, "{\"task\": \"t\", \"gold\": \"a\"}");
}

TEST_F(MessageDecoderTest, IgnoresLeadingUtf8ByteOrderMark) {
  EXPECT_THAT(Decode("\xEF\xBB\xBF{\"task\": \"t\", \"gold\": \"a\"}"),
              ElementsAre("gold(default/t=a)"));
  EXPECT_EQ(ReasonOf("{\"task\": \"t\", \"gold\": \"a\"}\xEF\xBB\xBF"), "malformed_json");
}

// ---- Element kinds ----

TEST_F(MessageDecoderTest, RetractFalseWithLabelIsAnAnswer) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": "w", "label": "a", "retract": false})"),
              ElementsAre("answer(default/t/w=a)"));
}

TEST_F(MessageDecoderTest, RetractTrueIgnoresLabel) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": "w", "label": "a", "retract": true})"),
              ElementsAre("retract(default/t/w)"));
}

TEST_F(MessageDecoderTest, LabelAndGoldYieldAnswerThenGold) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": "w", "label": "a", "gold": "b", "ts": 5})"),
              ElementsAre("answer(default/t/w=a) ts=5", "gold(default/t=b) ts=5"));
  EXPECT_EQ(sink_.outcomes[0].raw, sink_.outcomes[1].raw);
}

TEST_F(MessageDecoderTest, RetractionWithGoldYieldsBoth) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": "w", "retract": true, "gold": "b"})"),
              ElementsAre("retract(default/t/w)", "gold(default/t=b)"));
}

TEST_F(MessageDecoderTest, GoldIgnoresWorker) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": 1.5, "gold": "b"})"),
              ElementsAre("gold(default/t=b)"));
}

TEST_F(MessageDecoderTest, RejectsAnswerWithBadLabelEvenWhenGoldIsFine) {
  EXPECT_THAT(Decode(R"({"task": "t", "worker": "w", "label": null, "gold": "b"})"),
              ElementsAre("reject(bad_type)"));
}

// ---- Normalisation ----

TEST_F(MessageDecoderTest, NormalisesIntegerAndBooleanLabels) {
  EXPECT_THAT(Decode(R"([{"task": "t", "worker": "w1", "label": 1},)"
                     R"( {"task": "t", "worker": "w2", "label": -42},)"
                     R"( {"task": "t", "worker": "w3", "label": true},)"
                     R"( {"task": "t", "worker": "w4", "label": false},)"
                     R"( {"task": "t", "gold": 0}])"),
              ElementsAre("answer(default/t/w1=1)", "answer(default/t/w2=-42)",
                          "answer(default/t/w3=true)", "answer(default/t/w4=false)",
                          "gold(default/t=0)"));
}

TEST_F(MessageDecoderTest, NormalisesIntegerIds) {
  EXPECT_THAT(Decode(R"({"task": 10442, "worker": 17, "label": "a"})"),
              ElementsAre("answer(default/10442/17=a)"));
}

TEST_F(MessageDecoderTest, KeepsIntegersBeyondSixtyFourBitsAsWritten) {
  EXPECT_THAT(Decode(R"({"task": 123456789012345678901234567890, "gold": 18446744073709551616})"),
              ElementsAre("gold(default/123456789012345678901234567890=18446744073709551616)"));
}

TEST_F(MessageDecoderTest, NormalisesNegativeZeroToZero) {
  EXPECT_THAT(Decode(R"({"task": -0, "gold": -0})"), ElementsAre("gold(default/0=0)"));
}

TEST_F(MessageDecoderTest, UnescapesUnicodeEscapesInIds) {
  const RecordedOutcome o = DecodeOne(
      R"({"project": "caf\u00e9", "task": "t\u00e9st\ud83d\ude00", "worker": "a\"b\\c\/d\n",)"
      R"( "label": "\u043f\u043e\u0437"})");
  EXPECT_EQ(o.project, "caf\xC3\xA9");
  EXPECT_EQ(o.task, "t\xC3\xA9st\xF0\x9F\x98\x80");
  EXPECT_EQ(o.worker, "a\"b\\c/d\n");
  EXPECT_EQ(o.label, "\xD0\xBF\xD0\xBE\xD0\xB7");
}

TEST_F(MessageDecoderTest, KeepsRawUtf8Ids) {
  const RecordedOutcome o = DecodeOne("{\"task\": \"\xE6\xA0\x87\xE7\xAD\xBE\", \"gold\": \"\xF0\x9F\x90\xB1\"}");
  EXPECT_EQ(o.task, "\xE6\xA0\x87\xE7\xAD\xBE");
  EXPECT_EQ(o.label, "\xF0\x9F\x90\xB1");
}

TEST_F(MessageDecoderTest, MatchesKeysAfterUnescaping) {
  EXPECT_THAT(Decode(R"({"t\u0061sk": "t", "\u0067old": "a"})"), ElementsAre("gold(default/t=a)"));
}

TEST_F(MessageDecoderTest, AnyDuplicateKnownKeyRejectsTheElement) {
  EXPECT_THAT(Decode(R"({"task": "first", "task": "second", "gold": null, "gold": "a"})"),
              ElementsAre("reject(malformed_json)"));
  EXPECT_THAT(Decode(R"({"task": "t", "gold": "a", "g\u006fld": "b"})"),
              ElementsAre("reject(malformed_json)"));
}

TEST_F(MessageDecoderTest, IgnoresUnknownFields) {
  EXPECT_THAT(Decode(R"({"meta": {"a": [1, 2.5e3, {"b": null}], "c": "\u00e9"}, "task": "t",)"
                     R"( "duration_ms": 1234, "flags": [], "gold": "a", "note": true})"),
              ElementsAre("gold(default/t=a)"));
}

TEST_F(MessageDecoderTest, AcceptsTsOfZeroAndOfInt64Max) {
  EXPECT_THAT(Decode(R"([{"task": "t", "gold": "a", "ts": 0},)"
                     R"( {"task": "t", "gold": "a", "ts": 9223372036854775807}])"),
              ElementsAre("gold(default/t=a) ts=0", "gold(default/t=a) ts=9223372036854775807"));
}

// ---- Views ----

TEST_F(MessageDecoderTest, ViewsStayValidAcrossFieldsAndElementsUntilNextDecode) {
  // Every id needs unescaping, so each one is stored apart from the payload.
  std::string payload =
      "{\"project\": \"p\\u0031\", \"task\": \"t\\u0031\", \"worker\": \"w\\u0031\", "
      "\"label\": \"l\\u0031\", \"gold\": \"g\\u0031\"}\n"
      "{\"project\": \"p\\u0032\", \"task\": \"t\\u0032\", \"worker\": \"w\\u0032\", "
      "\"label\": \"l\\u0032\", \"ts\": 2}\n"
      "[\"not an object\"]\n"
      "{\"project\": \"p3\", \"task\": 3, \"worker\": \"w3\", \"label\": true}\n";
  decoder_.Decode(payload, sink_);
  payload.assign(payload.size(), 'x');  // the decoder must not depend on the caller's bytes
  ASSERT_THAT(sink_.outcomes, SizeIs(5));
  const LabelEvent& a1 = sink_.outcomes[0].view;
  const LabelEvent& g1 = sink_.outcomes[1].view;
  const LabelEvent& a2 = sink_.outcomes[2].view;
  const LabelEvent& a3 = sink_.outcomes[4].view;
  EXPECT_EQ(a1.project, "p1");
  EXPECT_EQ(a1.task, "t1");
  EXPECT_EQ(a1.worker, "w1");
  EXPECT_EQ(a1.label, "l1");
  EXPECT_EQ(g1.task, "t1");
  EXPECT_EQ(g1.label, "g1");
  EXPECT_EQ(a2.project, "p2");
  EXPECT_EQ(a2.task, "t2");
  EXPECT_EQ(a2.worker, "w2");
  EXPECT_EQ(a2.label, "l2");
  EXPECT_EQ(a3.project, "p3");
  EXPECT_EQ(a3.task, "3");
  EXPECT_EQ(a3.worker, "w3");
  EXPECT_EQ(a3.label, "true");
  EXPECT_EQ(sink_.outcomes[3].reason, RejectReason::kBadType);
}

TEST_F(MessageDecoderTest, DecoderIsReusableAcrossMessagesOfDifferentSizes) {
  const std::string small = R"({"task": "t", "gold": "a"})";
  std::string big = "[";
  for (int i = 0; i < 5000; ++i) {
    if (i > 0) big += ",";
    big += R"({"task": "t)" + std::to_string(i) + R"(", "worker": "w\u00e9", "label": "a"})";
  }
  big += "]";
  EXPECT_THAT(Decode(small), ElementsAre("gold(default/t=a)"));
  EXPECT_THAT(Decode(big), SizeIs(5000));
  EXPECT_EQ(sink_.outcomes[4999].task, "t4999");
  EXPECT_EQ(sink_.outcomes[4999].worker, "w\xC3\xA9");
  EXPECT_THAT(Decode(small), ElementsAre("gold(default/t=a)"));
  EXPECT_THAT(Decode(big), SizeIs(5000));
}

// ---- Raw bytes ----

TEST_F(MessageDecoderTest, RejectionCarriesTheRejectedElementsOriginalBytes) {
  const std::string payload =
      R"([{"task": "t1", "gold": "a"},  {"worker" : "w",  "label":"b"} , "x", [1, [2]] ])";
  EXPECT_THAT(Decode(payload), ElementsAre("gold(default/t1=a)", "reject(missing_field)",
                                           "reject(bad_type)", "reject(bad_type)"));
  EXPECT_EQ(sink_.outcomes[1].raw, R"({"worker" : "w",  "label":"b"})");
  EXPECT_EQ(sink_.outcomes[2].raw, R"("x")");
  EXPECT_EQ(sink_.outcomes[3].raw, R"([1, [2]])");
}

TEST_F(MessageDecoderTest, EventsCarryTheirElementsOriginalBytes) {
  Decode("[ {\"task\":\"t1\",\"gold\":\"a\"} ,{\"task\":\"t2\",\"gold\":\"b\"}]");
  ASSERT_THAT(sink_.outcomes, SizeIs(2));
  EXPECT_EQ(sink_.outcomes[0].raw, R"({"task":"t1","gold":"a"})");
  EXPECT_EQ(sink_.outcomes[1].raw, R"({"task":"t2","gold":"b"})");
}

TEST_F(MessageDecoderTest, RawBytesPointIntoThePayload) {
  const std::string payload = "{\"task\": \"t1\", \"gold\": \"a\"}\n{\"task\": \"t2\"}\n";
  Decode(payload);
  ASSERT_THAT(sink_.outcomes, SizeIs(2));
  for (const RecordedOutcome& o : sink_.outcomes) {
    EXPECT_GE(o.raw_view.data(), payload.data());
    EXPECT_LE(o.raw_view.data() + o.raw_view.size(), payload.data() + payload.size());
  }
  EXPECT_EQ(sink_.outcomes[1].raw, "{\"task\": \"t2\"}");
}

TEST_F(MessageDecoderTest, WholePayloadRejectionCarriesThePayload) {
  const std::string payload = "  {\"task\": \n";
  EXPECT_EQ(DecodeOne(payload).raw, payload);
}

// ---- malformed_json ----

TEST_F(MessageDecoderTest, RejectsEmptyPayloadAsMalformed) {
  const RecordedOutcome o = DecodeOne("");
  EXPECT_EQ(o.reason, RejectReason::kMalformedJson);
  EXPECT_THAT(o.detail, HasSubstr("empty"));
}

TEST_F(MessageDecoderTest, RejectsAKnownFieldThatAppearsTwice) {
  const RecordedOutcome o = DecodeOne(R"({"task":"t","worker":"w","label":"a","label":"b"})");
  EXPECT_FALSE(o.is_event);
  EXPECT_EQ(o.reason, RejectReason::kMalformedJson);
  EXPECT_THAT(o.detail, HasSubstr("field 'label' appears twice"));
  // Unknown fields may repeat: they are ignored anyway.
  EXPECT_EQ(ReasonOf(R"({"task":"t","worker":"w","label":"a","x":1,"x":2})"), "event");
  // Each element of an array is checked on its own.
  Decode(R"([{"task":"t","worker":"w","label":"a"},{"task":"t","task":"u","worker":"w","label":"a"}])");
  ASSERT_THAT(sink_.outcomes, SizeIs(2));
  EXPECT_TRUE(sink_.outcomes[0].is_event);
  EXPECT_FALSE(sink_.outcomes[1].is_event);
}

TEST_F(MessageDecoderTest, RejectsBlankPayloadAsMalformed) {
  EXPECT_EQ(ReasonOf(" \r\n\t\n"), "malformed_json");
}

TEST_F(MessageDecoderTest, RejectsUnparseablePayloadAsOneMalformedRejection) {
  for (std::string_view payload :
       {"hello", "{", "}", "{\"task\": ", "{\"task\" \"t\"}", "{'task': 't'}", "{\"task\": \"t\",}",
        "{\"task\": \"t\",, \"gold\": \"a\"}", "{\"task\": \"t\", \"gold\": \"a\"]",
        "{\"task\": \"t\"}}", "{\"task\": \"t\" \"gold\": \"a\"}", "\"unterminated", "nul",
        "{\"task\": tru, \"gold\": \"a\"}", "{\"task\": \"t\", \"gold\": \"a\"} x",
        "{\"task\": \"t\", \"gold\": \"a\"}{\"task\": \"t\", \"gold\": \"a\"}", "\x01\x02"}) {
    const RecordedOutcome o = DecodeOne(payload);
    EXPECT_FALSE(o.is_event) << payload;
    EXPECT_EQ(o.reason, RejectReason::kMalformedJson) << payload;
    EXPECT_EQ(o.raw, payload);
  }
}

TEST_F(MessageDecoderTest, RejectsMalformedJsonInsideUnknownFields) {
  for (std::string_view bad :
       {"tru", "nulll", "01", "1.", "-", ".5", "1e", "+1", "[1,]", "[1}", "{\"a\" 1}", "{1: 2}",
        "\"\\q\"", "\"\\ud800\"", "[1 2]", "{\"a\": 1,}", "[,1]", "{,}", "1 2", "]"}) {
    const std::string payload =
        "{\"task\": \"t\", \"extra\": " + std::string(bad) + ", \"gold\": \"a\"}";
    EXPECT_EQ(ReasonOf(payload), "malformed_json") << payload;
  }
}

TEST_F(MessageDecoderTest, RejectsInvalidUtf8AsMalformed) {
  EXPECT_EQ(ReasonOf("{\"task\": \"t\xC3\", \"gold\": \"a\"}"), "malformed_json");
  EXPECT_EQ(ReasonOf("{\"task\": \"t\", \"gold\": \"\xFF\"}"), "malformed_json");
}

TEST_F(MessageDecoderTest, RejectsRawControlCharactersInStringsAsMalformed) {
  EXPECT_EQ(ReasonOf("{\"task\": \"a\tb\", \"gold\": \"a\"}"), "malformed_json");
  EXPECT_EQ(ReasonOf("{\"task\": \"t\", \"gold\": \"a\", \"x\": \"\x01\"}"), "malformed_json");
  EXPECT_EQ(ReasonOf("{\"task\": \"t\", \"gold\": \"a\", \"x\ty\": 1}"), "malformed_json");
  EXPECT_EQ(ReasonOf("{\"task\": \"a\\tb\", \"gold\": \"a\"}"), "event");
}

TEST_F(MessageDecoderTest, RejectsLoneSurrogateEscapeAsMalformed) {
  EXPECT_EQ(ReasonOf(R"({"task": "\udc00", "gold": "a"})"), "malformed_json");
}

TEST_F(MessageDecoderTest, RejectsNestingDeeperThanTheLimit) {
  auto nested = [](int levels) {
    return "{\"task\": \"t\", \"gold\": \"a\", \"x\": " + Repeat("[", levels - 1) +
           Repeat("]", levels - 1) + "}";
  };
  // The element object is level 1, so its field can nest kMaxJsonNesting - 1 levels.
  EXPECT_EQ(ReasonOf(nested(kMaxJsonNesting)), "event");
  const RecordedOutcome o = DecodeOne(nested(kMaxJsonNesting + 1));
  EXPECT_EQ(o.reason, RejectReason::kMalformedJson);
  EXPECT_THAT(o.detail, HasSubstr("nested deeper"));
  EXPECT_EQ(ReasonOf(Repeat("[", 100000) + Repeat("]", 100000)), "malformed_json");
  EXPECT_EQ(ReasonOf(Repeat("[", 100000)), "malformed_json");
}

TEST_F(MessageDecoderTest, RejectsBrokenArrayAsOneMalformedRejectionOfTheWholePayload) {
  const std::string payload =
      R"([{"task": "t1", "gold": "a"}, {"task": "t2", "gold": }, {"task": "t3", "gold": "c"}])";
  const RecordedOutcome o = DecodeOne(payload);
  EXPECT_EQ(o.reason, RejectReason::kMalformedJson);
  EXPECT_THAT(o.detail, StartsWith("element 1: "));
  EXPECT_EQ(o.raw, payload);
}

TEST_F(MessageDecoderTest, RejectsArrayWithTrailingContent) {
  EXPECT_EQ(ReasonOf(R"([{"task": "t1", "gold": "a"}] [])"), "malformed_json");
  EXPECT_EQ(ReasonOf(R"([{"task": "t1", "gold": "a"}])"), "event");
  EXPECT_EQ(ReasonOf(R"([{"task": "t1", "gold": "a"})"), "malformed_json");
  EXPECT_EQ(ReasonOf(R"([{"task": "t1", "gold": "a"},])"), "malformed_json");
}

TEST_F(MessageDecoderTest, RejectsOnlyTheMalformedLineOfNdjson) {
  const std::string payload =
      "{\"task\": \"t1\", \"gold\": \"a\"}\n"
      "{\"task\": \"t2\", \"gold\": \r\n"
      "{\"task\": \"t3\", \"gold\": \"c\"}\n";
  EXPECT_THAT(Decode(payload),
              ElementsAre("gold(default/t1=a)", "reject(malformed_json)", "gold(default/t3=c)"));
  EXPECT_EQ(sink_.outcomes[1].raw, "{\"task\": \"t2\", \"gold\":");
  EXPECT_THAT(sink_.outcomes[1].detail, StartsWith("line 2: "));
}

TEST_F(MessageDecoderTest, DecodesNdjsonWhoseFirstLineIsMalformed) {
  EXPECT_THAT(Decode("{\"task\": \n{\"task\": \"t2\", \"gold\": \"b\"}\n"),
              ElementsAre("reject(malformed_json)", "gold(default/t2=b)"));
  EXPECT_EQ(sink_.outcomes[0].raw, "{\"task\":");
}

TEST_F(MessageDecoderTest, RejectsNdjsonWithoutAnyValidLineAsOneRejection) {
  const std::string payload = "{\n\"task\": \"t\",\n\"gold\": \"a\"\n\n";  // a broken pretty-printed object
  const RecordedOutcome o = DecodeOne(payload);
  EXPECT_EQ(o.reason, RejectReason::kMalformedJson);
  EXPECT_EQ(o.raw, payload);
  EXPECT_EQ(ReasonOf("garbage\nmore garbage\n"), "malformed_json");
}

TEST_F(MessageDecoderTest, NumbersLinesOfNdjsonFromTheStartOfThePayload) {
  Decode("\n\n{\"task\": \"t1\", \"gold\": \"a\"}\n\n{\"gold\": \"b\"}\n");
  ASSERT_THAT(sink_.outcomes, SizeIs(2));
  EXPECT_THAT(sink_.outcomes[1].detail, StartsWith("line 5: "));
}

// ---- too_large ----

TEST_F(MessageDecoderTest, RejectsOversizedMessageAsTooLarge) {
  std::string payload = R"({"task": "t", "gold": "a", "pad": ")";
  payload += std::string(kMaxMessageBytes + 1 - payload.size() - 2, 'x');
  payload += "\"}";
  ASSERT_EQ(payload.size(), kMaxMessageBytes + 1);
  const RecordedOutcome o = DecodeOne(payload);
  EXPECT_EQ(o.reason, RejectReason::kTooLarge);
  EXPECT_EQ(o.raw_view.data(), payload.data());
  EXPECT_EQ(o.raw_view.size(), payload.size());
}

TEST_F(MessageDecoderTest, AcceptsMessageOfExactlyTheLimit) {
  std::string payload = R"({"task": "t", "gold": "a", "pad": ")";
  payload += std::string(kMaxMessageBytes - payload.size() - 2, 'x');
  payload += "\"}";
  ASSERT_EQ(payload.size(), kMaxMessageBytes);
  EXPECT_THAT(Decode(payload), ElementsAre("gold(default/t=a)"));
}

// ---- missing_field ----

TEST_F(MessageDecoderTest, RejectsArrayElementWithoutTask) {
  EXPECT_THAT(Decode(R"([{"task": "t1", "gold": "a"}, {"worker": "w", "label": "b"},)"
                     R"( {"task": "t3", "gold": "c"}])"),
              ElementsAre("gold(default/t1=a)", "reject(missing_field)", "gold(default/t3=c)"));
  EXPECT_EQ(sink_.outcomes[1].detail, "element 1: field 'task' is missing");
}

TEST_F(MessageDecoderTest, RejectsAnswerWithoutWorker) {
  const RecordedOutcome o = DecodeOne(R"({"task": "t", "label": "a"})");
  EXPECT_EQ(o.reason, RejectReason::kMissingField);
  EXPECT_THAT(o.detail, HasSubstr("'worker'"));
}

TEST_F(MessageDecoderTest, RejectsRetractionWithoutWorker) {
  EXPECT_EQ(ReasonOf(R"({"task": "t", "retract": true})"), "missing_field");
}

TEST_F(MessageDecoderTest, RejectsElementWithNeitherLabelGoldNorRetraction) {
  EXPECT_EQ(ReasonOf(R"({"task": "t", "worker": "w"})"), "missing_field");
  EXPECT_EQ(ReasonOf(R"({"task": "t", "worker": "w", "retract": false})"), "missing_field");
  EXPECT_EQ(ReasonOf("{}"), "missing_field");
}

// ---- bad_type ----

TEST_F(MessageDecoderTest, RejectsNonObjectElementsAsBadType) {
  EXPECT_THAT(Decode(R"(["t", 1, 2.5, true, null, [], [{"task": "t", "gold": "a"}]])"),
              ElementsAre("reject(bad_type)", "reject(bad_type)", "reject(bad_type)",
                          "reject(bad_type)", "reject(bad_type)", "reject(bad_type)",
                          "reject(bad_type)"));
  EXPECT_EQ(sink_.outcomes[1].detail, "element 1: element must be an object, not an integer");
}

TEST_F(MessageDecoderTest, RejectsNonObjectNdjsonLinesAsBadType) {
  EXPECT_THAT(Decode("{\"task\": \"t\", \"gold\": \"a\"}\n\"text\"\n42\n[1, 2]\nnull\n"),
              ElementsAre("gold(default/t=a)", "reject(bad_type)", "reject(bad_type)",
                          "reject(bad_type)", "reject(bad_type)"));
  EXPECT_EQ(sink_.outcomes[3].raw, "[1, 2]");
  EXPECT_EQ(ReasonOf("42"), "bad_type");
  EXPECT_EQ(ReasonOf("\"a string\""), "bad_type");
}

TEST_F(MessageDecoderTest, RejectsLabelsOfTheWrongType) {
  for (std::string_view label : {"null", "1.5", "1e3", "-0.0", "{}", "[\"a\"]", "\"\""}) {
    const std::string payload =
        R"({"task": "t", "worker": "w", "label": )" + std::string(label) + "}";
    EXPECT_EQ(ReasonOf(payload), "bad_type") << payload;
  }
  EXPECT_THAT(DecodeOne(R"({"task": "t", "worker": "w", "label": 1.5})").detail,
              HasSubstr("field 'label' must be a string, an integer or a boolean, not a non-integer number"));
}

TEST_F(MessageDecoderTest, RejectsGoldOfTheWrongType) {
  EXPECT_EQ(ReasonOf(R"({"task": "t", "gold": null})"), "bad_type");
  EXPECT_EQ(ReasonOf(R"({"task": "t", "gold": ""})"), "bad_type");
  EXPECT_EQ(ReasonOf(R"({"task": "t", "gold": 0.5})"), "bad_type");
}

TEST_F(MessageDecoderTest, RejectsIdsOfTheWrongType) {
  for (std::string_view id : {"true", "null", "1.5", "{}", "[]", "\"\""}) {
    EXPECT_EQ(ReasonOf(R"({"task": )" + std::string(id) + R"(, "gold": "a"})"), "bad_type") << id;
    EXPECT_EQ(ReasonOf(R"({"task": "t", "worker": )" + std::string(id) + R"(, "label": "a"})"),
              "bad_type")
        << id;
  }
}

TEST_F(MessageDecoderTest, RejectsProjectThatIsNotANonEmptyString) {
  EXPECT_EQ(ReasonOf(R"({"project": 7, "task": "t", "gold": "a"})"), "bad_type");
  EXPECT_EQ(ReasonOf(R"({"project": null, "task": "t", "gold": "a"})"), "bad_type");
  EXPECT_EQ(ReasonOf(R"({"project": "", "task": "t", "gold": "a"})"), "bad_type");
}

TEST_F(MessageDecoderTest, RejectsRetractThatIsNotABoolean) {
  for (std::string_view retract : {"\"true\"", "1", "null", "0"}) {
    EXPECT_EQ(ReasonOf(R"({"task": "t", "worker": "w", "retract": )" + std::string(retract) + "}"),
              "bad_type")
        << retract;
  }
}

TEST_F(MessageDecoderTest, RejectsTsThatIsNotANonNegativeInt64) {
  for (std::string_view ts :
       {"\"1732350000123\"", "1732350000123.0", "1.7e12", "-1", "null", "9223372036854775808",
        "true"}) {
    EXPECT_EQ(ReasonOf(R"({"task": "t", "gold": "a", "ts": )" + std::string(ts) + "}"), "bad_type")
        << ts;
  }
}

TEST_F(MessageDecoderTest, ReportsTheFirstFailingRuleInDocumentedOrder) {
  // task before project before ts before retract before kind before worker before label.
  EXPECT_THAT(DecodeOne(R"({"project": 1, "ts": "x", "label": null})").detail,
              HasSubstr("'task' is missing"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "project": 1, "ts": "x"})").detail,
              HasSubstr("'project'"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "ts": "x", "retract": 1})").detail, HasSubstr("'ts'"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "retract": 1, "label": null})").detail,
              HasSubstr("'retract'"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "worker": null})").detail, HasSubstr("needs 'label'"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "worker": null, "label": null})").detail,
              HasSubstr("'worker'"));
  EXPECT_THAT(DecodeOne(R"({"task": "t", "worker": "w", "label": null, "gold": null})").detail,
              HasSubstr("'label'"));
}

// ---- id_too_long ----

TEST_F(MessageDecoderTest, AcceptsIdsOfExactly256Bytes) {
  const std::string id(kMaxIdBytes, 'x');
  const RecordedOutcome o = DecodeOne(R"({"project": ")" + id + R"(", "task": ")" + id +
                                      R"(", "worker": ")" + id + R"(", "label": ")" + id + R"("})");
  EXPECT_TRUE(o.is_event);
  EXPECT_EQ(o.task, id);
  EXPECT_EQ(o.label, id);
}

TEST_F(MessageDecoderTest, RejectsEachIdLongerThan256BytesAsIdTooLong) {
  const std::string ok = "\"ok\"";
  const std::string long_id = "\"" + std::string(kMaxIdBytes + 1, 'x') + "\"";
  for (std::string_view field : {"project", "task", "worker", "label"}) {
    std::string payload = "{";
    for (std::string_view f : {"project", "task", "worker", "label"}) {
      if (f != "project") payload += ", ";
      payload.append("\"").append(f).append("\": ").append(f == field ? long_id : ok);
    }
    payload += "}";
    const RecordedOutcome o = DecodeOne(payload);
    EXPECT_EQ(o.reason, RejectReason::kIdTooLong) << field;
    EXPECT_THAT(o.detail, HasSubstr(std::string("'").append(field).append("' is 257 bytes")));
  }
  EXPECT_EQ(ReasonOf(R"({"task": "t", "gold": )" + long_id + "}"), "id_too_long");
}

TEST_F(MessageDecoderTest, MeasuresIdLengthAfterUnescaping) {
  // 256 escaped ASCII letters: 1,536 bytes of JSON, 256 bytes of id.
  const RecordedOutcome ok = DecodeOne(R"({"task": ")" + Repeat("\\u0041", kMaxIdBytes) +
                                       R"(", "gold": "a"})");
  EXPECT_TRUE(ok.is_event);
  EXPECT_EQ(ok.task, std::string(kMaxIdBytes, 'A'));
  // 129 two-byte letters, escaped: 258 bytes of id.
  EXPECT_EQ(ReasonOf(R"({"task": ")" + Repeat("\\u00e9", 129) + R"(", "gold": "a"})"),
            "id_too_long");
  EXPECT_EQ(ReasonOf(R"({"task": ")" + Repeat("\xC3\xA9", 129) + R"(", "gold": "a"})"),
            "id_too_long");
}

TEST_F(MessageDecoderTest, RejectsLongIntegerIdAsIdTooLong) {
  EXPECT_EQ(ReasonOf(R"({"task": 1)" + std::string(kMaxIdBytes, '0') + R"(, "gold": "a"})"),
            "id_too_long");
}

}  // namespace
}  // namespace consensusd::consumer
