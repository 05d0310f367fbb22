// The leaderboard snapshot of a pairwise project on the consensus topic
// (docs/api.md, "Kafka"): one record per project, keyed so that a compacted
// topic keeps the latest, sent after a sweep whose leaderboard changed.
//
//   std::string key = LeaderboardKey("helpful-v3");   // "helpful-v3//leaderboard"
//   std::string body;
//   AppendLeaderboardBody(view, body);                 // what "changed" compares
//   const uint64_t fingerprint = ContentFingerprint(body);
//   AppendLeaderboardRecord(view, body, now, value);
#ifndef CONSENSUSD_ENGINE_LEADERBOARD_RECORD_H_
#define CONSENSUSD_ENGINE_LEADERBOARD_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/vote_views.h"

namespace consensusd::engine {

// The snapshot's name in the state store's snapshot records.
inline constexpr std::string_view kLeaderboardSnapshot = "leaderboard";

// "<project>//leaderboard", the project part escaped as in ConsensusKey. A
// task's key has exactly one unescaped '/', so no task key equals it, whatever
// the task is called (a task "leaderboard" has the key "<project>/leaderboard").
void AppendLeaderboardKey(std::string_view project, std::string& out);
std::string LeaderboardKey(std::string_view project);

// Appends the fitted content, the part that decides whether the leaderboard
// changed (no times):
//   "votes":N,"bootstrap":B,"tie_nu":x,
//   "items":[{"item","score","low","high","rank","tied_group","votes"},...]
// Numbers are the shortest text that reads back as the same double; a
// non-finite one is null.
void AppendLeaderboardBody(const LeaderboardView& view, std::string& out);

// Appends the whole record:
//   {"project","kind":"pairwise","record":"leaderboard",<body>,"swept_ms","updated_ms"}
void AppendLeaderboardRecord(const LeaderboardView& view, std::string_view body, int64_t updated_ms,
                             std::string& out);

// A fingerprint of the bytes that is the same in every process and on every
// machine (64-bit FNV-1a), for what is stored of a sent snapshot.
uint64_t ContentFingerprint(std::string_view bytes);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_LEADERBOARD_RECORD_H_
