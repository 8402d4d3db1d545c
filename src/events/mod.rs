//! Activity logs: one row per event (lead id, event type, timestamp), as marketing automation
//! exports them. Takes an events file (CSV or Parquet) and the names of its three columns;
//! gives, per lead, the days of its events by type ([`Events`]), and the value of an event
//! feature for a lead at a reference date ([`Aggregate::value`]): how many events of some
//! types fell within a number of days before it, or their sum decayed by a half-life. Those
//! live in [`crate::rules::events`] (no polars), so the library scores a lead's own events
//! by the same code ([`lead_event_values`]); this module reads logs and builds snapshots.
//!
//! Time has a resolution of one day: an event's day is the UTC date of its timestamp (read as
//! date rules read dates, [`Table::utc_dates_as`]: an offset moves it to its UTC day, a
//! timestamp without one is UTC), and its age at a reference date R is R minus that day, in
//! whole days. Only events on or before R count; an event on R itself has age 0. So a
//! lead scored as of R and a training snapshot at R (see [`snapshots`]) see the same events.

pub mod counts;
pub mod snapshots;

use std::path::Path;

use chrono::NaiveDate;

use crate::data::{LoadOptions, Table};
use crate::error::{Error, Result};

pub use crate::rules::events::{
    day_of, event_columns, event_columns_of, event_day, first_event_rule, lead_event_values,
    Aggregate, Day, Event, EventColumn, EventColumns, Events, EventsTraining, HalfLifeScore,
    HalfLifeSearch, DECAY_RESOLUTION, HALF_LIFE_GRID, START_HALF_LIFE,
};
use crate::rules::Rule;

/// Events are read this many rows at a time.
const BATCH_ROWS: usize = 1 << 20;

impl Events {
    /// Reads an events file in two passes (memory holds one batch at a time, the events in 4
    /// bytes each and each lead's id once): the first counts each lead's events, the second
    /// puts each event in its lead's place. Ids and types are trimmed (an empty or placeholder
    /// id or type is an error naming the row: an event of nobody, or of nothing, cannot be
    /// scored); times are dates or timestamps, each on its UTC day ([`Table::utc_dates_as`],
    /// with `date_format` when not ISO; a Parquet timestamp column is read as such). At most
    /// [`Event::MAX_TYPES`] event types.
    pub fn load(
        path: &Path,
        columns: &EventColumns,
        options: &LoadOptions,
        date_format: Option<&str>,
    ) -> Result<Events> {
        let hint = "name the events file's columns in the rules file's [events] table \
                    (id, type, at)";
        let mut events = Events::default();
        // Pass 1: how many events each lead has (rows without an id are the second pass's
        // error).
        let mut counts: Vec<usize> = Vec::new();
        crate::data::scan_batches(
            path,
            options,
            std::slice::from_ref(&columns.id),
            BATCH_ROWS,
            |table| {
                table.for_each_text_checked(&columns.id, hint, |id| {
                    if let Some(id) = id {
                        let l = events.lead(id) as usize;
                        if l == counts.len() {
                            counts.push(0);
                        }
                        counts[l] += 1;
                    }
                })?;
                Ok(std::ops::ControlFlow::Continue(()))
            },
        )?;
        let mut start = Vec::with_capacity(counts.len() + 1);
        start.push(0usize);
        for n in counts {
            start.push(start[start.len() - 1] + n);
        }
        let mut next = start.clone();
        events.events = vec![Event::new(0, 0); start[start.len() - 1]];
        // Pass 2: every event, checked, in its lead's slice.
        let wanted = [columns.id.clone(), columns.kind.clone(), columns.at.clone()];
        crate::data::scan_batches(path, options, &wanted, BATCH_ROWS, |table| {
            let kinds = table.texts_checked(&columns.kind, hint)?;
            let days = table.utc_dates_as(&columns.at, date_format, hint)?;
            let mut i = 0;
            let mut failed = None;
            table.for_each_text_checked(&columns.id, hint, |id| {
                if failed.is_some() {
                    return;
                }
                let missing = |column: &str, what: &str| {
                    table.bad_value(
                        i,
                        column,
                        &format!(
                            "the event has no {what}; every event needs a lead id, a type and \
                             a time"
                        ),
                    )
                };
                let event = (|| {
                    let id = id.ok_or_else(|| missing(&columns.id, "lead id"))?;
                    let kind = kinds[i]
                        .as_deref()
                        .ok_or_else(|| missing(&columns.kind, "type"))?;
                    let day = days[i].ok_or_else(|| missing(&columns.at, "time"))?;
                    let k = events.kind_index(kind).ok_or_else(|| {
                        table.bad_value(
                            i,
                            &columns.kind,
                            &format!(
                                "more than {} event types; keep the types the rules count",
                                Event::MAX_TYPES
                            ),
                        )
                    })?;
                    let l = events.lead_index[id] as usize;
                    events.events[next[l]] = Event::new(day_of(day), k);
                    next[l] += 1;
                    Ok::<(), Error>(())
                })();
                if let Err(e) = event {
                    failed = Some(e);
                }
                i += 1;
            })?;
            match failed {
                Some(e) => Err(e),
                None => Ok(std::ops::ControlFlow::Continue(())),
            }
        })?;
        events.start = start;
        events.sort_each_lead();
        if events.is_empty() {
            return Err(Error::data(path, "the events file has no events"));
        }
        Ok(events)
    }
}

