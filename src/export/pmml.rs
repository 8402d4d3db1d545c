//! PMML export: a PMML 4.4 `Scorecard` that PMML engines (JPMML, and the products built on it)
//! score as `mqlcal score` does. Takes a [`Model`]; gives one XML document.
//!
//! - Every rule column is a string field, as a CSV file holds it. Derived fields trim it of
//!   Unicode white space (a regular expression, since PMML's `trimBlanks` trims a different
//!   set), turn empty cells and the model's placeholders into missing values, and read numbers
//!   where numeric rules need them.
//! - Each rule is a `Characteristic` whose reason code is the rule's name. Per-unit rules give a
//!   `ComplexPartialScore` (points × whole units, capped); the others give the rule's points
//!   when their predicate holds and 0 otherwise (a missing value makes every predicate but
//!   `isMissing` unknown, so the 0 applies, as in mqlcal).
//! - Date rules (`within_days`, `older_than_days`) count back from the input field `as_of`
//!   (a PMML `date`, required: PMML has no "today"). A date cell's age in days is computed as
//!   mqlcal computes it: its first ten characters as a date, moved to its UTC day when a time
//!   with an offset follows, subtracted from as-of with `dateDaysSinceYear` (see [`date_age`]).
//! - Outputs: `score` (the points), `probability` (the calibration, as an expression or
//!   `NormContinuous` for isotonic knots), `mql` (score >= threshold, or by grade under a grade
//!   policy), `<group>_score` per rule group and `grade` with a grade matrix (see [`grades`]),
//!   and `reason_1`…`reason_3`.
//!
//! Reason codes follow PMML's `pointsAbove` with a baseline of 0.5 points per rule, so the
//! rules that gave positive points are listed, largest first, as mqlcal lists them; PMML
//! leaves out rules that took points away (mqlcal lists those last), and adds up the points of
//! rules that share a name.

use crate::calibrate::Calibration;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::rules::Condition;

use super::{check_model_texts, placeholders, rule_columns, Exporter, WHITE_SPACE};

mod grades;

/// Reasons given per lead, as `mqlcal score`'s default `--reasons 3`.
pub const REASONS: usize = 3;

/// The PMML export.
#[derive(Debug, Clone, Default)]
pub struct Pmml;

impl Exporter for Pmml {
    fn export(&self, model: &Model) -> Result<Vec<u8>> {
        Ok(document(model)?.into_bytes())
    }
}

/// A minimal XML writer: indentation, and escaping that keeps every character of a name or
/// value. Written here rather than with an XML crate because their escaping (quick-xml's, for
/// one) leaves tabs and line breaks in attribute values raw, and XML parsers turn those into
/// spaces: a category `tab<TAB>here` would then never match. Here they are references.
struct Xml {
    out: String,
    depth: usize,
}

type Attrs<'a> = &'a [(&'a str, &'a str)];

impl Xml {
    fn start(&mut self, tag: &str, attrs: Attrs, empty: bool) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(tag);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        self.out.push_str(if empty { "/>\n" } else { ">\n" });
        if !empty {
            self.depth += 1;
        }
    }

    fn open(&mut self, tag: &str, attrs: Attrs) {
        self.start(tag, attrs, false);
    }

    fn empty(&mut self, tag: &str, attrs: Attrs) {
        self.start(tag, attrs, true);
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push_str(&format!("</{tag}>\n"));
    }

    /// `<tag attrs>text</tag>` on one line.
    fn text(&mut self, tag: &str, attrs: Attrs, text: &str) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(tag);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        self.out.push_str(&format!(">{}</{tag}>\n", escape(text)));
    }

    fn field_ref(&mut self, field: &str) {
        self.empty("FieldRef", &[("field", field)]);
    }

    fn string(&mut self, value: &str) {
        self.text("Constant", &[("dataType", "string")], value);
    }

    fn double(&mut self, value: f64) {
        self.text("Constant", &[("dataType", "double")], &format!("{value:?}"));
    }
}

