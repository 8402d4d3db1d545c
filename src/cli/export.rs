use std::path::PathBuf;

use mqlcal::export::sql::TableName;
use mqlcal::export::sql_counts::DatedCounts;
use mqlcal::export::sql_snapshots::SnapshotEvents;
use mqlcal::export::{Dialect, Exporter, Format, Pmml, PointsSheet, Sql, SqlCounts};
use mqlcal::model::Model;

use crate::say;
use mqlcal::rules::RulesFile;

/// Export a model to where leads are scored: SQL for a warehouse, a PMML scorecard, or a
/// points sheet to enter into a marketing automation tool.
///
/// The SQL and PMML exports give exactly the scores, probabilities and MQL flags of
/// `mqlcal score` (and its sub-scores and grade, for a model with rule groups or --grades; MQLs
/// by grade under a grade policy): cells are trimmed, and empty cells and the model's placeholders (--na at
/// training) are missing.
///
/// Example:
///   mqlcal export --model models/lead-model.json --format sql --dialect postgres --table leads --out score.sql
///   mqlcal export --model models/lead-model.json --format pmml --out lead-model.pmml
///   mqlcal export --model models/lead-model.json --format points-sheet --out points.csv
///
/// A model with event rules (`train --events`) reads the activity log in the warehouse: the
/// query aggregates --events-table per lead and joins it to --table on the id column, counting
/// events up to --as-of (or CURRENT_DATE).
///   mqlcal export --model models/lead-model.json --format sql --dialect duckdb --table leads --events-table events --as-of 2026-12-01 --out score.sql
///
/// Training past one machine: `--format sql-counts` writes the GROUP BY query that turns a
/// warehouse table of leads into rule-pattern counts (PostgreSQL, DuckDB, BigQuery, Snowflake,
/// Spark SQL and SQLite run it); save its result as CSV or Parquet and fit it with
/// `mqlcal train --counts`. The warehouse does the scan, mqlcal the fit.
///   mqlcal export --format sql-counts --rules data/rules.toml --dialect duckdb --table leads --out counts.sql
///   mqlcal export --format sql-counts --rules data/rules.toml --dialect spark --table crm.leads --out counts.sql
///
/// With event rules, --events-table counts snapshots (each lead at each --snapshots date at
/// which it was open, with its events by then), as `train --events` does in memory:
///   mqlcal export --format sql-counts --rules rules.toml --dialect postgres --table crm.leads \
///       --events-table crm.events --snapshots monthly --as-of 2026-12-01 \
///       --date created_at --outcome-date opportunity_date --out snapshots.sql
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The model file (from `mqlcal train`). With --format sql-counts, its rules, target and
    /// placeholders are counted (to retrain); give --rules instead before the first training.
    #[arg(long, required_unless_present = "rules")]
    model: Option<PathBuf>,
    /// Rules file (with --format sql-counts, instead of --model).
    #[arg(long, conflicts_with = "model")]
    rules: Option<PathBuf>,
    /// Outcome column (with --format sql-counts and --rules). Overrides `target` in the rules
    /// file.
    #[arg(long)]
    target: Option<String>,
    /// Texts that mean "no value", comma-separated (with --format sql-counts and --rules);
    /// train with the same --na.
    #[arg(long, value_delimiter = ',', value_name = "TEXT,...")]
    na: Vec<String>,
    /// Compare cells with the --na texts ignoring the case of A-Z (with --format sql-counts
    /// and --rules); train with the same flag, e.g. --na Select --na-ignore-case.
    #[arg(long)]
    na_ignore_case: bool,
    /// What to write: sql (a query for a warehouse), pmml (a PMML 4.4 scorecard),
    /// points-sheet (CSV of the rules in words, their points and the threshold) or sql-counts
    /// (a query counting leads and conversions per rule pattern, for `train --counts`).
    #[arg(long, value_enum)]
    format: Format,
    /// The date date rules (`within_days`, `older_than_days`) and event rules count back from
    /// in the SQL export, e.g. --as-of 2026-12-01. Default: the warehouse's CURRENT_DATE when the query
    /// runs. With --format sql-counts --events-table (needed): the last snapshot date, which
    /// training takes as its --as-of. The SQL reads the first ten characters of the date column as text (YYYY-MM-DD):
    /// a DATE, a TIMESTAMP (its date as stored; convert one with a time zone to UTC first) or
    /// ISO text. (The PMML takes the date with each lead, as its input field `as_of`.)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::train::parse_as_of)]
    as_of: Option<chrono::NaiveDate>,
    /// SQL dialect (with --format sql or sql-counts): postgres, sqlite, duckdb, bigquery,
    /// snowflake or spark. It sets the quoting and the few spellings that differ.
    #[arg(long, value_enum, required_if_eq_any([("format", "sql"), ("format", "sql-counts")]))]
    dialect: Option<Dialect>,
    /// The table holding one row per lead (with --format sql or sql-counts); `schema.table` is
    /// fine.
    #[arg(long, required_if_eq_any([("format", "sql"), ("format", "sql-counts")]), value_name = "TABLE")]
    table: Option<TableName>,
    /// The table of events event rules count (with --format sql or sql-counts): one row per
    /// event, its columns named as at training (the rules file's [events]: id, type, at;
    /// default lead_id, event, at). The query aggregates it per lead id and LEFT JOINs it to
    /// --table on the id column (a lead without events counts 0); an event's day is the date
    /// its time starts with (YYYY-MM-DD), and events after --as-of (or CURRENT_DATE) do not
    /// count. Needed when the rules have event rules, refused when they have none. With
    /// sql-counts it counts snapshots (see --snapshots).
    #[arg(long, value_name = "TABLE")]
    events_table: Option<TableName>,
    /// With --format sql-counts --events-table: the snapshot dates, as `train --snapshots`
    /// takes them: monthly (the 1st of each month), weekly (Mondays) or dates. Each lead is
    /// counted at each of them on or before --as-of, after the oldest lead's creation, at which
    /// it was open, with its events on or before that date.
    ///   --snapshots monthly   --snapshots 2026-01-01,2026-04-01
    #[arg(long, value_name = "CADENCE", verbatim_doc_comment)]
    snapshots: Option<mqlcal::events::snapshots::Cadence>,
    /// With --snapshots monthly or weekly: the first date the query lists (default: 3 years
    /// before --as-of). Dates before the oldest lead's creation are dropped in the warehouse;
    /// from that creation date (or earlier) the snapshots are those of `train --events`.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::train::parse_as_of)]
    snapshots_from: Option<chrono::NaiveDate>,
    /// With --events-table and sql-counts: the events table's id, type and time columns,
    /// over the rules file's [events] (or the model's):
    ///   --events-columns "Lead ID,Activity Type,Activity Date"
    #[arg(long, value_name = "ID,TYPE,AT", value_parser = super::train::parse_event_columns, verbatim_doc_comment)]
    events_columns: Option<mqlcal::events::EventColumns>,
    /// Write `CREATE VIEW NAME AS SELECT …` instead of a bare SELECT (with --format sql). Spark
    /// SQL's catalog takes view names of letters, digits and _ only.
    #[arg(long, value_name = "NAME")]
    view: Option<TableName>,
    /// With --format sql-counts: count by creation and opportunity date too, for training with
    /// a window (`train --counts … --window 90d --date … --outcome-date …`). The opportunity
    /// date column of --table (empty: none yet), or with --outcomes-table of that table.
    #[arg(
        long,
        value_name = "COLUMN",
        requires = "date",
        conflicts_with = "target"
    )]
    outcome_date: Option<String>,
    /// The leads' creation date column (with --outcome-date).
    #[arg(long, value_name = "COLUMN", requires = "outcome_date")]
    date: Option<String>,
    /// Sales' table of the leads that became opportunities (with --outcome-date, its date
    /// column), joined to --table on the lead id (--id, or the rules file's `id`); each id
    /// counts once, at its earliest date.
    #[arg(long, value_name = "TABLE", requires = "outcome_date")]
    outcomes_table: Option<TableName>,
    /// The lead id column both tables have (with --outcomes-table). Overrides `id` in the rules
    /// file or the model.
    #[arg(long, value_name = "COLUMN", requires = "outcomes_table")]
    id: Option<String>,
    /// Where to write the export.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let option = |flag: &'static str, message: &str| -> anyhow::Error {
        mqlcal::Error::Option {
            option: flag,
            message: message.into(),
        }
        .into()
    };
    let sql_like = matches!(args.format, Format::Sql | Format::SqlCounts);
    let is_counts = args.format == Format::SqlCounts;

    let from_rules = is_counts && args.rules.is_some();
    let sql_or_counts = "--format sql or sql-counts";
    for (given, flag, applies, when) in [
        (args.dialect.is_some(), "--dialect", sql_like, sql_or_counts),
        (args.table.is_some(), "--table", sql_like, sql_or_counts),
        (
            args.as_of.is_some(),
            "--as-of",
            sql_like,
            "--format sql or sql-counts (the PMML takes the as-of date with each lead, as its \
             input field as_of)",
        ),
        (
            args.view.is_some(),
            "--view",
            args.format == Format::Sql,
            "--format sql",
        ),
        (
            args.events_table.is_some(),
            "--events-table",
            sql_like,
            sql_or_counts,
        ),
        (
            args.snapshots.is_some(),
            "--snapshots",
            is_counts,
            "--format sql-counts --events-table",
        ),
        (
            args.snapshots_from.is_some(),
            "--snapshots-from",
            is_counts,
            "--format sql-counts --events-table",
        ),
        (
            args.events_columns.is_some(),
            "--events-columns",
            is_counts,
            "--format sql-counts --events-table (the scoring SQL reads the columns the model \
             records)",
        ),
        (
            args.rules.is_some(),
            "--rules",
            is_counts,
            "--format sql-counts",
        ),
        (
            args.target.is_some(),
            "--target",
            from_rules,
            "--format sql-counts --rules",
        ),
        (
            !args.na.is_empty(),
            "--na",
            from_rules,
            "--format sql-counts --rules",
        ),
        (
            args.outcome_date.is_some(),
            "--outcome-date",
            is_counts,
            "--format sql-counts",
        ),
    ] {
        if given && !applies {
            return Err(option(
                flag,
                &format!("only applies with {when}; leave it out"),
            ));
        }
    }
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    if args.format == Format::SqlCounts {
        return counts(&args);
    }
    let model_path = args
        .model
        .as_ref()
        .ok_or_else(|| option("--model", "this format exports a model; give --model"))?;
    let model = Model::load(model_path)?;
    let (exporter, what): (Box<dyn Exporter>, String) = match args.format {
        Format::Sql => {
            // clap requires both with --format sql.
            let dialect = args.dialect.expect("required with --format sql");
            let table = args.table.clone().expect("required with --format sql");
            if args.events_table.is_some() && !model.rules.iter().any(|r| r.event.is_some()) {
                return Err(option(
                    "--events-table",
                    "the model has no event rules; leave out --events-table",
                ));
            }
            let what = match &args.view {
                Some(_) => format!("{} CREATE VIEW", dialect.label()),
                None => format!("{} SELECT", dialect.label()),
            };
            (
                Box::new(Sql {
                    dialect,
                    table,
                    view: args.view.clone(),
                    as_of: args.as_of,
                    events: args.events_table.clone(),
                }),
                what,
            )
        }
        Format::Pmml => (Box::new(Pmml), "PMML 4.4 scorecard".into()),
        Format::PointsSheet => (Box::new(PointsSheet), "points sheet".into()),
        Format::SqlCounts => unreachable!("handled above"),
    };
    let bytes = exporter.export(&model)?;
    mqlcal::atomic::write_bytes(&args.out, &bytes, args.force)?;
    let mql = match model.threshold.threshold.policy {
        mqlcal::threshold::Policy::Grade(cell) => format!("MQL by grade {cell} or better"),
        _ => format!("MQL at {} points", model.threshold.threshold.points),
    };
    say!(
        "wrote {} ({what}: {} rules, {mql})",
        args.out.display(),
        model.rules.len()
    );
    super::ui::summary(&serde_json::json!({
        "out": args.out,
        "format": what,
        "rules": model.rules.len(),
        "threshold": model.threshold.threshold.points,
        "policy": model.threshold.threshold.policy.to_string(),
    }))
}

