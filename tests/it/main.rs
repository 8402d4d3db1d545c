//! Integration tests: one binary, each test in its own temporary directory, running the real
//! `mqlcal` binary or the library on real files.

mod bad_input;
mod caps;
mod cli;
mod compound;
mod counts;
mod dates;
mod engines;
mod events;
mod export;
mod grades;
mod interactions;
mod locale;
mod model_file;
mod outcomes;
mod props;
mod recovery;
mod report;
mod retrain;
mod score;
#[cfg(feature = "serve")]
mod serve;
mod snapshot_counts;
mod sql_events;
mod stream;
mod validation;
mod workbench;
mod xeducation;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use mqlcal::synth::{generate, SynthParams};

/// A scratch directory with helpers to write inputs and run the binary inside it.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

#[allow(clippy::new_without_default)] // a new temp dir is not a default
impl Workdir {
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("mqlcal").unwrap();
        c.current_dir(self.dir.path());
        c
    }

    /// Synthetic leads written as a file (CSV or Parquet by extension).
    pub fn synth(&self, name: &str, rows: usize, seed: u64) -> PathBuf {
        let p = self.path(name);
        let mut df = generate(&SynthParams {
            rows,
            seed,
            ..SynthParams::default()
        })
        .unwrap();
        mqlcal::data::write_frame(&mut df, &p, true).unwrap();
        p
    }

    /// Synthetic leads from the given parameters (other truths, other dates).
    pub fn synth_with(&self, name: &str, params: &SynthParams) -> PathBuf {
        let p = self.path(name);
        let mut df = generate(params).unwrap();
        mqlcal::data::write_frame(&mut df, &p, true).unwrap();
        p
    }

    /// The bundled rules file, copied in.
    pub fn rules(&self) -> PathBuf {
        self.write("rules.toml", mqlcal::synth::RULES_TOML)
    }

    /// Trains `data` with the bundled rules into `out`, expecting success.
    pub fn train_bundled(&self, data: &str, out: &str, extra: &[&str]) {
        let rules = self.rules();
        self.cmd()
            .args(["train", "--data", data, "--rules"])
            .arg(&rules)
            .args(["--out", out])
            .args(extra)
            .assert()
            .success();
    }

    /// Names of the files in the directory (to check nothing half-written is left).
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// The repository root (for bundled data and the shared data sets beside it).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The stdout of a command as text.
/// A CSV file as polars reads it (types inferred), to check what a command wrote.
pub fn read_csv(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
