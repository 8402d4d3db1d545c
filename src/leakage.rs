//! The leakage guard: columns that look filled in after the outcome (for example a sales "tag"
//! set after the first call) make a model look brilliant in training and useless on new
//! leads. Takes rules and their features with outcomes (per lead or grouped by pattern); gives
//! warnings naming the column.

use std::collections::BTreeMap;

use ndarray::ArrayView2;

use crate::group::Groups;
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
    scan_groups(rules, &Groups::from_rows(x, y).0)
}

/// [`scan`] over leads grouped by rule pattern.
pub fn scan_groups(rules: &[Rule], groups: &Groups) -> Vec<String> {
    let n = groups.total_leads();
    let min_support = (LARGE_SUPPORT * n as f64).max(30.0);
    let mut flagged: BTreeMap<&str, String> = BTreeMap::new();
    for (j, rule) in rules.iter().enumerate() {
        let (support, conv) = (0..groups.len())
            .filter(|&g| groups.x[[g, j]] > 0.0)
            .fold((0u64, 0u64), |(s, c), g| {
                (s + groups.leads[g], c + groups.conversions[g])
            });
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
        let mut sub: BTreeMap<Vec<i64>, (u64, u64)> = BTreeMap::new();
        for g in 0..groups.len() {
            let key: Vec<i64> = js.iter().map(|&j| groups.x[[g, j]] as i64).collect();
            let e = sub.entry(key).or_default();
            e.0 += groups.leads[g];
            e.1 += groups.conversions[g];
        }
        let scored: Vec<(f64, u64, u64)> = sub
            .values()
            .filter(|(a, _)| *a > 0)
            .map(|&(a, b)| (b as f64 / a as f64, b, a - b))
            .collect();
        let auc = crate::metrics::roc_auc_counts(&scored);
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
