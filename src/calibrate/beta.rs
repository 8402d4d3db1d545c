//! Beta calibration (Kull, Silva Filho and Flach, "Beta calibration: a well-founded and easily
//! implemented improvement on logistic calibration for binary classifiers", AISTATS 2017), the
//! method of the `betacal` package: on the points' own probability s = σ(offset + scale·score),
//!
//!   logit q = c + a·ln s − b·ln(1 − s),
//!
//! three parameters fitted by unpenalised logistic regression on the features ln s and
//! −ln(1 − s). a = b = 1, c = 0 is the identity; a = b is Platt scaling; a ≠ b bends the map
//! where the scores are skewed, which Platt cannot. As in `betacal`, a negative a (or b) is
//! dropped and the fit redone without it, so the map rises with the score.
//!
//! Takes leads pooled by score, gives the three parameters. Written by hand: the fit is a
//! three-parameter logistic regression on a few hundred pooled score levels with counts, which
//! linfa-logistic (no sample weights, a penalty always on) does not take.

use crate::error::{Error, Result};
use crate::fit::softplus;

/// How a score becomes the points' own probability: s = σ(offset + scale·score), with
/// `offset` the fit's intercept and `scale` = ln 2 / points-to-double-odds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawScale {
    pub offset: f64,
    pub scale: f64,
}

impl RawScale {
    /// The features of a score: (ln s, −ln(1 − s)), with s clipped to [ε, 1 − ε] as `betacal`
    /// clips it (ε = the machine epsilon).
    pub fn features(&self, score: f64) -> (f64, f64) {
        let s = crate::fit::sigmoid(self.offset + self.scale * score)
            .clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        (s.ln(), -(1.0 - s).ln())
    }
}

/// The fitted parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaParams {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl BetaParams {
    /// The calibrated probability of a score.
    pub fn probability(&self, raw: &RawScale, score: f64) -> f64 {
        let (x1, x2) = raw.features(score);
        crate::fit::sigmoid(self.c + self.a * x1 + self.b * x2)
    }
}

/// Fits beta calibration to leads pooled by score, `(score, leads, conversions)`.
pub fn fit(counts: &[(i64, u64, u64)], raw: &RawScale) -> Result<BetaParams> {
    let rows: Vec<(f64, f64, f64, f64)> = counts
        .iter()
        .map(|&(s, n, c)| {
            let (x1, x2) = raw.features(s as f64);
            (x1, x2, n as f64, c as f64)
        })
        .collect();
    let (n, c) = rows.iter().fold((0.0, 0.0), |(n, c), r| (n + r.2, c + r.3));
    if rows.len() <= 1 || c == 0.0 || c == n {
        // One score for every lead, or one outcome: the map is the (smoothed) base rate.
        let rate = ((c + 0.5) / (n + 1.0)).clamp(1e-6, 1.0 - 1e-6);
        return Ok(BetaParams {
            a: 0.0,
            b: 0.0,
            c: (rate / (1.0 - rate)).ln(),
        });
    }
    let full = newton(&rows, &[true, true])?;
    let (a, b, c) = if full[1] < 0.0 {
        let t = newton(&rows, &[false, true])?;
        (0.0, t[2], t[0])
    } else if full[2] < 0.0 {
        let t = newton(&rows, &[true, false])?;
        (t[1], 0.0, t[0])
    } else {
        (full[1], full[2], full[0])
    };
    Ok(BetaParams { a, b, c })
}

