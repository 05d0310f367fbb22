#include "engine/project_kind.h"

namespace consensusd::engine {

std::string_view ProjectKindName(ProjectKind kind) {
  switch (kind) {
    case ProjectKind::kCategorical:
      return "categorical";
    case ProjectKind::kPairwise:
      return "pairwise";
    case ProjectKind::kRating:
      return "rating";
    case ProjectKind::kUnset:
      break;
  }
  return "";
}

std::optional<ProjectKind> ParseProjectKind(std::string_view name) {
  for (ProjectKind k : {ProjectKind::kUnset, ProjectKind::kCategorical, ProjectKind::kPairwise,
                        ProjectKind::kRating}) {
    if (ProjectKindName(k) == name) return k;
  }
  return std::nullopt;
}

}  // namespace consensusd::engine
