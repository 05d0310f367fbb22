// Eigen arrays of one double per class, mapped over the flat buffers of the EM
// code (a posterior, a row [l][.] of a worker's counts or log table): the
// shared vocabulary of the batch kernels (em_kernel_impl.h), the worker
// likelihood (parameters.cc) and the streaming update (streaming_model.cc).
// Code is written once as a template over kK, the number of classes when it is
// known at compile time (fixed-size arrays, unrolled into vector registers) or
// Eigen::Dynamic for any other K, and one instantiation is chosen per K:
//
//   template <int kK> struct Update { static void Run(double* p, int K); };
//   auto run = SelectForClasses(K, [](auto k) { return &Update<decltype(k)::value>::Run; });
//
// Bit-identical results need element-wise operations only (a reduction over
// the classes is written as a loop in class order) and the files that hold
// the arithmetic compiled without floating-point contraction (cmake/isa.cmake).
#ifndef CONSENSUSD_CONSENSUS_CLASS_ARRAY_H_
#define CONSENSUSD_CONSENSUS_CLASS_ARRAY_H_

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace consensusd::consensus {

// Fixed-size instantiations for K = 2 to kMaxFixedClasses; dynamic beyond.
inline constexpr int kMaxFixedClasses = 16;

template <int kK>
using ClassArray = Eigen::Array<double, kK, 1>;
// Unaligned: rows start at any multiple of K.
template <int kK>
using ClassRow = Eigen::Map<const ClassArray<kK>>;
template <int kK>
using MutableClassRow = Eigen::Map<ClassArray<kK>>;

template <typename Select, int... kKs>
auto SelectForClassesIn(int32_t num_classes, Select select, std::integer_sequence<int, kKs...>) {
  auto chosen = select(std::integral_constant<int, Eigen::Dynamic>());
  ((num_classes == kKs + 2 ? (chosen = select(std::integral_constant<int, kKs + 2>()), 0) : 0), ...);
  return chosen;
}

// select(std::integral_constant<int, K>()) when 2 <= K <= kMaxFixedClasses,
// else select(std::integral_constant<int, Eigen::Dynamic>()). For choosing a
// function once per K (select may run twice): not for the work itself.
template <typename Select>
auto SelectForClasses(int32_t num_classes, Select select) {
  return SelectForClassesIn(num_classes, select,
                            std::make_integer_sequence<int, kMaxFixedClasses - 1>());
}

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_CLASS_ARRAY_H_
