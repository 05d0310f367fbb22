// Key and value encoding of the state store (storage/state_store.h).
//
// Every key opens with a one-byte record type. Records that belong to an input
// partition put the partition next, as a big-endian uint32, so one partition of
// one record type is one contiguous key range. Strings are length-prefixed
// (varint32 length, then the bytes), so ids may hold any byte, including NUL
// and '/', and a prefix that ends on a field boundary matches exactly the keys
// of that field value ("ab" never matches "abc").
//
// In the "meta" column family:
//   format   0x00 "format"                                      -> kFormatVersion
//   offset   0x01 str(topic) be32(partition)                    -> be64(next offset)
// In the default column family (the model's inputs):
//   answer   0x02 be32(partition) str(project) str(task) str(worker) -> label
//   gold     0x03 be32(partition) str(project) str(task)        -> label
//   class    0x04 str(project) be32(class_id)                   -> class name
//   excluded 0x05 str(project) str(worker)                      -> ""
//   published 0x06 be32(partition) str(project) str(task)       -> PublishedValue
//   repeats  0x07 be32(partition) str(project) str(task) str(worker) -> str(label)...
//   vote     0x08 be32(partition) str(project) str(task) str(worker) -> VoteValue
//   snapshot 0x09 str(project) str(name)                       -> be64(fingerprint)
// (published: what the consensus topic last confirmed for the task, so that a
// restart publishes only changes; added in format 1 without a new version,
// since a store without these records only republishes once.)
// (vote: the answer of a pairwise or rating project, SPEC 3.1a; added in
// format 1 without a new version, since a store without them reads as before.)
// (snapshot: what the consensus topic last confirmed of a project-wide record,
// e.g. a pairwise project's leaderboard (name "leaderboard"), as a fingerprint
// of its content, so that a restart sends it only when it changed; added in
// format 1 without a new version, since a store without them only republishes
// once.)
// (repeats: under a project's `repeats: count`, a worker's second and later
// answers to a task, in order, the first being the answer record; added in
// format 1 without a new version, since a store without them reads as before.)
//
//   std::string key;
//   AppendAnswerKey(&key, {.partition = 3, .project = "p", .task = "t", .worker = "w"});
//   AnswerKey decoded;
//   DecodeAnswerKey(key, &decoded);  // true; views point into `key`
#ifndef CONSENSUSD_STORAGE_KEY_CODEC_H_
#define CONSENSUSD_STORAGE_KEY_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace consensusd::storage {

// Changing any encoding above means a new kFormatVersion.
inline constexpr std::string_view kFormatVersion = "consensusd-state 1";

enum class RecordType : uint8_t {
  kFormat = 0x00,
  kOffset = 0x01,
  kAnswer = 0x02,
  kGold = 0x03,
  kClass = 0x04,
  kExcluded = 0x05,
  kPublished = 0x06,
  kRepeats = 0x07,
  kVote = 0x08,
  kSnapshot = 0x09,
};

// Decoded keys. The views point into the encoded key.
struct OffsetKey {
  std::string_view topic;
  int32_t partition;
};
struct AnswerKey {
  int32_t partition;
  std::string_view project, task, worker;
};
struct GoldKey {
  int32_t partition;
  std::string_view project, task;
};
struct ClassKey {
  std::string_view project;
  int32_t class_id;
};
struct ExcludedKey {
  std::string_view project, worker;
};
struct SnapshotKey {
  std::string_view project, name;
};
// The published key has the gold key's fields.
using PublishedKey = GoldKey;

// What was published for a task: its consensus class, the confidence, and
// whether it was sent to the review topic. For a task of a pairwise or
// rating project, class_id is kVoteRecordClass and confidence the value sent
// (P(left) or the rating).
inline constexpr int32_t kVoteRecordClass = -2;
struct PublishedValue {
  int32_t class_id = -1;
  double confidence = 0;
  bool review = false;
};

// A pairwise or rating answer. Pairwise: 'p' str(left) str(right) u8(outcome:
// 0 left, 1 right, 2 tie, as shown); rating: 'r' be64(the double's bits).
struct VoteValue {
  bool pairwise = false;
  std::string_view left, right;  // pairwise; views into the encoded value when decoded
  int outcome = 0;               // pairwise
  double rating = 0;             // rating
};

// The format marker's key.
std::string FormatKey();

// Append the encoded key to *dst (which the caller clears when reusing it).
// Partitions and class ids are stored as uint32, so REQUIRES: they are >= 0
// (a negative value would still round-trip but sort after every positive one).
void AppendOffsetKey(std::string* dst, const OffsetKey& key);
void AppendAnswerKey(std::string* dst, const AnswerKey& key);
void AppendRepeatsKey(std::string* dst, const AnswerKey& key);
void AppendVoteKey(std::string* dst, const AnswerKey& key);
void AppendGoldKey(std::string* dst, const GoldKey& key);
void AppendClassKey(std::string* dst, const ClassKey& key);
void AppendExcludedKey(std::string* dst, const ExcludedKey& key);
void AppendPublishedKey(std::string* dst, const PublishedKey& key);
void AppendSnapshotKey(std::string* dst, const SnapshotKey& key);

// Each returns false, leaving *out unspecified, unless `key` is exactly one
// well-formed key of that record type (no missing or trailing bytes).
bool DecodeOffsetKey(std::string_view key, OffsetKey* out);
bool DecodeAnswerKey(std::string_view key, AnswerKey* out);
bool DecodeRepeatsKey(std::string_view key, AnswerKey* out);
bool DecodeVoteKey(std::string_view key, AnswerKey* out);
bool DecodeGoldKey(std::string_view key, GoldKey* out);
bool DecodeClassKey(std::string_view key, ClassKey* out);
bool DecodeExcludedKey(std::string_view key, ExcludedKey* out);
bool DecodePublishedKey(std::string_view key, PublishedKey* out);
bool DecodeSnapshotKey(std::string_view key, SnapshotKey* out);

// The prefix of every key of one record type.
std::string RecordPrefix(RecordType type);
// The prefix of every key of one record type in one partition.
// REQUIRES: type is kAnswer, kRepeats, kVote, kGold or kPublished; partition >= 0.
std::string PartitionPrefix(RecordType type, int32_t partition);
// The prefix of every offset key of one topic.
std::string TopicOffsetPrefix(std::string_view topic);
// The smallest key greater than every key that starts with `prefix`, or ""
// if there is none (the prefix is empty or all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix);

// Offsets are stored as fixed-width big-endian int64.
std::string EncodeOffsetValue(int64_t next_offset);
bool DecodeOffsetValue(std::string_view value, int64_t* out);
// Published values: be32(class_id) be64(confidence bits) u8(review).
void AppendPublishedValue(std::string* dst, const PublishedValue& value);
bool DecodePublishedValue(std::string_view value, PublishedValue* out);
void AppendVoteValue(std::string* dst, const VoteValue& value);
// False unless `value` is one well-formed vote value (outcome 0 to 2).
bool DecodeVoteValue(std::string_view value, VoteValue* out);

// Primitives, exposed for tests. Get* consume from the front of *in and return
// false if it is too short.
void PutVarint32(std::string* dst, uint32_t value);
void PutBigEndian32(std::string* dst, uint32_t value);
void PutLengthPrefixed(std::string* dst, std::string_view bytes);
bool GetVarint32(std::string_view* in, uint32_t* value);
bool GetBigEndian32(std::string_view* in, uint32_t* value);
bool GetLengthPrefixed(std::string_view* in, std::string_view* bytes);

}  // namespace consensusd::storage

#endif  // CONSENSUSD_STORAGE_KEY_CODEC_H_
