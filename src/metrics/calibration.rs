//! Calibration statistics a model reviewer signs off: calibration-in-the-large and the
//! calibration slope with 95% intervals, Spiegelhalter's z test, the Brier score's
//! decomposition, a debiased calibration error, and per points band the Jeffreys interval of
//! the observed rate with exact binomial p-values and a traffic light.
//!
//! Takes leads grouped by predicted probability, `(probability, conversions,
//! non-conversions)`, as [`super::Metrics::compute_counts`] does; every statistic is computed
//! over the pooled groups, so its cost grows with the number of distinct predictions (a few
//! dozen score levels for a points model), not with leads.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, Binomial, ContinuousCDF, DiscreteCDF, Normal};

use super::pool;
use crate::fit::{sigmoid, softplus};

/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// Probabilities are clipped this far from 0 and 1 before taking their logit, so an isotonic
/// map's 0 or 1 stays finite (as scikit-learn clips in its log loss).
const CLIP: f64 = 1e-15;

/// The calibration statistics of predictions against outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationStats {
    /// Calibration-in-the-large: `a` in logit P(y) = a + logit(p) (slope fixed at 1). 0 when
    /// the predictions are right on average; above 0 when they are too low.
    pub calibration_intercept: f64,
    pub calibration_intercept_ci: [f64; 2],
    /// `b` in logit P(y) = a + b·logit(p): 1 when calibrated; below 1 when the predictions
    /// are too extreme (over-fitting), above 1 when too timid.
    pub calibration_slope: f64,
    pub calibration_slope_ci: [f64; 2],
    /// Spiegelhalter's (1986) z statistic: Σ(y − p)(1 − 2p) / √Σ(1 − 2p)²p(1 − p), standard
    /// normal when the predictions are calibrated.
    pub spiegelhalter_z: f64,
    /// Its two-sided p-value.
    pub spiegelhalter_p: f64,
    pub brier_decomposition: BrierDecomposition,
    /// The expected calibration error's 95% bootstrap interval: [`ECE_RESAMPLES`] resamples
    /// of the leads (with replacement, drawn as one multinomial over the pooled levels); the
    /// 2.5th and 97.5th percentiles of their ECE, each moved down by twice the bootstrap's
    /// estimate of the ECE's bias (the resamples' mean ECE minus the measured one), cut at 0.
    /// The binned ECE of a sample is biased upwards by noise, and resampling adds that bias
    /// again; the plain percentile interval of a well-calibrated model therefore lies wholly
    /// above the measured ECE. This is an interval for a real miscalibration's size: whether
    /// the model is calibrated at all is what the intercept, slope and Spiegelhalter's test
    /// answer (near a true ECE of 0 no interval for the binned ECE holds its level). Fixed
    /// seed: the same leads give the same interval.
    pub ece_ci: [f64; 2],
    /// The debiased root-mean-square calibration error of Kumar, Liang and Ma, "Verified
    /// Uncertainty Calibration" (NeurIPS 2019), over the distinct predicted probabilities (a
    /// points model's score levels: no bins to choose): √max(0, Σ n_k/n · ((ȳ_k − p_k)² −
    /// ȳ_k(1 − ȳ_k)/(n_k − 1))). The plug-in estimate is biased upwards by each level's
    /// sampling noise; the second term removes that bias.
    pub debiased_calibration_error: f64,
    /// The Kolmogorov–Smirnov statistic: the largest gap between the score distributions of
    /// converted and not converted leads.
    pub ks: f64,
    /// 2·AUC − 1.
    pub gini: f64,
}

/// The Brier score over distinct predicted probabilities (Murphy 1973):
/// reliability − resolution + uncertainty equals the Brier score exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrierDecomposition {
    /// Σ n_k (p_k − ȳ_k)² / n: how far each level's prediction is from its observed rate.
    pub reliability: f64,
    /// Σ n_k (ȳ_k − ȳ)² / n: how far the levels' rates spread around the overall rate.
    pub resolution: f64,
    /// ȳ(1 − ȳ): the Brier score of always predicting the overall rate.
    pub uncertainty: f64,
}

