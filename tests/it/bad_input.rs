//! Bad input: every case gets a clear error naming the file, row or column (or a clear
//! warning), never a panic, and no output file is left behind.

use std::process::Output;

use crate::{stderr, Workdir};

const RULES: &str = r#"target = "converted"
[[rule]]
name = "Pricing visits"
column = "visits"
per_unit = true
cap = 5
[[rule]]
name = "Big company"
column = "size"
at_least = 100
"#;

/// A scratch directory holding `leads.csv` and `rules.toml`.
fn setup(data: &str, rules: &str) -> Workdir {
    let wd = Workdir::new();
    wd.write("leads.csv", data);
    wd.write("rules.toml", rules);
    wd
}

/// `mqlcal train` on leads.csv with rules.toml (target `converted`), into model.json.
fn train(wd: &Workdir, extra: &[&str]) -> Output {
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--out",
            "model.json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Checks a run failed with `code`, every needle in stderr, and no model or temporary left.
fn check_failed(wd: &Workdir, out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected failure, got:\n{err}"
    );
    assert!(
        !err.contains("panicked"),
        "a panic is not an error message:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks '{n}':\n{err}");
    }
    assert!(!wd.path("model.json").exists(), "no model after a failure");
    assert!(
        wd.files().iter().all(|f| !f.starts_with(".mqlcal-")),
        "no temporary file left: {:?}",
        wd.files()
    );
}

/// Trains on `data` with `rules` and expects a failure (exit 1) mentioning every needle.
fn fails(data: &str, rules: &str, needles: &[&str]) {
    let wd = setup(data, rules);
    let out = train(&wd, &[]);
    check_failed(&wd, &out, 1, needles);
}

/// Trains and expects success; returns stderr (warnings).
fn succeeds(data: &str, rules: &str, extra: &[&str]) -> String {
    let wd = setup(data, rules);
    let out = train(&wd, extra);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    err
}

/// A small valid table: lead_id, visits, size, converted; `rows` gives extra raw lines.
fn table(rows: &[&str]) -> String {
    let mut s = String::from("lead_id,visits,size,converted\n");
    for i in 0..40 {
        s.push_str(&format!(
            "L{i},{},{},{}\n",
            i % 6,
            50 + 10 * i,
            (i % 3 == 0) as u8
        ));
    }
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn empty_file() {
    fails("", RULES, &["leads.csv", "empty"]);
}

#[test]
fn header_only() {
    fails("lead_id,visits,size,converted\n", RULES, &["no rows"]);
}

#[test]
fn missing_target_column() {
    let wd = setup(&table(&[]), RULES);
    let out = train(&wd, &["--target", "won"]);
    check_failed(&wd, &out, 1, &["column 'won' not found", "--target"]);
}

#[test]
fn no_target_at_all_is_a_usage_error() {
    let wd = setup(&table(&[]), &RULES.replace("target = \"converted\"", ""));
    let out = train(&wd, &[]);
    check_failed(&wd, &out, 2, &["pass --target"]);
}

#[test]
fn target_with_one_class() {
    fails(
        &table(&[]).replace(",1\n", ",0\n"),
        RULES,
        &["only non-conversions", "converted and leads that did not"],
    );
}

#[test]
fn target_value_that_is_not_an_outcome_names_the_row() {
    fails(
        &table(&["L99,1,10,maybe"]),
        RULES,
        &["row 41", "'maybe'", "0/1, true/false, yes/no"],
    );
}

/// Trains on `data` (expecting success) and gives what was learnt from it: the rules with
/// their points, calibration, threshold, metrics and the counts read, without what names the
/// file (its hash) or repeats the flags.
fn learnt(data: &str, extra: &[&str]) -> serde_json::Value {
    let wd = setup(data, RULES);
    let out = train(&wd, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("model.json")).unwrap()).unwrap();
    let t = &m["training"];
    serde_json::json!({
        "rules": m["rules"], "calibration": m["calibration"], "threshold": m["threshold"],
        "metrics": m["metrics"], "rows": t["rows"], "conversions": t["conversions"],
        "alpha": t["alpha"], "intercept": t["intercept"],
    })
}

#[test]
fn outcomes_in_words_any_case_are_accepted() {
    let data = table(&[])
        .replace(",1\n", ",Yes\n")
        .replace(",0\n", ",FALSE\n");
    let words = learnt(&data, &["--folds", "3"]);
    // Read as the 0/1 they stand for: the same model as from the 0/1 file.
    assert_eq!(words["conversions"], 14, "{words}");
    assert_eq!(words, learnt(&table(&[]), &["--folds", "3"]));
}

#[test]
fn text_in_a_numeric_rule_column_names_row_and_column() {
    fails(
        &table(&["L99,lots,10,1"]),
        RULES,
        &[
            "row 41",
            "column 'visits'",
            "'lots' is not a number",
            "--na",
        ],
    );
}

#[test]
fn nan_and_infinity_are_errors_naming_the_row() {
    for bad in ["NaN", "inf", "-Infinity"] {
        fails(
            &table(&[&format!("L99,1,{bad},1")]),
            RULES,
            &["row 41", "column 'size'", "not a finite number"],
        );
    }
}

#[test]
fn placeholders_given_with_na_are_missing_values() {
    let placeholder = learnt(
        &table(&["L99,Select,10,1"]),
        &["--folds", "3", "--na", "Select"],
    );
    // `Select` read as missing: the same model as an empty cell gives.
    assert_eq!(placeholder["rows"], 41, "{placeholder}");
    assert_eq!(
        placeholder,
        learnt(&table(&["L99,,10,1"]), &["--folds", "3"])
    );
}

