//! Export parity: the SQL and PMML exports score leads exactly as `mqlcal score` does: the
//! same integer score and MQL flag for every lead, the probability within 1e-9. Proven in real
//! engines:
//!
//! - SQLite, embedded (rusqlite's bundled library, with math functions as the sqlite3 shell);
//! - PostgreSQL, a real server named by `MQLCAL_PG_URL`, through `psql`;
//! - DuckDB and JPMML-Evaluator, Python packages in the Python named by `MQLCAL_PYTHON`
//!   (default `.venv-engines/bin/python`), driven by `tests/engines/engines.py`;
//! - Spark SQL, a local Spark session (pyspark, in the same Python) that every Spark test of
//!   the process shares (`engines.py serve`, see `engines.rs`); each query runs with ANSI mode
//!   off (Spark 3's default) and on (Spark 4's);
//! - BigQuery and Snowflake: no engine runs here. Their output is parsed by sqlglot in that
//!   dialect (syntax only: names, quoting, escapes, one statement), and sqlglot's translation
//!   of it into DuckDB is run and must give the same scores (as faithful as sqlglot's reading).
//!
//! `bash scripts/test.sh` installs and starts the engines (scripts/engines.sh). An engine that
//! is not there fails its test with the reason; nothing is skipped.
//!
//! The cases: the example model on the example leads (in tables of text, as a CSV load gives,
//! and of numbers); an isotonic and a beta-calibrated model trained here; edge cases (missing values, placeholders,
//! unseen and differently cased categories, values exactly at a boundary, above caps, negative,
//! fractional, white space around values); a model with rule groups and a grade matrix that
//! makes MQLs by grade, on leads exactly on each band's cut point and with missing values
//! (the sub-scores and grade must equal `mqlcal score`'s too); and a model whose names and
//! values are hostile (`O'Reilly`, a column named `select`, rule groups named with quotes and
//! comment marks, unicode, quotes, backslashes, comment and statement injection).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqlcal::calibrate::Calibration;
use mqlcal::export::sql::TableName;
use mqlcal::export::{Dialect, Exporter, Pmml, Sql};
use mqlcal::grades::{GradeAxis, Grades};
use mqlcal::model::{Model, ModelRule};
use mqlcal::points::Points;
use mqlcal::rules::{Condition, Part};
use mqlcal::threshold::Policy;
use polars::prelude::*;

use crate::engines::python;
use crate::{repo, stderr, Workdir};

/// Probabilities may differ by this much (EXP and division round differently by engine).
const TOLERANCE: f64 = 1e-9;

// ---------------------------------------------------------------------------------------------
// The cases

/// Leads as text, exactly as in the CSV file ("" for an empty cell).
#[derive(Debug, Clone)]
pub(crate) struct Leads {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Leads {
    pub(crate) fn read(path: &Path) -> Leads {
        let mut r = csv::Reader::from_path(path).unwrap();
        let columns = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
            .collect();
        Leads { columns, rows }
    }

    fn write(&self, path: &Path) {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(&self.columns).unwrap();
        for row in &self.rows {
            w.write_record(row).unwrap();
        }
        w.flush().unwrap();
    }

    fn column(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c == name).unwrap()
    }

    /// An empty cell reaches the engines as NULL on even rows and as '' on odd rows: a
    /// warehouse may hold either, and both must be missing.
    fn cell(&self, row: usize, col: usize) -> Option<&str> {
        let v = self.rows[row][col].as_str();
        if v.is_empty() && row.is_multiple_of(2) {
            None
        } else {
            Some(v)
        }
    }

    /// Per column: `Some(true)` all whole numbers, `Some(false)` all numbers, `None` text.
    fn kinds(&self) -> Vec<Option<bool>> {
        (0..self.columns.len())
            .map(|j| {
                let cells: Vec<&str> = self
                    .rows
                    .iter()
                    .map(|r| r[j].as_str())
                    .filter(|s| !s.is_empty())
                    .collect();
                if cells.iter().all(|s| s.parse::<i64>().is_ok()) {
                    Some(true)
                } else if cells.iter().all(|s| s.parse::<f64>().is_ok()) {
                    Some(false)
                } else {
                    None
                }
            })
            .collect()
    }
}

/// What `mqlcal score` says about one lead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expected {
    pub(crate) score: i64,
    pub(crate) probability: f64,
    pub(crate) mql: bool,
    pub(crate) reasons: String,
    /// The `<group>_score` columns, in the model's group order.
    pub(crate) subs: Vec<i64>,
    /// The `grade` column, when the model grades.
    pub(crate) grade: Option<String>,
}

pub(crate) struct Case {
    name: &'static str,
    model_path: PathBuf,
    pub(crate) model: Model,
    leads: Leads,
    /// Also load the leads into tables with number columns (only for clean data).
    typed: bool,
    /// By lead id, from `mqlcal score`.
    pub(crate) expected: BTreeMap<String, Expected>,
    /// `mqlcal score --as-of` and `export --as-of`, for a model with date rules.
    as_of: Option<chrono::NaiveDate>,
}

impl Case {
    fn id_column(&self) -> &str {
        self.model
            .id_column
            .as_deref()
            .expect("test models have ids")
    }

    fn ids(&self) -> Vec<String> {
        let j = self.leads.column(self.id_column());
        self.leads.rows.iter().map(|r| r[j].clone()).collect()
    }
}

/// Builds a case: writes the model and the leads into `wd` and scores them with the binary.
pub(crate) fn case(
    wd: &Workdir,
    name: &'static str,
    model: Model,
    leads: Leads,
    typed: bool,
) -> Case {
    case_as_of(wd, name, model, leads, typed, None)
}

/// [`case`] scored (and exported) as of a date, for date rules.
fn case_as_of(
    wd: &Workdir,
    name: &'static str,
    mut model: Model,
    leads: Leads,
    typed: bool,
    as_of: Option<chrono::NaiveDate>,
) -> Case {
    // A model file holds one training histogram per rule (checked on load); the hand-made
    // models here add and replace rules without training, so any valid histogram does.
    model.profile.rules.resize(
        model.rules.len(),
        mqlcal::profile::Histogram {
            lower: vec![0.0, 1.0],
            shares: vec![0.9, 0.1],
        },
    );
    let model_path = wd.path(&format!("{name}.json"));
    model.save(&model_path, true).unwrap();
    // CSV, as leads usually come; Parquet (all text columns, so the same reading) when a column
    // name holds a double quote, which polars 0.52 keeps doubled when it reads a CSV header.
    let data = if leads.columns.iter().any(|c| c.contains('"')) {
        let data = wd.path(&format!("{name}.parquet"));
        let columns: Vec<Column> = leads
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let cells: Vec<&str> = leads.rows.iter().map(|r| r[j].as_str()).collect();
                Column::new(c.as_str().into(), cells)
            })
            .collect();
        let mut df = DataFrame::new(columns).unwrap();
        mqlcal::data::write_frame(&mut df, &data, true).unwrap();
        data
    } else {
        let data = wd.path(&format!("{name}.csv"));
        leads.write(&data);
        data
    };
    let scored = wd.path(&format!("{name}-scored.parquet"));
    let mut cmd = wd.cmd();
    cmd.args(["score", "--reasons", "20", "--model"])
        .arg(&model_path)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&scored);
    if let Some(d) = as_of {
        cmd.arg("--as-of").arg(d.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "mqlcal score: {}", stderr(&out));
    let df = ParquetReader::new(std::fs::File::open(&scored).unwrap())
        .finish()
        .unwrap();
    let id = model.id_column.clone().unwrap();
    let ids = df.column(&id).unwrap().str().unwrap().clone();
    let score = df.column("score").unwrap().i64().unwrap().clone();
    let p = df.column("probability").unwrap().f64().unwrap().clone();
    let mql = df.column("mql").unwrap().bool().unwrap().clone();
    let reasons = df.column("reasons").unwrap().str().unwrap().clone();
    let subs: Vec<Int64Chunked> = model
        .group_names()
        .iter()
        .map(|g| {
            df.column(&format!("{g}_score"))
                .unwrap()
                .i64()
                .unwrap()
                .clone()
        })
        .collect();
    let grade = model
        .grades
        .as_ref()
        .map(|_| df.column("grade").unwrap().str().unwrap().clone());
    let mut expected = BTreeMap::new();
    for i in 0..df.height() {
        let e = Expected {
            score: score.get(i).unwrap(),
            probability: p.get(i).unwrap(),
            mql: mql.get(i).unwrap(),
            reasons: reasons.get(i).unwrap_or("").to_string(),
            subs: subs.iter().map(|s| s.get(i).unwrap()).collect(),
            grade: grade.as_ref().map(|g| g.get(i).unwrap().to_string()),
        };
        let key = ids.get(i).expect("ids are never empty here").to_string();
        assert!(expected.insert(key, e).is_none(), "ids are unique");
    }
    let c = Case {
        name,
        model_path,
        model,
        leads,
        typed,
        expected,
        as_of,
    };
    // A case that cannot tell right from wrong is no test.
    let scores: std::collections::BTreeSet<i64> = c.expected.values().map(|e| e.score).collect();
    assert!(scores.len() >= 5, "{name}: too few distinct scores");
    assert!(c.expected.values().any(|e| e.mql) && c.expected.values().any(|e| !e.mql));
    c
}