/// Escapes for attribute values and text alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// XML 1.0 cannot hold most control characters, not even as references.
fn check_xml(what: &str, text: &str) -> Result<()> {
    let bad = text.chars().find(|&c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
    });
    match bad {
        Some(c) => Err(Error::Export(format!(
            "{what} {text:?} contains the control character U+{:04X}, which XML (and so PMML) \
             cannot hold; rename it in the rules file and train again",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// The output fields' names, besides the reasons.
const OUTPUTS: [&str; 3] = ["score", "probability", "mql"];

/// The input field holding the date date rules count days back from (`mqlcal score --as-of`).
pub const AS_OF: &str = "as_of";

/// `--date-format`s that read what this export reads: `YYYY-MM-DD` (see [`DATE_PATTERN`]).
const ISO_FORMATS: [&str; 2] = ["%Y-%m-%d", "%F"];

/// A date cell `parse_date_utc` reads: `YYYY-MM-DD`, alone or before a space or `T` and a
/// digit (a time). Anything else is not a date.
const DATE_PATTERN: &str = "(?s)^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9].*)?$";

/// A timestamp whose UTC day may differ from its written date, as `utc_day_shift` reads it:
/// `HH:MM`, optional `:SS` and `.fraction`, then an offset `±HH`, `±HHMM` or `±HH:MM`. The
/// groups: 1 hours, 2 minutes, 3 the sign, 4 the offset's hours, 5 or 6 its minutes. Like
/// mqlcal, two other ASCII characters after `±HH` (or `:` and two) count as 0 minutes. Any
/// other time (none, `Z`, no offset, text after the offset) is on its written day.
const ZONE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}):([0-9]{2})\
    (?::[0-9]{2}(?:\\.[0-9]*)?)?([+-])([0-9]{2})\
    (?:([0-9]{2})|:([0-9]{2})|[\\x00-\\x7F]{2}|:[\\x00-\\x7F]{2})?$";

fn document(model: &Model) -> Result<String> {
    super::no_event_rules(
        model
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.event.is_some())),
        "PMML",
    )?;
    check_model_texts(model)?;
    super::check_grades(model, "PMML")?;
    let dated_model = model.rules.iter().any(|r| r.condition.has_date());
    if let (true, Some(format)) = (dated_model, &model.training.date_rules_format) {
        if !ISO_FORMATS.contains(&format.as_str()) {
            return Err(Error::Export(format!(
                "the model's date rules read dates written as --date-format {format}, which \
                 this PMML export cannot read: it reads date cells as YYYY-MM-DD (a timestamp \
                 after it is fine); convert the dates to YYYY-MM-DD and train again, or score \
                 with mqlcal or the service"
            )));
        }
    }
    let columns = rule_columns(model);
    for r in &model.rules {
        super::check_rule_texts(&r.name, r.condition.atoms(&r.column), check_xml)?;
    }
    let na = placeholders(model);
    for v in &na.texts {
        check_xml("placeholder", v)?;
    }
    for g in model.group_names() {
        check_xml("rule group", &g)?;
    }
    let reasons: Vec<String> = (1..=REASONS).map(|k| format!("reason_{k}")).collect();
    let mut outputs: Vec<String> = OUTPUTS.iter().map(|o| o.to_string()).collect();
    outputs.extend(model.sub_score_columns());
    outputs.extend(reasons.iter().cloned());
    for c in &columns {
        if outputs.iter().any(|o| o == c) {
            return Err(Error::Export(format!(
                "column '{c}' has the name of a PMML output field ({}); rename the column in \
                 the data and the rules file, and train again",
                outputs.join(", ")
            )));
        }
    }
    if dated_model && columns.contains(&AS_OF) {
        return Err(Error::Export(format!(
            "column '{AS_OF}' has the name of the PMML input field that takes the as-of date of \
             the date rules; rename the column in the data and the rules file, and train again"
        )));
    }
    // Derived fields share one namespace with the data fields: pick a prefix no column has.
    let mut p = String::from("mqlcal.");
    while columns.iter().any(|c| c.starts_with(&p)) {
        p.insert(0, '_');
    }
    let numeric = |c: &str| {
        model
            .rules
            .iter()
            .flat_map(|r| r.condition.atoms(&r.column))
            .any(|(column, condition)| column == c && condition.needs_numbers())
    };
    let dated = |c: &str| {
        model
            .rules
            .iter()
            .flat_map(|r| r.condition.atoms(&r.column))
            .any(|(column, condition)| column == c && condition.is_date())
    };
    let k_of = |c: &str| columns.iter().position(|x| *x == c).expect("rule column");

    let mut x = Xml {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        depth: 0,
    };
    x.open(
        "PMML",
        &[("xmlns", "http://www.dmg.org/PMML-4_4"), ("version", "4.4")],
    );
    let th = &model.threshold.threshold;
    let mut description = format!(
        "mqlcal lead score: {} rules, MQL {}",
        model.rules.len(),
        match th.policy {
            crate::threshold::Policy::Grade(cell) => format!("by grade {cell} or better"),
            _ => format!("at {} points", th.points),
        }
    );
    if model.training.window_days.is_some() {
        description.push_str(&format!(
            "; the probability is that a lead {}",
            model.probability_meaning()
        ));
    }
    x.open("Header", &[("description", &description)]);
    x.empty(
        "Application",
        &[("name", "mqlcal"), ("version", env!("CARGO_PKG_VERSION"))],
    );
    let t = &model.training;
    let note = format!(
        "Exported by mqlcal export from a model written by {}, trained on {} ({} leads, \
         {} converted). Feed every column as text, as in the CSV file; cells are trimmed, and \
         empty cells and the placeholders {} are missing, as in mqlcal score.{}",
        model.generator,
        t.input,
        t.rows,
        t.conversions,
        na.describe(),
        if dated_model {
            format!(
                " Date rules count whole days back from the input field {AS_OF} (a date, \
                 YYYY-MM-DD; required), as mqlcal score --as-of: date cells are YYYY-MM-DD, or \
                 a timestamp after it, counted on its UTC day (without an offset: UTC)."
            )
        } else {
            String::new()
        }
    );
    check_xml("training file name", &note)?;
    x.text("Annotation", &[], &note);
    x.close("Header");

    x.open(
        "DataDictionary",
        &[(
            "numberOfFields",
            &(columns.len() + dated_model as usize).to_string(),
        )],
    );
    for c in &columns {
        x.empty(
            "DataField",
            &[
                ("name", c),
                ("optype", "categorical"),
                ("dataType", "string"),
            ],
        );
    }
    if dated_model {
        x.empty(
            "DataField",
            &[
                ("name", AS_OF),
                ("optype", "continuous"),
                ("dataType", "date"),
            ],
        );
    }
    x.close("DataDictionary");

    // Cells: trimmed → missing if empty or a placeholder → number where rules need one.
    // Written as regex escapes (`\u000B`): XML cannot hold U+000B or U+000C even as a
    // character reference, and ASCII survives any attribute or text handling.
    let ws: String = WHITE_SPACE
        .iter()
        .map(|&c| format!("\\u{:04X}", c as u32))
        .collect();
    let trim_pattern = format!("^[{ws}]+|[{ws}]+$");
    x.open("TransformationDictionary", &[]);
    for (k, c) in columns.iter().enumerate() {
        let trimmed = format!("{p}trimmed.{k}");
        let cell = format!("{p}cell.{k}");
        let string = [("optype", "categorical"), ("dataType", "string")];
        x.open("DerivedField", &[("name", &trimmed), string[0], string[1]]);
        // `replace` cannot take a missing value, so it is guarded (an `if` without `else`
        // gives missing).
        x.open("Apply", &[("function", "if")]);
        x.open("Apply", &[("function", "isNotMissing")]);
        x.field_ref(c);
        x.close("Apply");
        x.open("Apply", &[("function", "replace")]);
        x.field_ref(c);
        x.string(&trim_pattern);
        x.string("");
        x.close("Apply");
        x.close("Apply");
        x.close("DerivedField");

        x.open("DerivedField", &[("name", &cell), string[0], string[1]]);
        x.open("Apply", &[("function", "if")]);
        x.open("Apply", &[("function", "isNotMissing")]);
        x.field_ref(&trimmed);
        x.close("Apply");
        x.open("Apply", &[("function", "if")]);
        if na.ignore_case && !na.is_empty() {
            // Not empty and no placeholder in any case of A–Z (`matches` only runs on a
            // value: the outer `if` has ruled out a missing one).
            x.open("Apply", &[("function", "and")]);
            x.open("Apply", &[("function", "isNotIn")]);
            x.field_ref(&trimmed);
            x.string("");
            x.close("Apply");
            x.open("Apply", &[("function", "not")]);
            x.open("Apply", &[("function", "matches")]);
            x.field_ref(&trimmed);
            x.string(&ignore_case_pattern(&na.texts));
            x.close("Apply");
            x.close("Apply");
            x.close("Apply");
        } else {
            x.open("Apply", &[("function", "isNotIn")]);
            x.field_ref(&trimmed);
            x.string("");
            for v in &na.texts {
                x.string(v);
            }
            x.close("Apply");
        }
        x.field_ref(&trimmed);
        x.close("Apply");
        x.close("Apply");
        x.close("DerivedField");

        if numeric(c) {
            // The declared type does the parsing; text that is not a number is an error, as
            // in mqlcal score.
            x.open(
                "DerivedField",
                &[
                    ("name", &format!("{p}number.{k}")),
                    ("optype", "continuous"),
                    ("dataType", "double"),
                ],
            );
            x.field_ref(&cell);
            x.close("DerivedField");
        }
        if dated(c) {
            date_age(&mut x, &p, k);
        }
    }
    // Whole units of per-unit rules: floor, at least 0, at most the cap; 0 when missing.
    for (j, r) in model.rules.iter().enumerate() {
        let Condition::PerUnit { cap } = &r.condition else {
            continue;
        };
        let number = format!("{p}number.{}", k_of(&r.column));
        x.open(
            "DerivedField",
            &[
                ("name", &format!("{p}units.{j}")),
                ("optype", "continuous"),
                ("dataType", "double"),
            ],
        );
        x.open("Apply", &[("function", "if")]);
        x.open("Apply", &[("function", "isMissing")]);
        x.field_ref(&number);
        x.close("Apply");
        x.double(0.0);
        if cap.is_some() {
            x.open("Apply", &[("function", "min")]);
        }
        x.open("Apply", &[("function", "max")]);
        x.open("Apply", &[("function", "floor")]);
        x.field_ref(&number);
        x.close("Apply");
        x.double(0.0);
        x.close("Apply");
        if let Some(cap) = cap {
            x.double(cap.floor());
            x.close("Apply");
        }
        x.close("Apply");
        x.close("DerivedField");
    }
    // `one_of` ignoring case: a regular expression of the values with each letter A–Z as
    // `[aA]`, which folds exactly those letters as mqlcal does (PMML's `lowercase` would fold
    // every Unicode letter). Missing in, missing out.
    for (j, r) in model.rules.iter().enumerate() {
        for (a, (column, condition)) in r.condition.atoms(&r.column).into_iter().enumerate() {
            let Condition::OneOf {
                values,
                ignore_case: true,
            } = condition
            else {
                continue;
            };
            x.open(
                "DerivedField",
                &[
                    ("name", &format!("{p}match.{j}.{a}")),
                    ("optype", "categorical"),
                    ("dataType", "boolean"),
                ],
            );
            // `matches` cannot take a missing value: guarded as the trimming is.
            let cell = format!("{p}cell.{}", k_of(column));
            x.open("Apply", &[("function", "if")]);
            x.open("Apply", &[("function", "isNotMissing")]);
            x.field_ref(&cell);
            x.close("Apply");
            x.open("Apply", &[("function", "matches")]);
            x.field_ref(&cell);
            x.string(&ignore_case_pattern(values));
            x.close("Apply");
            x.close("Apply");
            x.close("DerivedField");
        }
    }
    grades::derived(&mut x, model, &p, &k_of);
    x.close("TransformationDictionary");

    x.open(
        "Scorecard",
        &[
            ("modelName", "mqlcal"),
            ("functionName", "regression"),
            ("useReasonCodes", "true"),
            ("reasonCodeAlgorithm", "pointsAbove"),
            ("initialScore", "0"),
            ("baselineMethod", "other"),
        ],
    );
    x.open("MiningSchema", &[]);
    for c in &columns {
        x.empty("MiningField", &[("name", c)]);
    }
    if dated_model {
        // Required: PMML has no "today", and a default would silently age every lead.
        x.empty(
            "MiningField",
            &[("name", AS_OF), ("missingValueTreatment", "returnInvalid")],
        );
    }
    x.close("MiningSchema");

    x.open("Output", &[]);
    x.empty(
        "OutputField",
        &[
            ("name", "score"),
            ("optype", "continuous"),
            ("dataType", "integer"),
            ("feature", "predictedValue"),
        ],
    );
    let double_out = |name: &'static str| {
        [
            ("name", name),
            ("optype", "continuous"),
            ("dataType", "double"),
            ("feature", "transformedValue"),
        ]
    };
    match &model.calibration {
        Calibration::Platt { a, b } => {
            // z = a·score + b, then Rust's two-branch sigmoid, so the same doubles come out
            // and EXP never overflows.
            let z = format!("{p}z");
            x.open(
                "OutputField",
                &[
                    ("name", &z),
                    ("optype", "continuous"),
                    ("dataType", "double"),
                    ("feature", "transformedValue"),
                    ("isFinalResult", "false"),
                ],
            );
            x.open("Apply", &[("function", "+")]);
            x.open("Apply", &[("function", "*")]);
            x.double(*a);
            x.field_ref("score");
            x.close("Apply");
            x.double(*b);
            x.close("Apply");
            x.close("OutputField");

            x.open("OutputField", &double_out("probability"));
            x.open("Apply", &[("function", "if")]);
            x.open("Apply", &[("function", "lessOrEqual")]);
            x.field_ref(&z);
            x.double(0.0);
            x.close("Apply");
            // 1 / (1 + exp(z))
            x.open("Apply", &[("function", "/")]);
            x.double(1.0);
            x.open("Apply", &[("function", "+")]);
            x.double(1.0);
            x.open("Apply", &[("function", "exp")]);
            x.field_ref(&z);
            x.close("Apply");
            x.close("Apply");
            x.close("Apply");
            // exp(-z) / (1 + exp(-z))
            x.open("Apply", &[("function", "/")]);
            x.open("Apply", &[("function", "exp")]);
            x.open("Apply", &[("function", "-")]);
            x.double(0.0);
            x.field_ref(&z);
            x.close("Apply");
            x.close("Apply");
            x.open("Apply", &[("function", "+")]);
            x.double(1.0);
            x.open("Apply", &[("function", "exp")]);
            x.open("Apply", &[("function", "-")]);
            x.double(0.0);
            x.field_ref(&z);
            x.close("Apply");
            x.close("Apply");
            x.close("Apply");
            x.close("Apply");
            x.close("Apply");
            x.close("OutputField");
        }
        Calibration::Isotonic { knots } | Calibration::Beta { knots, .. } if knots.len() == 1 => {
            x.open("OutputField", &double_out("probability"));
            x.double(knots[0].1);
            x.close("OutputField");
        }
        Calibration::Isotonic { knots } | Calibration::Beta { knots, .. } => {
            // Straight lines between knots, flat beyond the ends.
            x.open("OutputField", &double_out("probability"));
            x.open(
                "NormContinuous",
                &[("field", "score"), ("outliers", "asExtremeValues")],
            );
            for (s, prob) in knots {
                x.empty(
                    "LinearNorm",
                    &[("orig", &format!("{s:?}")), ("norm", &format!("{prob:?}"))],
                );
            }
            x.close("NormContinuous");
            x.close("OutputField");
        }
    }
    x.open(
        "OutputField",
        &[
            ("name", "mql"),
            ("optype", "categorical"),
            ("dataType", "boolean"),
            ("feature", "transformedValue"),
        ],
    );
    match th.policy {
        crate::threshold::Policy::Grade(cell) => grades::mql(&mut x, &p, cell),
        _ => {
            x.open("Apply", &[("function", "greaterOrEqual")]);
            x.field_ref("score");
            x.text(
                "Constant",
                &[("dataType", "integer")],
                &th.points.to_string(),
            );
            x.close("Apply");
        }
    }
    x.close("OutputField");
    grades::outputs(&mut x, model, &p);
    for (k, name) in reasons.iter().enumerate() {
        x.empty(
            "OutputField",
            &[
                ("name", name),
                ("optype", "categorical"),
                ("dataType", "string"),
                ("feature", "reasonCode"),
                ("rank", &(k + 1).to_string()),
            ],
        );
    }
    x.close("Output");

    x.open("Characteristics", &[]);
    for (j, r) in model.rules.iter().enumerate() {
        let name = format!("rule_{}", j + 1);
        x.open(
            "Characteristic",
            &[
                ("name", &name),
                ("reasonCode", &r.name),
                // Half a point: a rule that gave 0 points is never a reason (see module docs).
                ("baselineScore", "0.5"),
            ],
        );
        let points = r.points.0.to_string();
        if let Condition::PerUnit { .. } = &r.condition {
            x.open("Attribute", &[]);
            x.empty("True", &[]);
            x.open("ComplexPartialScore", &[]);
            x.open("Apply", &[("function", "*")]);
            x.double(r.points.0 as f64);
            x.field_ref(&format!("{p}units.{j}"));
            x.close("Apply");
            x.close("ComplexPartialScore");
            x.close("Attribute");
        } else {
            x.open("Attribute", &[("partialScore", &points)]);
            let atoms = r.condition.atoms(&r.column);
            // PMML's three-valued logic: a part on a missing cell is unknown, so `and` is
            // unknown or false and `or` holds only through another part; an unknown predicate
            // selects the 0 below, as a missing value fires no part in mqlcal.
            let compound = match &r.condition {
                Condition::All { .. } => Some("and"),
                Condition::Any { .. } => Some("or"),
                _ => None,
            };
            if let Some(op) = compound {
                x.open("CompoundPredicate", &[("booleanOperator", op)]);
            }
            for (a, (column, condition)) in atoms.into_iter().enumerate() {
                predicate(&mut x, &Fields::of(&p, k_of(column), j, a), condition);
            }
            if compound.is_some() {
                x.close("CompoundPredicate");
            }
            x.close("Attribute");
            zero_otherwise(&mut x);
        }
        x.close("Characteristic");
    }
    x.close("Characteristics");
    x.close("Scorecard");
    x.close("PMML");
    Ok(x.out)
}

