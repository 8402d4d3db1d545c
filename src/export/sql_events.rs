//! Event rules in the SQL export: the warehouse's activity log (one row per event: lead id,
//! event type, time), aggregated per lead into one column per event source, named as the model
//! names it ([`crate::rules::events::EventSource::column_name`]), and LEFT JOINed to the leads on
//! the model's id column; a lead without events gets 0. The scoring layers of [`super::sql`]
//! then read those columns as numbers.
//!
//! The numbers are those of [`Aggregate::value`] at the reference date R
//! (`CURRENT_DATE`, or the `--as-of` literal, as date rules): an event's day is the date its
//! time starts with (`YYYY-MM-DD`, the first ten characters of the trimmed text; unlike
//! `mqlcal score --events`, the query does not move a time with an offset to its UTC day, so
//! event times should be in UTC), its age R − day in whole days ([`Dialect::age_days`]),
//! and events after R do not count. A window counts the events of age 0..=N; a decay sums
//! 0.5^(age / half-life) and rounds the sum to [`DECAY_RESOLUTION`] half away from zero, as
//! Rust's `f64::round` does, written with FLOOR (not ROUND, whose ties differ by engine:
//! PostgreSQL's rounds a double's half to even).

use crate::error::Result;
use crate::rules::events::{Aggregate, EventColumn, EventColumns, DECAY_RESOLUTION};

use super::sql::{indent, Dialect, TableName};

/// The activity log to join, and the model's event sources.
pub(super) struct EventsJoin<'a> {
    pub(super) table: &'a TableName,
    pub(super) columns: &'a EventColumns,
    pub(super) sources: &'a [EventColumn],
    pub(super) as_of: Option<chrono::NaiveDate>,
}

