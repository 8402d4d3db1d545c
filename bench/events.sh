#!/usr/bin/env bash
# Point-in-time training at scale: an activity log in Parquet turned into snapshot pattern
# counts, beside the polars read of the same file.
#
#   bash bench/events.sh [LEADS] [EVENTS]     (default 5000000 leads, about 100000000 events)
#
# Makes the leads and their activity log once into bench/data/ (`mqlcal synth --events`, the
# events written in batches, `at` a UTC timestamp column; the creation dates spread over enough
# days that the log has about EVENTS events: the synthetic leads have about 0.061 events per
# day of history, and as-of is 58 days after the last creation day). Then times, RUNS times each
# (default 1; median time, largest peak memory from /usr/bin/time), as whole processes:
#   read    python -c "polars.read_parquet(FILE)" (the whole log into memory, nothing else);
#   train   `mqlcal train --events FILE --snapshots monthly` with the rules of
#           data/events-rules.toml at a fixed 14-day half-life (reading the leads and the log,
#           the snapshot counts, the fit, calibration and threshold);
#   learn   the same with decay = "learn" (9 half-lives tried, then the final training), when
#           LEARN=1.
# Python polars is installed into bench/.venv on first use. The binary is the project's one
# build profile (optimised dev), $CARGO_TARGET_DIR or target/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
leads=${1:-5000000}
events=${2:-100000000}

cargo build --quiet --locked --all-targets
bin="${CARGO_TARGET_DIR:-target}/debug/mqlcal"
venv=bench/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import polars" 2>/dev/null; then
  echo "events: installing polars into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$(grep '^polars==' bench/requirements.txt)"
fi
py="$venv/bin/python"
mkdir -p bench/data

source bench/measure.sh

# Creation days for about $events events: events per lead = 0.061 * (days / 2 + 58).
days=$(python3 -c "print(max(1, round(2 * ($events / $leads / 0.061 - 58))))")
log="bench/data/events-$leads-$days.parquet"
data="bench/data/event-leads-$leads-$days.parquet"
if [ ! -f "$log" ] || [ ! -f "$data" ]; then
  echo "events: making $leads leads created over $days days and their activity log" >&2
  read -r t m < <(measure "$bin" synth --rows "$leads" --seed 7 --days "$days" \
    --events "$log" --out "$data" --force)
  printf "synth   %8.2f s %6s MB peak\n" "$t" "$m"
fi
rows=$("$py" -c "import polars as pl, sys; print(pl.scan_parquet(sys.argv[1]).select(pl.len()).collect().item())" "$log")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB RAM; $(uname -sr)"
echo "mqlcal: $("$bin" --version); python: $("$py" -c 'import polars, sys; print(sys.version.split()[0], "polars", polars.__version__)')"
echo "runs per measurement: $RUNS (median time, largest peak memory)"
echo "== $leads leads ($(du -h "$data" | cut -f1) Parquet), $rows events ($(du -h "$log" | cut -f1) Parquet), creation over $days days"

read -r t m < <(measure "$py" -c "import polars, sys; polars.read_parquet(sys.argv[1])" "$log")
printf "read    polars.read_parquet(events)  %8.2f s %6s MB peak\n" "$t" "$m"

sed 's/decay = "learn"/decay = { half_life_days = 14 }/' data/events-rules.toml \
  >bench/data/events-rules-fixed.toml
train=("$bin" train --data "$data" --events "$log" --outcome-date opportunity_date
  --date created_at --window 60d --snapshots monthly --force)
read -r t m < <(measure "${train[@]}" --rules bench/data/events-rules-fixed.toml \
  --out "bench/data/events-model-$leads.json")
printf "train   fixed half-life (14 days)     %8.2f s %6s MB peak\n" "$t" "$m"
python3 - "bench/data/events-model-$leads.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["training"]["events"]
print(f"        {e['events']} events of {e['leads_with_events']} leads, {e['snapshot_rows']} snapshot rows counted")
PY
if [ "${LEARN:-0}" = 1 ]; then
  read -r t m < <(measure "${train[@]}" --rules data/events-rules.toml \
    --out "bench/data/events-model-$leads-learn.json")
  printf "learn   decay = \"learn\" (9 + 1 fits)  %8.2f s %6s MB peak\n" "$t" "$m"
fi
