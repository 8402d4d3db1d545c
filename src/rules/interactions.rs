//! `--propose-interactions N`: AND rules of two existing rules, chosen by greedy forward search
//! on cross-validated log loss. Takes the rules and the leads grouped by rule pattern
//! ([`Groups`], after per-unit caps) with training's folds, seed and strengths; gives the AND
//! rules kept, as ordinary compound rules (`all = [...]`), and the record of the search
//! ([`InteractionSearch`]). Nothing here reads a lead: the AND of two 0/1 rule features is the
//! product of two pattern columns, so every candidate is evaluated on the pattern table.
//!
//! Which pairs: two rules whose feature is 1 or 0 and that can be written as one `all = [...]`
//! rule, i.e. simple rules (a range, `one_of`, `is_missing`) and `all` rules (their parts are
//! joined). Per-unit rules (points per unit; a part is 1 or 0) and `any` rules (an AND of an
//! OR would nest) are not paired, nor two rules reading a common column (their AND is a
//! narrower band of one column, not an interaction), nor a text rule that ignores case with one
//! that does not (a rules file sets `ignore_case` for the whole rule). A pair is a candidate
//! when the AND fires on at least `m` leads and each rule fires without the other on at least
//! `m` leads, `m` = max(30, 1% of the leads), the bar proposed rules meet: an effect "on top of
//! the parts" needs leads with one part only. A pair whose AND is already a rule (the same
//! column on every pattern, e.g. a compound rule given in the rules file) is skipped.
//!
//! Each step:
//! 1. The current model (rules plus the ANDs kept so far) is fitted on all leads at the
//!    strength training's cross-validation chose for the rules alone. Every candidate gets a
//!    score test (Rao): U²/I, U the gradient of the log-likelihood in the new feature's weight
//!    at 0, I its efficient information (the Fisher information left once the other weights
//!    adjust, I_cc − I_c·H⁻¹·I_·c, H the penalised Hessian). The [`SHORTLIST`] best go on.
//! 2. Each shortlisted pair is added and every fold refitted (warm start from the fold's current
//!    weights, the new weight at 0); the held-out log loss of every lead is compared with the
//!    current model's. The pair with the lowest cross-validated loss is the step's pick.
//! 3. It is kept only if the mean drop of the per-lead held-out log loss exceeds `z` standard
//!    errors of the per-lead differences, `z` the one-sided normal quantile at 5% / M for the M
//!    candidate pairs of the step (Bonferroni: the best of M pairs gains by chance, and the
//!    bar keeps the chance of keeping a pair when there is no interaction at all below 5% per
//!    step). Otherwise the search stops; it also stops after N pairs or when none is left.
//!
//! Every step runs in a fixed order with fold threads joined in order, so the same data,
//! options and seed give the same rules.

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use super::{Condition, Part, Rule};
use crate::error::{Error, Result};
use crate::fit::{self, sigmoid, GroupedFit, Weights};
use crate::group::{FoldCounts, Groups};
use crate::progress::Progress;

/// Pairs that go from the score test to cross-validated fits at each step.
pub const SHORTLIST: usize = 5;
/// The chance, per step, of keeping a pair when no pair interacts.
pub const FAMILY_ERROR: f64 = 0.05;
/// A candidate's AND, and each rule without the other, fire on at least this many leads…
pub const MIN_LEADS: u64 = 30;
/// …and at least this share of the leads.
pub const MIN_SHARE: f64 = 0.01;

/// The record of a search, kept in the model (`training.interactions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionSearch {
    /// N of `--propose-interactions N`.
    pub asked: usize,
    /// Leads the AND and each rule alone must fire on for a pair to be a candidate.
    pub min_leads: u64,
    /// Candidate pairs at the start.
    pub pairs: usize,
    /// The strength the fits of the search use (cross-validation's choice for the rules alone).
    pub alpha: f64,
    /// Each step's best pair, kept or not (the last one not kept ends the search).
    pub steps: Vec<InteractionStep>,
}

/// One step of the search: its best pair and whether it passed the bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionStep {
    /// The AND rule's name.
    pub rule: String,
    /// Candidate pairs at this step (M of the Bonferroni bar).
    pub pairs: usize,
    /// Cross-validated log loss per lead without and with the pair.
    pub cv_log_loss_before: f64,
    pub cv_log_loss: f64,
    /// Standard error of the mean per-lead difference.
    pub standard_error: f64,
    /// The drop needed: z(5% / pairs) standard errors.
    pub bar: f64,
    pub kept: bool,
}

