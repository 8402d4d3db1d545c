"""Runs the exports in engines that live in Python packages, for tests/it/export.rs and
tests/it/counts.rs.

Usage: python engines.py ENGINE REQUEST.json  (the answer is JSON on stdout)
       python engines.py serve  (one request a line on stdin, {"engine": ..., "request": ...};
                                 one answer a line on stdout, {"answer": ...} or {"error": ...})

The server keeps what an engine started (Spark's JVM) for the requests after the first: the
tests start one per test process (tests/it/engines.rs) rather than pay Spark's start-up per case.

  duckdb   {"columns": [...], "types": [...], "rows": [[text or null, ...]], "sql": "...",
            "view": null or "name"}  -> [[id, score, probability, mql, ...], ...]
           Loads the rows into a table `leads` (types are DuckDB type names), runs the exported
           query (or creates the view and selects from it). Optional "tables": [{"name",
           "columns", "types", "rows"}]: more tables the query joins (an activity log).
  pmml     {"jobs": [{"pmml": path, "columns": [...], "rows": [...], "outputs": [...]}]}
           -> [[[score, probability, mql, reason_1, reason_2, reason_3, *outputs]
                or {"error": text}, ...]]
           "outputs" (optional): more output fields by name (sub-scores, grade), in that order.
           Evaluates with JPMML-Evaluator (jpmml_evaluator, through JPype), one JVM for all jobs.
  duckdb_counts {"csv": path, "typed": bool, "sql": "...", "out": path.parquet} -> {"rows": n}
           Loads a CSV of leads into a table `leads` (all text, or numbers typed as numbers),
           runs the sql-counts query and writes its result to Parquet, as a warehouse user would.
           Optional "tables": {name: csv path}: more tables (all text) the query joins. CSV
           quotes are RFC 4180's.
  sqlglot  {"dialect": "bigquery", "sql": "..."} -> {"statements": n, "duckdb": "..."}
           Parses in that dialect (syntax errors are raised, not warned) and transpiles to DuckDB.
  spark    {"columns": [...], "types": [...], "rows": [...], "table": "db.name",
            "runs": [{"ansi": bool, "statements": ["...", ...]}, ...]}
           -> [[row, ...] for each run]
           Makes the rows table db.name (types are Spark type names: BIGINT, DOUBLE, STRING),
           then runs each run's statements in order with spark.sql.ansi.enabled as given;
           answers the rows of each run's last statement. Local Spark (pyspark), one session
           per process.
  spark_counts {"csv": path, "typed": bool, "ansi": bool, "sql": "...", "out": path.csv}
           -> {"rows": n}
           As duckdb_counts, in Spark: reads the CSV into a view `leads` (all text, or numbers
           typed as Spark's CSV reader infers them) and writes the result as CSV.

  metrics  {"p": [probability, ...], "y": [0 or 1, ...], "bins": n}
           -> {"roc_auc", "log_loss", "brier", "ece"}
           scikit-learn's roc_auc_score, log_loss and brier_score_loss; the expected calibration
           error from scikit-learn's calibration_curve (equal-width bins, its own bin edges),
           weighted by the leads in each non-empty bin. The report test compares metrics.json
           with these rather than with mqlcal's own functions.

  calibration {"p": [...], "y": [...], "bands": [[leads, conversions, mean_predicted], ...]}
           -> {"calibration_intercept", "calibration_intercept_ci", "calibration_slope",
               "calibration_slope_ci", "spiegelhalter_z", "spiegelhalter_p",
               "brier_decomposition": {...}, "debiased_calibration_error", "ks", "gini",
               "bands": [{"jeffreys_lower", "jeffreys_upper", "p_more", "p_fewer"}, ...]}
           Intercept and slope from statsmodels' binomial GLM (logit(p) as an offset, then as
           the covariate; Wald intervals), Spiegelhalter's p from scipy's normal, the Brier
           terms and the debiased error per distinct prediction in numpy, KS from scipy's
           ks_2samp, Gini from scikit-learn's AUC, Jeffreys bounds from scipy's beta and the
           p-values from scipy's binomial.

  betacal  {"s": [raw probability, ...], "y": [0 or 1, ...]} -> {"a", "b", "c"}
           betacal's three-parameter BetaCalibration fitted on the raw probabilities (its
           logistic regression run to convergence): a and b from its map, c its intercept.

Any failure exits non-zero with the reason on stderr, so the Rust test fails with it.
"""
import json
import sys


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def run_duckdb(req):
    import duckdb

    con = duckdb.connect()
    cols = ", ".join(f"{quote(c)} {t}" for c, t in zip(req["columns"], req["types"]))
    con.execute(f"CREATE TABLE leads ({cols})")
    marks = ", ".join("?" for _ in req["columns"])
    if req["rows"]:
        con.executemany(f"INSERT INTO leads VALUES ({marks})", req["rows"])
    # Other tables the query joins (the activity log of event rules).
    for t in req.get("tables", []):
        cols = ", ".join(f"{quote(c)} {ty}" for c, ty in zip(t["columns"], t["types"]))
        con.execute(f"CREATE TABLE {quote(t['name'])} ({cols})")
        if t["rows"]:
            marks = ", ".join("?" for _ in t["columns"])
            con.executemany(f"INSERT INTO {quote(t['name'])} VALUES ({marks})", t["rows"])
    if req.get("view"):
        con.execute(req["sql"])
        rows = con.execute(f"SELECT * FROM {quote(req['view'])}").fetchall()
    else:
        rows = con.execute(req["sql"]).fetchall()
    return [list(r) for r in rows]


