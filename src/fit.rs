//! Fitting rule weights: L2-regularised logistic regression on grouped leads ([`GroupedFit`],
//! the objective of linfa-logistic weighted by pattern counts; [`LogisticFit`] is linfa-logistic
//! itself, kept as the reference and for bootstrap refits), and the choice of regularisation
//! strength by cross-validated log loss over fold counts ([`search_alpha`]).
//! Takes rule patterns with counts (or the per-lead feature matrix and outcomes); gives
//! [`Weights`] (log-odds per rule unit).

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};
use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::group::{FoldCounts, Groups};
use crate::progress::Progress;

/// Log-odds weights: `logit P(convert) = intercept + Σ coef[j] · feature[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub intercept: f64,
    pub coef: Vec<f64>,
    /// Norm of the objective's gradient at the solution (see [`LogisticFit::fit`]).
    pub gradient_norm: f64,
}

impl Weights {
    pub fn logit(&self, row: ndarray::ArrayView1<f64>) -> f64 {
        self.intercept + row.iter().zip(&self.coef).map(|(x, w)| x * w).sum::<f64>()
    }

    /// [`Weights::logit`] of every row of `x`, a column at a time (the columns of the groups'
    /// column-major matrix are contiguous; its rows are not).
    pub fn logits(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let mut z = vec![0.0; x.nrows()];
        for (col, &w) in x.columns().into_iter().zip(&self.coef) {
            for (z, &v) in z.iter_mut().zip(col) {
                *z += v * w;
            }
        }
        for z in &mut z {
            *z += self.intercept;
        }
        z
    }

    /// False when the solver stopped before the gradient was small (linfa-logistic 0.8.1 does
    /// not report this itself). Measured per lead so the bar does not move with data size.
    pub fn converged(&self, rows: usize) -> bool {
        self.gradient_norm <= 1e-4 * (rows.max(1) as f64).sqrt()
    }
}

/// L2-regularised logistic regression with a fixed strength.
///
/// The objective is linfa-logistic's: Σᵢ log(1 + exp(−ỹᵢ·(xᵢ·w + b))) + α/2·‖w‖², summed over
/// leads, intercept unpenalised. scikit-learn's `C` is 1/α.
#[derive(Debug, Clone, Copy)]
pub struct LogisticFit {
    pub alpha: f64,
    pub max_iterations: u64,
}

impl LogisticFit {
    pub fn new(alpha: f64) -> Self {
        LogisticFit {
            alpha,
            max_iterations: 1000,
        }
    }

    /// Fits from zero weights.
    pub fn fit(&self, x: ArrayView2<f64>, y: &[bool]) -> Result<Weights> {
        self.fit_from(x, y, None)
    }

    /// Fits starting from `start` (a nearby solution, e.g. the next strength on the same fold),
    /// which cuts the solver's iterations severalfold without changing the optimum.
    pub fn fit_from(
        &self,
        x: ArrayView2<f64>,
        y: &[bool],
        start: Option<&Weights>,
    ) -> Result<Weights> {
        // linfa-logistic 0.8.1 makes the *more frequent* label the positive class (the first
        // seen on a tie); we always want P(converted), so we flip signs when `false` is
        // positive. The start is given in linfa's orientation, predicted the same way.
        let trues = y.iter().filter(|&&t| t).count();
        let falses = y.len() - trues;
        let predicted_sign = match trues.cmp(&falses) {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Less => -1.0,
            std::cmp::Ordering::Equal => {
                if y.first() == Some(&true) {
                    1.0
                } else {
                    -1.0
                }
            }
        };
        let targets = Array1::from_iter(y.iter().copied());
        let dataset = DatasetBase::new(x, targets);
        let mut params = LogisticRegression::default()
            .alpha(self.alpha)
            .max_iterations(self.max_iterations)
            // Ten times stricter than the bar `converged` checks afterwards.
            .gradient_tolerance(1e-5 * (y.len().max(1) as f64).sqrt());
        if let Some(w) = start {
            let init: Array1<f64> = w
                .coef
                .iter()
                .chain([&w.intercept])
                .map(|v| predicted_sign * v)
                .collect();
            params = params.initial_params(init);
        }
        let fitted = params
            .fit(&dataset)
            .map_err(|e| Error::Fit(format!("logistic regression failed: {e}")))?;
        // The flip itself always follows what linfa reports.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let coef: Vec<f64> = fitted.params().iter().map(|w| sign * w).collect();
        let intercept = sign * fitted.intercept();
        let gradient_norm = gradient_norm(x, y, self.alpha, intercept, &coef);
        Ok(Weights {
            intercept,
            coef,
            gradient_norm,
        })
    }
}

