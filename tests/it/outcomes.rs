//! Outcomes as sales reports them: opportunity dates with delays, a conversion window and
//! leads too young to judge. On synthetic leads with a known truth (a campaign that started
//! 75 days before the export, so every one of its leads is immature under a 90-day window),
//! the censoring-aware fit recovers the weights that the obvious fits get wrong; and the
//! joins, dates and options fail or warn by name.

use chrono::NaiveDate;
use mqlcal::data::outcomes::{OutcomeSpec, TimeParams};
use mqlcal::data::{LoadOptions, Table};
use mqlcal::outcome::{Immature, Window};
use mqlcal::synth::{generate, truth, Campaign, SynthParams, SynthTimeline};
use mqlcal::train::{score_table, train, TrainParams, Trained};
use polars::prelude::*;

use crate::{stderr, Workdir};

const CAMPAIGN_RULE: &str = r#"
[[rule]]
name = "Launch campaign"
column = "campaign"
one_of = ["launch"]
"#;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The issue's truth: leads created through 2025, exported on 2026-01-01, a campaign from 75
/// days before the export (true weight +0.90), delays of about 25 days, a 90-day window, a
/// true intercept of −2.6.
fn dated(rows: usize, seed: u64, as_of: NaiveDate) -> SynthParams {
    let mut p = SynthParams {
        rows,
        seed,
        intercept: -2.6,
        ..SynthParams::default()
    };
    let mut t = SynthTimeline::after(&p);
    t.as_of = as_of;
    t.campaign = Some(Campaign {
        since: day(2026, 1, 1) - chrono::Days::new(75),
        share: 0.5,
        weight: 0.9,
    });
    p.timeline = Some(t);
    p
}

fn table(df: DataFrame, name: &str) -> Table {
    Table::from_frame(
        std::path::Path::new(name),
        df,
        name.into(),
        &LoadOptions::default(),
    )
    .unwrap()
}

fn rules() -> Vec<mqlcal::rules::Rule> {
    let file: mqlcal::rules::RulesFile =
        toml::from_str(&format!("{}{CAMPAIGN_RULE}", mqlcal::synth::RULES_TOML)).unwrap();
    file.checked_rules().unwrap()
}

fn true_weights() -> Vec<f64> {
    let mut w = truth().2;
    w.push(0.9);
    w
}

fn windowed(immature: Immature) -> TrainParams {
    let mut params = TrainParams::new("opportunity_date");
    params.id = Some("lead_id".into());
    params.rules = Some(rules());
    params.date = Some("created_at".into());
    params.outcome = Some(OutcomeSpec::Date {
        column: "opportunity_date".into(),
    });
    params.time = TimeParams {
        window: Some(Window { days: 90 }),
        as_of: None,
        immature,
        date_format: None,
    };
    params
}

/// "Has an opportunity by the export date" as a 0/1 column: the obvious way.
fn with_naive_target(df: &DataFrame) -> DataFrame {
    let naive = df
        .column("opportunity_date")
        .unwrap()
        .is_not_null()
        .cast(&DataType::Int64)
        .unwrap();
    let mut out = df.clone();
    out.with_column(naive.with_name("naive".into())).unwrap();
    out
}

/// "Became an opportunity within 90 days of creation, by the export" as a 0/1 column.
fn within_window(df: &DataFrame, as_of: NaiveDate) -> DataFrame {
    let created = df.column("created_at").unwrap().str().unwrap().clone();
    let opp = df
        .column("opportunity_date")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    #[allow(clippy::useless_conversion)] // polars' column iterators are not IntoIterator
    let y: Vec<i64> = created
        .into_iter()
        .zip(opp.into_iter())
        .map(|(c, o)| {
            let c = NaiveDate::parse_from_str(c.unwrap(), "%Y-%m-%d").unwrap();
            i64::from(o.is_some_and(|o| {
                let o = NaiveDate::parse_from_str(o, "%Y-%m-%d").unwrap();
                (o - c).num_days() <= 90 && o <= as_of
            }))
        })
        .collect();
    let mut out = df.clone();
    out.with_column(Column::new("within".into(), y)).unwrap();
    out
}

fn weights(trained: &Trained) -> Vec<f64> {
    trained.model.rules.iter().map(|r| r.weight).collect()
}

