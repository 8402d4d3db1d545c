//! `mqlcal retrain` and the model directory: the challenger wins when the world changed and
//! loses when it did not; a run killed at any step (a fault hook, or a kill at a random moment)
//! leaves `current.json` loadable and `models list` working; a second run on the same
//! directory is turned away with the holder's name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mqlcal::model::Model;
use mqlcal::registry::{ModelDir, FAULT_ENV};
use mqlcal::synth::SynthParams;
use serde_json::Value;

use crate::{stderr, stdout, Workdir};

const BUDGET: &str = "Budget confirmed";

/// Old leads (2025), a champion trained on them with the date column, and new leads (2026)
/// from the same truth or with one rule's true weight changed.
fn setup(wd: &Workdir, rows: usize, new_weight: Option<(&str, f64)>, new_seed: u64) {
    wd.synth_with(
        "old.csv",
        &SynthParams {
            rows,
            seed: 1,
            ..SynthParams::default()
        },
    );
    wd.train_bundled("old.csv", "champion.json", &["--date", "created_at"]);
    let mut new = SynthParams {
        rows,
        seed: new_seed,
        first_day: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        ..SynthParams::default()
    };
    if let Some((rule, w)) = new_weight {
        new = new.with_weight(rule, w).unwrap();
    }
    wd.synth_with("new.csv", &new);
}

fn retrain(wd: &Workdir, dir: &str) -> assert_cmd::Command {
    let mut c = wd.cmd();
    c.args([
        "retrain",
        "--champion",
        "champion.json",
        "--data",
        "new.csv",
    ])
    .args(["--out", dir]);
    c
}

