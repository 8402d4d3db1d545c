#!/usr/bin/env bash
# Proposed rules against the binning tools on X Education (issue 13, item 4).
#
#   bash bench/binning.sh [SEED ...]        (default: 0 1 2)
#
# For each seed, one stratified 70/30 split of ../shared/datasets/x-education-leads/Leads.csv
# (the split tests/it/xeducation.rs uses; defined in bench/binning.py), pre-contact columns only
# (the README's X Education exclusions). On the same split: `mqlcal train` with proposed rules
# and default options, optbinning 1.0.0's Scorecard (BinningProcess on every column, scikit-learn
# LogisticRegression) and scikit-learn's one-hot logistic regression (median-imputed, scaled
# numbers with missing indicators; one-hot text). Prints held-out ROC AUC and calibration error
# (ECE, as mqlcal computes it) per seed and method (JSON lines), then the means. The Python side (pinned in
# bench/binning-requirements.txt; optbinning brings ortools) goes into bench/.venv-binning on
# first use.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
data=../shared/datasets/x-education-leads/Leads.csv
[ -f "$data" ] || { echo "binning: $data is missing (the shared data sets beside the repository)" >&2; exit 1; }

cargo build --quiet --locked --all-targets
bin="${CARGO_TARGET_DIR:-target}/debug/mqlcal"
venv=bench/.venv-binning
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import optbinning, sklearn" 2>/dev/null; then
  echo "binning: installing optbinning and scikit-learn into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r bench/binning-requirements.txt
fi
echo "mqlcal: $("$bin" --version); $("$venv/bin/python" -c 'import optbinning, sklearn; print("optbinning", optbinning.__version__, "scikit-learn", sklearn.__version__)')"
"$venv/bin/python" -W ignore bench/binning.py "$bin" "$data" "${seeds[@]}"
