// exp(x) for x <= 0, as the EM E-step needs it (a task's log posterior minus
// its maximum), written in basic IEEE operations only (multiply, add,
// subtract, and integer arithmetic on the bits) so that:
//
//  - it gives the same bits on every instruction set when compiled without
//    floating-point contraction (cmake/isa.cmake): SSE2, AVX2 and AVX-512
//    builds of the kernel agree byte for byte, which a call to the C
//    library's exp also gives, but
//  - a loop over the classes of a task vectorises (no call, no branch): a
//    scalar call of the C library's exp per class was 40% of a ds iteration
//    at K = 4.
//
// Accuracy: within 2 ulp of exp on [-708, 0] (ExpNonPositiveTest checks it
// against the C library), exactly 1 at 0. Below -708 it returns 0: the
// task's largest term is exp(0) = 1, so a term under e^-708 is below the
// resolution of the posterior's sum by some 300 orders of magnitude.
#ifndef CONSENSUSD_CONSENSUS_EXP_NON_POSITIVE_H_
#define CONSENSUSD_CONSENSUS_EXP_NON_POSITIVE_H_

#include <bit>
#include <cstdint>
#include <cstring>

namespace consensusd::consensus {

namespace exp_internal {

// One register of doubles and of 64-bit words, in GCC's vector extensions:
// 4 lanes on AVX2 and AVX-512 builds (8 lanes cost more for the usual K of
// 2 to 10 than they gain), 2 on the baseline (SSE2). The operations are the
// same IEEE ones lane by lane, so the width changes the speed and not the bits.
#if defined(__AVX__)
inline constexpr int kLanes = 4;
#else
inline constexpr int kLanes = 2;
#endif

// out[0..kN) = exp(in[0..kN)), kN = 2 (one SSE2 register) or 4. Always
// inlined and file-local: each instruction set's kernel gets its own copy, and
// vectors never cross a call (their calling convention differs between SSE2
// and AVX builds).
template <int kN>
[[gnu::always_inline]] static inline void ExpLanes(const double* in, double* out) {
  typedef double Doubles __attribute__((vector_size(8 * kN)));
  typedef uint64_t Words __attribute__((vector_size(8 * kN)));
  using T = Doubles;
  Doubles x;
  std::memcpy(&x, in, sizeof x);
  // x = n ln2 + r, |r| <= ln2 / 2; exp(x) = 2^n exp(r).
  constexpr double kLog2e = 1.4426950408889634074;
  // ln2 split in two (fdlibm's): kLn2Hi has its low 32 bits zero, so n * kLn2Hi
  // is exact for |n| < 2^20 and the reduction loses nothing.
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  // Adding 1.5 * 2^52 rounds to an integer (round to nearest, even): the
  // integer is then in the low bits of the sum's mantissa.
  constexpr double kShift = 0x1.8p52;
  constexpr double kLowest = -708.0;
  // No branch: the argument is clamped, and the result masked to 0 below -708.
  const Words keep = (Words)(x >= kLowest);  // all ones or all zeros per lane
  const Doubles xc = x >= kLowest ? x : kLowest;
  const Doubles shifted = xc * kLog2e + kShift;
  const Doubles n = shifted - kShift;
  const Doubles r = (xc - n * kLn2Hi) - n * kLn2Lo;
  // exp(r) by its Taylor series to r^13 / 13! (the first term left out,
  // (ln2 / 2)^14 / 14!, is 4e-18, below half an ulp of exp(r)), evaluated by
  // Estrin's scheme: pairs of terms, then pairs of pairs, a chain of 6 steps
  // instead of Horner's 13 (latency, not throughput, bounds one task's exps).
  const T r2 = r * r;
  const T r4 = r2 * r2;
  const T r8 = r4 * r4;
  const T q0 = 1.0 + r;
  const T q1 = 1.0 / 2 + r * (1.0 / 6);
  const T q2 = 1.0 / 24 + r * (1.0 / 120);
  const T q3 = 1.0 / 720 + r * (1.0 / 5040);
  const T q4 = 1.0 / 40320 + r * (1.0 / 362880);
  const T q5 = 1.0 / 3628800 + r * (1.0 / 39916800);
  const T q6 = 1.0 / 479001600 + r * (1.0 / 6227020800);
  const T low = (q0 + q1 * r2) + (q2 + q3 * r2) * r4;   // r^0 to r^7
  const T high = (q4 + q5 * r2) + q6 * r4;              // r^8 to r^13, over r^8
  const T poly = low + high * r8;
  // 2^n from its bits: n in [-1021, 0] here, so n + 1023 is a normal exponent.
  const Words n_bits = (Words)shifted - std::bit_cast<uint64_t>(kShift);
  const Doubles scale = (Doubles)((n_bits + 1023) << 52);
  const Doubles result = (Doubles)((Words)(poly * scale) & keep);
  std::memcpy(out, &result, sizeof result);
}

}  // namespace exp_internal

[[gnu::always_inline]] static inline double ExpNonPositive(double x) {
  double v[2] = {x, 0};
  exp_internal::ExpLanes<2>(v, v);
  return v[0];
}

// The padding ExpNonPositivePadded needs: buffers of a multiple of this.
inline constexpr int kExpLanes = exp_internal::kLanes;

// out[k] = ExpNonPositive(x[k]) for k < n rounded up to a multiple of
// kExpLanes: both must have room for that many (x's padding holds any value
// <= 0; its results are unused). Two classes take one SSE2 register.
[[gnu::always_inline]] static inline void ExpNonPositivePadded(const double* x, double* out, int n) {
  if (n <= 2) return exp_internal::ExpLanes<2>(x, out);
  for (int k = 0; k < n; k += kExpLanes) exp_internal::ExpLanes<kExpLanes>(x + k, out + k);
}

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_EXP_NON_POSITIVE_H_