/// The same objective over grouped leads ([`crate::group::Groups`]): pattern `g` stands for
/// `leads[g]` leads of which `conversions[g]` converted, so
/// Σ_g leads·log(1 + exp(z_g)) − conversions·z_g + α/2·‖w‖² equals linfa-logistic's summed loss
/// over the leads exactly, and so do the weights at its minimum.
///
/// linfa-logistic 0.8.1 takes no sample weights, so this is minimised here with the solver
/// linfa-logistic itself runs (argmin's L-BFGS, memory 10, More–Thuente line search) and the
/// same stopping rule; [`LogisticFit`] stays the reference the tests compare against.
#[derive(Debug, Clone, Copy)]
pub struct GroupedFit {
    pub alpha: f64,
    pub max_iterations: u64,
}

impl GroupedFit {
    pub fn new(alpha: f64) -> Self {
        GroupedFit {
            alpha,
            max_iterations: 1000,
        }
    }

    /// Fits patterns `x` (rows) with per-pattern `leads` and `conversions`, from `start` or
    /// zero. Patterns with no leads are allowed and count for nothing.
    pub fn fit<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        leads: &'a [f64],
        conversions: &'a [f64],
        start: Option<&Weights>,
    ) -> Result<Weights> {
        self.fit_exposed(x, leads, conversions, None, start)
    }

    /// [`GroupedFit::fit`] where pattern `g`'s leads that did not convert had only the share
    /// `exposure[g]` of their chance yet (immature leads, [`crate::outcome`]): their
    /// likelihood is 1 − p·F instead of 1 − p. With every exposure 1 this is `fit`.
    pub fn fit_exposed<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        leads: &'a [f64],
        conversions: &'a [f64],
        exposure: Option<&[f64]>,
        start: Option<&Weights>,
    ) -> Result<Weights> {
        let mut problem = GroupedProblem::new(x, leads, conversions, exposure, self.alpha);
        self.fit_problem(&mut problem, x.ncols(), leads.iter().sum(), start)
    }

    /// Fits a problem built once (the cross-validation reuses each fold's across strengths:
    /// building it merges rows into patterns, a pass worth several evaluations), at this fit's
    /// strength. `p` is the number of rules, `total` the leads.
    fn fit_problem(
        &self,
        problem: &mut GroupedProblem,
        p: usize,
        total: f64,
        start: Option<&Weights>,
    ) -> Result<Weights> {
        use argmin::core::{Executor, State};
        use argmin::solver::linesearch::MoreThuenteLineSearch;
        use argmin::solver::quasinewton::LBFGS;

        problem.alpha = self.alpha;
        *problem.last.borrow_mut() = None;
        let problem = Borrowed(problem);
        let init: Array1<f64> = match start {
            Some(w) => w.coef.iter().chain([&w.intercept]).copied().collect(),
            None => Array1::zeros(p + 1),
        };
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
            // The bar LogisticFit sets linfa-logistic: ten times stricter than `converged`.
            .with_tolerance_grad(1e-5 * total.max(1.0).sqrt())
            .map_err(|e| Error::Fit(format!("logistic regression setup: {e}")))?;
        let result = Executor::new(problem, solver)
            .configure(|state| state.param(init).max_iters(self.max_iterations))
            .run()
            .map_err(|e| Error::Fit(format!("logistic regression failed: {e}")))?;
        let theta = result
            .state()
            .get_best_param()
            .cloned()
            .ok_or_else(|| Error::Fit("logistic regression returned no solution".into()))?;
        tracing::trace!(
            alpha = self.alpha,
            iterations = result.state().get_iter(),
            evaluations = ?result.state().get_func_counts(),
            "grouped fit"
        );
        let coef = theta.iter().take(p).copied().collect::<Vec<_>>();
        let intercept = theta[p];
        let problem = result
            .problem
            .problem
            .ok_or_else(|| Error::Fit("logistic regression lost its problem".into()))?;
        let (_, grad) = problem.0.evaluate(&theta);
        Ok(Weights {
            intercept,
            coef,
            gradient_norm: grad.dot(&grad).sqrt(),
        })
    }
}

