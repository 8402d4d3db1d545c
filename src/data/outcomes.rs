//! Outcomes from where sales keeps them: a 0/1 column, a stage column (`--converted-if`), an
//! opportunity-date column, or a list of opportunities joined on the lead id. Takes a
//! [`Table`] (or a batch of one) and an [`OutcomeSpec`]; gives each lead's outcome within the
//! window and, through a [`Timeline`] that sees every batch, the as-of date, the delay
//! distribution and each lead's exposure ([`crate::outcome`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::{LoadOptions, Table};
use crate::error::{Error, Result};
use crate::outcome::{lead_outcome, DelayDistribution, Immature, Window};

/// Where "converted" comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeSpec {
    /// A 0/1 (true/false, yes/no) column: the outcome as it is, no dates.
    Target(String),
    /// A stage column: converted when the stage is one of `values` (trimmed, any case).
    Stage { column: String, values: Vec<String> },
    /// An opportunity-date column of the leads (empty: no opportunity yet).
    Date { column: String },
    /// A file listing the leads that became opportunities, with their date in `column`,
    /// joined to the leads on the id column.
    Opportunities { file: PathBuf, column: String },
}

impl OutcomeSpec {
    /// Parses `--converted-if "Lifecycle Stage=opportunity,customer"`.
    pub fn stage(text: &str) -> std::result::Result<OutcomeSpec, String> {
        let (column, values) = text.rsplit_once('=').ok_or_else(|| {
            format!("'{text}': write COLUMN=value1,value2, e.g. \"Lifecycle Stage=opportunity,customer\"")
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if column.trim().is_empty() || values.is_empty() {
            return Err(format!(
                "'{text}': name the column and at least one stage, e.g. \"Lifecycle \
                 Stage=opportunity,customer\""
            ));
        }
        Ok(OutcomeSpec::Stage {
            column: column.trim().to_string(),
            values,
        })
    }

    /// The column the outcome is read from, in the leads.
    pub fn leads_column(&self) -> Option<&str> {
        match self {
            OutcomeSpec::Target(c) | OutcomeSpec::Date { column: c } => Some(c),
            OutcomeSpec::Stage { column, .. } => Some(column),
            OutcomeSpec::Opportunities { .. } => None,
        }
    }

    /// True for the outcomes that come with a date, and so with a window.
    pub fn dated(&self) -> bool {
        matches!(
            self,
            OutcomeSpec::Date { .. } | OutcomeSpec::Opportunities { .. }
        )
    }

    /// The name of the source, as the model file records it.
    pub fn source(&self) -> &'static str {
        match self {
            OutcomeSpec::Target(_) => "target",
            OutcomeSpec::Stage { .. } => "stage",
            OutcomeSpec::Date { .. } => "date",
            OutcomeSpec::Opportunities { .. } => "opportunities",
        }
    }

    /// What the model's `target` names: the column, or `COL=v1,v2` for a stage.
    pub fn describe(&self) -> String {
        match self {
            OutcomeSpec::Target(c) | OutcomeSpec::Date { column: c } => c.clone(),
            OutcomeSpec::Stage { column, values } => format!("{column}={}", values.join(",")),
            OutcomeSpec::Opportunities { column, .. } => column.clone(),
        }
    }
}

/// Dates, window and young leads: everything about time that decides a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeParams {
    /// The conversion window; `None` without dated outcomes.
    pub window: Option<Window>,
    /// The date the data was taken; default: the newest date in the lead and opportunity
    /// date columns.
    pub as_of: Option<NaiveDate>,
    pub immature: Immature,
    /// chrono `strftime` layout of the date part, when dates are not ISO.
    pub date_format: Option<String>,
}

/// Day number of a date (days since 1 January of year 1).
pub fn day(d: NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(d.num_days_from_ce())
}

/// The date of a day number.
pub fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day as i32).unwrap_or(NaiveDate::MIN)
}

/// The list of opportunities, by lead id: the earliest date of each id.
#[derive(Debug)]
pub struct Opportunities {
    path: PathBuf,
    /// id → (day, matched a lead).
    /// foldhash: a million lookups per million leads; ids are not adversarial.
    by_id: HashMap<String, (i64, bool), foldhash::fast::FixedState>,
    repeated: Vec<String>,
    repeated_count: usize,
    /// The ids in file order, to name unmatched ones deterministically.
    order: Vec<String>,
}