/// The derived fields a simple condition on one column tests.
struct Fields {
    /// The trimmed cell, missing when empty or a placeholder.
    cell: String,
    /// The cell as a number, where numeric rules read the column.
    number: String,
    /// Whether the cell matches an ignore-case `one_of` (see the match fields).
    matched: String,
    /// The date cell's age in whole days before as-of, where date rules read the column.
    age: String,
}

impl Fields {
    /// The fields of part `a` of rule `j` (0 for a simple rule), on rule column `k`.
    fn of(p: &str, k: usize, j: usize, a: usize) -> Fields {
        Fields {
            cell: format!("{p}cell.{k}"),
            number: format!("{p}number.{k}"),
            matched: format!("{p}match.{j}.{a}"),
            age: format!("{p}age.{k}"),
        }
    }
}

/// The predicate of a simple condition (a range, `one_of` or `is_missing`).
fn predicate(x: &mut Xml, fields: &Fields, condition: &Condition) {
    match condition {
        Condition::Range { at_least, below } => {
            let tests: Vec<(&str, f64)> = [("greaterOrEqual", *at_least), ("lessThan", *below)]
                .into_iter()
                .filter_map(|(op, v)| v.map(|v| (op, v)))
                .collect();
            if tests.len() > 1 {
                x.open("CompoundPredicate", &[("booleanOperator", "and")]);
            }
            for (op, v) in &tests {
                x.empty(
                    "SimplePredicate",
                    &[
                        ("field", &fields.number),
                        ("operator", op),
                        ("value", &format!("{v:?}")),
                    ],
                );
            }
            if tests.len() > 1 {
                x.close("CompoundPredicate");
            }
        }
        Condition::OneOf {
            ignore_case: true, ..
        } => {
            x.empty(
                "SimplePredicate",
                &[
                    ("field", &fields.matched),
                    ("operator", "equal"),
                    ("value", "true"),
                ],
            );
        }
        Condition::OneOf { values, .. } => {
            if values.len() > 1 {
                x.open("CompoundPredicate", &[("booleanOperator", "or")]);
            }
            // One `equal` per value rather than a SimpleSetPredicate, whose space-separated
            // array syntax would need its own quoting.
            for v in values {
                x.empty(
                    "SimplePredicate",
                    &[("field", &fields.cell), ("operator", "equal"), ("value", v)],
                );
            }
            if values.len() > 1 {
                x.close("CompoundPredicate");
            }
        }
        Condition::IsMissing => {
            x.empty(
                "SimplePredicate",
                &[("field", &fields.cell), ("operator", "isMissing")],
            );
        }
        // 0 <= age <= days; a missing age (missing cell) is unknown, so 0 points.
        Condition::WithinDays { days } => {
            x.open("CompoundPredicate", &[("booleanOperator", "and")]);
            for (op, v) in [("greaterOrEqual", 0), ("lessOrEqual", *days)] {
                x.empty(
                    "SimplePredicate",
                    &[
                        ("field", &fields.age),
                        ("operator", op),
                        ("value", &v.to_string()),
                    ],
                );
            }
            x.close("CompoundPredicate");
        }
        Condition::OlderThanDays { days } => {
            x.empty(
                "SimplePredicate",
                &[
                    ("field", &fields.age),
                    ("operator", "greaterThan"),
                    ("value", &days.to_string()),
                ],
            );
        }
        // Per-unit rules are scored by a ComplexPartialScore, and parts are never compound.
        Condition::PerUnit { .. } | Condition::All { .. } | Condition::Any { .. } => {
            x.empty("False", &[]);
        }
    }
}

