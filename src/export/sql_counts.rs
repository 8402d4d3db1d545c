//! The counts query (`mqlcal export --format sql-counts`): the warehouse groups its leads by
//! rule pattern (and, for dated outcomes, by creation and opportunity date) so that
//! `mqlcal train --counts` fits what the rows would give. The rule features come from the
//! same layers as the scoring SQL ([`super::sql`]). With event rules the leads are counted at
//! snapshot dates instead ([`super::sql_snapshots`]), from the same dated leads.

use super::sql::{
    comment, feature_layers, indent, nest, Dialect, FeatureLayers, Reading, TableName,
};
use crate::error::{Error, Result};
use crate::rules::Condition;

/// The counts query (`mqlcal export --format sql-counts`): the warehouse scans the leads and
/// returns one row per distinct rule pattern, which `mqlcal train --counts` fits. Columns:
/// `rule_1` … `rule_N` (each rule's feature, in rules-file order, computed exactly as
/// `mqlcal score` and the scoring SQL compute it), `leads`, `conversions`, and
/// `unreadable_outcomes` (leads whose outcome is not 0/1, true/false or yes/no; training refuses
/// counts with any, as it refuses such rows).
#[derive(Debug, Clone)]
pub struct SqlCounts {
    pub dialect: Dialect,
    pub table: TableName,
    /// The outcome column.
    pub target: String,
    /// (name, column, condition) of each rule, in order.
    pub rules: Vec<(String, String, Condition)>,
    /// Placeholders that mean missing (`--na`), as training will be told.
    pub na: Vec<String>,
    /// Compare cells with `na` ignoring the case of A–Z (`--na-ignore-case`).
    pub na_ignore_case: bool,
    /// With dated outcomes: group by creation and opportunity date too ([`DatedCounts`]).
    pub dated: Option<DatedCounts>,
    /// With event rules: count the leads at snapshot dates, with their events by then
    /// ([`super::sql_snapshots`]); needs `dated`.
    pub events: Option<super::sql_snapshots::SnapshotEvents>,
}

/// The dates a conversion window needs, for `--outcome-date`: the query then returns one row
/// per (pattern, creation date, opportunity date) with its leads, and `mqlcal train --counts
/// --window …` finds as-of, the delay distribution and each lead's exposure from them exactly
/// as from the rows. The opportunity date itself (not a delay within one window) is returned so
/// that one counts table serves any window and as-of, and late opportunities are counted as
/// training counts them.
#[derive(Debug, Clone)]
pub struct DatedCounts {
    /// The leads' creation date column.
    pub created: String,
    /// The opportunity date column: of the leads, or of the opportunities table when joined.
    pub opportunity: String,
    /// The opportunities table and the lead id column both have, to join them (each id at its
    /// earliest opportunity date, as training joins `--outcomes`).
    pub join: Option<(TableName, String)>,
}

/// The dated counts table's columns besides the rules.
pub const DATED_COLUMNS: [&str; 3] = ["created_day", "opportunity_day", "leads"];

/// The column of snapshot counts (`--events-table`) that holds each row's lead bucket
/// ([`crate::group::LEAD_BUCKETS`]), by which training deals its folds.
pub const LEAD_BUCKET: &str = "lead_bucket";

/// The counts table's columns besides the rules.
pub const COUNT_COLUMNS: [&str; 3] = ["leads", "conversions", "unreadable_outcomes"];

/// The counts table's column for rule `j` (0-based).
pub fn count_rule_column(j: usize) -> String {
    format!("rule_{}", j + 1)
}

