//! Scoring: exactly the model's rules, rows in input order, reasons, CSV and Parquet, and the
//! library path that needs no polars.

use std::path::Path;

use mqlcal::model::Model;
use mqlcal::rules::Value;
use polars::prelude::*;

use crate::{read_csv, stderr, Workdir};

fn trained(wd: &Workdir) -> Model {
    wd.synth("leads.csv", 3000, 12);
    wd.train_bundled("leads.csv", "m.json", &[]);
    Model::load(&wd.path("m.json")).unwrap()
}

/// The score a lead should get, worked out here from the model file's JSON alone.
fn expected_score(
    model: &serde_json::Value,
    row: &serde_json::Map<String, serde_json::Value>,
) -> i64 {
    let mut total = 0;
    for rule in model["rules"].as_array().unwrap() {
        let col = rule["column"].as_str().unwrap();
        let points = rule["points"].as_i64().unwrap();
        let cell = &row[col];
        let cond = &rule["condition"];
        let fired: i64 = match cond["kind"].as_str().unwrap() {
            "per_unit" => {
                let v = cell.as_f64().unwrap_or(0.0).floor().max(0.0);
                cond["cap"].as_f64().map_or(v, |c| v.min(c)) as i64
            }
            "range" => match cell.as_f64() {
                None => 0,
                Some(v) => {
                    let lo = cond["at_least"].as_f64().is_none_or(|a| v >= a);
                    let hi = cond["below"].as_f64().is_none_or(|b| v < b);
                    (lo && hi) as i64
                }
            },
            "one_of" => cond["values"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| Some(v.as_str().unwrap()) == cell.as_str()) as i64,
            "is_missing" => cell.is_null() as i64,
            other => panic!("unknown kind {other}"),
        };
        total += points * fired;
    }
    total
}

#[test]
fn scores_follow_the_model_file_in_input_order() {
    let wd = Workdir::new();
    let model = trained(&wd);
    wd.synth("new.csv", 500, 99);
    wd.cmd()
        .args([
            "score",
            "--model",
            "m.json",
            "--data",
            "new.csv",
            "--out",
            "scored.csv",
        ])
        .assert()
        .success();
    let scored = read_csv(&wd.path("scored.csv"));
    assert_eq!(
        scored.get_column_names(),
        ["lead_id", "score", "probability", "mql", "reasons"]
    );
    let input = read_csv(&wd.path("new.csv"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("m.json")).unwrap()).unwrap();
    let names = input.get_column_names();
    let json_rows: Vec<serde_json::Map<String, serde_json::Value>> = (0..input.height())
        .map(|i| {
            let row = input.get_row(i).unwrap();
            names
                .iter()
                .zip(row.0)
                .map(|(n, v)| {
                    let v = match v {
                        AnyValue::Null => serde_json::Value::Null,
                        AnyValue::String(s) => serde_json::Value::from(s),
                        AnyValue::StringOwned(s) => serde_json::Value::from(s.as_str()),
                        v => serde_json::Value::from(v.extract::<f64>().unwrap()),
                    };
                    (n.to_string(), v)
                })
                .collect()
        })
        .collect();
    let ids_in = input.column("lead_id").unwrap().str().unwrap().clone();
    let ids_out = scored.column("lead_id").unwrap().str().unwrap().clone();
    assert!(ids_in.equal(&ids_out).all(), "rows stay in input order");
    let scores = scored.column("score").unwrap().i64().unwrap().clone();
    let probs = scored.column("probability").unwrap().f64().unwrap().clone();
    let mql = scored.column("mql").unwrap().bool().unwrap().clone();
    let threshold = model.threshold.threshold.points;
    for (i, row) in json_rows.iter().enumerate() {
        let want = expected_score(&json, row);
        let got = scores.get(i).unwrap();
        assert_eq!(got, want, "row {i}");
        assert_eq!(mql.get(i).unwrap(), got >= threshold);
        assert!((probs.get(i).unwrap() - model.calibration.probability(got).0).abs() < 1e-12);
    }
    // Higher score, higher probability.
    let mut pairs: Vec<(i64, f64)> = (0..input.height())
        .map(|i| (scores.get(i).unwrap(), probs.get(i).unwrap()))
        .collect();
    pairs.sort_by_key(|p| p.0);
    assert!(pairs.windows(2).all(|w| w[1].1 >= w[0].1));
}