/// Parameters, value and gradient of one evaluation.
type Evaluation = (Array1<f64>, f64, Array1<f64>);

/// The grouped objective for argmin; parameters are `[w..., b]`. Patterns without leads are
/// left out; columns are copied out contiguous so every pass runs over plain slices (ndarray's
/// matrix-vector product walks the rows of a column-major matrix with a stride, several times
/// slower). The solver asks for the value and the gradient at the same point one after the
/// other, so the last evaluation is kept.
///
/// With a window, one rule pattern appears once per exposure (leads of many ages), but z = b +
/// w·x depends on the pattern only. So the rows are merged into distinct patterns (the groups
/// are sorted, so a pattern's rows are adjacent), each pattern's leads and conversions added up
/// as if every outcome were final, and the immature rows kept aside as cells (pattern, leads
/// that have not converted, ln(1 − F)) that only correct the "never converts" term. A pass
/// then costs one dot product per pattern and two exponentials per cell, not a dot product per
/// (pattern, age): the windowed fit costs little more than the plain one.
struct GroupedProblem {
    columns: Vec<Vec<f64>>,
    leads: Vec<f64>,
    conversions: Vec<f64>,
    /// Immature cells: the non-converted leads' term −ln(1 − F·σ(z)) is softplus(z) −
    /// softplus(z + ln(1 − F)), whose derivative is σ(z) − σ(z + ln(1 − F)); both stay finite
    /// for any z. The softplus(z) part is in the pattern's `leads`.
    cells: Vec<Cell>,
    alpha: f64,
    last: std::cell::RefCell<Option<Evaluation>>,
}

/// Leads of one pattern and one exposure F < 1 that had not converted by as-of.
struct Cell {
    pattern: usize,
    rest: f64,
    /// 1 − F and its logarithm.
    keep: f64,
    shift: f64,
}

