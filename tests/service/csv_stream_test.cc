// The streaming CsvReader (CsvReader::Open with small blocks) against the
// reader it replaced, which parsed the whole file held in memory: for every
// input and every block size, the same records, lines and errors.
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidcheck/gtest.h"
#include "service/csv.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using ::testing::ElementsAre;

// What a reader makes of a text: each record's fields and line, and the error.
struct Parsed {
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;
  std::string error;
  bool operator==(const Parsed&) const = default;
};

void PrintTo(const Parsed& p, std::ostream* os) {
  *os << p.rows.size() << " rows, error '" << p.error << "'";
}

// The reader before streaming (service/csv.cc at 99a2ea9), kept as the
// reference of the semantics: whole buffer, byte by byte, unescaping in place.
Parsed ReferenceParse(std::string d) {
  Parsed out;
  const size_t n = d.size();
  size_t pos = d.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  int64_t line = 1;
  while (pos < n) {
    const int64_t record_line = line;
    std::vector<std::string> fields;
    const auto fail = [&](const char* message) {
      out.error = "test.csv:" + std::to_string(record_line) + ": " + message;
      return out;
    };
    while (true) {
      if (pos < n && d[pos] == '"') {
        ++pos;
        std::string field;
        while (true) {
          if (pos >= n) return fail("a quoted field never closes");
          if (d[pos] == '"') {
            if (pos + 1 < n && d[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          line += d[pos] == '\n';
          field.push_back(d[pos++]);
        }
        if (pos < n && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') {
          return fail("text after a closing quote");
        }
        fields.push_back(field);
      } else {
        const size_t start = pos;
        while (pos < n && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') ++pos;
        fields.push_back(d.substr(start, pos - start));
      }
      if (pos >= n) break;
      if (d[pos] == ',') {
        ++pos;
        continue;
      }
      if (d[pos] == '\r' && pos + 1 < n && d[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      break;
    }
    out.rows.push_back(fields);
    out.lines.push_back(record_line);
  }
  return out;
}

// Keeps the error's text up to the first ':' after the line number, as the
// reference words only the start of each message.
std::string ErrorStart(const absl::Status& s) {
  if (s.ok()) return "";
  std::string m(s.message());
  const size_t colon = m.find(':', m.find(':') + 1);
  const size_t cut = m.find_first_of(":", colon + 1);
  return cut == std::string::npos ? m : m.substr(0, cut);
}

Parsed StreamParse(const TempDir& dir, const std::string& text, size_t block_bytes) {
  const std::string path = dir.Write("test.csv", text);
  absl::StatusOr<CsvReader> reader = CsvReader::Open(path, block_bytes);
  Parsed out;
  if (!reader.ok()) {
    out.error = std::string(reader.status().message());
    return out;
  }
  std::vector<std::string_view> fields;
  while (reader->Next(&fields)) {
    out.rows.emplace_back(fields.begin(), fields.end());
    out.lines.push_back(reader->line());
  }
  out.error = ErrorStart(reader->status());
  // Errors name the path; the reference names test.csv.
  if (const size_t at = out.error.find(path); at != std::string::npos) {
    out.error.replace(at, path.size(), "test.csv");
  }
  return out;
}

Parsed WholeParse(std::string text) {
  CsvReader reader(std::move(text), "test.csv");
  Parsed out;
  std::vector<std::string_view> fields;
  while (reader.Next(&fields)) {
    out.rows.emplace_back(fields.begin(), fields.end());
    out.lines.push_back(reader.line());
  }
  out.error = ErrorStart(reader.status());
  return out;
}

// Cuts "a quoted field never closes: end it ..." to what the reference says.
void TrimErrorDetail(Parsed* p) {
  for (const char* message : {"a quoted field never closes", "text after a closing quote"}) {
    if (const size_t at = p->error.find(message); at != std::string::npos) {
      p->error.resize(at + std::string_view(message).size());
    }
  }
}

void ExpectSameAsReference(const std::string& text) {
  TempDir dir;
  Parsed want = ReferenceParse(text);
  Parsed whole = WholeParse(text);
  TrimErrorDetail(&whole);
  EXPECT_EQ(whole, want) << "whole buffer, input '" << text << "'";
  for (size_t block : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{16}, text.size() + 1}) {
    Parsed streamed = StreamParse(dir, text, block);
    TrimErrorDetail(&streamed);
    EXPECT_EQ(streamed, want) << "block " << block << ", input '" << text << "'";
  }
}

TEST(CsvStreamTest, TrickyInputsReadAsBeforeWithEveryBlockSize) {
  for (const char* text : {
           "task,worker,label\nt1,w1,a\nt2,w2,b\n",
           "a,b\nc,d",                                   // no line end at the end
           "\"a,b\",c\n",                                // a comma inside quotes
           "\"say \"\"hi\"\"\",\"\"\"\"\n",              // doubled quotes
           "\"line1\nline2\",x\ny,z\n",                  // a newline inside quotes
           "\"line1\r\nline2\",x\r\ny,z\r\n",            // CRLF inside and outside quotes
           "a,b\r\nc,\"d\"\r\n",                         // CRLF
           "a\rb\r",                                     // lone CR
           "a\r",                                        // CR at the very end
           ",\"\",\n",                                   // empty fields
           "a\n\nb\n",                                   // an empty line
           "\xEF\xBB\xBFtask,label\n",                   // byte-order mark
           "\xEF\xBB",                                   // a cut byte-order mark
           "\xEF\xBB\xBF",                               // nothing but the mark
           "5\"3,x\n",                                   // a quote inside an unquoted field
           "a\n\"b\nc\"\nd\r\ne",                        // lines of multi-line records
           "a,b\nc,\"never closed\n",                    // unterminated quote
           "ok\n\"a\"b,c\n",                             // text after a closing quote
           "\"\"",                                       // one empty quoted field
           "\"a\"\"",                                    // a doubled quote, then the end
           "x,\"\"\"\"\"\"\r\n\"\"\r",                   // quotes and CRs at every boundary
           "a,\"b\nc\"\"d\ne\",f\r\ng,h,\"\"\n",
           "0123456789abcdef0123456789,0123456789abcdef01234\n1,2\n",  // fields over 16 bytes
       }) {
    ExpectSameAsReference(text);
  }
}

TEST(CsvStreamTest, ReadsALongQuotedRecordAcrossManyBlocks) {
  std::string field(100000, 'x');
  for (size_t i = 0; i < field.size(); i += 97) field[i] = i % 2 ? '\n' : '"';
  std::string text = "a,\"";
  for (char c : field) {
    text.push_back(c);
    if (c == '"') text.push_back('"');
  }
  text += "\",b\nc,d,e\n";
  TempDir dir;
  const Parsed streamed = StreamParse(dir, text, 64);
  ASSERT_EQ(streamed.error, "");
  ASSERT_EQ(streamed.rows.size(), 2u);
  EXPECT_EQ(streamed.rows[0][1], field);
  EXPECT_EQ(streamed.lines[1], ReferenceParse(text).lines[1]);
}

TEST(CsvStreamTest, ReportsPositionAndSizeForProgress) {
  TempDir dir;
  absl::StatusOr<CsvReader> reader = CsvReader::Open(dir.Write("p.csv", "a,b\nc,d\n"), 3);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->size(), 8u);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader->Next(&fields));
  EXPECT_EQ(reader->position(), 4u);
  ASSERT_TRUE(reader->Next(&fields));
  EXPECT_THAT(fields, ElementsAre("c", "d"));
  EXPECT_EQ(reader->position(), 8u);
  EXPECT_FALSE(reader->Next(&fields));
  EXPECT_TRUE(reader->status().ok());
}

// Texts over the bytes that matter to the grammar, so that quotes, commas and
// line ends meet block boundaries in every way.
RC_GTEST_PROP(CsvStreamTest, AnyTextReadsAsBeforeWithAnyBlockSize, ()) {
  const std::string text = *rc::gen::container<std::string>(
      rc::gen::element('a', 'b', ',', '"', '\n', '\r', '\xEF', '\xBB', '\xBF'));
  const size_t block = *rc::gen::inRange<size_t>(1, 40);
  TempDir dir;
  Parsed want = ReferenceParse(text);
  Parsed streamed = StreamParse(dir, text, block);
  TrimErrorDetail(&streamed);
  Parsed whole = WholeParse(text);
  TrimErrorDetail(&whole);
  RC_ASSERT(streamed == want);
  RC_ASSERT(whole == want);
}

}  // namespace
}  // namespace consensusd::service
