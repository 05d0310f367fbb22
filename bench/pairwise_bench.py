#!/usr/bin/python3
"""Pairwise preferences (SPEC 3.1a, docs/rlhf.md): votes per second when
streaming, and the batch fit of a large vote file.

  stream: `synth --kind pairwise` votes, one Kafka message per vote, produced
      to `consensusd mock-kafka`, read once by `kcat -C` (librdkafka's simple
      consumer, for scale), then consumed by `consensusd serve` with the
      project declared pairwise: votes applied and committed per second from
      the first vote to the last.
  batch: `synth --kind pairwise` into a temp dir, then `/usr/bin/time
      consensusd aggregate --kind pairwise` on it, once with each --bootstrap
      value given (wall, CPU, peak RSS, EM iterations); a run that exceeds
      --limit seconds is stopped and reported as such. The temp dir is removed.

usage: pairwise_bench.py CONSENSUSD_BINARY stream [--votes N] [--partitions P]
       pairwise_bench.py CONSENSUSD_BINARY batch [--votes N] [--bootstrap B,...] [--limit S]
"""
import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time

from service_harness import MockKafka, Serve, metric_sum, metrics

PROJECT = "pwbench"


def synth(binary, out, votes, items, workers, seed):
    t = time.time()
    subprocess.run([binary, "synth", "--kind", "pairwise", "--comparisons", str(votes), "--items", str(items),
                    "--workers", str(workers), "--seed", str(seed), "--out", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t


def stream(args, work):
    synth(args.binary, f"{work}/synth", args.votes, args.items, args.workers, 1)
    # task,worker,left,right,label -> one JSON vote per line.
    with open(f"{work}/synth/labels.csv") as src, open(f"{work}/votes.jsonl", "w") as dst:
        next(src)
        for line in src:
            task, worker, left, right, label = line.rstrip("\r\n").split(",")
            dst.write(f'{{"project":"{PROJECT}","task":"{task}","worker":"{worker}",'
                      f'"left":"{left}","right":"{right}","label":"{label}"}}\n')
    kafka = MockKafka(args.binary, "pw", args.partitions)
    try:
        t = time.time()
        subprocess.run([args.binary, "produce", "--brokers", kafka.brokers, "--topic", "pw", "--batch", "1",
                        "--property", "compression.type=lz4", f"{work}/votes.jsonl"], check=True,
                       stderr=subprocess.DEVNULL)
        produce_s = time.time() - t
        t = time.time()
        kcat = subprocess.run(["kcat", "-C", "-b", kafka.brokers, "-t", "pw", "-o", "beginning", "-e", "-q"],
                              stdout=subprocess.PIPE, check=True)
        kcat_s = time.time() - t
        kcat_lines = kcat.stdout.count(b"\n")
        # Sweeps hourly (after the first one, on the first votes): this measures ingestion.
        serve = Serve(args.binary, kafka.brokers, "pw", f"{work}/state",
                      extra=["--set", f"projects.{PROJECT}.kind=pairwise",
                             "--set", f"projects.{PROJECT}.bootstrap=0"])
        first = None
        while True:
            applied = metric_sum(metrics(serve.base), "consensusd_answers_applied_total")
            now = time.time()
            if applied > 0 and first is None:
                first = now
            if applied >= args.votes:
                break
            if now - serve.ready > 600:
                sys.exit(f"timed out: {applied:.0f} of {args.votes} votes applied")
            time.sleep(0.02)
        done = time.time()
        rejected = metric_sum(metrics(serve.base), "consensusd_messages_rejected_total")
        serve.stop()
    finally:
        kafka.stop()
    consume_s = done - (first or serve.ready)
    print(f"votes: {args.votes:,} pairwise votes as {args.votes:,} messages of one vote, {args.partitions} partitions, "
          f"lz4 ({args.items} items, {args.workers} raters)")
    print(f"  produce: {produce_s:.2f}s")
    print(f"  kcat -C (simple consumer, no group): {kcat_s:.2f}s for {kcat_lines:,} lines "
          f"-> {args.votes / kcat_s:,.0f} votes/s")
    print(f"  consensusd serve: group join {serve.ready - serve.started:.2f}s (not counted), "
          f"first to last vote applied and committed: {consume_s:.2f}s -> {args.votes / consume_s:,.0f} votes/s "
          f"({args.votes / consume_s / (args.votes / kcat_s):.2f} of kcat -C); rejected {rejected:.0f}")


def batch(args, work):
    synth_s = synth(args.binary, f"{work}/synth", args.votes, args.items, args.workers, 1)
    rows = sum(1 for _ in open(f"{work}/synth/labels.csv", "rb")) - 1
    print(f"votes: {args.votes:,} ({rows:,} rows; {args.items} items, {args.workers} raters); "
          f"synth {synth_s:.1f}s")
    for bootstrap in args.bootstrap:
        cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", args.binary, "aggregate", "--kind", "pairwise",
               "--labels", f"{work}/synth/labels.csv", "--truth", f"{work}/synth/truth.csv",
               "--bootstrap", str(bootstrap), "--out", f"{work}/leaderboard.csv"]
        try:
            run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=args.limit)
        except subprocess.TimeoutExpired:
            print(f"  --bootstrap {bootstrap}: not finished after {args.limit:.0f}s (stopped)")
            continue
        m = re.search(r"TIME (\S+) (\S+) (\S+) (\d+)", run.stderr)
        if run.returncode != 0 or not m:
            print(f"  --bootstrap {bootstrap}: failed ({run.returncode}): {run.stderr[-500:]}")
            continue
        wall, user, system, rss_kb = float(m[1]), float(m[2]), float(m[3]), int(m[4])
        summary = " ".join(line.strip() for line in (run.stdout + run.stderr).splitlines()
                           if re.search(r"iteration|spearman|Spearman", line))
        print(f"  --bootstrap {bootstrap}: wall {wall:.1f}s, CPU {user + system:.1f}s (user {user:.1f}, sys "
              f"{system:.1f}), peak RSS {rss_kb / 1024:.0f} MiB; {summary}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("what", choices=["stream", "batch"])
    ap.add_argument("--votes", type=int)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--bootstrap", type=lambda s: [int(b) for b in s.split(",")], default=[0, 100])
    ap.add_argument("--limit", type=float, default=3600, help="seconds per aggregate run before it is stopped")
    args = ap.parse_args()
    if args.votes is None:
        args.votes = 200_000 if args.what == "stream" else 10_000_000
    work = tempfile.mkdtemp(prefix="consensusd-pairwise-")
    try:
        stream(args, work) if args.what == "stream" else batch(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
