// The body of the EM kernels (em_kernel.h), included by em_kernel_baseline.cc,
// em_kernel_avx2.cc and em_kernel_avx512.cc, each compiled for its instruction
// set; CONSENSUSD_EM_ISA names the namespace of each copy so that the three
// instantiations of the same templates never meet at link time.
#ifndef CONSENSUSD_EM_ISA
#error "define CONSENSUSD_EM_ISA before including em_kernel_impl.h"
#endif

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "consensus/answer_matrix.h"
#include "consensus/class_array.h"
#include "consensus/em_kernel.h"
#include "consensus/exp_non_positive.h"

namespace consensusd::consensus::CONSENSUSD_EM_ISA {
namespace {

// kK: the number of classes when known at compile time, else Eigen::Dynamic.
template <int kK>
struct Kernel {
  using Row = ClassRow<kK>;
  using MutRow = MutableClassRow<kK>;

  // Posterior of task t, written to p. Sets task_max to
  // max_k log P(answers[, gold], class k) and returns the normaliser in [1, K]:
  // the task's log-likelihood is task_max + log(normaliser). s, e: K doubles of
  // scratch each, padded to a multiple of kExpLanes, s's padding 0.
  static double EStep(const EmPassData& d, int32_t t, double* p, double* s, double* e, double& task_max) {
    const int K = d.num_classes;
    MutRow sum(s, K);
    sum = Row(d.log_prior, K);
    for (int64_t a = d.task_begin[t]; a < d.task_begin[t + 1]; ++a) {
      sum += Row(d.log_pi + (static_cast<size_t>(d.worker[a]) * K + d.label[a]) * K, K);
    }
    const int32_t gold = d.gold[t];
    if (gold != kNoGold) {
      task_max = s[gold];
      MutRow(p, K).setZero();
      p[gold] = 1.0;
      return 1;
    }
    if (!d.active[t]) {
      double total = 0;
      for (int k = 0; k < K; ++k) total += (p[k] = std::exp(d.log_prior[k]));
      if (d.normalise_prior) MutRow(p, K) /= total;
      task_max = 0;
      return 1;
    }
    // Reductions in class order, so that every instruction set adds alike.
    double max = s[0];
    for (int k = 1; k < K; ++k) max = std::max(max, s[k]);
    // The exps first, a register at a time into e (s and e have room for
    // the padding; s's stays 0), then their sum in class order.
    MutRow(s, K) -= max;
    ExpNonPositivePadded(s, e, K);
    double total = 0;
    for (int k = 0; k < K; ++k) total += (p[k] = e[k]);
    MutRow(p, K) *= 1.0 / total;
    task_max = max;
    return total;
  }

  static double Pass(const EmPassData& d, int32_t first, int32_t end, bool e_step, double* counts) {
    const int K = d.num_classes;
    const size_t cells = static_cast<size_t>(d.num_workers) * K * K;
    std::fill(counts, counts + cells + K, 0.0);
    MutRow class_counts(counts + cells, K);
    // Scratch: on the stack for a known K, one buffer per chunk otherwise.
    // s: the task's log terms, padded with zeros to a multiple of kExpLanes.
    constexpr int kPadded = kK > 0 ? (kK + kExpLanes - 1) / kExpLanes * kExpLanes : 1;
    double fixed[2 * kPadded] = {};
    std::vector<double> dynamic;
    double* s = fixed;
    int padded = kPadded;
    if constexpr (kK == Eigen::Dynamic) {
      padded = (K + kExpLanes - 1) / kExpLanes * kExpLanes;
      dynamic.assign(2 * static_cast<size_t>(padded), 0.0);
      s = dynamic.data();
    }
    // e: the exps in the E-step; then q, a copy of the posterior (the count
    // updates cannot alias it).
    double* e = s + padded;
    double* q = e;
    // The chunk's log-likelihood, sum_t (max_t + log norm_t), is kept as
    // sum_t max_t plus log prod_t norm_t, the product held as a mantissa and
    // a binary exponent: one log per chunk instead of one per task. Each
    // norm_t is in [1, K] with K < 2^31, so the product cannot overflow
    // between renormalisations.
    double ll_max = 0, ll_mantissa = 1;
    int64_t ll_exponent = 0;
    for (int32_t t = first; t < end; ++t) {
      double* p = d.posterior + static_cast<size_t>(t) * K;
      if (e_step) {
        double task_max;
        const double norm = EStep(d, t, p, s, e, task_max);
        if (d.fitted[t]) {
          ll_max += task_max;
          ll_mantissa *= norm;
          if (ll_mantissa > 0x1p900) {
            int exponent;
            ll_mantissa = std::frexp(ll_mantissa, &exponent);
            ll_exponent += exponent;
          }
        }
      }
      if (!d.fitted[t]) continue;
      MutRow posterior(q, K);
      posterior = Row(p, K);
      class_counts += posterior;
      for (int64_t a = d.task_begin[t]; a < d.task_begin[t + 1]; ++a) {
        MutRow(counts + (static_cast<size_t>(d.worker[a]) * K + d.label[a]) * K, K) += posterior;
      }
    }
    if (!e_step) return 0;
    return ll_max + (std::log(ll_mantissa) + static_cast<double>(ll_exponent) * std::numbers::ln2);
  }
};

}  // namespace

// Fixed-size kernels (unrolled, the rows in vector registers) for every K up to
// kMaxFixedClasses; the dynamic one beyond.
EmChunkKernel Select(int32_t num_classes) {
  return SelectForClasses(num_classes,
                          [](auto k) -> EmChunkKernel { return &Kernel<decltype(k)::value>::Pass; });
}

}  // namespace consensusd::consensus::CONSENSUSD_EM_ISA
