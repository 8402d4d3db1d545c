use clap::CommandFactory;
use clap_complete::Shell;

/// Print a shell completion script on stdout.
///
/// Examples:
///   mqlcal completions bash > ~/.local/share/bash-completion/completions/mqlcal
///   mqlcal completions zsh > ~/.zfunc/_mqlcal      (with `fpath+=~/.zfunc` in ~/.zshrc)
///   mqlcal completions fish > ~/.config/fish/completions/mqlcal.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "mqlcal", &mut script);
    super::ui::emit(&script, false);
    Ok(())
}
