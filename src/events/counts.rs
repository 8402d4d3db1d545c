//! Point-in-time training without the snapshot rows: the same model as training on
//! [`super::snapshot_rows`], from pattern counts built a block of leads at a time.
//!
//! Takes the leads, their events, the snapshot design and the options; gives the model. Each
//! block's snapshot rows (a lead at a snapshot date T at which it was open) are made as the row
//! path makes them, but with only the columns the rules read, turned into rule features by the
//! same code, and added to counts per (rule pattern, T, fold); then dropped. Outcomes go
//! through the row path's [`Timeline`] with each row created on T, so the window, as-of, the
//! delay distribution and the young snapshots' exposure (or their leaving out, `--immature
//! drop`) are the same; folds are dealt per lead id as [`crate::group::folds_by_key`] deals the
//! rows' ids (or by bucket of ids, `TrainParams::fold_by_bucket`). The counts become the row
//! path's [`Groups`] and [`FoldCounts`], and the fit is the row path's. Memory holds one
//! block's rows and the counts, not every snapshot.
//!
//! The same counts made in a warehouse (`mqlcal export --format sql-counts --events-table`,
//! [`crate::export::sql_snapshots`]) arrive as a table of (rule pattern, T, opportunity date,
//! lead bucket, leads): [`train_snapshot_counts`] sends them through the same timeline and fit,
//! with the folds dealt by bucket.
//!
//! The row path stays for what needs every row: the diagnostics report (per-row out-of-fold
//! scores) and date rules (their warnings count rows).

use chrono::NaiveDate;

use super::snapshots::Cadence;
use super::{prepare, shown, Day, EventColumns, Events, EventsTraining, PointInTime};
use crate::data::outcomes::Timeline;
use crate::data::{DatedCounts, LoadOptions, Table};
use crate::error::{Error, Result};
use crate::group::{FoldCounts, Groups, PatternIndex, NO_FOLD};
use crate::model::Model;
use crate::outcome::Immature;
use crate::progress::Progress;
use crate::rules::Rule;
use crate::train::{Input, TrainParams};

/// Leads per block: a block's snapshot rows (a dozen per lead with monthly snapshots over a
/// year) are made at once.
const BLOCK_LEADS: usize = 1 << 15;

/// Whether [`train_counted`] can train with `params`: given rules without date rules (date
/// rules' warnings count snapshot rows, which only the row path holds). Event rules are fine.
pub fn counts_suffice(params: &TrainParams) -> bool {
    params
        .rules
        .as_ref()
        .is_some_and(|rules| !rules.iter().any(|r| r.condition.has_date()))
}

/// A model trained by [`train_counted`].
#[derive(Debug, Clone)]
pub struct Counted {
    pub model: Model,
    /// The notes of the leads' load.
    pub notes: Vec<String>,
    /// Snapshot rows counted (one per lead and snapshot date at which it was open).
    pub snapshot_rows: usize,
}

/// Trains on the snapshots of `table`'s leads with their `events` as
/// [`super::train_point_in_time`] trains on the rows of [`super::snapshot_rows`], giving the
/// same model (see the module docs), without holding the rows. Needs given rules without date
/// rules ([`counts_suffice`]).
pub fn train_counted(
    table: &Table,
    events: &Events,
    design: &PointInTime,
    params: &TrainParams,
    progress: &dyn Progress,
) -> Result<Counted> {
    train_counted_in_blocks(table, events, design, params, BLOCK_LEADS, progress)
}

