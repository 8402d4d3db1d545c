use std::path::PathBuf;

use mqlcal::data::{write_frame, LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::rules::features::number_columns;
use mqlcal::train::score_patterns;
use polars::prelude::*;

use super::ui::Bars;
use super::warn_all;
use crate::say;

/// Score new leads with a model file: score, calibrated probability, MQL flag and reasons.
///
/// Output rows are in input order: the id column (when the model has one), then `score`
/// (points), `probability`, `mql` (true/false) and `reasons` (the rules that gave the most
/// points, largest first). A model whose rules have groups adds one `<group>_score` column per
/// group (the points of that group's rules), and a model trained with --grades a `grade`
/// column (A1 … D4).
///
/// Example: mqlcal score --model models/lead-model.json --data new_leads.csv --out scored.csv
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file (from `mqlcal train`).
    #[arg(long)]
    model: PathBuf,
    /// Leads to score: .csv or .parquet.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the scored leads: .csv or .parquet.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
    /// How many reasons to list per lead.
    #[arg(long, default_value_t = 3)]
    reasons: usize,
    /// Extra texts that mean "no value", on top of those the model was trained with.
    #[arg(long, value_delimiter = ',', value_name = "TEXT,...")]
    na: Vec<String>,
    /// The activity log, for a model with event rules (`event = "..."`): .csv or .parquet, one
    /// row per event, its columns as in training (the model records them) unless
    /// --events-columns says otherwise. Each lead's events up to --as-of count.
    ///   --events events.parquet --as-of 2026-12-01
    #[arg(long, value_name = "FILE", verbatim_doc_comment)]
    events: Option<PathBuf>,
    /// The events file's lead id, type and time columns:
    ///   --events-columns "Lead ID,Activity Type,Activity Date"
    #[arg(long, value_name = "ID,TYPE,AT", requires = "events", value_parser = super::train::parse_event_columns, verbatim_doc_comment)]
    events_columns: Option<mqlcal::events::EventColumns>,
    /// The date scoring is relative to, for rules on dates and activity logs ("within 7
    /// days"), e.g. --as-of 2026-12-01. Default: today (UTC); said on stderr and in --json
    /// when the model has such rules. A date rule's cells are YYYY-MM-DD, or a timestamp after
    /// it: one with a UTC offset counts on its UTC day, one without is taken as UTC.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::train::parse_as_of)]
    as_of: Option<chrono::NaiveDate>,
    #[command(flatten)]
    read: super::read::ReadArgs,
}

/// The reference date of `--as-of`, or today in UTC.
pub(crate) fn as_of_or_today(as_of: Option<chrono::NaiveDate>) -> chrono::NaiveDate {
    as_of.unwrap_or_else(|| chrono::Utc::now().date_naive())
}

/// `--json`: counts a scheduler can check before passing the file on.
#[derive(serde::Serialize)]
struct Summary<'a> {
    out: &'a std::path::Path,
    leads: usize,
    mqls: usize,
    lead_to_mql_rate: f64,
    threshold: i64,
    /// The MQL policy, e.g. `grade:B2` (MQLs by grade rather than by `threshold`).
    policy: String,
    /// The sub-score columns written, one per rule group.
    sub_scores: Vec<String>,
    /// Leads per grade, A1 … D4, when the model grades.
    #[serde(skip_serializing_if = "Option::is_none")]
    grades: Option<std::collections::BTreeMap<String, usize>>,
    /// The date the leads were scored as of (`YYYY-MM-DD`), when the model's rules depend on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<String>,
    notes: &'a [String],
}

