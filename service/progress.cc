#include "service/progress.h"

#include <unistd.h>

#include <cstdio>

namespace consensusd::service {

ProgressLine::ProgressLine() : enabled_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::Show(std::string_view text) {
  if (!enabled_) return;
  // \r returns to the line's start, ESC[K erases what an older, longer text left.
  std::fprintf(stderr, "\r\033[K%.*s...", static_cast<int>(text.size()), text.data());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::Clear() {
  if (!enabled_ || !shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace consensusd::service
