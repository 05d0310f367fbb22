// ProjectKind: what one answer of a project is (SPEC 3.1a): a class, a
// pairwise preference, or a rating on a numeric scale. A project has one kind,
// declared in the config or fixed by its first accepted answer.
//
//   absl::StatusOr<ProjectKind> k = ParseProjectKind("pairwise");
//   ProjectKindName(ProjectKind::kRating) == "rating"
#ifndef CONSENSUSD_ENGINE_PROJECT_KIND_H_
#define CONSENSUSD_ENGINE_PROJECT_KIND_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace consensusd::engine {

enum class ProjectKind : uint8_t {
  kUnset,        // not declared and no answer yet: the first answer fixes it
  kCategorical,  // "label": CLASS
  kPairwise,     // "left", "right", "label": left|right|tie|the winning item
  kRating,       // "rating": NUMBER
};

// "categorical", "pairwise", "rating"; "" for kUnset.
std::string_view ProjectKindName(ProjectKind kind);
// The inverse of ProjectKindName; "" is kUnset; nullopt for anything else.
std::optional<ProjectKind> ParseProjectKind(std::string_view name);

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_PROJECT_KIND_H_