fn example_model() -> Model {
    Model::load(&repo().join("models/lead-model.json")).unwrap()
}

/// Hand-built rules have no training leads: one single-bin drift profile per rule keeps the model
/// file valid (the loader checks one profile entry per rule).
fn profile_per_rule(model: &mut Model) {
    model.profile.rules = model
        .rules
        .iter()
        .map(|_| mqlcal::profile::Histogram {
            lower: vec![0.0],
            shares: vec![1.0],
        })
        .collect();
}

fn rule(name: &str, column: &str, condition: Condition, points: i64) -> ModelRule {
    ModelRule {
        group: None,
        event: None,
        name: name.into(),
        column: column.into(),
        condition,
        points: Points(points),
        weight: points as f64 / 28.85,
        support: 0.1,
        conversion_rate: 0.1,
    }
}

/// The committed example model on the example leads.
fn example(wd: &Workdir) -> Case {
    let leads = Leads::read(&repo().join("data/new_leads.csv"));
    case(wd, "example", example_model(), leads, true)
}

/// A model with isotonic or beta calibration, trained here on the example data.
fn calibrated(wd: &Workdir, method: &'static str) -> Case {
    let file = format!("trained-{method}.json");
    let out = wd
        .cmd()
        .args(["train", "--data"])
        .arg(repo().join("data/leads.csv"))
        .arg("--rules")
        .arg(repo().join("data/rules.toml"))
        .args(["--calibration", method, "--out", &file])
        .output()
        .unwrap();
    assert!(out.status.success(), "train: {}", stderr(&out));
    let model = Model::load(&wd.path(&file)).unwrap();
    assert_eq!(
        model.calibration.method(),
        match method {
            "isotonic" => mqlcal::calibrate::Method::Isotonic,
            _ => mqlcal::calibrate::Method::Beta,
        }
    );
    let leads = Leads::read(&repo().join("data/new_leads.csv"));
    case(wd, method, model, leads, true)
}

fn isotonic(wd: &Workdir) -> Case {
    calibrated(wd, "isotonic")
}

fn beta(wd: &Workdir) -> Case {
    calibrated(wd, "beta")
}

/// The example model with more kinds of rule and placeholders, on leads at every boundary.
fn edge(wd: &Workdir) -> Case {
    let mut model = example_model();
    model.training.na = vec!["Select".into(), " n/a ".into()];
    model.rules.extend([
        rule(
            "Opens, each (no cap)",
            "email_opens",
            Condition::PerUnit { cap: None },
            1,
        ),
        rule(
            "Company 100 to 499",
            "company_size",
            Condition::Range {
                at_least: Some(100.0),
                below: Some(500.0),
            },
            3,
        ),
        rule(
            "Engagement 0.1 to 0.3",
            "engagement",
            Condition::Range {
                at_least: Some(0.1),
                below: Some(0.3),
            },
            4,
        ),
        rule("Industry not given", "industry", Condition::IsMissing, -5),
    ]);
    profile_per_rule(&mut model);
    let leads = edge_leads();
    let c = case(wd, "edge", model, leads, false);
    // The data does test what it claims (reasons from `mqlcal score`).
    let has = |id: &str, rule: &str| c.expected[id].reasons.contains(rule);
    assert!(has("E02", "Company 100+ employees") && has("E02", "Company 100 to 499"));
    assert!(!has("E03", "Company 100+") && !has("E03", "C-level") && !has("E03", "Budget"));
    assert!(has("E04", "C-level or VP") && !has("E04", "Company 100 to 499"));
    assert!(has("E06", "No company size given") && has("E06", "Industry not given"));
    assert!(has("E07", "Software or finance") && has("E07", "Engagement 0.1 to 0.3"));
    assert!(!has("E04", "Engagement") && has("E02", "Engagement"));
    assert!(c.expected["E04"]
        .reasons
        .contains("Opens, each (no cap) (+1000)"));
    assert!(c.expected["E04"]
        .reasons
        .contains("Pricing page visit (each, up to 5) (+50)"));
    c
}

/// Leads at every boundary of the example rules: missing values, placeholders, other cases,
/// white space, values just below and at each bound.
fn edge_leads() -> Leads {
    let columns = [
        "lead_id",
        "pricing_page_visits",
        "whitepaper_downloads",
        "webinar_attended",
        "email_opens",
        "company_size",
        "industry",
        "job_level",
        "days_since_last_activity",
        "budget_confirmed",
        "engagement",
    ];
    // Columns as above: visits (per unit, cap 5), downloads (cap 3), webinar (>= 1), opens
    // (>= 10, and per unit without cap), size (>= 100, [100, 500), missing), industry,
    // job level, days (< 7, >= 60), budget, engagement ([0.1, 0.3)).
    let rows: &[[&str; 11]] = &[
        ["E01", "", "", "", "", "", "", "", "", "", ""],
        [
            "E02", "5", "3", "1", "10", "100", "Software", "VP", "6.999", "yes", "0.1",
        ],
        [
            "E03", "6", "4", "0.99", "9.999", "99.999", "software", "vp", "7", "YES", "0.3",
        ],
        [
            "E04",
            "100",
            "2.999",
            "1.0",
            "1000",
            "500",
            "Finance",
            " VP ",
            "60",
            "no",
            "0.29999999999999999",
        ],
        [
            "E05",
            "3.7",
            "0.5",
            "0",
            "9.5",
            "499.9999",
            "n/a",
            "Astronaut",
            "59.99",
            "",
            "0.09999999999999999",
        ],
        [
            "E06", "-2", "-1", "", "", "Select", " n/a ", "Select", "", "Select", "n/a",
        ],
        [
            "E07",
            " 4 ",
            "\u{a0}2\t",
            "1e0",
            "1e1",
            "1e2",
            "\u{3000}Software\u{2003}",
            "C-Level",
            "-5",
            "yes ",
            " 0.2 ",
        ],
        [
            "E08", "+3", "3.", "1", "0", "250", "Retail", "Director", "0", "yes", "0.15",
        ],
        [
            "E09", ".5", "2", "1", "12", "1000000", "Finance", "C-Level", "3", "yes", "",
        ],
        [
            "E10", "Select", "n/a", "Select", "n/a", "", "", "", "", "", "",
        ],
        [
            "E11", "5", "3", "1", "50", "300", "Software", "VP", "1", "yes", "0.25",
        ],
        [
            "E12", "0", "0", "0", "0", "0", "Retail", "Manager", "100", "no", "0",
        ],
        [
            "E13", "2", "1", "1", "11", "120", "Finance", "Director", "2", "yes", "0.2",
        ],
    ];
    let leads = Leads {
        columns: columns.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect(),
    };
    leads
}

