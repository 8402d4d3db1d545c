//! What every subcommand shares: the global flags (`-v`, `--quiet`, `--json`), the human text on
//! stdout (silenced by `--json`), the one JSON summary, progress bars and log events.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use clap::ArgAction;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// Flags every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Log what each stage does on stderr: -v for the stages, -vv for details such as every
    /// penalty tried in cross-validation, -vvv for every solver run.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print one JSON summary on stdout instead of the text, for pipelines and schedulers
    /// (warnings still go to stderr). Example: mqlcal train ... --json | jq .metrics.roc_auc
    #[arg(long, global = true)]
    pub json: bool,
}

/// Set once, before the subcommand runs; read by [`say!`](crate::say).
static JSON: AtomicBool = AtomicBool::new(false);

pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Prints a line of the human summary on stdout, unless `--json` asked for JSON instead.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::cli::ui::json() {
            $crate::cli::ui::emit(format!($($arg)*).as_bytes(), true);
        }
    };
}

/// Writes to stdout. A reader that went away (`mqlcal ... | head`) ends the program quietly
/// with success, as in other Unix tools, instead of the panic `println!` gives; every file has
/// been written (atomically) before anything is printed.
pub fn emit(bytes: &[u8], newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let result = out
        .write_all(bytes)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("mqlcal: error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// Applies the global flags: output mode, and log events (`tracing`) on stderr at the level
/// `-v` asks for.
pub fn setup(global: &Global) {
    JSON.store(global.json, Ordering::Relaxed);
    let level = match global.verbose {
        0 => None,
        1 => Some(tracing::Level::INFO),
        2 => Some(tracing::Level::DEBUG),
        _ => Some(tracing::Level::TRACE),
    };
    if let Some(level) = level {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init();
    }
}

/// Prints the command's JSON summary when `--json` was given.
pub fn summary<T: Serialize>(value: &T) -> anyhow::Result<()> {
    if json() {
        emit(serde_json::to_string_pretty(value)?.as_bytes(), true);
    }
    Ok(())
}

/// Progress bars on stderr, one step at a time; hidden with `--quiet` or when stderr is not a
/// terminal (indicatif's stderr target checks that itself).
pub struct Bars {
    hidden: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(global: &Global) -> Bars {
        Bars {
            hidden: global.quiet,
            bar: Mutex::new(None),
        }
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// Runs `work` under a spinner named `step` (for work with no count, such as reading a
    /// file).
    pub fn spin<T>(&self, step: &str, work: impl FnOnce() -> T) -> T {
        let bar = ProgressBar::with_draw_target(None, self.target())
            .with_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .expect("a valid template"),
            )
            .with_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        let out = work();
        bar.finish_and_clear();
        out
    }
}

impl mqlcal::progress::Progress for Bars {
    fn begin(&self, step: &str, total: Option<u64>) {
        // A count when there is one, a spinner when not.
        let style = match total {
            Some(_) => ProgressStyle::with_template("{msg:>18} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
            None => ProgressStyle::with_template("{msg:>18} {spinner} {elapsed}")
                .expect("a valid template"),
        };
        let bar = ProgressBar::with_draw_target(total, self.target())
            .with_style(style)
            .with_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        let old = self.bar.lock().expect("no panics while held").replace(bar);
        if let Some(old) = old {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().expect("no panics while held") {
            bar.inc(n);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.bar.lock().expect("no panics while held").take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bars {
    /// A step ended by an error leaves no bar behind the error message.
    fn drop(&mut self) {
        mqlcal::progress::Progress::end(self);
    }
}
