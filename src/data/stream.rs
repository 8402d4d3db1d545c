//! Files larger than memory: the leads in batches of [`Table`]s ([`scan_batches`]) and the
//! repeated ids of the whole file in 8 bytes per lead ([`IdHashes`]).

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::table::ReadWith;
use super::{sha256_file, unparsable, Format, LoadOptions, Table};
use crate::error::{Error, Result};

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
    /// As [`Table::delimiter`].
    pub delimiter: Option<super::Delimiter>,
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
    // Held until the stream ends: the UTF-8 copy of a file in another encoding lives as long.
    let csv = Table::csv_source(path, format, options)?;
    if let Some(source) = &csv {
        // Refuses a header that repeats a name (polars would rename the second).
        Table::csv_projection(path, source, &[])?;
    }
    let read_with = ReadWith::new(options, csv.as_ref());
    let cannot = |e: PolarsError| match &csv {
        Some(source) => source.error(path, e),
        None => unparsable(path, e),
    };
    let lazy = match &csv {
        // All cells as text, as Table::load reads CSV.
        Some(source) => LazyCsvReader::new(PlPath::Local(Arc::from(source.read_path.as_path())))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_separator(source.delimiter)
            .finish(),
        None => LazyFrame::scan_parquet(PlPath::Local(Arc::from(path)), ScanArgsParquet::default()),
    };
    let mut lazy = lazy.map_err(cannot)?;
    let schema = lazy.collect_schema().map_err(cannot)?;
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
                .map_err(cannot)?;
            // The streaming engine: `collect` would run the in-memory one, which reads every
            // row before the first batch.
            Box::new(move || query.collect_with_engine(Engine::Streaming).map(|_| ()))
        }
        Format::Parquet => Box::new(move || parquet_batches(path, keep, batch_rows, send)),
    };
    let na = super::table::Placeholders::new(options);
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
                read_with: read_with.clone(),
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
        ran.map_err(cannot)?;
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
            delimiter: csv
                .as_ref()
                .and_then(|c| super::Delimiter::from_char(c.delimiter as char)),
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