impl Opportunities {
    /// Reads `path` (CSV or Parquet): the lead id in column `id`, the opportunity date in
    /// `column`. A row without a date is an error naming it; ids listed twice keep their
    /// earliest date and are reported ([`Opportunities::warnings`]).
    pub fn load(
        path: &Path,
        id: &str,
        column: &str,
        format: Option<&str>,
        load: &LoadOptions,
    ) -> Result<Opportunities> {
        let table = Table::load_columns(
            path,
            // The list's own delimiter is detected; placeholders and encoding are the leads'.
            &LoadOptions {
                na: load.na.clone(),
                encoding: load.encoding,
                ..LoadOptions::default()
            },
            &[id.to_string(), column.to_string()],
        )?;
        let ids = table.texts_checked(
            id,
            "the opportunities file must have the leads' id column (--id, or `id` in the rules \
             file)",
        )?;
        let dates = table.dates_as(
            column,
            format,
            "name the opportunity date column of the opportunities file with --outcome-date",
        )?;
        let mut by_id: HashMap<String, (i64, bool), foldhash::fast::FixedState> =
            HashMap::default();
        let (mut repeated, mut repeated_count, mut order) = (Vec::new(), 0, Vec::new());
        for (i, (id_value, date)) in ids.into_iter().zip(dates).enumerate() {
            let Some(id_value) = id_value else {
                return Err(Error::BadValue {
                    path: path.to_path_buf(),
                    row: i + 1,
                    column: id.to_string(),
                    message: "an opportunity without a lead id; fill it in or drop the row".into(),
                });
            };
            let Some(date) = date else {
                return Err(Error::BadValue {
                    path: path.to_path_buf(),
                    row: i + 1,
                    column: column.to_string(),
                    message: format!(
                        "the opportunity of lead '{id_value}' has no date; every listed lead \
                         needs the date it became an opportunity"
                    ),
                });
            };
            match by_id.get_mut(&id_value) {
                Some(entry) => {
                    repeated_count += 1;
                    if repeated.len() < 3 && !repeated.contains(&id_value) {
                        repeated.push(id_value.clone());
                    }
                    entry.0 = entry.0.min(day(date));
                }
                None => {
                    by_id.insert(id_value.clone(), (day(date), false));
                    order.push(id_value);
                }
            }
        }
        Ok(Opportunities {
            path: path.to_path_buf(),
            by_id,
            repeated,
            repeated_count,
            order,
        })
    }

    /// The opportunity day of a lead, marking the entry as matched.
    pub(crate) fn lookup(&mut self, id: &str) -> Option<i64> {
        self.by_id.get_mut(id).map(|e| {
            e.1 = true;
            e.0
        })
    }

    /// The newest opportunity date of the list.
    pub fn newest(&self) -> Option<i64> {
        self.by_id.values().map(|e| e.0).max()
    }

    /// Ids listed twice, and ids that matched no lead in `leads`: counted and named (a few),
    /// never dropped or doubled silently.
    pub fn warnings(&self, leads: &Path) -> Vec<String> {
        let mut out = Vec::new();
        if self.repeated_count > 0 {
            out.push(format!(
                "{}: {} rows repeat an id listed before (e.g. {}); each lead counts once, at its \
                 earliest opportunity date",
                self.path.display(),
                self.repeated_count,
                quoted(&self.repeated)
            ));
        }
        let unmatched: Vec<&String> = self
            .order
            .iter()
            .filter(|id| !self.by_id[id.as_str()].1)
            .collect();
        if !unmatched.is_empty() {
            let names: Vec<String> = unmatched.iter().take(3).map(|s| s.to_string()).collect();
            out.push(format!(
                "{}: {} of {} listed ids match no lead in {} (e.g. {}); they are not counted. \
                 Check that both files use the same id column and that the leads file is \
                 complete",
                self.path.display(),
                unmatched.len(),
                self.order.len(),
                leads.display(),
                quoted(&names)
            ));
        }
        out
    }
}

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dates of the leads of one table or batch: creation and opportunity day.
#[derive(Debug, Clone, Default)]
pub struct LeadDates {
    pub created: Vec<i64>,
    pub opportunity: Vec<Option<i64>>,
}