impl CalibrationStats {
    /// The statistics of grouped leads; `None` without both outcomes or with a single
    /// predicted probability (a constant prediction has no slope), or if a fit did not give
    /// finite numbers (a model file must be able to hold them).
    pub fn compute_counts(groups: &[(f64, u64, u64)]) -> Option<CalibrationStats> {
        let g = pool(groups);
        let pos: u64 = g.iter().map(|x| x.1).sum();
        let neg: u64 = g.iter().map(|x| x.2).sum();
        if pos == 0 || neg == 0 || g.len() < 2 {
            return None;
        }
        let stats = Self::compute_pooled(&g);
        stats.is_finite().then_some(stats)
    }

    fn is_finite(&self) -> bool {
        let d = &self.brier_decomposition;
        [
            self.calibration_intercept,
            self.calibration_intercept_ci[0],
            self.calibration_intercept_ci[1],
            self.calibration_slope,
            self.calibration_slope_ci[0],
            self.calibration_slope_ci[1],
            self.spiegelhalter_z,
            self.spiegelhalter_p,
            d.reliability,
            d.resolution,
            d.uncertainty,
            self.ece_ci[0],
            self.ece_ci[1],
            self.debiased_calibration_error,
            self.ks,
            self.gini,
        ]
        .iter()
        .all(|x| x.is_finite())
    }

    fn compute_pooled(g: &[(f64, u64, u64)]) -> CalibrationStats {
        let (a, a_se) = intercept_fit(g);
        let (b, b_se) = slope_fit(g);
        let (z, p_z) = spiegelhalter(g);
        let auc = super::roc_auc_counts(g);
        let ece_ci = ece_interval(g, ECE_RESAMPLES, ECE_SEED);
        CalibrationStats {
            ece_ci,
            calibration_intercept: a,
            calibration_intercept_ci: [a - Z95 * a_se, a + Z95 * a_se],
            calibration_slope: b,
            calibration_slope_ci: [b - Z95 * b_se, b + Z95 * b_se],
            spiegelhalter_z: z,
            spiegelhalter_p: p_z,
            brier_decomposition: brier_decomposition(g),
            debiased_calibration_error: debiased_ce(g),
            ks: ks(g),
            gini: 2.0 * auc - 1.0,
        }
    }
}

/// Bootstrap resamples of the ECE interval.
pub const ECE_RESAMPLES: usize = 1000;
const ECE_SEED: u64 = 20_240_517;

/// The percentile bootstrap interval of the ECE over pooled levels `g`. Resampling n leads
/// with replacement is a multinomial draw over the (level, outcome) cells, made as one
/// binomial per cell conditioned on the cells before it: each resample costs the number of
/// cells, not of leads.
pub fn ece_interval(g: &[(f64, u64, u64)], resamples: usize, seed: u64) -> [f64; 2] {
    use rand::SeedableRng;
    use rand_distr::{Binomial, Distribution};

    let n: u64 = g.iter().map(|&(_, c, m)| c + m).sum();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut drawn = vec![(0.0, 0u64, 0u64); g.len()];
    for _ in 0..resamples {
        let (mut left, mut weight) = (n, n);
        for (d, &(p, c, m)) in drawn.iter_mut().zip(g) {
            let mut take = |count: u64| {
                if count == 0 || left == 0 {
                    return 0;
                }
                let k = if count >= weight {
                    left
                } else {
                    Binomial::new(left, count as f64 / weight as f64)
                        .map_or(0, |b| b.sample(&mut rng))
                };
                left -= k;
                weight -= count;
                k
            };
            let (c2, m2) = (take(c), take(m));
            *d = (p, c2, m2);
        }
        values.push(super::ece_pooled(&drawn, super::ECE_BINS));
    }
    values.sort_by(f64::total_cmp);
    let ece = super::ece_pooled(g, super::ECE_BINS);
    let bias = values.iter().sum::<f64>() / values.len() as f64 - ece;
    [
        (quantile(&values, 0.025) - 2.0 * bias).max(0.0),
        (quantile(&values, 0.975) - 2.0 * bias).max(0.0),
    ]
}

