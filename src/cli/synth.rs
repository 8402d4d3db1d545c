use std::path::PathBuf;

use crate::say;
use mqlcal::data::write_batches;
use mqlcal::synth::{truth, Generator, SynthParams, DEFAULT_INTERCEPT};

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
    /// Replace --out if it exists.
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
    // A million leads at a time, so any number fits in memory.
    let mut generator = Generator::new(&params)?;
    let (mut left, mut converted) = (args.rows, 0i64);
    write_batches(&args.out, args.force, || {
        if left == 0 {
            return Ok(None);
        }
        let n = left.min(1 << 20);
        left -= n;
        let df = generator.batch(n)?;
        converted += df
            .column("converted")?
            .as_materialized_series()
            .sum::<i64>()?;
        Ok(Some(df))
    })?;
    let (_, rules, _) = truth();
    let weights = params.weights.clone();
    let scale = mqlcal::points::PointsScale::new(20.0)?;
    say!(
        "wrote {} leads ({} converted) to {}",
        args.rows,
        converted,
        args.out.display()
    );
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
