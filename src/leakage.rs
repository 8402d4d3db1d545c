//! The leakage guard: columns that look filled in after the outcome (for example a sales "tag"
//! set after the first call) make a model look brilliant in training and useless on new
//! leads. Takes rules, their features and outcomes; gives warnings naming the column.

use std::collections::BTreeMap;

use ndarray::ArrayView2;

use crate::rules::Rule;

/// A rule on at least this share of leads (and 30 leads) counts as having large support.
pub const LARGE_SUPPORT: f64 = 0.02;
/// Conversion rates this extreme on a large group are suspicious.
pub const RATE_HIGH: f64 = 0.97;
pub const RATE_LOW: f64 = 0.005;
/// A column that alone separates outcomes this well is suspicious.
pub const COLUMN_AUC: f64 = 0.95;

/// Warnings, one per suspicious column (naming the rule or the AUC that raised it).
pub fn scan(rules: &[Rule], x: ArrayView2<f64>, y: &[bool]) -> Vec<String> {
    let n = y.len();
    let min_support = (LARGE_SUPPORT * n as f64).max(30.0);
    let mut flagged: BTreeMap<&str, String> = BTreeMap::new();
    let counts = crate::rules::features::support(x, y);
    for (rule, &(support, conv)) in rules.iter().zip(&counts) {
        let rate = conv as f64 / support.max(1) as f64;
        if support as f64 >= min_support && (rate >= RATE_HIGH || rate <= RATE_LOW) {
            flagged.entry(&rule.column).or_insert_with(|| {
                format!(
                    "rule '{}' fires on {:.1}% of leads and {:.1}% of them converted",
                    rule.name,
                    100.0 * support as f64 / n as f64,
                    100.0 * rate
                )
            });
        }
    }
    // Each column alone: leads grouped by the pattern of that column's rules, each group scored
    // by its conversion rate; the AUC of that score.
    let mut columns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (j, rule) in rules.iter().enumerate() {
        columns.entry(&rule.column).or_default().push(j);
    }
    for (column, js) in columns {
        let patterns: Vec<Vec<i64>> = (0..n)
            .map(|i| js.iter().map(|&j| x[[i, j]] as i64).collect())
            .collect();
        let mut groups: BTreeMap<&[i64], (usize, usize)> = BTreeMap::new();
        for (p, &t) in patterns.iter().zip(y) {
            let g = groups.entry(p).or_default();
            g.0 += 1;
            g.1 += t as usize;
        }
        let score: Vec<f64> = patterns
            .iter()
            .map(|p| {
                let (a, b) = groups[p.as_slice()];
                b as f64 / a as f64
            })
            .collect();
        let auc = crate::metrics::roc_auc(&score, y);
        if auc >= COLUMN_AUC {
            flagged.insert(
                column,
                format!("on its own it separates the outcome with ROC AUC {auc:.3}"),
            );
        }
    }
    flagged
        .into_iter()
        .map(|(column, why)| {
            format!(
                "possible leakage in column '{column}': {why}. Columns filled in after the \
                 outcome (e.g. by sales after contact) make the model look better than it is; \
                 if so, retrain with --exclude \"{column}\""
            )
        })
        .collect()
}
