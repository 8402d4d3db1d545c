//! Snapshot counts in the warehouse (`mqlcal export --format sql-counts --events-table`): the
//! counts `mqlcal train --events` makes in memory, point in time, written as one query, so
//! that `mqlcal train --counts` trains on a log of any size. Takes the rules, the leads' dates
//! (read as the dated counts of [`super::sql_counts`] read them), the activity log's table and
//! columns and the snapshot dates (a literal list, made by the caller from the cadence); gives
//! the statement. Its rows are (rule pattern, snapshot date T as `created_day`, opportunity
//! date, `lead_bucket`) with their `leads`:
//!
//! - every (lead, T) with T a listed date after the oldest lead's creation date at which the
//!   lead was open: created on or before T, no opportunity on or before T (as
//!   [`crate::events::snapshots::Cadence::dates`] and `open_at` take them);
//! - its event features from its events on or before T, by the CTE of [`super::sql_events`]
//!   with each (id, T) as the reference (so an event's day is the date its time starts with,
//!   as there), and its other rule columns from the leads table, turned into rule features by
//!   the layers the scoring SQL uses;
//! - T as the creation date, so that training sends each snapshot through the window and the
//!   young-lead handling as a lead created on T, as in memory;
//! - `lead_bucket`: the lead's id ranked in byte order among the ids of the leads with a
//!   snapshot, 0-based, modulo [`LEAD_BUCKETS`]. Folds must keep a lead's snapshots together,
//!   and the seeded shuffle of ids training deals them by cannot be written in SQL; training
//!   deals whole buckets instead ([`crate::group::bucket_folds`]). Leads without an id have
//!   none (and no events).
//!
//! Leads without a creation date get a row of their own with an empty `created_day`, which
//! training refuses as it refuses such leads.

use chrono::NaiveDate;

use super::sql::{comment, feature_layers, indent, nest, Dialect, FeatureLayers, Reading};
use super::sql::{count_rule_column, TableName};
use super::sql_counts::{
    date_cell, rule_items, DatedCounts, SqlCounts, DATED_COLUMNS, LEAD_BUCKET,
};
use super::sql_events::EventsJoin;
use crate::error::{Error, Result};
use crate::group::LEAD_BUCKETS;
use crate::rules::events::{EventColumn, EventColumns};
use crate::rules::Condition;

/// The activity log and snapshots of snapshot counts (see the module docs).
#[derive(Debug, Clone)]
pub struct SnapshotEvents {
    /// The activity log: one row per event.
    pub table: TableName,
    /// Its id, type and time columns.
    pub columns: EventColumns,
    /// The event rules' sources ([`crate::rules::events::event_columns`]): fixed half-lives.
    pub sources: Vec<EventColumn>,
    /// The leads' id column, which the log's ids match.
    pub id: String,
    /// The snapshot dates, ascending, none after `as_of`.
    pub dates: Vec<NaiveDate>,
    /// The date the snapshots run up to (for the header: training takes it as `--as-of`).
    pub as_of: NaiveDate,
    /// How the dates were chosen (`monthly`, `weekly` or a list), for the header.
    pub cadence: String,
}

