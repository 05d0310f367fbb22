// The EM chunk kernels: every instruction set the CPU has computes the same
// bits as a plain scalar reference, for the fixed-size (K <= 16) and dynamic
// kernels, with gold, inactive and unfitted tasks.
#include "consensus/em_kernel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "consensus/answer_matrix.h"
#include "consensus/exp_non_positive.h"

namespace consensusd::consensus {
namespace {

// Random answers and parameters with every kind of task.
struct Problem {
  int32_t K = 0, num_workers = 0, num_tasks = 0;
  std::vector<int64_t> task_begin = {0};
  std::vector<int32_t> worker, label, gold;
  std::vector<char> active, fitted;
  std::vector<double> log_pi, log_prior;
  bool normalise_prior = false;

  Problem(int32_t classes, uint32_t seed) : K(classes), num_workers(37), num_tasks(700) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> answers(0, 6), any_worker(0, num_workers - 1),
        any_label(0, K - 1), kind(0, 9);
    std::uniform_real_distribution<double> logp(-9.0, 0.0);
    for (int32_t t = 0; t < num_tasks; ++t) {
      const int32_t n = answers(rng);
      for (int32_t a = 0; a < n; ++a) {
        worker.push_back(any_worker(rng));
        label.push_back(any_label(rng));
      }
      task_begin.push_back(static_cast<int64_t>(worker.size()));
      const int32_t k = kind(rng);
      gold.push_back(k == 0 ? any_label(rng) : kNoGold);
      active.push_back(n > 0 || gold.back() != kNoGold ? (k == 1 ? 0 : 1) : 0);
      fitted.push_back(active.back() && k != 2);
    }
    log_pi.resize(static_cast<size_t>(num_workers) * K * K);
    for (double& x : log_pi) x = logp(rng);
    log_prior.resize(K);
    for (double& x : log_prior) x = logp(rng);
    normalise_prior = seed % 2 == 1;
  }

