#include "consensus/streaming_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "consensus/class_array.h"
#include "consensus/parameters.h"

namespace consensusd::consensus {

StreamingModel::StreamingModel(const StreamingOptions& options) : options_(options) {
  SelectUpdateKernels();
}

void StreamingModel::SelectUpdateKernels() {
  struct Kernels {
    void (StreamingModel::*contribute)(int32_t, double);
    void (StreamingModel::*estep)(int32_t);
  };
  const Kernels kernels = SelectForClasses(K_, [](auto k) {
    constexpr int kK = decltype(k)::value;
    return Kernels{&StreamingModel::ContributeFor<kK>, &StreamingModel::EStepFor<kK>};
  });
  contribute_ = kernels.contribute;
  estep_ = kernels.estep;
  likelihood_ = WorkerLikelihoodFor(K_);
}

int32_t StreamingModel::InternTask(std::string_view name) {
  const int32_t before = tasks_.size();
  const int32_t id = tasks_.Intern(name);
  if (id == before) {
    answers_.AddTask();
    has_gold_.push_back(false);
    posterior_.insert(posterior_.end(), K_, K_ > 0 ? 1.0 / K_ : 0.0);
    task_epoch_.push_back(0);
  }
  return id;
}

int32_t StreamingModel::InternWorker(std::string_view name) {
  const int32_t before = workers_.size();
  const int32_t id = workers_.Intern(name);
  if (id == before) {
    counts_.insert(counts_.end(), static_cast<size_t>(K_) * K_, 0.0);
    worker_answers_.push_back(0);
    excluded_.push_back(false);
    if (has_remote_) {
      remote_counts_.insert(remote_counts_.end(), static_cast<size_t>(K_) * K_, 0.0);
      remote_answers_.push_back(0);
    }
  }
  return id;
}

absl::StatusOr<int32_t> StreamingModel::InternClass(std::string_view name) {
  const int32_t found = classes_.Find(name);
  if (found != IdTable::kNotFound) return found;
  if (K_ >= options_.max_classes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "class '", std::string(name), "' would exceed the project's limit of ",
        options_.max_classes, " classes: raise max_classes or declare the classes in the config"));
  }
  const int32_t id = classes_.Intern(name);
  GrowClasses(K_ + 1);
  class_rank_ = SortedRank(classes_);
  return id;
}

void StreamingModel::GrowClasses(int32_t new_k) {
  const int32_t old_k = K_;
  std::vector<double> posterior(static_cast<size_t>(num_tasks()) * new_k, 0.0);
  for (int32_t t = 0; t < num_tasks(); ++t) {
    for (int k = 0; k < old_k; ++k) posterior[t * new_k + k] = posterior_[t * old_k + k];
    if (old_k == 0) {
      for (int k = 0; k < new_k; ++k) posterior[t * new_k + k] = 1.0 / new_k;
    }
  }
  auto grow = [&](const std::vector<double>& from) {
    std::vector<double> to(static_cast<size_t>(num_workers()) * new_k * new_k, 0.0);
    for (int32_t w = 0; w < num_workers(); ++w) {
      for (int l = 0; l < old_k; ++l) {
        for (int k = 0; k < old_k; ++k) {
          to[(static_cast<size_t>(w) * new_k + l) * new_k + k] =
              from[(static_cast<size_t>(w) * old_k + l) * old_k + k];
        }
      }
    }
    return to;
  };
  // One K x K matrix, [l][k], grown as a worker's.
  auto grow_one = [&](const std::vector<double>& from) {
    std::vector<double> to(static_cast<size_t>(new_k) * new_k, 0.0);
    for (int l = 0; l < old_k; ++l) {
      for (int k = 0; k < old_k; ++k) to[l * new_k + k] = from[l * old_k + k];
    }
    return to;
  };
  posterior_ = std::move(posterior);
  counts_ = grow(counts_);
  class_counts_.resize(new_k, 0.0);
  const bool population = UsesPopulation(options_.fit);
  if (population) population_ = grow_one(population_);
  if (has_remote_) {
    remote_counts_ = grow(remote_counts_);
    remote_class_counts_.resize(new_k, 0.0);
    if (population) remote_population_ = grow_one(remote_population_);
  }
  K_ = new_k;
  SelectUpdateKernels();
}

bool StreamingModel::Active(int32_t task) const {
  if (has_gold_[task]) return true;
  for (const TaskAnswer& a : answers_.Of(task)) {
    if (!excluded_[a.worker]) return true;
  }
  return false;
}

