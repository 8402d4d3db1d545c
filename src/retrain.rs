//! Champion and challenger: takes the current model (the champion) and new leads with known
//! outcomes; gives a challenger trained with the champion's rules and options on the new
//! leads, both scored on the same evaluation rows the challenger never saw, the points change
//! per rule, drift from the champion's training data, and whether to promote the challenger.
//!
//! The evaluation rows are the most recent leads by a date column when there is one
//! (out-of-time validation: the question is how each model does on the leads that come next),
//! else a seeded stratified holdout. The challenger is fitted on the remaining rows only, and
//! that fitted model is the one that would be promoted: what was evaluated is what is deployed.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::outcomes::{date_of, Clock, OutcomeSpec};
use crate::data::Table;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::Model;
use crate::profile::psi;
use crate::report::numbers::{Drift, PSI_FLAG};
use crate::rules::features::rule_features;
use crate::threshold::Funnel;
use crate::train::{TrainParams, Trained};

/// Which rows the two models are compared on.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Leads created in the last `days` days of the data (by `column`, `YYYY-MM-DD`).
    LastDays { column: String, days: u32 },
    /// A seeded stratified share of the leads.
    Holdout { share: f64, seed: u64 },
}

/// The metric that decides promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PromoteIf {
    /// Lower log loss: probabilities that are both well ranked and well calibrated.
    LogLoss,
    /// Higher ROC AUC: better ranking, whatever the calibration.
    Auc,
}

impl PromoteIf {
    /// The default margin: the challenger must beat the champion by at least this much. Small
    /// against a real change (a rule losing its effect moves log loss by ~0.005 and more) and
    /// above the noise between two fits of the same truth on a few thousand rows.
    pub fn default_margin(self) -> f64 {
        match self {
            PromoteIf::LogLoss => 0.002,
            PromoteIf::Auc => 0.005,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PromoteIf::LogLoss => "log loss",
            PromoteIf::Auc => "ROC AUC",
        }
    }

    fn value(self, m: &Metrics) -> f64 {
        match self {
            PromoteIf::LogLoss => m.log_loss,
            PromoteIf::Auc => m.roc_auc,
        }
    }
}

/// Everything besides the data and the champion.
#[derive(Debug, Clone)]
pub struct RetrainParams {
    pub evaluation: Evaluation,
    pub promote_if: PromoteIf,
    /// `None`: [`PromoteIf::default_margin`].
    pub margin: Option<f64>,
    /// Promote whatever the metrics say (recorded as forced).
    pub force_promote: bool,
    /// The new list of opportunities, for a champion trained on one (`--outcomes`).
    pub outcomes: Option<std::path::PathBuf>,
}

impl RetrainParams {
    pub fn check(&self) -> Result<()> {
        if let Evaluation::Holdout { share, .. } = self.evaluation {
            if !(share > 0.0 && share <= 0.5) {
                return Err(Error::Option {
                    option: "--holdout",
                    message: format!("{share} is not a share between 0 and 0.5, e.g. 0.2"),
                });
            }
        }
        if let Evaluation::LastDays { days: 0, .. } = self.evaluation {
            return Err(Error::Option {
                option: "--eval-last",
                message: "give at least one day, e.g. 90d".into(),
            });
        }
        if let Some(m) = self.margin {
            if !(m.is_finite() && m >= 0.0) {
                return Err(Error::Option {
                    option: "--margin",
                    message: format!("{m} must be zero or a positive number"),
                });
            }
        }
        Ok(())
    }
}

/// Which rows were held out, described for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRows {
    /// e.g. `out-of-time: leads created after 2026-08-31 (the last 90 days by created_at)`.
    pub method: String,
    pub rows: usize,
    pub conversions: usize,
    /// First and last lead date of the evaluation rows (out-of-time only).
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