impl SqlCounts {
    /// The statement, ending in `;` and a line break.
    pub fn query(&self) -> Result<String> {
        if let Some((name, _, _)) = self.rules.iter().find(|(_, _, c)| c.has_date()) {
            return Err(Error::Export(format!(
                "rule '{name}' is a date rule (`within_days`/`older_than_days`); counts of \
                 patterns are not offered for date rules: which leads a date rule fires on \
                 changes with the as-of date, which a counts table does not keep. Train on the \
                 leads' rows instead (mqlcal train --data)"
            )));
        }
        match (&self.dated, &self.events) {
            (Some(dated), Some(events)) => return self.snapshot_query(dated, events),
            (None, Some(_)) => {
                return Err(Error::Export(
                    "snapshots need the leads' creation and opportunity dates: pass \
                     --outcome-date and --date"
                        .into(),
                ))
            }
            (Some(dated), None) => return self.dated_query(dated),
            (None, None) => {}
        }
        let d = self.dialect;
        super::check_text("target column", &self.target)?;
        for (name, column, condition) in &self.rules {
            super::check_rule_texts(name, condition.atoms(column), super::check_text)?;
        }
        if self.rules.is_empty() {
            return Err(Error::Export("no rules to count patterns of".into()));
        }
        let mut p = String::from("mqlcal_");
        while self.target.to_ascii_lowercase().starts_with(&p) {
            p.insert(0, 'x');
        }
        let na = super::Placeholders::new(&self.na, self.na_ignore_case);
        // The outcome read as `mqlcal train` reads it: trimmed, any case; NULL when unreadable.
        let outcome = format!(
            "LOWER({})",
            d.trim(
                &format!("CAST({} AS {})", d.ident(&self.target), d.text_type()),
                &d.white_space()
            )
        );
        let yes = ["1", "1.0", "true", "yes"].map(|v| d.string(v)).join(", ");
        let no = ["0", "0.0", "false", "no"].map(|v| d.string(v)).join(", ");
        let y = format!("{p}y");
        let first = vec![format!(
            "CASE WHEN {outcome} IN ({yes}) THEN 1 WHEN {outcome} IN ({no}) THEN 0 END AS {y}"
        )];
        let rules: Vec<(&str, &Condition)> = self
            .rules
            .iter()
            .map(|(_, c, cond)| (c.as_str(), cond))
            .collect();
        let FeatureLayers {
            mut layers,
            features,
        } = feature_layers(
            d,
            &p,
            &rules,
            &na,
            &first,
            std::slice::from_ref(&y),
            Reading::default(),
        )?;
        let names: Vec<String> = (0..self.rules.len())
            .map(|j| d.ident(&count_rule_column(j)))
            .collect();
        let mut items = vec![y.clone()];
        for ((f, name), (rule, column, condition)) in features.iter().zip(&names).zip(&self.rules) {
            items.push(format!(
                "{f} AS {name}\n  -- {}: {}",
                comment(rule),
                comment(&condition.describe(column))
            ));
        }
        // A comment cannot end a select item that a comma follows on the same line.
        let items: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.split_once("\n") {
                Some((expr, note)) if i + 1 < items.len() => {
                    format!("{expr},\n{}", note.trim_start())
                }
                Some((expr, note)) => format!("{expr}\n{}", note.trim_start()),
                None if i + 1 < items.len() => format!("{item},"),
                None => item.clone(),
            })
            .collect();
        layers.push((items.join("\n"), format!("{p}features")));
        let inner = nest(&layers, &self.table.quoted(d));
        let group = names.join(", ");
        let count_type = match d {
            Dialect::Bigquery => "INT64",
            _ => "BIGINT",
        };
        let query = format!(
            "SELECT\n{},\n  COUNT(*) AS {},\n  CAST(COALESCE(SUM({y}), 0) AS {count_type}) AS {},\n  \
             COUNT(*) - COUNT({y}) AS {}\nFROM (\n{}\n) AS {}\nGROUP BY {group}\nORDER BY {group}",
            indent(&names.join(",\n"), 2),
            d.ident(COUNT_COLUMNS[0]),
            d.ident(COUNT_COLUMNS[1]),
            d.ident(COUNT_COLUMNS[2]),
            indent(&inner, 2),
            layers[layers.len() - 1].1
        );
        let mut sql = String::new();
        let mut header = vec![
            format!(
                "Rule pattern counts for `mqlcal train --counts`, {} dialect.",
                d.label()
            ),
            format!(
                "Reads {} (one row per lead, outcome in {}); returns one row per distinct",
                comment(&self.table.plain()),
                comment(&self.target)
            ),
            "pattern of rule features with its leads and conversions. Rules:".into(),
        ];
        header.extend(self.rules_header(&na));
        header.push("Save the result as CSV or Parquet and train with the same rules file.".into());
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

impl SqlCounts {
    /// The header lines every counts query ends its description with: each rule's column and
    /// name, then how cells are read (the placeholders training must be given too).
    pub(super) fn rules_header(&self, na: &super::Placeholders) -> Vec<String> {
        let mut lines: Vec<String> = self
            .rules
            .iter()
            .enumerate()
            .map(|(j, (rule, _, _))| format!("  {}: {}", count_rule_column(j), comment(rule)))
            .collect();
        lines.push(if na.is_empty() {
            "Cells are trimmed; empty cells are missing.".into()
        } else {
            format!(
                "Cells are trimmed; empty cells and the placeholders {} are missing (train with \
                 the same --na).",
                comment(&na.describe())
            )
        });
        lines
    }

