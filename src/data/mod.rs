//! Loading leads: CSV or Parquet (by extension) through polars, into a [`Table`] that hands out
//! one column at a time as numbers, texts, outcomes or dates, with placeholders such as `Select`
//! already turned into missing values. Takes a path and [`LoadOptions`]; gives a [`Table`], or
//! batches of one for a file of any size ([`scan_batches`]).
//!
//! Split along the stages of a load: `dialect` (delimiter, encoding and decimal comma of CSV
//! files as other locales write them), `table` (the whole-file read and the column views),
//! `stream` (batches and repeated ids of files larger than memory), `dates` (dates and
//! timestamps as exports write them), `outcomes` (what "converted" means: a column, a stage,
//! dates, a list of opportunities, and the timeline of the window) and `files` (hashing and
//! atomic writing).

use std::path::Path;

use polars::prelude::{Float64Chunked, PolarsError};

use crate::error::{Error, Result};

mod dates;
mod dialect;
mod files;
pub mod outcomes;
mod stream;
mod table;

pub use dates::parse_date;
pub use dialect::{Delimiter, Encoding, DELIMITERS};
pub(crate) use files::hex;
pub use files::{sha256_file, write_batches, write_frame};
pub use stream::{scan_batches, IdHashes, Scanned, BATCH_ROWS};
pub use table::{DatedCounts, Table};

/// How to read the file, what to treat as missing and what to leave out, applied while loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Texts that mean "no value" in this export (e.g. `Select`, `unknown`). Compared after
    /// trimming spaces, case-sensitively unless `na_ignore_case`. Empty cells are always
    /// missing.
    pub na: Vec<String>,
    /// Compare cells with `na` ignoring the case of the letters A–Z (`SELECT`, `select`).
    pub na_ignore_case: bool,
    /// Columns to drop, e.g. fields filled in by sales after contact.
    pub exclude: Vec<String>,
    /// The field delimiter of a CSV file; `None` detects it from the header and first lines
    /// (`,` `;` tab `|`; see [`Table::delimiter`] for the one used).
    pub delimiter: Option<Delimiter>,
    /// Numbers in text cells have a decimal comma (`3,5`), and `.` groups thousands
    /// (`1.234,5`), as Excel writes them in German, French or Dutch.
    pub decimal_comma: bool,
    /// The text encoding of a CSV file that is not UTF-8 (`None`: UTF-8). The file is decoded
    /// to a UTF-8 copy in the temporary directory, which polars then reads.
    pub encoding: Option<Encoding>,
    /// The day date rules (`within_days`, `older_than_days`) count back from; a table read
    /// without one cannot evaluate them (the error says so).
    pub dates_as_of: Option<chrono::NaiveDate>,
    /// The layout of the date part of date rules' cells when they are not ISO (as
    /// `--date-format`).
    pub date_format: Option<String>,
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
            "cannot parse the file: {e}; check it is CSV with a header row (fields delimited by \
             ',' ';' tab or '|'; see --delimiter), or Parquet"
        ),
    )
}

/// Refuses a CSV header that gives one name to two columns: polars 0.52 renames the second (`x_duplicated_0`), so a rule
/// on `x` would read the first and nobody would know the other was there.
fn unique_header(path: &Path, header: &csv::StringRecord) -> Result<()> {
    for (i, name) in header.iter().enumerate() {
        if let Some(j) = header.iter().take(i).position(|h| h == name) {
            return Err(Error::data(
                path,
                format!(
                    "columns {} and {} are both named '{name}'; give each column its own name \
                     in the header row",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    Ok(())
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
    /// Why [`super::csv_header`] refuses repeated names: polars 0.52 reads them without a word,
    /// renaming the second.
    #[test]
    fn polars_renames_a_repeated_header() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leads.csv");
        std::fs::write(&path, "visits,size,visits\n1,2,3\n").unwrap();
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(path.clone()))
            .and_then(|r| r.finish())
            .unwrap();
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["visits", "size", "visits_duplicated_0"]);
        let header = csv::Reader::from_path(&path)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let err = super::unique_header(&path, &header)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("columns 1 and 3 are both named 'visits'"),
            "{err}"
        );
    }

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
