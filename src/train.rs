//! The training pipeline, start to finish: outcomes → rules (given or proposed) → features →
//! regularisation search on seeded folds → out-of-fold scores → final fit → points →
//! calibration → threshold → metrics → [`Model`]. Each step is a small named function.

use std::collections::BTreeSet;

use ndarray::{Array2, ArrayView2};

use crate::calibrate::{Calibration, Method};
use crate::data::Table;
use crate::error::{Error, Result};
use crate::fit::{self, LogisticFit, Weights};
use crate::metrics::Metrics;
use crate::model::{Model, ModelRule, ModelThreshold, Training, SCHEMA_VERSION};
use crate::points::{Points, PointsScale};
use crate::profile::{Histogram, Profile};
use crate::progress::Progress;
use crate::rules::auto::{self, AutoRulesParams};
use crate::rules::{features::rule_features, Rule, RulesFile};
use crate::threshold::{self, Funnel, Policy};

/// Everything that decides a model besides the data. Build with [`TrainParams::new`] and the
/// setters; checked once, in [`TrainParams::check`], before any fitting.
#[derive(Debug, Clone)]
pub struct TrainParams {
    /// Outcome column (converted: 0/1, true/false, yes/no).
    pub target: String,
    /// Lead id column, carried into scored output; never a rule.
    pub id: Option<String>,
    /// The rules to learn points for; `None` proposes them from the data.
    pub rules: Option<Vec<Rule>>,
    /// How rules are proposed when there is no rules file.
    pub auto: AutoRulesParams,
    /// Cross-validation folds (default 5).
    pub folds: usize,
    /// Seed for the fold assignment (default 0).
    pub seed: u64,
    /// L2 strengths to try (default: half-decades from 0.01 to 1000).
    pub alphas: Vec<f64>,
    pub scale: PointsScale,
    pub calibration: Method,
    pub policy: Policy,
    /// Recorded in the model so a retrain can repeat the load.
    pub na: Vec<String>,
    pub exclude: Vec<String>,
    /// Column with each lead's creation date (`YYYY-MM-DD`); recorded with the newest date.
    pub date: Option<String>,
}

impl TrainParams {
    pub fn new(target: impl Into<String>) -> Self {
        TrainParams {
            target: target.into(),
            id: None,
            rules: None,
            auto: AutoRulesParams::default(),
            folds: 5,
            seed: 0,
            alphas: fit::default_alphas(),
            scale: PointsScale {
                points_to_double_odds: 20.0,
            },
            calibration: Method::Platt,
            policy: Policy::MqlRate(0.10),
            na: Vec::new(),
            exclude: Vec::new(),
            date: None,
        }
    }

    /// The options `model` was trained with, to train it again on new data: its rules (as
    /// fixed rules, also when they were first proposed), target, id, scale, calibration,
    /// threshold policy, folds, seed, strength grid, placeholders, exclusions and date column.
    pub fn from_model(model: &Model) -> TrainParams {
        let t = &model.training;
        TrainParams {
            target: model.target.clone(),
            id: model.id_column.clone(),
            rules: Some(model.rules()),
            auto: AutoRulesParams::default(),
            folds: t.folds,
            seed: t.seed,
            alphas: t.alpha_grid(),
            scale: model.scale,
            calibration: model.calibration.method(),
            policy: model.threshold.threshold.policy,
            na: t.na.clone(),
            exclude: t.exclude.clone(),
            date: t.date_column.clone(),
        }
    }

    pub fn check(&self) -> Result<()> {
        if !(2..=20).contains(&self.folds) {
            return Err(Error::Option {
                option: "--folds",
                message: format!("{} folds; use 2 to 20", self.folds),
            });
        }
        if self.alphas.is_empty() || self.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return Err(Error::Option {
                option: "--alphas",
                message: "give one or more positive numbers".into(),
            });
        }
        PointsScale::new(self.scale.points_to_double_odds)?;
        Ok(())
    }
}

/// A trained model with what the user should see about how it came to be.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: Model,
    /// The proposed rules, when they were proposed (to write out with `--write-rules`).
    pub proposed: Option<RulesFile>,
    /// Informational notes (columns passed over and why).
    pub notes: Vec<String>,
    /// Each lead's score from a model that did not see it, in input order.
    pub oof_scores: Vec<i64>,
    pub outcomes: Vec<bool>,
    /// The rule features of the training leads (rows = leads).
    pub features: Array2<f64>,
    /// The final fit's weights (a warm start for bootstrap refits).
    pub weights: Weights,
}

/// Trains a model on `table`.
pub fn train(table: &Table, params: &TrainParams) -> Result<Trained> {
    train_with(table, params, &crate::progress::Silent)
}

