use std::path::PathBuf;

use crate::say;
use mqlcal::export::sql::TableName;
use mqlcal::export::{Dialect, Exporter, Format, Pmml, PointsSheet, Sql};
use mqlcal::model::Model;

/// Export a model to where leads are scored: SQL for a warehouse, a PMML scorecard, or a
/// points sheet to enter into a marketing automation tool.
///
/// The SQL and PMML exports give exactly the scores, probabilities and MQL flags of
/// `mqlcal score`: cells are trimmed, and empty cells and the model's placeholders (--na at
/// training) are missing.
///
/// Example:
///   mqlcal export --model models/lead-model.json --format sql --dialect postgres --table leads --out score.sql
///   mqlcal export --model models/lead-model.json --format pmml --out lead-model.pmml
///   mqlcal export --model models/lead-model.json --format points-sheet --out points.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The model file (from `mqlcal train`).
    #[arg(long)]
    model: PathBuf,
    /// What to write: sql (a query for a warehouse), pmml (a PMML 4.4 scorecard) or
    /// points-sheet (CSV of the rules in words, their points and the threshold).
    #[arg(long, value_enum)]
    format: Format,
    /// SQL dialect (with --format sql): quoting and the few spellings that differ.
    #[arg(long, value_enum, required_if_eq("format", "sql"))]
    dialect: Option<Dialect>,
    /// The table holding one row per lead (with --format sql); `schema.table` is fine.
    #[arg(long, required_if_eq("format", "sql"), value_name = "TABLE")]
    table: Option<TableName>,
    /// Write `CREATE VIEW NAME AS SELECT …` instead of a bare SELECT (with --format sql).
    #[arg(long, value_name = "NAME")]
    view: Option<TableName>,
    /// Where to write the export.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.format != Format::Sql {
        for (given, flag) in [
            (args.dialect.is_some(), "--dialect"),
            (args.table.is_some(), "--table"),
            (args.view.is_some(), "--view"),
        ] {
            if given {
                return Err(mqlcal::Error::Option {
                    option: flag,
                    message: "only applies with --format sql; leave it out".into(),
                }
                .into());
            }
        }
    }
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    let model = Model::load(&args.model)?;
    let (exporter, what): (Box<dyn Exporter>, String) = match args.format {
        Format::Sql => {
            // clap requires both with --format sql.
            let dialect = args.dialect.expect("required with --format sql");
            let table = args.table.clone().expect("required with --format sql");
            let what = match &args.view {
                Some(_) => format!("{} CREATE VIEW", dialect.label()),
                None => format!("{} SELECT", dialect.label()),
            };
            (
                Box::new(Sql {
                    dialect,
                    table,
                    view: args.view.clone(),
                }),
                what,
            )
        }
        Format::Pmml => (Box::new(Pmml), "PMML 4.4 scorecard".into()),
        Format::PointsSheet => (Box::new(PointsSheet), "points sheet".into()),
    };
    let bytes = exporter.export(&model)?;
    mqlcal::atomic::write_bytes(&args.out, &bytes, args.force)?;
    say!(
        "wrote {} ({what}: {} rules, MQL at {} points)",
        args.out.display(),
        model.rules.len(),
        model.threshold.threshold.points
    );
    super::ui::summary(&serde_json::json!({
        "out": args.out,
        "format": what,
        "rules": model.rules.len(),
        "threshold": model.threshold.threshold.points,
    }))
}
