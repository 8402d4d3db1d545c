//! Scoring rules: the TOML rules file the marketing team edits, the rules the trainer proposes
//! when there is none ([`auto`]), and turning leads into one feature per rule ([`features`]).
//!
//! A rule's feature is what its points multiply: 1 or 0 for a condition, the number of whole
//! units between 0 and `cap` for a per-unit rule. Training and scoring evaluate rules through
//! the same [`Condition`] methods, so they cannot disagree.

#[cfg(feature = "data")]
pub mod auto;
#[cfg(feature = "data")]
pub mod binning;
pub mod events;
pub mod features;
pub mod interactions;
#[cfg(feature = "data")]
pub mod spelling;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One rule as written in the rules file. Exactly one kind of condition must be given
/// (`at_least` and `below` together make a band), or `all`/`any` with parts of their own (a
/// compound rule, which then has no `column`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_missing: Option<bool>,
    /// A date rule: the column's date is at most this many days before the as-of date. With
    /// `event`: the events at most this many days old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    /// A date rule: the column's date is more than this many days before the as-of date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than_days: Option<u32>,
    /// `one_of` (in this rule or its parts) compares text ignoring the case of A–Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_case: Option<bool>,
    /// Every part holds (AND).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<PartSpec>>,
    /// At least one part holds (OR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<PartSpec>>,
    /// The sub-score the rule counts in (`behaviour`, `profile`, any name); none: only the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An event rule: the events of this type in the activity log (`--events`), not a column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// An event rule on the events of any of these types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_one_of: Option<Vec<String>>,
    /// An event rule's decay: `{ half_life_days = 14 }` or `"learn"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<events::DecaySpec>,
}

/// One part of a compound rule as written: a column and one condition on it. `per_unit`,
/// `cap` and a further `all`/`any` are read only to refuse them with a message that says why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_missing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than_days: Option<u32>,
    #[serde(default, skip_serializing)]
    pub per_unit: Option<bool>,
    #[serde(default, skip_serializing)]
    pub cap: Option<f64>,
    #[serde(default, skip_serializing)]
    pub all: Option<toml::Value>,
    #[serde(default, skip_serializing)]
    pub any: Option<toml::Value>,
}

/// The rules file: optional id and target columns, then the rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The activity log's columns, for event rules (`[events]`: `id`, `type`, `at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<events::EventColumns>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

impl RulesFile {
    pub fn read(path: &Path) -> Result<RulesFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        groups_are_text(&text).map_err(|message| Error::Rules {
            path: path.to_path_buf(),
            message,
        })?;
        let file: RulesFile = toml::from_str(&text).map_err(|e| Error::Rules {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if file.rules.is_empty() {
            return Err(Error::Rules {
                path: path.to_path_buf(),
                message: "no [[rule]] tables; add at least one rule, or leave out --rules to \
                          have rules proposed"
                    .into(),
            });
        }
        // Validate every rule now so errors name the file.
        for spec in &file.rules {
            Rule::from_spec(spec).map_err(|message| Error::Rules {
                path: path.to_path_buf(),
                message,
            })?;
        }
        file.unique_names().map_err(|message| Error::Rules {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(file)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("rules serialise to TOML")
    }

    /// The checked rules.
    pub fn checked_rules(&self) -> std::result::Result<Vec<Rule>, String> {
        self.unique_names()?;
        self.rules.iter().map(Rule::from_spec).collect()
    }

    /// No two rules share a name: reasons, points sheets and exports name rules, so two of one
    /// name would be told apart by nobody. Positions are 1-based, as a reader counts
    /// `[[rule]]` tables.
    fn unique_names(&self) -> std::result::Result<(), String> {
        for (i, spec) in self.rules.iter().enumerate() {
            if let Some(j) = self.rules[..i].iter().position(|o| o.name == spec.name) {
                return Err(format!(
                    "rules {} and {} are both named '{}'; give each rule its own name",
                    j + 1,
                    i + 1,
                    spec.name
                ));
            }
        }
        Ok(())
    }
}

/// Every `group` is text. Checked on the raw TOML before the typed parse, whose error for
/// `group = 3` names a line but not the rule.
fn groups_are_text(text: &str) -> std::result::Result<(), String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(()); // a syntax error: the typed parse says where
    };
    let Some(rules) = table.get("rule").and_then(|r| r.as_array()) else {
        return Ok(());
    };
    for (i, rule) in rules.iter().enumerate() {
        let Some(group) = rule.get("group") else {
            continue;
        };
        if !group.is_str() {
            let who = match rule.get("name").and_then(|n| n.as_str()) {
                Some(name) => format!("rule '{name}'"),
                None => format!("rule {}", i + 1),
            };
            return Err(format!(
                "{who}: `group` must be a name in quotes, e.g. group = \"behaviour\" or group = \
                 \"profile\"; it is {} {group}",
                group.type_str()
            ));
        }
    }
    Ok(())
}

/// What a rule tests. Numeric conditions take numbers; `OneOf` takes text; `IsMissing` either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Whole units of the value, counted from 0 up to `cap` (no cap when absent).
    PerUnit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<f64>,
    },
    /// `at_least <= value < below`; either bound may be absent, not both.
    Range {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        below: Option<f64>,
    },
    /// The text value equals one of these exactly, or ignoring the case of the letters A–Z
    /// with `ignore_case` (only A–Z: every SQL engine and PMML folds those alike).
    OneOf {
        values: Vec<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        ignore_case: bool,
    },
    /// The cell is empty or a placeholder given with `--na`.
    IsMissing,
    /// A date at most `days` days before the as-of date: `0 <= as_of - date <= days`. The
    /// feature matrices hold a date column as its age in whole days ([`age_days`]), which
    /// [`Condition::eval_number`] reads; a date after as-of fires nothing.
    WithinDays { days: u32 },
    /// A date more than `days` days before the as-of date: `as_of - date > days`.
    OlderThanDays { days: u32 },
    /// Every part holds (AND): a compound rule. Its parts name their own columns, and the
    /// rule's feature is 1 or 0. One level only: a part is never compound or per-unit.
    All { parts: Vec<Part> },
    /// At least one part holds (OR), as [`Condition::All`].
    Any { parts: Vec<Part> },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One part of a compound condition: a simple condition (a range, `one_of` or `is_missing`)
