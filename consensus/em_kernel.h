// The inner loops of batch EM: over a range of tasks, the E-step (each task's
// posterior from the current parameters) and the expected counts of the
// M-step. They are written with Eigen arrays mapped over the flat buffers
// (fixed-size for K = 2 to 16, dynamic for any larger K) and compiled once
// per instruction set: baseline x86-64 (SSE2), AVX2 and AVX-512. The best one
// the CPU supports is chosen when the program starts.
//
// Every variant does the same arithmetic in the same order: the vector code is
// element-wise (additions of rows, scaling by one factor), reductions over the
// K classes (max, sum) run in class order, exp is the C library's, and the
// kernel files are compiled without floating-point contraction
// (-ffp-contract=off). So results are bit-identical across instruction sets,
// as they are across thread counts (EmKernelTest checks both).
//
//   EmChunkKernel kernel = SelectEmChunkKernel(K);
//   double ll = kernel(data, first_task, end_task, /*e_step=*/true, partial_counts);
#ifndef CONSENSUSD_CONSENSUS_EM_KERNEL_H_
#define CONSENSUSD_CONSENSUS_EM_KERNEL_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace consensusd::consensus {

// What a pass reads, and the posteriors it writes (num_tasks x K).
// Layouts as in EmFit (aggregate.cc): log_pi[(w*K + l)*K + k].
struct EmPassData {
  int32_t num_classes = 0;
  int32_t num_workers = 0;
  const int64_t* task_begin = nullptr;  // answers of task t: [task_begin[t], task_begin[t+1])
  const int32_t* worker = nullptr;
  const int32_t* label = nullptr;
  const int32_t* gold = nullptr;     // kNoGold or the known class
  const char* active = nullptr;      // the task has gold or a counted answer
  const char* fitted = nullptr;      // active and counted in the M-step
  const double* log_pi = nullptr;    // log P(w answers l | class k)
  const double* log_prior = nullptr; // log P(k)
  bool normalise_prior = false;      // exp(log_prior) may sum to less than 1 (variational)
  double* posterior = nullptr;
};

// Over tasks [first, end): with e_step, writes their posteriors; then adds the
// posteriors of the fitted tasks into counts, which it first zeroes:
// counts[(w*K + l)*K + k] for every answer, then K class counts after the
// workers' num_workers*K*K. Returns the log-likelihood of the fitted tasks
// under the E-step's parameters (0 without e_step).
using EmChunkKernel = double (*)(const EmPassData& data, int32_t first, int32_t end, bool e_step,
                                 double* counts);

enum class Isa { kBaseline, kAvx2, kAvx512 };

// The instruction set the kernels use: the widest the CPU (and the OS) supports,
// unless CONSENSUSD_ISA (baseline, avx2 or avx512) asks for a narrower one.
Isa EmKernelIsa();
std::string_view IsaName(Isa isa);
std::optional<Isa> ParseIsa(std::string_view name);
bool CpuSupports(Isa isa);

// The kernel for K classes on EmKernelIsa().
EmChunkKernel SelectEmChunkKernel(int32_t num_classes);
// The kernel for K classes on `isa`. REQUIRES: CpuSupports(isa).
EmChunkKernel EmChunkKernelFor(Isa isa, int32_t num_classes);

// One per instruction set (em_kernel_<isa>.cc).
EmChunkKernel EmChunkKernelBaseline(int32_t num_classes);
EmChunkKernel EmChunkKernelAvx2(int32_t num_classes);
EmChunkKernel EmChunkKernelAvx512(int32_t num_classes);

}  // namespace consensusd::consensus

#endif  // CONSENSUSD_CONSENSUS_EM_KERNEL_H_
