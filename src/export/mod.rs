//! Exports of a model to the places leads are scored: a SQL query for a data warehouse
//! ([`sql`]), a PMML 4.4 scorecard for PMML engines ([`pmml`]), and a points sheet to enter into
//! a marketing automation tool by hand ([`points_sheet`]).
//!
//! Each export takes a loaded [`Model`] and gives the bytes of one file (the command line writes
//! them atomically). The SQL and PMML exports reproduce `mqlcal score` exactly: the same integer
//! score, the same MQL flag (by score, or by grade under a grade policy), the same sub-scores
//! and grade, and the same probability (to rounding). That means reading cells
//! the way [`Model::cell`] does: surrounding white space trimmed (Unicode white space, as Rust's
//! `str::trim`), an empty cell or one of the model's placeholders (`training.na`) missing.
//! The parity is tested in real engines (`tests/it/export.rs`).

pub mod pmml;
pub mod points_sheet;
pub mod sql;
pub mod sql_counts;
mod sql_events;
mod sql_grades;
pub mod sql_snapshots;

use crate::error::{Error, Result};
use crate::model::Model;

pub use pmml::Pmml;
pub use points_sheet::PointsSheet;
pub use sql::{Dialect, Sql, SqlCounts};

/// One export format: the model in, the file's bytes out.
pub trait Exporter {
    fn export(&self, model: &Model) -> Result<Vec<u8>>;
}

/// The formats `mqlcal export --format` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One SQL query (or view) returning score, probability and MQL flag per lead (and the
    /// sub-scores and grade when the model has them).
    Sql,
    /// A PMML 4.4 Scorecard with reason codes, probability and MQL flag as outputs (and the
    /// sub-scores and grade when the model has them).
    Pmml,
    /// The rules in plain words with their points and the threshold, as CSV.
    PointsSheet,
    /// A GROUP BY query that counts leads and conversions per rule pattern in the warehouse,
    /// for `mqlcal train --counts` (from a rules file, or a model's rules to retrain).
    SqlCounts,
}

/// A grade policy needs a grade matrix, and a matrix must grade the rules' groups: neither can
/// be otherwise in a model file (loading checks them), but a program may build such a model,
/// and its MQL flags and grades could not be computed as `mqlcal score` computes them.
pub(crate) fn check_grades(model: &Model, format: &str) -> Result<()> {
    if let (None, crate::threshold::Policy::Grade(cell)) =
        (&model.grades, model.threshold.threshold.policy)
    {
        return Err(Error::Export(format!(
            "{format}: the model makes MQLs by grade (grade:{cell}) but has no grade matrix; \
             retrain with --grades"
        )));
    }
    if let Some(g) = &model.grades {
        g.validate(&model.group_names()).map_err(|e| {
            Error::Export(format!(
                "{format}: the model's grade matrix does not fit its rules ({e}); retrain with \
                 --grades"
            ))
        })?;
    }
    Ok(())
}

/// Event rules read an activity log, which this export does not join yet: refused, naming the
/// first such rule, rather than written as a query on a column the warehouse does not have.
pub fn no_event_rules<'a>(
    mut rules: impl Iterator<Item = (&'a str, bool)>,
    format: &str,
) -> Result<()> {
    match rules.find(|(_, event)| *event) {
        Some((name, _)) => Err(Error::Export(format!(
            "{format}: rule '{name}' counts events of an activity log, which this export cannot \
             compute yet (it reads one row per lead); score with `mqlcal score --events`, or \
             export the points sheet"
        ))),
        None => Ok(()),
    }
}

/// The characters Rust's `str::trim` removes (Unicode `White_Space`), which is how
/// `mqlcal score` trims cells. The exports trim the same set, not just spaces.
pub const WHITE_SPACE: &[char] = &[
    '\u{9}', '\u{A}', '\u{B}', '\u{C}', '\u{D}', '\u{20}', '\u{85}', '\u{A0}', '\u{1680}',
    '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}',
    '\u{2008}', '\u{2009}', '\u{200A}', '\u{2028}', '\u{2029}', '\u{202F}', '\u{205F}', '\u{3000}',
];

/// The model's placeholders as `mqlcal score` compares them: trimmed, empty ones dropped (an
/// empty cell is missing anyway), exactly or ignoring the case of A–Z.
pub(crate) fn placeholders(model: &Model) -> Placeholders {
    Placeholders::new(&model.training.na, model.training.na_ignore_case)
}

/// Placeholder texts (trimmed, sorted, unique, never empty) and how cells are compared with
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholders {
    pub texts: Vec<String>,
    /// Compare ignoring the case of A–Z only (`--na-ignore-case`), as `ignore_case` rules do.
    pub ignore_case: bool,
}

impl Placeholders {
    pub fn new(na: &[String], ignore_case: bool) -> Placeholders {
        Placeholders {
            texts: trimmed_placeholders(na),
            ignore_case,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The texts lower-cased in A–Z, sorted and unique: what a folded cell is compared with.
    pub fn folded(&self) -> Vec<String> {
        let mut folded: Vec<String> = self.texts.iter().map(|t| t.to_ascii_lowercase()).collect();
        folded.sort();
        folded.dedup();
        folded
    }

    /// For comments in an export: `["Select", "n/a"]`, and how they are compared.
    pub fn describe(&self) -> String {
        if self.ignore_case {
            format!("{:?} (in any case of A-Z)", self.texts)
        } else {
            format!("{:?}", self.texts)
        }
    }
}

/// Placeholder texts trimmed, without empty ones, sorted and unique.
pub(crate) fn trimmed_placeholders(na: &[String]) -> Vec<String> {
    let mut na: Vec<String> = na
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    na.sort();
    na.dedup();
    na
}

/// The columns the rules read, each once, in the order rules first use them.
pub(crate) fn rule_columns(model: &Model) -> Vec<&str> {
    let mut columns: Vec<&str> = Vec::new();
    for c in model.rules.iter().flat_map(|r| r.rule_columns()) {
        if !columns.contains(&c) {
            columns.push(c);
        }
    }
    columns
}

/// Refuses text no export can carry faithfully: a NUL character (PostgreSQL text and XML
/// cannot hold one). Everything else is quoted or escaped by each format.
pub(crate) fn check_text(what: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::Export(format!(
            "{what} {text:?} contains a NUL character, which SQL text and PMML cannot hold; \
             rename it in the rules file and train again"
        )));
    }
    Ok(())
}

/// Every name and value an export writes, checked with [`check_text`].
pub(crate) fn check_model_texts(model: &Model) -> Result<()> {
    if let Some(id) = &model.id_column {
        check_text("id column", id)?;
    }
    for r in &model.rules {
        check_rule_texts(&r.name, r.condition.atoms(&r.column), check_text)?;
    }
    for g in model.group_names() {
        check_text("rule group", &g)?;
    }
    for na in &model.training.na {
        check_text("placeholder", na)?;
    }
    Ok(())
}

/// A rule's name, columns and `one_of` values through `check` (as "rule name", "column",
/// "value").
pub(crate) fn check_rule_texts(
    name: &str,
    atoms: Vec<(&str, &crate::rules::Condition)>,
    check: impl Fn(&str, &str) -> Result<()>,
) -> Result<()> {
    check("rule name", name)?;
    for (column, condition) in atoms {
        check("column", column)?;
        if let crate::rules::Condition::OneOf { values, .. } = condition {
            for v in values {
                check("value", v)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_is_what_str_trim_removes() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let trimmed = format!("{c}x{c}").trim().len() == 1;
            assert_eq!(WHITE_SPACE.contains(&c), trimmed, "U+{:04X}", c as u32);
        }
    }
}
