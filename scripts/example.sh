#!/usr/bin/env bash
# The main job on the bundled example data: train on data/leads.csv with data/rules.toml,
# show the points table, score new leads. With --ci, trains into a scratch folder twice, checks
# the two files are byte-identical and agree with the committed models/lead-model.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# --all-targets resolves features exactly as `cargo test` does, so the tests and this job share
# one build (a plain `cargo build` leaves out dev-dependencies, which changes features of
# shared crates and rebuilds polars).
cargo build --quiet --locked --all-targets
bin="${CARGO_TARGET_DIR:-target}/debug/mqlcal"
mkdir -p target/example

if [ "${1:-}" = "--ci" ]; then
  # Two runs must give the same bytes; the committed model must hold the same points and
  # threshold (floating-point digits may differ on another CPU, integers may not).
  $bin train --data data/leads.csv --rules data/rules.toml --out target/example/lead-model.json --force
  $bin train --data data/leads.csv --rules data/rules.toml --out target/example/again.json --force >/dev/null 2>&1
  cmp target/example/lead-model.json target/example/again.json
  python3 - <<'PY'
import json, sys
new = json.load(open("target/example/lead-model.json"))
old = json.load(open("models/lead-model.json"))
key = lambda m: ([(r["name"], r["points"]) for r in m["rules"]], m["threshold"]["points"])
if key(new) != key(old):
    sys.exit("example: models/lead-model.json is stale; run scripts/example.sh and commit it")
PY
  model=target/example/lead-model.json
else
  # Regenerates the committed example model (it is the README's command; --force because the
  # file ships with the repository).
  $bin train --data data/leads.csv --rules data/rules.toml --out models/lead-model.json --force
  model=models/lead-model.json
fi
$bin score --model "$model" --data data/new_leads.csv --out target/example/scored.csv --force
$bin report --model "$model" --data data/new_leads.csv --out target/example/report --force \
  --date created_at --train-data data/leads.csv

# Outcomes as sales reports them: leads and a separate opportunities list with dates, exported
# on one day, so the youngest leads have not had their chance yet (see "Feedback from sales").
echo
echo "== feedback from sales: an opportunities list, a 90-day window, young leads weighted"
$bin synth --rows 20000 --seed 7 --opportunities target/example/opportunities.csv \
  --campaign-days 75 --out target/example/dated-leads.csv --force >/dev/null
cat data/rules.toml - > target/example/dated-rules.toml <<'TOML'

[[rule]]
name = "Launch campaign"
column = "campaign"
one_of = ["launch"]
TOML
$bin train --data target/example/dated-leads.csv --rules target/example/dated-rules.toml \
  --date created_at --outcomes target/example/opportunities.csv --outcome-date opportunity_date \
  --window 90d --out target/example/dated-model.json --force

# Behaviour in time: an activity log, event rules with a learnt half-life, snapshots (see
# "Behaviour in time").
echo
echo "== behaviour in time: an activity log, decay learnt from the data, monthly snapshots"
$bin synth --rows 3000 --seed 7 --events target/example/events.csv \
  --out target/example/activity-leads.csv --force >/dev/null
$bin train --data target/example/activity-leads.csv --events target/example/events.csv \
  --rules data/events-rules.toml --outcome-date opportunity_date --date created_at --window 60d \
  --snapshots monthly --out target/example/events-model.json --force
$bin score --model target/example/events-model.json --data target/example/activity-leads.csv \
  --events target/example/events.csv --as-of 2026-02-28 --out target/example/events-scored.csv \
  --force

echo
echo "first scored leads (target/example/scored.csv):"
head -n 6 target/example/scored.csv
echo "diagnostics report: target/example/report/index.html"
