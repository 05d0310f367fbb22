// JSON forms of the pairwise and rating views (engine/vote_views.h; SPEC
// 3.1a, docs/api.md "Pairwise and rating projects").
//
//   absl::StatusOr<engine::LeaderboardView> b = engine.Leaderboard(project);
//   nlohmann::json j = LeaderboardJson(*b);
#ifndef CONSENSUSD_API_VOTE_VIEWS_H_
#define CONSENSUSD_API_VOTE_VIEWS_H_

#include <optional>
#include <string_view>

#include "engine/vote_views.h"
#include "nlohmann/json.hpp"

namespace consensusd::api {

nlohmann::json LeaderboardJson(const engine::LeaderboardView& v);
// One item's row of the leaderboard, with the items of its tied group;
// nullopt if the project has no such item.
std::optional<nlohmann::json> ItemJson(const engine::LeaderboardView& v, std::string_view item);
nlohmann::json RatersJson(const engine::RatersView& v);
nlohmann::json VoteTaskJson(const engine::VoteTaskView& v);

}  // namespace consensusd::api

#endif  // CONSENSUSD_API_VOTE_VIEWS_H_
