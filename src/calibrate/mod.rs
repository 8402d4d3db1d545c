//! Score → probability of conversion. Fitted on out-of-fold scores (each lead scored by a
//! model that did not see it): Platt scaling by linfa's Newton method, isotonic regression
//! (pool adjacent violators, written here: see [`pool_adjacent_violators`] for why), or beta
//! calibration ([`beta`]). Every map is non-decreasing in the score. Gives a [`Calibration`] that the model file stores and
//! scorers apply without linfa.

pub mod beta;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A probability of conversion in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Probability(pub f64);

/// Which calibration to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Logistic curve in the score (2 parameters): smooth, steady with little data.
    Platt,
    /// Step-free monotone curve through the observed rates: follows any shape, needs more data.
    Isotonic,
    /// Beta calibration (3 parameters; Platt and the identity are among its maps): bends
    /// where the scores are skewed, steadier than isotonic.
    Beta,
    /// The one of platt, isotonic and beta with the best cross-validated log loss on the
    /// out-of-fold scores (the model records all three).
    Auto,
}

/// One calibrator's cross-validated log loss, as `--calibration auto` compared them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodScore {
    pub method: Method,
    pub cv_log_loss: f64,
}

/// A simpler calibrator is kept unless a more flexible one lowers the cross-validated log
/// loss by more than this share (0.1%): beta nests Platt, so on data Platt fits it wins by
/// noise alone.
pub const AUTO_MARGIN: f64 = 0.001;

/// `--calibration auto`: each of platt, beta and isotonic (simplest first) fitted on all folds
/// but one and scored by log loss on that one, over `by_fold` (leads pooled by score, one list
/// per fold: the out-of-fold scores of the leads the fold holds). Gives the method chosen —
/// the simplest within [`AUTO_MARGIN`] of the best — and the score of every method that could
/// be fitted on every fold.
pub fn choose_method(
    by_fold: &[Vec<(i64, u64, u64)>],
    scale: &ScoreScale,
) -> Result<(Method, Vec<MethodScore>)> {
    // Each fold's training side: the other folds' leads pooled by score, built once.
    let rests: Vec<Vec<(i64, u64, u64)>> = (0..by_fold.len())
        .map(|f| {
            let mut rest: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
            for fold in by_fold
                .iter()
                .enumerate()
                .filter(|&(g, _)| g != f)
                .map(|(_, x)| x)
            {
                for &(s, n, c) in fold {
                    let e = rest.entry(s).or_default();
                    e.0 += n;
                    e.1 += c;
                }
            }
            rest.into_iter().map(|(s, (n, c))| (s, n, c)).collect()
        })
        .collect();
    let mut scores = Vec::new();
    'methods: for method in [Method::Platt, Method::Beta, Method::Isotonic] {
        let (mut loss, mut leads) = (0.0, 0u64);
        for (held, rest) in by_fold.iter().zip(&rests) {
            if rest.is_empty() || held.is_empty() {
                continue;
            }
            let map = match Calibration::fit_counts_scaled(method, rest, scale) {
                Ok(map) => map,
                // Beta needs scores that vary on every fold's training side (few distinct
                // scores leave its three parameters undetermined): then it is no candidate,
                // as a method that cannot be fitted would not be chosen. Platt always fits.
                Err(e) if method != Method::Platt => {
                    tracing::info!(?method, error = %e, "calibration auto: left out");
                    continue 'methods;
                }
                Err(e) => return Err(e),
            };
            for &(s, n, c) in held {
                let p = map.probability(s).0;
                loss += c as f64 * crate::metrics::log_loss_one(p, true)
                    + (n - c) as f64 * crate::metrics::log_loss_one(p, false);
                leads += n;
            }
        }
        scores.push(MethodScore {
            method,
            cv_log_loss: loss / leads.max(1) as f64,
        });
    }
    let best = scores
        .iter()
        .map(|m| m.cv_log_loss)
        .fold(f64::INFINITY, f64::min);
    let chosen = scores
        .iter()
        .find(|m| m.cv_log_loss <= best * (1.0 + AUTO_MARGIN))
        .map_or(Method::Platt, |m| m.method);
    Ok((chosen, scores))
}