/// One model on the evaluation rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Its version name in a model directory.
    pub version: String,
    pub metrics: Metrics,
    /// Calibration statistics on the evaluation rows (see
    /// [`crate::metrics::CalibrationStats`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::metrics::CalibrationStats>,
    /// The model's own threshold, and the funnel it gives on the evaluation rows.
    pub threshold: i64,
    pub funnel: Funnel,
}

/// A rule's points in the two models (matched by rule name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleChange {
    pub name: String,
    pub old_points: Option<i64>,
    pub new_points: Option<i64>,
    /// new − old, when the rule is in both.
    pub change: Option<i64>,
}

/// The promotion decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub promote: bool,
    /// True when `--promote` decided, not the metrics.
    pub forced: bool,
    pub criterion: PromoteIf,
    pub margin: f64,
    pub champion_value: f64,
    pub challenger_value: f64,
    pub reason: String,
}

/// What `comparison.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// File name and SHA-256 of the new data.
    pub data: String,
    pub data_sha256: String,
    pub evaluation: EvalRows,
    /// Rows the challenger was fitted on.
    pub challenger_training_rows: usize,
    pub champion: Side,
    pub challenger: Side,
    pub rules: Vec<RuleChange>,
    /// PSI of each rule's values and of the champion's score between the champion's training
    /// leads (its profile) and all the new leads.
    pub drift: Vec<Drift>,
    pub score_psi: f64,
    pub decision: Decision,
}

/// Scores of one model on the evaluation rows (for the report).
#[derive(Debug, Clone)]
pub struct EvalScores {
    pub scores: Vec<i64>,
    pub probabilities: Vec<f64>,
    pub features: Array2<f64>,
    /// Each lead's MQL flag (by score, or by grade under a grade policy).
    pub mql: Vec<bool>,
}

/// The outcome of a retrain.
#[derive(Debug, Clone)]
pub struct Retrained {
    pub challenger: Trained,
    pub comparison: Comparison,
    pub outcomes: Vec<bool>,
    pub champion_scores: EvalScores,
    pub challenger_scores: EvalScores,
    /// Things the user should know (rows without a date, and the like).
    pub notes: Vec<String>,
}

/// Trains a challenger on `table` with `champion`'s options and compares the two.
pub fn retrain(champion: &Model, table: &Table, params: &RetrainParams) -> Result<Retrained> {
    retrain_with(champion, table, params, &crate::progress::Silent)
}

/// Whether retrain can take `champion`: not yet a model with event rules (it would need the
/// activity log and point-in-time training for both models), refused naming the rule.
pub fn retrainable(champion: &Model) -> Result<()> {
    match champion.rules.iter().find(|r| r.event.is_some()) {
        Some(rule) => Err(Error::Option {
            option: "--champion",
            message: format!(
                "rule '{}' counts events of an activity log, which retrain does not take yet: \
                 train the challenger with `mqlcal train --events` and compare the two with \
                 `mqlcal report --events` on the same leads",
                rule.name
            ),
        }),
        None => Ok(()),
    }
}