#[test]
fn reasons_list_the_largest_contributions_first() {
    let wd = Workdir::new();
    let model = trained(&wd);
    let s = model
        .score_lead(|col| match col {
            "budget_confirmed" => Value::Text("yes"),
            "pricing_page_visits" => Value::Number(2.0),
            "job_level" => Value::Text("Astronaut"), // never seen: fires no rule
            "company_size" => Value::Number(20.0),
            _ => Value::Missing,
        })
        .unwrap();
    let text = model.reasons_text(&s, 10);
    let budget = model
        .rules
        .iter()
        .position(|r| r.name == "Budget confirmed")
        .unwrap();
    let visits = model
        .rules
        .iter()
        .position(|r| r.column == "pricing_page_visits")
        .unwrap();
    let expected: i64 = model.rules[budget].points.0 + 2 * model.rules[visits].points.0;
    assert_eq!(s.score, expected, "only budget and 2 visits fire: {text}");
    assert!(text.starts_with(&model.rules[budget].name), "{text}");
    assert!(
        !text.contains("C-level"),
        "an unseen category fires no rule"
    );
}

#[test]
fn library_scoring_equals_the_cli_on_parquet() {
    let wd = Workdir::new();
    let model = trained(&wd);
    wd.synth("new.parquet", 300, 5);
    wd.cmd()
        .args([
            "score",
            "--model",
            "m.json",
            "--data",
            "new.parquet",
            "--out",
            "scored.parquet",
        ])
        .assert()
        .success();
    let file = std::fs::File::open(wd.path("scored.parquet")).unwrap();
    let scored = ParquetReader::new(file).finish().unwrap();
    let file = std::fs::File::open(wd.path("new.parquet")).unwrap();
    let input = ParquetReader::new(file).finish().unwrap();
    let scores = scored.column("score").unwrap().i64().unwrap().clone();
    for i in 0..input.height() {
        let row = input.get_row(i).unwrap();
        let names = input.get_column_names();
        let cell = |col: &str| -> Value<'_> {
            let j = names.iter().position(|n| n.as_str() == col).unwrap();
            match &row.0[j] {
                AnyValue::Null => Value::Missing,
                AnyValue::String(s) => Value::Text(s),
                AnyValue::StringOwned(s) => Value::Text(Box::leak(s.to_string().into_boxed_str())),
                v => Value::Number(v.extract::<f64>().unwrap()),
            }
        };
        let lib = model.score_lead(cell).unwrap();
        assert_eq!(lib.score, scores.get(i).unwrap(), "row {i}");
    }
}

