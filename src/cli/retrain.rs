use std::path::{Path, PathBuf};

use anyhow::Context;
use mqlcal::data::{LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::registry::{fault_point, ModelDir};
use mqlcal::report::html::escape;
use mqlcal::report::numbers::{self, ReportNumbers};
use mqlcal::retrain::{retrain_with, Comparison, EvalScores, Evaluation, PromoteIf, RetrainParams};

use super::pct;
use crate::say;

/// Retrain on new outcomes and decide whether the new model replaces the current one.
///
/// Fits a challenger with the champion's rules and options on the new leads, scores both
/// models on the same evaluation rows the challenger did not see (the most recent leads with
/// --date, else a seeded holdout), and writes into the model directory: the challenger (and
/// the champion, if it is not there yet) as versions named by content, and
/// comparisons/<challenger>-vs-<champion>/ with comparison.json and a report of both models
/// side by side. The challenger becomes current only when it is better by the margin (or with
/// --promote); otherwise the champion stays and the reason is printed.
///
/// Example:
///   mqlcal retrain --champion models/current.json --data data/leads-2026-11.parquet \
///       --out models/ --date created_at --eval-last 90d
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The current model file (e.g. models/current.json, or a file from `mqlcal train`).
    #[arg(long)]
    champion: PathBuf,
    /// New leads with known outcomes (.csv or .parquet), with the champion's columns.
    #[arg(long)]
    data: PathBuf,
    /// The model directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Column with each lead's creation date (YYYY-MM-DD): evaluate on the most recent leads.
    /// Defaults to the champion's date column, if it was trained with one.
    #[arg(long, value_name = "COLUMN")]
    date: Option<String>,
    /// With a date column: evaluate on the leads of the last N days (e.g. 90d, or 90).
    #[arg(long, default_value = "90d", value_name = "DAYS", value_parser = parse_days)]
    eval_last: u32,
    /// Evaluate on a seeded stratified share of the leads instead (default 0.2 when there is
    /// no date column).
    #[arg(long, value_name = "SHARE", conflicts_with = "date")]
    holdout: Option<f64>,
    /// Seed of the holdout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The metric the challenger must beat the champion on.
    #[arg(long, value_enum, default_value_t = PromoteIf::LogLoss)]
    promote_if: PromoteIf,
    /// How much better it must be (default: 0.002 log loss, 0.005 AUC).
    #[arg(long, allow_hyphen_values = true)]
    margin: Option<f64>,
    /// Promote the challenger whatever the metrics say (recorded in comparison.json).
    #[arg(long)]
    promote: bool,
    #[command(flatten)]
    read: super::read::ReadArgs,
    /// The list of opportunities that goes with the new leads, for a champion trained with
    /// `train --outcomes` (joined on the id; its date column and the window are the
    /// champion's). The window, date columns and young-lead method always come from the
    /// champion; as-of is the new data's.
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
}

fn parse_days(s: &str) -> Result<u32, String> {
    let digits = s.strip_suffix('d').unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(d) if d > 0 => Ok(d),
        _ => Err(format!("'{s}' is not a number of days; use e.g. 90d")),
    }
}

