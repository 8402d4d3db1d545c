//! Behaviour and profile: rule groups give sub-scores that add up to the score with the
//! ungrouped rules' points, `train --grades` gives a grade matrix whose counts are what `score`
//! gives the training file, the report draws it, a grade threshold makes MQLs by grade (and the
//! SQL and PMML exports make the same ones), and bad groups, grades and grade policies are clear
//! errors naming the rule or the option.

use std::collections::BTreeMap;

use mqlcal::model::Model;
use polars::prelude::*;

use crate::export;
use crate::report::{png_size, svg_parses};
use crate::{read_csv, stderr, Workdir};
use mqlcal::export::Dialect;

/// The group of each bundled rule: activity is behaviour, who the lead is is profile;
/// "Budget confirmed" stays ungrouped, so it counts only in the total.
const GROUPS: [(&str, Option<&str>); 12] = [
    ("Pricing page visit (each, up to 5)", Some("behaviour")),
    ("Whitepaper download (each, up to 3)", Some("behaviour")),
    ("Attended a webinar", Some("behaviour")),
    ("Opened 10+ emails", Some("behaviour")),
    ("Company 100+ employees", Some("profile")),
    ("No company size given", Some("profile")),
    ("C-level or VP", Some("profile")),
    ("Director", Some("profile")),
    ("Inactive under 7 days", Some("behaviour")),
    ("Inactive 60+ days", Some("behaviour")),
    ("Software or finance company", Some("profile")),
    ("Budget confirmed", None),
];

/// The group of bundled rule `name` in [`GROUPS`] (`None`: no group, or not a bundled rule).
pub(crate) fn group_of(name: &str) -> Option<&'static str> {
    GROUPS.iter().find(|g| g.0 == name).and_then(|g| g.1)
}

/// The bundled rules with `group = ...` after each grouped rule's name; `rename` maps the
/// group names (to test other names and counts of groups).
pub(crate) fn grouped_rules(rename: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for line in mqlcal::synth::RULES_TOML.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(name) = line.strip_prefix("name = \"") {
            let name = name.trim_end_matches('"');
            let (_, group) = GROUPS.iter().find(|g| g.0 == name).expect("a bundled rule");
            if let Some(g) = group {
                out.push_str(&format!("group = \"{}\"\n", rename(g)));
            }
        }
    }
    out
}

fn ints(df: &DataFrame, column: &str) -> Vec<i64> {
    df.column(column)
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

fn texts(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column)
        .unwrap()
        .str()
        .unwrap()
        .into_no_null_iter()
        .map(str::to_string)
        .collect()
}

