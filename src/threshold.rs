//! The MQL threshold: a lead with `score >= threshold` becomes an MQL. Chosen on out-of-fold
//! scores by an explicit [`Policy`], and reported with what it implies for the funnel
//! ([`Funnel`]): lead→MQL rate, MQL→opportunity rate, share of conversions captured.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Healthy lead→MQL rates (below: criteria too strict; above 25%: too loose).
pub const HEALTHY_MQL_RATE: (f64, f64) = (0.05, 0.15);
/// Beyond this lead→MQL rate the criteria are clearly too loose.
pub const LOOSE_MQL_RATE: f64 = 0.25;
/// Typical MQL→SQL (opportunity) rates.
pub const TYPICAL_MQL_TO_SQL: (f64, f64) = (0.13, 0.27);

/// How the threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "target", rename_all = "kebab-case")]
pub enum Policy {
    /// The share of leads that become MQLs (`mql-rate:0.10`).
    MqlRate(f64),
    /// The MQL→opportunity rate (`precision:0.25`): the lowest threshold that reaches it.
    Precision(f64),
    /// The share of all conversions captured (`recall:0.80`): the highest threshold that does.
    Recall(f64),
    /// A fixed number of points (`points:60`).
    Points(i64),
    /// Best expected value (`value:5000:150`): each opportunity is worth the first number,
    /// working each MQL costs the second.
    Value { opportunity: f64, mql_cost: f64 },
    /// The lowest threshold whose MQL→opportunity rate is at least `share` with `confidence`
    /// (`precision:0.30@0.95`), see [`choose_counts`].
    PrecisionBound { share: f64, confidence: f64 },
    /// The highest threshold that captures at least `share` of conversions with `confidence`
    /// (`recall:0.80@0.95`).
    RecallBound { share: f64, confidence: f64 },
    /// MQLs by grade (`grade:B2`): leads whose grade is at least as good as the cell on both
    /// sub-scores (profile B or A, and behaviour 2 or 1). Needs `train --grades`.
    Grade(crate::grades::Grade),
}

/// The sequence of tests of a confident precision target starts at the highest threshold
/// with at least this many out-of-fold MQLs: a start chosen from lead counts alone, never
/// from outcomes, keeps the guarantee, and a top score level of a handful of leads would
/// otherwise end the sequence before it began.
pub const MIN_MQLS_TESTED: usize = 30;

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let usage = "use mql-rate:0.10, precision:0.25, recall:0.80, points:60, \
                     value:5000:150, precision:0.30@0.95 / recall:0.80@0.95 (a target \
                     with a confidence), or grade:B2 (with --grades)";
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' has no target; {usage}"))?;
        let share = |v: &str| -> std::result::Result<f64, String> {
            match v.parse::<f64>() {
                Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
                _ => Err(format!(
                    "'{v}' in '{s}' must be a share between 0 and 1, e.g. 0.10"
                )),
            }
        };
        // `precision:0.30@0.95`: a share and the confidence that it is reached.
        let bound = |rest: &str| -> std::result::Result<(f64, f64), String> {
            let (target, confidence) = rest.split_once('@').expect("checked by the caller");
            match confidence.parse::<f64>() {
                Ok(c) if (0.5..1.0).contains(&c) => Ok((share(target)?, c)),
                _ => Err(format!(
                    "'{confidence}' in '{s}' must be a confidence from 0.5 to below 1, e.g. 0.95"
                )),
            }
        };
        match kind {
            "mql-rate" => Ok(Policy::MqlRate(share(rest)?)),
            "precision" if rest.contains('@') => {
                bound(rest).map(|(share, confidence)| Policy::PrecisionBound { share, confidence })
            }
            "recall" if rest.contains('@') => {
                bound(rest).map(|(share, confidence)| Policy::RecallBound { share, confidence })
            }
            "precision" => Ok(Policy::Precision(share(rest)?)),
            "recall" => Ok(Policy::Recall(share(rest)?)),
            "points" => rest
                .parse()
                .map(Policy::Points)
                .map_err(|_| format!("'{rest}' in '{s}' must be whole points, e.g. points:60")),
            "value" => {
                let (o, c) = rest
                    .split_once(':')
                    .ok_or_else(|| format!("'{s}': give value:OPPORTUNITY:MQL_COST"))?;
                match (o.parse::<f64>(), c.parse::<f64>()) {
                    (Ok(o), Ok(c)) if o > 0.0 && c >= 0.0 && o.is_finite() && c.is_finite() => {
                        Ok(Policy::Value {
                            opportunity: o,
                            mql_cost: c,
                        })
                    }
                    _ => Err(format!(
                        "'{s}': the opportunity value must be positive and the MQL cost zero or more"
                    )),
                }
            }
            "grade" => rest
                .parse()
                .map(Policy::Grade)
                .map_err(|e| format!("--threshold {s}: {e}")),
            _ => Err(format!("unknown policy '{kind}'; {usage}")),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::MqlRate(r) => write!(f, "mql-rate:{r}"),
            Policy::Precision(p) => write!(f, "precision:{p}"),
            Policy::Recall(r) => write!(f, "recall:{r}"),
            Policy::Points(p) => write!(f, "points:{p}"),
            Policy::Value {
                opportunity,
                mql_cost,
            } => write!(f, "value:{opportunity}:{mql_cost}"),
            Policy::PrecisionBound { share, confidence } => {
                write!(f, "precision:{share}@{confidence}")
            }
            Policy::RecallBound { share, confidence } => write!(f, "recall:{share}@{confidence}"),
            Policy::Grade(cell) => write!(f, "grade:{cell}"),
        }
    }
}

