use std::path::PathBuf;

use mqlcal::calibrate::Calibration;
use mqlcal::model::Model;
use mqlcal::threshold::{HEALTHY_MQL_RATE, TYPICAL_MQL_TO_SQL};

use super::pct;
use crate::say;

/// Show a model file readably: the points table, the threshold and what it implies.
///
/// Example: mqlcal inspect --model models/lead-model.json
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file to show.
    #[arg(long)]
    model: PathBuf,
}

/// `--json`: the model's facts without its drift profile and calibration tables.
#[derive(serde::Serialize)]
struct Summary<'a> {
    model: &'a std::path::Path,
    generator: &'a str,
    schema_version: u32,
    training: &'a mqlcal::model::Training,
    points: Vec<super::train::RulePoints<'a>>,
    threshold: &'a mqlcal::model::ModelThreshold,
    #[serde(skip_serializing_if = "Option::is_none")]
    grades: Option<&'a mqlcal::grades::Grades>,
    metrics: &'a mqlcal::metrics::Metrics,
    warnings: &'a [String],
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = Model::load(&args.model)?;
    if super::ui::json() {
        return super::ui::summary(&Summary {
            model: &args.model,
            generator: &model.generator,
            schema_version: model.schema_version,
            training: &model.training,
            points: super::train::rule_points(&model),
            threshold: &model.threshold,
            grades: model.grades.as_ref(),
            metrics: &model.metrics,
            warnings: &model.warnings,
        });
    }
    let t = &model.training;
    say!(
        "model {} ({}, schema {})",
        args.model.display(),
        model.generator,
        model.schema_version
    );
    say!(
        "trained on {} ({} leads, {} converted), rules {}, alpha {}, seed {}",
        t.input,
        t.rows,
        pct(t.conversion_rate),
        t.rules_source,
        t.alpha,
        t.seed
    );
    print_outcome(&model);
    print_events(&model);
    print_date_rules(&model);
    print_points(&model);
    print_interactions(&model);
    print_threshold(&model);
    print_grades(&model);
    print_metrics(&model);
    match &model.calibration {
        Calibration::Platt { a, b } => {
            say!("calibration: Platt, probability = 1 / (1 + exp({a:.6} * score + {b:.6}))")
        }
        Calibration::Isotonic { knots } => {
            say!("calibration: isotonic, {} knots", knots.len())
        }
        Calibration::Beta { a, b, c, knots, .. } => say!(
            "calibration: beta, logit p = {c:.4} + {a:.4} * ln s - {b:.4} * ln(1 - s) on the \
             points' own probability s ({} knots)",
            knots.len()
        ),
    }
    if let Some(search) = &model.training.calibration_search {
        let compared: Vec<String> = search
            .iter()
            .map(|m| format!("{:?} {:.5}", m.method, m.cv_log_loss).to_lowercase())
            .collect();
        say!(
            "  chosen by --calibration auto on cross-validated log loss: {}",
            compared.join(", ")
        );
    }
    for w in &model.warnings {
        say!("warning: {w}");
    }
    Ok(())
}

/// What the outcome and so the probability mean: the window, as-of and the young leads.
pub fn print_outcome(model: &Model) {
    let t = &model.training;
    if let Some(o) = &t.outcome {
        let from = match (o.source.as_str(), &o.file) {
            ("opportunities", Some(file)) => {
                format!("opportunities listed in {file} ({})", o.column)
            }
            ("date", _) => format!("opportunity dates in '{}'", o.column),
            ("stage", _) => format!("the stage '{}' (no dates, so no window)", o.column),
            _ => format!("'{}'", o.column),
        };
        say!("outcome: {from}");
    }
    if let (Some(w), Some(as_of)) = (t.window_days, &t.as_of) {
        say!(
            "probability: of becoming an opportunity within {w} days of creation; data as of \
             {as_of}"
        );
        if let (Some(n), Some(method), Some(d)) =
            (t.immature_leads, t.immature_method, &t.delay_days)
        {
            say!(
                "  {n} immature leads (created less than {w} days before as-of): {}; delay to \
                 opportunity median {} days, 90% within {} days ({} mature conversions)",
                match method {
                    mqlcal::outcome::Immature::Weight => "kept, each weighted by the time it had",
                    mqlcal::outcome::Immature::Drop => "left out",
                },
                d.median_days,
                d.p90_days,
                d.conversions
            );
        }
        if let Some(late) = t.late_conversions.filter(|&l| l > 0) {
            say!("  {late} opportunities came after the window and count as not converted");
        }
    }
}