/// The q-quantile of sorted values, interpolated linearly (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(CLIP, 1.0 - CLIP);
    (p / (1.0 - p)).ln()
}

/// The log-likelihood of σ(a + b·l) over the groups.
fn log_lik(g: &[(f64, u64, u64)], a: f64, b: f64) -> f64 {
    g.iter()
        .map(|&(p, c, m)| {
            let eta = a + b * logit(p);
            // log σ(η) = −log(1 + e^−η), written to stay finite for large |η|.
            let log_p = -softplus(-eta);
            let log_q = -softplus(eta);
            c as f64 * log_p + m as f64 * log_q
        })
        .sum()
}

/// Newton's method with step halving on the (concave) logistic log-likelihood of
/// σ(a + b·logit p), `b` fixed at 1 when `free_slope` is false; gives (a, b) and the inverse
/// of the observed information (the estimates' covariance). A hand-written two-parameter
/// Newton method: the fit is on pooled levels with an offset, which linfa-logistic does not
/// take, and it needs the information matrix for the intervals.
fn newton(g: &[(f64, u64, u64)], free_slope: bool) -> ((f64, f64), [[f64; 2]; 2]) {
    let (mut a, mut b) = (0.0, 1.0);
    let info = |a: f64, b: f64| {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(p, c, m) in g {
            let l = logit(p);
            let q = sigmoid(a + b * l);
            let n = (c + m) as f64;
            let r = c as f64 - n * q;
            let w = n * q * (1.0 - q);
            ga += r;
            gb += r * l;
            haa += w;
            hab += w * l;
            hbb += w * l * l;
        }
        ((ga, gb), [[haa, hab], [hab, hbb]])
    };
    for _ in 0..100 {
        let ((ga, gb), h) = info(a, b);
        let (da, db) = if free_slope {
            let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
            if det <= 0.0 || !det.is_finite() {
                break;
            }
            (
                (h[1][1] * ga - h[0][1] * gb) / det,
                (h[0][0] * gb - h[1][0] * ga) / det,
            )
        } else {
            if h[0][0] <= 0.0 {
                break;
            }
            (ga / h[0][0], 0.0)
        };
        let before = log_lik(g, a, b);
        let mut step = 1.0;
        while step > 1e-10 && log_lik(g, a + step * da, b + step * db) < before {
            step *= 0.5;
        }
        a += step * da;
        b += step * db;
        if (step * da).abs().max((step * db).abs()) < 1e-12 {
            break;
        }
    }
    let (_, h) = info(a, b);
    let cov = if free_slope {
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        [
            [h[1][1] / det, -h[0][1] / det],
            [-h[1][0] / det, h[0][0] / det],
        ]
    } else {
        [[1.0 / h[0][0], 0.0], [0.0, 0.0]]
    };
    ((a, b), cov)
}

/// Calibration-in-the-large and its standard error.
fn intercept_fit(g: &[(f64, u64, u64)]) -> (f64, f64) {
    let ((a, _), cov) = newton(g, false);
    (a, cov[0][0].sqrt())
}

/// The calibration slope and its standard error.
fn slope_fit(g: &[(f64, u64, u64)]) -> (f64, f64) {
    let ((_, b), cov) = newton(g, true);
    (b, cov[1][1].sqrt())
}

fn spiegelhalter(g: &[(f64, u64, u64)]) -> (f64, f64) {
    let (mut num, mut var) = (0.0, 0.0);
    for &(p, c, m) in g {
        let n = (c + m) as f64;
        num += (c as f64 - n * p) * (1.0 - 2.0 * p);
        var += n * (1.0 - 2.0 * p).powi(2) * p * (1.0 - p);
    }
    let z = num / var.sqrt();
    let normal = Normal::standard();
    (z, 2.0 * normal.sf(z.abs()))
}

fn brier_decomposition(g: &[(f64, u64, u64)]) -> BrierDecomposition {
    let n: u64 = g.iter().map(|&(_, c, m)| c + m).sum();
    let nf = n as f64;
    let rate = g.iter().map(|x| x.1).sum::<u64>() as f64 / nf;
    let (mut rel, mut res) = (0.0, 0.0);
    for &(p, c, m) in g {
        let k = (c + m) as f64;
        let o = c as f64 / k;
        rel += k * (p - o).powi(2);
        res += k * (o - rate).powi(2);
    }
    BrierDecomposition {
        reliability: rel / nf,
        resolution: res / nf,
        uncertainty: rate * (1.0 - rate),
    }
}