/// The MQL threshold in points, with the policy that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub points: i64,
    pub policy: Policy,
    /// With a confident policy: the one-sided lower confidence bound (Clopper–Pearson, at the
    /// policy's confidence) of the MQL→opportunity rate, or of the share of conversions
    /// captured, at this threshold on the out-of-fold scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
}

impl Threshold {
    pub fn is_mql(&self, score: i64) -> bool {
        score >= self.points
    }

    /// Whether a lead is an MQL: by grade under a grade policy (no grade: not an MQL), else
    /// by score.
    pub fn is_mql_graded(&self, score: i64, grade: Option<crate::grades::Grade>) -> bool {
        match self.policy {
            Policy::Grade(cell) => grade.is_some_and(|g| g.at_least(&cell)),
            _ => self.is_mql(score),
        }
    }

    /// What a confident policy guarantees, in the funnel's words: "MQL→opportunity ≥ 30%
    /// with 95% confidence (lower bound 31.2%)".
    pub fn guarantee(&self) -> Option<String> {
        let (what, share, confidence) = match self.policy {
            Policy::PrecisionBound { share, confidence } => ("MQL→opportunity", share, confidence),
            Policy::RecallBound { share, confidence } => {
                ("conversions captured", share, confidence)
            }
            _ => return None,
        };
        let mut text = format!(
            "{what} ≥ {} with {} confidence",
            percent(share),
            percent(confidence)
        );
        if let Some(b) = self.bound {
            text.push_str(&format!(" (lower bound {:.1}%)", 100.0 * b));
        }
        Some(text)
    }
}

/// `0.3` as `30%`, `0.975` as `97.5%`.
fn percent(x: f64) -> String {
    let p = (1000.0 * x).round() / 10.0;
    if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// What a threshold does to a set of scored leads with known outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    pub leads: usize,
    pub conversions: usize,
    pub mqls: usize,
    pub mqls_converted: usize,
    /// MQLs / leads.
    pub lead_to_mql_rate: f64,
    /// Converted MQLs / MQLs (0 when there are no MQLs).
    pub mql_to_opportunity_rate: f64,
    /// Converted MQLs / all conversions: the share of conversions sales gets to see.
    pub conversions_captured: f64,
}

impl Funnel {
    pub fn at(threshold: i64, scores: &[i64], y: &[bool]) -> Funnel {
        let mut mqls = 0;
        let mut hit = 0;
        for (&s, &t) in scores.iter().zip(y) {
            if s >= threshold {
                mqls += 1;
                hit += t as usize;
            }
        }
        Funnel::from_counts(scores.len(), y.iter().filter(|&&t| t).count(), mqls, hit)
    }

