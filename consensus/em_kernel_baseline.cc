// The EM kernels compiled for baseline x86-64 (SSE2).
#define CONSENSUSD_EM_ISA baseline
#include "consensus/em_kernel_impl.h"

namespace consensusd::consensus {

EmChunkKernel EmChunkKernelBaseline(int32_t num_classes) { return baseline::Select(num_classes); }

}  // namespace consensusd::consensus
