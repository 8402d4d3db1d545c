//! Points sheet: the rules in plain words with their points, and the MQL threshold, as CSV, to
//! enter into HubSpot, Marketo or Account Engagement by hand. Takes a [`Model`]; gives CSV text.
//!
//! Columns: `kind` (`rule` or `threshold`), `name`, `points`, `per` (`each unit` for per-unit
//! rules, `once` otherwise), `condition` (in words), `column`, and `group` when rules have
//! groups. One row per rule in the model's order, then, with a grade matrix, one `grade band`
//! row per cut point (the lowest sub-score of bands A–C and 1–3), then the threshold row.

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
        // The group column only when there are groups, so sheets of other models stay as
        // they were.
        let grouped = model.rules.iter().any(|r| r.group.is_some());
        let mut header = vec!["kind", "name", "points", "per", "condition", "column"];
        if grouped {
            header.push("group");
        }
        w.write_record(&header).map_err(csv_error)?;
        fn row<'a>(
            w: &mut csv::Writer<Vec<u8>>,
            cells: [&'a str; 6],
            group: &'a str,
            grouped: bool,
        ) -> Result<()> {
            let mut cells = cells.to_vec();
            if grouped {
                cells.push(group);
            }
            w.write_record(cells)
                .map_err(|e| Error::Export(format!("points sheet: {e}")))
        }
        if model.training.window_days.is_some() {
            // Read first: the points add up to odds of a conversion within the window.
            row(
                &mut w,
                [
                    "outcome",
                    "what the probability means",
                    "",
                    "",
                    &cell(&format!(
                        "the chance that a lead {}",
                        model.probability_meaning()
                    )),
                    "",
                ],
                "",
                grouped,
            )?;
        }
        let na = placeholders(model);
        for r in &model.rules {
            let mut condition = r.describe();
            let missing = r
                .condition
                .atoms(&r.column)
                .iter()
                .any(|(_, c)| matches!(c, Condition::IsMissing));
            if missing && !na.is_empty() {
                // The tool must treat the placeholders as empty too, or the points differ.
                condition.push_str(&format!(" (empty, or one of {})", na.describe()));
            }
            let per = match r.condition {
                Condition::PerUnit { .. } => "each unit",
                _ => "once",
            };
            row(
                &mut w,
                [
                    "rule",
                    &cell(&r.name),
                    &r.points.0.to_string(),
                    per,
                    &cell(&condition),
                    &cell(&r.rule_columns().join(", ")),
                ],
                &cell(r.group.as_deref().unwrap_or("")),
                grouped,
            )?;
        }
        if let Some(g) = &model.grades {
            for (axis, labels) in [
                (&g.profile, ["A", "B", "C"]),
                (&g.behaviour, ["1", "2", "3"]),
            ] {
                for (cut, label) in axis.at_least.iter().zip(labels) {
                    row(
                        &mut w,
                        [
                            "grade band",
                            &cell(&format!("{} {label}", axis.group)),
                            &cut.to_string(),
                            "",
                            &cell(&format!(
                                "{label} when the points of the '{}' rules add up to {cut} or \
                                 more (and not to a better band's)",
                                axis.group
                            )),
                            "",
                        ],
                        &cell(&axis.group),
                        grouped,
                    )?;
                }
            }
        }
        let th = &model.threshold.threshold;
        let (points, rule) = match th.policy {
            crate::threshold::Policy::Grade(c) => (
                String::new(),
                format!(
                    "a lead graded {c} or better (profile {} or better and behaviour {} or \
                     better) is an MQL (policy {})",
                    &c.to_string()[..1],
                    &c.to_string()[1..],
                    th.policy
                ),
            ),
            _ => (
                th.points.to_string(),
                format!(
                    "a lead whose points add up to {} or more is an MQL (policy {})",
                    th.points, th.policy
                ),
            ),
        };
        row(
            &mut w,
            ["threshold", "MQL threshold", &points, "", &cell(&rule), ""],
            "",
            grouped,
        )?;
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
