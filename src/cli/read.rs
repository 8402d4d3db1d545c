//! How lead files are read, the same flags for every command that reads them: the CSV
//! delimiter, the text encoding, numbers with a decimal comma and placeholders compared
//! ignoring case. `train` records in the model
//! what it used, and `score`, `report` and `retrain` read the next file the same way unless
//! these flags say otherwise.

use mqlcal::data::{Delimiter, Encoding, LoadOptions};
use mqlcal::model::Training;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReadArgs {
    /// Field delimiter of CSV files: ',' ';' tab (or '\t') or '|', e.g. --delimiter ';'.
    /// Default: detected from the header and the first lines (-v says which); for score,
    /// report and retrain, the one the model was trained with when that was not ','.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<Delimiter>,
    /// Numbers have a decimal comma, as Excel writes CSV in German, French or Dutch: 3,5 is
    /// 3.5 and 1.234,5 is 1234.5 ('.' only between groups of three digits), e.g.
    /// --decimal-comma. Models trained so read the next file so too; --decimal-comma=false
    /// reads decimal points instead.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub decimal_comma: Option<bool>,
    /// Compare cells with the --na texts ignoring the case of the letters A-Z, so that
    /// --na Select also reads SELECT and select as missing, e.g. --na-ignore-case. Models
    /// trained so read the next file so too; --na-ignore-case=false compares exactly.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub na_ignore_case: Option<bool>,
    /// Text encoding of CSV files that are not UTF-8, e.g. --encoding windows-1252 (Excel's
    /// "CSV" in Western Europe; also latin1, iso-8859-15, utf-16le). The file is decoded to a
    /// UTF-8 copy in the temporary directory (TMPDIR) before it is read. Default: UTF-8, or
    /// for score, report and retrain the model's.
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<Encoding>,
}

impl ReadArgs {
    /// The load options of these flags (no placeholders, no exclusions), over those of the
    /// model's training when given.
    pub fn load_options(&self, trained: Option<&Training>) -> anyhow::Result<LoadOptions> {
        let encoding = match (self.encoding, trained.and_then(|t| t.encoding.as_deref())) {
            (Some(e), _) => Some(e),
            (None, Some(label)) => Some(Encoding::from_label(label).ok_or_else(|| {
                anyhow::anyhow!(
                    "the model was trained on a file in encoding '{label}', which this mqlcal \
                     does not know; pass --encoding"
                )
            })?),
            (None, None) => None,
        };
        Ok(LoadOptions {
            delimiter: self.delimiter.or_else(|| {
                trained
                    .and_then(|t| t.delimiter)
                    .and_then(Delimiter::from_char)
            }),
            decimal_comma: self
                .decimal_comma
                .unwrap_or_else(|| trained.is_some_and(|t| t.decimal_comma)),
            na_ignore_case: self
                .na_ignore_case
                .unwrap_or_else(|| trained.is_some_and(|t| t.na_ignore_case)),
            encoding,
            ..LoadOptions::default()
        })
    }
}
