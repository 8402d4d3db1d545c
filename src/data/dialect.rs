//! CSV files as Excel and CRMs write them in other locales: the field delimiter (given, or
//! detected from the first lines), the text encoding (decoded to UTF-8 before polars reads the
//! file, since polars reads only UTF-8) and numbers with a decimal comma. Also the advice of
//! errors that come from reading a file the wrong way: another delimiter that would have found
//! a missing column, bytes that are not UTF-8.

use std::fmt;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::LoadOptions;
use crate::error::{Error, Result};

/// The delimiters `--delimiter` accepts and detection chooses from; the first wins ties.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Lines after the header that detection looks at.
const DETECT_LINES: usize = 20;
/// Bytes at the start of a file that detection and hints look at (enough for the header and
/// 20 lines of any real export; a longer line is cut, and detection uses the lines before it).
const SAMPLE_BYTES: usize = 1 << 16;

/// A CSV field delimiter: `,` `;` tab or `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiter(u8);

impl Delimiter {
    pub const COMMA: Delimiter = Delimiter(b',');

    pub fn byte(self) -> u8 {
        self.0
    }

    pub fn as_char(self) -> char {
        self.0 as char
    }

    /// The delimiter a model file records (`training.delimiter`), if it is one of ours.
    pub fn from_char(c: char) -> Option<Delimiter> {
        DELIMITERS
            .iter()
            .find(|&&d| d as char == c)
            .map(|&d| Delimiter(d))
    }

    /// How `--delimiter` takes it: `tab` for a tab, else the character.
    pub fn flag(self) -> &'static str {
        match self.0 {
            b',' => "','",
            b';' => "';'",
            b'\t' => "tab",
            _ => "'|'",
        }
    }
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    /// `,` `;` `|`, and a tab as `tab`, `\t` or the character itself.
    fn from_str(s: &str) -> std::result::Result<Delimiter, String> {
        match s {
            "tab" | "TAB" | "\\t" | "\t" => Ok(Delimiter(b'\t')),
            _ => s
                .chars()
                .next()
                .filter(|_| s.chars().count() == 1)
                .and_then(Delimiter::from_char)
                .ok_or_else(|| format!("'{s}' is not a delimiter; use ',' ';' tab or '|'")),
        }
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

/// A text encoding of a file that is not UTF-8, by any label the WHATWG Encoding Standard
/// knows (`windows-1252`, `latin1`, `iso-8859-1`, `iso-8859-15`, `utf-16le`, …). As in web
/// browsers, `latin1` and `iso-8859-1` mean Windows-1252, which differs from ISO-8859-1 only
/// in bytes 0x80–0x9F, control characters no export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding(&'static encoding_rs::Encoding);

impl Encoding {
    pub fn from_label(label: &str) -> Option<Encoding> {
        encoding_rs::Encoding::for_label(label.trim().as_bytes()).map(Encoding)
    }

    /// The canonical name (`windows-1252`), as a model file records it.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn is_utf8(self) -> bool {
        self.0 == encoding_rs::UTF_8
    }
}

impl std::str::FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Encoding, String> {
        Encoding::from_label(s).ok_or_else(|| {
            format!("'{s}' is not a known encoding; use e.g. windows-1252, latin1 or utf-16le")
        })
    }
}

/// How a CSV file is read: what polars is given (the file, or its UTF-8 copy) and with which
/// delimiter. The copy is deleted when this is dropped.
#[derive(Debug)]
pub(super) struct CsvSource {
    pub read_path: PathBuf,
    pub delimiter: u8,
    _decoded: Option<tempfile::TempPath>,
}

