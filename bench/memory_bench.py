#!/usr/bin/python3
"""Memory of the live state (issue 10, item 4): `consensusd serve`'s resident
set after it has applied N answers, one per task (N tasks, W workers, K=2),
from the embedded Kafka (mock-kafka), with the background sweep off so that
what is measured is the state held, not a sweep's scratch.

Prints VmRSS of serve once every answer is applied and it has settled (the
last of samples every 5 s over --settle seconds: the outputs are delivered and
the worker statistics published and read back after the answers, and the
memtable, up to state.write_buffer_mb, is flushed only once nothing has been
written for 10 s; on this shape that happens 30 to 35 s after the last answer,
so the default is 60 s), the samples, VmHWM, and RSS per answer. The baseline is serve's RSS with an
empty state (before produce).

usage: memory_bench.py CONSENSUSD_BINARY [--answers N] [--workers W] [--set KEY=VALUE ...]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from service_harness import MockKafka, Serve, memory_mib, metric_sum, metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--answers", type=int, default=2_000_000)
    ap.add_argument("--workers", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--summary", default="", help="appends a name<TAB>value line to this file")
    ap.add_argument("--settle", type=float, default=60, help="seconds of RSS samples after the last answer")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a configuration setting for serve (repeatable), to compare settings")
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep serve running after, to inspect it")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="memory_bench-")
    kafka = MockKafka(args.binary, "mem", args.partitions)
    serve = None
    try:
        subprocess.run([args.binary, "synth", "--tasks", str(args.answers), "--workers", str(args.workers),
                        "--classes", "2", "--answers-per-task", "1", "--seed", "5", "--out", f"{work}/data"],
                       check=True, stdout=subprocess.DEVNULL)
        serve = Serve(args.binary, kafka.brokers, "mem", f"{work}/state",
                      extra=[a for kv in args.set for a in ("--set", kv)])
        time.sleep(2)
        empty = memory_mib(serve.proc.pid)
        subprocess.run([args.binary, "produce", "--brokers", kafka.brokers, "--topic", "mem", "--batch", "500",
                        f"{work}/data/labels.csv"], check=True, stderr=subprocess.DEVNULL)
        deadline = time.time() + 1200
        while metric_sum(metrics(serve.base), "consensusd_answers_applied_total") < args.answers:
            if time.time() > deadline:
                sys.exit("serve did not apply every answer in time")
            time.sleep(1)
        samples = []
        for _ in range(max(1, round(args.settle / 5))):
            time.sleep(5)  # outputs delivered, the state written, statistics exchanged
            samples.append(memory_mib(serve.proc.pid))
        rss, hwm = samples[-1], memory_mib(serve.proc.pid, "VmHWM")
        n = args.answers
        print(f"answers {n}, workers {args.workers}: RSS empty {empty:.0f} MiB, settled {rss:.0f} MiB "
              f"(samples {' '.join(f'{s:.0f}' for s in samples)}), peak {hwm:.0f} MiB; "
              f"{rss * 2**20 / n:.0f} bytes/answer ({(rss - empty) * 2**20 / n:.0f} above the empty process)",
              flush=True)
        if args.summary:
            with open(args.summary, "a") as f:
                f.write(f"serve holding {n:,} answers ({args.workers:,} workers): RSS\t"
                        f"{rss:.0f} MiB, {rss * 2**20 / n:.0f} bytes/answer\n")
        if args.hold:
            print(f"serve pid {serve.proc.pid}, {serve.base}", flush=True)
            time.sleep(args.hold)
    finally:
        if serve:
            serve.stop()
        kafka.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