    /// The query for dated outcomes (see [`DatedCounts`]).
    fn dated_query(&self, dated: &DatedCounts) -> Result<String> {
        let d = self.dialect;
        if !matches!(d, Dialect::Postgres | Dialect::Duckdb | Dialect::Spark) {
            return Err(Error::Export(format!(
                "--outcome-date with --format sql-counts is written (and tested) for postgres, \
                 duckdb and spark; {} is not one yet: count with one of those, or train on the \
                 rows",
                d.label()
            )));
        }
        if self.rules.is_empty() {
            return Err(Error::Export("no rules to count patterns of".into()));
        }
        let mut names = vec![dated.created.as_str(), dated.opportunity.as_str()];
        super::check_text("date column", &dated.created)?;
        super::check_text("opportunity date column", &dated.opportunity)?;
        if let Some((_, id)) = &dated.join {
            super::check_text("id column", id)?;
            names.push(id);
        }
        for (name, column, condition) in &self.rules {
            super::check_rule_texts(name, condition.atoms(column), super::check_text)?;
            names.extend(condition.columns(column));
        }
        // A prefix no column of the leads starts with, for the query's own names.
        let mut p = String::from("mqlcal_");
        while names.iter().any(|n| n.to_ascii_lowercase().starts_with(&p)) {
            p.insert(0, 'x');
        }
        let na = super::Placeholders::new(&self.na, self.na_ignore_case);
        let (created, opportunity) = (format!("{p}created"), format!("{p}opportunity"));
        let (from, opportunity_item) = self.dated_source(&p, dated, &opportunity);
        let first = vec![
            format!(
                "{} AS {created}",
                date_cell(d, &d.ident(&dated.created), &na)
            ),
            opportunity_item,
        ];
        let carry = vec![created.clone(), opportunity.clone()];
        let rules: Vec<(&str, &Condition)> = self
            .rules
            .iter()
            .map(|(_, c, cond)| (c.as_str(), cond))
            .collect();
        let FeatureLayers {
            mut layers,
            features,
        } = feature_layers(d, &p, &rules, &na, &first, &carry, Reading::default())?;
        let rule_names: Vec<String> = (0..self.rules.len())
            .map(|j| d.ident(&count_rule_column(j)))
            .collect();
        let (created_day, opportunity_day) = (d.ident(DATED_COLUMNS[0]), d.ident(DATED_COLUMNS[1]));
        let mut items = vec![
            format!("{created} AS {created_day},"),
            format!("{opportunity} AS {opportunity_day},"),
        ];
        items.extend(rule_items(&features, &rule_names, &self.rules));
        layers.push((items.join("\n"), format!("{p}features")));
        let inner = nest(&layers, &from);
        let mut group = rule_names.clone();
        group.extend([created_day.clone(), opportunity_day.clone()]);
        let group = group.join(", ");
        let query = format!(
            "SELECT\n{},\n  {created_day},\n  {opportunity_day},\n  COUNT(*) AS {}\nFROM (\n{}\n) \
             AS {}\nGROUP BY {group}\nORDER BY {group}",
            indent(&rule_names.join(",\n"), 2),
            d.ident(DATED_COLUMNS[2]),
            indent(&inner, 2),
            layers[layers.len() - 1].1
        );
        let source = match &dated.join {
            None => format!(
                "{} (one row per lead, opportunity date in {}, empty when none yet)",
                comment(&self.table.plain()),
                comment(&dated.opportunity)
            ),
            Some((table, id)) => format!(
                "{} (one row per lead) joined on {} to {} (opportunity date in {})",
                comment(&self.table.plain()),
                comment(id),
                comment(&table.plain()),
                comment(&dated.opportunity)
            ),
        };
        let mut header = vec![
            format!(
                "Rule pattern counts by date for `mqlcal train --counts --window …`, {} dialect.",
                d.label()
            ),
            format!("Reads {source};"),
            format!(
                "returns the leads per pattern of rule features, creation date ({}) and",
                comment(&dated.created)
            ),
            "opportunity date (NULL: none yet); training finds as-of, the window's conversions and"
                .into(),
            "each young lead's exposure from them. Dates are ISO text, DATE or TIMESTAMP. Rules:"
                .into(),
        ];
        header.extend(self.rules_header(&na));
        header.push(
            "Save the result as CSV or Parquet and train with the same rules file, --date and \
             --outcome-date."
                .into(),
        );
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

    /// The leads with their opportunity dates, for the dated queries: what to select from
    /// (`--table`, or `--table` joined to the opportunities table, each id at its earliest
    /// date as training joins `--outcomes`) and the select item of the opportunity date, as
    /// `name`.
    pub(super) fn dated_source(
        &self,
        p: &str,
        dated: &DatedCounts,
        name: &str,
    ) -> (String, String) {
        let d = self.dialect;
        let na = super::Placeholders::new(&self.na, self.na_ignore_case);
        match &dated.join {
            None => (
                self.table.quoted(d),
                format!(
                    "{} AS {name}",
                    date_cell(d, &d.ident(&dated.opportunity), &na)
                ),
            ),
            Some((table, id)) => {
                let listed = format!(
                    "SELECT\n  {} AS {p}id,\n  MIN({}) AS {p}date\nFROM {}\nGROUP BY {}",
                    id_cell(d, &d.ident(id)),
                    date_cell(d, &d.ident(&dated.opportunity), &na),
                    table.quoted(d),
                    id_cell(d, &d.ident(id))
                );
                (
                    format!(
                        "(\n  SELECT\n    {p}l.*,\n    {p}o.{p}date AS {p}odate\n  FROM {} AS {p}l\n  \
                         LEFT JOIN (\n{}\n  ) AS {p}o\n  ON {} = {p}o.{p}id\n) AS {p}joined",
                        self.table.quoted(d),
                        indent(&listed, 4),
                        id_cell(d, &format!("{p}l.{}", d.ident(id)))
                    ),
                    format!("{p}odate AS {name}"),
                )
            }
        }
    }
}

/// A date cell (`column`, quoted) as training reads one: trimmed, empty or a placeholder is
/// none; the date part of ISO text, a DATE or a TIMESTAMP (its text starts with the date). A
/// text that is not a date fails the query, as training refuses it, rather than count no
/// date; but SQLite cannot fail a query on a value: there, such a text is passed on as it is,
/// so that training refuses the counts row it lands in.
pub(super) fn date_cell(d: Dialect, column: &str, na: &super::Placeholders) -> String {
    let text = d.trim(
        &format!("CAST({column} AS {})", d.text_type()),
        &d.white_space(),
    );
    let day = format!("SUBSTR({text}, 1, 10)");
    let cast = match d {
        // TRY_CAST and raise_error: a text that is not a date fails the query whether ANSI
        // mode is on or off.
        Dialect::Spark => format!(
            "COALESCE(TRY_CAST({day} AS DATE), raise_error(CONCAT({}, {text}, {})))",
            d.string("'"),
            d.string("' is not a date (YYYY-MM-DD)")
        ),
        // No DATE type: dates are `YYYY-MM-DD` text, which date() gives back unchanged only
        // for a real date (it moves 2026-02-30 to 03-02).
        Dialect::Sqlite => format!("CASE WHEN date({day}) IS {day} THEN {day} ELSE {text} END"),
        _ => format!("CAST({day} AS DATE)"),
    };
    // IS NULL first: Spark's ELSE branch would raise on a NULL cell.
    format!(
        "CASE WHEN {text} IS NULL OR {} THEN NULL ELSE {cast} END",
        d.is_placeholder(&text, na)
    )
}

/// An id cell (`column`, quoted) as the joins compare it: trimmed, NULL when empty.
pub(super) fn id_cell(d: Dialect, column: &str) -> String {
    let text = d.trim(
        &format!("CAST({column} AS {})", d.text_type()),
        &d.white_space(),
    );
    format!(
        "CASE WHEN {text} = {} THEN NULL ELSE {text} END",
        d.string("")
    )
}

/// The select items of the rules' features after the dated columns: `rule_j` per rule with
/// the rule in words as a comment on the next line, every item but the last followed by its
/// comma (before the comment: a comment cannot end an item a comma follows). The dated and the
/// snapshot counts queries list them alike.
pub(super) fn rule_items(
    features: &[String],
    rule_names: &[String],
    rules: &[(String, String, Condition)],
) -> Vec<String> {
    features
        .iter()
        .zip(rule_names)
        .zip(rules)
        .enumerate()
        .map(|(k, ((f, name), (rule, column, condition)))| {
            let comma = if k + 1 < rules.len() { "," } else { "" };
            format!(
                "{f} AS {name}{comma}\n-- {}: {}",
                comment(rule),
                comment(&condition.describe(column))
            )
        })
        .collect()
}
