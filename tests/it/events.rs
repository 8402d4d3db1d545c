//! Activity logs and point-in-time training (issue 16) on synthetic leads with a known truth:
//! the chance of an opportunity on a day depends on pricing visits decayed with a half-life of
//! 14 days, and demos happen only after the opportunity (as in a CRM export, where the
//! account executive books them).

use chrono::{Days, NaiveDate};
use mqlcal::data::outcomes::{OutcomeSpec, TimeParams};
use mqlcal::data::{LoadOptions, Table};
use mqlcal::events::snapshots::Cadence;
use mqlcal::events::{
    best_half_life, half_life_scores, snapshot_rows, train_point_in_time, Aggregate, EventColumn,
    EventColumns, Events, PointInTime, HALF_LIFE_GRID,
};
use mqlcal::outcome::{Immature, Window};
use mqlcal::rules::RulesFile;
use mqlcal::train::TrainParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Workdir;

const TRUE_HALF_LIFE: f64 = 14.0;
const WINDOW: u32 = 60;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
}

/// Leads created over 2025, each with bursts of pricing visits; each day the chance of an
/// opportunity the next day is 1 − exp(−exp(−7 + 0.9·D)), D the visits decayed with the true
/// half-life. After an opportunity: two demos within 5 days and a burst of pricing visits
/// (negotiation). Returns the leads file and the events file (timestamps in UTC).
fn simulate(wd: &Workdir, leads: usize, seed: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let end = (as_of() - day0()).num_days();
    let keep = 0.5f64.powf(1.0 / TRUE_HALF_LIFE);
    let mut lead_rows = String::from("lead_id,created_at,opportunity_date,company_size\n");
    let mut event_rows = String::from("lead_id,event,at\n");
    for i in 0..leads {
        let id = format!("L{i:05}");
        let created = rng.gen_range(0..365);
        let mut burst = 0;
        let mut decayed = 0.0;
        let mut opportunity = None;
        for d in created..=end {
            if burst == 0 && rng.gen_bool(0.012) {
                burst = rng.gen_range(4..12);
            }
            let rate = match (opportunity, burst > 0) {
                (Some(o), _) if d - o < 20 => 0.3,
                (_, true) => 0.45,
                _ => 0.01,
            };
            burst = (burst - 1).max(0);
            let visits = u32::from(rng.gen_bool(rate));
            decayed = decayed * keep + f64::from(visits);
            for _ in 0..visits {
                let at = day0() + Days::new(d as u64);
                event_rows.push_str(&format!(
                    "{id},pricing_page_view,{at}T{:02}:{:02}:00Z\n",
                    rng.gen_range(0..24),
                    rng.gen_range(0..60)
                ));
            }
            if opportunity.is_none() {
                let p = 1.0 - (-(-7.0f64 + 0.9 * decayed).exp()).exp();
                if rng.gen_bool(p.min(1.0)) && d < end {
                    let o = d + 1;
                    opportunity = Some(o);
                    for _ in 0..2 {
                        let at = day0() + Days::new((o + rng.gen_range(0..5)).min(end) as u64);
                        event_rows.push_str(&format!("{id},demo_booked,{at}T10:00:00Z\n"));
                    }
                }
            }
        }
        let date = |d: i64| (day0() + Days::new(d as u64)).to_string();
        lead_rows.push_str(&format!(
            "{id},{},{},{}\n",
            date(created),
            opportunity.map(date).unwrap_or_default(),
            rng.gen_range(5..5000)
        ));
    }
    (
        wd.write("leads.csv", &lead_rows),
        wd.write("events.csv", &event_rows),
    )
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