    /// [`Funnel::at`] for leads pooled by score, `(score, leads, conversions)`.
    pub fn at_counts(threshold: i64, counts: &[(i64, u64, u64)]) -> Funnel {
        let sum = |f: &dyn Fn(&(i64, u64, u64)) -> u64, all: bool| {
            counts
                .iter()
                .filter(|g| all || g.0 >= threshold)
                .map(f)
                .sum::<u64>() as usize
        };
        Funnel::from_counts(
            sum(&|g| g.1, true),
            sum(&|g| g.2, true),
            sum(&|g| g.1, false),
            sum(&|g| g.2, false),
        )
    }

    /// The funnel of leads flagged MQL or not, with their outcomes.
    pub fn of_flags(mql: &[bool], y: &[bool]) -> Funnel {
        let mqls = mql.iter().filter(|&&m| m).count();
        let hit = mql.iter().zip(y).filter(|&(&m, &t)| m && t).count();
        Funnel::from_counts(y.len(), y.iter().filter(|&&t| t).count(), mqls, hit)
    }

    pub(crate) fn from_counts(leads: usize, conversions: usize, mqls: usize, hit: usize) -> Funnel {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Funnel {
            leads,
            conversions,
            mqls,
            mqls_converted: hit,
            lead_to_mql_rate: ratio(mqls, leads),
            mql_to_opportunity_rate: ratio(hit, mqls),
            conversions_captured: ratio(hit, conversions),
        }
    }

    /// Warnings in the terms marketing teams use.
    pub fn health(&self) -> Vec<String> {
        let mut out = Vec::new();
        let r = self.lead_to_mql_rate;
        if r < HEALTHY_MQL_RATE.0 {
            out.push(format!(
                "lead→MQL rate {:.1}% is below 5%: the criteria are likely too strict and sales \
                 sees too few leads",
                100.0 * r
            ));
        } else if r > LOOSE_MQL_RATE {
            out.push(format!(
                "lead→MQL rate {:.1}% is above 25%: the criteria are too loose for sales to \
                 follow up every MQL",
                100.0 * r
            ));
        }
        out
    }
}

/// Picks the threshold for `policy` from the scores and outcomes (out of fold, in training).
pub fn choose(policy: Policy, scores: &[i64], y: &[bool]) -> Result<Threshold> {
    choose_counts(policy, &score_counts(scores, y))
}

/// Leads pooled by score: `(score, leads, conversions)`, scores ascending.
pub fn score_counts(scores: &[i64], y: &[bool]) -> Vec<(i64, u64, u64)> {
    let mut groups: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    for (&s, &t) in scores.iter().zip(y) {
        let g = groups.entry(s).or_default();
        g.0 += 1;
        g.1 += t as u64;
    }
    groups.into_iter().map(|(s, (n, c))| (s, n, c)).collect()
}

