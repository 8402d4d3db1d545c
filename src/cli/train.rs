use std::path::PathBuf;

use anyhow::Context;
use mqlcal::calibrate::Method;
use mqlcal::data::outcomes::{OutcomeSpec, TimeParams};
use mqlcal::data::{LoadOptions, Table, BATCH_ROWS};
use mqlcal::group::Groups;
use mqlcal::points::PointsScale;
use mqlcal::rules::auto::Monotone;
use mqlcal::rules::RulesFile;
use mqlcal::threshold::Policy;
use mqlcal::train::{train_dated_counts, train_file, train_groups, train_with, Input, TrainParams};
use serde::Serialize;

use super::ui::Bars;
use super::{pct, warn_all};
use crate::say;

/// Learn the points of each scoring rule, the calibration and the MQL threshold.
///
/// Reads historical leads (one row per lead, with the outcome "became an opportunity"), fits
/// L2-regularised logistic regression (strength chosen by cross-validated log loss), turns the
/// weights into integer points, calibrates score → probability on out-of-fold scores and picks
/// the MQL threshold by a policy. Writes one model file.
///
/// Example:
///   mqlcal train --data data/leads.csv --rules data/rules.toml --out models/lead-model.json
///   mqlcal train --data Leads.csv --target Converted --id "Prospect ID" --na Select \
///       --exclude "Tags,Lead Quality" --write-rules proposed.toml --out models/x.json
///
/// Past one machine: count rule patterns in the warehouse (`mqlcal export --format
/// sql-counts`), save the result as CSV or Parquet, and fit from it; the model is the one the
/// rows would give (only the record of its input differs):
///   mqlcal train --counts counts.parquet --rules data/rules.toml --out models/lead-model.json
/// With an activity log the warehouse counts snapshots (`export --format sql-counts
/// --events-table`); train on them with the window and the query's --as-of:
///   mqlcal train --counts snapshots.parquet --rules rules.toml --window 60d --as-of 2026-02-28 \
///       --date created_at --outcome-date opportunity_date --snapshots monthly --out m.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Leads with known outcomes: a .csv or .parquet file, one row per lead.
    #[arg(long, required_unless_present = "counts", conflicts_with = "counts")]
    data: Option<PathBuf>,
    /// Instead of --data: leads counted per rule pattern (.csv or .parquet, from the query of
    /// `mqlcal export --format sql-counts`). Needs --rules, the rules file the query counted.
    #[arg(long, requires = "rules", conflicts_with_all = ["report", "exclude"])]
    counts: Option<PathBuf>,
    /// Rules file (TOML) listing the scoring rules to learn points for. Without it, rules are
    /// proposed from the data (see --write-rules).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Outcome column (0/1, true/false, yes/no). Overrides `target` in the rules file. For
    /// outcomes as sales reports them, see --outcome-date, --outcomes and --converted-if.
    #[arg(long)]
    target: Option<String>,
    /// The date each lead became an opportunity: a column of --data (empty: no opportunity
    /// yet), or with --outcomes the date column of that file. Needs --window and --date.
    ///   --outcome-date "Became an Opportunity Date" --window 90d --date "Create Date"
    /// With --counts (by date, from `export --format sql-counts --outcome-date`): the column
    /// the query read, recorded in the model; so are --date and the name of --outcomes.
    #[arg(long, value_name = "COLUMN", conflicts_with_all = ["target", "converted_if"], verbatim_doc_comment)]
    outcome_date: Option<String>,
    /// Sales' list of the leads that became opportunities (.csv or .parquet), joined to --data
    /// on the id column (--id or the rules file's `id`); its date column is --outcome-date.
    /// Every lead not in the list has no opportunity (yet).
    ///   --outcomes opportunities.csv --outcome-date created_at --window 90d --date created_at
    #[arg(
        long,
        value_name = "FILE",
        requires = "outcome_date",
        verbatim_doc_comment
    )]
    outcomes: Option<PathBuf>,
    /// Converted when a stage column holds one of the stages (trimmed, any case). A stage has
    /// no date, so there is no window: young leads count as not converted.
    ///   --converted-if "Lifecycle Stage=opportunity,customer"
    #[arg(long, value_name = "COLUMN=STAGE,...", conflicts_with_all = ["target", "counts"], verbatim_doc_comment)]
    converted_if: Option<String>,
    /// Conversion window: a lead converted if it became an opportunity within this time of
    /// its creation (what the probability means). Days, weeks or 30-day months:
    ///   --window 90d   --window 12w (84 days)   --window 3m (90 days)
    #[arg(long, value_name = "DURATION", verbatim_doc_comment)]
    window: Option<mqlcal::outcome::Window>,
    /// The date the data was taken (default: the newest date in the lead and opportunity
    /// date columns). Leads created less than a window before it are immature.
    ///   --as-of 2026-11-30
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_as_of, verbatim_doc_comment)]
    as_of: Option<chrono::NaiveDate>,
    /// Immature leads (outcome not final): weight keeps each with the likelihood of what was
    /// seen by as-of (1 − p·F(age), F the delay distribution); drop leaves them out.
    ///   --immature drop
    #[arg(long, value_enum, default_value_t = mqlcal::outcome::Immature::Weight, verbatim_doc_comment)]
    immature: mqlcal::outcome::Immature,
    /// Layout of the date part when dates are not ISO (chrono strftime; any time part after
    /// it is read past):
    ///   --date-format "%d-%m-%Y"   --date-format "%m/%d/%Y"
    #[arg(long, value_name = "FORMAT", verbatim_doc_comment)]
    date_format: Option<String>,
    /// An activity log for the rules' event rules (`event = "..."`): .csv or .parquet, one
    /// row per event (lead id, event type, date or timestamp; timestamps with an offset are
    /// taken in UTC, those without one as UTC). Its columns are named in the rules file's
    /// `[events]` table (default lead_id, event, at) or by --events-columns. Training is then
    /// point in time (see --snapshots); needs --id, --date, dated outcomes and --window.
    ///   --events events.parquet
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "counts",
        verbatim_doc_comment
    )]
    events: Option<PathBuf>,
    /// The events file's lead id, type and time columns, over the rules file's `[events]`:
    ///   --events-columns "Lead ID,Activity Type,Activity Date"
    #[arg(long, value_name = "ID,TYPE,AT", requires = "events", value_parser = parse_event_columns, verbatim_doc_comment)]
    events_columns: Option<mqlcal::events::EventColumns>,
    /// With --events, when training examples are taken: each lead gives one row per snapshot
    /// date at which it was open (created, not yet an opportunity), with only the events on or
    /// before that date, and the outcome an opportunity within --window after it. monthly
    /// (the 1st of each month), weekly (Mondays) or dates:
    ///   --snapshots weekly   --snapshots 2026-01-01,2026-04-01,2026-07-01
    /// With --counts of snapshots (`export --format sql-counts --events-table`): the cadence
    /// the query counted, recorded in the model (without it, the dates the counts hold).
    #[arg(long, value_name = "CADENCE", verbatim_doc_comment)]
    snapshots: Option<mqlcal::events::snapshots::Cadence>,
    /// Lead id column, carried into scored output. Overrides `id` in the rules file.
    #[arg(long)]
    id: Option<String>,
    /// Where to write the model file (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out (and --write-rules) if they exist.
    #[arg(long)]
    force: bool,
    /// Write the rules used (proposed or given) as an editable rules file.
    #[arg(long, value_name = "FILE")]
    write_rules: Option<PathBuf>,
    /// Texts that mean "no value", comma-separated, e.g. --na "Select,unknown".
    #[arg(long, value_delimiter = ',', value_name = "TEXT,...")]
    na: Vec<String>,
    /// Columns to leave out, comma-separated, e.g. fields sales fills in after contact:
    /// --exclude "Tags,Lead Quality".
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    exclude: Vec<String>,
    #[command(flatten)]
    read: super::read::ReadArgs,
    /// MQL threshold policy: mql-rate:0.10 (share of leads that become MQL), precision:0.25
    /// (MQL→opportunity rate), recall:0.80 (share of conversions captured), points:60 (fixed)
    /// or value:5000:150 (opportunity value : cost of working an MQL). A precision or recall
    /// target with a confidence, precision:0.30@0.95, is met with that confidence on
    /// out-of-fold scores (exact binomial tests in a fixed sequence; see the README). With
    /// --grades, grade:B2 makes MQLs of the leads graded at least B and at least 2.
    #[arg(long, default_value = "mql-rate:0.10", value_name = "POLICY")]
    threshold: Policy,
    /// Grade leads A1 … D4 by their two sub-scores (rules with `group = "..."`; exactly two
    /// groups): the profile group takes letters A (best) … D, the behaviour group digits 1
    /// (best) … 4. Groups named `profile` and `behaviour` take those roles; otherwise the
    /// first group in the rules file takes letters. Bands are the quartiles of the
    /// out-of-fold sub-scores.
    #[arg(long)]
    grades: bool,
    /// Calibration of score → probability. The default, auto, keeps Platt unless beta or
    /// isotonic fits the out-of-fold scores better by cross-validated log loss, e.g.
    /// --calibration platt to fix the logistic curve.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    calibration: Method,
    /// Points that double the odds of conversion.
    #[arg(long, default_value_t = 20.0)]
    points_to_double_odds: f64,
    /// Cross-validation folds (for the penalty, calibration and threshold).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold assignment; the same data, options and seed give the same model file.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// L2 strengths to try, comma-separated (default: 0.01 to 1000 in half-decades).
    #[arg(long, value_delimiter = ',', value_name = "ALPHA,...")]
    alphas: Vec<f64>,
    /// At most this many bands per numeric column when rules are proposed (neighbouring
    /// quantile bands whose conversion rates do not differ are joined).
    #[arg(long, default_value_t = 5)]
    bands: usize,
    /// Trend of proposed numeric bands' conversion rates: auto (the one the data supports),
    /// increasing, decreasing or off.
    #[arg(long, value_enum, default_value_t = Monotone::Auto)]
    monotone: Monotone,
    /// After the rules (given or proposed), propose up to N AND rules of two of them by greedy
    /// forward search on cross-validated log loss; each is kept only if it lowers the loss by
    /// more than its noise (see the README). They get points and are written by --write-rules
    /// as ordinary `all = [...]` rules. Per-unit and `any` rules are not paired.
    ///   --propose-interactions 3
    #[arg(long, value_name = "N", default_value_t = 0, verbatim_doc_comment)]
    propose_interactions: usize,
    /// Also write the diagnostics report (see `mqlcal report`) on the out-of-fold scores.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    report_options: super::report::ReportOptions,
}

