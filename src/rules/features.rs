//! Leads → rule features: one column per rule, one row per lead, in column-major order (the
//! layout linfa-logistic's gradient reads fastest).

#[cfg(feature = "data")]
pub use from_table::rule_features;

use ndarray::ArrayView2;

#[cfg(feature = "data")]
mod from_table {
    use std::collections::BTreeMap;

    use ndarray::{Array2, ShapeBuilder};

    use crate::data::Table;
    use crate::error::Result;
    use crate::rules::Rule;

    /// Parsed columns, each read once however many rules use it.
    #[derive(Default)]
    struct ColumnCache {
        numbers: BTreeMap<String, Vec<Option<f64>>>,
        texts: BTreeMap<String, Vec<Option<String>>>,
    }

    impl ColumnCache {
        fn numbers(&mut self, table: &Table, column: &str) -> Result<&[Option<f64>]> {
            if !self.numbers.contains_key(column) {
                let values = table.numbers(column)?;
                self.numbers.insert(column.to_string(), values);
            }
            Ok(&self.numbers[column])
        }

        fn texts(&mut self, table: &Table, column: &str) -> Result<&[Option<String>]> {
            if !self.texts.contains_key(column) {
                let values = table.texts(column)?;
                self.texts.insert(column.to_string(), values);
            }
            Ok(&self.texts[column])
        }
    }

    /// The feature matrix of `rules` over every lead of `table`: rows are leads, columns rules.
    /// Errors name the missing column or the row holding a value a numeric rule cannot read.
    pub fn rule_features(table: &Table, rules: &[Rule]) -> Result<Array2<f64>> {
        let n = table.n_rows();
        let mut x = Array2::<f64>::zeros((n, rules.len()).f());
        let mut cache = ColumnCache::default();
        for (j, rule) in rules.iter().enumerate() {
            let mut col = x.column_mut(j);
            let cond = &rule.condition;
            // `one_of` always compares the text as written, so that `3.0` in a file and `3` in a
            // rule never match by accident; missingness is the same in either reading.
            let numeric = cond.needs_numbers()
                || (!cond.needs_text() && cache.numbers.contains_key(&rule.column));
            if numeric {
                let values = cache.numbers(table, &rule.column)?;
                for (out, v) in col.iter_mut().zip(values) {
                    *out = cond.eval_number(*v);
                }
            } else {
                let values = cache.texts(table, &rule.column)?;
                for (out, v) in col.iter_mut().zip(values) {
                    *out = cond.eval_text(v.as_deref());
                }
            }
        }
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
