#!/usr/bin/env bash
# The tests, with the engines the export parity tests need (scripts/engines.sh installs and
# starts them). Arguments go to cargo test, e.g. `bash scripts/test.sh export`.
#
# Without arguments, the library is also tested without polars (`--no-default-features`:
# what a service embedding a model compiles), its unit tests only, which builds no polars.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/engines.sh
cargo test --locked "$@"
if [ $# -eq 0 ]; then
  echo "== the library without polars (--no-default-features)" >&2
  cargo test --locked --no-default-features --lib
fi
