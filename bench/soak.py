#!/usr/bin/python3
"""Soak (make soak; docs/reliability.md): the two long runs that `make test`
is too short for. Exits non-zero when a check fails.

1. crash: the crash test of `make test` (tests/integration/crash_at_scale_test.cc)
   at scale: kill -9 of serve at 20 random moments of a stream of
   --crash-answers answers (default 5M), one Kafka message per answer; the
   state after the last restart must equal an uninterrupted run's, with no
   answer lost or counted twice.
2. load: serve (default settings: background sweeps every 10 s) consuming
   --rate answers/s (default 50k), one answer per message, for --seconds
   (default 300, or SOAK_SECONDS), on the embedded Kafka. Every --interval
   seconds: serve's RSS (VmRSS of /proc/<pid>/status) and its ingest latency
   over the interval (SPEC 9: consensusd_ingest_latency_seconds, Kafka
   timestamp to commit, as bench/e2e_bench.py measures it). Checks:
   - answers lost / counted twice: answers applied == answers produced,
     and serve never died (crashes: 0);
   - RSS bounded: after the warm-up, the largest RSS of the last third of
     the samples is at most --rss-growth percent (default 10) above the
     largest of the first third;
   - latency: at least 99% of the answers after the warm-up committed within
     50 ms (p99 <= 50 ms, SPEC 9), read exactly at the histogram's 50 ms bound.
   The stream cycles over a fixed set of tasks and workers (200k tasks of 5
   answers, 1,000 workers, K=4, per 1M answers; two data sets drawn with other
   seeds, so that each pass replaces most answers with other labels): after
   the first two passes the state holds every task, worker and answer it will
   ever hold, so a memory that keeps growing is a leak, not data.

usage: soak.py BUILD_DIR [--skip-crash] [--skip-load] [--crash-answers N]
           [--rate R] [--seconds S] [--interval S] [--warmup S] [--rss-growth PCT]
           [--sweep-interval S] [--keep]
Environment: SOAK_SECONDS (default 300), SOAK_RATE (default 50000),
SOAK_CRASH_ANSWERS (default 5000000), SOAK_CRASH_SEED (default: random).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from service_harness import (ANSWERS_APPLIED, INGEST_LATENCY, MockKafka, Serve, fraction_within,
                             histogram_buckets, histogram_quantile, histogram_window, memory_mib,
                             metric_sum, metrics)

LATENCY_TARGET_S = 0.05  # SPEC 9: ingest latency p99 at 50k answers/s
PASS_SECONDS = 20        # one pass over a data set at --rate


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {model}"


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def crash(args):
    """The crash test at scale; a result row."""
    env = dict(os.environ,
               CONSENSUSD_CRASH_ANSWERS=str(args.crash_answers),
               CONSENSUSD_CRASH_KILLS=str(args.crash_kills),
               CONSENSUSD_CRASH_PARTITIONS=str(args.crash_partitions),
               CONSENSUSD_CRASH_SECONDS=str(args.crash_seconds))
    if os.environ.get("SOAK_CRASH_SEED"):
        env["CONSENSUSD_CRASH_SEED"] = os.environ["SOAK_CRASH_SEED"]
    cmd = [os.path.join(args.build, "integration_tests"), "--gtest_filter=CrashAtScaleTest.*"]
    print(f"$ CONSENSUSD_CRASH_ANSWERS={args.crash_answers} CONSENSUSD_CRASH_KILLS={args.crash_kills} "
          f"CONSENSUSD_CRASH_PARTITIONS={args.crash_partitions} CONSENSUSD_CRASH_SECONDS={args.crash_seconds} "
          f"{' '.join(cmd)}", flush=True)
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    summary, seed, kills_done = "", "?", 0
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if line.startswith("crash test: seed "):
            seed = line.split()[3]
        kills_done += line.startswith("kill ")
        if "answers lost" in line:
            summary = line.strip()
    code = proc.wait()
    m = re.search(r"(\d+) kills .*crashes (\d+), answers lost (\d+), double-counted (\d+)", summary)
    kills, crashes, lost, doubled = m.groups() if m else (str(kills_done), "?", "?", "?")
    return {"name": f"crash: kill -9 during a {args.crash_answers:,}-answer stream (seed {seed})",
            "tried": f"{kills} kills", "lost": lost, "doubled": doubled,
            "crashes": crashes, "seconds": time.time() - t0,
            "ok": code == 0, "detail": summary or f"the test exited {code}"}


class Producer(threading.Thread):
    """`consensusd produce --rate` over the data sets in turn, one pass after
    another, until `passes` are done; counts what produce reports."""

    def __init__(self, binary, brokers, topic, files, rate):
        super().__init__(daemon=True)
        self.binary, self.brokers, self.topic, self.files, self.rate = binary, brokers, topic, files, rate
        self.produced = 0
        self.failures = []
        self.finished = None

    def run(self):
        for path in self.files:
            r = subprocess.run([self.binary, "produce", "--brokers", self.brokers, "--topic", self.topic,
                                "--rate", str(self.rate), "--property", "linger.ms=5", path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            m = re.search(r"produced (\d+) elements in (\d+) messages", r.stderr)
            if r.returncode != 0 or not m or m.group(1) != m.group(2):
                self.failures.append(f"produce {path}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
            if m:
                self.produced += int(m.group(1))
        self.finished = time.time()


def load(args, work):
    """The load soak; a result row."""
    binary = os.path.join(args.build, "consensusd")
    pass_answers = args.rate * PASS_SECONDS
    passes = max(1, round(args.seconds / PASS_SECONDS))
    data = []
    for seed in (1, 2):
        out = f"{work}/pass-{seed}"
        subprocess.run([binary, "synth", "--tasks", str(pass_answers // 5), "--workers", "1000", "--classes", "4",
                        "--answers-per-task", "5", "--seed", str(seed), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        data.append(f"{out}/labels.csv")
    files = [data[i % 2] for i in range(passes)]
    print(f"\n== load: {args.rate:,} answers/s for {passes * PASS_SECONDS} s ({passes} passes of "
          f"{pass_answers:,} answers), one answer per message ==", flush=True)

    kafka = MockKafka(binary, "soak", 4)  # 4 partitions, as e2e_bench's latency run
    log = open(f"{work}/serve.log", "w")
    serve = Serve(binary, kafka.brokers, "soak", f"{work}/state", sweep_interval_s=args.sweep_interval, log=log)
    pid = serve.proc.pid
    producer = Producer(binary, kafka.brokers, "soak", files, args.rate)
    t0 = time.time()
    producer.start()
    samples = []  # (t, rss MiB, applied, latency buckets)
    print(f"{'t (s)':>6} {'RSS MiB':>8} {'answers/s':>10} {'p99 ms':>7}  (p99 of the interval)", flush=True)
    while producer.is_alive() and serve.proc.poll() is None:
        time.sleep(args.interval - (time.time() - t0) % args.interval)
        try:
            text = metrics(serve.base)
        except OSError:
            continue
        s = (time.time() - t0, memory_mib(pid), metric_sum(text, ANSWERS_APPLIED),
             histogram_buckets(text, INGEST_LATENCY))
        if samples:
            prev = samples[-1]
            rate = (s[2] - prev[2]) / (s[0] - prev[0])
            p99 = histogram_quantile(histogram_window(prev[3], s[3]), 0.99) * 1000
        else:
            rate, p99 = s[2] / s[0], histogram_quantile(s[3], 0.99) * 1000
        samples.append(s)
        print(f"{s[0]:6.0f} {s[1]:8.1f} {rate:10,.0f} {p99:7.1f}", flush=True)
    producer.join()
    produce_seconds = (producer.finished or time.time()) - t0

    # Everything produced is applied once: replacements count as applied answers.
    deadline = time.time() + 120
    applied = 0.0
    while serve.proc.poll() is None and time.time() < deadline:
        applied = metric_sum(metrics(serve.base), ANSWERS_APPLIED)
        if applied >= producer.produced:
            time.sleep(2)  # and nothing more arrives
            applied = metric_sum(metrics(serve.base), ANSWERS_APPLIED)
            break
        time.sleep(0.5)
    alive = serve.proc.poll() is None
    peak = memory_mib(pid, "VmHWM")
    exit_code = serve.stop() if alive else serve.proc.returncode
    kafka.stop()
    log.close()

    steady = [s for s in samples if s[0] >= args.warmup]
    third = len(steady) // 3
    checks = []
    lost = max(0, producer.produced - int(applied))
    doubled = max(0, int(applied) - producer.produced)
    checks.append(("answers applied = produced", f"{int(applied):,} of {producer.produced:,}",
                   "equal", lost == 0 and doubled == 0 and not producer.failures))
    checks.append(("serve alive, exits 0 on SIGTERM", f"alive {alive}, exit {exit_code}", "yes, 0",
                   alive and exit_code == 0))
    if third >= 2:
        first = max(s[1] for s in steady[:third])
        last = max(s[1] for s in steady[-third:])
        growth = (last / first - 1) * 100
        checks.append((f"RSS: max of last third vs first third after {args.warmup} s",
                       f"{first:.0f} -> {last:.0f} MiB ({growth:+.1f}%)", f"<= +{args.rss_growth:g}%",
                       growth <= args.rss_growth))
        window = histogram_window(steady[0][3], samples[-1][3])
        within = fraction_within(window, LATENCY_TARGET_S)
        p50 = histogram_quantile(window, 0.5) * 1000
        p99 = histogram_quantile(window, 0.99) * 1000
        worst = max(histogram_quantile(histogram_window(a[3], b[3]), 0.99) for a, b in zip(steady, steady[1:]))
        checks.append((f"ingest latency after {args.warmup} s: p50, p99 (worst {args.interval} s interval)",
                       f"{p50:.1f}, {p99:.1f} ms ({worst * 1000:.1f} ms); {within * 100:.2f}% within 50 ms",
                       "p99 <= 50 ms", within >= 0.99))
    else:
        checks.append(("enough samples after the warm-up", f"{len(steady)}", ">= 6", False))
    achieved = producer.produced / produce_seconds
    print(f"\nproduced {producer.produced:,} answers in {produce_seconds:.0f} s ({achieved:,.0f}/s); "
          f"serve's peak RSS (VmHWM) {peak:.0f} MiB; load average now {load_average()}")
    for f in producer.failures:
        print(f"  {f}")
    print(f"\n| check | measured | limit | result |\n|---|---|---|---|")
    for name, measured, limit, ok in checks:
        print(f"| {name} | {measured} | {limit} | {'pass' if ok else 'FAIL'} |")
    ok = all(c[3] for c in checks)
    return {"name": f"load: {achieved:,.0f} answers/s for {produce_seconds:.0f} s",
            "tried": f"{producer.produced:,} answers", "lost": str(lost), "doubled": str(doubled),
            "crashes": "0" if alive else "1", "seconds": time.time() - t0, "ok": ok,
            "detail": "; ".join(f"{c[0]}: {c[1]}" for c in checks)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="the build directory (consensusd, integration_tests)")
    ap.add_argument("--skip-crash", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--crash-answers", type=int, default=int(os.environ.get("SOAK_CRASH_ANSWERS", 5_000_000)))
    ap.add_argument("--crash-kills", type=int, default=20)
    ap.add_argument("--crash-partitions", type=int, default=64,
                    help="the mock broker keeps 5 MiB a partition: 64 hold 5M single-answer messages")
    ap.add_argument("--crash-seconds", type=float, default=None,
                    help="how long the producer takes for the stream (default 15 s a kill: a restart "
                         "restores millions of answers before it joins the group)")
    ap.add_argument("--rate", type=int, default=int(os.environ.get("SOAK_RATE", 50_000)))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 300)))
    ap.add_argument("--interval", type=float, default=5, help="seconds between two samples")
    ap.add_argument("--warmup", type=float, default=60,
                    help="seconds before the RSS and latency checks start (two passes, the state complete)")
    ap.add_argument("--rss-growth", type=float, default=10, help="percent")
    ap.add_argument("--keep", action="store_true", help="keep the load run's directory (serve.log)")
    ap.add_argument("--sweep-interval", type=float, default=None,
                    help="model.sweep_interval_s of serve (default: the service's default, 10 s)")
    args = ap.parse_args()
    if args.crash_seconds is None:
        args.crash_seconds = 15.0 * args.crash_kills
    if not args.skip_load and args.seconds < args.warmup + 6 * args.interval:
        ap.error(f"--seconds must be at least --warmup + 6 intervals ({args.warmup + 6 * args.interval:g})")

    print(f"soak on {machine()}; load average {load_average()}", flush=True)
    results = []
    if not args.skip_crash:
        results.append(crash(args))
    if not args.skip_load:
        work = tempfile.mkdtemp(prefix="consensusd-soak-")
        try:
            results.append(load(args, work))
        finally:
            if args.keep:
                print(f"kept {work} (serve.log, the state, the data sets)")
            else:
                shutil.rmtree(work, ignore_errors=True)

    print("\n| run | tried | answers lost | double-counted | crashes | minutes | result |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['name']} | {r['tried']} | {r['lost']} | {r['doubled']} | {r['crashes']} | "
              f"{r['seconds'] / 60:.1f} | {'pass' if r['ok'] else 'FAIL'} |")
    for r in results:
        if not r["ok"]:
            print(f"FAIL: {r['name']}: {r['detail']}")
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