bool StreamingModel::Counted(int32_t task) const {
  if (K_ == 0 || !Active(task)) return false;
  int64_t counted = 0;
  for (const TaskAnswer& a : answers_.Of(task)) counted += excluded_[a.worker] ? 0 : 1;
  return !PredictedOnly(options_.fit, counted, has_gold_[task]);
}

WorkerModel StreamingModel::ModelOf(int32_t worker) const {
  return WorkerModelOf(options_.fit, worker_answers_[worker] + RemoteAnswers(worker));
}

const double* StreamingModel::ParameterCounts(int32_t worker, double* scratch) const {
  const size_t kk = static_cast<size_t>(K_) * K_;
  const double* local = counts_.data() + worker * kk;
  if (!has_remote_) return local;
  const double* remote = remote_counts_.data() + worker * kk;
  for (size_t i = 0; i < kk; ++i) scratch[i] = local[i] + remote[i];
  return scratch;
}

void StreamingModel::ParameterClassCounts(double* out) const {
  for (int k = 0; k < K_; ++k) out[k] = class_counts_[k] + (has_remote_ ? remote_class_counts_[k] : 0.0);
}

void StreamingModel::ParameterPopulation(double* out) const {
  const size_t kk = static_cast<size_t>(K_) * K_;
  for (size_t i = 0; i < kk; ++i) out[i] = population_[i] + (has_remote_ ? remote_population_[i] : 0.0);
}

std::vector<double> StreamingModel::PopulationCounts() const {
  if (!UsesPopulation(options_.fit)) return {};
  std::vector<double> out(static_cast<size_t>(K_) * K_);
  ParameterPopulation(out.data());
  return out;
}

void StreamingModel::EnsureRemote() {
  if (has_remote_) return;
  has_remote_ = true;
  remote_counts_.assign(counts_.size(), 0.0);
  remote_answers_.assign(num_workers(), 0);
  remote_class_counts_.assign(K_, 0.0);
  if (UsesPopulation(options_.fit)) remote_population_.assign(static_cast<size_t>(K_) * K_, 0.0);
}

bool StreamingModel::ClearRemote() {
  if (!has_remote_) return false;
  const auto nonzero = [](double v) { return v != 0.0; };
  if (std::any_of(remote_counts_.begin(), remote_counts_.end(), nonzero) ||
      std::any_of(remote_class_counts_.begin(), remote_class_counts_.end(), nonzero) ||
      std::any_of(remote_answers_.begin(), remote_answers_.end(), [](int64_t n) { return n != 0; })) {
    return false;
  }
  // remote_population_ is their sum: zero up to the rounding of
  // SetRemoteWorker's differences, which goes with it.
  has_remote_ = false;
  std::vector<double>().swap(remote_counts_);
  std::vector<int64_t>().swap(remote_answers_);
  std::vector<double>().swap(remote_class_counts_);
  std::vector<double>().swap(remote_population_);
  ++version_;
  return true;
}

void StreamingModel::SetRemoteWorker(int32_t worker, std::span<const double> counts,
                                     int64_t answers) {
  EnsureRemote();
  const size_t kk = static_cast<size_t>(K_) * K_;
  double* remote = remote_counts_.data() + worker * kk;
  if (!remote_population_.empty() && !excluded_[worker]) {
    // The population follows the worker's change: out with the old, in with the new.
    for (size_t i = 0; i < std::min(kk, counts.size()); ++i) remote_population_[i] += counts[i] - remote[i];
  }
  std::copy(counts.begin(), counts.begin() + std::min(kk, counts.size()), remote);
  remote_answers_[worker] = answers;
  ++version_;
}

void StreamingModel::SetRemoteClassCounts(std::span<const double> class_counts) {
  EnsureRemote();
  std::copy(class_counts.begin(), class_counts.begin() + std::min<size_t>(K_, class_counts.size()),
            remote_class_counts_.begin());
  ++version_;
}

void StreamingModel::Contribute(int32_t task, double sign) {
  if (!Counted(task)) return;
  (this->*contribute_)(task, sign);
}

