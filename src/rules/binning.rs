//! Numeric bands chosen with the outcome (optimal binning). Takes a column's labelled values
//! (sorted) and fine candidate cut points (quantiles), gives the cut points of at most `bands`
//! bands whose conversion rates differ.
//!
//! 1. Fine bands: the candidate cuts ([`FINE_BANDS`] quantiles, each band with enough leads).
//! 2. Trend (`--monotone`): the bands' rates are made increasing (or decreasing) by
//!    pool-adjacent-violators, which joins neighbours that break the trend. `auto` fits both
//!    directions and keeps the one with the lower binomial deviance, unless even that one is
//!    significantly worse than no trend at all (likelihood-ratio test at 5%, chi-square with one
//!    degree of freedom per band joined); then the column keeps no trend.
//! 3. Merging: while two neighbouring bands' rates do not differ significantly (two-proportion
//!    z-test, |z| < 1.96, the 5% level), or there are more than `bands` bands, the neighbours
//!    with the smallest z² are joined (leftmost on ties). Joining neighbours of a monotone
//!    sequence keeps it monotone.
//!
//! This follows the idea of optbinning (quantile pre-bins, a monotonic trend, bins kept only
//! when they differ), with a greedy merge in place of its mixed-integer program; everything is
//! deterministic.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::auto::Monotone;

/// Fine quantile bands the merging starts from.
pub const FINE_BANDS: usize = 20;
/// z² of a two-sided two-proportion test at the 5% level.
const Z2_AT_5_PERCENT: f64 = 3.841_458_820_694_124;

/// A run of neighbouring fine bands: leads and conversions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Band {
    n: f64,
    pos: f64,
}

impl Band {
    fn rate(&self) -> f64 {
        self.pos / self.n
    }
    fn join(self, o: Band) -> Band {
        Band {
            n: self.n + o.n,
            pos: self.pos + o.pos,
        }
    }
}

/// The cut points kept out of `fine` for `labelled` values (sorted by value); empty when the
/// column's bands do not differ in conversion.
pub fn optimal_cuts(
    labelled: &[(f64, bool)],
    fine: &[f64],
    bands: usize,
    monotone: Monotone,
) -> Vec<f64> {
    // Fine bands: band i holds the values in [fine[i-1], fine[i]).
    let mut counts = vec![Band { n: 0.0, pos: 0.0 }; fine.len() + 1];
    for &(v, y) in labelled {
        let b = fine.partition_point(|&c| c <= v);
        counts[b].n += 1.0;
        counts[b].pos += f64::from(u8::from(y));
    }
    // Each run: its bands and the cut point on its left (None for the first).
    let mut runs: Vec<(Band, Option<f64>)> = counts
        .iter()
        .enumerate()
        .filter(|(_, b)| b.n > 0.0)
        .map(|(i, &b)| (b, i.checked_sub(1).map(|j| fine[j])))
        .collect();
    if runs.len() < 2 {
        return Vec::new();
    }
    if let Some(increasing) = trend(&runs, monotone) {
        runs = pool_adjacent_violators(runs, increasing);
    }
    while runs.len() > 1 {
        let (k, z2) = (0..runs.len() - 1)
            .map(|k| (k, z_squared(runs[k].0, runs[k + 1].0)))
            .fold(
                (0, f64::INFINITY),
                |best, c| if c.1 < best.1 { c } else { best },
            );
        if z2 >= Z2_AT_5_PERCENT && runs.len() <= bands {
            break;
        }
        let right = runs.remove(k + 1);
        runs[k].0 = runs[k].0.join(right.0);
    }
    runs.iter().filter_map(|r| r.1).collect()
}

/// Whether the rates must increase (`Some(true)`), decrease, or follow no trend.
fn trend(runs: &[(Band, Option<f64>)], monotone: Monotone) -> Option<bool> {
    match monotone {
        Monotone::Increasing => Some(true),
        Monotone::Decreasing => Some(false),
        Monotone::Off => None,
        Monotone::Auto => {
            let free = deviance(runs);
            let up = pool_adjacent_violators(runs.to_vec(), true);
            let down = pool_adjacent_violators(runs.to_vec(), false);
            let (fit, increasing) = if deviance(&up) <= deviance(&down) {
                (up, true)
            } else {
                (down, false)
            };
            let joined = (runs.len() - fit.len()) as f64;
            if joined == 0.0 {
                return Some(increasing);
            }
            let lr = deviance(&fit) - free;
            let critical = ChiSquared::new(joined)
                .map(|c| c.inverse_cdf(0.95))
                .unwrap_or(f64::INFINITY);
            (lr <= critical).then_some(increasing)
        }
    }
}

