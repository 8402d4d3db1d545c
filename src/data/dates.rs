//! Dates as exports write them: ISO dates and timestamps (`2026-07-31 14:58`, as HubSpot writes
//! them), or the date part in a `--date-format` with any time part after it. Dates are days:
//! a time of day is read past, not kept.

use polars::prelude::*;

use super::Table;
use crate::error::{Error, Result};

impl Table {
    /// The column as dates (`YYYY-MM-DD` at the start of each cell, so timestamps work too);
    /// empty cells are `None`, anything else is an error naming the row.
    pub fn dates(&self, name: &str) -> Result<Vec<Option<chrono::NaiveDate>>> {
        self.dates_as(
            name,
            None,
            "pass the lead date column with --date, or evaluate on a holdout (--holdout 0.2)",
        )
    }

    /// The column as dates: ISO dates and timestamps (`2026-07-31`, `2026-07-31 14:58`,
    /// `2026-07-31T14:58:00Z`) without a `format`, else the date part in the chrono `strftime`
    /// `format` (e.g. `%d-%m-%Y`) with any time part after it. Date-typed Parquet columns are
    /// dates whatever the format. Empty cells are `None`; anything else is an error naming the
    /// row, and a non-ISO date without a format says whether day and month can be told apart.
    pub fn dates_as(
        &self,
        name: &str,
        format: Option<&str>,
        hint: &str,
    ) -> Result<Vec<Option<chrono::NaiveDate>>> {
        self.read_dates(name, format, hint, Day::Written)
    }

    /// [`Table::dates_as`], but a timestamp with a UTC offset on its UTC day (as date rules
    /// read dates, [`crate::rules::parse_date_utc`]): `2026-11-30T23:30:00-05:00` is
    /// 2026-12-01. An activity log's events are read so.
    pub fn utc_dates_as(
        &self,
        name: &str,
        format: Option<&str>,
        hint: &str,
    ) -> Result<Vec<Option<chrono::NaiveDate>>> {
        self.read_dates(name, format, hint, Day::Utc)
    }

    fn read_dates(
        &self,
        name: &str,
        format: Option<&str>,
        hint: &str,
        day: Day,
    ) -> Result<Vec<Option<chrono::NaiveDate>>> {
        let col = self.column(name, hint)?;
        if let Some(days) = typed_days(col, day)? {
            return Ok(days);
        }
        let typed = matches!(col.dtype(), DataType::Date | DataType::Datetime(_, _));
        let parser = DateParser::new(if typed { None } else { format })?;
        let cells = self.raw_texts(name)?;
        let mut out = Vec::with_capacity(cells.len());
        for (i, v) in cells.iter().enumerate() {
            let Some(s) = self.cell(v) else {
                out.push(None);
                continue;
            };
            let date = match day {
                Day::Written => parser.parse(s),
                Day::Utc => parser.parse_utc(s),
            };
            match date {
                Some(d) => out.push(Some(d)),
                None => {
                    return Err(Error::BadValue {
                        path: self.path.clone(),
                        row: self.row(i),
                        column: name.to_string(),
                        message: match parser.format {
                            Some(f) => format!(
                                "'{s}' is not a date in the format '{f}' (--date-format); fix \
                                    the cell or the format"
                            ),
                            None => not_iso(s, &self.texts(name)?),
                        },
                    })
                }
            }
        }
        Ok(out)
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

/// The day of `s`: ISO (`YYYY-MM-DD`, then nothing or a time part after a space or `T`)
/// without a format, else the date part in `format` followed by nothing or a time part.
pub fn parse_date(s: &str, format: Option<&str>) -> Option<chrono::NaiveDate> {
    DateParser::new(format).ok()?.parse(s)
}

/// [`parse_date`] for a whole column: the format is parsed once, not once per cell (chrono
/// reads a format string item by item on every call, most of the time of a million dates).
pub(crate) struct DateParser<'f> {
    format: Option<&'f str>,
    items: Vec<chrono::format::Item<'f>>,
}

impl<'f> DateParser<'f> {
    pub(crate) fn new(format: Option<&'f str>) -> Result<DateParser<'f>> {
        let items = match format {
            None => Vec::new(),
            Some(f) => {
                chrono::format::StrftimeItems::new(f)
                    .parse()
                    .map_err(|e| Error::Option {
                        option: "--date-format",
                        message: format!(
                        "'{f}' is not a chrono strftime format ({e}); e.g. --date-format '%d/%m/%Y'"
                    ),
                    })?
            }
        };
        Ok(DateParser { format, items })
    }

    pub(crate) fn parse(&self, s: &str) -> Option<chrono::NaiveDate> {
        self.parse_parts(s).map(|(date, _)| date)
    }

    /// [`DateParser::parse`], moved to the UTC day when a time with an offset follows.
    pub(crate) fn parse_utc(&self, s: &str) -> Option<chrono::NaiveDate> {
        let (date, rest) = self.parse_parts(s)?;
        Some(match rest.get(1..) {
            Some(time) => date + chrono::Duration::days(crate::rules::utc_day_shift(time)),
            None => date,
        })
    }

    /// The date and what follows it (empty, or a space or `T` and a time).
    fn parse_parts<'s>(&self, s: &'s str) -> Option<(chrono::NaiveDate, &'s str)> {
        let s = s.trim();
        let (date, rest) = match self.format {
            None => (iso_date(s.get(..10)?)?, &s[10..]),
            Some(_) => {
                let mut parsed = chrono::format::Parsed::new();
                let rest =
                    chrono::format::parse_and_remainder(&mut parsed, s, self.items.iter()).ok()?;
                (parsed.to_naive_date().ok()?, rest)
            }
        };
        let time_part = rest.is_empty()
            || ((rest.starts_with(' ') || rest.starts_with('T'))
                && rest[1..].starts_with(|c: char| c.is_ascii_digit()));
        time_part.then_some((date, rest))
    }
}

/// The days of a Parquet date column, or of a timestamp column in UTC (or without a time
/// zone, taken as UTC) read for its UTC day, from the numbers polars holds: what reading each
/// as text gives, without writing and parsing the text (100 million event times in a second
/// rather than a minute). `None` for other columns.
fn typed_days(col: &Column, day: Day) -> Result<Option<Vec<Option<chrono::NaiveDate>>>> {
    // Days from the common era of 1970-01-01, where polars counts from.
    const EPOCH: i64 = 719_163;
    let date =
        |d: i64| chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(EPOCH + d).ok()?);
    Ok(match col.dtype() {
        DataType::Date => Some(
            col.date()?
                .physical()
                .iter()
                .map(|d| d.and_then(|d| date(i64::from(d))))
                .collect(),
        ),
        DataType::Datetime(unit, zone)
            if matches!(day, Day::Utc) && zone.as_ref().is_none_or(|z| z.as_str() == "UTC") =>
        {
            let per_day: i64 = match unit {
                TimeUnit::Nanoseconds => 86_400_000_000_000,
                TimeUnit::Microseconds => 86_400_000_000,
                TimeUnit::Milliseconds => 86_400_000,
            };
            Some(
                col.datetime()?
                    .physical()
                    .iter()
                    .map(|t| t.and_then(|t| date(t.div_euclid(per_day))))
                    .collect(),
            )
        }
        _ => None,
    })
}