/// on its own column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub column: String,
    pub condition: Condition,
}

/// A checked rule. A simple rule reads `column`; a compound one (`All`/`Any`) has an empty
/// `column` and reads its parts' columns: [`Rule::atoms`] lists what a rule reads either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
    #[serde(flatten)]
    pub condition: Condition,
    /// The sub-score the rule counts in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For an event rule, the events its number counts; `column` is then that number's column
    /// ([`events::EventSource::column_name`]), computed from the activity log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<events::EventSource>,
}

/// The value of one cell, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

impl Condition {
    /// `all`/`any`: evaluated on its parts ([`Rule::atoms`], [`Rule::combine`]), never on
    /// one cell.
    pub fn is_compound(&self) -> bool {
        matches!(self, Condition::All { .. } | Condition::Any { .. })
    }

    pub fn needs_numbers(&self) -> bool {
        matches!(self, Condition::PerUnit { .. } | Condition::Range { .. })
    }

    /// A date rule (`within_days`, `older_than_days`): it reads its column as dates, held as
    /// ages in whole days before the as-of date ([`age_days`]).
    pub fn is_date(&self) -> bool {
        matches!(
            self,
            Condition::WithinDays { .. } | Condition::OlderThanDays { .. }
        )
    }

    /// Whether this condition, or a part of it, is a date rule.
    pub fn has_date(&self) -> bool {
        match self {
            Condition::All { parts } | Condition::Any { parts } => {
                parts.iter().any(|p| p.condition.is_date())
            }
            c => c.is_date(),
        }
    }

    pub fn needs_text(&self) -> bool {
        matches!(self, Condition::OneOf { .. })
    }