/// The as-of date date rules counted back from in training, when the model has date rules.
pub fn print_date_rules(model: &Model) {
    let Some(d) = &model.training.date_rules_as_of else {
        return;
    };
    if model.rules.iter().any(|r| r.condition.has_date()) {
        say!(
            "date rules: trained counting days back from {d}; `mqlcal score` counts back from \
             --as-of (default today, UTC)"
        );
    } else {
        // Event rules only: each snapshot was its own reference date.
        say!(
            "event rules: trained on the events before each snapshot date; `mqlcal score` \
             counts them up to --as-of (default today, UTC)"
        );
    }
}

/// The points table, largest points first.
pub fn print_points(model: &Model) {
    say!(
        "\npoints ({} points double the odds of conversion):",
        model.scale.points_to_double_odds
    );
    say!(
        "  {:>6}  {:>7}  {:>9}  rule",
        "points",
        "leads",
        "converted"
    );
    let mut order: Vec<usize> = (0..model.rules.len()).collect();
    order.sort_by(|&a, &b| model.rules[b].points.cmp(&model.rules[a].points));
    for j in order {
        let r = &model.rules[j];
        let group = r
            .group
            .as_ref()
            .map_or(String::new(), |g| format!("  ({g})"));
        say!(
            "  {:>6}  {:>7}  {:>9}  {}  [{}]{group}",
            r.points.to_string(),
            pct(r.support),
            pct(r.conversion_rate),
            r.name,
            r.describe()
        );
    }
}

/// Point-in-time training with an activity log: what was read, the snapshots, and what each
/// decayed source's half-life is (with the losses of the half-lives tried when it was learnt).
pub fn print_events(model: &Model) {
    let Some(e) = &model.training.events else {
        return;
    };
    match (e.events, e.leads_with_events) {
        (Some(events), Some(leads)) => say!(
            "events: {events} from {} ({leads} of the leads have some); point in time, {} \
             snapshots: {} training rows",
            e.input,
            e.snapshots,
            e.snapshot_rows
        ),
        _ => say!(
            "events: snapshots counted {}from {}; point in time, {} snapshots: {} training rows",
            if e.counted_in_warehouse {
                "in the warehouse (`export --format sql-counts --events-table`) "
            } else {
                ""
            },
            e.input,
            e.snapshots,
            e.snapshot_rows
        ),
    }
    if e.counted_in_warehouse {
        say!(
            "  folds dealt by bucket of lead ids (lead_bucket), not lead by lead as `train \
             --events` deals them: the penalty and calibration may differ slightly from a model \
             trained there"
        );
    }
    for sentence in model.half_life_sentences() {
        say!("  {sentence}");
    }
    for s in &e.half_life_search {
        let tried: Vec<String> = s
            .scores
            .iter()
            .map(|x| {
                format!(
                    "{}: {:.4}",
                    mqlcal::rules::format_number(x.half_life_days),
                    x.cv_log_loss
                )
            })
            .collect();
        say!(
            "  '{}': half-life {} days, by cross-validated log loss ({})",
            s.column,
            mqlcal::rules::format_number(s.half_life_days),
            tried.join(", ")
        );
    }
}

/// The search of `--propose-interactions`: each step's best AND rule, its cross-validated
/// log loss and the bar it had to pass.
pub fn print_interactions(model: &Model) {
    let Some(search) = &model.training.interactions else {
        return;
    };
    let kept = search.steps.iter().filter(|s| s.kept).count();
    say!(
        "\ninteractions: {kept} of up to {} AND rules kept ({} candidate pairs firing on {}+ \
         leads together and apart; per-unit and `any` rules are not paired)",
        search.asked,
        search.pairs,
        search.min_leads
    );
    for s in &search.steps {
        say!(
            "  {} '{}': cross-validated log loss {:.5} -> {:.5} (drop {:.5}, bar {:.5} = {:.2} \
             standard errors for {} pairs)",
            if s.kept { "kept    " } else { "not kept" },
            s.rule,
            s.cv_log_loss_before,
            s.cv_log_loss,
            s.cv_log_loss_before - s.cv_log_loss,
            s.bar,
            if s.standard_error > 0.0 {
                s.bar / s.standard_error
            } else {
                0.0
            },
            s.pairs
        );
    }
}

