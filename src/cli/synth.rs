use std::path::PathBuf;

use crate::say;
use mqlcal::data::write_batches;
use mqlcal::synth::{
    opportunities, truth, Campaign, Generator, SynthParams, SynthTimeline, DEFAULT_INTERCEPT,
};

/// Make realistic example leads whose true rule weights are known.
///
/// The leads follow the rules in data/rules.toml; the true points of each rule are printed so
/// a trained model can be compared with them.
///
/// Example: mqlcal synth --rows 20000 --seed 7 --out data/leads.csv
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of leads to make.
    #[arg(long, default_value_t = 20_000)]
    rows: usize,
    /// Random seed; the same seed gives the same file.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Output file, .csv or .parquet.
    #[arg(long)]
    out: PathBuf,
    /// Log-odds of a lead that meets no rule; raise it for more conversions (e.g. 0 gives a
    /// majority of conversions).
    #[arg(long, default_value_t = DEFAULT_INTERCEPT, allow_hyphen_values = true)]
    intercept: f64,
    /// Change a rule's true log-odds weight, e.g. --weight "Budget confirmed=0" (repeatable):
    /// data where the world moved, to try `mqlcal retrain`.
    #[arg(long, value_name = "RULE=WEIGHT", value_parser = parse_weight, allow_hyphen_values = true)]
    weight: Vec<(String, f64)>,
    /// First creation date of the leads (YYYY-MM-DD); dates spread over --days days.
    #[arg(long, default_value = "2025-01-01", value_name = "DATE")]
    first_day: chrono::NaiveDate,
    /// Number of days the creation dates spread over.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Outcomes as sales reports them: an `opportunity_date` column (delays of about 25 days
    /// within a 90-day window; some opportunities after it) instead of `converted`, seen at the
    /// export date --as-of.
    ///   mqlcal synth --dated --out leads.csv
    #[arg(long, verbatim_doc_comment)]
    dated: bool,
    /// With dated outcomes: write the opportunities list (lead_id, opportunity_date) to this
    /// file and leave the column out of --out, as a CRM exports them apart.
    ///   mqlcal synth --opportunities opportunities.csv --out leads.csv
    #[arg(long, value_name = "FILE", verbatim_doc_comment)]
    opportunities: Option<PathBuf>,
    /// The export date of dated outcomes (default: the day after the last creation day).
    #[arg(long, value_name = "DATE")]
    as_of: Option<chrono::NaiveDate>,
    /// A campaign in the last N days before the export (column `campaign` = launch, for half
    /// of those leads) with true weight --campaign-weight: young leads only.
    ///   mqlcal synth --dated --campaign-days 75 --campaign-weight 0.9 --out leads.csv
    #[arg(long, value_name = "DAYS", verbatim_doc_comment)]
    campaign_days: Option<u32>,
    /// The true log-odds weight of the campaign.
    #[arg(long, default_value_t = 0.9, allow_hyphen_values = true)]
    campaign_weight: f64,
    /// Leads with an activity log instead: write the events (lead_id, event, at) to this file
    /// and the leads (created_at, opportunity_date, last_activity_date, company_size) to --out.
    /// Pricing visits drive conversion and lose half their effect every --half-life days;
    /// demos are booked only after an opportunity. Train on both with `mqlcal train --events`.
    ///   mqlcal synth --rows 3000 --events events.csv --out leads.csv
    #[arg(long, value_name = "FILE", verbatim_doc_comment,
          conflicts_with_all = ["dated", "opportunities", "campaign_days", "weight", "intercept"])]
    events: Option<PathBuf>,
    /// With --events: the true half-life of a pricing visit's effect, in days.
    ///   mqlcal synth --events events.csv --half-life 30 --out leads.csv
    #[arg(long, value_name = "DAYS", requires = "events", verbatim_doc_comment)]
    half_life: Option<f64>,
    /// Replace --out (and --opportunities or --events) if they exist.
    #[arg(long)]
    force: bool,
}

