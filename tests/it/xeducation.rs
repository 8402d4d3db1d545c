//! The real X Education lead set (../shared/datasets/x-education-leads): automatic rules,
//! after-contact columns excluded, a seeded stratified 70/30 split. The points model must
//! reach ROC AUC ≥ 0.91 and calibration error < 0.023 on the 30% it never saw (bands chosen
//! with the outcome and the default calibration, auto, which picks beta here: 0.9145 and
//! 0.0226; Platt gave 0.0244; quantile bands gave 0.906 and 0.019). scikit-learn's
//! one-hot logistic regression reaches 0.896 on the same split definition; optbinning's
//! calibration error on the three splits of `bench/binning.sh` reaches 0.0245.

use mqlcal::data::{LoadOptions, Table};
use mqlcal::fit::stratified_folds;
use mqlcal::metrics::Metrics;
use mqlcal::train::{score_table, train, TrainParams};

const AFTER_CONTACT: [&str; 7] = [
    "Tags",
    "Lead Quality",
    "Last Notable Activity",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
];

fn leads_csv() -> std::path::PathBuf {
    let p = crate::repo().join("../shared/datasets/x-education-leads/Leads.csv");
    assert!(
        p.exists(),
        "{} is missing: this test needs the shared data sets beside the repository",
        p.display()
    );
    p
}

/// The leads as the reference figures read them: `Select` missing, the after-contact columns
/// and the lead number left out.
fn pre_contact() -> LoadOptions {
    let mut exclude: Vec<String> = AFTER_CONTACT.iter().map(|s| s.to_string()).collect();
    exclude.push("Lead Number".into());
    LoadOptions {
        na: vec!["Select".into()],
        exclude,
        ..Default::default()
    }
}

#[test]
fn points_model_reaches_reference_quality_on_held_out_leads() {
    let options = pre_contact();
    let all = Table::load(&leads_csv(), &options).unwrap();
    let y = all.outcomes("Converted").unwrap();
    // A stratified 70/30 split, seed 0: fold assignment into 10 parts, 3 of them held out.
    let parts = stratified_folds(&y, 10, 0);
    let train_rows: Vec<usize> = (0..y.len()).filter(|&i| parts[i] >= 3).collect();
    let test_rows: Vec<usize> = (0..y.len()).filter(|&i| parts[i] < 3).collect();
    let train_table = all.take(&train_rows).unwrap();
    let test_table = all.take(&test_rows).unwrap();

    let mut params = TrainParams::new("Converted");
    params.id = Some("Prospect ID".into());
    params.na = options.na.clone();
    params.exclude = options.exclude.clone();
    let trained = train(&train_table, &params).unwrap();
    assert_eq!(trained.model.training.rules_source, "proposed");
    assert!(
        !trained.model.warnings.iter().any(|w| w.contains("leakage")),
        "no leakage warning once the after-contact columns are out: {:?}",
        trained.model.warnings
    );

    let scored = score_table(&trained.model, &test_table).unwrap();
    let y_test = test_table.outcomes("Converted").unwrap();
    let p: Vec<f64> = scored.iter().map(|s| s.probability.0).collect();
    let m = Metrics::compute(&p, &y_test);
    eprintln!(
        "X Education, 30% held out ({} leads): {m:?}; {} rules, alpha {}",
        y_test.len(),
        trained.model.rules.len(),
        trained.model.training.alpha
    );
    assert!(
        m.roc_auc >= 0.91,
        "held-out ROC AUC {:.4} < 0.91",
        m.roc_auc
    );
    // Training is deterministic, so the bar sits just above today's 0.0226: a change that
    // calibrates worse here fails (the ECE's sampling noise on these leads is larger, ±0.004,
    // but this split is fixed).
    assert!(
        m.ece < 0.023,
        "held-out calibration error {:.4} ≥ 0.023",
        m.ece
    );

    // `--propose-interactions 3` on the same split: the search runs on real leads, what it
    // keeps are AND rules of two proposed rules, and the held-out quality meets the same bar.
    params.interactions = 3;
    let with = train(&train_table, &params).unwrap().model;
    let search = with.training.interactions.as_ref().unwrap();
    let kept: Vec<&str> = search
        .steps
        .iter()
        .filter(|s| s.kept)
        .map(|s| s.rule.as_str())
        .collect();
    assert_eq!(with.rules.len(), trained.model.rules.len() + kept.len());
    for r in &with.rules[trained.model.rules.len()..] {
        assert!(matches!(r.condition, mqlcal::rules::Condition::All { .. }));
    }
    let scored = score_table(&with, &test_table).unwrap();
    let p: Vec<f64> = scored.iter().map(|s| s.probability.0).collect();
    let mi = Metrics::compute(&p, &y_test);
    eprintln!(
        "with --propose-interactions 3: {} pairs, kept {kept:?}; held-out ROC AUC {:.4} \
         (without {:.4}), ECE {:.4} (without {:.4})",
        search.pairs, mi.roc_auc, m.roc_auc, mi.ece, m.ece
    );
    assert!(mi.roc_auc >= 0.91 && mi.ece < 0.023, "{mi:?}");
}