/// Compound rules on the edge leads: AND and OR, a part on a missing value, `ignore_case`
/// (A–Z only: `ÉNERGIE` is not `énergie`), parts at their boundaries.
fn compound(wd: &Workdir) -> Case {
    let mut model = example_model();
    model.training.na = vec!["Select".into(), " n/a ".into()];
    let part = |column: &str, condition: Condition| Part {
        column: column.into(),
        condition,
    };
    let at_least = |x: f64| Condition::Range {
        at_least: Some(x),
        below: None,
    };
    let one_of = |values: &[&str], ignore_case: bool| Condition::OneOf {
        values: values.iter().map(|v| v.to_string()).collect(),
        ignore_case,
    };
    model.rules.extend([
        rule(
            "Enterprise and engaged",
            "",
            Condition::All {
                parts: vec![
                    part("company_size", at_least(100.0)),
                    part("whitepaper_downloads", at_least(2.0)),
                ],
            },
            12,
        ),
        rule(
            "VP or budget, any case",
            "",
            Condition::Any {
                parts: vec![
                    part("job_level", one_of(&["vp", "c-level"], true)),
                    part("budget_confirmed", one_of(&["yes"], false)),
                ],
            },
            7,
        ),
        rule(
            "No size but software",
            "",
            Condition::All {
                parts: vec![
                    part("company_size", Condition::IsMissing),
                    part("industry", one_of(&["software"], true)),
                ],
            },
            -4,
        ),
        rule(
            "Three parts, any",
            "",
            Condition::Any {
                parts: vec![
                    part(
                        "days_since_last_activity",
                        Condition::Range {
                            at_least: Some(7.0),
                            below: Some(60.0),
                        },
                    ),
                    part("engagement", Condition::IsMissing),
                    part("industry", one_of(&["énergie"], true)),
                ],
            },
            3,
        ),
        rule(
            "Finance, any case",
            "industry",
            one_of(&["FINANCE"], true),
            2,
        ),
    ]);
    profile_per_rule(&mut model);
    let mut leads = edge_leads();
    let row = |id: &str, industry: &str, days: &str, engagement: &str| {
        let mut r = vec![String::new(); leads.columns.len()];
        r[0] = id.into();
        r[leads.column("industry")] = industry.into();
        r[leads.column("days_since_last_activity")] = days.into();
        r[leads.column("engagement")] = engagement.into();
        r[leads.column("company_size")] = "50".into();
        r
    };
    let extra = [
        row("X01", "ÉNERGIE", "0", "0.5"),
        row("X02", "éNERGIE", "0", "0.5"),
        row("X03", "Énergie", "6.99", "0.2"),
        row("X04", "FINANCE", "60", "0.2"),
        // Placeholders in any case of A–Z are missing (`--na-ignore-case`).
        row("X05", "Retail", "0", "SELECT"),
        row("X06", "Retail", "0", " N/A "),
        row("X07", "Retail", "0", "0.5"),
    ];
    let mut no_size = row("X08", "software", "0", "0.5");
    no_size[leads.column("company_size")] = "sElEcT".into();
    leads.rows.extend(extra);
    leads.rows.push(no_size);
    model.training.na_ignore_case = true;
    let c = case(wd, "compound", model, leads, false);
    assert!(has_reason(&c, "X05", "Three parts") && has_reason(&c, "X06", "Three parts"));
    assert!(!has_reason(&c, "X07", "Three parts"));
    assert!(has_reason(&c, "X08", "No size but software"));
    let has = |id: &str, rule: &str| has_reason(&c, id, rule);
    // AND: both parts at their bounds; one part missing or below fires nothing.
    assert!(has("E02", "Enterprise and engaged") && has("E09", "Enterprise and engaged"));
    assert!(!has("E05", "Enterprise and engaged") && !has("E01", "Enterprise and engaged"));
    // OR with `ignore_case`: `vp` and ` VP ` match, budget `YES` (exact) does not.
    assert!(has("E03", "VP or budget") && has("E04", "VP or budget") && !has("E12", "VP or"));
    // A missing size and `software` in any case.
    assert!(has("E01", "Three parts") && !has("E01", "No size but software"));
    // A–Z only: `ÉNERGIE` differs from `énergie` in a letter outside A–Z, `éNERGIE` does not.
    assert!(!has("X01", "Three parts") && has("X02", "Three parts"));
    assert!(has("X04", "Finance, any case") && has("E04", "Finance, any case"));
    c
}

/// Date rules (`within_days`, `older_than_days`, and one as a part of an AND) on the example
/// leads with dates at every boundary as of 2026-12-01: 0, 7 and 8 days, 60 and 61 days,
/// missing, after as-of, naive timestamps (taken as UTC; the SQL reads their first ten
/// characters) and a placeholder. Offsets are not in the SQL cases: the SQL reads the date as
/// written (see the README), `mqlcal` moves it to its UTC day; see [`dated_zoned`].
fn dated(wd: &Workdir) -> Case {
    let activity = [
        "2026-12-01",
        "2026-11-24",
        "2026-11-23",
        "2026-10-02",
        "2026-10-01",
        "",
        "2026-12-05",
        "2026-11-24 23:59:59",
        "2026-11-23T00:00:00",
        "Select",
        " 2026-09-01 ",
        "2026-12-02 00:00",
    ];
    let c = dated_case(wd, "dated", &activity);
    let ids = c.ids();
    let fired = |k: usize, rule: &str| has_reason(&c, &ids[k], rule);
    // Boundaries: 0 and 7 days are within 7, 8 is not; 61 days is older than 60, 60 is not; a
    // missing or future date fires neither.
    assert!(fired(0, "Active in the last week") && fired(1, "Active in the last week"));
    assert!(!fired(2, "Active in the last week") && !fired(2, "Quiet for two months"));
    assert!(!fired(3, "Quiet for two months") && fired(4, "Quiet for two months"));
    for k in [5, 6, 9, 11] {
        assert!(!fired(k, "Active in the last week") && !fired(k, "Quiet for two months"));
    }
    assert!(fired(7, "Active in the last week") && !fired(8, "Active in the last week"));
    c
}

/// [`dated`] with timestamps whose UTC day is not their written day, for the PMML (which
/// moves them to their UTC day as mqlcal does; the SQL does not): as of 2026-12-01, each at a
/// boundary once in UTC.
fn dated_zoned(wd: &Workdir) -> Case {
    let activity = [
        // 04:30 UTC on 2026-11-24: 7 days, within.
        "2026-11-23T23:30:00-05:00",
        // 22:15 UTC on 2026-11-23: 8 days, not within.
        "2026-11-24T01:15:00+03:00",
        // 01:00 UTC on 2026-12-02: after as-of, neither.
        "2026-12-01T20:00:00-05:00",
        // 23:30 UTC on 2026-12-01: 0 days, within.
        "2026-12-02T00:30+01",
        // Same day in UTC, with a fraction and ±HHMM: 7 days.
        "2026-11-24T12:00:00.5+0530",
        // Z is UTC: 61 days, older than 60.
        "2026-10-01T23:59:59Z",
        // 23:30 UTC on 2026-10-01: 61 days, older.
        "2026-10-02T02:00:00+02:30",
        // 00:00 UTC on 2026-10-02: 60 days, not older.
        "2026-10-01T22:00-02:00",
        // As mqlcal reads it: ±HH then two other characters is an offset of whole hours
        // (18:00 UTC, the same day).
        "2026-11-24T23:00:00+05ab",
        // Text after the offset: not an offset, the written day (8 days).
        "2026-11-23T23:30:00-05:00 (EST)",
        "",
        "Select",
        "2026-11-24 23:59:59",
    ];
    let c = dated_case(wd, "dated_zoned", &activity);
    let ids = c.ids();
    let fired = |k: usize, rule: &str| has_reason(&c, &ids[k], rule);
    assert!(fired(0, "Active in the last week") && !fired(1, "Active in the last week"));
    assert!(!fired(2, "Active in the last week") && fired(3, "Active in the last week"));
    assert!(fired(4, "Active in the last week") && fired(5, "Quiet for two months"));
    assert!(fired(6, "Quiet for two months") && !fired(7, "Quiet for two months"));
    assert!(fired(8, "Active in the last week") && !fired(9, "Active in the last week"));
    c
}

/// The example model with date rules, on the example leads with `activity` cells (in turn)
/// and signup dates, scored as of 2026-12-01.
fn dated_case(wd: &Workdir, name: &'static str, activity: &[&str]) -> Case {
    let mut model = example_model();
    model.training.na = vec!["Select".into()];
    model.rules.extend([
        rule(
            "Active in the last week",
            "last_activity",
            Condition::WithinDays { days: 7 },
            25,
        ),
        rule(
            "Quiet for two months",
            "last_activity",
            Condition::OlderThanDays { days: 60 },
            -30,
        ),
        rule(
            "Signed up over a year ago",
            "signup_date",
            Condition::OlderThanDays { days: 365 },
            10,
        ),
        rule(
            "Recent and big",
            "",
            Condition::All {
                parts: vec![
                    Part {
                        column: "signup_date".into(),
                        condition: Condition::WithinDays { days: 30 },
                    },
                    Part {
                        column: "company_size".into(),
                        condition: Condition::Range {
                            at_least: Some(50.0),
                            below: None,
                        },
                    },
                ],
            },
            15,
        ),
    ]);
    profile_per_rule(&mut model);
    let mut leads = Leads::read(&repo().join("data/new_leads.csv"));
    let signup = [
        "2025-12-01",
        "2025-11-30",
        "2026-11-01",
        "2026-11-02",
        "",
        "2027-01-01",
        "2024-02-29",
    ];
    leads.columns.push("last_activity".into());
    leads.columns.push("signup_date".into());
    for (i, row) in leads.rows.iter_mut().enumerate() {
        row.push(activity[i % activity.len()].into());
        row.push(signup[(i / 3) % signup.len()].into());
    }
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 12, 1);
    case_as_of(wd, name, model, leads, false, as_of)
}

