//! The model file: its JSON Schema (`schema/model-v1.schema.json`) describes the committed model
//! and freshly trained ones exactly (every object closed, so a field added to the writer but
//! not to the schema fails here), and damaged or foreign files are clear errors, never panics.

use mqlcal::model::Model;
use serde_json::Value;

use crate::{repo, stderr, Workdir};

pub(crate) fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("schema/model-v1.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema")
}

pub(crate) fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_committed_and_freshly_trained_models_match_the_schema() {
    let v = schema();
    let committed = read(&repo().join("models/lead-model.json"));
    assert_eq!(errors(&v, &committed), Vec::<String>::new());

    // Every calibration, every threshold policy, rules from a file and proposed ones.
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 21);
    let runs: [(&str, &[&str]); 9] = [
        // With a date column: the newest lead is recorded (it names the version in a model
        // directory).
        ("dated.json", &["--date", "created_at"]),
        ("platt.json", &["--threshold", "value:5000:150"]),
        (
            "isotonic.json",
            &["--calibration", "isotonic", "--threshold", "points:40"],
        ),
        ("precision.json", &["--threshold", "precision:0.3"]),
        ("recall.json", &["--threshold", "recall:0.8"]),
        (
            "precision-bound.json",
            &["--threshold", "precision:0.25@0.95"],
        ),
        ("recall-bound.json", &["--threshold", "recall:0.8@0.9"]),
        ("beta.json", &["--calibration", "beta"]),
        ("auto.json", &["--calibration", "auto"]),
    ];
    for (out, extra) in runs {
        wd.train_bundled("leads.csv", out, extra);
        let doc = read(&wd.path(out));
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{out}");
    }
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--target", "converted"])
        .args([
            "--id",
            "lead_id",
            "--na",
            "unknown",
            "--exclude",
            "created_at",
        ])
        .args(["--out", "proposed.json"])
        .assert()
        .success();
    let doc = read(&wd.path("proposed.json"));
    assert_eq!(doc["training"]["rules_source"], "proposed");
    // A confident policy records the bound it reached, and the file loads back.
    for out in ["precision-bound.json", "recall-bound.json"] {
        let doc = read(&wd.path(out));
        let bound = doc["threshold"]["bound"].as_f64().unwrap();
        let target = doc["threshold"]["policy"]["target"]["share"]
            .as_f64()
            .unwrap();
        assert!(
            bound >= target && bound <= 1.0,
            "{out}: {}",
            doc["threshold"]
        );
        mqlcal::model::Model::load(&wd.path(out)).unwrap();
    }
    // `auto` records the three calibrators it compared and fits the best.
    let auto = read(&wd.path("auto.json"));
    let search = auto["training"]["calibration_search"].as_array().unwrap();
    assert_eq!(search.len(), 3, "{search:?}");
    let chosen = auto["calibration"]["method"].as_str().unwrap();
    assert!(
        search.iter().any(|m| m["method"] == chosen),
        "{chosen} {search:?}"
    );
    let dated = read(&wd.path("dated.json"));
    assert_eq!(dated["training"]["date_column"], "created_at");
    assert!(dated["training"]["newest_lead"]
        .as_str()
        .is_some_and(|d| d.starts_with("2025-12-")));
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
}

#[test]
fn the_schema_rejects_what_mqlcal_rejects() {
    let v = schema();
    let good = read(&repo().join("models/lead-model.json"));
    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        let text = serde_json::to_string(&doc).unwrap();
        assert!(Model::from_json(&text).is_err(), "mqlcal accepts it");
        assert!(!errors(&v, &doc).is_empty(), "the schema accepts it");
    };
    bad(&|d| d["schema_version"] = 2.into());
    bad(&|d| d["rules"][0]["condition"]["kind"] = "sigmoid".into());
    bad(&|d| d["rules"][0]["condition"]["cap"] = 0.5.into());
    bad(&|d| d["rules"][0]["condition"]["cap"] = 1e16.into());
    bad(&|d| d["rules"][0]["colour"] = "red".into());
    bad(&|d| d["rules"] = Value::Array(vec![]));
    bad(&|d| d["rules"][2]["condition"] = serde_json::json!({"kind": "range"}));
    bad(&|d| d["rules"][6]["condition"]["values"] = Value::Array(vec![]));
    bad(&|d| d["rules"][0]["points"] = 5_000_000_000i64.into());
    bad(&|d| d["calibration"] = serde_json::json!({"method": "platt", "a": 0.1, "b": 1.0}));
    bad(&|d| d["calibration"] = serde_json::json!({"method": "isotonic", "knots": [[0, 1.5]]}));
    bad(&|d| {
        d.as_object_mut().unwrap().remove("threshold");
    });
}

