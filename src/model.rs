//! The model file scorers load: one JSON document, versioned by `schema_version`, holding the
//! rules with their points, the points scale, the calibration map, the threshold and the facts
//! of training. No wall-clock time, so the same inputs give the same bytes. Saved atomically
//! (temporary file + rename); never replaces an existing file unless asked to.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::calibrate::{Calibration, Probability};
use crate::error::{Error, Result};
use crate::fit::AlphaScore;
use crate::metrics::Metrics;
use crate::points::{Overflow, Points, PointsScale, MAX_UNITS};
use crate::rules::{Condition, Rule, Value};
use crate::threshold::{Funnel, Threshold};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest points a rule may give per unit. Far above any real points table (20 points double
/// the odds), and small enough that scores stay exact in the exports, which add points as
/// doubles (PMML, some warehouses).
pub const MAX_POINTS: i64 = 1_000_000_000;

/// The CSV delimiters a model file may record (`training.delimiter`).
const DELIMITERS: [char; 4] = [',', ';', '\t', '|'];

/// A rule with its learned points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRule {
    pub name: String,
    /// Empty for a compound rule, whose parts (in `condition`) name their columns.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
    pub condition: Condition,
    /// The sub-score the rule counts in (`behaviour`, `profile`, …); absent: only the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An event rule's source: the events counted, and the window or half-life
    /// (`half_life_days`, learnt when `learn`). `column` is then its number's column,
    /// computed from the activity log at the scoring date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<crate::rules::events::EventSource>,
    pub points: Points,
    /// The fitted log-odds weight per unit, before rounding to points.
    pub weight: f64,
    /// Share of training leads on which the rule fires.
    pub support: f64,
    /// Conversion rate of the training leads on which the rule fires.
    pub conversion_rate: f64,
}

impl ModelRule {
    /// The columns the rule reads (its parts' for a compound rule).
    pub fn rule_columns(&self) -> Vec<&str> {
        self.condition.columns(&self.column)
    }

    /// The rule's feature for one lead given as `value(column)` ([`Condition::eval_lead`]).
    pub fn eval_read<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
        decimal_comma: bool,
    ) -> std::result::Result<f64, String> {
        self.condition.eval_lead(&self.column, value, decimal_comma)
    }

    /// The condition in plain words ([`Rule::describe`]).
    pub fn describe(&self) -> String {
        self.rule().describe()
    }

    /// [`ModelRule::eval_read`] with the as-of date date rules count back from
    /// ([`Condition::eval_lead_as_of`]).
    pub fn eval_read_as_of<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
        decimal_comma: bool,
        as_of: Option<chrono::NaiveDate>,
    ) -> std::result::Result<f64, String> {
        self.condition
            .eval_lead_as_of(&self.column, value, decimal_comma, as_of)
    }

    pub fn rule(&self) -> Rule {
        Rule {
            name: self.name.clone(),
            column: self.column.clone(),
            condition: self.condition.clone(),
            group: self.group.clone(),
            event: self.event.clone(),
        }
    }
}