pub fn run(args: Args, bars: &super::ui::Bars) -> anyhow::Result<()> {
    let champion = Model::load(&args.champion)?;
    let date = args.date.clone().or(champion.training.date_column.clone());
    let evaluation = match (args.holdout, date) {
        (None, Some(column)) => Evaluation::LastDays {
            column,
            days: args.eval_last,
        },
        (share, _) => Evaluation::Holdout {
            share: share.unwrap_or(0.2),
            seed: args.seed,
        },
    };
    let params = RetrainParams {
        evaluation,
        promote_if: args.promote_if,
        margin: args.margin,
        force_promote: args.promote,
        outcomes: args.outcomes.clone(),
    };
    params.check()?;
    mqlcal::retrain::retrainable(&champion)?;
    let dir = ModelDir::create(&args.out)?;
    // Held for the whole run: a second retrain on this directory is told at once, not after
    // minutes of training.
    let lock = dir.lock(&format!("mqlcal retrain --data {}", args.data.display()))?;
    fault_point("after-lock");

    let load = LoadOptions {
        na: champion.training.na.clone(),
        exclude: champion.training.exclude.clone(),
        ..args.read.load_options(Some(&champion.training))?
    };
    let table = bars.spin(&format!("reading {}", args.data.display()), || {
        Table::load(&args.data, &load)
    })?;
    let result = retrain_with(&champion, &table, &params, bars)?;
    for note in result.notes.iter().chain(&result.challenger.notes) {
        eprintln!("mqlcal: note: {note}");
    }
    let c = &result.comparison;
    fault_point("after-train");

    // The champion is kept as a version too, so the directory holds every model it served.
    let (champion_name, imported) = dir.add(&champion, &lock)?;
    fault_point("after-import-champion");
    match dir.current()? {
        None => {
            dir.set_current(&champion_name, &lock)?;
            fault_point("after-first-current");
        }
        Some(current) if current != champion_name => eprintln!(
            "mqlcal: note: {} is {current}, not the champion given ({champion_name}); it \
             stays current unless the challenger is promoted",
            dir.current_path().display()
        ),
        Some(_) => {}
    }
    let (challenger_name, _) = dir.add(&result.challenger.model, &lock)?;
    fault_point("after-write-version");
    let comparison_dir = dir
        .comparisons()
        .join(format!("{challenger_name}-vs-{champion_name}"));
    let wrote_comparison = write_comparison(&comparison_dir, &champion, &result)?;
    fault_point("after-write-comparison");
    if c.decision.promote {
        dir.set_current(&challenger_name, &lock)?;
        fault_point("after-promote");
    }

    print_comparison(c);
    if imported {
        say!(
            "champion added to {} as {champion_name}",
            args.out.display()
        );
    }
    say!("challenger saved as {challenger_name}");
    if wrote_comparison {
        say!(
            "comparison written to {}",
            comparison_dir.join("comparison.json").display()
        );
    } else {
        say!(
            "comparison of these two versions kept from an earlier run: {}",
            comparison_dir.display()
        );
    }
    let current = dir.current()?.unwrap_or_default();
    if c.decision.promote {
        say!("promoted: {}; current is now {current}", c.decision.reason);
    } else {
        say!(
            "kept the champion: {}; current stays {current} (use --promote to override)",
            c.decision.reason
        );
    }
    super::ui::summary(&Summary {
        current: &current,
        comparison: comparison_dir.join("comparison.json"),
        result: c,
    })
}

/// `--json`: the version now current, and every number of comparison.json (the two versions'
/// names are in `champion.version` and `challenger.version`).
#[derive(serde::Serialize)]
struct Summary<'a> {
    current: &'a str,
    comparison: std::path::PathBuf,
    #[serde(flatten)]
    result: &'a Comparison,
}

fn print_comparison(c: &Comparison) {
    say!(
        "evaluated on {} leads ({} converted): {}",
        c.evaluation.rows,
        c.evaluation.conversions,
        c.evaluation.method
    );
    say!(
        "challenger trained on {} leads of {}",
        c.challenger_training_rows,
        c.data
    );
    say!("\n  {:<24} {:>12} {:>12}", "", "champion", "challenger");
    let row = |name: &str, a: String, b: String| say!("  {name:<24} {a:>12} {b:>12}");
    let (a, b) = (&c.champion, &c.challenger);
    row("ROC AUC", f4(a.metrics.roc_auc), f4(b.metrics.roc_auc));
    row("log loss", f4(a.metrics.log_loss), f4(b.metrics.log_loss));
    row("Brier", f4(a.metrics.brier), f4(b.metrics.brier));
    row(
        "calibration error (ECE)",
        f4(a.metrics.ece),
        f4(b.metrics.ece),
    );
    row(
        "threshold (points)",
        a.threshold.to_string(),
        b.threshold.to_string(),
    );
    row(
        "lead→MQL rate",
        pct(a.funnel.lead_to_mql_rate),
        pct(b.funnel.lead_to_mql_rate),
    );
    row(
        "MQL→opportunity rate",
        pct(a.funnel.mql_to_opportunity_rate),
        pct(b.funnel.mql_to_opportunity_rate),
    );
    say!("\npoints per rule (champion → challenger):");
    super::models::print_rule_changes(&c.rules);
    say!(
        "\ndrift from the champion's training leads (PSI): score {:.3}",
        c.score_psi
    );
    for d in c.drift.iter().filter(|d| d.flagged) {
        eprintln!(
            "mqlcal: warning: rule '{}' has drifted from the champion's training data (PSI \
             {:.3} > {})",
            d.name,
            d.psi,
            numbers::PSI_FLAG
        );
    }
    say!("");
}

