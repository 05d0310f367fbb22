// Benchmarks of batch aggregation on synthetic data (SPEC section 9):
//   BM_DsIteration  ds, 1M answers, K=4: time per EM iteration (target <= 10 ms, 1 thread)
//   BM_DsOneIteration  the same with one iteration: the fit's one-off cost
//   BM_DsIterationK ds, 1M answers, K = 3, 4, 6, 8, 10, 16: the cost per answer and class
//   BM_DsFit        ds, 10M answers, K=2: whole fit (target <= 5 s, <= 1 GB peak RSS)
//   BM_OneCoinIteration, BM_MajorityVote: the cheaper methods at 1M, for comparison
//   BM_StreamingUpdates, BM_StreamingSetAnswerK: the streaming model's incremental updates
//   BM_Synthesize   the generator itself, 10M answers
// Data generation is outside every timed region. Run with `make bench`.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include "benchmark/benchmark.h"
#include "consensus/aggregate.h"
#include "consensus/em_kernel.h"
#include "consensus/streaming_model.h"
#include "consensus/synthetic.h"

namespace consensusd::consensus {
namespace {

using Clock = std::chrono::steady_clock;

// 200k tasks x 5 answers, 1,000 workers, K=4: crowd-kit's 1M-label benchmark shape.
const SyntheticData& OneMillionK4() {
  static const SyntheticData* data = new SyntheticData(Synthesize(
      {.tasks = 200'000, .workers = 1'000, .classes = 4, .answers_per_task = 5, .seed = 1}));
  return *data;
}

// A field of /proc/self/status in MiB ("VmHWM", "VmRSS"); -1 if unavailable.
double ProcStatusMiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::stod(line.substr(n + 1)) / 1024.0;  // the value is in kB
    }
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak measured
// next belongs to the code that follows. Returns false if not supported.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// CPU seconds used by all threads of the process so far.
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs `options` on `data` once per benchmark iteration; reports wall time per
// EM iteration (ms_per_iter: fit time / E-steps, so it includes the one-off
// majority-vote start and final labelling spread over the iterations) and the
// CPU time of all threads per EM iteration (cpu_ms_per_iter). With one thread
// the two agree on a quiet machine; a wall time well above the CPU time means
// other processes took the cores and the run should be repeated.
void RunFit(benchmark::State& state, const AnswerMatrix& answers, const AggregateOptions& options) {
  double seconds = 0, cpu_seconds = 0;
  int64_t em_iterations = 0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    const double cpu_start = ProcessCpuSeconds();
    absl::StatusOr<Model> model = Aggregate(answers, options);
    benchmark::DoNotOptimize(model);
    cpu_seconds += ProcessCpuSeconds() - cpu_start;
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    if (!model.ok()) {
      state.SkipWithError(std::string(model.status().message()).c_str());
      return;
    }
    em_iterations += model->iterations;
  }
  state.counters["answers"] = static_cast<double>(answers.num_answers());
  state.counters["iters"] = static_cast<double>(em_iterations) / state.iterations();
  if (em_iterations > 0) {
    state.counters["ms_per_iter"] = 1e3 * seconds / static_cast<double>(em_iterations);
    state.counters["cpu_ms_per_iter"] = 1e3 * cpu_seconds / static_cast<double>(em_iterations);
  }
  // Answers through the whole fit per wall second (kIsRate would divide by CPU time).
  state.counters["answers_per_s"] =
      static_cast<double>(answers.num_answers()) * static_cast<double>(state.iterations()) / seconds;
}

// Exactly max_iter EM iterations: no tol stops them.
constexpr double kNeverConverge = -std::numeric_limits<double>::infinity();