/// Joins neighbouring runs until their rates follow the trend (weighted by leads).
fn pool_adjacent_violators(
    runs: Vec<(Band, Option<f64>)>,
    increasing: bool,
) -> Vec<(Band, Option<f64>)> {
    let mut out: Vec<(Band, Option<f64>)> = Vec::with_capacity(runs.len());
    for run in runs {
        out.push(run);
        while out.len() > 1 {
            let (a, b) = (out[out.len() - 2].0.rate(), out[out.len() - 1].0.rate());
            let broken = if increasing { a > b } else { a < b };
            if !broken {
                break;
            }
            let last = out.pop().expect("two runs");
            let prev = out.last_mut().expect("two runs");
            prev.0 = prev.0.join(last.0);
        }
    }
    out
}

/// Twice the binomial negative log-likelihood of the leads at their run's rate.
fn deviance(runs: &[(Band, Option<f64>)]) -> f64 {
    let xlogy = |x: f64, y: f64| if x > 0.0 { x * y.ln() } else { 0.0 };
    -2.0 * runs
        .iter()
        .map(|(b, _)| xlogy(b.pos, b.rate()) + xlogy(b.n - b.pos, 1.0 - b.rate()))
        .sum::<f64>()
}

/// The two-proportion z statistic, squared (the 2×2 chi-square without continuity correction).
fn z_squared(a: Band, b: Band) -> f64 {
    let p = (a.pos + b.pos) / (a.n + b.n);
    let var = p * (1.0 - p) * (1.0 / a.n + 1.0 / b.n);
    if var <= 0.0 {
        return 0.0;
    }
    (a.rate() - b.rate()).powi(2) / var
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` leads at value `v`, `pos` of them converted.
    fn leads(v: f64, n: usize, pos: usize) -> Vec<(f64, bool)> {
        (0..n).map(|i| (v, i < pos)).collect()
    }

    #[test]
    fn z_squared_matches_a_hand_worked_table() {
        // 30/100 against 50/100: pooled 0.4, var 0.4·0.6·0.02 = 0.0048, z² = 0.04/0.0048.
        let z2 = z_squared(
            Band {
                n: 100.0,
                pos: 30.0,
            },
            Band {
                n: 100.0,
                pos: 50.0,
            },
        );
        assert!((z2 - 8.333_333).abs() < 1e-5, "{z2}");
    }

    #[test]
    fn bands_that_do_not_differ_are_joined() {
        // Four fine bands: 10%, 11%, 40%, 41% of 200 leads each: two bands remain, cut at 2.
        let mut l = Vec::new();
        for (v, pos) in [(0.0, 20), (1.0, 22), (2.0, 80), (3.0, 82)] {
            l.extend(leads(v, 200, pos));
        }
        let cuts = optimal_cuts(&l, &[1.0, 2.0, 3.0], 5, Monotone::Off);
        assert_eq!(cuts, [2.0]);
        // At most `bands`: with 1 allowed nothing is cut.
        assert!(optimal_cuts(&l, &[1.0, 2.0, 3.0], 1, Monotone::Off).is_empty());
    }

    #[test]
    fn the_trend_is_enforced_and_auto_finds_it() {
        // 10%, 30%, 25%, 50%: increasing but for one dip, which PAVA joins (27.5%).
        let mut l = Vec::new();
        for (v, pos) in [(0.0, 20), (1.0, 60), (2.0, 50), (3.0, 100)] {
            l.extend(leads(v, 200, pos));
        }
        let fine = [1.0, 2.0, 3.0];
        assert_eq!(optimal_cuts(&l, &fine, 5, Monotone::Increasing), [1.0, 3.0]);
        assert_eq!(optimal_cuts(&l, &fine, 5, Monotone::Auto), [1.0, 3.0]);
        // Decreasing joins everything into one band: no cuts.
        assert!(optimal_cuts(&l, &fine, 5, Monotone::Decreasing).is_empty());
        // A strong peak (10%, 50%, 10%) is no trend: auto leaves it alone.
        let mut peak = Vec::new();
        for (v, pos) in [(0.0, 20), (1.0, 100), (2.0, 20)] {
            peak.extend(leads(v, 200, pos));
        }
        assert_eq!(
            optimal_cuts(&peak, &[1.0, 2.0], 5, Monotone::Auto),
            [1.0, 2.0]
        );
    }
}
