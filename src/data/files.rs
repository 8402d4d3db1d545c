//! What a load records and what a command writes: the SHA-256 of an input file, and frames
//! written as CSV or Parquet atomically (a temporary file renamed into place).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::{Format, BATCH_ROWS};
use crate::error::{Error, Result};

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
