#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang in their own build directory
# and runs each one on its seed corpus for SECONDS. Exits 1 when a target finds
# a crash, a sanitizer error, a leak, a timeout or a broken invariant; its
# reproducer is then in <build>/artifacts/<target>/ (rerun it with
# `<build>/<target>_fuzzer <file>`).
#   scripts/fuzz.sh [SECONDS]        default 600 (make fuzz FUZZ_SECONDS=...)
# Environment: FUZZ_BUILD (default build-fuzz/ in the source tree), FUZZ_TARGETS
# (default all: message_decoder csv request_params request_framer), FUZZ_JOBS (build jobs, default 2).
# Inputs that reach new code are kept in <build>/corpus/<target>/, outside the
# repository; copy the small, interesting ones to fuzz/corpus/<target>/.
set -euo pipefail

seconds=${1:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-message_decoder csv request_params request_framer}

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found: run deploy/install-deps.sh (it installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

mkdir -p "$build"
if [[ ! -f $build/CMakeCache.txt ]]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  if ! cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCONSENSUSD_FUZZ=ON \
      "${launcher[@]}" >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    exit 1
  fi
fi
if ! cmake --build "$build" -j "${FUZZ_JOBS:-2}" >"$build/build.log" 2>&1; then
  tail -50 "$build/build.log" >&2
  echo "fuzz: the build failed; full log in $build/build.log" >&2
  exit 1
fi

failed=()
for t in $targets; do
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  log=$build/$t.log
  if "$build/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -dict="$root/fuzz/dicts/$t.dict" -artifact_prefix="$build/artifacts/$t/" \
      "$build/corpus/$t" "$root/fuzz/corpus/$t" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t: ${execs:-?} inputs in ${seconds}s, no finding; corpus $(ls "$build/corpus/$t" | wc -l) files"
  else
    tail -40 "$log" >&2
    echo "fuzz: $t FAILED; log $log, reproducer in $build/artifacts/$t/" >&2
    failed+=("$t")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