/// The fitted map from score to probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Calibration {
    /// probability = 1 / (1 + exp(a·score + b)) (Platt's notation; a ≤ 0).
    Platt { a: f64, b: f64 },
    /// Straight lines between the knots (score, probability); flat beyond the first and last.
    Isotonic { knots: Vec<(f64, f64)> },
    /// logit p = c + a·ln s − b·ln(1 − s) on the points' own probability s = σ(offset +
    /// scale·score) ([`beta`]). Scorers read it from `knots`: its value at every whole score
    /// from the lowest to the highest the points can give (straight lines between, flat beyond,
    /// as isotonic knots), so every export computes it as isotonic maps are computed, to the
    /// same doubles. Beyond 4,096 scores the knots are the training scores and the ends.
    Beta {
        a: f64,
        b: f64,
        c: f64,
        offset: f64,
        scale: f64,
        knots: Vec<(f64, f64)>,
    },
}

/// What beta calibration needs beside the scores: how a score becomes the points' own
/// probability, and the lowest and highest score the points can give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreScale {
    pub raw: beta::RawScale,
    pub low: Option<i64>,
    pub high: Option<i64>,
}

/// Beta knots at every whole score over at most this many scores.
const BETA_MAX_KNOTS: i64 = 4096;

impl Calibration {
    /// The method that fitted this map.
    pub fn method(&self) -> Method {
        match self {
            Calibration::Platt { .. } => Method::Platt,
            Calibration::Isotonic { .. } => Method::Isotonic,
            Calibration::Beta { .. } => Method::Beta,
        }
    }

    /// [`Calibration::fit_counts`] for every method, beta included (which needs `scale`).
    pub fn fit_counts_scaled(
        method: Method,
        counts: &[(i64, u64, u64)],
        scale: &ScoreScale,
    ) -> Result<Calibration> {
        if method != Method::Beta {
            return Calibration::fit_counts(method, counts);
        }
        let p = beta::fit(counts, &scale.raw)?;
        let seen = (counts.first().map(|g| g.0), counts.last().map(|g| g.0));
        let low = [scale.low, seen.0].into_iter().flatten().min().unwrap_or(0);
        let high = [scale.high, seen.1]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let scores: Vec<i64> = if high - low <= BETA_MAX_KNOTS {
            (low..=high).collect()
        } else {
            let mut v: Vec<i64> = counts.iter().map(|g| g.0).collect();
            v.push(low);
            v.push(high);
            v.sort_unstable();
            v.dedup();
            v
        };
        // The map rises with the score (a, b ≥ 0); a running maximum keeps the knots so where
        // rounding of the logarithms could tie-break the wrong way.
        let mut top = 0.0f64;
        let knots = scores
            .into_iter()
            .map(|s| {
                top = top.max(p.probability(&scale.raw, s as f64));
                (s as f64, top)
            })
            .collect();
        let calibration = Calibration::Beta {
            a: p.a,
            b: p.b,
            c: p.c,
            offset: scale.raw.offset,
            scale: scale.raw.scale,
            knots,
        };
        calibration.check_monotone()?;
        Ok(calibration)
    }

    pub fn fit(method: Method, scores: &[i64], y: &[bool]) -> Result<Calibration> {
        let mut groups: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for (&s, &t) in scores.iter().zip(y) {
            let g = groups.entry(s).or_default();
            g.0 += 1;
            g.1 += t as u64;
        }
        let counts: Vec<(i64, u64, u64)> =
            groups.into_iter().map(|(s, (n, c))| (s, n, c)).collect();
        Calibration::fit_counts(method, &counts)
    }

    /// Fits on leads grouped by score: `(score, leads, conversions)`, scores ascending and
    /// distinct (as [`Calibration::fit`] pools them). Any grouping of the same leads gives the
    /// same calibration.
    pub fn fit_counts(method: Method, counts: &[(i64, u64, u64)]) -> Result<Calibration> {
        let calibration = match method {
            Method::Platt if counts.len() <= 1 => {
                // One score for every lead (e.g. every rule got 0 points): the map is the
                // base rate. Newton's method would divide by a zero determinant here.
                let (n, c) = counts.first().map_or((0, 0), |g| (g.1, g.2));
                let rate = c as f64 / n.max(1) as f64;
                let rate = rate.clamp(1e-6, 1.0 - 1e-6);
                Calibration::Platt {
                    a: 0.0,
                    b: ((1.0 - rate) / rate).ln(),
                }
            }
            Method::Platt => {
                let (a, b) = platt_counts(counts, 200)?;
                Calibration::Platt { a, b }
            }
            Method::Beta | Method::Auto => {
                return Err(Error::Fit(
                    "beta and auto calibration need the points' scale (fit_counts_scaled, \
                     choose_method)"
                        .into(),
                ))
            }
            Method::Isotonic => {
                // Scores are integers with many ties: one point per score.
                let xs: Vec<f64> = counts.iter().map(|g| g.0 as f64).collect();
                let rates: Vec<f64> = counts.iter().map(|g| g.2 as f64 / g.1 as f64).collect();
                let weights: Vec<f64> = counts.iter().map(|g| g.1 as f64).collect();
                let fitted = pool_adjacent_violators(&rates, &weights);
                Calibration::Isotonic {
                    knots: xs.into_iter().zip(fitted).collect(),
                }
            }
        };
        calibration.check_monotone()?;
        Ok(calibration)
    }