/// `--json`: what a scheduler needs to decide what to do next.
#[derive(Serialize)]
struct Summary<'a> {
    model: &'a std::path::Path,
    rules_written: Option<&'a std::path::Path>,
    report: Option<&'a std::path::Path>,
    training: &'a mqlcal::model::Training,
    threshold: &'a mqlcal::model::ModelThreshold,
    metrics: &'a mqlcal::metrics::Metrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    calibration_statistics: Option<&'a mqlcal::metrics::CalibrationStats>,
    /// With --grades: the cut points and the leads per cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    grades: Option<&'a mqlcal::grades::Grades>,
    points: Vec<RulePoints<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct RulePoints<'a> {
    pub name: &'a str,
    pub points: i64,
}

pub(crate) fn rule_points(model: &mqlcal::model::Model) -> Vec<RulePoints<'_>> {
    model
        .rules
        .iter()
        .map(|r| RulePoints {
            name: &r.name,
            points: r.points.0,
        })
        .collect()
}

pub fn run(args: Args, bars: &Bars) -> anyhow::Result<()> {
    // Outputs are checked before any work, so a long run never ends in "file exists".
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    if let Some(path) = &args.write_rules {
        mqlcal::atomic::check_writable(path, args.force)?;
    }
    if let Some(dir) = &args.report {
        mqlcal::report::check_out(dir, args.force)?;
    }
    let rules_file = args.rules.as_deref().map(RulesFile::read).transpose()?;
    let outcome = outcome_spec(&args)?;
    let target = match &outcome {
        Some(spec) => spec.describe(),
        None => args
            .target
            .clone()
            .or_else(|| rules_file.as_ref().and_then(|f| f.target.clone()))
            .ok_or(mqlcal::Error::Option {
                option: "--target",
                message: "no outcome column: pass --target (0/1), --outcome-date (opportunity \
                    dates) or --converted-if (a stage), or set `target` in the rules file"
                    .into(),
            })?,
    };
    let id = args
        .id
        .clone()
        .or_else(|| rules_file.as_ref().and_then(|f| f.id.clone()));
    let mut exclude = args.exclude.clone();
    exclude.retain(|c| !c.trim().is_empty());
    let read = args.read.load_options(None)?;
    let load = LoadOptions {
        na: args.na.clone(),
        exclude: exclude.clone(),
        ..read.clone()
    };
    let mut params = TrainParams::new(target);
    params.id = id;
    params.rules = rules_file
        .as_ref()
        .map(|f| f.checked_rules())
        .transpose()
        .map_err(|message| mqlcal::Error::Rules {
            path: args.rules.clone().unwrap_or_default(),
            message,
        })?;
    params.auto.bands = args.bands;
    params.auto.monotone = args.monotone;
    params.folds = args.folds;
    params.seed = args.seed;
    if !args.alphas.is_empty() {
        params.alphas = args.alphas.clone();
    }
    params.scale = PointsScale::new(args.points_to_double_odds)?;
    params.calibration = args.calibration;
    params.policy = args.threshold;
    params.grades = args.grades;
    params.interactions = args.propose_interactions;
    params.na = load.na.clone();
    params.exclude = exclude;
    // The lead date column (also the report's cohort column) names the model's version by
    // its newest lead when the model goes into a model directory.
    params.date = args.report_options.date.clone();
    params.outcome = outcome;
    params.time = TimeParams {
        window: args.window,
        as_of: args.as_of,
        immature: args.immature,
        date_format: args.date_format.clone(),
    };
    if matches!(params.outcome, Some(OutcomeSpec::Stage { .. })) {
        eprintln!(
            "mqlcal: note: --converted-if reads the stage at export time: it has no date, so \
             there is no window and young leads count as not converted yet"
        );
    }
    params.check()?;

    let event_rule = params
        .rules
        .as_deref()
        .and_then(mqlcal::events::first_event_rule)
        .map(|r| r.name.clone());
    if args.snapshots.is_some() && args.events.is_none() && args.counts.is_none() {
        return Err(mqlcal::Error::Option {
            option: "--snapshots",
            message: "snapshots are taken of leads with an activity log: pass --events (or \
                      --counts of snapshots counted in the warehouse)"
                .into(),
        }
        .into());
    }
    match (&event_rule, &args.events) {
        // Counts may be snapshot counts, which hold the event rules' features: seen once read.
        (Some(_), None) if args.counts.is_some() => {}
        (Some(name), None) => {
            return Err(mqlcal::Error::Rules {
                path: args.rules.clone().unwrap_or_default(),
                message: format!(
                    "rule '{name}' counts events of an activity log: pass the log with \
                     --events FILE{}",
                    if args.counts.is_some() {
                        " and --data (counts of rule patterns have no events)"
                    } else {
                        ""
                    }
                ),
            }
            .into())
        }
        (None, Some(_)) => {
            return Err(mqlcal::Error::Option {
                option: "--events",
                message: "no rule counts events; add event rules to the rules file, e.g. \
                          event = \"pricing_page_view\" with within_days = 30 or decay = \
                          \"learn\""
                    .into(),
            }
            .into())
        }
        _ => {}
    }
    if let Some(events) = &args.events {
        let data = args
            .data
            .as_ref()
            .expect("clap requires --data without --counts");
        let columns = args
            .events_columns
            .clone()
            .or_else(|| rules_file.as_ref().and_then(|f| f.events.clone()))
            .unwrap_or_default();
        let table = bars.spin(&format!("reading {}", data.display()), || {
            Table::load(data, &load)
        })?;
        let log = bars.spin(&format!("reading {}", events.display()), || {
            mqlcal::events::Events::load(events, &columns, &load, args.date_format.as_deref())
        })?;
        let name = events
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cadence = args
            .snapshots
            .clone()
            .unwrap_or(mqlcal::events::snapshots::Cadence::Monthly);
        let input = (name.as_str(), &columns);
        let Some(dir) = &args.report else {
            // Snapshot counts, a block of leads at a time (the same model as from the rows).
            let counted =
                mqlcal::events::train_with_events(&table, &log, input, cadence, &params, bars)?;
            finish(&args, &counted.model, None, &counted.notes)?;
            return written(&args, &counted.model);
        };
        // The report needs each snapshot row's out-of-fold score.
        let (trained, rows) =
            mqlcal::events::train_with_events_rows(&table, &log, input, cadence, &params, bars)?;
        finish(&args, &trained.model, None, &trained.notes)?;
        write_report(&args, &params, &rows, &trained, dir, bars)?;
        return written(&args, &trained.model);
    }

    if let Some(counts) = &args.counts {
        let table = bars.spin(&format!("reading {}", counts.display()), || {
            Table::load(counts, &read)
        })?;
        let rules = params
            .rules
            .clone()
            .expect("clap requires --rules with --counts");
        if table.is_dated_counts() {
            let dated = table.dated_counts(rules.len())?;
            if dated.bucket.is_some() {
                // Snapshots counted in the warehouse, with the event rules' features.
                let columns = rules_file
                    .as_ref()
                    .and_then(|f| f.events.clone())
                    .unwrap_or_default();
                let record = mqlcal::events::counts::WarehouseSnapshots {
                    columns: &columns,
                    cadence: args.snapshots.as_ref(),
                };
                let counted = mqlcal::events::counts::train_snapshot_counts(
                    &dated,
                    counts,
                    &rules,
                    &params,
                    record,
                    Input::of(table.path(), table.sha256()),
                    bars,
                )?;
                finish(&args, &counted.model, None, &[])?;
                return written(&args, &counted.model);
            }
            no_event_rules_in_counts(&args, &event_rule)?;
            let model = train_dated_counts(
                &dated,
                counts,
                &rules,
                &params,
                Input::of(table.path(), table.sha256()),
                bars,
            )?;
            finish(&args, &model, None, &[])?;
            return written(&args, &model);
        }
        no_event_rules_in_counts(&args, &event_rule)?;
        if params.time.window.is_some() {
            return Err(mqlcal::Error::Option {
                option: "--window",
                message: format!(
                    "{} counts leads per pattern only, with no dates; for a window, count by \
                     date: `mqlcal export --format sql-counts --outcome-date COLUMN --date \
                     COLUMN …`",
                    counts.display()
                ),
            }
            .into());
        }
        let (x, leads, conversions) = table.counts(rules.len())?;
        let groups = Groups::from_counts(x.view(), &leads, &conversions)?;
        let model = train_groups(
            &groups,
            &rules,
            &params,
            Input::of(table.path(), table.sha256()),
            bars,
        )?;
        finish(&args, &model, None, &[])?;
        return written(&args, &model);
    }
    let data = args
        .data
        .as_ref()
        .expect("clap requires --data or --counts");
    let date_rules = params
        .rules
        .as_ref()
        .is_some_and(|r| r.iter().any(|r| r.needs_as_of()));
    if params.rules.is_some() && args.report.is_none() && !date_rules {
        // Given rules and no per-lead report: stream the file, whatever its size (the same
        // model as loading it whole). Date rules load it whole: their default as-of is the
        // newest date of the file, and their future-date warning counts every lead.
        let streamed = train_file(data, &load, &params, BATCH_ROWS, bars)?;
        finish(&args, &streamed.model, None, &streamed.notes)?;
        return written(&args, &streamed.model);
    }
    let table = bars.spin(&format!("reading {}", data.display()), || {
        Table::load(data, &load)
    })?;
    let trained = train_with(&table, &params, bars)?;
    finish(
        &args,
        &trained.model,
        Some(&trained.proposed),
        &trained.notes,
    )?;
    if let Some(dir) = &args.report {
        write_report(&args, &params, &table, &trained, dir, bars)?;
    }
    written(&args, &trained.model)
}

