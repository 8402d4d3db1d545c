//! Sub-scores and grades in the PMML export ([`super`]), as `mqlcal score` computes them
//! ([`Model::score_features`]). Takes the model and the derived fields the scorecard's
//! characteristics test; writes derived fields, output fields and a grade policy's MQL flag.
//!
//! The Scorecard gives the total, and PMML has no output for the points of some of its
//! characteristics, so the sub-scores are derived fields:
//!
//! - `{p}points.{j}`: rule j's points for the lead, for each rule in a group: points × whole
//!   units for a per-unit rule (`{p}units.{j}`), else its points when its condition holds and
//!   0 otherwise. A derived field cannot hold a PMML predicate, so the condition is written
//!   again as a boolean expression ([`holds`]) over the same derived cells the
//!   characteristics' predicates test; there a missing value makes a part false (not unknown),
//!   as a missing value fires no part in mqlcal. The parity tests check both forms against
//!   `mqlcal score`, lead for lead.
//! - `{p}sub.{i}`: the sum of group i's points, output as `<group>_score`.
//! - With a grade matrix, `{p}band.letters` and `{p}band.digits`: the bands of the profile and
//!   behaviour sub-scores, 0 (A or 1) … 3 (D or 4), the first cut point the sub-score is at
//!   least ([`crate::grades::GradeAxis::band`]: `>=`, so a lead exactly on a cut point is in
//!   the better band). `grade` joins the letter and the digit (`B2`); under a grade policy,
//!   `mql` holds when both bands are at least as good as the cell's ([`Grade::at_least`]).

use crate::grades::{sub_score_column, Grade, BANDS, GRADE_COLUMN};
use crate::model::Model;
use crate::rules::Condition;

use super::{Fields, Xml};

/// The derived fields of the module docs, for the end of the `TransformationDictionary`
/// (nothing for a model without rule groups). `k_of` gives a rule column's index.
pub(super) fn derived(x: &mut Xml, model: &Model, p: &str, k_of: &dyn Fn(&str) -> usize) {
    let names = model.group_names();
    let mut of_group: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (j, r) in model.rules.iter().enumerate() {
        let Some(i) = r
            .group
            .as_ref()
            .and_then(|g| names.iter().position(|n| n == g))
        else {
            continue;
        };
        let field = format!("{p}points.{j}");
        double_field(x, &field);
        if let Condition::PerUnit { .. } = r.condition {
            x.open("Apply", &[("function", "*")]);
            x.double(r.points.0 as f64);
            x.field_ref(&format!("{p}units.{j}"));
            x.close("Apply");
        } else {
            x.open("Apply", &[("function", "if")]);
            holds(x, p, j, &r.column, &r.condition, k_of);
            x.double(r.points.0 as f64);
            x.double(0.0);
            x.close("Apply");
        }
        x.close("DerivedField");
        of_group[i].push(field);
    }
    for (i, points) in of_group.iter().enumerate() {
        double_field(x, &format!("{p}sub.{i}"));
        if let [one] = points.as_slice() {
            x.field_ref(one);
        } else {
            x.open("Apply", &[("function", "sum")]);
            for f in points {
                x.field_ref(f);
            }
            x.close("Apply");
        }
        x.close("DerivedField");
    }
    let Some(g) = &model.grades else {
        return;
    };
    for (which, axis) in [("letters", &g.profile), ("digits", &g.behaviour)] {
        let i = names
            .iter()
            .position(|n| *n == axis.group)
            .expect("the matrix was checked against the groups");
        double_field(x, &format!("{p}band.{which}"));
        // if(sub >= c0, 0, if(sub >= c1, 1, if(sub >= c2, 2, 3)))
        for (band, &cut) in axis.at_least.iter().enumerate() {
            x.open("Apply", &[("function", "if")]);
            x.open("Apply", &[("function", "greaterOrEqual")]);
            x.field_ref(&format!("{p}sub.{i}"));
            x.double(cut as f64);
            x.close("Apply");
            x.double(band as f64);
        }
        x.double(axis.at_least.len() as f64);
        for _ in &axis.at_least {
            x.close("Apply");
        }
        x.close("DerivedField");
    }
}

/// The output fields after `mql`: `<group>_score` per group, then `grade`.
pub(super) fn outputs(x: &mut Xml, model: &Model, p: &str) {
    for (i, g) in model.group_names().iter().enumerate() {
        x.open(
            "OutputField",
            &[
                ("name", &sub_score_column(g)),
                ("optype", "continuous"),
                ("dataType", "integer"),
                ("feature", "transformedValue"),
            ],
        );
        x.field_ref(&format!("{p}sub.{i}"));
        x.close("OutputField");
    }
    if model.grades.is_none() {
        return;
    }
    x.open(
        "OutputField",
        &[
            ("name", GRADE_COLUMN),
            ("optype", "categorical"),
            ("dataType", "string"),
            ("feature", "transformedValue"),
        ],
    );
    x.open("Apply", &[("function", "concat")]);
    for (band, of) in [
        (format!("{p}band.letters"), Grade::letter as fn(u8) -> char),
        (format!("{p}band.digits"), Grade::digit),
    ] {
        // if(band = 0, "A", if(band = 1, "B", if(band = 2, "C", "D")))
        let last = BANDS as u8 - 1;
        for b in 0..last {
            x.open("Apply", &[("function", "if")]);
            x.open("Apply", &[("function", "equal")]);
            x.field_ref(&band);
            x.double(b as f64);
            x.close("Apply");
            x.string(&of(b).to_string());
        }
        x.string(&of(last).to_string());
        for _ in 0..last {
            x.close("Apply");
        }
    }
    x.close("Apply");
    x.close("OutputField");
}

