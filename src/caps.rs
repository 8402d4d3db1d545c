//! Caps for per-unit rules written without one. An uncapped rule counts every unit, so one
//! absurd value (a bot's 10^20 page views) would give a lead points beyond any integer and
//! pull the rule's weight towards nothing. Training therefore gives each such rule a cap: the
//! largest whole number of units seen in training at or below an outlier bound, the 99.9th
//! percentile of the rule's units over the training leads (nearest rank: the smallest units
//! at least 99.9% of leads have at most, so it is itself a value seen). The model records the
//! cap, so scoring, SQL, PMML and the points sheet all apply it.
//!
//! The percentile is taken from the leads grouped by pattern ([`Groups`]), not from the raw
//! column: the whole-file, streamed and counts-table paths all reach the same groups, so they
//! get the same cap and the same model, exactly, with no second pass over a stream and no
//! approximate streaming quantile. The price is that a lead with no value counts 0 units, as
//! its feature does (a counts table cannot tell the two apart).

use crate::error::{Error, Result};
use crate::group::Groups;
use crate::points::MAX_UNITS;
use crate::rules::{format_number, Condition, Rule};

/// The outlier bound, as a share of training leads (in thousandths, to stay in integers).
const BOUND_PER_MILLE: u128 = 999;

/// Rules with caps added, the groups under those caps and what to tell the user.
#[derive(Debug, Clone)]
pub struct Capped {
    pub rules: Vec<Rule>,
    /// The groups under the caps, with old pattern index → new (`None`: no cap was added, the
    /// groups are unchanged).
    pub groups: Option<(Groups, Vec<u32>)>,
    pub warnings: Vec<String>,
}

/// Gives every uncapped per-unit rule of `rules` its cap from `groups` (see the module docs).
/// An error when even the bound is more units than a score can count exactly (2^53).
pub fn cap_uncapped(rules: &[Rule], groups: &Groups) -> Result<Capped> {
    let mut out = rules.to_vec();
    let mut warnings = Vec::new();
    let mut caps: Vec<Option<f64>> = vec![None; rules.len()];
    for (j, rule) in rules.iter().enumerate() {
        if rule.condition != (Condition::PerUnit { cap: None }) {
            continue;
        }
        let mut units: Vec<(f64, u64)> = groups
            .x
            .column(j)
            .iter()
            .copied()
            .zip(groups.leads.iter().copied())
            .collect();
        units.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n: u64 = units.iter().map(|u| u.1).sum();
        let rank = (n as u128 * BOUND_PER_MILLE).div_ceil(1000).max(1);
        let mut seen = 0u128;
        let bound = units
            .iter()
            .find(|u| {
                seen += u.1 as u128;
                seen >= rank
            })
            .map_or(0.0, |u| u.0);
        // A cap is at least 1 (a rule that counts nothing is no rule).
        let cap = bound.floor().max(1.0);
        if cap > MAX_UNITS {
            return Err(Error::Fit(format!(
                "rule '{}': 99.9% of the training leads have up to {} units of column '{}', \
                 more than a score can count exactly (2^53); is it the right column? Give the \
                 rule a `cap`, or use `at_least` bands",
                rule.name,
                format_number(bound),
                rule.column
            )));
        }
        let (above, largest) = units
            .iter()
            .filter(|u| u.0 > cap)
            .fold((0u64, cap), |(k, m), u| (k + u.1, m.max(u.0)));
        if above > 0 {
            warnings.push(format!(
                "'{}': capped at {} units of {} (the 99.9th percentile of the training leads): \
                 {above} lead{} had more, up to {}; write `cap = ...` in the rules file to \
                 choose the cap yourself",
                rule.name,
                format_number(cap),
                rule.column,
                if above == 1 { "" } else { "s" },
                format_number(largest)
            ));
        } else {
            tracing::info!(rule = %rule.name, cap, "uncapped rule capped at its largest value");
        }
        out[j].condition = Condition::PerUnit { cap: Some(cap) };
        caps[j] = Some(cap);
    }
    let groups = caps
        .iter()
        .any(Option::is_some)
        .then(|| groups.capped(&caps));
    Ok(Capped {
        rules: out,
        groups,
        warnings,
    })
}

