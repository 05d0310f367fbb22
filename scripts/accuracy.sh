#!/usr/bin/env bash
# make accuracy: accuracy of every method on every shared data set against its
# gold.csv, under both duplicate settings, next to crowd-kit's columns from
# BASELINES.md, and the recovery of synthetic truth against the Bayes-optimal
# accuracy; as Markdown.
#   bash scripts/accuracy.sh build/consensusd > docs/accuracy.md
#   DATA_DIR=/path/to/data bash scripts/accuracy.sh build/consensusd
# DATA_DIR holds one folder per data set with labels.csv and gold.csv, and
# BASELINES.md (default: ../shared/data next to the repository).
set -euo pipefail

binary="${1:?usage: scripts/accuracy.sh PATH/TO/consensusd}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="${DATA_DIR:-$root/../shared/data}"
baselines="$data_dir/BASELINES.md"

if [[ ! -x "$binary" ]]; then
  echo "accuracy: $binary is not an executable; build first (make build)" >&2
  exit 1
fi
if [[ ! -d "$data_dir" ]]; then
  echo "accuracy: no data directory $data_dir; set DATA_DIR" >&2
  exit 1
fi

# baseline DATASET COLUMN: a cell of the first table of BASELINES.md, or "-".
baseline() {
  [[ -f "$baselines" ]] || { echo "-"; return; }
  awk -F'|' -v dataset="$1" -v column="$2" '
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    /^\|/ && col == 0 { for (i = 2; i < NF; i++) if (trim($i) == column) col = i; next }
    /^$/ && col > 0 && seen { exit }
    /^\|/ && col > 0 { seen = 1; if (trim($2) == dataset) { print trim($col); found = 1; exit } }
    END { if (!found) print "-" }' "$baselines"
}

# field OUTPUT KEY: the second word of the line of OUTPUT whose first word is KEY.
field() { awk -v key="$2" '$1 == key { print $2; exit }' <<<"$1"; }

methods=(ds onecoin vbds mace hds mv wawa)
synth_configs=("25000 100 4 5" "25000 25 4 5" "25000 100 2 5" "20000 2000 4 5" "20000 2000 2 5")
synth_seeds=(1 2 3)

# mean_row LABEL SKIP: the mean of every numeric column of the rows on stdin
# (Markdown "| a | b | ... |"), the first SKIP columns left blank.
mean_row() {
  awk -F'|' -v label="$1" -v skip="$2" '
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    { n = NF - 1; rows++
      for (i = 2; i <= n; i++) { v = trim($i); if (v ~ /^[0-9.]+$/) sum[i] += v; else bad[i] = 1 } }
    END {
      out = "| " label
      for (i = 3; i <= n; i++) {
        if (i - 2 <= skip) out = out " | "
        else if (bad[i]) out = out " | -"
        else out = out sprintf(" | %.4f", sum[i] / rows)
      }
      print out " |" }'
}

all_rows=()
last_rows=()
default_prior=""
for dir in "$data_dir"/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  [[ -f "$dir/labels.csv" && -f "$dir/gold.csv" ]] || continue
  every="$("$binary" aggregate --method all --repeats count \
        --labels "$dir/labels.csv" --truth "$dir/gold.csv")"
  last="$("$binary" aggregate --method all --repeats replace \
        --labels "$dir/labels.csv" --truth "$dir/gold.csv")"
  ml="$("$binary" aggregate --method ds --prior 0 --repeats count \
        --labels "$dir/labels.csv" --truth "$dir/gold.csv")"
  mvname="$("$binary" aggregate --method mv --tie-break name --repeats count \
        --labels "$dir/labels.csv" --truth "$dir/gold.csv")"
  evaluated="$(awk '$1 == "ds" { print $3; exit }' <<<"$every")"
  default_prior="$(sed -n 's/.*; prior \([^,]*\),.*/\1/p' <<<"$every" | head -1)"
  row="| $name | $evaluated"
  for m in "${methods[@]}"; do row+=" | $(field "$every" "$m")"; done
  row+=" | $(field "$ml" accuracy) | $(field "$mvname" accuracy)"
  for c in DS DS_100it MV GLAD MACE Wawa; do row+=" | $(baseline "$name" "$c")"; done
  all_rows+=("$row |")
  row="| $name | $evaluated"
  for m in "${methods[@]}"; do row+=" | $(field "$last" "$m")"; done
  last_rows+=("$row |")
