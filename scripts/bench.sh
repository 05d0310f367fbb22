#!/usr/bin/env bash
# Runs consensusd's benchmarks and prints the machine they ran on.
#   bash scripts/bench.sh [BUILD_DIR]     (what `make bench` runs; BUILD_DIR defaults to build)
# Extra flags for Google Benchmark go in BENCH_FLAGS, e.g.
#   BENCH_FLAGS=--benchmark_filter=BM_DsIteration bash scripts/bench.sh build
# and extra flags for the scale-out benchmark in SCALE_FLAGS, e.g.
#   SCALE_FLAGS='--answers 200000 --rounds 1' bash scripts/bench.sh build
# E2E_FLAGS go to bench/e2e_bench.py (e.g. '--restart-answers 0'), and
# BENCH_SECTIONS picks sections by function name, e.g.
#   BENCH_SECTIONS='end_to_end batch_process live_memory' bash scripts/bench.sh build
# crowd-kit's column of the 1M-answer batch run needs CROWDKIT_SRC (its source
# tree; ../shared/data/BASELINES.md).
# and the time limit of each 10M-vote pairwise fit in PAIRWISE_LIMIT_S (seconds).
# Each section prints a header and its results; add new sections (e.g. the
# end-to-end Kafka throughput) as functions and list them in main().
set -euo pipefail

build="${1:-build}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Each user-shaped benchmark appends "name<TAB>value" lines here; the table at
# the end (and in docs/benchmarks.md, between its "make bench" markers) is
# built from them.
summary="$(mktemp)"
machine_file="$(mktemp)"
trap 'rm -f "$summary" "$machine_file"' EXIT

section() {
  printf '\n== %s ==\n' "$1"
}

machine_info() {
  section "machine"
  machine_lines | tee "$machine_file"
}

machine_lines() {
  echo "cpu:     $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores:   $(nproc) (nproc)"
  echo "simd:    $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'sse4_2|avx|avx2|fma|avx512f' | tr '\n' ' ')"
  echo "clock:   $(grep -m1 '^cpu MHz' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') MHz"
  if command -v lscpu >/dev/null; then
    echo "caches:  $(lscpu | awk -F: '/^L[123][di]? cache/ {gsub(/^ +/, "", $2); printf "%s %s; ", $1, $2}')"
  fi
  echo "memory:  $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel:  $(uname -sr)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  if command -v git >/dev/null && git rev-parse --short HEAD >/dev/null 2>&1; then
    echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
  fi
}

# Runs the benchmarks of consensusd_bench whose names match FILTER (a regex).
google_benchmarks() {
  local filter="$1"
  local bin="$build/consensusd_bench"
  if [[ ! -x "$bin" ]]; then
    echo "bench: $bin not found: build it with 'make build' (or cmake --build $build --target consensusd_bench)" >&2
    exit 1
  fi
  # shellcheck disable=SC2086  # BENCH_FLAGS is a list of flags
  "$bin" --benchmark_filter="$filter" --benchmark_counters_tabular=true ${BENCH_FLAGS:-}
}

# Batch aggregation (SPEC section 9): EM iteration at 1M answers, whole fit at 10M.
aggregation() {
  section "batch aggregation (bench/em_bench.cc)"
  google_benchmarks '^BM_(DsIteration|DsIterationK|DsOneIteration|OneCoinIteration|MajorityVote|DsFit|Synthesize)'
}

# RocksDB state store: commit throughput and the full load on restart.
state_store() {
  section "state store (bench/state_store_bench.cc)"
  google_benchmarks '^BM_(CommitAnswerBatches|LoadAllAnswers)'
}

# End to end (SPEC section 9): 1M answers through the embedded Kafka into
# committed state next to kcat -C on the same topic; latency at 50k answers/s.
end_to_end() {
  section "end to end (bench/e2e_bench.py)"
  # shellcheck disable=SC2086  # E2E_FLAGS is a list of flags
  /usr/bin/python3 "$here/../bench/e2e_bench.py" "$build/consensusd" --summary "$summary" ${E2E_FLAGS:-}
}

