//! Training past one machine: the warehouse runs `mqlcal export --format sql-counts`, mqlcal
//! fits the counts (`mqlcal train --counts`). The model must be the one the rows give: same
//! points, calibration, threshold, metrics and warnings; only the record of its input differs.
//! Run against real engines: PostgreSQL via psql (leads stored as text, as a CSV load leaves
//! them, and with numbers and dates typed), DuckDB via tests/engines/engines.py (as text, and
//! with numbers typed), and Spark SQL in the local Spark session the tests share (engines.rs;
//! as text with ANSI mode off and on, and with numbers typed).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::engines::python;
use crate::{repo, stderr, Workdir};

/// Compound rules on the bundled leads' columns (AND, OR with `ignore_case`, a part on a
/// missing value), so the counts query groups by them as the rows are.
const COMPOUND: &str = r#"
[[rule]]
name = "Enterprise and engaged"
all = [ { column = "company_size", at_least = 100 }, { column = "whitepaper_downloads", at_least = 2 } ]

[[rule]]
name = "Senior or budget, any case"
ignore_case = true
any = [ { column = "job_level", one_of = ["vp", "c-level"] }, { column = "budget_confirmed", one_of = ["YES"] } ]

[[rule]]
name = "No size, software"
all = [ { column = "company_size", is_missing = true }, { column = "industry", one_of = ["Software"] } ]
"#;

/// The bundled rules and [`COMPOUND`], written into `wd`.
fn counts_rules(wd: &Workdir) -> PathBuf {
    wd.write(
        "counts-rules.toml",
        &format!("{}{COMPOUND}", mqlcal::synth::RULES_TOML),
    )
}

/// Trains with the bundled rules from `input` given as `flag` (`--data` rows or `--counts`),
/// expecting success; returns the model file.
fn train_from(wd: &Workdir, flag: &str, input: &Path, out: &str, extra: &[&str]) -> Value {
    let rules = counts_rules(wd);
    let o = wd
        .cmd()
        .args(["train", flag])
        .arg(input)
        .arg("--rules")
        .arg(&rules)
        .args(["--out", out])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "train {flag}: {}", stderr(&o));
    serde_json::from_slice(&std::fs::read(wd.path(out)).unwrap()).unwrap()
}

/// Trains on the rows of `data` with the bundled rules.
fn train_rows(wd: &Workdir, data: &Path, out: &str, extra: &[&str]) -> Value {
    train_from(wd, "--data", data, out, extra)
}

fn train_counts(wd: &Workdir, counts: &Path, out: &str, extra: &[&str]) -> Value {
    train_from(wd, "--counts", counts, out, extra)
}

