//! The library's one error type. Every variant names what failed, where (file, row, column)
//! and, where there is one, what the user can do about it.

use std::path::PathBuf;

/// Errors from loading data, reading rules, fitting and reading or writing model files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },

    #[error("{path}: column '{column}' not found; {hint}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        hint: String,
    },

    #[error("{path}, row {row}, column '{column}': {message}")]
    BadValue {
        path: PathBuf,
        /// 1-based data row (the header is not counted).
        row: usize,
        column: String,
        message: String,
    },

    #[error("rules file {path}: {message}")]
    Rules { path: PathBuf, message: String },

    #[error("model file {path}: {message}")]
    Model { path: PathBuf, message: String },

    #[error("cannot write into {path}: the output directory does not exist; create it first (mkdir -p {path})")]
    NoDirectory { path: PathBuf },

    #[error("{path} already exists; pass --force to replace it, or choose another --out")]
    Exists { path: PathBuf },

    #[error("cannot fit the model: {0}")]
    Fit(String),

    #[error("invalid option {option}: {message}")]
    Option {
        option: &'static str,
        message: String,
    },

    #[error(
        "{path} is in use by another mqlcal run ({holder}); wait for it to finish and run \
         again"
    )]
    Locked { path: PathBuf, holder: String },

    #[error("cannot export the model: {0}")]
    Export(String),

    #[cfg(feature = "data")]
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    #[cfg(feature = "data")]
    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}
