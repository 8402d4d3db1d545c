//! Bad input: every case gets a clear error naming the file, row or column (or a clear
//! warning), never a panic, and no output file is left behind.

use crate::{stderr, Workdir};

const RULES: &str = r#"
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

/// Runs `train` and expects failure with every needle in stderr and no model written.
fn fails(wd: &Workdir, data: &str, extra: &[&str], needles: &[&str]) {
    let out = wd
        .cmd()
        .args(["train", "--data", data, "--out", "model.json"])
        .args(extra)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "expected failure, got:\n{err}");
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

/// A small valid table: visits, size, converted, lead_id; `rows` gives extra raw lines.
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
    let wd = Workdir::new();
    wd.write("leads.csv", "");
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["leads.csv", "empty"],
    );
}

#[test]
fn header_only() {
    let wd = Workdir::new();
    wd.write("leads.csv", "lead_id,visits,size,converted\n");
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["no rows"],
    );
}

#[test]
fn missing_target_column() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "won"],
        &["column 'won' not found", "--target"],
    );
}

#[test]
fn no_target_at_all_is_a_usage_error() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write("rules.toml", RULES);
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--out",
            "m.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pass --target"));
}

#[test]
fn target_with_one_class() {
    let wd = Workdir::new();
    let text = table(&[]).replace(",1\n", ",0\n");
    wd.write("leads.csv", &text);
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["only non-conversions", "converted and leads that did not"],
    );
}

#[test]
fn target_value_that_is_not_an_outcome_names_the_row() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&["L99,1,10,maybe"]));
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["row 41", "'maybe'", "0/1, true/false, yes/no"],
    );
}

#[test]
fn outcomes_in_words_any_case_are_accepted() {
    let wd = Workdir::new();
    let text = table(&[])
        .replace(",1\n", ",Yes\n")
        .replace(",0\n", ",FALSE\n");
    wd.write("leads.csv", &text);
    wd.write("rules.toml", RULES);
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "m.json", "--folds", "3"])
        .assert()
        .success();
}

#[test]
fn text_in_a_numeric_rule_column_names_row_and_column() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&["L99,lots,10,1"]));
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
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
        let wd = Workdir::new();
        wd.write("leads.csv", &table(&[&format!("L99,1,{bad},1")]));
        wd.write("rules.toml", RULES);
        fails(
            &wd,
            "leads.csv",
            &["--rules", "rules.toml", "--target", "converted"],
            &["row 41", "column 'size'", "not a finite number"],
        );
    }
}

#[test]
fn placeholders_given_with_na_are_missing_values() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&["L99,Select,10,1"]));
    wd.write("rules.toml", RULES);
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "m.json", "--folds", "3", "--na", "Select"])
        .assert()
        .success();
}

#[test]
fn rules_file_with_an_unknown_key() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write(
        "rules.toml",
        &RULES.replace("at_least = 100", "atleast = 100"),
    );
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["rules.toml", "unknown field `atleast`"],
    );
}

#[test]
fn rules_file_naming_a_column_that_does_not_exist() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write(
        "rules.toml",
        &RULES.replace("column = \"size\"", "column = \"employees\""),
    );
    fails(
        &wd,
        "leads.csv",
        &["--rules", "rules.toml", "--target", "converted"],
        &["column 'employees' not found"],
    );
}

#[test]
fn rule_on_the_target_column_is_refused() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write(
        "rules.toml",
        &format!("{RULES}\n[[rule]]\nname = \"cheat\"\ncolumn = \"converted\"\nat_least = 1\n"),
    );
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "model.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rule 'cheat' uses column 'converted'"));
    assert!(!wd.path("model.json").exists());
}

#[test]
fn duplicate_ids_are_a_warning() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&["L3,1,10,1"]));
    wd.write("rules.toml", RULES);
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--id", "lead_id", "--out", "m.json", "--folds", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out)
        .contains("warning: id column 'lead_id' has 1 repeated ids (first: 'L3' again at row 41)"));
}

#[test]
fn a_perfectly_separating_rule_is_a_warning_naming_its_column() {
    let wd = Workdir::new();
    let mut text = String::from("visits,size,flag,converted\n");
    for i in 0..400 {
        let y = (i % 4 == 0) as u8;
        text.push_str(&format!(
            "{},{},{},{y}\n",
            i % 6,
            50 + i,
            if y == 1 { "won" } else { "open" }
        ));
    }
    wd.write("leads.csv", &text);
    wd.write(
        "rules.toml",
        &format!(
            "{RULES}\n[[rule]]\nname = \"Marked won\"\ncolumn = \"flag\"\none_of = [\"won\"]\n"
        ),
    );
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "m.json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("possible leakage in column 'flag'"), "{err}");
    assert!(err.contains("--exclude \"flag\""), "{err}");
}

#[test]
fn an_existing_model_is_not_replaced_without_force() {
    let wd = Workdir::new();
    wd.write("leads.csv", &table(&[]));
    wd.write("rules.toml", RULES);
    wd.write("model.json", "precious");
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "model.json", "--folds", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists; pass --force"));
    assert_eq!(
        std::fs::read_to_string(wd.path("model.json")).unwrap(),
        "precious"
    );
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--target",
            "converted",
        ])
        .args(["--out", "model.json", "--folds", "3", "--force"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(wd.path("model.json"))
        .unwrap()
        .contains("schema_version"));
}

#[test]
fn unknown_file_type() {
    let wd = Workdir::new();
    wd.write("leads.xlsx", "x");
    wd.write("rules.toml", RULES);
    fails(
        &wd,
        "leads.xlsx",
        &["--rules", "rules.toml", "--target", "converted"],
        &[".csv or .parquet"],
    );
}

#[test]
fn malformed_model_files_are_clear_errors() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 1000, 2);
    let rules = wd.rules();
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules"])
        .arg(&rules)
        .args(["--out", "m.json"])
        .assert()
        .success();
    let good = std::fs::read_to_string(wd.path("m.json")).unwrap();
    let cases = [
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "not valid JSON",
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