fn counts_sql(wd: &Workdir, dialect: &str, table: &str) -> String {
    let rules = counts_rules(wd);
    let out = wd.path(&format!("counts-{dialect}.sql"));
    let o = wd
        .cmd()
        .args(["export", "--format", "sql-counts", "--rules"])
        .arg(&rules)
        .args(["--dialect", dialect, "--table", table, "--force", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "export sql-counts: {}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

/// The two models agree on everything but where their leads came from.
fn assert_same_model(rows: &Value, counts: &Value, what: &str) {
    let (mut a, mut b) = (rows.clone(), counts.clone());
    for m in [&mut a, &mut b] {
        let t = m["training"].as_object_mut().unwrap();
        t.remove("input").unwrap();
        t.remove("input_sha256").unwrap();
    }
    assert_eq!(a, b, "{what}: the counts model differs from the rows model");
    // The record of the input does differ, so the comparison above did compare something.
    assert_ne!(
        rows["training"]["input_sha256"],
        counts["training"]["input_sha256"]
    );
    assert!(rows["rules"].as_array().unwrap().len() == 15);
}

/// Synthetic leads with ids, and the bundled example leads.
fn datasets(wd: &Workdir) -> Vec<PathBuf> {
    vec![
        wd.synth("synth.csv", 6000, 3),
        repo().join("data/leads.csv"),
    ]
}

#[test]
fn duckdb_counts_train_the_rows_model() {
    let wd = Workdir::new();
    let sql = counts_sql(&wd, "duckdb", "leads");
    for (d, data) in datasets(&wd).iter().enumerate() {
        for typed in [false, true] {
            for (k, extra) in [
                &[][..],
                &[
                    "--calibration",
                    "isotonic",
                    "--threshold",
                    "value:5000:150",
                    "--seed",
                    "9",
                ],
            ]
            .iter()
            .enumerate()
            {
                let rows = train_rows(&wd, data, &format!("rows-{d}-{k}-{typed}.json"), extra);
                let counts = wd.path(&format!("counts-{d}-{typed}.parquet"));
                let request = wd.path("request.json");
                std::fs::write(
                    &request,
                    serde_json::to_vec(&serde_json::json!({
                        "csv": data, "typed": typed, "sql": sql, "out": counts,
                    }))
                    .unwrap(),
                )
                .unwrap();
                let o = Command::new(python())
                    .arg(repo().join("tests/engines/engines.py"))
                    .arg("duckdb_counts")
                    .arg(&request)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "DuckDB: {}", stderr(&o));
                let model =
                    train_counts(&wd, &counts, &format!("counts-{d}-{k}-{typed}.json"), extra);
                assert_same_model(
                    &rows,
                    &model,
                    &format!(
                        "DuckDB, {}, typed {typed}, options {extra:?}",
                        data.display()
                    ),
                );
            }
        }
    }
}

#[test]
fn postgres_counts_train_the_rows_model() {
    let url = std::env::var("MQLCAL_PG_URL").unwrap_or_else(|_| {
        panic!(
            "MQLCAL_PG_URL is not set: run the tests with `bash scripts/test.sh`, which starts \
             PostgreSQL (scripts/engines.sh), or point it at a database this test may create \
             schemas in"
        )
    });
    let wd = Workdir::new();
    let schema = format!("mqlcal_counts_{}", std::process::id());
    let sql = counts_sql(&wd, "postgres", &format!("{schema}.leads"));
    let psql = |script: &str, what: &str| -> String {
        let path = wd.path("script.sql");
        std::fs::write(&path, script).unwrap();
        let o = Command::new("psql")
            .arg(&url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-f"])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql ({e}); scripts/engines.sh installs it"));
        assert!(o.status.success(), "PostgreSQL, {what}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    // The leads' numbers and dates typed as a warehouse table would hold them.
    let typed_as = |c: &str| match c {
        "pricing_page_visits"
        | "whitepaper_downloads"
        | "webinar_attended"
        | "email_opens"
        | "company_size"
        | "days_since_last_activity"
        | "converted" => "BIGINT",
        "created_at" => "DATE",
        _ => "TEXT",
    };
    for (d, data) in datasets(&wd).iter().enumerate() {
        let rows = train_rows(&wd, data, &format!("rows-{d}.json"), &[]);
        for typed in [false, true] {
            let header = std::fs::read_to_string(data).unwrap();
            let columns: Vec<String> = header
                .lines()
                .next()
                .unwrap()
                .split(',')
                .map(|c| format!("\"{c}\" {}", if typed { typed_as(c) } else { "TEXT" }))
                .collect();
            let result = psql(
                &format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE;\nCREATE SCHEMA {schema};\n\
                 CREATE TABLE {schema}.leads ({});\n\
                 \\copy {schema}.leads FROM '{}' WITH (FORMAT csv, HEADER true)\n{sql}\
                 DROP SCHEMA {schema} CASCADE;\n",
                    columns.join(", "),
                    data.display()
                ),
                "counting",
            );
            let counts = wd.write(&format!("counts-pg-{d}-{typed}.csv"), &result);
            let model = train_counts(&wd, &counts, &format!("counts-{d}-{typed}.json"), &[]);
            let what = format!("PostgreSQL, {}, typed {typed}", data.display());
            assert_same_model(&rows, &model, &what);
        }
    }
}

#[test]
fn spark_counts_train_the_rows_model() {
    let wd = Workdir::new();
    let sql = counts_sql(&wd, "spark", "leads");
    for (d, data) in datasets(&wd).iter().enumerate() {
        let rows = train_rows(&wd, data, &format!("rows-{d}.json"), &[]);
        // Text (as a CSV load gives) with ANSI mode off (Spark 3's default) and on (Spark 4's);
        // numbers typed as Spark's CSV reader infers them, ANSI on.
        for (typed, ansi) in [(false, false), (false, true), (true, true)] {
            let what = format!(
                "Spark SQL, {}, typed {typed}, ANSI {}",
                data.display(),
                if ansi { "on" } else { "off" }
            );
            let counts = wd.path(&format!("counts-spark-{d}-{typed}-{ansi}.csv"));
            crate::engines::serve(
                "spark_counts",
                &serde_json::json!({
                    "csv": data, "typed": typed, "ansi": ansi, "sql": sql, "out": counts,
                }),
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            let model = train_counts(
                &wd,
                &counts,
                &format!("counts-{d}-{typed}-{ansi}.json"),
                &[],
            );
            assert_same_model(&rows, &model, &what);
        }
    }
}

/// A counts table that does not fit the rules, or holds unreadable outcomes, is refused with
/// the file, row and column named (exit code 1), and no model is written.
#[test]
fn bad_counts_are_refused_with_row_and_column() {
    let wd = Workdir::new();
    let rules = wd.rules();
    let header: Vec<String> = (1..=12)
        .map(|j| format!("rule_{j}"))
        .chain(["leads", "conversions", "unreadable_outcomes"].map(String::from))
        .collect();
    let row = |cells: &[&str]| cells.join(",");
    let ok = "0,0,0,0,0,0,0,0,0,0,0,0";
    let cases = [
        (
            format!(
                "{}\n{},10,2,0\n{},10,12,0\n",
                header.join(","),
                ok,
                row(&["1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"])
            ),
            "row 2, column 'conversions'",
        ),
        (
            format!("{}\n{},10,2,3\n", header.join(","), ok),
            "row 1, column 'unreadable_outcomes'",
        ),
        (
            format!("{}\n{},10,2.5,0\n", header.join(","), ok),
            "row 1, column 'conversions'",
        ),
        (
            format!("{},extra\n{},10,2,0,1\n", header.join(","), ok),
            "[\"extra\"]",
        ),
        (
            format!(
                "{}\n{}\n",
                header[1..].join(","),
                "0,0,0,0,0,0,0,0,0,0,0,10,2,0"
            ),
            "column 'rule_1' not found",
        ),
    ];
    for (text, expected) in cases {
        let counts = wd.write("counts.csv", &text);
        let o = wd
            .cmd()
            .args(["train", "--counts"])
            .arg(&counts)
            .arg("--rules")
            .arg(&rules)
            .args(["--out", "m.json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("counts.csv") && err.contains(expected),
            "expected {expected:?} in: {err}"
        );
        assert!(!wd.path("m.json").exists());
    }
}

/// Dated synthetic leads for the window cases: (leads, opportunities list or None, the
/// export flags, the train flags naming the dates). With a list the leads have no
/// opportunity column and the warehouse joins the list on the id.
struct Dated {
    leads: PathBuf,
    list: Option<PathBuf>,
    export: Vec<String>,
    train: Vec<String>,
}

fn dated_sets(wd: &Workdir) -> Vec<Dated> {
    let synth = |args: &[&str]| {
        let o = wd.cmd().arg("synth").args(args).output().unwrap();
        assert!(o.status.success(), "synth: {}", stderr(&o));
    };
    let column = wd.path("dated.csv");
    synth(&[
        "--rows",
        "8000",
        "--seed",
        "5",
        "--dated",
        "--campaign-days",
        "75",
        "--out",
        column.to_str().unwrap(),
    ]);
    let joined = wd.path("joined.csv");
    let list = wd.path("opportunities.csv");
    let o = wd
        .cmd()
        .args(["synth", "--rows", "8000", "--seed", "6", "--opportunities"])
        .arg(&list)
        .arg("--out")
        .arg(&joined)
        .output()
        .unwrap();
    assert!(o.status.success(), "synth: {}", stderr(&o));
    let dates = ["--date", "created_at", "--outcome-date", "opportunity_date"].map(String::from);
    let mut joined_train = dates.to_vec();
    joined_train.push("--outcomes".into());
    joined_train.push(list.display().to_string());
    vec![
        Dated {
            leads: column,
            list: None,
            export: dates.to_vec(),
            train: dates.to_vec(),
        },
        Dated {
            leads: joined,
            list: Some(list),
            export: dates
                .iter()
                .cloned()
                .chain(["--outcomes-table", "opportunities", "--id", "lead_id"].map(String::from))
                .collect(),
            train: joined_train,
        },
    ]
}

/// The window's options tried on every dated set: the default (young leads weighted), young
/// leads dropped, and a shorter window (more opportunities after it) with a later as-of.
const WINDOW_CASES: [&[&str]; 3] = [
    &["--window", "90d"],
    &["--window", "90d", "--immature", "drop"],
    &["--window", "30d", "--as-of", "2026-01-20"],
];

fn dated_counts_sql(wd: &Workdir, dialect: &str, table: &str, set: &Dated) -> String {
    let rules = counts_rules(wd);
    let out = wd.path(&format!("dated-counts-{dialect}.sql"));
    let o = wd
        .cmd()
        .args(["export", "--format", "sql-counts", "--rules"])
        .arg(&rules)
        .args(["--dialect", dialect, "--table", table, "--force", "--out"])
        .arg(&out)
        .args(&set.export)
        .output()
        .unwrap();
    assert!(o.status.success(), "export sql-counts: {}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

/// Trains on the rows and on the counts with each window case; the models must agree.
fn assert_window_cases(wd: &Workdir, engine: &str, d: usize, set: &Dated, counts: &Path) {
    for (k, case) in WINDOW_CASES.iter().enumerate() {
        let mut extra: Vec<&str> = set.train.iter().map(String::as_str).collect();
        extra.extend(case.iter());
        let rows = train_rows(wd, &set.leads, &format!("rows-w-{d}-{k}.json"), &extra);
        let model = train_counts(wd, counts, &format!("{engine}-w-{d}-{k}.json"), &extra);
        assert!(
            rows["training"]["window_days"].is_u64(),
            "{engine}: no window"
        );
        assert!(rows["training"]["immature_leads"].as_u64().unwrap() > 0);
        assert_same_model(
            &rows,
            &model,
            &format!("{engine}, {}, {case:?}", set.leads.display()),
        );
    }
}

#[test]
fn duckdb_dated_counts_train_the_rows_model() {
    let wd = Workdir::new();
    for (d, set) in dated_sets(&wd).iter().enumerate() {
        let sql = dated_counts_sql(&wd, "duckdb", "leads", set);
        let counts = wd.path(&format!("dated-{d}.parquet"));
        let request = wd.path("request.json");
        let mut tables = serde_json::Map::new();
        if let Some(list) = &set.list {
            tables.insert("opportunities".into(), serde_json::json!(list));
        }
        std::fs::write(
            &request,
            serde_json::to_vec(&serde_json::json!({
                "csv": set.leads, "typed": false, "sql": sql, "out": counts, "tables": tables,
            }))
            .unwrap(),
        )
        .unwrap();
        let o = Command::new(python())
            .arg(repo().join("tests/engines/engines.py"))
            .arg("duckdb_counts")
            .arg(&request)
            .output()
            .unwrap();
        assert!(o.status.success(), "DuckDB: {}", stderr(&o));
        assert_window_cases(&wd, "duckdb", d, set, &counts);
    }
}

#[test]
fn postgres_dated_counts_train_the_rows_model() {
    let url = std::env::var("MQLCAL_PG_URL")
        .unwrap_or_else(|_| panic!("MQLCAL_PG_URL is not set: run `source scripts/engines.sh`"));
    let wd = Workdir::new();
    let schema = format!("mqlcal_dated_{}", std::process::id());
    for (d, set) in dated_sets(&wd).iter().enumerate() {
        let sql = dated_counts_sql(&wd, "postgres", &format!("{schema}.leads"), set);
        let sql = sql.replace(
            "FROM \"opportunities\"",
            &format!("FROM \"{schema}\".\"opportunities\""),
        );
        // Leads as text, the creation date typed DATE, as a warehouse would hold it.
        let table = |name: &str, csv: &Path, typed: &[&str]| -> String {
            let header = std::fs::read_to_string(csv).unwrap();
            let columns: Vec<String> = header
                .lines()
                .next()
                .unwrap()
                .split(',')
                .map(|c| {
                    let t = if typed.contains(&c) { "DATE" } else { "TEXT" };
                    format!("\"{c}\" {t}")
                })
                .collect();
            format!(
                "CREATE TABLE {schema}.{name} ({});\n\\copy {schema}.{name} FROM '{}' WITH \
                 (FORMAT csv, HEADER true)\n",
                columns.join(", "),
                csv.display()
            )
        };
        let mut script = format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE;\nCREATE SCHEMA {schema};\n{}",
            table("leads", &set.leads, &["created_at"])
        );
        if let Some(list) = &set.list {
            script.push_str(&table("opportunities", list, &[]));
        }
        script.push_str(&sql);
        script.push_str(&format!("DROP SCHEMA {schema} CASCADE;\n"));
        let path = wd.path("script.sql");
        std::fs::write(&path, script).unwrap();
        let o = Command::new("psql")
            .arg(&url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-f"])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql ({e}); scripts/engines.sh installs it"));
        assert!(o.status.success(), "PostgreSQL: {}", stderr(&o));
        let counts = wd.write(
            &format!("dated-pg-{d}.csv"),
            &String::from_utf8(o.stdout).unwrap(),
        );
        assert_window_cases(&wd, "postgres", d, set, &counts);
    }
}

#[test]
fn spark_dated_counts_train_the_rows_model() {
    let wd = Workdir::new();
    for (d, set) in dated_sets(&wd).iter().enumerate() {
        let sql = dated_counts_sql(&wd, "spark", "leads", set);
        let counts = wd.path(&format!("dated-spark-{d}.csv"));
        let mut tables = serde_json::Map::new();
        if let Some(list) = &set.list {
            tables.insert("opportunities".into(), serde_json::json!(list));
        }
        crate::engines::serve(
            "spark_counts",
            &serde_json::json!({
                "csv": set.leads, "typed": false, "ansi": true, "sql": sql, "out": counts,
                "tables": tables,
            }),
        )
        .unwrap_or_else(|e| panic!("Spark: {e}"));
        assert_window_cases(&wd, "spark", d, set, &counts);
    }
}

/// Counts without dates cannot train a window, and dated counts need one: both refused (exit
/// code 2) with what to do.
#[test]
fn windows_and_counts_must_match() {
    let wd = Workdir::new();
    let rules = wd.rules();
    let header: Vec<String> = (1..=12)
        .map(|j| format!("rule_{j}"))
        .chain(["leads", "conversions"].map(String::from))
        .collect();
    let plain = wd.write(
        "plain.csv",
        &format!("{}\n0,0,0,0,0,0,0,0,0,0,0,0,5,1\n", header.join(",")),
    );
    let dated_header: Vec<String> = (1..=12)
        .map(|j| format!("rule_{j}"))
        .chain(["created_day", "opportunity_day", "leads"].map(String::from))
        .collect();
    let dated = wd.write(
        "dated.csv",
        &format!(
            "{}\n0,0,0,0,0,0,0,0,0,0,0,0,2025-01-01,2025-01-05,1\n",
            dated_header.join(",")
        ),
    );
    let window = ["--window", "90d", "--date", "c", "--outcome-date", "o"];
    for (counts, extra, expect) in [
        (&plain, &window[..], "count by date"),
        (&dated, &[][..], "--window 90d"),
    ] {
        let o = wd
            .cmd()
            .args(["train", "--counts"])
            .arg(counts)
            .arg("--rules")
            .arg(&rules)
            .args(["--out", "m.json"])
            .args(extra)
            .output()
            .unwrap();
        // An option that does not fit the counts: exit code 2, as other option errors.
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{}", stderr(&o));
        assert!(!wd.path("m.json").exists());
    }
}