/// [`retrain`], reporting the long steps (the challenger's cross-validation) to `progress`.
pub fn retrain_with(
    champion: &Model,
    table: &Table,
    params: &RetrainParams,
    progress: &dyn crate::progress::Progress,
) -> Result<Retrained> {
    params.check()?;
    retrainable(champion)?;
    let mut train_params = challenger_params(champion, params)?;
    // The new leads are judged as the champion's were: the same outcome, window and date
    // columns, with the new data's as-of.
    let observed = crate::train::observed(table, &train_params)?;
    // Date rules count back from the new data's as-of, for both models.
    let dated = crate::train::dated_for_rules(
        table,
        &train_params,
        observed.clock.as_ref(),
        champion.training.date_rules_format.as_deref(),
    )?;
    let table: &Table = &dated;
    let y = observed.y.clone();
    let mut notes = observed.warnings.clone();
    let mature = observed.mature();
    let (train_rows, eval_rows, mut evaluation) = split(
        table,
        &y,
        &params.evaluation,
        mature.as_deref(),
        observed.clock.as_ref(),
        train_params.time.date_format.as_deref(),
        &mut notes,
    )?;
    let eval_y: Vec<bool> = eval_rows.iter().map(|&i| y[i]).collect();
    let conversions = eval_y.iter().filter(|&&t| t).count();
    if conversions == 0 || conversions == eval_y.len() {
        return Err(Error::data(
            table.path(),
            format!(
                "the {} evaluation rows ({}) all have the same outcome; the models cannot be \
                 compared on them: evaluate on more leads (a longer --eval-last or a larger \
                 --holdout)",
                eval_y.len(),
                evaluation.method
            ),
        ));
    }
    evaluation.conversions = conversions;

    if let Some(clock) = &observed.clock {
        // The challenger's leads are aged from the whole file's as-of, not from the newest of
        // its own rows (the evaluation rows took the newest mature ones out).
        train_params.time.as_of = Some(date_of(clock.as_of));
    } else if let Evaluation::LastDays { column, .. } = &params.evaluation {
        train_params.date = Some(column.clone());
    }
    let train_table = table.take(&train_rows)?;
    let eval_table = table.take(&eval_rows)?;
    let mut challenger = crate::train::train_with(&train_table, &train_params, progress)?;
    if let Some(OutcomeSpec::Opportunities { file, .. }) = &train_params.outcome {
        // The challenger saw part of the file, so the list's ids of the evaluation rows
        // "match no lead" there, which is no news: the whole file's warnings about the list
        // replace its own.
        let prefix = format!("{}: ", file.display());
        let warnings = &mut challenger.model.warnings;
        warnings.retain(|w| !w.starts_with(&prefix));
        warnings.extend(
            observed
                .warnings
                .iter()
                .filter(|w| w.starts_with(&prefix))
                .cloned(),
        );
    }

    let champion_scores = eval_scores(champion, &eval_table)?;
    let challenger_scores = eval_scores(&challenger.model, &eval_table)?;
    let champion_side = side(champion, &champion_scores, &eval_y);
    let challenger_side = side(&challenger.model, &challenger_scores, &eval_y);
    let (drift, score_psi) = drift(champion, table)?;
    let decision = decide(
        &champion_side.metrics,
        &challenger_side.metrics,
        params.promote_if,
        params.margin.unwrap_or(params.promote_if.default_margin()),
        params.force_promote,
    );
    let comparison = Comparison {
        data: table
            .path()
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        data_sha256: table.sha256().to_string(),
        evaluation,
        challenger_training_rows: train_rows.len(),
        champion: champion_side,
        challenger: challenger_side,
        rules: rule_changes(champion, &challenger.model),
        drift,
        score_psi,
        decision,
    };
    Ok(Retrained {
        challenger,
        comparison,
        outcomes: eval_y,
        champion_scores,
        challenger_scores,
        notes,
    })
}

/// The champion's training options for the challenger, with the new opportunities list when
/// the champion's outcome came from one.
fn challenger_params(champion: &Model, params: &RetrainParams) -> Result<TrainParams> {
    let mut p = TrainParams::from_model(champion);
    match (&mut p.outcome, &params.outcomes) {
        (Some(OutcomeSpec::Opportunities { file, .. }), Some(new)) => *file = new.clone(),
        (Some(OutcomeSpec::Opportunities { file, column }), None) => {
            return Err(Error::Option {
                option: "--outcomes",
                message: format!(
                    "the champion's outcome came from a list of opportunities ({}, date column \
                     '{column}'); give the list that goes with the new leads: --outcomes FILE",
                    file.display()
                ),
            })
        }
        (_, Some(new)) => {
            return Err(Error::Option {
                option: "--outcomes",
                message: format!(
                    "the champion's outcome is not a list of opportunities (it is read from \
                     '{}' of the leads), so {} would not be used; leave --outcomes out",
                    champion.target,
                    new.display()
                ),
            })
        }
        _ => {}
    }
    Ok(p)
}