/// The outcome of [`search`]: the AND rules kept (as rules and as the pairs of rule indices
/// they join) and the record.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub rules: Vec<Rule>,
    pub pairs: Vec<(usize, usize)>,
    pub record: InteractionSearch,
}

/// The parts a rule contributes to an AND: itself as one part, or an `all` rule's parts;
/// `None` for rules that cannot be a part (per-unit, `any`, event rules: a part reads a column
/// of the leads file, which an event rule's number is not).
fn parts_of(rule: &Rule) -> Option<Vec<Part>> {
    if rule.event.is_some() {
        return None;
    }
    match &rule.condition {
        Condition::Range { .. }
        | Condition::OneOf { .. }
        | Condition::IsMissing
        | Condition::WithinDays { .. }
        | Condition::OlderThanDays { .. } => Some(vec![Part {
            column: rule.column.clone(),
            condition: rule.condition.clone(),
        }]),
        Condition::All { parts } => Some(parts.clone()),
        Condition::PerUnit { .. } | Condition::Any { .. } => None,
    }
}

/// `Some(ignore_case)` of the parts' `one_of` conditions, `None` when they have none.
fn text_case(parts: &[Part]) -> Option<bool> {
    parts.iter().find_map(|p| match &p.condition {
        Condition::OneOf { ignore_case, .. } => Some(*ignore_case),
        _ => None,
    })
}

/// The AND of rules `a` and `b` as one `all` rule, if it can be written as one (see the module
/// docs); its name joins theirs with "and", made unique among `taken`.
pub fn and_rule(a: &Rule, b: &Rule, taken: &[&str]) -> Option<Rule> {
    let (pa, pb) = (parts_of(a)?, parts_of(b)?);
    if pa.iter().any(|p| pb.iter().any(|q| q.column == p.column)) {
        return None;
    }
    if let (Some(x), Some(y)) = (text_case(&pa), text_case(&pb)) {
        if x != y {
            return None;
        }
    }
    let base = format!("{} and {}", a.name, b.name);
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name.as_str()) {
        n += 1;
        name = format!("{base} ({n})");
    }
    Some(Rule {
        name,
        column: String::new(),
        condition: Condition::All {
            parts: pa.into_iter().chain(pb).collect(),
        },
        group: if a.group == b.group {
            a.group.clone()
        } else {
            None
        },
        event: None,
    })
}

/// `x` with one more column per pair: the product of the pair's columns (the AND of two 0/1
/// features), column-major.
pub fn with_products(x: ArrayView2<f64>, pairs: &[(usize, usize)]) -> Array2<f64> {
    let p = x.ncols();
    Array2::from_shape_fn((x.nrows(), p + pairs.len()).f(), |(g, j)| {
        match j.checked_sub(p) {
            None => x[[g, j]],
            Some(c) => and(x[[g, pairs[c].0]], x[[g, pairs[c].1]]),
        }
    })
}

fn and(u: f64, v: f64) -> f64 {
    f64::from(u8::from(u > 0.0 && v > 0.0))
}

/// A candidate pair: the rules it joins and its AND rule.
#[derive(Debug, Clone)]
struct Candidate {
    i: usize,
    j: usize,
    rule: Rule,
    /// Rows of the pattern table where the AND fires.
    rows: Vec<usize>,
}

