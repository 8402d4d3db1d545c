//! SQL export: one query over the user's table of leads (or a `CREATE VIEW` of it) that returns
//! the id column (when the model has one), `score`, `probability` and `mql`, then
//! `<group>_score` per rule group and `grade` when the model has them, exactly as
//! `mqlcal score` computes them. Takes a [`Model`], a [`Dialect`] and a table name; gives the
//! statement as text.
//!
//! The query is plain SQL that every offered dialect runs; the dialect only decides how names
//! and texts are quoted and the few spellings that differ (type names, `BTRIM`, the cast to a
//! whole number, double literals, and in Spark SQL a cast to double that fails on text whatever
//! the ANSI setting). It works whether the table holds numbers as text (as a CSV load does) or
//! as numbers. It is built in layers, innermost first, so each cell is read once:
//!
//! 1. `mqlcal_trimmed`: every rule column as text, trimmed of Unicode white space;
//! 2. `mqlcal_cells`: empty cells and the model's placeholders (`Select`) become NULL;
//! 3. `mqlcal_values`: the cells numeric rules read, cast to double;
//! 4. `mqlcal_scores`: the score, Σ points × feature, one commented term per rule (with rule
//!    groups, `mqlcal_sums` first sums each group's terms: the sub-scores);
//! 5. the outer SELECT: probability from the calibration, and the MQL flag (with a grade
//!    matrix, `mqlcal_grades` first cuts the sub-scores into bands; see [`super::sql_grades`]).
//!
//! Every name and value from the model is quoted by [`Dialect::ident`] and
//! [`Dialect::string`], and text in comments has its line breaks removed, so no rule name,
//! column or category can end a literal, a comment or the statement.

use crate::calibrate::Calibration;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::rules::{format_number, Condition};

use super::sql_events::EventsJoin;
use super::sql_grades::SubScores;
use super::{check_model_texts, placeholders, Exporter, Placeholders, WHITE_SPACE};

pub use super::sql_counts::{count_rule_column, SqlCounts, COUNT_COLUMNS};

/// Where the query will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// PostgreSQL 12 or later (and engines that speak it).
    Postgres,
    /// SQLite 3.35 or later with math functions (as in the sqlite3 shell).
    Sqlite,
    /// DuckDB.
    Duckdb,
    /// Google BigQuery (GoogleSQL).
    Bigquery,
    /// Snowflake.
    Snowflake,
    /// Apache Spark SQL 3.2 or later, with ANSI mode on or off.
    Spark,
}