/// `--format sql-counts`, from a rules file or a model's rules.
fn counts(args: &Args) -> anyhow::Result<()> {
    let (rules, target, na, na_ignore_case, id, columns) = match (&args.model, &args.rules) {
        (Some(path), _) => {
            let model = Model::load(path)?;
            (
                model.rules(),
                model.target.clone(),
                model.training.na.clone(),
                model.training.na_ignore_case,
                model.id_column.clone(),
                model.training.events.as_ref().map(|e| e.columns.clone()),
            )
        }
        (None, Some(path)) => {
            let file = RulesFile::read(path)?;
            let rules = file
                .checked_rules()
                .map_err(|message| mqlcal::Error::Rules {
                    path: path.clone(),
                    message,
                })?;
            // With --outcome-date the outcome is the date: no 0/1 column is read.
            let target = match &args.outcome_date {
                Some(column) => column.clone(),
                None => {
                    args.target
                        .clone()
                        .or(file.target.clone())
                        .ok_or(mqlcal::Error::Option {
                            option: "--target",
                            message:
                                "no outcome column: pass --target, or set `target` in the rules \
                              file (or count opportunity dates with --outcome-date)"
                                    .into(),
                        })?
                }
            };
            (
                rules,
                target,
                args.na.clone(),
                args.na_ignore_case,
                file.id.clone(),
                file.events.clone(),
            )
        }
        (None, None) => unreachable!("clap requires --model or --rules"),
    };
    let events = snapshot_events(args, &rules, id.as_deref(), columns)?;
    let dialect = args.dialect.expect("required with --format sql-counts");
    let n = rules.len();
    let dated = match &args.outcome_date {
        None => None,
        Some(opportunity) => Some(DatedCounts {
            created: args.date.clone().expect("clap requires --date"),
            opportunity: opportunity.clone(),
            join: match &args.outcomes_table {
                None => None,
                Some(table) => {
                    let id = args.id.clone().or(id).ok_or(mqlcal::Error::Option {
                        option: "--id",
                        message: "joining --outcomes-table to the leads needs the lead id \
                                  column: pass --id, or set `id` in the rules file"
                            .into(),
                    })?;
                    Some((table.clone(), id))
                }
            },
        }),
    };
    let dates = events
        .as_ref()
        .map(|e| (e.dates.len(), e.dates[0], e.as_of));
    let sql = SqlCounts {
        dialect,
        table: args
            .table
            .clone()
            .expect("required with --format sql-counts"),
        target,
        rules: rules
            .into_iter()
            .map(|r| (r.name, r.column, r.condition))
            .collect(),
        na,
        na_ignore_case,
        dated,
        events,
    }
    .query()?;
    mqlcal::atomic::write_bytes(&args.out, sql.as_bytes(), args.force)?;
    say!(
        "wrote {} ({} GROUP BY over {n} rules; train on its result with `mqlcal train --counts`)",
        args.out.display(),
        dialect.label()
    );
    if let Some((n, first, as_of)) = dates {
        say!(
            "snapshots: {n} dates listed from {first} to {as_of} (those after the oldest lead's \
             creation count); train with --as-of {as_of}"
        );
    }
    super::ui::summary(&serde_json::json!({
        "out": args.out,
        "format": format!("{} counts GROUP BY", dialect.label()),
        "rules": n,
    }))
}