/// With the sales-filled columns left in, the guard names them.
#[test]
fn leakage_guard_names_the_after_contact_column() {
    let options = LoadOptions {
        na: vec!["Select".into()],
        exclude: vec!["Lead Number".into()],
        ..Default::default()
    };
    let all = Table::load(&leads_csv(), &options).unwrap();
    let y = all.outcomes("Converted").unwrap();
    let x_rules = mqlcal::rules::auto::propose(
        &all,
        &["Converted".into(), "Prospect ID".into()],
        &Default::default(),
    )
    .unwrap()
    .0;
    let x = mqlcal::rules::features::rule_features(&all, &x_rules).unwrap();
    let warnings = mqlcal::leakage::scan(&x_rules, x.view(), &y);
    eprintln!("{warnings:#?}");
    assert!(
        warnings.iter().any(|w| w.contains("column 'Tags'")),
        "Tags must be named: {warnings:#?}"
    );
}

/// optbinning 1.0.0's Scorecard (BinningProcess + scikit-learn LogisticRegression) on the split
/// of each seed below, measured by `bash bench/binning.sh` (which computes them afresh beside
/// mqlcal's): (seed, held-out ROC AUC, ECE). optbinning needs ortools, too heavy for the test
/// venv, so its figures are recorded here rather than recomputed.
const OPTBINNING: [(u64, f64, f64); 3] = [
    (0, 0.9035, 0.0136),
    (1, 0.9047, 0.0224),
    (2, 0.9085, 0.0245),
];

/// The split bench/binning.py uses: within each class, rows ordered by
/// splitmix64(seed · 1,000,003 + row), the first round(30%) held out.
fn bench_split(y: &[bool], seed: u64) -> Vec<bool> {
    fn splitmix64(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let mut test = vec![false; y.len()];
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rows.sort_by_key(|&i| splitmix64(seed.wrapping_mul(1_000_003).wrapping_add(i as u64)));
        let k = (0.3 * rows.len() as f64).round() as usize;
        for &i in &rows[..k] {
            test[i] = true;
        }
    }
    test
}

/// Issue 13's target for proposed rules: held-out ROC AUC at least optbinning's on every one of
/// three splits, and calibration error no worse on average and on no split worse by more than
/// 0.001 (seed 0: 0.0144 against 0.0136; ECE's sampling noise on 2,772 leads is about ±0.004).
#[test]
fn proposed_rules_match_optbinning_on_three_splits() {
    let options = pre_contact();
    let all = Table::load(&leads_csv(), &options).unwrap();
    let y = all.outcomes("Converted").unwrap();
    let (mut ece_mqlcal, mut ece_optbinning) = (0.0, 0.0);
    for (seed, auc_ref, ece_ref) in OPTBINNING {
        let test = bench_split(&y, seed);
        let train_rows: Vec<usize> = (0..y.len()).filter(|&i| !test[i]).collect();
        let test_rows: Vec<usize> = (0..y.len()).filter(|&i| test[i]).collect();
        let mut params = TrainParams::new("Converted");
        params.id = Some("Prospect ID".into());
        params.na = options.na.clone();
        params.exclude = options.exclude.clone();
        let trained = train(&all.take(&train_rows).unwrap(), &params).unwrap();
        let test_table = all.take(&test_rows).unwrap();
        let scored = score_table(&trained.model, &test_table).unwrap();
        let p: Vec<f64> = scored.iter().map(|s| s.probability.0).collect();
        let m = Metrics::compute(&p, &test_table.outcomes("Converted").unwrap());
        eprintln!(
            "seed {seed}: mqlcal AUC {:.4} ECE {:.4}; optbinning {auc_ref} {ece_ref}",
            m.roc_auc, m.ece
        );
        // Rounded as the bench prints them.
        assert!(
            (m.roc_auc * 1e4).round() / 1e4 >= auc_ref,
            "seed {seed}: held-out ROC AUC {:.4} < optbinning's {auc_ref}",
            m.roc_auc
        );
        assert!(
            m.ece <= ece_ref + 0.001,
            "seed {seed}: held-out calibration error {:.4} > optbinning's {ece_ref} + 0.001",
            m.ece
        );
        ece_mqlcal += m.ece / 3.0;
        ece_optbinning += ece_ref / 3.0;
    }
    assert!(
        ece_mqlcal <= ece_optbinning,
        "mean calibration error {ece_mqlcal:.4} > optbinning's {ece_optbinning:.4}"
    );
}
