//! Snapshot counts built in the warehouse (`mqlcal export --format sql-counts --events-table`,
//! issue 16): every engine returns, row for row, the counts this file computes from the leads
//! and events files with a plain loop over leads and snapshot dates (written here from the
//! rules' definitions, not with mqlcal's code); and `mqlcal train --counts` on them gives the
//! model `train --events` gives on the files when it deals the same folds (by bucket of ids).
//!
//! Data: `mqlcal synth --events` leads (the events columns renamed, so the query must name
//! them as the rules file's `[events]` says) plus hand-made boundary leads: an event on the
//! snapshot date, one exactly `within_days` before it and one a day older, a lead created on a
//! snapshot date, an opportunity on a snapshot date and the day after, a lead without events,
//! ids and types with white space around them, events after the snapshot, a demo exactly 30
//! days old, and a decayed sum of exactly 0.25 (Rust rounds it up to 0.3; a ROUND that ties to
//! even would give 0.2 and miss `at_least = 0.3`).
//!
//! Engines as in tests/it/counts.rs and tests/it/sql_events.rs: DuckDB, PostgreSQL, SQLite
//! (bundled), Spark SQL (ANSI off and on), and BigQuery and Snowflake parsed by sqlglot with
//! the DuckDB translation run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};
use mqlcal::data::outcomes::{OutcomeSpec, TimeParams};
use mqlcal::data::{LoadOptions, Table};
use mqlcal::events::snapshots::Cadence;
use mqlcal::events::Events;
use mqlcal::outcome::{Immature, Window};
use mqlcal::rules::RulesFile;
use mqlcal::train::TrainParams;
use polars::prelude::*;
use serde_json::Value;

use crate::export::{pg_url, psql, run_python, PgSchema};
// The scoring SQL's event rules (windows, decays, caps, a lead column): the same rules counted.
use crate::sql_events::RULES;
use crate::{stderr, Workdir};

