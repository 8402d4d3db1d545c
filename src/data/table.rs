//! The [`Table`]: leads of one file (or one batch of it) and their columns as numbers, texts,
//! outcomes and ids, with errors naming the file, row and column.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::dialect::{self, CsvSource};
use super::{
    all_finite, sha256_file, trim, unique_header, unparsable, Encoding, Format, LoadOptions,
};
use crate::error::{Error, Result};

/// Leads loaded from one file: one row per lead.
#[derive(Debug, Clone)]
pub struct Table {
    pub(super) path: PathBuf,
    pub(super) df: DataFrame,
    pub(super) na: Placeholders,
    pub(super) sha256: String,
    /// Rows of the file before this table's first row: non-zero for a batch of a streamed file
    /// (see [`scan_batches`]), so that errors name the row of the file.
    pub(super) first_row: usize,
    /// Things the user should know about the load (e.g. an `--exclude` column that is absent).
    pub notes: Vec<String>,
    pub(super) read_with: ReadWith,
}

/// The "no value" texts of `--na`, as a table compares trimmed cells with them: exactly, or
/// folding A–Z only with `--na-ignore-case` (as a rule's `ignore_case`, so that every export
/// can do the same).
#[derive(Debug, Clone, Default)]
pub(super) struct Placeholders {
    texts: BTreeSet<String>,
    ignore_case: bool,
}

impl Placeholders {
    pub fn new(options: &LoadOptions) -> Placeholders {
        Placeholders {
            texts: Table::na_texts(options).into_iter().collect(),
            ignore_case: options.na_ignore_case,
        }
    }

    /// The placeholder `s` equals but for the case of A–Z, when it is not one itself.
    pub fn same_but_case(&self, s: &str) -> Option<&str> {
        if self.ignore_case {
            return None;
        }
        self.texts
            .iter()
            .find(|t| t.eq_ignore_ascii_case(s))
            .map(String::as_str)
    }

    /// Whether the trimmed, non-empty cell `s` is a placeholder.
    #[inline]
    pub fn contains(&self, s: &str) -> bool {
        if self.ignore_case {
            self.texts.iter().any(|t| t.eq_ignore_ascii_case(s))
        } else {
            self.texts.contains(s)
        }
    }
}

/// How the table's file was read: for numbers with a decimal comma, and for the advice of
/// an error about a column the file lacks.
#[derive(Debug, Clone, Default)]
pub(super) struct ReadWith {
    /// The delimiter of a CSV file (none for Parquet, or a frame from memory).
    pub delimiter: Option<u8>,
    pub encoding: Option<Encoding>,
    pub decimal_comma: bool,
    pub na_ignore_case: bool,
    pub dates_as_of: Option<chrono::NaiveDate>,
    pub date_format: Option<String>,
}

impl ReadWith {
    pub fn new(options: &LoadOptions, csv: Option<&CsvSource>) -> ReadWith {
        ReadWith {
            delimiter: csv.map(|c| c.delimiter),
            encoding: options.encoding,
            decimal_comma: options.decimal_comma,
            na_ignore_case: options.na_ignore_case,
            dates_as_of: options.dates_as_of,
            date_format: options.date_format.clone(),
        }
    }
}