/// The one comparison.json under `dir/comparisons/`.
fn comparison(dir: &Path) -> Value {
    let found: Vec<PathBuf> = std::fs::read_dir(dir.join("comparisons"))
        .unwrap()
        .map(|e| e.unwrap().path().join("comparison.json"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    serde_json::from_str(&std::fs::read_to_string(&found[0]).unwrap()).unwrap()
}

fn change_of(c: &Value, rule: &str) -> i64 {
    c["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))["change"]
        .as_i64()
        .unwrap()
}

#[test]
fn the_challenger_wins_when_a_rule_loses_its_effect() {
    let wd = Workdir::new();
    // The budget rule's true weight goes from 0.9 (26 points) to nothing.
    setup(&wd, 20_000, Some((BUDGET, 0.0)), 2);
    let out = retrain(&wd, "models")
        .args(["--date", "created_at", "--eval-last", "90d"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("promoted:"), "{text}");

    let dir = wd.path("models");
    let c = comparison(&dir);
    let d = &c["decision"];
    assert_eq!(d["promote"], true, "{d}");
    assert_eq!(d["forced"], false);
    let (champ, chall) = (&c["champion"]["metrics"], &c["challenger"]["metrics"]);
    assert!(
        chall["log_loss"].as_f64().unwrap() + 0.002 <= champ["log_loss"].as_f64().unwrap(),
        "{champ} {chall}"
    );
    // Both were scored on the same rows: the last 90 days of the new leads.
    assert_eq!(champ["rows"], chall["rows"]);
    assert_eq!(c["evaluation"]["last_date"], "2026-12-31");
    assert!(c["evaluation"]["first_date"].as_str().unwrap() > "2026-10-01");
    // The budget rule's points fall, and by more than any other rule's move.
    let budget = change_of(&c, BUDGET);
    assert!(budget <= -15, "budget points changed by {budget}");
    for r in c["rules"].as_array().unwrap() {
        if r["name"] != BUDGET {
            assert!(r["change"].as_i64().unwrap().abs() < budget.abs(), "{r}");
        }
    }
    for key in ["lead_to_mql_rate", "mql_to_opportunity_rate"] {
        assert!(c["challenger"]["funnel"][key].as_f64().unwrap() > 0.0);
    }
    assert!(c["score_psi"].as_f64().unwrap().is_finite());
    assert_eq!(c["drift"].as_array().unwrap().len(), 12);

    // current.json is the challenger; both versions are kept; the report is there.
    let current = Model::load(&dir.join("current.json")).unwrap();
    let chall_version = c["challenger"]["version"].as_str().unwrap();
    assert_eq!(
        ModelDir::open(&dir).unwrap().current().unwrap().as_deref(),
        Some(chall_version)
    );
    assert!(chall_version.starts_with("2026-10-02-"), "{chall_version}");
    assert_eq!(current.training.newest_lead.as_deref(), Some("2026-10-02"));
    let list = wd
        .cmd()
        .args(["models", "list", "--dir", "models"])
        .output()
        .unwrap();
    assert!(list.status.success());
    let listed = stdout(&list);
    assert!(listed.contains(&format!("* {chall_version}")), "{listed}");
    assert!(listed.contains(c["champion"]["version"].as_str().unwrap()));
    let report = std::fs::read_dir(dir.join("comparisons"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    for f in [
        "index.html",
        "reliability-both.png",
        "reliability-both.svg",
        "champion/index.html",
        "challenger/reliability.png",
    ] {
        assert!(report.path().join(f).is_file(), "{f}");
    }

    // `models diff` shows the budget rule's points falling, as comparison.json does.
    let diff = wd
        .cmd()
        .args(["models", "diff", "champion.json", "models/current.json"])
        .output()
        .unwrap();
    assert!(diff.status.success(), "{}", stderr(&diff));
    let diff = stdout(&diff);
    let line = diff.lines().find(|l| l.ends_with(BUDGET)).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[2], format!("{budget:+}"), "{line}");
    assert!(diff.contains("threshold (points)") && diff.contains("log loss"));
}

#[test]
fn the_champion_is_kept_when_nothing_changed() {
    let wd = Workdir::new();
    setup(&wd, 20_000, None, 3);
    let out = retrain(&wd, "models").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("kept the champion"),
        "{}",
        stdout(&out)
    );
    let dir = wd.path("models");
    let c = comparison(&dir);
    assert_eq!(c["decision"]["promote"], false, "{}", c["decision"]);
    let reason = c["decision"]["reason"].as_str().unwrap();
    assert!(reason.contains("log loss"), "{reason}");
    // No rule moved as far as a real change moves one.
    for r in c["rules"].as_array().unwrap() {
        assert!(r["change"].as_i64().unwrap().abs() < 15, "{r}");
    }
    // The champion (from outside) was added and is current; the challenger is kept too.
    let champion = Model::load(&wd.path("champion.json")).unwrap();
    assert_eq!(Model::load(&dir.join("current.json")).unwrap(), champion);
    assert_eq!(ModelDir::open(&dir).unwrap().versions().unwrap().len(), 2);

    // --promote overrides, and says so; running the same retrain again adds nothing new.
    let out = retrain(&wd, "models").arg("--promote").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("promoted by --promote"), "{text}");
    assert!(text.contains("kept from an earlier run"), "{text}");
    let dir = ModelDir::open(&dir).unwrap();
    assert_eq!(dir.versions().unwrap().len(), 2);
    assert_eq!(
        dir.current().unwrap().as_deref(),
        c["challenger"]["version"].as_str()
    );
}

/// What `models list` and `current.json` look like after a run died.
fn check_survives(wd: &Workdir, dir: &str, expected_current: Option<&Model>, what: &str) {
    let list = wd
        .cmd()
        .args(["models", "list", "--dir", dir])
        .output()
        .unwrap();
    assert!(list.status.success(), "{what}: {}", stderr(&list));
    let listed = stdout(&list);
    assert!(!listed.contains("cannot be read"), "{what}: {listed}");
    let path = wd.path(dir).join("current.json");
    match expected_current {
        Some(m) => assert_eq!(&Model::load(&path).unwrap(), m, "{what}"),
        None => assert!(
            std::fs::symlink_metadata(&path).is_err(),
            "{what}: current.json should not exist yet"
        ),
    }
}

/// The challenger that a successful run would make (the run is deterministic).
fn expected_challenger(wd: &Workdir) -> Model {
    retrain(wd, "reference").arg("--promote").assert().success();
    Model::load(&wd.path("reference/current.json")).unwrap()
}

#[test]
fn a_retrain_killed_at_each_step_leaves_current_valid() {
    let wd = Workdir::new();
    setup(&wd, 4000, Some((BUDGET, 0.0)), 2);
    let champion = Model::load(&wd.path("champion.json")).unwrap();
    let challenger = expected_challenger(&wd);
    // (step, current after the crash) into an empty directory: the run first imports the
    // champion and makes it current, then adds the challenger and promotes it (--promote).
    let steps: [(&str, Option<&Model>); 9] = [
        ("after-lock", None),
        ("after-train", None),
        ("before-rename-version", None),
        ("after-import-champion", None),
        ("before-rename-current", None),
        ("after-first-current", Some(&champion)),
        ("after-write-version", Some(&champion)),
        ("after-write-comparison", Some(&champion)),
        ("after-promote", Some(&challenger)),
    ];
    for (step, expected) in steps {
        let dir = format!("models-{step}");
        let out = retrain(&wd, &dir)
            .arg("--promote")
            .env(FAULT_ENV, step)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{step}: the fault hook did not fire");
        assert!(stderr(&out).contains(step), "{step}: {}", stderr(&out));
        check_survives(&wd, &dir, expected, step);
        // The next run finishes the job.
        retrain(&wd, &dir).arg("--promote").assert().success();
        check_survives(&wd, &dir, Some(&challenger), &format!("{step}, rerun"));
    }

    // A directory with a current version (a margin no model meets keeps the champion): a
    // crash while replacing the pointer keeps it.
    let dir = "models-promote";
    retrain(&wd, dir).args(["--margin", "1"]).assert().success();
    let before = Model::load(&wd.path(dir).join("current.json")).unwrap();
    assert_eq!(before, champion);
    let out = retrain(&wd, dir)
        .arg("--promote")
        .env(FAULT_ENV, "before-rename-current")
        .output()
        .unwrap();
    assert!(!out.status.success());
    check_survives(&wd, dir, Some(&champion), "second promotion");
}

fn spawn_retrain(wd: &Workdir, dir: &str, fault: Option<&str>) -> std::process::Child {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("mqlcal"));
    c.current_dir(wd.dir.path())
        .args([
            "retrain",
            "--champion",
            "champion.json",
            "--data",
            "new.csv",
        ])
        .args(["--out", dir, "--promote"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(f) = fault {
        c.env(FAULT_ENV, f);
    }
    c.spawn().unwrap()
}

#[test]
fn a_retrain_killed_at_a_random_moment_leaves_current_valid() {
    use rand::Rng;
    let wd = Workdir::new();
    setup(&wd, 4000, Some((BUDGET, 0.0)), 2);
    let champion = Model::load(&wd.path("champion.json")).unwrap();
    let started = Instant::now();
    let challenger = expected_challenger(&wd);
    // Kills land anywhere in a whole run (timed just now). The delays are random on purpose
    // (each test run probes other moments); they are in the failure message for replay.
    let run = started.elapsed().as_millis() as u64;
    let mut rng = rand::thread_rng();
    for round in 0..5 {
        let dir = format!("models-{round}");
        // A directory whose current version is the champion, as a past run leaves it.
        let d = ModelDir::create(&wd.path(&dir)).unwrap();
        let lock = d.lock("test setup").unwrap();
        let (name, _) = d.add(&champion, &lock).unwrap();
        d.set_current(&name, &lock).unwrap();
        drop(lock);
        let delay = Duration::from_millis(rng.gen_range(0..=run));
        let mut child = spawn_retrain(&wd, &dir, None);
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        let current = Model::load(&wd.path(&dir).join("current.json"))
            .unwrap_or_else(|e| panic!("killed after {delay:?}: {e}"));
        assert!(
            current == champion || current == challenger,
            "killed after {delay:?}: current is neither model"
        );
        check_survives(
            &wd,
            &dir,
            Some(&current),
            &format!("killed after {delay:?}"),
        );
    }
}

#[test]
fn a_second_retrain_on_the_same_directory_is_turned_away() {
    let wd = Workdir::new();
    setup(&wd, 3000, None, 3);
    // The first run holds the lock and waits (fault hook); the second must be told who.
    let mut first = spawn_retrain(&wd, "models", Some("after-lock:hang"));
    let lock = wd.path("models/.lock");
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first run never locked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = retrain(&wd, "models").output().unwrap();
    let promote = wd
        .cmd()
        .args(["models", "promote", "--dir", "models", "anything"])
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("in use by another mqlcal run"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("retrain"), "{err}");
    assert!(stderr(&promote).contains("in use by another mqlcal run"));

    // Killed while holding it, the first run leaves no stale lock.
    retrain(&wd, "models").assert().success();

    // Two runs started together: each either finishes or is turned away by the lock, and the
    // directory stays whole.
    let runs: Vec<_> = (0..2)
        .map(|_| spawn_retrain(&wd, "models-together", None))
        .collect();
    let mut finished = 0;
    for run in runs {
        let out = run.wait_with_output().unwrap();
        if out.status.success() {
            finished += 1;
        } else {
            assert!(
                stderr(&out).contains("in use by another mqlcal run"),
                "{}",
                stderr(&out)
            );
        }
    }
    assert!(finished >= 1);
    let current = Model::load(&wd.path("models-together/current.json")).unwrap();
    check_survives(&wd, "models-together", Some(&current), "two runs together");
}

#[test]
fn bad_retrain_input_is_a_clear_error() {
    let wd = Workdir::new();
    setup(&wd, 1500, None, 3);
    let run = |extra: &[&str]| retrain(&wd, "models").args(extra).output().unwrap();
    // (extra arguments, exit code, words the message must hold)
    let cases: [(&[&str], i32, &[&str]); 5] = [
        (
            &["--date", "signup"],
            1,
            &["new.csv", "'signup' not found", "--holdout"],
        ),
        (
            &["--eval-last", "5000d"],
            1,
            &["every lead falls in the last 5000 days"],
        ),
        (
            &["--holdout", "0.9"],
            2,
            &["--holdout", "between 0 and 0.5"],
        ),
        (
            &["--eval-last", "soon"],
            2,
            &["'soon' is not a number of days"],
        ),
        (&["--margin", "-1"], 2, &["--margin"]),
    ];
    for (extra, code, words) in cases {
        let out = run(extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{extra:?}: '{w}' not in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was added by the failed runs.
    let versions = wd.path("models/versions");
    assert!(!versions.exists() || std::fs::read_dir(versions).unwrap().next().is_none());
    assert!(std::fs::symlink_metadata(wd.path("models/current.json")).is_err());

    let out = wd
        .cmd()
        .args(["models", "promote", "--dir", "nowhere", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a model directory"),
        "{}",
        stderr(&out)
    );
}

/// The champion's options are all in its model file: training again with the options read
/// back from it, on its own data, gives the same bytes. Non-default options throughout, so a
/// forgotten one shows.
#[test]
fn a_model_file_holds_every_option_needed_to_train_it_again() {
    use mqlcal::data::{LoadOptions, Table};
    use mqlcal::train::{train, TrainParams};
    let wd = Workdir::new();
    wd.synth("leads.csv", 3000, 8);
    wd.train_bundled(
        "leads.csv",
        "champion.json",
        &[
            "--calibration",
            "isotonic",
            "--threshold",
            "precision:0.3",
            "--points-to-double-odds",
            "30",
            "--folds",
            "4",
            "--seed",
            "11",
            "--alphas",
            "0.1,1,10",
            "--na",
            "unknown",
            "--exclude",
            "sales_notes",
            "--date",
            "created_at",
        ],
    );
    let champion = Model::load(&wd.path("champion.json")).unwrap();
    let load = LoadOptions {
        na: champion.training.na.clone(),
        exclude: champion.training.exclude.clone(),
        ..Default::default()
    };
    let table = Table::load(&wd.path("leads.csv"), &load).unwrap();
    let again = train(&table, &TrainParams::from_model(&champion)).unwrap();
    assert_eq!(again.model.to_json(), champion.to_json());
}

#[test]
fn retrain_and_the_model_directory_speak_json() {
    let wd = Workdir::new();
    setup(&wd, 6000, Some((BUDGET, 0.0)), 2);
    let out = retrain(&wd, "models").arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let written = comparison(&wd.path("models"));
    for key in ["decision", "champion", "challenger", "rules", "evaluation"] {
        assert_eq!(summary[key], written[key], "{key} as in comparison.json");
    }
    let current = summary["current"].as_str().unwrap();
    let expected = if summary["decision"]["promote"].as_bool().unwrap() {
        &summary["challenger"]["version"]
    } else {
        &summary["champion"]["version"]
    };
    assert_eq!(current, expected.as_str().unwrap());

    let out = wd
        .cmd()
        .args(["models", "list", "--dir", "models", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = list["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let marked: Vec<&Value> = versions.iter().filter(|v| v["current"] == true).collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0]["name"], current);

    let old = format!(
        "models/versions/{}.json",
        summary["champion"]["version"].as_str().unwrap()
    );
    let new = format!(
        "models/versions/{}.json",
        summary["challenger"]["version"].as_str().unwrap()
    );
    let out = wd
        .cmd()
        .args(["models", "diff", &old, &new, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let diff: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(change_of(&diff, BUDGET), change_of(&written, BUDGET));
}

/// Dated leads (no 0/1 column: the outcome is the opportunity date) created over `days` days
/// from `first`, exported the day after the last.
fn dated_leads(wd: &Workdir, name: &str, first: chrono::NaiveDate, seed: u64) -> PathBuf {
    wd.synth_with(name, &dated_params(first, seed))
}

fn dated_params(first: chrono::NaiveDate, seed: u64) -> SynthParams {
    let mut p = SynthParams {
        rows: 6000,
        seed,
        first_day: first,
        ..SynthParams::default()
    };
    p.timeline = Some(mqlcal::synth::SynthTimeline::after(&p));
    p
}

/// The creation dates of a dated leads file, and its newest date (lead or opportunity).
fn created_and_newest(path: &Path) -> (Vec<String>, String) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (c, o) = (col("created_at"), col("opportunity_date"));
    let (mut created, mut newest) = (Vec::new(), String::new());
    for rec in r.records() {
        let rec = rec.unwrap();
        created.push(rec[c].to_string());
        newest = newest.max(rec[c].to_string()).max(rec[o].to_string());
    }
    (created, newest)
}

const DATED: [&str; 6] = [
    "--outcome-date",
    "opportunity_date",
    "--window",
    "90d",
    "--date",
    "created_at",
];

#[test]
fn a_dated_champion_is_retrained_on_new_dated_leads_and_evaluated_on_mature_ones() {
    let wd = Workdir::new();
    dated_leads(
        &wd,
        "old.csv",
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        1,
    );
    wd.train_bundled("old.csv", "champion.json", &DATED);
    dated_leads(
        &wd,
        "new.csv",
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        2,
    );
    let out = retrain(&wd, "models")
        .args(["--eval-last", "60d"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c = comparison(&wd.path("models"));
    let (created, newest) = created_and_newest(&wd.path("new.csv"));
    // The new data's as-of: its newest date (lead or opportunity), as training finds it.
    let as_of = chrono::NaiveDate::parse_from_str(&newest, "%Y-%m-%d").unwrap();
    let last_mature = (as_of - chrono::Days::new(90)).to_string();
    let e = &c["evaluation"];
    let (first, last) = (
        e["first_date"].as_str().unwrap(),
        e["last_date"].as_str().unwrap(),
    );
    // Every evaluation lead's window had passed; they are the last 60 days of those.
    let cutoff = (chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d").unwrap()
        - chrono::Days::new(60))
    .to_string();
    assert!(last <= last_mature.as_str(), "{e}");
    assert!(first > cutoff.as_str(), "{e}");
    let method = e["method"].as_str().unwrap();
    assert!(
        method.contains("mature") && method.contains("90-day window"),
        "{method}"
    );
    // The counts add up: the evaluation rows are those mature leads, every other lead trains
    // the challenger (the young ones too).
    let in_eval = created
        .iter()
        .filter(|d| d.as_str() > cutoff.as_str() && d.as_str() <= last_mature.as_str())
        .count();
    assert!(created.iter().any(|d| d.as_str() > last_mature.as_str()));
    assert_eq!(e["rows"].as_u64().unwrap() as usize, in_eval, "{e}");
    assert_eq!(
        c["challenger_training_rows"].as_u64().unwrap() as usize,
        created.len() - in_eval
    );
    // The challenger keeps the champion's window and ages its leads from the whole file's
    // as-of (not from its own newest lead).
    let models: Vec<Model> = std::fs::read_dir(wd.path("models/versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Model::load(&p).unwrap())
        .collect();
    let challenger = models
        .iter()
        .find(|m| m.training.input == "new.csv")
        .expect("the challenger is a version");
    assert_eq!(challenger.training.window_days, Some(90));
    assert_eq!(challenger.training.as_of.as_deref(), Some(newest.as_str()));
    assert_eq!(challenger.training.outcome.as_ref().unwrap().source, "date");
}

#[test]
fn a_champion_from_an_opportunities_list_needs_the_new_list() {
    let wd = Workdir::new();
    for (name, year, seed) in [("old", 2025, 1), ("new", 2026, 2)] {
        let mut df = mqlcal::synth::generate(&dated_params(
            chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
            seed,
        ))
        .unwrap();
        let mut list = mqlcal::synth::opportunities(&df).unwrap();
        df = df.drop("opportunity_date").unwrap();
        mqlcal::data::write_frame(&mut df, &wd.path(&format!("{name}.csv")), true).unwrap();
        mqlcal::data::write_frame(&mut list, &wd.path(&format!("{name}-opps.csv")), true).unwrap();
    }
    let mut flags = vec!["--outcomes", "old-opps.csv"];
    flags.extend(DATED);
    wd.train_bundled("old.csv", "champion.json", &flags);
    let out = retrain(&wd, "models").output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--outcomes") && err.contains("old-opps.csv"),
        "{err}"
    );
    let out = retrain(&wd, "models")
        .args(["--outcomes", "new-opps.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c = comparison(&wd.path("models"));
    assert!(c["evaluation"]["method"]
        .as_str()
        .unwrap()
        .contains("mature"));
    // Every listed id is a lead of new.csv: the challenger, trained on part of it, does not
    // warn that the evaluation rows' ids match no lead.
    for e in std::fs::read_dir(wd.path("models/versions")).unwrap() {
        let m = Model::load(&e.unwrap().path()).unwrap();
        assert!(
            m.warnings.iter().all(|w| !w.contains("match no lead")),
            "{:?}",
            m.warnings
        );
    }
}