/// Runs the search (see the module docs) for at most `asked` pairs of `rules` on `groups`
/// (one column per rule) with training's `folds`, `seed` and strengths `alphas`. An error when
/// no two rules can be paired at all, saying why.
pub fn search(
    groups: &Groups,
    rules: &[Rule],
    asked: usize,
    folds: usize,
    seed: u64,
    alphas: &[f64],
    progress: &dyn Progress,
) -> Result<Proposed> {
    let total = groups.total_leads();
    let min_leads = MIN_LEADS.max((MIN_SHARE * total as f64).ceil() as u64);
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    // Leads each column fires on, to find a rule an AND duplicates without comparing them all.
    let fires: Vec<u64> = (0..rules.len())
        .map(|c| {
            (0..groups.len())
                .filter(|&g| groups.x[[g, c]] > 0.0)
                .map(|g| groups.leads[g])
                .sum()
        })
        .collect();
    let mut pairable = 0;
    let mut candidates = Vec::new();
    for i in 0..rules.len() {
        for j in i + 1..rules.len() {
            let Some(rule) = and_rule(&rules[i], &rules[j], &names) else {
                continue;
            };
            pairable += 1;
            let (mut both, mut only_i, mut only_j) = (0, 0, 0);
            let mut rows = Vec::new();
            for g in 0..groups.len() {
                match (groups.x[[g, i]] > 0.0, groups.x[[g, j]] > 0.0) {
                    (true, true) => {
                        both += groups.leads[g];
                        rows.push(g);
                    }
                    (true, false) => only_i += groups.leads[g],
                    (false, true) => only_j += groups.leads[g],
                    (false, false) => {}
                }
            }
            if both.min(only_i).min(only_j) < min_leads {
                continue;
            }
            // An AND that is already a rule (a compound rule of the file, say) adds nothing.
            let duplicate = (0..rules.len()).any(|c| {
                fires[c] == both
                    && (0..groups.len())
                        .all(|g| groups.x[[g, c]] == and(groups.x[[g, i]], groups.x[[g, j]]))
            });
            if !duplicate {
                candidates.push(Candidate { i, j, rule, rows });
            }
        }
    }
    if pairable == 0 {
        return Err(Error::Option {
            option: "--propose-interactions",
            message: format!(
                "none of the {} rules can be paired: an AND pairs two rules whose feature is 1 \
                 or 0 (a range, one_of, is_missing or all rule) on different columns; per-unit \
                 and `any` rules are not paired. Leave out --propose-interactions, or add such \
                 rules",
                rules.len()
            ),
        });
    }
    let pairs = candidates.len();
    let k = folds;
    let fold_counts = groups.split_folds(k, seed);
    let base = fit::search_alpha(groups, &fold_counts, alphas, &crate::progress::Silent)?;
    let cv = Cv::new(groups, &fold_counts, base.alpha)?;
    let mut x = groups.x.clone();
    let mut fold_weights = base.fold_weights;
    let mut held_out = cv.held_out(x.view(), &fold_weights);
    let mut kept: Vec<Candidate> = Vec::new();
    let mut steps = Vec::new();
    progress.begin("interaction search", Some(asked as u64));
    while kept.len() < asked && !candidates.is_empty() {
        let m = candidates.len();
        let full = cv.full_fit(x.view(), &fold_weights)?;
        let stats = cv.score_tests(x.view(), &full, &candidates);
        let mut order: Vec<usize> = (0..m).collect();
        // Best first; ties in the order the rules were given.
        order.sort_by(|&a, &b| stats[b].total_cmp(&stats[a]).then(a.cmp(&b)));
        let mut best: Option<(usize, Comparison, Vec<Weights>, Vec<f64>)> = None;
        for &c in order.iter().take(SHORTLIST) {
            let wider = with_column(x.view(), &candidates[c]);
            let starts: Vec<Weights> = fold_weights
                .iter()
                .map(|w| Weights {
                    intercept: w.intercept,
                    coef: w.coef.iter().copied().chain([0.0]).collect(),
                    gradient_norm: f64::NAN,
                })
                .collect();
            let fitted = cv.fold_fits(wider.view(), &starts)?;
            let probs = cv.held_out(wider.view(), &fitted);
            let comparison = cv.compare(&held_out, &probs);
            if best.as_ref().is_none_or(|b| comparison.after < b.1.after) {
                best = Some((c, comparison, fitted, probs));
            }
        }
        let Some((c, comparison, fitted, probs)) = best else {
            break;
        };
        let z = Normal::new(0.0, 1.0)
            .expect("standard normal")
            .inverse_cdf(1.0 - FAMILY_ERROR / m as f64);
        let bar = z * comparison.standard_error;
        let pass = comparison.before - comparison.after > bar;
        let mut chosen = candidates.remove(c);
        // Rule names may hold "and": two pairs can read alike ("A and B" + "C", "A" + "B and C").
        let base = chosen.rule.name.clone();
        let mut n = 1;
        while kept.iter().any(|k| k.rule.name == chosen.rule.name) {
            n += 1;
            chosen.rule.name = format!("{base} ({n})");
        }
        tracing::info!(
            rule = %chosen.rule.name,
            cv_log_loss_before = comparison.before,
            cv_log_loss = comparison.after,
            bar,
            kept = pass,
            "interaction step"
        );
        steps.push(InteractionStep {
            rule: chosen.rule.name.clone(),
            pairs: m,
            cv_log_loss_before: comparison.before,
            cv_log_loss: comparison.after,
            standard_error: comparison.standard_error,
            bar,
            kept: pass,
        });
        if !pass {
            break;
        }
        x = with_column(x.view(), &chosen);
        fold_weights = fitted;
        held_out = probs;
        kept.push(chosen);
        progress.advance(1);
    }
    progress.end();
    Ok(Proposed {
        pairs: kept.iter().map(|c| (c.i, c.j)).collect(),
        rules: kept.into_iter().map(|c| c.rule).collect(),
        record: InteractionSearch {
            asked,
            min_leads,
            pairs,
            alpha: base.alpha,
            steps,
        },
    })
}