    /// What a rule with this condition on `column` reads, as (column, simple condition): the
    /// rule itself, or each part of a compound condition. The rule's feature is
    /// [`Condition::combine`] of its atoms' features.
    pub fn atoms<'a>(&'a self, column: &'a str) -> Vec<(&'a str, &'a Condition)> {
        match self {
            Condition::All { parts } | Condition::Any { parts } => parts
                .iter()
                .map(|p| (p.column.as_str(), &p.condition))
                .collect(),
            simple => vec![(column, simple)],
        }
    }

    /// The columns [`Condition::atoms`] read, each once, in order.
    pub fn columns<'a>(&'a self, column: &'a str) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for (c, _) in self.atoms(column) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The feature from the atoms' features, in [`Condition::atoms`] order: the one feature of
    /// a simple condition; 1 when all (`All`) or any (`Any`) parts fired, else 0.
    #[inline]
    pub fn combine(&self, mut atoms: impl Iterator<Item = f64>) -> f64 {
        match self {
            Condition::All { .. } => atoms.all(|f| f > 0.0) as u8 as f64,
            Condition::Any { .. } => atoms.any(|f| f > 0.0) as u8 as f64,
            _ => atoms.next().unwrap_or(0.0),
        }
    }

    /// The feature of one lead given as `value(column)`, reading text under numeric conditions
    /// as [`Condition::eval_read`] does. Every part is read (no short cut), so a cell a part
    /// cannot read is an error whatever the other parts say, as when a file is scored. The
    /// error names the column.
    pub fn eval_lead<'a>(
        &self,
        column: &str,
        value: impl Fn(&str) -> Value<'a>,
        decimal_comma: bool,
    ) -> std::result::Result<f64, String> {
        self.eval_lead_as_of(column, value, decimal_comma, None)
    }

    /// [`Condition::eval_lead`] with the as-of date date rules count days back from (`None`:
    /// a date rule is an error saying it needs one). Date cells are ISO dates or timestamps
    /// ([`parse_date_utc`]).
    pub fn eval_lead_as_of<'a>(
        &self,
        column: &str,
        value: impl Fn(&str) -> Value<'a>,
        decimal_comma: bool,
        as_of: Option<chrono::NaiveDate>,
    ) -> std::result::Result<f64, String> {
        let read = |c: &str, condition: &Condition| {
            let v = value(c);
            let result = if condition.is_date() {
                condition.eval_date_value(v, as_of)
            } else {
                condition.eval_read(v, decimal_comma)
            };
            result.map_err(|e| format!("column '{c}': {e}"))
        };
        match self {
            Condition::All { parts } | Condition::Any { parts } => {
                let features = parts
                    .iter()
                    .map(|p| read(&p.column, &p.condition))
                    .collect::<std::result::Result<Vec<f64>, String>>()?;
                Ok(self.combine(features.into_iter()))
            }
            simple => read(column, simple),
        }
    }

    /// The feature for a numeric cell (`None` = missing).
    #[inline]
    pub fn eval_number(&self, v: Option<f64>) -> f64 {
        match (self, v) {
            (Condition::IsMissing, v) => v.is_none() as u8 as f64,
            (_, None) => 0.0,
            (Condition::PerUnit { cap }, Some(x)) => {
                let units = x.floor().max(0.0);
                cap.map_or(units, |c| units.min(c.floor()))
            }
            (Condition::Range { at_least, below }, Some(x)) => {
                let lo = at_least.is_none_or(|a| x >= a);
                let hi = below.is_none_or(|b| x < b);
                (lo && hi) as u8 as f64
            }
            (Condition::OneOf { .. }, Some(x)) => self.eval_text(Some(&format_number(x))),
            // The number is the date's age in days (as_of - date); negative: after as-of.
            (Condition::WithinDays { days }, Some(age)) => {
                (age >= 0.0 && age <= f64::from(*days)) as u8 as f64
            }
            (Condition::OlderThanDays { days }, Some(age)) => (age > f64::from(*days)) as u8 as f64,
            (Condition::All { .. } | Condition::Any { .. }, Some(_)) => compound_on_one_cell(),
        }
    }

    /// A date rule's feature for one cell: an ISO date or timestamp (text), counted back
    /// from `as_of`. Anything but a date is an error.
    pub fn eval_date_value(
        &self,
        v: Value<'_>,
        as_of: Option<chrono::NaiveDate>,
    ) -> std::result::Result<f64, String> {
        let date = match v {
            Value::Missing => return Ok(self.eval_number(None)),
            Value::Text(s) => parse_date_utc(s, None).ok_or_else(|| {
                format!(
                    "'{s}' is not a date; a date rule reads YYYY-MM-DD, a timestamp after it \
                     (UTC when it has no offset) is fine"
                )
            })?,
            Value::Number(x) => {
                return Err(format!(
                    "{x} is a number; a date rule reads dates (YYYY-MM-DD)"
                ))
            }
        };
        let as_of = as_of.ok_or_else(|| {
            "a date rule counts days before an as-of date, and none was given".to_string()
        })?;
        Ok(self.eval_number(Some(age_days(date, as_of) as f64)))
    }

    /// The feature for a text cell (`None` = missing). Numeric conditions are never asked
    /// about text: callers parse first (see [`Condition::eval`]).
    #[inline]
    pub fn eval_text(&self, v: Option<&str>) -> f64 {
        match (self, v) {
            (Condition::IsMissing, v) => v.is_none() as u8 as f64,
            (_, None) => 0.0,
            (
                Condition::OneOf {
                    values,
                    ignore_case: false,
                },
                Some(s),
            ) => values.iter().any(|v| v == s) as u8 as f64,
            (
                Condition::OneOf {
                    values,
                    ignore_case: true,
                },
                Some(s),
            ) => values.iter().any(|v| v.eq_ignore_ascii_case(s)) as u8 as f64,
            (Condition::All { .. } | Condition::Any { .. }, Some(_)) => compound_on_one_cell(),
            (_, Some(_)) => 0.0,
        }
    }

    /// The feature for one cell of any kind. Text under a numeric condition is parsed; text
    /// that is not a finite number is an error (the message says what was found).
    pub fn eval(&self, v: Value<'_>) -> std::result::Result<f64, String> {
        self.eval_read(v, false)
    }

    /// [`Condition::eval`], with text under a numeric condition read with a decimal comma
    /// (`3,5`) when `decimal_comma` is set, as the loader reads such a file.
    pub fn eval_read(&self, v: Value<'_>, decimal_comma: bool) -> std::result::Result<f64, String> {
        match v {
            Value::Missing => Ok(self.eval_number(None)),
            Value::Number(x) if x.is_finite() => Ok(self.eval_number(Some(x))),
            Value::Number(x) => Err(format!("{x} is not a finite number")),
            Value::Text(s) if self.needs_numbers() => {
                let t = s.trim();
                let x = if decimal_comma {
                    parse_decimal_comma(t)
                } else {
                    t.parse::<f64>().ok()
                };
                match x {
                    Some(x) if x.is_finite() => Ok(self.eval_number(Some(x))),
                    _ if decimal_comma => Err(format!(
                        "'{s}' is not a number written with a decimal comma"
                    )),
                    _ => Err(format!("'{s}' is not a number")),
                }
            }
            Value::Text(s) => Ok(self.eval_text(Some(s))),
        }
    }

    /// The condition in plain words, for reports and points sheets.
    pub fn describe(&self, column: &str) -> String {
        match self {
            Condition::PerUnit { cap: Some(c) } => {
                format!("per unit of {column} (up to {})", format_number(*c))
            }
            Condition::PerUnit { cap: None } => format!("per unit of {column}"),
            Condition::Range {
                at_least: Some(a),
                below: Some(b),
            } => format!("{} <= {column} < {}", format_number(*a), format_number(*b)),
            Condition::Range {
                at_least: Some(a), ..
            } => format!("{column} >= {}", format_number(*a)),
            Condition::Range { below: Some(b), .. } => {
                format!("{column} < {}", format_number(*b))
            }
            Condition::Range { .. } => format!("{column} (no bounds)"),
            Condition::OneOf {
                values,
                ignore_case: false,
            } => format!("{column} is one of {values:?}"),
            Condition::OneOf {
                values,
                ignore_case: true,
            } => format!("{column} is one of {values:?} (any case)"),
            Condition::IsMissing => format!("{column} is missing"),
            Condition::WithinDays { days } => {
                format!("{column} within {days} {}", plural_days(*days))
            }
            Condition::OlderThanDays { days } => {
                format!("{column} more than {days} {} ago", plural_days(*days))
            }
            Condition::All { parts } => describe_parts(parts, " and "),
            Condition::Any { parts } => describe_parts(parts, " or "),
        }
    }
}

