//! The training pipeline, start to finish: outcomes → rules (given or proposed) → features →
//! leads grouped by rule pattern → regularisation search on seeded folds → out-of-fold scores
//! → final fit → points → calibration → threshold → metrics → [`Model`]. Each step is a small
//! named function. Everything after the grouping works on pattern counts ([`crate::group`]), so
//! [`train_groups`] trains from a counts table made elsewhere (a warehouse) as well.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2};

use crate::calibrate::{Calibration, Method};
use crate::data::outcomes::{Clock, LeadDates, Opportunities, OutcomeSpec, TimeParams, Timeline};
use crate::data::{scan_batches, DatedCounts, Delimiter, Encoding, IdHashes, LoadOptions, Table};
use crate::error::{Error, Result};
use crate::fit::{self, GroupedFit, Weights};
use crate::group::Groups;
use crate::metrics::Metrics;
use crate::model::{Model, ModelRule, ModelThreshold, Training, SCHEMA_VERSION};
use crate::outcome::{Immature, OutcomeRecord};
use crate::points::{Points, PointsScale};
use crate::profile::{Histogram, Profile};
use crate::progress::Progress;
use crate::rules::auto::{self, AutoRulesParams};
use crate::rules::features::{rule_features, rule_patterns};
use crate::rules::interactions::{self, InteractionSearch};
use crate::rules::{Rule, RulesFile};
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
    /// Score → probability map (default auto: Platt unless beta or isotonic fits the
    /// out-of-fold scores better).
    pub calibration: Method,
    pub policy: Policy,
    /// Grade leads by their two sub-scores (`--grades`): needs exactly two rule groups.
    pub grades: bool,
    /// Recorded in the model so a retrain can repeat the load.
    pub na: Vec<String>,
    pub exclude: Vec<String>,
    /// Column with each lead's creation date (`YYYY-MM-DD`); recorded with the newest date.
    pub date: Option<String>,
    /// Where "converted" comes from; `None`: the 0/1 `target` column.
    pub outcome: Option<OutcomeSpec>,
    /// The conversion window, as-of date and young leads (with a dated outcome).
    pub time: TimeParams,
    /// Rows with the same value in this column share a fold (a lead's snapshots), instead of
    /// the folds dealt per pattern ([`Groups::split_folds`]).
    pub fold_by: Option<String>,
    /// With `fold_by`: deal whole buckets of keys to folds ([`crate::group::folds_by_bucket`]:
    /// a key's bucket is its rank among the distinct keys in byte order, modulo
    /// [`crate::group::LEAD_BUCKETS`]) rather than key by key: the folds `mqlcal train
    /// --counts` deals a warehouse's snapshot counts by, so that point-in-time training from
    /// the leads and their events gives the model of those counts. Rows without a key are
    /// dealt round-robin from fold 0.
    pub fold_by_bucket: bool,
    /// `--propose-interactions N`: after the rules, propose up to N AND rules of two of them
    /// ([`crate::rules::interactions`]); 0: none.
    pub interactions: usize,
}