/// The derived fields of date column `k`, from its cell (`{p}cell.{k}`) to its age in whole
/// days before the as-of date (`{p}age.{k}`), as [`crate::rules::parse_date_utc`] and
/// [`crate::rules::age_days`] compute it:
///
/// - the date: the first ten characters when the cell is a date ([`DATE_PATTERN`]), read as
///   a PMML `date`; a cell that is not a date is text no date reads, so the evaluator stops
///   with an error, as mqlcal score does;
/// - the UTC day's shift (−1, 0 or +1) of a timestamp with an offset ([`ZONE_PATTERN`]):
///   floor((60·hours + minutes − offset in minutes) / 1440), from four numbers the pattern's
///   groups give (0 where it does not match);
/// - age = days since 1970 of as-of − days since 1970 of the date − shift. Missing when the
///   cell is.
fn date_age(x: &mut Xml, p: &str, k: usize) {
    let cell = format!("{p}cell.{k}");
    // if the cell is not missing: `then` (which may read the cell), else missing.
    let when_present = |x: &mut Xml, then: &dyn Fn(&mut Xml)| {
        x.open("Apply", &[("function", "if")]);
        x.open("Apply", &[("function", "isNotMissing")]);
        x.field_ref(&cell);
        x.close("Apply");
        then(x);
        x.close("Apply");
    };
    let text = format!("{p}datetext.{k}");
    x.open(
        "DerivedField",
        &[
            ("name", &text),
            ("optype", "categorical"),
            ("dataType", "string"),
        ],
    );
    when_present(x, &|x| {
        x.open("Apply", &[("function", "if")]);
        x.open("Apply", &[("function", "matches")]);
        x.field_ref(&cell);
        x.string(DATE_PATTERN);
        x.close("Apply");
        x.open("Apply", &[("function", "substring")]);
        x.field_ref(&cell);
        x.text("Constant", &[("dataType", "integer")], "1");
        x.text("Constant", &[("dataType", "integer")], "10");
        x.close("Apply");
        x.open("Apply", &[("function", "concat")]);
        x.string("not a date (a date rule reads YYYY-MM-DD): ");
        x.field_ref(&cell);
        x.close("Apply");
        x.close("Apply");
    });
    x.close("DerivedField");
    let date = format!("{p}date.{k}");
    x.open(
        "DerivedField",
        &[
            ("name", &date),
            ("optype", "continuous"),
            ("dataType", "date"),
        ],
    );
    x.field_ref(&text);
    x.close("DerivedField");

    // Hours, minutes, and the offset's signed hours and minutes.
    // `$30` is group 3 then a 0: there are only six groups.
    let parts = [
        ("hours", "$1"),
        ("minutes", "$2"),
        ("offset_hours", "$3$4"),
        ("offset_minutes", "$30$5$6"),
    ];
    let mut names = Vec::new();
    for (name, replacement) in parts {
        let field = format!("{p}{name}.{k}");
        x.open(
            "DerivedField",
            &[
                ("name", &field),
                ("optype", "continuous"),
                ("dataType", "double"),
            ],
        );
        when_present(x, &|x| {
            x.open("Apply", &[("function", "if")]);
            x.open("Apply", &[("function", "matches")]);
            x.field_ref(&cell);
            x.string(ZONE_PATTERN);
            x.close("Apply");
            x.open("Apply", &[("function", "replace")]);
            x.field_ref(&cell);
            x.string(ZONE_PATTERN);
            x.string(replacement);
            x.close("Apply");
            x.string("0");
            x.close("Apply");
        });
        x.close("DerivedField");
        names.push(field);
    }
    let shift = format!("{p}shift.{k}");
    x.open(
        "DerivedField",
        &[
            ("name", &shift),
            ("optype", "continuous"),
            ("dataType", "double"),
        ],
    );
    x.open("Apply", &[("function", "floor")]);
    x.open("Apply", &[("function", "/")]);
    // 60·h + m − (60·oh + om)
    x.open("Apply", &[("function", "-")]);
    x.open("Apply", &[("function", "+")]);
    x.open("Apply", &[("function", "*")]);
    x.double(60.0);
    x.field_ref(&names[0]);
    x.close("Apply");
    x.field_ref(&names[1]);
    x.close("Apply");
    x.open("Apply", &[("function", "+")]);
    x.open("Apply", &[("function", "*")]);
    x.double(60.0);
    x.field_ref(&names[2]);
    x.close("Apply");
    x.field_ref(&names[3]);
    x.close("Apply");
    x.close("Apply");
    x.double(1440.0);
    x.close("Apply");
    x.close("Apply");
    x.close("DerivedField");

    x.open(
        "DerivedField",
        &[
            ("name", &format!("{p}age.{k}")),
            ("optype", "continuous"),
            ("dataType", "double"),
        ],
    );
    // `dateDaysSinceYear` cannot take a missing value: guarded as the trimming is.
    x.open("Apply", &[("function", "if")]);
    x.open("Apply", &[("function", "isNotMissing")]);
    x.field_ref(&date);
    x.close("Apply");
    x.open("Apply", &[("function", "-")]);
    x.open("Apply", &[("function", "-")]);
    for field in [AS_OF, date.as_str()] {
        x.open("Apply", &[("function", "dateDaysSinceYear")]);
        x.field_ref(field);
        x.text("Constant", &[("dataType", "integer")], "1970");
        x.close("Apply");
    }
    x.close("Apply");
    x.field_ref(&shift);
    x.close("Apply");
    x.close("Apply");
    x.close("DerivedField");
}