def run_pmml(req):
    from jpmml_evaluator import make_evaluator

    answers = []
    for job in req["jobs"]:
        evaluator = make_evaluator(job["pmml"]).verify()
        out = []
        for row in job["rows"]:
            args = dict(zip(job["columns"], row))
            try:
                r = evaluator.evaluate(args)
            except Exception as e:  # one bad lead must not hide the others
                out.append({"error": str(e)})
                continue
            out.append([r["score"], r["probability"], r["mql"],
                        r.get("reason_1"), r.get("reason_2"), r.get("reason_3")]
                       + [r[name] for name in job.get("outputs", [])])
        answers.append(out)
    return answers


def run_duckdb_counts(req):
    import duckdb

    con = duckdb.connect()
    # RFC 4180 quotes, said rather than sniffed: the sniffer reads a sample of the file and
    # may miss the one quoted field at its end (an id with white space to keep).
    rfc = "header=true, quote='\"', escape='\"'"
    if req["typed"]:
        # Numbers as numbers; texts stay text (DuckDB would otherwise turn yes/no into BOOLEAN,
        # which reads back as true/false: a different table, not the same leads typed).
        con.execute(
            f"CREATE TABLE leads AS SELECT * FROM read_csv(?, {rfc}, "
            "auto_type_candidates=['BIGINT', 'DOUBLE', 'VARCHAR'])",
            [req["csv"]],
        )
    else:
        con.execute(
            f"CREATE TABLE leads AS SELECT * FROM read_csv(?, {rfc}, all_varchar=true)",
            [req["csv"]],
        )
    # Other tables the query joins (sql-counts --outcomes-table, --events-table), all text.
    for name, csv in req.get("tables", {}).items():
        con.execute(
            f'CREATE TABLE "{name}" AS SELECT * FROM read_csv(?, {rfc}, all_varchar=true)',
            [csv],
        )
    query = req["sql"].rstrip().rstrip(";")
    out = req["out"].replace("'", "''")
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
    return {"rows": con.execute(f"SELECT COUNT(*) FROM read_parquet('{out}')").fetchone()[0]}


def run_sqlglot(req):
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = sqlglot.parse(req["sql"], read=req["dialect"], error_level=ErrorLevel.RAISE)
    statements = [s for s in statements if s is not None]
    duck = [s.sql(dialect="duckdb") for s in statements]
    return {"statements": len(statements), "duckdb": ";\n".join(duck)}


_spark = None
_spark_dir = None


