"""Runs the exports in engines that live in Python packages, for tests/it/export.rs.

Usage: python engines.py ENGINE REQUEST.json  (the answer is JSON on stdout)

  duckdb   {"columns": [...], "types": [...], "rows": [[text or null, ...]], "sql": "...",
            "view": null or "name"}  -> [[id, score, probability, mql], ...]
           Loads the rows into a table `leads` (types are DuckDB type names), runs the exported
           query (or creates the view and selects from it).
  pmml     {"jobs": [{"pmml": path, "columns": [...], "rows": [...]}]}
           -> [[[score, probability, mql, reason_1, reason_2, reason_3] or {"error": text}, ...]]
           Evaluates with JPMML-Evaluator (jpmml_evaluator, through JPype), one JVM for all jobs.
  duckdb_counts {"csv": path, "typed": bool, "sql": "...", "out": path.parquet} -> {"rows": n}
           Loads a CSV of leads into a table `leads` (all text, or numbers typed as numbers),
           runs the sql-counts query and writes its result to Parquet, as a warehouse user would.
  sqlglot  {"dialect": "bigquery", "sql": "..."} -> {"statements": n, "duckdb": "..."}
           Parses in that dialect (syntax errors are raised, not warned) and transpiles to DuckDB.

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
                        r.get("reason_1"), r.get("reason_2"), r.get("reason_3")])
        answers.append(out)
    return answers


def run_duckdb_counts(req):
    import duckdb

    con = duckdb.connect()
    if req["typed"]:
        # Numbers as numbers; texts stay text (DuckDB would otherwise turn yes/no into BOOLEAN,
        # which reads back as true/false: a different table, not the same leads typed).
        con.execute(
            "CREATE TABLE leads AS SELECT * FROM read_csv(?, header=true, "
            "auto_type_candidates=['BIGINT', 'DOUBLE', 'VARCHAR'])",
            [req["csv"]],
        )
    else:
        con.execute(
            "CREATE TABLE leads AS SELECT * FROM read_csv(?, header=true, all_varchar=true)",
            [req["csv"]],
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


def main():
    engine, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        req = json.load(f)
    run = {
        "duckdb": run_duckdb,
        "duckdb_counts": run_duckdb_counts,
        "pmml": run_pmml,
        "sqlglot": run_sqlglot,
    }[engine]
    json.dump(run(req), sys.stdout)


if __name__ == "__main__":
    main()
