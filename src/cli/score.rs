use std::path::PathBuf;

use mqlcal::data::{write_frame, LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::train::score_patterns;
use polars::prelude::*;

use super::ui::Bars;
use super::warn_all;
use crate::say;

/// Score new leads with a model file: score, calibrated probability, MQL flag and reasons.
///
/// Output rows are in input order: the id column (when the model has one), then `score`
/// (points), `probability`, `mql` (true/false) and `reasons` (the rules that gave the most
/// points, largest first).
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
}

/// `--json`: counts a scheduler can check before passing the file on.
#[derive(serde::Serialize)]
struct Summary<'a> {
    out: &'a std::path::Path,
    leads: usize,
    mqls: usize,
    lead_to_mql_rate: f64,
    threshold: i64,
    notes: &'a [String],
}

/// Reads leads to score with `model`: the "no value" texts it was trained with, plus `extra_na`;
/// only `columns` when given.
pub(crate) fn load_leads(
    model: &Model,
    data: &std::path::Path,
    extra_na: &[String],
    columns: Option<&[String]>,
    bars: &Bars,
) -> anyhow::Result<Table> {
    let mut na = model.training.na.clone();
    na.extend(extra_na.iter().cloned());
    let load = LoadOptions {
        na,
        exclude: Vec::new(),
    };
    Ok(
        bars.spin(&format!("reading {}", data.display()), || match columns {
            Some(columns) => Table::load_columns(data, &load, columns),
            None => Table::load(data, &load),
        })?,
    )
}

pub fn run(args: Args, bars: &Bars) -> anyhow::Result<()> {
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    let model = Model::load(&args.model)?;
    // Only the columns the model reads (and the id) are parsed.
    let mut wanted: Vec<String> = model.rules.iter().map(|r| r.column.clone()).collect();
    wanted.extend(model.id_column.clone());
    let table = load_leads(&model, &args.data, &args.na, Some(&wanted), bars)?;
    let (patterns, lead_pattern) = bars.spin("scoring", || score_patterns(&model, &table))?;
    let reasons: Vec<String> = patterns
        .iter()
        .map(|s| model.reasons_text(s, args.reasons))
        .collect();
    let mut columns = Vec::new();
    if let Some(id) = &model.id_column {
        if !table.has_column(id) {
            return Err(mqlcal::Error::MissingColumn {
                path: args.data.clone(),
                column: id.clone(),
                hint: "the model's id column is needed to tell the scored leads apart".into(),
            }
            .into());
        }
        // Ids as `mqlcal` reads them (trimmed; placeholders missing), without a copy per cell.
        let mut ids = StringChunkedBuilder::new(id.as_str().into(), table.n_rows());
        table.for_each_text(id, |v| ids.append_option(v))?;
        columns.push(ids.finish().into_column());
    }
    let per_lead = |f: &dyn Fn(&mqlcal::model::Scored) -> i64| -> Vec<i64> {
        lead_pattern
            .iter()
            .map(|&p| f(&patterns[p as usize]))
            .collect()
    };
    columns.push(Column::new("score".into(), per_lead(&|s| s.score)));
    columns.push(Column::new(
        "probability".into(),
        lead_pattern
            .iter()
            .map(|&p| patterns[p as usize].probability.0)
            .collect::<Vec<f64>>(),
    ));
    let mql: Vec<bool> = lead_pattern
        .iter()
        .map(|&p| patterns[p as usize].mql)
        .collect();
    let mqls = mql.iter().filter(|&&m| m).count();
    columns.push(Column::new("mql".into(), mql));
    let mut text = StringChunkedBuilder::new("reasons".into(), lead_pattern.len());
    for &p in &lead_pattern {
        text.append_value(&reasons[p as usize]);
    }
    columns.push(text.finish().into_column());
    let mut df = DataFrame::new(columns)?;
    bars.spin(&format!("writing {}", args.out.display()), || {
        write_frame(&mut df, &args.out, args.force)
    })?;
    let rate = mqls as f64 / lead_pattern.len() as f64;
    warn_all(&table.notes);
    say!(
        "scored {} leads: {} MQLs ({}) at threshold {} points; written to {}",
        lead_pattern.len(),
        mqls,
        super::pct(rate),
        model.threshold.threshold.points,
        args.out.display()
    );
    super::ui::summary(&Summary {
        out: &args.out,
        leads: lead_pattern.len(),
        mqls,
        lead_to_mql_rate: rate,
        threshold: model.threshold.threshold.points,
        notes: &table.notes,
    })
}