/// Which rules make each group, for an error about groups: "; rules 'A', 'B' are in 'profile';
/// rule 'C' has no group".
fn group_members(rules: &[Rule], names: &[String]) -> String {
    let list = |of: &dyn Fn(&Rule) -> bool| {
        let named: Vec<String> = rules
            .iter()
            .filter(|r| of(r))
            .map(|r| format!("'{}'", r.name))
            .collect();
        let word = if named.len() == 1 { "rule" } else { "rules" };
        (named.len(), format!("{word} {}", named.join(", ")))
    };
    let mut parts: Vec<String> = names
        .iter()
        .map(|g| {
            let (n, who) = list(&|r| r.group.as_deref() == Some(g.as_str()));
            format!("{who} {} in '{g}'", if n == 1 { "is" } else { "are" })
        })
        .collect();
    let (n, who) = list(&|r| r.group.is_none());
    if n > 0 {
        parts.push(format!(
            "{who} {} no group",
            if n == 1 { "has" } else { "have" }
        ));
    }
    format!("; {}", parts.join("; "))
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
            calibration: Method::Auto,
            policy: Policy::MqlRate(0.10),
            grades: false,
            na: Vec::new(),
            exclude: Vec::new(),
            date: None,
            outcome: None,
            time: TimeParams::default(),
            fold_by: None,
            fold_by_bucket: false,
            interactions: 0,
        }
    }
    /// The options `model` was trained with, to train it again on new data: its rules (as
    /// fixed rules, also when they were first proposed), target, id, scale, calibration,
    /// threshold policy, folds, seed, strength grid, placeholders, exclusions and date column;
    /// and how "converted" was read: the outcome, window, young-lead method and date format.
    /// As-of is left unset (it belongs to the new data). For an outcome read from a list of
    /// opportunities the file is the champion's (by name only): a retrain gives the new one.
    pub fn from_model(model: &Model) -> TrainParams {
        let t = &model.training;
        let outcome = t
            .outcome
            .as_ref()
            .and_then(|o| outcome_of_record(o, &model.target));
        let dated = outcome.as_ref().is_some_and(OutcomeSpec::dated);
        TrainParams {
            target: model.target.clone(),
            id: model.id_column.clone(),
            rules: Some(model.rules()),
            auto: AutoRulesParams::default(),
            folds: t.folds,
            seed: t.seed,
            alphas: t.alpha_grid(),
            scale: model.scale,
            // A model whose calibrator `auto` chose is retrained with `auto` again.
            calibration: if model.training.calibration_search.is_some() {
                Method::Auto
            } else {
                model.calibration.method()
            },
            policy: model.threshold.threshold.policy,
            grades: model.grades.is_some(),
            na: t.na.clone(),
            exclude: t.exclude.clone(),
            date: t
                .outcome
                .as_ref()
                .and_then(|o| o.date_column.clone())
                .filter(|_| dated)
                .or_else(|| t.date_column.clone()),
            outcome,
            time: TimeParams {
                window: t
                    .window_days
                    .filter(|_| dated)
                    .map(|days| crate::outcome::Window { days }),
                as_of: None,
                immature: t.immature_method.unwrap_or_default(),
                date_format: t.outcome.as_ref().and_then(|o| o.date_format.clone()),
            },
            fold_by: None,
            fold_by_bucket: false,
            // The AND rules a search kept are among the model's rules now.
            interactions: 0,
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
        if let (Policy::Grade(cell), false) = (self.policy, self.grades) {
            return Err(Error::Option {
                option: "--threshold",
                message: format!(
                    "grade:{cell} makes MQLs by grade; add --grades (with two rule groups)"
                ),
            });
        }
        if self.grades {
            if let Some(rules) = &self.rules {
                let names = crate::grades::group_names(rules.iter().map(|r| r.group.as_deref()));
                crate::grades::axes(&names).map_err(|message| Error::Option {
                    option: "--grades",
                    message: format!("{message}{}", group_members(rules, &names)),
                })?;
            } else {
                return Err(Error::Option {
                    option: "--grades",
                    message: "grades need rule groups: give a rules file (--rules) whose rules \
                              say group = \"profile\" or group = \"behaviour\""
                        .into(),
                });
            }
        }
        let dated = self.outcome.as_ref().is_some_and(OutcomeSpec::dated);
        match (dated, self.time.window) {
            (true, None) => {
                return Err(Error::Option {
                    option: "--window",
                    message: "an opportunity date needs a conversion window, which is what the \
                        probability will mean: e.g. --window 90d (becomes an opportunity \
                        within 90 days of creation)"
                        .into(),
                })
            }
            (false, Some(_)) => {
                return Err(Error::Option {
                    option: "--window",
                    message: "a window needs opportunity dates (--outcome-date, with or without \
                        --outcomes); a 0/1 target or a stage (--converted-if) has no date, \
                        so it has no window"
                        .into(),
                })
            }
            (true, Some(_)) if self.date.is_none() => {
                return Err(Error::Option {
                    option: "--date",
                    message: "a conversion window counts from each lead's creation: name the \
                        creation date column with --date"
                        .into(),
                })
            }
            _ => {}
        }
        let date_rules = self
            .rules
            .as_ref()
            .is_some_and(|r| r.iter().any(Rule::needs_as_of));
        if !dated && !date_rules && self.time.as_of.is_some() {
            return Err(Error::Option {
                option: "--as-of",
                message: "an as-of date only matters with opportunity dates and a --window, or \
                      with date rules (`within_days`, `older_than_days`)"
                    .into(),
            });
        }
        Ok(())
    }

    /// The outcome as given: the spec, or the 0/1 target column.
    pub fn outcome_spec(&self) -> OutcomeSpec {
        self.outcome
            .clone()
            .unwrap_or_else(|| OutcomeSpec::Target(self.target.clone()))
    }

    /// The columns of the leads the outcome is read from.
    fn outcome_columns(&self) -> Vec<String> {
        let spec = self.outcome_spec();
        let mut columns: Vec<String> = spec.leads_column().map(String::from).into_iter().collect();
        if spec.dated() {
            columns.extend(self.date.iter().cloned());
        }
        columns
    }

    /// The list of opportunities, read once, when the outcome is one.
    pub(crate) fn opportunities(&self, load: &LoadOptions) -> Result<Option<Opportunities>> {
        match &self.outcome {
            Some(OutcomeSpec::Opportunities { file, column }) => {
                let id = self.id.as_deref().ok_or(Error::Option {
                    option: "--id",
                    message: "joining --outcomes to the leads needs the lead id column: pass \
                        --id, or set `id` in the rules file"
                        .into(),
                })?;
                Opportunities::load(file, id, column, self.time.date_format.as_deref(), load)
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The outcome spec a model file records; `None` for the 0/1 target (or a source this version
/// does not know, which then reads as the 0/1 `target` column and fails naming it).
fn outcome_of_record(record: &OutcomeRecord, target: &str) -> Option<OutcomeSpec> {
    match record.source.as_str() {
        "stage" => OutcomeSpec::stage(&record.column).ok(),
        "date" => Some(OutcomeSpec::Date {
            column: record.column.clone(),
        }),
        "opportunities" => Some(OutcomeSpec::Opportunities {
            file: record.file.clone().unwrap_or_default().into(),
            column: record.column.clone(),
        }),
        _ => (record.column != target).then(|| OutcomeSpec::Target(record.column.clone())),
    }
}

/// The outcomes of one table or batch, and for a dated outcome the leads' dates (added to
/// `timeline`, which the window needs).
fn observe(
    table: &Table,
    params: &TrainParams,
    opportunities: Option<&mut Opportunities>,
    timeline: Option<&mut Timeline>,
) -> Result<(Vec<bool>, Option<LeadDates>)> {
    match (params.outcome_spec(), timeline) {
        (OutcomeSpec::Target(target), _) => Ok((table.outcomes(&target)?, None)),
        (OutcomeSpec::Stage { column, values }, _) => {
            Ok((table.stage_outcomes(&column, &values)?, None))
        }
        (spec, Some(timeline)) => {
            let date = params
                .date
                .as_deref()
                .expect("checked: a window has --date");
            let dates = table.lead_dates(
                &spec,
                date,
                params.time.date_format.as_deref(),
                params.id.as_deref(),
                opportunities,
            )?;
            let y = timeline.add(&dates, table.first_row());
            Ok((y, Some(dates)))
        }
        (_, None) => unreachable!("a dated outcome comes with a timeline"),
    }
}

/// What the outcome's dates gave, for the model file.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub outcome: Option<OutcomeRecord>,
    pub clock: Option<Clock>,
    pub method: Immature,
}

impl Timing {
    pub(crate) fn of(params: &TrainParams, clock: Option<Clock>) -> Timing {
        let outcome = params.outcome.as_ref().map(|spec| OutcomeRecord {
            source: spec.source().into(),
            column: spec.describe(),
            file: match spec {
                OutcomeSpec::Opportunities { file, .. } => {
                    file.file_name().map(|s| s.to_string_lossy().into_owned())
                }
                _ => None,
            },
            date_column: spec.dated().then(|| params.date.clone()).flatten(),
            date_format: params.time.date_format.clone(),
        });
        Timing {
            outcome,
            clock,
            method: params.time.immature,
        }
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
    /// With `--immature drop`: the rows of the table trained on (the others were immature);
    /// the per-lead vectors here are of these rows.
    pub kept_rows: Option<Vec<usize>>,
    /// With a window: whether each lead's outcome is final (created a window before as-of).
    pub mature: Option<Vec<bool>>,
}

/// The outcomes of a table as training reads them: each lead's outcome within the window,
/// its creation day and the [`Clock`] (as-of, delay distribution) with a window.
#[derive(Debug, Clone)]
pub struct Observed {
    pub y: Vec<bool>,
    pub created: Option<Vec<i64>>,
    /// Each lead's opportunity day (none when no opportunity is known), with dated outcomes.
    pub opportunity: Option<Vec<Option<i64>>>,
    pub clock: Option<Clock>,
    /// The join's and the dates' warnings.
    pub warnings: Vec<String>,
}

impl Observed {
    /// Whether each lead's outcome is final; `None` without a window.
    pub fn mature(&self) -> Option<Vec<bool>> {
        let (clock, created) = (self.clock.as_ref()?, self.created.as_ref()?);
        Some(created.iter().map(|&c| clock.is_mature(c)).collect())
    }

    /// The rows `immature` keeps: `None` for all of them.
    pub fn kept(&self, immature: Immature) -> Option<Vec<usize>> {
        let mature = self.mature().filter(|_| immature == Immature::Drop)?;
        Some((0..mature.len()).filter(|&i| mature[i]).collect())
    }
}

/// Reads the outcomes of `table` as [`train`] does with `params` (joining the opportunities
/// list, finding as-of): for the report and retrain, which must judge leads the same way.
pub fn observed(table: &Table, params: &TrainParams) -> Result<Observed> {
    let mut opportunities = params.opportunities(&LoadOptions {
        na: params.na.clone(),
        encoding: table.encoding(),
        ..LoadOptions::default()
    })?;
    let mut timeline = params
        .time
        .window
        .filter(|_| params.outcome_spec().dated())
        .map(|w| Timeline::new(w, params.time.as_of));
    let (y, dates) = observe(table, params, opportunities.as_mut(), timeline.as_mut())?;
    let mut warnings = Vec::new();
    if let Some(list) = &opportunities {
        warnings.extend(list.warnings(table.path()));
    }
    let clock = timeline.map(|t| t.finish(table.path())).transpose()?;
    if let Some(clock) = &clock {
        warnings.extend(clock.warnings.iter().cloned());
    }
    Ok(Observed {
        y,
        opportunity: dates.as_ref().map(|d| d.opportunity.clone()),
        created: dates.map(|d| d.created),
        clock,
        warnings,
    })
}

/// Where the training leads came from, as the model file records it.
#[derive(Debug, Clone)]
pub struct Input {
    /// File name (no directories, so a model does not depend on where the file sat).
    pub file: String,
    pub sha256: String,
    /// The newest lead's creation date (`YYYY-MM-DD`), when the leads have a date column.
    pub newest_lead: Option<String>,
    /// The outcome's source, window and as-of date.
    pub timing: Timing,
    /// How the file was read (the delimiter of a CSV file, numbers with a decimal comma, the
    /// encoding, placeholders ignoring case), recorded so that the next file is read the same way.
    pub delimiter: Option<Delimiter>,
    pub decimal_comma: bool,
    pub na_ignore_case: bool,
    pub encoding: Option<Encoding>,
    /// The search for AND rules, with `--propose-interactions`.
    pub interactions: Option<InteractionSearch>,
    /// The date date rules counted back from.
    pub dates_as_of: Option<chrono::NaiveDate>,
}

impl Input {
    pub fn of(path: &std::path::Path, sha256: &str) -> Input {
        Input {
            file: path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: sha256.to_string(),
            newest_lead: None,
            timing: Timing::default(),
            delimiter: None,
            decimal_comma: false,
            na_ignore_case: false,
            encoding: None,
            interactions: None,
            dates_as_of: None,
        }
    }

    /// The input of `table`: its file and how it was read.
    pub fn of_table(table: &Table) -> Input {
        Input {
            delimiter: table.delimiter(),
            decimal_comma: table.decimal_comma(),
            na_ignore_case: table.na_ignore_case(),
            encoding: table.encoding(),
            ..Input::of(table.path(), table.sha256())
        }
    }
}

/// The as-of date of `params`' date rules, `None` without any: `--as-of` if given, else the
/// training's as-of (dated outcomes), else the newest date in the date rules' columns.
fn dates_as_of(
    table: &Table,
    params: &TrainParams,
    clock: Option<&crate::data::outcomes::Clock>,
) -> Result<Option<chrono::NaiveDate>> {
    let Some(rules) = params
        .rules
        .as_ref()
        .filter(|r| r.iter().any(Rule::needs_as_of))
    else {
        return Ok(None);
    };
    if let Some(d) = params.time.as_of {
        return Ok(Some(d));
    }
    if let Some(c) = clock {
        return Ok(Some(crate::data::outcomes::date_of(c.as_of)));
    }
    let mut reading = table.clone();
    reading.set_dates_as_of(chrono::NaiveDate::MIN, params.time.date_format.as_deref());
    let mut newest: Option<chrono::NaiveDate> = None;
    let mut columns: Vec<&str> = Vec::new();
    for rule in rules {
        for (c, cond) in rule.atoms() {
            if cond.is_date() && !columns.contains(&c) {
                columns.push(c);
                newest = newest.max(reading.rule_dates(c)?.into_iter().flatten().max());
            }
        }
    }
    newest.map(Some).ok_or_else(|| Error::Option {
        option: "--as-of",
        message: format!(
            "the date rules' column{} {} hold no date, so there is no newest date to count \
             days back from; pass --as-of",
            if columns.len() == 1 { "" } else { "s" },
            crate::rules::columns_text(&columns)
        ),
    })
}

/// `table` with its date rules counting days back from [`dates_as_of`], their cells read in
/// `format`; the table itself, borrowed, when no rule counts days. Training, the report and
/// retrain all read date rules through this.
pub fn dated_for_rules<'a>(
    table: &'a Table,
    params: &TrainParams,
    clock: Option<&crate::data::outcomes::Clock>,
    format: Option<&str>,
) -> Result<std::borrow::Cow<'a, Table>> {
    Ok(match dates_as_of(table, params, clock)? {
        Some(as_of) => {
            let mut t = table.clone();
            t.set_dates_as_of(as_of, format);
            std::borrow::Cow::Owned(t)
        }
        None => std::borrow::Cow::Borrowed(table),
    })
}

/// Trains a model on `table`: rule features per lead, grouped by pattern, then
/// [`train_groups`]. The per-lead out-of-fold scores are kept for the report.
pub fn train(table: &Table, params: &TrainParams) -> Result<Trained> {
    train_with(table, params, &crate::progress::Silent)
}

/// [`train`], reporting the long steps to `progress`.
pub fn train_with(table: &Table, params: &TrainParams, progress: &dyn Progress) -> Result<Trained> {
    params.check()?;
    let mut notes = table.notes.clone();
    let observed = observed(table, params)?;
    let mut warnings = observed.warnings.clone();
    // Date rules count days back from one as-of date, set on the table they read.
    let dated = dated_for_rules(
        table,
        params,
        observed.clock.as_ref(),
        params.time.date_format.as_deref(),
    )?;
    let table: &Table = &dated;
    // With `--immature drop`, the leads kept are the mature ones; with `weight`, every lead
    // with its exposure.
    let keep = observed.kept(params.time.immature);
    let exposure = match (&observed.clock, &observed.created) {
        (Some(clock), Some(created)) if params.time.immature == Immature::Weight => Some(
            created
                .iter()
                .map(|&c| clock.exposure(c))
                .collect::<Vec<f64>>(),
        ),
        _ => None,
    };
    let y = observed.y.clone();
    // Proposed bands are chosen with the outcome; a young lead's "not yet" does not vote.
    let mature = observed.mature();
    let final_y: Vec<Option<bool>> = y
        .iter()
        .enumerate()
        .map(|(i, &c)| (c || mature.as_ref().is_none_or(|m| m[i])).then_some(c))
        .collect();
    let (rules, proposed) = resolve_rules(table, &final_y, params, &mut notes)?;
    if proposed.is_none() {
        let mut near = crate::rules::spelling::NearMisses::new(&rules);
        near.add(table)?;
        warnings.extend(near.warnings(&rules));
    }
    warnings.extend(crate::rules::features::future_dates(
        table,
        &rules,
        params.id.as_deref(),
    )?);
    if let Some(opportunity) = &observed.opportunity {
        for column in crate::rules::features::date_columns(&rules) {
            let days: Vec<Option<i64>> = table
                .rule_dates(column)?
                .into_iter()
                .map(|d| d.map(crate::data::outcomes::day))
                .collect();
            warnings.extend(crate::leakage::date_after_opportunity(
                column,
                &days,
                opportunity,
                &observed.y,
            ));
        }
    }
    progress.begin("rule features", None);
    let mut x = rule_features(table, &rules)?;
    let mut y = y;
    if let Some(keep) = &keep {
        x = x.select(ndarray::Axis(0), keep);
        y = keep.iter().map(|&i| y[i]).collect();
    }
    let conversions = y.iter().filter(|&&t| t).count();
    if let Some(e) = one_outcome_error(table.path(), &params.target, conversions, y.len()) {
        return Err(e);
    }
    // A lead's snapshots share its id by design.
    if let Some(id) = params
        .id
        .as_ref()
        .filter(|&id| params.fold_by.as_ref() != Some(id))
    {
        warnings.extend(duplicate_ids(table, id)?);
    }
    progress.begin("grouping", None);
    let (groups, mut lead_pattern) = Groups::from_rows_exposed(x.view(), &y, exposure.as_deref());
    progress.end();
    let (rules, groups, merged) = crate::caps::apply(rules, groups, &mut warnings)?;
    let mut x = x;
    if let Some(merged) = merged {
        for p in &mut lead_pattern {
            *p = merged[*p as usize];
        }
        for (mut column, rule) in x.columns_mut().into_iter().zip(&rules) {
            if let crate::rules::Condition::PerUnit { cap: Some(c) } = rule.condition {
                column.mapv_inplace(|v| v.min(c));
            }
        }
    }
    tracing::info!(
        leads = y.len(),
        patterns = groups.len(),
        rules = rules.len(),
        "leads grouped by rule pattern"
    );
    let mut input = Input::of_table(table);
    input.dates_as_of = table
        .dates_as_of()
        .filter(|_| rules.iter().any(Rule::needs_as_of));
    if let Some(column) = &params.date {
        input.newest_lead = table
            .dates_as(column, params.time.date_format.as_deref(), "")?
            .into_iter()
            .flatten()
            .max()
            .map(|d| d.format("%Y-%m-%d").to_string());
    }
    input.timing = Timing::of(params, observed.clock.clone());
    let given = rules.len();
    let (rules, groups, pairs) = add_interactions(rules, groups, params, &mut input, progress)?;
    let x = if pairs.is_empty() {
        x
    } else {
        interactions::with_products(x.view(), &pairs)
    };
    let proposed = proposed.map(|mut file| {
        file.rules.extend(rules[given..].iter().map(Rule::to_spec));
        file
    });
    let k = params.folds;
    let keyed_folds = match &params.fold_by {
        Some(column) => {
            let keys = table.texts_checked(column, "pass the column that names each lead")?;
            let lead_folds = if params.fold_by_bucket {
                // Buckets rank the keys of every row, the rows left out too, as the warehouse
                // ranks the ids of every lead with a snapshot.
                let refs: Vec<Option<&str>> = keys.iter().map(Option::as_deref).collect();
                let folds = crate::group::folds_by_bucket(&refs, k, params.seed);
                let folds: Vec<u32> = match &keep {
                    Some(rows) => rows.iter().map(|&i| folds[i]).collect(),
                    None => folds,
                };
                let mut unkeyed = 0;
                folds
                    .into_iter()
                    .map(|f| match f {
                        crate::group::NO_FOLD => {
                            unkeyed += 1;
                            (unkeyed - 1) % k
                        }
                        f => f as usize,
                    })
                    .collect()
            } else {
                let keys: Vec<Option<String>> = match &keep {
                    Some(rows) => rows.iter().map(|&i| keys[i].clone()).collect(),
                    None => keys,
                };
                crate::group::folds_by_key(&keys, k, params.seed)
            };
            let counts = groups.fold_counts(&lead_pattern, &y, &lead_folds, k);
            Some((lead_folds, counts))
        }
        None => None,
    };
    let fitted = fit_groups(
        &groups,
        keyed_folds.as_ref().map(|(_, c)| c),
        &rules,
        params,
        input,
        if proposed.is_some() {
            "proposed"
        } else {
            "file"
        },
        warnings,
        progress,
    )?;
    let lead_folds = match keyed_folds {
        Some((lead_folds, _)) => lead_folds,
        None => groups.lead_folds(&lead_pattern, &y, k, params.seed),
    };
    let oof_scores = lead_pattern
        .iter()
        .zip(&lead_folds)
        .map(|(&p, &f)| fitted.oof[p as usize * k + f])
        .collect();
    let mature = observed.mature().map(|m| match &keep {
        Some(rows) => rows.iter().map(|&i| m[i]).collect(),
        None => m,
    });
    Ok(Trained {
        kept_rows: keep,
        mature,
        model: fitted.model,
        proposed,
        notes,
        oof_scores,
        outcomes: y,
        features: x,
        weights: fitted.weights,
    })
}

/// A model trained by [`train_file`], with the notes of the load.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub model: Model,
    pub notes: Vec<String>,
}

/// Trains on a CSV or Parquet file of any size with given rules (`params.rules`): the file is
/// streamed in batches of `batch_rows` leads ([`crate::data::scan_batches`], polars' streaming
/// engine), each batch turned into rule features and added to the pattern counts, and the
/// counts go to the pipeline of [`train_groups`]. Memory holds a few batches and the patterns,
/// plus 8 bytes per lead when an id column is checked for repeats; never the leads' values.
/// Gives the model [`train`] gives for the same file and options, byte for byte (warnings and
/// errors included, errors naming rows of the file).
pub fn train_file(
    path: &std::path::Path,
    load: &LoadOptions,
    params: &TrainParams,
    batch_rows: usize,
    progress: &dyn Progress,
) -> Result<Streamed> {
    params.check()?;
    let rules = params.rules.clone().ok_or(Error::Option {
        option: "--rules",
        message: "training from a stream needs the rules given (proposing rules reads every \
                  value of every column)"
            .into(),
    })?;
    check_given_rules(&rules, params)?;
    let dated_load;
    let load = if rules.iter().any(Rule::needs_as_of) {
        let as_of = params.time.as_of.ok_or(Error::Option {
            option: "--as-of",
            message: "training from a stream with date rules (`within_days`, \
                      `older_than_days`) needs the date they count back from: pass --as-of \
                      (the newest date of the file is not known before the stream ends)"
                .into(),
        })?;
        dated_load = LoadOptions {
            dates_as_of: Some(as_of),
            date_format: params.time.date_format.clone(),
            ..load.clone()
        };
        &dated_load
    } else {
        load
    };
    let mut columns = params.outcome_columns();
    for r in &rules {
        columns.extend(r.columns().into_iter().map(String::from));
    }
    columns.extend(params.id.iter().cloned());
    columns.extend(params.date.iter().cloned());

    let mut opportunities = params.opportunities(load)?;
    let mut timeline = params
        .time
        .window
        .filter(|_| params.outcome_spec().dated())
        .map(|w| Timeline::new(w, params.time.as_of));
    let mut counts = PatternCounts::new(rules.len());
    let mut near = crate::rules::spelling::NearMisses::new(&rules);
    let mut ids = params.id.as_deref().map(|id| IdHashes::new(id, path));
    let mut newest: Option<chrono::NaiveDate> = None;
    progress.begin("reading and grouping leads", None);
    let scanned = scan_batches(path, load, &columns, batch_rows, |batch| {
        let (y, dates) = observe(&batch, params, opportunities.as_mut(), timeline.as_mut())?;
        let (patterns, lead_pattern) = rule_patterns(&batch, &rules)?;
        near.add(&batch)?;
        counts.add(
            patterns.view(),
            &lead_pattern,
            &y,
            dates.as_ref().map(|d| d.created.as_slice()),
        );
        if let Some(ids) = &mut ids {
            ids.add(&batch)?;
        }
        if let Some(column) = &params.date {
            newest = newest.max(
                batch
                    .dates_as(column, params.time.date_format.as_deref(), "")?
                    .into_iter()
                    .flatten()
                    .max(),
            );
        }
        progress.advance(y.len() as u64);
        Ok(std::ops::ControlFlow::Continue(()))
    })?;
    progress.end();
    let mut warnings = Vec::new();
    if let Some(list) = &opportunities {
        warnings.extend(list.warnings(path));
    }
    let clock = timeline.map(|t| t.finish(path)).transpose()?;
    if let Some(clock) = &clock {
        warnings.extend(clock.warnings.iter().cloned());
    }
    // After the outcome's warnings, as training on the whole table orders them.
    warnings.extend(near.warnings(&rules));
    let groups = counts.groups(clock.as_ref(), params.time.immature)?;
    both_outcomes(path, &params.target, &groups)?;
    tracing::info!(
        leads = scanned.rows,
        patterns = groups.len(),
        rules = rules.len(),
        "leads grouped by rule pattern"
    );
    if let (Some(ids), Some(id)) = (ids, &params.id) {
        warnings.extend(
            ids.repeated(path, load)?
                .map(|r| repeated_ids_warning(id, r)),
        );
    }
    let (rules, groups, _) = crate::caps::apply(rules, groups, &mut warnings)?;
    let mut input = Input::of(path, &scanned.sha256);
    input.newest_lead = newest.map(|d| d.format("%Y-%m-%d").to_string());
    input.timing = Timing::of(params, clock);
    input.delimiter = scanned.delimiter;
    input.decimal_comma = load.decimal_comma;
    input.na_ignore_case = load.na_ignore_case;
    input.encoding = load.encoding;
    input.dates_as_of = load.dates_as_of;
    let (rules, groups, _) = add_interactions(rules, groups, params, &mut input, progress)?;
    let fitted = fit_groups(
        &groups, None, &rules, params, input, "file", warnings, progress,
    )?;
    Ok(Streamed {
        model: fitted.model,
        notes: scanned.notes,
    })
}

/// Pattern counts added up batch by batch (patterns in order of first appearance).
struct PatternCounts {
    rules: usize,
    /// Pattern (features' bit patterns) → index into `rows`.
    index: std::collections::HashMap<Box<[u64]>, usize, foldhash::fast::FixedState>,
    rows: Vec<(Vec<f64>, u64, u64)>,
    /// With a window: (pattern, creation day) → (leads, conversions). The age, and so the
    /// exposure, is only known once as-of is (the newest date of the whole file).
    cohorts: std::collections::HashMap<(usize, i64), (u64, u64), foldhash::fast::FixedState>,
}

impl PatternCounts {
    fn new(rules: usize) -> PatternCounts {
        PatternCounts {
            rules,
            index: Default::default(),
            rows: Vec::new(),
            cohorts: Default::default(),
        }
    }

    /// Adds a batch: its distinct patterns, each lead's pattern and outcome, and with a window
    /// each lead's creation day.
    fn add(
        &mut self,
        patterns: ArrayView2<f64>,
        lead_pattern: &[u32],
        y: &[bool],
        created: Option<&[i64]>,
    ) {
        let global: Vec<usize> = patterns
            .rows()
            .into_iter()
            .map(|row| {
                let key: Box<[u64]> = row.iter().map(|v| v.to_bits()).collect();
                *self.index.entry(key).or_insert_with(|| {
                    self.rows.push((row.to_vec(), 0, 0));
                    self.rows.len() - 1
                })
            })
            .collect();
        match created {
            None => {
                for (&p, &t) in lead_pattern.iter().zip(y) {
                    let row = &mut self.rows[global[p as usize]];
                    row.1 += 1;
                    row.2 += u64::from(t);
                }
            }
            Some(created) => {
                for ((&p, &t), &c) in lead_pattern.iter().zip(y).zip(created) {
                    let e = self.cohorts.entry((global[p as usize], c)).or_default();
                    e.0 += 1;
                    e.1 += u64::from(t);
                }
            }
        }
    }

    /// Adds `leads` leads of the pattern `row` created on day `created`, `conversions` of
    /// them converted (a row of a counts table by date).
    fn add_cohort(&mut self, row: &[f64], created: i64, leads: u64, conversions: u64) {
        let key: Box<[u64]> = row.iter().map(|v| v.to_bits()).collect();
        let g = *self.index.entry(key).or_insert_with(|| {
            self.rows.push((row.to_vec(), 0, 0));
            self.rows.len() - 1
        });
        let e = self.cohorts.entry((g, created)).or_default();
        e.0 += leads;
        e.1 += conversions;
    }

    /// The groups; with a window, each (pattern, creation day) at its exposure under `clock`,
    /// or left out when immature and `immature` is `drop`.
    fn groups(self, clock: Option<&Clock>, immature: Immature) -> Result<Groups> {
        let Some(clock) = clock else {
            let x =
                Array2::from_shape_fn((self.rows.len(), self.rules), |(g, j)| self.rows[g].0[j]);
            let leads: Vec<u64> = self.rows.iter().map(|r| r.1).collect();
            let conversions: Vec<u64> = self.rows.iter().map(|r| r.2).collect();
            return Groups::from_counts(x.view(), &leads, &conversions);
        };
        // ((pattern, creation day), (leads, conversions)) of the leads trained on.
        let kept: Vec<_> = self
            .cohorts
            .iter()
            .filter(|((_, c), _)| immature == Immature::Weight || clock.is_mature(*c))
            .collect();
        let x = Array2::from_shape_fn((kept.len(), self.rules), |(g, j)| {
            self.rows[kept[g].0 .0].0[j]
        });
        let leads: Vec<u64> = kept.iter().map(|k| k.1 .0).collect();
        let conversions: Vec<u64> = kept.iter().map(|k| k.1 .1).collect();
        let exposure: Vec<f64> = kept.iter().map(|k| clock.exposure(k.0 .1)).collect();
        Groups::from_counts_exposed(x.view(), &leads, &conversions, Some(&exposure))
    }
}

/// Trains a model on leads already grouped by rule pattern (a counts table, e.g. computed in
/// the warehouse by `mqlcal export --format sql-counts`). With the same leads, rules, options
/// and seed it gives the model [`train`] gives from the rows, except the record of its input.
pub fn train_groups(
    groups: &Groups,
    rules: &[Rule],
    params: &TrainParams,
    mut input: Input,
    progress: &dyn Progress,
) -> Result<Model> {
    params.check()?;
    let (n, c) = (groups.total_leads(), groups.total_conversions());
    if c == 0 || c == n {
        return Err(Error::Fit(format!(
            "{}: the counts hold {} in all {n} leads; the model needs leads that converted and \
             leads that did not",
            input.file,
            if c == 0 {
                "no conversions"
            } else {
                "only conversions"
            }
        )));
    }
    let mut warnings = Vec::new();
    let (rules, groups, _) = crate::caps::apply(rules.to_vec(), groups.clone(), &mut warnings)?;
    let (rules, groups, _) = add_interactions(rules, groups, params, &mut input, progress)?;
    Ok(fit_groups(
        &groups, None, &rules, params, input, "file", warnings, progress,
    )?
    .model)
}

/// A score that does not fit, as a training error naming the rule and its column.
fn overflow(rules: &[Rule], e: crate::points::Overflow) -> Error {
    let r = &rules[e.rule];
    Error::Fit(format!(
        "rule '{}' on column {}: {}",
        r.name,
        r.columns_text(),
        e.message
    ))
}

/// Trains on leads counted by rule pattern, creation day and opportunity day in the warehouse
/// (`mqlcal export --format sql-counts --outcome-date …`) with the window, as-of and young
/// leads of `params`: the counts go through the [`Timeline`] the rows go through, so with the
/// same leads and options the model is the one [`train_file`] gives, except the record of its
/// input (and rows named in warnings, which are rows of the counts).
pub fn train_dated_counts(
    counts: &DatedCounts,
    path: &std::path::Path,
    rules: &[Rule],
    params: &TrainParams,
    mut input: Input,
    progress: &dyn Progress,
) -> Result<Model> {
    params.check()?;
    let window = params
        .time
        .window
        .filter(|_| params.outcome_spec().dated())
        .ok_or(Error::Option {
            option: "--window",
            message: format!(
                "{} counts leads by creation and opportunity date: train it with the window and \
                 the columns the query read, e.g. --window 90d --date created_at --outcome-date \
                 opportunity_date",
                path.display()
            ),
        })?;
    let mut timeline = Timeline::new(window, params.time.as_of);
    let mut patterns = PatternCounts::new(rules.len());
    let mut row = vec![0.0; rules.len()];
    for (r, ((&c, &o), &n)) in counts
        .created
        .iter()
        .zip(&counts.opportunity)
        .zip(&counts.leads)
        .enumerate()
    {
        if n == 0 {
            continue;
        }
        let converted = timeline.add_leads(c, o, n, r + 1);
        for (j, v) in row.iter_mut().enumerate() {
            *v = counts.x[[r, j]];
        }
        patterns.add_cohort(&row, c, n, if converted { n } else { 0 });
    }
    let clock = timeline.finish(path)?;
    let mut warnings = clock.warnings.clone();
    let groups = patterns.groups(Some(&clock), params.time.immature)?;
    both_outcomes(path, &params.target, &groups)?;
    // Uncapped per-unit rules get their cap here as in every other path.
    let (rules, groups, _) = crate::caps::apply(rules.to_vec(), groups, &mut warnings)?;
    input.newest_lead = counts.created.iter().max().map(|&d| {
        crate::data::outcomes::date_of(d)
            .format("%Y-%m-%d")
            .to_string()
    });
    input.timing = Timing::of(params, Some(clock));
    let (rules, groups, _) = add_interactions(rules, groups, params, &mut input, progress)?;
    Ok(fit_groups(
        &groups, None, &rules, params, input, "file", warnings, progress,
    )?
    .model)
}

/// Pairs of rule indices an AND rule joins.
type Pairs = Vec<(usize, usize)>;

/// With `--propose-interactions`: `rules` and `groups` with the AND rules the search kept
/// appended (a column each: the product of its two rules' columns), the pairs of rule indices
/// they join, and the search's record in `input`. Unchanged without it.
pub(crate) fn add_interactions(
    rules: Vec<Rule>,
    groups: Groups,
    params: &TrainParams,
    input: &mut Input,
    progress: &dyn Progress,
) -> Result<(Vec<Rule>, Groups, Pairs)> {
    if params.interactions == 0 {
        return Ok((rules, groups, Vec::new()));
    }
    let found = interactions::search(
        &groups,
        &rules,
        params.interactions,
        params.folds,
        params.seed,
        &params.alphas,
        progress,
    )?;
    // The AND columns are functions of earlier ones, so the patterns keep their order: these
    // are the groups a rules file with the AND rules gives.
    let groups = Groups {
        x: interactions::with_products(groups.x.view(), &found.pairs),
        ..groups
    };
    let mut rules = rules;
    rules.extend(found.rules);
    input.interactions = Some(found.record);
    Ok((rules, groups, found.pairs))
}

pub(crate) struct Fitted {
    pub(crate) model: Model,
    pub(crate) weights: Weights,
    /// Out-of-fold score of each pattern in each fold, at `pattern * folds + fold`.
    pub(crate) oof: Vec<i64>,
}

/// The pipeline on grouped leads: folds → regularisation search → final fit → out-of-fold
/// scores → calibration → threshold → metrics → [`Model`]. Nothing here costs per lead.
// Every argument is a different input of the one fitting step; bundling them would only name
// a struct for this call.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_groups(
    groups: &Groups,
    folds: Option<&crate::group::FoldCounts>,
    rules: &[Rule],
    params: &TrainParams,
    input: Input,
    rules_source: &str,
    mut warnings: Vec<String>,
    progress: &dyn Progress,
) -> Result<Fitted> {
    warnings.extend(crate::leakage::scan_groups(rules, groups));
    let dropped = params.time.window.is_some() && params.time.immature == Immature::Drop;
    warnings.extend(never_firing(rules, groups).into_iter().map(|w| {
        if dropped {
            // The usual cause with young leads left out: a rule of something new.
            format!(
                "{w}. --immature drop left out every lead created less than a window before \
                 as-of, so a rule that fires only on young leads (a new campaign, a new form) \
                 cannot be learnt; --immature weight keeps them"
            )
        } else {
            w
        }
    }));

    let k = params.folds;
    let folds = match folds {
        Some(f) => f.clone(),
        None => groups.split_folds(k, params.seed),
    };
    let search = fit::search_alpha(groups, &folds, &params.alphas, progress)?;
    tracing::info!(alpha = search.alpha, "penalty chosen; final fit");
    warnings.extend(alpha_at_edge(search.alpha, &params.alphas));
    let start = fit::mean_weights(&search.fold_weights);
    let leads: Vec<f64> = groups.leads.iter().map(|&v| v as f64).collect();
    let conv: Vec<f64> = groups.conversions.iter().map(|&v| v as f64).collect();
    let weights = GroupedFit::new(search.alpha).fit_exposed(
        groups.x.view(),
        &leads,
        &conv,
        groups.exposure_if_any(),
        start.as_ref(),
    )?;
    let oof = out_of_fold_scores(
        groups.x.view(),
        &search.fold_weights,
        weights.intercept,
        params.scale,
    )
    .map_err(|e| overflow(rules, e))?;
    let rows = groups.total_leads() as usize;
    if !weights.converged(rows) {
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
    // Out-of-fold leads pooled by score: (score, leads, conversions), scores ascending. Only
    // leads whose outcome is final: an immature lead's "not yet" is not a "no", and the map
    // from score to probability, the threshold and the metrics speak of final outcomes.
    // Pooled by score within each fold too, for `--calibration auto`'s cross-validation.
    let mut by_fold: Vec<BTreeMap<i64, (u64, u64)>> = vec![BTreeMap::new(); k];
    for p in (0..groups.len()).filter(|&p| groups.exposure[p] >= 1.0) {
        for (f, fold) in by_fold.iter_mut().enumerate() {
            let n = folds.leads(p, f);
            if n > 0 {
                let e = fold.entry(oof[p * k + f]).or_default();
                e.0 += n;
                e.1 += folds.conversions(p, f);
            }
        }
    }
    let mut by_score: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for fold in &by_fold {
        for (&s, &(n, c)) in fold {
            let e = by_score.entry(s).or_default();
            e.0 += n;
            e.1 += c;
        }
    }
    let score_counts: Vec<(i64, u64, u64)> =
        by_score.into_iter().map(|(s, (n, c))| (s, n, c)).collect();
    let (low, high) = crate::model::score_range(
        rules
            .iter()
            .map(|r| &r.condition)
            .zip(points.iter().copied()),
    );
    let scale = crate::calibrate::ScoreScale {
        raw: crate::calibrate::beta::RawScale {
            offset: weights.intercept,
            scale: std::f64::consts::LN_2 / params.scale.points_to_double_odds,
        },
        low: low.and_then(|v| i64::try_from(v).ok()),
        high: high.and_then(|v| i64::try_from(v).ok()),
    };
    let (method, calibration_search) = if params.calibration == crate::calibrate::Method::Auto {
        let by_fold: Vec<Vec<(i64, u64, u64)>> = by_fold
            .into_iter()
            .map(|m| m.into_iter().map(|(s, (n, c))| (s, n, c)).collect())
            .collect();
        let (m, scores) = crate::calibrate::choose_method(&by_fold, &scale)?;
        tracing::info!(method = ?m, "calibration chosen by cross-validated log loss");
        (m, Some(scores))
    } else {
        (params.calibration, None)
    };
    let calibration = Calibration::fit_counts_scaled(method, &score_counts, &scale)?;
    let grades = if params.grades {
        Some(
            crate::grades::matrix(
                groups,
                rules,
                &folds,
                &search.fold_weights,
                &points,
                params.scale,
            )
            .map_err(|e| overflow(rules, e))?,
        )
    } else {
        None
    };
    let (threshold, funnel) = match (params.policy, &grades) {
        (Policy::Grade(cell), Some((_, fold_cells, lowest))) => {
            crate::grades::graded_threshold(cell, fold_cells, *lowest, params.policy)
        }
        _ => {
            let mut threshold = threshold::choose_counts(params.policy, &score_counts)?;
            threshold::keep_within_reach(&mut threshold, rules, &points)?;
            let funnel = Funnel::at_counts(threshold.points, &score_counts);
            (threshold, funnel)
        }
    };
    warnings.extend(funnel.health());
    let probability_counts: Vec<(f64, u64, u64)> = score_counts
        .iter()
        .map(|&(s, n, c)| (calibration.probability(s).0, c, n - c))
        .collect();
    let metrics = Metrics::compute_counts(&probability_counts);

    let conversions = groups.total_conversions() as usize;
    let profile = training_profile(groups, &points).map_err(|e| overflow(rules, e))?;
    let model = Model {
        schema_version: SCHEMA_VERSION,
        generator: format!("mqlcal {}", env!("CARGO_PKG_VERSION")),
        id_column: params.id.clone(),
        target: params.outcome_spec().describe(),
        scale: params.scale,
        rules: model_rules(rules, &weights, &points, groups),
        calibration,
        threshold: ModelThreshold {
            threshold,
            out_of_fold: funnel,
        },
        metrics,
        calibration_statistics: crate::metrics::CalibrationStats::compute_counts(
            &probability_counts,
        ),
        grades: grades.map(|g| g.0),
        training: Training {
            input: input.file,
            input_sha256: input.sha256,
            rows,
            conversions,
            conversion_rate: conversions as f64 / rows as f64,
            rules_source: rules_source.into(),
            seed: params.seed,
            folds: params.folds,
            alpha: search.alpha,
            alpha_search: search.table,
            intercept: weights.intercept,
            na: params.na.clone(),
            exclude: params.exclude.clone(),
            alphas: Some(params.alphas.clone()),
            calibration_search,
            date_column: params.date.clone(),
            newest_lead: input.newest_lead,
            outcome: input.timing.outcome,
            as_of: input
                .timing
                .clock
                .as_ref()
                .map(|c| crate::data::outcomes::date_of(c.as_of).to_string()),
            window_days: input.timing.clock.as_ref().map(|c| c.window.days),
            immature_leads: input.timing.clock.as_ref().map(|c| c.immature_leads),
            immature_method: input.timing.clock.as_ref().map(|_| input.timing.method),
            late_conversions: input.timing.clock.as_ref().map(|c| c.late),
            delay_days: input.timing.clock.as_ref().map(|c| c.delays.summary()),
            delimiter: input
                .delimiter
                .filter(|&d| d != Delimiter::COMMA)
                .map(Delimiter::as_char),
            decimal_comma: input.decimal_comma,
            na_ignore_case: input.na_ignore_case,
            encoding: input
                .encoding
                .filter(|e| !e.is_utf8())
                .map(|e| e.name().to_string()),
            interactions: input.interactions,
            events: None,
            date_rules_as_of: input.dates_as_of.map(|d| d.to_string()),
            date_rules_format: input.dates_as_of.and(params.time.date_format.clone()),
        },
        profile,
        warnings,
    };
    // What the loader refuses, training must not write.
    model.validate().map_err(|e| {
        Error::Fit(format!(
            "the trained model fails the model file's checks: {e}"
        ))
    })?;
    Ok(Fitted {
        model,
        weights,
        oof,
    })
}

/// Both outcomes present in a streamed file (as [`train_with`] checks them).
fn both_outcomes(path: &std::path::Path, target: &str, groups: &Groups) -> Result<()> {
    let (n, c) = (groups.total_leads(), groups.total_conversions());
    one_outcome_error(path, target, c as usize, n as usize).map_or(Ok(()), Err)
}

pub(crate) fn one_outcome_error(
    path: &std::path::Path,
    target: &str,
    conversions: usize,
    rows: usize,
) -> Option<Error> {
    (conversions == 0 || conversions == rows).then(|| {
        Error::data(
            path,
            format!(
                "target '{target}' has only {} in all {rows} rows; the model needs leads that \
                 converted and leads that did not",
                if conversions == 0 {
                    "non-conversions"
                } else {
                    "conversions"
                },
            ),
        )
    })
}

fn resolve_rules(
    table: &Table,
    outcome: &[Option<bool>],
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
            check_given_rules(rules, params)?;
            Ok((rules.clone(), None))
        }
        None => {
            let (rules, auto_notes) =
                auto::propose_with_outcome(table, &reserved, &params.auto, Some(outcome))?;
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
                events: None,
                rules: rules.iter().map(Rule::to_spec).collect(),
            };
            Ok((rules, Some(file)))
        }
    }
}

