// The default options of the sanitizers in a sanitizer build (CONSENSUSD_SANITIZE, see
// cmake/sanitizers.cmake), linked into every executable. Each runtime asks for its
// function at start-up; the environment (ASAN_OPTIONS, LSAN_OPTIONS, UBSAN_OPTIONS,
// TSAN_OPTIONS) is read after these and overrides them, e.g. to see every report of a
// run instead of the first: TSAN_OPTIONS=halt_on_error=0.
//
// Each option makes a finding fail the test that met it: the first report stops the
// process with a non-zero exit code. max_allocation_size_mb: no test allocates a block
// near 4 GiB, so one that does is a runaway size (e.g. K x K counts from a hostile
// record) and dies at once, where an unsanitized test would use RLIMIT_AS, which a
// sanitizer's shadow memory rules out.

#define CONSENSUSD_SANITIZER_EXPORT extern "C" __attribute__((visibility("default"), used))

CONSENSUSD_SANITIZER_EXPORT const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1"
         ":detect_stack_use_after_return=1:strict_string_checks=1:max_allocation_size_mb=4096";
}

// Leaks at exit; sanitizers/lsan.supp names the library leaks left out, each with why.
CONSENSUSD_SANITIZER_EXPORT const char* __lsan_default_options() {
  return "suppressions=" CONSENSUSD_SANITIZER_DIR "/lsan.supp:print_suppressions=0";
}

CONSENSUSD_SANITIZER_EXPORT const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}

// Data races and lock-order inversions; sanitizers/tsan.supp names the reports left out
// (all inside libraries built without -fsanitize=thread), each with why.
CONSENSUSD_SANITIZER_EXPORT const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:print_suppressions=0:max_allocation_size_mb=4096"
         ":suppressions=" CONSENSUSD_SANITIZER_DIR "/tsan.supp";
}