/// [`train_counted`], making the snapshot rows of `block_leads` leads at a time.
pub fn train_counted_in_blocks(
    table: &Table,
    events: &Events,
    design: &PointInTime,
    params: &TrainParams,
    block_leads: usize,
    progress: &dyn Progress,
) -> Result<Counted> {
    let prepared = prepare(table, design, params)?;
    let params = &prepared.params;
    params.check()?;
    let rules = params
        .rules
        .clone()
        .filter(|_| counts_suffice(params))
        .ok_or(Error::Option {
            option: "--rules",
            message: "training from snapshot counts needs given rules without date rules".into(),
        })?;
    crate::train::check_given_rules(&rules, params)?;
    let window = params.time.window.expect("prepare checked the window");
    let as_of = crate::data::outcomes::day(prepared.as_of);
    let format = params.time.date_format.as_deref();
    // The opportunities list joined again, on the leads with snapshots only, as the row path
    // joins it to the rows (its warnings name the ids that match none).
    let mut list = params.opportunities(&LoadOptions {
        na: params.na.clone(),
        encoding: table.encoding(),
        ..LoadOptions::default()
    })?;
    let ids = table.raw_texts(prepared.id)?;
    let ids: Vec<Option<&str>> = ids.iter().map(|v| table.cell(v)).collect();
    let n = ids.len();
    let snapshot_dates = |i: usize| {
        super::snapshots::open_at(prepared.created[i], prepared.opportunity[i], &prepared.at)
    };
    let kept = |t: NaiveDate| {
        params.time.immature == Immature::Weight
            || as_of - crate::data::outcomes::day(t) >= i64::from(window.days)
    };
    let k = params.folds;
    let (lead_fold, mut unkeyed) = if params.fold_by_bucket {
        // By bucket of ids, over every lead with a snapshot, as the warehouse ranks them.
        let keys: Vec<Option<&str>> = (0..n)
            .map(|i| ids[i].filter(|_| snapshot_dates(i).next().is_some()))
            .collect();
        (crate::group::folds_by_bucket(&keys, k, params.seed), 0)
    } else {
        // By lead id, over the leads with a row trained on.
        let keys: Vec<Option<&str>> = (0..n)
            .map(|i| ids[i].filter(|_| snapshot_dates(i).any(kept)))
            .collect();
        crate::group::folds_of_holders(&keys, k, params.seed)
    };

    // Only the columns the rules read (and the id, so that a block has rows to take).
    let event_names: Vec<&str> = design.columns.iter().map(|c| c.name.as_str()).collect();
    let mut wanted: Vec<String> = vec![prepared.id.to_string()];
    for r in &rules {
        for c in r.columns() {
            if !event_names.contains(&c) && !wanted.iter().any(|w| w == c) {
                wanted.push(c.to_string());
            }
        }
    }
    let reads_date = wanted.iter().any(|w| w == prepared.date);
    let mut narrow = table.select_columns(&wanted)?;
    // Rules that count days (event rules here) count them from as-of, as in the row path.
    let counts_days = rules.iter().any(Rule::needs_as_of);
    if counts_days {
        narrow.set_dates_as_of(prepared.as_of, format);
    }
    let kinds: Vec<Vec<u32>> = design
        .columns
        .iter()
        .map(|c| events.kinds(&c.types))
        .collect();

    let mut timeline = Timeline::new(window, Some(prepared.as_of));
    let mut near = crate::rules::spelling::NearMisses::new(&rules);
    let mut cells = Cells::new(rules.len(), k);
    let mut key = vec![0u64; rules.len() + 1];
    let mut rows_seen = 0usize;
    let mut newest: Option<NaiveDate> = None;
    progress.begin("counting snapshots", Some(n as u64));
    for first in (0..n).step_by(block_leads.max(1)) {
        let block = first..(first + block_leads.max(1)).min(n);
        let mut lead_of: Vec<usize> = Vec::new();
        let mut at: Vec<NaiveDate> = Vec::new();
        for i in block.clone() {
            for t in snapshot_dates(i) {
                lead_of.push(i);
                at.push(t);
            }
        }
        if lead_of.is_empty() {
            progress.advance(block.len() as u64);
            continue;
        }
        newest = newest.max(at.iter().copied().max());
        let mut rows = narrow.take(&lead_of)?;
        if reads_date {
            let written: Vec<String> = at.iter().map(|&t| shown(t, format)).collect();
            rows = rows.with_column(polars::prelude::Column::new(prepared.date.into(), written))?;
        }
        for (c, kinds) in design.columns.iter().zip(&kinds) {
            let values: Vec<f64> = lead_of
                .iter()
                .zip(&at)
                .map(|(&i, &t)| match ids[i] {
                    Some(id) => c.aggregate.value(events.of(id), kinds, day_of(t)),
                    None => 0.0,
                })
                .collect();
            rows =
                rows.with_column(polars::prelude::Column::new(c.name.as_str().into(), values))?;
        }
        near.add(&rows)?;
        let x = crate::rules::features::rule_features(&rows, &rules)?;
        let mut opportunity_of = |i: usize| -> Option<i64> {
            match list.as_mut() {
                Some(list) => ids[i].and_then(|id| list.lookup(id)),
                None => prepared.opportunity[i].map(crate::data::outcomes::day),
            }
        };
        let mut last_lead = usize::MAX;
        let mut opportunity = None;
        for (r, (&i, &t)) in lead_of.iter().zip(&at).enumerate() {
            if i != last_lead {
                (last_lead, opportunity) = (i, opportunity_of(i));
            }
            let created = crate::data::outcomes::day(t);
            let row = table.row(rows_seen + r);
            let converted = timeline.add_leads(created, opportunity, 1, row);
            if !kept(t) {
                continue;
            }
            let fold = match lead_fold[i] {
                NO_FOLD => {
                    unkeyed += 1;
                    (unkeyed - 1) % k
                }
                f => f as usize,
            };
            for (j, v) in key.iter_mut().take(rules.len()).enumerate() {
                *v = PatternIndex::key(x[[r, j]]);
            }
            key[rules.len()] = created as u64;
            cells.add(&key, fold, 1, u64::from(converted));
        }
        rows_seen += lead_of.len();
        progress.advance(block.len() as u64);
    }
    progress.end();

    let clock = timeline.finish(table.path())?;
    let mut warnings = Vec::new();
    if let Some(list) = &list {
        warnings.extend(list.warnings(table.path()));
    }
    warnings.extend(clock.warnings.iter().cloned());
    warnings.extend(near.warnings(&rules));

    let mut input = Input::of_table(table);
    input.dates_as_of = counts_days.then_some(prepared.as_of);
    input.newest_lead = newest.map(|d| d.format("%Y-%m-%d").to_string());
    let model = cells.fit(
        clock,
        rules,
        params,
        table.path(),
        input,
        warnings,
        progress,
    )?;
    Ok(Counted {
        model,
        notes: table.notes.clone(),
        snapshot_rows: rows_seen,
    })
}

