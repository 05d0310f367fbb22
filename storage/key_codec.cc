#include "storage/key_codec.h"

#include <cstring>

namespace consensusd::storage {
namespace {

void PutType(std::string* dst, RecordType type) { dst->push_back(static_cast<char>(type)); }

bool GetType(std::string_view* in, RecordType type) {
  if (in->empty() || static_cast<uint8_t>(in->front()) != static_cast<uint8_t>(type)) return false;
  in->remove_prefix(1);
  return true;
}

bool GetInt32(std::string_view* in, int32_t* value) {
  uint32_t raw;
  if (!GetBigEndian32(in, &raw)) return false;
  *value = static_cast<int32_t>(raw);
  return true;
}

}  // namespace

void PutVarint32(std::string* dst, uint32_t value) {
  while (value >= 0x80) {
    dst->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  dst->push_back(static_cast<char>(value));
}

void PutBigEndian32(std::string* dst, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                         static_cast<char>(value >> 8), static_cast<char>(value)};
  dst->append(bytes, 4);
}

void PutLengthPrefixed(std::string* dst, std::string_view bytes) {
  PutVarint32(dst, static_cast<uint32_t>(bytes.size()));
  dst->append(bytes);
}

bool GetVarint32(std::string_view* in, uint32_t* value) {
  uint32_t result = 0;
  for (int shift = 0, i = 0; shift <= 28 && i < static_cast<int>(in->size()); shift += 7, ++i) {
    const uint32_t byte = static_cast<uint8_t>((*in)[i]);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (shift == 28 && byte > 0x0f) return false;  // more than 32 bits
      *value = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

bool GetBigEndian32(std::string_view* in, uint32_t* value) {
  if (in->size() < 4) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(in->data());
  *value = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  in->remove_prefix(4);
  return true;
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* bytes) {
  uint32_t size;
  if (!GetVarint32(in, &size) || in->size() < size) return false;
  *bytes = in->substr(0, size);
  in->remove_prefix(size);
  return true;
}

std::string FormatKey() {
  std::string key;
  PutType(&key, RecordType::kFormat);
  key.append("format");
  return key;
}

void AppendOffsetKey(std::string* dst, const OffsetKey& key) {
  PutType(dst, RecordType::kOffset);
  PutLengthPrefixed(dst, key.topic);
  PutBigEndian32(dst, static_cast<uint32_t>(key.partition));
}

namespace {

void AppendWorkerKey(std::string* dst, RecordType type, const AnswerKey& key) {
  PutType(dst, type);
  PutBigEndian32(dst, static_cast<uint32_t>(key.partition));
  PutLengthPrefixed(dst, key.project);
  PutLengthPrefixed(dst, key.task);
  PutLengthPrefixed(dst, key.worker);
}

}  // namespace

void AppendAnswerKey(std::string* dst, const AnswerKey& key) {
  AppendWorkerKey(dst, RecordType::kAnswer, key);
}

void AppendRepeatsKey(std::string* dst, const AnswerKey& key) {
  AppendWorkerKey(dst, RecordType::kRepeats, key);
}

void AppendGoldKey(std::string* dst, const GoldKey& key) {
  PutType(dst, RecordType::kGold);
  PutBigEndian32(dst, static_cast<uint32_t>(key.partition));
  PutLengthPrefixed(dst, key.project);
  PutLengthPrefixed(dst, key.task);
}

void AppendClassKey(std::string* dst, const ClassKey& key) {
  PutType(dst, RecordType::kClass);
  PutLengthPrefixed(dst, key.project);
  PutBigEndian32(dst, static_cast<uint32_t>(key.class_id));
}

void AppendExcludedKey(std::string* dst, const ExcludedKey& key) {
  PutType(dst, RecordType::kExcluded);
  PutLengthPrefixed(dst, key.project);
  PutLengthPrefixed(dst, key.worker);
}

void AppendSnapshotKey(std::string* dst, const SnapshotKey& key) {
  PutType(dst, RecordType::kSnapshot);
  PutLengthPrefixed(dst, key.project);
  PutLengthPrefixed(dst, key.name);
}

bool DecodeOffsetKey(std::string_view key, OffsetKey* out) {
  return GetType(&key, RecordType::kOffset) && GetLengthPrefixed(&key, &out->topic) &&
         GetInt32(&key, &out->partition) && key.empty();
}

bool DecodeAnswerKey(std::string_view key, AnswerKey* out) {
  return GetType(&key, RecordType::kAnswer) && GetInt32(&key, &out->partition) &&
         GetLengthPrefixed(&key, &out->project) && GetLengthPrefixed(&key, &out->task) &&
         GetLengthPrefixed(&key, &out->worker) && key.empty();
}

bool DecodeRepeatsKey(std::string_view key, AnswerKey* out) {
  return GetType(&key, RecordType::kRepeats) && GetInt32(&key, &out->partition) &&
         GetLengthPrefixed(&key, &out->project) && GetLengthPrefixed(&key, &out->task) &&
         GetLengthPrefixed(&key, &out->worker) && key.empty();
}

void AppendVoteKey(std::string* dst, const AnswerKey& key) {
  AppendWorkerKey(dst, RecordType::kVote, key);
}

bool DecodeVoteKey(std::string_view key, AnswerKey* out) {
  return GetType(&key, RecordType::kVote) && GetInt32(&key, &out->partition) &&
         GetLengthPrefixed(&key, &out->project) && GetLengthPrefixed(&key, &out->task) &&
         GetLengthPrefixed(&key, &out->worker) && key.empty();
}

void AppendVoteValue(std::string* dst, const VoteValue& value) {
  if (value.pairwise) {
    dst->push_back('p');
    PutLengthPrefixed(dst, value.left);
    PutLengthPrefixed(dst, value.right);
    dst->push_back(static_cast<char>(value.outcome));
    return;
  }
  dst->push_back('r');
  uint64_t bits;
  std::memcpy(&bits, &value.rating, sizeof bits);
  PutBigEndian32(dst, static_cast<uint32_t>(bits >> 32));
  PutBigEndian32(dst, static_cast<uint32_t>(bits));
}

bool DecodeVoteValue(std::string_view value, VoteValue* out) {
  if (value.empty()) return false;
  const char tag = value.front();
  value.remove_prefix(1);
  if (tag == 'p') {
    out->pairwise = true;
    if (!GetLengthPrefixed(&value, &out->left) || !GetLengthPrefixed(&value, &out->right) ||
        value.size() != 1) {
      return false;
    }
    out->outcome = static_cast<uint8_t>(value[0]);
    return out->outcome <= 2;
  }
  if (tag != 'r') return false;
  out->pairwise = false;
  uint32_t high, low;
  if (!GetBigEndian32(&value, &high) || !GetBigEndian32(&value, &low) || !value.empty()) return false;
  const uint64_t bits = (static_cast<uint64_t>(high) << 32) | low;
  std::memcpy(&out->rating, &bits, sizeof bits);
  return true;
}

bool DecodeGoldKey(std::string_view key, GoldKey* out) {
  return GetType(&key, RecordType::kGold) && GetInt32(&key, &out->partition) &&
         GetLengthPrefixed(&key, &out->project) && GetLengthPrefixed(&key, &out->task) &&
         key.empty();
}

void AppendPublishedKey(std::string* dst, const PublishedKey& key) {
  PutType(dst, RecordType::kPublished);
  PutBigEndian32(dst, static_cast<uint32_t>(key.partition));
  PutLengthPrefixed(dst, key.project);
  PutLengthPrefixed(dst, key.task);
}

bool DecodePublishedKey(std::string_view key, PublishedKey* out) {
  return GetType(&key, RecordType::kPublished) && GetInt32(&key, &out->partition) &&
         GetLengthPrefixed(&key, &out->project) && GetLengthPrefixed(&key, &out->task) &&
         key.empty();
}

bool DecodeClassKey(std::string_view key, ClassKey* out) {
  return GetType(&key, RecordType::kClass) && GetLengthPrefixed(&key, &out->project) &&
         GetInt32(&key, &out->class_id) && key.empty();
}

bool DecodeExcludedKey(std::string_view key, ExcludedKey* out) {
  return GetType(&key, RecordType::kExcluded) && GetLengthPrefixed(&key, &out->project) &&
         GetLengthPrefixed(&key, &out->worker) && key.empty();
}

bool DecodeSnapshotKey(std::string_view key, SnapshotKey* out) {
  return GetType(&key, RecordType::kSnapshot) && GetLengthPrefixed(&key, &out->project) &&
         GetLengthPrefixed(&key, &out->name) && key.empty();
}

std::string RecordPrefix(RecordType type) {
  std::string prefix;
  PutType(&prefix, type);
  return prefix;
}

std::string PartitionPrefix(RecordType type, int32_t partition) {
  std::string prefix = RecordPrefix(type);
  PutBigEndian32(&prefix, static_cast<uint32_t>(partition));
  return prefix;
}

std::string TopicOffsetPrefix(std::string_view topic) {
  std::string prefix = RecordPrefix(RecordType::kOffset);
  PutLengthPrefixed(&prefix, topic);
  return prefix;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty() && static_cast<uint8_t>(successor.back()) == 0xff) {
    successor.pop_back();
  }
  if (!successor.empty()) successor.back() = static_cast<char>(successor.back() + 1);
  return successor;
}

std::string EncodeOffsetValue(int64_t next_offset) {
  const auto v = static_cast<uint64_t>(next_offset);
  std::string value;
  PutBigEndian32(&value, static_cast<uint32_t>(v >> 32));
  PutBigEndian32(&value, static_cast<uint32_t>(v));
  return value;
}

bool DecodeOffsetValue(std::string_view value, int64_t* out) {
  uint32_t high, low;
  if (!GetBigEndian32(&value, &high) || !GetBigEndian32(&value, &low) || !value.empty()) {
    return false;
  }
  *out = static_cast<int64_t>((uint64_t{high} << 32) | low);
  return true;
}

void AppendPublishedValue(std::string* dst, const PublishedValue& value) {
  PutBigEndian32(dst, static_cast<uint32_t>(value.class_id));
  uint64_t bits;
  std::memcpy(&bits, &value.confidence, sizeof bits);
  PutBigEndian32(dst, static_cast<uint32_t>(bits >> 32));
  PutBigEndian32(dst, static_cast<uint32_t>(bits));
  dst->push_back(value.review ? 1 : 0);
}

bool DecodePublishedValue(std::string_view value, PublishedValue* out) {
  uint32_t high, low;
  if (!GetInt32(&value, &out->class_id) || !GetBigEndian32(&value, &high) ||
      !GetBigEndian32(&value, &low) || value.size() != 1) {
    return false;
  }
  const uint64_t bits = (static_cast<uint64_t>(high) << 32) | low;
  std::memcpy(&out->confidence, &bits, sizeof bits);
  out->review = value[0] != 0;
  return true;
}

}  // namespace consensusd::storage