impl CsvSource {
    /// Decodes `path` to a UTF-8 copy when `options.encoding` is not UTF-8, then takes the
    /// delimiter given or detects it.
    pub fn open(path: &Path, options: &LoadOptions) -> Result<CsvSource> {
        let decoded = match options.encoding {
            Some(e) if !e.is_utf8() => Some(decode_to_temp(path, e)?),
            _ => None,
        };
        let read_path = decoded
            .as_ref()
            .map_or_else(|| path.to_path_buf(), |t| t.to_path_buf());
        let delimiter = match options.delimiter {
            Some(d) => d.byte(),
            None => {
                let d = detect(&sample(&read_path, None)?);
                tracing::info!(
                    "{}: fields delimited by {} (detected from the header and first lines; \
                     --delimiter chooses)",
                    path.display(),
                    Delimiter(d)
                );
                d
            }
        };
        Ok(CsvSource {
            read_path,
            delimiter,
            _decoded: decoded,
        })
    }
}

impl CsvSource {
    /// The error for polars failing to read the file: the first cell that is not UTF-8, when
    /// that was the failure, else the general advice.
    pub fn error(&self, path: &Path, e: polars::prelude::PolarsError) -> Error {
        let message = e.to_string();
        let lower = message.to_ascii_lowercase();
        if self._decoded.is_none() && (lower.contains("utf-8") || lower.contains("utf8")) {
            if let Some(error) = not_utf8(path, self.delimiter) {
                return error;
            }
        }
        // A wrong delimiter shows as ragged lines (a decimal comma splits a number in two).
        let sample = sample(&self.read_path, None).unwrap_or_default();
        let detected = detect(&sample);
        if detected != self.delimiter {
            let columns = field_counts(&sample, detected)
                .first()
                .copied()
                .unwrap_or(0);
            return Error::data(
                path,
                format!(
                    "cannot parse the file with {} as the delimiter ({}); its first lines split \
                     evenly into {columns} columns with {}: pass --delimiter {}",
                    Delimiter(self.delimiter),
                    // polars' first line; the rest is advice for polars' own options.
                    message.lines().next().unwrap_or_default(),
                    Delimiter(detected),
                    Delimiter(detected)
                ),
            );
        }
        super::unparsable(path, e)
    }
}

/// The file's text as UTF-8 in a temporary file: decoded a megabyte at a time (memory stays
/// small whatever the file's size; the copy needs as much disk in the temporary directory as
/// the file). A byte-order mark decides over `encoding`, as in browsers.
fn decode_to_temp(path: &Path, encoding: Encoding) -> Result<tempfile::TempPath> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".mqlcal-decoded-")
        .suffix(".csv")
        .tempfile()
        .map_err(|e| {
            Error::data(
                path,
                format!(
                    "cannot create a temporary file to decode it from {}: {e}; set TMPDIR \
                     to a folder with room for a copy of the file",
                    encoding.name()
                ),
            )
        })?;
    let (out, tmp_path) = tmp.into_parts();
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut decoder = encoding.0.new_decoder();
    let mut input = vec![0u8; 1 << 20];
    let mut output = vec![0u8; 3 << 20];
    let write_err = |e: std::io::Error| {
        Error::data(
            path,
            format!("cannot write its UTF-8 copy to {}: {e}", tmp_path.display()),
        )
    };
    loop {
        let n = reader.read(&mut input).map_err(|e| Error::io(path, e))?;
        let last = n == 0;
        let mut src = &input[..n];
        loop {
            let (result, read, written, _) = decoder.decode_to_utf8(src, &mut output, last);
            out.write_all(&output[..written]).map_err(write_err)?;
            src = &src[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        if last {
            break;
        }
    }
    out.flush().map_err(write_err)?;
    tracing::info!(
        "{}: decoded from {} to a UTF-8 copy",
        path.display(),
        encoding.name()
    );
    Ok(tmp_path)
}

/// The first bytes of a file as UTF-8 text (decoded when `encoding` is given), cut after the
/// last whole line unless the whole file fits.
fn sample(path: &Path, encoding: Option<Encoding>) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(SAMPLE_BYTES);
    file.take(SAMPLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() > SAMPLE_BYTES {
        if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(end + 1);
        }
    }
    Ok(match encoding {
        Some(e) if !e.is_utf8() => e.0.decode(&bytes).0.into_owned().into_bytes(),
        _ => bytes,
    })
}

