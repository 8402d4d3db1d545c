use std::path::{Path, PathBuf};

use mqlcal::data::outcomes::OutcomeSpec;
use mqlcal::fit::{Bootstrap, Weights};
use mqlcal::model::Model;
use mqlcal::report::maturity::Maturity;
use mqlcal::report::{self, numbers, DateColumns, ScoredTable};
use mqlcal::train::TrainParams;
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
    /// The date each lead became an opportunity, as in `train` (default: the model's, for a
    /// model trained with a window). With a window only leads whose window has passed are
    /// judged; the younger ones are counted and shown on the maturity chart.
    #[arg(long, value_name = "COLUMN")]
    outcome_date: Option<String>,
    /// Sales' list of opportunities for these leads, joined on the id (needed for a model
    /// trained with `train --outcomes`).
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
    /// The conversion window (default: the model's).
    #[arg(long, value_name = "DURATION")]
    window: Option<mqlcal::outcome::Window>,
    /// The date these outcomes were taken (default: the newest date in the data).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::train::parse_as_of)]
    as_of: Option<chrono::NaiveDate>,
    /// Layout of the dates when not ISO (default: the model's).
    #[arg(long, value_name = "FORMAT")]
    date_format: Option<String>,
    /// The activity log, for a model with event rules: the leads are then judged at the
    /// snapshot dates the model was trained at (each lead at each date it was open, with its
    /// events up to that date), as training judged them.
    ///   --events events.parquet
    #[arg(long, value_name = "FILE", verbatim_doc_comment)]
    events: Option<PathBuf>,
    /// The events file's lead id, type and time columns (default: the model's):
    ///   --events-columns "Lead ID,Activity Type,Activity Date"
    #[arg(long, value_name = "ID,TYPE,AT", requires = "events", value_parser = super::train::parse_event_columns, verbatim_doc_comment)]
    events_columns: Option<mqlcal::events::EventColumns>,
}

/// How the leads' outcomes are read: as the model was trained (outcome, window, dates), with
/// any flag given here in place of the model's.
fn outcome_params(model: &Model, args: &Args) -> anyhow::Result<TrainParams> {
    let mut p = TrainParams::from_model(model);
    if let Some(column) = &args.outcome_date {
        p.outcome = Some(match &args.outcomes {
            Some(file) => OutcomeSpec::Opportunities {
                file: file.clone(),
                column: column.clone(),
            },
            None => OutcomeSpec::Date {
                column: column.clone(),
            },
        });
    } else if let Some(new) = &args.outcomes {
        match &mut p.outcome {
            Some(OutcomeSpec::Opportunities { file, .. }) => *file = new.clone(),
            _ => {
                return Err(mqlcal::Error::Option {
                    option: "--outcomes",
                    message: "name the opportunity date column of the list with \
                              --outcome-date (the model was not trained on a list)"
                        .into(),
                }
                .into())
            }
        }
    } else if let Some(OutcomeSpec::Opportunities { file, .. }) = &p.outcome {
        return Err(mqlcal::Error::Option {
            option: "--outcomes",
            message: format!(
                "the model's outcome came from a list of opportunities ({}); give the list \
                 that goes with {}: --outcomes FILE",
                file.display(),
                args.data.display()
            ),
        }
        .into());
    }
    if args.window.is_some() {
        p.time.window = args.window;
    }
    if p.outcome.as_ref().is_some_and(OutcomeSpec::dated) {
        if let Some(date) = &args.options.date {
            p.date = Some(date.clone());
        }
    }
    p.time.as_of = args.as_of;
    if args.date_format.is_some() {
        p.time.date_format = args.date_format.clone();
    }
    p.check()?;
    Ok(p)
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
    /// Reliability diagram bins: uniform (ten of equal width, as the ECE uses) or quantile
    /// (ten of about equal numbers of leads): --bins quantile.
    #[arg(long, value_enum, default_value_t = numbers::Bins::Uniform)]
    pub bins: numbers::Bins,
}

