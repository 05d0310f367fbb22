// RequestFramer: where a request ends, and which ones are refused before any
// handler sees them.

#include "api/request_framer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace consensusd::api {
namespace {

using ::testing::HasSubstr;

constexpr FramingLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 100};

RequestFrame CheckAll(std::string_view bytes, FramingLimits limits = kLimits) {
  RequestFramer framer(limits);
  return framer.Check(bytes);
}

TEST(RequestFramerTest, GetWithoutBodyEndsAtTheBlankLine) {
  const std::string request = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string pipelined = request + "GET /next HTTP/1.1\r\n";
  const RequestFrame f = CheckAll(pipelined);
  ASSERT_EQ(f.state, RequestFrame::kComplete);
  EXPECT_EQ(f.size, request.size());
  EXPECT_EQ(f.path, "/healthz");
}

TEST(RequestFramerTest, ByteByByteArrivalCompletesExactlyAtTheEnd) {
  const std::string request =
      "POST /v1/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  RequestFramer framer(kLimits);
  for (size_t n = 1; n < request.size(); ++n) {
    ASSERT_EQ(framer.Check(std::string_view(request).substr(0, n)).state, RequestFrame::kIncomplete) << n;
  }
  const RequestFrame f = framer.Check(request);
  ASSERT_EQ(f.state, RequestFrame::kComplete);
  EXPECT_EQ(f.size, request.size());
  EXPECT_EQ(f.path, "/v1/x");
}

TEST(RequestFramerTest, ChunkedBodyEndsAfterTheLastChunkAndTrailers) {
  const std::string request =
      "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  RequestFramer framer(kLimits);
  for (size_t n = 1; n < request.size(); ++n) {
    ASSERT_EQ(framer.Check(std::string_view(request).substr(0, n)).state, RequestFrame::kIncomplete) << n;
  }
  const std::string pipelined = request + "GET / HTTP/1.1\r\n\r\n";
  const RequestFrame f = framer.Check(pipelined);
  ASSERT_EQ(f.state, RequestFrame::kComplete);
  EXPECT_EQ(f.size, request.size());
  // Found by fuzzing: a second Check() read the next request as trailers.
  EXPECT_EQ(framer.Check(pipelined).size, request.size());
}

// Regression (issue 9): http.max_body_bytes held for Content-Length bodies only.
TEST(RequestFramerTest, ChunkedBodyOverTheLimitIsRefusedWith413) {
  std::string request = "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 11; ++i) request += "A\r\n0123456789\r\n";  // 110 bytes > 100
  const RequestFrame f = CheckAll(request);
  ASSERT_EQ(f.state, RequestFrame::kError);
  EXPECT_EQ(f.status, 413);
  EXPECT_THAT(f.message, HasSubstr("http.max_body_bytes"));
  // A single huge chunk size is refused before its data arrives.
  const RequestFrame huge =
      CheckAll("POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\nffffffffffffffffffffff\r\n");
  ASSERT_EQ(huge.state, RequestFrame::kError);
  EXPECT_EQ(huge.status, 413);
}

TEST(RequestFramerTest, ContentLengthOverTheLimitIsRefusedBeforeTheBody) {
  const RequestFrame f = CheckAll("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  ASSERT_EQ(f.state, RequestFrame::kError);
  EXPECT_EQ(f.status, 413);
  EXPECT_THAT(f.message, HasSubstr("101 bytes exceeds the limit of 100 bytes (http.max_body_bytes)"));
}

TEST(RequestFramerTest, HeadersOverTheLimitAreRefusedWith431) {
  const std::string headers = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a');
  const RequestFrame f = CheckAll(headers);
  ASSERT_EQ(f.state, RequestFrame::kError);
  EXPECT_EQ(f.status, 431);
}

TEST(RequestFramerTest, AmbiguousOrUnsupportedFramingIsRefused) {
  struct Case {
    std::string request;
    int status;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both"},
           {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "two different"},
           {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "not a byte count"},
           {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "not a byte count"},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not supported"},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "not hexadecimal"},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400, "without a size"},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 400, "CRLF"},
       }) {
    const RequestFrame f = CheckAll(c.request);
    ASSERT_EQ(f.state, RequestFrame::kError) << c.request;
    EXPECT_EQ(f.status, c.status) << c.request;
    EXPECT_THAT(f.message, HasSubstr(c.message)) << c.request;
  }
}

TEST(RequestFramerTest, ExpectContinueIsReportedWhileTheBodyIsMissing) {
  const std::string headers = "POST /v1/x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  RequestFramer framer(kLimits);
  RequestFrame f = framer.Check(headers);
  EXPECT_EQ(f.state, RequestFrame::kIncomplete);
  EXPECT_TRUE(f.expects_continue);
  f = framer.Check(headers + "abc");
  EXPECT_EQ(f.state, RequestFrame::kComplete);
  EXPECT_FALSE(f.expects_continue);
}

TEST(RequestFramerTest, ResetFramesTheNextRequest) {
  RequestFramer framer(kLimits);
  ASSERT_EQ(framer.Check("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nab").state, RequestFrame::kComplete);
  framer.Reset();
  const RequestFrame f = framer.Check("GET /b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(f.state, RequestFrame::kComplete);
  EXPECT_EQ(f.path, "/b");
}

}  // namespace
}  // namespace consensusd::api