/// Counts of leads (not of snapshots) hold no events: a rule that counts them is refused,
/// naming it and the way to count snapshots.
fn no_event_rules_in_counts(args: &Args, event_rule: &Option<String>) -> anyhow::Result<()> {
    match event_rule {
        Some(name) => Err(mqlcal::Error::Rules {
            path: args.rules.clone().unwrap_or_default(),
            message: format!(
                "rule '{name}' counts events of an activity log, and {} counts leads, not \
                 snapshots with their events: count snapshots in the warehouse with `mqlcal \
                 export --format sql-counts --events-table TABLE --snapshots monthly --as-of \
                 DATE …`, or train with --data and --events",
                args.counts
                    .as_deref()
                    .map_or(String::new(), |p| p.display().to_string())
            ),
        }
        .into()),
        None => Ok(()),
    }
}

/// Writes the model (and rules) and prints what was learnt.
fn finish(
    args: &Args,
    model: &mqlcal::model::Model,
    proposed: Option<&Option<RulesFile>>,
    notes: &[String],
) -> anyhow::Result<()> {
    model.save(&args.out, args.force)?;
    if let Some(path) = &args.write_rules {
        let file = proposed.cloned().flatten().unwrap_or_else(|| RulesFile {
            id: model.id_column.clone(),
            target: Some(model.target.clone()),
            events: model.training.events.as_ref().map(|e| e.columns.clone()),
            rules: model.rules().iter().map(|r| r.to_spec()).collect(),
        });
        let text = format!(
            "# Rules for {} — edit them and train again with --rules {}\n{}",
            model.training.input,
            path.display(),
            file.to_toml()
        );
        mqlcal::atomic::write_bytes(path, text.as_bytes(), args.force)
            .with_context(|| format!("writing rules to {}", path.display()))?;
    }

    for note in notes {
        eprintln!("mqlcal: note: {note}");
    }
    let t = &model.training;
    let rows = match &t.events {
        Some(e) => format!("{} lead snapshots ({})", t.rows, e.snapshots),
        None => format!("{} leads", t.rows),
    };
    say!(
        "trained on {rows} from {} ({} converted, {})",
        t.input,
        t.conversions,
        pct(t.conversion_rate)
    );
    say!(
        "rules: {} ({}); penalty alpha = {} chosen by {}-fold cross-validated log loss",
        model.rules.len(),
        t.rules_source,
        t.alpha,
        t.folds
    );
    if let Some(as_of) = &t.as_of {
        say!(
            "as of {as_of} ({})",
            if args.as_of.is_some() {
                "--as-of"
            } else {
                "the newest date in the lead and opportunity dates; --as-of to set it"
            }
        );
    }
    super::inspect::print_outcome(model);
    super::inspect::print_events(model);
    super::inspect::print_date_rules(model);
    super::inspect::print_points(model);
    super::inspect::print_interactions(model);
    super::inspect::print_threshold(model);
    super::inspect::print_grades(model);
    super::inspect::print_metrics(model);
    warn_all(&model.warnings);
    Ok(())
}

