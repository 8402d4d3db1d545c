//! Scoring rules: the TOML rules file the marketing team edits, the rules the trainer proposes
//! when there is none ([`auto`]), and turning leads into one feature per rule ([`features`]).
//!
//! A rule's feature is what its points multiply: 1 or 0 for a condition, the number of whole
//! units between 0 and `cap` for a per-unit rule. Training and scoring evaluate rules through
//! the same [`Condition`] methods, so they cannot disagree.

#[cfg(feature = "data")]
pub mod auto;
pub mod features;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One rule as written in the rules file. Exactly one kind of condition must be given
/// (`at_least` and `below` together make a band).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
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
    /// The sub-score the rule counts in (`behaviour`, `profile`, any name); none: only the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The rules file: optional id and target columns, then the rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
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
    /// The text value equals one of these exactly.
    OneOf { values: Vec<String> },
    /// The cell is empty or a placeholder given with `--na`.
    IsMissing,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub column: String,
    #[serde(flatten)]
    pub condition: Condition,
    /// The sub-score the rule counts in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The value of one cell, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

impl Condition {
    pub fn needs_numbers(&self) -> bool {
        matches!(self, Condition::PerUnit { .. } | Condition::Range { .. })
    }

    pub fn needs_text(&self) -> bool {
        matches!(self, Condition::OneOf { .. })
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
            (Condition::OneOf { values }, Some(x)) => {
                let s = format_number(x);
                values.contains(&s) as u8 as f64
            }
        }
    }

    /// The feature for a text cell (`None` = missing). Numeric conditions are never asked
    /// about text: callers parse first (see [`Condition::eval`]).
    #[inline]
    pub fn eval_text(&self, v: Option<&str>) -> f64 {
        match (self, v) {
            (Condition::IsMissing, v) => v.is_none() as u8 as f64,
            (_, None) => 0.0,
            (Condition::OneOf { values }, Some(s)) => values.iter().any(|v| v == s) as u8 as f64,
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
            Condition::OneOf { values } => format!("{column} is one of {values:?}"),
            Condition::IsMissing => format!("{column} is missing"),
        }
    }
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
            return Err(format!("a rule on column '{}' has no name", spec.column));
        }
        if spec.column.trim().is_empty() {
            return Err(format!("{who} has no column"));
        }
        let finite = |x: Option<f64>, key: &str| match x {
            Some(v) if !v.is_finite() => Err(format!("{who}: `{key}` must be a finite number")),
            _ => Ok(()),
        };
        finite(spec.cap, "cap")?;
        finite(spec.at_least, "at_least")?;
        finite(spec.below, "below")?;
        let per_unit = spec.per_unit == Some(true);
        let range = spec.at_least.is_some() || spec.below.is_some();
        let one_of = spec.one_of.is_some();
        let missing = spec.is_missing == Some(true);
        let kinds = [per_unit, range, one_of, missing]
            .iter()
            .filter(|&&k| k)
            .count();
        if kinds != 1 {
            return Err(format!(
                "{who} must have exactly one condition: `per_unit = true` (with optional `cap`), \
                 `at_least`/`below`, `one_of` or `is_missing = true`; it has {kinds}"
            ));
        }
        if spec.cap.is_some() && !per_unit {
            return Err(format!("{who}: `cap` only applies with `per_unit = true`"));
        }
        let condition = if per_unit {
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
        } else if range {
            if let (Some(a), Some(b)) = (spec.at_least, spec.below) {
                if a >= b {
                    return Err(format!(
                        "{who}: `at_least` ({a}) must be smaller than `below` ({b})"
                    ));
                }
            }
            Condition::Range {
                at_least: spec.at_least,
                below: spec.below,
            }
        } else if let Some(values) = &spec.one_of {
            if values.is_empty() {
                return Err(format!("{who}: `one_of` is empty"));
            }
            Condition::OneOf {
                values: values.clone(),
            }
        } else {
            Condition::IsMissing
        };
        if spec.group.as_ref().is_some_and(|g| g.trim().is_empty()) {
            return Err(format!(
                "{who}: `group` is empty; name the sub-score (e.g. \"behaviour\") or leave \
                 `group` out"
            ));
        }
        Ok(Rule {
            name: spec.name.clone(),
            column: spec.column.clone(),
            condition,
            group: spec.group.clone(),
        })
    }

    /// The rule as it is written in a rules file.
    pub fn to_spec(&self) -> RuleSpec {
        let mut spec = RuleSpec {
            name: self.name.clone(),
            column: self.column.clone(),
            group: self.group.clone(),
            ..RuleSpec::default()
        };
        match &self.condition {
            Condition::PerUnit { cap } => {
                spec.per_unit = Some(true);
                spec.cap = *cap;
            }
            Condition::Range { at_least, below } => {
                spec.at_least = *at_least;
                spec.below = *below;
            }
            Condition::OneOf { values } => spec.one_of = Some(values.clone()),
            Condition::IsMissing => spec.is_missing = Some(true),
        }
        spec
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
        };
        assert_eq!(one_of.eval_text(Some("VP")), 1.0);
        assert_eq!(one_of.eval_text(Some("vp")), 0.0);
        assert_eq!(one_of.eval_number(Some(3.0)), 1.0);
        assert_eq!(unit.eval(Value::Text("4")), Ok(4.0));
        assert!(unit.eval(Value::Text("four")).is_err());
        assert!(unit.eval(Value::Number(f64::NAN)).is_err());
    }

    #[test]
    fn specs_round_trip() {
        let rule = Rule {
            group: None,
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