def spark_session():
    """The local Spark session, started on first use: one core, a small heap, no UI, one
    shuffle partition (the tables are tiny), an in-memory catalog over a temporary warehouse.
    The JVM only uses its quick compiler and a serial collector, which about halves the
    start-up on two cores; neither changes what a query computes."""
    global _spark, _spark_dir
    if _spark is not None:
        return _spark
    import atexit
    import os
    import shutil
    import tempfile

    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise RuntimeError(
            f"{sys.executable} has no pyspark ({e}): run the tests with `bash scripts/test.sh`, "
            "which installs it (scripts/engines.sh), or set MQLCAL_PYTHON"
        ) from e
    # Python workers, where Spark needs any, run this Python (which has pyspark).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = _spark_dir = tempfile.mkdtemp(prefix="mqlcal-spark-")
    atexit.register(shutil.rmtree, warehouse, True)
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("mqlcal-tests")
        .config("spark.driver.memory", "512m")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.local.dir", warehouse)
    )
    try:
        _spark = builder.getOrCreate()
    except Exception as e:
        raise RuntimeError(
            f"Spark did not start ({error_text(e)}); it needs Java 17 (`java` on PATH or "
            "JAVA_HOME), which scripts/engines.sh installs"
        ) from e
    _spark.sparkContext.setLogLevel("ERROR")
    atexit.register(_spark.stop)
    return _spark


def run_spark(req):
    import os
    import tempfile

    spark = spark_session()
    table = req["table"]
    if "." in table:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    # The rows as JSON lines under a table defined over them: no job to write the table, and
    # the JSON reader keeps NULL and '' apart and reads doubles exactly.
    folder = tempfile.mkdtemp(dir=_spark_dir)
    with open(os.path.join(folder, "leads.json"), "w", encoding="utf-8") as f:
        for row in req["rows"]:
            f.write(json.dumps(dict(zip(req["columns"], row))) + "\n")
    columns = ", ".join(
        "`" + c.replace("`", "``") + "` " + t for c, t in zip(req["columns"], req["types"])
    )
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    spark.sql(
        f"CREATE TABLE {table} ({columns}) USING json OPTIONS (mode 'FAILFAST') "
        f"LOCATION '{spark_text(folder)}'"
    )
    answers = []
    for run in req["runs"]:
        spark.conf.set("spark.sql.ansi.enabled", "true" if run["ansi"] else "false")
        rows = []
        for statement in run["statements"]:
            rows = spark.sql(statement).collect()
        answers.append([list(r) for r in rows])
    return answers