    /// A map that falls as the score rises means the points rank leads backwards.
    fn check_monotone(&self) -> Result<()> {
        let ok = match self {
            Calibration::Platt { a, .. } => *a <= 0.0,
            Calibration::Isotonic { knots } => knots.windows(2).all(|w| w[1].1 >= w[0].1),
            Calibration::Beta { a, b, knots, .. } => {
                *a >= 0.0 && *b >= 0.0 && knots.windows(2).all(|w| w[1].1 >= w[0].1)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Fit(
                "higher scores convert less often out of fold; the rules do not rank leads \
                 (check the target column and the rules)"
                    .into(),
            ))
        }
    }

    pub fn probability(&self, score: i64) -> Probability {
        let s = score as f64;
        Probability(match self {
            Calibration::Platt { a, b } => crate::fit::sigmoid(-(a * s + b)),
            Calibration::Isotonic { knots } | Calibration::Beta { knots, .. } => {
                interpolate(knots, s)
            }
        })
    }

    /// Every number finite and the map non-decreasing (checked when a model file is loaded).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let finite = match self {
            Calibration::Platt { a, b } => a.is_finite() && b.is_finite(),
            Calibration::Isotonic { knots } => valid_knots(knots),
            Calibration::Beta {
                a,
                b,
                c,
                offset,
                scale,
                knots,
            } => [a, b, c, offset, scale].iter().all(|v| v.is_finite()) && valid_knots(knots),
        };
        if !finite {
            return Err("calibration holds non-finite numbers or unsorted knots".into());
        }
        self.check_monotone().map_err(|e| e.to_string())
    }
}

/// Weighted isotonic (non-decreasing) least squares fit of `y`, by pool adjacent violators.
///
/// Written by hand because linfa-linear 0.8.1's `IsotonicRegression` over-pools: after merging
/// a violating pair it keeps merging backwards while the merged mean is below the block it
/// *just absorbed* rather than the next one, so `[0.1, 0.4, 0.5, 0.2]` becomes all 0.3 instead
/// of `[0.1, 0.367, 0.367, 0.367]` (the test below checks both). On real scores that bias
/// made the calibration error three times worse.
pub fn pool_adjacent_violators(y: &[f64], w: &[f64]) -> Vec<f64> {
    // Blocks of (weighted mean, weight, length); merge while the last two are out of order.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(y.len());
    for (&v, &wt) in y.iter().zip(w) {
        blocks.push((v, wt, 1));
        while blocks.len() > 1 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (m2, w2, n2) = blocks.pop().expect("two blocks");
            let (m1, w1, n1) = blocks.pop().expect("two blocks");
            let wt = w1 + w2;
            blocks.push(((m1 * w1 + m2 * w2) / wt, wt, n1 + n2));
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, _, n)| std::iter::repeat_n(m, n))
        .collect()
}

/// Knots sorted by score, each a finite score and a probability.
fn valid_knots(knots: &[(f64, f64)]) -> bool {
    !knots.is_empty()
        && knots
            .iter()
            .all(|(s, p)| s.is_finite() && (0.0..=1.0).contains(p))
        && knots.windows(2).all(|w| w[1].0 > w[0].0)
}

/// Linear interpolation between knots, flat outside them.
fn interpolate(knots: &[(f64, f64)], s: f64) -> f64 {
    let first = knots[0];
    let last = knots[knots.len() - 1];
    if s <= first.0 {
        return first.1;
    }
    if s >= last.0 {
        return last.1;
    }
    let j = knots.partition_point(|k| k.0 < s);
    let (x0, y0) = knots[j - 1];
    let (x1, y1) = knots[j];
    y0 + (s - x0) / (x1 - x0) * (y1 - y0)
}