/// With `--events-table`: the activity log and snapshot dates of snapshot counts, after
/// checking what they need (event rules with fixed half-lives, --snapshots, --as-of, the
/// dates, the id). Without it, rules that count events are refused, naming the rule and the
/// flag. `columns` are the rules file's (or model's) `[events]`.
fn snapshot_events(
    args: &Args,
    rules: &[mqlcal::rules::Rule],
    id: Option<&str>,
    columns: Option<mqlcal::events::EventColumns>,
) -> anyhow::Result<Option<SnapshotEvents>> {
    let option = |flag: &'static str, message: String| -> anyhow::Error {
        mqlcal::Error::Option {
            option: flag,
            message,
        }
        .into()
    };
    let event_rule = mqlcal::events::first_event_rule(rules).map(|r| r.name.clone());
    let Some(table) = &args.events_table else {
        if let Some(name) = event_rule {
            return Err(mqlcal::Error::Export(format!(
                "sql-counts: rule '{name}' counts events of an activity log: count snapshots \
                 of the leads with their events with --events-table TABLE --snapshots monthly \
                 --as-of DATE (and --date, --outcome-date), or train with `mqlcal train \
                 --events`"
            ))
            .into());
        }
        for (given, flag) in [
            (args.as_of.is_some(), "--as-of"),
            (args.snapshots.is_some(), "--snapshots"),
            (args.snapshots_from.is_some(), "--snapshots-from"),
            (args.events_columns.is_some(), "--events-columns"),
        ] {
            if given {
                return Err(option(
                    flag,
                    "with --format sql-counts, only applies to snapshots of event rules \
                     (--events-table); leave it out"
                        .into(),
                ));
            }
        }
        return Ok(None);
    };
    if event_rule.is_none() {
        return Err(option(
            "--events-table",
            "no rule counts events; leave out --events-table".into(),
        ));
    }
    mqlcal::rules::events::no_learnt_half_life(rules, "counting snapshots in the warehouse")
        .map_err(mqlcal::Error::Export)?;
    let cadence = args.snapshots.clone().ok_or_else(|| {
        option(
            "--snapshots",
            "snapshot counts need the snapshot dates: pass --snapshots monthly (the 1st of each \
             month), weekly (Mondays) or a list of dates, as for `train --events`"
                .into(),
        )
    })?;
    let as_of = args.as_of.ok_or_else(|| {
        option(
            "--as-of",
            "snapshot counts need the date they run up to (training takes it as its --as-of): \
             pass --as-of YYYY-MM-DD, e.g. the date the data was taken"
                .into(),
        )
    })?;
    if args.outcome_date.is_none() {
        return Err(option(
            "--outcome-date",
            "snapshots are taken of open leads, and the outcome is an opportunity within the \
             window after each: pass --outcome-date COLUMN and --date COLUMN (the creation date)"
                .into(),
        ));
    }
    let id = args.id.as_deref().or(id).ok_or_else(|| {
        option(
            "--id",
            "events are joined to leads by their id: pass --id, or set `id` in the rules file"
                .into(),
        )
    })?;
    let from = match (&cadence, args.snapshots_from) {
        (mqlcal::events::snapshots::Cadence::Dates(_), Some(_)) => {
            return Err(option(
                "--snapshots-from",
                "--snapshots gives the dates themselves; leave out --snapshots-from".into(),
            ))
        }
        (mqlcal::events::snapshots::Cadence::Dates(_), None) => chrono::NaiveDate::MIN,
        (_, Some(from)) => from,
        (_, None) => as_of - chrono::Months::new(DEFAULT_SNAPSHOT_MONTHS),
    };
    // Cadence::dates lists the dates after its first argument.
    let dates = cadence.dates(from.pred_opt().unwrap_or(from), as_of);
    if dates.is_empty() {
        return Err(option(
            "--snapshots",
            match cadence {
                mqlcal::events::snapshots::Cadence::Dates(_) => {
                    format!("none of the dates is on or before --as-of {as_of}")
                }
                _ => format!(
                    "no {cadence} snapshot date from {from} to --as-of {as_of}; give an earlier \
                     --snapshots-from"
                ),
            },
        ));
    }
    Ok(Some(SnapshotEvents {
        table: table.clone(),
        columns: args.events_columns.clone().or(columns).unwrap_or_default(),
        sources: mqlcal::events::event_columns(rules),
        id: id.to_string(),
        dates,
        as_of,
        cadence: cadence.to_string(),
    }))
}

/// How far back `--snapshots monthly|weekly` lists dates without `--snapshots-from`: 3 years
/// (36 monthly or 157 weekly dates), enough for the leads a model learns from today, and a
/// query of reasonable length.
const DEFAULT_SNAPSHOT_MONTHS: u32 = 36;
