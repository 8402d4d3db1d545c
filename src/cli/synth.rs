use std::path::PathBuf;

use mqlcal::data::write_frame;
use mqlcal::synth::{generate, truth, SynthParams, DEFAULT_INTERCEPT};

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
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    mqlcal::atomic::check_writable(&args.out, args.force)?;
    let mut df = generate(&SynthParams {
        rows: args.rows,
        seed: args.seed,
        intercept: args.intercept,
        ..SynthParams::default()
    })?;
    write_frame(&mut df, &args.out, args.force)?;
    let (_, rules, weights) = truth();
    let scale = mqlcal::points::PointsScale::new(20.0)?;
    let converted = df
        .column("converted")?
        .as_materialized_series()
        .sum::<i64>()?;
    println!(
        "wrote {} leads ({} converted) to {}",
        args.rows,
        converted,
        args.out.display()
    );
    println!("true points (20 points double the odds):");
    for (rule, w) in rules.iter().zip(weights) {
        println!("  {:>5}  {}", scale.points(w).to_string(), rule.name);
    }
    Ok(())
}
