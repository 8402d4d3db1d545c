//! Uncapped per-unit rules (issue 17): one absurd count must neither crash training nor give a
//! lead every point there is. Training caps the rule at the 99.9th percentile of the training
//! leads and records the cap, so `score`, the SQL export and the library all apply it; a model
//! file without the cap (written before) gives errors naming the row and column, never a panic
//! or a silently saturated score.

use std::collections::HashMap;

use mqlcal::model::Model;
use mqlcal::rules::Value;
use serde_json::Value as Json;

use crate::{stderr, Workdir};

const RULES: &str = r#"id = "lead_id"
target = "converted"
[[rule]]
name = "Pricing page visits (each)"
column = "visits"
per_unit = true
[[rule]]
name = "Big company"
column = "size"
at_least = 100
"#;

/// A bot's page views: parsed as the double 1e20, far above 2^53 and i64.
const ABSURD: &str = "99999999999999999999";

/// 4000 leads with 0..=14 visits (more visits convert more often), then three bots with
/// [`ABSURD`] visits. 4003 leads: the 99.9th percentile (rank 3999) is 14 visits.
fn leads() -> String {
    let mut s = String::from("lead_id,visits,size,converted\n");
    for i in 0..4000u64 {
        let visits = i % 15;
        let converted = (i * 7919 % 100) < 3 + 4 * visits;
        s.push_str(&format!(
            "L{i},{visits},{},{}\n",
            (i * 37) % 300,
            converted as u8
        ));
    }
    for i in 0..3 {
        s.push_str(&format!("B{i},{ABSURD},50,{}\n", i % 2));
    }
    s
}

/// New leads: at the cap, above it by one, absurd, and below the cap.
const NEW: &str = "lead_id,visits,size,converted\n\
                   at_cap,14,50,0\n\
                   above,15,50,0\n\
                   bot,99999999999999999999,50,0\n\
                   few,3,50,0\n";

fn no_panic(out: &std::process::Output) {
    assert_ne!(out.status.code(), Some(101), "{}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

/// `score`'s output: lead id → (score, probability, mql).
fn scored(wd: &Workdir, file: &str) -> HashMap<String, (i64, f64, bool)> {
    let mut r = csv::Reader::from_path(wd.path(file)).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].to_string(),
                (
                    rec[1].parse().unwrap(),
                    rec[2].parse().unwrap(),
                    rec[3].parse().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn an_absurd_count_is_capped_in_training_and_everywhere_after() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads());
    wd.write("rules.toml", RULES);
    wd.write("new.csv", NEW);
    // Streamed (`--rules` alone) and whole-file (`--report` loads the table) training.
    let mut models = Vec::new();
    for (out, extra) in [
        ("model.json", vec![]),
        ("whole.json", vec!["--report", "rep"]),
    ] {
        let run = wd
            .cmd()
            .args(["train", "--data", "leads.csv", "--rules", "rules.toml"])
            .args(["--out", out])
            .args(extra)
            .output()
            .unwrap();
        no_panic(&run);
        assert!(run.status.success(), "{}", stderr(&run));
        let err = stderr(&run);
        assert!(
            err.contains("'Pricing page visits (each)': capped at 14 units of visits")
                && err.contains("3 leads had more, up to 100000000000000000000"),
            "{err}"
        );
        models.push(std::fs::read_to_string(wd.path(out)).unwrap());
    }
    let doc: Json = serde_json::from_str(&models[0]).unwrap();
    let whole: Json = serde_json::from_str(&models[1]).unwrap();
    assert_eq!(doc["rules"], whole["rules"], "both row paths cap alike");
    assert_eq!(doc["rules"][0]["condition"]["cap"], 14.0);
    assert!(doc["rules"][0]["points"].as_i64().unwrap() > 0);
    assert!(doc["warnings"][0]
        .as_str()
        .unwrap()
        .contains("capped at 14"));

    let run = wd
        .cmd()
        .args(["score", "--model", "model.json", "--data", "new.csv"])
        .args(["--out", "scored.csv"])
        .output()
        .unwrap();
    no_panic(&run);
    assert!(run.status.success(), "{}", stderr(&run));
    let got = scored(&wd, "scored.csv");
    let cap = got["at_cap"];
    assert_eq!(got["above"], cap);
    assert_eq!(got["bot"], cap, "a bot scores as a lead at the cap");
    assert!(got["few"].0 < cap.0 && cap.1 < 1.0);

    // The SQL export gives the same scores (SQLite; cells as text and as numbers).
    let run = wd
        .cmd()
        .args(["export", "--model", "model.json", "--format", "sql"])
        .args(["--dialect", "sqlite", "--table", "leads", "--out", "m.sql"])
        .output()
        .unwrap();
    no_panic(&run);
    assert!(run.status.success(), "{}", stderr(&run));
    let query = std::fs::read_to_string(wd.path("m.sql")).unwrap();
    for typed in [false, true] {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let kind = if typed { "REAL" } else { "TEXT" };
        db.execute(
            &format!("CREATE TABLE leads (lead_id TEXT, visits {kind}, size {kind})"),
            [],
        )
        .unwrap();
        for line in NEW.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let value = |s: &str| -> rusqlite::types::Value {
                if typed {
                    rusqlite::types::Value::Real(s.parse().unwrap())
                } else {
                    rusqlite::types::Value::Text(s.into())
                }
            };
            db.execute(
                "INSERT INTO leads VALUES (?1, ?2, ?3)",
                rusqlite::params![cells[0], value(cells[1]), value(cells[2])],
            )
            .unwrap();
        }
        let mut stmt = db.prepare(&query).unwrap();
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(rows.len(), 4);
        for (id, score) in rows {
            assert_eq!(
                score, got[&id].0,
                "SQLite ({kind}) scores {id} as mqlcal does"
            );
        }
    }

    // The library applies the cap too.
    let model = Model::load(&wd.path("model.json")).unwrap();
    let lead = |visits: f64| {
        model
            .score_lead(|c| match c {
                "visits" => Value::Number(visits),
                _ => Value::Missing,
            })
            .unwrap()
    };
    assert_eq!(lead(1e20), lead(14.0));
    assert_eq!(lead(1e300).score, cap.0, "at most the cap's points");
}