/// The example model with its rules in two groups, as `grades.rs` groups the bundled rules
/// ("Budget confirmed" in none), and a grade matrix whose cut points are sub-scores these leads
/// have, so leads sit exactly on each cut point: the quartiles of the leads' sub-scores, but
/// the profile's last cut point is the highest negative sub-score (a literal below 0, with
/// leads below it), and the behaviour sub-score's last two cut points are equal (band 3 is
/// empty). MQLs by grade:B2. The leads: the edge leads (missing values,
/// placeholders, white space) and the first 300 example leads.
fn graded(wd: &Workdir) -> Case {
    let mut model = example_model();
    model.training.na = vec!["Select".into(), " n/a ".into()];
    for r in &mut model.rules {
        r.group = crate::grades::group_of(&r.name).map(str::to_string);
    }
    let mut leads = edge_leads();
    let example = Leads::read(&repo().join("data/new_leads.csv"));
    for row in example.rows.iter().take(300) {
        let cell = |c: &String| {
            let j = example.columns.iter().position(|x| x == c);
            j.map_or(String::new(), |j| row[j].clone())
        };
        let row = leads.columns.iter().map(cell).collect();
        leads.rows.push(row);
    }
    let names = model.group_names();
    assert_eq!(names, ["behaviour", "profile"]);
    let subs: Vec<Vec<i64>> = leads
        .rows
        .iter()
        .map(|row| {
            model
                .score_lead(|c| model.cell(Some(row[leads.column(c)].as_str())))
                .unwrap()
                .sub_scores
        })
        .collect();
    let quartiles = |g: usize| {
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        for s in &subs {
            *counts.entry(s[g]).or_default() += 1;
        }
        GradeAxis::quartiles(&names[g], &counts.into_iter().collect::<Vec<_>>())
    };
    let mut behaviour = quartiles(0);
    behaviour.at_least[2] = behaviour.at_least[1];
    let mut profile = quartiles(1);
    let negative = subs.iter().map(|s| s[1]).filter(|&v| v < 0).max().unwrap();
    assert!(subs.iter().any(|s| s[1] < negative) && negative < profile.at_least[1]);
    profile.at_least[2] = negative;
    model.grades = Some(Grades {
        method: Grades::METHOD.into(),
        profile: profile.clone(),
        behaviour: behaviour.clone(),
        cells: Grades::cells(&Default::default(), &Default::default()),
    });
    model.threshold.threshold.policy = Policy::Grade("B2".parse().unwrap());
    profile_per_rule(&mut model);
    let c = case(wd, "graded", model, leads, false);
    // Leads on every cut point; a cut point below 0 (written in parentheses in SQL).
    for (g, axis) in [(0, &behaviour), (1, &profile)] {
        for cut in &axis.at_least {
            assert!(
                c.expected.values().any(|e| e.subs[g] == *cut),
                "no lead on {} {cut}",
                names[g]
            );
        }
    }
    // The leads fall in many cells, none in digit 3, and MQLs by grade are not MQLs by score.
    let grades: std::collections::BTreeSet<&str> = c
        .expected
        .values()
        .filter_map(|e| e.grade.as_deref())
        .collect();
    assert!(grades.len() >= 8, "{grades:?}");
    assert!(!grades.iter().any(|g| g.ends_with('3')), "{grades:?}");
    let points = c.model.threshold.threshold.points;
    assert!(c.expected.values().any(|e| e.mql && e.score < points));
    assert!(c.expected.values().any(|e| !e.mql && e.score >= points));
    assert!(c.expected["E01"].grade.is_some() && !c.expected["E01"].mql);
    c
}

fn has_reason(c: &Case, id: &str, rule: &str) -> bool {
    c.expected[id].reasons.contains(rule)
}

/// Names and values that try to break out of quotes, comments and markup.
fn nasty(wd: &Workdir) -> Case {
    let mut model = example_model();
    model.id_column = Some("lead id".into());
    model.training.na = vec!["N/A".into(), "—".into()];
    model.rules = vec![
        rule(
            "Bob's \"best\" rule",
            "select",
            Condition::OneOf {
                values: vec![
                    "O'Reilly".into(),
                    "a\\b\\".into(),
                    "x'); DROP TABLE leads; --".into(),
                ],
                ignore_case: false,
            },
            30,
        ),
        rule(
            "Ünïcödé ✓ visits\n-- DROP TABLE leads;\r*/",
            "Straße \"quoted\" \\",
            Condition::PerUnit { cap: Some(3.0) },
            7,
        ),
        // Its comment line ends in a backslash, which in Spark SQL would carry the comment
        // over the next line (the next rule's term).
        rule(
            "Visits, each, no cap \\",
            "Straße \"quoted\" \\",
            Condition::PerUnit { cap: None },
            0,
        ),
        rule(
            "-- */ <tag attr=\"x\"> & ]]>",
            "from",
            Condition::Range {
                at_least: Some(2.5),
                below: None,
            },
            11,
        ),
        rule(
            "back\\slash ` and $$dollar$$ '' \\'",
            "größe",
            Condition::IsMissing,
            -9,
        ),
        rule(
            "=HYPERLINK(\"http://example.invalid\")",
            "order",
            Condition::OneOf {
                values: vec!["日本語".into(), "emoji 🚀".into(), "tab\there".into()],
                // Folding A–Z only, around characters a regular expression or SQL quoting
                // could trip on.
                ignore_case: true,
            },
            5,
        ),
        rule("Nothing", "select", Condition::IsMissing, 0),
    ];
    model.calibration = Calibration::Isotonic {
        knots: vec![
            (-9.0, 0.01),
            (0.0, 0.05),
            (7.0, 0.05),
            (30.0, 0.4),
            (60.0, 0.9),
        ],
    };
    model.threshold.threshold.points = 30;
    // Rule groups named to break out of quotes and comments: their `<group>_score` columns
    // are quoted like any name.
    let group = "it's \"q\" \\ -- */ `x`";
    for (j, g) in [(0, group), (1, group), (3, "select"), (5, "select")] {
        model.rules[j].group = Some(g.into());
    }
    profile_per_rule(&mut model);
    let columns = [
        "lead id",
        "select",
        "Straße \"quoted\" \\",
        "from",
        "größe",
        "order",
    ];
    let rows: &[[&str; 6]] = &[
        ["N01", "O'Reilly", "3", "2.5", "1", "日本語"],
        ["N02", " O'Reilly ", "5", "2.4999", "", "emoji 🚀"],
        ["N03", "o'reilly", "1", "", "—", "tab\there"],
        ["N04", "a\\b\\", "N/A", "100", "x", "tab there"],
        ["N05", "x'); DROP TABLE leads; --", "2", "3", "N/A", "日本"],
        ["N06", "", "", "", "", ""],
        ["N07", "—", "0", "-1", " — ", "emoji 🚀 "],
        ["N08", "O'Reilly", "9", "2.5", "", "日本語"],
        ["N09", "a\\b", "2.9", "2.6", "y", ""],
        ["N10", "N/A", "1", "0", "", "EMOJI 🚀"],
    ];
    let leads = Leads {
        columns: columns.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect(),
    };
    let c = case(wd, "nasty", model, leads, false);
    assert_eq!(c.expected["N01"].score, 30 + 21 + 11 + 5);
    assert_eq!(c.expected["N02"].score, 30 + 21 - 9 + 5);
    c
}

fn all_cases(wd: &Workdir) -> Vec<Case> {
    vec![
        example(wd),
        isotonic(wd),
        beta(wd),
        edge(wd),
        compound(wd),
        graded(wd),
        nasty(wd),
        dated(wd),
    ]
}

// ---------------------------------------------------------------------------------------------
// Checking an engine's answer

