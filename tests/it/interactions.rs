//! `--propose-interactions N`: on synthetic leads with a planted AND effect (+1.0 on top of its
//! parts), given only the parts, the search proposes exactly that pair first and nothing else;
//! on leads whose truth is additive it proposes none. The written rules file trains back to the
//! same points, the model file is the same bytes run after run and whether the file is streamed
//! or loaded whole, and rules that cannot be paired get an error saying why.

use std::fmt::Write as _;

use mqlcal::data::{LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::progress::Silent;
use mqlcal::rules::RulesFile;
use mqlcal::train::{train, train_file, TrainParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{stderr, Workdir};

/// The parts only: six rules, one of them per unit (never paired).
const PARTS: &str = r#"id = "lead_id"
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
name = "Pricing visits (each)"
column = "pricing_visits"
per_unit = true
cap = 5

[[rule]]
name = "VP or C-level"
column = "job_level"
one_of = ["VP", "C-Level"]

[[rule]]
name = "Opened an email"
column = "email_opened"
at_least = 1

[[rule]]
name = "Region EU"
column = "region"
one_of = ["EU"]
"#;

/// The planted pair's name as the search writes it.
const PLANTED: &str = "Company 100+ employees and Two or more downloads";

/// `n` leads whose true log-odds are −2.6 + 0.7·[size ≥ 100] + 0.5·[downloads ≥ 2] + 0.15 per
/// pricing visit (up to 5) + 0.6·[VP or C-Level] + 0.4·[email opened] − 0.3·[EU], plus `and`
/// when size ≥ 100 and downloads ≥ 2 both hold. Some sizes and download counts are missing.
fn leads(n: usize, and: f64, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::from(
        "lead_id,company_size,whitepaper_downloads,pricing_visits,job_level,email_opened,region,\
         converted\n",
    );
    let levels = ["VP", "C-Level", "Manager", "Analyst", "Director"];
    let regions = ["EU", "US", "APAC"];
    for i in 0..n {
        let size: Option<u32> = (!rng.gen_bool(0.05)).then(|| {
            if rng.gen_bool(0.45) {
                rng.gen_range(100..5000)
            } else {
                rng.gen_range(1..100)
            }
        });
        let downloads: Option<u32> = (!rng.gen_bool(0.05)).then(|| rng.gen_range(0..5));
        let visits: u32 = rng.gen_range(0..8);
        let level = levels[rng.gen_range(0..levels.len())];
        let email = rng.gen_bool(0.4);
        let region = regions[rng.gen_range(0..regions.len())];
        let big = size.is_some_and(|s| s >= 100);
        let engaged = downloads.is_some_and(|d| d >= 2);
        let z = -2.6
            + 0.7 * f64::from(u8::from(big))
            + 0.5 * f64::from(u8::from(engaged))
            + 0.15 * f64::from(visits.min(5))
            + 0.6 * f64::from(u8::from(level == "VP" || level == "C-Level"))
            + 0.4 * f64::from(u8::from(email))
            - 0.3 * f64::from(u8::from(region == "EU"))
            + and * f64::from(u8::from(big && engaged));
        let converted = rng.gen_bool(1.0 / (1.0 + (-z).exp()));
        let cell = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
        writeln!(
            out,
            "L{i},{},{},{visits},{level},{},{region},{}",
            cell(size),
            cell(downloads),
            u8::from(email),
            u8::from(converted)
        )
        .unwrap();
    }
    out
}

/// Trains `data` with the parts and `--propose-interactions n` through the binary.
fn propose(wd: &Workdir, data: &str, n: &str, out: &str, extra: &[&str]) {
    wd.cmd()
        .args([
            "train",
            "--data",
            data,
            "--rules",
            "parts.toml",
            "--out",
            out,
        ])
        .args(["--propose-interactions", n])
        .args(extra)
        .assert()
        .success();
}

/// Rule name and points, in model order.
fn points(model: &Model) -> Vec<(String, i64)> {
    model
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.points.0))
        .collect()
}

