#!/usr/bin/python3
"""Pairwise preferences: consensusd against crowd-kit's NoisyBradleyTerry on the
same synthetic votes (issue 12; docs/pairwise.md).

For each seed: `consensusd synth --kind pairwise` (50 items, 100 raters of whom
20% careless and a fifth of the careful ones position-biased, 20,000 votes by
default), then `consensusd aggregate --kind pairwise` and crowd-kit's
NoisyBradleyTerry (default parameters) on the same votes. crowd-kit takes no
ties: its input drops the tie votes (label = the preferred item, as its
format wants). Reports Spearman's rho of each method's item scores with the
true scores, our careless-rater flags against the true kinds, and the wall
time of each (ours: the whole process; crowd-kit: its fit alone).

usage: CROWDKIT_SRC=/path/to/crowd-kit python3 bench/pairwise_vs_crowdkit.py BUILD_DIR
           [--seeds N] [--comparisons N] [--items N] [--workers N]
crowd-kit runs from its source tree (CROWDKIT_SRC, with Debian's python3-pandas,
python3-scipy, python3-attr, python3-sklearn, python3-tqdm, python3-nltk);
without it only consensusd's columns are filled.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time


def spearman(a, b):
    def ranks(x):
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    saa = sum((x - ma) ** 2 for x in ra)
    sbb = sum((y - mb) ** 2 for y in rb)
    return sab / (saa * sbb) ** 0.5


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def crowdkit_scores(src, labels_csv):
    """NoisyBradleyTerry's scores per item and its fit time, or None without crowd-kit."""
    if not src:
        return None
    code = f"""
import sys, time, json
sys.path.insert(0, {src!r})
import pandas as pd
from crowdkit.aggregation import NoisyBradleyTerry
d = pd.read_csv({labels_csv!r})
d = d[d.label != 'tie'].copy()
d['label'] = [l if y == 'left' else r for l, r, y in zip(d.left, d.right, d.label)]
d = d[['worker', 'left', 'right', 'label']]
t = time.time()
s = NoisyBradleyTerry().fit_predict(d)
print(json.dumps({{'seconds': time.time() - t, 'scores': {{str(k): float(v) for k, v in s.items()}}}}))
"""
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"crowd-kit failed:\n{out.stderr}")
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--comparisons", type=int, default=20000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--workers", type=int, default=100)
    args = ap.parse_args()
    binary = os.path.join(args.build, "consensusd")
    src = os.environ.get("CROWDKIT_SRC", "")
    if not src:
        print("CROWDKIT_SRC is not set: crowd-kit's columns stay empty", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            d = os.path.join(tmp, f"s{seed}")
            subprocess.run([binary, "synth", "--kind", "pairwise", "--seed", str(seed),
                            "--comparisons", str(args.comparisons), "--items", str(args.items),
                            "--workers", str(args.workers), "--out", d], check=True,
                           capture_output=True)
            start = time.time()
            out = subprocess.run([binary, "aggregate", "--kind", "pairwise", "--labels",
                                  os.path.join(d, "labels.csv"), "--truth", os.path.join(d, "truth.csv"),
                                  "--workers-out", os.path.join(d, "ours-workers.csv")],
                                 check=True, capture_output=True, text=True).stdout
            ours_s = time.time() - start
            rho = float(re.search(r"^spearman\s+(\S+)", out, re.M).group(1))
            kinds = {r["worker"]: r["kind"] for r in read_csv(os.path.join(d, "workers.csv"))}
            flags = {r["worker"]: r["careless"] == "true" for r in read_csv(os.path.join(d, "ours-workers.csv"))}
            careless = [w for w, k in kinds.items() if k == "careless"]
            careful = [w for w, k in kinds.items() if k != "careless"]
            found = sum(flags.get(w, False) for w in careless)
            false_flags = sum(flags.get(w, False) for w in careful)
            truth = {r["item"]: float(r["score"]) for r in read_csv(os.path.join(d, "truth.csv"))}
            ck = crowdkit_scores(src, os.path.join(d, "labels.csv"))
            ck_rho = ck_s = None
            if ck is not None:
                items = [i for i in truth if i in ck["scores"]]
                ck_rho = spearman([ck["scores"][i] for i in items], [truth[i] for i in items])
                ck_s = ck["seconds"]
            rows.append((seed, rho, ck_rho, found, len(careless), false_flags, len(careful), ours_s, ck_s))
    fmt = lambda x, p: "-" if x is None else f"{x:.{p}f}"
    print(f"{args.comparisons} votes, {args.items} items, {args.workers} raters per draw\n")
    print("| seed | Spearman, consensusd | Spearman, crowd-kit NoisyBT | careless found | false flags | consensusd s (whole process) | crowd-kit s (fit) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for seed, rho, ck_rho, found, nc, ff, nf, s, cs in rows:
        print(f"| {seed} | {rho:.4f} | {fmt(ck_rho, 4)} | {found} of {nc} | {ff} of {nf} | {s:.2f} | {fmt(cs, 2)} |")
    worse = [r for r in rows if r[2] is not None and r[1] < r[2]]
    recall = sum(r[3] for r in rows) / max(1, sum(r[4] for r in rows))
    false_rate = sum(r[5] for r in rows) / max(1, sum(r[6] for r in rows))
    print(f"\ncareless raters found {recall:.1%}; careful raters flagged {false_rate:.1%}; "
          f"draws where crowd-kit's rho is higher: {len(worse)}")
    return 1 if worse or recall < 0.8 or false_rate > 0.05 else 0


if __name__ == "__main__":
    sys.exit(main())
