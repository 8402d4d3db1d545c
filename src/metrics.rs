//! Metrics of predicted probabilities against outcomes: ROC AUC (linfa's ROC curve), log loss,
//! Brier score and expected calibration error. Log loss, Brier and ECE are written here in f64:
//! linfa's log loss works in f32 and it has no Brier or ECE.

use linfa::prelude::BinaryClassification;
use serde::{Deserialize, Serialize};

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
        Metrics {
            rows: y.len(),
            roc_auc: roc_auc(p, y),
            log_loss: p
                .iter()
                .zip(y)
                .map(|(&p, &t)| log_loss_one(p, t))
                .sum::<f64>()
                / y.len() as f64,
            brier: p
                .iter()
                .zip(y)
                .map(|(&p, &t)| (p - t as u8 as f64).powi(2))
                .sum::<f64>()
                / y.len() as f64,
            ece: ece(p, y, ECE_BINS),
        }
    }
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

/// Area under the ROC curve through linfa's ROC (ties handled as one step). Scores are only
/// ranked, so any increasing transform of a probability gives the same AUC.
pub fn roc_auc(p: &[f64], y: &[bool]) -> f64 {
    let probs: Vec<linfa::dataset::Pr> = p
        .iter()
        .map(|&v| linfa::dataset::Pr::new(v as f32))
        .collect();
    match probs.as_slice().roc(y) {
        Ok(roc) => roc.area_under_curve() as f64,
        Err(_) => f64::NAN,
    }
}

/// Expected calibration error: Σ_bins (n_b / n) · |mean predicted − observed rate|.
pub fn ece(p: &[f64], y: &[bool], bins: usize) -> f64 {
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    let mut count = vec![0usize; bins];
    for (&p, &t) in p.iter().zip(y) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sum_p[b] += p;
        sum_y[b] += t as u8 as f64;
        count[b] += 1;
    }
    let n = y.len() as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (sum_p[b] - sum_y[b]).abs() / n)
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
