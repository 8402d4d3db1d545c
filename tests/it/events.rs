//! Activity logs and point-in-time training (issue 16) on synthetic leads with a known truth:
//! the chance of an opportunity on a day depends on pricing visits decayed with a half-life of
//! 14 days, and demos happen only after the opportunity (as in a CRM export, where the
//! account executive books them).

use chrono::NaiveDate;
use mqlcal::data::outcomes::{OutcomeSpec, TimeParams};
use mqlcal::data::{LoadOptions, Table};
use mqlcal::events::counts::{counts_suffice, train_counted_in_blocks};
use mqlcal::events::snapshots::Cadence;
use mqlcal::events::{
    best_half_life, half_life_scores, snapshot_rows, train_point_in_time, train_with_events,
    train_with_events_rows, Aggregate, EventColumn, EventColumns, Events, PointInTime,
    HALF_LIFE_GRID,
};
use mqlcal::outcome::{Immature, Window};
use mqlcal::rules::RulesFile;
use mqlcal::synth::activity::ActivityParams;
use mqlcal::train::TrainParams;

use crate::Workdir;

const TRUE_HALF_LIFE: f64 = 14.0;
const WINDOW: u32 = 60;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
}

/// `mqlcal synth --events`'s world ([`mqlcal::synth::activity`]): leads created over 2025,
/// each with bursts of pricing visits; each day the chance of an opportunity the next day is
/// 1 − exp(−exp(−7 + 0.9·D)), D the visits decayed with the true half-life. After an
/// opportunity: two demos within 5 days and a burst of pricing visits (negotiation). Returns
/// the leads file and the events file (timestamps in UTC).
pub(crate) fn simulate(
    wd: &Workdir,
    leads: usize,
    seed: u64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let params = ActivityParams {
        leads,
        seed,
        half_life_days: TRUE_HALF_LIFE,
        first_day: day0(),
        days: 365,
        as_of: as_of(),
    };
    let mut made = mqlcal::synth::activity::activity(&params).unwrap();
    // The tests append hand-made leads as `id,created,opportunity,size`.
    made.leads = made.leads.drop("last_activity_date").unwrap();
    let (l, e) = (wd.path("leads.csv"), wd.path("events.csv"));
    mqlcal::data::write_frame(&mut made.leads, &l, true).unwrap();
    mqlcal::data::write_frame(&mut made.events, &e, true).unwrap();
    (l, e)
}

const RULES: &str = r#"
[[rule]]
name = "Pricing, some"
column = "pricing"
at_least = 0.5

[[rule]]
name = "Pricing, more"
column = "pricing"
at_least = 1.5

[[rule]]
name = "Pricing, a lot"
column = "pricing"
at_least = 3

[[rule]]
name = "Demo booked"
column = "demos"
at_least = 1
"#;

fn params(rules: &str) -> TrainParams {
    let file: RulesFile = toml::from_str(rules).unwrap();
    let mut p = TrainParams::new("opportunity_date");
    p.id = Some("lead_id".into());
    p.rules = Some(file.checked_rules().unwrap());
    p.date = Some("created_at".into());
    p.outcome = Some(OutcomeSpec::Date {
        column: "opportunity_date".into(),
    });
    p.time = TimeParams {
        window: Some(Window { days: WINDOW }),
        as_of: Some(as_of()),
        immature: Immature::Weight,
        date_format: None,
    };
    p
}

fn design(pricing: Aggregate) -> PointInTime {
    PointInTime {
        cadence: Cadence::Monthly,
        columns: vec![
            EventColumn {
                name: "pricing".into(),
                types: vec!["pricing_page_view".into()],
                aggregate: pricing,
            },
            EventColumn {
                name: "demos".into(),
                types: vec!["demo_booked".into()],
                aggregate: Aggregate::Within { days: 100_000 },
            },
        ],
    }
}

fn weight(model: &mqlcal::model::Model, rule: &str) -> f64 {
    model.rules.iter().find(|r| r.name == rule).unwrap().weight
}

fn load(wd: &Workdir, leads: usize, seed: u64) -> (Table, Events) {
    let (leads, events) = simulate(wd, leads, seed);
    let table = Table::load(&leads, &LoadOptions::default()).unwrap();
    let events = Events::load(
        &events,
        &EventColumns::default(),
        &LoadOptions::default(),
        None,
    )
    .unwrap();
    (table, events)
}

#[test]
fn half_life_is_learnt_and_post_conversion_events_get_no_weight_in_time() {
    let wd = Workdir::new();
    let (table, events) = load(&wd, 4000, 3);
    assert_eq!(events.types(), ["pricing_page_view", "demo_booked"]);
    let p = params(RULES);

    // decay = "learn": the grid's loss is lowest within a factor 2 of the truth.
    let d = design(Aggregate::Decay {
        half_life_days: 14.0,
    });
    let scores = half_life_scores(&table, &events, &d, 0, &p, &HALF_LIFE_GRID).unwrap();
    let learnt = best_half_life(&scores).unwrap();
    eprintln!("half-life losses {scores:?}; learnt {learnt}");
    assert!(
        (TRUE_HALF_LIFE / 2.0..=TRUE_HALF_LIFE * 2.0).contains(&learnt),
        "learnt half-life {learnt} days; losses {scores:?}"
    );

    // Point in time, demos never precede the opportunity: the rule never fires, weight 0.
    let d = design(Aggregate::Decay {
        half_life_days: learnt,
    });
    let in_time = train_point_in_time(&table, &events, &d, &p).unwrap().model;
    assert!(
        weight(&in_time, "Demo booked").abs() < 0.05,
        "{}",
        weight(&in_time, "Demo booked")
    );
    assert!(weight(&in_time, "Pricing, a lot") > 0.5);

    // All-time counts as of the export, one row per lead: demos look like the best predictor.
    let ids = table.texts("lead_id").unwrap();
    let ids: Vec<Option<&str>> = ids.iter().map(|s| s.as_deref()).collect();
    let at = vec![mqlcal::events::day_of(as_of()); ids.len()];
    let mut all_time = table.clone();
    for c in &d.columns {
        all_time = all_time
            .with_column(polars::prelude::Column::new(
                c.name.as_str().into(),
                c.values(&events, &ids, &at),
            ))
            .unwrap();
    }
    let leaky = mqlcal::train::train(&all_time, &p).unwrap().model;
    eprintln!(
        "demo weight: in time {:.4}, all-time {:.4}",
        weight(&in_time, "Demo booked"),
        weight(&leaky, "Demo booked")
    );
    assert!(
        weight(&leaky, "Demo booked") > 2.0,
        "{}",
        weight(&leaky, "Demo booked")
    );
}