// ds, 20 EM iterations at 1M answers, K=4.
void BM_DsIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kDawidSkene;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  options.threads = static_cast<int>(state.range(0));
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_DsIteration)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// ds, 20 EM iterations at 1M answers (200k tasks x 5, 1,000 workers) with K
// classes, every K on a fixed-size kernel (K = 4 repeats BM_DsIteration/threads:1
// for the side-by-side). ns_per_answer_class: wall time per EM iteration per
// answer and class, the number to compare across K (issue 10 asks K = 6 and 10
// within 1.5x of K = 4). Run it with CONSENSUSD_ISA=baseline|avx2|avx512 to
// compare instruction sets.
void BM_DsIterationK(benchmark::State& state) {
  const int classes = static_cast<int>(state.range(0));
  static std::map<int, SyntheticData>* cache = new std::map<int, SyntheticData>();
  auto it = cache->find(classes);
  if (it == cache->end()) {
    it = cache->emplace(classes, Synthesize({.tasks = 200'000, .workers = 1'000, .classes = classes,
                                             .answers_per_task = 5, .seed = 1}))
             .first;
  }
  AggregateOptions options;
  options.method = Method::kDawidSkene;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  options.threads = 1;
  RunFit(state, it->second.answers, options);
  state.SetLabel(std::string(IsaName(EmKernelIsa())));
  if (state.counters.count("ms_per_iter") != 0) {
    state.counters["ns_per_answer_class"] =
        1e6 * state.counters["ms_per_iter"] /
        (static_cast<double>(it->second.answers.num_answers()) * classes);
  }
}
BENCHMARK(BM_DsIterationK)->ArgName("K")->Arg(3)->Arg(4)->Arg(6)->Arg(8)->Arg(10)->Arg(16)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// ds with a single EM iteration: the one-off work (majority-vote start, labels,
// confusion matrices) plus one iteration. The marginal cost of an iteration is
// (BM_DsIteration/threads:1 - BM_DsOneIteration) / 19.
void BM_DsOneIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kDawidSkene;
  options.max_iter = 1;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_DsOneIteration)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OneCoinIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kOneCoin;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_OneCoinIteration)->Unit(benchmark::kMillisecond)->UseRealTime();

// vbds and mace: the E-step is that of ds; the M-step adds digammas (and
// MACE's inner steps) per worker, O(workers x K^2).
void BM_VbdsIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kVariational;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_VbdsIteration)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MaceIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kMace;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_MaceIteration)->Unit(benchmark::kMillisecond)->UseRealTime();

// hds: the E-step of ds; the M-step adds one pooled K x K sum over workers.
void BM_HdsIteration(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kHierarchical;
  options.max_iter = 20;
  options.tol = kNeverConverge;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_HdsIteration)->Unit(benchmark::kMillisecond)->UseRealTime();

