//! Loading leads: CSV or Parquet (by extension) through polars, into a [`Table`] that hands out
//! one column at a time as numbers, texts or outcomes, with placeholders such as `Select`
//! already turned into missing values. Takes a path and [`LoadOptions`]; gives a [`Table`].

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

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

/// Leads loaded from one file: one row per lead.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    df: DataFrame,
    na: BTreeSet<String>,
    sha256: String,
    /// Rows of the file before this table's first row: non-zero for a batch of a streamed file
    /// (see [`scan_batches`]), so that errors name the row of the file.
    first_row: usize,
    /// Things the user should know about the load (e.g. an `--exclude` column that is absent).
    pub notes: Vec<String>,
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
    /// (`--na -1`) keep the text reading, since polars would read ` -1` as the number. Parquet
    /// files keep their own types.
    pub fn load_columns_numeric(
        path: &Path,
        options: &LoadOptions,
        columns: &[String],
        numeric: &[String],
    ) -> Result<Table> {
        let na = Table::na_texts(options);
        let typed = Format::from_path(path)? == Format::Csv
            && !numeric.is_empty()
            && !na.iter().any(|s| s.parse::<f64>().is_ok());
        if typed {
            match Table::read_csv_numeric(path, columns, numeric, &na) {
                Ok(Some(df)) => {
                    tracing::info!(
                        rows = df.height(),
                        columns = df.width(),
                        "read {} (numeric columns as numbers)",
                        path.display()
                    );
                    return Table::from_frame(path, df, String::new(), options);
                }
                Ok(None) => {}
                Err(e) => tracing::debug!("reading numbers as text: {e}"),
            }
        }
        Table::load_columns(path, options, columns)
    }

    /// The CSV file's `columns` with the `numeric` ones as Float64 and `na` texts read as
    /// missing; `None` when the file has none of the `numeric` columns or a number is not
    /// finite. An error when polars cannot read a cell.
    fn read_csv_numeric(
        path: &Path,
        columns: &[String],
        numeric: &[String],
        na: &[String],
    ) -> Result<Option<DataFrame>> {
        let Some(keep) = Table::csv_projection(path, columns)? else {
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
            .map_parse_options(|o| o.with_null_values(null_values.clone()))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
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
    fn na_texts(options: &LoadOptions) -> Vec<String> {
        options
            .na
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Of the CSV file's header, the `wanted` columns (read with the csv crate, which quotes as
    /// polars does); `None` when the file has none of them.
    fn csv_projection(path: &Path, wanted: &[String]) -> Result<Option<Arc<[PlSmallStr]>>> {
        let header = csv::Reader::from_path(path)
            .and_then(|mut r| r.headers().cloned())
            .map_err(|e| Error::data(path, format!("cannot read the header: {e}")))?;
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
        // The file's hash is computed while polars parses it.
        let (sha256, df) = std::thread::scope(|scope| {
            let hash = scope.spawn(|| {
                if hash {
                    sha256_file(path)
                } else {
                    Ok(String::new())
                }
            });
            let df = Table::read(path, format, columns);
            (hash.join().expect("hash thread panicked"), df)
        });
        let df = df?;
        tracing::info!(
            rows = df.height(),
            columns = df.width(),
            "read {}",
            path.display()
        );
        Table::from_frame(path, df, sha256?, options)
    }

    fn read(path: &Path, format: Format, columns: Option<&[String]>) -> Result<DataFrame> {
        match format {
            Format::Csv => {
                // Only the wanted columns the header has (read with the csv crate, which
                // quotes as polars does); the rest are never parsed.
                let projection = match columns {
                    Some(wanted) => Table::csv_projection(path, wanted)?,
                    None => None,
                };
                CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(Some(0))
                    .with_columns(projection)
                    .try_into_reader_with_file_path(Some(path.to_path_buf()))
                    .and_then(|r| r.finish())
            }
            Format::Parquet => {
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                ParquetReader::new(file).finish()
            }
        }
        .map_err(|e| unparsable(path, e))
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
            na: Table::na_texts(options).into_iter().collect(),
            sha256,
            first_row: 0,
            notes,
        })
    }

    /// The file's row number (1-based, header not counted) of this table's row `i` (0-based).
    fn row(&self, i: usize) -> usize {
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

    fn column(&self, name: &str, hint: &str) -> Result<&Column> {
        self.df.column(name).map_err(|_| Error::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            hint: hint.to_string(),
        })
    }

    fn is_text(col: &Column) -> bool {
        matches!(col.dtype(), DataType::String)
    }

    /// The column's cells as text: itself when it is text (a cheap shared copy), else cast
    /// (numbers in a Parquet file, formatted as polars formats them).
    fn as_text(col: &Column) -> Result<StringChunked> {
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
            .filter(|s| !s.is_empty() && !self.na.contains(*s))
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
    fn ids(&self, name: &str) -> Result<StringChunked> {
        Table::as_text(self.column(name, "check the --id column name")?)
    }

    /// An id as compared: trimmed; empty cells and placeholders are no id.
    fn id<'a>(&self, cell: Option<&'a str>) -> Option<&'a str> {
        cell.map(str::trim)
            .filter(|s| !s.is_empty() && !self.na.contains(*s))
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
            // placeholders and names the row of a bad value.
            if let Ok(parsed) = col.strict_cast(&DataType::Float64) {
                let parsed = parsed.f64()?;
                if parsed.into_iter().flatten().all(f64::is_finite) {
                    return Ok(parsed.into_iter().collect());
                }
            }
            for (i, v) in col.str()?.into_iter().enumerate() {
                let v = v
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && !self.na.contains(*s));
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
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            Ok(_) => Err(self.non_finite(row, column, s)),
            Err(_) => Err(Error::BadValue {
                path: self.path.clone(),
                row: self.row(row),
                column: column.to_string(),
                message: format!(
                    "'{s}' is not a number, but a rule on this column needs numbers; \
                     if '{s}' marks a missing value, pass --na \"{s}\""
                ),
            }),
        }
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
        let hint = "the counts must come from `mqlcal export --format sql-counts` with the same \
                    rules file";
        let whole = |name: &str| -> Result<Vec<u64>> {
            self.column(name, hint)?;
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
                            "{} is not a whole number from 0 up; {hint}",
                            other.map_or("an empty cell".to_string(), |x| x.to_string())
                        ),
                    }),
                })
                .collect()
        };
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

    /// The column as dates (`YYYY-MM-DD` at the start of each cell, so timestamps work too);
    /// empty cells are `None`, anything else is an error naming the row.
    pub fn dates(&self, name: &str) -> Result<Vec<Option<chrono::NaiveDate>>> {
        self.column(
            name,
            "pass the lead date column with --date, or evaluate on a holdout (--holdout 0.2)",
        )?;
        self.texts(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Ok(None),
                Some(s) => s
                    .get(..10)
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(Some)
                    .ok_or_else(|| Error::BadValue {
                        path: self.path.clone(),
                        row: self.row(i),
                        column: name.to_string(),
                        message: format!("'{s}' is not a date; expected YYYY-MM-DD"),
                    }),
            })
            .collect()
    }

    /// True when the column looks like dates or timestamps (a date type in Parquet, or text in
    /// `YYYY-MM-DD` form), which are never turned into rules.
    pub fn is_date(&self, name: &str) -> bool {
        let Ok(col) = self.column(name, "") else {
            return false;
        };
        match col.dtype() {
            DataType::Date | DataType::Datetime(_, _) => true,
            DataType::String => {
                let mut seen = 0;
                for v in col.str().into_iter().flatten().flatten().take(200) {
                    let b = v.trim().as_bytes();
                    let date_like = b.len() >= 10
                        && b[..4].iter().all(u8::is_ascii_digit)
                        && b[4] == b'-'
                        && b[5..7].iter().all(u8::is_ascii_digit)
                        && b[7] == b'-'
                        && b[8..10].iter().all(u8::is_ascii_digit);
                    if !date_like {
                        return false;
                    }
                    seen += 1;
                }
                seen > 0
            }
            _ => false,
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

/// Rows per batch when a file is streamed: small enough that a batch's rule features are a few
/// megabytes, large enough that per-batch costs vanish.
pub const BATCH_ROWS: usize = 1 << 18;

/// What [`scan_batches`] saw of the whole file.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub rows: usize,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// As [`Table::notes`].
    pub notes: Vec<String>,
}

/// Streams the given `columns` of a CSV file (polars' streaming engine) or Parquet file
/// (polars' reader, a row slice at a time: see `parquet_batches`) in file order, handing
/// `each` one [`Table`] of at most `batch_rows` rows at a time (errors name rows of the file). Memory holds a few batches whatever the file's size. Columns the file
/// lacks are left out, so that reading one reports it as [`Table::load`] would; `--exclude`d
/// columns are left out with the same notes. Stops when `each` breaks or fails; `rows` then
/// counts the rows read so far.
pub fn scan_batches(
    path: &Path,
    options: &LoadOptions,
    columns: &[String],
    batch_rows: usize,
    mut each: impl FnMut(Table) -> Result<std::ops::ControlFlow<()>>,
) -> Result<Scanned> {
    let format = Format::of_leads(path)?;
    let source = PlPath::Local(Arc::from(path));
    let lazy = match format {
        // All cells as text, as Table::load reads CSV.
        Format::Csv => LazyCsvReader::new(source)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
        Format::Parquet => LazyFrame::scan_parquet(source, ScanArgsParquet::default()),
    };
    let mut lazy = lazy.map_err(|e| unparsable(path, e))?;
    let schema = lazy.collect_schema().map_err(|e| unparsable(path, e))?;
    let notes: Vec<String> = options
        .exclude
        .iter()
        .filter(|c| !schema.contains(c))
        .map(|c| {
            format!(
                "--exclude: column '{c}' is not in {}; nothing to exclude",
                path.display()
            )
        })
        .collect();
    let mut keep: Vec<String> = Vec::new();
    for c in columns {
        if schema.contains(c) && !options.exclude.contains(c) && !keep.contains(c) {
            keep.push(c.clone());
        }
    }
    if keep.is_empty() {
        // A frame of no columns has no rows to stream: stream any column instead, so that
        // `each` sees the rows and reports the first column it misses.
        keep.extend(schema.iter_names().next().map(|c| c.to_string()));
    }

    // Batches go through a bounded channel to this thread, which keeps at most two waiting
    // (back-pressure), while polars reads the next ones on its threads.
    let (send, receive) = std::sync::mpsc::sync_channel::<DataFrame>(2);
    let read: Box<dyn FnOnce() -> PolarsResult<()> + Send + '_> = match format {
        Format::Csv => {
            // polars' streaming engine hands batches to a callback, which must be 'static.
            let query = lazy
                .select(keep.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
                .sink_batches(
                    PlanCallback::new(move |df: DataFrame| Ok(send.send(df).is_err())),
                    true,
                    std::num::NonZeroUsize::new(batch_rows.max(1)),
                )
                .map_err(|e| unparsable(path, e))?;
            // The streaming engine: `collect` would run the in-memory one, which reads every
            // row before the first batch.
            Box::new(move || query.collect_with_engine(Engine::Streaming).map(|_| ()))
        }
        Format::Parquet => Box::new(move || parquet_batches(path, keep, batch_rows, send)),
    };
    let na: BTreeSet<String> = Table::na_texts(options).into_iter().collect();
    std::thread::scope(|scope| {
        let hash = scope.spawn(|| sha256_file(path));
        let run = scope.spawn(read);
        let mut rows = 0;
        let mut failed = None;
        for df in receive.iter() {
            let table = Table {
                path: path.to_path_buf(),
                first_row: rows,
                df,
                na: na.clone(),
                sha256: String::new(),
                notes: Vec::new(),
            };
            rows += table.n_rows();
            match each(table) {
                Ok(std::ops::ControlFlow::Continue(())) => {}
                Ok(std::ops::ControlFlow::Break(())) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Dropping the receiver makes the next send fail, which stops the query.
        drop(receive);
        let ran = run.join().expect("polars query thread panicked");
        let sha256 = hash.join().expect("hash thread panicked");
        if let Some(e) = failed {
            return Err(e);
        }
        ran.map_err(|e| unparsable(path, e))?;
        if rows == 0 {
            return Err(Error::data(
                path,
                "the file has a header but no rows; expected one row per lead",
            ));
        }
        Ok(Scanned {
            rows,
            sha256: sha256?,
            notes,
        })
    })
}

/// The `columns` of a Parquet file, `batch_rows` rows at a time, into `send` until it is
/// closed. polars' Parquet reader with a row slice decodes only the row groups the slice
/// touches, and each read maps the file anew, so memory holds about one batch: polars'
/// streaming engine keeps several row groups in flight and the whole file mapped, which at
/// 100M leads was most of the memory of training.
fn parquet_batches(
    path: &Path,
    columns: Vec<String>,
    batch_rows: usize,
    send: std::sync::mpsc::SyncSender<DataFrame>,
) -> PolarsResult<()> {
    let mut reader = ParquetReader::new(File::open(path)?);
    let metadata = reader.get_metadata()?.clone();
    let rows = reader.num_rows()?;
    let batch_rows = batch_rows.max(1);
    let mut offset = 0;
    while offset < rows {
        let len = batch_rows.min(rows - offset);
        let mut reader = ParquetReader::new(File::open(path)?)
            .with_columns(Some(columns.clone()))
            .with_slice(Some((offset, len)));
        reader.set_metadata(metadata.clone());
        if send.send(reader.finish()?).is_err() {
            break;
        }
        offset += len;
    }
    Ok(())
}

/// Repeated ids of a streamed file ([`Table::repeated`] of the whole file) in 8 bytes per lead:
/// a 64-bit hash of each id is kept, not the id. Written by hand: no crate counts repeats of a
/// column larger than memory. Repeats are counted on the hashes (two different ids share one
/// with probability about n²/2⁶⁵: 3·10⁻⁴ at 100M leads), and the first repeat reported is
/// checked on the ids themselves by a second read of the id column, which only happens when
/// the hashes repeat.
#[derive(Debug)]
pub struct IdHashes {
    column: String,
    hashes: Vec<u64>,
}

impl IdHashes {
    /// Ready for the ids of `path`: room for all of them when the file says how many rows it
    /// has (Parquet), so the hashes never exist twice while a growing vector moves.
    pub fn new(column: &str, path: &Path) -> IdHashes {
        let rows = match Format::from_path(path) {
            Ok(Format::Parquet) => File::open(path)
                .ok()
                .and_then(|f| ParquetReader::new(f).num_rows().ok()),
            _ => None,
        };
        IdHashes {
            column: column.to_string(),
            hashes: Vec::with_capacity(rows.unwrap_or(0)),
        }
    }

    fn hash(id: &str) -> u64 {
        use std::hash::BuildHasher;
        // A fixed seed: the same ids give the same hashes in both reads.
        foldhash::quality::FixedState::with_seed(0).hash_one(id)
    }

    /// Adds the ids of one batch.
    pub fn add(&mut self, batch: &Table) -> Result<()> {
        let ca = batch.ids(&self.column)?;
        self.hashes
            .extend(ca.iter().filter_map(|v| batch.id(v)).map(IdHashes::hash));
        Ok(())
    }

    /// As [`Table::repeated`]: how many repeats, and the first repeat (row of the file, id).
    pub fn repeated(
        mut self,
        path: &Path,
        options: &LoadOptions,
    ) -> Result<Option<(usize, usize, String)>> {
        self.hashes.sort_unstable();
        let mut twice: std::collections::HashSet<u64> = std::collections::HashSet::new();
        for pair in self.hashes.windows(2) {
            if pair[0] == pair[1] {
                twice.insert(pair[0]);
            }
        }
        let repeats = self.hashes.len() - {
            self.hashes.dedup();
            self.hashes.len()
        };
        if repeats == 0 {
            return Ok(None);
        }
        drop(self.hashes);
        // The first id that really repeats, in file order; only ids whose hash repeats are kept.
        let mut seen: std::collections::HashMap<u64, Vec<String>> = Default::default();
        let mut first = None;
        scan_batches(
            path,
            options,
            std::slice::from_ref(&self.column),
            BATCH_ROWS,
            |batch| {
                let ca = batch.ids(&self.column)?;
                for (i, v) in ca.iter().enumerate() {
                    let Some(v) = batch.id(v) else { continue };
                    let h = IdHashes::hash(v);
                    if !twice.contains(&h) {
                        continue;
                    }
                    let ids = seen.entry(h).or_default();
                    if ids.iter().any(|s| s == v) {
                        first = Some((batch.row(i), v.to_string()));
                        return Ok(std::ops::ControlFlow::Break(()));
                    }
                    ids.push(v.to_string());
                }
                Ok(std::ops::ControlFlow::Continue(()))
            },
        )?;
        Ok(first.map(|(row, v)| (repeats, row, v)))
    }
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

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes frames from `next` (until it gives `None`) as one CSV or Parquet file (by the
/// extension of `path`), atomically, holding one frame at a time: each frame is a Parquet row
/// group, or more CSV rows under one header.
pub fn write_batches(
    path: &Path,
    force: bool,
    mut next: impl FnMut() -> Result<Option<DataFrame>>,
) -> Result<()> {
    let format = Format::from_path(path)?;
    let cannot = |e: PolarsError| {
        Error::data(
            path,
            format!("cannot write: {e}; check that the folder exists and is writable"),
        )
    };
    crate::atomic::write_with(path, force, |out| {
        let Some(first) = next()? else {
            return Err(Error::data(path, "nothing to write"));
        };
        let schema = first.schema().clone();
        match format {
            Format::Csv => {
                let mut writer = CsvWriter::new(out)
                    .include_header(true)
                    .batched(&schema)
                    .map_err(cannot)?;
                writer.write_batch(&first).map_err(cannot)?;
                while let Some(df) = next()? {
                    writer.write_batch(&df).map_err(cannot)?;
                }
                writer.finish().map_err(cannot)
            }
            Format::Parquet => {
                // Row groups of 2^18 rows, as polars' Python writer makes by default: a
                // streaming reader holds a few row groups at once.
                let mut writer = ParquetWriter::new(out)
                    .with_row_group_size(Some(BATCH_ROWS))
                    .batched(&schema)
                    .map_err(cannot)?;
                writer.write_batch(&first).map_err(cannot)?;
                while let Some(df) = next()? {
                    writer.write_batch(&df).map_err(cannot)?;
                }
                writer.finish().map(|_| ()).map_err(cannot)
            }
        }
    })
}

/// Writes a frame as CSV or Parquet (by the extension of `path`), atomically.
pub fn write_frame(df: &mut DataFrame, path: &Path, force: bool) -> Result<()> {
    let format = Format::from_path(path)?;
    crate::atomic::write_with(path, force, |out| {
        match format {
            Format::Csv => CsvWriter::new(out).include_header(true).finish(df),
            Format::Parquet => ParquetWriter::new(out).finish(df).map(|_| ()),
        }
        .map_err(|e| {
            Error::data(
                path,
                format!("cannot write: {e}; check that the folder exists and is writable"),
            )
        })
    })
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
