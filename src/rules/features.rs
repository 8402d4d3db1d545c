//! Leads → rule features: one column per rule, one row per lead, in column-major order (the
//! layout linfa-logistic's gradient reads fastest).

#[cfg(feature = "data")]
pub use from_table::rule_features;

use ndarray::ArrayView2;

#[cfg(feature = "data")]
mod from_table {
    use std::collections::BTreeMap;

    use ndarray::{Array2, Axis, ShapeBuilder};

    use crate::data::Table;
    use crate::error::Result;
    use crate::rules::Rule;

    /// The feature matrix of `rules` over every lead of `table`: rows are leads, columns rules.
    /// Errors name the missing column or the row holding a value a numeric rule cannot read.
    ///
    /// Numeric columns are parsed once each however many rules use them, and columns and rules
    /// are worked on in parallel threads (parsing millions of cells is most of the cost); the
    /// result and the error reported (the first in rule order) do not depend on the threads.
    pub fn rule_features(table: &Table, rules: &[Rule]) -> Result<Array2<f64>> {
        let n = table.n_rows();
        // Which rules read numbers: `one_of` always compares the text as written, so that
        // `3.0` in a file and `3` in a rule never match by accident; `is_missing` reads numbers
        // when an earlier rule made the column numeric (missingness is the same either way).
        let mut numeric_columns: Vec<&str> = Vec::new();
        let numeric: Vec<bool> = rules
            .iter()
            .map(|rule| {
                let cond = &rule.condition;
                let numeric = cond.needs_numbers()
                    || (!cond.needs_text() && numeric_columns.contains(&rule.column.as_str()));
                if numeric && !numeric_columns.contains(&rule.column.as_str()) {
                    numeric_columns.push(&rule.column);
                }
                numeric
            })
            .collect();
        let parsed: Vec<Result<Vec<Option<f64>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = numeric_columns
                .iter()
                .map(|c| scope.spawn(move || table.numbers(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("column thread panicked"))
                .collect()
        });
        let mut numbers: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
        for (c, values) in numeric_columns.iter().zip(parsed) {
            numbers.insert(c, values?);
        }
        let mut x = Array2::<f64>::zeros((n, rules.len()).f());
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = x
                .axis_iter_mut(Axis(1))
                .zip(rules.iter().zip(&numeric))
                .map(|(mut col, (rule, &is_numeric))| {
                    let numbers = &numbers;
                    scope.spawn(move || -> Result<()> {
                        let cond = &rule.condition;
                        if is_numeric {
                            let values = &numbers[rule.column.as_str()];
                            for (out, v) in col.iter_mut().zip(values) {
                                *out = cond.eval_number(*v);
                            }
                        } else {
                            // Text rules read the cells in place (no copies).
                            let mut out = col.iter_mut();
                            table.for_each_text(&rule.column, |v| {
                                if let Some(o) = out.next() {
                                    *o = cond.eval_text(v);
                                }
                            })?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("rule thread panicked"))
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(x)
    }
}

/// For each rule: (leads it fires on, how many of them converted).
pub fn support(x: ArrayView2<f64>, y: &[bool]) -> Vec<(usize, usize)> {
    x.columns()
        .into_iter()
        .map(|col| {
            col.iter()
                .zip(y)
                .filter(|(f, _)| **f > 0.0)
                .fold((0, 0), |(n, c), (_, &t)| (n + 1, c + t as usize))
        })
        .collect()
}