// Incremental updates of the streaming model: 100k answers (20k tasks x 5,
// K = 4) fed one at a time, per method. The Bayesian methods derive the whole
// K x K table of a worker per answer (digammas; MACE's inner steps).
void BM_StreamingUpdates(benchmark::State& state) {
  const SyntheticData d = Synthesize(
      {.tasks = 20'000, .workers = 100, .classes = 4, .answers_per_task = 5, .seed = 3});
  const Method methods[] = {Method::kDawidSkene, Method::kVariational, Method::kMace,
                            Method::kHierarchical};
  StreamingOptions options;
  options.fit.method = methods[state.range(0)];
  state.SetLabel(std::string(MethodName(options.fit.method)));
  double seconds = 0;
  for (auto _ : state) {
    StreamingModel m(options);
    for (int k = 0; k < 4; ++k) (void)m.InternClass(std::to_string(k));
    for (int32_t w = 0; w < d.answers.num_workers; ++w) m.InternWorker(std::to_string(w));
    const Clock::time_point start = Clock::now();
    for (int32_t t = 0; t < d.answers.num_tasks; ++t) {
      const int32_t task = m.InternTask(std::to_string(t));
      for (int64_t a = d.answers.task_begin[t]; a < d.answers.task_begin[t + 1]; ++a) {
        m.SetAnswer(task, d.answers.worker[a], d.answers.label[a]);
      }
    }
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  state.counters["answers_per_s"] =
      static_cast<double>(d.answers.num_answers()) * static_cast<double>(state.iterations()) / seconds;
}
BENCHMARK(BM_StreamingUpdates)->ArgName("method")->DenseRange(0, 3)->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// ds in the streaming model with K = 4, 10 (fixed-size kernels) and 24 (the
// dynamic one) classes: 100k answers (20k tasks x 5, 100
// workers) fed through SetAnswer, the interning outside the timed region;
// ns_per_answer is the cost of one incremental update (the task's old
// contribution out, its E-step, the new contribution in).
void BM_StreamingSetAnswerK(benchmark::State& state) {
  const int classes = static_cast<int>(state.range(0));
  const SyntheticData d = Synthesize(
      {.tasks = 20'000, .workers = 100, .classes = classes, .answers_per_task = 5, .seed = 3});
  StreamingOptions options;
  options.fit.method = Method::kDawidSkene;
  double seconds = 0, cpu_seconds = 0;
  for (auto _ : state) {
    StreamingModel m(options);
    for (int k = 0; k < classes; ++k) (void)m.InternClass(std::to_string(k));
    for (int32_t w = 0; w < d.answers.num_workers; ++w) m.InternWorker(std::to_string(w));
    for (int32_t t = 0; t < d.answers.num_tasks; ++t) m.InternTask(std::to_string(t));
    const Clock::time_point start = Clock::now();
    const double cpu_start = ProcessCpuSeconds();
    for (int32_t t = 0; t < d.answers.num_tasks; ++t) {
      for (int64_t a = d.answers.task_begin[t]; a < d.answers.task_begin[t + 1]; ++a) {
        m.SetAnswer(t, d.answers.worker[a], d.answers.label[a]);
      }
    }
    cpu_seconds += ProcessCpuSeconds() - cpu_start;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  // Wall and CPU time per answer: on a busy machine the wall time includes
  // time the process waited for a core, the CPU time does not.
  const double answers =
      static_cast<double>(d.answers.num_answers()) * static_cast<double>(state.iterations());
  state.counters["ns_per_answer"] = 1e9 * seconds / answers;
  state.counters["cpu_ns_per_answer"] = 1e9 * cpu_seconds / answers;
}
BENCHMARK(BM_StreamingSetAnswerK)->ArgName("K")->Arg(4)->Arg(10)->Arg(24)->Unit(benchmark::kMillisecond)
    ->UseManualTime();

void BM_MajorityVote(benchmark::State& state) {
  AggregateOptions options;
  options.method = Method::kMajorityVote;
  RunFit(state, OneMillionK4().answers, options);
}
BENCHMARK(BM_MajorityVote)->Unit(benchmark::kMillisecond)->UseRealTime();

// ds to convergence with the default tol at 10M answers (2M tasks x 5, 10k
// workers, K=2), once. peak_rss_mib is the process's VmHWM reset just before
// the fit, so it counts the answers held (input_rss_mib) plus what the fit adds.
void BM_DsFit(benchmark::State& state) {
  const SyntheticData data = Synthesize(
      {.tasks = 2'000'000, .workers = 10'000, .classes = 2, .answers_per_task = 5, .seed = 1});
  AggregateOptions options;
  options.method = Method::kDawidSkene;
  options.threads = static_cast<int>(state.range(0));
  const bool peak_reset = ResetPeakRss();
  const double input_rss = ProcStatusMiB("VmRSS");
  RunFit(state, data.answers, options);
  state.counters["input_rss_mib"] = input_rss;
  if (peak_reset) state.counters["peak_rss_mib"] = ProcStatusMiB("VmHWM");
}
BENCHMARK(BM_DsFit)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Synthesize(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    SyntheticData data = Synthesize(
        {.tasks = 2'000'000, .workers = 10'000, .classes = 2, .answers_per_task = 5, .seed = 1});
    benchmark::DoNotOptimize(data);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  state.counters["answers_per_s"] = 1e7 * static_cast<double>(state.iterations()) / seconds;
}
BENCHMARK(BM_Synthesize)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace consensusd::consensus