/// Point-in-time training: snapshots at `cadence`, with event features `columns`.
#[derive(Debug, Clone)]
pub struct PointInTime {
    pub cadence: snapshots::Cadence,
    pub columns: Vec<EventColumn>,
}

/// What both ways of point-in-time training read first: the id and creation date columns,
/// as-of (given, or the newest creation or opportunity date), each lead's creation and
/// opportunity date, and the snapshot dates ([`snapshots::Cadence::dates`]).
pub(crate) struct Prepared<'p> {
    pub id: &'p str,
    pub date: &'p str,
    pub as_of: NaiveDate,
    pub created: Vec<Option<NaiveDate>>,
    pub opportunity: Vec<Option<NaiveDate>>,
    pub at: Vec<NaiveDate>,
    /// The options to train the snapshots with: folds by lead id, as-of fixed.
    pub params: crate::train::TrainParams,
}

pub(crate) fn prepare<'p>(
    table: &Table,
    design: &PointInTime,
    params: &'p crate::train::TrainParams,
) -> Result<Prepared<'p>> {
    let option = |option: &'static str, message: &str| Error::Option {
        option,
        message: message.into(),
    };
    let id = params.id.as_deref().ok_or_else(|| {
        option(
            "--id",
            "events are joined to leads by their id: pass --id, or set `id` in the rules file",
        )
    })?;
    let date = params.date.as_deref().ok_or_else(|| {
        option(
            "--date",
            "snapshots need each lead's creation date: pass --date with a conversion window",
        )
    })?;
    let spec = params.outcome_spec();
    if !spec.dated() || params.time.window.is_none() {
        return Err(option(
            "--snapshots",
            "snapshots need dated outcomes and a window: pass --outcome-date (or --outcomes) \
             and --window",
        ));
    }
    let mut opportunities = params.opportunities(&LoadOptions {
        na: params.na.clone(),
        encoding: table.encoding(),
        ..LoadOptions::default()
    })?;
    let format = params.time.date_format.as_deref();
    let dates = table.lead_dates(&spec, date, format, Some(id), opportunities.as_mut())?;
    let newest = dates
        .created
        .iter()
        .copied()
        .chain(dates.opportunity.iter().flatten().copied())
        .max();
    let as_of = match (params.time.as_of, newest) {
        (Some(a), _) => a,
        (None, Some(n)) => crate::data::outcomes::date_of(n),
        (None, None) => return Err(Error::data(table.path(), "no leads to train on")),
    };
    let date_of = crate::data::outcomes::date_of;
    let created: Vec<Option<NaiveDate>> = dates.created.iter().map(|&d| Some(date_of(d))).collect();
    let opportunity: Vec<Option<NaiveDate>> =
        dates.opportunity.iter().map(|d| d.map(date_of)).collect();
    let first = created.iter().flatten().min().copied().unwrap_or(as_of);
    let at = design.cadence.dates(first, as_of);
    let any_open = (0..created.len()).any(|i| {
        snapshots::open_at(created[i], opportunity[i], &at)
            .next()
            .is_some()
    });
    if !any_open {
        return Err(option(
            "--snapshots",
            &format!(
                "no lead is open at any snapshot date between {first} and as-of {as_of}; \
                 take snapshots more often (weekly) or give dates within that range"
            ),
        ));
    }
    let mut row_params = params.clone();
    row_params.fold_by = Some(id.to_string());
    row_params.time.as_of = Some(as_of);
    Ok(Prepared {
        id,
        date,
        as_of,
        created,
        opportunity,
        at,
        params: row_params,
    })
}