/// [`choose`] from leads pooled by score, `(score, leads, conversions)` with distinct scores.
pub fn choose_counts(policy: Policy, counts: &[(i64, u64, u64)]) -> Result<Threshold> {
    if counts.is_empty() {
        return Err(Error::Fit(
            "no scored leads to choose a threshold on".into(),
        ));
    }
    // Candidates: every distinct score (highest first), each with the funnel at score >= it.
    let mut order: Vec<&(i64, u64, u64)> = counts.iter().collect();
    order.sort_by_key(|g| std::cmp::Reverse(g.0));
    let leads = counts.iter().map(|g| g.1).sum::<u64>() as usize;
    let conversions = counts.iter().map(|g| g.2).sum::<u64>() as usize;
    let mut candidates: Vec<(i64, Funnel)> = Vec::new();
    let (mut mqls, mut hit) = (0, 0);
    for &&(s, n, c) in &order {
        mqls += n as usize;
        hit += c as usize;
        candidates.push((s, Funnel::from_counts(leads, conversions, mqls, hit)));
    }
    let pick = |points: i64| Threshold {
        points,
        policy,
        bound: None,
    };
    let closest = |key: &dyn Fn(&Funnel) -> f64| {
        // Highest threshold among the best, so ties favour fewer MQLs.
        candidates
            .iter()
            .min_by(|a, b| key(&a.1).total_cmp(&key(&b.1)))
            .map(|c| c.0)
            .expect("at least one candidate")
    };
    match policy {
        // Decided per lead by grade (see `train`), not by a score.
        Policy::Grade(cell) => Err(Error::Option {
            option: "--threshold",
            message: format!(
                "grade:{cell} sorts leads by grade, not by score; train with --grades"
            ),
        }),
        Policy::Points(p) => Ok(pick(p)),
        Policy::MqlRate(r) => Ok(pick(closest(&|f| (f.lead_to_mql_rate - r).abs()))),
        Policy::Value {
            opportunity,
            mql_cost,
        } => Ok(pick(closest(&|f| {
            -(opportunity * f.mqls_converted as f64 - mql_cost * f.mqls as f64)
        }))),
        Policy::Precision(p) => candidates
            .iter()
            .rev()
            .find(|c| c.1.mql_to_opportunity_rate >= p)
            .map(|c| pick(c.0))
            .ok_or_else(|| {
                let best = candidates
                    .iter()
                    .map(|c| c.1.mql_to_opportunity_rate)
                    .fold(0.0, f64::max);
                Error::Fit(format!(
                    "no threshold reaches an MQL→opportunity rate of {:.1}%; the best is {:.1}%. \
                     Lower the target or use --threshold mql-rate:0.10",
                    100.0 * p,
                    100.0 * best
                ))
            }),
        Policy::Recall(r) => Ok(pick(
            candidates
                .iter()
                .find(|c| c.1.conversions_captured >= r)
                .map(|c| c.0)
                .expect("the lowest score captures every conversion"),
        )),
        Policy::PrecisionBound { share, confidence } => {
            precision_bound(&candidates, share, confidence).map(|(points, bound)| Threshold {
                points,
                policy,
                bound: Some(bound),
            })
        }
        Policy::RecallBound { share, confidence } => {
            recall_bound(&candidates, conversions, share, confidence).map(|(points, bound)| {
                Threshold {
                    points,
                    policy,
                    bound: Some(bound),
                }
            })
        }
    }
}

// Confident targets: Learn-then-Test (Angelopoulos, Bates, Candès, Jordan and Lei, 2021) with
// fixed-sequence testing. Each candidate threshold t carries the null hypothesis "the rate at
// t is below the target", tested with the exact binomial tail (the p-value whose inversion is
// the Clopper–Pearson bound). The thresholds are tested in an order fixed before the outcomes
// are looked at — from the highest score down for precision, which falls as the threshold
// does; from the lowest up for recall — each at the full level 1 − confidence, stopping at the
// first that fails. The last one passed is chosen: the family-wise error stays within
// 1 − confidence however many thresholds were tried. Picking the lowest threshold whose own
// Clopper–Pearson bound clears the target would not: among a hundred score levels some clear
// it by chance. Bonferroni over every level would keep the guarantee but test each at a
// hundredth of the level.

/// P(X ≥ k) for X ~ Binomial(n, p): the p-value of "the rate is below p" after k of n.
fn upper_tail(k: usize, n: usize, p: f64) -> f64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    if k == 0 {
        return 1.0;
    }
    Binomial::new(p, n as u64).map_or(1.0, |b| b.sf(k as u64 - 1))
}

/// The one-sided lower Clopper–Pearson bound of a rate after k of n, at `confidence`.
pub fn clopper_pearson_lower(k: usize, n: usize, confidence: f64) -> f64 {
    use statrs::distribution::{Beta, ContinuousCDF};
    if k == 0 {
        return 0.0;
    }
    Beta::new(k as f64, (n - k) as f64 + 1.0).map_or(0.0, |b| b.inverse_cdf(1.0 - confidence))
}