/// The grade matrix: cut points, and out-of-fold leads and conversion rate per cell.
pub fn print_grades(model: &Model) {
    let Some(g) = &model.grades else {
        return;
    };
    say!(
        "
grades ({}):",
        g.method
    );
    for (axis, labels) in [(&g.profile, "A/B/C"), (&g.behaviour, "1/2/3")] {
        let cuts: Vec<String> = axis.at_least.iter().map(|c| c.to_string()).collect();
        say!(
            "  {} sub-score: {labels} from {} points",
            axis.group,
            cuts.join(" / ")
        );
    }
    say!("  out-of-fold conversion rate (leads) per cell:");
    say!("        {:>14}{:>14}{:>14}{:>14}", "1", "2", "3", "4");
    for row in g.cells.chunks(mqlcal::grades::BANDS) {
        let grade = row[0].grade.to_string();
        let letter = &grade[..1];
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                format!(
                    "{:>14}",
                    format!(
                        "{} ({})",
                        pct(c.out_of_fold_conversion_rate),
                        c.out_of_fold_leads
                    )
                )
            })
            .collect();
        say!("     {letter}  {}", cells.join(""));
    }
}

/// The threshold and the funnel it implies, in the terms marketing and sales use.
pub fn print_threshold(model: &Model) {
    let th = &model.threshold;
    let f = &th.out_of_fold;
    match th.threshold.policy {
        mqlcal::threshold::Policy::Grade(cell) => say!(
            "\nMQL threshold: grade {cell} or better (policy {}; no training MQL scored below \
             {} points)",
            th.threshold.policy,
            th.threshold.points
        ),
        _ => say!(
            "\nMQL threshold: {} points (policy {})",
            th.threshold.points,
            th.threshold.policy
        ),
    }
    if let Some(g) = th.threshold.guarantee() {
        say!("  {g}, on out-of-fold scores");
    }
    say!(
        "  lead→MQL rate          {:>6}  (healthy: {:.0}–{:.0}%)",
        pct(f.lead_to_mql_rate),
        100.0 * HEALTHY_MQL_RATE.0,
        100.0 * HEALTHY_MQL_RATE.1
    );
    say!(
        "  MQL→opportunity rate   {:>6}  (typical MQL→SQL: {:.0}–{:.0}%)",
        pct(f.mql_to_opportunity_rate),
        100.0 * TYPICAL_MQL_TO_SQL.0,
        100.0 * TYPICAL_MQL_TO_SQL.1
    );
    say!(
        "  conversions captured   {:>6}  ({} of {} conversions, {} MQLs of {} leads)",
        pct(f.conversions_captured),
        f.mqls_converted,
        f.conversions,
        f.mqls,
        f.leads
    );
}

pub fn print_metrics(model: &Model) {
    let m = &model.metrics;
    say!(
        "\nout-of-fold metrics: ROC AUC {:.3}, log loss {:.4}, Brier {:.4}, calibration error \
         (ECE) {:.4}",
        m.roc_auc,
        m.log_loss,
        m.brier,
        m.ece
    );
    if let Some(c) = &model.calibration_statistics {
        let ci = |v: [f64; 2]| format!("[{:.3}, {:.3}]", v[0], v[1]);
        say!(
            "  calibration intercept {:+.3} {} (0 when right on average), slope {:.3} {} (1 when \
             calibrated)",
            c.calibration_intercept,
            ci(c.calibration_intercept_ci),
            c.calibration_slope,
            ci(c.calibration_slope_ci)
        );
        say!(
            "  Spiegelhalter z {:+.2} (p = {:.3}), ECE 95% interval [{:.4}, {:.4}], KS {:.3}, \
             Gini {:.3}",
            c.spiegelhalter_z,
            c.spiegelhalter_p,
            c.ece_ci[0],
            c.ece_ci[1],
            c.ks,
            c.gini
        );
    }
}
