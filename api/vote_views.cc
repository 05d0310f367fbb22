#include "api/vote_views.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "api/views.h"

namespace consensusd::api {
namespace {

using nlohmann::json;

// The last sweep's fit, or null before the first sweep.
json FitJson(const engine::VoteFitSummary& f) {
  if (f.unix_ms == 0) return nullptr;
  return {{"unix_ms", f.unix_ms},     {"seconds", f.seconds}, {"iterations", f.iterations},
          {"converged", f.converged}, {"tasks", f.tasks},     {"votes", f.votes}};
}

}  // namespace

json LeaderboardJson(const engine::LeaderboardView& v) {
  json items = json::array();
  for (const engine::LeaderboardItem& i : v.items) {
    items.push_back({{"item", i.item},
                     {"score", Number(i.score)},
                     {"low", Number(i.low)},
                     {"high", Number(i.high)},
                     {"rank", i.rank},
                     {"tied_group", i.tied_group},
                     {"votes", i.votes}});
  }
  return {{"project", v.project}, {"kind", "pairwise"},     {"last_sweep", FitJson(v.fit)},
          {"tie_nu", Number(v.tie_nu)}, {"bootstrap", v.bootstrap},
          {"updated_since_sweep", v.updated_since_sweep}, {"items", items}};
}

std::optional<json> ItemJson(const engine::LeaderboardView& v, std::string_view item) {
  const auto it = std::find_if(v.items.begin(), v.items.end(),
                               [&](const engine::LeaderboardItem& i) { return i.item == item; });
  if (it == v.items.end()) return std::nullopt;
  // The items it cannot be told apart from: its tied group (items new since
  // the last sweep, group 0, have no group yet).
  json tied = json::array();
  if (it->tied_group > 0) {
    for (const engine::LeaderboardItem& i : v.items) {
      if (i.tied_group == it->tied_group && i.item != it->item) tied.push_back(i.item);
    }
  }
  return json{{"project", v.project},
              {"kind", "pairwise"},
              {"item", it->item},
              {"score", Number(it->score)},
              {"low", Number(it->low)},
              {"high", Number(it->high)},
              {"rank", it->rank},
              {"tied_group", it->tied_group},
              {"tied_with", tied},
              {"votes", it->votes},
              {"position", it - v.items.begin() + 1},
              {"items", v.items.size()},
              {"last_sweep", FitJson(v.fit)},
              {"updated_since_sweep", v.updated_since_sweep}};
}

json RatersJson(const engine::RatersView& v) {
  const bool pairwise = v.kind == engine::ProjectKind::kPairwise;
  json raters = json::array();
  for (const engine::RaterRow& r : v.raters) {
    if (r.excluded) {
      raters.push_back({{"worker", r.worker}, {pairwise ? "votes" : "ratings", r.votes}, {"excluded", true}});
      continue;
    }
    if (pairwise) {
      raters.push_back({{"worker", r.worker},
                        {"votes", r.votes},
                        {"reliability", Number(r.reliability)},
                        {"careful_log_odds", Number(r.careful_log_odds)},
                        {"position_bias", Number(r.position_bias)},
                        {"careless", r.careless},
                        {"excluded", false}});
    } else {
      raters.push_back({{"worker", r.worker},
                        {"ratings", r.votes},
                        {"bias", Number(r.bias)},
                        {"noise_sd", Number(r.noise_sd)},
                        {"excluded", false}});
    }
  }
  return {{"project", v.project},
          {"kind", std::string(engine::ProjectKindName(v.kind))},
          {"last_sweep", FitJson(v.fit)},
          {"raters", raters}};
}

json VoteTaskJson(const engine::VoteTaskView& v) {
  const bool pairwise = v.kind == engine::ProjectKind::kPairwise;
  json answers = json::array();
  for (const engine::VoteTaskAnswer& a : v.answers) {
    if (pairwise) {
      answers.push_back({{"worker", a.worker}, {"left", a.left}, {"right", a.right}, {"label", a.label},
                         {"excluded", a.excluded}});
    } else {
      answers.push_back({{"worker", a.worker}, {"rating", Number(a.rating)}, {"excluded", a.excluded}});
    }
  }
  json j = {{"project", v.project},
            {"task", v.task},
            {"kind", std::string(engine::ProjectKindName(v.kind))},
            {"answers", answers},
            {"fitted", v.fitted},
            {"updated_since_sweep", v.updated_since_sweep}};
  const json none = nullptr;
  if (pairwise) {
    j["left"] = v.fitted ? json(v.left) : none;
    j["right"] = v.fitted ? json(v.right) : none;
    j["p_left"] = v.fitted ? Number(v.p_left) : none;
    j["p_right"] = v.fitted ? Number(v.p_right) : none;
    j["p_tie"] = v.fitted ? Number(v.p_tie) : none;
    j["consensus"] = v.fitted ? json(v.consensus) : none;
  } else {
    j["rating"] = v.fitted ? Number(v.rating) : none;
    j["sd"] = v.fitted ? Number(v.sd) : none;
  }
  return j;
}

}  // namespace consensusd::api