/// Unpenalised logistic regression of the conversions on [1, x1, x2] (the features switched
/// on in `use_x`), by Newton's method with step halving; gives [intercept, a, b] with 0 for a
/// feature left out.
fn newton(rows: &[(f64, f64, f64, f64)], use_x: &[bool; 2]) -> Result<[f64; 3]> {
    let cols: Vec<usize> = std::iter::once(0)
        .chain((0..2).filter(|&j| use_x[j]).map(|j| j + 1))
        .collect();
    let k = cols.len();
    let feature = |r: &(f64, f64, f64, f64), j: usize| match j {
        0 => 1.0,
        1 => r.0,
        _ => r.1,
    };
    let loglik = |theta: &[f64; 3]| -> f64 {
        rows.iter()
            .map(|r| {
                let eta: f64 = (0..3).map(|j| theta[j] * feature(r, j)).sum();
                // c·log σ(η) + (n − c)·log(1 − σ(η)), written with softplus to stay finite.
                -(r.3 * softplus(-eta) + (r.2 - r.3) * softplus(eta))
            })
            .sum()
    };
    let mut theta = [0.0; 3];
    for _ in 0..200 {
        let mut grad = vec![0.0; k];
        let mut hess = vec![vec![0.0; k]; k];
        for r in rows {
            let eta: f64 = (0..3).map(|j| theta[j] * feature(r, j)).sum();
            let q = crate::fit::sigmoid(eta);
            let (resid, w) = (r.3 - r.2 * q, r.2 * q * (1.0 - q));
            for (i, &ci) in cols.iter().enumerate() {
                grad[i] += resid * feature(r, ci);
                for (j, &cj) in cols.iter().enumerate() {
                    hess[i][j] += w * feature(r, ci) * feature(r, cj);
                }
            }
        }
        let step = solve(hess, grad).ok_or_else(|| {
            Error::Fit(
                "beta calibration: the scores do not vary enough to fit it; use \
                 --calibration platt"
                    .into(),
            )
        })?;
        let before = loglik(&theta);
        let mut t = 1.0;
        let mut next = theta;
        loop {
            for (i, &ci) in cols.iter().enumerate() {
                next[ci] = theta[ci] + t * step[i];
            }
            if loglik(&next) >= before || t < 1e-10 {
                break;
            }
            t *= 0.5;
        }
        let moved = cols
            .iter()
            .map(|&ci| (next[ci] - theta[ci]).abs())
            .fold(0.0, f64::max);
        theta = next;
        if moved < 1e-12 {
            break;
        }
    }
    if theta.iter().all(|v| v.is_finite()) {
        Ok(theta)
    } else {
        Err(Error::Fit(
            "beta calibration did not converge; use --calibration platt".into(),
        ))
    }
}

/// Solves the small symmetric system `a · x = b` by Gaussian elimination with partial
/// pivoting; `None` when it is singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 * (1.0 + a[col][col].abs()) {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (offset, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: RawScale = RawScale {
        offset: -2.0,
        scale: std::f64::consts::LN_2 / 20.0,
    };

    /// Leads at scores 0..120 step 5, converting exactly at the rate `truth(s)` (1,000 each).
    fn exact(truth: impl Fn(f64) -> f64) -> Vec<(i64, u64, u64)> {
        (0..=24)
            .map(|k| {
                let s = 5 * k;
                (s, 1000, (1000.0 * truth(s as f64)).round() as u64)
            })
            .collect()
    }

    #[test]
    fn the_identity_is_recovered_when_the_raw_probabilities_are_right() {
        let counts = exact(|s| crate::fit::sigmoid(RAW.offset + RAW.scale * s));
        let p = fit(&counts, &RAW).unwrap();
        // Counts are rounded to whole leads, so within a few thousandths.
        assert!(
            (p.a - 1.0).abs() < 0.02 && (p.b - 1.0).abs() < 0.02,
            "{p:?}"
        );
        assert!(p.c.abs() < 0.05, "{p:?}");
    }

    #[test]
    fn a_known_beta_map_is_recovered() {
        let truth = BetaParams {
            a: 1.6,
            b: 0.6,
            c: 0.4,
        };
        let counts = exact(|s| truth.probability(&RAW, s));
        let p = fit(&counts, &RAW).unwrap();
        assert!(
            (p.a - 1.6).abs() < 0.03 && (p.b - 0.6).abs() < 0.03,
            "{p:?}"
        );
        assert!((p.c - 0.4).abs() < 0.06, "{p:?}");
    }

    #[test]
    fn one_score_gives_the_base_rate() {
        let p = fit(&[(10, 100, 25)], &RAW).unwrap();
        assert_eq!((p.a, p.b), (0.0, 0.0));
        let q = p.probability(&RAW, 10.0);
        assert!((q - 25.5 / 101.0).abs() < 1e-12, "{q}");
    }
}
