#!/usr/bin/env bash
# Executes every notebook in notebooks/ top to bottom, headless (nbclient), with the mqlcal the
# tests built; a failing cell fails the script. Also refuses notebooks committed with outputs.
# Installs its Python packages into .venv-notebooks (from notebooks/requirements.txt) first.
#
#   bash scripts/notebooks.sh            # builds mqlcal if needed, then runs all notebooks
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-notebooks req=notebooks/requirements.txt
if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
  echo "notebooks: creating $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.requirements"
fi
# The same build as the tests (--all-targets keeps cargo's feature set, so nothing rebuilds).
cargo build --quiet --locked --all-targets
export MQLCAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/mqlcal"
exec "$venv/bin/python" scripts/run_notebooks.py notebooks/*.ipynb
