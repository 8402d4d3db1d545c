use std::path::{Path, PathBuf};

use mqlcal::fit::{Bootstrap, Weights};
use mqlcal::model::Model;
use mqlcal::report::{self, numbers, DateColumns, ScoredTable};
use ndarray::ArrayView2;

/// Draw the conversion diagnostics of a model on leads with known outcomes.
///
/// Writes a folder with a PNG and an SVG of each chart (reliability, conversion by score band,
/// gains and lift, ROC and precision–recall, threshold trade-off, rule points, drift, and
/// monthly cohorts with --date), metrics.json with every number shown, and index.html, one
/// self-contained page that opens in any browser.
///
/// Example:
///   mqlcal report --model models/lead-model.json --data holdout.csv --out reports/2026-11/
///   mqlcal report --model models/lead-model.json --data holdout.csv --out reports/2026-11/ \
///       --date created_at --train-data data/leads.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The model file (from `mqlcal train`).
    #[arg(long)]
    model: PathBuf,
    /// Leads with known outcomes (the model's target column): .csv or .parquet.
    #[arg(long)]
    data: PathBuf,
    /// The report folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    options: ReportOptions,
    /// The model's training data: adds bootstrap intervals to the rule points.
    #[arg(long, value_name = "FILE")]
    train_data: Option<PathBuf>,
    /// Extra texts that mean "no value", on top of those the model was trained with.
    #[arg(long, value_delimiter = ',', value_name = "TEXT,...")]
    na: Vec<String>,
    #[command(flatten)]
    read: super::read::ReadArgs,
}

/// Report options shared by `report` and `train --report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportOptions {
    /// Column with the lead's creation date (YYYY-MM-DD): adds the monthly cohort view.
    #[arg(long, value_name = "COLUMN")]
    pub date: Option<String>,
    /// Column with the date the lead became an MQL: adds MQL velocity (needs --date).
    #[arg(long, value_name = "COLUMN", requires = "date")]
    pub mql_date: Option<String>,
    /// Bootstrap refits for the rule-points intervals.
    #[arg(long, default_value_t = 30)]
    pub bootstrap: usize,
}

impl ReportOptions {
    pub fn dates(&self) -> DateColumns {
        DateColumns {
            created: self.date.clone(),
            mql: self.mql_date.clone(),
        }
    }
}

/// 90% intervals of the rule points from bootstrap refits on the training features.
pub fn intervals(
    model: &Model,
    x: ArrayView2<f64>,
    y: &[bool],
    resamples: usize,
    progress: &dyn mqlcal::progress::Progress,
) -> anyhow::Result<Option<numbers::RuleIntervals>> {
    if resamples == 0 {
        return Ok(None);
    }
    let start = Weights {
        intercept: model.training.intercept,
        coef: model.rules.iter().map(|r| r.weight).collect(),
        gradient_norm: f64::NAN,
    };
    let iv = Bootstrap {
        alpha: model.training.alpha,
        scale: model.scale,
        resamples,
        seed: model.training.seed,
    }
    .points(x, y, &start, progress)?;
    Ok(Some(numbers::RuleIntervals {
        resamples,
        intervals: iv,
    }))
}

pub fn model_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

pub fn run(args: Args, bars: &super::ui::Bars) -> anyhow::Result<()> {
    report::check_out(&args.out, args.force)?;
    let model = Model::load(&args.model)?;
    let table = super::score::load_leads(&model, &args.data, &args.na, &args.read, None, bars)?;
    let scored = ScoredTable::score(&model, &table, &args.options.dates())?;
    let intervals = match &args.train_data {
        Some(path) => {
            let train = super::score::load_leads(&model, path, &args.na, &args.read, None, bars)?;
            let x = mqlcal::rules::features::rule_features(&train, &model.rules())?;
            let y = train.outcomes(&model.target)?;
            intervals(&model, x.view(), &y, args.options.bootstrap, bars)?
        }
        None => None,
    };
    let source = model_name(&args.data);
    let n = numbers::compute(&model, &scored.view(), source, intervals);
    report::write(&args.out, args.force, &model_name(&args.model), &n)?;
    print_summary(&args.out, &n);
    super::ui::summary(&Summary {
        out: &args.out,
        numbers: &n,
    })
}

/// `--json`: where the report is and every number in it (as in its metrics.json).
#[derive(serde::Serialize)]
struct Summary<'a> {
    out: &'a Path,
    #[serde(flatten)]
    numbers: &'a numbers::ReportNumbers,
}

pub fn print_summary(out: &Path, n: &numbers::ReportNumbers) {
    crate::say!(
        "report on {} ({} leads): ROC AUC {:.3}, calibration error {:.4}, score PSI {:.3}",
        n.source,
        n.funnel.leads,
        n.metrics.roc_auc,
        n.metrics.ece,
        n.score_psi
    );
    for d in n.drift.iter().filter(|d| d.flagged) {
        eprintln!(
            "mqlcal: warning: rule '{}' has drifted from training (PSI {:.3} > {})",
            d.name,
            d.psi,
            numbers::PSI_FLAG
        );
    }
    crate::say!("report written to {}", out.join("index.html").display());
}
