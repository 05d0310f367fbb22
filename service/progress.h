// ProgressLine: one self-overwriting status line on stderr for long work
// (loading, fitting, writing). It prints only when stderr is a terminal, so
// scripts and logs stay quiet.
//
//   ProgressLine progress;
//   progress.Show("reading labels.csv");
//   ...
//   progress.Clear();
#ifndef CONSENSUSD_SERVICE_PROGRESS_H_
#define CONSENSUSD_SERVICE_PROGRESS_H_

#include <string_view>

namespace consensusd::service {

class ProgressLine {
 public:
  ProgressLine();  // enabled iff stderr is a terminal
  ~ProgressLine() { Clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Replaces the line's text.
  void Show(std::string_view text);
  // Erases the line, e.g. before printing results.
  void Clear();

 private:
  bool enabled_;
  bool shown_ = false;
};

}  // namespace consensusd::service

#endif  // CONSENSUSD_SERVICE_PROGRESS_H_