impl Table {
    /// Reads a CSV or Parquet file. CSV cells are read as text and parsed by the rules that use
    /// them, so a stray `abc` in a numeric column is reported with its row rather than silently
    /// turning the column into text.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Table> {
        Table::load_inner(path, options, true, None)
    }

    /// [`Table::load`] of only the given `columns` (those the file has; a missing one is
    /// reported when it is read) and without the file's SHA-256 ([`Table::sha256`] is empty):
    /// for scoring, which records no input and should cost no more than reading the file.
    pub fn load_columns(path: &Path, options: &LoadOptions, columns: &[String]) -> Result<Table> {
        Table::load_inner(path, options, false, Some(columns))
    }

    /// [`Table::load_columns`], with the `numeric` columns of a CSV file parsed into numbers
    /// while polars reads the file, instead of being kept as text for [`Table::numbers`] to
    /// parse afterwards: for scoring, which never needs the text of a numeric column. Building
    /// millions of text cells only to parse them is a large part of scoring's cost.
    ///
    /// What the table then gives is exactly what [`Table::load_columns`] would: polars reads
    /// the placeholders as missing and skips spaces before a number, and whenever it cannot
    /// read a cell of those columns (a cell that is not a number, a space after a number or
    /// around a placeholder) or reads a non-finite number, the file is read again as text, so
    /// that an error still names the row and the column. Placeholders that look like numbers
    /// (`--na -1`) keep the text reading, since polars would read ` -1` as the number; so do
    /// numbers with a decimal comma, which [`Table::numbers`] reads. Parquet files keep their
    /// own types.
    pub fn load_columns_numeric(
        path: &Path,
        options: &LoadOptions,
        columns: &[String],
        numeric: &[String],
    ) -> Result<Table> {
        let format = Format::of_leads(path)?;
        let csv = Table::csv_source(path, format, options)?;
        let na = Table::na_texts(options);
        let typed = !numeric.is_empty()
            && !options.decimal_comma
            && !na.iter().any(|s| s.parse::<f64>().is_ok());
        if let Some(source) = csv.as_ref().filter(|_| typed) {
            match Table::read_csv_numeric(path, source, columns, numeric, &na) {
                Ok(Some(df)) => {
                    tracing::info!(
                        rows = df.height(),
                        columns = df.width(),
                        "read {} (numeric columns as numbers)",
                        path.display()
                    );
                    let mut table = Table::from_frame(path, df, String::new(), options)?;
                    table.read_with = ReadWith::new(options, Some(source));
                    return Ok(table);
                }
                Ok(None) => {}
                Err(e) => tracing::debug!("reading numbers as text: {e}"),
            }
        }
        Table::load_read(path, csv.as_ref(), options, false, Some(columns))
    }

    /// How polars reads a CSV file (`None` for Parquet): its UTF-8 copy when it has another
    /// encoding, and the delimiter given or detected.
    pub(super) fn csv_source(
        path: &Path,
        format: Format,
        options: &LoadOptions,
    ) -> Result<Option<CsvSource>> {
        match format {
            Format::Csv => CsvSource::open(path, options).map(Some),
            Format::Parquet => Ok(None),
        }
    }

    /// The CSV file's `columns` with the `numeric` ones as Float64 and `na` texts read as
    /// missing; `None` when the file has none of the `numeric` columns or a number is not
    /// finite. An error when polars cannot read a cell.
    fn read_csv_numeric(
        path: &Path,
        source: &CsvSource,
        columns: &[String],
        numeric: &[String],
        na: &[String],
    ) -> Result<Option<DataFrame>> {
        let Some(keep) = Table::csv_projection(path, source, columns)? else {
            return Ok(None);
        };
        let numbers: Vec<&PlSmallStr> = keep
            .iter()
            .filter(|c| numeric.iter().any(|n| n == c.as_str()))
            .collect();
        if numbers.is_empty() {
            return Ok(None);
        }
        let schema: Schema = numbers
            .iter()
            .map(|&c| Field::new(c.clone(), DataType::Float64))
            .collect();
        let null_values = (!na.is_empty())
            .then(|| NullValues::AllColumns(na.iter().map(|s| s.as_str().into()).collect()));
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_columns(Some(keep.clone()))
            .with_schema_overwrite(Some(Arc::new(schema)))
            .map_parse_options(|o| {
                o.with_null_values(null_values.clone())
                    .with_separator(source.delimiter)
            })
            .try_into_reader_with_file_path(Some(source.read_path.clone()))
            .and_then(|r| r.finish())
            .map_err(|e| Error::data(path, e.to_string()))?;
        for c in numbers {
            if !df.column(c.as_str())?.f64().is_ok_and(all_finite) {
                return Ok(None);
            }
        }
        Ok(Some(df))
    }

    /// The "no value" texts as the table compares them: trimmed, never empty.
    pub(super) fn na_texts(options: &LoadOptions) -> Vec<String> {
        options
            .na
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Of the CSV file's header, the `wanted` columns (read with the csv crate, which quotes as
    /// polars does); `None` when the file has none of them.
    pub(super) fn csv_projection(
        path: &Path,
        source: &CsvSource,
        wanted: &[String],
    ) -> Result<Option<Arc<[PlSmallStr]>>> {
        let header = csv::ReaderBuilder::new()
            .delimiter(source.delimiter)
            .from_path(&source.read_path)
            .and_then(|mut r| r.headers().cloned())
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Utf8 { .. } => dialect::not_utf8(path, source.delimiter)
                    .unwrap_or_else(|| Error::data(path, format!("cannot read the header: {e}"))),
                _ => Error::data(path, format!("cannot read the header: {e}")),
            })?;
        unique_header(path, &header)?;
        let keep: Vec<PlSmallStr> = header
            .iter()
            .filter(|h| wanted.iter().any(|w| w == h))
            .map(PlSmallStr::from)
            .collect();
        Ok((!keep.is_empty()).then(|| Arc::from(keep)))
    }

    fn load_inner(
        path: &Path,
        options: &LoadOptions,
        hash: bool,
        columns: Option<&[String]>,
    ) -> Result<Table> {
        let format = Format::of_leads(path)?;
        let csv = Table::csv_source(path, format, options)?;
        Table::load_read(path, csv.as_ref(), options, hash, columns)
    }

    fn load_read(
        path: &Path,
        csv: Option<&CsvSource>,
        options: &LoadOptions,
        hash: bool,
        columns: Option<&[String]>,
    ) -> Result<Table> {
        // The file's hash (of its own bytes, whatever the encoding) is computed while polars
        // parses it.
        let (sha256, df) = std::thread::scope(|scope| {
            let hash = scope.spawn(|| {
                if hash {
                    sha256_file(path)
                } else {
                    Ok(String::new())
                }
            });
            let df = Table::read(path, csv, columns);
            (hash.join().expect("hash thread panicked"), df)
        });
        let df = df?;
        tracing::info!(
            rows = df.height(),
            columns = df.width(),
            "read {}",
            path.display()
        );
        let mut table = Table::from_frame(path, df, sha256?, options)?;
        table.read_with = ReadWith::new(options, csv);
        Ok(table)
    }

    /// The frame of a CSV file (`csv` given) or a Parquet file.
    fn read(path: &Path, csv: Option<&CsvSource>, columns: Option<&[String]>) -> Result<DataFrame> {
        let Some(source) = csv else {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            return ParquetReader::new(file)
                .finish()
                .map_err(|e| unparsable(path, e));
        };
        // Only the wanted columns the header has (read with the csv crate, which quotes as
        // polars does); the rest are never parsed.
        let projection = match columns {
            Some(wanted) => Table::csv_projection(path, source, wanted)?,
            // Reads the header only to refuse repeated names.
            None => Table::csv_projection(path, source, &[]).map(|_| None)?,
        };
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_columns(projection)
            .map_parse_options(|o| o.with_separator(source.delimiter))
            .try_into_reader_with_file_path(Some(source.read_path.clone()))
            .and_then(|r| r.finish())
            .map_err(|e| source.error(path, e))
    }

    /// Wraps a frame already in memory (used by tests and by callers that load data themselves).
    pub fn from_frame(
        path: &Path,
        mut df: DataFrame,
        sha256: String,
        options: &LoadOptions,
    ) -> Result<Table> {
        let mut notes = Vec::new();
        for col in &options.exclude {
            if df.get_column_index(col).is_some() {
                df = df.drop(col)?;
            } else {
                notes.push(format!(
                    "--exclude: column '{col}' is not in {}; nothing to exclude",
                    path.display()
                ));
            }
        }
        if df.height() == 0 {
            return Err(Error::data(
                path,
                "the file has a header but no rows; expected one row per lead",
            ));
        }
        Ok(Table {
            path: path.to_path_buf(),
            df,
            na: Placeholders::new(options),
            sha256,
            first_row: 0,
            notes,
            read_with: ReadWith::new(options, None),
        })
    }

    /// The delimiter the CSV file was read with (given or detected); `None` for Parquet.
    pub fn delimiter(&self) -> Option<super::Delimiter> {
        self.read_with
            .delimiter
            .and_then(|d| super::Delimiter::from_char(d as char))
    }

    /// Whether text cells were read as numbers with a decimal comma.
    pub fn decimal_comma(&self) -> bool {
        self.read_with.decimal_comma
    }

    /// Whether placeholders were compared ignoring the case of A–Z (`--na-ignore-case`).
    pub fn na_ignore_case(&self) -> bool {
        self.read_with.na_ignore_case
    }

    /// The encoding the file was decoded from, when one was given.
    pub fn encoding(&self) -> Option<Encoding> {
        self.read_with.encoding
    }

    /// The file's row number (1-based, header not counted) of this table's row `i` (0-based).
    pub fn row(&self, i: usize) -> usize {
        self.first_row + i + 1
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the input file's bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn n_rows(&self) -> usize {
        self.df.height()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.df
            .get_column_names()
            .into_iter()
            .map(|s| s.to_string())
            .collect()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.df.get_column_index(name).is_some()
    }

    /// A copy holding only the given rows, in the given order (for splits and folds).
    pub fn take(&self, rows: &[usize]) -> Result<Table> {
        let idx = IdxCa::from_vec(
            "idx".into(),
            rows.iter().map(|&r| r as IdxSize).collect::<Vec<_>>(),
        );
        Ok(Table {
            df: self.df.take(&idx)?,
            ..self.clone()
        })
    }

    /// A copy holding only the columns `names` (those the table has), in that order.
    pub(crate) fn select_columns(&self, names: &[String]) -> Result<Table> {
        let have: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| self.has_column(n))
            .collect();
        Ok(Table {
            df: self.df.select(have)?,
            ..self.clone()
        })
    }

    /// The table with `column` added, or in place of the column of its name (for rows made
    /// from leads, such as training snapshots).
    pub fn with_column(mut self, column: Column) -> Result<Table> {
        self.df.with_column(column)?;
        Ok(self)
    }

    pub(super) fn column(&self, name: &str, hint: &str) -> Result<&Column> {
        self.df
            .column(name)
            .map_err(|_| self.missing_column(name, hint))
    }

    /// The error for a column the table lacks, with `hint`; or, when the header of a CSV file
    /// split at another delimiter has the column, the advice to pass that delimiter.
    pub fn missing_column(&self, name: &str, hint: &str) -> Error {
        let delimiter_hint = self.read_with.delimiter.and_then(|d| {
            dialect::other_delimiter_hint(&self.path, self.read_with.encoding, d, name)
        });
        Error::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            hint: delimiter_hint.unwrap_or_else(|| hint.to_string()),
        }
    }

    pub(super) fn is_text(col: &Column) -> bool {
        matches!(col.dtype(), DataType::String)
    }

    /// The column's cells as text: itself when it is text (a cheap shared copy), else cast
    /// (numbers in a Parquet file, formatted as polars formats them).
    pub(super) fn as_text(col: &Column) -> Result<StringChunked> {
        Ok(if Table::is_text(col) {
            col.str()?.clone()
        } else {
            col.cast(&DataType::String)?.str()?.clone()
        })
    }

    /// The column as text, with placeholders and empty cells as `None`. Numbers in a Parquet
    /// file are formatted as polars formats them (`3`, `2.5`).
    pub fn texts(&self, name: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.n_rows());
        self.for_each_text(name, |v| out.push(v.map(str::to_string)))?;
        Ok(out)
    }

    /// Calls `f` with each cell of the column as [`Table::texts`] reads it, in row order,
    /// without copying the text (a copy per cell is most of the cost at millions of rows).
    pub fn for_each_text(&self, name: &str, mut f: impl FnMut(Option<&str>)) -> Result<()> {
        for v in &self.raw_texts(name)? {
            f(self.cell(v));
        }
        Ok(())
    }

    /// The column's cells as polars holds them, as text: [`Table::cell`] reads each as
    /// [`Table::texts`] does.
    pub(crate) fn raw_texts(&self, name: &str) -> Result<StringChunked> {
        Table::as_text(self.column(name, "check the column name in the rules file")?)
    }

    /// A cell of [`Table::raw_texts`] as [`Table::texts`] reads it: trimmed, and `None` when
    /// empty or a placeholder.
    #[inline]
    pub(crate) fn cell<'a>(&self, v: Option<&'a str>) -> Option<&'a str> {
        v.map(trim)
            .filter(|s| !s.is_empty() && !self.na.contains(s))
    }

    /// The column as [`Table::texts`] reads it, as a polars column: the cells themselves (a
    /// cheap shared copy) when no cell has spaces around it, is empty or is a placeholder, else
    /// a new column.
    pub fn texts_column(&self, name: &str) -> Result<StringChunked> {
        let ca = self.raw_texts(name)?;
        let unchanged = |v: Option<&str>| v.is_none_or(|s| self.cell(Some(s)) == Some(s));
        if ca.iter().all(unchanged) {
            return Ok(ca.with_name(name.into()));
        }
        let mut out = StringChunkedBuilder::new(name.into(), ca.len());
        for v in &ca {
            out.append_option(self.cell(v));
        }
        Ok(out.finish())
    }

    /// The as-of date date rules count back from, if set.
    pub fn dates_as_of(&self) -> Option<chrono::NaiveDate> {
        self.read_with.dates_as_of
    }

    /// Sets the as-of date of date rules (and the layout of their dates when not ISO).
    pub fn set_dates_as_of(&mut self, as_of: chrono::NaiveDate, format: Option<&str>) {
        self.read_with.dates_as_of = Some(as_of);
        self.read_with.date_format = format.map(String::from);
    }

    /// The column's dates as date rules read them ([`crate::rules::parse_date_utc`]: a
    /// timestamp with a UTC offset on its UTC day, one without taken as UTC); empty cells
    /// and placeholders are `None`, anything else is an error naming the row.
    pub fn rule_dates(&self, name: &str) -> Result<Vec<Option<chrono::NaiveDate>>> {
        let format = self.read_with.date_format.as_deref();
        let cells = self.raw_texts(name)?;
        let mut out = Vec::with_capacity(cells.len());
        for (i, v) in cells.iter().enumerate() {
            let Some(s) = self.cell(v) else {
                out.push(None);
                continue;
            };
            match crate::rules::parse_date_utc(s, format) {
                Some(d) => out.push(Some(d)),
                None => {
                    return Err(self.bad_value(
                        i,
                        name,
                        &match format {
                            Some(f) => format!(
                                "'{s}' is not a date in the format '{f}' (--date-format); a \
                                 date rule reads dates"
                            ),
                            None => format!(
                                "'{s}' is not a date; a date rule reads YYYY-MM-DD (a time part \
                                 after it is fine), or pass --date-format"
                            ),
                        },
                    ))
                }
            }
        }
        Ok(out)
    }

    /// The column's dates as ages in whole days before the table's as-of date (negative after
    /// it), what date rules' features are computed from. Without an as-of date, an error.
    pub fn date_ages(&self, name: &str) -> Result<Float64Chunked> {
        let as_of = self.read_with.dates_as_of.ok_or_else(|| Error::Option {
            option: "--as-of",
            message: format!(
                "column '{name}' is read by a date rule, which counts days before an as-of \
                 date; none was set"
            ),
        })?;
        let dates = self.rule_dates(name)?;
        Ok(Float64Chunked::from_iter_options(
            name.into(),
            dates
                .into_iter()
                .map(|d| d.map(|d| crate::rules::age_days(d, as_of) as f64)),
        ))
    }

    /// The column as [`Table::numbers`] reads it, as a polars column: the cells themselves when
    /// they are already finite numbers (a column [`Table::load_columns_numeric`] parsed), else
    /// [`Table::numbers`] (which names the row of a value it cannot read).
    pub(crate) fn numbers_column(&self, name: &str) -> Result<Float64Chunked> {
        let col = self.column(name, "check the column name in the rules file")?;
        if let Ok(ca) = col.f64() {
            if all_finite(ca) {
                return Ok(ca.clone());
            }
        }
        Ok(Float64Chunked::from_iter_options(
            name.into(),
            self.numbers(name)?.into_iter(),
        ))
    }

    /// Ids that appear more than once: how many repeats, and the first repeat (1-based row and
    /// the id), or `None` when every id is unique. Missing ids are not compared.
    pub fn repeated(&self, name: &str) -> Result<Option<(usize, usize, String)>> {
        let ca = self.ids(name)?;
        // foldhash: a fast non-cryptographic hash (ids are not adversarial here).
        let mut seen: std::collections::HashSet<&str, foldhash::fast::RandomState> =
            std::collections::HashSet::with_capacity_and_hasher(ca.len(), Default::default());
        let mut repeats = 0;
        let mut first = None;
        for (i, v) in ca.iter().enumerate() {
            let Some(v) = self.id(v) else { continue };
            if !seen.insert(v) {
                repeats += 1;
                first.get_or_insert((self.row(i), v.to_string()));
            }
        }
        Ok(first.map(|(row, v)| (repeats, row, v)))
    }

    /// The id column as text.
    pub(super) fn ids(&self, name: &str) -> Result<StringChunked> {
        Table::as_text(self.column(name, "check the --id column name")?)
    }

    /// Calls `f` with each lead's id as compared ([`Table::id`]), in row order.
    pub(crate) fn for_each_id(&self, name: &str, mut f: impl FnMut(Option<&str>)) -> Result<()> {
        for v in &self.ids(name)? {
            f(self.id(v));
        }
        Ok(())
    }

    /// Rows of the file before this table's first row (non-zero for a later batch).
    pub(crate) fn first_row(&self) -> usize {
        self.first_row
    }

    /// [`Table::texts`], with `hint` in the error when the column is missing.
    pub(crate) fn texts_checked(&self, name: &str, hint: &str) -> Result<Vec<Option<String>>> {
        self.column(name, hint)?;
        self.texts(name)
    }

    /// [`Table::for_each_text`], with `hint` in the error when the column is missing.
    pub(crate) fn for_each_text_checked(
        &self,
        name: &str,
        hint: &str,
        f: impl FnMut(Option<&str>),
    ) -> Result<()> {
        self.column(name, hint)?;
        self.for_each_text(name, f)
    }

    /// An error about the cell of row `i` (0-based in this table) of `column`.
    pub(crate) fn bad_value(&self, i: usize, column: &str, message: &str) -> Error {
        Error::BadValue {
            path: self.path.clone(),
            row: self.row(i),
            column: column.to_string(),
            message: message.to_string(),
        }
    }

    /// An id as compared: trimmed; empty cells and placeholders are no id.
    pub(super) fn id<'a>(&self, cell: Option<&'a str>) -> Option<&'a str> {
        cell.map(str::trim)
            .filter(|s| !s.is_empty() && !self.na.contains(s))
    }

    /// The column as numbers, with placeholders and empty cells as `None`. Text that is not a
    /// number, NaN and infinities are errors naming the row, since a rule on this column could
    /// not be evaluated honestly.
    pub fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let col = self.column(name, "check the column name in the rules file")?;
        let mut out = Vec::with_capacity(col.len());
        if Table::is_text(col) {
            // Fast path: polars parses the whole column at once. Any cell it cannot read
            // (white space, a placeholder, an empty text, a typo) or a non-finite number sends
            // the column through the cell-by-cell reading below, which trims, knows the
            // placeholders and names the row of a bad value. Numbers with a decimal comma are
            // read cell by cell (polars would read `1.234` as a decimal point).
            let fast = (!self.read_with.decimal_comma)
                .then(|| col.strict_cast(&DataType::Float64))
                .and_then(|r| r.ok());
            if let Some(parsed) = fast {
                let parsed = parsed.f64()?;
                if parsed.into_iter().flatten().all(f64::is_finite) {
                    return Ok(parsed.into_iter().collect());
                }
            }
            for (i, v) in col.str()?.into_iter().enumerate() {
                let v = v
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && !self.na.contains(s));
                out.push(match v {
                    None => None,
                    Some(s) => Some(self.parse_number(s, i, name)?),
                });
            }
        } else {
            let cast = col.cast(&DataType::Float64).map_err(|e| {
                Error::data(&self.path, format!("column '{name}' is not numeric: {e}"))
            })?;
            for (i, v) in cast.f64()?.into_iter().enumerate() {
                if let Some(x) = v {
                    if !x.is_finite() {
                        return Err(self.non_finite(i, name, &x.to_string()));
                    }
                }
                out.push(v);
            }
        }
        Ok(out)
    }

    fn parse_number(&self, s: &str, row: usize, column: &str) -> Result<f64> {
        let decimal_comma = self.read_with.decimal_comma;
        let parsed = if decimal_comma {
            dialect::parse_decimal_comma(s)
        } else {
            s.parse::<f64>().ok()
        };
        let message = match parsed {
            Some(x) if x.is_finite() => return Ok(x),
            Some(_) => return Err(self.non_finite(row, column, s)),
            None if self.na.same_but_case(s).is_some() => format!(
                "'{s}' is not a number, but a rule on this column needs numbers; it differs \
                 from the placeholder '{}' only in the case of its letters: pass \
                 --na-ignore-case to read it as missing too",
                self.na.same_but_case(s).unwrap_or_default()
            ),
            None if decimal_comma => format!(
                "'{s}' is not a number with a decimal comma (--decimal-comma reads ',' as the \
                 decimal point and '.' only between groups of three digits, as in 1.234,5), \
                 but a rule on this column needs numbers; if '{s}' marks a missing value, pass \
                 --na \"{s}\""
            ),
            None if s.contains(',') && dialect::parse_decimal_comma(s).is_some() => format!(
                "'{s}' is not a number as written (a decimal point), but a rule on this column \
                 needs numbers; if the file writes decimals with a comma, as Excel does in \
                 German, French or Dutch, pass --decimal-comma"
            ),
            None => format!(
                "'{s}' is not a number, but a rule on this column needs numbers; \
                 if '{s}' marks a missing value, pass --na \"{s}\""
            ),
        };
        Err(Error::BadValue {
            path: self.path.clone(),
            row: self.row(row),
            column: column.to_string(),
            message,
        })
    }

    /// True when `texts` (of [`Table::texts`]) are not all numbers as written but would all be
    /// with `--decimal-comma`, which this table was not read with: the note for a column
    /// proposed as text.
    pub fn looks_decimal_comma(&self, texts: &[Option<String>]) -> bool {
        let mut cells = texts.iter().flatten();
        !self.read_with.decimal_comma
            && cells.clone().any(|s| s.contains(','))
            && cells.all(|s| dialect::parse_decimal_comma(s).is_some_and(f64::is_finite))
    }

    fn non_finite(&self, row: usize, column: &str, s: &str) -> Error {
        Error::BadValue {
            path: self.path.clone(),
            row: self.row(row),
            column: column.to_string(),
            message: format!(
                "{s} is not a finite number; leave the cell empty (or pass --na \"{s}\" for text \
                 files) to mark it missing"
            ),
        }
    }

    /// A counts table (from `mqlcal export --format sql-counts`, run in a warehouse): columns
    /// `rule_1` … `rule_N` for the `n_rules` rules, `leads`, `conversions`, and optionally
    /// `unreadable_outcomes`. Gives the rule patterns (one row per table row) and the counts.
    /// Errors name the row and column: a missing cell, a feature that is not a whole number
    /// from 0 up, a count that is not a whole number, leads with unreadable outcomes.
    pub fn counts(&self, n_rules: usize) -> Result<(ndarray::Array2<f64>, Vec<u64>, Vec<u64>)> {
        use crate::export::sql::{count_rule_column, COUNT_COLUMNS};
        let expected: Vec<String> = (0..n_rules)
            .map(count_rule_column)
            .chain(COUNT_COLUMNS.iter().map(|s| s.to_string()))
            .collect();
        let extra: Vec<String> = self
            .df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !expected.contains(c))
            .collect();
        if !extra.is_empty() {
            return Err(Error::data(
                &self.path,
                format!(
                    "column(s) {extra:?} are not in a counts table for {n_rules} rules (rule_1 \
                     … rule_{n_rules}, leads, conversions); the counts must come from the \
                     sql-counts query of the same rules file"
                ),
            ));
        }
        let hint = COUNTS_HINT;
        let whole = |name: &str| self.whole_counts(name);
        let n = self.n_rows();
        let mut x = ndarray::Array2::<f64>::zeros(ndarray::ShapeBuilder::f((n, n_rules)));
        for j in 0..n_rules {
            for (i, v) in whole(&count_rule_column(j))?.into_iter().enumerate() {
                x[[i, j]] = v as f64;
            }
        }
        let leads = whole(COUNT_COLUMNS[0])?;
        let conversions = whole(COUNT_COLUMNS[1])?;
        if self.df.column(COUNT_COLUMNS[2]).is_ok() {
            for (i, bad) in whole(COUNT_COLUMNS[2])?.into_iter().enumerate() {
                if bad > 0 {
                    return Err(Error::BadValue {
                        path: self.path.clone(),
                        row: self.row(i),
                        column: COUNT_COLUMNS[2].to_string(),
                        message: format!(
                            "{bad} leads have an outcome that is not 0/1, true/false or yes/no \
                             (or none); fix or drop them in the warehouse table and count again"
                        ),
                    });
                }
            }
        }
        for (i, (&l, &c)) in leads.iter().zip(&conversions).enumerate() {
            if c > l {
                return Err(Error::BadValue {
                    path: self.path.clone(),
                    row: self.row(i),
                    column: COUNT_COLUMNS[1].to_string(),
                    message: format!("{c} conversions but only {l} leads; {hint}"),
                });
            }
        }
        Ok((x, leads, conversions))
    }

    /// A counts column of whole numbers from 0 up.
    fn whole_counts(&self, name: &str) -> Result<Vec<u64>> {
        self.column(name, COUNTS_HINT)?;
        self.numbers(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 => Ok(x as u64),
                other => Err(Error::BadValue {
                    path: self.path.clone(),
                    row: self.row(i),
                    column: name.to_string(),
                    message: format!(
                        "{} is not a whole number from 0 up; {COUNTS_HINT}",
                        other.map_or("an empty cell".to_string(), |x| x.to_string())
                    ),
                }),
            })
            .collect()
    }

    /// True for a counts table by date (from `sql-counts --outcome-date`).
    pub fn is_dated_counts(&self) -> bool {
        self.has_column(crate::export::sql_counts::DATED_COLUMNS[0])
    }

    /// A counts table by date (`mqlcal export --format sql-counts --outcome-date`): the rule
    /// features, creation day, opportunity day and leads of each row, and the lead bucket of
    /// snapshot counts (`--events-table`: the column `lead_bucket`, empty for leads without an
    /// id). Errors name the row and column of a cell that does not fit.
    pub fn dated_counts(&self, n_rules: usize) -> Result<DatedCounts> {
        use crate::export::sql::count_rule_column;
        use crate::export::sql_counts::{DATED_COLUMNS, LEAD_BUCKET};
        let bucketed = self.has_column(LEAD_BUCKET);
        let expected: Vec<String> = (0..n_rules)
            .map(count_rule_column)
            .chain(DATED_COLUMNS.iter().map(|s| s.to_string()))
            .chain(bucketed.then(|| LEAD_BUCKET.to_string()))
            .collect();
        let extra: Vec<String> = self
            .column_names()
            .into_iter()
            .filter(|c| !expected.contains(c))
            .collect();
        if !extra.is_empty() {
            return Err(Error::data(
                &self.path,
                format!(
                    "column(s) {extra:?} are not in a counts table by date for {n_rules} rules \
                     (rule_1 … rule_{n_rules}, created_day, opportunity_day, leads, and \
                     lead_bucket for snapshots); {COUNTS_HINT} and --outcome-date"
                ),
            ));
        }
        let n = self.n_rows();
        let mut x = ndarray::Array2::<f64>::zeros(ndarray::ShapeBuilder::f((n, n_rules)));
        for j in 0..n_rules {
            for (i, v) in self
                .whole_counts(&count_rule_column(j))?
                .into_iter()
                .enumerate()
            {
                x[[i, j]] = v as f64;
            }
        }
        let leads = self.whole_counts(DATED_COLUMNS[2])?;
        let mut created = Vec::with_capacity(n);
        for (i, d) in self
            .dates_as(DATED_COLUMNS[0], None, COUNTS_HINT)?
            .into_iter()
            .enumerate()
        {
            match d {
                Some(d) => created.push(super::outcomes::day(d)),
                None => {
                    return Err(self.bad_value(
                        i,
                        DATED_COLUMNS[0],
                        &format!(
                            "{} leads have no creation date; a conversion window needs one for \
                             every lead (fill it in the warehouse table, or leave such leads out)",
                            leads[i]
                        ),
                    ))
                }
            }
        }
        let opportunity = self
            .dates_as(DATED_COLUMNS[1], None, COUNTS_HINT)?
            .into_iter()
            .map(|d| d.map(super::outcomes::day))
            .collect();
        let bucket = match bucketed {
            false => None,
            true => Some(self.buckets(LEAD_BUCKET)?),
        };
        Ok(DatedCounts {
            x,
            leads,
            created,
            opportunity,
            bucket,
        })
    }

    /// The lead buckets of snapshot counts: whole numbers below
    /// [`crate::group::LEAD_BUCKETS`], or empty (leads without an id).
    fn buckets(&self, name: &str) -> Result<Vec<Option<u32>>> {
        let limit = crate::group::LEAD_BUCKETS;
        self.numbers(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Ok(None),
                Some(x) if x >= 0.0 && x.fract() == 0.0 && x < f64::from(limit) => {
                    Ok(Some(x as u32))
                }
                Some(x) => Err(self.bad_value(
                    i,
                    name,
                    &format!(
                        "{x} is not a lead bucket (a whole number from 0 to {}); {COUNTS_HINT} \
                         and --events-table",
                        limit - 1
                    ),
                )),
            })
            .collect()
    }

    /// The outcome column as true (became an opportunity) / false. Accepts 0/1, true/false,
    /// yes/no in any case; anything else, or an empty cell, is an error naming the row.
    pub fn outcomes(&self, name: &str) -> Result<Vec<bool>> {
        let col = self.column(
            name,
            "pass the outcome column with --target, or set `target` in the rules file",
        )?;
        let texts = if Table::is_text(col) {
            col.clone()
        } else {
            col.cast(&DataType::String)?
        };
        let mut out = Vec::with_capacity(col.len());
        for (i, v) in texts.str()?.into_iter().enumerate() {
            let v = v.map(|s| s.trim().to_ascii_lowercase());
            out.push(match v.as_deref() {
                Some("1") | Some("1.0") | Some("true") | Some("yes") => true,
                Some("0") | Some("0.0") | Some("false") | Some("no") => false,
                other => {
                    return Err(Error::BadValue {
                        path: self.path.clone(),
                        row: self.row(i),
                        column: name.to_string(),
                        message: format!(
                            "outcome {} is not one of 0/1, true/false, yes/no; fix the row or \
                             drop it",
                            match other {
                                None | Some("") => "is empty, which".to_string(),
                                Some(s) => format!("'{s}'"),
                            }
                        ),
                    })
                }
            });
        }
        Ok(out)
    }
}

const COUNTS_HINT: &str =
    "the counts must come from `mqlcal export --format sql-counts` with the same rules file";

/// The rows of a counts table by date ([`Table::dated_counts`]).
#[derive(Debug, Clone)]
pub struct DatedCounts {
    /// Rule features, one row per counts row.
    pub x: ndarray::Array2<f64>,
    pub leads: Vec<u64>,
    /// Creation day of the row's leads ([`super::outcomes::day`]).
    pub created: Vec<i64>,
    /// Their opportunity day, `None` when none.
    pub opportunity: Vec<Option<i64>>,
    /// Snapshot counts (`--events-table`): each row's lead bucket
    /// ([`crate::group::LEAD_BUCKETS`]), `None` for leads without an id.
    pub bucket: Option<Vec<Option<u32>>>,
}
