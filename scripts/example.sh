#!/usr/bin/env bash
# The main job on the bundled example data: train on data/leads.csv with data/rules.toml,
# show the points table, score new leads. With --ci, trains into a scratch folder and checks
# that the result is byte-identical to the committed models/lead-model.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --locked
bin=target/debug/mqlcal
mkdir -p target/example

if [ "${1:-}" = "--ci" ]; then
  $bin train --data data/leads.csv --rules data/rules.toml --out target/example/lead-model.json --force
  cmp target/example/lead-model.json models/lead-model.json \
    || { echo "example: models/lead-model.json is not what the README command produces" >&2; exit 1; }
  model=target/example/lead-model.json
else
  # Regenerates the committed example model (it is the README's command; --force because the
  # file ships with the repository).
  $bin train --data data/leads.csv --rules data/rules.toml --out models/lead-model.json --force
  model=models/lead-model.json
fi
$bin score --model "$model" --data data/new_leads.csv --out target/example/scored.csv --force
echo
echo "first scored leads (target/example/scored.csv):"
head -n 6 target/example/scored.csv
