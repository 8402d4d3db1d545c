//! Dates as exports write them: `YYYY-MM-DD` at the start of a cell, so timestamps work too.

use polars::prelude::*;

use super::Table;
use crate::error::{Error, Result};

impl Table {
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
        let Ok(col) = self.df.column(name) else {
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