/// What the model records of snapshots counted in a warehouse (its `training.events`): the
/// activity log's columns (the rules file's `[events]`), and the cadence when it is known
/// (`--snapshots`; else the snapshot dates the counts hold are recorded as a list).
#[derive(Debug, Clone, Copy)]
pub struct WarehouseSnapshots<'a> {
    pub columns: &'a EventColumns,
    pub cadence: Option<&'a Cadence>,
}

/// Trains on snapshots counted in the warehouse (`mqlcal export --format sql-counts
/// --events-table`): rows of (rule pattern, snapshot date T as `created_day`, opportunity day,
/// `lead_bucket`, leads). Each row goes through the row path's [`Timeline`] as leads created
/// on T, as [`train_counted`] sends each snapshot, and to the fold of its bucket
/// ([`crate::group::bucket_folds`]; the snapshots of leads without an id, `lead_bucket` empty,
/// are dealt one by one round-robin, in the table's order). With the same leads, events and
/// options and the folds dealt by bucket there too (`TrainParams::fold_by_bucket`), the model
/// is the one [`train_counted`] gives, but for the record of its input. Needs the window and
/// as-of (the date the query counted up to: the newest date in the counts may be earlier);
/// a half-life to learn is refused. `training.events` says the warehouse counted.
pub fn train_snapshot_counts(
    counts: &DatedCounts,
    path: &std::path::Path,
    rules: &[Rule],
    params: &TrainParams,
    record: WarehouseSnapshots<'_>,
    mut input: Input,
    progress: &dyn Progress,
) -> Result<Counted> {
    params.check()?;
    let window = params
        .time
        .window
        .filter(|_| params.outcome_spec().dated())
        .ok_or(Error::Option {
            option: "--window",
            message: format!(
                "{} counts snapshots of leads by date: train it with the window and the \
                 columns the query read, e.g. --window 90d --date created_at --outcome-date \
                 opportunity_date --as-of 2026-12-01",
                path.display()
            ),
        })?;
    let as_of = params.time.as_of.ok_or(Error::Option {
        option: "--as-of",
        message: format!(
            "{} counts snapshots up to the --as-of the query was exported with; pass the same \
             date (the newest date in the counts may be earlier, and as-of decides which \
             snapshots are young)",
            path.display()
        ),
    })?;
    crate::rules::events::no_learnt_half_life(rules, "training from counts").map_err(
        |message| Error::Option {
            option: "--rules",
            message,
        },
    )?;
    let buckets = counts.bucket.as_ref().ok_or_else(|| {
        Error::data(
            path,
            "the counts have no lead_bucket column: they are not snapshot counts (count them \
             with `mqlcal export --format sql-counts --events-table`)",
        )
    })?;
    let k = params.folds;
    let fold_of = crate::group::bucket_folds(k, params.seed);
    let mut timeline = Timeline::new(window, Some(as_of));
    let mut cells = Cells::new(rules.len(), k);
    let mut key = vec![0u64; rules.len() + 1];
    let (mut unkeyed, mut total) = (0u64, 0u64);
    for (r, &n) in counts.leads.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let created = counts.created[r];
        let converted = timeline.add_leads(created, counts.opportunity[r], n, r + 1);
        let conversions = |m: u64| if converted { m } else { 0 };
        total += n;
        for (j, v) in key.iter_mut().take(rules.len()).enumerate() {
            *v = PatternIndex::key(counts.x[[r, j]]);
        }
        key[rules.len()] = created as u64;
        match buckets[r] {
            Some(b) => cells.add(&key, fold_of[b as usize] as usize, n, conversions(n)),
            None => {
                // Each snapshot of a lead without an id is a key of its own, as training on the
                // leads deals it.
                for f in 0..k {
                    let m = crate::group::dealt(unkeyed, n, f, k);
                    if m > 0 {
                        cells.add(&key, f, m, conversions(m));
                    }
                }
                unkeyed += n;
            }
        }
    }
    let clock = timeline.finish(path)?;
    let warnings = clock.warnings.clone();
    input.dates_as_of = rules.iter().any(Rule::needs_as_of).then_some(as_of);
    input.newest_lead = counts.created.iter().max().map(|&d| {
        crate::data::outcomes::date_of(d)
            .format("%Y-%m-%d")
            .to_string()
    });
    let mut model = cells.fit(
        clock,
        rules.to_vec(),
        params,
        path,
        input,
        warnings,
        progress,
    )?;
    let snapshots = match record.cadence {
        Some(cadence) => cadence.to_string(),
        None => {
            let mut dates: Vec<NaiveDate> = counts
                .created
                .iter()
                .map(|&d| crate::data::outcomes::date_of(d))
                .collect();
            dates.sort_unstable();
            dates.dedup();
            Cadence::Dates(dates).to_string()
        }
    };
    model.training.events = Some(EventsTraining {
        input: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        columns: record.columns.clone(),
        events: None,
        leads_with_events: None,
        snapshots,
        snapshot_rows: total as usize,
        counted_in_warehouse: true,
        half_life_search: Vec::new(),
    });
    Ok(Counted {
        model,
        notes: Vec::new(),
        snapshot_rows: total as usize,
    })
}