/// Every per-unit rule without a cap gets one ([`cap_uncapped`]), and the groups follow; the
/// old → new pattern index when the groups changed. All three training paths call it on
/// the same groups, so they give the same caps.
pub fn apply(
    rules: Vec<Rule>,
    groups: Groups,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Rule>, Groups, Option<Vec<u32>>)> {
    let capped = cap_uncapped(&rules, &groups)?;
    warnings.extend(capped.warnings);
    Ok(match capped.groups {
        Some((groups, merged)) => (capped.rules, groups, Some(merged)),
        None => (rules, groups, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ShapeBuilder};

    fn rule(name: &str, condition: Condition) -> Rule {
        Rule {
            group: None,
            event: None,
            name: name.into(),
            column: name.to_lowercase(),
            condition,
        }
    }

    #[test]
    fn the_cap_is_the_largest_value_at_or_below_the_999th_permille() {
        // 2000 leads: 1996 with 0..=4 units, 3 with 14, one with 1e20. Rank 1998 of 2000 is 14.
        let x = array![[0.0, 1.0], [4.0, 0.0], [14.0, 1.0], [1e20, 1.0]];
        let x = ndarray::Array2::from_shape_fn((4, 2).f(), |(i, j)| x[[i, j]]);
        let groups = Groups::from_counts(x.view(), &[1000, 996, 3, 1], &[10, 100, 2, 1]).unwrap();
        let rules = [
            rule("Visits", Condition::PerUnit { cap: None }),
            rule("Webinar", Condition::IsMissing),
        ];
        let capped = cap_uncapped(&rules, &groups).unwrap();
        assert_eq!(
            capped.rules[0].condition,
            Condition::PerUnit { cap: Some(14.0) }
        );
        assert_eq!(capped.rules[1], rules[1]);
        assert_eq!(capped.warnings.len(), 1);
        let w = &capped.warnings[0];
        assert!(
            w.contains("'Visits': capped at 14 units of visits")
                && w.contains("1 lead had more, up to 100000000000000000000"),
            "{w}"
        );
        // The outlier joins the leads at 14 units: three patterns, counts added up.
        let (g, new_id) = capped.groups.unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g.x.column(0).to_vec(), [0.0, 4.0, 14.0]);
        assert_eq!(g.leads, [1000, 996, 4]);
        assert_eq!(g.conversions, [10, 100, 3]);
        assert_eq!(new_id, [0, 1, 2, 2]);
    }

    #[test]
    fn caps_are_at_least_one_and_at_most_2_pow_53() {
        let x = ndarray::Array2::from_shape_vec((2, 1).f(), vec![0.0, 5.0]).unwrap();
        let groups = Groups::from_counts(x.view(), &[5000, 1], &[10, 1]).unwrap();
        let rules = [rule("Opens", Condition::PerUnit { cap: None })];
        let capped = cap_uncapped(&rules, &groups).unwrap();
        assert_eq!(
            capped.rules[0].condition,
            Condition::PerUnit { cap: Some(1.0) }
        );
        // No outlier: the cap is the largest value, nothing to warn about.
        let x = ndarray::Array2::from_shape_vec((2, 1).f(), vec![0.0, 5.0]).unwrap();
        let groups = Groups::from_counts(x.view(), &[50, 60], &[10, 1]).unwrap();
        let capped = cap_uncapped(&rules, &groups).unwrap();
        assert_eq!(
            capped.rules[0].condition,
            Condition::PerUnit { cap: Some(5.0) }
        );
        assert!(capped.warnings.is_empty());
        // Given caps are kept; capping twice changes nothing.
        let again = cap_uncapped(&capped.rules, &groups).unwrap();
        assert!(again.groups.is_none() && again.rules == capped.rules);
        let x = ndarray::Array2::from_shape_vec((1, 1).f(), vec![1e17]).unwrap();
        let groups = Groups::from_counts(x.view(), &[3], &[1]).unwrap();
        let err = cap_uncapped(&rules, &groups).unwrap_err().to_string();
        assert!(
            err.contains("rule 'Opens'") && err.contains("2^53"),
            "{err}"
        );
    }
}
