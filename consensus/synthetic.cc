#include "consensus/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cassert>
#include <random>
#include <span>
#include <vector>

namespace consensusd::consensus {
namespace {

// Every probability is drawn as an integer weight out of kOne and sampled with
// integer comparisons on raw std::mt19937_64 outputs (whose sequence the C++
// standard fixes), so a seed gives the same data on every platform and
// compiler: no std::*_distribution (implementation-defined), no libm, and no
// floating-point rounding or FMA contraction in any sampling decision. The
// doubles handed out are weight / 2^32, exact, so every row sums to exactly 1.
constexpr uint64_t kOne = uint64_t{1} << 32;

using Rng = std::mt19937_64;

// Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; bias < n / 2^64).
uint64_t Below(Rng& rng, uint64_t n) {
  __extension__ using Uint128 = unsigned __int128;
  return static_cast<uint64_t>((Uint128{rng()} * n) >> 64);
}

// Uniform in [lo, hi].
uint64_t Between(Rng& rng, uint64_t lo, uint64_t hi) { return lo + Below(rng, hi - lo + 1); }

// Splits `mass` over `out` in proportion to random weights; exact: the parts sum to mass.
void SplitMass(Rng& rng, uint64_t mass, std::span<uint64_t> out) {
  if (out.empty()) return;
  constexpr uint64_t kWeightRange = uint64_t{1} << 24;  // mass * weight fits in 64 bits
  uint64_t weights_sum = 0;
  for (uint64_t& w : out) weights_sum += (w = 1 + Below(rng, kWeightRange));
  uint64_t left = mass;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    out[i] = mass * out[i] / weights_sum;
    left -= out[i];
  }
  out.back() = left;
}

// Index drawn from integer weights summing to kOne; `u` uniform in [0, kOne).
int32_t Pick(std::span<const uint64_t> weights, uint64_t u) {
  uint64_t acc = 0;
  for (size_t k = 0; k + 1 < weights.size(); ++k) {
    acc += weights[k];
    if (u < acc) return static_cast<int32_t>(k);
  }
  return static_cast<int32_t>(weights.size()) - 1;
}

uint64_t UnitDraw(Rng& rng) { return rng() >> 32; }  // uniform in [0, kOne)

// Confusion matrices are K x K weights, each row summing to kOne.
enum class WorkerKind { kReliable, kSpammer, kBiased };

// Reliable: P(k | k) uniform in [0.6, 0.95], the rest spread randomly over the other classes.
void ReliableRows(Rng& rng, int K, std::span<uint64_t> rows) {
  for (int k = 0; k < K; ++k) {
    std::span<uint64_t> row = rows.subspan(static_cast<size_t>(k) * K, K);
    if (K == 1) {
      row[0] = kOne;
      continue;
    }
    const uint64_t diagonal = Between(rng, kOne / 20 * 12, kOne / 20 * 19);
    std::vector<uint64_t> others(K - 1);
    SplitMass(rng, kOne - diagonal, others);
    for (int l = 0, o = 0; l < K; ++l) row[l] = l == k ? diagonal : others[o++];
  }
}

void WorkerRows(Rng& rng, WorkerKind kind, int K, std::span<uint64_t> rows) {
  switch (kind) {
    case WorkerKind::kReliable:
      ReliableRows(rng, K, rows);
      return;
    case WorkerKind::kSpammer: {
      // Answers independent of the truth: every row the same random distribution.
      SplitMass(rng, kOne, rows.first(K));
      for (int k = 1; k < K; ++k) std::copy_n(rows.begin(), K, rows.begin() + k * K);
      return;
    }
    case WorkerKind::kBiased: {
      // A reliable worker who moves a share (30-70%) of every other answer to a favourite class.
      ReliableRows(rng, K, rows);
      const int favourite = static_cast<int>(Below(rng, K));
      const uint64_t share = Between(rng, 30, 70);
      for (int k = 0; k < K; ++k) {
        std::span<uint64_t> row = rows.subspan(static_cast<size_t>(k) * K, K);
        for (int l = 0; l < K; ++l) {
          if (l == favourite) continue;
          const uint64_t moved = row[l] * share / 100;
          row[l] -= moved;
          row[favourite] += moved;
        }
      }
      return;
    }
  }
}

// Walker's alias method on integer weights: O(1) draws from a fixed
// distribution, with exact integer bucket thresholds.
class AliasTable {
 public:
  // REQUIRES: each weight <= 2^32, weights.size() < 2^31. Draw() needs a positive total.
  explicit AliasTable(std::span<const uint64_t> weights)
      : threshold_(weights.size()), alias_(weights.size()) {
    const uint64_t n = weights.size();
    total_ = 0;
    for (uint64_t w : weights) total_ += w;
    // Bucket i holds scaled mass threshold_[i] of i and total_ - threshold_[i] of alias_[i].
    std::vector<uint64_t> scaled(n);
    std::vector<uint32_t> small, large;
    for (uint64_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * n;
      (scaled[i] < total_ ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t s = small.back();
      small.pop_back();
      const uint32_t l = large.back();
      threshold_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= total_ - scaled[s];
      if (scaled[l] < total_) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : small) threshold_[i] = total_, alias_[i] = i;
    for (uint32_t i : large) threshold_[i] = total_, alias_[i] = i;
  }

  int32_t Draw(Rng& rng) const {
    const uint64_t bucket = Below(rng, threshold_.size());
    return static_cast<int32_t>(Below(rng, total_) < threshold_[bucket] ? bucket : alias_[bucket]);
  }

 private:
  uint64_t total_;
  std::vector<uint64_t> threshold_;
  std::vector<uint32_t> alias_;
};

// A worker not in `chosen`, uniformly. REQUIRES: chosen.size() < num_workers.
int32_t UnchosenWorker(Rng& rng, int32_t num_workers, std::vector<int32_t> chosen) {
  std::sort(chosen.begin(), chosen.end());
  int32_t w = static_cast<int32_t>(Below(rng, num_workers - chosen.size()));
  for (int32_t c : chosen) w += c <= w ? 1 : 0;
  return w;
}

}  // namespace

SyntheticData Synthesize(const SyntheticOptions& options) {
  assert(options.classes >= 1);
  const int K = std::max(options.classes, 1);
  const int32_t num_tasks = std::max(options.tasks, 0);
  const int32_t num_workers = std::max(options.workers, 0);
  const int32_t per_task = std::clamp(options.answers_per_task, 0, num_workers);

  // The model comes from one stream and the answers from another, so more
  // tasks with the same seed keep the same workers and extend the same tasks.
  Rng model_rng(options.seed);
  Rng answer_rng(model_rng());

  SyntheticData d;
  // Class priors: each at least 0.5/K, the other half split at random.
  std::vector<uint64_t> prior(K);
  SplitMass(model_rng, kOne - kOne / (2 * K) * K, prior);
  for (uint64_t& p : prior) p += kOne / (2 * K);
  d.class_prior.assign(prior.begin(), prior.end());
  for (double& p : d.class_prior) p /= static_cast<double>(kOne);

  // Workers: 80% reliable, 10% spammers, 10% biased, independently drawn.
  const size_t kk = static_cast<size_t>(K) * K;
  std::vector<uint64_t> rows(kk * num_workers);
  for (int32_t w = 0; w < num_workers; ++w) {
    const uint64_t kind = Below(model_rng, 10);
    WorkerRows(model_rng,
               kind < 8 ? WorkerKind::kReliable
                        : (kind == 8 ? WorkerKind::kSpammer : WorkerKind::kBiased),
               K, std::span<uint64_t>(rows).subspan(kk * w, kk));
  }
  d.confusion.assign(rows.begin(), rows.end());
  for (double& p : d.confusion) p /= static_cast<double>(kOne);

  // Answer volumes follow a Zipf-Mandelbrot law, weight 1 / (rank + q) with
  // q = 1 + workers / 50, over a random ranking of the workers: the busiest
  // worker is drawn about 50 times as often as the least busy (about 1% and
  // 0.025% of draws with 1,000 workers), so every worker gets answers once
  // tasks * R >> workers.
  std::vector<uint64_t> volume(num_workers);
  const uint64_t q = 1 + static_cast<uint64_t>(num_workers) / 50;
  for (int32_t w = 0; w < num_workers; ++w) volume[w] = kOne / (w + q);
  for (int32_t w = num_workers - 1; w > 0; --w) {
    std::swap(volume[w], volume[Below(model_rng, w + 1)]);
  }

  AnswerMatrix& m = d.answers;
  m.num_tasks = num_tasks;
  m.num_workers = num_workers;
  m.num_classes = K;
  m.gold.assign(num_tasks, kNoGold);
  m.class_rank.resize(K);
  for (int k = 0; k < K; ++k) m.class_rank[k] = k;
  m.task_begin.assign(static_cast<size_t>(num_tasks) + 1, 0);
  const size_t num_answers = static_cast<size_t>(num_tasks) * per_task;
  m.worker.resize(num_answers);
  m.label.resize(num_answers);
  d.truth.resize(num_tasks);
  if (num_tasks == 0) return d;

  const AliasTable by_volume(volume);
  std::vector<int32_t> chosen;
  chosen.reserve(per_task);
  // Retries on a repeated worker before falling back to a uniform unchosen
  // one; reached only when R is close to the number of workers.
  constexpr int kMaxRetries = 32;
  size_t a = 0;
  for (int32_t t = 0; t < num_tasks; ++t) {
    const int32_t truth = Pick(prior, UnitDraw(answer_rng));
    d.truth[t] = truth;
    chosen.clear();
    for (int32_t r = 0; r < per_task; ++r) {
      int32_t w = by_volume.Draw(answer_rng);
      for (int retry = 0; std::find(chosen.begin(), chosen.end(), w) != chosen.end(); ++retry) {
        w = retry < kMaxRetries ? by_volume.Draw(answer_rng)
                                : UnchosenWorker(answer_rng, num_workers, chosen);
      }
      chosen.push_back(w);
      const uint64_t* row = rows.data() + kk * w + static_cast<size_t>(truth) * K;
      m.worker[a] = w;
      m.label[a] = Pick({row, static_cast<size_t>(K)}, UnitDraw(answer_rng));
      ++a;
    }
    m.task_begin[t + 1] = static_cast<int64_t>(a);
  }
  return d;
}

double BayesOptimalAccuracy(const SyntheticData& d) {
  const AnswerMatrix& m = d.answers;
  const int K = m.num_classes;
  if (m.num_tasks == 0) return 0;
  int64_t right = 0;
  std::vector<double> s(K);
  for (int32_t t = 0; t < m.num_tasks; ++t) {
    // log P(k) + sum_a log P(l_a | k), the true parameters.
    for (int k = 0; k < K; ++k) s[k] = std::log(d.class_prior[k]);
    for (int64_t a = m.task_begin[t]; a < m.task_begin[t + 1]; ++a) {
      const double* rows = d.confusion.data() + static_cast<size_t>(m.worker[a]) * K * K;
      for (int k = 0; k < K; ++k) s[k] += std::log(rows[k * K + m.label[a]]);
    }
    int best = 0;
    for (int k = 1; k < K; ++k) best = s[k] > s[best] ? k : best;
    right += best == d.truth[t];
  }
  return static_cast<double>(right) / m.num_tasks;
}

}  // namespace consensusd::consensus