/// (training rows, evaluation rows, description). With a window (`mature` and `clock`), only
/// mature leads are evaluated: an immature lead's outcome is not final, so it would count as
/// a miss a conversion still to come.
fn split(
    table: &Table,
    y: &[bool],
    evaluation: &Evaluation,
    mature: Option<&[bool]>,
    clock: Option<&Clock>,
    date_format: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(Vec<usize>, Vec<usize>, EvalRows)> {
    let is_mature = |i: usize| mature.is_none_or(|m| m[i]);
    match evaluation {
        Evaluation::LastDays { column, days } => {
            let dates = table.dates_as(
                column,
                date_format,
                "pass the lead date column with --date, or evaluate on a holdout (--holdout 0.2)",
            )?;
            let newest = dates
                .iter()
                .enumerate()
                .filter(|&(i, _)| is_mature(i))
                .filter_map(|(_, d)| *d)
                .max();
            let newest = newest.ok_or_else(|| {
                Error::data(
                    table.path(),
                    format!(
                        "column '{column}' has no dates; out-of-time evaluation needs them \
                         (or use --holdout)"
                    ),
                )
            })?;
            let cutoff = newest - chrono::Days::new((*days).into());
            let undated = dates.iter().filter(|d| d.is_none()).count();
            if undated > 0 {
                notes.push(format!(
                    "{undated} leads have no '{column}' date; they are used for training only"
                ));
            }
            let (eval, train): (Vec<usize>, Vec<usize>) = (0..dates.len())
                .partition(|&i| is_mature(i) && dates[i].is_some_and(|d| d > cutoff));
            let eval_dates = eval.iter().filter_map(|&i| dates[i]);
            let first = eval_dates.clone().min();
            if train.is_empty() {
                return Err(Error::data(
                    table.path(),
                    format!(
                        "every lead falls in the last {days} days by '{column}', so none is \
                         left to train the challenger; use a shorter --eval-last"
                    ),
                ));
            }
            let fmt = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
            Ok((
                train,
                eval.clone(),
                EvalRows {
                    method: match clock {
                        Some(clock) => format!(
                            "out-of-time: mature leads created after {} (the last {days} days \
                             by {column} of the leads created by {}, whose {}-day window had \
                             passed at as-of {}); younger leads are used for training only",
                            fmt(cutoff),
                            fmt(newest),
                            clock.window.days,
                            fmt(date_of(clock.as_of))
                        ),
                        None => format!(
                            "out-of-time: leads created after {} (the last {days} days by \
                             {column})",
                            fmt(cutoff)
                        ),
                    },
                    rows: eval.len(),
                    conversions: 0,
                    first_date: first.map(fmt),
                    last_date: Some(fmt(newest)),
                },
            ))
        }
        Evaluation::Holdout { share, seed } => {
            // A stratified fold of about `share` of the leads, as the trainer's folds are
            // drawn, so both classes are in it in their proportions.
            let k = ((1.0 / share).round() as usize).max(2);
            let folds = crate::fit::stratified_folds(y, k, *seed);
            let (eval, train): (Vec<usize>, Vec<usize>) =
                (0..y.len()).partition(|&i| folds[i] == 0 && is_mature(i));
            let why = if mature.is_some() {
                "; only its mature leads (their window had passed), the younger ones train"
            } else {
                "; no date column was given"
            };
            Ok((
                train,
                eval.clone(),
                EvalRows {
                    method: format!(
                        "holdout: a seeded stratified 1/{k} of the leads (seed {seed}){why}"
                    ),
                    rows: eval.len(),
                    conversions: 0,
                    first_date: None,
                    last_date: None,
                },
            ))
        }
    }
}

fn eval_scores(model: &Model, table: &Table) -> Result<EvalScores> {
    let (features, scored) = crate::train::score_table_with_features(model, table)?;
    Ok(EvalScores {
        scores: scored.iter().map(|s| s.score).collect(),
        probabilities: scored.iter().map(|s| s.probability.0).collect(),
        features,
        mql: scored.iter().map(|s| s.mql).collect(),
    })
}

fn side(model: &Model, s: &EvalScores, y: &[bool]) -> Side {
    let threshold = model.threshold.threshold.points;
    let pooled = crate::metrics::pooled(&s.probabilities, y);
    Side {
        version: crate::registry::version_name(model),
        metrics: Metrics::compute_counts(&pooled),
        calibration: crate::metrics::CalibrationStats::compute_counts(&pooled),
        threshold,
        funnel: Funnel::of_flags(&s.mql, y),
    }
}

/// Rules of both models, matched by name: the old model's order, then rules only the new one
/// has.
pub fn rule_changes(old: &Model, new: &Model) -> Vec<RuleChange> {
    let find = |m: &Model, name: &str| m.rules.iter().find(|r| r.name == name).map(|r| r.points.0);
    let mut out: Vec<RuleChange> = old
        .rules
        .iter()
        .map(|r| {
            let new_points = find(new, &r.name);
            RuleChange {
                name: r.name.clone(),
                old_points: Some(r.points.0),
                new_points,
                change: new_points.map(|n| n - r.points.0),
            }
        })
        .collect();
    for r in &new.rules {
        if find(old, &r.name).is_none() {
            out.push(RuleChange {
                name: r.name.clone(),
                old_points: None,
                new_points: Some(r.points.0),
                change: None,
            });
        }
    }
    out
}

/// PSI of each rule and of the champion's score, champion's training profile vs all new leads.
fn drift(champion: &Model, table: &Table) -> Result<(Vec<Drift>, f64)> {
    let x = rule_features(table, &champion.rules())?;
    let rules = champion
        .rules
        .iter()
        .zip(&champion.profile.rules)
        .enumerate()
        .map(|(j, (rule, hist))| {
            let v = psi(&hist.shares, &hist.shares_of(&x.column(j).to_vec()));
            Drift {
                name: rule.name.clone(),
                psi: v,
                flagged: v > PSI_FLAG,
            }
        })
        .collect();
    let points = champion.points();
    let scores: Vec<f64> = x
        .rows()
        .into_iter()
        .enumerate()
        .map(
            |(i, row)| match crate::points::score(&points, row.iter().copied()) {
                Ok(s) => Ok(s as f64),
                Err(e) => Err(Error::BadValue {
                    path: table.path().to_path_buf(),
                    row: table.row(i),
                    column: champion.rules[e.rule].column.clone(),
                    message: format!("rule '{}': {}", champion.rules[e.rule].name, e.message),
                }),
            },
        )
        .collect::<Result<_>>()?;
    let hist = &champion.profile.score;
    Ok((rules, psi(&hist.shares, &hist.shares_of(&scores))))
}

/// Promote when the challenger is better by at least `margin` (or when forced).
pub fn decide(
    champion: &Metrics,
    challenger: &Metrics,
    criterion: PromoteIf,
    margin: f64,
    forced: bool,
) -> Decision {
    let (c, n) = (criterion.value(champion), criterion.value(challenger));
    // How much better the challenger is, in the metric's own direction.
    let gain = match criterion {
        PromoteIf::LogLoss => c - n,
        PromoteIf::Auc => n - c,
    };
    let better = gain.is_finite() && gain >= margin;
    let name = criterion.name();
    let reason = if better {
        format!(
            "the challenger's {name} ({n:.4}) beats the champion's ({c:.4}) by {gain:.4}, at \
             least the margin {margin}"
        )
    } else if gain > 0.0 {
        format!(
            "the challenger's {name} ({n:.4}) beats the champion's ({c:.4}) by only {gain:.4}, \
             less than the margin {margin}"
        )
    } else {
        format!("the challenger's {name} ({n:.4}) is no better than the champion's ({c:.4})")
    };
    let reason = match (forced, better) {
        (true, false) => format!("promoted by --promote, although {reason}"),
        _ => reason,
    };
    Decision {
        promote: better || forced,
        forced: forced && !better,
        criterion,
        margin,
        champion_value: c,
        challenger_value: n,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(log_loss: f64, roc_auc: f64) -> Metrics {
        Metrics {
            rows: 100,
            roc_auc,
            log_loss,
            brier: 0.1,
            ece: 0.01,
        }
    }

    #[test]
    fn promotion_needs_the_margin() {
        let champ = metrics(0.300, 0.80);
        let d = decide(
            &champ,
            &metrics(0.290, 0.80),
            PromoteIf::LogLoss,
            0.002,
            false,
        );
        assert!(d.promote && !d.forced, "{}", d.reason);
        let d = decide(
            &champ,
            &metrics(0.299, 0.80),
            PromoteIf::LogLoss,
            0.002,
            false,
        );
        assert!(!d.promote && d.reason.contains("only"), "{}", d.reason);
        let d = decide(
            &champ,
            &metrics(0.310, 0.80),
            PromoteIf::LogLoss,
            0.002,
            false,
        );
        assert!(!d.promote && d.reason.contains("no better"), "{}", d.reason);
        let d = decide(
            &champ,
            &metrics(0.310, 0.80),
            PromoteIf::LogLoss,
            0.002,
            true,
        );
        assert!(d.promote && d.forced && d.reason.contains("--promote"));
        // AUC is better when higher.
        let d = decide(&champ, &metrics(0.310, 0.81), PromoteIf::Auc, 0.005, false);
        assert!(d.promote, "{}", d.reason);
        let d = decide(
            &champ,
            &metrics(f64::NAN, f64::NAN),
            PromoteIf::Auc,
            0.0,
            false,
        );
        assert!(!d.promote);
    }

    #[test]
    fn a_model_from_before_retrain_gives_its_options_back() {
        // The committed example model, as a file written before `training.alphas` and the
        // date fields existed.
        let mut old: serde_json::Value =
            serde_json::from_str(include_str!("../models/lead-model.json")).unwrap();
        let training = old["training"].as_object_mut().unwrap();
        for field in ["alphas", "date_column", "newest_lead"] {
            training.remove(field);
        }
        let model = Model::from_json(&old.to_string()).unwrap();
        assert!(model.training.alphas.is_none() && model.training.newest_lead.is_none());
        let p = TrainParams::from_model(&model);
        assert_eq!(p.alphas, crate::fit::default_alphas());
        assert_eq!(p.rules.as_deref(), Some(model.rules().as_slice()));
        assert_eq!(p.policy, model.threshold.threshold.policy);
        assert_eq!(p.calibration, model.calibration.method());
        assert_eq!(
            (p.folds, p.seed),
            (model.training.folds, model.training.seed)
        );
        assert_eq!(p.date, None);
    }

    #[test]
    fn bad_options_are_usage_errors() {
        let p = RetrainParams {
            evaluation: Evaluation::Holdout {
                share: 0.9,
                seed: 0,
            },
            promote_if: PromoteIf::LogLoss,
            margin: None,
            force_promote: false,
            outcomes: None,
        };
        assert!(matches!(
            p.check(),
            Err(Error::Option {
                option: "--holdout",
                ..
            })
        ));
        let p = RetrainParams {
            evaluation: Evaluation::LastDays {
                column: "d".into(),
                days: 0,
            },
            ..p
        };
        assert!(matches!(
            p.check(),
            Err(Error::Option {
                option: "--eval-last",
                ..
            })
        ));
    }
}