/// Snapshot rows counted per cell, a (rule pattern, snapshot date), and fold: leads and
/// conversions at `cell * k + fold`. What both ways of counting snapshots, here
/// ([`train_counted`]) and in the warehouse ([`train_snapshot_counts`]), fit.
struct Cells {
    k: usize,
    rules: usize,
    /// Keys: the rule features' keys ([`PatternIndex::key`]), then the snapshot date as a day.
    index: PatternIndex,
    leads: Vec<u64>,
    conversions: Vec<u64>,
}

impl Cells {
    fn new(rules: usize, k: usize) -> Cells {
        Cells {
            k,
            rules,
            index: PatternIndex::new(rules + 1),
            leads: Vec::new(),
            conversions: Vec::new(),
        }
    }

    /// Adds `leads` snapshot rows of the cell `key`, `conversions` of them converted, to fold
    /// `fold`.
    fn add(&mut self, key: &[u64], fold: usize, leads: u64, conversions: u64) {
        let k = self.k;
        let cell = self.index.id(key) as usize;
        if self.leads.len() <= cell * k {
            self.leads.resize((cell + 1) * k, 0);
            self.conversions.resize((cell + 1) * k, 0);
        }
        self.leads[cell * k + fold] += leads;
        self.conversions[cell * k + fold] += conversions;
    }