/// MQLs needed at a rate of `rate` for its lower bound at `confidence` to clear `share`.
fn mqls_needed(rate: f64, share: f64, confidence: f64) -> Option<usize> {
    if rate <= share {
        return None;
    }
    let passes =
        |n: usize| upper_tail((rate * n as f64).ceil() as usize, n, share) <= 1.0 - confidence;
    let mut high = 1usize;
    while !passes(high) {
        high *= 2;
        if high > 1 << 40 {
            return None;
        }
    }
    let mut low = high / 2;
    while low + 1 < high {
        let mid = (low + high) / 2;
        if passes(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(high)
}

/// `precision:share@confidence` over candidates highest threshold first.
fn precision_bound(
    candidates: &[(i64, Funnel)],
    share: f64,
    confidence: f64,
) -> Result<(i64, f64)> {
    let start = candidates.iter().position(|c| c.1.mqls >= MIN_MQLS_TESTED);
    let mut chosen = None;
    for c in candidates.iter().skip(start.unwrap_or(candidates.len())) {
        if upper_tail(c.1.mqls_converted, c.1.mqls, share) > 1.0 - confidence {
            break;
        }
        chosen = Some(c);
    }
    if let Some(&(points, f)) = chosen {
        return Ok((
            points,
            clopper_pearson_lower(f.mqls_converted, f.mqls, confidence),
        ));
    }
    // Nothing passed: say how many leads the first threshold tested would need, or, when no
    // threshold even observes the target, that more leads will not help.
    let goal = format!(
        "no threshold reaches an MQL→opportunity rate of {} with {} confidence",
        percent(share),
        percent(confidence)
    );
    let tested = &candidates[start.unwrap_or(candidates.len() - 1)];
    let f = tested.1;
    let message = match mqls_needed(f.mql_to_opportunity_rate, share, confidence) {
        Some(n) => format!(
            "{goal}: at {} points the out-of-fold rate is {:.1}% of {} MQLs, which would take \
             about {n} MQLs to clear the target — about {} leads at its lead→MQL rate of \
             {:.1}% (these have {}). Train on more leads, lower the target or the confidence, \
             or use --threshold precision:{share} without one",
            tested.0,
            100.0 * f.mql_to_opportunity_rate,
            f.mqls,
            ((n as f64) / f.lead_to_mql_rate.max(1e-12)).ceil() as u64,
            100.0 * f.lead_to_mql_rate,
            f.leads
        ),
        None => format!(
            "{goal}: the highest threshold with at least {MIN_MQLS_TESTED} MQLs ({} points) \
             converts {:.1}%, not above the target, so more leads would not help. Lower the \
             target or use --threshold mql-rate:0.10",
            tested.0,
            100.0 * f.mql_to_opportunity_rate
        ),
    };
    Err(Error::Fit(message))
}

/// `recall:share@confidence` over candidates highest threshold first (tested lowest first).
fn recall_bound(
    candidates: &[(i64, Funnel)],
    conversions: usize,
    share: f64,
    confidence: f64,
) -> Result<(i64, f64)> {
    let mut chosen = None;
    for c in candidates.iter().rev() {
        if upper_tail(c.1.mqls_converted, conversions, share) > 1.0 - confidence {
            break;
        }
        chosen = Some(c);
    }
    match chosen {
        Some(&(points, f)) => Ok((
            points,
            clopper_pearson_lower(f.mqls_converted, conversions, confidence),
        )),
        None => {
            let n = mqls_needed(1.0, share, confidence).unwrap_or(0);
            Err(Error::Fit(format!(
                "no threshold captures {} of conversions with {} confidence: even every lead \
                 as an MQL, {conversions} conversions are too few to show it (at least {n} are \
                 needed). Train on more leads, or lower the target or the confidence",
                percent(share),
                percent(confidence)
            )))
        }
    }
}

/// The threshold within the scores the final points can give. A threshold chosen from the
/// out-of-fold scores (each fold's points, shifted) can lie outside them: below the lowest it
/// is the lowest (every lead is an MQL either way), above the highest it is the highest (the
/// policy wanted some MQLs). A threshold given in points outside them is an error.
#[cfg(feature = "data")]
pub(crate) fn keep_within_reach(
    threshold: &mut Threshold,
    rules: &[crate::rules::Rule],
    points: &[crate::points::Points],
) -> Result<()> {
    let (low, high) = crate::model::score_range(
        rules
            .iter()
            .map(|r| &r.condition)
            .zip(points.iter().copied()),
    );
    let t = threshold.points as i128;
    let outside = match (low, high) {
        (Some(l), _) if t < l => Some(("below the lowest", l)),
        (_, Some(h)) if t > h => Some(("above the highest", h)),
        _ => None,
    };
    let Some((side, end)) = outside else {
        return Ok(());
    };
    if let Policy::Points(_) = threshold.policy {
        return Err(Error::Option {
            option: "--threshold",
            message: format!(
                "{} points is {side} score the learned points can give ({end}), so {}; choose \
                 a threshold from the points table",
                threshold.points,
                if t < end {
                    "every lead would be an MQL"
                } else {
                    "no lead would ever be an MQL"
                }
            ),
        });
    }
    threshold.points = i64::try_from(end).map_err(|_| {
        Error::Fit(format!(
            "the {side} score the learned points can give ({end}) is beyond what a score can \
             hold; give the per-unit rules smaller caps"
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<i64>, Vec<bool>) {
        // Scores 0..100, lead i converts when i % 10 < i / 10 (more often at high scores).
        let s: Vec<i64> = (0..100).collect();
        let y: Vec<bool> = (0..100).map(|i| i % 10 < i / 10).collect();
        (s, y)
    }

    #[test]
    fn policies_parse_and_print() {
        for text in [
            "mql-rate:0.1",
            "precision:0.25",
            "recall:0.8",
            "points:60",
            "value:5000:150",
            "precision:0.3@0.95",
            "recall:0.8@0.99",
        ] {
            let p: Policy = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert!("mql-rate:10".parse::<Policy>().is_err());
        for bad in [
            "precision:0.3@95",
            "precision:0.3@",
            "recall:1.2@0.95",
            "precision:@0.9",
        ] {
            assert!(bad.parse::<Policy>().is_err(), "{bad}");
        }
        assert!("mql-rate:0.1@0.95".parse::<Policy>().is_err());
        assert!("bogus:1".parse::<Policy>().is_err());
    }

    #[test]
    fn each_policy_meets_its_target() {
        let (s, y) = data();
        let t = choose(Policy::MqlRate(0.10), &s, &y).unwrap();
        assert_eq!(t.points, 90);
        let t = choose(Policy::Recall(0.5), &s, &y).unwrap();
        let f = Funnel::at(t.points, &s, &y);
        assert!(f.conversions_captured >= 0.5);
        assert!(Funnel::at(t.points + 1, &s, &y).conversions_captured < 0.5);
        let t = choose(Policy::Precision(0.7), &s, &y).unwrap();
        assert!(Funnel::at(t.points, &s, &y).mql_to_opportunity_rate >= 0.7);
        let t = choose(Policy::Points(42), &s, &y).unwrap();
        assert_eq!(t.points, 42);
    }

    #[test]
    fn value_policy_maximises_expected_value() {
        let (s, y) = data();
        // An opportunity worth 3 MQL costs: worth working a lead above a 1-in-3 chance.
        let policy = Policy::Value {
            opportunity: 3.0,
            mql_cost: 1.0,
        };
        let t = choose(policy, &s, &y).unwrap();
        let value = |t: i64| {
            let f = Funnel::at(t, &s, &y);
            3.0 * f.mqls_converted as f64 - f.mqls as f64
        };
        for other in -1..=101 {
            assert!(
                value(t.points) >= value(other),
                "{other} beats {}",
                t.points
            );
        }
    }

    #[test]
    fn clopper_pearson_by_hand() {
        // 0 of n: 0. n of n: the lower bound is (1 − confidence)^(1/n): 0.05^(1/10) = 0.7411.
        assert_eq!(clopper_pearson_lower(0, 10, 0.95), 0.0);
        assert!((clopper_pearson_lower(10, 10, 0.95) - 0.05f64.powf(0.1)).abs() < 1e-9);
        // 30 of 100 at 95%: 0.2249 (scipy.stats.beta.ppf(0.05, 30, 71)).
        assert!((clopper_pearson_lower(30, 100, 0.95) - 0.224_87).abs() < 1e-4);
        // The bound and the tail agree: the bound is where the tail equals 1 − confidence.
        let b = clopper_pearson_lower(30, 100, 0.95);
        assert!((upper_tail(30, 100, b) - 0.05).abs() < 1e-9);
    }

    /// `(score, leads, conversions)`: score s holds 100 leads of which `rate(s)` convert.
    fn levels(rate: impl Fn(i64) -> u64) -> Vec<(i64, u64, u64)> {
        (0..20).map(|s| (s, 100, rate(s))).collect()
    }

    #[test]
    fn a_confident_precision_is_tested_from_the_top_and_stops_at_the_first_failure() {
        // Rates 0% at score 0 up to 95% at score 19: from score 1 up, exactly 50% convert.
        let counts = levels(|s| 5 * s as u64);
        let t = choose_counts(
            Policy::PrecisionBound {
                share: 0.5,
                confidence: 0.95,
            },
            &counts,
        )
        .unwrap();
        let f = Funnel::at_counts(t.points, &counts);
        let b = t.bound.unwrap();
        assert!(b >= 0.5 && f.mql_to_opportunity_rate > b, "{t:?} {f:?}");
        // One level lower, the bound no longer clears the target (so the sequence stopped).
        let g = Funnel::at_counts(t.points - 1, &counts);
        assert!(clopper_pearson_lower(g.mqls_converted, g.mqls, 0.95) < 0.5);
        // The plain policy goes lower: its threshold only has to observe 50%.
        let plain = choose_counts(Policy::Precision(0.5), &counts).unwrap();
        assert!(plain.points < t.points, "{plain:?} {t:?}");
        assert_eq!(
            t.guarantee().unwrap(),
            format!(
                "MQL→opportunity ≥ 50% with 95% confidence (lower bound {:.1}%)",
                100.0 * b
            )
        );
    }

    #[test]
    fn a_confident_recall_is_tested_from_the_bottom() {
        let counts = levels(|s| 5 * s as u64);
        let t = choose_counts(
            Policy::RecallBound {
                share: 0.8,
                confidence: 0.95,
            },
            &counts,
        )
        .unwrap();
        let f = Funnel::at_counts(t.points, &counts);
        assert!(
            t.bound.unwrap() >= 0.8 && f.conversions_captured >= 0.8,
            "{t:?}"
        );
        let plain = choose_counts(Policy::Recall(0.8), &counts).unwrap();
        assert!(plain.points >= t.points, "{plain:?} {t:?}");
    }

    #[test]
    fn a_confident_target_out_of_reach_says_how_many_leads_it_needs() {
        // 20 levels of 10 leads: too few to show 50% at the top with 99% confidence.
        let counts: Vec<(i64, u64, u64)> = (0..20).map(|s| (s, 10, (s as u64 + 1) / 3)).collect();
        let err = choose_counts(
            Policy::PrecisionBound {
                share: 0.5,
                confidence: 0.99,
            },
            &counts,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("with 99% confidence") && err.contains("leads at its lead→MQL rate"),
            "{err}"
        );
        // A target above every observed rate: more leads would not help.
        let err = choose_counts(
            Policy::PrecisionBound {
                share: 0.9,
                confidence: 0.95,
            },
            &levels(|_| 30),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("more leads would not help"), "{err}");
    }

    #[test]
    fn unreachable_precision_is_an_error() {
        let s = vec![1, 2, 3, 4];
        let y = vec![false, true, false, false];
        let err = choose(Policy::Precision(0.9), &s, &y)
            .unwrap_err()
            .to_string();
        assert!(err.contains("best is 33.3%"), "{err}");
    }
}