#[derive(Debug, Default)]
pub(crate) struct Got {
    pub(crate) id: String,
    pub(crate) score: i64,
    pub(crate) probability: f64,
    pub(crate) mql: bool,
    /// The `<group>_score` columns after `mql`, in their order.
    pub(crate) subs: Vec<i64>,
    /// The `grade` column, when there is one.
    pub(crate) grade: Option<String>,
}

impl Got {
    /// A lead from an engine's row as JSON: id, score, probability, mql, then the sub-scores
    /// (numbers) and the grade (text).
    fn from_json(r: &serde_json::Value) -> Got {
        let mut got = Got {
            id: r[0].as_str().unwrap().to_string(),
            score: r[1].as_i64().unwrap(),
            probability: r[2].as_f64().unwrap(),
            mql: r[3].as_bool().unwrap(),
            ..Got::default()
        };
        got.extra_json(&r.as_array().unwrap()[4..]);
        got
    }

    /// The sub-scores (whole numbers) and grade (text) among `values`.
    fn extra_json(&mut self, values: &[serde_json::Value]) {
        for v in values {
            match v {
                serde_json::Value::String(g) => self.grade = Some(g.clone()),
                v => {
                    let x = v.as_f64().unwrap_or_else(|| panic!("sub-score {v}"));
                    assert_eq!(x.fract(), 0.0, "a whole sub-score: {v}");
                    self.subs.push(x as i64);
                }
            }
        }
    }
}

/// Same leads, same integer scores and MQL flags, the same sub-scores and grades, probabilities
/// within [`TOLERANCE`]; returns the largest probability difference seen.
pub(crate) fn check(case: &Case, engine: &str, got: &[Got]) -> f64 {
    let what = format!("{engine}, case {}", case.name);
    assert_eq!(got.len(), case.expected.len(), "{what}: number of leads");
    let mut seen = std::collections::BTreeSet::new();
    let mut worst: f64 = 0.0;
    for g in got {
        assert!(seen.insert(&g.id), "{what}: lead {} twice", g.id);
        let want = case
            .expected
            .get(&g.id)
            .unwrap_or_else(|| panic!("{what}: lead {:?} is not in the data", g.id));
        assert_eq!(g.score, want.score, "{what}, lead {}: score", g.id);
        assert_eq!(g.mql, want.mql, "{what}, lead {}: mql", g.id);
        assert_eq!(g.subs, want.subs, "{what}, lead {}: sub-scores", g.id);
        assert_eq!(g.grade, want.grade, "{what}, lead {}: grade", g.id);
        let d = (g.probability - want.probability).abs();
        assert!(
            d <= TOLERANCE,
            "{what}, lead {}: probability {} vs mqlcal score {}",
            g.id,
            g.probability,
            want.probability
        );
        worst = worst.max(d);
    }
    let extra = match (case.model.group_names().is_empty(), &case.model.grades) {
        (true, _) => "",
        (false, None) => ", sub-scores",
        (false, Some(_)) => ", sub-scores, grades",
    };
    eprintln!(
        "parity {what}: {} leads, scores, MQL flags{extra} identical, max |Δp| = {worst:.1e}",
        got.len()
    );
    worst
}

pub(crate) fn sql(case: &Case, dialect: Dialect, table: &str, view: Option<&str>) -> String {
    Sql {
        dialect,
        table: table.parse::<TableName>().unwrap(),
        view: view.map(|v| v.parse().unwrap()),
        as_of: case.as_of,
        events: None,
    }
    .query(&case.model)
    .unwrap()
}

