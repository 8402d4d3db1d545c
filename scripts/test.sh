#!/usr/bin/env bash
# The tests, with the engines the export parity tests need (scripts/engines.sh installs and
# starts them). Arguments go to cargo test, e.g. `bash scripts/test.sh export`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/engines.sh
exec cargo test --locked "$@"