/// The field counts of the first records of `sample` split at `delimiter` (quotes as polars
/// reads them).
fn field_counts(sample: &[u8], delimiter: u8) -> Vec<usize> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(sample)
        .byte_records()
        .take(DETECT_LINES + 1)
        .map_while(|r| r.ok())
        .map(|r| r.len())
        .collect()
}

/// The delimiter of a file whose first bytes are `sample`: the candidate that splits the
/// header into more than one field and every line after it into as many (`,` when several
/// do; else the one giving the most fields). When none does (ragged lines), the one whose
/// header count the most lines share; `,` when no candidate splits the header.
pub(super) fn detect(sample: &[u8]) -> u8 {
    let scored: Vec<(u8, usize, usize, bool)> = DELIMITERS
        .iter()
        .map(|&d| {
            let counts = field_counts(sample, d);
            let header = counts.first().copied().unwrap_or(0);
            let same = counts.iter().skip(1).filter(|&&c| c == header).count();
            (d, header, same, same + 1 == counts.len())
        })
        .filter(|&(_, header, _, _)| header > 1)
        .collect();
    let consistent = scored.iter().filter(|s| s.3);
    if let Some(s) = consistent.clone().find(|s| s.0 == b',') {
        return s.0;
    }
    // `max_by_key` keeps the last of equals: reversed, the first candidate wins ties.
    consistent
        .rev()
        .max_by_key(|s| s.1)
        .or_else(|| scored.iter().rev().max_by_key(|s| (s.2, s.1)))
        .map_or(b',', |s| s.0)
}

/// For a column that reading with `used` did not find: the advice to pass another delimiter
/// whose split of the header has the column, with the number of columns it gives.
pub(super) fn other_delimiter_hint(
    path: &Path,
    encoding: Option<Encoding>,
    used: u8,
    column: &str,
) -> Option<String> {
    let sample = sample(path, encoding).ok()?;
    DELIMITERS.iter().filter(|&&d| d != used).find_map(|&d| {
        let header = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .from_reader(sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&sample))
            .byte_records()
            .next()?
            .ok()?;
        header.iter().any(|h| h == column.as_bytes()).then(|| {
            format!(
                "the file was read with {} as the delimiter, and its header splits into {} \
                     columns with {}: pass --delimiter {}",
                Delimiter(used),
                header.len(),
                Delimiter(d),
                Delimiter(d)
            )
        })
    })
}

/// When polars could not read `path` for bytes that are not UTF-8: the error naming the first
/// such cell (row, column and line) and the encoding to pass. `None` when every field is
/// UTF-8 (or the file cannot be read as CSV at all).
pub(super) fn not_utf8(path: &Path, delimiter: u8) -> Option<Error> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let advice = "the file is not UTF-8; if it was saved by Excel or a CRM in Western Europe, it \
                  is probably Windows-1252: pass --encoding windows-1252 (or the file's encoding, \
                  e.g. --encoding iso-8859-15)";
    let mut header: Vec<String> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 0;
    // Counted here: the csv crate counts a CRLF line's end with the next record.
    let mut line = 1;
    while reader.read_byte_record(&mut record).ok()? {
        if let Some((j, cell)) = record
            .iter()
            .enumerate()
            .find(|(_, f)| std::str::from_utf8(f).is_err())
        {
            let shown = show_bytes(cell);
            return Some(if row == 0 {
                Error::data(
                    path,
                    format!("the header (line {line}) holds {shown}, which is not UTF-8: {advice}"),
                )
            } else {
                Error::BadValue {
                    path: path.to_path_buf(),
                    row,
                    column: header
                        .get(j)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", j + 1)),
                    message: format!("line {line} holds {shown}, which is not UTF-8: {advice}"),
                }
            });
        }
        if row == 0 {
            header = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect();
        }
        row += 1;
        line += 1 + record
            .iter()
            .map(|f| f.iter().filter(|&&b| b == b'\n').count())
            .sum::<usize>();
    }
    None
}