/// Column types for a table of text, or of numbers where the data allows.
fn types(case: &Case, typed: bool, names: [&'static str; 3]) -> Vec<&'static str> {
    let kinds = case.leads.kinds();
    case.leads
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| match kinds[j] {
            _ if !typed || c == case.id_column() => names[2],
            Some(true) => names[0],
            Some(false) => names[1],
            None => names[2],
        })
        .collect()
}

fn variants(case: &Case) -> Vec<bool> {
    if case.typed {
        vec![false, true]
    } else {
        vec![false]
    }
}

fn label(typed: bool) -> &'static str {
    if typed {
        "number columns"
    } else {
        "text columns"
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------
// SQLite

pub(crate) fn sqlite_table(case: &Case, typed: bool) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let types = types(case, typed, ["INTEGER", "REAL", "TEXT"]);
    let cols: Vec<String> = case
        .leads
        .columns
        .iter()
        .zip(&types)
        .map(|(c, t)| format!("{} {t}", quote(c)))
        .collect();
    db.execute(&format!("CREATE TABLE leads ({})", cols.join(", ")), [])
        .unwrap();
    let marks = vec!["?"; cols.len()].join(", ");
    let mut insert = db
        .prepare(&format!("INSERT INTO leads VALUES ({marks})"))
        .unwrap();
    for i in 0..case.leads.rows.len() {
        let values: Vec<rusqlite::types::Value> = (0..cols.len())
            .map(|j| match (case.leads.cell(i, j), types[j]) {
                (None, _) | (Some(""), "INTEGER" | "REAL") => rusqlite::types::Value::Null,
                (Some(""), _) => rusqlite::types::Value::Text(String::new()),
                (Some(s), "INTEGER") => rusqlite::types::Value::Integer(s.parse().unwrap()),
                (Some(s), "REAL") => rusqlite::types::Value::Real(s.parse().unwrap()),
                (Some(s), _) => rusqlite::types::Value::Text(s.to_string()),
            })
            .collect();
        insert.execute(rusqlite::params_from_iter(values)).unwrap();
    }
    drop(insert);
    db
}

pub(crate) fn sqlite_rows(db: &rusqlite::Connection, query: &str) -> Vec<Got> {
    let mut stmt = db
        .prepare(query)
        .unwrap_or_else(|e| panic!("SQLite rejects the export: {e}\n{query}"));
    // After id, score, probability and mql: the sub-scores, then the grade.
    let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let rows = stmt
        .query_map([], |r| {
            let mut got = Got {
                id: r.get(0)?,
                score: r.get(1)?,
                probability: r.get(2)?,
                mql: r.get::<_, i64>(3)? == 1,
                ..Got::default()
            };
            for (k, name) in names.iter().enumerate().skip(4) {
                match name.as_str() {
                    "grade" => got.grade = Some(r.get(k)?),
                    _ => got.subs.push(r.get(k)?),
                }
            }
            Ok(got)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

#[test]
fn sqlite_scores_like_mqlcal_score() {
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        for typed in variants(&case) {
            let db = sqlite_table(&case, typed);
            let got = sqlite_rows(&db, &sql(&case, Dialect::Sqlite, "leads", None));
            check(&case, &format!("SQLite, {}", label(typed)), &got);
        }
        // The view gives the same rows.
        let db = sqlite_table(&case, false);
        db.execute_batch(&sql(&case, Dialect::Sqlite, "leads", Some("lead scores")))
            .unwrap();
        let got = sqlite_rows(&db, "SELECT * FROM `lead scores`");
        check(&case, "SQLite view", &got);
    }
}

#[test]
fn a_model_without_an_id_column_gives_score_probability_and_mql() {
    let wd = Workdir::new();
    let mut case = example(&wd);
    case.model.id_column = None;
    let db = sqlite_table(&case, false);
    let query = sql(&case, Dialect::Sqlite, "leads", None);
    let mut stmt = db.prepare(&query).unwrap();
    let names: Vec<&str> = stmt.column_names();
    assert_eq!(names, ["score", "probability", "mql"]);
    // Without ids the rows are compared as a multiset of (score, mql).
    let mut got: Vec<(i64, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(2)? == 1)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut want: Vec<(i64, bool)> = case.expected.values().map(|e| (e.score, e.mql)).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn sqlite_names_a_missing_column_instead_of_reading_its_name() {
    // With double quotes, SQLite would read an unknown column's name as a text literal and
    // score every lead as if it held that text.
    let wd = Workdir::new();
    let case = example(&wd);
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute("CREATE TABLE leads (lead_id TEXT)", []).unwrap();
    let err = db
        .prepare(&sql(&case, Dialect::Sqlite, "leads", None))
        .expect_err("a missing column is an error");
    assert!(err.to_string().contains("no such column"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

pub(crate) fn pg_url() -> String {
    std::env::var("MQLCAL_PG_URL").unwrap_or_else(|_| {
        panic!(
            "MQLCAL_PG_URL is not set, so there is no PostgreSQL server to test the export in. \
             Run the tests with `bash scripts/test.sh`, which starts one (scripts/engines.sh), \
             or point MQLCAL_PG_URL at a database this test may create schemas in"
        )
    })
}

/// Runs a psql script; returns stdout (CSV) or panics with psql's message.
pub(crate) fn psql(url: &str, script: &Path, what: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-f"])
        .arg(script)
        .env("PGCLIENTENCODING", "UTF8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql ({e}); scripts/engines.sh installs it"));
    assert!(
        out.status.success(),
        "PostgreSQL, {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// A schema of its own for one table; dropped when done, also when the test fails.
pub(crate) struct PgSchema {
    pub(crate) url: String,
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let script = self.dir.join(format!("{}-drop.sql", self.name));
        std::fs::write(
            &script,
            format!("DROP SCHEMA IF EXISTS {} CASCADE;\n", quote(&self.name)),
        )
        .unwrap();
        let _ = Command::new("psql")
            .arg(&self.url)
            .args(["-X", "-q", "-f"])
            .arg(&script)
            .output();
    }
}

fn pg_table(wd: &Workdir, url: &str, case: &Case, typed: bool) -> PgSchema {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let schema = PgSchema {
        url: url.to_string(),
        name: format!("mqlcal_test_{}_{n}", std::process::id()),
        dir: wd.dir.path().to_path_buf(),
    };
    let types = types(case, typed, ["BIGINT", "DOUBLE PRECISION", "TEXT"]);
    let cols: Vec<String> = case
        .leads
        .columns
        .iter()
        .zip(&types)
        .map(|(c, t)| format!("{} {t}", quote(c)))
        .collect();
    // COPY's CSV: an unquoted empty field is NULL, a quoted one is ''.
    let data = wd.path(&format!("{}.csv", schema.name));
    let mut text = String::new();
    for i in 0..case.leads.rows.len() {
        let cells: Vec<String> = (0..cols.len())
            .map(|j| match case.leads.cell(i, j) {
                None => String::new(),
                // A number column holds no empty text: NULL.
                Some("") if types[j] != "TEXT" => String::new(),
                Some(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(&data, text).unwrap();
    let script = wd.path(&format!("{}-load.sql", schema.name));
    std::fs::write(
        &script,
        format!(
            "CREATE SCHEMA {s};\nCREATE TABLE {s}.leads ({});\n\\copy {s}.leads FROM '{}' WITH (FORMAT csv)\n",
            cols.join(", "),
            data.display(),
            s = quote(&schema.name),
        ),
    )
    .unwrap();
    psql(url, &script, "loading the leads");
    schema
}

fn pg_rows(csv_text: &str) -> Vec<Got> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let names: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let mut got = Got {
                id: rec[0].to_string(),
                score: rec[1].parse().unwrap(),
                probability: rec[2].parse().unwrap(),
                mql: match &rec[3] {
                    "t" => true,
                    "f" => false,
                    other => panic!("mql {other:?}"),
                },
                ..Got::default()
            };
            // After id, score, probability and mql: the sub-scores, then the grade.
            for (k, name) in names.iter().enumerate().skip(4) {
                match name.as_str() {
                    "grade" => got.grade = Some(rec[k].to_string()),
                    _ => got.subs.push(rec[k].parse().unwrap()),
                }
            }
            got
        })
        .collect()
}

#[test]
fn postgres_scores_like_mqlcal_score() {
    let url = pg_url();
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        for typed in variants(&case) {
            let schema = pg_table(&wd, &url, &case, typed);
            // The table is named with its schema, as warehouses usually are.
            let table = format!("{}.leads", schema.name);
            let script = wd.path(&format!("{}-score.sql", schema.name));
            std::fs::write(&script, sql(&case, Dialect::Postgres, &table, None)).unwrap();
            let what = format!("PostgreSQL, {}", label(typed));
            let got = pg_rows(&psql(&url, &script, &format!("case {}", case.name)));
            check(&case, &what, &got);
            if !typed {
                let view = format!("{}.lead scores", schema.name);
                let script = wd.path(&format!("{}-view.sql", schema.name));
                std::fs::write(
                    &script,
                    format!(
                        "{}SELECT * FROM {}.\"lead scores\";\n",
                        sql(&case, Dialect::Postgres, &table, Some(&view)),
                        quote(&schema.name)
                    ),
                )
                .unwrap();
                let got = pg_rows(&psql(&url, &script, "the view"));
                check(&case, "PostgreSQL view", &got);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Python engines: DuckDB, JPMML, sqlglot

pub(crate) fn run_python(
    wd: &Workdir,
    engine: &str,
    request: &serde_json::Value,
) -> serde_json::Value {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let path = wd.path(&format!("{engine}-{n}.json"));
    std::fs::write(&path, serde_json::to_vec(request).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo().join("tests/engines/engines.py"))
        .arg(engine)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The leads as JSON rows: text, or numbers in typed columns.
fn json_rows(case: &Case, types: &[&str], number_types: [&str; 2]) -> Vec<serde_json::Value> {
    (0..case.leads.rows.len())
        .map(|i| {
            (0..types.len())
                .map(|j| match case.leads.cell(i, j) {
                    None => serde_json::Value::Null,
                    Some("") if number_types.contains(&types[j]) => serde_json::Value::Null,
                    Some("") => "".into(),
                    Some(s) if types[j] == number_types[0] => s.parse::<i64>().unwrap().into(),
                    Some(s) if types[j] == number_types[1] => s.parse::<f64>().unwrap().into(),
                    Some(s) => s.into(),
                })
                .collect()
        })
        .collect()
}

pub(crate) fn duckdb(
    wd: &Workdir,
    case: &Case,
    typed: bool,
    query: &str,
    view: Option<&str>,
) -> Vec<Got> {
    let types = types(case, typed, ["BIGINT", "DOUBLE", "VARCHAR"]);
    let answer = run_python(
        wd,
        "duckdb",
        &serde_json::json!({
            "columns": case.leads.columns,
            "types": types,
            "rows": json_rows(case, &types, ["BIGINT", "DOUBLE"]),
            "sql": query,
            "view": view,
        }),
    );
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(Got::from_json)
        .collect()
}

#[test]
fn duckdb_scores_like_mqlcal_score() {
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        for typed in variants(&case) {
            let query = sql(&case, Dialect::Duckdb, "leads", None);
            let got = duckdb(&wd, &case, typed, &query, None);
            check(&case, &format!("DuckDB, {}", label(typed)), &got);
        }
        let query = sql(&case, Dialect::Duckdb, "leads", Some("lead scores"));
        let got = duckdb(&wd, &case, false, &query, Some("lead scores"));
        check(&case, "DuckDB view", &got);
    }
}

#[test]
fn pmml_scores_like_mqlcal_score_in_jpmml() {
    let wd = Workdir::new();
    // Date rules: the PMML also moves timestamps with offsets to their UTC day.
    let mut cases = all_cases(&wd);
    cases.push(dated_zoned(&wd));
    let mut jobs: Vec<serde_json::Value> = cases.iter().map(|c| pmml_job(&wd, c)).collect();
    // Without an as-of date, or with one that is not a date, a model with date rules gives
    // no score: an error naming the field.
    let dated = wd.path("dated.pmml");
    jobs.push(
        serde_json::json!({"pmml": dated, "columns": ["as_of", "last_activity"],
        "rows": [[null, "2026-11-24"], ["12/01/2026", "2026-11-24"]]}),
    );
    // A date cell that is not a date is an error, as in `mqlcal score`.
    jobs.push(
        serde_json::json!({"pmml": dated, "columns": ["as_of", "last_activity"],
        "rows": [["2026-12-01", "2026-13-01"], ["2026-12-01", "last week"],
                 ["2026-12-01", "2026-11-24x"]]}),
    );
    let answer = run_python(&wd, "pmml", &serde_json::json!({ "jobs": jobs }));
    let answers = answer.as_array().unwrap();
    for r in answers[cases.len()].as_array().unwrap() {
        let e = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {r}"));
        assert!(e.contains("\"as_of\""), "{e}");
    }
    for (r, cell) in answers[cases.len() + 1].as_array().unwrap().iter().zip([
        "2026-13-01",
        "last week",
        "2026-11-24x",
    ]) {
        let e = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {r}"));
        assert!(e.contains(cell), "{e}");
    }
    for (case, results) in cases.iter().zip(answers) {
        check(case, "PMML in JPMML-Evaluator", &pmml_got(case, results));
    }
}

/// A job for `engines.py pmml`: the case's model exported, and its leads. Only the rule
/// columns are fed, as text (the PMML declares them as strings), and the as-of date of date
/// rules, as `mqlcal score --as-of`; the sub-score and grade outputs are asked for by name.
pub(crate) fn pmml_job(wd: &Workdir, case: &Case) -> serde_json::Value {
    let path = wd.path(&format!("{}.pmml", case.name));
    std::fs::write(&path, Pmml.export(&case.model).unwrap()).unwrap();
    let mut columns = mqlcal_columns(&case.model);
    assert_eq!(
        case.model.needs_as_of(),
        case.as_of.is_some(),
        "{}",
        case.name
    );
    if case.as_of.is_some() {
        columns.push(mqlcal::export::pmml::AS_OF.into());
    }
    let rows: Vec<Vec<serde_json::Value>> = (0..case.leads.rows.len())
        .map(|i| {
            columns
                .iter()
                .map(|c| match (c.as_str(), case.as_of) {
                    (mqlcal::export::pmml::AS_OF, Some(d)) => d.to_string().into(),
                    _ => match case.leads.cell(i, case.leads.column(c)) {
                        None => serde_json::Value::Null,
                        Some(s) => s.into(),
                    },
                })
                .collect()
        })
        .collect();
    serde_json::json!({
        "pmml": path,
        "columns": columns,
        "rows": rows,
        "outputs": case.model.sub_score_columns(),
    })
}

/// The leads of a [`pmml_job`]'s answer (score, probability, mql, three reasons, then the
/// asked-for outputs), each lead's reasons checked against mqlcal's.
pub(crate) fn pmml_got(case: &Case, results: &serde_json::Value) -> Vec<Got> {
    let mut got = Vec::new();
    for (id, r) in case.ids().iter().zip(results.as_array().unwrap()) {
        assert!(
            r.get("error").is_none(),
            "JPMML, case {}, lead {id}: {}",
            case.name,
            r["error"]
        );
        let score = r[0].as_f64().unwrap();
        assert_eq!(score.fract(), 0.0, "a whole score");
        let mut g = Got {
            id: id.clone(),
            score: score as i64,
            probability: r[1].as_f64().unwrap(),
            mql: r[2].as_bool().unwrap(),
            ..Got::default()
        };
        g.extra_json(&r.as_array().unwrap()[6..]);
        got.push(g);
        check_reasons(case, id, r);
    }
    assert_eq!(got.len(), case.expected.len(), "JPMML, case {}", case.name);
    got
}

fn mqlcal_columns(model: &Model) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for c in model.rules.iter().flat_map(|r| r.rule_columns()) {
        if !columns.iter().any(|x| x == c) {
            columns.push(c.to_string());
        }
    }
    columns
}

/// PMML's reason codes are mqlcal's reasons that gave points (PMML drops those that took points
/// away), largest first; rules that gave equal points may come in either order.
fn check_reasons(case: &Case, id: &str, r: &serde_json::Value) {
    let row = case.ids().iter().position(|x| x == id).unwrap();
    let scored = case
        .model
        .score_lead_as_of(
            |c| {
                case.model
                    .cell(Some(case.leads.rows[row][case.leads.column(c)].as_str()))
            },
            case.as_of.unwrap_or_else(mqlcal::rules::today_utc),
        )
        .unwrap();
    let want: Vec<(String, i64)> = scored
        .reasons
        .iter()
        .filter(|(_, p)| *p > 0)
        .take(3)
        .map(|&(j, p)| (case.model.rules[j].name.clone(), p))
        .collect();
    let got: Vec<String> = (3..6)
        .filter_map(|k| r[k].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "{}, lead {id}: reasons {got:?}",
        case.name
    );
    for (k, name) in got.iter().enumerate() {
        let points_of = |n: &str| {
            scored
                .reasons
                .iter()
                .find(|(j, _)| case.model.rules[*j].name == n)
                .map(|r| r.1)
        };
        assert_eq!(
            points_of(name),
            Some(want[k].1),
            "{}, lead {id}: reason {} is {name:?}, mqlcal gives {:?}",
            case.name,
            k + 1,
            want
        );
    }
}

#[test]
fn bigquery_and_snowflake_sql_parses_in_its_dialect() {
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        for (dialect, name) in [
            (Dialect::Bigquery, "bigquery"),
            (Dialect::Snowflake, "snowflake"),
        ] {
            for view in [None, Some("lead_scores")] {
                let query = sql(&case, dialect, "leads", view);
                let answer = run_python(
                    &wd,
                    "sqlglot",
                    &serde_json::json!({"dialect": name, "sql": query}),
                );
                assert_eq!(answer["statements"], 1, "{name}: one statement\n{query}");
                if view.is_some() {
                    continue;
                }
                // sqlglot's reading of the statement, run in DuckDB, scores as mqlcal does.
                let translated = answer["duckdb"].as_str().unwrap();
                let got = duckdb(&wd, &case, false, translated, None);
                check(&case, &format!("{name} via sqlglot → DuckDB"), &got);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Spark SQL

/// Saves the leads as table `mqlcal_test.leads_N` in the local Spark session and runs each
/// list of statements (with ANSI mode on or off); gives the rows of each list's last statement.
fn spark(case: &Case, typed: bool, runs: &[(bool, Vec<String>)]) -> Result<Vec<Vec<Got>>, String> {
    let types = types(case, typed, ["BIGINT", "DOUBLE", "STRING"]);
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|(ansi, statements)| serde_json::json!({"ansi": ansi, "statements": statements}))
        .collect();
    let answer = crate::engines::serve(
        "spark",
        &serde_json::json!({
            "columns": case.leads.columns,
            "types": types,
            "rows": json_rows(case, &types, ["BIGINT", "DOUBLE"]),
            "table": spark_table(case),
            "runs": runs,
        }),
    )?;
    Ok(answer
        .as_array()
        .unwrap()
        .iter()
        .map(|rows| {
            rows.as_array()
                .unwrap()
                .iter()
                .map(Got::from_json)
                .collect()
        })
        .collect())
}

/// A table of its own in database `mqlcal_test` (so the name has a schema part, as usual).
fn spark_table(case: &Case) -> String {
    format!("mqlcal_test.leads_{}_{}", case.name, std::process::id())
}

fn ansi_label(ansi: bool) -> &'static str {
    if ansi {
        "ANSI on"
    } else {
        "ANSI off"
    }
}

#[test]
fn spark_scores_like_mqlcal_score() {
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        let table = spark_table(&case);
        for typed in variants(&case) {
            // Text tables with ANSI mode off and on, and the view; number tables with ANSI on
            // (Spark 4's default). Each query costs Spark a second or so to compile.
            let mut runs = Vec::new();
            let mut what = Vec::new();
            let modes: &[bool] = if typed { &[true] } else { &[false, true] };
            for &ansi in modes {
                runs.push((ansi, vec![sql(&case, Dialect::Spark, &table, None)]));
                what.push(format!("Spark SQL, {}, {}", label(typed), ansi_label(ansi)));
            }
            if !typed {
                // Spark's catalog takes views named with letters, digits and _ only.
                let view = format!("{table}_scores");
                runs.push((
                    true,
                    vec![
                        format!("DROP VIEW IF EXISTS {view}"),
                        sql(&case, Dialect::Spark, &table, Some(&view)),
                        format!("SELECT * FROM {view}"),
                    ],
                ));
                what.push(format!("Spark SQL view, {}", ansi_label(true)));
            }
            let answers = spark(&case, typed, &runs).unwrap_or_else(|e| {
                panic!("Spark SQL, case {}, {}:\n{e}", case.name, label(typed))
            });
            for (got, what) in answers.iter().zip(&what) {
                check(&case, what, got);
            }
        }
    }
}

/// With ANSI mode off, Spark's CAST reads text that is not a number as NULL; the export must
/// still refuse it, as `mqlcal score` does, rather than score the lead as if the cell were empty.
#[test]
fn spark_refuses_text_in_a_numeric_column_with_ansi_on_or_off() {
    let wd = Workdir::new();
    let mut case = example(&wd);
    case.name = "text_in_numbers";
    let j = case.leads.column("company_size");
    case.leads.rows[3][j] = "lots".into();
    let query = sql(&case, Dialect::Spark, &spark_table(&case), None);
    for ansi in [false, true] {
        let err = spark(&case, false, &[(ansi, vec![query.clone()])])
            .expect_err("text in a numeric column is an error");
        assert!(
            err.contains("'lots' in column company_size is not a number"),
            "{}: {err}",
            ansi_label(ansi)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Failures that must not be scored silently

#[test]
fn text_in_a_numeric_column_is_an_error_in_the_engines_too() {
    let wd = Workdir::new();
    let mut case = example(&wd);
    let j = case.leads.column("company_size");
    case.leads.rows[3][j] = "lots".into();
    case.leads.write(&wd.path("bad.csv"));
    let out = wd
        .cmd()
        .args(["score", "--model"])
        .arg(&case.model_path)
        .args(["--data", "bad.csv", "--out", "bad-scored.csv"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("'lots' is not a number"),
        "{}",
        stderr(&out)
    );
    // DuckDB refuses the cast (SQLite would read 'lots' as 0: see the README).
    let request = serde_json::json!({
        "columns": case.leads.columns,
        "types": vec!["VARCHAR"; case.leads.columns.len()],
        "rows": json_rows(&case, &vec!["VARCHAR"; case.leads.columns.len()], ["-", "-"]),
        "sql": sql(&case, Dialect::Duckdb, "leads", None),
        "view": null,
    });
    let path = wd.path("bad-duckdb.json");
    std::fs::write(&path, serde_json::to_vec(&request).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo().join("tests/engines/engines.py"))
        .args(["duckdb"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lots"));
}

// ---------------------------------------------------------------------------------------------
// The library path and the command

#[test]
fn the_library_scores_text_cells_like_mqlcal_score() {
    let wd = Workdir::new();
    for case in all_cases(&wd) {
        // Date rules count back from the case's as-of (`score_lead` would take today).
        let scored: Vec<_> = case
            .leads
            .rows
            .iter()
            .map(|row| {
                let value = |column: &str| {
                    case.model
                        .cell(Some(row[case.leads.column(column)].as_str()))
                };
                match case.as_of {
                    Some(d) => case.model.score_lead_as_of(value, d),
                    None => case.model.score_lead(value),
                }
                .unwrap()
            })
            .collect();
        for (id, s) in case.ids().iter().zip(&scored) {
            let want = &case.expected[id];
            assert_eq!(s.score, want.score, "{}, lead {id}", case.name);
            assert_eq!(
                s.probability.0, want.probability,
                "{}, lead {id}",
                case.name
            );
            assert_eq!(s.mql, want.mql);
            assert_eq!(case.model.reasons_text(s, 20), want.reasons);
        }
    }
}

#[test]
fn export_writes_each_format_and_never_overwrites() {
    let wd = Workdir::new();
    let model = repo().join("models/lead-model.json");
    let run = |args: &[&str]| {
        wd.cmd()
            .arg("export")
            .arg("--model")
            .arg(&model)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--format",
        "sql",
        "--dialect",
        "postgres",
        "--table",
        "leads",
        "--out",
        "score.sql",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(wd.path("score.sql")).unwrap();
    assert!(text.contains("FROM \"leads\"") && text.trim_end().ends_with(';'));

    let out = run(&["--format", "pmml", "--out", "m.pmml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pmml = std::fs::read_to_string(wd.path("m.pmml")).unwrap();
    assert!(pmml.contains("<Scorecard") && pmml.contains("reasonCode=\"Budget confirmed\""));

    let out = run(&["--format", "points-sheet", "--out", "points.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sheet = Leads::read(&wd.path("points.csv"));
    assert_eq!(
        sheet.columns,
        ["kind", "name", "points", "per", "condition", "column"]
    );
    let m = example_model();
    assert_eq!(sheet.rows.len(), m.rules.len() + 1);
    for (row, r) in sheet.rows.iter().zip(&m.rules) {
        assert_eq!(row[0], "rule");
        assert_eq!(row[1], r.name);
        assert_eq!(row[2], r.points.0.to_string());
        assert_eq!(row[4], r.condition.describe(&r.column));
    }
    assert_eq!(sheet.rows[1][3], "each unit");
    assert_eq!(sheet.rows[2][3], "once");
    let last = sheet.rows.last().unwrap();
    assert_eq!(last[0], "threshold");
    assert_eq!(last[2], m.threshold.threshold.points.to_string());

    // No overwrite without --force; the file is left as it was.
    let out = run(&["--format", "pmml", "--out", "points.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists; pass --force"));
    assert!(std::fs::read_to_string(wd.path("points.csv"))
        .unwrap()
        .starts_with("kind,"));
    assert!(run(&["--format", "pmml", "--out", "points.csv", "--force"])
        .status
        .success());
}

#[test]
fn export_flags_are_checked_before_any_work() {
    let wd = Workdir::new();
    let model = repo().join("models/lead-model.json");
    let run = |args: &[&str]| {
        wd.cmd()
            .arg("export")
            .arg("--model")
            .arg(&model)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--format", "sql", "--table", "leads", "--out", "a.sql"]);
    assert_eq!(out.status.code(), Some(2), "--dialect is required for sql");
    assert!(stderr(&out).contains("--dialect"));
    let out = run(&["--format", "pmml", "--table", "leads", "--out", "a.pmml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--table: only applies with --format sql"));
    let out = run(&[
        "--format",
        "sql",
        "--dialect",
        "oracle",
        "--table",
        "leads",
        "--out",
        "a.sql",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "--format",
        "sql",
        "--dialect",
        "duckdb",
        "--table",
        "a..b",
        "--out",
        "a.sql",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a table name"),
        "{}",
        stderr(&out)
    );
    assert!(wd.files().is_empty(), "nothing written: {:?}", wd.files());
}

#[test]
fn names_the_pmml_cannot_hold_are_clear_errors() {
    let mut model = example_model();
    model.rules[0].name = "bell\u{7}".into();
    let err = Pmml.export(&model).unwrap_err().to_string();
    assert!(err.contains("U+0007") && err.contains("rename"), "{err}");
    let mut model = example_model();
    model.rules[0].column = "score".into();
    let err = Pmml.export(&model).unwrap_err().to_string();
    assert!(err.contains("column 'score'"), "{err}");
    let mut model = example_model();
    model.id_column = Some("MQL".into());
    let err = Sql {
        dialect: Dialect::Postgres,
        table: "leads".parse().unwrap(),
        view: None,
        as_of: None,
        events: None,
    }
    .export(&model)
    .unwrap_err()
    .to_string();
    assert!(err.contains("id column 'MQL'"), "{err}");
}

#[test]
fn grade_exports_refuse_what_they_cannot_compute_naming_it() {
    let sql = |model: &Model| {
        Sql {
            dialect: Dialect::Duckdb,
            table: "leads".parse().unwrap(),
            view: None,
            as_of: None,
            events: None,
        }
        .export(model)
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    let mut grouped = example_model();
    for r in &mut grouped.rules {
        r.group = crate::grades::group_of(&r.name).map(str::to_string);
    }
    // A grade policy without a matrix (no model file holds one; a program can build one).
    let mut model = grouped.clone();
    model.threshold.threshold.policy = Policy::Grade("B2".parse().unwrap());
    for err in [sql(&model), Pmml.export(&model).unwrap_err().to_string()] {
        assert!(
            err.contains("makes MQLs by grade (grade:B2) but has no grade matrix")
                && err.contains("retrain with --grades"),
            "{err}"
        );
    }
    // A matrix whose group is not a rule group.
    let mut model = grouped.clone();
    model.grades = Some(Grades {
        method: Grades::METHOD.into(),
        profile: GradeAxis::quartiles("fit", &[(0, 1)]),
        behaviour: GradeAxis::quartiles("behaviour", &[(0, 1)]),
        cells: Grades::cells(&Default::default(), &Default::default()),
    });
    let err = sql(&model);
    assert!(
        err.contains("grade matrix does not fit its rules") && err.contains("'fit'"),
        "{err}"
    );
    // Groups whose columns differ only in case: one column to engines that ignore case.
    let mut model = grouped.clone();
    model.rules[0].group = Some("Behaviour".into());
    let err = sql(&model);
    assert!(
        err.contains("'Behaviour' and 'behaviour'") && err.contains("rename one group"),
        "{err}"
    );
    // Output names the id column or a rule column has.
    let mut model = grouped.clone();
    model.id_column = Some("Profile_Score".into());
    let err = sql(&model);
    assert!(
        err.contains("id column 'Profile_Score'") && err.contains("profile_score"),
        "{err}"
    );
    let mut model = grouped;
    model.rules[6].column = "behaviour_score".into();
    let err = Pmml.export(&model).unwrap_err().to_string();
    assert!(err.contains("column 'behaviour_score'"), "{err}");
}