fn parse_weight(s: &str) -> Result<(String, f64), String> {
    let (name, w) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("'{s}': give RULE=WEIGHT, e.g. \"Budget confirmed=0\""))?;
    match w.trim().parse::<f64>() {
        Ok(w) if w.is_finite() => Ok((name.trim().to_string(), w)),
        _ => Err(format!("'{w}' in '{s}' is not a finite number")),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    if let Some(events) = &args.events {
        return run_activity(&args, events);
    }
    let mut params = SynthParams {
        rows: args.rows,
        seed: args.seed,
        intercept: args.intercept,
        first_day: args.first_day,
        days: args.days,
        ..SynthParams::default()
    };
    for (rule, w) in &args.weight {
        params = params.with_weight(rule, *w)?;
    }
    let dated = args.dated || args.opportunities.is_some() || args.campaign_days.is_some();
    if dated {
        let mut timeline = SynthTimeline::after(&params);
        if let Some(as_of) = args.as_of {
            timeline.as_of = as_of;
        }
        timeline.campaign = args.campaign_days.map(|days| Campaign {
            since: timeline.as_of - chrono::Days::new(days.into()),
            share: 0.5,
            weight: args.campaign_weight,
        });
        params.timeline = Some(timeline);
    }
    if let Some(path) = &args.opportunities {
        mqlcal::atomic::check_writable(path, args.force)?;
    }
    let mut listed: Option<polars::prelude::DataFrame> = None;
    // A million leads at a time, so any number fits in memory.
    let mut generator = Generator::new(&params)?;
    let (mut left, mut converted) = (args.rows, 0i64);
    write_batches(&args.out, args.force, || {
        if left == 0 {
            return Ok(None);
        }
        let n = left.min(1 << 20);
        left -= n;
        let mut df = generator.batch(n)?;
        if dated {
            converted += df.column("opportunity_date")?.len() as i64
                - df.column("opportunity_date")?.null_count() as i64;
        } else {
            converted += df
                .column("converted")?
                .as_materialized_series()
                .sum::<i64>()?;
        }
        if args.opportunities.is_some() {
            let list = opportunities(&df)?;
            match &mut listed {
                Some(all) => {
                    all.vstack_mut(&list)?;
                }
                None => listed = Some(list),
            }
            df = df.drop("opportunity_date")?;
        }
        Ok(Some(df))
    })?;
    if let (Some(path), Some(mut list)) = (&args.opportunities, listed) {
        mqlcal::data::write_frame(&mut list, path, args.force)?;
        say!(
            "wrote {} opportunities to {}",
            list.height(),
            path.display()
        );
    }
    let (_, rules, _) = truth();
    let weights = params.weights.clone();
    let scale = mqlcal::points::PointsScale::new(20.0)?;
    say!(
        "wrote {} leads ({} {}) to {}",
        args.rows,
        converted,
        if dated {
            "with an opportunity by the export date"
        } else {
            "converted"
        },
        args.out.display()
    );
    if let Some(t) = &params.timeline {
        say!(
            "export date {}; conversions within {} days of creation follow the true weights",
            t.as_of,
            t.window_days
        );
    }
    say!("true points (20 points double the odds):");
    for (rule, w) in rules.iter().zip(&weights) {
        say!("  {:>5}  {}", scale.points(*w).to_string(), rule.name);
    }
    let truth: Vec<serde_json::Value> = rules
        .iter()
        .zip(&weights)
        .map(
            |(r, &w)| serde_json::json!({"rule": r.name, "weight": w, "points": scale.points(w).0}),
        )
        .collect();
    super::ui::summary(&serde_json::json!({
        "out": args.out,
        "leads": args.rows,
        "converted": converted,
        "true_rules": truth,
    }))
}

/// `--events`: the activity world of [`mqlcal::synth::activity`].
fn run_activity(args: &Args, events: &std::path::Path) -> anyhow::Result<()> {
    use mqlcal::synth::activity::{self, ActivityParams, DEMO, PRICING};
    mqlcal::atomic::check_writable(events, args.force)?;
    let defaults = ActivityParams::default();
    let params = ActivityParams {
        leads: args.rows,
        seed: args.seed,
        half_life_days: args.half_life.unwrap_or(defaults.half_life_days),
        first_day: args.first_day,
        days: args.days,
        as_of: args
            .as_of
            .unwrap_or_else(|| activity::default_as_of(args.first_day, args.days)),
    };
    // The events a batch of leads at a time (any number fits in memory); the leads, a few
    // columns each, after them.
    let mut generator = activity::ActivityGenerator::new(&params)?;
    let parquet = mqlcal::data::Format::from_path(events)? == mqlcal::data::Format::Parquet;
    let (mut left, mut written) = (params.leads, 0usize);
    let mut leads: Option<polars::prelude::DataFrame> = None;
    mqlcal::data::write_batches(events, args.force, || {
        if left == 0 {
            return Ok(None);
        }
        let n = left.min(1 << 16);
        left -= n;
        let made = generator.batch(n)?;
        match &mut leads {
            Some(all) => {
                all.vstack_mut(&made.leads)?;
            }
            None => leads = Some(made.leads),
        }
        written += made.events.height();
        Ok(Some(if parquet {
            activity::with_timestamps(made.events)?
        } else {
            made.events
        }))
    })?;
    let mut leads = leads.expect("at least one lead");
    leads.rechunk_mut();
    let converted = leads.height() - leads.column("opportunity_date")?.null_count();
    mqlcal::data::write_frame(&mut leads, &args.out, args.force)?;
    say!(
        "wrote {} leads ({converted} with an opportunity by the export date {}) to {}",
        params.leads,
        params.as_of,
        args.out.display()
    );
    say!("wrote {written} events to {}", events.display());
    say!(
        "truth: {PRICING} events lose half their effect in {} days; {DEMO} happens only after \
         an opportunity (it must get no points); last_activity_date includes what happened \
         after the opportunity (leakage)",
        params.half_life_days
    );
    super::ui::summary(&serde_json::json!({
        "out": args.out,
        "events_file": events,
        "leads": params.leads,
        "events": written,
        "converted": converted,
        "as_of": params.as_of.to_string(),
        "true_half_life_days": params.half_life_days,
    }))
}