impl GroupedProblem {
    fn new(
        x: ArrayView2<f64>,
        leads: &[f64],
        conversions: &[f64],
        exposure: Option<&[f64]>,
        alpha: f64,
    ) -> Self {
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); x.ncols()];
        let (mut n, mut c, mut cells) = (Vec::new(), Vec::new(), Vec::new());
        let mut previous: Option<usize> = None;
        for g in (0..leads.len()).filter(|&g| leads[g] > 0.0) {
            // Without exposures every row is its own pattern; with them, compare by hand
            // (ndarray's row equality walks a general iterator, a fifth of a fit's time here).
            let same = exposure.is_some()
                && previous.is_some_and(|q| (0..x.ncols()).all(|j| x[[q, j]] == x[[g, j]]));
            if !same {
                for (col, &v) in columns.iter_mut().zip(x.row(g)) {
                    col.push(v);
                }
                n.push(0.0);
                c.push(0.0);
            }
            previous = Some(g);
            let pattern = n.len() - 1;
            n[pattern] += leads[g];
            c[pattern] += conversions[g];
            let f = exposure.map_or(1.0, |e| e[g]);
            let rest = leads[g] - conversions[g];
            if f < 1.0 && rest > 0.0 {
                cells.push(Cell {
                    pattern,
                    rest,
                    keep: 1.0 - f,
                    shift: exposure_shift(f),
                });
            }
        }
        GroupedProblem {
            columns,
            leads: n,
            conversions: c,
            cells,
            alpha,
            last: std::cell::RefCell::new(None),
        }
    }

    /// Value and gradient at `theta`, in one pass over the patterns and one over the cells.
    fn evaluate(&self, theta: &Array1<f64>) -> (f64, Array1<f64>) {
        if let Some((t, v, g)) = &*self.last.borrow() {
            if t == theta {
                return (*v, g.clone());
            }
        }
        let p = self.columns.len();
        let b = theta[p];
        let mut z = vec![b; self.leads.len()];
        for (col, &w) in self.columns.iter().zip(theta.iter()) {
            for (z, &x) in z.iter_mut().zip(col) {
                *z += w * x;
            }
        }
        let mut value = 0.0;
        // Immature leads had only part of their chance: take back the share of their "never
        // converts" term that the time they had cannot vouch for. `resid` becomes the residual
        // ∂value/∂z per pattern.
        let mut resid = vec![0.0; z.len()];
        // e^z once per pattern: a cell's softplus(z + ln(1 − F)) is then ln(1 + e^z·(1 − F)),
        // one logarithm and no exponential (for z below 30, far from overflow; above it, the
        // general form).
        let ez: Vec<f64> = if self.cells.is_empty() {
            Vec::new()
        } else {
            z.iter().map(|&z| z.min(30.0).exp()).collect()
        };
        for cell in &self.cells {
            let g = cell.pattern;
            let (softplus, sigma) = if z[g] < 30.0 {
                // ln(1 + t) rather than ln_1p(t): half the cost, and the value is off by at
                // most an ulp of 1 where t is tiny, far below what the solver resolves.
                let t = ez[g] * cell.keep;
                let u = 1.0 + t;
                (u.ln(), t / u)
            } else {
                softplus_sigmoid(z[g] + cell.shift)
            };
            value -= cell.rest * softplus;
            resid[g] -= cell.rest * sigma;
        }
        for (((r, &z), &n), &c) in resid
            .iter_mut()
            .zip(&z)
            .zip(&self.leads)
            .zip(&self.conversions)
        {
            let (softplus, sigma) = softplus_sigmoid(z);
            value += n * softplus - c * z;
            *r += n * sigma - c;
        }
        let mut grad = Array1::zeros(p + 1);
        let mut penalty = 0.0;
        for (j, col) in self.columns.iter().enumerate() {
            let w = theta[j];
            penalty += w * w;
            grad[j] = col.iter().zip(&resid).map(|(x, r)| x * r).sum::<f64>() + self.alpha * w;
        }
        grad[p] = resid.iter().sum();
        value += 0.5 * self.alpha * penalty;
        *self.last.borrow_mut() = Some((theta.clone(), value, grad.clone()));
        (value, grad)
    }
}

/// A problem lent to the solver, so it outlives one fit.
struct Borrowed<'a>(&'a mut GroupedProblem);

impl argmin::core::CostFunction for Borrowed<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, theta: &Array1<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.0.evaluate(theta).0)
    }
}

impl argmin::core::Gradient for Borrowed<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(
        &self,
        theta: &Array1<f64>,
    ) -> std::result::Result<Array1<f64>, argmin::core::Error> {
        Ok(self.0.evaluate(theta).1)
    }
}

/// ‖∇‖ of the objective above at (b, w): Σ(p−y)·x + α·w for the weights, Σ(p−y) for b.
pub fn gradient_norm(x: ArrayView2<f64>, y: &[bool], alpha: f64, b: f64, w: &[f64]) -> f64 {
    let w_arr = Array1::from(w.to_vec());
    let z = x.dot(&w_arr) + b;
    let resid: Array1<f64> = z
        .iter()
        .zip(y)
        .map(|(&z, &t)| sigmoid(z) - t as u8 as f64)
        .collect();
    let gw = x.t().dot(&resid) + &(w_arr * alpha);
    let gb = resid.sum();
    (gw.iter().map(|g| g * g).sum::<f64>() + gb * gb).sqrt()
}

/// ln(1 − F) for an exposure F in (0, 1]: −∞ for a full exposure.
pub fn exposure_shift(f: f64) -> f64 {
    if f >= 1.0 {
        f64::NEG_INFINITY
    } else {
        (-f).ln_1p()
    }
}

/// log(1 + e^z) and σ(z) from one exponential, without overflow.
#[inline]
fn softplus_sigmoid(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let sigma = if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (z.max(0.0) + e.ln_1p(), sigma)
}