impl Dialect {
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Sqlite => "SQLite",
            Dialect::Duckdb => "DuckDB",
            Dialect::Bigquery => "BigQuery",
            Dialect::Snowflake => "Snowflake",
            Dialect::Spark => "Spark SQL",
        }
    }

    /// A quoted identifier. SQLite takes backticks: a double-quoted name that matches no column
    /// silently becomes a text literal there, a backtick-quoted one is an error. Spark SQL reads
    /// "…" as text, so backticks there too (a backslash inside them is literal).
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Postgres | Dialect::Duckdb | Dialect::Snowflake => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
            Dialect::Sqlite | Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::Bigquery => format!("`{}`", escape_backslashed(name, '`')),
        }
    }

    /// A quoted text literal.
    pub fn string(self, text: &str) -> String {
        match self {
            // An E'' literal means the same whatever `standard_conforming_strings` is set to;
            // a plain one would let a backslash escape the closing quote where it is off.
            Dialect::Postgres if text.contains('\\') => {
                format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            Dialect::Postgres | Dialect::Sqlite | Dialect::Duckdb => {
                format!("'{}'", text.replace('\'', "''"))
            }
            // These read backslash escapes inside '…'. Spark SQL also joins adjacent literals,
            // so a doubled quote would not escape there: 'O''Reilly' reads as OReilly.
            Dialect::Bigquery | Dialect::Snowflake | Dialect::Spark => {
                format!("'{}'", escape_backslashed(text, '\''))
            }
        }
    }

    pub(super) fn text_type(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Sqlite => "TEXT",
            Dialect::Duckdb | Dialect::Snowflake => "VARCHAR",
            Dialect::Bigquery | Dialect::Spark => "STRING",
        }
    }

    pub(super) fn double_type(self) -> &'static str {
        match self {
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::Sqlite => "REAL",
            Dialect::Duckdb | Dialect::Snowflake | Dialect::Spark => "DOUBLE",
            Dialect::Bigquery => "FLOAT64",
        }
    }

    /// `expr` without leading and trailing characters from `chars` (a literal).
    pub(super) fn trim(self, expr: &str, chars: &str) -> String {
        match self {
            // PostgreSQL's TRIM(x, chars) does not exist; BTRIM is its spelling.
            Dialect::Postgres => format!("BTRIM({expr}, {chars})"),
            // Spark SQL 3's two-argument TRIM takes the characters first (TRIM(chars, x)), so
            // TRIM(x, chars) would trim the characters instead; the standard spelling is plain.
            Dialect::Spark => format!("TRIM(BOTH {chars} FROM {expr})"),
            _ => format!("TRIM({expr}, {chars})"),
        }
    }

    /// Whole days from the date in the trimmed text cell `cell` (its first ten characters,
    /// `YYYY-MM-DD`: a DATE or TIMESTAMP column cast to text starts so too) to `as_of`, or to
    /// the warehouse's `CURRENT_DATE` without one: NULL when the cell is NULL.
    pub(super) fn age_days(self, cell: &str, as_of: Option<chrono::NaiveDate>) -> String {
        let day = match as_of {
            Some(a) => self.date_literal(a),
            None => "CURRENT_DATE".into(),
        };
        self.age_days_to(cell, &day)
    }

    /// [`Dialect::age_days`] to the date `day`: an expression, a DATE (in SQLite, which has
    /// none, `YYYY-MM-DD` text), such as a column of snapshot dates.
    pub(super) fn age_days_to(self, cell: &str, day: &str) -> String {
        let date = format!("CAST(SUBSTR({cell}, 1, 10) AS DATE)");
        match self {
            Dialect::Postgres => format!("({day} - {date})"),
            Dialect::Duckdb => format!("DATE_DIFF('day', {date}, {day})"),
            Dialect::Bigquery => format!("DATE_DIFF({day}, {date}, DAY)"),
            Dialect::Snowflake => format!("DATEDIFF(day, {date}, {day})"),
            Dialect::Spark => format!("DATEDIFF({day}, {date})"),
            // Julian day numbers of two dates differ by whole days.
            Dialect::Sqlite => {
                format!("CAST(julianday({day}) - julianday(SUBSTR({cell}, 1, 10)) AS INTEGER)")
            }
        }
    }

    /// A date literal: `DATE 'YYYY-MM-DD'`, or in SQLite (no DATE type) the text, which
    /// compares as dates do.
    pub(super) fn date_literal(self, day: chrono::NaiveDate) -> String {
        match self {
            Dialect::Sqlite => format!("'{day}'"),
            _ => format!("DATE '{day}'"),
        }
    }

    /// `a` modulo the positive whole number `b` (BigQuery has no `%` operator, SQLite builds
    /// without math functions have no `MOD`).
    pub(super) fn modulo(self, a: &str, b: u32) -> String {
        match self {
            Dialect::Sqlite => format!("({a}) % {b}"),
            _ => format!("MOD({a}, {b})"),
        }
    }

    /// The whole part of a number known to be at least 1, as an integer.
    pub(super) fn whole(self, expr: &str) -> String {
        match self {
            // SQLite's CAST truncates, which is the floor for positive numbers, and works where
            // FLOOR() is not compiled in. Elsewhere CAST rounds, so FLOOR comes first.
            Dialect::Sqlite => format!("CAST({expr} AS INTEGER)"),
            Dialect::Bigquery => format!("CAST(FLOOR({expr}) AS INT64)"),
            _ => format!("CAST(FLOOR({expr}) AS BIGINT)"),
        }
    }

    /// A double literal that means exactly `x` in every dialect (a bare `0.1` is a DECIMAL in
    /// PostgreSQL, DuckDB and Spark SQL, and comparing a DECIMAL with a double may round).
    fn double(self, x: f64) -> String {
        if x.fract() == 0.0 && x.abs() < 9.0e15 {
            // Integers compare exactly with doubles everywhere.
            let s = format_number(x);
            if x < 0.0 {
                format!("({s})")
            } else {
                s
            }
        } else {
            self.double_raw(x)
        }
    }
}

/// A whole-number literal (points, a threshold, a cut point): negative ones in parentheses, so
/// no minus sign can meet another and start a comment.
pub(super) fn integer(x: i64) -> String {
    if x < 0 {
        format!("({x})")
    } else {
        x.to_string()
    }
}