/// A cell for an error message, its bytes that are not UTF-8 as `\xFC`.
fn show_bytes(cell: &[u8]) -> String {
    let mut s = String::from("'");
    for chunk in cell.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02X}"));
        }
    }
    s.push('\'');
    s
}

pub(super) use crate::rules::parse_decimal_comma;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_parse_as_the_flag_takes_them() {
        for (s, b) in [
            (",", b','),
            (";", b';'),
            ("tab", b'\t'),
            ("\\t", b'\t'),
            ("\t", b'\t'),
            ("|", b'|'),
        ] {
            assert_eq!(s.parse::<Delimiter>().unwrap().byte(), b, "{s:?}");
        }
        for s in ["", ":", ";;", "comma", " "] {
            assert!(s.parse::<Delimiter>().is_err(), "{s:?}");
        }
        assert_eq!(Delimiter::from_char('\t').unwrap().to_string(), "tab");
    }

    #[test]
    fn detection_takes_the_delimiter_that_splits_every_line_alike() {
        let semi = b"id;size;rate\n1;3,5;x\n2;4,25;y\n";
        assert_eq!(detect(semi), b';');
        assert_eq!(detect(b"id,size\n1,2\n3,4\n"), b',');
        assert_eq!(detect(b"id\tname\n1\ta,b\n2\tc;d\n"), b'\t');
        assert_eq!(detect(b"id|name\n1|x\n"), b'|');
        // Quoted delimiters do not count; a comma inside a ';' file's quotes either.
        assert_eq!(detect(b"a;b\n\"x;y\";2\n\"1,5\";3\n"), b';');
        // Both split alike: the comma.
        assert_eq!(detect(b"a,b;c\n1,2;3\n"), b',');
        // One column: nothing splits the header; the comma.
        assert_eq!(detect(b"id\n1\n2\n"), b',');
        // Ragged lines: the delimiter most lines agree with.
        assert_eq!(detect(b"a;b;c\n1;2;3\n1;2;3;\n4;5;6\n"), b';');
        // Only the header (no line yet).
        assert_eq!(detect(b"a;b;c\n"), b';');
    }

    #[test]
    fn decimal_comma_numbers() {
        for (s, x) in [
            ("3,5", 3.5),
            ("-0,25", -0.25),
            ("3", 3.0),
            ("1.234,5", 1234.5),
            ("1.234.567", 1234567.0),
            ("-12.345,75", -12345.75),
            (",5", 0.5),
            ("1,5E3", 1500.0),
        ] {
            assert_eq!(parse_decimal_comma(s), Some(x), "{s}");
        }
        for s in [
            "1.5", "3,5,1", "1.23,4", "1.2345", ".234", "1,2.3", "abc", ",", "1..234",
        ] {
            assert_eq!(parse_decimal_comma(s), None, "{s}");
        }
    }

    #[test]
    fn the_first_cell_that_is_not_utf8_is_named_by_row_column_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leads.csv");
        for eol in ["\n", "\r\n"] {
            let text = [
                &b"id;name;note"[..],
                b"1;Anna;\"two\nlines\"",
                b"2;M\xfcller;x",
                b"",
            ]
            .join(eol.as_bytes());
            std::fs::write(&path, text).unwrap();
            let e = not_utf8(&path, b';').expect("an error").to_string();
            assert!(
                e.contains("row 2, column 'name'") && e.contains("line 4 holds 'M\\xFCller'"),
                "{eol:?}: {e}"
            );
            assert!(e.contains("--encoding windows-1252"), "{e}");
            std::fs::write(&path, "id;name\n1;Müller\n").unwrap();
            assert!(not_utf8(&path, b';').is_none());
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_escaped() {
        assert_eq!(show_bytes(b"M\xfcller"), "'M\\xFCller'");
    }

    #[test]
    fn encodings_by_label() {
        for label in ["windows-1252", "latin1", "ISO-8859-1", "cp1252"] {
            assert_eq!(Encoding::from_label(label).unwrap().name(), "windows-1252");
        }
        assert!("klingon".parse::<Encoding>().is_err());
    }
}