/// [`train`], reporting the long steps to `progress`.
pub fn train_with(table: &Table, params: &TrainParams, progress: &dyn Progress) -> Result<Trained> {
    params.check()?;
    let y = outcomes(table, &params.target)?;
    let mut notes = table.notes.clone();
    let mut warnings = Vec::new();
    let (rules, proposed) = resolve_rules(table, params, &mut notes)?;
    let x = rule_features(table, &rules)?;
    if let Some(id) = &params.id {
        warnings.extend(duplicate_ids(table, id)?);
    }
    warnings.extend(crate::leakage::scan(&rules, x.view(), &y));
    warnings.extend(never_firing(&rules, x.view()));

    let folds = fit::stratified_folds(&y, params.folds, params.seed);
    tracing::info!(
        leads = y.len(),
        rules = rules.len(),
        "rule features built; searching the penalty"
    );
    let search = fit::search_alpha(x.view(), &y, &folds, params.folds, &params.alphas, progress)?;
    tracing::info!(alpha = search.alpha, "penalty chosen; final fit");
    warnings.extend(alpha_at_edge(search.alpha, &params.alphas));
    let start = fit::mean_weights(&search.fold_weights);
    let weights = LogisticFit::new(search.alpha).fit_from(x.view(), &y, start.as_ref())?;
    let oof_scores = out_of_fold_scores(
        x.view(),
        &folds,
        &search.fold_weights,
        weights.intercept,
        params.scale,
    );

    if !weights.converged(y.len()) {
        warnings.push(format!(
            "the solver stopped before converging (gradient norm {:.2e}); the points may be \
             off. Perfectly separating rules or leakage are the usual cause",
            weights.gradient_norm
        ));
    }
    let points: Vec<Points> = weights
        .coef
        .iter()
        .map(|&w| params.scale.points(w))
        .collect();

    tracing::info!("calibrating and choosing the threshold on out-of-fold scores");
    let calibration = Calibration::fit(params.calibration, &oof_scores, &y)?;
    let threshold = threshold::choose(params.policy, &oof_scores, &y)?;
    let funnel = Funnel::at(threshold.points, &oof_scores, &y);
    warnings.extend(funnel.health());
    let probabilities: Vec<f64> = oof_scores
        .iter()
        .map(|&s| calibration.probability(s).0)
        .collect();
    let metrics = Metrics::compute(&probabilities, &y);

    let conversions = y.iter().filter(|&&t| t).count();
    let newest_lead = match &params.date {
        Some(column) => table
            .dates(column)?
            .into_iter()
            .flatten()
            .max()
            .map(|d| d.format("%Y-%m-%d").to_string()),
        None => None,
    };
    let profile = training_profile(x.view(), &points);
    let model = Model {
        schema_version: SCHEMA_VERSION,
        generator: format!("mqlcal {}", env!("CARGO_PKG_VERSION")),
        id_column: params.id.clone(),
        target: params.target.clone(),
        scale: params.scale,
        rules: model_rules(&rules, &weights, &points, x.view(), &y),
        calibration,
        threshold: ModelThreshold {
            threshold,
            out_of_fold: funnel,
        },
        metrics,
        training: Training {
            input: table
                .path()
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            input_sha256: table.sha256().to_string(),
            rows: y.len(),
            conversions,
            conversion_rate: conversions as f64 / y.len() as f64,
            rules_source: if proposed.is_some() {
                "proposed"
            } else {
                "file"
            }
            .into(),
            seed: params.seed,
            folds: params.folds,
            alpha: search.alpha,
            alpha_search: search.table,
            intercept: weights.intercept,
            na: params.na.clone(),
            exclude: params.exclude.clone(),
            alphas: Some(params.alphas.clone()),
            date_column: params.date.clone(),
            newest_lead,
        },
        profile,
        warnings,
    };
    Ok(Trained {
        model,
        proposed,
        notes,
        oof_scores,
        outcomes: y,
        features: x,
        weights,
    })
}

/// The outcomes, with both classes present.
fn outcomes(table: &Table, target: &str) -> Result<Vec<bool>> {
    let y = table.outcomes(target)?;
    let conversions = y.iter().filter(|&&t| t).count();
    if conversions == 0 || conversions == y.len() {
        return Err(Error::data(
            table.path(),
            format!(
                "target '{target}' has only {} in all {} rows; the model needs leads that \
                 converted and leads that did not",
                if conversions == 0 {
                    "non-conversions"
                } else {
                    "conversions"
                },
                y.len()
            ),
        ));
    }
    Ok(y)
}