fn f4(x: f64) -> String {
    format!("{x:.4}")
}

/// Writes the comparison folder whole (built beside it, then renamed). Returns false when a
/// comparison of the same two versions is already there: it is never overwritten.
fn write_comparison(
    out: &Path,
    champion: &Model,
    result: &mqlcal::retrain::Retrained,
) -> anyhow::Result<bool> {
    if out.exists() {
        return Ok(false);
    }
    let parent = out.parent().expect("comparisons/ has a parent");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".mqlcal-comparison-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    let c = &result.comparison;
    let json = serde_json::to_string_pretty(c).expect("comparisons serialise") + "\n";
    std::fs::write(tmp.path().join("comparison.json"), json)?;
    let champ = report_numbers(champion, &result.champion_scores, &result.outcomes, c);
    let chall = report_numbers(
        &result.challenger.model,
        &result.challenger_scores,
        &result.outcomes,
        c,
    );
    mqlcal::report::write(
        &tmp.path().join("champion"),
        false,
        &c.champion.version,
        &champ,
    )?;
    mqlcal::report::write(
        &tmp.path().join("challenger"),
        false,
        &c.challenger.version,
        &chall,
    )?;
    mqlcal::report::charts::draw_reliability_pair(tmp.path(), &champ, &chall)?;
    std::fs::write(
        tmp.path().join("index.html"),
        side_by_side(c, &champ, &chall),
    )?;
    let built = tmp.keep();
    if let Err(e) = std::fs::rename(&built, out) {
        let _ = std::fs::remove_dir_all(&built);
        return Err(e).with_context(|| format!("moving the comparison to {}", out.display()));
    }
    Ok(true)
}

fn report_numbers(
    model: &Model,
    s: &EvalScores,
    outcomes: &[bool],
    c: &Comparison,
) -> ReportNumbers {
    let scored = numbers::Scored {
        scores: &s.scores,
        probabilities: &s.probabilities,
        outcomes,
        features: s.features.view(),
        dates: None,
    };
    numbers::compute(
        model,
        &scored,
        format!("evaluation rows of {} ({})", c.data, c.evaluation.method),
        None,
    )
}