fn plural_days(days: u32) -> &'static str {
    if days == 1 {
        "day"
    } else {
        "days"
    }
}

/// Today's date in UTC, from the system clock.
pub fn today_utc() -> chrono::NaiveDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")
        + chrono::Duration::days((secs / 86_400) as i64)
}

/// Whole days from `date` to `as_of`: positive for a date before as-of, negative after it.
pub fn age_days(date: chrono::NaiveDate, as_of: chrono::NaiveDate) -> i64 {
    (as_of - date).num_days()
}

/// The UTC day of a date cell: the date part (ISO, or in `format`), moved to the UTC day when
/// a time with a UTC offset follows (`2026-07-31T23:30:00-05:00` is 2026-08-01 in UTC). A
/// time without an offset is taken as UTC; `Z` is UTC. `None` when the cell is not a date.
pub fn parse_date_utc(s: &str, format: Option<&str>) -> Option<chrono::NaiveDate> {
    let s = s.trim();
    let (date, rest) = match format {
        None => {
            let d = s.get(..10)?;
            (
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?,
                &s[10..],
            )
        }
        Some(f) => {
            let items = chrono::format::StrftimeItems::new(f);
            let mut parsed = chrono::format::Parsed::new();
            let rest = chrono::format::parse_and_remainder(&mut parsed, s, items).ok()?;
            (parsed.to_naive_date().ok()?, rest)
        }
    };
    if format.is_none()
        && !s.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    {
        return None;
    }
    if rest.is_empty() {
        return Some(date);
    }
    if !((rest.starts_with(' ') || rest.starts_with('T'))
        && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        return None;
    }
    Some(date + chrono::Duration::days(utc_day_shift(&rest[1..])))
}

/// Days to add to a local date for its UTC date, from the time part after it: `HH:MM[:SS[.f]]`
/// then an offset (`+02:00`, `-0500`, `+02`; `Z` or none is UTC). Any other time part (e.g.
/// `2:58 PM`) is read past as before: 0.
pub(crate) fn utc_day_shift(time: &str) -> i64 {
    let b = time.as_bytes();
    let two = |i: usize| -> Option<i64> {
        let d = b.get(i..i + 2)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'))
    };
    let (Some(h), Some(m)) = (two(0), two(3)) else {
        return 0;
    };
    if b.get(2) != Some(&b':') {
        return 0;
    }
    let mut i = 5;
    if b.get(i) == Some(&b':') && two(i + 1).is_some() {
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
    }
    let offset = &time[i..];
    let sign = match offset.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return 0,
    };
    let o = &offset.as_bytes()[1..];
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = o.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'))
    };
    let Some(oh) = digits(0..2) else { return 0 };
    let om = match o.len() {
        2 => 0,
        4 => digits(2..4).unwrap_or(0),
        5 if o[2] == b':' => digits(3..5).unwrap_or(0),
        _ => return 0,
    };
    let utc_minutes = h * 60 + m - sign * (oh * 60 + om);
    utc_minutes.div_euclid(24 * 60)
}

/// The parts of a compound condition in words: `company_size >= 100 and downloads >= 2`.
fn describe_parts(parts: &[Part], joint: &str) -> String {
    parts
        .iter()
        .map(|p| p.condition.describe(&p.column))
        .collect::<Vec<_>>()
        .join(joint)
}

/// A compound condition asked about one cell: a caller's mistake (compound rules are evaluated
/// on their parts). It fires nothing rather than stop a scoring run; tests catch the caller.
fn compound_on_one_cell() -> f64 {
    debug_assert!(false, "a compound condition is evaluated on its parts");
    0.0
}