/// `x` with the candidate's AND as one more column.
fn with_column(x: ArrayView2<f64>, c: &Candidate) -> Array2<f64> {
    with_products(x, &[(c.i, c.j)])
}

/// Held-out log loss per lead of the current model and of a candidate's, and the standard
/// error of the mean per-lead difference.
#[derive(Debug, Clone, Copy)]
struct Comparison {
    before: f64,
    after: f64,
    standard_error: f64,
}

/// The folds and strength every fit of the search uses.
struct Cv<'a> {
    groups: &'a Groups,
    folds: &'a FoldCounts,
    alpha: f64,
    /// Per fold: training leads and conversions per pattern row.
    splits: Vec<(Vec<f64>, Vec<f64>)>,
}

/// The clamp of [`fit::exposed_log_loss`].
const EPS: f64 = 1e-15;

/// The held-out loss of one converted lead and of one that had not converted (with exposure
/// `f`) at probability `prob`: the terms of [`fit::exposed_log_loss`].
fn lead_losses(prob: f64, f: f64) -> (f64, f64) {
    let p = prob.clamp(EPS, 1.0 - EPS);
    (-p.ln(), -(1.0 - f.min(1.0) * p).max(EPS).ln())
}

impl<'a> Cv<'a> {
    fn new(groups: &'a Groups, folds: &'a FoldCounts, alpha: f64) -> Result<Cv<'a>> {
        let splits = (0..folds.k)
            .map(|f| {
                let leads = (0..groups.len())
                    .map(|p| (groups.leads[p] - folds.leads(p, f)) as f64)
                    .collect();
                let conv = (0..groups.len())
                    .map(|p| (groups.conversions[p] - folds.conversions(p, f)) as f64)
                    .collect();
                (leads, conv)
            })
            .collect();
        Ok(Cv {
            groups,
            folds,
            alpha,
            splits,
        })
    }

    /// Every fold refitted on its training rows of `x`, from `starts`; folds in parallel
    /// threads, joined in order.
    fn fold_fits(&self, x: ArrayView2<f64>, starts: &[Weights]) -> Result<Vec<Weights>> {
        let exposure = self.groups.exposure_if_any();
        let fit = GroupedFit::new(self.alpha);
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .splits
                .iter()
                .zip(starts)
                .map(|((leads, conv), start)| {
                    scope.spawn(move || {
                        fit.fit_exposed(x.view(), leads, conv, exposure, Some(start))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fold thread panicked"))
                .collect()
        })
    }

    /// The fit on every lead, from the mean of the fold fits.
    fn full_fit(&self, x: ArrayView2<f64>, fold_weights: &[Weights]) -> Result<Weights> {
        let leads: Vec<f64> = self.groups.leads.iter().map(|&v| v as f64).collect();
        let conv: Vec<f64> = self.groups.conversions.iter().map(|&v| v as f64).collect();
        GroupedFit::new(self.alpha).fit_exposed(
            x.view(),
            &leads,
            &conv,
            self.groups.exposure_if_any(),
            fit::mean_weights(fold_weights).as_ref(),
        )
    }

    /// Each pattern row's probability under each fold's model, at `row * k + fold`.
    fn held_out(&self, x: ArrayView2<f64>, fold_weights: &[Weights]) -> Vec<f64> {
        let k = self.folds.k;
        let mut probs = vec![0.0; self.groups.len() * k];
        for (f, w) in fold_weights.iter().enumerate() {
            for (g, z) in w.logits(x).into_iter().enumerate() {
                probs[g * k + f] = sigmoid(z);
            }
        }
        probs
    }

    /// The held-out loss per lead before and after, and the standard error of the mean of the
    /// per-lead differences (leads of one pattern, fold and outcome share their difference).
    fn compare(&self, before: &[f64], after: &[f64]) -> Comparison {
        let k = self.folds.k;
        let (mut n_all, mut sum_before, mut sum_after, mut sum_d, mut sum_d2) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        for g in 0..self.groups.len() {
            let f_exp = self.groups.exposure[g];
            for f in 0..k {
                let n = self.folds.leads(g, f);
                if n == 0 {
                    continue;
                }
                let c = self.folds.conversions(g, f) as f64;
                let rest = (n as f64) - c;
                let (b1, b0) = lead_losses(before[g * k + f], f_exp);
                let (a1, a0) = lead_losses(after[g * k + f], f_exp);
                n_all += n as f64;
                sum_before += c * b1 + rest * b0;
                sum_after += c * a1 + rest * a0;
                let (d1, d0) = (a1 - b1, a0 - b0);
                sum_d += c * d1 + rest * d0;
                sum_d2 += c * d1 * d1 + rest * d0 * d0;
            }
        }
        let mean = sum_d / n_all;
        let var = ((sum_d2 / n_all - mean * mean) * n_all / (n_all - 1.0)).max(0.0);
        Comparison {
            before: sum_before / n_all,
            after: sum_after / n_all,
            standard_error: (var / n_all).sqrt(),
        }
    }

    /// Each candidate's score statistic U²/I at the fit `w` on every lead (see the module
    /// docs). Curvature weights are n·σ(1 − σ), the binomial information, also for immature
    /// leads (whose exact curvature is smaller): the statistic only ranks candidates.
    fn score_tests(&self, x: ArrayView2<f64>, w: &Weights, candidates: &[Candidate]) -> Vec<f64> {
        let g_len = self.groups.len();
        let q = x.ncols() + 1;
        let z = w.logits(x);
        let mut resid = vec![0.0; g_len];
        let mut weight = vec![0.0; g_len];
        for g in 0..g_len {
            let s = sigmoid(z[g]);
            let n = self.groups.leads[g] as f64;
            let c = self.groups.conversions[g] as f64;
            let f = self.groups.exposure[g];
            // ∂(log-likelihood)/∂z: converted leads c·(1 − σ), the others −(n − c)·F·σ(1 − σ)
            // / (1 − F·σ), which is −(n − c)·σ for a final outcome.
            let rest = if f >= 1.0 {
                (n - c) * s
            } else {
                (n - c) * f * s * (1.0 - s) / (1.0 - f * s).max(EPS)
            };
            resid[g] = c * (1.0 - s) - rest;
            weight[g] = n * s * (1.0 - s);
        }
        // Column a of [x, 1] at row g.
        let col = |a: usize, g: usize| if a + 1 == q { 1.0 } else { x[[g, a]] };
        let mut h = Array2::<f64>::zeros((q, q));
        for a in 0..q {
            for b in a..q {
                let v: f64 = (0..g_len).map(|g| weight[g] * col(a, g) * col(b, g)).sum();
                h[[a, b]] = v;
                h[[b, a]] = v;
            }
            if a + 1 < q {
                h[[a, a]] += self.alpha;
            }
        }
        let inverse = {
            use linfa_linalg::cholesky::InverseC;
            h.invc().ok()
        };
        candidates
            .iter()
            .map(|c| {
                let u: f64 = c.rows.iter().map(|&g| resid[g]).sum();
                let v: Vec<f64> = (0..q)
                    .map(|a| c.rows.iter().map(|&g| weight[g] * col(a, g)).sum())
                    .collect();
                let own = c.rows.iter().map(|&g| weight[g]).sum::<f64>() + self.alpha;
                let explained = inverse.as_ref().map_or(0.0, |inv| {
                    (0..q)
                        .map(|a| v[a] * (0..q).map(|b| inv[[a, b]] * v[b]).sum::<f64>())
                        .sum()
                });
                let info = own - explained;
                if info > 1e-9 * own {
                    u * u / info
                } else {
                    0.0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, column: &str, condition: Condition) -> Rule {
        Rule {
            name: name.into(),
            column: column.into(),
            condition,
            group: None,
            event: None,
        }
    }

    #[test]
    fn and_rules_join_parts_and_refuse_what_cannot_be_written() {
        let big = rule(
            "Big",
            "size",
            Condition::Range {
                at_least: Some(100.0),
                below: None,
            },
        );
        let vp = rule(
            "VP",
            "level",
            Condition::OneOf {
                values: vec!["VP".into()],
                ignore_case: true,
            },
        );
        let exact = rule(
            "Manager",
            "role",
            Condition::OneOf {
                values: vec!["Manager".into()],
                ignore_case: false,
            },
        );
        let visits = rule("Visits", "visits", Condition::PerUnit { cap: Some(5.0) });
        let small = rule(
            "Small",
            "size",
            Condition::Range {
                at_least: None,
                below: Some(10.0),
            },
        );
        let both = and_rule(&big, &vp, &["Big", "VP"]).unwrap();
        assert_eq!(both.name, "Big and VP");
        assert_eq!(
            both.describe(),
            "size >= 100 and level is one of [\"VP\"] (any case)"
        );
        // It reads back from a rules file as the same rule.
        assert_eq!(Rule::from_spec(&both.to_spec()).unwrap(), both);
        // An `all` rule's parts are joined into one level.
        let triple = and_rule(&both, &exact, &[]);
        assert!(triple.is_none(), "ignore_case differs");
        let with_visits = and_rule(&big, &visits, &[]);
        assert!(with_visits.is_none(), "per-unit rules are not paired");
        assert!(and_rule(&big, &small, &[]).is_none(), "one column");
        let role_size = and_rule(&exact, &big, &["Manager and Big"]).unwrap();
        assert_eq!(role_size.name, "Manager and Big (2)");
        let nested = and_rule(&both, &rule("Old", "age", Condition::IsMissing), &[]).unwrap();
        match &nested.condition {
            Condition::All { parts } => assert_eq!(parts.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    /// The per-lead comparison on counts equals the same sums over the leads one by one: the
    /// held-out losses, their mean difference and its standard error (the sample standard
    /// deviation of the per-lead differences over √n).
    #[test]
    fn comparison_on_counts_equals_the_leads_one_by_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let n = 600;
        let x = Array2::from_shape_fn((n, 2).f(), |_| f64::from(rng.gen_range(0..2u8)));
        let y: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.3)).collect();
        let (groups, lead_pattern) = Groups::from_rows(x.view(), &y);
        let k = 3;
        let folds = groups.split_folds(k, 1);
        let lead_folds = groups.lead_folds(&lead_pattern, &y, k, 1);
        let cv = Cv::new(&groups, &folds, 1.0).unwrap();
        let weights = |b: f64, w: [f64; 2]| -> Vec<Weights> {
            (0..k)
                .map(|f| Weights {
                    intercept: b + 0.1 * f as f64,
                    coef: w.to_vec(),
                    gradient_norm: 0.0,
                })
                .collect()
        };
        let before = cv.held_out(groups.x.view(), &weights(-1.0, [0.5, -0.2]));
        let after = cv.held_out(groups.x.view(), &weights(-0.8, [0.9, -0.4]));
        let got = cv.compare(&before, &after);
        let loss = |probs: &[f64], i: usize| {
            let p = probs[lead_pattern[i] as usize * k + lead_folds[i]];
            if y[i] {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        };
        let d: Vec<f64> = (0..n).map(|i| loss(&after, i) - loss(&before, i)).collect();
        let mean = d.iter().sum::<f64>() / n as f64;
        let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let b = (0..n).map(|i| loss(&before, i)).sum::<f64>() / n as f64;
        assert!((got.before - b).abs() < 1e-12, "{got:?} vs {b}");
        assert!((got.after - got.before - mean).abs() < 1e-12);
        assert!((got.standard_error - sd / (n as f64).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn products_are_ands_of_the_columns() {
        let x = Array2::from_shape_vec(
            (4, 3).f(),
            vec![0., 1., 1., 0., 0., 0., 1., 1., 1., 1., 1., 0.],
        )
        .unwrap();
        let wide = with_products(x.view(), &[(0, 1), (1, 2)]);
        assert_eq!(wide.ncols(), 5);
        assert_eq!(wide.column(3).to_vec(), [0., 0., 1., 0.]);
        assert_eq!(wide.column(4).to_vec(), [0., 0., 1., 0.]);
        assert_eq!(wide.column(0), x.column(0));
    }
}