    /// The row path's fit of the cells: each at the exposure of its snapshot date under
    /// `clock` (with `--immature drop`, the young ones left out), cells of one pattern and one
    /// exposure one group, their folds as counted; caps, interactions, then
    /// [`crate::train::fit_groups`]. `input` is completed with the timing; `path` is named in
    /// errors.
    // Each argument is a different input of the one fitting step, as for `fit_groups`.
    #[allow(clippy::too_many_arguments)]
    fn fit(
        self,
        clock: crate::data::outcomes::Clock,
        rules: Vec<Rule>,
        params: &TrainParams,
        path: &std::path::Path,
        mut input: Input,
        mut warnings: Vec<String>,
        progress: &dyn Progress,
    ) -> Result<Model> {
        let k = self.k;
        let (leads, conversions) = (&self.leads, &self.conversions);
        let weighted = params.time.immature == Immature::Weight;
        let mut key = vec![0u64; self.rules + 1];
        let mut groups_index = PatternIndex::new(self.rules + 1);
        let (mut group_leads, mut group_conversions): (Vec<u64>, Vec<u64>) =
            (Vec::new(), Vec::new());
        for (cell, cell_key) in self.index.keys().iter().enumerate() {
            let created = cell_key[self.rules] as i64;
            if !weighted && !clock.is_mature(created) {
                continue;
            }
            let exposure = if weighted {
                clock.exposure(created)
            } else {
                1.0
            };
            key[..self.rules].copy_from_slice(&cell_key[..self.rules]);
            key[self.rules] = PatternIndex::key(exposure);
            let g = groups_index.id(&key) as usize;
            if group_leads.len() <= g * k {
                group_leads.resize((g + 1) * k, 0);
                group_conversions.resize((g + 1) * k, 0);
            }
            for f in 0..k {
                group_leads[g * k + f] += leads[cell * k + f];
                group_conversions[g * k + f] += conversions[cell * k + f];
            }
        }
        let keyed = groups_index.patterns();
        let p = self.rules;
        let sum = |v: &[u64], g: usize| v[g * k..(g + 1) * k].iter().sum::<u64>();
        let (groups, new_id) = Groups::sorted(
            keyed.slice(ndarray::s![.., ..p]).to_owned(),
            (0..keyed.nrows()).map(|g| sum(&group_leads, g)).collect(),
            (0..keyed.nrows())
                .map(|g| sum(&group_conversions, g))
                .collect(),
            keyed.column(p).to_vec(),
        );
        let (total, converted) = (groups.total_leads(), groups.total_conversions());
        if let Some(e) = crate::train::one_outcome_error(
            path,
            &params.target,
            converted as usize,
            total as usize,
        ) {
            return Err(e);
        }
        let (rules, groups, merged) = crate::caps::apply(rules, groups, &mut warnings)?;
        let to = |g: usize| match &merged {
            Some(m) => m[new_id[g] as usize] as usize,
            None => new_id[g] as usize,
        };
        let mut folds = FoldCounts {
            k,
            leads: vec![0; groups.len() * k],
            conversions: vec![0; groups.len() * k],
        };
        for g in 0..keyed.nrows() {
            for f in 0..k {
                folds.leads[to(g) * k + f] += group_leads[g * k + f];
                folds.conversions[to(g) * k + f] += group_conversions[g * k + f];
            }
        }
        tracing::info!(
            snapshots = total,
            patterns = groups.len(),
            rules = rules.len(),
            "snapshots counted by rule pattern"
        );
        input.timing = crate::train::Timing::of(params, Some(clock));
        let (rules, groups, _) =
            crate::train::add_interactions(rules, groups, params, &mut input, progress)?;
        let fitted = crate::train::fit_groups(
            &groups,
            Some(&folds),
            &rules,
            params,
            input,
            "file",
            warnings,
            progress,
        )?;
        Ok(fitted.model)
    }
}

fn day_of(d: NaiveDate) -> Day {
    super::day_of(d)
}