#[test]
fn the_censoring_aware_fit_recovers_a_campaign_of_young_leads() {
    let df = generate(&dated(100_000, 21, day(2026, 1, 1))).unwrap();
    let truth = true_weights();
    let names: Vec<String> = rules().iter().map(|r| r.name.clone()).collect();
    let campaign = names.len() - 1;

    let fitted = train(&table(df.clone(), "leads.csv"), &windowed(Immature::Weight)).unwrap();
    let learned = weights(&fitted);
    for (j, name) in names.iter().enumerate() {
        eprintln!(
            "{name:<40} true {:+.3} learned {:+.3}",
            truth[j], learned[j]
        );
    }
    assert!(
        (learned[campaign] - 0.9).abs() < 0.25,
        "campaign: learned {:.3}, true 0.90",
        learned[campaign]
    );
    for j in 0..campaign {
        assert!(
            (learned[j] - truth[j]).abs() < 0.15,
            "'{}': learned {:.3}, true {:.3}",
            names[j],
            learned[j],
            truth[j]
        );
    }
    let t = &fitted.model.training;
    assert_eq!(t.window_days, Some(90));
    assert_eq!(
        t.as_of.as_deref(),
        Some("2026-01-01"),
        "the newest date in the data"
    );
    assert_eq!(t.immature_method, Some(Immature::Weight));
    let immature = t.immature_leads.unwrap();
    // Leads of the last 89 days of a year, uniformly spread: about 24% of them.
    assert!(
        (20_000..29_000).contains(&immature),
        "{immature} immature leads"
    );
    let delay = t.delay_days.as_ref().unwrap();
    assert!(
        (15..=25).contains(&delay.median_days),
        "median delay {} days (geometric, mean 25: median ≈ 17)",
        delay.median_days
    );

    // The obvious fit: "has an opportunity by the export date" as 0/1, young leads read as
    // "never". It misses the campaign by far — the reason the feature exists.
    let mut naive = TrainParams::new("naive");
    naive.id = Some("lead_id".into());
    naive.rules = Some(rules());
    let naive = train(&table(with_naive_target(&df), "naive.csv"), &naive).unwrap();
    let missed = weights(&naive)[campaign];
    let worst = |w: &[f64]| {
        (0..campaign)
            .map(|j| (w[j] - truth[j]).abs())
            .fold(0.0, f64::max)
    };
    eprintln!(
        "naive fit: campaign {missed:+.3}, intercept {:+.3}, worst other weight off by {:.3}",
        naive.model.training.intercept,
        worst(&weights(&naive))
    );
    eprintln!(
        "censoring-aware fit: campaign {:+.3}, intercept {:+.3}, worst other weight off by {:.3}",
        learned[campaign],
        fitted.model.training.intercept,
        worst(&learned)
    );
    assert!(
        (missed - 0.9).abs() > 0.5,
        "the naive fit learned {missed:.3} for the campaign; it should miss it by far"
    );
    assert!(
        (fitted.model.training.intercept + 2.6).abs() < 0.15,
        "intercept {:.3}, true -2.6",
        fitted.model.training.intercept
    );
    // A 90-day window that still reads young leads' "not yet" as "no" misses it too.
    let within = within_window(&df, day(2026, 1, 1));
    let mut windowed_naive = TrainParams::new("within");
    windowed_naive.rules = Some(rules());
    let windowed_naive = train(&table(within, "within.csv"), &windowed_naive).unwrap();
    let w = weights(&windowed_naive);
    eprintln!(
        "window, young leads as not converted: campaign {:+.3}, intercept {:+.3}, worst other \
         weight off by {:.3}",
        w[campaign],
        windowed_naive.model.training.intercept,
        worst(&w)
    );
    assert!((w[campaign] - 0.9).abs() > 0.3, "{:.3}", w[campaign]);

    // Dropping the young leads cannot learn the campaign at all: its rule never fires, and the
    // warning says why.
    let dropped = train(&table(df, "leads.csv"), &windowed(Immature::Drop)).unwrap();
    assert_eq!(dropped.model.rules[campaign].points.0, 0);
    assert!(
        dropped
            .model
            .warnings
            .iter()
            .any(|w| w.contains("Launch campaign") && w.contains("--immature weight")),
        "{:?}",
        dropped.model.warnings
    );

    // Calibrated on fresh leads whose outcome is final (the same world, exported a year
    // later): ECE ≤ 0.02 on the within-window outcome.
    let fresh = generate(&dated(100_000, 22, day(2027, 1, 1))).unwrap();
    let scored = score_table(&fitted.model, &table(fresh.clone(), "fresh.csv")).unwrap();
    let created = fresh.column("created_at").unwrap().str().unwrap().clone();
    let opp = fresh
        .column("opportunity_date")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    #[allow(clippy::useless_conversion)] // polars' column iterators are not IntoIterator
    let y: Vec<bool> = created
        .into_iter()
        .zip(opp.into_iter())
        .map(|(c, o)| {
            let c = NaiveDate::parse_from_str(c.unwrap(), "%Y-%m-%d").unwrap();
            o.is_some_and(|o| {
                (NaiveDate::parse_from_str(o, "%Y-%m-%d").unwrap() - c).num_days() <= 90
            })
        })
        .collect();
    let p: Vec<f64> = scored.iter().map(|s| s.probability.0).collect();
    let ece = mqlcal::metrics::ece(&p, &y, 10);
    eprintln!("fresh mature leads: ECE {ece:.4}");
    assert!(ece <= 0.02, "ECE {ece:.4} on fresh mature leads");
}