impl Table {
    /// Each lead's creation and opportunity day for a dated outcome: `date` is the creation
    /// column; the opportunity comes from the spec's column or from `opportunities` joined on
    /// `id`. A lead without a creation date is an error naming its row.
    pub fn lead_dates(
        &self,
        spec: &OutcomeSpec,
        date: &str,
        format: Option<&str>,
        id: Option<&str>,
        opportunities: Option<&mut Opportunities>,
    ) -> Result<LeadDates> {
        let created = self.dates_as(
            date,
            format,
            "a conversion window needs the lead creation date column: pass --date",
        )?;
        let mut out = LeadDates::default();
        for (i, d) in created.iter().enumerate() {
            match d {
                Some(d) => out.created.push(day(*d)),
                None => {
                    return Err(self.bad_value(
                        i,
                        date,
                        "the lead has no creation date; a conversion window needs one for every \
                         lead (fill it in, or leave such leads out of the file)",
                    ))
                }
            }
        }
        out.opportunity = match (spec, opportunities) {
            (OutcomeSpec::Date { column }, _) => self
                .dates_as(
                    column,
                    format,
                    "name the opportunity date column with --outcome-date",
                )?
                .into_iter()
                .map(|d| d.map(day))
                .collect(),
            (OutcomeSpec::Opportunities { .. }, Some(list)) => {
                let id = id.ok_or(Error::Option {
                    option: "--id",
                    message: "joining --outcomes to the leads needs the lead id column: pass \
                              --id, or set `id` in the rules file"
                        .into(),
                })?;
                let mut days = Vec::with_capacity(self.n_rows());
                self.for_each_id(id, |v| days.push(v.and_then(|v| list.lookup(v))))?;
                days
            }
            _ => unreachable!("lead_dates is only called for dated outcomes"),
        };
        Ok(out)
    }

    /// Converted or not from a stage column: the trimmed stage is one of `values` in any case.
    pub fn stage_outcomes(&self, column: &str, values: &[String]) -> Result<Vec<bool>> {
        let texts = self.texts_checked(
            column,
            "name the stage column in --converted-if \"COLUMN=value1,value2\"",
        )?;
        Ok(texts
            .iter()
            .map(|v| {
                v.as_deref()
                    .is_some_and(|s| values.iter().any(|w| w.eq_ignore_ascii_case(s)))
            })
            .collect())
    }
}

/// Everything about time seen over all the batches of a file: the newest date, the leads per
/// creation day, the delays of converters; [`Timeline::finish`] turns it into the as-of date,
/// the delay distribution and the maturity of each creation day.
#[derive(Debug, Clone)]
pub struct Timeline {
    window: Window,
    as_of: Option<i64>,
    newest_lead: Option<i64>,
    newest_opportunity: Option<i64>,
    /// (creation day, delay) → conversions within the window.
    delays: BTreeMap<(i64, u32), u64>,
    /// Creation day → leads.
    leads_per_day: BTreeMap<i64, u64>,
    late: u64,
    after_as_of: u64,
    before_creation: u64,
    before_creation_rows: Vec<usize>,
}

/// What [`Timeline::finish`] knows: the as-of day and the delay distribution.
#[derive(Debug, Clone)]
pub struct Clock {
    pub as_of: i64,
    pub as_of_given: bool,
    pub window: Window,
    pub delays: DelayDistribution,
    /// Per age in days below the window, the exposure the fit gives.
    exposures: Vec<f64>,
    pub immature_leads: u64,
    pub late: u64,
    pub warnings: Vec<String>,
}

impl Clock {
    /// The exposure of a lead created on `created`: 1 when mature, F over its week of age
    /// when not ([`DelayDistribution::exposures`]).
    pub fn exposure(&self, created: i64) -> f64 {
        let age = self.as_of - created;
        if age >= i64::from(self.window.days) {
            1.0
        } else {
            self.exposures[age.max(0) as usize]
        }
    }

    pub fn is_mature(&self, created: i64) -> bool {
        self.as_of - created >= i64::from(self.window.days)
    }
}