/// Reads leads to score with `model`: the "no value" texts it was trained with, plus `extra_na`,
/// read as its training file was unless `read` says otherwise; only `columns` when given.
pub(crate) fn load_leads(
    model: &Model,
    data: &std::path::Path,
    extra_na: &[String],
    read: &super::read::ReadArgs,
    columns: Option<&[String]>,
    bars: &Bars,
) -> anyhow::Result<Table> {
    let mut na = model.training.na.clone();
    na.extend(extra_na.iter().cloned());
    let load = LoadOptions {
        na,
        exclude: Vec::new(),
        ..read.load_options(Some(&model.training))?
    };
    // The columns the rules read only as numbers are parsed while reading (never the id,
    // which is written out as it was read).
    let mut numeric = number_columns(&model.rules());
    let file_columns = model.columns();
    numeric.retain(|c| model.id_column.as_ref() != Some(c) && file_columns.contains(&c.as_str()));
    Ok(
        bars.spin(&format!("reading {}", data.display()), || match columns {
            Some(columns) => Table::load_columns_numeric(data, &load, columns, &numeric),
            None => Table::load(data, &load),
        })?,
    )
}

/// The activity log of `--events` for a model with event rules, and the id column it joins
/// the leads on: `None` for a model without event rules. A log given to a model without event
/// rules, or missing for one with them, is an error saying which. Shared by `score` and
/// `report`.
pub(super) fn model_events(
    model: &Model,
    table: &Table,
    path: Option<&std::path::Path>,
    columns: Option<&mqlcal::events::EventColumns>,
    read: &super::read::ReadArgs,
    bars: &Bars,
) -> anyhow::Result<Option<(mqlcal::events::Events, String)>> {
    let rules = model.rules();
    let (rule, path) = match (mqlcal::events::first_event_rule(&rules), path) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(mqlcal::Error::Option {
                option: "--events",
                message: "the model has no event rules; leave out --events".into(),
            }
            .into())
        }
        (Some(r), None) => {
            return Err(mqlcal::Error::Option {
                option: "--events",
                message: format!(
                    "rule '{}' counts events of an activity log: pass the log with --events \
                     FILE",
                    r.name
                ),
            }
            .into())
        }
        (Some(r), Some(path)) => (r, path),
    };
    let id = model.id_column.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "rule '{}' counts events, which are joined to leads by id, but the model has no id \
             column; retrain with --id",
            rule.name
        )
    })?;
    if !table.has_column(id) {
        return Err(table
            .missing_column(id, "events are joined to the leads by this id")
            .into());
    }
    let columns = columns
        .cloned()
        .or_else(|| model.training.events.as_ref().map(|e| e.columns.clone()))
        .unwrap_or_default();
    let load = read.load_options(Some(&model.training))?;
    let events = bars.spin(&format!("reading {}", path.display()), || {
        mqlcal::events::Events::load(path, &columns, &load, None)
    })?;
    Ok(Some((events, id.to_string())))
}

/// `table` with the model's event columns as of `as_of`, from `--events` (the table as it is
/// when the model has no event rules).
fn with_events(
    args: &Args,
    model: &Model,
    table: Table,
    as_of: chrono::NaiveDate,
    bars: &Bars,
) -> anyhow::Result<Table> {
    let found = model_events(
        model,
        &table,
        args.events.as_deref(),
        args.events_columns.as_ref(),
        &args.read,
        bars,
    )?;
    let Some((events, id)) = found else {
        return Ok(table);
    };
    Ok(mqlcal::events::with_event_columns(
        &table,
        &events,
        &model.rules(),
        &id,
        as_of,
    )?)
}