/// Which day a timestamp is on: as written, or its UTC day.
#[derive(Clone, Copy)]
enum Day {
    Written,
    Utc,
}

/// `YYYY-MM-DD`, digits exactly where they belong (what chrono's `%Y-%m-%d` reads from ten
/// characters), without chrono's general parser: a million cells in milliseconds.
fn iso_date(d: &str) -> Option<chrono::NaiveDate> {
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

/// The error for a cell that is not an ISO date: for `dd-mm-yyyy`-like cells, which order the
/// column's values allow (a first field above 12 is a day, a second above 12 is a day), and the
/// `--date-format` to pass.
fn not_iso(s: &str, column: &[Option<String>]) -> String {
    let fields = |v: &str| -> Option<(u32, u32, char)> {
        let sep = v.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
        let mut it = v.split([sep, ' ', 'T']);
        let a = it.next()?.parse().ok()?;
        let b = it.next()?.parse().ok()?;
        let y: &str = it.next()?;
        (y.len() == 4 && y.parse::<u32>().is_ok()).then_some((a, b, sep))
    };
    let Some((_, _, sep)) = fields(s) else {
        return format!(
            "'{s}' is not a date; expected YYYY-MM-DD (a time part after it is fine), or pass \
                --date-format with the layout of the column, e.g. --date-format '%d/%m/%Y'"
        );
    };
    let (mut day_first, mut month_first) = (false, false);
    for (a, b, _) in column.iter().flatten().filter_map(|v| fields(v)) {
        day_first |= a > 12;
        month_first |= b > 12;
    }
    let dmy = format!("%d{sep}%m{sep}%Y");
    let mdy = format!("%m{sep}%d{sep}%Y");
    match (day_first, month_first) {
        (true, false) => format!(
            "'{s}' is not an ISO date (YYYY-MM-DD); the column has days above 12 first, so \
             pass --date-format '{dmy}'"
        ),
        (false, true) => format!(
            "'{s}' is not an ISO date (YYYY-MM-DD); the column has days above 12 second, so \
             pass --date-format '{mdy}'"
        ),
        _ => format!(
            "'{s}' is an ambiguous date: it can be read day first or month first; pass \
             --date-format '{dmy}' or --date-format '{mdy}'"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_date;
    use chrono::NaiveDate;

    #[test]
    fn dates_as_exports_write_them() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 31).unwrap();
        for s in [
            "2026-07-31",
            "2026-07-31 14:58",
            "2026-07-31T14:58:00Z",
            " 2026-07-31 ",
        ] {
            assert_eq!(parse_date(s, None), Some(d), "{s}");
        }
        assert_eq!(parse_date("31-07-2026", Some("%d-%m-%Y")), Some(d));
        assert_eq!(parse_date("07/31/2026 2:58 PM", Some("%m/%d/%Y")), Some(d));
        for s in ["31-07-2026", "2026-07-31x", "2026-13-01", "2026-07-31 x"] {
            assert_eq!(parse_date(s, None), None, "{s}");
        }
        assert_eq!(parse_date("31-07-2026", Some("%m-%d-%Y")), None);
    }
}