impl Timeline {
    pub fn new(window: Window, as_of: Option<NaiveDate>) -> Timeline {
        Timeline {
            window,
            as_of: as_of.map(day),
            newest_lead: None,
            newest_opportunity: None,
            delays: BTreeMap::new(),
            leads_per_day: BTreeMap::new(),
            late: 0,
            after_as_of: 0,
            before_creation: 0,
            before_creation_rows: Vec::new(),
        }
    }

    /// Adds a batch whose first lead is row `first_row` + 1 of the file; gives each lead's
    /// outcome: an opportunity within the window after creation and, when as-of is given, by
    /// as-of (without one, as-of is the newest date seen, so every opportunity is by as-of).
    pub fn add(&mut self, dates: &LeadDates, first_row: usize) -> Vec<bool> {
        let mut y = Vec::with_capacity(dates.created.len());
        for (i, (&c, &o)) in dates.created.iter().zip(&dates.opportunity).enumerate() {
            y.push(self.add_leads(c, o, 1, first_row + i + 1));
        }
        y
    }

    /// Adds `n` leads created on day `c` with the opportunity day `o`, at `row` (1-based) of
    /// their file: one lead of the rows, or one row of a dated counts table. Gives whether they
    /// converted (see [`Timeline::add`]).
    #[inline]
    pub fn add_leads(&mut self, c: i64, o: Option<i64>, n: u64, row: usize) -> bool {
        let w = i64::from(self.window.days);
        self.newest_lead = self.newest_lead.max(Some(c));
        *self.leads_per_day.entry(c).or_default() += n;
        // Without --as-of, as-of is the newest date of the file: every opportunity is by it.
        let as_of = self.as_of.unwrap_or(i64::MAX);
        if let Some(o) = o {
            if o > as_of {
                self.after_as_of += n;
            } else {
                self.newest_opportunity = self.newest_opportunity.max(Some(o));
                if o < c {
                    self.before_creation += n;
                    if self.before_creation_rows.len() < 3 {
                        self.before_creation_rows.push(row);
                    }
                }
                if o - c > w {
                    self.late += n;
                }
            }
        }
        let outcome = lead_outcome(c, o, as_of, self.window);
        if let Some(d) = outcome.delay {
            *self.delays.entry((c, d)).or_default() += n;
        }
        outcome.converted
    }

    /// The as-of day, the delay distribution of mature converters and the warnings. Errors
    /// when `--as-of` is before the newest lead, or no lead is mature.
    pub fn finish(self, leads: &Path) -> Result<Clock> {
        let newest = self.newest_lead.max(self.newest_opportunity);
        let as_of = match (self.as_of, newest) {
            (Some(a), _) => {
                if let Some(n) = self.newest_lead.filter(|&n| n > a) {
                    return Err(Error::Option {
                        option: "--as-of",
                        message: format!(
                            "{} is before the newest lead in {} (created {}); pass the date the \
                             data was taken, on or after it",
                            date_of(a),
                            leads.display(),
                            date_of(n)
                        ),
                    });
                }
                a
            }
            (None, Some(n)) => n,
            (None, None) => return Err(Error::data(leads, "no leads to train on")),
        };
        let w = i64::from(self.window.days);
        let mut hist = vec![0u64; self.window.days as usize + 1];
        for (&(c, d), &n) in &self.delays {
            if as_of - c >= w {
                hist[d as usize] += n;
            }
        }
        let delays = DelayDistribution::from_counts(hist)?;
        let immature_leads = self
            .leads_per_day
            .range(as_of - w + 1..)
            .map(|(_, n)| n)
            .sum();
        let mut warnings = Vec::new();
        if self.before_creation > 0 {
            warnings.push(format!(
                "{} opportunities are dated before their lead was created (rows {} of {}…); \
                 each counts as a conversion on day 0. Check the date columns",
                self.before_creation,
                self.before_creation_rows
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                leads.display()
            ));
        }
        if self.after_as_of > 0 {
            warnings.push(format!(
                "{} opportunities are dated after --as-of {}; they were not known then and \
                 count as not converted",
                self.after_as_of,
                date_of(as_of)
            ));
        }
        Ok(Clock {
            as_of,
            as_of_given: self.as_of.is_some(),
            window: self.window,
            exposures: delays.exposures(self.window.days),
            delays,
            immature_leads,
            late: self.late,
            warnings,
        })
    }
}