/// Writes dated leads and their opportunities list apart, as a CRM exports them.
fn dated_files(w: &Workdir, rows: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut df = generate(&dated(rows, 5, day(2026, 1, 1))).unwrap();
    let mut list = mqlcal::synth::opportunities(&df).unwrap();
    let leads = w.path("leads.csv");
    let opps = w.path("opportunities.csv");
    df = df.drop("opportunity_date").unwrap();
    mqlcal::data::write_frame(&mut df, &leads, true).unwrap();
    mqlcal::data::write_frame(&mut list, &opps, true).unwrap();
    (leads, opps)
}

fn campaign_rules(w: &Workdir) -> std::path::PathBuf {
    w.write(
        "rules.toml",
        &format!("{}{CAMPAIGN_RULE}", mqlcal::synth::RULES_TOML),
    )
}

#[test]
fn an_opportunities_list_joins_on_the_id_and_names_what_does_not_match() {
    let w = Workdir::new();
    let (_, opps) = dated_files(&w, 4000);
    // Two rows repeat a listed id (a later date), one lists a lead that does not exist.
    let mut text = std::fs::read_to_string(&opps).unwrap();
    let first: Vec<String> = text.lines().skip(1).take(2).map(String::from).collect();
    for line in &first {
        let id = line.split(',').next().unwrap();
        text.push_str(&format!("{id},2025-12-30\n"));
    }
    text.push_str("L9999999,2025-06-01\n");
    std::fs::write(&opps, text).unwrap();
    let rules = campaign_rules(&w);
    let out = w
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules"])
        .arg(&rules)
        .args([
            "--outcomes",
            "opportunities.csv",
            "--outcome-date",
            "opportunity_date",
            "--window",
            "90d",
            "--date",
            "created_at",
            "--out",
            "model.json",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("2 rows repeat an id listed before") && err.contains(&first[0][..8]),
        "{err}"
    );
    assert!(
        err.contains("1 of") && err.contains("match no lead") && err.contains("'L9999999'"),
        "{err}"
    );
    let said = crate::stdout(&out);
    assert!(said.contains("as of 2026-01-01"), "{said}");
    assert!(said.contains("within 90 days"), "{said}");
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("model.json")).unwrap()).unwrap();
    let t = &model["training"];
    assert_eq!(t["window_days"], 90);
    assert_eq!(t["outcome"]["source"], "opportunities");
    assert_eq!(t["outcome"]["file"], "opportunities.csv");
    assert_eq!(t["immature_method"], "weight");

    // The same leads with the dates as a column of the leads give the same weights: the join
    // neither drops nor doubles (the repeats keep their earliest date; the unmatched id is
    // not counted).
    let df = generate(&dated(4000, 5, day(2026, 1, 1))).unwrap();
    let mut df = df;
    mqlcal::data::write_frame(&mut df, &w.path("with_dates.csv"), true).unwrap();
    w.cmd()
        .args(["train", "--data", "with_dates.csv", "--rules"])
        .arg(&rules)
        .args([
            "--outcome-date",
            "opportunity_date",
            "--window",
            "90d",
            "--date",
            "created_at",
            "--out",
            "column.json",
        ])
        .assert()
        .success();
    let column: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("column.json")).unwrap()).unwrap();
    assert_eq!(model["rules"], column["rules"]);
    assert_eq!(
        model["training"]["conversions"],
        column["training"]["conversions"]
    );
}

#[test]
fn the_streamed_file_and_the_whole_table_give_the_same_dated_model() {
    let w = Workdir::new();
    let df = generate(&dated(6000, 9, day(2026, 1, 1))).unwrap();
    let path = w.path("leads.parquet");
    mqlcal::data::write_frame(&mut df.clone(), &path, true).unwrap();
    for immature in [Immature::Weight, Immature::Drop] {
        let params = windowed(immature);
        let whole = train(
            &Table::load(&path, &LoadOptions::default()).unwrap(),
            &params,
        )
        .unwrap();
        for batch in [7, 1000, 1 << 18] {
            let streamed = mqlcal::train::train_file(
                &path,
                &LoadOptions::default(),
                &params,
                batch,
                &mqlcal::progress::Silent,
            )
            .unwrap();
            assert_eq!(
                serde_json::to_string(&streamed.model).unwrap(),
                serde_json::to_string(&whole.model).unwrap(),
                "{immature:?}, batches of {batch}"
            );
        }
    }
}