/// A snapshot date as the rows' creation date column writes it (in `--date-format` when given).
pub(crate) fn shown(d: NaiveDate, format: Option<&str>) -> String {
    match format {
        Some(f) => d.format(f).to_string(),
        None => d.format("%Y-%m-%d").to_string(),
    }
}

/// The training rows of point-in-time training: one per lead and snapshot date T at which it
/// was open ([`snapshots::open_snapshots`]), its columns as in `table` but the creation date
/// column holding T (so the window counts from T and as-of judges T's maturity), plus the
/// event columns at T. Also the options to train them with: folds by lead id, and as-of fixed
/// to that of the leads (the newest creation or opportunity date unless given).
/// [`counts::train_counted`] trains on the same rows without making them.
pub fn snapshot_rows(
    table: &Table,
    events: &Events,
    design: &PointInTime,
    params: &crate::train::TrainParams,
) -> Result<(Table, crate::train::TrainParams)> {
    let prepared = prepare(table, design, params)?;
    let shots = snapshots::open_snapshots(&prepared.created, &prepared.opportunity, &prepared.at);
    let rows: Vec<usize> = shots.iter().map(|s| s.lead).collect();
    let lead_ids = table.texts(prepared.id)?;
    let ids: Vec<Option<&str>> = rows.iter().map(|&i| lead_ids[i].as_deref()).collect();
    let reference: Vec<Day> = shots.iter().map(|s| day_of(s.at)).collect();
    let format = params.time.date_format.as_deref();
    let mut out = table
        .take(&rows)?
        .with_column(polars::prelude::Column::new(
            prepared.date.into(),
            shots
                .iter()
                .map(|s| shown(s.at, format))
                .collect::<Vec<String>>(),
        ))?;
    for c in &design.columns {
        out = out.with_column(polars::prelude::Column::new(
            c.name.as_str().into(),
            c.values(events, &ids, &reference),
        ))?;
    }
    Ok((out, prepared.params))
}

/// Trains on the snapshot rows of `table` ([`snapshot_rows`]) with `params`.
pub fn train_point_in_time(
    table: &Table,
    events: &Events,
    design: &PointInTime,
    params: &crate::train::TrainParams,
) -> Result<crate::train::Trained> {
    let (rows, params) = snapshot_rows(table, events, design, params)?;
    crate::train::train(&rows, &params)
}

/// The cross-validated log loss of point-in-time training with column `j`'s half-life set to
/// each of `grid` (the other columns as they are), lowest first on ties by grid order: how
/// `decay = "learn"` chooses. The loss is the regularisation search's best (a mean over
/// the same snapshot rows for every half-life, so the figures compare).
pub fn half_life_scores(
    table: &Table,
    events: &Events,
    design: &PointInTime,
    j: usize,
    params: &crate::train::TrainParams,
    grid: &[f64],
) -> Result<Vec<HalfLifeScore>> {
    half_life_scores_by(design, j, grid, |d| {
        Ok(train_point_in_time(table, events, d, params)?.model)
    })
}

/// [`half_life_scores`] with each design trained by `train`.
fn half_life_scores_by(
    design: &PointInTime,
    j: usize,
    grid: &[f64],
    mut train: impl FnMut(&PointInTime) -> Result<crate::model::Model>,
) -> Result<Vec<HalfLifeScore>> {
    let mut scores = Vec::with_capacity(grid.len());
    for &h in grid {
        let mut d = design.clone();
        d.columns[j].aggregate = Aggregate::Decay { half_life_days: h };
        let model = train(&d)?;
        let cv_log_loss = model
            .training
            .alpha_search
            .iter()
            .map(|a| a.cv_log_loss)
            .fold(f64::INFINITY, f64::min);
        tracing::info!(half_life_days = h, cv_log_loss, "half-life tried");
        scores.push(HalfLifeScore {
            half_life_days: h,
            cv_log_loss,
        });
    }
    Ok(scores)
}