/// No given rule reads the target or the id.
pub(crate) fn check_given_rules(rules: &[Rule], params: &TrainParams) -> Result<()> {
    for (i, rule) in rules.iter().enumerate() {
        if let Some(j) = rules[..i].iter().position(|o| o.name == rule.name) {
            return Err(Error::Option {
                option: "--rules",
                message: format!(
                    "rules {} and {} are both named '{}'; give each rule its own name",
                    j + 1,
                    i + 1,
                    rule.name
                ),
            });
        }
        let outcome = rule
            .columns()
            .into_iter()
            .find(|&c| c == params.target || params.id.as_deref() == Some(c));
        if let Some(column) = outcome {
            return Err(Error::Option {
                option: "--rules",
                message: format!(
                    "rule '{}' uses column '{column}', which is the target or id column; a rule \
                     on the outcome is leakage",
                    rule.name
                ),
            });
        }
    }
    Ok(())
}

fn duplicate_ids(table: &Table, id: &str) -> Result<Option<String>> {
    Ok(table.repeated(id)?.map(|r| repeated_ids_warning(id, r)))
}

fn repeated_ids_warning(id: &str, (repeats, row, value): (usize, usize, String)) -> String {
    format!(
        "id column '{id}' has {repeats} repeated ids (first: '{value}' again at row {row}); each \
         lead should appear once, or its outcome counts twice"
    )
}

