// The pairwise and rating shapes of SPEC 3.1a, as MessageDecoder reads them.
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "consumer/message_decoder.h"
#include "tests/consumer/recording_sink.h"

namespace consensusd::consumer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MessageDecoderKindsTest : public ::testing::Test {
 protected:
  std::vector<std::string> Decode(std::string_view payload) {
    sink_ = RecordingSink();
    decoder_.Decode(payload, sink_);
    return sink_.Described();
  }
  const RecordedOutcome& Only() {
    EXPECT_EQ(sink_.outcomes.size(), 1u);
    return sink_.outcomes.at(0);
  }

  MessageDecoder decoder_;
  RecordingSink sink_;
};

TEST_F(MessageDecoderKindsTest, DecodesPairwiseVote) {
  EXPECT_THAT(Decode(R"({"project":"helpful-v3","task":"cmp-991","worker":"r-17",)"
                     R"("left":"resp-a","right":"resp-b","label":"left"})"),
              ElementsAre("vote(helpful-v3/cmp-991/r-17:resp-a|resp-b=left)"));
  EXPECT_EQ(Only().answer_kind, engine::ProjectKind::kPairwise);
}

TEST_F(MessageDecoderKindsTest, KeepsWinningItemAsLabel) {
  EXPECT_THAT(Decode(R"({"task":"c","worker":"r","left":"a","right":"b","label":"b"})"),
              ElementsAre("vote(default/c/r:a|b=b)"));
}

TEST_F(MessageDecoderKindsTest, AcceptsIntegerItems) {
  EXPECT_THAT(Decode(R"({"task":"c","worker":"r","left":1,"right":2,"label":2})"),
              ElementsAre("vote(default/c/r:1|2=2)"));
}

TEST_F(MessageDecoderKindsTest, DecodesIntegerAndFractionalRatings) {
  EXPECT_THAT(Decode("{\"project\":\"eval-7\",\"task\":\"t-5\",\"worker\":\"r-2\",\"rating\":6}\n"
                     "{\"project\":\"eval-7\",\"task\":\"t-5\",\"worker\":\"r-3\",\"rating\":5.5}\n"
                     "{\"project\":\"eval-7\",\"task\":\"t-5\",\"worker\":\"r-4\",\"rating\":-2e-1}"),
              ElementsAre("rating(eval-7/t-5/r-2=6)", "rating(eval-7/t-5/r-3=5.5)",
                          "rating(eval-7/t-5/r-4=-0.2)"));
  EXPECT_EQ(sink_.outcomes[1].answer_kind, engine::ProjectKind::kRating);
  EXPECT_DOUBLE_EQ(sink_.outcomes[1].rating, 5.5);
}

TEST_F(MessageDecoderKindsTest, RejectsRatingThatIsNotANumber) {
  Decode(R"({"task":"t","worker":"w","rating":"6"})");
  EXPECT_EQ(ReasonCode(Only().reason), "bad_type");
  EXPECT_THAT(Only().detail, HasSubstr("'rating' must be a number, not a string"));
}

TEST_F(MessageDecoderKindsTest, RejectsRatingBeyondDoubleRange) {
  Decode(R"({"task":"t","worker":"w","rating":1e999})");
  EXPECT_EQ(ReasonCode(Only().reason), "bad_type");
  EXPECT_THAT(Only().detail, HasSubstr("finite"));
}

TEST_F(MessageDecoderKindsTest, RejectsRatingWithLabel) {
  Decode(R"({"task":"t","worker":"w","rating":3,"label":"a"})");
  EXPECT_EQ(ReasonCode(Only().reason), "bad_type");
}

TEST_F(MessageDecoderKindsTest, RejectsVoteWithoutRight) {
  Decode(R"({"task":"c","worker":"r","left":"a","label":"left"})");
  EXPECT_EQ(ReasonCode(Only().reason), "missing_field");
  EXPECT_THAT(Only().detail, HasSubstr("'right' is missing (required for a pairwise vote)"));
}

TEST_F(MessageDecoderKindsTest, RejectsVoteWithoutLabel) {
  Decode(R"({"task":"c","worker":"r","left":"a","right":"b"})");
  EXPECT_EQ(ReasonCode(Only().reason), "missing_field");
}

TEST_F(MessageDecoderKindsTest, RejectsVoteComparingAnItemWithItself) {
  Decode(R"({"task":"c","worker":"r","left":"a","right":"a","label":"tie"})");
  EXPECT_EQ(ReasonCode(Only().reason), "bad_type");
}

TEST_F(MessageDecoderKindsTest, RejectsVoteWithBooleanItem) {
  Decode(R"({"task":"c","worker":"r","left":true,"right":"b","label":"tie"})");
  EXPECT_EQ(ReasonCode(Only().reason), "bad_type");
}

TEST_F(MessageDecoderKindsTest, RetractionIgnoresVoteFieldsAndFitsEveryKind) {
  EXPECT_THAT(Decode(R"({"task":"c","worker":"r","left":"a","retract":true})"),
              ElementsAre("retract(default/c/r)"));
  EXPECT_EQ(Only().answer_kind, engine::ProjectKind::kUnset);
}

TEST_F(MessageDecoderKindsTest, RejectsRepeatedRatingKey) {
  Decode(R"({"task":"t","worker":"w","rating":3,"rating":4})");
  EXPECT_EQ(ReasonCode(Only().reason), "malformed_json");
}

}  // namespace
}  // namespace consensusd::consumer
