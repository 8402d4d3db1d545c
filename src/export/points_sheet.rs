//! Points sheet: the rules in plain words with their points, and the MQL threshold, as CSV, to
//! enter into HubSpot, Marketo or Account Engagement by hand. Takes a [`Model`]; gives CSV text.
//!
//! Columns: `kind` (`rule` or `threshold`), `name`, `points`, `per` (`each unit` for per-unit
//! rules, `once` otherwise), `condition` (in words), `column`. One row per rule in the model's
//! order, then the threshold row.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::rules::Condition;

use super::{placeholders, Exporter};

/// The points sheet export.
#[derive(Debug, Clone, Default)]
pub struct PointsSheet;

impl Exporter for PointsSheet {
    fn export(&self, model: &Model) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_error = |e: csv::Error| Error::Export(format!("points sheet: {e}"));
        w.write_record(["kind", "name", "points", "per", "condition", "column"])
            .map_err(csv_error)?;
        if model.training.window_days.is_some() {
            // Read first: the points add up to odds of a conversion within the window.
            w.write_record([
                "outcome",
                "what the probability means",
                "",
                "",
                &cell(&format!(
                    "the chance that a lead {}",
                    model.probability_meaning()
                )),
                "",
            ])
            .map_err(csv_error)?;
        }
        let na = placeholders(model);
        for r in &model.rules {
            let mut condition = r.condition.describe(&r.column);
            let missing = r
                .condition
                .atoms(&r.column)
                .iter()
                .any(|(_, c)| matches!(c, Condition::IsMissing));
            if missing && !na.is_empty() {
                // The tool must treat the placeholders as empty too, or the points differ.
                condition.push_str(&format!(" (empty, or one of {na:?})"));
            }
            let per = match r.condition {
                Condition::PerUnit { .. } => "each unit",
                _ => "once",
            };
            w.write_record([
                "rule",
                &cell(&r.name),
                &r.points.0.to_string(),
                per,
                &cell(&condition),
                &cell(&r.rule_columns().join(", ")),
            ])
            .map_err(csv_error)?;
        }
        let th = &model.threshold.threshold;
        w.write_record([
            "threshold",
            "MQL threshold",
            &th.points.to_string(),
            "",
            &cell(&format!(
                "a lead whose points add up to {} or more is an MQL (policy {})",
                th.points, th.policy
            )),
            "",
        ])
        .map_err(csv_error)?;
        w.into_inner()
            .map_err(|e| Error::Export(format!("points sheet: {e}")))
    }
}

/// A text cell a spreadsheet will not run: text starting with `=`, `+`, `-` or `@` is read as
/// a formula by Excel and Google Sheets (CSV injection), so it gets a leading apostrophe, which
/// they show as plain text.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("Budget confirmed"), "Budget confirmed");
    }
}