/// Numbers as text the way a spreadsheet shows them: `3`, not `3.0`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Rule {
    /// Checks a rule as written, returning a message naming the rule on error.
    pub fn from_spec(spec: &RuleSpec) -> std::result::Result<Rule, String> {
        let who = format!("rule '{}'", spec.name);
        if spec.name.trim().is_empty() {
            return Err(match (&spec.all, &spec.any) {
                (None, None) => format!("a rule on column '{}' has no name", spec.column),
                _ => "a rule with `all`/`any` parts has no name".into(),
            });
        }
        if spec.group.as_ref().is_some_and(|g| g.trim().is_empty()) {
            return Err(format!(
                "{who}: `group` is empty; name the sub-score (e.g. \"behaviour\") or leave \
                 `group` out"
            ));
        }
        if spec.event.is_some() || spec.event_one_of.is_some() {
            return Rule::event_from_spec(spec, &who);
        }
        if spec.decay.is_some() {
            return Err(format!(
                "{who}: `decay` belongs to event rules; add event = \"TYPE\" (a type of the \
                 --events file)"
            ));
        }
        let ignore_case = spec.ignore_case == Some(true);
        let compound = match (&spec.all, &spec.any) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{who} has both `all` and `any`; one level of nesting is offered: write \
                     two rules, or one `any` whose parts are single conditions"
                ))
            }
            (Some(parts), None) => Some(("all", parts)),
            (None, Some(parts)) => Some(("any", parts)),
            (None, None) => None,
        };
        if let Some((key, parts)) = compound {
            let simple = spec.per_unit.is_some()
                || spec.cap.is_some()
                || spec.at_least.is_some()
                || spec.below.is_some()
                || spec.one_of.is_some()
                || spec.is_missing.is_some()
                || spec.within_days.is_some()
                || spec.older_than_days.is_some();
            if !spec.column.is_empty() || simple {
                return Err(format!(
                    "{who}: a rule with `{key}` has its conditions in its parts only; move \
                     `column` and its condition into a part"
                ));
            }
            if parts.len() < 2 {
                return Err(format!(
                    "{who}: `{key}` has {} part{}; it needs at least two (a single condition \
                     is written as an ordinary rule, with `column`)",
                    parts.len(),
                    if parts.len() == 1 { "" } else { "s" }
                ));
            }
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, part)| {
                    Part::from_spec(
                        part,
                        ignore_case,
                        &format!("{who}, part {} of `{key}`", i + 1),
                    )
                })
                .collect::<std::result::Result<Vec<Part>, String>>()?;
            let condition = if key == "all" {
                Condition::All { parts }
            } else {
                Condition::Any { parts }
            };
            if ignore_case && !has_one_of(&condition) {
                return Err(format!(
                    "{who}: `ignore_case` applies to `one_of`, which no part has"
                ));
            }
            return Ok(Rule {
                name: spec.name.clone(),
                column: String::new(),
                condition,
                group: spec.group.clone(),
                event: None,
            });
        }
        if spec.column.trim().is_empty() {
            return Err(format!(
                "{who} has no column (or `all`/`any` parts that name theirs)"
            ));
        }
        let finite = |x: Option<f64>, key: &str| match x {
            Some(v) if !v.is_finite() => Err(format!("{who}: `{key}` must be a finite number")),
            _ => Ok(()),
        };
        finite(spec.cap, "cap")?;
        let per_unit = spec.per_unit == Some(true);
        let date_key = match (spec.within_days, spec.older_than_days) {
            (Some(_), _) => Some("within_days"),
            (None, Some(_)) => Some("older_than_days"),
            (None, None) => None,
        };
        if let (Some(key), true) = (date_key, per_unit || spec.cap.is_some()) {
            return Err(format!(
                "{who}: `{key}` is a date rule, which fires 1 or 0; `per_unit`/`cap` count units \
                 of a number and cannot go with it: drop `per_unit`/`cap`, or write a rule of \
                 its own on a number column"
            ));
        }
        if spec.cap.is_some() && !per_unit {
            return Err(format!("{who}: `cap` only applies with `per_unit = true`"));
        }
        let condition = if per_unit {
            let kinds = [
                spec.at_least.is_some() || spec.below.is_some(),
                spec.one_of.is_some(),
                spec.is_missing == Some(true),
            ];
            if kinds.iter().any(|&k| k) {
                return Err(format!(
                    "{who} must have exactly one condition: `per_unit = true` (with optional \
                     `cap`), `at_least`/`below`, `one_of`, `is_missing = true`, `within_days` \
                     or `older_than_days`; it has {}",
                    1 + kinds.iter().filter(|&&k| k).count()
                ));
            }
            if let Some(c) = spec.cap {
                if c < 1.0 {
                    return Err(format!("{who}: `cap` must be at least 1"));
                }
                if c > crate::points::MAX_UNITS {
                    return Err(format!(
                        "{who}: `cap` must be at most 2^53 = {} (units above it are not exact \
                         numbers)",
                        crate::points::MAX_UNITS as i64
                    ));
                }
            }
            Condition::PerUnit { cap: spec.cap }
        } else {
            simple_condition(
                &who,
                Simple {
                    at_least: spec.at_least,
                    below: spec.below,
                    one_of: spec.one_of.as_ref(),
                    is_missing: spec.is_missing,
                    within_days: spec.within_days,
                    older_than_days: spec.older_than_days,
                },
                ignore_case,
            )?
        };
        if ignore_case && !has_one_of(&condition) {
            return Err(format!("{who}: `ignore_case` applies to `one_of` only"));
        }
        Ok(Rule {
            name: spec.name.clone(),
            column: spec.column.clone(),
            condition,
            group: spec.group.clone(),
            event: None,
        })
    }

    /// An event rule: its source, and a numeric condition on the source's number (`at_least`
    /// 1 when none is written: "at least one such event").
    fn event_from_spec(spec: &RuleSpec, who: &str) -> std::result::Result<Rule, String> {
        if !spec.column.trim().is_empty() || spec.all.is_some() || spec.any.is_some() {
            return Err(format!(
                "{who} counts events of the activity log; it has no `column` or `all`/`any` \
                 (write a separate rule on the column)"
            ));
        }
        if spec.one_of.is_some() || spec.is_missing.is_some() || spec.ignore_case.is_some() {
            return Err(format!(
                "{who} counts events: its condition is on a number, `at_least`/`below` or \
                 `per_unit = true` (with optional `cap`), not `one_of`/`is_missing`"
            ));
        }
        let source = events::EventSource::from_spec(
            who,
            spec.event.as_ref(),
            spec.event_one_of.as_ref(),
            spec.within_days,
            spec.decay.as_ref(),
        )?;
        let column = source.column_name();
        let mut plain = RuleSpec {
            name: spec.name.clone(),
            column: column.clone(),
            per_unit: spec.per_unit,
            cap: spec.cap,
            at_least: spec.at_least,
            below: spec.below,
            group: spec.group.clone(),
            ..RuleSpec::default()
        };
        if plain.per_unit.is_none() && plain.at_least.is_none() && plain.below.is_none() {
            plain.at_least = Some(1.0);
        }
        let mut rule = Rule::from_spec(&plain)?;
        rule.event = Some(source);
        Ok(rule)
    }

    /// The rule as it is written in a rules file.
    pub fn to_spec(&self) -> RuleSpec {
        let mut spec = RuleSpec {
            name: self.name.clone(),
            column: self.column.clone(),
            group: self.group.clone(),
            ..RuleSpec::default()
        };
        if let Some(source) = &self.event {
            spec.column = String::new();
            match source.types.as_slice() {
                [one] => spec.event = Some(one.clone()),
                many => spec.event_one_of = Some(many.to_vec()),
            }
            spec.within_days = source.within_days;
            spec.decay = match (source.learn, source.half_life_days) {
                (true, _) => Some(events::DecaySpec::Learn("learn".into())),
                (false, Some(h)) => Some(events::DecaySpec::HalfLife { half_life_days: h }),
                (false, None) => None,
            };
        }
        match &self.condition {
            Condition::PerUnit { cap } => {
                spec.per_unit = Some(true);
                spec.cap = *cap;
            }
            Condition::All { parts } => spec.all = Some(parts.iter().map(Part::to_spec).collect()),
            Condition::Any { parts } => spec.any = Some(parts.iter().map(Part::to_spec).collect()),
            simple => {
                let part = Part {
                    column: String::new(),
                    condition: simple.clone(),
                }
                .to_spec();
                spec.at_least = part.at_least;
                spec.below = part.below;
                spec.one_of = part.one_of;
                spec.is_missing = part.is_missing;
                // An event rule's window was set above; its condition is on a count.
                spec.within_days = spec.within_days.or(part.within_days);
                spec.older_than_days = part.older_than_days;
            }
        }
        if has_ignore_case(&self.condition) {
            spec.ignore_case = Some(true);
        }
        spec
    }

    /// What the rule reads ([`Condition::atoms`]).
    pub fn atoms(&self) -> Vec<(&str, &Condition)> {
        self.condition.atoms(&self.column)
    }

    /// Whether the rule counts days from a reference date (a date rule or an event rule), so
    /// that scoring needs one.
    pub fn needs_as_of(&self) -> bool {
        self.event.is_some() || self.condition.has_date()
    }

    /// The columns the rule reads, each once, in order.
    pub fn columns(&self) -> Vec<&str> {
        self.condition.columns(&self.column)
    }

    /// The rule's feature from its atoms' features ([`Condition::combine`]).
    #[inline]
    pub fn combine(&self, atoms: impl Iterator<Item = f64>) -> f64 {
        self.condition.combine(atoms)
    }

    /// The feature of one lead given as `value(column)` ([`Condition::eval_lead`]).
    pub fn eval_read<'a>(
        &self,
        value: impl Fn(&str) -> Value<'a>,
        decimal_comma: bool,
    ) -> std::result::Result<f64, String> {
        self.condition.eval_lead(&self.column, value, decimal_comma)
    }

    /// The condition in plain words: `company_size >= 100 and downloads >= 2`.
    pub fn describe(&self) -> String {
        match &self.event {
            Some(source) => self.condition.describe(&source.label()),
            None => self.condition.describe(&self.column),
        }
    }

    /// The rule's columns for a message: `'company_size'`, or `'a' and 'b'`.
    pub fn columns_text(&self) -> String {
        columns_text(&self.columns())
    }
}