#[test]
fn a_model_without_the_cap_names_the_row_and_column_it_cannot_score() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads());
    wd.write("rules.toml", RULES);
    wd.write("new.csv", NEW);
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "rules.toml"])
        .args(["--out", "model.json"])
        .assert()
        .success();
    // A file as written before training capped rules: the cap removed.
    let mut doc: Json =
        serde_json::from_str(&std::fs::read_to_string(wd.path("model.json")).unwrap()).unwrap();
    doc["rules"][0]["condition"]
        .as_object_mut()
        .unwrap()
        .remove("cap");
    wd.write("old.json", &serde_json::to_string_pretty(&doc).unwrap());
    let run = wd
        .cmd()
        .args(["score", "--model", "old.json", "--data", "new.csv"])
        .args(["--out", "scored.csv"])
        .output()
        .unwrap();
    no_panic(&run);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("new.csv, row 3, column 'visits'") && err.contains("2^53"),
        "{err}"
    );
    assert!(!wd.path("scored.csv").exists());

    // The library names the column; the batch call names the lead too.
    let old = Model::load(&wd.path("old.json")).unwrap();
    let e = old
        .score_lead(|c| match c {
            "visits" => Value::Number(1e20),
            _ => Value::Missing,
        })
        .unwrap_err();
    assert!(e.contains("column 'visits'") && e.contains("2^53"), "{e}");
    // Within 2^53 but beyond i64 once multiplied by the points.
    doc["rules"][0]["points"] = 1_000_000_000i64.into();
    let big = Model::from_json(&doc.to_string()).unwrap();
    let leads = [("visits", "9000000000000000"), ("visits", "2")];
    let e = big
        .score_leads(&leads, |l, c| {
            if c == l.0 {
                Value::Text(l.1)
            } else {
                Value::Missing
            }
        })
        .unwrap_err();
    assert!(
        e.contains("lead 1, column 'visits'") && e.contains("beyond what a score can hold"),
        "{e}"
    );
}
