// Small answer sets for the consensus tests: a literal list of (task, worker,
// label) triplets turned into an AnswerMatrix, and a rapidcheck generator of
// random small sets (no duplicate answers, optional gold).
//
//   AnswerSet s{.tasks = 2, .workers = 3, .classes = 2,
//               .answers = {{0, 0, 1}, {0, 1, 1}, {1, 2, 0}}};
//   AnswerMatrix m = BuildMatrix(s);
#ifndef CONSENSUSD_TESTS_CONSENSUS_FIXTURES_H_
#define CONSENSUSD_TESTS_CONSENSUS_FIXTURES_H_

#include <cstdint>
#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "consensus/aggregate.h"
#include "consensus/answer_matrix.h"

// Tests build AnswerSets with designated initializers that leave out fields.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace consensusd::consensus::fixtures {

struct Triplet {
  int32_t task, worker, label;
};

struct AnswerSet {
  int32_t tasks = 0, workers = 0, classes = 2;
  std::vector<Triplet> answers;  // in arrival order
  std::vector<int32_t> gold;     // empty, or one entry per task (kNoGold or a class)
};

inline void showValue(const AnswerSet& s, std::ostream& os) {
  os << "AnswerSet{tasks=" << s.tasks << " workers=" << s.workers << " classes=" << s.classes
     << " answers(t,w,l)=[";
  for (const Triplet& a : s.answers) os << "(" << a.task << "," << a.worker << "," << a.label << ")";
  os << "] gold=[";
  for (int32_t g : s.gold) os << g << " ";
  os << "]}";
}

inline AnswerMatrix BuildMatrix(const AnswerSet& s,
                                DuplicatePolicy duplicates = DuplicatePolicy::kKeepLast) {
  AnswerMatrixBuilder b;
  for (const Triplet& a : s.answers) b.Add(a.task, a.worker, a.label);
  AnswerMatrix m = b.Build(s.tasks, s.workers, s.classes, duplicates);
  if (!s.gold.empty()) m.gold = s.gold;
  return m;
}

// Random small answer sets: every (task, worker) pair answered with
// probability about 2/3, at most once; tasks may end up with no answers.
// With `with_gold`, about a quarter of the tasks get a gold class.
inline rc::Gen<AnswerSet> GenAnswerSet(int max_tasks, int max_workers, int max_classes,
                                       bool with_gold) {
  return rc::gen::exec([=] {
    AnswerSet s;
    s.tasks = *rc::gen::inRange(1, max_tasks + 1);
    s.workers = *rc::gen::inRange(1, max_workers + 1);
    s.classes = *rc::gen::inRange(2, max_classes + 1);
    for (int32_t t = 0; t < s.tasks; ++t) {
      for (int32_t w = 0; w < s.workers; ++w) {
        if (*rc::gen::inRange(0, 3) == 0) continue;
        s.answers.push_back({t, w, *rc::gen::inRange(0, s.classes)});
      }
    }
    if (with_gold) {
      s.gold.assign(s.tasks, kNoGold);
      for (int32_t t = 0; t < s.tasks; ++t) {
        if (*rc::gen::inRange(0, 4) == 0) s.gold[t] = *rc::gen::inRange(0, s.classes);
      }
    }
    return s;
  });
}

}  // namespace consensusd::consensus::fixtures

#endif  // CONSENSUSD_TESTS_CONSENSUS_FIXTURES_H_