/// `mqlcal inspect` and `mqlcal export` on a damaged file: exit 1, the file named, the
/// message given, no panic.
fn refused(name: &str, text: &str, needle: &str) {
    let wd = Workdir::new();
    wd.write(name, text);
    for args in [
        vec!["inspect", "--model", name],
        vec![
            "export", "--model", name, "--format", "pmml", "--out", "m.pmml",
        ],
    ] {
        let out = wd.cmd().args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
    assert!(!wd.path("m.pmml").exists());
}

#[test]
fn damaged_and_foreign_model_files_are_clear_errors() {
    let good = std::fs::read_to_string(repo().join("models/lead-model.json")).unwrap();
    refused(
        "truncated.json",
        &good[..good.len() * 2 / 3],
        "the file looks truncated",
    );
    refused("empty.json", "", "is empty");
    refused(
        "future.json",
        &good.replace("\"schema_version\": 1", "\"schema_version\": 2"),
        "schema_version 2 is not supported",
    );
    refused(
        "text-version.json",
        &good.replace("\"schema_version\": 1", "\"schema_version\": \"1\""),
        "not a whole number",
    );
    refused(
        "kind.json",
        &good.replacen("\"kind\": \"per_unit\"", "\"kind\": \"sigmoid\"", 1),
        "at `rules[0].condition.kind`: unknown variant `sigmoid`",
    );
    refused(
        "method.json",
        &good.replace("\"method\": \"platt\"", "\"method\": \"spline\""),
        "unknown variant `spline`",
    );
    refused(
        "nan.json",
        &{
            // The first rule's weight (on line 18), whatever its digits after a retrain.
            let at = good.find("\"weight\": ").expect("a weight") + "\"weight\": ".len();
            let end = at + good[at..].find(',').expect("a comma after the weight");
            format!("{}NaN{}", &good[..at], &good[end..])
        },
        "not finite (NaN, Infinity or too large) at line 18",
    );
    refused(
        "infinite.json",
        &{
            // Platt's slope, whatever its digits after a retrain.
            let at = good.find("\"a\": ").expect("a Platt slope") + "\"a\": ".len();
            let end = at + good[at..].find([',', '\n']).expect("the end of the number");
            format!("{}-1e999{}", &good[..at], &good[end..])
        },
        "not finite",
    );
    refused(
        "missing.json",
        &good.replace("\"target\": \"converted\",", ""),
        "missing field `target`",
    );
    refused(
        "huge-points.json",
        &good.replace("\"points\": 10,", "\"points\": 9000000000000000000,"),
        "at most 1000000000",
    );
    refused("not-json.json", "<PMML version=\"4.4\"/>", "not valid JSON");
    refused("array.json", "[1, 2, 3]", "no schema_version");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    refused("deep.json", &deep, "not valid JSON");
}

#[test]
fn no_truncation_of_a_model_file_panics() {
    let good = std::fs::read_to_string(repo().join("models/lead-model.json")).unwrap();
    let mut cut = 0;
    // Every cut that loses more than the final line break.
    let whole = good.trim_end().len();
    for end in (0..whole).filter(|&i| good.is_char_boundary(i)) {
        let result = std::panic::catch_unwind(|| Model::from_json(&good[..end]));
        match result {
            Ok(Ok(_)) => panic!("a file cut at byte {end} loads"),
            Ok(Err(message)) => assert!(!message.is_empty()),
            Err(_) => panic!("a file cut at byte {end} panics"),
        }
        cut += 1;
    }
    assert!(cut > 1000);
}

#[test]
fn loading_a_model_runs_nothing_in_it() {
    // Text that would run if anything evaluated it (a shell, a template, SQL) stays text.
    let wd = Workdir::new();
    let good = std::fs::read_to_string(repo().join("models/lead-model.json")).unwrap();
    let payload = "$(touch pwned) `touch pwned` {{7*7}} '; DROP TABLE leads; --";
    let text = good.replace("Budget confirmed", payload);
    wd.write("m.json", &text);
    let model = Model::load(&wd.path("m.json")).unwrap();
    assert!(model.rules.iter().any(|r| r.name == payload));
    for format in ["pmml", "points-sheet"] {
        wd.cmd()
            .args(["export", "--model", "m.json", "--format", format])
            .args(["--out", &format!("out.{format}")])
            .assert()
            .success();
    }
    wd.cmd()
        .args([
            "export",
            "--model",
            "m.json",
            "--format",
            "sql",
            "--dialect",
            "sqlite",
        ])
        .args(["--table", "leads", "--out", "out.sql"])
        .assert()
        .success();
    wd.cmd()
        .args(["inspect", "--model", "m.json"])
        .assert()
        .success();
    assert!(!wd.path("pwned").exists());
    // In the SQL the name is only ever in a comment.
    let sql = std::fs::read_to_string(wd.path("out.sql")).unwrap();
    for line in sql.lines().filter(|l| l.contains("DROP TABLE")) {
        assert!(line.trim_start().starts_with("--"), "{line}");
    }
}

/// The error of loading the committed model after `edit`, or `None` when it loads.
fn load_error(edit: &dyn Fn(&mut Value)) -> Option<String> {
    let mut doc = read(&repo().join("models/lead-model.json"));
    edit(&mut doc);
    Model::from_json(&serde_json::to_string_pretty(&doc).unwrap()).err()
}

#[test]
fn rule_names_and_metrics_out_of_range_are_refused_naming_the_field() {
    let err = load_error(&|d| {
        let name = d["rules"][1]["name"].clone();
        d["rules"][4]["name"] = name;
    })
    .expect("a repeated rule name is refused");
    assert!(
        err.contains("rules[4].name: rules[1] and rules[4] are both named"),
        "{err}"
    );
    let cases: [(&str, &[&str], f64); 11] = [
        ("metrics.roc_auc", &["metrics", "roc_auc"], 1.01),
        ("metrics.roc_auc", &["metrics", "roc_auc"], -0.1),
        ("metrics.log_loss", &["metrics", "log_loss"], -0.001),
        ("metrics.brier", &["metrics", "brier"], 1.5),
        ("metrics.ece", &["metrics", "ece"], -0.01),
        ("metrics.ece", &["metrics", "ece"], 2.0),
        (
            "training.conversion_rate",
            &["training", "conversion_rate"],
            1.2,
        ),
        (
            "rules[3].conversion_rate",
            &["rules", "3", "conversion_rate"],
            -1.0,
        ),
        ("rules[2].support", &["rules", "2", "support"], 1.0001),
        (
            "threshold.out_of_fold.lead_to_mql_rate",
            &["threshold", "out_of_fold", "lead_to_mql_rate"],
            3.0,
        ),
        (
            "threshold.out_of_fold.conversions_captured",
            &["threshold", "out_of_fold", "conversions_captured"],
            -0.5,
        ),
    ];
    for (field, at, v) in cases {
        let set = |d: &mut Value, v: f64| {
            let mut x = d;
            for k in at {
                x = match k.parse::<usize>() {
                    Ok(i) => &mut x[i],
                    Err(_) => &mut x[*k],
                };
            }
            *x = v.into();
        };
        let err = load_error(&|d| set(d, v)).unwrap_or_else(|| panic!("{field} = {v} loads"));
        assert!(err.starts_with(field), "{field} = {v}: {err}");
        // The ends of each range load.
        let edge = if field == "metrics.log_loss" {
            0.0
        } else {
            v.clamp(0.0, 1.0)
        };
        assert_eq!(load_error(&|d| set(d, edge)), None, "{field} = {edge}");
    }
    // A log loss has no upper end, but must be finite: JSON cannot hold more than 1e308.
    assert_eq!(
        load_error(&|d| d["metrics"]["log_loss"] = 50.0.into()),
        None
    );
}

#[test]
fn a_threshold_no_score_can_reach_is_refused() {
    let doc = read(&repo().join("models/lead-model.json"));
    // The reachable scores, from the rules as written: a rule adds 0 up to its points × its
    // largest feature (1, or the cap), whatever the sign of its points.
    let (mut low, mut high) = (0i64, 0i64);
    for r in doc["rules"].as_array().unwrap() {
        let largest = r["condition"]["cap"].as_f64().unwrap_or(1.0) as i64;
        let p = r["points"].as_i64().unwrap() * largest;
        low += p.min(0);
        high += p.max(0);
    }
    assert!(
        low < 0 && high > 0,
        "the committed model has points of both signs"
    );
    let with = |t: i64| load_error(&|d| d["threshold"]["points"] = t.into());
    assert_eq!(with(high), None);
    assert_eq!(with(low), None);
    let err = with(high + 1).expect("above the highest score");
    assert!(
        err.contains(&format!(
            "threshold.points: {} is above the highest score the rules can give ({high})",
            high + 1
        )),
        "{err}"
    );
    let err = with(low - 1).expect("below the lowest score");
    assert!(
        err.contains(&format!(
            "below the lowest score the rules can give ({low})"
        )),
        "{err}"
    );
    // Without a cap (older files) a rule with positive points reaches any score.
    let uncapped = |d: &mut Value| {
        d["rules"][0]["condition"]
            .as_object_mut()
            .unwrap()
            .remove("cap");
    };
    assert_eq!(
        load_error(&|d| {
            uncapped(d);
            d["threshold"]["points"] = (high * 1000).into();
        }),
        None
    );
    // A cap whose points no export holds exactly is refused, naming it.
    let err = load_error(&|d| d["rules"][0]["condition"]["cap"] = 1e15.into()).unwrap();
    assert!(err.starts_with("rules[0].condition.cap"), "{err}");
    // Through the binary: exit 1, the file and the field named.
    let mut edited = doc.clone();
    edited["threshold"]["points"] = (high + 1).into();
    refused(
        "unreachable.json",
        &serde_json::to_string_pretty(&edited).unwrap(),
        "threshold.points",
    );
}
