//! Criterion benches of the hot paths: turning leads into rule features, grouping them into
//! patterns, the grouped fit (against linfa-logistic on the same leads one by one), training
//! from the groups, and scoring per pattern. Run with `cargo bench --profile dev --bench
//! hot_paths` (the project builds one profile; release would rebuild polars).
//! Whole-process comparisons with the Python reference are in bench/compare.sh.

use std::path::Path;

use mqlcal::progress::Silent;

use criterion::{criterion_group, criterion_main, Criterion};
use mqlcal::data::{LoadOptions, Table};
use mqlcal::fit::{GroupedFit, LogisticFit};
use mqlcal::group::Groups;
use mqlcal::metrics::CalibrationStats;
use mqlcal::report::numbers::{check_bands, points_bands};
use mqlcal::rules::features::rule_features;
use mqlcal::synth::{generate, truth, SynthParams};
use mqlcal::train::{score_patterns, train_groups, Input, TrainParams};

const LEADS: usize = 200_000;

fn leads(rows: usize) -> Table {
    let df = generate(&SynthParams {
        rows,
        seed: 7,
        ..SynthParams::default()
    })
    .expect("synthetic leads");
    Table::from_frame(
        Path::new("synth.csv"),
        df,
        String::new(),
        &LoadOptions::default(),
    )
    .expect("a table")
}

fn hot_paths(c: &mut Criterion) {
    let table = leads(LEADS);
    let (_, rules, _) = truth();
    let y = table.outcomes("converted").expect("outcomes");
    let x = rule_features(&table, &rules).expect("features");
    let (groups, _) = Groups::from_rows(x.view(), &y);
    let leads_f: Vec<f64> = groups.leads.iter().map(|&v| v as f64).collect();
    let conv_f: Vec<f64> = groups.conversions.iter().map(|&v| v as f64).collect();

    let mut g = c.benchmark_group(format!("{LEADS} leads"));
    g.sample_size(10);
    g.bench_function("rule features", |b| {
        b.iter(|| rule_features(&table, &rules).expect("features"))
    });
    g.bench_function("group into patterns", |b| {
        b.iter(|| Groups::from_rows(x.view(), &y))
    });
    g.bench_function("grouped fit (argmin L-BFGS)", |b| {
        b.iter(|| {
            GroupedFit::new(1.0)
                .fit(groups.x.view(), &leads_f, &conv_f, None)
                .expect("fit")
        })
    });
    g.bench_function("per-lead fit (linfa-logistic)", |b| {
        b.iter(|| LogisticFit::new(1.0).fit(x.view(), &y).expect("fit"))
    });
    let mut params = TrainParams::new("converted");
    params.rules = Some(rules.clone());
    g.bench_function("train from groups (5-fold search, calibration)", |b| {
        b.iter(|| {
            train_groups(
                &groups,
                &rules,
                &params,
                Input::of(Path::new("synth.csv"), ""),
                &Silent,
            )
            .expect("train")
        })
    });
    let model = train_groups(
        &groups,
        &rules,
        &params,
        Input::of(Path::new("synth.csv"), ""),
        &Silent,
    )
    .expect("train");
    g.bench_function("score per pattern", |b| {
        b.iter(|| score_patterns(&model, &table).expect("score"))
    });
    g.finish();

    // The report's calibration statistics and points-band checks, on a million scored leads
    // (what they add to `train --report` or `report` at that size: the leads pooled by
    // probability are shared with the metrics the report had before).
    let big = leads(1_000_000);
    let big_y = big.outcomes("converted").expect("outcomes");
    let (patterns, lead_pattern) = score_patterns(&model, &big).expect("score");
    let (scores, probabilities): (Vec<i64>, Vec<f64>) = lead_pattern
        .iter()
        .map(|&p| {
            (
                patterns[p as usize].score,
                patterns[p as usize].probability.0,
            )
        })
        .unzip();
    let mut g = c.benchmark_group("1000000 leads");
    g.sample_size(10);
    g.bench_function("calibration statistics and band checks", |b| {
        let pooled = mqlcal::metrics::pooled(&probabilities, &big_y);
        b.iter(|| {
            let stats = CalibrationStats::compute_counts(&pooled);
            let mut bands = points_bands(&scores, &big_y, 20);
            check_bands(&mut bands, &scores, &probabilities);
            (stats, bands)
        })
    });
    g.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