/// Columns for a message: `'company_size'`, or `'a', 'b' and 'c'`.
pub fn columns_text(columns: &[&str]) -> String {
    let cols: Vec<String> = columns.iter().map(|c| format!("'{c}'")).collect();
    match cols.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => cols.join(""),
    }
}

impl Part {
    fn from_spec(
        spec: &PartSpec,
        ignore_case: bool,
        who: &str,
    ) -> std::result::Result<Part, String> {
        if spec.all.is_some() || spec.any.is_some() {
            return Err(format!(
                "{who} holds `all`/`any` of its own; compound rules nest one level only: a part \
                 is one condition on one column (write the inner group as a rule of its own)"
            ));
        }
        if spec.per_unit.is_some() || spec.cap.is_some() {
            return Err(format!(
                "{who} is `per_unit`, which a compound rule cannot hold: its feature is 1 or 0; \
                 give per-unit points their own rule"
            ));
        }
        if spec.column.trim().is_empty() {
            return Err(format!("{who} has no column"));
        }
        let condition = simple_condition(
            who,
            Simple {
                at_least: spec.at_least,
                below: spec.below,
                one_of: spec.one_of.as_ref(),
                is_missing: spec.is_missing,
                within_days: spec.within_days,
                older_than_days: spec.older_than_days,
            },
            ignore_case,
        )?;
        Ok(Part {
            column: spec.column.clone(),
            condition,
        })
    }

    fn to_spec(&self) -> PartSpec {
        let mut spec = PartSpec {
            column: self.column.clone(),
            ..PartSpec::default()
        };
        match &self.condition {
            Condition::Range { at_least, below } => {
                spec.at_least = *at_least;
                spec.below = *below;
            }
            Condition::OneOf { values, .. } => spec.one_of = Some(values.clone()),
            Condition::IsMissing => spec.is_missing = Some(true),
            Condition::WithinDays { days } => spec.within_days = Some(*days),
            Condition::OlderThanDays { days } => spec.older_than_days = Some(*days),
            // Parts are never per-unit or compound (checked when read).
            Condition::PerUnit { .. } | Condition::All { .. } | Condition::Any { .. } => {}
        }
        spec
    }
}