#[test]
fn a_column_the_model_needs_is_named_when_missing() {
    let wd = Workdir::new();
    trained(&wd);
    wd.write("new.csv", "lead_id,pricing_page_visits\nL1,3\n");
    let out = wd
        .cmd()
        .args([
            "score", "--model", "m.json", "--data", "new.csv", "--out", "s.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("column 'whitepaper_downloads' not found"),
        "{}",
        stderr(&out)
    );
    assert!(!wd.path("s.csv").exists());
}

/// Awkward leads as CSV text: spaces around numbers and ids, quoted cells, placeholders, empty
/// cells, -0, fractions, exponents, negative and large numbers, ids with commas and quotes;
/// `extra` cells (e.g. a space after a number) are mixed into the visits column.
fn awkward_csv(rows: usize, extra: &[&str]) -> String {
    let ids = [
        "L1",
        " L2 ",
        "",
        "Select",
        "\"L,3\"",
        "\"L \"\"4\"\"\"",
        "L5",
        "\"\"",
    ];
    let mut visits = vec![
        " 2", "3.7", "-0", "-2", "1e1", "", "Select", "0", "\"1\"", ".5", "+2", "12",
    ];
    visits.extend_from_slice(extra);
    let downloads = ["0", "1", "2", "3", "4", " 1", ""];
    let webinar = ["0", "1", "", "Select", "1.0"];
    let opens = ["0", "9", "10", "9.999", "1e2", "", "\t12"];
    let size = [
        "150", " 99.5", "100", "", "9.99", "Select", "-0.0", "5e2", "\"120\"",
    ];
    let industry = ["Software", " Finance ", "software", "", "Select", "Retail"];
    let level = [
        " VP ", "vp", "VP", "C-Level", "", "Select", "Director", "Manager",
    ];
    let days = ["6.99", "7", "60", "59.5", "", "0", "-1"];
    let budget = ["yes", " yes", "YES", "", "no", "Select"];
    let mut text = String::from(
        "lead_id,pricing_page_visits,whitepaper_downloads,webinar_attended,email_opens,\
         company_size,industry,job_level,days_since_last_activity,budget_confirmed\n",
    );
    // Cells cycle at different rates, so that many combinations occur.
    let cell =
        |cells: &[&str], i: usize, k: usize| cells[(i * k + i / 5) % cells.len()].to_string();
    for i in 0..rows {
        let row = [
            cell(&ids, i, 1),
            cell(&visits, i, 3),
            cell(&downloads, i, 5),
            cell(&webinar, i, 7),
            cell(&opens, i, 11),
            cell(&size, i, 13),
            cell(&industry, i, 17),
            cell(&level, i, 19),
            cell(&days, i, 23),
            cell(&budget, i, 29),
        ];
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// What `mqlcal score` wrote before it grouped leads by pattern and parsed numbers while
/// reading: every lead scored on its own (`score_table`) from the file read as text, written
/// one value per lead.
fn scored_lead_by_lead(model: &Model, data: &Path, na: &[&str], out: &Path) {
    let options = mqlcal::data::LoadOptions {
        na: (model.training.na.iter().map(String::as_str))
            .chain(na.iter().copied())
            .map(String::from)
            .collect(),
        exclude: Vec::new(),
        ..Default::default()
    };
    let table = mqlcal::data::Table::load(data, &options).unwrap();
    let scored = mqlcal::train::score_table(model, &table).unwrap();
    let ids = table.texts("lead_id").unwrap();
    let mut df = df!(
        "lead_id" => ids,
        "score" => scored.iter().map(|s| s.score).collect::<Vec<_>>(),
        "probability" => scored.iter().map(|s| s.probability.0).collect::<Vec<_>>(),
        "mql" => scored.iter().map(|s| s.mql).collect::<Vec<_>>(),
        "reasons" => scored.iter().map(|s| model.reasons_text(s, 3)).collect::<Vec<_>>(),
    )
    .unwrap();
    mqlcal::data::write_frame(&mut df, out, true).unwrap();
}

#[test]
fn output_is_the_lead_by_lead_scoring_for_awkward_values() {
    let wd = Workdir::new();
    let model = trained(&wd);
    // (file, extra visits cells, extra --na, whether polars can read the numbers itself)
    let cases: [(&str, &[&str], &[&str], bool); 3] = [
        ("typed.csv", &[], &["Select"], true),
        // A space after a number, which only the text reading takes.
        ("spaces.csv", &["3 ", "\t4\t"], &["Select"], false),
        // A placeholder that reads as a number: ` -1` must be missing, not -1.
        ("numeric-na.csv", &[" -1", "-1"], &["Select", "-1"], false),
    ];
    for (name, extra, na, typed) in cases {
        wd.write(name, &awkward_csv(2000, extra));
        let out = wd
            .cmd()
            .args(["-vv", "score", "--model", "m.json", "--data", name])
            .args(["--out", "scored.csv", "--force", "--na", &na.join(",")])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{name}: {err}");
        assert_eq!(
            err.contains("(numeric columns as numbers)"),
            typed,
            "{name}: which reading was used\n{err}"
        );
        scored_lead_by_lead(&model, &wd.path(name), na, &wd.path("expected.csv"));
        let got = std::fs::read_to_string(wd.path("scored.csv")).unwrap();
        let want = std::fs::read_to_string(wd.path("expected.csv")).unwrap();
        assert!(
            got == want,
            "{name}: output differs from lead-by-lead scoring"
        );
        assert!(got.lines().count() == 2001, "{name}");
    }
}

#[test]
fn a_value_that_is_not_a_number_is_named_by_row_and_column() {
    let wd = Workdir::new();
    trained(&wd);
    let good = awkward_csv(50, &[]);
    for (bad, needles) in [
        (
            "lots",
            [
                "row 51",
                "column 'pricing_page_visits'",
                "'lots' is not a number",
            ],
        ),
        (
            "inf",
            [
                "row 51",
                "column 'pricing_page_visits'",
                "not a finite number",
            ],
        ),
    ] {
        let text = format!("{good}L51,{bad},1,1,12,150,Software,VP,3,yes\n");
        wd.write("bad.csv", &text);
        let out = wd
            .cmd()
            .args(["score", "--model", "m.json", "--data", "bad.csv"])
            .args(["--out", "s.csv", "--na", "Select"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        for n in needles {
            assert!(err.contains(n), "{bad}: stderr lacks '{n}':\n{err}");
        }
        assert!(!wd.path("s.csv").exists());
    }
}

/// `--na Select --na-ignore-case`: `SELECT`, ` select ` and `sElEcT` are missing in training
/// (streamed) and in scoring, exactly as empty cells are; without the flag they are not
/// placeholders, and a numeric column holding them is refused.
#[test]
fn placeholders_in_any_case_are_missing_with_na_ignore_case() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 21);
    let text = std::fs::read_to_string(wd.path("leads.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (size, industry) = (col("company_size"), col("industry"));
    let spellings = ["SELECT", " select ", "sElEcT", "Select"];
    let (mut with_na, mut empty) = (String::new(), String::new());
    for (i, line) in text.lines().enumerate() {
        let mut a: Vec<String> = line.split(',').map(String::from).collect();
        let mut b = a.clone();
        for (j, every) in [(size, 7), (industry, 5)] {
            if i > 0 && i % every == 0 {
                a[j] = spellings[i % spellings.len()].into();
                b[j] = String::new();
            }
        }
        with_na.push_str(&(a.join(",") + "\n"));
        empty.push_str(&(b.join(",") + "\n"));
    }
    wd.write("with-na.csv", &with_na);
    wd.write("empty.csv", &empty);
    let na = ["--na", "Select", "--na-ignore-case"];
    wd.train_bundled("with-na.csv", "na.json", &na);
    wd.train_bundled("empty.csv", "empty.json", &[]);
    let (a, b) = (
        Model::load(&wd.path("na.json")).unwrap(),
        Model::load(&wd.path("empty.json")).unwrap(),
    );
    assert!(a.training.na_ignore_case && !b.training.na_ignore_case);
    assert_eq!(a.rules, b.rules);
    assert_eq!(a.training.intercept, b.training.intercept);
    // Scoring reads the next file as training did, without the flag.
    for (model, data, out) in [
        ("na.json", "with-na.csv", "a.csv"),
        ("na.json", "empty.csv", "b.csv"),
    ] {
        wd.cmd()
            .args(["score", "--model", model, "--data", data, "--out", out])
            .assert()
            .success();
    }
    let scored = std::fs::read_to_string(wd.path("a.csv")).unwrap();
    assert_eq!(scored, std::fs::read_to_string(wd.path("b.csv")).unwrap());
    assert_eq!(scored.lines().count(), 3001);
    // The library reads cells as the command does.
    for s in spellings {
        assert!(a.is_placeholder(s.trim()), "{s}");
    }
    assert!(!a.is_placeholder("SÉLECT") && !b.is_placeholder("SELECT"));
    // Without the flag `SELECT` is a value, and not a number.
    let out = wd
        .cmd()
        .args(["train", "--data", "with-na.csv", "--rules", "rules.toml"])
        .args(["--out", "exact.json", "--na", "Select"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("row 14, column 'company_size'"), "{err}");
    assert!(
        err.contains("'Select'") && err.contains("--na-ignore-case"),
        "{err}"
    );
}
