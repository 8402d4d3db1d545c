//! The command line: determinism, rules proposal round trip, inspect, help and exit codes.

use crate::{stdout, Workdir};

#[test]
fn every_subcommand_help_shows_an_example() {
    let wd = Workdir::new();
    for sub in [
        "train", "score", "inspect", "synth", "export", "retrain", "models",
    ] {
        let out = wd.cmd().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help failed");
        let text = stdout(&out);
        assert!(
            text.contains("Example"),
            "{sub} --help shows an example:\n{text}"
        );
    }
}

#[test]
fn same_data_options_and_seed_give_identical_model_bytes() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 5);
    let train = |out: &str, seed: &str| {
        wd.train_bundled("leads.csv", out, &["--seed", seed]);
        std::fs::read(wd.path(out)).unwrap()
    };
    let a = train("a.json", "1");
    let b = train("b.json", "1");
    assert_eq!(a, b, "two runs with the same seed must give the same bytes");
    let c = train("c.json", "2");
    assert_ne!(a, c, "another fold seed gives other out-of-fold scores");
    let text = String::from_utf8(a).unwrap();
    assert!(text.contains("\"schema_version\": 1"));
    assert!(text.contains("\"input_sha256\""));
}

#[test]
fn proposed_rules_are_written_and_train_the_same_model() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 9);
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--target",
            "converted",
            "--id",
            "lead_id",
            "--out",
            "auto.json",
            "--write-rules",
            "proposed.toml",
        ])
        .assert()
        .success();
    let proposed = std::fs::read_to_string(wd.path("proposed.toml")).unwrap();
    assert!(proposed.contains("[[rule]]"));
    // Id, date and target columns never become rules.
    for col in ["lead_id", "created_at", "\"converted\"\n[[rule]]"] {
        assert!(
            !proposed.contains(&format!("column = \"{col}\"")),
            "{col} must not be a rule column"
        );
    }
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "proposed.toml",
            "--out",
            "edited.json",
        ])
        .assert()
        .success();
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("auto.json")).unwrap()).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("edited.json")).unwrap()).unwrap();
    assert_eq!(
        a["rules"], b["rules"],
        "the written rules reproduce the proposal"
    );
    assert_eq!(a["threshold"], b["threshold"]);
}

#[test]
fn inspect_shows_points_and_funnel() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 4);
    wd.train_bundled("leads.csv", "m.json", &["--threshold", "precision:0.3"]);
    let out = wd
        .cmd()
        .args(["inspect", "--model", "m.json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    for needle in [
        "Budget confirmed",
        "MQL threshold",
        "policy precision:0.3",
        "lead→MQL rate",
        "MQL→opportunity rate",
        "conversions captured",
        "ROC AUC",
    ] {
        assert!(text.contains(needle), "inspect lacks '{needle}':\n{text}");
    }
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 500, 1);
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--target",
            "converted",
            "--out",
            "m.json",
        ])
        .args(["--threshold", "mql-rate:15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::stderr(&out).contains("between 0 and 1"));
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "nope.csv",
            "--target",
            "converted",
            "--out",
            "m.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(crate::stderr(&out).contains("nope.csv"));
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--target",
            "converted",
            "--out",
            "m.json",
        ])
        .args(["--folds", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
}

#[test]
fn csv_and_parquet_train_the_same_points() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 2000, 17);
    wd.synth("leads.parquet", 2000, 17);
    wd.train_bundled("leads.csv", "a.json", &[]);
    wd.train_bundled("leads.parquet", "b.json", &[]);
    let load = |p: &str| mqlcal::model::Model::load(&wd.path(p)).unwrap();
    let (a, b) = (load("a.json"), load("b.json"));
    assert_eq!(a.rules, b.rules);
    assert_eq!(a.threshold, b.threshold);
    assert_eq!(a.calibration, b.calibration);
    assert_ne!(a.training.input_sha256, b.training.input_sha256);
}
