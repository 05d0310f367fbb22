#include "consensus/em_kernel.h"

#include <cstdlib>

namespace consensusd::consensus {
namespace {

Isa WidestSupported() {
  if (CpuSupports(Isa::kAvx512)) return Isa::kAvx512;
  if (CpuSupports(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kBaseline;
}

// Chosen once: the CPU does not change, and the environment is read before
// any thread could change it.
Isa ChooseIsa() {
  const Isa widest = WidestSupported();
  const char* requested = std::getenv("CONSENSUSD_ISA");
  if (requested == nullptr || *requested == '\0') return widest;
  const std::optional<Isa> isa = ParseIsa(requested);
  // An unknown or unsupported request falls back to what the CPU has:
  // results are the same on every instruction set, only the speed differs.
  if (!isa || !CpuSupports(*isa)) return widest;
  return *isa;
}

}  // namespace

bool CpuSupports(Isa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  switch (isa) {
    case Isa::kBaseline: return true;
    // The kernels are built with FMA enabled too (contraction off).
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::kBaseline;
#endif
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kBaseline: return "baseline";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "baseline";
}

std::optional<Isa> ParseIsa(std::string_view name) {
  for (Isa isa : {Isa::kBaseline, Isa::kAvx2, Isa::kAvx512}) {
    if (name == IsaName(isa)) return isa;
  }
  return std::nullopt;
}

Isa EmKernelIsa() {
  static const Isa isa = ChooseIsa();
  return isa;
}

EmChunkKernel EmChunkKernelFor(Isa isa, int32_t num_classes) {
  switch (isa) {
    case Isa::kAvx512: return EmChunkKernelAvx512(num_classes);
    case Isa::kAvx2: return EmChunkKernelAvx2(num_classes);
    case Isa::kBaseline: break;
  }
  return EmChunkKernelBaseline(num_classes);
}

EmChunkKernel SelectEmChunkKernel(int32_t num_classes) {
  return EmChunkKernelFor(EmKernelIsa(), num_classes);
}

}  // namespace consensusd::consensus
