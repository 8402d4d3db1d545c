//! Proposed rules for data that comes without a rules file: bands for numeric columns, one rule
//! per well-populated level for text columns (rare levels grouped), one rule for 0/1 columns, and
//! an `is_missing` rule wherever enough values are missing. The proposal is written out as an
//! ordinary rules file for the team to edit.
//!
//! Numeric bands are chosen with the outcome when it is known (see [`super::binning`]): fine
//! quantile bands, an optional monotone trend, then adjacent bands merged while their conversion
//! rates do not differ significantly or there are more than `--bands`. Without an outcome they
//! are plain quantile bands.

use std::collections::BTreeMap;

use super::{format_number, Condition, Rule};
use crate::data::Table;
use crate::error::{Error, Result};

/// How rules are proposed.
#[derive(Debug, Clone)]
pub struct AutoRulesParams {
    /// Quantile bands per numeric column (default 5).
    pub bands: usize,
    /// A level or band needs at least this share of the leads (default 0.01)…
    pub min_share: f64,
    /// …and at least this many leads (default 30).
    pub min_count: usize,
    /// At most this many levels of one text column get rules of their own (default 25).
    pub max_levels: usize,
    /// The trend numeric bands' conversion rates must follow (default `auto`).
    pub monotone: Monotone,
}

/// The trend of a numeric column's bands (`--monotone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Monotone {
    /// Increasing or decreasing, whichever fits the bands' rates better, unless neither fits
    /// (the unconstrained rates are significantly better): then no trend.
    Auto,
    Increasing,
    Decreasing,
    Off,
}

impl Default for AutoRulesParams {
    fn default() -> Self {
        AutoRulesParams {
            bands: 5,
            min_share: 0.01,
            min_count: 30,
            max_levels: 25,
            monotone: Monotone::Auto,
        }
    }
}

impl AutoRulesParams {
    fn check(&self) -> Result<()> {
        if !(2..=20).contains(&self.bands) {
            return Err(Error::Option {
                option: "--bands",
                message: format!("{} bands; use 2 to 20", self.bands),
            });
        }
        Ok(())
    }
}

/// Proposes rules for every column of `table` except those in `skip` (id, target, excluded).
/// Returns the rules and notes on columns that were passed over and why.
pub fn propose(
    table: &Table,
    skip: &[String],
    params: &AutoRulesParams,
) -> Result<(Vec<Rule>, Vec<String>)> {
    propose_with_outcome(table, skip, params, None)
}

/// As [`propose`], with numeric bands chosen by the outcome: `outcome[i]` is row `i`'s
/// conversion, `None` for a row whose outcome is not final (it does not vote on the bands).
pub fn propose_with_outcome(
    table: &Table,
    skip: &[String],
    params: &AutoRulesParams,
    outcome: Option<&[Option<bool>]>,
) -> Result<(Vec<Rule>, Vec<String>)> {
    params.check()?;
    let n = table.n_rows();
    let min_count = params
        .min_count
        .max((params.min_share * n as f64).ceil() as usize);
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    for column in table.column_names() {
        if skip.contains(&column) {
            continue;
        }
        if table.is_date(&column) {
            notes.push(format!("'{column}' holds dates; dates are never rules"));
            continue;
        }
        let before = rules.len();
        let missing = match table.numbers(&column) {
            Ok(values) => numeric_rules(&column, &values, outcome, min_count, params, &mut rules),
            Err(_) => {
                let values = table.texts(&column)?;
                if table.looks_decimal_comma(&values) {
                    notes.push(format!(
                        "'{column}' holds numbers with a decimal comma (e.g. 3,5), proposed as \
                         text; pass --decimal-comma to read them as numbers"
                    ));
                }
                match text_rules(&column, &values, min_count, params, &mut rules) {
                    Some(missing) => missing,
                    None => {
                        notes.push(format!(
                            "'{column}' has a different value on every row (an id?); no rules"
                        ));
                        continue;
                    }
                }
            }
        };
        if missing >= min_count && missing < n {
            rules.push(Rule {
                group: None,
                event: None,
                name: format!("{column} is missing"),
                column: column.clone(),
                condition: Condition::IsMissing,
            });
        }
        if rules.len() == before {
            notes.push(format!(
                "'{column}' has one value (or too few leads per value); no rules"
            ));
        }
    }
    Ok((rules, notes))
}

/// Rounds a cut point to three significant digits so rules read like a person wrote them.
fn readable(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let mag = 10f64.powi(x.abs().log10().floor() as i32 - 2);
    (x / mag).round() * mag
}

