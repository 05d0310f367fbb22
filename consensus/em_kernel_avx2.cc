// The EM kernels compiled for avx2 (flags in cmake/isa.cmake).
#define CONSENSUSD_EM_ISA avx2
#include "consensus/em_kernel_impl.h"

namespace consensusd::consensus {

EmChunkKernel EmChunkKernelAvx2(int32_t num_classes) { return avx2::Select(num_classes); }

}  // namespace consensusd::consensus
