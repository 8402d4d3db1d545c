//! Compound rules (`all`/`any`) and `ignore_case`: a planted AND effect is recovered, scoring
//! by file and by library agree on AND and OR rules with missing and boundary values, the
//! streamed and whole-file fits give one model, the points sheet and inspect say the rule in
//! words, bad rules files get errors naming the rule, and near misses of a level are warned
//! about. (Parity in SQL engines and PMML: the `compound` case of export.rs, and the counts
//! tests' rules hold compound rules too.)

use std::fmt::Write as _;

use mqlcal::data::{LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::progress::Silent;
use mqlcal::rules::RulesFile;
use mqlcal::train::{train, train_file, TrainParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{stderr, stdout, Workdir};

/// The parts and their AND, as the MQL guides write it.
const RULES: &str = r#"id = "lead_id"
target = "converted"

[[rule]]
name = "Company 100+ employees"
column = "company_size"
at_least = 100

[[rule]]
name = "Two or more downloads"
column = "whitepaper_downloads"
at_least = 2

[[rule]]
name = "Enterprise and engaged"
all = [ { column = "company_size", at_least = 100 }, { column = "whitepaper_downloads", at_least = 2 } ]

[[rule]]
name = "VP or budget"
ignore_case = true
any = [ { column = "job_level", one_of = ["VP", "C-Level"] }, { column = "budget", one_of = ["yes"] } ]
"#;

/// True log-odds: −2.2 + 0.7·[size ≥ 100] + 0.5·[downloads ≥ 2] + 1.0·[both] + 0.6·[VP or
/// budget]. A missing size or download count fires neither its part nor the AND.
const TRUTH: [f64; 5] = [-2.2, 0.7, 0.5, 1.0, 0.6];

/// `n` leads of that world as CSV text: some sizes and download counts missing, job levels
/// written in several cases and with spaces.
fn planted(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out =
        String::from("lead_id,company_size,whitepaper_downloads,job_level,budget,converted\n");
    let levels = [
        "VP", "vp", " Vp ", "Manager", "C-level", "Analyst", "Director", "",
    ];
    for i in 0..n {
        let size: Option<u32> = (!rng.gen_bool(0.05)).then(|| {
            // Half the companies at 100 or more, some exactly at the boundary.
            if rng.gen_bool(0.1) {
                100
            } else if rng.gen_bool(0.5) {
                rng.gen_range(100..5000)
            } else {
                rng.gen_range(1..100)
            }
        });
        let downloads: Option<u32> = (!rng.gen_bool(0.05)).then(|| rng.gen_range(0..5));
        let level = levels[rng.gen_range(0..levels.len())];
        let budget = if rng.gen_bool(0.2) { "YES" } else { "no" };
        let big = size.is_some_and(|s| s >= 100);
        let engaged = downloads.is_some_and(|d| d >= 2);
        let vp_or_budget = ["vp", "c-level"].contains(&level.trim().to_ascii_lowercase().as_str())
            || budget.eq_ignore_ascii_case("yes");
        let z = TRUTH[0]
            + TRUTH[1] * big as u8 as f64
            + TRUTH[2] * engaged as u8 as f64
            + TRUTH[3] * (big && engaged) as u8 as f64
            + TRUTH[4] * vp_or_budget as u8 as f64;
        let converted = rng.gen_bool(1.0 / (1.0 + (-z).exp()));
        let cell = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
        writeln!(
            out,
            "L{i},{},{},{level},{budget},{}",
            cell(size),
            cell(downloads),
            converted as u8
        )
        .unwrap();
    }
    out
}

fn weights(model: &Model) -> Vec<f64> {
    model.rules.iter().map(|r| r.weight).collect()
}

#[test]
fn a_planted_and_effect_is_recovered_and_every_path_agrees() {
    let wd = Workdir::new();
    let data = wd.write("leads.csv", &planted(60_000, 11));
    let rules = wd.write("rules.toml", RULES);
    let file = RulesFile::read(&rules).unwrap();
    let mut p = TrainParams::new("converted");
    p.id = file.id.clone();
    p.rules = Some(file.checked_rules().unwrap());
    let load = LoadOptions::default();
    let table = Table::load(&data, &load).unwrap();
    let whole = train(&table, &p).unwrap().model;
    let w = weights(&whole);
    for (j, truth) in TRUTH[1..].iter().enumerate() {
        assert!(
            (w[j] - truth).abs() < 0.15,
            "rule '{}': weight {:.3}, truth {truth}",
            whole.rules[j].name,
            w[j]
        );
    }
    // The streamed fit, in batches that cut through the file, gives the same bytes.
    for batch in [7, 4096] {
        let streamed = train_file(&data, &load, &p, batch, &Silent).unwrap().model;
        assert_eq!(streamed.to_json(), whole.to_json(), "batches of {batch}");
    }
    // `ignore_case` matched every spelling of VP; no near-miss warning then.
    assert!(!whole.warnings.iter().any(|w| w.contains("only in case")));

    // Without the AND rule, its effect leaks into the parts' weights: the AND rule is what
    // recovers them (a check that the planted effect is there at all).
    let mut parts_only = p.clone();
    parts_only.rules.as_mut().unwrap().remove(2);
    let m = train(&table, &parts_only).unwrap().model;
    assert!(weights(&m)[0] > TRUTH[1] + 0.2 && weights(&m)[1] > TRUTH[2] + 0.2);
}

#[test]
fn file_and_library_scores_agree_on_and_and_or_rules() {
    let wd = Workdir::new();
    wd.write("leads.csv", &planted(3000, 5));
    wd.write("rules.toml", RULES);
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "rules.toml"])
        .args(["--out", "model.json"])
        .assert()
        .success();
    let model = Model::load(&wd.path("model.json")).unwrap();
    // Leads at the boundaries, with missing parts, text that differs in case and spaces.
    let leads = "lead_id,company_size,whitepaper_downloads,job_level,budget\n\
                 A,100,2,,\n\
                 B,99.999,2,VP,no\n\
                 C,,5, vP ,\n\
                 D,5000,,Analyst,yes\n\
                 E,100,1.999,Manager,Yes\n\
                 F,,,,\n\
                 G,250,3,c-LEVEL,NO\n";
    wd.write("new.csv", leads);
    wd.cmd()
        .args(["score", "--model", "model.json", "--data", "new.csv"])
        .args(["--out", "scored.csv", "--reasons", "10"])
        .assert()
        .success();
    let scored = std::fs::read_to_string(wd.path("scored.csv")).unwrap();
    let mut r = csv::Reader::from_reader(leads.as_bytes());
    let header = r.headers().unwrap().clone();
    let points = |name: &str| {
        model
            .rules
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .points
            .0
    };
    let (size, dl, and, vp) = (
        points("Company 100+ employees"),
        points("Two or more downloads"),
        points("Enterprise and engaged"),
        points("VP or budget"),
    );
    // The score each lead must get, worked out by hand from the rules.
    let expected = [
        ("A", size + dl + and),
        ("B", dl + vp),
        ("C", dl + vp),
        ("D", size + vp),
        ("E", size + vp),
        ("F", 0),
        ("G", size + dl + and + vp),
    ];
    let lines: Vec<&str> = scored.lines().skip(1).collect();
    for ((row, line), (id, score)) in r.records().zip(&lines).zip(expected) {
        let row = row.unwrap();
        let lib = model
            .score_lead(|c| {
                model.cell(
                    header
                        .iter()
                        .position(|h| h == c)
                        .map(|j| row.get(j).unwrap()),
                )
            })
            .unwrap();
        assert_eq!(lib.score, score, "lead {id} by the library");
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], id);
        assert_eq!(
            fields[1].parse::<i64>().unwrap(),
            score,
            "lead {id} in {line}"
        );
    }
    // The rule in words wherever rules are listed.
    let out = wd
        .cmd()
        .args(["inspect", "--model", "model.json"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("company_size >= 100 and whitepaper_downloads >= 2"),
        "{text}"
    );
    assert!(text.contains("(any case) or budget"), "{text}");
    wd.cmd()
        .args([
            "export",
            "--model",
            "model.json",
            "--format",
            "points-sheet",
        ])
        .args(["--out", "sheet.csv"])
        .assert()
        .success();
    let sheet = std::fs::read_to_string(wd.path("sheet.csv")).unwrap();
    assert!(
        sheet.contains("company_size >= 100 and whitepaper_downloads >= 2,\"company_size, whitepaper_downloads\""),
        "{sheet}"
    );
}