done

if [[ ${#all_rows[@]} -eq 0 ]]; then
  echo "accuracy: no data set (a folder with labels.csv and gold.csv) in $data_dir" >&2
  exit 1
fi

# Synthetic recovery: consensusd synth, then every method against truth.csv.
synth_dir="$(mktemp -d)"
trap 'rm -rf "$synth_dir"' EXIT
synth_rows=()
known_rows=()

# synth_table ROW...: the rows, then the mean of each configuration's seeds.
synth_table() {
  printf '%s\n' "$@"
  local config tasks workers classes per_task
  for config in "${synth_configs[@]}"; do
    read -r tasks workers classes per_task <<<"$config"
    printf '%s\n' "$@" | grep -F "| $tasks x $per_task, $workers workers, K $classes |" |
      mean_row "$tasks x $per_task, $workers workers, K $classes: mean" 2
  done
}

# cross_fit DIR: the default method's accuracy when the true class of nine
# tenths of the tasks is given as gold (anchors of the fit), scored on the
# tenth left out; ten folds (task i in fold i mod 10), pooled over all tasks.
cross_fit() {
  local dir="$1" correct=0 total=0 fold line
  for fold in 0 1 2 3 4 5 6 7 8 9; do
    awk -F, -v fold="$fold" -v gold="$dir/cv_gold.csv" -v truth="$dir/cv_truth.csv" '
      NR == 1 { print > gold; print > truth; next }
      { print > ((NR - 2) % 10 == fold ? truth : gold) }' "$dir/truth.csv"
    line="$("$binary" aggregate --labels "$dir/labels.csv" --gold "$dir/cv_gold.csv" \
            --truth "$dir/cv_truth.csv" | sed -n 's/^accuracy *[0-9.]* (\([0-9]*\) of \([0-9]*\) .*/\1 \2/p')"
    correct=$((correct + ${line% *}))
    total=$((total + ${line#* }))
  done
  awk -v c="$correct" -v t="$total" 'BEGIN { printf "%.4f", c / t }'
}
for config in "${synth_configs[@]}"; do
  read -r tasks workers classes per_task <<<"$config"
  for seed in "${synth_seeds[@]}"; do
    out="$synth_dir/s"
    synth="$("$binary" synth --tasks "$tasks" --workers "$workers" --classes "$classes" \
          --answers-per-task "$per_task" --seed "$seed" --out "$out")"
    optimal="$(sed -n 's/^Bayes-optimal accuracy \([0-9.]*\).*/\1/p' <<<"$synth")"
    fit="$("$binary" aggregate --method all --labels "$out/labels.csv" --truth "$out/truth.csv")"
    row="| $tasks x $per_task, $workers workers, K $classes | $seed | $((tasks * per_task / workers)) | $optimal"
    for m in "${methods[@]}"; do row+=" | $(field "$fit" "$m")"; done
    synth_rows+=("$row |")
    known_rows+=("| $tasks x $per_task, $workers workers, K $classes | $seed | $((tasks * per_task / workers)) | $optimal | $(field "$fit" hds) | $(cross_fit "$out") |")
  done
done

method_header="| ds | onecoin | vbds | mace | hds | mv | wawa"
method_rule="|---:|---:|---:|---:|---:|---:|---:"

cat <<EOF
# Accuracy on the shared data sets

Accuracy of the consensus label against each data set's \`gold.csv\` (gold is
used only to score, never to fit). Generated by \`scripts/accuracy.sh\` (\`make accuracy\`),
which runs, for each data set DIR:

    $binary aggregate --method all --repeats count --labels DIR/labels.csv --truth DIR/gold.csv
    $binary aggregate --method all --repeats replace --labels DIR/labels.csv --truth DIR/gold.csv
    $binary aggregate --method ds --prior 0 --repeats count --labels DIR/labels.csv --truth DIR/gold.csv
    $binary aggregate --method mv --tie-break name --repeats count --labels DIR/labels.csv --truth DIR/gold.csv

Methods (SPEC 4.1): \`ds\` Dawid-Skene EM, MAP under a weak Dirichlet prior
(pseudo-count $default_prior per cell plus 1 on the diagonal); \`onecoin\` one accuracy per worker;
\`vbds\` variational Bayesian Dawid-Skene (IBCC, Kim & Ghahramani 2012): the E-step
uses exp(E[log pi]) under each confusion row's Dirichlet posterior, with the prior
Dirichlet(1/K + [l == k]) (two pseudo-answers per row, one spread evenly, one on
the true class: a weak prior whose mean says "better than chance"); \`mace\` MACE
(Hovy et al. 2013): each worker answers the truth unless spamming (probability
1 - theta, Beta(0.5, 0.5) prior as in the paper's VB training) and then draws from a
spamming distribution (Dirichlet(1) prior), fitted by variational Bayes; \`hds\`
hierarchical Dawid-Skene (after Paun et al. 2018): each worker's confusion row k
has the prior Dirichlet(1 + K m_k), centred on the population's row m_k, which is
re-estimated in every M-step from the answers of all included workers pooled
(under a Dirichlet(1 + [l == k]) hyperprior), **the default** of \`aggregate\`
and of a served project; \`mv\` majority vote; \`wawa\`
agreement-weighted vote. \`vbds\`, \`mace\` and \`hds\` are maps from a worker's
expected counts (and, for \`hds\`, the pooled counts) to its answer
probabilities, so they run in batch and in the streaming model with the same
O(answers x K^2) sweep as \`ds\`.

The crowd-kit columns are copied from \`BASELINES.md\` (crowd-kit 1.4.1, default
parameters, every row counted; DS_100it = forced to 100 EM iterations).
\`ds, prior 0\` is plain maximum-likelihood Dawid-Skene, crowd-kit's \`DawidSkene\`.

Ties. consensusd gives a tie between classes to the class with the larger prior,
then to the name that sorts first (SPEC 4.2); crowd-kit gives it to the name that
sorts first. Ties are common under majority vote (rte has 10 binary answers per
task), so \`mv\` differs from crowd-kit's MV; with \`--tie-break name\` and every row
(\`mv, name ties\`) it matches crowd-kit's MV exactly.

## Every row counted (\`--repeats count\`, the default of \`aggregate\`, as crowd-kit reads files)

| dataset | gold tasks $method_header | ds, prior 0 | mv, name ties | crowd-kit DS | crowd-kit DS_100it | crowd-kit MV | crowd-kit GLAD | crowd-kit MACE | crowd-kit Wawa |
|---|---:$method_rule|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
printf '%s\n' "${all_rows[@]}"
printf '%s\n' "${all_rows[@]}" | mean_row mean 1

cat <<EOF

## Each worker's last answer per task (\`--repeats replace\`, the default of a served project)

| dataset | gold tasks $method_header |
|---|---:$method_rule|
EOF
printf '%s\n' "${last_rows[@]}"
printf '%s\n' "${last_rows[@]}" | mean_row mean 1

cat <<EOF

## Recovery of synthetic truth

\`consensusd synth\` draws answers from a Dawid-Skene model with known truth
(mostly reliable workers, spammers, biased workers, an uneven class prior) and
prints the Bayes-optimal accuracy: the posterior argmax under the TRUE class
prior and confusion matrices, which no method beats in expectation. For each row:

    $binary synth --tasks T --workers W --classes K --answers-per-task R --seed S --out DIR
    $binary aggregate --method all --labels DIR/labels.csv --truth DIR/truth.csv

| data | seed | answers per worker | Bayes-optimal $method_header |
|---|---:|---:|---:$method_rule|
EOF
synth_table "${synth_rows[@]}"

cat <<EOF

### What knowing the truth buys

The Bayes-optimal accuracy knows every worker's true confusion matrix. A
method has only the answers; how much of the gap is the method's, and how
much the cost of learning K x K matrices from the answers a worker gave? The
last column gives the default method the true class of nine tenths of the
tasks as gold (anchors of the fit: the matrices are then learned from
truth) and scores it on the tenth left out, over ten folds:

    $binary aggregate --labels DIR/labels.csv --gold GOLD_OF_9_FOLDS --truth TRUTH_OF_1_FOLD

| data | seed | answers per worker | Bayes-optimal | hds (default) | hds, 90% of the truth as gold |
|---|---:|---:|---:|---:|---:|
EOF
synth_table "${known_rows[@]}"

cat <<'EOF'

At 50 answers per worker, the default given the truth of 90% of the tasks is
still 1.3 points (K = 4) and 0.9 point (K = 2) below the Bayes-optimal
accuracy, and the default given no truth at all is 0.2 and 0.4 point below
that (means of three seeds). Most of the gap is what K x K matrices learned
from tens of answers cost, whoever learns them: a method that has only the
answers cannot be expected to beat one that also knows 90% of the truth, so
the issue's "within 0.1 point of the Bayes-optimal accuracy" can hold only
where a worker's answers determine its matrix: at
5,000 answers per worker the default is 0.04 point below it (the test
`BayesianTest` asserts 0.1 there), at 1,250 it is 0.2 point below and 0.16
point below even with 90% of the truth.
EOF

cat <<'EOF'

## Why `hds` (the third cheap Bayesian method, issue 11)

Three published candidates were weighed for the slot after `vbds` and `mace`,
against the design every EM method here shares: a worker's answer
probabilities are a map from its expected counts [l][k], so that batch EM and
the streaming model derive the same parameters, O(answers x K^2) per sweep.

- GLAD (Whitehill et al. 2009) needs a difficulty per task and gradient steps
  on it in every M-step; the difficulty of a task would have to be streamed and
  re-fitted with each answer. Not cheap, and not a map from counts.
- BWA (Li, Rubinstein & Cohn, "Truth inference at scale: a Bayesian model for
  adjudicating highly redundant crowd annotations", WWW 2019) gives each worker
  a precision with a Gamma prior and takes each task's truth as a
  precision-weighted average of one-hot answers. Its truth is a linear average,
  not a product of likelihoods, and a worker's precision update needs the
  squared distance of its answers to the current average (a per-task sum of
  squares), which the K x K counts do not hold. It would need a second E-step
  and per-task statistics in the streaming model.
- Hierarchical Dawid-Skene (Paun, Carpenter, Chamberlain, Hovy, Kruschwitz &
  Poesio, "Comparing Bayesian models of annotation", TACL 2018): each worker's
  confusion rows are drawn around the population's. Paun et al. report that
  partially pooled models like it hold up better than the unpooled
  Dawid-Skene where many annotators give few answers: an annotator with little
  data is read as a typical member of the crowd instead of being trusted by a
  fixed prior (`ds`: a prior mean accuracy of 0.97 or more) or ignored. That
  is the failure the issue names (sparse workers, spammers), and it fits the
  design: the population is one more K x K sum of the same counts.

`hds` is an empirical-Bayes form of that model, fitted by EM like `ds`:
each confusion row k of a worker has the prior Dirichlet(1 + s m_k) (MAP, as
`ds`), m_k the population's row, re-estimated in every M-step from the pooled
expected counts N of every included worker under a Dirichlet(1 + [l == k])
hyperprior, m_kl = (N_lk + 1 + [l == k]) / (N_k + K + 1), so that

    P(l | k) = (n_lk + s m_kl) / (n_k + s).

Paun et al. fit a logistic-normal hierarchy by sampling (Stan), learning its
spread; a spread learned per sweep would make the prior a non-linear function
of every worker's counts and cost a fixed-point iteration per M-step, so `hds`
fixes the strength s instead, chosen by principle before looking at any data:
s = K pseudo-answers per row, the mass of Laplace's uniform Dirichlet(1); the
hierarchy only moves where that mass sits. The hyperprior's extra
pseudo-answer on the diagonal is `ds`'s belief that workers do better than
chance, held by the crowd instead of by each worker: thousands of pooled
answers outweigh it, but before a project has any (its first answers, each
task answered once) it is what makes a lone answer its task's label instead
of a tie between every class. It was added when `hds` became the default
(the service's tests of a new project's first answers failed without it) and
changes no accuracy in the tables below. A worker with 3
answers is then mostly the population, a spammer with 40 answers mostly its own
data (its rows alike, so its answers move no posterior). The class prior is
`ds`'s (`--prior`). s and the hyperprior were fixed before the first run on
the shared sets and not changed after. The stopping rule was revised once,
after that run: the first rule (stop when the objective changes by less than
`tol`) stopped adult2 at iteration 23 on a turn of the wandering objective
(below). The revision is principled (a stopping rule should not fire on a
turning point) and was made from the objective's trajectory, not from gold,
but it was made after seeing adult2's accuracy, and it is worth 0.6 point
there (0.7748 with the first rule, the same as `ds`); the other four sets gave
the same accuracy under both rules (every row counted).

Because the population moves with each M-step, the objective (log-likelihood
plus the prior's log-density, measured from the population so that a worker
without answers adds 0) is not EM's and wanders by a few 1e-4 per answer
before the population settles; `hds` stops when the objective changes by
less than `tol` per answer either way and the pooled counts by less than
sqrt(`tol`) per answer (or at `max_iter`). (The counts were first held to
`tol` itself; near a fixed point the objective moves with the square of a
parameter's step, so sqrt(`tol`) is the step that `tol` stands for, and held to
`tol` the counts kept `hds` iterating twice as long as `ds` on large inputs:
57 sweeps against 25 on 10M synthetic answers, which moved 0.04% of the
labels and the accuracy by one task. The change moved no accuracy on the
real sets here and at most 5 tasks in 25,000 in the synthetic rows.) On adult2
(825 workers, many with few answers) convergence takes
176 iterations with every row counted (208 under replace), more than the
default `max_iter` of 100 that the tables use for every method; the other four
sets converge within 100. Run to convergence, adult2 gives 0.7778 under both settings instead of
0.7808 and 0.7838 (one and two tasks of 333 fewer). In the streaming model the pooled counts are kept by the same
per-answer contributions as the workers' counts (an excluded worker's leave
the sum at once), so a sweep reaches the batch result (BatchAgreementTest/hds).

## The default method: `hds`

The default of `aggregate --method`, of `model.method` and of
`AggregateOptions` is `hds` (it was `ds` until issue 11; SPEC 4.1 still names
`ds` as the default, and says a new method is welcome "when it beats `ds` on
the data sets": `hds` does on the mean of the shared sets, on the synthetic
data with sparse workers, and on two of the seven held-out sets below, and
loses on one). The rule that picks it uses no truth labels of real data: a
method replaces the default only if it is (1) as good on synthetic data from
the model, scored against the Bayes-optimal accuracy that `synth` computes from
the true parameters (not against any data set's gold), and (2) at least as good
on the shared data sets under both duplicate settings, which are then a check
and not a target: nothing (prior, iterations, thresholds) was tuned on them.

What decided it is (1) in the shape `synth` draws by default: tens of answers
per worker, not thousands. The first synthetic rows (1,250 and 5,000 answers
per worker on average) are friendly to every EM method, and there `ds`, `vbds`
and `hds` tie to within a few tasks in 25,000. In the rows with 2,000 workers
(20,000 tasks x 5 answers: 50 answers per worker on average, about 10 for the
least busy), every method is 1.3 to 1.9 points below the Bayes-optimal accuracy
(K x K matrices from tens of answers), and `hds` is the closest: 0.4 point
above `ds` at K = 4 and 0.1 at K = 2 (mean of three seeds; table above;
`BayesianTest.DefaultBeatsDawidSkeneWhereWorkersAreSparse` asserts it). Under
`ds`'s prior (1 pseudo-answer on the diagonal and 0.01 elsewhere) a worker with
a handful of answers is read as all but perfect on the classes it has not
been seen on, a light spammer included; under `hds` it is read as a typical
member of the crowd until its own answers say otherwise. That is the failure
the issue names on held-out sets (sparse workers, spammers).

- `hds` on the shared sets, at the default `max_iter` of 100: mean 0.8768
  against `ds`'s 0.8762 with every row counted (0.8774 against 0.8768 under
  replace); it gains on the sparse adult2 (+0.6 point; +1.5 against crowd-kit
  DS), loses 0.25 point on dog and 0.17 on product, and on no set is it more
  than 0.5 point below crowd-kit DS (dog -0.25, product -0.21, rte 0, bluebirds
  +0.9). The margin on the mean is one task of adult2, and adult2 has not
  converged at 100 iterations (above): run to convergence, the mean is 0.8762,
  the same as `ds`. So (2) is a tie, not a win; the choice rests on (1).
- `vbds` integrates over each confusion row instead of taking its mode, with a
  prior fixed before looking at any data. It equals `ds` to within a few tasks
  on the dense synthetic rows, is 0.1 point above it on the sparse ones (0.3
  below `hds`), and is slightly below `ds` on the shared mean: it fails (1)
  against `hds`.
- `mace` assumes that a worker is either right or answering from one
  distribution regardless of the truth. It reads spammers well and matches `ds`
  on the binary sets, but it has no way to represent a worker who confuses two
  particular classes (the biased workers of `synth`, the 4-class sets adult2 and
  dog), and it is 1 to 1.5 points below `ds` on the dense K = 4 synthetic data:
  it fails (1).
- `ds` stays available (`--method ds`, `model.method: ds`) with its priors;
  `--method ds --prior 0` is crowd-kit's maximum-likelihood `DawidSkene`.
- Choosing per data set by gold is not allowed. A label-free choice per
  project (by the evidence of the workers' counts) was
  tried for `hds`'s strength and dropped (below).

What is not met (issue 11 stays open): on synthetic data the default is
within 0.1 point of the Bayes-optimal accuracy only where workers have
thousands of answers (`BayesianTest.DefaultIsWithinATenthOfAPointOfBayesOptimal`,
25 workers); at 1,250 answers per worker it is 0.2 point below, and at 50 it
is 1.3 (K = 2) to 1.5 (K = 4) points below (every other method here is further). And on one held-out set,
trec, `hds` is 2.1 points below crowd-kit DS (below).

## Seven more public data sets (checked 2026-12-03; not shipped, not in the tables above)

The issue warns that a default tuned to the five shared sets will not pass on
sets held out. To see how the methods here generalise, seven more public sets
with known truth were converted (`task,worker,label`, every source row kept)
and run with every method at its default and nothing changed afterwards.
crowd-kit 1.4.1 ran on the same files (`DawidSkene()`, whose default is 100
iterations, every row counted). They are not in the repository (licences and
provenance vary); their sources:

| set | source (repository, path) | tasks | workers | answers | K | gold |
|---|---|---:|---:|---:|---:|---:|
| temp | edwinrobots/bayesian_combination_tutorial2 `all_collected_data/temp.standardized.tsv` (Snow et al. 2008) | 462 | 76 | 4,620 | 2 | 462 |
| wsd | the same, `wsd.standardized.tsv` | 177 | 34 | 1,770 | 3 | 177 |
| face | zhydhkcws/crowd_truth_infer `datasets/s4_Face Sentiment Identification` | 584 | 27 | 5,242 | 4 | 584 |
| barzan | ipeirotis/Get-Another-Label `data/BarzanMozafari` (truth: `evaluation.txt`) | 1,000 | 83 | 5,000 | 2 | 1,000 |
| copyright | ipeirotis/Get-Another-Label `data/CopyrightInfringement` | 1,593 | 44 | 7,540 | 3 | 9 |
| hitspam | ipeirotis/Get-Another-Label `data/HITspam-UsingCrowdflower` | 5,380 | 153 | 42,762 | 2 | 100 |
| trec | ipeirotis/Get-Another-Label `data/JeroenVuurens` (TREC 2011 crowdsourcing track) | 2,165 | 445 | 17,395 | 2 | 290 |

trec's workers answered 0/1 and its NIST truth is 0/1/2 (2 = highly relevant);
2 was read as 1. copyright has 9 gold tasks (one task is 11 points), and on
hitspam and wsd every method, ours and crowd-kit's, gives the same labels.

Accuracy, every row counted (`aggregate --method all --repeats count`), with the
difference from crowd-kit's DawidSkene in points:

| set | hds (default) | ds | vbds | mace | ds, prior 0 | mv | crowd-kit DS | crowd-kit MV | crowd-kit MACE | crowd-kit GLAD |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| temp | 0.9416 (0) | 0.9416 (0) | 0.9416 | 0.9437 | 0.9416 | 0.9329 | 0.9416 | 0.9394 | 0.9394 | 0.9351 |
| wsd | 0.9944 (0) | 0.9944 (0) | 0.9944 | 0.9944 | 0.9944 | 0.9944 | 0.9944 | 0.9944 | 0.9944 | 0.9944 |
| face | 0.6507 (+1.0) | 0.6421 (+0.2) | 0.6370 | 0.6473 | 0.6404 | 0.6301 | 0.6404 | 0.6301 | 0.6353 | 0.6301 |
| barzan | 0.7160 (+0.7) | 0.7070 (-0.2) | 0.7070 | 0.7020 | 0.7120 | 0.6960 | 0.7090 | 0.6960 | 0.6930 | 0.6940 |
| copyright | 0.7778 (0) | 0.7778 (0) | 0.7778 | 0.7778 | 0.7778 | 0.4444 | 0.7778 | 0.4444 | 0.6667 | 0.4444 |
| hitspam | 0.6600 (0) | 0.6600 (0) | 0.6600 | 0.6600 | 0.6600 | 0.6600 | 0.6600 | 0.6600 | 0.6600 | 0.6600 |
| trec | 0.6655 (**-2.1**) | 0.6724 (**-1.4**) | 0.6724 | 0.6724 | 0.6862 | 0.7000 | 0.6862 | 0.7000 | 0.6862 | 0.6724 |

- `hds` gains where it should (face +1.0, barzan +0.7, adult2 +1.5: sparse
  workers read as typical members of the crowd). Over the twelve sets its
  mean is 0.14 point above crowd-kit DS (`ds` 0.02).
- trec is the exception, for both: `hds` is 6 tasks of 290 below crowd-kit DS,
  `ds` 4. Its gold is not a sample of its tasks: 201 of the 290 gold tasks are
  relevant (69%), while every EM method labels 43 to 44% of all 2,165 tasks
  relevant, and most errors of every method are relevant documents labelled
  not relevant (`ds` 65 of 95, `hds` 66 of 97, maximum-likelihood DS 61 of 91).
  Majority vote, which ignores the class prior, labels 46% relevant and
  is the most accurate (0.7000). The differences between the EM methods are
  where a borderline task goes against the class that the whole set makes
  likelier and the gold sample over-represents; no label-free method sees
  that. It is still a set where the default is more than 0.5 point below
  crowd-kit DS, so the issue's condition is not met on data we can see.
- One more idea was tried on these twelve sets and dropped (not committed):
  `hds` with its strength s chosen in every M-step by the Dirichlet-multinomial
  evidence of the workers' expected counts (empirical Bayes, the data deciding
  how much a light worker is read as the crowd) instead of fixed at K. It
  picked s = K on adult2 and s = 2K on trec, and gave a shared mean of 0.8766
  (0.8760 converged) and trec 0.6586 (-2.8 points against crowd-kit DS). A
  fixed s from K/4 to 4K moved trec between 0.6793 and 0.6517 and the shared
  mean between 0.8735 and 0.8768 in opposite directions.
- And one more, to close the gap on sparse synthetic data (prototyped in
  numpy, which reproduced `hds`'s accuracy on all eighteen sets exactly; not
  committed): a mixture of C = 2 or 3 communities as the population
  (after Venanzi et al. 2014, "Community-based Bayesian aggregation models
  for crowdsourcing"), each worker's prior a mixture of Dirichlets centred on
  the community rows, with responsibilities from the Dirichlet-multinomial
  evidence of its expected counts. At s = K the communities collapse into
  one (every result within 0.05 point of `hds`). At s = 2K a low-accuracy
  community appears on K = 4 synthetic data (0.3 point closer to the
  Bayes-optimal accuracy), but most of that gain is the larger s alone, and
  the shared mean falls to 0.8740 (C = 2). The weights of identical
  communities drift without end, so many fits stop at the cap.
- What crowd-kit DS has that the others lack on trec is no prior at all:
  `ds` scores 195 of 290 with a pseudo-count of 1e-12 as with 0.01 (the
  diagonal pseudo-count of 1 is what moves it), and plain maximum likelihood
  (`--prior 0`) 199. Of the 10 gold tasks where `hds` and maximum-likelihood
  DS disagree, the latter has 8: a two-sided sign test gives p = 0.11, so
  the 6-task gap is also within what chance gives on 290 gold tasks.
- A population weighted by workers instead of answers was tried and dropped
  (numpy, 2026-12-03; not committed): each worker's counts enter the pooled
  row as n_kl / (n_k + s), the random-effects mean in which a busy worker
  counts once and a light one by how much its answers say. It halves the
  sweeps and brings trec to -1.0 point, but costs adult2 0.9 and barzan 0.7
  point (shared mean 0.8753) and leaves the synthetic rows unchanged.
EOF