  EmPassData Data(double* posterior) const {
    return {.num_classes = K,
            .num_workers = num_workers,
            .task_begin = task_begin.data(),
            .worker = worker.data(),
            .label = label.data(),
            .gold = gold.data(),
            .active = active.data(),
            .fitted = fitted.data(),
            .log_pi = log_pi.data(),
            .log_prior = log_prior.data(),
            .normalise_prior = normalise_prior,
            .posterior = posterior};
  }
};

// The arithmetic the kernels must do, one scalar at a time, in the same order.
double ReferencePass(const Problem& pr, int32_t first, int32_t end, bool e_step, double* post,
                     double* counts) {
  const int K = pr.K;
  const size_t cells = static_cast<size_t>(pr.num_workers) * K * K;
  std::fill(counts, counts + cells + K, 0.0);
  double ll_max = 0, ll_mantissa = 1;
  int64_t ll_exponent = 0;
  std::vector<double> s(K);
  for (int32_t t = first; t < end; ++t) {
    double* p = post + static_cast<size_t>(t) * K;
    if (e_step) {
      double task_max = 0, norm = 1;
      for (int k = 0; k < K; ++k) s[k] = pr.log_prior[k];
      for (int64_t a = pr.task_begin[t]; a < pr.task_begin[t + 1]; ++a) {
        const double* row = pr.log_pi.data() + (static_cast<size_t>(pr.worker[a]) * K + pr.label[a]) * K;
        for (int k = 0; k < K; ++k) s[k] += row[k];
      }
      if (pr.gold[t] != kNoGold) {
        task_max = s[pr.gold[t]];
        for (int k = 0; k < K; ++k) p[k] = k == pr.gold[t] ? 1.0 : 0.0;
      } else if (!pr.active[t]) {
        double sum = 0;
        for (int k = 0; k < K; ++k) sum += (p[k] = std::exp(pr.log_prior[k]));
        if (pr.normalise_prior) {
          for (int k = 0; k < K; ++k) p[k] /= sum;
        }
      } else {
        double max = s[0];
        for (int k = 1; k < K; ++k) max = std::max(max, s[k]);
        double sum = 0;
        for (int k = 0; k < K; ++k) sum += (p[k] = ExpNonPositive(s[k] - max));
        const double inv = 1.0 / sum;
        for (int k = 0; k < K; ++k) p[k] *= inv;
        task_max = max;
        norm = sum;
      }
      if (pr.fitted[t]) {
        ll_max += task_max;
        ll_mantissa *= norm;
        if (ll_mantissa > 0x1p900) {
          int exponent;
          ll_mantissa = std::frexp(ll_mantissa, &exponent);
          ll_exponent += exponent;
        }
      }
    }
    if (!pr.fitted[t]) continue;
    for (int k = 0; k < K; ++k) counts[cells + k] += p[k];
    for (int64_t a = pr.task_begin[t]; a < pr.task_begin[t + 1]; ++a) {
      double* cell = counts + (static_cast<size_t>(pr.worker[a]) * K + pr.label[a]) * K;
      for (int k = 0; k < K; ++k) cell[k] += p[k];
    }
  }
  if (!e_step) return 0;
  return ll_max + (std::log(ll_mantissa) + static_cast<double>(ll_exponent) * std::numbers::ln2);
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

class EmKernelTest : public ::testing::TestWithParam<int32_t> {};

TEST_P(EmKernelTest, EveryInstructionSetComputesTheReferenceBits) {
  const int32_t K = GetParam();
  for (uint32_t seed : {1u, 2u}) {
    const Problem pr(K, seed);
    const size_t posterior_size = static_cast<size_t>(pr.num_tasks) * K;
    const size_t counts_size = static_cast<size_t>(pr.num_workers) * K * K + K;
    // A start from a previous pass, for the pass without an E-step.
    std::vector<double> start(posterior_size);
    std::mt19937 rng(seed);
    for (double& x : start) x = std::uniform_real_distribution<double>(0, 1)(rng);
    for (bool e_step : {true, false}) {
      std::vector<double> want_post = start, want_counts(counts_size, -1.0);
      const double want_ll = ReferencePass(pr, 3, pr.num_tasks - 5, e_step, want_post.data(), want_counts.data());
      for (Isa isa : {Isa::kBaseline, Isa::kAvx2, Isa::kAvx512}) {
        if (!CpuSupports(isa)) continue;
        SCOPED_TRACE(::testing::Message() << "K " << K << ", seed " << seed << ", isa " << IsaName(isa)
                                          << ", e_step " << e_step);
        std::vector<double> post = start, counts(counts_size, -1.0);
        const double ll = EmChunkKernelFor(isa, K)(pr.Data(post.data()), 3, pr.num_tasks - 5, e_step,
                                                   counts.data());
        EXPECT_TRUE(SameBits(post, want_post));
        EXPECT_TRUE(SameBits(counts, want_counts));
        EXPECT_EQ(std::memcmp(&ll, &want_ll, sizeof ll), 0) << ll << " vs " << want_ll;
      }
    }
  }
}

// 2-16: the fixed-size kernels; 1, 17, 33: the dynamic one.
INSTANTIATE_TEST_SUITE_P(Classes, EmKernelTest, ::testing::Values(1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 33));

// Distance in units in the last place between two positive doubles.
int64_t UlpDistance(double a, double b) {
  int64_t ia, ib;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  return ia > ib ? ia - ib : ib - ia;
}

TEST(ExpNonPositiveTest, IsWithinTwoUlpOfTheCLibrary) {
  std::mt19937_64 rng(11);
  int64_t worst = 0;
  double worst_x = 0;
  auto check = [&](double x) {
    const int64_t d = UlpDistance(ExpNonPositive(x), std::exp(x));
    if (d > worst) worst = d, worst_x = x;
  };
  // Uniform over [-708, 0], dense near 0 (where posteriors live), and the
  // edges of the reduction (x near multiples of ln2 / 2).
  for (int i = 0; i < 200000; ++i) check(-std::uniform_real_distribution<double>(0, 708)(rng));
  for (int i = 0; i < 200000; ++i) check(-std::uniform_real_distribution<double>(0, 2)(rng));
  for (int n = 0; n <= 2042; ++n) {
    const double edge = -n * std::numbers::ln2 / 2;
    for (double x : {std::nextafter(edge, 0.0), edge, std::nextafter(edge, -1.0)}) {
      if (x >= -708 && x <= 0) check(x);
    }
  }
  check(-708.0);
  check(-1e-300);
  EXPECT_LE(worst, 2) << "at x = " << worst_x;
}

TEST(ExpNonPositiveTest, IsOneAtZeroAndZeroFarBelow) {
  EXPECT_EQ(ExpNonPositive(0.0), 1.0);
  EXPECT_EQ(ExpNonPositive(-0.0), 1.0);
  EXPECT_GT(ExpNonPositive(-708.0), 0.0);
  EXPECT_EQ(ExpNonPositive(-708.5), 0.0);
  EXPECT_EQ(ExpNonPositive(-1e308), 0.0);
  EXPECT_EQ(ExpNonPositive(-std::numeric_limits<double>::infinity()), 0.0);
}

// exp is increasing: a larger log posterior never gets a smaller weight.
TEST(ExpNonPositiveTest, NeverDecreases) {
  double previous = 0;
  for (double x = -708; x <= 0; x += 0.0137) {
    const double y = ExpNonPositive(x);
    ASSERT_GE(y, previous) << "at x = " << x;
    previous = y;
  }
}

TEST(IsaTest, NamesRoundTripAndTheBaselineIsAlwaysThere) {
  for (Isa isa : {Isa::kBaseline, Isa::kAvx2, Isa::kAvx512}) EXPECT_EQ(ParseIsa(IsaName(isa)), isa);
  EXPECT_EQ(ParseIsa("sse9"), std::nullopt);
  EXPECT_TRUE(CpuSupports(Isa::kBaseline));
  EXPECT_TRUE(CpuSupports(EmKernelIsa()));
  // AVX-512 here implies AVX2 (the kernels built for it use both).
  if (CpuSupports(Isa::kAvx512)) {
    EXPECT_TRUE(CpuSupports(Isa::kAvx2));
  }
}

}  // namespace
}  // namespace consensusd::consensus