/// Adds the rules of a numeric column; returns how many values are missing.
fn numeric_rules(
    column: &str,
    values: &[Option<f64>],
    outcome: Option<&[Option<bool>]>,
    min_count: usize,
    params: &AutoRulesParams,
    rules: &mut Vec<Rule>,
) -> usize {
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    let missing = values.len() - present.len();
    if present.is_empty() {
        return missing;
    }
    present.sort_by(f64::total_cmp);
    let (min, max) = (present[0], present[present.len() - 1]);
    if min == max {
        return missing;
    }
    if present.iter().all(|&v| v == 0.0 || v == 1.0) {
        let ones = present.iter().filter(|&&v| v == 1.0).count();
        if ones >= min_count && present.len() - ones >= min_count {
            rules.push(Rule {
                group: None,
                event: None,
                name: format!("{column} = 1"),
                column: column.to_string(),
                condition: Condition::Range {
                    at_least: Some(1.0),
                    below: None,
                },
            });
        }
        return missing;
    }
    let cuts = match outcome {
        Some(y) => {
            let mut labelled: Vec<(f64, bool)> = values
                .iter()
                .zip(y)
                .filter_map(|(v, y)| Some(((*v)?, (*y)?)))
                .collect();
            labelled.sort_by(|a, b| a.0.total_cmp(&b.0));
            let fine = quantile_cuts(&present, super::binning::FINE_BANDS, min_count);
            super::binning::optimal_cuts(&labelled, &fine, params.bands, params.monotone)
        }
        None => quantile_cuts(&present, params.bands, min_count),
    };
    if cuts.is_empty() {
        return missing;
    }
    let mut lo: Option<f64> = None;
    for hi in cuts.iter().copied().map(Some).chain([None]) {
        let name = match (lo, hi) {
            (None, Some(h)) => format!("{column} < {}", format_number(h)),
            (Some(l), Some(h)) => {
                format!(
                    "{column} {} to under {}",
                    format_number(l),
                    format_number(h)
                )
            }
            (Some(l), None) => format!("{column} >= {}", format_number(l)),
            (None, None) => unreachable!("at least one cut"),
        };
        rules.push(Rule {
            group: None,
            event: None,
            name,
            column: column.to_string(),
            condition: Condition::Range {
                at_least: lo,
                below: hi,
            },
        });
        lo = hi;
    }
    missing
}

/// Cut points at `bands` quantiles of the sorted `present` values, rounded to read well, each
/// kept only when the bands on both sides keep at least `min_count` leads.
fn quantile_cuts(present: &[f64], bands: usize, min_count: usize) -> Vec<f64> {
    let (min, max) = (present[0], present[present.len() - 1]);
    let mut cuts: Vec<f64> = Vec::new();
    for k in 1..bands {
        let q = present[(k * present.len()) / bands];
        let c = readable(q);
        if c <= min || c > max || cuts.last().is_some_and(|&l| c <= l) {
            continue;
        }
        let below = present.partition_point(|&v| v < c);
        let prev = cuts
            .last()
            .map_or(0, |&l| present.partition_point(|&v| v < l));
        if below - prev >= min_count && present.len() - below >= min_count {
            cuts.push(c);
        }
    }
    cuts
}

/// Adds the rules of a text column; returns how many values are missing, or `None` when every
/// row has its own value (an id-like column, which gets no rules).
fn text_rules(
    column: &str,
    values: &[Option<String>],
    min_count: usize,
    params: &AutoRulesParams,
    rules: &mut Vec<Rule>,
) -> Option<usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut missing = 0;
    for v in values {
        match v {
            Some(s) => *counts.entry(s.as_str()).or_default() += 1,
            None => missing += 1,
        }
    }
    let present = values.len() - missing;
    if counts.len() > 50 && counts.len() == present {
        return None;
    }
    // Largest levels first; ties by name, so the proposal is deterministic.
    let mut levels: Vec<(&str, usize)> = counts.into_iter().collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if levels.len() == 2 && missing < min_count {
        // Two values with nothing missing carry one fact: the rarer one.
        let (level, count) = levels[1];
        if count >= min_count {
            rules.push(one_of_rule(column, format!("{column} = {level}"), &[level]));
        }
        return Some(missing);
    }
    let mut rare: Vec<&str> = Vec::new();
    let mut rare_count = 0;
    for (i, &(level, count)) in levels.iter().enumerate() {
        if count >= min_count && i < params.max_levels && levels.len() > 1 {
            rules.push(one_of_rule(column, format!("{column} = {level}"), &[level]));
        } else {
            rare.push(level);
            rare_count += count;
        }
    }
    if rare_count >= min_count && rare.len() < levels.len() {
        rare.sort_unstable();
        let name = format!("{column}: other ({} rarer values)", rare.len());
        rules.push(one_of_rule(column, name, &rare));
    }
    Some(missing)
}

fn one_of_rule(column: &str, name: String, values: &[&str]) -> Rule {
    Rule {
        group: None,
        event: None,
        name,
        column: column.to_string(),
        condition: Condition::OneOf {
            values: values.iter().map(|s| s.to_string()).collect(),
            ignore_case: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_line_without_gaps() {
        let values: Vec<Option<f64>> = (0..1000).map(|i| Some(i as f64)).collect();
        let mut rules = Vec::new();
        numeric_rules(
            "x",
            &values,
            None,
            30,
            &AutoRulesParams::default(),
            &mut rules,
        );
        assert_eq!(rules.len(), 5);
        for v in [0.0, 199.0, 200.0, 999.0, 5000.0, -1.0] {
            let fired: f64 = rules.iter().map(|r| r.condition.eval_number(Some(v))).sum();
            assert_eq!(fired, 1.0, "value {v} must fall in exactly one band");
        }
    }

    #[test]
    fn rare_levels_are_grouped_and_ids_skipped() {
        let mut values: Vec<Option<String>> = Vec::new();
        for (level, n) in [("a", 500), ("b", 300), ("c", 10), ("d", 25)] {
            values.extend(std::iter::repeat_n(Some(level.to_string()), n));
        }
        let mut rules = Vec::new();
        text_rules("t", &values, 30, &AutoRulesParams::default(), &mut rules).unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["t = a", "t = b", "t: other (2 rarer values)"]);
        let ids: Vec<Option<String>> = (0..100).map(|i| Some(format!("id{i}"))).collect();
        assert!(text_rules("id", &ids, 30, &AutoRulesParams::default(), &mut rules).is_none());
    }
}