#[test]
fn rules_file_with_an_unknown_key() {
    fails(
        &table(&[]),
        &RULES.replace("at_least = 100", "atleast = 100"),
        &["rules.toml", "unknown field `atleast`"],
    );
}

#[test]
fn rules_file_naming_a_column_that_does_not_exist() {
    fails(
        &table(&[]),
        &RULES.replace("column = \"size\"", "column = \"employees\""),
        &["column 'employees' not found"],
    );
}

#[test]
fn rule_on_the_target_column_is_refused() {
    let rules =
        format!("{RULES}\n[[rule]]\nname = \"cheat\"\ncolumn = \"converted\"\nat_least = 1\n");
    let wd = setup(&table(&[]), &rules);
    let out = train(&wd, &[]);
    check_failed(&wd, &out, 2, &["rule 'cheat' uses column 'converted'"]);
}

#[test]
fn duplicate_ids_are_a_warning() {
    let err = succeeds(
        &table(&["L3,1,10,1"]),
        RULES,
        &["--id", "lead_id", "--folds", "3"],
    );
    assert!(
        err.contains(
            "warning: id column 'lead_id' has 1 repeated ids (first: 'L3' again at row 41)"
        ),
        "{err}"
    );
}

#[test]
fn a_perfectly_separating_rule_is_a_warning_naming_its_column() {
    let mut data = String::from("visits,size,flag,converted\n");
    for i in 0..400 {
        let y = (i % 4 == 0) as u8;
        let flag = if y == 1 { "won" } else { "open" };
        data.push_str(&format!("{},{},{flag},{y}\n", i % 6, 50 + i));
    }
    let rules = format!(
        "{RULES}\n[[rule]]\nname = \"Marked won\"\ncolumn = \"flag\"\none_of = [\"won\"]\n"
    );
    let err = succeeds(&data, &rules, &[]);
    assert!(err.contains("possible leakage in column 'flag'"), "{err}");
    assert!(err.contains("--exclude \"flag\""), "{err}");
}

#[test]
fn an_existing_model_is_not_replaced_without_force() {
    let wd = setup(&table(&[]), RULES);
    wd.write("model.json", "precious");
    let out = train(&wd, &["--folds", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists; pass --force"));
    assert_eq!(
        std::fs::read_to_string(wd.path("model.json")).unwrap(),
        "precious"
    );
    assert!(train(&wd, &["--folds", "3", "--force"]).status.success());
    assert!(std::fs::read_to_string(wd.path("model.json"))
        .unwrap()
        .contains("schema_version"));
}

#[test]
fn unknown_file_type() {
    let wd = setup("x", RULES);
    let out = wd
        .cmd()
        .args(["train", "--data", "leads.xlsx", "--rules", "rules.toml"])
        .args(["--target", "converted", "--out", "model.json"])
        .output()
        .unwrap();
    check_failed(&wd, &out, 1, &["leads.xlsx", ".csv or .parquet"]);
}

#[test]
fn malformed_model_files_are_clear_errors() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 1000, 2);
    wd.train_bundled("leads.csv", "m.json", &[]);
    let good = std::fs::read_to_string(wd.path("m.json")).unwrap();
    let cases = [
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "the file looks truncated",
        ),
        (
            "future.json",
            good.replace("\"schema_version\": 1", "\"schema_version\": 99"),
            "schema_version 99 is not supported",
        ),
        (
            "other.json",
            "{\"hello\": 1}".to_string(),
            "no schema_version",
        ),
    ];
    for (name, text, needle) in cases {
        wd.write(name, &text);
        let out = wd
            .cmd()
            .args(["inspect", "--model", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(needle), "{err}");
    }
}

#[test]
fn two_rules_of_one_name() {
    let rules =
        format!("{RULES}[[rule]]\nname = \"Pricing visits\"\ncolumn = \"size\"\nbelow = 10\n");
    fails(
        &table(&[]),
        &rules,
        &[
            "rules.toml",
            "rules 1 and 3 are both named 'Pricing visits'",
        ],
    );
}

#[test]
fn two_columns_of_one_name() {
    // polars would read the second `visits` as `visits_duplicated_0`, and the rule the first.
    let mut data = String::from("lead_id,visits,size,visits,converted\n");
    for i in 0..40 {
        data.push_str(&format!(
            "L{i},{},{},7,{}\n",
            i % 6,
            50 + 10 * i,
            i % 3 == 0
        ));
    }
    let needle = "columns 2 and 4 are both named 'visits'";
    // Streamed (`--rules` alone) and whole-file (`--report`) training.
    for extra in [&[][..], &["--report", "rep"][..]] {
        let wd = setup(&data, RULES);
        let out = train(&wd, extra);
        check_failed(&wd, &out, 1, &["leads.csv", needle]);
    }
    // Scoring reads only the model's columns, and still refuses the file.
    let wd = setup(&table(&[]), RULES);
    assert!(train(&wd, &[]).status.success());
    wd.write("new.csv", &data);
    let out = wd
        .cmd()
        .args(["score", "--model", "model.json", "--data", "new.csv"])
        .args(["--out", "scored.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    assert!(!wd.path("scored.csv").exists());
}

#[test]
fn a_threshold_in_points_no_lead_can_reach() {
    // The rules give at most 5 visits' and one big company's points, at least 0 (or less
    // when a rule's points are negative): far from either of these.
    for (threshold, needle) in [
        ("points:100000", "no lead would ever be an MQL"),
        ("points:-100000", "every lead would be an MQL"),
    ] {
        let wd = setup(&table(&[]), RULES);
        let out = train(&wd, &["--threshold", threshold]);
        // Exit 2, as for any invalid option.
        check_failed(&wd, &out, 2, &["--threshold", needle]);
    }
}