/// log(1 + e^z) without overflow.
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The negative log-likelihood of `n` leads at probability `prob` of which `c` converted and
/// the others had the exposure `f` (1 − prob·f each; `f` = 1 for a final outcome).
pub fn exposed_log_loss(prob: f64, n: u64, c: u64, f: f64) -> f64 {
    let eps = 1e-15;
    let p = prob.clamp(eps, 1.0 - eps);
    // Most held-out groups are all of one outcome: skip the logarithm a zero count multiplies.
    let converted = if c > 0 { -(c as f64) * p.ln() } else { 0.0 };
    let rest = if n > c {
        -((n - c) as f64) * (1.0 - f.min(1.0) * p).max(eps).ln()
    } else {
        0.0
    };
    converted + rest
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Assigns each lead a fold in `0..k`, stratified by outcome and shuffled with `seed`, so that
/// every fold holds about the same share of conversions. Training deals folds per rule pattern
/// instead ([`crate::group::Groups::split_folds`]); this per-lead split serves held-out tests.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pos: Vec<usize> = (0..y.len()).filter(|&i| y[i]).collect();
    let mut neg: Vec<usize> = (0..y.len()).filter(|&i| !y[i]).collect();
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let mut fold = vec![0; y.len()];
    for (slot, &i) in pos.iter().chain(neg.iter()).enumerate() {
        fold[i] = slot % k;
    }
    fold
}

/// Copies the given rows into a new column-major matrix.
pub fn take_rows(x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), x.ncols()).f(), |(i, j)| x[[rows[i], j]])
}

/// One strength tried and its cross-validated log loss (mean per lead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlphaScore {
    pub alpha: f64,
    pub cv_log_loss: f64,
}

/// The outcome of the regularisation search: the table, the choice, and the fold models fitted
/// with the chosen strength (reused to score leads out of fold).
#[derive(Debug, Clone)]
pub struct Search {
    pub table: Vec<AlphaScore>,
    pub alpha: f64,
    pub fold_weights: Vec<Weights>,
}

/// The default grid of strengths: half-decades from 0.01 to 1000 (α is on the summed loss).
pub fn default_alphas() -> Vec<f64> {
    (0..=10)
        .map(|i| 10f64.powf(-2.0 + 0.5 * i as f64))
        .collect()
}