#[test]
fn text_that_differs_only_in_case_is_warned_about() {
    let wd = Workdir::new();
    wd.write("leads.csv", &planted(2000, 3));
    // Exact matching: `vp`, ` Vp ` (trimmed to `Vp`) and `C-level` miss their levels.
    let exact = RULES.replace("ignore_case = true\n", "");
    wd.write("rules.toml", &exact);
    let out = wd
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules", "rules.toml"])
        .args(["--out", "model.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("rule 'VP or budget'") && err.contains("'vp' (") && err.contains("'Vp' ("),
        "{err}"
    );
    assert!(
        err.contains("differ from the level 'VP' only in case"),
        "{err}"
    );
    assert!(err.contains("add `ignore_case = true`"), "{err}");
    assert!(err.contains("'YES' ("), "budget 'YES' against 'yes': {err}");
    // The warning is kept in the model, as other training warnings are.
    let model = Model::load(&wd.path("model.json")).unwrap();
    assert!(model.warnings.iter().any(|w| w.contains("only in case")));
}

/// Each bad rules file gets exit code 1 and a message naming the rule and what to do.
#[test]
fn bad_compound_rules_are_errors_naming_the_rule() {
    let wd = Workdir::new();
    wd.write("leads.csv", "a,b,converted\n1,2,0\n3,4,1\n");
    let cases: [(&str, &[&str]); 8] = [
        (
            "[[rule]]\nname='One part'\nall=[{column='a', at_least=1}]\n",
            &["rule 'One part'", "`all` has 1 part", "at least two"],
        ),
        (
            "[[rule]]\nname='Empty'\nany=[]\n",
            &["rule 'Empty'", "`any` has 0 parts"],
        ),
        (
            "[[rule]]\nname='Units'\nall=[{column='a', per_unit=true}, {column='b', at_least=1}]\n",
            &["rule 'Units', part 1 of `all`", "`per_unit`", "own rule"],
        ),
        (
            "[[rule]]\nname='Nested'\nall=[{column='a', at_least=1}, {column='b', any=[]}]\n",
            &["rule 'Nested', part 2 of `all`", "one level only"],
        ),
        (
            "[[rule]]\nname='Both'\nall=[{column='a', at_least=1}, {column='b', at_least=1}]\nany=[{column='a', at_least=1}, {column='b', at_least=1}]\n",
            &["rule 'Both' has both `all` and `any`"],
        ),
        (
            "[[rule]]\nname='Column too'\ncolumn='a'\nall=[{column='a', at_least=1}, {column='b', at_least=1}]\n",
            &["rule 'Column too'", "move `column`"],
        ),
        (
            "[[rule]]\nname='No condition'\nall=[{column='a'}, {column='b', at_least=1}]\n",
            &["rule 'No condition', part 1 of `all` must have exactly one condition"],
        ),
        (
            "[[rule]]\nname='Case of what'\ncolumn='a'\nat_least=1\nignore_case=true\n",
            &["rule 'Case of what'", "`ignore_case` applies to `one_of`"],
        ),
    ];
    for (rules, needles) in cases {
        wd.write("rules.toml", rules);
        let out = wd
            .cmd()
            .args(["train", "--data", "leads.csv", "--rules", "rules.toml"])
            .args(["--target", "converted", "--out", "model.json", "--force"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{rules}\n{err}");
        assert!(err.contains("rules.toml"), "names the file: {err}");
        for n in needles {
            assert!(err.contains(n), "{rules}\nstderr lacks '{n}':\n{err}");
        }
        assert!(!wd.path("model.json").exists());
    }
}