/// The expression of `mql` under a grade policy: both bands at least as good as `cell`'s.
pub(super) fn mql(x: &mut Xml, p: &str, cell: Grade) {
    x.open("Apply", &[("function", "and")]);
    for (which, band) in [("letters", cell.profile), ("digits", cell.behaviour)] {
        x.open("Apply", &[("function", "lessOrEqual")]);
        x.field_ref(&format!("{p}band.{which}"));
        x.double(band as f64);
        x.close("Apply");
    }
    x.close("Apply");
}

/// `<DerivedField>` of a double, left open for its expression.
fn double_field(x: &mut Xml, name: &str) {
    x.open(
        "DerivedField",
        &[
            ("name", name),
            ("optype", "continuous"),
            ("dataType", "double"),
        ],
    );
}

/// Whether rule `j`'s condition (not per unit) holds, as a boolean expression that is never
/// missing: the parts of an `all` or `any` joined by `and` or `or`, each false on a missing
/// value (except `is_missing`), so two-valued logic gives what mqlcal gives.
fn holds(
    x: &mut Xml,
    p: &str,
    j: usize,
    column: &str,
    condition: &Condition,
    k_of: &dyn Fn(&str) -> usize,
) {
    let joint = match condition {
        Condition::All { .. } => Some("and"),
        Condition::Any { .. } => Some("or"),
        _ => None,
    };
    if let Some(op) = joint {
        x.open("Apply", &[("function", op)]);
    }
    for (a, (c, part)) in condition.atoms(column).into_iter().enumerate() {
        part_holds(x, &Fields::of(p, k_of(c), j, a), part);
    }
    if joint.is_some() {
        x.close("Apply");
    }
}

/// Whether a simple condition holds, as [`super::predicate`] tests it, but false (not unknown)
/// on a missing value: `if(isNotMissing(field), test, false)`; `is_missing` tests the cell.
fn part_holds(x: &mut Xml, f: &Fields, condition: &Condition) {
    match condition {
        Condition::IsMissing => {
            x.open("Apply", &[("function", "isMissing")]);
            x.field_ref(&f.cell);
            x.close("Apply");
        }
        Condition::Range { at_least, below } => {
            let tests: Vec<(&str, f64)> = [("greaterOrEqual", *at_least), ("lessThan", *below)]
                .into_iter()
                .filter_map(|(op, v)| v.map(|v| (op, v)))
                .collect();
            guarded(x, &f.number, |x| compare(x, &f.number, &tests));
        }
        // The match field is true or false where the cell is not missing.
        Condition::OneOf {
            ignore_case: true, ..
        } => guarded(x, &f.matched, |x| x.field_ref(&f.matched)),
        Condition::OneOf { values, .. } => guarded(x, &f.cell, |x| {
            x.open("Apply", &[("function", "isIn")]);
            x.field_ref(&f.cell);
            for v in values {
                x.string(v);
            }
            x.close("Apply");
        }),
        Condition::WithinDays { days } => guarded(x, &f.age, |x| {
            compare(
                x,
                &f.age,
                &[("greaterOrEqual", 0.0), ("lessOrEqual", f64::from(*days))],
            )
        }),
        Condition::OlderThanDays { days } => guarded(x, &f.age, |x| {
            compare(x, &f.age, &[("greaterThan", f64::from(*days))])
        }),
        // Per-unit rules are points × units, and parts are never compound.
        Condition::PerUnit { .. } | Condition::All { .. } | Condition::Any { .. } => {
            boolean(x, false)
        }
    }
}

/// `if(isNotMissing(field), test, false)`.
fn guarded(x: &mut Xml, field: &str, test: impl FnOnce(&mut Xml)) {
    x.open("Apply", &[("function", "if")]);
    x.open("Apply", &[("function", "isNotMissing")]);
    x.field_ref(field);
    x.close("Apply");
    test(x);
    boolean(x, false);
    x.close("Apply");
}

/// `field` against each (function, bound), all of which must hold (true with none: a range
/// always has a bound in a checked rule).
fn compare(x: &mut Xml, field: &str, tests: &[(&str, f64)]) {
    match tests {
        [] => boolean(x, true),
        [(op, v)] => {
            x.open("Apply", &[("function", op)]);
            x.field_ref(field);
            x.double(*v);
            x.close("Apply");
        }
        _ => {
            x.open("Apply", &[("function", "and")]);
            for t in tests {
                compare(x, field, std::slice::from_ref(t));
            }
            x.close("Apply");
        }
    }
}

fn boolean(x: &mut Xml, value: bool) {
    x.text("Constant", &[("dataType", "boolean")], &value.to_string());
}