/// Escapes for dialects that read backslash escapes inside quotes: the backslash, the quote,
/// and control characters (BigQuery rejects a raw line break inside '…').
fn escape_backslashed(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for a `--` comment: line breaks (and other control characters) become spaces, so the
/// comment cannot end early and let the rest of the text run as SQL. A trailing backslash gets
/// a space after it: Spark SQL reads a backslash right before the line break as going on with
/// the comment on the next line, which would swallow that line of SQL.
pub(super) fn comment(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if out.ends_with('\\') {
        out.push(' ');
    }
    out
}

/// A table or view name; dots separate schema parts (`analytics.leads` is table `leads` in
/// schema `analytics`), each part is quoted on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(Vec<String>);

impl std::str::FromStr for TableName {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<String> = s.split('.').map(str::to_string).collect();
        if parts.iter().any(|p| p.trim().is_empty()) {
            return Err(format!(
                "'{s}' is not a table name; give `leads`, or `schema.leads` with dots between \
                 the parts"
            ));
        }
        if s.contains('\0') {
            return Err("a table name cannot hold a NUL character".into());
        }
        Ok(TableName(parts))
    }
}

impl TableName {
    pub(super) fn quoted(&self, dialect: Dialect) -> String {
        self.0
            .iter()
            .map(|p| dialect.ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    pub(super) fn plain(&self) -> String {
        self.0.join(".")
    }
}

/// The SQL export: a SELECT over `table`, or a `CREATE VIEW view AS SELECT …`.
#[derive(Debug, Clone)]
pub struct Sql {
    pub dialect: Dialect,
    pub table: TableName,
    pub view: Option<TableName>,
    /// The day date rules and event rules count back from: `None` is the warehouse's
    /// `CURRENT_DATE`.
    pub as_of: Option<chrono::NaiveDate>,
    /// The activity log event rules read (one row per event, its columns named as the
    /// model's `training.events` records them), joined to the leads on the id column
    /// ([`super::sql_events`]). A model with event rules needs it; others ignore it.
    pub events: Option<TableName>,
}

/// The output columns, besides the id (and the sub-scores and grade of
/// [`Model::sub_score_columns`]).
const OUTPUTS: [&str; 3] = ["score", "probability", "mql"];

impl Exporter for Sql {
    fn export(&self, model: &Model) -> Result<Vec<u8>> {
        Ok(self.query(model)?.into_bytes())
    }
}

impl Sql {
    /// The statement, ending in `;` and a line break.
    pub fn query(&self, model: &Model) -> Result<String> {
        let rules = model.rules();
        let sources = crate::rules::events::event_columns(&rules);
        let events_columns = model
            .training
            .events
            .as_ref()
            .map(|e| e.columns.clone())
            .unwrap_or_default();
        let events = match (crate::rules::events::first_event_rule(&rules), &self.events) {
            (None, _) => None,
            (Some(r), None) => {
                return Err(Error::Export(format!(
                    "SQL: rule '{}' counts events of an activity log; pass the warehouse table \
                     of events with --events-table NAME (one row per event, columns {}, {} and \
                     {}), which the query joins to the leads, or score with `mqlcal score \
                     --events`",
                    r.name, events_columns.id, events_columns.kind, events_columns.at
                )))
            }
            (Some(r), Some(table)) => {
                if model.id_column.is_none() {
                    return Err(Error::Export(format!(
                        "SQL: rule '{}' counts events, which are joined to the leads by id, but \
                         the model has no id column; retrain with --id",
                        r.name
                    )));
                }
                Some(EventsJoin {
                    table,
                    columns: &events_columns,
                    sources: &sources,
                    as_of: self.as_of,
                })
            }
        };
        check_model_texts(model)?;
        if let Some(e) = &events {
            e.check_texts()?;
        }
        let subs = SubScores::new(model)?;
        let d = self.dialect;
        if let Some(id) = &model.id_column {
            let mut outputs: Vec<String> = OUTPUTS.iter().map(|o| o.to_string()).collect();
            outputs.extend(model.sub_score_columns());
            if outputs.iter().any(|o| o.eq_ignore_ascii_case(id)) {
                return Err(Error::Export(format!(
                    "the id column '{id}' has the name of an output column ({}); rename it in \
                     the data and train again with --id",
                    outputs.join(", ")
                )));
            }
        }
        // Names of the inner layers; unquoted ASCII, and never the id column's name.
        let mut p = String::from("mqlcal_");
        if let Some(id) = &model.id_column {
            while id.to_ascii_lowercase().starts_with(&p) {
                p.insert(0, 'x');
            }
        }
        let id: Vec<String> = model.id_column.iter().map(|c| d.ident(c)).collect();
        let rules: Vec<(&str, &Condition)> = model
            .rules
            .iter()
            .map(|r| (r.column.as_str(), &r.condition))
            .collect();
        // The event columns come from the join as numbers.
        let numbers: Vec<String> = match &events {
            Some(_) => sources.iter().map(|s| s.name.clone()).collect(),
            None => Vec::new(),
        };
        let FeatureLayers {
            layers: mut feature_layers,
            features,
        } = feature_layers(
            d,
            &p,
            &rules,
            &placeholders(model),
            &id,
            &id,
            Reading {
                as_of: self.as_of,
                numbers: &numbers,
            },
        )?;
        let with_id = |mut items: Vec<String>| -> String {
            let mut all = id.clone();
            all.append(&mut items);
            all.join(",\n")
        };
        // 4. the score, one term per rule (summed by group first, with rule groups).
        let mut terms = Vec::new();
        for (r, feature) in model.rules.iter().zip(features) {
            // `describe` already says "per unit of …" for per-unit rules.
            let when = if matches!(r.condition, Condition::PerUnit { .. }) {
                ""
            } else {
                "when "
            };
            terms.push(format!(
                "{} * ({feature})\n  -- {}: {:+} {when}{}",
                integer(r.points.0),
                comment(&r.name),
                r.points.0,
                comment(&r.condition.describe(&r.column))
            ));
        }
        let s = format!("{p}score");
        let mut layers = std::mem::take(&mut feature_layers);
        layers.extend(subs.score_layers(&p, terms, &with_id));
        // The sub-scores, carried from the score layer on.
        let carried = subs.carried(&p);
        let with_subs = |mut items: Vec<String>| -> String {
            items.extend(carried.iter().cloned());
            with_id(items)
        };
        // 5. probability and MQL flag (Platt first computes z = a·score + b in a layer).
        let z = format!("{p}z");
        let mut calibrated = None;
        let probability = match &model.calibration {
            Calibration::Platt { a, b } => {
                calibrated = Some(format!(
                    "{} * {s} + {} AS {z}",
                    d.double_raw(*a),
                    d.double_raw(*b)
                ));
                // The branches are Rust's sigmoid's, so the same doubles come out; beyond ±700
                // the answer is 0 or 1 to within 1e-300, and EXP would overflow in PostgreSQL.
                format!(
                    "CASE WHEN {z} > 700 THEN {} WHEN {z} < -700 THEN {}\n  \
                     WHEN {z} <= 0 THEN 1 / (1 + EXP({z}))\n  \
                     ELSE EXP(-{z}) / (1 + EXP(-{z})) END",
                    d.double_raw(0.0),
                    d.double_raw(1.0),
                )
            }
            Calibration::Isotonic { knots } | Calibration::Beta { knots, .. } => {
                let (x0, y0) = knots[0];
                let (xn, yn) = knots[knots.len() - 1];
                let mut arms = vec![
                    format!("WHEN {s} <= {} THEN {}", d.double_raw(x0), d.double_raw(y0)),
                    format!("WHEN {s} >= {} THEN {}", d.double_raw(xn), d.double_raw(yn)),
                ];
                // Straight lines between knots, written as calibrate.rs computes them.
                for w in knots.windows(2) {
                    let ((xa, ya), (xb, yb)) = (w[0], w[1]);
                    let (xa, ya, xb, yb) = (
                        d.double_raw(xa),
                        d.double_raw(ya),
                        d.double_raw(xb),
                        d.double_raw(yb),
                    );
                    arms.push(format!(
                        "WHEN {s} <= {xb} THEN {ya} + ({s} - {xa}) / ({xb} - {xa}) * ({yb} - {ya})"
                    ));
                }
                format!("CASE\n  {}\nEND", arms.join("\n  "))
            }
        };
        let mql = subs
            .mql(&p)
            .unwrap_or_else(|| format!("{s} >= {}", integer(model.threshold.threshold.points)));
        let mut outer = vec![
            format!("{s} AS {}", d.ident("score")),
            format!("{probability} AS {}", d.ident("probability")),
            format!("{mql} AS {}", d.ident("mql")),
        ];
        outer.extend(subs.outputs(d, &p));
        let outer = with_id(outer);

        // Innermost first: each layer selects from the one before.
        if let Some(z) = &calibrated {
            layers.push((with_subs(vec![s.clone(), z.clone()]), format!("{p}odds")));
        }
        if let Some(mut bands) = subs.bands(&p) {
            // The grade layer: the bands of the two graded sub-scores.
            let mut items = vec![s.clone()];
            items.extend(calibrated.as_ref().map(|_| z.clone()));
            items.append(&mut bands);
            layers.push((with_subs(items), format!("{p}grades")));
        }
        let from = match (&events, &model.id_column) {
            (Some(e), Some(id)) => e.joined(d, &p, &self.table, id, &super::rule_columns(model)),
            _ => self.table.quoted(d),
        };
        let mut query = nest(&layers, &from);
        query = format!(
            "SELECT\n{}\nFROM (\n{}\n) AS {}",
            indent(&outer, 2),
            indent(&query, 2),
            layers[layers.len() - 1].1
        );
        // The activity log aggregated per lead, first.
        if let Some(e) = &events {
            query = format!("WITH {}\n{query}", e.cte(d, &p));
        }

        let mut sql = self.header(model, &subs);
        if let Some(view) = &self.view {
            sql.push_str(&format!("CREATE VIEW {} AS\n", view.quoted(d)));
        }
        sql.push_str(&query);
        sql.push_str(";\n");
        Ok(sql)
    }

    fn header(&self, model: &Model, subs: &SubScores) -> String {
        let d = self.dialect;
        let t = &model.training;
        let th = &model.threshold.threshold;
        let id = model
            .id_column
            .as_deref()
            .map(|c| format!("{}, ", comment(c)))
            .unwrap_or_default();
        let na = placeholders(model);
        let na = if na.is_empty() {
            String::new()
        } else {
            format!(" and the placeholders {}", comment(&na.describe()))
        };
        let mut lines = vec![
            format!("Lead scores from an mqlcal model, {} dialect.", d.label()),
            format!(
                "Model: {} rules, written by {}, trained on {} ({} leads).",
                model.rules.len(),
                comment(&model.generator),
                comment(&t.input),
                t.rows
            ),
            format!(
                "Reads {} (one row per lead); returns {id}score (points), probability",
                comment(&self.table.plain())
            ),
            format!(
                "(calibrated probability {}) and mql ({}, policy {}).",
                match t.window_days {
                    Some(_) => format!("that the lead {}", model.probability_meaning()),
                    None => "of conversion".into(),
                },
                subs.mql_words()
                    .unwrap_or_else(|| format!("score >= {}", th.points)),
                th.policy
            ),
            format!("Cells are trimmed; empty cells{na} are missing, as in `mqlcal score`."),
            "Text in a column that numeric rules read must be a number (or missing).".into(),
            "Written by `mqlcal export`: export again after retraining rather than editing.".into(),
        ];
        if let (Some(events), true) = (&self.events, model.rules.iter().any(|r| r.event.is_some()))
        {
            let c = model
                .training
                .events
                .as_ref()
                .map(|e| e.columns.clone())
                .unwrap_or_default();
            let day = match self.as_of {
                Some(a) => a.to_string(),
                None => "CURRENT_DATE".into(),
            };
            // After the sentence on what the query reads and returns.
            lines.splice(
                4..4,
                [
                    format!(
                        "Event rules count the events of {} (one row per event: {}, {}, {}),",
                        comment(&events.plain()),
                        comment(&c.id),
                        comment(&c.kind),
                        comment(&c.at)
                    ),
                    "joined on the trimmed id; an event's day is the date its time starts with"
                        .into(),
                    format!("(YYYY-MM-DD), and the events up to {day} count."),
                ],
            );
        }
        // After the sentences on what the query returns, before the events'.
        lines.splice(4..4, subs.header());
        let mut out = String::new();
        for l in lines {
            out.push_str("-- ");
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}

/// Indents every line of `text` by `by` spaces.
pub(super) fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Layers `(select list, alias)`, innermost first, each selecting from the one before; the
/// first from `table`.
pub(super) fn nest(layers: &[(String, String)], table: &str) -> String {
    let mut query = format!("SELECT\n{}\nFROM {}", indent(&layers[0].0, 2), table);
    for k in 1..layers.len() {
        query = format!(
            "SELECT\n{}\nFROM (\n{}\n) AS {}",
            indent(&layers[k].0, 2),
            indent(&query, 2),
            layers[k - 1].1
        );
    }
    query
}

/// Layers 1–3 of the module docs (trimmed text, cells, numbers) and each rule's feature (its
/// 0/1 or whole units, as `mqlcal score` computes it) as an expression over the last layer.
pub(super) struct FeatureLayers {
    pub(super) layers: Vec<(String, String)>,
    pub(super) features: Vec<String>,
}

/// What the feature layers read besides the table's cells as text.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Reading<'a> {
    /// The day date rules count back from: `None` is the warehouse's `CURRENT_DATE`.
    pub(super) as_of: Option<chrono::NaiveDate>,
    /// Columns that arrive as numbers and are never NULL (the event columns of the events
    /// join, [`super::sql_events`]): read as they are, not trimmed, cast or compared with the
    /// placeholders as text.
    pub(super) numbers: &'a [String],
}

/// `rules` are (column, condition); `carry_first` are select items the first layer adds (read
/// from the table) and `carry` the names later layers pass on.
pub(super) fn feature_layers(
    d: Dialect,
    p: &str,
    rules: &[(&str, &Condition)],
    na: &Placeholders,
    carry_first: &[String],
    carry: &[String],
    reading: Reading<'_>,
) -> Result<FeatureLayers> {
    let Reading { as_of, numbers } = reading;
    let atoms: Vec<(&str, &Condition)> = rules.iter().flat_map(|(c, cond)| cond.atoms(c)).collect();
    let mut columns: Vec<&str> = Vec::new();
    for (c, _) in &atoms {
        if !columns.contains(c) {
            columns.push(c);
        }
    }
    let numeric: Vec<bool> = columns
        .iter()
        .map(|c| {
            atoms
                .iter()
                .any(|(rc, cond)| rc == c && cond.needs_numbers())
        })
        .collect();
    // Columns date rules read: their age in days before as-of takes the place of a number.
    let dated: Vec<bool> = columns
        .iter()
        .map(|c| atoms.iter().any(|(rc, cond)| rc == c && cond.is_date()))
        .collect();
    if let Some(k) = (0..columns.len()).find(|&k| dated[k] && numeric[k]) {
        return Err(Error::Export(format!(
            "column '{}' is read both by a date rule and by a numeric rule; the SQL export \
             reads a column one way: give the numbers a column of their own",
            columns[k]
        )));
    }
    let with = |first: bool, mut items: Vec<String>| -> String {
        let mut all = if first {
            carry_first.to_vec()
        } else {
            carry.to_vec()
        };
        all.append(&mut items);
        all.join(",\n")
    };
    // Columns that are numbers already: `{p}n{k}` from the first layer on.
    let given: Vec<bool> = columns
        .iter()
        .map(|c| numbers.iter().any(|n| n == c))
        .collect();
    // 1. trimmed text (SQLite also keeps the raw cell: see `values`).
    let ws = d.white_space();
    let mut trimmed = Vec::new();
    for (k, c) in columns.iter().enumerate() {
        if given[k] {
            trimmed.push(format!("{} AS {p}n{k}", d.ident(c)));
            continue;
        }
        let text = format!("CAST({} AS {})", d.ident(c), d.text_type());
        trimmed.push(format!("{} AS {p}t{k}", d.trim(&text, &ws)));
        if d == Dialect::Sqlite && numeric[k] {
            trimmed.push(format!("{} AS {p}r{k}", d.ident(c)));
        }
    }
    // 2. cells: empty and placeholders are NULL.
    let mut cells = Vec::new();
    for (k, &is_numeric) in numeric.iter().enumerate() {
        if given[k] {
            cells.push(format!("{p}n{k}"));
            continue;
        }
        let t = format!("{p}t{k}");
        cells.push(format!(
            "CASE WHEN {} THEN NULL ELSE {t} END AS {p}c{k}",
            d.is_placeholder(&t, na)
        ));
        if d == Dialect::Sqlite && is_numeric {
            cells.push(format!("{p}r{k}"));
        }
    }
    // 3. numbers for numeric rules.
    let mut values = Vec::new();
    for (k, &is_numeric) in numeric.iter().enumerate() {
        if given[k] {
            values.push(format!("{p}n{k}"));
            continue;
        }
        values.push(format!("{p}c{k}"));
        if dated[k] {
            values.push(format!(
                "{} AS {p}n{k}",
                d.age_days(&format!("{p}c{k}"), as_of)
            ));
            continue;
        }
        if !is_numeric {
            continue;
        }
        let number = match d {
            // A REAL read back from text keeps 15 digits only; take numbers as stored.
            Dialect::Sqlite => format!(
                "CASE WHEN typeof({p}r{k}) IN ('integer', 'real') THEN {p}r{k} \
                 ELSE CAST({p}c{k} AS REAL) END"
            ),
            // Spark's CAST gives NULL for text that is not a number where ANSI mode is off
            // (Spark 3's default) and fails where it is on (Spark 4's). TRY_CAST with
            // raise_error fails in both, as `mqlcal score` does, rather than score the lead as
            // if the cell were missing.
            Dialect::Spark => format!(
                "CASE WHEN {p}c{k} IS NULL THEN NULL\n  ELSE COALESCE(TRY_CAST({p}c{k} AS {}), \
                 raise_error(CONCAT({}, {p}c{k}, {}))) END",
                d.double_type(),
                d.string("'"),
                d.string(&format!(
                    "' in column {} is not a number, but a rule on this column needs numbers",
                    columns[k]
                ))
            ),
            _ => format!("CAST({p}c{k} AS {})", d.double_type()),
        };
        values.push(format!("{number} AS {p}n{k}"));
    }
    let mut features = Vec::new();
    let refs = |column: &str| {
        let k = columns
            .iter()
            .position(|c| *c == column)
            .expect("rule columns are listed");
        // A given number is never missing: its cell is the number.
        let cell = if given[k] { "n" } else { "c" };
        (format!("{p}{cell}{k}"), format!("{p}n{k}"))
    };
    for (column, condition) in rules {
        let feature = match condition {
            Condition::PerUnit { cap } => {
                let (_, num) = refs(column);
                match cap {
                    Some(cap) => format!(
                        "CASE WHEN {num} >= {c} THEN {c} WHEN {num} >= 1 THEN {w} ELSE 0 END",
                        c = d.double(cap.floor()),
                        w = d.whole(&num)
                    ),
                    None => format!("CASE WHEN {num} >= 1 THEN {} ELSE 0 END", d.whole(&num)),
                }
            }
            // SQL's three-valued logic: a part on a NULL cell is NULL (except IS NULL), so
            // AND is NULL or false and OR holds only through another part; CASE takes NULL
            // as not holding, as a missing value fires no part in mqlcal.
            Condition::All { .. } | Condition::Any { .. } => {
                let joint = if matches!(condition, Condition::All { .. }) {
                    " AND "
                } else {
                    " OR "
                };
                let tests: Vec<String> = condition
                    .atoms(column)
                    .into_iter()
                    .map(|(c, part)| {
                        let (cell, num) = refs(c);
                        format!("({})", predicate(d, part, &cell, &num))
                    })
                    .collect();
                format!("CASE WHEN {} THEN 1 ELSE 0 END", tests.join(joint))
            }
            simple => {
                let (cell, num) = refs(column);
                format!(
                    "CASE WHEN {} THEN 1 ELSE 0 END",
                    predicate(d, simple, &cell, &num)
                )
            }
        };
        features.push(feature);
    }
    Ok(FeatureLayers {
        layers: vec![
            (with(true, trimmed), format!("{p}trimmed")),
            (with(false, cells), format!("{p}cells")),
            (with(false, values), format!("{p}values")),
        ],
        features,
    })
}

/// The test of a simple condition on a cell (`cell`, text) or its number (`num`), as SQL
/// that is true, false or NULL (a missing cell).
fn predicate(d: Dialect, condition: &Condition, cell: &str, num: &str) -> String {
    match condition {
        Condition::Range { at_least, below } => {
            let mut tests = Vec::new();
            if let Some(a) = at_least {
                tests.push(format!("{num} >= {}", d.double(*a)));
            }
            if let Some(b) = below {
                tests.push(format!("{num} < {}", d.double(*b)));
            }
            tests.join(" AND ")
        }
        Condition::OneOf {
            values,
            ignore_case: false,
        } => {
            let list: Vec<String> = values.iter().map(|v| d.string(v)).collect();
            format!("{cell} IN ({})", list.join(", "))
        }
        Condition::OneOf {
            values,
            ignore_case: true,
        } => {
            let mut folded: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
            folded.sort();
            folded.dedup();
            let list: Vec<String> = folded.iter().map(|v| d.string(v)).collect();
            format!("{} IN ({})", d.fold_ascii(cell), list.join(", "))
        }
        Condition::IsMissing => format!("{cell} IS NULL"),
        // `num` is the date's age in days before as-of (NULL when missing).
        Condition::WithinDays { days } => format!("{num} >= 0 AND {num} <= {days}"),
        Condition::OlderThanDays { days } => format!("{num} > {days}"),
        // Per-unit rules have a feature of their own, and parts are never compound.
        Condition::PerUnit { .. } | Condition::All { .. } | Condition::Any { .. } => "1 = 0".into(),
    }
}

impl Dialect {
    /// Whether the trimmed text `expr` is empty or one of the placeholders `na`: NULL (not
    /// true) when `expr` is NULL, which every caller treats as missing already.
    pub(super) fn is_placeholder(self, expr: &str, na: &Placeholders) -> String {
        if na.ignore_case && !na.is_empty() {
            let list: Vec<String> = na.folded().iter().map(|v| self.string(v)).collect();
            format!(
                "({expr} = {} OR {} IN ({}))",
                self.string(""),
                self.fold_ascii(expr),
                list.join(", ")
            )
        } else {
            let mut missing = vec![self.string("")];
            missing.extend(na.texts.iter().map(|s| self.string(s)));
            format!("{expr} IN ({})", missing.join(", "))
        }
    }

    /// `expr` with the letters A–Z made lower case and nothing else changed, as
    /// `ignore_case` compares text. SQLite's LOWER folds only ASCII (without ICU); elsewhere
    /// LOWER folds every letter (or, in PostgreSQL, depends on the database's locale), so
    /// TRANSLATE names the 26 letters.
    fn fold_ascii(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("LOWER({expr})"),
            _ => format!(
                "TRANSLATE({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
            ),
        }
    }

    /// The characters `str::trim` removes, as an expression made of visible ASCII (the raw
    /// characters would be invisible in the file, and a raw carriage return can be lost).
    pub(super) fn white_space(self) -> String {
        let codes = || WHITE_SPACE.iter().map(|&c| c as u32);
        match self {
            // E'' reads \u escapes (in a UTF-8 database).
            Dialect::Postgres => format!(
                "E'{}'",
                codes().map(|c| format!("\\u{c:04X}")).collect::<String>()
            ),
            Dialect::Bigquery | Dialect::Snowflake | Dialect::Spark => format!(
                "'{}'",
                codes().map(|c| format!("\\u{c:04X}")).collect::<String>()
            ),
            Dialect::Sqlite => format!(
                "char({})",
                codes()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // DuckDB's E'' knows \t but not \u: one chr() per character.
            Dialect::Duckdb => codes()
                .map(|c| format!("chr({c})"))
                .collect::<Vec<_>>()
                .join(" || "),
        }
    }

    /// A double literal for any finite value, integers included (for arithmetic, where an
    /// integer literal could make integer division). `{:?}` prints the shortest text that reads
    /// back as the same double.
    pub(super) fn double_raw(self, x: f64) -> String {
        match self {
            // A `D` suffix makes a DOUBLE literal, parsed straight from the text (a bare 0.1
            // is a DECIMAL, which a cast would then convert). Negative ones in parentheses, as
            // `double` writes them, so no minus sign can meet another and start a comment.
            Dialect::Spark if x.is_sign_negative() => format!("({x:?}D)"),
            Dialect::Spark => format!("{x:?}D"),
            _ => format!("CAST({x:?} AS {})", self.double_type()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_cannot_be_escaped_out_of() {
        assert_eq!(Dialect::Postgres.string("O'Reilly"), "'O''Reilly'");
        assert_eq!(Dialect::Postgres.string("a\\'b"), "E'a\\\\''b'");
        assert_eq!(Dialect::Sqlite.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Duckdb.ident("se\"lect"), "\"se\"\"lect\"");
        assert_eq!(Dialect::Bigquery.string("it's\\\n"), "'it\\'s\\\\\\n'");
        assert_eq!(Dialect::Bigquery.ident("a`b"), "`a\\`b`");
        assert_eq!(
            Dialect::Snowflake.string("x\\' OR 1=1"),
            "'x\\\\\\' OR 1=1'"
        );
        assert_eq!(comment("a\nDROP TABLE x;\r--"), "a DROP TABLE x; --");
        assert_eq!(comment("ends in \\"), "ends in \\ ");
        assert_eq!(Dialect::Spark.ident("a`b\\"), "`a``b\\`");
        assert_eq!(Dialect::Spark.string("O'Reilly\\"), "'O\\'Reilly\\\\'");
    }

    #[test]
    fn spark_spellings() {
        let d = Dialect::Spark;
        // The standard TRIM: Spark 3's TRIM(a, b) trims the characters of a from b.
        assert_eq!(d.trim("x", "' '"), "TRIM(BOTH ' ' FROM x)");
        assert_eq!(d.double(0.1), "0.1D");
        assert_eq!(d.double(-2.5e-8), "(-2.5e-8D)");
        assert_eq!(d.double(3.0), "3");
        assert_eq!(d.double_raw(1e-300), "1e-300D");
        assert_eq!(d.double_raw(1.0), "1.0D");
        assert_eq!(d.whole("n"), "CAST(FLOOR(n) AS BIGINT)");
        assert!(d.white_space().starts_with("'\\u0009\\u000A"));
    }

    #[test]
    fn doubles_read_back_exactly() {
        let d = Dialect::Postgres;
        assert_eq!(d.double(100.0), "100");
        assert_eq!(d.double(-7.0), "(-7)");
        assert_eq!(d.double(0.1), "CAST(0.1 AS DOUBLE PRECISION)");
        assert_eq!(d.double_raw(1e-300), "CAST(1e-300 AS DOUBLE PRECISION)");
        for x in [0.1, 1.0 / 3.0, 99.99999999999999, -2.5e-8] {
            let text = format!("{x:?}");
            assert_eq!(text.parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn table_names_split_on_dots_and_refuse_empty_parts() {
        let t: TableName = "analytics.leads".parse().unwrap();
        assert_eq!(t.quoted(Dialect::Postgres), "\"analytics\".\"leads\"");
        assert_eq!(t.quoted(Dialect::Bigquery), "`analytics`.`leads`");
        assert!("leads.".parse::<TableName>().is_err());
        assert!("".parse::<TableName>().is_err());
    }
}
