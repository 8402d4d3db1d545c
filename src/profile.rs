//! The training leads' distributions, kept in the model file so new data can be checked for
//! drift without the training data: the score in (up to) ten quantile bins, and each rule's
//! feature values. Takes values; gives [`Histogram`]s and the population stability index.

use serde::{Deserialize, Serialize};

/// Shares of leads per bin. Bin `i` holds values `>= lower[i]` and `< lower[i + 1]`; values
/// below `lower[0]` count in bin 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    pub lower: Vec<f64>,
    pub shares: Vec<f64>,
}

/// Distributions of the training leads under the final model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Scores of the training leads, in training-quantile bins.
    pub score: Histogram,
    /// Per rule (in rule order), its feature values: 0/1, or whole units.
    pub rules: Vec<Histogram>,
}

/// Smallest share used in PSI, so an empty bin does not make it infinite.
const PSI_FLOOR: f64 = 1e-4;

impl Histogram {
    /// Bins at the `bins`-quantiles of `values` (fewer when values tie).
    pub fn quantiles(values: &[f64], bins: usize) -> Histogram {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut lower = vec![sorted.first().copied().unwrap_or(0.0)];
        for k in 1..bins {
            let q = sorted[(k * sorted.len()) / bins];
            if q > *lower.last().expect("non-empty") {
                lower.push(q);
            }
        }
        Histogram::with_bounds(lower, values)
    }

    /// One bin per whole value from 0 up to `max_bins - 1`, the last open-ended.
    pub fn levels(values: &[f64], max_bins: usize) -> Histogram {
        let top = values.iter().copied().fold(0.0, f64::max).floor();
        let n = (top as usize + 1).clamp(2, max_bins);
        Histogram::with_bounds((0..n).map(|v| v as f64).collect(), values)
    }

    /// [`Histogram::quantiles`] of values given with how many leads have each: the same
    /// histogram as the values repeated.
    pub fn quantiles_counts(values: &[(f64, u64)], bins: usize) -> Histogram {
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n: u64 = sorted.iter().map(|v| v.1).sum();
        let at = |index: u64| {
            let mut seen = 0;
            for &(v, c) in &sorted {
                seen += c;
                if seen > index {
                    return v;
                }
            }
            0.0
        };
        let mut lower = vec![if n == 0 { 0.0 } else { at(0) }];
        for k in 1..bins as u64 {
            let q = at((k * n) / bins as u64);
            if q > *lower.last().expect("non-empty") {
                lower.push(q);
            }
        }
        Histogram::with_bounds_counts(lower, values)
    }

    /// [`Histogram::levels`] of values given with counts.
    pub fn levels_counts(values: &[(f64, u64)], max_bins: usize) -> Histogram {
        let top = values
            .iter()
            .filter(|v| v.1 > 0)
            .map(|v| v.0)
            .fold(0.0, f64::max)
            .floor();
        let n = (top as usize + 1).clamp(2, max_bins);
        Histogram::with_bounds_counts((0..n).map(|v| v as f64).collect(), values)
    }

    fn with_bounds_counts(lower: Vec<f64>, values: &[(f64, u64)]) -> Histogram {
        let mut h = Histogram {
            shares: vec![0.0; lower.len()],
            lower,
        };
        let mut counts = vec![0u64; h.lower.len()];
        for &(v, c) in values {
            counts[h.bin(v)] += c;
        }
        let n = counts.iter().sum::<u64>().max(1) as f64;
        h.shares = counts.into_iter().map(|c| c as f64 / n).collect();
        h
    }

    fn with_bounds(lower: Vec<f64>, values: &[f64]) -> Histogram {
        let mut h = Histogram {
            shares: vec![0.0; lower.len()],
            lower,
        };
        h.shares = h.shares_of(values);
        h
    }

    pub fn bin(&self, v: f64) -> usize {
        self.lower.partition_point(|&l| l <= v).saturating_sub(1)
    }

    /// The shares of `values` in this histogram's bins.
    pub fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.lower.len()];
        for &v in values {
            counts[self.bin(v)] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }
}

/// Population stability index: Σ (actual − expected) · ln(actual / expected). Below 0.1 is
/// stable, 0.1–0.25 a moderate shift, above 0.25 a shift worth acting on.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_FLOOR), a.max(PSI_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_of_known_distributions() {
        // Worked by hand: (0.4−0.5)·ln(0.8) + (0.6−0.5)·ln(1.2) = 0.022314 + 0.018232.
        let v = psi(&[0.5, 0.5], &[0.4, 0.6]);
        assert!((v - 0.040546).abs() < 1e-6, "{v}");
        assert_eq!(psi(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
    }

    #[test]
    fn bins_follow_lower_bounds() {
        let h = Histogram::quantiles(&(0..100).map(f64::from).collect::<Vec<_>>(), 4);
        assert_eq!(h.lower, vec![0.0, 25.0, 50.0, 75.0]);
        assert_eq!(h.shares, vec![0.25; 4]);
        assert_eq!(h.bin(-5.0), 0);
        assert_eq!(h.bin(50.0), 2);
        assert_eq!(h.bin(1e9), 3);
        let l = Histogram::levels(&[0.0, 1.0, 1.0, 7.0], 4);
        assert_eq!(l.lower, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(l.shares, vec![0.25, 0.5, 0.0, 0.25]);
    }
}