/// The threshold and what it implied on the out-of-fold training scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelThreshold {
    #[serde(flatten)]
    pub threshold: Threshold,
    pub out_of_fold: Funnel,
}

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// File name of the data (no directories, so the file does not depend on where it ran).
    pub input: String,
    pub input_sha256: String,
    pub rows: usize,
    pub conversions: usize,
    pub conversion_rate: f64,
    /// `file` when the rules came from a rules file, `proposed` when mqlcal proposed them.
    pub rules_source: String,
    pub seed: u64,
    pub folds: usize,
    /// The chosen L2 strength (on the summed log loss; scikit-learn's C = 1/alpha).
    pub alpha: f64,
    pub alpha_search: Vec<AlphaScore>,
    /// The fitted intercept (log-odds of a lead that meets no rule).
    pub intercept: f64,
    pub na: Vec<String>,
    pub exclude: Vec<String>,
    /// The strengths the search could choose from, so a retrain repeats the search. Files
    /// written before this field existed used [`crate::fit::default_alphas`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphas: Option<Vec<f64>>,
    /// With `--calibration auto`: each calibrator's cross-validated log loss on the
    /// out-of-fold scores (the chosen one is `calibration.method`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_search: Option<Vec<crate::calibrate::MethodScore>>,
    /// The column with each lead's creation date, when training was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_column: Option<String>,
    /// The newest creation date among the training leads (`YYYY-MM-DD`); it names the model's
    /// version in a model directory, so the name says how fresh the data was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_lead: Option<String>,
    /// Where "converted" came from, when not a 0/1 target column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::outcome::OutcomeRecord>,
    /// The date the data was taken (`YYYY-MM-DD`), with a conversion window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The date date rules (`within_days`, `older_than_days`) counted back from in training
    /// (`YYYY-MM-DD`): `--as-of`, else the training's as-of, else the newest date in their
    /// columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_rules_as_of: Option<String>,
    /// The layout of date rules' dates when not ISO (`--date-format`), so scoring reads them
    /// the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_rules_format: Option<String>,
    /// The conversion window: the probability is that of an opportunity within this many days
    /// of the lead's creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Leads created less than a window before as-of (converted or not): their outcome was not
    /// final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immature_leads: Option<u64>,
    /// How they were used: `weight` (the likelihood of what was seen by as-of) or `drop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immature_method: Option<crate::outcome::Immature>,
    /// Opportunities that came after the window (not conversions within it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_conversions: Option<u64>,
    /// The delay from creation to opportunity among conversions within the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_days: Option<crate::outcome::DelaySummary>,
    /// The field delimiter of the training CSV file when it was not a comma (`;`, a tab or
    /// `|`), so that scoring and retraining read the next export the same way. Absent: the
    /// delimiter of the next file is detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// Numbers in the training file had a decimal comma (`3,5`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decimal_comma: bool,
    /// Cells were compared with the placeholders (`na`) ignoring the case of A–Z.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub na_ignore_case: bool,
    /// The text encoding of the training file when it was not UTF-8 (e.g. `windows-1252`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// With `--propose-interactions`: the search for AND rules (those kept are among `rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactions: Option<crate::rules::interactions::InteractionSearch>,
    /// With event rules: the activity log read, the snapshots taken and the half-lives learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<crate::rules::events::EventsTraining>,
}

impl Training {
    /// The strengths the search could choose from.
    pub fn alpha_grid(&self) -> Vec<f64> {
        self.alphas
            .clone()
            .unwrap_or_else(crate::fit::default_alphas)
    }
}

/// A trained lead-scoring model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub schema_version: u32,
    /// `mqlcal <version>` that wrote the file.
    pub generator: String,
    pub id_column: Option<String>,
    pub target: String,
    pub scale: PointsScale,
    pub rules: Vec<ModelRule>,
    pub calibration: Calibration,
    pub threshold: ModelThreshold,
    /// Metrics of the calibrated probabilities on out-of-fold scores.
    pub metrics: Metrics,
    /// The calibration statistics of the same probabilities (intercept and slope with
    /// intervals, Spiegelhalter's test, the Brier decomposition, ECE interval, …). Absent in
    /// files written before they were computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_statistics: Option<crate::metrics::CalibrationStats>,
    /// The grade matrix (`train --grades`): cut points of the two sub-scores and leads and
    /// conversions per cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grades: Option<crate::grades::Grades>,
    pub training: Training,
    /// Distributions of the training leads, for drift checks.
    pub profile: crate::profile::Profile,
    /// Warnings raised during training (leakage, convergence, funnel health).
    pub warnings: Vec<String>,
}

/// One scored lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: i64,
    pub probability: Probability,
    pub mql: bool,
    /// (rule index, points given), largest first; rules that gave 0 points are left out.
    pub reasons: Vec<(usize, i64)>,
    /// The sub-score of each rule group, in the order of [`Model::group_names`]: the points of
    /// the group's rules. With the points of ungrouped rules they add up to `score`.
    pub sub_scores: Vec<i64>,
    /// The lead's grade (`B2`) when the model has a grade matrix.
    pub grade: Option<crate::grades::Grade>,
}