const EVENTS_HEADER: &str = "Lead ID,Activity Type,Activity Date";
const WINDOW: &str = "60d";

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Hand-made leads (id as written, created, opportunity, company size) and their events (id,
/// type, time as written). Snapshots are monthly: 2025-06-01 is one.
fn boundary_rows() -> (Vec<[&'static str; 4]>, Vec<[&'static str; 3]>) {
    let leads = vec![
        ["B-on-T", "2025-05-10", "", "10"],
        ["B-week-edge", "2025-05-10", "", "10"],
        ["B-week-out", "2025-05-10", "", "10"],
        ["B-created-on-T", "2025-06-01", "", "10"],
        ["B-opp-on-T", "2025-04-15", "2025-06-01", "10"],
        ["B-opp-after-T", "2025-04-15", "2025-06-02", "10"],
        ["B-none", "2025-03-03", "", "5000"],
        ["  B-spaced ", "2025-05-20", "", "10"],
        ["B-tie", "2025-05-01", "", "10"],
        ["B-demo", "2025-04-02", "2025-08-20", "2000"],
        ["B-later", "2025-05-05", "", "10"],
        ["B-typed", "2025-05-05", "", "10"],
    ];
    let events = vec![
        // Age 0 at 2025-06-01.
        ["B-on-T", "pricing_page_view", "2025-06-01T10:00:00Z"],
        // Exactly 7 days before 06-01: in the week; 8 days: not.
        ["B-week-edge", "pricing_page_view", "2025-05-25T23:59:00Z"],
        ["B-week-out", "pricing_page_view", "2025-05-24T00:00:00Z"],
        ["B-created-on-T", "pricing_page_view", "2025-06-01"],
        ["B-created-on-T", "pricing_page_view", "2025-06-01 08:00"],
        ["B-opp-on-T", "pricing_page_view", "2025-05-30"],
        ["B-opp-after-T", "pricing_page_view", "2025-05-30"],
        [" B-spaced\t", "pricing_page_view", "2025-05-31"],
        // 14 days before 06-01 at a 7-day half-life: 0.25, which rounds up to 0.3.
        ["B-tie", "pricing_page_view", "2025-05-18T12:00:00Z"],
        // 30 days before 06-01: this month; 60 before 07-01: not.
        ["B-demo", "demo_booked", "2025-05-02"],
        ["B-demo", "pricing_page_view", "2025-05-28"],
        ["B-demo", "pricing_page_view", "2025-05-29"],
        ["B-demo", "pricing_page_view", "2025-05-31"],
        ["B-demo", "pricing_page_view", "2025-06-01"],
        // After 06-01: counted at 07-01 only.
        ["B-later", "pricing_page_view", "2025-06-30"],
        ["B-typed", " pricing_page_view ", "2025-05-31"],
        ["B-typed", "webinar", "2025-05-31"],
    ];
    (leads, events)
}

/// A CSV field, quoted when it needs to be (or has white space to keep).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Rows of a CSV file (header first), cells exactly as written.
fn read_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::None)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The files of a test: `leads.csv` (lead_id, created_at, opportunity_date,
/// last_activity_date, company_size) and `events.csv` (renamed columns), simulated leads plus
/// the boundary rows; and `rules.toml`.
struct Files {
    leads: PathBuf,
    events: PathBuf,
    rules: PathBuf,
}

/// With `odd_ids`, also a lead without an id (no events, no bucket) and an id on two leads
/// (one bucket): `train --events` deals a lead without an id to folds in file order, which
/// counts cannot repeat, so the model comparison leaves them out.
fn setup(wd: &Workdir, leads: usize, odd_ids: bool) -> Files {
    let o = wd
        .cmd()
        .args(["synth", "--rows", &leads.to_string(), "--seed", "11"])
        .args(["--events", "sim-events.csv", "--out", "sim-leads.csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "synth: {}", stderr(&o));
    let (mut lead_rows, mut event_rows) = boundary_rows();
    if odd_ids {
        lead_rows.push(["", "2025-05-10", "", "10"]);
        lead_rows.push(["B-twice", "2025-04-01", "", "10"]);
        lead_rows.push(["B-twice", "2025-04-01", "", "10"]);
        event_rows.push(["B-twice", "pricing_page_view", "2025-05-31"]);
    }
    let mut text = std::fs::read_to_string(wd.path("sim-leads.csv")).unwrap();
    assert!(text.starts_with("lead_id,created_at,opportunity_date,last_activity_date,company_size"));
    for [id, created, opportunity, size] in lead_rows {
        text.push_str(&format!("{},{created},{opportunity},,{size}\n", field(id)));
    }
    let leads = wd.write("leads.csv", &text);
    let sim = std::fs::read_to_string(wd.path("sim-events.csv")).unwrap();
    let (_, body) = sim.split_once('\n').unwrap();
    let mut text = format!("{EVENTS_HEADER}\n{body}");
    for e in event_rows {
        let row: Vec<String> = e.iter().map(|s| field(s)).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let events = wd.write("events.csv", &text);
    let rules = wd.write("rules.toml", RULES);
    Files {
        leads,
        events,
        rules,
    }
}

// ---------------------------------------------------------------------------------------------
// The counts, computed here

/// A counts row's key: the rule features (whole numbers), created_day, opportunity_day and
/// lead_bucket as text ("" when empty).
type Key = (Vec<i64>, String, String, String);

/// `YYYY-MM-DD` of a trimmed time text: its first ten characters.
fn date_of(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    (!t.is_empty()).then(|| day(&t[..10]))
}

/// Monthly snapshot dates (the 1st of each month) from `from` to as-of.
fn monthly(from: NaiveDate) -> Vec<NaiveDate> {
    let mut d = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap();
    if d < from {
        d = d.checked_add_months(chrono::Months::new(1)).unwrap();
    }
    let mut out = Vec::new();
    while d <= as_of() {
        out.push(d);
        d = d.checked_add_months(chrono::Months::new(1)).unwrap();
    }
    out
}

/// Mondays from `from` to as-of.
fn weekly(from: NaiveDate) -> Vec<NaiveDate> {
    (0..)
        .map(|k| from + Days::new(k))
        .take_while(|&d| d <= as_of())
        .filter(|d| d.weekday() == chrono::Weekday::Mon)
        .collect()
}

/// The snapshots of the leads and events files at `dates` (those after the oldest lead's
/// creation), straight from the rules' definitions: each lead (its trimmed id) at each T at
/// which it was open (created on or before T, no opportunity on or before T), with its events
/// on or before T, as a counts key; with `opportunities`, the leads' opportunity dates come
/// from that list (each id at its earliest date).
fn snapshots(
    files: &Files,
    dates: &[NaiveDate],
    opportunities: Option<&[Vec<String>]>,
) -> Vec<(Option<String>, Key)> {
    let leads = read_rows(&files.leads);
    let mut events: BTreeMap<String, Vec<(String, NaiveDate)>> = BTreeMap::new();
    for e in &read_rows(&files.events)[1..] {
        events
            .entry(e[0].trim().to_string())
            .or_default()
            .push((e[1].trim().to_string(), date_of(&e[2]).unwrap()));
    }
    let listed: Option<BTreeMap<String, NaiveDate>> = opportunities.map(|rows| {
        let mut m: BTreeMap<String, NaiveDate> = BTreeMap::new();
        for r in &rows[1..] {
            let d = date_of(&r[1]).unwrap();
            let e = m.entry(r[0].trim().to_string()).or_insert(d);
            *e = (*e).min(d);
        }
        m
    });
    struct Lead {
        id: Option<String>,
        created: NaiveDate,
        opportunity: Option<NaiveDate>,
        size: Option<f64>,
    }
    let leads: Vec<Lead> = leads[1..]
        .iter()
        .map(|r| {
            let id = Some(r[0].trim().to_string()).filter(|s| !s.is_empty());
            Lead {
                opportunity: match &listed {
                    Some(m) => id.as_ref().and_then(|id| m.get(id).copied()),
                    None => date_of(&r[2]),
                },
                id,
                created: date_of(&r[1]).unwrap(),
                size: r[4].trim().parse().ok(),
            }
        })
        .collect();
    let first = leads.iter().map(|l| l.created).min().unwrap();
    let dates: Vec<NaiveDate> = dates.iter().copied().filter(|&t| t > first).collect();
    let open = |l: &Lead, t: NaiveDate| l.created <= t && l.opportunity.is_none_or(|o| o > t);
    // Buckets: ids of the leads with a snapshot, ranked in byte order, modulo 60.
    let mut ids: Vec<&str> = leads
        .iter()
        .filter(|l| dates.iter().any(|&t| open(l, t)))
        .filter_map(|l| l.id.as_deref())
        .collect();
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for l in &leads {
        let none = Vec::new();
        let log = l.id.as_ref().and_then(|id| events.get(id)).unwrap_or(&none);
        for &t in dates.iter().filter(|&&t| open(l, t)) {
            let ages = |types: &[&str]| -> Vec<f64> {
                log.iter()
                    .filter(|(k, d)| types.contains(&k.as_str()) && *d <= t)
                    .map(|(_, d)| (t - *d).num_days() as f64)
                    .collect()
            };
            let decayed = |h: f64| {
                let sum: f64 = ages(&["pricing_page_view"])
                    .iter()
                    .map(|a| 0.5f64.powf(a / h))
                    .sum();
                (sum / 0.1).round() * 0.1
            };
            let within = |types: &[&str], days: f64| {
                ages(types).iter().filter(|&&a| a <= days).count() as f64
            };
            let units = |v: f64, cap: f64| {
                if v >= cap {
                    cap
                } else if v >= 1.0 {
                    v.floor()
                } else {
                    0.0
                }
            };
            let features = vec![
                i64::from(decayed(7.0) >= 0.3),
                i64::from(decayed(7.0) >= 1.5),
                units(decayed(3.0), 2.0) as i64,
                units(within(&["pricing_page_view", "demo_booked"], 7.0), 3.0) as i64,
                i64::from(within(&["demo_booked"], 30.0) >= 1.0),
                i64::from(l.size.is_some_and(|s| s >= 1000.0)),
            ];
            let bucket = l.id.as_deref().map_or(String::new(), |id| {
                (ids.binary_search(&id).unwrap() % 60).to_string()
            });
            let key = (
                features,
                t.to_string(),
                l.opportunity.map_or(String::new(), |o| o.to_string()),
                bucket,
            );
            out.push((l.id.clone(), key));
        }
    }
    out
}

/// The counts of [`snapshots`]: leads per key.
fn expected(
    files: &Files,
    dates: &[NaiveDate],
    opportunities: Option<&[Vec<String>]>,
) -> BTreeMap<Key, u64> {
    let mut counts = BTreeMap::new();
    for (_, key) in snapshots(files, dates, opportunities) {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// A counts table as written by an engine (CSV or Parquet), as the same map: features read as
/// numbers, dates as their first ten characters.
fn got(path: &Path) -> BTreeMap<Key, u64> {
    let df = if path.extension().is_some_and(|e| e == "parquet") {
        ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap()
    } else {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .unwrap()
            .finish()
            .unwrap()
    };
    rows_of(&df)
}

fn rows_of(df: &DataFrame) -> BTreeMap<Key, u64> {
    let text = |name: &str| -> Vec<Option<String>> {
        let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str()
            .unwrap()
            .into_iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    let rules: Vec<Vec<Option<String>>> = (1..=6).map(|j| text(&format!("rule_{j}"))).collect();
    let (created, opportunity, bucket, leads) = (
        text("created_day"),
        text("opportunity_day"),
        text("lead_bucket"),
        text("leads"),
    );
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        let features = rules
            .iter()
            .map(|c| {
                let v: f64 = c[i].as_deref().unwrap().parse().unwrap();
                assert_eq!(v.fract(), 0.0, "a whole feature");
                v as i64
            })
            .collect();
        let date = |v: &Option<String>| v.as_deref().map_or(String::new(), |s| s[..10].into());
        let key = (
            features,
            date(&created[i]),
            date(&opportunity[i]),
            bucket[i].clone().unwrap_or_default(),
        );
        let n: u64 = leads[i].as_deref().unwrap().parse().unwrap();
        assert!(out.insert(key.clone(), n).is_none(), "row {key:?} twice");
    }
    out
}

/// The engine's counts equal the expected ones row for row.
fn assert_counts(want: &BTreeMap<Key, u64>, got: &BTreeMap<Key, u64>, what: &str) {
    for (k, n) in want {
        assert_eq!(got.get(k), Some(n), "{what}: row {k:?}");
    }
    for k in got.keys() {
        assert!(
            want.contains_key(k),
            "{what}: row {k:?} should not be there"
        );
    }
    eprintln!(
        "{what}: {} rows, {} snapshots identical",
        got.len(),
        got.values().sum::<u64>()
    );
}

/// The boundary leads are where the rules say, so the parity is about the cases meant.
fn check_boundaries(files: &Files, dates: &[NaiveDate]) {
    let all = snapshots(files, dates, None);
    // The features of lead `id` at `t`, if it was open then. Rules: some, more, decayed units,
    // active this week (units), demo this month, big company.
    let at = |id: &str, t: &str| -> Option<Vec<i64>> {
        all.iter()
            .find(|(i, k)| i.as_deref() == Some(id) && k.1 == t)
            .map(|(_, k)| k.0.clone())
    };
    let has = |id: &str, t: &str, f: [i64; 6]| {
        assert_eq!(at(id, t), Some(f.to_vec()), "{id} at {t}");
    };
    has("B-on-T", "2025-06-01", [1, 0, 1, 1, 0, 0]);
    has("B-week-edge", "2025-06-01", [1, 0, 0, 1, 0, 0]);
    has("B-week-out", "2025-06-01", [1, 0, 0, 0, 0, 0]);
    has("B-created-on-T", "2025-06-01", [1, 1, 2, 2, 0, 0]);
    assert_eq!(at("B-opp-on-T", "2025-06-01"), None);
    assert!(at("B-opp-on-T", "2025-05-01").is_some());
    has("B-opp-after-T", "2025-06-01", [1, 0, 0, 1, 0, 0]);
    has("B-none", "2025-06-01", [0, 0, 0, 0, 0, 1]);
    has("B-spaced", "2025-06-01", [1, 0, 0, 1, 0, 0]);
    has("B-tie", "2025-06-01", [1, 0, 0, 0, 0, 0]);
    has("B-demo", "2025-06-01", [1, 1, 2, 3, 1, 1]);
    has("B-demo", "2025-07-01", [0, 0, 0, 0, 0, 1]);
    has("B-later", "2025-06-01", [0, 0, 0, 0, 0, 0]);
    has("B-later", "2025-07-01", [1, 0, 0, 1, 0, 0]);
    has("B-typed", "2025-06-01", [1, 0, 0, 1, 0, 0]);
    // Both leads of one id, in one bucket; a lead without an id has no events and no bucket.
    let twice: Vec<&Key> = all
        .iter()
        .filter(|(i, k)| i.as_deref() == Some("B-twice") && k.1 == "2025-06-01")
        .map(|(_, k)| k)
        .collect();
    assert_eq!(twice.len(), 2);
    assert_eq!(twice[0], twice[1]);
    assert_eq!(twice[0].0, [1, 0, 0, 1, 0, 0]);
    let nobody: Vec<&Key> = all
        .iter()
        .filter(|(i, _)| i.is_none())
        .map(|(_, k)| k)
        .collect();
    assert!(!nobody.is_empty());
    assert!(nobody
        .iter()
        .all(|k| k.3.is_empty() && k.0 == [0, 0, 0, 0, 0, 0]));
}

// ---------------------------------------------------------------------------------------------
// The query, and the engines

/// `mqlcal export --format sql-counts --events-table`; `extra` adds or overrides flags.
fn export(wd: &Workdir, files: &Files, dialect: &str, tables: [&str; 2], extra: &[&str]) -> String {
    let out = wd.path(&format!("snapshots-{dialect}.sql"));
    // `--snapshots monthly` unless `extra` gives it.
    let cadence: &[&str] = if extra.contains(&"--snapshots") {
        &[]
    } else {
        &["--snapshots", "monthly"]
    };
    let o = wd
        .cmd()
        .args(["export", "--format", "sql-counts", "--rules"])
        .arg(&files.rules)
        .args(["--dialect", dialect, "--table", tables[0]])
        .args(["--events-table", tables[1]])
        .args(cadence)
        .args(["--as-of", &as_of().to_string()])
        .args(["--date", "created_at", "--outcome-date", "opportunity_date"])
        .args(["--force", "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "export: {}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

/// Runs `sql` in DuckDB on the files (all text), the result written to `out` (Parquet).
fn duckdb(wd: &Workdir, files: &Files, sql: &str, out: &Path, more: Value) -> BTreeMap<Key, u64> {
    let mut tables = serde_json::json!({"events": files.events});
    if let (Some(t), Some(more)) = (tables.as_object_mut(), more.as_object()) {
        t.extend(more.clone());
    }
    let answer = run_python(
        wd,
        "duckdb_counts",
        &serde_json::json!({
            "csv": files.leads, "typed": false, "sql": sql, "out": out, "tables": tables,
        }),
    );
    assert!(answer["rows"].as_u64().unwrap() > 100, "{answer}");
    got(out)
}

#[test]
fn duckdb_bigquery_and_snowflake_count_the_snapshots_computed_here() {
    let wd = Workdir::new();
    let files = setup(&wd, 600, true);
    let monthly_dates = monthly(as_of() - chrono::Months::new(36));
    let want = expected(&files, &monthly_dates, None);
    check_boundaries(&files, &monthly_dates);
    let sql = export(&wd, &files, "duckdb", ["leads", "events"], &[]);
    let out = wd.path("duckdb.parquet");
    assert_counts(
        &want,
        &duckdb(&wd, &files, &sql, &out, Value::Null),
        "DuckDB",
    );

    // Weekly from a given date (after the first lead, so the first weeks are left out), and a
    // list of dates (one before every lead, one after as-of).
    let from = day("2025-03-15");
    let sql = export(
        &wd,
        &files,
        "duckdb",
        ["leads", "events"],
        &["--snapshots", "weekly", "--snapshots-from", "2025-03-15"],
    );
    let want_weekly = expected(&files, &weekly(from), None);
    let got_weekly = duckdb(&wd, &files, &sql, &wd.path("weekly.parquet"), Value::Null);
    assert_counts(&want_weekly, &got_weekly, "DuckDB, weekly");
    let list = [
        "2024-12-01",
        "2025-06-01",
        "2025-06-04",
        "2026-01-01",
        "2026-03-01",
    ];
    let sql = export(
        &wd,
        &files,
        "duckdb",
        ["leads", "events"],
        &["--snapshots", &list.join(",")],
    );
    let dates: Vec<NaiveDate> = list
        .iter()
        .map(|d| day(d))
        .filter(|&d| d <= as_of())
        .collect();
    let got_list = duckdb(&wd, &files, &sql, &wd.path("list.parquet"), Value::Null);
    assert_counts(&expected(&files, &dates, None), &got_list, "DuckDB, dates");

    // Opportunities from sales' list, joined on the id (each at its earliest date; an id that
    // matches no lead; the leads' own column ignored).
    let leads = read_rows(&files.leads);
    let mut listed = String::from("lead_id,opportunity_date\nnobody,2025-03-01\n");
    for r in &leads[1..] {
        if !r[2].is_empty() {
            listed.push_str(&format!("{},{}\n", field(&r[0]), r[2]));
            listed.push_str(&format!("{},2026-03-15\n", field(&r[0])));
        }
    }
    let list_path = wd.write("opportunities.csv", &listed);
    let sql = export(
        &wd,
        &files,
        "duckdb",
        ["leads", "events"],
        &["--outcomes-table", "opportunities"],
    );
    let got_joined = duckdb(
        &wd,
        &files,
        &sql,
        &wd.path("joined.parquet"),
        serde_json::json!({"opportunities": list_path}),
    );
    let want_joined = expected(&files, &monthly_dates, Some(&read_rows(&list_path)));
    assert_counts(&want_joined, &got_joined, "DuckDB, opportunities table");
    assert_eq!(want_joined, want, "the list gives each lead its own date");

    for dialect in ["bigquery", "snowflake"] {
        let sql = export(&wd, &files, dialect, ["leads", "events"], &[]);
        let answer = run_python(
            &wd,
            "sqlglot",
            &serde_json::json!({"dialect": dialect, "sql": sql}),
        );
        assert_eq!(answer["statements"], 1, "{dialect}: one statement");
        let translated = answer["duckdb"].as_str().unwrap();
        let out = wd.path(&format!("{dialect}.parquet"));
        let got = duckdb(&wd, &files, translated, &out, Value::Null);
        assert_counts(&want, &got, &format!("{dialect} via sqlglot → DuckDB"));
    }
}

#[test]
fn postgres_counts_the_snapshots_computed_here() {
    let url = pg_url();
    let wd = Workdir::new();
    let files = setup(&wd, 600, true);
    let want = expected(&files, &monthly(as_of() - chrono::Months::new(36)), None);
    let schema = PgSchema {
        url: url.clone(),
        name: format!("mqlcal_snapshots_{}", std::process::id()),
        dir: wd.path(""),
    };
    let s = &schema.name;
    let sql = export(
        &wd,
        &files,
        "postgres",
        [&format!("{s}.leads"), &format!("{s}.events")],
        &[],
    );
    // Leads as text, and with the dates typed DATE, as a warehouse might hold them.
    for typed in [false, true] {
        let date = if typed { "DATE" } else { "TEXT" };
        std::fs::write(
            wd.path("load.sql"),
            format!(
                "DROP SCHEMA IF EXISTS {s} CASCADE;\nCREATE SCHEMA {s};\n\
                 CREATE TABLE {s}.leads (lead_id TEXT, created_at {date}, opportunity_date \
                 {date}, last_activity_date {date}, company_size TEXT);\n\
                 CREATE TABLE {s}.events (\"Lead ID\" TEXT, \"Activity Type\" TEXT, \
                 \"Activity Date\" TEXT);\n\
                 \\copy {s}.leads FROM '{}' WITH (FORMAT csv, HEADER true)\n\
                 \\copy {s}.events FROM '{}' WITH (FORMAT csv, HEADER true)\n{sql}",
                files.leads.display(),
                files.events.display(),
            ),
        )
        .unwrap();
        let text = psql(&url, &wd.path("load.sql"), "snapshot counts");
        let out = wd.write(&format!("pg-{typed}.csv"), &text);
        assert_counts(
            &want,
            &got(&out),
            &format!("PostgreSQL, dates typed {typed}"),
        );
    }
}

#[test]
fn sqlite_counts_the_snapshots_computed_here() {
    let wd = Workdir::new();
    let files = setup(&wd, 600, true);
    let want = expected(&files, &monthly(as_of() - chrono::Months::new(36)), None);
    let sql = export(&wd, &files, "sqlite", ["leads", "activity log"], &[]);
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE leads (lead_id TEXT, created_at TEXT, opportunity_date TEXT, \
         last_activity_date TEXT, company_size TEXT);\n\
         CREATE TABLE \"activity log\" (\"Lead ID\" TEXT, \"Activity Type\" TEXT, \
         \"Activity Date\" TEXT);",
    )
    .unwrap();
    for r in &read_rows(&files.leads)[1..] {
        db.execute(
            "INSERT INTO leads VALUES (?, ?, ?, ?, ?)",
            rusqlite::params![r[0], r[1], r[2], r[3], r[4]],
        )
        .unwrap();
    }
    for r in &read_rows(&files.events)[1..] {
        db.execute(
            "INSERT INTO \"activity log\" VALUES (?, ?, ?)",
            rusqlite::params![r[0], r[1], r[2]],
        )
        .unwrap();
    }
    let mut stmt = db
        .prepare(&sql)
        .unwrap_or_else(|e| panic!("SQLite rejects the query: {e}"));
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    let mut rows = stmt.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        for (j, c) in columns.iter_mut().enumerate() {
            use rusqlite::types::ValueRef;
            c.push(match row.get_ref(j).unwrap() {
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(x) => Some(x.to_string()),
                ValueRef::Text(t) => Some(String::from_utf8(t.to_vec()).unwrap()),
                ValueRef::Blob(_) => panic!("a blob"),
            });
        }
    }
    let df = DataFrame::new(
        names
            .iter()
            .zip(columns)
            .map(|(n, c)| Column::new(n.as_str().into(), c))
            .collect(),
    )
    .unwrap();
    assert_counts(&want, &rows_of(&df), "SQLite");
}

#[test]
fn spark_counts_the_snapshots_computed_here() {
    let wd = Workdir::new();
    let files = setup(&wd, 600, true);
    let want = expected(&files, &monthly(as_of() - chrono::Months::new(36)), None);
    let sql = export(&wd, &files, "spark", ["leads", "events"], &[]);
    for ansi in [false, true] {
        let out = wd.path(&format!("spark-{ansi}.csv"));
        crate::engines::serve(
            "spark_counts",
            &serde_json::json!({
                "csv": files.leads, "typed": false, "ansi": ansi, "sql": sql, "out": out,
                "tables": {"events": files.events},
            }),
        )
        .unwrap_or_else(|e| panic!("Spark SQL: {e}"));
        let what = format!("Spark SQL, ANSI {}", if ansi { "on" } else { "off" });
        assert_counts(&want, &got(&out), &what);
    }
}

// ---------------------------------------------------------------------------------------------
// Training on the counts

/// The options `train --counts` is given below, for the library's point-in-time training.
fn params(files: &Files) -> TrainParams {
    let file = RulesFile::read(&files.rules).unwrap();
    let outcome = OutcomeSpec::Date {
        column: "opportunity_date".into(),
    };
    let mut p = TrainParams::new(outcome.describe());
    p.id = file.id.clone();
    p.rules = Some(file.checked_rules().unwrap());
    p.date = Some("created_at".into());
    p.outcome = Some(outcome);
    p.time = TimeParams {
        window: Some(Window { days: 60 }),
        as_of: Some(as_of()),
        immature: Immature::Weight,
        date_format: None,
    };
    p
}

/// `train --counts` on DuckDB's counts gives the model of point-in-time training on the files
/// with folds dealt by bucket, every field but the record of the input (young snapshots
/// weighted and dropped); the model says where the snapshots were counted; and `train
/// --events` (folds by lead id) has the same rules and half-lives.
#[test]
fn counts_from_the_warehouse_train_the_model_of_the_files() {
    let wd = Workdir::new();
    let files = setup(&wd, 1500, false);
    let sql = export(&wd, &files, "duckdb", ["leads", "events"], &[]);
    let counts = wd.path("counts.parquet");
    let got = duckdb(&wd, &files, &sql, &counts, Value::Null);
    let dates = monthly(as_of() - chrono::Months::new(36));
    assert_counts(&expected(&files, &dates, None), &got, "DuckDB");
    let table = Table::load(&files.leads, &LoadOptions::default()).unwrap();
    let columns = RulesFile::read(&files.rules).unwrap().events.unwrap();
    let events = Events::load(&files.events, &columns, &LoadOptions::default(), None).unwrap();
    let strip = |m: &Value| {
        let mut m = m.clone();
        let t = m["training"].as_object_mut().unwrap();
        for field in ["input", "input_sha256", "events"] {
            t.remove(field);
        }
        m
    };
    for (immature, flag) in [(Immature::Weight, "weight"), (Immature::Drop, "drop")] {
        let out = format!("counted-{flag}.json");
        let o = wd
            .cmd()
            .args(["train", "--counts"])
            .arg(&counts)
            .arg("--rules")
            .arg(&files.rules)
            .args(["--window", WINDOW, "--as-of", &as_of().to_string()])
            .args(["--date", "created_at", "--outcome-date", "opportunity_date"])
            .args(["--immature", flag, "--snapshots", "monthly", "--out", &out])
            .output()
            .unwrap();
        assert!(o.status.success(), "train --counts: {}", stderr(&o));
        let warehouse: Value =
            serde_json::from_slice(&std::fs::read(wd.path(&out)).unwrap()).unwrap();
        let mut p = params(&files);
        p.time.immature = immature;
        p.fold_by_bucket = true;
        let here = mqlcal::events::train_with_events(
            &table,
            &events,
            ("events.csv", &columns),
            Cadence::Monthly,
            &p,
            &mqlcal::progress::Silent,
        )
        .unwrap();
        let here = serde_json::to_value(&here.model).unwrap();
        assert_eq!(strip(&warehouse), strip(&here), "--immature {flag}");
        // The snapshot rows (for --report) deal the same folds by bucket.
        let (rows, _) = mqlcal::events::train_with_events_rows(
            &table,
            &events,
            ("events.csv", &columns),
            Cadence::Monthly,
            &p,
            &mqlcal::progress::Silent,
        )
        .unwrap();
        let rows = serde_json::to_value(&rows.model).unwrap();
        assert_eq!(strip(&rows), strip(&here), "rows, --immature {flag}");
        // What differs is the record of the input: the counts, counted in the warehouse.
        let e = &warehouse["training"]["events"];
        assert_eq!(e["counted_in_warehouse"], true, "{e}");
        assert_eq!(e["snapshots"], "monthly");
        assert_eq!(e["columns"]["id"], "Lead ID");
        assert_eq!(
            e["snapshot_rows"],
            here["training"]["events"]["snapshot_rows"]
        );
        assert!(e.get("events").is_none() && here["training"]["events"]["events"].is_number());
        assert_eq!(
            warehouse["rules"][0]["event"]["half_life_days"].as_f64(),
            Some(7.0)
        );
    }
    // inspect says where the snapshots were counted and how the folds were dealt.
    let o = wd
        .cmd()
        .args(["inspect", "--model", "counted-weight.json"])
        .output()
        .unwrap();
    let said = crate::stdout(&o);
    assert!(
        said.contains("counted in the warehouse") && said.contains("bucket of lead ids"),
        "{said}"
    );
    // Without --snapshots, the model records the snapshot dates the counts hold.
    let o = wd
        .cmd()
        .args(["train", "--counts"])
        .arg(&counts)
        .arg("--rules")
        .arg(&files.rules)
        .args(["--window", WINDOW, "--as-of", &as_of().to_string()])
        .args(["--date", "created_at", "--outcome-date", "opportunity_date"])
        .args(["--out", "dated.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m: Value = serde_json::from_slice(&std::fs::read(wd.path("dated.json")).unwrap()).unwrap();
    let listed = m["training"]["events"]["snapshots"].as_str().unwrap();
    assert!(listed.starts_with("2025-02-01,2025-03-01,") && listed.ends_with(",2026-02-01"));
    assert_eq!(listed.parse::<Cadence>().unwrap().to_string(), listed);

    // `train --events` deals folds lead by lead: the same rules, and its points differ only
    // through the penalty and calibration its folds choose.
    let o = wd
        .cmd()
        .args(["train", "--data"])
        .arg(&files.leads)
        .arg("--events")
        .arg(&files.events)
        .arg("--rules")
        .arg(&files.rules)
        .args(["--window", WINDOW, "--as-of", &as_of().to_string()])
        .args(["--date", "created_at", "--outcome-date", "opportunity_date"])
        .args(["--out", "events.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let by_id: Value =
        serde_json::from_slice(&std::fs::read(wd.path("events.json")).unwrap()).unwrap();
    let warehouse: Value =
        serde_json::from_slice(&std::fs::read(wd.path("counted-weight.json")).unwrap()).unwrap();
    let rules = |m: &Value| -> Vec<(Value, Value, Value)> {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].clone(),
                    r["condition"].clone(),
                    r["event"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(rules(&by_id), rules(&warehouse));
    assert_eq!(by_id["training"]["rows"], warehouse["training"]["rows"]);
    let weights = |m: &Value| -> Vec<f64> {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["weight"].as_f64().unwrap())
            .collect()
    };
    eprintln!(
        "folds by id: alpha {}, weights {:?}; by bucket: alpha {}, weights {:?}",
        by_id["training"]["alpha"],
        weights(&by_id),
        warehouse["training"]["alpha"],
        weights(&warehouse)
    );
}

// ---------------------------------------------------------------------------------------------
// What is refused

fn fails(o: &std::process::Output, wants: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected a failure: {err}");
    for w in wants {
        assert!(err.contains(w), "{w:?} in: {err}");
    }
}

/// A half-life to learn, a date rule, and a missing --as-of, --snapshots, --outcome-date or
/// --events-table are refused, naming the rule or the flag; so is training on snapshot counts
/// without --as-of or with a rule to learn, and a lead without a creation date.
#[test]
fn what_snapshot_counts_cannot_do_is_refused_naming_the_rule_or_flag() {
    let wd = Workdir::new();
    let files = setup(&wd, 200, false);
    let base = |rules: &Path| {
        let mut c = wd.cmd();
        c.args(["export", "--format", "sql-counts", "--rules"])
            .arg(rules)
            .args([
                "--dialect",
                "postgres",
                "--table",
                "leads",
                "--out",
                "x.sql",
            ]);
        c
    };
    let full = [
        "--events-table",
        "events",
        "--snapshots",
        "monthly",
        "--as-of",
        "2026-02-28",
        "--date",
        "created_at",
        "--outcome-date",
        "opportunity_date",
    ];
    let without = |flag: &str| -> Vec<&str> {
        let at = full.iter().position(|f| *f == flag).unwrap();
        let mut v = full.to_vec();
        v.drain(at..at + 2);
        v
    };
    let learn = wd.write(
        "learn.toml",
        &RULES.replace("decay = { half_life_days = 3 }", "decay = \"learn\""),
    );
    fails(
        &base(&learn).args(full).output().unwrap(),
        &[
            "rule 'Pricing, decayed units'",
            "decay = \"learn\"",
            "half_life_days = H",
            "mqlcal inspect",
        ],
    );
    let dated = wd.write(
        "dated.toml",
        &format!(
            "{RULES}\n[[rule]]\nname = \"Recent activity\"\ncolumn = \"last_activity_date\"\n\
             within_days = 7\n"
        ),
    );
    fails(
        &base(&dated).args(full).output().unwrap(),
        &["rule 'Recent activity' is a date rule"],
    );
    for (flag, says) in [
        ("--as-of", "--as-of"),
        ("--snapshots", "--snapshots monthly"),
        ("--outcome-date", "--outcome-date"),
    ] {
        let o = base(&files.rules).args(without(flag)).output().unwrap();
        fails(&o, &[says]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
    }
    fails(
        &base(&files.rules)
            .args(without("--events-table"))
            .output()
            .unwrap(),
        &["rule 'Pricing, some' counts events", "--events-table"],
    );
    fails(
        &base(&files.rules)
            .args(without("--snapshots"))
            .args([
                "--snapshots",
                "2025-06-01",
                "--snapshots-from",
                "2025-01-01",
            ])
            .output()
            .unwrap(),
        &["--snapshots-from", "leave out"],
    );
    fails(
        &base(&files.rules)
            .args(full)
            .args(["--snapshots-from", "2026-03-01"])
            .output()
            .unwrap(),
        &["--snapshots", "no monthly snapshot date from 2026-03-01"],
    );
    assert!(!wd.path("x.sql").exists());

    // Training: as-of is needed, a half-life cannot be learnt from counts, a lead without a
    // creation date is refused as the rows would refuse it (its row names the column).
    let sql = export(&wd, &files, "duckdb", ["leads", "events"], &[]);
    let counts = wd.path("counts.parquet");
    duckdb(&wd, &files, &sql, &counts, Value::Null);
    let train = |counts: &Path, rules: &Path, extra: &[&str]| {
        wd.cmd()
            .args(["train", "--counts"])
            .arg(counts)
            .arg("--rules")
            .arg(rules)
            .args(["--window", WINDOW, "--date", "created_at"])
            .args(["--outcome-date", "opportunity_date", "--out", "m.json"])
            .args(extra)
            .output()
            .unwrap()
    };
    fails(
        &train(&counts, &files.rules, &[]),
        &["--as-of", "exported with"],
    );
    fails(
        &train(&counts, &learn, &["--as-of", "2026-02-28"]),
        &["rule 'Pricing, decayed units'", "decay = \"learn\""],
    );
    let mut leads = std::fs::read_to_string(&files.leads).unwrap();
    leads.push_str("B-undated,,,,10\n");
    let undated = Files {
        leads: wd.write("undated.csv", &leads),
        events: files.events.clone(),
        rules: files.rules.clone(),
    };
    let counts = wd.path("undated.parquet");
    duckdb(&wd, &undated, &sql, &counts, Value::Null);
    fails(
        &train(&counts, &files.rules, &["--as-of", "2026-02-28"]),
        &[
            "undated.parquet",
            "column 'created_day'",
            "1 leads have no creation date",
        ],
    );
    // Counts of leads (not snapshots) hold no events.
    let plain = wd.write(
        "plain.csv",
        "rule_1,rule_2,rule_3,rule_4,rule_5,rule_6,leads,conversions\n0,0,0,0,0,0,5,1\n",
    );
    fails(
        &train(&plain, &files.rules, &[]),
        &["rule 'Pricing, some'", "--events-table"],
    );
    assert!(!wd.path("m.json").exists());
}
