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
/// A date column later than the opportunity for this share of converted leads records what
/// happened after conversion (a date as it was when the lead was scored is never later)...
pub const DATE_AFTER_OPPORTUNITY: f64 = 0.25;
/// ...among at least this many converted leads with both dates.
pub const DATE_MIN_CONVERTERS: usize = 20;

/// Warnings, one per suspicious column (naming the rule or the AUC that raised it).
pub fn scan(rules: &[Rule], x: ArrayView2<f64>, y: &[bool]) -> Vec<String> {
    scan_groups(rules, &Groups::from_rows(x, y).0)
}

/// [`scan`] over leads grouped by rule pattern.
pub fn scan_groups(rules: &[Rule], groups: &Groups) -> Vec<String> {
    let n = groups.total_leads();
    let min_support = (LARGE_SUPPORT * n as f64).max(30.0);
    let mut flagged: BTreeMap<&str, String> = BTreeMap::new();
    // The guard names a column to exclude; a compound rule mixes columns, so it is left out
    // (the simple rules on its columns are checked).
    let simple = |rule: &Rule| !rule.condition.is_compound();
    for (j, rule) in rules.iter().enumerate().filter(|(_, r)| simple(r)) {
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
    for (j, rule) in rules.iter().enumerate().filter(|(_, r)| simple(r)) {
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

/// A warning when the date column `column` (days, as [`crate::data::outcomes::day`] counts
/// them) is later than the lead's opportunity day for [`DATE_AFTER_OPPORTUNITY`] of the
/// converted leads that have both: a CRM's "last activity date" exported after the deal moves
/// on with the deal, and a date rule on it learns that talking to sales predicts talking to
/// sales.
pub fn date_after_opportunity(
    column: &str,
    dates: &[Option<i64>],
    opportunity: &[Option<i64>],
    converted: &[bool],
) -> Option<String> {
    let (mut both, mut later) = (0usize, 0usize);
    for ((d, o), &c) in dates.iter().zip(opportunity).zip(converted) {
        if let (Some(d), Some(o), true) = (d, o, c) {
            both += 1;
            later += usize::from(d > o);
        }
    }
    let share = later as f64 / both.max(1) as f64;
    (both >= DATE_MIN_CONVERTERS && share >= DATE_AFTER_OPPORTUNITY).then(|| {
        format!(
            "possible leakage in column '{column}': it is later than the opportunity for \
             {:.0}% of converted leads ({later} of {both}): it records what happened after \
             conversion, and a rule on it learns that talking to sales predicts talking to \
             sales. Use the date as it was before the opportunity (an activity log with \
             --events and --snapshots trains in time), or retrain with --exclude \"{column}\"",
            100.0 * share
        )
    })
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::rules::RuleSpec;

    fn rule() -> Rule {
        Rule::from_spec(&RuleSpec {
            name: "Tagged".into(),
            column: "tag".into(),
            at_least: Some(1.0),
            ..RuleSpec::default()
        })
        .unwrap()
    }

    /// Leads from `(rule fires, converted, how many)`, scanned with the one rule.
    fn scan_of(cells: &[(bool, bool, usize)]) -> Vec<String> {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for &(fires, converted, n) in cells {
            for _ in 0..n {
                x.push(fires as u8 as f64);
                y.push(converted);
            }
        }
        let x = Array2::from_shape_vec((y.len(), 1), x).unwrap();
        scan(&[rule()], x.view(), &y)
    }

    /// 10,000 leads: the rule on `support` of them with `conv` conversions, the rest at 10%
    /// (so the column's AUC stays far below its own bound and only the rate can flag it).
    fn rate_case(support: usize, conv: usize) -> Vec<String> {
        let rest = 10_000 - support;
        scan_of(&[
            (true, true, conv),
            (true, false, support - conv),
            (false, true, rest / 10),
            (false, false, rest - rest / 10),
        ])
    }

    #[test]
    fn a_date_after_the_opportunity_flags_at_its_share_and_support() {
        // 20 converters with both dates; `later` of them have the date after the opportunity
        // (the others on the day itself, which is not later), plus leads that do not count: a
        // non-converter with a late date, and converters missing one of the dates.
        let case = |later: usize, converters: usize| {
            let mut dates = vec![Some(120), Some(500), None];
            let mut opportunity = vec![None, Some(100), Some(100)];
            let mut converted = vec![false, false, true];
            for i in 0..converters {
                dates.push(Some(if i < later { 101 } else { 100 }));
                opportunity.push(Some(100));
                converted.push(true);
            }
            date_after_opportunity("Last Activity Date", &dates, &opportunity, &converted)
        };
        // 5 of 20 is exactly 25%: flagged, with the numbers.
        let w = case(5, 20).expect("25% is flagged");
        assert!(
            w.contains("'Last Activity Date'") && w.contains("25% of converted leads (5 of 20)"),
            "{w}"
        );
        assert!(case(4, 20).is_none(), "20% is not");
        assert!(case(19, 19).is_none(), "19 converters are too few");
    }

    #[test]
    fn a_conversion_rate_flags_at_its_bounds_and_not_just_inside() {
        // Large support is 2% of 10,000 = 200 leads; 194 of 200 is exactly 97%.
        let w = rate_case(200, 194);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("'tag'") && w[0].contains("97.0% of them converted"),
            "{w:?}"
        );
        assert!(rate_case(200, 193).is_empty(), "96.5% is not suspicious");
        // 1 of 200 is exactly 0.5%; 2 of 200 is not suspicious.
        assert_eq!(rate_case(200, 1).len(), 1);
        assert!(rate_case(200, 2).is_empty());
    }

    #[test]
    fn a_rate_on_too_few_leads_is_not_flagged() {
        // 199 leads is under 2% of 10,000; all of them converting is still no evidence.
        assert!(rate_case(199, 199).is_empty());
        assert_eq!(rate_case(200, 200).len(), 1);
        // Small files: the support floor is 30 leads, not 2% of them.
        let small = |support: usize| {
            scan_of(&[
                (true, true, support),
                (false, true, 50),
                (false, false, 450 - support),
            ])
        };
        assert!(small(29).is_empty());
        assert_eq!(small(30).len(), 1);
    }

    #[test]
    fn a_column_auc_flags_at_its_bound() {
        // The rule on 110 leads (100 converted), nobody converting elsewhere. With c leads
        // elsewhere the column's AUC is (c + 5) / (c + 10): 0.95 exactly at c = 90.
        let auc_case =
            |c: usize| scan_of(&[(true, true, 100), (true, false, 10), (false, false, c)]);
        let w = auc_case(90);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("ROC AUC 0.950") && w[0].contains("--exclude \"tag\""),
            "{w:?}"
        );
        // c = 89: AUC 94/99 = 0.9495.
        assert!(auc_case(89).is_empty(), "{:?}", auc_case(89));
    }
}