/// The comparison page: the decision, a table of both models' numbers and points, and the
/// two reports' charts side by side (each report stays complete in its own folder).
fn side_by_side(c: &Comparison, a: &ReportNumbers, b: &ReportNumbers) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>mqlcal retrain: champion vs challenger</title>\n<style>\
         body{font-family:sans-serif;max-width:1200px;margin:auto}\
         table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;\
         text-align:right}td:first-child,th:first-child{text-align:left}\
         .pair{display:flex;gap:12px}.pair img{width:50%}</style>\n</head>\n<body>\n",
    );
    h.push_str(&format!(
        "<h1>Champion vs challenger</h1>\n<p><b>{}</b>: {}</p>\n<p>Evaluated on {} leads ({} \
         converted): {}. Challenger trained on {} leads of {}.</p>\n",
        if c.decision.promote {
            "Promoted"
        } else {
            "Champion kept"
        },
        escape(&c.decision.reason),
        c.evaluation.rows,
        c.evaluation.conversions,
        escape(&c.evaluation.method),
        c.challenger_training_rows,
        escape(&c.data)
    ));
    h.push_str(&format!(
        "<table>\n<tr><th></th><th><a href=\"champion/index.html\">champion</a><br>{}</th>\
         <th><a href=\"challenger/index.html\">challenger</a><br>{}</th></tr>\n",
        escape(&c.champion.version),
        escape(&c.challenger.version)
    ));
    let mut rows: Vec<(&str, String, String)> = vec![
        ("ROC AUC", f4(a.metrics.roc_auc), f4(b.metrics.roc_auc)),
        ("log loss", f4(a.metrics.log_loss), f4(b.metrics.log_loss)),
        ("Brier", f4(a.metrics.brier), f4(b.metrics.brier)),
        (
            "calibration error (ECE)",
            f4(a.metrics.ece),
            f4(b.metrics.ece),
        ),
        (
            "average precision",
            f4(a.average_precision),
            f4(b.average_precision),
        ),
        (
            "threshold (points)",
            a.threshold.to_string(),
            b.threshold.to_string(),
        ),
        (
            "lead→MQL rate",
            pct(a.funnel.lead_to_mql_rate),
            pct(b.funnel.lead_to_mql_rate),
        ),
        (
            "MQL→opportunity rate",
            pct(a.funnel.mql_to_opportunity_rate),
            pct(b.funnel.mql_to_opportunity_rate),
        ),
    ];
    // The calibration statistics of each side, where both have them.
    if let (Some(x), Some(y)) = (&a.calibration, &b.calibration) {
        let with_ci = |v: f64, ci: [f64; 2]| format!("{v:.3} ({:.3} to {:.3})", ci[0], ci[1]);
        rows.extend([
            (
                "calibration intercept (95%)",
                with_ci(x.calibration_intercept, x.calibration_intercept_ci),
                with_ci(y.calibration_intercept, y.calibration_intercept_ci),
            ),
            (
                "calibration slope (95%)",
                with_ci(x.calibration_slope, x.calibration_slope_ci),
                with_ci(y.calibration_slope, y.calibration_slope_ci),
            ),
            (
                "Spiegelhalter p",
                format!("{:.3}", x.spiegelhalter_p),
                format!("{:.3}", y.spiegelhalter_p),
            ),
            ("KS", f4(x.ks), f4(y.ks)),
        ]);
    }
    for (name, x, y) in rows {
        h.push_str(&format!(
            "<tr><td>{name}</td><td>{x}</td><td>{y}</td></tr>\n"
        ));
    }
    h.push_str(
        "</table>\n<h2>Points per rule</h2>\n<table>\n<tr><th>rule</th><th>champion</th>\
                <th>challenger</th><th>change</th></tr>\n",
    );
    let opt = |v: Option<i64>| v.map_or("—".to_string(), |v| v.to_string());
    for r in &c.rules {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&r.name),
            opt(r.old_points),
            opt(r.new_points),
            r.change.map_or("—".to_string(), |v| format!("{v:+}"))
        ));
    }
    h.push_str(&format!(
        "</table>\n<h2>Drift from the champion's training leads</h2>\n<p>Score PSI {:.3}</p>\n\
         <table>\n<tr><th>rule</th><th>PSI</th></tr>\n",
        c.score_psi
    ));
    for d in &c.drift {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:.3}{}</td></tr>\n",
            escape(&d.name),
            d.psi,
            if d.flagged { " (drifted)" } else { "" }
        ));
    }
    h.push_str(
        "</table>\n<h2>Reliability of both models on the evaluation rows</h2>\n\
         <img src=\"reliability-both.png\" alt=\"reliability of both models\">\n",
    );
    for (stem, title) in [
        ("reliability", "Reliability"),
        ("gains-lift", "Gains and lift"),
        ("conversion-by-band", "Conversion by score band"),
    ] {
        h.push_str(&format!(
            "<h2>{title}: champion (left), challenger (right)</h2>\n<div class=\"pair\">\
             <img src=\"champion/{stem}.png\" alt=\"champion {title}\">\
             <img src=\"challenger/{stem}.png\" alt=\"challenger {title}\"></div>\n"
        ));
    }
    h.push_str("</body>\n</html>\n");
    h
}