/// Held-out leads (30%, whole leads: every snapshot of a lead on one side): the decayed
/// feature ranks snapshots at least as well as the all-time count in the same bands.
#[test]
fn decay_beats_all_time_counts_on_held_out_leads() {
    let wd = Workdir::new();
    let (table, events) = load(&wd, 4000, 5);
    let n = table.n_rows();
    let test: Vec<usize> = (0..n).filter(|i| i % 10 < 3).collect();
    let train: Vec<usize> = (0..n).filter(|i| i % 10 >= 3).collect();
    let (train, test) = (table.take(&train).unwrap(), table.take(&test).unwrap());
    let counted = RULES
        .replace("at_least = 0.5", "at_least = 1")
        .replace("at_least = 1.5", "at_least = 3")
        .replace(
            "at_least = 3\n\n[[rule]]\nname = \"Demo",
            "at_least = 6\n\n[[rule]]\nname = \"Demo",
        );
    let mut auc = Vec::new();
    for (rules, pricing) in [
        (
            RULES.to_string(),
            Aggregate::Decay {
                half_life_days: 14.0,
            },
        ),
        (counted, Aggregate::Within { days: 100_000 }),
    ] {
        let p = params(&rules);
        let d = design(pricing);
        let model = train_point_in_time(&train, &events, &d, &p).unwrap().model;
        let (rows, _) = snapshot_rows(&test, &events, &d, &p).unwrap();
        let scored = mqlcal::train::score_table(&model, &rows).unwrap();
        // Mature snapshots only: an opportunity within the window after T, or none by T + 60.
        let created = rows.dates("created_at").unwrap();
        let opportunity = rows.dates_as("opportunity_date", None, "").unwrap();
        let (mut s, mut y) = (Vec::new(), Vec::new());
        for i in 0..rows.n_rows() {
            let t = created[i].unwrap();
            if (as_of() - t).num_days() < i64::from(WINDOW) {
                continue;
            }
            s.push(scored[i].score as f64);
            y.push(opportunity[i].is_some_and(|o| (o - t).num_days() <= i64::from(WINDOW)));
        }
        auc.push(mqlcal::metrics::roc_auc(&s, &y));
    }
    eprintln!(
        "held-out AUC: decayed {:.4}, all-time {:.4}",
        auc[0], auc[1]
    );
    assert!(
        auc[0] >= auc[1],
        "decayed {:.4} vs all-time {:.4}",
        auc[0],
        auc[1]
    );
}