/// Says where the files went, and prints the `--json` summary.
fn written(args: &Args, model: &mqlcal::model::Model) -> anyhow::Result<()> {
    say!("model written to {}", args.out.display());
    if let Some(path) = &args.write_rules {
        say!("rules written to {}", path.display());
    }
    super::ui::summary(&Summary {
        model: &args.out,
        rules_written: args.write_rules.as_deref(),
        report: args.report.as_deref(),
        training: &model.training,
        threshold: &model.threshold,
        metrics: &model.metrics,
        calibration_statistics: model.calibration_statistics.as_ref(),
        grades: model.grades.as_ref(),
        points: rule_points(model),
        warnings: &model.warnings,
    })
}

/// The diagnostics report on the out-of-fold scores of training.
fn write_report(
    args: &Args,
    params: &mqlcal::train::TrainParams,
    table: &Table,
    trained: &mqlcal::train::Trained,
    dir: &std::path::Path,
    bars: &Bars,
) -> anyhow::Result<()> {
    let model = &trained.model;
    // The per-lead vectors of `trained` are of the rows trained on (`kept_rows` with
    // `--immature drop`); with a window the report judges the mature ones only, whose
    // outcome is final.
    let len = trained.outcomes.len();
    let table_rows: Vec<usize> = trained
        .kept_rows
        .clone()
        .unwrap_or_else(|| (0..len).collect());
    let keep: Vec<usize> = match &trained.mature {
        Some(m) => (0..len).filter(|&i| m[i]).collect(),
        None => (0..len).collect(),
    };
    let scores: Vec<i64> = keep.iter().map(|&i| trained.oof_scores[i]).collect();
    let outcomes: Vec<bool> = keep.iter().map(|&i| trained.outcomes[i]).collect();
    let features = trained.features.select(ndarray::Axis(0), &keep);
    let probabilities: Vec<f64> = scores
        .iter()
        .map(|&s| model.calibration.probability(s).0)
        .collect();
    let dates = mqlcal::report::read_dates(table, &args.report_options.dates())?
        .map(|all| keep.iter().map(|&i| all[table_rows[i]].clone()).collect());
    let scored = mqlcal::report::numbers::Scored {
        scores: &scores,
        probabilities: &probabilities,
        outcomes: &outcomes,
        features: features.view(),
        dates,
    };
    let intervals = super::report::intervals(
        model,
        features.view(),
        &outcomes,
        args.report_options.bootstrap,
        bars,
    )?;
    let mut n = mqlcal::report::numbers::compute(
        model,
        &scored,
        "out-of-fold training scores".into(),
        intervals,
    );
    super::report::rebin(&mut n, &scored, args.report_options.bins);
    if trained.mature.is_some() {
        let observed = mqlcal::train::observed(table, params)?;
        n.maturity = mqlcal::report::maturity::Maturity::of(&observed);
    }
    mqlcal::report::write(dir, args.force, &super::report::model_name(&args.out), &n)?;
    super::report::print_summary(dir, &n);
    Ok(())
}