/// The half-life of the lowest loss (the first on a tie).
pub fn best_half_life(scores: &[HalfLifeScore]) -> Option<f64> {
    scores
        .iter()
        .fold(None::<&HalfLifeScore>, |best, s| match best {
            Some(b) if b.cv_log_loss <= s.cv_log_loss => Some(b),
            _ => Some(s),
        })
        .map(|s| s.half_life_days)
}

/// `table` with the columns of `rules`' event sources as of `as_of` for every lead (found by
/// its id in column `id`; a lead without events has 0), for scoring.
pub fn with_event_columns(
    table: &Table,
    events: &Events,
    rules: &[Rule],
    id: &str,
    as_of: NaiveDate,
) -> Result<Table> {
    let ids = table.texts(id)?;
    let ids: Vec<Option<&str>> = ids.iter().map(|s| s.as_deref()).collect();
    let at = vec![day_of(as_of); ids.len()];
    let mut out = table.clone();
    for c in event_columns(rules) {
        out = out.with_column(polars::prelude::Column::new(
            c.name.as_str().into(),
            c.values(events, &ids, &at),
        ))?;
    }
    Ok(out)
}

/// The design of `params.rules`' event sources with each `decay = "learn"` half-life chosen
/// from [`HALF_LIFE_GRID`] (by [`half_life_scores`], training each design with `train`), one
/// source after the other in rule order (the sources not yet learnt at [`START_HALF_LIFE`]);
/// the searches; and the options with the rules carrying the chosen half-lives.
fn learn_half_lives(
    cadence: &snapshots::Cadence,
    params: &crate::train::TrainParams,
    mut train: impl FnMut(&PointInTime) -> Result<crate::model::Model>,
) -> Result<(PointInTime, Vec<HalfLifeSearch>, crate::train::TrainParams)> {
    let rules = params.rules.clone().unwrap_or_default();
    let mut design = PointInTime {
        cadence: cadence.clone(),
        columns: event_columns(&rules),
    };
    let mut searches = Vec::new();
    for j in 0..design.columns.len() {
        let learn = rules
            .iter()
            .filter_map(|r| r.event.as_ref())
            .any(|s| s.learn && s.column_name() == design.columns[j].name);
        if !learn {
            continue;
        }
        let scores = half_life_scores_by(&design, j, &HALF_LIFE_GRID, &mut train)?;
        let chosen = best_half_life(&scores).expect("the grid is not empty");
        tracing::info!(
            column = design.columns[j].name.as_str(),
            half_life_days = chosen,
            "half-life chosen"
        );
        design.columns[j].aggregate = Aggregate::Decay {
            half_life_days: chosen,
        };
        searches.push(HalfLifeSearch {
            column: design.columns[j].name.clone(),
            half_life_days: chosen,
            scores,
        });
    }
    let mut params = params.clone();
    params.rules = Some(
        rules
            .into_iter()
            .map(|mut r| {
                if let Some(s) = r.event.as_mut() {
                    if let Some(search) = searches.iter().find(|x| x.column == r.column) {
                        s.half_life_days = Some(search.half_life_days);
                    }
                }
                r
            })
            .collect(),
    );
    Ok((design, searches, params))
}

/// The model's `training.events`: `input` (the events file's name and columns), the log's
/// size, the snapshots and the half-life searches.
fn events_training(
    table: &Table,
    events: &Events,
    input: (&str, &EventColumns),
    cadence: &snapshots::Cadence,
    params: &crate::train::TrainParams,
    snapshot_rows: usize,
    half_life_search: Vec<HalfLifeSearch>,
) -> Result<EventsTraining> {
    let id = params.id.as_deref().expect("the snapshots checked the id");
    let mut leads_with_events = 0;
    table.for_each_text(id, |i| {
        leads_with_events += usize::from(i.is_some_and(|i| !events.of(i).is_empty()));
    })?;
    Ok(EventsTraining {
        input: input.0.to_string(),
        columns: input.1.clone(),
        events: Some(events.len()),
        leads_with_events: Some(leads_with_events),
        snapshots: cadence.to_string(),
        snapshot_rows,
        counted_in_warehouse: false,
        half_life_search,
    })
}