/// Platt's sigmoid p = 1 / (1 + exp(a·score + b)) fitted to leads grouped by score: Newton's
/// method with a backtracking line search and Platt's smoothed targets (Lin, Lin & Weng, 2007),
/// step for step the algorithm of linfa's `platt_newton_method`, with each (score, outcome)
/// weighted by its count. Written by hand because linfa's takes one entry per lead: at 100M
/// leads that is gigabytes of copies for a fit over a few hundred distinct scores. Agrees with
/// linfa's on per-lead data within rounding (linfa computes the targets in f32; see the tests).
fn platt_counts(counts: &[(i64, u64, u64)], maxiter: usize) -> Result<(f64, f64)> {
    // linfa's defaults: Hessian ridge and smallest step.
    const SIGMA: f64 = 1e-12;
    const MIN_STEP: f64 = 1e-10;
    let pos: u64 = counts.iter().map(|g| g.2).sum();
    let total: u64 = counts.iter().map(|g| g.1).sum();
    let (pos, neg) = (pos as f64, (total as f64) - pos as f64);
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    // (score, leads, target): conversions and the rest of each score.
    let entries: Vec<(f64, f64, f64)> = counts
        .iter()
        .flat_map(|&(s, n, c)| [(s as f64, c as f64, hi), (s as f64, (n - c) as f64, lo)])
        .filter(|e| e.1 > 0.0)
        .collect();
    let objective = |a: f64, b: f64| -> f64 {
        entries
            .iter()
            .map(|&(v, w, t)| {
                let f = v * a + b;
                w * if f >= 0.0 {
                    t * f + (-f).exp().ln_1p()
                } else {
                    (t - 1.0) * f + f.exp().ln_1p()
                }
            })
            .sum()
    };
    let mut a = 0.0;
    let mut b = ((neg + 1.0) / (pos + 1.0)).ln();
    let mut fval = objective(a, b);
    let tolerance = 1e-5 * total as f64;
    for _ in 0..maxiter {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (SIGMA, SIGMA, 0.0, 0.0, 0.0);
        for &(v, w, t) in &entries {
            let f = v * a + b;
            // p = 1 / (1 + e^f), q = 1 - p, each computed without overflow.
            let (p, q) = if f >= 0.0 {
                let e = (-f).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = f.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = w * p * q;
            h11 += v * v * d2;
            h22 += d2;
            h21 += v * d2;
            let d1 = w * (t - p);
            g1 += v * d1;
            g2 += d1;
        }
        if g1.abs() < tolerance && g2.abs() < tolerance {
            return Ok((a, b));
        }
        let det = h11 * h22 - h21 * h21;
        let (da, db) = (-(h22 * g1 - h21 * g2) / det, -(-h21 * g1 + h11 * g2) / det);
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        loop {
            let newf = objective(a + step * da, b + step * db);
            if newf < fval + 1e-4 * step * gd {
                (a, b, fval) = (a + step * da, b + step * db, newf);
                break;
            }
            step /= 2.0;
            if step < MIN_STEP {
                return Err(Error::Fit(
                    "Platt scaling did not converge: the line search failed; try \
                     --calibration isotonic"
                        .into(),
                ));
            }
        }
    }
    Err(Error::Fit(format!(
        "Platt scaling did not converge in {maxiter} iterations; try --calibration isotonic"
    )))
}

#[cfg(test)]
mod auto_tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    const SCALE: ScoreScale = ScoreScale {
        raw: beta::RawScale {
            offset: -2.5,
            scale: std::f64::consts::LN_2 / 20.0,
        },
        low: Some(0),
        high: Some(100),
    };

    /// 5 folds of leads over scores 0..=100, converting at `truth(score)`.
    fn folds(truth: impl Fn(f64) -> f64, seed: u64) -> Vec<Vec<(i64, u64, u64)>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut by: Vec<BTreeMap<i64, (u64, u64)>> = vec![BTreeMap::new(); 5];
        for i in 0..30_000 {
            let s = rng.gen_range(0..=100i64);
            let e = by[i % 5].entry(s).or_default();
            e.0 += 1;
            e.1 += (rng.gen::<f64>() < truth(s as f64)) as u64;
        }
        by.into_iter()
            .map(|m| m.into_iter().map(|(s, (n, c))| (s, n, c)).collect())
            .collect()
    }

    #[test]
    fn auto_picks_platt_on_a_logistic_map_and_isotonic_on_a_step() {
        let logistic = folds(|s| crate::fit::sigmoid(-2.0 + 0.03 * s), 1);
        let (m, scores) = choose_method(&logistic, &SCALE).unwrap();
        assert_eq!(m, Method::Platt, "{scores:?}");
        // A step no smooth curve follows: 5% below 50 points, 45% from 50 up.
        let step = folds(|s| if s < 50.0 { 0.05 } else { 0.45 }, 2);
        let (m, scores) = choose_method(&step, &SCALE).unwrap();
        assert_eq!(m, Method::Isotonic, "{scores:?}");
        assert_eq!(scores.len(), 3);
    }

    #[test]
    fn auto_picks_beta_on_a_skewed_map() {
        // A beta map with a ≠ b, which Platt's straight logit cannot follow.
        let truth = beta::BetaParams {
            a: 2.5,
            b: 0.3,
            c: 1.0,
        };
        let skewed = folds(|s| truth.probability(&SCALE.raw, s), 3);
        let (m, scores) = choose_method(&skewed, &SCALE).unwrap();
        assert_eq!(m, Method::Beta, "{scores:?}");
    }

    #[test]
    fn auto_leaves_out_beta_where_the_scores_do_not_determine_it() {
        // Two scores only (one rule that fires or not): beta's three parameters cannot be
        // fitted, Platt and isotonic can. Before, auto stopped with beta's error.
        let two = folds(|s| if s < 50.0 { 0.1 } else { 0.3 }, 4)
            .into_iter()
            .map(|fold| {
                let mut by: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
                for (s, n, c) in fold {
                    let e = by.entry(if s < 50 { 0 } else { 40 }).or_default();
                    e.0 += n;
                    e.1 += c;
                }
                by.into_iter().map(|(s, (n, c))| (s, n, c)).collect()
            })
            .collect::<Vec<Vec<_>>>();
        let only_beta = Calibration::fit_counts_scaled(Method::Beta, &two[0], &SCALE);
        assert!(only_beta.is_err(), "beta fitted two scores: {only_beta:?}");
        let (m, scores) = choose_method(&two, &SCALE).unwrap();
        let methods: Vec<Method> = scores.iter().map(|s| s.method).collect();
        assert_eq!(methods, [Method::Platt, Method::Isotonic], "{scores:?}");
        assert_ne!(m, Method::Beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::composing::platt_scaling::{platt_newton_method, PlattParams};
    use linfa::ParamGuard;
    use ndarray::Array1;
    use rand::{Rng, SeedableRng};

    /// The count-weighted fit is linfa's Newton method on the same leads one by one, up to
    /// rounding (linfa computes its targets in f32).
    #[test]
    fn platt_on_counts_equals_linfa_on_leads() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let cases: Vec<Vec<(i64, u64, u64)>> = vec![
            vec![(0, 100, 10), (20, 100, 30), (40, 100, 60)],
            // Rare conversions, negative scores, a score nobody converts at.
            vec![(-30, 4000, 12), (-10, 2500, 0), (5, 900, 31), (35, 120, 19)],
            (0..60)
                .map(|s| {
                    let n = rng.gen_range(1..400u64);
                    let p = 1.0 / (1.0 + (-(s as f64 - 30.0) / 12.0).exp());
                    (
                        s * 3 - 40,
                        n,
                        (0..n).filter(|_| rng.gen::<f64>() < p).count() as u64,
                    )
                })
                .collect(),
        ];
        for counts in cases {
            let (s, t): (Vec<f64>, Vec<bool>) = counts
                .iter()
                .flat_map(|&(s, n, c)| (0..n).map(move |i| (s as f64, i < c)))
                .unzip();
            let params = PlattParams::<f64, ()>::default()
                .maxiter(200)
                .check()
                .unwrap();
            let (a0, b0) =
                platt_newton_method(Array1::from(s).view(), Array1::from(t).view(), &params)
                    .unwrap();
            let (a, b) = platt_counts(&counts, 200).unwrap();
            assert!(
                (a - a0).abs() <= 1e-6 * a0.abs().max(1e-3),
                "a {a} vs linfa {a0}"
            );
            assert!(
                (b - b0).abs() <= 1e-6 * b0.abs().max(1.0),
                "b {b} vs linfa {b0}"
            );
        }
    }

    fn toy() -> (Vec<i64>, Vec<bool>) {
        // Conversion rises with the score: 10%, 30%, 60% at scores 0, 20, 40.
        let mut s = Vec::new();
        let mut y = Vec::new();
        for (score, conv) in [(0, 10), (20, 30), (40, 60)] {
            for i in 0..100 {
                s.push(score);
                y.push(i < conv);
            }
        }
        (s, y)
    }

    #[test]
    fn platt_is_increasing_and_near_the_rates() {
        let (s, y) = toy();
        let c = Calibration::fit(Method::Platt, &s, &y).unwrap();
        let p: Vec<f64> = [0, 20, 40].iter().map(|&s| c.probability(s).0).collect();
        assert!(p[0] < p[1] && p[1] < p[2]);
        assert!(
            (p[0] - 0.10).abs() < 0.04 && (p[2] - 0.60).abs() < 0.04,
            "{p:?}"
        );
    }

    #[test]
    fn isotonic_reproduces_monotone_rates_and_interpolates() {
        let (s, y) = toy();
        let c = Calibration::fit(Method::Isotonic, &s, &y).unwrap();
        assert!((c.probability(0).0 - 0.10).abs() < 1e-9);
        assert!((c.probability(40).0 - 0.60).abs() < 1e-9);
        assert!((c.probability(10).0 - 0.20).abs() < 1e-9);
        assert!((c.probability(-5).0 - 0.10).abs() < 1e-9);
        assert!((c.probability(99).0 - 0.60).abs() < 1e-9);
    }

    #[test]
    fn isotonic_pools_violators() {
        // Rates 0.2, 0.1, 0.5 at scores 0, 1, 2: the first two pool to 0.15.
        let mut s = Vec::new();
        let mut y = Vec::new();
        for (score, conv) in [(0, 20), (1, 10), (2, 50)] {
            for i in 0..100 {
                s.push(score);
                y.push(i < conv);
            }
        }
        let c = Calibration::fit(Method::Isotonic, &s, &y).unwrap();
        assert!((c.probability(0).0 - 0.15).abs() < 1e-9);
        assert!((c.probability(1).0 - 0.15).abs() < 1e-9);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn pav_pools_only_violators() {
        let fit = pool_adjacent_violators(&[0.1, 0.4, 0.5, 0.2], &[1.0; 4]);
        let pooled = (0.4 + 0.5 + 0.2) / 3.0;
        for (got, want) in fit.iter().zip([0.1, pooled, pooled, pooled]) {
            assert!((got - want).abs() < 1e-12, "{fit:?}");
        }
        // Weights count: a heavy low rate pulls the pooled block down.
        let fit = pool_adjacent_violators(&[0.5, 0.2], &[1.0, 3.0]);
        assert!((fit[0] - 0.275).abs() < 1e-12 && (fit[1] - 0.275).abs() < 1e-12);
    }

    /// Why we do not use linfa-linear's isotonic regression: it pools the first point too.
    /// When this starts failing, upstream is fixed and can replace our PAV.
    #[test]
    fn linfa_linear_isotonic_still_over_pools() {
        use linfa::prelude::*;
        let x = ndarray::Array2::from_shape_vec((4, 1), vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let y = Array1::from(vec![0.1, 0.4, 0.5, 0.2]);
        let fitted = linfa_linear::IsotonicRegression::new()
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        let p: Array1<f64> = fitted.predict(&x);
        assert!((p[0] - 0.3).abs() < 1e-12, "linfa-linear now gives {p:?}");
    }

    #[test]
    fn one_score_for_everyone_maps_to_the_base_rate() {
        let s = vec![0; 10];
        let y: Vec<bool> = (0..10).map(|i| i < 3).collect();
        let c = Calibration::fit(Method::Platt, &s, &y).unwrap();
        assert!((c.probability(0).0 - 0.3).abs() < 1e-12);
        assert!((c.probability(50).0 - 0.3).abs() < 1e-12);
    }

    #[test]
    fn a_falling_map_is_refused() {
        let (s, y) = toy();
        let flipped: Vec<i64> = s.iter().map(|v| -v).collect();
        assert!(Calibration::fit(Method::Platt, &flipped, &y).is_err());
    }
}