/// The outcome flags as one spec; `None` for the 0/1 target.
fn outcome_spec(args: &Args) -> anyhow::Result<Option<OutcomeSpec>> {
    if let Some(stage) = &args.converted_if {
        return OutcomeSpec::stage(stage).map(Some).map_err(|message| {
            mqlcal::Error::Option {
                option: "--converted-if",
                message,
            }
            .into()
        });
    }
    Ok(args
        .outcome_date
        .as_ref()
        .map(|column| match &args.outcomes {
            Some(file) => OutcomeSpec::Opportunities {
                file: file.clone(),
                column: column.clone(),
            },
            None => OutcomeSpec::Date {
                column: column.clone(),
            },
        }))
}

/// `--as-of YYYY-MM-DD`.
/// `ID,TYPE,AT`: the events file's three columns.
pub(super) fn parse_event_columns(s: &str) -> Result<mqlcal::events::EventColumns, String> {
    match s.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
        [id, kind, at] if !id.is_empty() && !kind.is_empty() && !at.is_empty() => {
            Ok(mqlcal::events::EventColumns {
                id: id.to_string(),
                kind: kind.to_string(),
                at: at.to_string(),
            })
        }
        _ => Err(format!(
            "'{s}' is not three column names; give the lead id, type and time columns, e.g. \
             --events-columns \"Lead ID,Activity Type,Activity Date\""
        )),
    }
}

pub(super) fn parse_as_of(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date; write YYYY-MM-DD, e.g. 2026-11-30"))
}