/// The fit on pattern counts equals a fit on every snapshot row on its own (the decayed sums
/// are rounded so that rows share patterns; grouping changes nothing else).
#[test]
fn grouped_snapshots_fit_like_ungrouped_rows() {
    let wd = Workdir::new();
    let (table, events) = load(&wd, 300, 7);
    let mut p = params(RULES);
    p.time.immature = Immature::Drop;
    let d = design(Aggregate::Decay {
        half_life_days: 14.0,
    });
    let (rows, _) = snapshot_rows(&table, &events, &d, &p).unwrap();
    let rules = p.rules.clone().unwrap();
    let x = mqlcal::rules::features::rule_features(&rows, &rules).unwrap();
    let created = rows.dates("created_at").unwrap();
    let opportunity = rows.dates_as("opportunity_date", None, "").unwrap();
    let mature: Vec<usize> = (0..rows.n_rows())
        .filter(|&i| (as_of() - created[i].unwrap()).num_days() >= i64::from(WINDOW))
        .collect();
    let x = x.select(ndarray::Axis(0), &mature);
    let y: Vec<bool> = mature
        .iter()
        .map(|&i| {
            opportunity[i]
                .is_some_and(|o| (o - created[i].unwrap()).num_days() <= i64::from(WINDOW))
        })
        .collect();
    let (groups, _) = mqlcal::group::Groups::from_rows(x.view(), &y);
    assert!(groups.len() < mature.len() / 5, "{} patterns", groups.len());
    let leads: Vec<f64> = groups.leads.iter().map(|&v| v as f64).collect();
    let conv: Vec<f64> = groups.conversions.iter().map(|&v| v as f64).collect();
    let alpha = 1.0;
    let grouped = mqlcal::fit::GroupedFit::new(alpha)
        .fit(groups.x.view(), &leads, &conv, None)
        .unwrap();
    let rows_fit = mqlcal::fit::LogisticFit::new(alpha)
        .fit(x.view(), &y)
        .unwrap();
    assert!((grouped.intercept - rows_fit.intercept).abs() < 1e-4);
    for (a, b) in grouped.coef.iter().zip(&rows_fit.coef) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

/// Snapshot counts made a block of leads at a time (`train --events` without `--report`) give
/// the model the snapshot rows give, field for field: young snapshots weighted or dropped,
/// the outcome from the leads' column or from an opportunities list (with an id that matches
/// no lead, whose warning both name), blocks of every size; and with `decay = "learn"`, the
/// same half-life search, `training.events` and points.
#[test]
fn snapshot_counts_train_the_model_the_snapshot_rows_train() {
    let wd = Workdir::new();
    let (table, events) = load(&wd, 1200, 7);
    let as_json = |m: &mqlcal::model::Model| serde_json::to_value(m).unwrap();
    let mut listed = String::from("lead_id,opportunity_date\nnobody,2025-03-01\n");
    let ids = table.texts("lead_id").unwrap();
    for (id, o) in ids.iter().zip(table.texts("opportunity_date").unwrap()) {
        if let (Some(id), Some(o)) = (id, o) {
            listed.push_str(&format!("{id},{o}\n"));
        }
    }
    let list = wd.write("opportunities.csv", &listed);
    let d = design(Aggregate::Decay {
        half_life_days: 10.0,
    });
    for immature in [Immature::Weight, Immature::Drop] {
        for from_list in [false, true] {
            let mut p = params(RULES);
            p.time.immature = immature;
            if from_list {
                p.outcome = Some(OutcomeSpec::Opportunities {
                    file: list.clone(),
                    column: "opportunity_date".into(),
                });
                p.target = p.outcome.as_ref().unwrap().describe();
            }
            let rows = train_point_in_time(&table, &events, &d, &p).unwrap().model;
            let (snapshot_rows, _) = snapshot_rows(&table, &events, &d, &p).unwrap();
            for block in [7, 500, 1 << 20] {
                let counted = train_counted_in_blocks(
                    &table,
                    &events,
                    &d,
                    &p,
                    block,
                    &mqlcal::progress::Silent,
                )
                .unwrap();
                assert_eq!(counted.snapshot_rows, snapshot_rows.n_rows());
                assert_eq!(
                    as_json(&counted.model),
                    as_json(&rows),
                    "{immature:?}, list {from_list}, blocks of {block}"
                );
            }
            assert_eq!(
                rows.warnings.iter().any(|w| w.contains("'nobody'")),
                from_list,
                "{:?}",
                rows.warnings
            );
        }
    }

    // Event rules (a learnt half-life, a week's count per unit, demos within 100000 days).
    let file: RulesFile = toml::from_str(CLI_RULES).unwrap();
    let mut p = params(RULES);
    p.rules = Some(file.checked_rules().unwrap());
    assert!(counts_suffice(&p));
    let d = PointInTime {
        cadence: Cadence::Monthly,
        columns: mqlcal::events::event_columns(p.rules.as_ref().unwrap()),
    };
    let counted =
        train_counted_in_blocks(&table, &events, &d, &p, 100, &mqlcal::progress::Silent).unwrap();
    let rows = train_point_in_time(&table, &events, &d, &p).unwrap().model;
    assert_eq!(as_json(&counted.model), as_json(&rows));
    let input = ("events.csv", &EventColumns::default());
    let counted = train_with_events(
        &table,
        &events,
        input,
        Cadence::Monthly,
        &p,
        &mqlcal::progress::Silent,
    )
    .unwrap();
    let (trained, rows) = train_with_events_rows(
        &table,
        &events,
        input,
        Cadence::Monthly,
        &p,
        &mqlcal::progress::Silent,
    )
    .unwrap();
    assert_eq!(as_json(&counted.model), as_json(&trained.model));
    let search = &counted.model.training.events.as_ref().unwrap();
    assert_eq!(
        search.half_life_search[0].scores.len(),
        HALF_LIFE_GRID.len()
    );
    assert_eq!(search.snapshot_rows, rows.n_rows());
}

/// `synth --events` into Parquet writes the times as a UTC timestamp column, and the loader
/// reads it to the same events as the CSV the same seed writes (text times).
#[test]
fn a_parquet_log_with_timestamps_loads_as_its_csv_does() {
    let wd = Workdir::new();
    for (events, leads) in [
        ("events.csv", "leads.csv"),
        ("events.parquet", "leads.parquet"),
    ] {
        let out = wd
            .cmd()
            .args(["synth", "--rows", "700", "--seed", "5", "--events", events])
            .args(["--out", leads])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", crate::stderr(&out));
    }
    use polars::prelude::SerReader;
    let frame = polars::prelude::ParquetReader::new(
        std::fs::File::open(wd.path("events.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    assert!(
        matches!(
            frame.column("at").unwrap().dtype(),
            polars::prelude::DataType::Datetime(_, Some(_))
        ),
        "{:?}",
        frame.schema()
    );
    let read = |name: &str| {
        Events::load(
            &wd.path(name),
            &EventColumns::default(),
            &LoadOptions::default(),
            None,
        )
        .unwrap()
    };
    let (csv, parquet) = (read("events.csv"), read("events.parquet"));
    assert_eq!(csv.types(), parquet.types());
    assert_eq!((csv.len(), csv.leads()), (parquet.len(), parquet.leads()));
    let leads = Table::load(&wd.path("leads.parquet"), &LoadOptions::default()).unwrap();
    for id in leads.texts("lead_id").unwrap().into_iter().flatten() {
        assert_eq!(csv.of(&id), parquet.of(&id), "{id}");
    }
}

fn load_error(path: &std::path::Path) -> String {
    Events::load(
        path,
        &EventColumns::default(),
        &LoadOptions::default(),
        None,
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn events_files_with_gaps_are_errors_naming_the_row() {
    let wd = Workdir::new();
    let err = load_error(&wd.write(
        "events.csv",
        "lead_id,event,at\nL1,pricing,2026-01-02\nL1,,2026-01-03\n",
    ));
    assert!(
        err.contains("row 2") && err.contains("'event'") && err.contains("no type"),
        "{err}"
    );
    let err = load_error(&wd.write("events2.csv", "lead,event,at\nL1,pricing,2026-01-02\n"));
    assert!(err.contains("lead_id") && err.contains("[events]"), "{err}");
    let err = load_error(&wd.write("events3.csv", "lead_id,event,at\nL1,pricing,soon\n"));
    assert!(err.contains("row 1") && err.contains("'at'"), "{err}");
}

/// The rules file of the command-line tests: decayed pricing visits in three bands (one
/// learnt half-life, shared), recent visits per unit, and the demos that follow conversion.
const CLI_RULES: &str = r#"
id = "lead_id"

[events]
id = "lead_id"
type = "event"
at = "at"

[[rule]]
name = "Pricing, some"
event = "pricing_page_view"
decay = "learn"
at_least = 0.5

[[rule]]
name = "Pricing, more"
event = "pricing_page_view"
decay = "learn"
at_least = 1.5

[[rule]]
name = "Pricing, a lot"
event = "pricing_page_view"
decay = "learn"
at_least = 3

[[rule]]
name = "Pricing this week"
event_one_of = ["pricing_page_view"]
within_days = 7
per_unit = true
cap = 3

[[rule]]
name = "Demo booked"
event = "demo_booked"
within_days = 100000
"#;

fn cli_train(wd: &Workdir, extra: &[&str]) -> std::process::Output {
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--events",
            "events.csv",
            "--rules",
            "rules.toml",
            "--outcome-date",
            "opportunity_date",
            "--date",
            "created_at",
            "--window",
            "60d",
            "--as-of",
            "2026-02-28",
            "--out",
            "m.json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The rule's points per unit, from the model file.
fn points(model: &serde_json::Value, rule: &str) -> i64 {
    model["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == rule)
        .unwrap()["points"]
        .as_i64()
        .unwrap()
}

/// `mqlcal train --events` learns the half-life, records it, says it; `mqlcal score --events`
/// gives each lead the points of its events as of the date, recomputed here from the events
/// file by the rules' stated meaning (a decayed sum rounded to 0.1; a count within N days).
#[test]
fn the_cli_trains_in_time_and_scores_with_the_activity_log() {
    let wd = Workdir::new();
    simulate(&wd, 3000, 11);
    wd.write("rules.toml", CLI_RULES);
    let out = cli_train(&wd, &["--write-rules", "written.toml"]);
    let (said, err) = (crate::stdout(&out), crate::stderr(&out));
    assert!(out.status.success(), "{err}");
    eprintln!("{said}");
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("m.json")).unwrap()).unwrap();
    let events = &model["training"]["events"];
    assert_eq!(events["input"], "events.csv");
    assert_eq!(events["snapshots"], "monthly");
    assert!(events["snapshot_rows"].as_u64().unwrap() > 3000, "{events}");
    let search = events["half_life_search"].as_array().unwrap();
    assert_eq!(search.len(), 1, "one shared source is learnt: {events}");
    assert_eq!(
        search[0]["scores"].as_array().unwrap().len(),
        HALF_LIFE_GRID.len()
    );
    let learnt = search[0]["half_life_days"].as_f64().unwrap();
    assert!(
        (TRUE_HALF_LIFE / 2.0..=TRUE_HALF_LIFE * 2.0).contains(&learnt),
        "{learnt}"
    );
    for rule in ["Pricing, some", "Pricing, more", "Pricing, a lot"] {
        let r = model["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == rule)
            .unwrap();
        assert_eq!(r["event"]["half_life_days"].as_f64(), Some(learnt), "{r}");
        assert_eq!(r["event"]["learn"], true);
    }
    let demo = model["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Demo booked")
        .unwrap();
    assert!(demo["weight"].as_f64().unwrap().abs() < 0.05, "{demo}");
    let sentence = format!(
        "pricing_page_view events lose half their value in {} days (learnt from the data)",
        mqlcal::rules::format_number(learnt)
    );
    assert!(said.contains(&sentence), "{said}");
    let inspect = wd
        .cmd()
        .args(["inspect", "--model", "m.json"])
        .output()
        .unwrap();
    assert!(crate::stdout(&inspect).contains(&sentence));
    // Written back: the rules as they were given, learning again next time.
    let written = std::fs::read_to_string(wd.path("written.toml")).unwrap();
    let file: RulesFile = toml::from_str(&written).unwrap();
    let given: RulesFile = toml::from_str(CLI_RULES).unwrap();
    assert_eq!(file.events, given.events);
    assert_eq!(
        file.checked_rules().unwrap(),
        given.checked_rules().unwrap(),
        "{written}"
    );

    // Scored as of a date: every lead's score from its events up to that date.
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let out = wd
        .cmd()
        .args([
            "--json",
            "score",
            "--model",
            "m.json",
            "--data",
            "leads.csv",
            "--events",
            "events.csv",
            "--as-of",
            "2026-01-15",
            "--out",
            "scored.csv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&crate::stdout(&out)).unwrap();
    assert_eq!(summary["as_of"], "2026-01-15");
    let mut by_lead: std::collections::HashMap<String, Vec<(String, NaiveDate)>> =
        Default::default();
    let log = std::fs::read_to_string(wd.path("events.csv")).unwrap();
    for line in log.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let day = NaiveDate::parse_from_str(&f[2][..10], "%Y-%m-%d").unwrap();
        by_lead
            .entry(f[0].to_string())
            .or_default()
            .push((f[1].to_string(), day));
    }
    let scored = crate::read_csv(&wd.path("scored.csv"));
    let ids = scored.column("lead_id").unwrap().str().unwrap().clone();
    let scores = scored.column("score").unwrap().i64().unwrap().clone();
    let p = |r| points(&model, r);
    let points_of_events = |id: &str| -> i64 {
        let none = Vec::new();
        let ev = by_lead.get(id).unwrap_or(&none);
        let ages = |kind: &'static str| {
            ev.iter()
                .filter(move |(k, d)| k == kind && *d <= as_of)
                .map(move |(_, d)| (as_of - *d).num_days())
        };
        let decayed: f64 = ages("pricing_page_view")
            .map(|a| 0.5f64.powf(a as f64 / learnt))
            .sum();
        let decayed = (decayed * 10.0).round() / 10.0;
        let week = ages("pricing_page_view").filter(|&a| a <= 7).count() as i64;
        let demos = ages("demo_booked").count();
        let mut s = 0;
        for (rule, at) in [
            ("Pricing, some", 0.5),
            ("Pricing, more", 1.5),
            ("Pricing, a lot", 3.0),
        ] {
            if decayed >= at {
                s += p(rule);
            }
        }
        s + week.min(3) * p("Pricing this week") + i64::from(demos >= 1) * p("Demo booked")
    };
    let mut checked = 0;
    let mut with_events = 0;
    for (id, score) in ids.iter().zip(scores.iter()) {
        let (id, score) = (id.unwrap(), score.unwrap());
        let expected = points_of_events(id);
        assert_eq!(score, expected, "lead {id}");
        checked += 1;
        with_events += usize::from(expected != 0);
    }
    assert_eq!(checked, 3000);
    assert!(
        with_events > 300,
        "{with_events} leads with points from events"
    );
}

#[test]
fn event_rules_without_a_log_and_exports_that_cannot_join_one_are_clear_errors() {
    let wd = Workdir::new();
    simulate(&wd, 200, 5);
    wd.write("rules.toml", CLI_RULES);
    // Training: the log is needed, and only for event rules.
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--outcome-date",
            "opportunity_date",
            "--date",
            "created_at",
            "--window",
            "60d",
            "--out",
            "x.json",
        ])
        .output()
        .unwrap();
    let err = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("'Pricing, some'") && err.contains("--events"),
        "{err}"
    );
    wd.write(
        "plain.toml",
        "id = \"lead_id\"\n[[rule]]\nname = \"Big\"\ncolumn = \"company_size\"\nat_least = 100\n",
    );
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--events",
            "events.csv",
            "--rules",
            "plain.toml",
            "--outcome-date",
            "opportunity_date",
            "--date",
            "created_at",
            "--window",
            "60d",
            "--out",
            "x.json",
        ])
        .output()
        .unwrap();
    let err = crate::stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("--events") && err.contains("no rule counts events"),
        "{err}"
    );
    // Bad event rules name the rule.
    for (rule, says) in [
        (
            "event = \"x\"\ncolumn = \"company_size\"",
            "has no `column`",
        ),
        (
            "event = \"x\"\nwithin_days = 7\ndecay = \"learn\"",
            "both `within_days` and `decay`",
        ),
        ("event = \"x\"", "add within_days = 30"),
        ("event = \"x\"\ndecay = \"fast\"", "decay = \"fast\""),
        (
            "event = \"x\"\nwithin_days = 7\none_of = [\"a\"]",
            "not `one_of`",
        ),
        (
            "column = \"company_size\"\ndecay = \"learn\"",
            "add event = ",
        ),
    ] {
        wd.write("bad.toml", &format!("[[rule]]\nname = \"Odd\"\n{rule}\n"));
        let out = wd
            .cmd()
            .args([
                "train",
                "--data",
                "leads.csv",
                "--rules",
                "bad.toml",
                "--target",
                "x",
                "--out",
                "x.json",
            ])
            .output()
            .unwrap();
        let err = crate::stderr(&out);
        assert!(!out.status.success(), "{rule}");
        assert!(
            err.contains("rule 'Odd'") && err.contains(says),
            "{rule}: {err}"
        );
    }
    // A model with event rules: scoring needs the log, exports refuse with the rule's name
    // (the SQL export asks for the log's table).
    assert!(cli_train(&wd, &[]).status.success());
    let out = wd
        .cmd()
        .args([
            "score",
            "--model",
            "m.json",
            "--data",
            "leads.csv",
            "--out",
            "s.csv",
        ])
        .output()
        .unwrap();
    let err = crate::stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("--events") && err.contains("rule 'Pricing, some'"),
        "{err}"
    );
    assert!(!wd.path("s.csv").exists());
    for args in [
        vec![
            "--format",
            "sql",
            "--dialect",
            "postgres",
            "--table",
            "leads",
        ],
        vec!["--format", "pmml"],
        vec![
            "--format",
            "sql-counts",
            "--dialect",
            "duckdb",
            "--table",
            "leads",
        ],
    ] {
        let out = wd
            .cmd()
            .args(["export", "--model", "m.json", "--out", "x.out"])
            .args(&args)
            .output()
            .unwrap();
        let err = crate::stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains("rule 'Pricing, some' counts events"),
            "{args:?}: {err}"
        );
        // The scoring SQL joins the log when given it (tests/it/sql_events.rs), and the counts
        // count snapshots with it (tests/it/snapshot_counts.rs).
        assert_eq!(
            err.contains("--events-table"),
            args[1] != "pmml",
            "{args:?}: {err}"
        );
        assert!(!wd.path("x.out").exists());
    }
}

