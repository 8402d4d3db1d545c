//! The `mqlcal` command: parse the command line, run the subcommand, map the outcome to an exit
//! code (0 success, 1 failure, 2 bad usage). All the work lives in the library.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mqlcal: error: {err:#}");
            let usage = matches!(
                err.downcast_ref::<mqlcal::Error>(),
                Some(mqlcal::Error::Option { .. })
            );
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
