# Makes the engines of the export parity tests (tests/it/export.rs) and the browser of the
# report test ready, installing what is missing, and exports where they are. Sourced by
# scripts/test.sh (and so by .ci/run):
#
#   MQLCAL_PG_URL   a PostgreSQL database on loopback in which the tests create their schemas
#   MQLCAL_PYTHON   a Python with DuckDB, JPMML-Evaluator (JPype, on the machine's Java),
#                   sqlglot, pyspark (local Spark SQL, on the same Java 17), scikit-learn,
#                   scipy, statsmodels and betacal (the report's statistics and beta
#                   calibration, checked independently):
#                   the virtual environment .venv-engines
#
# Already set variables are kept, so a developer can point the tests at engines of their own.
# Installing PostgreSQL and Java takes root (apt-get); without it, the script says what to
# install and fails. Nothing here is skipped quietly: the tests fail when an engine is missing.

engines_main() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

  engines_say() { echo "engines: $*" >&2; }
  engines_fail() { echo "engines: $*" >&2; return 1; }
  engines_apt() {
    if [ "$(id -u)" != 0 ]; then
      engines_fail "missing $*; install it (apt-get install $*) or run as root"
      return 1
    fi
    if [ -z "${ENGINES_APT_UPDATED:-}" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
      ENGINES_APT_UPDATED=1
    fi
    engines_say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  }

  # --- Headless Chromium, for the report page test (tests/it/report.rs)
  if ! command -v chromium >/dev/null; then
    engines_apt chromium || return 1
  fi

  # --- Java, for JPMML-Evaluator and Spark (pyspark 3.5 runs on Java 17)
  if ! command -v java >/dev/null; then
    engines_apt openjdk-17-jre-headless || return 1
  fi

  # --- Python engines
  if [ -z "${MQLCAL_PYTHON:-}" ]; then
    local venv="$repo/.venv-engines" req="$repo/scripts/engines-requirements.txt"
    # The stamp holds the requirements the venv was made from; a change reinstalls.
    if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
      engines_say "creating $venv (DuckDB, JPMML-Evaluator, sqlglot, pyspark, scikit-learn, statsmodels, betacal)"
      rm -rf "$venv"
      python3 -m venv "$venv" >&2 || engines_fail "python3 -m venv failed (Debian: apt-get install python3-venv)" || return 1
      "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2 || engines_fail "pip install -r $req failed" || return 1
      cp "$req" "$venv/.requirements"
    fi
    export MQLCAL_PYTHON="$venv/bin/python"
  fi
  "$MQLCAL_PYTHON" -c "import duckdb, jpmml_evaluator, jpype, sqlglot, pyspark, sklearn, statsmodels, betacal" \
    || engines_fail "$MQLCAL_PYTHON lacks duckdb, jpmml_evaluator, jpype, sqlglot, pyspark, scikit-learn, statsmodels or betacal" || return 1

  # --- PostgreSQL on loopback
  if [ -z "${MQLCAL_PG_URL:-}" ]; then
    if ! command -v pg_lsclusters >/dev/null || ! command -v psql >/dev/null; then
      engines_apt postgresql postgresql-client || return 1
    fi
    if [ "$(id -u)" != 0 ]; then
      engines_fail "starting PostgreSQL needs root here; start a server yourself and set MQLCAL_PG_URL=postgresql://USER:PASSWORD@127.0.0.1:PORT/DB"
      return 1
    fi
    local version cluster port status
    read -r version cluster port status _ < <(pg_lsclusters -h | head -n 1) || true
    if [ -z "${version:-}" ]; then
      version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
      cluster=main
      engines_say "creating PostgreSQL cluster $version/$cluster"
      pg_createcluster "$version" "$cluster" >&2 || return 1
      read -r version cluster port status _ < <(pg_lsclusters -h | head -n 1) || true
    fi
    if [ "$status" != online ]; then
      engines_say "starting PostgreSQL $version/$cluster on port $port"
      pg_ctlcluster "$version" "$cluster" start >&2 \
        || engines_fail "PostgreSQL did not start; see /var/log/postgresql/postgresql-$version-$cluster.log" || return 1
    fi
    local i
    for i in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p "$port" && break
      sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p "$port" || engines_fail "PostgreSQL is not accepting connections on 127.0.0.1:$port" || return 1
    # A role and a UTF-8 database for the tests (UTF-8 whatever the cluster's locale, so
    # unicode names and values behave as in a real warehouse).
    runuser -u postgres -- psql -X -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<'SQL' || engines_fail "cannot create the test role and database" || return 1
SELECT 'CREATE ROLE mqlcal_test LOGIN PASSWORD ''mqlcal_test'''
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mqlcal_test') \gexec
SELECT 'CREATE DATABASE mqlcal_test OWNER mqlcal_test ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mqlcal_test') \gexec
SQL
    export MQLCAL_PG_URL="postgresql://mqlcal_test:mqlcal_test@127.0.0.1:$port/mqlcal_test"
  fi
  PGCLIENTENCODING=UTF8 psql "$MQLCAL_PG_URL" -X -q -c "SELECT 1" >/dev/null \
    || engines_fail "cannot connect to $MQLCAL_PG_URL" || return 1
  engines_say "PostgreSQL at $MQLCAL_PG_URL, Python engines in $MQLCAL_PYTHON"
}

engines_main