impl EventsJoin<'_> {
    /// Every name the events part writes, checked as the model's are.
    pub(super) fn check_texts(&self) -> Result<()> {
        let check = super::check_text;
        check("events table", &self.table.plain())?;
        check("events id column", &self.columns.id)?;
        check("events type column", &self.columns.kind)?;
        check("events time column", &self.columns.at)?;
        for s in self.sources {
            for t in &s.types {
                check("event type", t)?;
            }
        }
        Ok(())
    }

    /// The CTE (`{p}events AS (…)`, for after `WITH`): per lead id (trimmed), the number of
    /// each source as a double, under the source's column name, at the reference date.
    pub(super) fn cte(&self, d: Dialect, p: &str) -> String {
        self.aggregated(d, p, Reference::Day(self.as_of))
    }

    /// The CTE of [`EventsJoin::cte`] at snapshot dates (`mqlcal export --format sql-counts
    /// --events-table`): per (`{p}id`, `{p}snapshot`) of the relation `pairs` (a table or
    /// parenthesised query after FROM, one row per lead id and snapshot date), the numbers at
    /// that date, from the events of that id on or before it.
    pub(super) fn snapshot_cte(&self, d: Dialect, p: &str, pairs: &str) -> String {
        self.aggregated(d, p, Reference::Snapshots(pairs))
    }

    fn aggregated(&self, d: Dialect, p: &str, reference: Reference<'_>) -> String {
        let ws = d.white_space();
        let text = |column: &str| {
            d.trim(
                &format!("CAST({} AS {})", d.ident(column), d.text_type()),
                &ws,
            )
        };
        let cells = [
            format!("{} AS {p}id", text(&self.columns.id)),
            format!("{} AS {p}kind", text(&self.columns.kind)),
            format!("{} AS {p}at", text(&self.columns.at)),
        ];
        let cells = format!(
            "SELECT\n{}\nFROM {}",
            indent(&cells.join(",\n"), 2),
            self.table.quoted(d)
        );
        // Each event with its age at the reference date (each snapshot date of its lead).
        let (ages, from, keys) = match reference {
            Reference::Day(as_of) => (
                vec![
                    format!("{p}id"),
                    format!("{p}kind"),
                    format!("{} AS {p}age", d.age_days(&format!("{p}at"), as_of)),
                ],
                format!("(\n{}\n) AS {p}event_cells", indent(&cells, 2)),
                vec![format!("{p}id")],
            ),
            Reference::Snapshots(pairs) => (
                vec![
                    format!("{p}event_cells.{p}id AS {p}id"),
                    format!("{p}kind"),
                    format!("{p}pairs.{p}snapshot AS {p}snapshot"),
                    format!(
                        "{} AS {p}age",
                        d.age_days_to(&format!("{p}at"), &format!("{p}pairs.{p}snapshot"))
                    ),
                ],
                format!(
                    "(\n{}\n) AS {p}event_cells\nJOIN {pairs} AS {p}pairs\n  ON {p}pairs.{p}id = \
                     {p}event_cells.{p}id",
                    indent(&cells, 2)
                ),
                vec![format!("{p}id"), format!("{p}snapshot")],
            ),
        };
        let double = d.double_type();
        let mut sums = keys.clone();
        let mut values = keys.clone();
        for (j, s) in self.sources.iter().enumerate() {
            let types: Vec<String> = s.types.iter().map(|t| d.string(t)).collect();
            let kind = format!("{p}kind IN ({})", types.join(", "));
            let sum = format!("{p}s{j}");
            match s.aggregate {
                Aggregate::Within { days } => {
                    sums.push(format!(
                        "SUM(CASE WHEN {kind} AND {p}age <= {days} THEN 1 ELSE 0 END) AS {sum}"
                    ));
                    values.push(format!("CAST({sum} AS {double}) AS {}", d.ident(&s.name)));
                }
                Aggregate::Decay { half_life_days } => {
                    // Σ 0.5^(age / h), then divided by the resolution: the number to round.
                    sums.push(format!(
                        "SUM(CASE WHEN {kind} THEN POWER({}, CAST({p}age AS {double}) / {}) \
                         ELSE {} END) / {} AS {sum}",
                        d.double_raw(0.5),
                        d.double_raw(half_life_days),
                        d.double_raw(0.0),
                        d.double_raw(DECAY_RESOLUTION),
                    ));
                    values.push(format!(
                        "{} * {} AS {}",
                        round_half_up(d, &sum),
                        d.double_raw(DECAY_RESOLUTION),
                        d.ident(&s.name)
                    ));
                }
            }
        }
        let query = format!(
            "SELECT\n{}\nFROM (\n{}\n) AS {p}event_sums",
            indent(&values.join(",\n"), 2),
            indent(
                &format!(
                    "SELECT\n{}\nFROM (\n{}\n) AS {p}event_ages\n\
                     -- events after the reference date do not count\n\
                     WHERE {p}age >= 0\nGROUP BY {}",
                    indent(&sums.join(",\n"), 2),
                    indent(
                        &format!("SELECT\n{}\nFROM {from}", indent(&ages.join(",\n"), 2)),
                        2
                    ),
                    keys.join(", ")
                ),
                2
            )
        );
        format!("{p}events AS (\n{}\n)", indent(&query, 2))
    }

    /// Each source's number under its name, from the CTE's row aliased `events` (0 when the
    /// lead has no events by then): select items for the relation the scoring or counting
    /// layers read.
    pub(super) fn numbers(&self, d: Dialect, events: &str) -> Vec<String> {
        self.sources
            .iter()
            .map(|s| {
                let name = d.ident(&s.name);
                format!("COALESCE({events}.{name}, {}) AS {name}", d.double_raw(0.0))
            })
            .collect()
    }

    /// What the scoring layers read from instead of the leads table: the leads' `id` and
    /// `columns` (quoted), and each source's number (0 without events) under its name.
    pub(super) fn joined(
        &self,
        d: Dialect,
        p: &str,
        leads: &TableName,
        id: &str,
        columns: &[&str],
    ) -> String {
        let mut items = vec![format!("{p}leads.{}", d.ident(id))];
        for c in columns {
            if *c != id && !self.sources.iter().any(|s| s.name == *c) {
                items.push(format!("{p}leads.{}", d.ident(c)));
            }
        }
        items.extend(self.numbers(d, &format!("{p}events")));
        let lead_id = d.trim(
            &format!("CAST({p}leads.{} AS {})", d.ident(id), d.text_type()),
            &d.white_space(),
        );
        format!(
            "(\n{}\n) AS {p}leads_events",
            indent(
                &format!(
                    "SELECT\n{}\nFROM {} AS {p}leads\nLEFT JOIN {p}events ON {p}events.{p}id = {lead_id}",
                    indent(&items.join(",\n"), 2),
                    leads.quoted(d)
                ),
                2
            )
        )
    }
}

/// Where events' ages are counted to.
enum Reference<'a> {
    /// One day for every lead: the `--as-of` literal, or `CURRENT_DATE`.
    Day(Option<chrono::NaiveDate>),
    /// Each lead's snapshot dates: a relation of (`{p}id`, `{p}snapshot`) pairs.
    Snapshots(&'a str),
}

/// `x` (a double, at least 0) rounded to a whole number, halves away from zero, as Rust's
/// `f64::round`: the floor, plus one when the rest is half or more. `x - FLOOR(x)` is exact
/// for doubles, so a tie is a tie in every engine (FLOOR(x + 0.5) would round
/// 0.49999999999999994 up). SQLite's CAST truncates, the floor of a number at least 0.
fn round_half_up(d: Dialect, x: &str) -> String {
    let floor = match d {
        Dialect::Sqlite => format!("CAST({x} AS INTEGER)"),
        _ => format!("FLOOR({x})"),
    };
    format!(
        "({floor} + CASE WHEN {x} - {floor} >= {} THEN 1 ELSE 0 END)",
        d.double_raw(0.5)
    )
}