/// Fits the strengths from strongest to weakest on every fold and keeps the one with the
/// lowest mean out-of-fold log loss. Works on grouped leads: fold `f` trains on every pattern's
/// counts outside `f` and is scored on the counts inside it. Each fold starts from its previous
/// solution; folds run in parallel threads and are combined in a fixed order, so results do
/// not depend on timing.
///
/// Weak penalties are the slow fits (ill-conditioned, up to 1000 L-BFGS iterations), and the
/// loss curve has one valley, so the search stops once the loss has risen on two successive
/// weaker strengths; [`Search::table`] lists what was tried.
pub fn search_alpha(
    groups: &Groups,
    folds: &FoldCounts,
    alphas: &[f64],
    progress: &dyn Progress,
) -> Result<Search> {
    let k = folds.k;
    let mut alphas = alphas.to_vec();
    alphas.sort_by(|a, b| b.total_cmp(a));
    alphas.dedup();
    let total = groups.total_leads() as f64;
    // Per fold: training (leads, conversions) per pattern, as the solver's weights.
    let splits: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
        .map(|f| {
            let leads: Vec<f64> = (0..groups.len())
                .map(|p| (groups.leads[p] - folds.leads(p, f)) as f64)
                .collect();
            let conv: Vec<f64> = (0..groups.len())
                .map(|p| (groups.conversions[p] - folds.conversions(p, f)) as f64)
                .collect();
            let (n, c) = (leads.iter().sum::<f64>(), conv.iter().sum::<f64>());
            if c == 0.0 || c == n {
                return Err(Error::Fit(format!(
                    "fold {f} has only one outcome in its training rows; use fewer --folds"
                )));
            }
            Ok((leads, conv))
        })
        .collect::<Result<_>>()?;
    // Each fold's problem, built once and refitted at every strength.
    let mut problems: Vec<GroupedProblem> = splits
        .iter()
        .map(|(leads, conv)| {
            GroupedProblem::new(groups.x.view(), leads, conv, groups.exposure_if_any(), 0.0)
        })
        .collect();
    let p = groups.x.ncols();
    let mut table = Vec::new();
    let mut best: Option<(f64, f64, Vec<Weights>)> = None;
    let mut previous: Vec<Option<Weights>> = vec![None; k];
    let mut rises = 0;
    // The total is the whole grid; the search usually stops earlier.
    progress.begin("cross-validation", Some((alphas.len() * k) as u64));
    for alpha in alphas {
        let fitted: Vec<Result<(f64, Weights)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = splits
                .iter()
                .zip(problems.iter_mut())
                .zip(&previous)
                .enumerate()
                .map(|(f, (((leads, _), problem), start))| {
                    scope.spawn(move || {
                        let w = GroupedFit::new(alpha).fit_problem(
                            problem,
                            p,
                            leads.iter().sum(),
                            start.as_ref(),
                        )?;
                        let z = w.logits(groups.x.view());
                        let loss: f64 = (0..groups.len())
                            .map(|p| {
                                let (n, c) = (folds.leads(p, f), folds.conversions(p, f));
                                if n == 0 {
                                    return 0.0;
                                }
                                // The held-out likelihood of what was observed by as-of:
                                // the fit's own objective (plain log loss without a window).
                                let prob = sigmoid(z[p]);
                                exposed_log_loss(prob, n, c, groups.exposure[p])
                            })
                            .sum();
                        progress.advance(1);
                        Ok((loss, w))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fold thread panicked"))
                .collect()
        });
        let fitted: Vec<(f64, Weights)> = fitted.into_iter().collect::<Result<_>>()?;
        let loss = fitted.iter().map(|(l, _)| l).sum::<f64>() / total;
        tracing::debug!(alpha, cv_log_loss = loss, "penalty tried on {k} folds");
        previous = fitted.iter().map(|(_, w)| Some(w.clone())).collect();
        table.push(AlphaScore {
            alpha,
            cv_log_loss: loss,
        });
        match &best {
            Some((_, best_loss, _)) if loss >= *best_loss => rises += 1,
            _ => {
                rises = 0;
                best = Some((alpha, loss, fitted.into_iter().map(|(_, w)| w).collect()));
            }
        }
        if rises >= 2 {
            break;
        }
    }
    progress.end();
    let (alpha, _, fold_weights) = best.ok_or_else(|| {
        Error::Fit(
            "no regularisation strengths to try; pass --alphas with at least one value".into(),
        )
    })?;
    Ok(Search {
        table,
        alpha,
        fold_weights,
    })
}

/// Uncertainty of the points: refits on `resamples` bootstrap samples of the leads (drawn with
/// replacement; resample `b` is seeded by `seed` and `b`, so threads do not change results) at
/// strength `alpha`, each starting from the final fit.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub alpha: f64,
    pub scale: crate::points::PointsScale,
    pub resamples: usize,
    pub seed: u64,
}

impl Bootstrap {
    /// Per rule, the 5th and 95th percentile of its points over the refits: a 90% interval.
    pub fn points(
        &self,
        x: ArrayView2<f64>,
        y: &[bool],
        start: &Weights,
        progress: &dyn Progress,
    ) -> Result<Vec<(i64, i64)>> {
        let Bootstrap {
            alpha,
            scale,
            resamples,
            seed,
        } = *self;
        progress.begin("bootstrap refits", Some(resamples as u64));
        // Each refit draws the leads as a per-lead bootstrap does (n indices with replacement),
        // then fits the drawn leads grouped by pattern: the same weights as refitting them one
        // by one, at a cost that does not grow with the leads beyond the draws.
        let (groups, lead_pattern) = crate::group::Groups::from_rows(x, y);
        let (groups, lead_pattern) = (&groups, &lead_pattern);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let fits: Vec<Result<Vec<i64>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (t..resamples)
                            .step_by(threads)
                            .map(|b| {
                                let mut rng = ChaCha8Rng::seed_from_u64(
                                    seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                                );
                                let mut leads = vec![0.0; groups.len()];
                                let mut conversions = vec![0.0; groups.len()];
                                for _ in 0..y.len() {
                                    let i = rng.gen_range(0..y.len());
                                    let g = lead_pattern[i] as usize;
                                    leads[g] += 1.0;
                                    conversions[g] += f64::from(u8::from(y[i]));
                                }
                                let w = GroupedFit::new(alpha).fit(
                                    groups.x.view(),
                                    &leads,
                                    &conversions,
                                    Some(start),
                                )?;
                                progress.advance(1);
                                Ok((b, w.coef.iter().map(|&c| scale.points(c).0).collect()))
                            })
                            .collect::<Vec<Result<(usize, Vec<i64>)>>>()
                    })
                })
                .collect();
            let mut all: Vec<Result<(usize, Vec<i64>)>> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("bootstrap thread panicked"))
                .collect();
            all.sort_by_key(|r| r.as_ref().map_or(0, |(b, _)| *b));
            all.into_iter().map(|r| r.map(|(_, p)| p)).collect()
        });
        progress.end();
        let fits: Vec<Vec<i64>> = fits.into_iter().collect::<Result<_>>()?;
        if fits.is_empty() {
            return Ok(start
                .coef
                .iter()
                .map(|&c| (scale.points(c).0, scale.points(c).0))
                .collect());
        }
        Ok((0..start.coef.len())
            .map(|j| {
                let mut v: Vec<i64> = fits.iter().map(|f| f[j]).collect();
                v.sort_unstable();
                let last = (v.len() - 1) as f64;
                (
                    v[(0.05 * last).floor() as usize],
                    v[(0.95 * last).ceil() as usize],
                )
            })
            .collect())
    }
}

