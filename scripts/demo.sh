#!/usr/bin/env bash
# make demo: every aggregation method on the shipped Bluebirds data set, scored
# against its gold labels.
#   bash scripts/demo.sh build/consensusd
set -euo pipefail

binary="${1:?usage: scripts/demo.sh PATH/TO/consensusd}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$root/data/bluebirds"

if [[ ! -x "$binary" ]]; then
  echo "demo: $binary is not an executable; build first (make build)" >&2
  exit 1
fi

echo "Bluebirds (Welinder et al., NIPS 2010): 39 annotators, 108 images, 2 classes."
echo "Each method aggregates data/bluebirds/labels.csv; accuracy is against data/bluebirds/gold.csv."
echo "(crowd-kit 1.4.1 for comparison: MV 0.7593, DS 0.8889, DS run 100 iterations 0.8981.)"
echo
"$binary" aggregate --method all --labels "$data/labels.csv" --truth "$data/gold.csv"