fn never_firing(rules: &[Rule], groups: &Groups) -> Vec<String> {
    rules
        .iter()
        .enumerate()
        .filter(|(j, _)| (0..groups.len()).all(|g| groups.x[[g, *j]] == 0.0))
        .map(|(_, r)| {
            format!(
                "rule '{}' never applies in this data ({}), so it gets 0 points; check its \
                 condition and values",
                r.name,
                r.describe()
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

/// Every pattern scored in points by each fold's model (a lead in fold `f` is scored by the
/// model that did not see fold `f`), on the final model's scale. A score leaves out the
/// intercept, and rules that cover every lead (all levels of a column, all bands) let a fit
/// move log-odds between its intercept and its points; so each fold's scores are shifted by
/// the difference of its intercept from the final model's, in points. Without the shift,
/// calibration fitted on these scores is off by that difference.
fn out_of_fold_scores(
    patterns: ArrayView2<f64>,
    fold_weights: &[Weights],
    final_intercept: f64,
    scale: PointsScale,
) -> std::result::Result<Vec<i64>, crate::points::Overflow> {
    let fold_points: Vec<(Vec<Points>, i64)> = fold_weights
        .iter()
        .map(|w| {
            let points = w.coef.iter().map(|&c| scale.points(c)).collect();
            (points, scale.points(w.intercept - final_intercept).0)
        })
        .collect();
    patterns
        .rows()
        .into_iter()
        .flat_map(|row| {
            fold_points.iter().map(move |(points, shift)| {
                // The shift is a few points (intercepts differ little): saturating is exact.
                crate::points::score(points, row.iter().copied()).map(|s| s.saturating_add(*shift))
            })
        })
        .collect()
}

fn model_rules(
    rules: &[Rule],
    weights: &Weights,
    points: &[Points],
    groups: &Groups,
) -> Vec<ModelRule> {
    let n = groups.total_leads() as f64;
    rules
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let (support, conv) = (0..groups.len())
                .filter(|&g| groups.x[[g, j]] > 0.0)
                .fold((0u64, 0u64), |(s, c), g| {
                    (s + groups.leads[g], c + groups.conversions[g])
                });
            ModelRule {
                name: r.name.clone(),
                column: r.column.clone(),
                condition: r.condition.clone(),
                group: r.group.clone(),
                event: r.event.clone(),
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
fn training_profile(
    groups: &Groups,
    points: &[Points],
) -> std::result::Result<Profile, crate::points::Overflow> {
    let scores: Vec<(f64, u64)> = groups
        .x
        .rows()
        .into_iter()
        .zip(&groups.leads)
        .map(|(row, &n)| Ok((crate::points::score(points, row.iter().copied())? as f64, n)))
        .collect::<std::result::Result<_, _>>()?;
    Ok(Profile {
        score: Histogram::quantiles_counts(&scores, 10),
        rules: groups
            .x
            .columns()
            .into_iter()
            .map(|c| {
                let values: Vec<(f64, u64)> = c
                    .iter()
                    .copied()
                    .zip(groups.leads.iter().copied())
                    .collect();
                Histogram::levels_counts(&values, 11)
            })
            .collect(),
    })
}

/// Every distinct rule pattern of `table` scored once, and each lead's pattern (input order).
/// Leads share few patterns, so scoring and writing reasons per pattern rather than per lead
/// is what lets scoring run at the speed of reading and writing the file.
pub fn score_patterns(
    model: &Model,
    table: &Table,
) -> Result<(Vec<crate::model::Scored>, Vec<u32>)> {
    let (patterns, lead_pattern) = crate::rules::features::rule_patterns(table, &model.rules())?;
    let scored = patterns
        .rows()
        .into_iter()
        .enumerate()
        .map(|(p, row)| {
            model.score_features(row.iter().copied()).map_err(|e| {
                // Named at the first lead of the pattern (patterns are numbered in order of
                // first appearance).
                let i = lead_pattern.iter().position(|&l| l as usize == p);
                score_error(model, table, i.unwrap_or(0), e)
            })
        })
        .collect::<Result<_>>()?;
    Ok((scored, lead_pattern))
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
        .enumerate()
        .map(|(i, row)| {
            model
                .score_features(row.iter().copied())
                .map_err(|e| score_error(model, table, i, e))
        })
        .collect::<Result<_>>()?;
    Ok((x, scored))
}

/// A lead whose score does not fit, named by its row and the rule's column.
fn score_error(model: &Model, table: &Table, i: usize, e: crate::points::Overflow) -> Error {
    let r = &model.rules[e.rule];
    Error::BadValue {
        path: table.path().to_path_buf(),
        row: table.row(i),
        column: r.column.clone(),
        message: format!("rule '{}': {}", r.name, e.message),
    }
}