/// The mean of several fits' weights (a warm start for the final fit).
pub fn mean_weights(all: &[Weights]) -> Option<Weights> {
    let first = all.first()?;
    let k = all.len() as f64;
    Some(Weights {
        intercept: all.iter().map(|w| w.intercept).sum::<f64>() / k,
        coef: (0..first.coef.len())
            .map(|j| all.iter().map(|w| w.coef[j]).sum::<f64>() / k)
            .collect(),
        gradient_norm: f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;

    /// linfa-logistic picks the majority label as positive: the weights must describe
    /// P(converted) both when conversions are rare and when they are common.
    #[test]
    fn weights_describe_conversion_whichever_class_is_larger() {
        // 50 copies of 8 leads, so the light penalty barely matters.
        let base = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let x = Array2::from_shape_fn((400, 1), |(i, _)| base[i % 8]);
        let rare = [true, true, false, false, false, false, false, false];
        let common = [true, true, true, true, false, true, false, true];
        for pattern in [rare, common] {
            let y: Vec<bool> = (0..400).map(|i| pattern[i % 8]).collect();
            let w = LogisticFit::new(0.1).fit(x.view(), &y).unwrap();
            let p1 = sigmoid(w.intercept + w.coef[0]);
            let p0 = sigmoid(w.intercept);
            let rate1 = (0..8).filter(|&i| base[i] == 1.0 && pattern[i]).count() as f64 / 4.0;
            let rate0 = (0..8).filter(|&i| base[i] == 0.0 && pattern[i]).count() as f64 / 4.0;
            // The fit reproduces the two group rates: P(converted), not P(not converted).
            assert!((p1 - rate1).abs() < 0.01, "p1 {p1} vs {rate1}");
            assert!((p0 - rate0).abs() < 0.01, "p0 {p0} vs {rate0}");
            assert!(w.converged(400));
        }
    }

    /// The bootstrap refits drawn leads grouped by pattern: its intervals are those of
    /// refitting the same draws lead by lead with linfa-logistic.
    #[test]
    fn grouped_bootstrap_equals_per_lead_refits() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 800;
        let x = Array2::from_shape_fn((n, 3).f(), |(_, j)| match j {
            0 | 1 => rng.gen_range(0..2) as f64,
            _ => rng.gen_range(0..4) as f64,
        });
        let y: Vec<bool> = (0..n)
            .map(|i| {
                let z = -1.5 + 1.0 * x[[i, 0]] - 0.6 * x[[i, 1]] + 0.3 * x[[i, 2]];
                rng.gen::<f64>() < sigmoid(z)
            })
            .collect();
        let scale = crate::points::PointsScale::new(20.0).unwrap();
        let start = LogisticFit::new(1.0).fit(x.view(), &y).unwrap();
        let bootstrap = Bootstrap {
            alpha: 1.0,
            scale,
            resamples: 12,
            seed: 3,
        };
        let got = bootstrap
            .points(x.view(), &y, &start, &crate::progress::Silent)
            .unwrap();
        // The reference: the same draws, each refitted lead by lead.
        let fits: Vec<Vec<i64>> = (0..bootstrap.resamples)
            .map(|b| {
                let mut rng =
                    ChaCha8Rng::seed_from_u64(3 ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
                let yb: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
                let w = LogisticFit::new(1.0)
                    .fit_from(take_rows(x.view(), &rows).view(), &yb, Some(&start))
                    .unwrap();
                w.coef.iter().map(|&c| scale.points(c).0).collect()
            })
            .collect();
        let want: Vec<(i64, i64)> = (0..3)
            .map(|j| {
                let mut v: Vec<i64> = fits.iter().map(|f| f[j]).collect();
                v.sort_unstable();
                (v[0], v[11])
            })
            .collect();
        assert_eq!(got, want);
        assert!(
            got.iter().any(|(lo, hi)| lo < hi),
            "the refits vary: {got:?}"
        );
    }

    /// The grouped fit minimises linfa-logistic's objective: on leads small enough for both,
    /// its weights equal linfa-logistic's (the reference) fitted on the leads one by one, for
    /// rare and common conversions, strong and weak penalties, 0/1 and per-unit features.
    #[test]
    fn grouped_fit_equals_linfa_on_the_leads() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 3000;
        let x = Array2::from_shape_fn((n, 4).f(), |(_, j)| match j {
            0 | 1 => rng.gen_range(0..2) as f64,
            2 => rng.gen_range(0..4) as f64,
            _ => rng.gen_range(0..6) as f64,
        });
        for base in [-3.0, 0.8] {
            let y: Vec<bool> = (0..n)
                .map(|i| {
                    let z = base + 1.2 * x[[i, 0]] - 0.7 * x[[i, 1]]
                        + 0.4 * x[[i, 2]]
                        + 0.1 * x[[i, 3]];
                    rng.gen::<f64>() < sigmoid(z)
                })
                .collect();
            let (groups, _) = Groups::from_rows(x.view(), &y);
            assert!(groups.len() < 200, "{} patterns", groups.len());
            let leads: Vec<f64> = groups.leads.iter().map(|&v| v as f64).collect();
            let conv: Vec<f64> = groups.conversions.iter().map(|&v| v as f64).collect();
            for alpha in [0.01, 1.0, 100.0] {
                let reference = LogisticFit::new(alpha).fit(x.view(), &y).unwrap();
                let grouped = GroupedFit::new(alpha)
                    .fit(groups.x.view(), &leads, &conv, None)
                    .unwrap();
                assert!(grouped.converged(n) && reference.converged(n));
                // The gradient of the per-lead objective is as small at the grouped solution.
                let g = gradient_norm(x.view(), &y, alpha, grouped.intercept, &grouped.coef);
                assert!(g < 1e-4 * (n as f64).sqrt(), "gradient {g}");
                let diffs = reference
                    .coef
                    .iter()
                    .zip(&grouped.coef)
                    .map(|(a, b)| (a - b).abs())
                    .chain([(reference.intercept - grouped.intercept).abs()]);
                for d in diffs {
                    assert!(
                        d < 1e-5,
                        "base {base} alpha {alpha}: {reference:?} vs {grouped:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let y: Vec<bool> = (0..100).map(|i| i % 4 == 0).collect();
        let a = stratified_folds(&y, 5, 3);
        assert_eq!(a, stratified_folds(&y, 5, 3));
        assert_ne!(a, stratified_folds(&y, 5, 4));
        for f in 0..5 {
            let pos = (0..100).filter(|&i| a[i] == f && y[i]).count();
            assert_eq!(pos, 5);
        }
    }
}