impl Model {
    /// What the model's probability is the chance of, for every report: "becomes an
    /// opportunity within 90 days of its creation" with a window, else "converts".
    pub fn probability_meaning(&self) -> String {
        match self.training.window_days {
            Some(days) => format!("becomes an opportunity within {days} days of its creation"),
            None => "converts".into(),
        }
    }

    /// Reads and checks a model file. Reading never runs anything from the file: it is data.
    pub fn load(path: &Path) -> Result<Model> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Model::from_json(&text).map_err(|message| Error::Model {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and checks a model file's text. The message of an error says what is wrong and
    /// where (line and column, or the field such as `rules[2].condition.kind`).
    pub fn from_json(text: &str) -> std::result::Result<Model, String> {
        // The version is read first and on its own, so a file from another version is named as
        // such rather than as a mismatch of whatever field changed.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| json_error(text, &e))?;
        match value.get("schema_version") {
            Some(v) if v.as_u64() == Some(SCHEMA_VERSION as u64) => {}
            Some(v) if v.is_u64() => {
                return Err(format!(
                    "schema_version {v} is not supported; this mqlcal reads version \
                     {SCHEMA_VERSION}. Retrain with this version or use the mqlcal that wrote it"
                ))
            }
            Some(v) => {
                return Err(format!(
                    "schema_version is {v}, not a whole number; is this an mqlcal model file?"
                ))
            }
            None => return Err("no schema_version; is this an mqlcal model file?".into()),
        }
        // Deserialised from the text (not from `value`) so errors keep their line and column;
        // the path names the field.
        let mut de = serde_json::Deserializer::from_str(text);
        let model: Model = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            format!(
                "does not match the model file schema at `{}`: {}",
                e.path(),
                e.inner()
            )
        })?;
        model.validate()?;
        Ok(model)
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.rules.is_empty() {
            return Err("has no rules".into());
        }
        if self.profile.rules.len() != self.rules.len() {
            return Err(format!(
                "profile.rules has {} entries for {} rules",
                self.profile.rules.len(),
                self.rules.len()
            ));
        }
        for h in std::iter::once(&self.profile.score).chain(&self.profile.rules) {
            if h.lower.is_empty()
                || h.lower.len() != h.shares.len()
                || h.lower.iter().chain(&h.shares).any(|v| !v.is_finite())
            {
                return Err("profile holds an empty, uneven or non-finite histogram".into());
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            Rule::from_spec(&r.rule().to_spec()).map_err(|e| format!("rules[{i}]: {e}"))?;
            // Names are how reasons, points sheets, exports and retrain comparisons tell rules
            // apart: two rules of one name would be mixed up silently.
            if let Some(j) = self.rules[..i].iter().position(|o| o.name == r.name) {
                return Err(format!(
                    "rules[{i}].name: rules[{j}] and rules[{i}] are both named '{}'; rule names \
                     must be unique (rename one, or retrain)",
                    r.name
                ));
            }
            if !r.weight.is_finite() {
                return Err(format!("rule '{}' has a non-finite weight", r.name));
            }
            if r.points.0.abs() > MAX_POINTS {
                return Err(format!(
                    "rule '{}' gives {} points; at most {MAX_POINTS} either way are allowed \
                     (retrain, or edit the points)",
                    r.name, r.points.0
                ));
            }
            share(&format!("rules[{i}].support"), r.support)?;
            share(&format!("rules[{i}].conversion_rate"), r.conversion_rate)?;
        }
        if let Some(d) = self.training.delimiter {
            if !DELIMITERS.contains(&d) {
                return Err(format!(
                    "training.delimiter {d:?} is not one of ',' ';' tab '|'"
                ));
            }
        }
        self.validate_metrics()?;
        self.validate_reach()?;
        self.validate_grades()?;
        if !(self.scale.points_to_double_odds.is_finite() && self.scale.points_to_double_odds > 0.0)
        {
            return Err("points_to_double_odds must be a positive number".into());
        }
        self.calibration.validate()
    }

    /// A grade matrix fits the rules' groups, and a grade threshold has a matrix to use.
    fn validate_grades(&self) -> std::result::Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.group.as_ref().is_some_and(|g| g.trim().is_empty()) {
                return Err(format!("rules[{i}].group is empty"));
            }
        }
        if let Some(g) = &self.grades {
            g.validate(&self.group_names())?;
        }
        if let crate::threshold::Policy::Grade(cell) = self.threshold.threshold.policy {
            if self.grades.is_none() {
                return Err(format!(
                    "threshold.policy is grade:{cell} but the model has no grade matrix; \
                     retrain with --grades"
                ));
            }
        }
        Ok(())
    }

    /// Metrics and rates within their ranges (a file edited by hand, or damaged).
    fn validate_metrics(&self) -> std::result::Result<(), String> {
        let m = &self.metrics;
        share("metrics.roc_auc", m.roc_auc)?;
        if !(m.log_loss.is_finite() && m.log_loss >= 0.0) {
            return Err(format!(
                "metrics.log_loss is {}; a log loss is a finite number of at least 0 (retrain, \
                 or restore the file)",
                m.log_loss
            ));
        }
        share("metrics.brier", m.brier)?;
        share("metrics.ece", m.ece)?;
        share("training.conversion_rate", self.training.conversion_rate)?;
        if let Some(b) = self.threshold.threshold.bound {
            share("threshold.bound", b)?;
        }
        let f = &self.threshold.out_of_fold;
        share("threshold.out_of_fold.lead_to_mql_rate", f.lead_to_mql_rate)?;
        share(
            "threshold.out_of_fold.mql_to_opportunity_rate",
            f.mql_to_opportunity_rate,
        )?;
        share(
            "threshold.out_of_fold.conversions_captured",
            f.conversions_captured,
        )
    }

    /// Every score the rules can give fits the exports' doubles exactly, and the threshold is
    /// one of them (a threshold above the highest score makes no lead an MQL, one below the
    /// lowest makes every lead one: either is a broken file, not a choice).
    fn validate_reach(&self) -> std::result::Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if let Condition::PerUnit { cap: Some(c) } = r.condition {
                if (r.points.0 as f64).abs() * c.floor() > MAX_UNITS {
                    return Err(format!(
                        "rules[{i}].condition.cap: {} units × {} points is beyond the largest \
                         score an export can hold exactly (2^53); lower the cap, or retrain",
                        crate::rules::format_number(c.floor()),
                        r.points.0
                    ));
                }
            }
        }
        let (low, high) = self.score_range();
        for (end, v) in [("lowest", low), ("highest", high)] {
            if v.is_some_and(|v| v.unsigned_abs() > MAX_UNITS as u128) {
                return Err(format!(
                    "rules: the {end} score the rules can give ({}) is beyond what an export \
                     can hold exactly (2^53); lower caps or points, or retrain",
                    v.unwrap_or_default()
                ));
            }
        }
        let t = self.threshold.threshold.points as i128;
        if let Some(high) = high.filter(|&h| t > h) {
            return Err(format!(
                "threshold.points: {t} is above the highest score the rules can give ({high}), \
                 so no lead would ever be an MQL; retrain, or set a threshold within the scores"
            ));
        }
        if let Some(low) = low.filter(|&l| t < l) {
            return Err(format!(
                "threshold.points: {t} is below the lowest score the rules can give ({low}), \
                 so every lead would be an MQL; retrain, or set a threshold within the scores"
            ));
        }
        Ok(())
    }

    /// The lowest and highest score the rules can give; `None` when unbounded (a per-unit
    /// rule without a cap, in a file written before training capped them). A rule adds
    /// between 0 and points × its largest feature (1, or the cap's whole units), whichever
    /// the sign of its points.
    pub fn score_range(&self) -> (Option<i128>, Option<i128>) {
        score_range(self.rules.iter().map(|r| (&r.condition, r.points)))
    }

    /// Serialises to pretty JSON with a trailing newline (deterministic: struct order, no maps).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("models serialise");
        s.push('\n');
        s
    }

    /// Writes the file atomically. Without `force`, an existing file is an error and is left
    /// untouched.
    pub fn save(&self, path: &Path, force: bool) -> Result<()> {
        crate::atomic::write_bytes(path, self.to_json().as_bytes(), force)
    }

    /// What the model says about its decayed event rules, one sentence per source: "pricing_page_view
    /// events lose half their value in 14 days (learnt from the data)".
    pub fn half_life_sentences(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.rules.iter().filter_map(|r| r.event.as_ref()) {
            if let Some(text) = s.half_life_sentence() {
                if !out.contains(&text) {
                    out.push(text);
                }
            }
        }
        out
    }

    /// Whether scoring needs a reference date ("as of"): some rule counts days.
    pub fn needs_as_of(&self) -> bool {
        self.rules.iter().any(|r| r.rule().needs_as_of())
    }

    /// The rule groups (sub-scores) in order of first appearance in the rules.
    pub fn group_names(&self) -> Vec<String> {
        crate::grades::group_names(self.rules.iter().map(|r| r.group.as_deref()))
    }

    /// The columns `mqlcal score` (and the SQL and PMML exports) add after `mql`: one
    /// `<group>_score` per rule group in [`Model::group_names`] order, then `grade` when the
    /// model has a grade matrix.
    pub fn sub_score_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self
            .group_names()
            .iter()
            .map(|g| crate::grades::sub_score_column(g))
            .collect();
        if self.grades.is_some() {
            columns.push(crate::grades::GRADE_COLUMN.into());
        }
        columns
    }

    pub fn rules(&self) -> Vec<Rule> {
        self.rules.iter().map(ModelRule::rule).collect()
    }

    pub fn points(&self) -> Vec<Points> {
        self.rules.iter().map(|r| r.points).collect()
    }

    /// The columns a lead must have for this model (in the leads file; an event rule's
    /// column comes from the activity log).
    pub fn columns(&self) -> Vec<&str> {
        // An event rule's column is computed from the activity log, not read from the leads.
        let mut cols: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.event.is_none())
            .flat_map(|r| r.rule_columns())
            .collect();
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    /// Scores one lead from its features (one per rule, in rule order). An [`Overflow`] names
    /// the rule whose points do not fit a score: possible only for a per-unit rule without a
    /// cap (files written before training capped them), which counts any number of units.
    pub fn score_features(
        &self,
        features: impl IntoIterator<Item = f64>,
    ) -> std::result::Result<Scored, Overflow> {
        let mut score: i64 = 0;
        let mut reasons = Vec::new();
        let names = self.group_names();
        let mut sub_scores = vec![0i64; names.len()];
        for (j, (rule, f)) in self.rules.iter().zip(features).enumerate() {
            let given = crate::points::given(j, rule.points, f)?;
            if let Some(g) = &rule.group {
                // A sub-score is a part of the score: it fits when the score does, except
                // when points of both signs cancel in the total; then it is named like it.
                let i = names
                    .iter()
                    .position(|n| n == g)
                    .expect("a group of the rules");
                sub_scores[i] = sub_scores[i].checked_add(given).ok_or_else(|| Overflow {
                    rule: j,
                    message: format!(
                        "its points take the '{g}' sub-score beyond what a score can hold ({})",
                        i64::MAX
                    ),
                })?;
            }
            score = score.checked_add(given).ok_or_else(|| Overflow {
                rule: j,
                message: format!(
                    "its points take the score beyond what a score can hold ({})",
                    i64::MAX
                ),
            })?;
            if given != 0 {
                reasons.push((j, given));
            }
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let grade = self
            .grades
            .as_ref()
            .and_then(|g| g.grade(&names, &sub_scores));
        Ok(Scored {
            score,
            probability: self.calibration.probability(score),
            mql: self.threshold.threshold.is_mql_graded(score, grade),
            reasons,
            sub_scores,
            grade,
        })
    }

    /// An [`Overflow`] in words, naming the rule and its column.
    pub fn overflow_text(&self, e: &Overflow) -> String {
        let r = &self.rules[e.rule];
        format!(
            "column {}: rule '{}': {}",
            crate::rules::columns_text(&r.rule_columns()),
            r.name,
            e.message
        )
    }

    /// Scores one lead given as `value(column)`. This path needs no polars: it is how another
    /// program scores leads it holds in memory.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqlcal::model::Model;
    /// use mqlcal::rules::Value;
    /// let model = Model::load(std::path::Path::new("models/lead-model.json"))?;
    /// let scored = model.score_lead(|column| match column {
    ///     "pricing_page_visits" => Value::Number(3.0),
    ///     "job_level" => Value::Text("VP"),
    ///     _ => Value::Missing,
    /// })?;
    /// assert!(scored.probability.0 > 0.0 && scored.probability.0 < 1.0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Date rules count days back from today (UTC); [`Model::score_lead_as_of`] takes the date.
    /// Event rules read no column: [`Model::score_lead_with_events`] takes the lead's events.
    pub fn score_lead<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
    ) -> std::result::Result<Scored, String> {
        self.score_lead_as_of(value, crate::rules::today_utc())
    }

    /// [`Model::score_lead`] as of `as_of`: date rules (`within_days`, `older_than_days`)
    /// count days back from it. Date cells are text: `YYYY-MM-DD`, or a timestamp after it (on
    /// its UTC day when it has an offset; taken as UTC when it has none).
    pub fn score_lead_as_of<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
        as_of: chrono::NaiveDate,
    ) -> std::result::Result<Scored, String> {
        let mut features = Vec::with_capacity(self.rules.len());
        for r in &self.rules {
            features.push(r.eval_read_as_of(&value, self.training.decimal_comma, Some(as_of))?);
        }
        self.score_features(features)
            .map_err(|e| self.overflow_text(&e))
    }

    /// [`Model::score_lead_as_of`] for a model with event rules (`event`/`event_one_of`
    /// counted `within_days` or decayed by a half-life): `events` are the lead's activity,
    /// (event type, UTC day; [`crate::rules::events::event_day`] reads a timestamp text), and each
    /// event rule's number is computed as `mqlcal score --events FILE --as-of` computes it
    /// ([`Model::event_values`]): events after `as_of` do not count, and a lead without
    /// events has none. `value` gives the other columns, as for [`Model::score_lead`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqlcal::rules::events::event_day;
    /// use mqlcal::model::Model;
    /// use mqlcal::rules::Value;
    /// let model = Model::load(std::path::Path::new("models/lead-model.json"))?;
    /// let as_of = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    /// let day = event_day("2026-11-30T23:30:00-05:00").unwrap(); // 2026-12-01 in UTC
    /// let scored = model.score_lead_with_events(
    ///     |column| match column {
    ///         "job_level" => Value::Text("VP"),
    ///         _ => Value::Missing,
    ///     },
    ///     &[("pricing_page_view", day)],
    ///     as_of,
    /// )?;
    /// assert!(scored.probability.0 > 0.0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn score_lead_with_events<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
        events: &[(&str, chrono::NaiveDate)],
        as_of: chrono::NaiveDate,
    ) -> std::result::Result<Scored, String> {
        let numbers = self.event_values(events, as_of);
        self.score_lead_as_of(
            |column| match numbers.iter().find(|(c, _)| c == column) {
                Some(&(_, v)) => Value::Number(v),
                None => value(column),
            },
            as_of,
        )
    }

    /// The numbers the model's event rules read for a lead whose events are `events` (type,
    /// UTC day), as of `as_of`: (column, value), each event column once
    /// ([`crate::rules::events::lead_event_values`]). Empty for a model without event rules.
    pub fn event_values(
        &self,
        events: &[(&str, chrono::NaiveDate)],
        as_of: chrono::NaiveDate,
    ) -> Vec<(String, f64)> {
        crate::rules::events::lead_event_values(
            self.rules.iter().filter_map(|r| r.event.as_ref()),
            events,
            as_of,
        )
    }

    /// One cell as `mqlcal score` reads it from a file: surrounding spaces trimmed, and an empty
    /// cell or one of the model's placeholders (`training.na`, e.g. `Select`) missing. Use it
    /// to score text fields (a CSV row, a form, a CRM record) exactly as the command does.
    pub fn cell<'a>(&self, raw: Option<&'a str>) -> Value<'a> {
        match raw.map(str::trim) {
            None | Some("") => Value::Missing,
            Some(s) if self.is_placeholder(s) => Value::Missing,
            Some(s) => Value::Text(s),
        }
    }

    /// Whether the trimmed cell `s` is one of the model's placeholders (compared ignoring the
    /// case of A–Z when the model was trained with `--na-ignore-case`).
    pub fn is_placeholder(&self, s: &str) -> bool {
        let ignore_case = self.training.na_ignore_case;
        self.training.na.iter().any(|na| {
            let na = na.trim();
            na == s || (ignore_case && na.eq_ignore_ascii_case(s))
        })
    }

    /// Scores a batch of leads held in memory, in order; `value(lead, column)` gives one cell.
    /// An error names the lead (counted from 1) and the column.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::collections::HashMap;
    /// use mqlcal::model::Model;
    /// let model = Model::load(std::path::Path::new("models/lead-model.json"))?;
    /// let leads: Vec<HashMap<&str, &str>> = vec![
    ///     HashMap::from([("job_level", "VP"), ("pricing_page_visits", "4")]),
    ///     HashMap::from([("job_level", "Intern")]),
    /// ];
    /// let scored = model.score_leads(&leads, |lead, column| model.cell(lead.get(column).copied()))?;
    /// assert!(scored[0].score > scored[1].score);
    /// # Ok(())
    /// # }
    /// ```
    pub fn score_leads<'a, L: 'a>(
        &self,
        leads: impl IntoIterator<Item = &'a L>,
        value: impl Fn(&'a L, &str) -> Value<'a>,
    ) -> std::result::Result<Vec<Scored>, String> {
        leads
            .into_iter()
            .enumerate()
            .map(|(i, lead)| {
                self.score_lead(|column| value(lead, column))
                    .map_err(|e| format!("lead {}, {e}", i + 1))
            })
            .collect()
    }

    /// The reasons as text: `Rule name (+40); Other rule (+15)`, at most `limit` of them.
    pub fn reasons_text(&self, scored: &Scored, limit: usize) -> String {
        scored
            .reasons
            .iter()
            .take(limit)
            .map(|&(j, p)| format!("{} ({p:+})", self.rules[j].name))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// [`Model::score_range`] of rules given as (condition, points).
pub fn score_range<'a>(
    rules: impl IntoIterator<Item = (&'a Condition, Points)>,
) -> (Option<i128>, Option<i128>) {
    let (mut low, mut high) = (Some(0i128), Some(0i128));
    for (condition, points) in rules {
        let p = points.0 as i128;
        let largest = match condition {
            // At most 2^53 in a checked rule; saturating for rules a library caller built.
            Condition::PerUnit { cap: Some(c) } => Some(c.floor() as i128),
            Condition::PerUnit { cap: None } => None,
            _ => Some(1),
        };
        match largest {
            Some(n) => {
                let most = p.saturating_mul(n);
                low = low.map(|l| l.saturating_add(most.min(0)));
                high = high.map(|h| h.saturating_add(most.max(0)));
            }
            None if p > 0 => high = None,
            None if p < 0 => low = None,
            None => {}
        }
    }
    (low, high)
}

/// A share (support, rate, AUC, Brier, ECE) must be within 0 and 1; the error names the field.
fn share(field: &str, v: f64) -> std::result::Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{field} is {v}; it must be within 0 and 1 (retrain, or restore the file)"
        ))
    }
}

/// A JSON syntax error in words a person can act on.
fn json_error(text: &str, e: &serde_json::Error) -> String {
    let at = format!("line {}, column {}", e.line(), e.column());
    if text.trim().is_empty() {
        return "is empty; expected a model file written by mqlcal train".into();
    }
    if e.is_eof() {
        return format!(
            "ends early at {at}: the file looks truncated; copy it again or retrain ({e})"
        );
    }
    // serde_json reports NaN and Infinity as bad syntax and 1e999 as out of range; say why
    // they cannot be in a model file.
    let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    let rest = line.get(e.column().saturating_sub(1)..).unwrap_or("");
    let non_finite = ["NaN", "Infinity", "-Infinity", "inf", "-inf"]
        .iter()
        .any(|t| rest.starts_with(t))
        || e.to_string().contains("number out of range");
    if non_finite {
        return format!(
            "holds a number that is not finite (NaN, Infinity or too large) at {at}; model \
             files hold finite numbers only: retrain, or fix the number"
        );
    }
    format!("not valid JSON ({e})")
}
