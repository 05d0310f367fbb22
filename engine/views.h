// Read views of the engine's state (SPEC 4.3), returned by value: the caller
// holds no lock and may keep them as long as it likes.
//
//   std::optional<TaskView> t = engine.Task("sentiment-v2", "t-10442");
//   if (t && t->label) std::cout << *t->label << " " << t->confidence;
#ifndef CONSENSUSD_ENGINE_VIEWS_H_
#define CONSENSUSD_ENGINE_VIEWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace consensusd::engine {

struct ProjectSummary {
  std::string project;
  std::string kind;  // categorical, pairwise, rating, or "" before the first answer
  int64_t tasks = 0;
  int64_t workers = 0;
  int64_t answers = 0;
  std::vector<std::string> classes;
  bool swept = false;  // the fields below come from the last sweep
  int64_t workers_flagged = 0;
  int64_t tasks_needing_review = 0;
  double mean_confidence = 0;
};

struct SweepSummary {
  int64_t unix_ms = 0;
  double seconds = 0;
  int iterations = 0;
  double log_likelihood = 0;
  int64_t tasks = 0;
  int64_t answers = 0;
};

struct ProjectView : ProjectSummary {
  std::vector<std::pair<std::string, double>> class_priors;  // in class order
  std::string method;
  bool declared_classes = false;
  std::optional<SweepSummary> last_sweep;
  double krippendorff_alpha = 0;  // NaN when undefined or before the first sweep
  int64_t min_answers = 0;        // quality.min_answers
  double min_accuracy = 0;
  double max_spam_score = 0;
  double review_min_confidence = 0;
  int64_t review_min_answers = 0;
};

struct TaskAnswerView {
  std::string worker;
  std::string label;
  bool excluded = false;
};

struct TaskView {
  std::string project;
  std::string task;
  std::optional<std::string> label;  // none before any class exists
  double confidence = 0;
  std::vector<std::pair<std::string, double>> posterior;  // in class order
  std::vector<TaskAnswerView> answers;
  std::optional<std::string> gold;
  bool needs_review = false;
};

// A worker's row. The statistics come from the last sweep; a worker that
// arrived after it has them from the live (incremental) model.
struct WorkerRow {
  std::string worker;
  bool excluded = false;
  int64_t answers = 0;
  double accuracy = 0;
  int64_t gold_answers = 0;
  int64_t gold_correct = 0;
  double agreement = 0;
  double spam_score = 0;
  bool flagged = false;
};

struct WorkerView : WorkerRow {
  std::string project;
  std::vector<std::string> classes;
  // P(answer l | true class k), rows k (true class), columns l (answered class).
  std::vector<std::vector<double>> confusion;
};

// One page of a list. `next_cursor` is empty on the last page.
template <typename Row>
struct Page {
  std::vector<Row> items;
  std::string next_cursor;
  int64_t total = 0;  // rows in the whole list
};

}  // namespace consensusd::engine

#endif  // CONSENSUSD_ENGINE_VIEWS_H_