/// A whole-text regular expression for `values` ignoring the case of A–Z: letters as `[aA]`,
/// digits as they are, everything else as a `\x{…}` escape (no character is special).
fn ignore_case_pattern(values: &[String]) -> String {
    let mut alternatives = Vec::with_capacity(values.len());
    for v in values {
        let mut re = String::new();
        for c in v.chars() {
            if c.is_ascii_alphabetic() {
                re.push_str(&format!(
                    "[{}{}]",
                    c.to_ascii_lowercase(),
                    c.to_ascii_uppercase()
                ));
            } else if c.is_ascii_digit() {
                re.push(c);
            } else {
                re.push_str(&format!("\\x{{{:X}}}", c as u32));
            }
        }
        alternatives.push(re);
    }
    format!("^(?:{})$", alternatives.join("|"))
}

/// The last attribute of a characteristic: 0 points when its condition did not hold.
fn zero_otherwise(x: &mut Xml) {
    x.open("Attribute", &[("partialScore", "0")]);
    x.empty("True", &[]);
    x.close("Attribute");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_every_character() {
        assert_eq!(
            escape("O'Reilly \"&\" <x>\n\t"),
            "O&apos;Reilly &quot;&amp;&quot; &lt;x&gt;&#10;&#9;"
        );
        assert!(check_xml("rule name", "bell\u{7}").is_err());
        assert!(check_xml("rule name", "Straße – ok\n").is_ok());
    }
}
