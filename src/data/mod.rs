//! Loading leads: CSV or Parquet (by extension) through polars, into a [`Table`] that hands out
//! one column at a time as numbers, texts, outcomes or dates, with placeholders such as `Select`
//! already turned into missing values. Takes a path and [`LoadOptions`]; gives a [`Table`], or
//! batches of one for a file of any size ([`scan_batches`]).
//!
//! Split along the stages of a load: `table` (the whole-file read and the column views),
//! `stream` (batches and repeated ids of files larger than memory), `dates` (dates and
//! timestamps as exports write them), `outcomes` (what "converted" means: a column, a stage,
//! dates, a list of opportunities, and the timeline of the window) and `files` (hashing and
//! atomic writing).

use std::path::Path;

use polars::prelude::{Float64Chunked, PolarsError};

use crate::error::{Error, Result};

mod dates;
mod files;
pub mod outcomes;
mod stream;
mod table;

pub use dates::parse_date;
pub(crate) use files::hex;
pub use files::{sha256_file, write_batches, write_frame};
pub use stream::{scan_batches, IdHashes, Scanned, BATCH_ROWS};
pub use table::{DatedCounts, Table};

/// What to treat as missing and what to leave out, applied while loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Texts that mean "no value" in this export (e.g. `Select`, `unknown`). Compared after
    /// trimming spaces, case-sensitively. Empty cells are always missing.
    pub na: Vec<String>,
    /// Columns to drop, e.g. fields filled in by sales after contact.
    pub exclude: Vec<String>,
}

/// The file formats `--data` and `--out` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// The format of a file of leads to read, which must not be empty.
    fn of_leads(path: &Path) -> Result<Format> {
        let format = Format::from_path(path)?;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() == 0 {
            return Err(Error::data(
                path,
                "the file is empty; expected a header row and one row per lead",
            ));
        }
        Ok(format)
    }

    /// The format named by the file's extension (`.csv`, `.parquet`/`.pq`).
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("parquet") | Some("pq") => Ok(Format::Parquet),
            _ => Err(Error::data(
                path,
                "unknown file type; use a .csv or .parquet extension",
            )),
        }
    }
}

fn unparsable(path: &Path, e: PolarsError) -> Error {
    Error::data(
        path,
        format!(
            "cannot parse the file: {e}; check it is comma-separated CSV with a header row, or \
             Parquet"
        ),
    )
}

/// True when every value of `ca` is finite, looking at the values without their validity: the
/// slot of a missing value may hold anything, so `false` can be wrong, `true` never is.
fn all_finite(ca: &Float64Chunked) -> bool {
    ca.downcast_iter()
        .all(|a| a.values().iter().all(|v| v.is_finite()))
}

/// `s.trim()`, without looking for Unicode white space when `s` starts and ends with a
/// printable ASCII character (as most cells do).
#[inline]
fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "\u{b}a",
            "a\u{c}",
            "\u{a0}a",
            "a\u{3000}",
            "é",
            " é ",
            "a\u{85}",
            "\u{7f}",
            "L 1",
            "\"x\"",
        ] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }
}