/// The rules of the service and library test: a decayed sum with a fixed half-life, a week's
/// count per unit (capped), a 30-day window and a column rule.
const SERVE_RULES: &str = r#"
id = "lead_id"

[[rule]]
name = "Pricing, decayed"
event = "pricing_page_view"
decay = { half_life_days = 10 }
at_least = 1

[[rule]]
name = "Pricing this week"
event = "pricing_page_view"
within_days = 7
per_unit = true
cap = 3

[[rule]]
name = "Demo booked"
event = "demo_booked"
within_days = 30

[[rule]]
name = "Big company"
column = "company_size"
at_least = 1000
"#;

/// Leads at the boundaries as of 2026-01-15, with their events (type, time as sent): exactly 7
/// days old, 8 days, after as-of (also only by its UTC day), an offset that moves an event
/// into the week, a decayed sum computed by hand, no events, other types only, more than the
/// cap.
const BOUNDARY_LEADS: [(&str, &[(&str, &str)]); 10] = [
    ("B1", &[("pricing_page_view", "2026-01-08T10:00:00Z")]),
    ("B2", &[("pricing_page_view", "2026-01-07T23:00:00Z")]),
    ("B3", &[("pricing_page_view", "2026-01-16T09:00:00Z")]),
    // 04:30 UTC on 2026-01-16: after as-of.
    ("B4", &[("pricing_page_view", "2026-01-15T23:30:00-05:00")]),
    // 01:00 UTC on 2026-01-09: 6 days, in the week (its written date is 7 days old too).
    ("B5", &[("pricing_page_view", "2026-01-08T20:00:00-05:00")]),
    // 10, 3 and 0 days old.
    (
        "B6",
        &[
            ("pricing_page_view", "2026-01-05"),
            ("pricing_page_view", "2026-01-12 08:00"),
            ("pricing_page_view", "2026-01-15T23:59:59Z"),
            ("demo_booked", "2025-12-16"),
        ],
    ),
    ("B7", &[]),
    (
        "B8",
        &[("webinar", "2026-01-14"), ("demo_booked", "2025-12-15")],
    ),
    (
        "B9",
        &[
            ("pricing_page_view", "2026-01-09"),
            ("pricing_page_view", "2026-01-10"),
            ("pricing_page_view", "2026-01-11"),
            ("pricing_page_view", "2026-01-13"),
        ],
    ),
    // 23:30 UTC on 2026-01-07: 8 days, out of the week (its written date is 7 days old).
    ("B10", &[("pricing_page_view", "2026-01-08T01:30:00+02:00")]),
];