/// Rebins the reliability diagram when `--bins` asks for other than the default.
pub fn rebin(n: &mut numbers::ReportNumbers, scored: &numbers::Scored, bins: numbers::Bins) {
    if bins != n.reliability_bins {
        n.reliability = numbers::reliability_by(
            scored.probabilities,
            scored.outcomes,
            mqlcal::metrics::ECE_BINS,
            bins,
        );
        n.reliability_bins = bins;
    }
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

/// The leads a report judges: with a window only those whose outcome is final (created at
/// least a window before as-of), the others being still able to convert.
fn judged(
    model: &Model,
    table: &mqlcal::data::Table,
    observed: &mqlcal::train::Observed,
    dates: &DateColumns,
) -> anyhow::Result<ScoredTable> {
    Ok(match Maturity::mature_rows(observed) {
        Some(rows) => {
            let mature = table.take(&rows)?;
            let y = rows.iter().map(|&i| observed.y[i]).collect();
            ScoredTable::score_outcomes(model, &mature, dates, y)?
        }
        None => ScoredTable::score_outcomes(model, table, dates, observed.y.clone())?,
    })
}

pub fn model_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The leads as the model judges them, and how: with event rules, its snapshot rows (each
/// lead at each snapshot date of the model's cadence at which it was open, its events up to
/// that date); with date rules, the dates counted back from as-of (`--as-of`, else that of
/// the outcomes). `events` is the model's activity log (read once, for the data and the
/// training data). Gives the rows and their outcomes as read.
fn in_time(
    model: &Model,
    table: mqlcal::data::Table,
    params: TrainParams,
    events: Option<&mqlcal::events::Events>,
) -> anyhow::Result<(mqlcal::data::Table, mqlcal::train::Observed)> {
    let (mut table, params) = match events {
        Some(events) => {
            let cadence: mqlcal::events::snapshots::Cadence = model
                .training
                .events
                .as_ref()
                .map_or(Ok(mqlcal::events::snapshots::Cadence::Monthly), |e| {
                    e.snapshots.parse()
                })
                .map_err(|e: String| anyhow::anyhow!("the model's snapshots: {e}"))?;
            let design = mqlcal::events::PointInTime {
                cadence: cadence.clone(),
                columns: mqlcal::events::event_columns(&model.rules()),
            };
            let (rows, p) = mqlcal::events::snapshot_rows(&table, events, &design, &params)?;
            crate::say!(
                "judging {} lead snapshots ({cadence}) of {} leads, each with its events up to \
                 its snapshot date, as the model was trained",
                rows.n_rows(),
                table.n_rows()
            );
            (rows, p)
        }
        None => (table, params),
    };
    let observed = mqlcal::train::observed(&table, &params)?;
    let dated = mqlcal::train::dated_for_rules(
        &table,
        &params,
        observed.clock.as_ref(),
        model.training.date_rules_format.as_deref(),
    )?;
    if let std::borrow::Cow::Owned(t) = dated {
        table = t;
    }
    Ok((table, observed))
}

pub fn run(args: Args, bars: &super::ui::Bars) -> anyhow::Result<()> {
    report::check_out(&args.out, args.force)?;
    let model = Model::load(&args.model)?;
    let table = super::score::load_leads(&model, &args.data, &args.na, &args.read, None, bars)?;
    let params = outcome_params(&model, &args)?;
    let events = super::score::model_events(
        &model,
        &table,
        args.events.as_deref(),
        args.events_columns.as_ref(),
        &args.read,
        bars,
    )?
    .map(|(events, _)| events);
    let (table, observed) = in_time(&model, table, params, events.as_ref())?;
    for w in &observed.warnings {
        eprintln!("mqlcal: warning: {w}");
    }
    let scored = judged(&model, &table, &observed, &args.options.dates())?;
    let intervals = match &args.train_data {
        Some(path) => {
            let train = super::score::load_leads(&model, path, &args.na, &args.read, None, bars)?;
            // Read as the model was trained; with a window, its mature leads (the refits
            // have no exposure for the young ones).
            let mut p = TrainParams::from_model(&model);
            p.time.as_of = model
                .training
                .as_of
                .as_deref()
                .and_then(|d| super::train::parse_as_of(d).ok());
            let (train, seen) = in_time(&model, train, p, events.as_ref())?;
            let mut x = mqlcal::rules::features::rule_features(&train, &model.rules())?;
            let mut y = seen.y.clone();
            if let Some(rows) = Maturity::mature_rows(&seen) {
                x = x.select(ndarray::Axis(0), &rows);
                y = rows.iter().map(|&i| y[i]).collect();
            }
            intervals(&model, x.view(), &y, args.options.bootstrap, bars)?
        }
        None => None,
    };
    let source = model_name(&args.data);
    let mut n = numbers::compute(&model, &scored.view(), source, intervals);
    rebin(&mut n, &scored.view(), args.options.bins);
    n.maturity = Maturity::of(&observed);
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