/// Point-in-time training with the event rules of `params.rules`, from snapshot counts
/// ([`counts::train_counted`]; the rows of [`snapshot_rows`] when the rules need them, see
/// [`counts::counts_suffice`]). Each source with `decay = "learn"` gets its half-life from
/// [`HALF_LIFE_GRID`] by the cross-validated log loss of the whole training, one source after
/// the other in rule order (the sources not yet learnt at [`START_HALF_LIFE`]); the rules
/// carry the chosen half-lives into the model, and the model's `training.events` records
/// `input` (the events file's name), the columns read and the search. The model is the one
/// [`train_with_events_rows`] gives.
pub fn train_with_events(
    table: &Table,
    events: &Events,
    input: (&str, &EventColumns),
    cadence: snapshots::Cadence,
    params: &crate::train::TrainParams,
    progress: &dyn crate::progress::Progress,
) -> Result<counts::Counted> {
    if !counts::counts_suffice(params) {
        let (trained, rows) =
            train_with_events_rows(table, events, input, cadence, params, progress)?;
        return Ok(counts::Counted {
            model: trained.model,
            notes: trained.notes,
            snapshot_rows: rows.n_rows(),
        });
    }
    let silent = crate::progress::Silent;
    let (design, searches, params) = learn_half_lives(&cadence, params, |d| {
        Ok(counts::train_counted(table, events, d, params, &silent)?.model)
    })?;
    let mut counted = counts::train_counted(table, events, &design, &params, progress)?;
    counted.model.training.events = Some(events_training(
        table,
        events,
        input,
        &cadence,
        &params,
        counted.snapshot_rows,
        searches,
    )?);
    Ok(counted)
}

/// [`train_with_events`] on the snapshot rows of [`snapshot_rows`]: also gives the rows, which
/// the per-row vectors of [`crate::train::Trained`] are of (for the diagnostics report).
pub fn train_with_events_rows(
    table: &Table,
    events: &Events,
    input: (&str, &EventColumns),
    cadence: snapshots::Cadence,
    params: &crate::train::TrainParams,
    progress: &dyn crate::progress::Progress,
) -> Result<(crate::train::Trained, Table)> {
    let (design, searches, params) = learn_half_lives(&cadence, params, |d| {
        Ok(train_point_in_time(table, events, d, params)?.model)
    })?;
    let (rows, row_params) = snapshot_rows(table, events, &design, &params)?;
    let mut trained = crate::train::train_with(&rows, &row_params, progress)?;
    trained.model.training.events = Some(events_training(
        table,
        events,
        input,
        &cadence,
        &params,
        rows.n_rows(),
        searches,
    )?);
    Ok((trained, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn windows_count_events_up_to_the_reference_day_inclusive() {
        let ev = Events::from_rows([
            ("a", "pricing", d("2026-03-01")),
            ("a", "pricing", d("2026-03-08")),
            ("a", "webinar", d("2026-03-08")),
            ("a", "pricing", d("2026-03-09")),
            ("b", "pricing", d("2026-01-01")),
        ]);
        let pricing = ev.kinds(&["pricing".into(), "never".into()]);
        assert_eq!(pricing, vec![0]);
        let r = day_of(d("2026-03-08"));
        let within = |days| Aggregate::Within { days }.value(ev.of("a"), &pricing, r);
        // 03-08 (age 0) counts, 03-09 is after the reference, 03-01 is exactly 7 days old.
        assert_eq!(within(6), 1.0);
        assert_eq!(within(7), 2.0);
        assert_eq!(ev.of("nobody"), &[]);
        assert_eq!((ev.len(), ev.leads()), (5, 2));
    }

    #[test]
    fn decayed_sums_halve_per_half_life_and_are_rounded() {
        let ev = Events::from_rows([("a", "x", d("2026-03-01")), ("a", "x", d("2026-03-15"))]);
        let r = day_of(d("2026-03-15"));
        let decay = |h| Aggregate::Decay { half_life_days: h }.value(ev.of("a"), &[0], r);
        // 1 + 0.5^(14/14) = 1.5; 1 + 0.5^(14/10) = 1.379 → 1.4; 1 + 0.5^(14/3) = 1.039 → 1.0.
        assert!((decay(14.0) - 1.5).abs() < 1e-12);
        assert!((decay(10.0) - 1.4).abs() < 1e-12);
        assert!((decay(3.0) - 1.0).abs() < 1e-12);
    }
}
