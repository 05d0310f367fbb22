#!/usr/bin/python3
"""Batch aggregation as a user runs it (issue 10, items 2 and 6): the whole
`consensusd aggregate` process on a CSV of `consensusd synth`, with default
flags (ds, one EM thread per core), timed from start to exit with its peak
RSS; on 1M answers (K=4) next to crowd-kit's DawidSkene fit of 20 iterations
on the same file, and on 100M answers (K=2), generated into a temporary
directory that is removed after.

crowd-kit runs from its source tree (CROWDKIT_SRC, with Debian's
python3-pandas and python3-numpy; ../shared/data/BASELINES.md): its column
stays empty without it. Its time is the fit alone (`fit_predict` on a
DataFrame already read), ours the whole process (read, fit, write).

usage: batch_bench.py CONSENSUSD_BINARY [--sizes 1m,100m] [--runs N] [--summary FILE]

--summary appends one line per size to FILE, tab-separated, for
scripts/bench.sh's table: name, value.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

SHAPES = {
    # name: (tasks, workers, classes, answers per task)
    "1m": (200_000, 1_000, 4, 5),
    "100m": (20_000_000, 20_000, 2, 5),
}


def timed(cmd):
    """Runs cmd; returns (wall s, user+sys CPU s, peak RSS MiB) of that child alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    # A fresh process each time: RUSAGE_CHILDREN's ru_maxrss is the largest of
    # all children, so the peak is read through /usr/bin/time instead.
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    return wall, cpu, peak_kib / 1024


def crowdkit_fit_seconds(src, labels_csv):
    """crowd-kit's DawidSkene(n_iter=20).fit_predict on the file, timed alone, in its own process."""
    code = f"""
import sys, time
sys.path.insert(0, {src!r})
import pandas as pd
from crowdkit.aggregation import DawidSkene
df = pd.read_csv({labels_csv!r}, dtype=str)
start = time.perf_counter()
DawidSkene(n_iter=20).fit_predict(df)
print(time.perf_counter() - start)
"""
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"crowd-kit failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="1m,100m")
    ap.add_argument("--runs", type=int, default=3, help="runs of aggregate per size; the best is reported")
    ap.add_argument("--summary", default="")
    args = ap.parse_args()
    src = os.environ.get("CROWDKIT_SRC", "")
    if not src:
        print("CROWDKIT_SRC is not set: crowd-kit's column stays empty", file=sys.stderr)
    summary = []
    for size in args.sizes.split(","):
        tasks, workers, classes, per_task = SHAPES[size]
        work = tempfile.mkdtemp(prefix=f"batch_bench-{size}-")
        try:
            subprocess.run([args.binary, "synth", "--tasks", str(tasks), "--workers", str(workers),
                            "--classes", str(classes), "--answers-per-task", str(per_task), "--seed", "7",
                            "--out", f"{work}/data"], check=True, stdout=subprocess.DEVNULL)
            labels = f"{work}/data/labels.csv"
            mib = os.path.getsize(labels) / 2**20
            runs = [timed([args.binary, "aggregate", "--labels", labels, "--out", f"{work}/out.csv"])
                    for _ in range(args.runs)]
            wall, cpu, peak = min(runs)
            walls = ", ".join(f"{r[0]:.2f}" for r in runs)
            print(f"{size}: {tasks * per_task:,} answers ({tasks:,} tasks x {per_task}, {workers:,} workers, "
                  f"K={classes}; {mib:.0f} MiB CSV)")
            print(f"  consensusd aggregate (whole process, default flags): best of {args.runs} "
                  f"{wall:.2f} s wall (runs: {walls}), {cpu:.2f} s CPU, peak RSS {peak:.0f} MiB", flush=True)
            summary.append((f"aggregate {size} answers (K={classes}): wall", f"{wall:.2f} s"))
            summary.append((f"aggregate {size} answers (K={classes}): peak RSS", f"{peak:.0f} MiB"))
            if size == "1m" and src:
                ck = crowdkit_fit_seconds(src, labels)
                if ck is not None:
                    print(f"  crowd-kit DawidSkene, 20 iterations, fit alone: {ck:.2f} s -> "
                          f"consensusd is {ck / wall:.0f}x faster", flush=True)
                    summary.append(("aggregate 1m answers: crowd-kit DawidSkene 20 iterations (fit alone)",
                                    f"{ck:.2f} s ({ck / wall:.0f}x)"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.summary:
        with open(args.summary, "a") as f:
            for name, value in summary:
                f.write(f"{name}\t{value}\n")


if __name__ == "__main__":
    main()