template <int kK>
void StreamingModel::ContributeFor(int32_t task, double sign) {
  using Row = ClassRow<kK>;
  using MutRow = MutableClassRow<kK>;
  const int K = kK == Eigen::Dynamic ? K_ : kK;  // a constant where known: unrolled loops
  const Row p(posterior_.data() + static_cast<size_t>(task) * K, K);
  MutRow(class_counts_.data(), K) += sign * p;
  for (const TaskAnswer& a : answers_.Of(task)) {
    MutRow(counts_.data() + (static_cast<size_t>(a.worker) * K + a.label) * K, K) += sign * p;
  }
  if (!population_.empty()) {
    for (const TaskAnswer& a : answers_.Of(task)) {
      if (excluded_[a.worker]) continue;
      MutRow(population_.data() + static_cast<size_t>(a.label) * K, K) += sign * p;
    }
  }
}

void StreamingModel::EStep(int32_t task) {
  if (K_ == 0) return;
  (this->*estep_)(task);
}

template <int kK>
void StreamingModel::EStepFor(int32_t task) {
  using Row = ClassRow<kK>;
  using MutRow = MutableClassRow<kK>;
  const int K = kK == Eigen::Dynamic ? K_ : kK;  // a constant where known: unrolled loops
  double* p = posterior_.data() + static_cast<size_t>(task) * K;
  MutRow posterior(p, K);
  if (has_gold_[task]) {
    posterior.setZero();
    p[Gold(task)] = 1.0;
    return;
  }
  // In probability space (no logs on the hot path): P(k) prod_a P(l_a | k),
  // rescaled whenever it gets small so that it cannot underflow.
  double population_stack[16 * 16];
  std::vector<double> population_heap;
  double* population = nullptr;
  if (!population_.empty()) {
    population = population_stack;
    if (K > 16) {
      population_heap.resize(static_cast<size_t>(K) * K);
      population = population_heap.data();
    }
    ParameterPopulation(population);
  }
  const WorkerPrior prior = WorkerPriorOf(options_.fit, population);
  double likelihood[kMaxStackClasses];
  double sum_stack[16 * 16];  // local + remote counts of one worker, K <= 16
  std::vector<double> heap, sum_heap;
  double* l = likelihood;
  double* scratch = sum_stack;
  if (K > kMaxStackClasses) {
    heap.resize(K);
    l = heap.data();
  }
  if (has_remote_ && K > 16) {
    sum_heap.resize(static_cast<size_t>(K) * K);
    scratch = sum_heap.data();
  }
  if (has_remote_) {
    ParameterClassCounts(scratch);
    ClassPriorProbabilities(scratch, K, options_.fit.prior, VariationalClassPrior(options_.fit), p);
  } else {
    ClassPriorProbabilities(class_counts_.data(), K, options_.fit.prior,
                            VariationalClassPrior(options_.fit), p);
  }
  for (const TaskAnswer& a : answers_.Of(task)) {
    if (excluded_[a.worker]) continue;
    likelihood_(ParameterCounts(a.worker, scratch), K, prior, ModelOf(a.worker), a.label, l);
    posterior *= Row(l, K);
    // The largest entry, in class order (a reduction: the same on every build).
    double max = 0;
    for (int k = 0; k < K; ++k) max = std::max(max, p[k]);
    if (max > 0 && max < 1e-150) posterior /= max;
  }
  double sum = 0;
  for (int k = 0; k < K; ++k) sum += p[k];
  posterior /= sum;
}

template <typename Change>
void StreamingModel::UpdateTask(int32_t task, Change change) {
  Contribute(task, -1.0);
  change();
  EStep(task);
  Contribute(task, +1.0);
  ++version_;
  task_epoch_[task] = sweep_epoch_;
}

bool StreamingModel::PutAnswer(int32_t task, int32_t worker, int32_t label) {
  const AnswerStore::PutResult put = answers_.Put(task, worker, label);
  if (put != AnswerStore::PutResult::kAdded) return put == AnswerStore::PutResult::kReplaced;
  ++num_answers_;
  ++worker_answers_[worker];
  return true;
}

void StreamingModel::SetAnswer(int32_t task, int32_t worker, int32_t label) {
  if (options_.repeats == DuplicatePolicy::kKeepAll) [[unlikely]] {
    return CountAnswer(task, worker, label);
  }
  const TaskAnswer* found = answers_.Find(task, worker);
  if (found != nullptr && found->label == label) return;  // a redelivery changes nothing
  UpdateTask(task, [&] { PutAnswer(task, worker, label); });
}

// Out of line, so that replace's path stays as it was (measured: inlined
// here it cost replace 5% per answer).
[[gnu::noinline]] void StreamingModel::CountAnswer(int32_t task, int32_t worker, int32_t label) {
  UpdateTask(task, [&] { AddRepeat(task, worker, label); });
}

