#!/usr/bin/env bash
# The cost of `--propose-interactions`: plain training against training with the search, on
# the same synthetic leads with the bundled rules (data/rules.toml), whole processes.
#
#   bash bench/interactions.sh [ROWS]        (default 1000000)
#
# Times RUNS runs of each (default 3; the median is reported) with peak memory from
# /usr/bin/time, and prints the search's record (pairs, steps, kept). The binary is the
# project's one build profile (optimised dev profile), $CARGO_TARGET_DIR or target/. Data goes
# to bench/data/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
n=${1:-1000000}
N=${N:-3}
cargo build --quiet --locked --all-targets
bin="${CARGO_TARGET_DIR:-target}/debug/mqlcal"
mkdir -p bench/data
data="bench/data/synth-$n.csv"
[ -f "$data" ] || "$bin" synth --rows "$n" --seed 7 --out "$data" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

source bench/measure.sh

read -r plain plain_mb < <(measure "$bin" train --data "$data" --rules data/rules.toml --out "$out/plain.json" --force)
read -r search search_mb < <(measure "$bin" train --data "$data" --rules data/rules.toml --out "$out/search.json" --force --propose-interactions "$N")
echo "leads: $n, rules: data/rules.toml, --propose-interactions $N, median of $RUNS runs"
echo "plain training:              ${plain} s, peak ${plain_mb} MB"
echo "with the interaction search: ${search} s, peak ${search_mb} MB"
"$bin" inspect --model "$out/search.json" | sed -n '/^interactions:/,/^$/p'