pub fn run(args: Args, bars: &Bars) -> anyhow::Result<()> {
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    let model = Model::load(&args.model)?;
    // Only rules that count days need a reference date; others are scored without one.
    let as_of = model.needs_as_of().then(|| as_of_or_today(args.as_of));
    if let Some(d) = as_of {
        say!(
            "scoring as of {d}{}",
            if args.as_of.is_none() {
                " (today, UTC; --as-of to change)"
            } else {
                ""
            }
        );
    }
    // Only the columns the model reads (and the id) are parsed.
    let mut wanted: Vec<String> = model.columns().into_iter().map(String::from).collect();
    wanted.extend(model.id_column.clone());
    let mut table = load_leads(
        &model,
        &args.data,
        &args.na,
        &args.read,
        Some(&wanted),
        bars,
    )?;
    if let Some(d) = as_of {
        table.set_dates_as_of(d, model.training.date_rules_format.as_deref());
        for w in mqlcal::rules::features::future_dates(
            &table,
            &model.rules(),
            model.id_column.as_deref(),
        )? {
            eprintln!("mqlcal: warning: {w}");
        }
    }
    let table = with_events(
        &args,
        &model,
        table,
        as_of.unwrap_or_else(|| as_of_or_today(args.as_of)),
        bars,
    )?;
    let (patterns, lead_pattern) = bars.spin("scoring", || score_patterns(&model, &table))?;
    let mut columns = Vec::new();
    if let Some(id) = &model.id_column {
        if !table.has_column(id) {
            return Err(table
                .missing_column(
                    id,
                    "the model's id column is needed to tell the scored leads apart",
                )
                .into());
        }
        // Ids as `mqlcal` reads them (trimmed; placeholders missing), the cells themselves
        // when no id needs either.
        columns.push(table.texts_column(id)?.into_column());
    }
    // Each pattern's score, probability, MQL flag and reasons once, then gathered for every
    // lead by polars (the reasons' text is shared by the leads, not copied per lead).
    let mut per_pattern = DataFrame::new(vec![
        Column::new(
            "score".into(),
            patterns.iter().map(|s| s.score).collect::<Vec<i64>>(),
        ),
        Column::new(
            "probability".into(),
            patterns
                .iter()
                .map(|s| s.probability.0)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "mql".into(),
            patterns.iter().map(|s| s.mql).collect::<Vec<bool>>(),
        ),
    ])?;
    let names = model.group_names();
    let sub_columns: Vec<String> = names
        .iter()
        .map(|g| mqlcal::grades::sub_score_column(g))
        .collect();
    for (i, column) in sub_columns.iter().enumerate() {
        per_pattern.with_column(Column::new(
            column.as_str().into(),
            patterns
                .iter()
                .map(|s| s.sub_scores[i])
                .collect::<Vec<i64>>(),
        ))?;
    }
    if model.grades.is_some() {
        per_pattern.with_column(Column::new(
            mqlcal::grades::GRADE_COLUMN.into(),
            patterns
                .iter()
                .map(|s| s.grade.map(|g| g.to_string()))
                .collect::<Vec<Option<String>>>(),
        ))?;
    }
    per_pattern.with_column(Column::new(
        "reasons".into(),
        patterns
            .iter()
            .map(|s| model.reasons_text(s, args.reasons))
            .collect::<Vec<String>>(),
    ))?;
    let leads = lead_pattern.len();
    let idx = IdxCa::from_vec(
        "pattern".into(),
        lead_pattern.iter().map(|&p| p as IdxSize).collect(),
    );
    let scored = per_pattern.take(&idx)?;
    let mqls = scored.column("mql")?.bool()?.sum().unwrap_or(0) as usize;
    let grades = model.grades.as_ref().map(|_| {
        let mut counts: std::collections::BTreeMap<String, usize> = mqlcal::grades::Grade::all()
            .map(|g| (g.to_string(), 0))
            .collect();
        for &p in &lead_pattern {
            if let Some(g) = patterns[p as usize].grade {
                *counts.entry(g.to_string()).or_default() += 1;
            }
        }
        counts
    });
    columns.extend(scored.take_columns());
    let mut df = DataFrame::new(columns)?;
    bars.spin(&format!("writing {}", args.out.display()), || {
        write_frame(&mut df, &args.out, args.force)
    })?;
    let rate = mqls as f64 / leads as f64;
    warn_all(&table.notes);
    let policy = model.threshold.threshold.policy;
    let at = match policy {
        mqlcal::threshold::Policy::Grade(cell) => format!("by grade {cell} or better"),
        _ => format!("at threshold {} points", model.threshold.threshold.points),
    };
    say!(
        "scored {} leads: {} MQLs ({}) {at}; written to {}",
        leads,
        mqls,
        super::pct(rate),
        args.out.display()
    );
    super::ui::summary(&Summary {
        out: &args.out,
        leads,
        mqls,
        lead_to_mql_rate: rate,
        threshold: model.threshold.threshold.points,
        policy: policy.to_string(),
        sub_scores: sub_columns,
        grades,
        as_of: as_of.map(|d| d.to_string()),
        notes: &table.notes,
    })
}
