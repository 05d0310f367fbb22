// The EM kernels compiled for avx512 (flags in cmake/isa.cmake).
#define CONSENSUSD_EM_ISA avx512
#include "consensus/em_kernel_impl.h"

namespace consensusd::consensus {

EmChunkKernel EmChunkKernelAvx512(int32_t num_classes) { return avx512::Select(num_classes); }

}  // namespace consensusd::consensus
