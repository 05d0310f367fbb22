// Whether the tests run in a sanitizer build (make test SANITIZE=..., cmake/sanitizers.cmake),
// and how much longer a wait for the service to converge may take there.
//
//   WaitUntil(settled, seconds(60) * kSanitizerSlowdown, seconds(1));
//
// Only waits for an outcome that comes later on a slower machine belong scaled (rounds
// of sweeps and statistics exchanges); a deadline that is part of the behaviour under
// test (a readiness promise of "within seconds") stays as it is.
#ifndef CONSENSUSD_TESTS_COMMON_SANITIZER_H_
#define CONSENSUSD_TESTS_COMMON_SANITIZER_H_

namespace consensusd {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
// ASan and TSan make the service's CPU-bound work (sweeps) several times slower.
inline constexpr int kSanitizerSlowdown = 4;
#else
inline constexpr bool kSanitized = false;
inline constexpr int kSanitizerSlowdown = 1;
#endif

}  // namespace consensusd

#endif  // CONSENSUSD_TESTS_COMMON_SANITIZER_H_