/// A lead of the service test: id, company size, events (type, time as sent).
type Lead = (String, String, Vec<(String, String)>);

/// A model with event rules is served: the service (events in each lead of the request) and
/// the library (`Model::score_lead_with_events`) give the scores `mqlcal score --events
/// --as-of` gives, on leads at the boundaries and on simulated leads with their whole logs;
/// a lead without events has none; a bad event is a 422 naming its field.
#[test]
fn the_service_and_the_library_score_events_as_score_events_does() {
    let wd = Workdir::new();
    simulate(&wd, 1000, 23);
    wd.write("rules.toml", SERVE_RULES);
    let out = cli_train(&wd, &[]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let model = mqlcal::model::Model::load(&wd.path("m.json")).unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();

    // The leads: the boundary ones, then 300 simulated ones with every event of theirs.
    let mut leads: Vec<Lead> = BOUNDARY_LEADS
        .iter()
        .enumerate()
        .map(|(k, (id, events))| {
            let size = if k % 2 == 0 { "2000" } else { "10" };
            let events = events
                .iter()
                .map(|(t, at)| (t.to_string(), at.to_string()))
                .collect();
            (id.to_string(), size.to_string(), events)
        })
        .collect();
    let sim_leads = std::fs::read_to_string(wd.path("leads.csv")).unwrap();
    let sim_events = std::fs::read_to_string(wd.path("events.csv")).unwrap();
    let mut by_lead: std::collections::HashMap<&str, Vec<(String, String)>> = Default::default();
    for line in sim_events.lines().skip(1) {
        let e: Vec<&str> = line.split(',').collect();
        by_lead
            .entry(e[0])
            .or_default()
            .push((e[1].to_string(), e[2].to_string()));
    }
    let size = sim_leads
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "company_size")
        .unwrap();
    for line in sim_leads.lines().skip(1).take(300) {
        let f: Vec<&str> = line.split(',').collect();
        let events = by_lead.remove(f[0]).unwrap_or_default();
        leads.push((f[0].to_string(), f[size].to_string(), events));
    }
    let mut leads_csv = String::from("lead_id,company_size\n");
    let mut events_csv = String::from("lead_id,event,at\n");
    for (id, size, events) in &leads {
        leads_csv.push_str(&format!("{id},{size}\n"));
        for (t, at) in events {
            events_csv.push_str(&format!("{id},{t},{at}\n"));
        }
    }
    wd.write("mix.csv", &leads_csv);
    wd.write("mix_events.csv", &events_csv);
    let out = wd
        .cmd()
        .args(["score", "--model", "m.json", "--data", "mix.csv"])
        .args(["--events", "mix_events.csv", "--as-of", "2026-01-15"])
        .args(["--out", "mix_scored.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let scored = crate::read_csv(&wd.path("mix_scored.csv"));
    let cli: Vec<i64> = scored
        .column("score")
        .unwrap()
        .i64()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(cli.len(), leads.len());

    // The event numbers at the boundaries, by hand: the week's count and the decayed sum
    // (0.5^(10/10) + 0.5^(3/10) + 0.5^0 = 2.312, rounded to 0.1).
    let week = "events: pricing_page_view within 7 days";
    let decayed = "events: pricing_page_view decayed, half-life 10 days";
    let number = |k: usize, column: &str| -> f64 {
        let (_, _, events) = &leads[k];
        let events: Vec<(&str, NaiveDate)> = events
            .iter()
            .map(|(t, at)| (t.as_str(), mqlcal::events::event_day(at).unwrap()))
            .collect();
        let values = model.event_values(&events, as_of);
        values.iter().find(|(c, _)| c == column).unwrap().1
    };
    for (k, want) in [
        (0, 1.0),
        (1, 0.0),
        (2, 0.0),
        (3, 0.0),
        (4, 1.0),
        (6, 0.0),
        (7, 0.0),
    ]
    .into_iter()
    .chain([(8, 4.0), (9, 0.0)])
    {
        assert_eq!(number(k, week), want, "{}", leads[k].0);
    }
    assert!(
        (number(5, decayed) - 2.3).abs() < 1e-12,
        "{}",
        number(5, decayed)
    );
    assert_eq!(number(5, week), 2.0);
    assert_eq!(number(2, decayed), 0.0);
    let pts = |rule: &str| {
        model
            .rules
            .iter()
            .find(|r| r.name == rule)
            .unwrap()
            .points
            .0
    };
    assert!(pts("Pricing this week") != 0 && pts("Pricing, decayed") != 0);

    // The library and the service, lead for lead. Leads without events are sent without the
    // key (B7) or with an empty list (the others).
    let mut requests = Vec::new();
    for (k, (id, size, events)) in leads.iter().enumerate() {
        let days: Vec<(&str, NaiveDate)> = events
            .iter()
            .map(|(t, at)| (t.as_str(), mqlcal::events::event_day(at).unwrap()))
            .collect();
        let lib = model
            .score_lead_with_events(
                |c| match c {
                    "company_size" => model.cell(Some(size.as_str())),
                    _ => mqlcal::rules::Value::Missing,
                },
                &days,
                as_of,
            )
            .unwrap();
        assert_eq!(lib.score, cli[k], "library, lead {id}");
        let mut lead = serde_json::json!({"lead_id": id, "company_size": size});
        if id != "B7" {
            lead["events"] = events
                .iter()
                .map(|(t, at)| serde_json::json!({"event": t, "at": at}))
                .collect();
        }
        requests.push(lead);
    }
    let server = crate::serve::Server::start(&wd, &["--model", "m.json"]);
    let (status, a) = server.post(
        "/v1/score",
        &serde_json::json!({"as_of": "2026-01-15", "leads": requests}),
    );
    assert_eq!(status, 200, "{a}");
    let results = a["results"].as_array().unwrap();
    assert_eq!(results.len(), leads.len());
    for (k, r) in results.iter().enumerate() {
        assert_eq!(r["id"], leads[k].0);
        assert_eq!(
            r["score"].as_i64(),
            Some(cli[k]),
            "service, lead {}",
            leads[k].0
        );
    }
    assert!(
        cli[..BOUNDARY_LEADS.len()]
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 4
    );

    // Bad events: 422 naming the field.
    let good = serde_json::json!({"event": "pricing_page_view", "at": "2026-01-10"});
    for (bad, field) in [
        (
            serde_json::json!({"event": "pricing_page_view", "at": "2026-13-01"}),
            "events[2].at",
        ),
        (
            serde_json::json!({"event": "pricing_page_view", "at": "last week"}),
            "events[2].at",
        ),
        (
            serde_json::json!({"event": "pricing_page_view", "at": 20260110}),
            "events[2].at",
        ),
        (
            serde_json::json!({"event": "pricing_page_view"}),
            "events[2].at",
        ),
        (serde_json::json!({"at": "2026-01-10"}), "events[2].event"),
        (
            serde_json::json!({"event": " ", "at": "2026-01-10"}),
            "events[2].event",
        ),
        (serde_json::json!("pricing_page_view"), "events[2]"),
    ] {
        let mut leads = vec![serde_json::json!({"lead_id": "x"}); 4];
        leads[3]["events"] = serde_json::json!([good, good, bad]);
        let (status, a) = server.post("/v1/score", &serde_json::json!({"leads": leads}));
        assert_eq!(status, 422, "{a}");
        assert_eq!(a["lead"], 3, "{a}");
        assert_eq!(a["column"], field, "{a}");
        assert!(
            a["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("leads[3].{field}: ")),
            "{a}"
        );
    }
    let (status, a) = server.post(
        "/v1/score",
        &serde_json::json!({"leads": [{"lead_id": "x", "events": "pricing_page_view"}]}),
    );
    assert_eq!(
        (status, &a["column"]),
        (422, &serde_json::json!("events")),
        "{a}"
    );
}

/// `mqlcal synth --events` writes the world of [`simulate`] (the same leads and events as the
/// library makes); a date rule on its `last_activity_date`, which a CRM moves on after the
/// deal, gets the leakage guard's warning with the share of converted leads recomputed here.
#[test]
fn synth_writes_an_activity_log_and_the_guard_names_a_date_after_the_opportunity() {
    let wd = Workdir::new();
    let out = wd
        .cmd()
        .args(["--json", "synth", "--rows", "1500", "--seed", "4"])
        .args(["--events", "events.csv", "--out", "leads.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&crate::stdout(&out)).unwrap();
    let made = mqlcal::synth::activity::activity(&ActivityParams {
        leads: 1500,
        seed: 4,
        ..ActivityParams::default()
    })
    .unwrap();
    assert_eq!(summary["events"], made.events.height());
    assert_eq!(summary["as_of"], "2026-02-28");
    let leads = Table::load(&wd.path("leads.csv"), &LoadOptions::default()).unwrap();
    let events = Table::load(&wd.path("events.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(leads.n_rows(), 1500);
    assert_eq!(events.n_rows(), made.events.height());
    // Both files exist now: a second run without --force refuses, naming one.
    let again = wd
        .cmd()
        .args(["synth", "--rows", "10", "--events", "events.csv"])
        .args(["--out", "leads.csv"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        crate::stderr(&again).contains("leads.csv"),
        "{}",
        crate::stderr(&again)
    );

    // Converted within the 60-day window; of them, those whose last activity is later.
    let text = |c: &str| leads.texts(c).unwrap();
    let (created, opportunity, last) = (
        text("created_at"),
        text("opportunity_date"),
        text("last_activity_date"),
    );
    let date = |s: &Option<String>| s.as_deref().map(|s| s.parse::<NaiveDate>().unwrap());
    let (mut both, mut later) = (0, 0);
    for i in 0..leads.n_rows() {
        let (c, o, l) = (date(&created[i]), date(&opportunity[i]), date(&last[i]));
        if let (Some(c), Some(o), Some(l)) = (c, o, l) {
            if (o - c).num_days() <= i64::from(WINDOW) {
                both += 1;
                later += usize::from(l > o);
            }
        }
    }
    assert!(both >= 20 && later * 4 >= both, "{later} of {both}");
    wd.write(
        "dates.toml",
        "[[rule]]\nname = \"Active this week\"\ncolumn = \"last_activity_date\"\n\
         within_days = 7\n",
    );
    let out = wd
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules", "dates.toml"])
        .args(["--outcome-date", "opportunity_date", "--date", "created_at"])
        .args([
            "--window",
            "60d",
            "--as-of",
            "2026-02-28",
            "--out",
            "d.json",
        ])
        .output()
        .unwrap();
    let err = crate::stderr(&out);
    assert!(out.status.success(), "{err}");
    let wanted = format!(
        "possible leakage in column 'last_activity_date': it is later than the opportunity \
         for {:.0}% of converted leads ({later} of {both})",
        100.0 * later as f64 / both as f64
    );
    assert!(err.contains(&wanted), "{wanted}\n{err}");
}

/// `mqlcal report` judges an event model's leads as training did: at the model's snapshot
/// dates, each with its events up to then; the report says the half-life. Without the log it
/// is an error naming `--events`.
#[test]
fn the_report_judges_snapshots_and_says_the_half_life() {
    let wd = Workdir::new();
    simulate(&wd, 1500, 3);
    wd.write("rules.toml", CLI_RULES);
    let out = cli_train(&wd, &[]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("m.json")).unwrap()).unwrap();
    let rows = model["training"]["events"]["snapshot_rows"]
        .as_u64()
        .unwrap();
    let learnt = model["training"]["events"]["half_life_search"][0]["half_life_days"]
        .as_f64()
        .unwrap();
    let report = |extra: &[&str]| {
        wd.cmd()
            .args(["report", "--model", "m.json", "--data", "leads.csv"])
            .args(["--out", "report", "--force"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = report(&["--events", "events.csv"]);
    let (said, err) = (crate::stdout(&out), crate::stderr(&out));
    assert!(out.status.success(), "{err}");
    assert!(
        said.contains(&format!(
            "judging {rows} lead snapshots (monthly) of 1500 leads"
        )),
        "{said}"
    );
    let n: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("report/metrics.json")).unwrap())
            .unwrap();
    // Every snapshot row is judged: the mature ones in the numbers, the others maturing.
    let maturity = &n["maturity"];
    assert_eq!(
        n["funnel"]["leads"].as_u64().unwrap() + maturity["immature_leads"].as_u64().unwrap(),
        rows
    );
    assert_eq!(n["funnel"]["conversions"], maturity["mature_conversions"]);
    let sentence = format!(
        "pricing_page_view events lose half their value in {} days (learnt from the data)",
        mqlcal::rules::format_number(learnt)
    );
    assert_eq!(n["half_lives"], serde_json::json!([sentence]));
    let html = std::fs::read_to_string(wd.path("report/index.html")).unwrap();
    assert!(html.contains(&sentence));

    let out = report(&[]);
    assert!(!out.status.success());
    let err = crate::stderr(&out);
    assert!(
        err.contains("--events") && err.contains("Pricing, some"),
        "{err}"
    );

    // Retrain does not take a log yet: refused, naming the rule and what to do instead.
    let out = wd
        .cmd()
        .args(["retrain", "--champion", "m.json", "--data", "leads.csv"])
        .args(["--out", "registry"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    let err = crate::stderr(&out);
    assert!(
        err.contains("rule 'Pricing, some'") && err.contains("mqlcal report --events"),
        "{err}"
    );
    assert!(!wd.path("registry").exists());
}

/// A model with a date rule is reported and retrained with its dates counted back from the
/// data's as-of (the newest lead or opportunity date), as training counted them.
#[test]
fn date_rule_models_are_reported_and_retrained_at_the_data_as_of() {
    let wd = Workdir::new();
    let out = wd
        .cmd()
        .args(["synth", "--rows", "1500", "--seed", "6"])
        .args(["--events", "events.csv", "--out", "leads.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    wd.write(
        "dates.toml",
        "[[rule]]\nname = \"Quiet for a month\"\ncolumn = \"last_activity_date\"\n\
         older_than_days = 30\n",
    );
    let dated = ["--outcome-date", "opportunity_date", "--date", "created_at"];
    let out = wd
        .cmd()
        .args(["train", "--data", "leads.csv", "--rules", "dates.toml"])
        .args(dated)
        .args(["--window", "60d", "--out", "d.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let out = wd
        .cmd()
        .args([
            "report",
            "--model",
            "d.json",
            "--data",
            "leads.csv",
            "--out",
            "report",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let out = wd
        .cmd()
        .args(["retrain", "--champion", "d.json", "--data", "leads.csv"])
        .args(["--out", "registry"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let versions: Vec<serde_json::Value> = std::fs::read_dir(wd.path("registry/versions"))
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(versions.len(), 2);
    for m in &versions {
        assert_eq!(
            m["training"]["date_rules_as_of"], "2026-02-28",
            "{}",
            m["training"]
        );
    }
}