void StreamingModel::AddRepeat(int32_t task, int32_t worker, int32_t label) {
  answers_.Add(task, worker, label);
  ++num_answers_;
  ++worker_answers_[worker];
}

void StreamingModel::LoadAnswer(int32_t task, int32_t worker, int32_t label) {
  if (options_.repeats == DuplicatePolicy::kKeepAll) {
    AddRepeat(task, worker, label);
  } else {
    PutAnswer(task, worker, label);
  }
}

bool StreamingModel::Retract(int32_t task, int32_t worker) {
  if (answers_.Find(task, worker) == nullptr) return false;
  UpdateTask(task, [&] {
    const int32_t removed = answers_.RemoveAll(task, worker);
    num_answers_ -= removed;
    worker_answers_[worker] -= removed;
  });
  return true;
}

void StreamingModel::WorkerLabels(int32_t task, int32_t worker, std::vector<int32_t>* out) const {
  out->clear();
  for (const TaskAnswer& a : answers_.Of(task)) {
    if (a.worker == worker) out->push_back(a.label);
  }
}

void StreamingModel::DropTasks(std::span<const int32_t> tasks) {
  for (const int32_t t : tasks) {
    for (const TaskAnswer& a : answers_.Of(t)) --worker_answers_[a.worker];
    num_answers_ -= static_cast<int64_t>(answers_.Of(t).size());
    answers_.Clear(t);
    StoreGold(t, kNoGold);
    if (K_ > 0) {
      std::fill(posterior_.begin() + static_cast<size_t>(t) * K_,
                posterior_.begin() + static_cast<size_t>(t + 1) * K_, 1.0 / K_);
    }
    ++version_;
    task_epoch_[t] = sweep_epoch_;
  }
  RecountFromPosteriors();
}

int32_t StreamingModel::Gold(int32_t task) const {
  if (!has_gold_[task]) return kNoGold;
  return gold_.find(task)->second;
}

void StreamingModel::StoreGold(int32_t task, int32_t label) {
  has_gold_[task] = label != kNoGold;
  if (label == kNoGold) {
    gold_.erase(task);
  } else {
    gold_[task] = static_cast<int16_t>(label);
  }
}

void StreamingModel::SetGold(int32_t task, int32_t label) {
  if (Gold(task) == label) return;
  UpdateTask(task, [&] { StoreGold(task, label); });
}

bool StreamingModel::MarkExcluded(int32_t worker, bool excluded) {
  if (excluded_[worker] == excluded) return false;
  if (!population_.empty()) {
    // The population holds exactly the included workers' counts: the
    // worker's counts leave it or join it with the flag.
    const size_t kk = static_cast<size_t>(K_) * K_;
    const double sign = excluded ? -1.0 : 1.0;
    for (size_t i = 0; i < kk; ++i) {
      population_[i] += sign * counts_[worker * kk + i];
      if (has_remote_) remote_population_[i] += sign * remote_counts_[worker * kk + i];
    }
  }
  excluded_[worker] = excluded;
  ++version_;
  return true;
}

AnswerMatrix StreamingModel::Snapshot() const {
  AnswerMatrix m;
  m.num_tasks = num_tasks();
  m.num_workers = num_workers();
  m.num_classes = K_;
  m.task_begin.resize(m.num_tasks + 1);
  m.worker.reserve(num_answers_);
  m.label.reserve(num_answers_);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    for (const TaskAnswer& a : answers_.Of(t)) {
      m.worker.push_back(a.worker);
      m.label.push_back(a.label);
    }
    m.task_begin[t + 1] = static_cast<int64_t>(m.worker.size());
  }
  m.gold.assign(static_cast<size_t>(num_tasks()), kNoGold);
  for (const auto& [task, label] : gold_) m.gold[task] = label;
  m.class_rank = class_rank_;
  return m;
}

SweepInput StreamingModel::PrepareSweep() const {
  SweepInput input;
  input.answers = Snapshot();
  input.context.excluded = excluded_;
  input.version = version_;
  input.epoch = ++sweep_epoch_;
  if (has_remote_) {
    input.context.extra_counts = remote_counts_;
    input.context.extra_class_counts = remote_class_counts_;
    input.context.extra_answers = remote_answers_;
  }
  return input;
}

absl::StatusOr<Model> StreamingModel::RunSweep(const SweepInput& input) const {
  if (input.answers.num_classes == 0) return Model{};
  return Aggregate(input.answers, options_.fit, input.context);
}