fn resolve_rules(
    table: &Table,
    params: &TrainParams,
    notes: &mut Vec<String>,
) -> Result<(Vec<Rule>, Option<RulesFile>)> {
    let reserved: Vec<String> = [Some(&params.target), params.id.as_ref()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    match &params.rules {
        Some(rules) => {
            for rule in rules {
                if reserved.contains(&rule.column) {
                    return Err(Error::Option {
                        option: "--rules",
                        message: format!(
                            "rule '{}' uses column '{}', which is the target or id column; a \
                             rule on the outcome is leakage",
                            rule.name, rule.column
                        ),
                    });
                }
            }
            Ok((rules.clone(), None))
        }
        None => {
            let (rules, auto_notes) = auto::propose(table, &reserved, &params.auto)?;
            notes.extend(auto_notes);
            if rules.is_empty() {
                return Err(Error::data(
                    table.path(),
                    "no column gave a usable rule; write a rules file (--rules)",
                ));
            }
            let file = RulesFile {
                id: params.id.clone(),
                target: Some(params.target.clone()),
                rules: rules.iter().map(Rule::to_spec).collect(),
            };
            Ok((rules, Some(file)))
        }
    }
}

fn duplicate_ids(table: &Table, id: &str) -> Result<Option<String>> {
    let ids = table.texts(id)?;
    let mut seen = BTreeSet::new();
    let mut dups = 0;
    let mut first = None;
    for (i, v) in ids.iter().enumerate() {
        if let Some(v) = v {
            if !seen.insert(v.as_str()) {
                dups += 1;
                first.get_or_insert((i + 1, v.clone()));
            }
        }
    }
    Ok(first.map(|(row, v)| {
        format!(
            "id column '{id}' has {dups} repeated ids (first: '{v}' again at row {row}); each \
             lead should appear once, or its outcome counts twice"
        )
    }))
}

fn never_firing(rules: &[Rule], x: ArrayView2<f64>) -> Vec<String> {
    rules
        .iter()
        .enumerate()
        .filter(|(j, _)| x.column(*j).iter().all(|&f| f == 0.0))
        .map(|(_, r)| {
            format!(
                "rule '{}' never applies in this data ({}), so it gets 0 points; check its \
                 condition and values",
                r.name,
                r.condition.describe(&r.column)
            )
        })
        .collect()
}

fn alpha_at_edge(alpha: f64, alphas: &[f64]) -> Option<String> {
    let min = alphas.iter().copied().fold(f64::INFINITY, f64::min);
    (alphas.len() > 1 && alpha == min).then(|| {
        format!(
            "cross-validation chose the weakest penalty tried (alpha {alpha}); weights may be \
             unstable if some rule nearly separates the outcome"
        )
    })
}

/// Every lead scored in points by the fold model that did not see it, on the final model's
/// scale. A score leaves out the intercept, and rules that cover every lead (all levels of a
/// column, all bands) let a fit move log-odds between its intercept and its points; so each
/// fold's scores are shifted by the difference of its intercept from the final model's,
/// in points. Without the shift, calibration fitted on these scores is off by that difference.
fn out_of_fold_scores(
    x: ArrayView2<f64>,
    folds: &[usize],
    fold_weights: &[Weights],
    final_intercept: f64,
    scale: PointsScale,
) -> Vec<i64> {
    let fold_points: Vec<(Vec<Points>, i64)> = fold_weights
        .iter()
        .map(|w| {
            let points = w.coef.iter().map(|&c| scale.points(c)).collect();
            (points, scale.points(w.intercept - final_intercept).0)
        })
        .collect();
    (0..x.nrows())
        .map(|i| {
            let (points, shift) = &fold_points[folds[i]];
            crate::points::score(points, x.row(i).iter().copied()) + shift
        })
        .collect()
}

fn model_rules(
    rules: &[Rule],
    weights: &Weights,
    points: &[Points],
    x: ArrayView2<f64>,
    y: &[bool],
) -> Vec<ModelRule> {
    let n = y.len() as f64;
    let counts = crate::rules::features::support(x, y);
    rules
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let (support, conv) = counts[j];
            ModelRule {
                name: r.name.clone(),
                column: r.column.clone(),
                condition: r.condition.clone(),
                points: points[j],
                weight: weights.coef[j],
                support: support as f64 / n,
                conversion_rate: if support == 0 {
                    0.0
                } else {
                    conv as f64 / support as f64
                },
            }
        })
        .collect()
}

/// The training leads' score (under the final points) and rule feature distributions.
fn training_profile(x: ArrayView2<f64>, points: &[Points]) -> Profile {
    let scores: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|row| crate::points::score(points, row.iter().copied()) as f64)
        .collect();
    Profile {
        score: Histogram::quantiles(&scores, 10),
        rules: x
            .columns()
            .into_iter()
            .map(|c| Histogram::levels(&c.to_vec(), 11))
            .collect(),
    }
}

/// Scores every lead of `table` with `model`, in input order.
pub fn score_table(model: &Model, table: &Table) -> Result<Vec<crate::model::Scored>> {
    Ok(score_table_with_features(model, table)?.1)
}

/// [`score_table`], also giving the leads' rule features (rows = leads), which the report and
/// the champion/challenger comparison need for drift and intervals.
pub fn score_table_with_features(
    model: &Model,
    table: &Table,
) -> Result<(Array2<f64>, Vec<crate::model::Scored>)> {
    let x: Array2<f64> = rule_features(table, &model.rules())?;
    let scored = x
        .rows()
        .into_iter()
        .map(|row| model.score_features(row.iter().copied()))
        .collect();
    Ok((x, scored))
}
