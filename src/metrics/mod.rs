//! Metrics of predicted probabilities against outcomes: ROC AUC, log loss, Brier score and
//! expected calibration error, per lead or over leads grouped by prediction (the same numbers
//! either way). Written here in f64: linfa's log loss and ROC work in f32 per lead, and it has
//! no Brier or ECE. [`calibration`] adds the statistics a reviewer signs off.

pub mod calibration;

use serde::{Deserialize, Serialize};

pub use calibration::{BandTest, BrierDecomposition, CalibrationStats, Light};

/// Bins of equal width for the expected calibration error.
pub const ECE_BINS: usize = 10;

/// How well probabilities rank and match outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub rows: usize,
    pub roc_auc: f64,
    pub log_loss: f64,
    pub brier: f64,
    /// Expected calibration error over 10 equal-width probability bins, weighted by leads.
    pub ece: f64,
}

impl Metrics {
    pub fn compute(p: &[f64], y: &[bool]) -> Metrics {
        Metrics::compute_counts(&pooled(p, y))
    }

    /// The same metrics from leads grouped by prediction: `(probability, conversions,
    /// non-conversions)`. Equal probabilities are pooled first, so any grouping of the same
    /// leads gives the same numbers, to the last bit.
    pub fn compute_counts(groups: &[(f64, u64, u64)]) -> Metrics {
        let g = pool(groups);
        let n: u64 = g.iter().map(|&(_, c, m)| c + m).sum();
        let nf = n as f64;
        Metrics {
            rows: n as usize,
            roc_auc: auc_pooled(&g),
            log_loss: g
                .iter()
                .map(|&(p, c, m)| {
                    c as f64 * log_loss_one(p, true) + m as f64 * log_loss_one(p, false)
                })
                .sum::<f64>()
                / nf,
            brier: g
                .iter()
                .map(|&(p, c, m)| c as f64 * (p - 1.0).powi(2) + m as f64 * p * p)
                .sum::<f64>()
                / nf,
            ece: ece_pooled(&g, ECE_BINS),
        }
    }
}

/// Leads pooled by prediction, `(probability, conversions, non-conversions)` ascending: what
/// [`Metrics::compute_counts`] and [`CalibrationStats::compute_counts`] take, pooled once.
pub fn pooled(p: &[f64], y: &[bool]) -> Vec<(f64, u64, u64)> {
    pool(
        &p.iter()
            .zip(y)
            .map(|(&p, &t)| (p, t as u64, !t as u64))
            .collect::<Vec<_>>(),
    )
}

/// Sorts by prediction and adds up equal predictions.
fn pool(groups: &[(f64, u64, u64)]) -> Vec<(f64, u64, u64)> {
    let mut g = groups.to_vec();
    g.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, u64, u64)> = Vec::with_capacity(g.len());
    for (p, c, m) in g {
        match out.last_mut() {
            Some(last) if last.0 == p => {
                last.1 += c;
                last.2 += m;
            }
            _ => out.push((p, c, m)),
        }
    }
    out
}

/// Log loss of one prediction, clipped like scikit-learn so a 0 or 1 stays finite.
pub fn log_loss_one(p: f64, y: bool) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    if y {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// Area under the ROC curve (ties handled as one step, i.e. the Mann–Whitney statistic with
/// ties counted half). Scores are only ranked, so any increasing transform of a probability
/// gives the same AUC. Computed here over pooled predictions, in f64, because linfa's ROC
/// works per lead in f32 and grouped leads never exist one by one.
pub fn roc_auc(p: &[f64], y: &[bool]) -> f64 {
    auc_pooled(&pooled(p, y))
}

/// [`roc_auc`] of grouped leads `(score, conversions, non-conversions)`.
pub fn roc_auc_counts(groups: &[(f64, u64, u64)]) -> f64 {
    auc_pooled(&pool(groups))
}

fn auc_pooled(g: &[(f64, u64, u64)]) -> f64 {
    let pos: u64 = g.iter().map(|x| x.1).sum();
    let neg: u64 = g.iter().map(|x| x.2).sum();
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    let mut below = 0.0;
    let mut area = 0.0;
    for &(_, c, m) in g {
        area += c as f64 * (below + 0.5 * m as f64);
        below += m as f64;
    }
    area / (pos as f64 * neg as f64)
}

/// Expected calibration error: Σ_bins (n_b / n) · |mean predicted − observed rate|.
pub fn ece(p: &[f64], y: &[bool], bins: usize) -> f64 {
    ece_pooled(&pooled(p, y), bins)
}

fn ece_pooled(g: &[(f64, u64, u64)], bins: usize) -> f64 {
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    let mut count = vec![0u64; bins];
    for &(p, c, m) in g {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sum_p[b] += p * (c + m) as f64;
        sum_y[b] += c as f64;
        count[b] += c + m;
    }
    let n: u64 = count.iter().sum();
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (sum_p[b] - sum_y[b]).abs() / n as f64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_a_hand_count() {
        // Pairs (pos, neg): 0.9>0.1, 0.9>0.5, 0.5=0.5 (half), 0.5>0.1 → (3 + 0.5) / 4.
        let p = [0.9, 0.5, 0.5, 0.1];
        let y = [true, true, false, false];
        assert!((roc_auc(&p, &y) - 0.875).abs() < 1e-6);
    }

    #[test]
    fn ece_of_a_known_bin() {
        // All in bin [0.2, 0.3): mean predicted 0.25, observed 1/4 → 0; then 0.25 vs 3/4 → 0.5.
        let p = [0.25; 4];
        assert!(ece(&p, &[true, false, false, false], 10).abs() < 1e-12);
        assert!((ece(&p, &[true, true, true, false], 10) - 0.5).abs() < 1e-12);
    }
}