void StreamingModel::InstallSweep(const SweepInput& input, const Model& fitted) {
  const int32_t swept_k = fitted.num_classes;
  std::vector<int32_t> changed;
  for (int32_t t = 0; t < num_tasks(); ++t) {
    if (t >= input.answers.num_tasks || task_epoch_[t] >= input.epoch || swept_k == 0) {
      if (K_ > 0 && t >= input.answers.num_tasks) {
        std::fill(posterior_.begin() + static_cast<size_t>(t) * K_,
                  posterior_.begin() + static_cast<size_t>(t + 1) * K_, 1.0 / K_);
      }
      changed.push_back(t);
      continue;
    }
    double* p = posterior_.data() + static_cast<size_t>(t) * K_;
    std::fill(p, p + K_, 0.0);
    for (int k = 0; k < swept_k; ++k) p[k] = fitted.posterior[static_cast<size_t>(t) * swept_k + k];
  }
  RecountFromPosteriors();
  for (int32_t t : changed) {
    Contribute(t, -1.0);
    EStep(t);
    Contribute(t, +1.0);
  }
  last_sweep_iterations_ = fitted.iterations;
  last_sweep_log_likelihood_ = fitted.log_likelihood;
}

void StreamingModel::RecountFromPosteriors() {
  std::fill(counts_.begin(), counts_.end(), 0.0);
  std::fill(class_counts_.begin(), class_counts_.end(), 0.0);
  std::fill(population_.begin(), population_.end(), 0.0);
  if (!remote_population_.empty()) {
    // Summed afresh too, so that rounding in SetRemoteWorker's differences
    // does not accumulate.
    const size_t kk = static_cast<size_t>(K_) * K_;
    std::fill(remote_population_.begin(), remote_population_.end(), 0.0);
    for (int32_t w = 0; w < num_workers(); ++w) {
      if (excluded_[w]) continue;
      for (size_t i = 0; i < kk; ++i) remote_population_[i] += remote_counts_[w * kk + i];
    }
  }
  for (int32_t t = 0; t < num_tasks(); ++t) Contribute(t, +1.0);
}

std::span<const double> StreamingModel::Posterior(int32_t task) const {
  return {posterior_.data() + static_cast<size_t>(task) * K_, static_cast<size_t>(K_)};
}

std::vector<double> StreamingModel::ClassPrior() const {
  std::vector<double> prior(K_);
  if (K_ == 0) return prior;
  std::vector<double> counts(K_);
  ParameterClassCounts(counts.data());
  ClassLogPrior(counts.data(), K_, options_.fit.prior, VariationalClassPrior(options_.fit),
                prior.data());
  double sum = 0;
  for (double& p : prior) sum += (p = std::exp(p));
  if (VariationalClassPrior(options_.fit)) {
    for (double& p : prior) p /= sum;  // as batch EM reports it (exp(E log) sums to less than 1)
  }
  return prior;
}

int32_t StreamingModel::Label(int32_t task) const {
  if (K_ == 0) return -1;
  return ArgMax(Posterior(task), ClassPrior(), class_rank_, options_.fit.tie_break);
}

double StreamingModel::Confidence(int32_t task) const {
  const int32_t label = Label(task);
  return label < 0 ? 0.0 : Posterior(task)[label];
}

std::vector<double> StreamingModel::Confusion(int32_t worker) const {
  std::vector<double> out(static_cast<size_t>(K_) * K_);
  std::vector<double> scratch(out.size());
  const std::vector<double> population = PopulationCounts();
  WorkerConfusion(ParameterCounts(worker, scratch.data()), K_,
                  WorkerPriorOf(options_.fit, population.empty() ? nullptr : population.data()),
                  ModelOf(worker), out.data());
  return out;
}

Model StreamingModel::ToModel() const {
  Model m;
  m.num_classes = K_;
  m.posterior = posterior_;
  m.class_prior = ClassPrior();
  m.label.resize(num_tasks());
  for (int32_t t = 0; t < num_tasks(); ++t) m.label[t] = Label(t);
  m.confusion.reserve(counts_.size());
  for (int32_t w = 0; w < num_workers(); ++w) {
    const std::vector<double> c = Confusion(w);
    m.confusion.insert(m.confusion.end(), c.begin(), c.end());
  }
  m.iterations = last_sweep_iterations_;
  m.log_likelihood = last_sweep_log_likelihood_;
  return m;
}

}  // namespace consensusd::consensus