/// Trains the grouped rules on synthetic leads with `extra` options.
fn train(wd: &Workdir, out: &str, extra: &[&str]) -> std::process::Output {
    if !wd.path("leads.csv").exists() {
        wd.synth("leads.csv", 4000, 21);
        wd.write("grouped.toml", &grouped_rules(str::to_string));
    }
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "grouped.toml",
            "--out",
            out,
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn score(wd: &Workdir, model: &str, data: &str, out: &str) -> DataFrame {
    let o = wd
        .cmd()
        .args(["score", "--model", model, "--data", data, "--out", out])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    read_csv(&wd.path(out))
}

#[test]
fn behaviour_plus_profile_plus_ungrouped_points_is_the_score() {
    let wd = Workdir::new();
    let o = train(&wd, "m.json", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::load(&wd.path("m.json")).unwrap();
    assert_eq!(model.group_names(), vec!["behaviour", "profile"]);
    assert!(model.grades.is_none());
    let budget = model
        .rules
        .iter()
        .find(|r| r.name == "Budget confirmed")
        .unwrap();
    assert!(budget.group.is_none() && budget.points.0 > 0);
    wd.synth("new.csv", 1500, 22);
    let df = score(&wd, "m.json", "new.csv", "scored.csv");
    let (b, p, total) = (
        ints(&df, "behaviour_score"),
        ints(&df, "profile_score"),
        ints(&df, "score"),
    );
    // The ungrouped points, worked out from the data: Budget confirmed's points when "yes".
    let leads = read_csv(&wd.path("new.csv"));
    let budget_yes: Vec<bool> = texts(&leads, "budget_confirmed")
        .iter()
        .map(|v| v == "yes")
        .collect();
    let mut with_budget = 0;
    for i in 0..total.len() {
        let ungrouped = if budget_yes[i] { budget.points.0 } else { 0 };
        with_budget += budget_yes[i] as usize;
        assert_eq!(b[i] + p[i] + ungrouped, total[i], "lead {}", i + 1);
    }
    assert!(with_budget > 100 && with_budget < 1400, "{with_budget}");
    // Neither sub-score is constant: both groups' rules fire.
    for s in [&b, &p] {
        assert!(s.iter().any(|&v| v != s[0]));
    }
    // The library gives the same sub-scores, and the model file names each rule's group.
    let text = std::fs::read_to_string(wd.path("m.json")).unwrap();
    assert_eq!(text.matches("\"group\": \"behaviour\"").count(), 6);
    assert_eq!(text.matches("\"group\": \"profile\"").count(), 5);
    let scored = model
        .score_lead(|column| match column {
            "pricing_page_visits" => mqlcal::rules::Value::Number(2.0),
            "job_level" => mqlcal::rules::Value::Text("VP"),
            "budget_confirmed" => mqlcal::rules::Value::Text("yes"),
            _ => mqlcal::rules::Value::Missing,
        })
        .unwrap();
    assert_eq!(scored.sub_scores.len(), 2);
    assert_eq!(
        scored.sub_scores[0] + scored.sub_scores[1] + budget.points.0,
        scored.score
    );
    assert_eq!(scored.grade, None);
}

#[test]
fn a_model_without_groups_is_scored_and_written_as_before() {
    // No group keys: no sub-score columns, and no `group` in the model file.
    let wd = Workdir::new();
    wd.synth("leads.csv", 2000, 5);
    wd.train_bundled("leads.csv", "m.json", &[]);
    let text = std::fs::read_to_string(wd.path("m.json")).unwrap();
    assert!(!text.contains("\"group\"") && !text.contains("\"grades\""));
    let df = score(&wd, "m.json", "leads.csv", "s.csv");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        names,
        ["lead_id", "score", "probability", "mql", "reasons"].map(String::from)
    );
}

#[test]
fn grade_matrix_counts_are_the_scored_training_files_grades() {
    let wd = Workdir::new();
    let o = train(&wd, "g.json", &["--grades"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::load(&wd.path("g.json")).unwrap();
    let grades = model.grades.as_ref().expect("a grade matrix");
    assert_eq!(grades.profile.group, "profile");
    assert_eq!(grades.behaviour.group, "behaviour");
    assert_eq!(grades.cells.len(), 16);
    let df = score(&wd, "g.json", "leads.csv", "s.csv");
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for g in texts(&df, "grade") {
        *counted.entry(g).or_default() += 1;
    }
    let mut conversions: BTreeMap<String, u64> = BTreeMap::new();
    let y = ints(&read_csv(&wd.path("leads.csv")), "converted");
    for (g, c) in texts(&df, "grade").iter().zip(&y) {
        *conversions.entry(g.clone()).or_default() += *c as u64;
    }
    for cell in &grades.cells {
        let g = cell.grade.to_string();
        assert_eq!(cell.leads, counted.get(&g).copied().unwrap_or(0), "{g}");
        assert_eq!(
            cell.conversions,
            conversions.get(&g).copied().unwrap_or(0),
            "{g}"
        );
    }
    assert_eq!(grades.cells.iter().map(|c| c.leads).sum::<u64>(), 4000);
    // --json gives the sub-score columns and the same counts per grade.
    let o = wd
        .cmd()
        .args([
            "score",
            "--model",
            "g.json",
            "--data",
            "leads.csv",
            "--out",
            "j.csv",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        summary["sub_scores"],
        serde_json::json!(["behaviour_score", "profile_score"])
    );
    for cell in &grades.cells {
        let g = cell.grade.to_string();
        assert_eq!(summary["grades"][&g].as_u64(), Some(cell.leads), "{g}");
    }
    // Out of fold, every lead is in one cell too, and the bands are real: the top quarter of
    // profiles converts more often than the bottom.
    assert_eq!(
        grades
            .cells
            .iter()
            .map(|c| c.out_of_fold_leads)
            .sum::<u64>(),
        4000
    );
    let rate = |letter: char| {
        let (n, c) = grades
            .cells
            .iter()
            .filter(|c| c.grade.to_string().starts_with(letter))
            .fold((0, 0), |(n, c), x| {
                (n + x.out_of_fold_leads, c + x.out_of_fold_conversions)
            });
        c as f64 / n.max(1) as f64
    };
    assert!(
        rate('A') > 2.0 * rate('D'),
        "A {} D {}",
        rate('A'),
        rate('D')
    );
    // Cut points are the quartiles of the out-of-fold sub-scores: at least a quarter of the
    // leads are in band A, and no more than three quarters above D.
    let a: u64 = grades.cells[..4].iter().map(|c| c.out_of_fold_leads).sum();
    assert!(a >= 1000, "{a}");
    // The grade column is the model's grade of each lead's sub-scores.
    let (b, p) = (ints(&df, "behaviour_score"), ints(&df, "profile_score"));
    for (i, g) in texts(&df, "grade").iter().enumerate().take(200) {
        let expected = format!(
            "{}{}",
            (b'A' + grades.profile.band(p[i])) as char,
            (b'1' + grades.behaviour.band(b[i])) as char
        );
        assert_eq!(*g, expected, "lead {}", i + 1);
    }
}

#[test]
fn grades_are_deterministic() {
    let wd = Workdir::new();
    // Twice streamed (rules given, no report), and once from the file loaded whole (a report
    // needs every lead's score): one model file, byte for byte.
    for (out, extra) in [("a.json", None), ("b.json", None), ("c.json", Some("rep"))] {
        let mut args = vec!["--grades", "--threshold", "grade:B2"];
        args.extend(extra.map(|dir| ["--report", dir]).into_iter().flatten());
        let o = train(&wd, out, &args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let read = |f: &str| std::fs::read(wd.path(f)).unwrap();
    assert!(
        read("a.json") == read("b.json"),
        "two runs gave different model files"
    );
    assert!(
        read("a.json") == read("c.json"),
        "streamed and whole differ"
    );
    assert!(wd.path("rep/grade-matrix.png").exists());
}

#[test]
fn a_grade_threshold_makes_mqls_by_grade_and_the_exports_make_the_same() {
    let wd = Workdir::new();
    let o = train(&wd, "g.json", &["--grades", "--threshold", "grade:B2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::load(&wd.path("g.json")).unwrap();
    assert_eq!(model.threshold.threshold.policy.to_string(), "grade:B2");
    let text = std::fs::read_to_string(wd.path("g.json")).unwrap();
    assert!(
        text.contains("\"kind\": \"grade\",\n      \"target\": \"B2\""),
        "{text}"
    );
    let df = score(&wd, "g.json", "leads.csv", "s.csv");
    let grades = texts(&df, "grade");
    let mql: Vec<bool> = df
        .column("mql")
        .unwrap()
        .bool()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let by_grade = |g: &str| {
        let (l, d) = (g.as_bytes()[0], g.as_bytes()[1]);
        l <= b'B' && d <= b'2'
    };
    for (g, m) in grades.iter().zip(&mql) {
        assert_eq!(*m, by_grade(g), "{g}");
    }
    let mqls = mql.iter().filter(|&&m| m).count();
    assert!(mqls > 100 && mqls < 3000, "{mqls}");
    // The out-of-fold funnel counts the leads of A1, A2, B1, B2 out of fold.
    let g = model.grades.as_ref().unwrap();
    let oof: u64 = g
        .cells
        .iter()
        .filter(|c| by_grade(&c.grade.to_string()))
        .map(|c| c.out_of_fold_leads)
        .sum();
    assert_eq!(model.threshold.out_of_fold.mqls as u64, oof);
    // The exports make the same MQLs by grade, with the same sub-scores and grades, lead for
    // lead on the 4,000 training leads: the SQL in SQLite and DuckDB, the PMML in JPMML.
    let o = wd
        .cmd()
        .args(["export", "--model", "g.json", "--format", "sql"])
        .args(["--dialect", "sqlite", "--table", "leads", "--out", "g.sql"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("MQL by grade B2 or better"), "{said}");
    let query = std::fs::read_to_string(wd.path("g.sql")).unwrap();
    assert!(query.contains("mql (grade B2 or better"), "{query}");
    let leads = export::Leads::read(&wd.path("leads.csv"));
    let case = export::case(&wd, "b2", model, leads, false);
    let mqls = case.expected.values().filter(|e| e.mql).count();
    assert_eq!(mqls, mql.iter().filter(|&&m| m).count());
    let db = export::sqlite_table(&case, false);
    let got = export::sqlite_rows(&db, &query);
    export::check(&case, "SQLite", &got);
    let query = export::sql(&case, Dialect::Duckdb, "leads", None);
    export::check(
        &case,
        "DuckDB",
        &export::duckdb(&wd, &case, false, &query, None),
    );
    let job = export::pmml_job(&wd, &case);
    let answer = export::run_python(&wd, "pmml", &serde_json::json!({ "jobs": [job] }));
    export::check(&case, "JPMML", &export::pmml_got(&case, &answer[0]));
    // The points sheet can: it lists the bands and the grade rule.
    let o = wd
        .cmd()
        .args([
            "export",
            "--model",
            "g.json",
            "--format",
            "points-sheet",
            "--out",
            "sheet.csv",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let sheet = std::fs::read_to_string(wd.path("sheet.csv")).unwrap();
    assert!(
        sheet.starts_with("kind,name,points,per,condition,column,group\n"),
        "{sheet}"
    );
    assert!(sheet.contains("rule,C-level or VP,"), "{sheet}");
    assert!(sheet.contains(",job_level,profile\n"), "{sheet}");
    assert_eq!(sheet.matches("grade band,").count(), 6, "{sheet}");
    assert!(sheet.contains("a lead graded B2 or better"), "{sheet}");
}

#[test]
fn the_report_draws_the_grade_matrix_and_sub_scores() {
    let wd = Workdir::new();
    let o = train(&wd, "g.json", &["--grades"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wd.synth("holdout.csv", 2000, 23);
    let o = wd
        .cmd()
        .args([
            "report",
            "--model",
            "g.json",
            "--data",
            "holdout.csv",
            "--out",
            "rep",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = wd.path("rep");
    assert_eq!(png_size(&dir.join("grade-matrix.png")), (760, 680));
    svg_parses(&dir.join("grade-matrix.svg"));
    let svg = std::fs::read_to_string(dir.join("grade-matrix.svg")).unwrap();
    // plotters writes each text on its own line within <text>…</text>.
    let drawn = |text: &str| svg.contains(&format!("\n{text}\n</text>"));
    for cell in ["A1", "B2", "D4"] {
        assert!(drawn(cell), "{cell} not drawn");
    }
    let numbers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    // The matrix counts are the holdout's grades as `score` gives them.
    let df = score(&wd, "g.json", "holdout.csv", "s.csv");
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for g in texts(&df, "grade") {
        *counted.entry(g).or_default() += 1;
    }
    for cell in numbers["grades"]["cells"].as_array().unwrap() {
        let g = cell["grade"].as_str().unwrap();
        assert_eq!(
            cell["leads"].as_u64().unwrap(),
            counted.get(g).copied().unwrap_or(0),
            "{g}"
        );
        assert!(drawn(&format!("{} leads", cell["leads"])), "{g}");
    }
    let subs = numbers["sub_scores"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["group"], "behaviour");
    let leads: u64 = subs[1]["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leads"].as_u64().unwrap())
        .sum();
    assert_eq!(leads, 2000);
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("Conversion by profile sub-score"));
    assert!(page.contains("id=\"grade-matrix\""));
}

#[test]
fn bad_groups_grades_and_grade_policies_are_clear_errors() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 1000, 8);
    let run = |rules: &str, extra: &[&str]| {
        wd.write("r.toml", rules);
        let o = wd
            .cmd()
            .args([
                "train",
                "--data",
                "leads.csv",
                "--rules",
                "r.toml",
                "--target",
                "converted",
                "--out",
                "m.json",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(!wd.path("m.json").exists());
        stderr(&o)
    };
    let rule = |name: &str, group: &str| {
        format!("[[rule]]\nname = \"{name}\"\ncolumn = \"email_opens\"\nat_least = 3\n{group}\n")
    };
    // A group that is not text names the rule.
    let err = run(&rule("Opens", "group = 3"), &[]);
    assert!(
        err.contains("rule 'Opens'") && err.contains("`group` must be a name"),
        "{err}"
    );
    let err = run(&rule("Opens", "group = [\"behaviour\"]"), &[]);
    assert!(
        err.contains("rule 'Opens'") && err.contains("array"),
        "{err}"
    );
    let err = run(&rule("Opens", "group = \"  \""), &[]);
    assert!(
        err.contains("rule 'Opens'") && err.contains("`group` is empty"),
        "{err}"
    );
    // --grades with one group, or three, names the groups and their rules.
    let one = [rule("Opens", "group = \"behaviour\""), rule("Many", "")].concat();
    let err = run(&one, &["--grades"]);
    assert!(
        err.contains("--grades") && err.contains("exactly two rule groups"),
        "{err}"
    );
    assert!(err.contains("rule 'Opens' is in 'behaviour'"), "{err}");
    assert!(err.contains("rule 'Many' has no group"), "{err}");
    let three = grouped_rules(|g| g.to_string())
        + "\n[[rule]]\nname = \"Big\"\ncolumn = \"company_size\"\nat_least = 1000\ngroup = \"size\"\n";
    let err = run(&three, &["--grades"]);
    assert!(
        err.contains("the rules have 3 ('behaviour', 'profile', 'size')"),
        "{err}"
    );
    assert!(err.contains("rule 'Big' is in 'size'"), "{err}");
    // A grade policy without --grades, and a cell that is not in the matrix.
    let grouped = grouped_rules(|g| g.to_string());
    let err = run(&grouped, &["--threshold", "grade:B2"]);
    assert!(err.contains("add --grades"), "{err}");
    let err = run(&grouped, &["--grades", "--threshold", "grade:E7"]);
    assert!(
        err.contains("grade:E7") && err.contains("not a cell of the grade matrix"),
        "{err}"
    );
    assert!(err.contains("A1 … D4"), "{err}");
}

#[test]
fn other_group_names_take_letters_in_file_order() {
    // Neither `profile` nor `behaviour`: the first group in the file takes letters.
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 31);
    wd.write(
        "r.toml",
        &grouped_rules(|g| {
            if g == "behaviour" {
                "engagement"
            } else {
                "fit"
            }
            .to_string()
        }),
    );
    let o = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "r.toml",
            "--out",
            "m.json",
            "--grades",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::load(&wd.path("m.json")).unwrap();
    let g = model.grades.unwrap();
    assert_eq!(
        (g.profile.group.as_str(), g.behaviour.group.as_str()),
        ("engagement", "fit")
    );
}

#[test]
fn grade_models_match_the_schema_and_old_files_load_unchanged() {
    let wd = Workdir::new();
    let o = train(&wd, "g.json", &["--grades", "--threshold", "grade:A3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = crate::model_file::schema();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("g.json")).unwrap()).unwrap();
    assert_eq!(crate::model_file::errors(&v, &doc), Vec::<String>::new());
    // The schema refuses a cell outside the matrix and a rule group that is not text.
    let mut bad = doc.clone();
    bad["threshold"]["policy"]["target"] = "E7".into();
    assert!(!crate::model_file::errors(&v, &bad).is_empty());
    assert!(Model::from_json(&bad.to_string())
        .unwrap_err()
        .contains("not a cell of the grade matrix"));
    let mut bad = doc.clone();
    bad["rules"][0]["group"] = 3.into();
    assert!(!crate::model_file::errors(&v, &bad).is_empty());
    // A grade threshold without a matrix is refused when loading.
    let mut bad = doc.clone();
    bad.as_object_mut().unwrap().remove("grades");
    let err = Model::from_json(&bad.to_string()).unwrap_err();
    assert!(
        err.contains("no grade matrix; retrain with --grades"),
        "{err}"
    );
    // A model file from before groups loads and writes back byte for byte.
    let committed = std::fs::read_to_string(crate::repo().join("models/lead-model.json")).unwrap();
    assert_eq!(Model::from_json(&committed).unwrap().to_json(), committed);
}
