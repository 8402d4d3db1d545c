//! Conversion diagnostics: from scored leads with known outcomes to a report folder with a PNG
//! and an SVG of each chart, `metrics.json` (every number the charts show) and `index.html`.
//! The folder is built beside its destination and renamed into place, so a failure never
//! leaves half a report.

pub mod charts;
pub mod html;
pub mod maturity;
pub mod numbers;

use std::path::Path;

use ndarray::Array2;

use crate::data::Table;
use crate::error::{Error, Result};
use crate::model::Model;
use numbers::{LeadDate, ReportNumbers, Scored};

/// Date columns for the cohort view.
#[derive(Debug, Clone, Default)]
pub struct DateColumns {
    /// When the lead was created (`YYYY-MM-DD…`).
    pub created: Option<String>,
    /// When the lead became an MQL, for MQL velocity.
    pub mql: Option<String>,
}

/// Parses `YYYY-MM-DD` at the start of a cell.
fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// Per lead: its creation month and days to MQL (when both dates are there).
pub fn read_dates(table: &Table, dates: &DateColumns) -> Result<Option<Vec<Option<LeadDate>>>> {
    let Some(created_col) = &dates.created else {
        return Ok(None);
    };
    let created = table.texts(created_col)?;
    let mql = dates.mql.as_deref().map(|c| table.texts(c)).transpose()?;
    let mut out = Vec::with_capacity(created.len());
    for (i, c) in created.iter().enumerate() {
        let Some(c) = c else {
            out.push(None);
            continue;
        };
        let day = parse_date(c).ok_or_else(|| Error::BadValue {
            path: table.path().to_path_buf(),
            row: i + 1,
            column: created_col.clone(),
            message: format!("'{c}' is not a date; expected YYYY-MM-DD"),
        })?;
        let days = mql
            .as_ref()
            .and_then(|m| m[i].as_deref())
            .and_then(parse_date)
            .map(|m| (m - day).num_days() as f64);
        out.push(Some(LeadDate {
            month: day.format("%Y-%m").to_string(),
            days_to_mql: days,
        }));
    }
    Ok(Some(out))
}

/// Scores, probabilities and features of a table of leads with outcomes, under `model`.
pub struct ScoredTable {
    pub scores: Vec<i64>,
    pub probabilities: Vec<f64>,
    pub outcomes: Vec<bool>,
    pub features: Array2<f64>,
    pub dates: Option<Vec<Option<LeadDate>>>,
}

impl ScoredTable {
    /// Scores `table` (which must hold the model's target column) with `model`.
    pub fn score(model: &Model, table: &Table, dates: &DateColumns) -> Result<ScoredTable> {
        let outcomes = table.outcomes(&model.target)?;
        ScoredTable::score_outcomes(model, table, dates, outcomes)
    }

    /// Scores `table` with `model`, given each lead's outcome (as [`crate::train::observed`]
    /// reads them, e.g. within a window).
    pub fn score_outcomes(
        model: &Model,
        table: &Table,
        dates: &DateColumns,
        outcomes: Vec<bool>,
    ) -> Result<ScoredTable> {
        let conversions = outcomes.iter().filter(|&&t| t).count();
        if conversions == 0 || conversions == outcomes.len() {
            return Err(Error::data(
                table.path(),
                format!(
                    "all {} leads have the same outcome in '{}'; a report needs leads that \
                     converted and leads that did not",
                    outcomes.len(),
                    model.target
                ),
            ));
        }
        let (features, scored) = crate::train::score_table_with_features(model, table)?;
        Ok(ScoredTable {
            scores: scored.iter().map(|s| s.score).collect(),
            probabilities: scored.iter().map(|s| s.probability.0).collect(),
            outcomes,
            features,
            dates: read_dates(table, dates)?,
        })
    }

    pub fn view(&self) -> Scored<'_> {
        Scored {
            scores: &self.scores,
            probabilities: &self.probabilities,
            outcomes: &self.outcomes,
            features: self.features.view(),
            dates: self.dates.clone(),
        }
    }
}

/// Checks, before any work, that the report folder may be written.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        return Err(Error::Exists {
            path: out.to_path_buf(),
        });
    }
    if out.exists() && !out.is_dir() {
        return Err(Error::data(
            out,
            "exists and is not a folder; choose another --out for the report folder",
        ));
    }
    Ok(())
}

/// Draws the charts and writes the folder `out` (replacing it only with `force`).
pub fn write(out: &Path, force: bool, model_name: &str, numbers: &ReportNumbers) -> Result<()> {
    check_out(out, force)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".mqlcal-report-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let charts = charts::draw_all(tmp.path(), numbers)?;
    let mut pngs = Vec::with_capacity(charts.len());
    for c in &charts {
        let p = tmp.path().join(format!("{}.png", c.stem));
        pngs.push(std::fs::read(&p).map_err(|e| Error::io(&p, e))?);
    }
    let json = serde_json::to_string_pretty(numbers).expect("numbers serialise") + "\n";
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
    };
    write("metrics.json", json.as_bytes())?;
    write(
        "index.html",
        html::page(model_name, numbers, &charts, &pngs).as_bytes(),
    )?;
    // Swap into place: the old report (with --force) moves aside first and goes last.
    let old = if out.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".mqlcal-old-")
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, e))?;
        let aside_path = aside.path().join("report");
        std::fs::rename(out, &aside_path).map_err(|e| Error::io(out, e))?;
        Some(aside)
    } else {
        None
    };
    let built = tmp.keep();
    std::fs::rename(&built, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&built);
        Error::io(out, e)
    })?;
    drop(old);
    Ok(())
}