def spark_text(text):
    """Text for inside '…' in Spark SQL, which reads backslash escapes there."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def run_spark_counts(req):
    import csv

    from pyspark.sql.types import (
        DecimalType, DoubleType, FloatType, IntegerType, LongType, ShortType, StringType,
        StructField, StructType,
    )

    spark = spark_session()
    # RFC 4180 quotes (Spark's reader escapes with a backslash unless told otherwise).
    read = spark.read.options(header=True, escape='"', mode="FAILFAST")
    if req["typed"]:
        # Numbers as Spark infers them; everything else stays text (the reader would make
        # dates of dates and booleans of true/false: another table, not the same leads typed).
        numbers = (ShortType, IntegerType, LongType, FloatType, DoubleType, DecimalType)
        inferred = read.options(inferSchema=True).csv(req["csv"]).schema
        schema = StructType([
            StructField(f.name, f.dataType if isinstance(f.dataType, numbers) else StringType())
            for f in inferred
        ])
        df = read.schema(schema).csv(req["csv"])
    else:
        df = read.csv(req["csv"])  # every column a STRING
    df.createOrReplaceTempView("leads")
    for name, csv_path in req.get("tables", {}).items():
        read.csv(csv_path).createOrReplaceTempView(name)
    spark.conf.set("spark.sql.ansi.enabled", "true" if req["ansi"] else "false")
    result = spark.sql(req["sql"])
    rows = result.collect()
    with open(req["out"], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(result.columns)
        w.writerows(rows)
    return {"rows": len(rows)}


def run_metrics(req):
    import numpy as np
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p = np.asarray(req["p"], dtype=float)
    y = np.asarray(req["y"], dtype=int)
    bins = int(req["bins"])
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    # calibration_curve drops empty bins; count the leads of the others with its own edges.
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(p) * np.abs(prob_pred - prob_true)))
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece,
    }


def run_calibration(req):
    import numpy as np
    import statsmodels.api as sm
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    p = np.asarray(req["p"], dtype=float)
    y = np.asarray(req["y"], dtype=float)
    lp = np.log(np.clip(p, 1e-15, 1 - 1e-15) / (1 - np.clip(p, 1e-15, 1 - 1e-15)))
    binomial = sm.families.Binomial()
    large = sm.GLM(y, np.ones((len(y), 1)), family=binomial, offset=lp).fit(tol=1e-12)
    slope = sm.GLM(y, sm.add_constant(lp), family=binomial).fit(tol=1e-12)
    num = np.sum((y - p) * (1 - 2 * p))
    var = np.sum((1 - 2 * p) ** 2 * p * (1 - p))
    z = num / np.sqrt(var)
    levels, inverse = np.unique(p, return_inverse=True)
    n_k = np.bincount(inverse).astype(float)
    o_k = np.bincount(inverse, weights=y) / n_k
    rate = y.mean()
    noise = np.where(n_k > 1, o_k * (1 - o_k) / np.maximum(n_k - 1, 1), 0.0)
    debiased = np.sum(n_k / len(y) * ((o_k - levels) ** 2 - noise))
    bands = []
    for leads, conv, mean in req.get("bands", []):
        beta = stats.beta(conv + 0.5, leads - conv + 0.5)
        bands.append({
            "jeffreys_lower": 0.0 if conv == 0 else float(beta.ppf(0.025)),
            "jeffreys_upper": 1.0 if conv == leads else float(beta.ppf(0.975)),
            "p_more": float(stats.binom.sf(conv - 1, leads, mean)),
            "p_fewer": float(stats.binom.cdf(conv, leads, mean)),
        })
    return {
        "calibration_intercept": float(large.params[0]),
        "calibration_intercept_ci": [float(v) for v in large.conf_int(alpha=0.05)[0]],
        "calibration_slope": float(slope.params[1]),
        "calibration_slope_ci": [float(v) for v in slope.conf_int(alpha=0.05)[1]],
        "spiegelhalter_z": float(z),
        "spiegelhalter_p": float(2 * stats.norm.sf(abs(z))),
        "brier_decomposition": {
            "reliability": float(np.sum(n_k * (levels - o_k) ** 2) / len(y)),
            "resolution": float(np.sum(n_k * (o_k - rate) ** 2) / len(y)),
            "uncertainty": float(rate * (1 - rate)),
        },
        "debiased_calibration_error": float(np.sqrt(max(debiased, 0.0))),
        "ks": float(stats.ks_2samp(p[y == 1], p[y == 0]).statistic),
        "gini": float(2 * roc_auc_score(y, p) - 1),
        "bands": bands,
    }


def run_betacal(req):
    import numpy as np
    from betacal import BetaCalibration

    import betacal.beta_calibration as impl
    from sklearn.linear_model import LogisticRegression

    # betacal's own steps (features, clipping, the refits without a negative parameter), with
    # its scikit-learn solver run to convergence: at the default tolerance (1e-4) lbfgs stops
    # about 1e-3 short of the maximum likelihood on 20,000 leads.
    impl.LogisticRegression = lambda C: LogisticRegression(C=C, tol=1e-12, max_iter=100_000)
    s = np.asarray(req["s"], dtype=float)
    y = np.asarray(req["y"], dtype=int)
    bc = BetaCalibration(parameters="abm")
    bc.fit(s.reshape(-1, 1), y)
    a, b, _ = bc.calibrator_.map_
    return {"a": float(a), "b": float(b), "c": float(bc.calibrator_.lr_.intercept_[0])}


ENGINES = {
    "betacal": run_betacal,
    "calibration": run_calibration,
    "metrics": run_metrics,
    "duckdb": run_duckdb,
    "duckdb_counts": run_duckdb_counts,
    "pmml": run_pmml,
    "sqlglot": run_sqlglot,
    "spark": run_spark,
    "spark_counts": run_spark_counts,
}


def error_text(e):
    """The reason, without Java stack frames (Py4J's text carries them)."""
    java = getattr(e, "java_exception", None)
    text = java.toString() if java is not None else str(e)
    lines = [
        l for l in text.splitlines()
        if not l.startswith("\tat ") and l.strip() != "Driver stacktrace:"
    ]
    return f"{type(e).__name__}: " + "\n".join(lines).strip()


def serve():
    import os

    # Answers go to the real stdout; anything else written there (Spark's JVM inherits file
    # descriptor 1) goes to stderr, so it cannot break a line of the protocol.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            answer = {"answer": ENGINES[msg["engine"]](msg["request"])}
        except Exception as e:  # one failing request must not take the others down
            answer = {"error": error_text(e)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main():
    if sys.argv[1:] == ["serve"]:
        serve()
        return
    engine, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        req = json.load(f)
    json.dump(ENGINES[engine](req), sys.stdout)


if __name__ == "__main__":
    main()