/// Runs `train` on `leads` (CSV text) with a dated outcome column and `extra` flags.
fn train_dated(w: &Workdir, leads: &str, extra: &[&str]) -> std::process::Output {
    w.write("leads.csv", leads);
    let rules = w.write(
        "rules.toml",
        "[[rule]]\nname = \"Pricing\"\ncolumn = \"pricing\"\nat_least = 1\n",
    );
    w.cmd()
        .args(["train", "--data", "leads.csv", "--rules"])
        .arg(&rules)
        .args([
            "--outcome-date",
            "opp",
            "--date",
            "created",
            "--out",
            "m.json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Leads created over 2025 with opportunities after ~20 days for every third one.
fn small_leads(created_format: &str, edit: impl Fn(usize, &mut String, &mut String)) -> String {
    let mut text = String::from("id,created,pricing,opp\n");
    for i in 0..300usize {
        let c = day(2025, 1, 1) + chrono::Days::new((i as u64 * 7) % 360);
        let mut opp = if i % 3 == 0 {
            (c + chrono::Days::new(20 + (i as u64 % 9)))
                .format(created_format)
                .to_string()
        } else {
            String::new()
        };
        let mut created = c.format(created_format).to_string();
        edit(i, &mut created, &mut opp);
        text.push_str(&format!("L{i},{created},{},{opp}\n", i % 2));
    }
    text
}

#[test]
fn dates_and_windows_that_cannot_be_read_are_named() {
    let w = Workdir::new();
    // Ambiguous day/month order without --date-format.
    let out = train_dated(
        &w,
        &small_leads("%d-%m-%Y", |_, _, _| {}),
        &["--window", "90d"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 1")
            && err.contains("'created'")
            && err.contains("--date-format '%d-%m-%Y'"),
        "{err}"
    );
    assert!(!w.path("m.json").exists());
    // The same file with the flag trains; timestamps after the date are read past.
    let out = train_dated(
        &w,
        &small_leads("%d-%m-%Y 14:58", |_, _, _| {}),
        &["--window", "90d", "--date-format", "%d-%m-%Y"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(w.path("m.json")).unwrap();

    // An unparsable opportunity date names its row and column.
    let out = train_dated(
        &w,
        &small_leads("%Y-%m-%d", |i, _, opp| {
            if i == 6 {
                *opp = "next week".into()
            }
        }),
        &["--window", "90d"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 7") && err.contains("'opp'") && err.contains("next week"),
        "{err}"
    );

    // A window shorter than a day, and no window at all, are usage errors.
    for window in [&["--window", "12h"][..], &["--window", "0d"][..], &[][..]] {
        let out = train_dated(&w, &small_leads("%Y-%m-%d", |_, _, _| {}), window);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{window:?}: {err}");
        assert!(err.contains("--window"), "{err}");
    }
    // --as-of before the newest lead.
    let out = train_dated(
        &w,
        &small_leads("%Y-%m-%d", |_, _, _| {}),
        &["--window", "90d", "--as-of", "2025-06-30"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--as-of") && err.contains("before the newest lead"),
        "{err}"
    );
    assert!(!w.path("m.json").exists(), "no model on error");

    // An opportunity dated before its lead: a named warning, counted as day 0.
    let out = train_dated(
        &w,
        &small_leads("%Y-%m-%d", |i, created, opp| {
            if i == 3 {
                *opp = "2024-12-01".into();
                *created = "2025-01-22".into();
            }
        }),
        &["--window", "90d"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("1 opportunities are dated before their lead was created (rows 4"),
        "{err}"
    );
}

#[test]
fn a_stage_column_is_an_outcome_without_a_window() {
    let w = Workdir::new();
    let mut text = String::from("id,stage,pricing\n");
    for i in 0..400usize {
        let stage = match i % 5 {
            0 => " Opportunity ",
            1 => "customer",
            _ => "lead",
        };
        text.push_str(&format!(
            "L{i},{stage},{}\n",
            (i % 5 < 2) as u8 ^ (i % 7 == 0) as u8
        ));
    }
    w.write("leads.csv", &text);
    let rules = w.write(
        "rules.toml",
        "[[rule]]\nname = \"Pricing\"\ncolumn = \"pricing\"\nat_least = 1\n",
    );
    let out = w
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules"])
        .arg(&rules)
        .args([
            "--converted-if",
            "stage=opportunity,customer",
            "--out",
            "m.json",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no window"), "{err}");
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("m.json")).unwrap()).unwrap();
    // Stages opportunity (with spaces, any case) and customer: 2 in 5 leads.
    assert_eq!(model["training"]["conversions"], 160);
    assert_eq!(model["training"]["outcome"]["source"], "stage");
    assert!(model["training"].get("window_days").is_none());
    // A window with a stage is refused: a stage has no date.
    let out = w
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules"])
        .arg(&rules)
        .args([
            "--converted-if",
            "stage=customer",
            "--window",
            "90d",
            "--out",
            "n.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no date"), "{}", stderr(&out));
}