# The whole `aggregate` process, default flags (issue 10): 1M answers (K=4)
# next to crowd-kit's DawidSkene fit when CROWDKIT_SRC names its source tree,
# and 100M answers (K=2) in a temporary directory removed after.
batch_process() {
  section "aggregate, whole process (bench/batch_bench.py)"
  /usr/bin/python3 "$here/../bench/batch_bench.py" "$build/consensusd" --summary "$summary"
}

# serve's resident memory holding 2M answers (2M tasks, 100k workers).
live_memory() {
  section "serve's memory (bench/memory_bench.py)"
  /usr/bin/python3 "$here/../bench/memory_bench.py" "$build/consensusd" --summary "$summary"
}

# The user-shaped results side by side, printed and written into
# docs/benchmarks.md between its markers.
summary_table() {
  section "summary"
  local command="make bench (scripts/bench.sh $build)"
  if [[ -n "${BENCH_SECTIONS:-}" || -n "${E2E_FLAGS:-}" ]]; then
    command="BENCH_SECTIONS='${BENCH_SECTIONS:-}' E2E_FLAGS='${E2E_FLAGS:-}' bash scripts/bench.sh $build"
  fi
  [[ -n "${CROWDKIT_SRC:-}" ]] && command="CROWDKIT_SRC=<crowd-kit tree> $command"
  /usr/bin/python3 - "$summary" "$machine_file" "$here/../docs/benchmarks.md" "$command" <<'PY'
import sys
summary, machine, doc, command = sys.argv[1:5]
rows = [line.rstrip("\n").split("\t", 1) for line in open(summary) if "\t" in line]
table = ["| measured by `make bench` | result |", "|---|---|"]
table += [f"| {name} | {value} |" for name, value in rows]
info = [line.rstrip("\n") for line in open(machine) if line.strip()]
block = [f"Command: `{command}`, the service and `aggregate` with default flags. Machine:", "", "```", *info, "```", "",
         *table]
print("\n".join(table))
begin, end = "<!-- make bench: begin -->", "<!-- make bench: end -->"
text = open(doc).read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + begin + "\n" + "\n".join(block) + "\n" + end + rest.split(end, 1)[1]
    open(doc, "w").write(text)
    print(f"written to {doc}")
PY
}

# Scale-out (SPEC sections 8 and 9): 1M single-answer messages on a real
# single-node Kafka broker (deploy/kafka/kafka.sh, Java), consumed by one and by
# two instances in one group, next to kcat -C; docs/scaling.md reads the numbers.
scale_out() {
  section "scale-out on a real Kafka broker (bench/scale_bench.py)"
  # shellcheck disable=SC2086  # SCALE_FLAGS is a list of flags
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../bench/scale_bench.py" "$build/consensusd" ${SCALE_FLAGS:-}
}

# Pairwise preferences (docs/rlhf.md): 200k votes, one Kafka message each,
# through the embedded Kafka into `serve`; then a 10M-vote batch fit without
# and with the default 100 bootstrap replicates, each stopped after
# PAIRWISE_LIMIT_S seconds (default 900).
pairwise() {
  section "pairwise votes streamed (bench/pairwise_bench.py stream)"
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../bench/pairwise_bench.py" "$build/consensusd" stream
  section "pairwise batch fit, 10M votes (bench/pairwise_bench.py batch)"
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../bench/pairwise_bench.py" "$build/consensusd" batch \
    --bootstrap 0,100 --limit "${PAIRWISE_LIMIT_S:-900}"
}

main() {
  machine_info
  # BENCH_SECTIONS (e.g. "end_to_end batch_process live_memory") runs only
  # those; the summary table then says which ran.
  for s in ${BENCH_SECTIONS:-aggregation state_store end_to_end batch_process live_memory scale_out pairwise}; do
    "$s"
  done
  summary_table
}

main