fn debiased_ce(g: &[(f64, u64, u64)]) -> f64 {
    let n: u64 = g.iter().map(|&(_, c, m)| c + m).sum();
    let mut sum = 0.0;
    for &(p, c, m) in g {
        let k = (c + m) as f64;
        let o = c as f64 / k;
        // A level of one lead has no variance estimate; its plug-in term stays.
        let noise = if c + m > 1 {
            o * (1.0 - o) / (k - 1.0)
        } else {
            0.0
        };
        sum += k / n as f64 * ((o - p).powi(2) - noise);
    }
    sum.max(0.0).sqrt()
}

/// The KS statistic over pooled levels sorted by prediction.
fn ks(g: &[(f64, u64, u64)]) -> f64 {
    let pos: u64 = g.iter().map(|x| x.1).sum();
    let neg: u64 = g.iter().map(|x| x.2).sum();
    let (mut cp, mut cn, mut best) = (0u64, 0u64, 0.0f64);
    for &(_, c, m) in g {
        cp += c;
        cn += m;
        best = best.max((cn as f64 / neg as f64 - cp as f64 / pos as f64).abs());
    }
    best
}

/// How one points band's observed rate stands against its mean prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    /// The mean prediction lies inside the 95% Jeffreys interval of the observed rate.
    Green,
    /// Outside the 95% interval, inside the 99.9% one.
    Amber,
    /// Outside the 99.9% interval.
    Red,
}

/// One band's exact check of its leads' observed rate against their mean prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandTest {
    pub mean_predicted: f64,
    /// The 95% Jeffreys interval of the observed rate: the 2.5% and 97.5% quantiles of
    /// Beta(conversions + ½, non-conversions + ½), 0 below when none converted and 1 above when
    /// all did (Brown, Cai and DasGupta 2001).
    pub jeffreys_lower: f64,
    pub jeffreys_upper: f64,
    /// P(X ≥ conversions) for X ~ Binomial(leads, mean_predicted): small when the band
    /// converts more than predicted.
    pub p_more: f64,
    /// P(X ≤ conversions): small when it converts less.
    pub p_fewer: f64,
    pub light: Light,
}

impl BandTest {
    /// The check of `leads` leads with `conversions`, predicted `mean_predicted` on average.
    pub fn new(leads: u64, conversions: u64, mean_predicted: f64) -> BandTest {
        let (lower, upper) = jeffreys(conversions, leads - conversions, 0.95);
        let (lower999, upper999) = jeffreys(conversions, leads - conversions, 0.999);
        let p = mean_predicted.clamp(0.0, 1.0);
        let binomial = Binomial::new(p, leads).expect("p is in [0, 1]");
        let p_fewer = binomial.cdf(conversions);
        let p_more = if conversions == 0 {
            1.0
        } else {
            binomial.sf(conversions - 1)
        };
        let inside = |lo: f64, hi: f64| lo <= p && p <= hi;
        let light = if inside(lower, upper) {
            Light::Green
        } else if inside(lower999, upper999) {
            Light::Amber
        } else {
            Light::Red
        };
        BandTest {
            mean_predicted,
            jeffreys_lower: lower,
            jeffreys_upper: upper,
            p_more,
            p_fewer,
            light,
        }
    }
}