/// The keys of a simple condition as written.
struct Simple<'a> {
    at_least: Option<f64>,
    below: Option<f64>,
    one_of: Option<&'a Vec<String>>,
    is_missing: Option<bool>,
    within_days: Option<u32>,
    older_than_days: Option<u32>,
}

/// A range, `one_of`, `is_missing` or date condition, checked; exactly one must be given.
fn simple_condition(
    who: &str,
    keys: Simple<'_>,
    ignore_case: bool,
) -> std::result::Result<Condition, String> {
    let Simple {
        at_least,
        below,
        one_of,
        is_missing,
        within_days,
        older_than_days,
    } = keys;
    for (x, key) in [(at_least, "at_least"), (below, "below")] {
        if x.is_some_and(|v| !v.is_finite()) {
            return Err(format!("{who}: `{key}` must be a finite number"));
        }
    }
    let range = at_least.is_some() || below.is_some();
    let missing = is_missing == Some(true);
    let kinds = [
        range,
        one_of.is_some(),
        missing,
        within_days.is_some(),
        older_than_days.is_some(),
    ]
    .iter()
    .filter(|&&k| k)
    .count();
    if kinds != 1 {
        return Err(format!(
            "{who} must have exactly one condition: `per_unit = true` (with optional `cap`), \
             `at_least`/`below`, `one_of`, `is_missing = true`, `within_days` or \
             `older_than_days`; it has {kinds}"
        ));
    }
    if let Some(days) = within_days {
        return Ok(Condition::WithinDays { days });
    }
    if let Some(days) = older_than_days {
        return Ok(Condition::OlderThanDays { days });
    }
    if range {
        if let (Some(a), Some(b)) = (at_least, below) {
            if a >= b {
                return Err(format!(
                    "{who}: `at_least` ({a}) must be smaller than `below` ({b})"
                ));
            }
        }
        Ok(Condition::Range { at_least, below })
    } else if let Some(values) = one_of {
        if values.is_empty() {
            return Err(format!("{who}: `one_of` is empty"));
        }
        Ok(Condition::OneOf {
            values: values.clone(),
            ignore_case,
        })
    } else {
        Ok(Condition::IsMissing)
    }
}

fn has_one_of(condition: &Condition) -> bool {
    match condition {
        Condition::OneOf { .. } => true,
        Condition::All { parts } | Condition::Any { parts } => {
            parts.iter().any(|p| has_one_of(&p.condition))
        }
        _ => false,
    }
}

fn has_ignore_case(condition: &Condition) -> bool {
    match condition {
        Condition::OneOf { ignore_case, .. } => *ignore_case,
        Condition::All { parts } | Condition::Any { parts } => {
            parts.iter().any(|p| has_ignore_case(&p.condition))
        }
        _ => false,
    }
}

