use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

/// Write the manual pages (roff), generated from the same definitions as `--help`.
///
/// Without --out, prints the page for `mqlcal` itself on stdout. With --out DIR, writes
/// mqlcal.1 and one mqlcal-<command>.1 per subcommand into DIR.
///
/// Examples:
///   mqlcal man | man -l -
///   mqlcal man --out ~/.local/share/man/man1
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder to write the pages into (created if missing; existing pages are replaced, as
    /// they are generated).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let command = super::Cli::command();
    match &args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            super::ui::emit(&page, false);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the man page folder {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            crate::say!("man pages written to {}", dir.display());
        }
    }
    Ok(())
}