/// The equal-tailed Jeffreys interval at `level` for `c` successes and `m` failures.
pub fn jeffreys(c: u64, m: u64, level: f64) -> (f64, f64) {
    let tail = (1.0 - level) / 2.0;
    let beta = Beta::new(c as f64 + 0.5, m as f64 + 0.5).expect("positive shapes");
    let lower = if c == 0 { 0.0 } else { beta.inverse_cdf(tail) };
    let upper = if m == 0 {
        1.0
    } else {
        beta.inverse_cdf(1.0 - tail)
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Levels whose observed rates equal their predictions exactly.
    const EXACT: [(f64, u64, u64); 3] = [(0.2, 2, 8), (0.5, 5, 5), (0.8, 8, 2)];

    #[test]
    fn predictions_equal_to_the_observed_rates_have_intercept_0_and_slope_1() {
        // The logistic fit reproduces each level's rate, which logit(p) already does.
        let c = CalibrationStats::compute_counts(&EXACT).unwrap();
        assert!(c.calibration_intercept.abs() < 1e-9, "{c:?}");
        assert!((c.calibration_slope - 1.0).abs() < 1e-9, "{c:?}");
        assert!(c.calibration_intercept_ci[0] < 0.0 && c.calibration_intercept_ci[1] > 0.0);
        assert!(c.calibration_slope_ci[0] < 1.0 && c.calibration_slope_ci[1] > 1.0);
        assert!(c.spiegelhalter_z.abs() < 1e-12 && (c.spiegelhalter_p - 1.0).abs() < 1e-12);
        assert!(c.brier_decomposition.reliability < 1e-30);
        assert_eq!(c.debiased_calibration_error, 0.0);
    }

    #[test]
    fn spiegelhalter_by_hand() {
        // 10 leads at p = 0.2, 5 converted: numerator (5 − 2)(1 − 0.4) = 1.8, variance
        // 10 · 0.36 · 0.16 = 0.576. A level at p = 0.5 adds 0 to both (1 − 2p = 0).
        // z = 1.8 / 0.7589 = 2.3717.
        let c = CalibrationStats::compute_counts(&[(0.2, 5, 5), (0.5, 3, 1)]).unwrap();
        assert!((c.spiegelhalter_z - 1.8 / 0.576f64.sqrt()).abs() < 1e-12);
        // Two-sided p of z = 2.3717: 0.01771 (normal tables).
        assert!(
            (c.spiegelhalter_p - 0.01771).abs() < 1e-4,
            "{}",
            c.spiegelhalter_p
        );
    }

    #[test]
    fn the_brier_decomposition_adds_up_to_the_brier_score_exactly() {
        let groups = [
            (0.05, 3, 97),
            (0.12, 20, 130),
            (0.3, 40, 60),
            (0.12, 1, 9), // pooled with the other 0.12
            (0.7, 30, 5),
        ];
        let c = CalibrationStats::compute_counts(&groups).unwrap();
        let d = c.brier_decomposition;
        let brier = super::super::Metrics::compute_counts(&groups).brier;
        assert!(
            (d.reliability - d.resolution + d.uncertainty - brier).abs() < 1e-15,
            "{d:?} vs {brier}"
        );
        // By hand: the overall rate is 94/395.
        let rate = 94.0 / 395.0;
        assert!((d.uncertainty - rate * (1.0 - rate)).abs() < 1e-15);
    }

    #[test]
    fn the_debiased_error_removes_the_noise_of_a_level() {
        // 10 leads at p = 0.5, 5 converted: no gap and the noise term is positive: 0.
        assert_eq!(
            CalibrationStats::compute_counts(&[(0.5, 5, 5), (0.1, 1, 9)])
                .unwrap()
                .debiased_calibration_error,
            0.0
        );
        // 100 leads at p = 0.2 with 40 converted: (0.4 − 0.2)² − 0.24/99; with 100 more at
        // p = 0.5 with 50 converted (no gap): − 0.25/99. Halved, square-rooted.
        let c = CalibrationStats::compute_counts(&[(0.2, 40, 60), (0.5, 50, 50)]).unwrap();
        let want = (0.5 * (0.04f64 - 0.24 / 99.0) + 0.5 * (0.0 - 0.25 / 99.0)).sqrt();
        assert!((c.debiased_calibration_error - want).abs() < 1e-12);
    }

    #[test]
    fn ks_and_gini_by_hand() {
        // Scores 0.9 (T), 0.5 (T, F), 0.1 (F, F). Cumulative from the lowest: after 0.1 the
        // non-converted share is 2/3, converted 0: KS 2/3. AUC: pairs T>F: 0.9 beats 3, the
        // 0.5 T beats the two 0.1 and ties the 0.5 F (half): 5.5 / 6; Gini 2·5.5/6 − 1.
        let c = CalibrationStats::compute_counts(&[(0.9, 1, 0), (0.5, 1, 1), (0.1, 0, 2)]).unwrap();
        assert!((c.ks - 2.0 / 3.0).abs() < 1e-12, "{}", c.ks);
        assert!((c.gini - (11.0 / 6.0 - 1.0)).abs() < 1e-12, "{}", c.gini);
    }

    /// How often the interval holds the true ECE over 200 simulated sets of 20,000 leads on
    /// 20 levels that each convert `gap` above their prediction (so the ECE the binning
    /// estimates is `gap`).
    fn ece_coverage(gap: f64) -> usize {
        use rand::{Rng, SeedableRng};
        let levels: Vec<f64> = (0..20).map(|k| 0.05 + 0.04 * k as f64).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut covered = 0;
        for s in 0..200 {
            let mut g: Vec<(f64, u64, u64)> = levels.iter().map(|&p| (p, 0, 0)).collect();
            for _ in 0..20_000 {
                let k = rng.gen_range(0..levels.len());
                if rng.gen::<f64>() < levels[k] + gap {
                    g[k].1 += 1;
                } else {
                    g[k].2 += 1;
                }
            }
            let [lo, hi] = ece_interval(&g, 400, s);
            covered += (lo <= gap && gap <= hi) as usize;
        }
        covered
    }

    #[test]
    fn the_ece_interval_covers_the_true_ece_about_95_percent_of_the_time() {
        // A model 3 points off everywhere. 95% of 200 is 190; three standard errors of a
        // share of 200 are about ±9 sets.
        let covered = ece_coverage(0.03);
        eprintln!("ECE interval coverage at a true ECE of 0.03: {covered} of 200");
        assert!((181..=199).contains(&covered), "{covered} of 200");
    }

    #[test]
    fn the_ece_interval_holds_the_estimate_and_is_reproducible() {
        let g = [(0.1, 12, 88), (0.3, 40, 60), (0.6, 50, 50)];
        let c = CalibrationStats::compute_counts(&g).unwrap();
        let ece = super::super::Metrics::compute_counts(&g).ece;
        // Far from calibrated (ECE 0.11 against a noise of about 0.03): the interval holds it.
        assert!(c.ece_ci[0] <= ece && ece <= c.ece_ci[1], "{c:?} {ece}");
        assert_eq!(
            CalibrationStats::compute_counts(&g).unwrap().ece_ci,
            c.ece_ci
        );
    }

    #[test]
    fn without_both_outcomes_there_are_no_statistics() {
        assert!(CalibrationStats::compute_counts(&[(0.3, 0, 10), (0.5, 0, 3)]).is_none());
        // One predicted probability for every lead: no slope to speak of.
        assert!(CalibrationStats::compute_counts(&[(0.3, 4, 10)]).is_none());
        assert!(CalibrationStats::compute_counts(&[]).is_none());
    }

    #[test]
    fn jeffreys_bounds_and_lights() {
        // No conversions: the lower bound is 0; all converted: the upper is 1.
        assert_eq!(jeffreys(0, 20, 0.95).0, 0.0);
        assert_eq!(jeffreys(20, 0, 0.95).1, 1.0);
        // 30 of 100 predicted at 0.3 is green; predicted at 0.5 is far outside (red); the
        // amber zone lies between the 95% and the 99.9% bounds.
        assert_eq!(BandTest::new(100, 30, 0.3).light, Light::Green);
        assert_eq!(BandTest::new(100, 30, 0.5).light, Light::Red);
        let (_, hi95) = jeffreys(30, 70, 0.95);
        let (_, hi999) = jeffreys(30, 70, 0.999);
        let t = BandTest::new(100, 30, (hi95 + hi999) / 2.0);
        assert_eq!(t.light, Light::Amber);
        // Converting less than predicted: P(X ≤ 30) is small, P(X ≥ 30) near 1.
        assert!(t.p_fewer < 0.025 && t.p_more > 0.97, "{t:?}");
    }
}
