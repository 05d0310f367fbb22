#include "engine/leaderboard_record.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/consensus_record.h"

namespace consensusd::engine {
namespace {

void AppendNumber(std::string& out, double v) {
  if (std::isfinite(v)) {
    AppendProbability(out, v);
  } else {
    out += "null";
  }
}

}  // namespace

void AppendLeaderboardKey(std::string_view project, std::string& out) {
  AppendKeyPart(out, project);
  out += "//";
  out += kLeaderboardSnapshot;
}

std::string LeaderboardKey(std::string_view project) {
  std::string key;
  AppendLeaderboardKey(project, key);
  return key;
}

void AppendLeaderboardBody(const LeaderboardView& view, std::string& out) {
  absl::StrAppend(&out, "\"votes\":", view.fit.votes, ",\"bootstrap\":", view.bootstrap, ",\"tie_nu\":");
  AppendNumber(out, view.tie_nu);
  out += ",\"items\":[";
  for (size_t k = 0; k < view.items.size(); ++k) {
    const LeaderboardItem& i = view.items[k];
    out += k == 0 ? "{\"item\":" : ",{\"item\":";
    AppendJsonString(out, i.item);
    out += ",\"score\":";
    AppendNumber(out, i.score);
    out += ",\"low\":";
    AppendNumber(out, i.low);
    out += ",\"high\":";
    AppendNumber(out, i.high);
    absl::StrAppend(&out, ",\"rank\":", i.rank, ",\"tied_group\":", i.tied_group, ",\"votes\":", i.votes, "}");
  }
  out += "]";
}

void AppendLeaderboardRecord(const LeaderboardView& view, std::string_view body, int64_t updated_ms,
                             std::string& out) {
  out += "{\"project\":";
  AppendJsonString(out, view.project);
  out += ",\"kind\":\"pairwise\",\"record\":\"leaderboard\",";
  out += body;
  absl::StrAppend(&out, ",\"swept_ms\":", view.fit.unix_ms, ",\"updated_ms\":", updated_ms, "}");
}

uint64_t ContentFingerprint(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace consensusd::engine
