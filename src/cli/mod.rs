//! Command-line definitions, one file per subcommand; each has an `Args` struct (its doc
//! comments are the `--help` text) and a `run` function.

use clap::{Parser, Subcommand};

mod completions;
mod export;
mod inspect;
mod man;
mod models;
mod read;
mod report;
mod retrain;
mod score;
#[cfg(feature = "serve")]
mod serve;
mod synth;
mod train;
pub mod ui;

/// Learn lead-scoring points and a calibrated MQL threshold from real sales outcomes.
///
/// Typical use:
///   mqlcal synth --rows 20000 --seed 7 --out data/leads.csv
///   mqlcal train --data data/leads.csv --rules data/rules.toml --out models/lead-model.json
///   mqlcal inspect --model models/lead-model.json
///   mqlcal score --model models/lead-model.json --data new_leads.csv --out scored.csv
///   mqlcal report --model models/lead-model.json --data holdout.csv --out reports/2026-11/
///   mqlcal export --model models/lead-model.json --format sql --dialect postgres --table leads --out score.sql
///   mqlcal retrain --champion models/current.json --data leads-2026-11.csv --out models/ --date created_at
///   mqlcal models list --dir models/
///   mqlcal serve --dir models/ --listen 127.0.0.1:8080
#[derive(Debug, Parser)]
#[command(name = "mqlcal", version = version(), about, long_about, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: ui::Global,
}

/// `--version`: the tool's version and the model file schema it reads and writes, which is
/// what decides whether a model file from elsewhere will load.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (model file schema {})",
            env!("CARGO_PKG_VERSION"),
            mqlcal::model::SCHEMA_VERSION
        )
    })
}

// Parsed once per run: a boxed variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    // Boxed: train takes many more options than the other subcommands.
    Train(Box<train::Args>),
    Score(score::Args),
    Inspect(inspect::Args),
    Report(report::Args),
    Synth(synth::Args),
    Export(export::Args),
    Completions(completions::Args),
    Man(man::Args),
    Retrain(retrain::Args),
    Models(models::Args),
    #[cfg(feature = "serve")]
    Serve(serve::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    ui::setup(&cli.global);
    let bars = ui::Bars::new(&cli.global);
    match cli.command {
        Command::Train(args) => train::run(*args, &bars),
        Command::Score(args) => score::run(args, &bars),
        Command::Inspect(args) => inspect::run(args),
        Command::Report(args) => report::run(args, &bars),
        Command::Synth(args) => synth::run(args),
        Command::Export(args) => export::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Retrain(args) => retrain::run(args, &bars),
        Command::Models(args) => models::run(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(args),
    }
}

/// Prints warnings the same way everywhere: on stderr, one per line.
pub(crate) fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("mqlcal: warning: {w}");
    }
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