impl SqlCounts {
    /// The query for snapshot counts (see the module docs).
    pub(super) fn snapshot_query(
        &self,
        dated: &DatedCounts,
        events: &SnapshotEvents,
    ) -> Result<String> {
        let d = self.dialect;
        if self.rules.is_empty() {
            return Err(Error::Export("no rules to count patterns of".into()));
        }
        let (Some(first), Some(last)) = (events.dates.first(), events.dates.last()) else {
            return Err(Error::Export(format!(
                "no snapshot date on or before as-of {}; take snapshots within the leads' \
                 dates",
                events.as_of
            )));
        };
        let join = EventsJoin {
            table: &events.table,
            columns: &events.columns,
            sources: &events.sources,
            as_of: None,
        };
        join.check_texts()?;
        let check = super::check_text;
        check("date column", &dated.created)?;
        check("opportunity date column", &dated.opportunity)?;
        check("id column", &events.id)?;
        let sources: Vec<&str> = events.sources.iter().map(|s| s.name.as_str()).collect();
        // The columns of the leads the rules read (event sources come from the log).
        let mut columns: Vec<&str> = Vec::new();
        for (name, column, condition) in &self.rules {
            super::check_rule_texts(name, condition.atoms(column), check)?;
            for c in condition.columns(column) {
                if !sources.contains(&c) && !columns.contains(&c) {
                    columns.push(c);
                }
            }
        }
        let mut names = vec![
            dated.created.as_str(),
            dated.opportunity.as_str(),
            events.id.as_str(),
            events.columns.id.as_str(),
            events.columns.kind.as_str(),
            events.columns.at.as_str(),
        ];
        names.extend(&columns);
        names.extend(&sources);
        if let Some((_, id)) = &dated.join {
            names.push(id);
        }
        // A prefix no column starts with, for the query's own names.
        let mut p = String::from("mqlcal_");
        while names.iter().any(|n| n.to_ascii_lowercase().starts_with(&p)) {
            p.insert(0, 'x');
        }
        let p = p.as_str();
        let na = super::Placeholders::new(&self.na, self.na_ignore_case);
        let (id, created, opportunity) = (
            format!("{p}id"),
            format!("{p}created"),
            format!("{p}opportunity"),
        );
        let (snapshot, bucket) = (format!("{p}snapshot"), format!("{p}bucket"));
        let quoted: Vec<String> = columns.iter().map(|c| d.ident(c)).collect();

        let mut ctes = Vec::new();
        let listed: Vec<String> = events
            .dates
            .iter()
            .enumerate()
            .map(|(k, &t)| match k {
                0 => format!("SELECT {} AS {snapshot}", d.date_literal(t)),
                _ => format!("SELECT {}", d.date_literal(t)),
            })
            .collect();
        ctes.push((
            format!("{p}snapshot_dates"),
            "the snapshot dates".to_string(),
            listed.join("\nUNION ALL\n"),
        ));
        // The leads: id as training compares it (trimmed; empty or a placeholder is none),
        // dates as training reads them, and the columns the rules read.
        let (from, opportunity_item) = self.dated_source(p, dated, &opportunity);
        let id_text = d.trim(
            &format!("CAST({} AS {})", d.ident(&events.id), d.text_type()),
            &d.white_space(),
        );
        let mut items = vec![
            format!(
                "CASE WHEN {id_text} IS NULL OR {} THEN NULL ELSE {id_text} END AS {id}",
                d.is_placeholder(&id_text, &na)
            ),
            format!(
                "{} AS {created}",
                date_cell(d, &d.ident(&dated.created), &na)
            ),
            opportunity_item,
        ];
        items.extend(quoted.iter().cloned());
        ctes.push((
            format!("{p}leads"),
            "the leads, their dates as training reads them".into(),
            format!("SELECT\n{}\nFROM {from}", indent(&items.join(",\n"), 2)),
        ));
        let leads = format!("{p}leads");
        let mut items = vec![
            format!("{leads}.{id}"),
            format!("{leads}.{opportunity}"),
            format!("{p}dates.{snapshot}"),
        ];
        items.extend(quoted.iter().map(|c| format!("{leads}.{c}")));
        ctes.push((
            format!("{p}open"),
            "each lead at each snapshot date at which it was open: created on or before it, no \
             opportunity on or before it; only dates after the oldest lead's creation"
                .into(),
            format!(
                "SELECT\n{}\nFROM {leads}\nJOIN (\n  SELECT {snapshot}\n  FROM {p}snapshot_dates\n  \
                 WHERE {snapshot} > (SELECT MIN({created}) FROM {leads})\n) AS {p}dates\n  \
                 ON {leads}.{created} <= {p}dates.{snapshot}\n  AND ({leads}.{opportunity} IS \
                 NULL OR {leads}.{opportunity} > {p}dates.{snapshot})",
                indent(&items.join(",\n"), 2)
            ),
        ));
        // Byte order whatever the database's collation: PostgreSQL's is often a language's.
        let collate = match d {
            Dialect::Postgres => " COLLATE \"C\"",
            _ => "",
        };
        ctes.push((
            format!("{p}buckets"),
            format!(
                "each lead id's bucket: its rank in byte order, modulo {LEAD_BUCKETS} (training \
                 deals whole buckets to folds)"
            ),
            format!(
                "SELECT\n  {id},\n  {} AS {bucket}\nFROM (\n  SELECT DISTINCT {id}\n  FROM \
                 {p}open\n  WHERE {id} IS NOT NULL\n) AS {p}ids",
                d.modulo(
                    &format!("ROW_NUMBER() OVER (ORDER BY {id}{collate}) - 1"),
                    LEAD_BUCKETS
                )
            ),
        ));
        let pairs = format!(
            "(\n  SELECT DISTINCT {id}, {snapshot}\n  FROM {p}open\n  WHERE {id} IS NOT NULL\n)"
        );
        let mut with: Vec<String> = ctes
            .iter()
            .map(|(name, what, query)| {
                format!("-- {}\n{name} AS (\n{}\n)", comment(what), indent(query, 2))
            })
            .collect();
        with.push(format!(
            "-- the event sources per lead id and snapshot date, from its events on or before \
             it\n{}",
            join.snapshot_cte(d, p, &pairs)
        ));

        // Each snapshot with its event numbers (0 without events by then).
        let open = format!("{p}open");
        let mut items = vec![
            format!("{open}.{snapshot}"),
            format!("{open}.{opportunity}"),
            format!("{p}buckets.{bucket}"),
        ];
        items.extend(quoted.iter().map(|c| format!("{open}.{c}")));
        items.extend(join.numbers(d, &format!("{p}events")));
        let source = format!(
            "(\n{}\n) AS {p}snapshot_rows",
            indent(
                &format!(
                    "SELECT\n{}\nFROM {open}\nLEFT JOIN {p}buckets ON {p}buckets.{id} = \
                     {open}.{id}\nLEFT JOIN {p}events ON {p}events.{id} = {open}.{id}\n  AND \
                     {p}events.{snapshot} = {open}.{snapshot}",
                    indent(&items.join(",\n"), 2)
                ),
                2
            )
        );
        let carry = vec![snapshot.clone(), opportunity.clone(), bucket.clone()];
        let rules: Vec<(&str, &Condition)> = self
            .rules
            .iter()
            .map(|(_, c, cond)| (c.as_str(), cond))
            .collect();
        let numbers: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let FeatureLayers {
            mut layers,
            features,
        } = feature_layers(
            d,
            p,
            &rules,
            &na,
            &carry,
            &carry,
            Reading {
                as_of: None,
                numbers: &numbers,
            },
        )?;
        let rule_names: Vec<String> = (0..self.rules.len())
            .map(|j| d.ident(&count_rule_column(j)))
            .collect();
        let (created_day, opportunity_day, lead_bucket) = (
            d.ident(DATED_COLUMNS[0]),
            d.ident(DATED_COLUMNS[1]),
            d.ident(LEAD_BUCKET),
        );
        let mut items = vec![
            format!("{snapshot} AS {created_day},"),
            format!("{opportunity} AS {opportunity_day},"),
            format!("{bucket} AS {lead_bucket},"),
        ];
        items.extend(rule_items(&features, &rule_names, &self.rules));
        layers.push((items.join("\n"), format!("{p}features")));
        let inner = nest(&layers, &source);
        let mut group = rule_names.clone();
        group.extend([
            created_day.clone(),
            opportunity_day.clone(),
            lead_bucket.clone(),
        ]);
        let group = group.join(", ");
        let counted = d.ident(DATED_COLUMNS[2]);
        // Leads without a creation date (in SQLite also with one that is not a date).
        let undated = match d {
            Dialect::Sqlite => format!("{created} IS NULL OR date({created}) IS NOT {created}"),
            _ => format!("{created} IS NULL"),
        };
        let zeros: Vec<String> = rule_names.iter().map(|n| format!("0 AS {n}")).collect();
        let query = format!(
            "WITH\n{}\nSELECT\n{},\n  {created_day},\n  {opportunity_day},\n  {lead_bucket},\n  \
             COUNT(*) AS {counted}\nFROM (\n{}\n) AS {}\nGROUP BY {group}\n\
             -- leads without a creation date, which training refuses\nUNION ALL\nSELECT\n{},\n  \
             {created} AS {created_day},\n  NULL AS {opportunity_day},\n  NULL AS \
             {lead_bucket},\n  COUNT(*) AS {counted}\nFROM {leads}\nWHERE {undated}\nGROUP BY \
             {created}\nORDER BY {group}",
            with.join(",\n"),
            indent(&rule_names.join(",\n"), 2),
            indent(&inner, 2),
            layers[layers.len() - 1].1,
            indent(&zeros.join(",\n"), 2),
        );
        let mut header = vec![
            format!(
                "Snapshot counts for `mqlcal train --counts … --as-of {}`, {} dialect.",
                events.as_of,
                d.label()
            ),
            format!(
                "Reads {} (one row per lead, id {}, created {}, opportunity date {}) and the",
                comment(&self.table.plain()),
                comment(&events.id),
                comment(&dated.created),
                match &dated.join {
                    None => comment(&dated.opportunity),
                    Some((table, _)) => format!(
                        "{} of {}",
                        comment(&dated.opportunity),
                        comment(&table.plain())
                    ),
                }
            ),
            format!(
                "activity log {} (one row per event: {}, {}, {}). Every lead at every",
                comment(&events.table.plain()),
                comment(&events.columns.id),
                comment(&events.columns.kind),
                comment(&events.columns.at)
            ),
            format!(
                "snapshot date T at which it was open ({} dates, {}, {first} to {last}, those",
                events.dates.len(),
                comment(&events.cadence)
            ),
            "after the oldest lead's creation), with its events on or before T, is counted per"
                .into(),
            "rule pattern, T (created_day), opportunity date and lead_bucket. An event's day is"
                .into(),
            "the date its time starts with (YYYY-MM-DD): keep event times in UTC. Rules:".into(),
        ];
        header.extend(self.rules_header(&na));
        header.push(format!(
            "Save the result as CSV or Parquet and train with the same rules file, --date, \
             --outcome-date, --window and --as-of {}.",
            events.as_of
        ));
        let mut sql = String::new();
        for l in header {
            sql.push_str("-- ");
            sql.push_str(&l);
            sql.push('\n');
        }
        sql.push_str(&query);
        sql.push_str(";\n");
        Ok(sql)
    }
}