/// A number written with a decimal comma: `3,5`, `-0,25`, `1.234,5` and `1.234.567` (`.`
/// only groups thousands: between groups of exactly three digits). `None` for anything else,
/// `1.5` included, which no decimal-comma export writes.
pub fn parse_decimal_comma(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if frac.is_some_and(|f| f.contains([',', '.'])) {
        return None;
    }
    let mut text = String::with_capacity(s.len());
    if int.contains('.') {
        let (sign, digits) = match int.as_bytes().first() {
            Some(b'-') | Some(b'+') => int.split_at(1),
            _ => ("", int),
        };
        let digit_group = |g: &str, len: std::ops::RangeInclusive<usize>| {
            len.contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit())
        };
        let mut groups = digits.split('.');
        if !groups.next().is_some_and(|g| digit_group(g, 1..=3))
            || !groups.all(|g| digit_group(g, 3..=3))
        {
            return None;
        }
        text.push_str(sign);
        text.extend(digits.split('.'));
    } else {
        text.push_str(int);
    }
    if let Some(f) = frac {
        text.push('.');
        text.push_str(f);
    }
    // `str::parse` takes `.5`, `5.` and exponents, as without a decimal comma.
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Vec<Rule>, String> {
        let file: RulesFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.checked_rules()
    }

    #[test]
    fn the_documented_format_parses() {
        let rules = parse(
            r#"
id = "lead_id"
target = "converted"
[[rule]]
name = "Pricing page visit (each, up to 5)"
column = "pricing_page_visits"
per_unit = true
cap = 5
[[rule]]
name = "Company 100+ employees"
column = "company_size"
at_least = 100
[[rule]]
name = "Inactive under 7 days"
column = "days_since_last_activity"
below = 7
[[rule]]
name = "C-level or VP"
column = "job_level"
one_of = ["C-Level", "VP"]
[[rule]]
name = "No company size given"
column = "company_size"
is_missing = true
"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].condition, Condition::PerUnit { cap: Some(5.0) });
        assert_eq!(rules[4].condition, Condition::IsMissing);
    }

    #[test]
    fn unknown_keys_and_conflicting_conditions_are_errors() {
        let err = parse("[[rule]]\nname='a'\ncolumn='x'\nat_leest=3\n").unwrap_err();
        assert!(err.contains("unknown field `at_leest`"), "{err}");
        let err =
            parse("[[rule]]\nname='a'\ncolumn='x'\nat_least=3\nis_missing=true\n").unwrap_err();
        assert!(err.contains("exactly one condition"), "{err}");
        let err = parse("[[rule]]\nname='a'\ncolumn='x'\nat_least=3\nbelow=2\n").unwrap_err();
        assert!(err.contains("must be smaller"), "{err}");
    }

    #[test]
    fn rule_names_are_unique_and_caps_exact() {
        let rule = |name: &str| format!("[[rule]]\nname='{name}'\ncolumn='x'\nat_least=1\n");
        let text = [rule("a"), rule("X"), rule("b"), rule("c"), rule("X")].concat();
        let err = parse(&text).unwrap_err();
        assert!(err.contains("rules 2 and 5 are both named 'X'"), "{err}");
        // Names differing only in case are different names.
        assert!(parse(&[rule("x"), rule("X")].concat()).is_ok());
        let err = parse("[[rule]]\nname='a'\ncolumn='x'\nper_unit=true\ncap=1e16\n").unwrap_err();
        assert!(err.contains("at most 2^53"), "{err}");
        assert!(
            parse("[[rule]]\nname='a'\ncolumn='x'\nper_unit=true\ncap=9007199254740992\n").is_ok()
        );
    }

    #[test]
    fn conditions_evaluate_at_their_boundaries() {
        let range = Condition::Range {
            at_least: Some(100.0),
            below: Some(500.0),
        };
        assert_eq!(range.eval_number(Some(100.0)), 1.0);
        assert_eq!(range.eval_number(Some(99.999)), 0.0);
        assert_eq!(range.eval_number(Some(500.0)), 0.0);
        assert_eq!(range.eval_number(None), 0.0);
        let unit = Condition::PerUnit { cap: Some(5.0) };
        assert_eq!(unit.eval_number(Some(3.7)), 3.0);
        assert_eq!(unit.eval_number(Some(9.0)), 5.0);
        assert_eq!(unit.eval_number(Some(-2.0)), 0.0);
        assert_eq!(Condition::IsMissing.eval_number(None), 1.0);
        assert_eq!(Condition::IsMissing.eval_text(Some("x")), 0.0);
        let one_of = Condition::OneOf {
            values: vec!["VP".into(), "3".into()],
            ignore_case: false,
        };
        assert_eq!(one_of.eval_text(Some("VP")), 1.0);
        assert_eq!(one_of.eval_text(Some("vp")), 0.0);
        assert_eq!(one_of.eval_number(Some(3.0)), 1.0);
        assert_eq!(unit.eval(Value::Text("4")), Ok(4.0));
        assert!(unit.eval(Value::Text("four")).is_err());
        assert!(unit.eval(Value::Number(f64::NAN)).is_err());
    }

    #[test]
    fn compound_rules_evaluate_on_their_parts_and_round_trip() {
        let text = r#"
[[rule]]
name = "Enterprise and engaged"
all = [ { column = "size", at_least = 100 }, { column = "downloads", at_least = 2 } ]
[[rule]]
name = "Senior or no budget given"
ignore_case = true
any = [ { column = "level", one_of = ["VP"] }, { column = "budget", is_missing = true } ]
"#;
        let rules = parse(text).unwrap();
        let lead = |size: Value<'static>, downloads: Value<'static>, level: Value<'static>| {
            move |c: &str| match c {
                "size" => size,
                "downloads" => downloads,
                "level" => level,
                _ => Value::Missing,
            }
        };
        let and = &rules[0];
        assert_eq!(and.columns(), ["size", "downloads"]);
        fn f<'a>(r: &Rule, cell: impl Fn(&str) -> Value<'a>) -> f64 {
            r.eval_read(cell, false).unwrap()
        }
        use Value::{Missing, Number, Text};
        assert_eq!(f(and, lead(Number(100.0), Text(" 2 "), Missing)), 1.0);
        assert_eq!(f(and, lead(Number(99.9), Number(2.0), Missing)), 0.0);
        assert_eq!(f(and, lead(Missing, Number(5.0), Missing)), 0.0);
        // A part that cannot read its cell is an error whatever the other part says.
        let err = and
            .eval_read(lead(Number(5.0), Text("many"), Missing), false)
            .unwrap_err();
        assert!(err.contains("column 'downloads'"), "{err}");
        let or = &rules[1];
        // The budget is missing for every lead here, so `is_missing` fires the OR.
        assert_eq!(f(or, lead(Missing, Missing, Missing)), 1.0);
        let with_budget = |level: Value<'static>| {
            move |c: &str| match c {
                "level" => level,
                "budget" => Text("yes"),
                _ => Missing,
            }
        };
        assert_eq!(f(or, with_budget(Text("vp"))), 1.0);
        assert_eq!(f(or, with_budget(Text("Vp"))), 1.0);
        assert_eq!(f(or, with_budget(Text("V P"))), 0.0);
        assert_eq!(f(or, with_budget(Missing)), 0.0);
        // Written back as a rules file and read again: the same rules.
        let file = RulesFile {
            rules: rules.iter().map(Rule::to_spec).collect(),
            ..RulesFile::default()
        };
        assert_eq!(parse(&file.to_toml()).unwrap(), rules);
    }

    #[test]
    fn specs_round_trip() {
        let rule = Rule {
            group: None,
            event: None,
            name: "band".into(),
            column: "x".into(),
            condition: Condition::Range {
                at_least: Some(1.0),
                below: Some(2.0),
            },
        };
        assert_eq!(Rule::from_spec(&rule.to_spec()).unwrap(), rule);
    }
}