#[test]
fn the_planted_pair_is_proposed_first_and_alone_and_trains_back() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads(50_000, 1.0, 7));
    wd.write("parts.toml", PARTS);
    propose(
        &wd,
        "leads.csv",
        "3",
        "m.json",
        &["--write-rules", "with-and.toml"],
    );
    let m = Model::load(&wd.path("m.json")).unwrap();
    let search = m.training.interactions.as_ref().expect("search recorded");
    assert_eq!(search.asked, 3);
    // The 10 pairs of the 5 rules that are 1 or 0, each firing together and apart on 500+ leads.
    assert_eq!(search.min_leads, 500);
    assert_eq!(search.pairs, 10);
    let kept: Vec<&str> = search
        .steps
        .iter()
        .filter(|s| s.kept)
        .map(|s| s.rule.as_str())
        .collect();
    assert_eq!(kept, [PLANTED], "steps: {:#?}", search.steps);
    // The search stopped at the first pair that did not pass, which passed nowhere near.
    assert_eq!(search.steps.len(), 2, "{:#?}", search.steps);
    let first = &search.steps[0];
    assert!(
        first.cv_log_loss_before - first.cv_log_loss > 3.0 * first.bar,
        "{:#?}",
        search.steps
    );
    // The AND is an ordinary compound rule with its points: about +1.0 in log-odds.
    let and = m.rules.iter().find(|r| r.name == PLANTED).unwrap();
    assert_eq!(
        and.condition.describe(""),
        "company_size >= 100 and whitepaper_downloads >= 2"
    );
    assert!((and.weight - 1.0).abs() < 0.2, "AND weight {}", and.weight);
    assert_eq!(m.rules.len(), 7);

    // The written rules file holds it as `all = [...]` and trains back to the same points.
    let written = std::fs::read_to_string(wd.path("with-and.toml")).unwrap();
    assert!(
        written.contains(&format!("name = \"{PLANTED}\"")),
        "{written}"
    );
    assert!(
        written.contains("[[rule.all]]") || written.contains("all = ["),
        "{written}"
    );
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "with-and.toml"])
        .args(["--out", "back.json"])
        .assert()
        .success();
    let back = Model::load(&wd.path("back.json")).unwrap();
    assert_eq!(points(&back), points(&m));
    for (a, b) in back.rules.iter().zip(&m.rules) {
        assert_eq!(a.condition, b.condition);
        assert_eq!(a.weight, b.weight, "rule '{}'", a.name);
    }
    assert_eq!(back.calibration, m.calibration);
    assert_eq!(back.threshold, m.threshold);
    assert!(back.training.interactions.is_none());
    // Searching again from the written file: the pair is a rule now, so it is no candidate
    // (10 − 1 pairs of the parts, and 3 of the AND rule with the parts on other columns).
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "with-and.toml"])
        .args(["--out", "again-search.json", "--propose-interactions", "3"])
        .assert()
        .success();
    let again = Model::load(&wd.path("again-search.json")).unwrap();
    let search_again = again.training.interactions.as_ref().unwrap();
    assert_eq!(search_again.pairs, 12, "{search_again:#?}");
    assert!(
        !search_again
            .steps
            .iter()
            .any(|s| s.rule.starts_with(PLANTED) && s.kept),
        "{search_again:#?}"
    );

    // Same data, options and seed: the same bytes.
    propose(&wd, "leads.csv", "3", "again.json", &[]);
    assert_eq!(
        std::fs::read(wd.path("m.json")).unwrap(),
        std::fs::read(wd.path("again.json")).unwrap()
    );
    // The binary streamed the file (given rules, no report); loaded whole, the same model.
    let file = RulesFile::read(&wd.path("parts.toml")).unwrap();
    let mut p = TrainParams::new("converted");
    p.id = file.id.clone();
    p.rules = Some(file.checked_rules().unwrap());
    p.interactions = 3;
    let load = LoadOptions::default();
    let table = Table::load(&wd.path("leads.csv"), &load).unwrap();
    let whole = train(&table, &p).unwrap().model;
    let streamed = train_file(&wd.path("leads.csv"), &load, &p, 10_000, &Silent)
        .unwrap()
        .model;
    assert_eq!(whole.to_json(), streamed.to_json());
    assert_eq!(points(&whole), points(&m));
}

#[test]
fn an_additive_truth_gets_no_pair() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads(50_000, 0.0, 8));
    wd.write("parts.toml", PARTS);
    // N far beyond what the data holds: the search stops at the first pair that fails.
    propose(&wd, "leads.csv", "40", "m.json", &[]);
    let m = Model::load(&wd.path("m.json")).unwrap();
    let search = m.training.interactions.as_ref().unwrap();
    assert_eq!(search.steps.len(), 1, "{:#?}", search.steps);
    assert!(!search.steps[0].kept);
    assert_eq!(m.rules.len(), 6);
    let out = wd
        .cmd()
        .args(["inspect", "--model", "m.json"])
        .output()
        .unwrap();
    let text = crate::stdout(&out);
    assert!(text.contains("0 of up to 40 AND rules kept"), "{text}");
    assert!(text.contains("not kept"), "{text}");
}

#[test]
fn proposed_rules_with_interactions_train_back() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads(20_000, 1.0, 9));
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--target", "converted"])
        .args(["--id", "lead_id", "--out", "m.json"])
        .args(["--propose-interactions", "2", "--write-rules", "p.toml"])
        .assert()
        .success();
    let m = Model::load(&wd.path("m.json")).unwrap();
    let kept = m
        .training
        .interactions
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .filter(|s| s.kept)
        .count();
    assert!(kept >= 1, "{:#?}", m.training.interactions);
    let written = std::fs::read_to_string(wd.path("p.toml")).unwrap();
    assert_eq!(written.matches("[[rule]]").count(), m.rules.len());
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "p.toml"])
        .args(["--out", "back.json"])
        .assert()
        .success();
    let back = Model::load(&wd.path("back.json")).unwrap();
    assert_eq!(points(&back), points(&m));
}

#[test]
fn rules_that_cannot_be_paired_are_an_error_saying_why() {
    let wd = Workdir::new();
    wd.write("leads.csv", &leads(2000, 0.0, 3));
    wd.write(
        "parts.toml",
        r#"target = "converted"

[[rule]]
name = "Pricing visits (each)"
column = "pricing_visits"
per_unit = true

[[rule]]
name = "Company 100+ employees"
column = "company_size"
at_least = 100

[[rule]]
name = "Small company"
column = "company_size"
below = 10
"#,
    );
    let out = wd
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules", "parts.toml"])
        .args(["--out", "m.json", "--propose-interactions", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--propose-interactions") && err.contains("none of the 3 rules can be paired"),
        "{err}"
    );
    assert!(err.contains("per-unit"), "{err}");
    assert!(!wd.path("m.json").exists());
}
