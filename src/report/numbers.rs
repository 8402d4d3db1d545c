//! Every number the diagnostics charts show, computed from scored leads with known outcomes.
//! Serialised as `metrics.json`, so each chart can be checked against its numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{BandTest, CalibrationStats, Metrics};
use crate::model::Model;
use crate::profile::psi;
use crate::threshold::Funnel;

/// One probability bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub leads: usize,
    pub conversions: usize,
    pub mean_predicted: f64,
    pub observed: f64,
    /// 95% Wilson score interval of the observed rate.
    pub wilson_low: f64,
    pub wilson_high: f64,
}

/// Leads and conversions in a band of scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub label: String,
    pub min_score: i64,
    pub max_score: i64,
    pub leads: usize,
    pub conversions: usize,
    pub conversion_rate: f64,
    /// Points bands only: the observed rate against the band's mean prediction (Jeffreys
    /// interval, exact binomial p-values, traffic light).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub check: Option<BandTest>,
}

/// A point of the gains curve: the top `share_of_leads` by score hold `share_of_conversions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GainsPoint {
    pub share_of_leads: f64,
    pub share_of_conversions: f64,
    pub lift: f64,
}

/// The funnel at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeOff {
    pub threshold: i64,
    pub lead_to_mql_rate: f64,
    pub mql_to_opportunity_rate: f64,
    pub conversions_captured: f64,
}

/// A rule's points, with the bootstrap interval when training data was available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulePoints {
    pub name: String,
    pub points: i64,
    pub low: Option<i64>,
    pub high: Option<i64>,
}

/// Drift of one rule (or the score) between training and these leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub name: String,
    pub psi: f64,
    pub flagged: bool,
}

/// A month of leads (by the date column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub month: String,
    pub leads: usize,
    pub conversion_rate: f64,
    pub mql_rate: f64,
    /// Median days from lead creation to MQL, when an MQL date column was given.
    pub median_days_to_mql: Option<f64>,
    pub mqls_with_date: usize,
}

/// Conversion by one rule group's sub-score, in bands of points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubScore {
    pub group: String,
    pub bands: Vec<Band>,
}

/// Leads and conversions of one grade among these leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeCount {
    pub grade: String,
    pub leads: usize,
    pub conversions: usize,
    pub conversion_rate: f64,
}

/// The grade matrix of these leads: the groups graded by letters and digits, and the 16 cells
/// A1, A2, … D4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeMatrix {
    pub profile: String,
    pub behaviour: String,
    pub cells: Vec<GradeCount>,
}

/// PSI above this is flagged.
pub const PSI_FLAG: f64 = 0.25;

/// Everything in `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportNumbers {
    /// What the leads are: "out-of-fold training scores" or the data file's name.
    pub source: String,
    pub metrics: Metrics,
    /// Calibration intercept and slope with intervals, Spiegelhalter's test, the Brier
    /// decomposition, the debiased calibration error, KS and Gini (absent without both
    /// outcomes among the leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationStats>,
    pub average_precision: f64,
    pub threshold: i64,
    /// What the threshold's policy guarantees, when it has a confidence: "MQL→opportunity ≥
    /// 30% with 95% confidence (lower bound 31.2%)" (on out-of-fold training scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantee: Option<String>,
    pub funnel: Funnel,
    pub reliability: Vec<ReliabilityBin>,
    /// How `reliability` was binned.
    #[serde(default)]
    pub reliability_bins: Bins,
    pub deciles: Vec<Band>,
    pub points_bands: Vec<Band>,
    pub gains: Vec<GainsPoint>,
    /// (false positive rate, true positive rate), from the highest threshold down.
    pub roc: Vec<(f64, f64)>,
    /// (recall, precision), from the highest threshold down.
    pub precision_recall: Vec<(f64, f64)>,
    pub trade_off: Vec<TradeOff>,
    pub rule_points: Vec<RulePoints>,
    pub bootstrap_resamples: usize,
    pub drift: Vec<Drift>,
    pub score_psi: f64,
    /// Shares of leads per training score bin: (bin lower bound, training, these leads).
    pub score_distribution: Vec<(f64, f64, f64)>,
    pub cohorts: Vec<Cohort>,
    /// How fast the model's decayed engagement loses its value, one sentence per event source
    /// ("pricing_page_view events lose half their value in 10 days (learnt from the data)").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub half_lives: Vec<String>,
    /// The model's conversion window: its probability is that of an opportunity within this
    /// many days of creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// With a window: which leads have a final outcome (the only ones in the other numbers),
    /// and the delay from creation to opportunity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity: Option<super::maturity::Maturity>,
    /// Conversion by each rule group's sub-score (rules with `group`), under the model's points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_scores: Vec<SubScore>,
    /// The grade matrix of these leads (a model trained with --grades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grades: Option<GradeMatrix>,
    /// Under a grade policy (`grade:B2`): the cell; MQLs are the leads graded at least as well
    /// on both sub-scores, and `threshold` is not what makes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mql_grade: Option<String>,
}

impl ReportNumbers {
    /// What the probability means, for the page: "becomes an opportunity within 90 days of
    /// its creation", or without a window "becomes an opportunity".
    pub fn meaning(&self) -> String {
        match self.window_days {
            Some(days) => format!("becomes an opportunity within {days} days of its creation"),
            None => "becomes an opportunity".into(),
        }
    }
}

/// A lead's creation month (`YYYY-MM`) and, when known, days from creation to MQL.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadDate {
    pub month: String,
    pub days_to_mql: Option<f64>,
}

/// ROC and precision–recall curves, highest threshold first.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    pub roc: Vec<(f64, f64)>,
    pub precision_recall: Vec<(f64, f64)>,
    pub average_precision: f64,
}

/// 90% intervals of each rule's points from bootstrap refits.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleIntervals {
    pub resamples: usize,
    /// (low, high) points per rule, in rule order.
    pub intervals: Vec<(i64, i64)>,
}

/// The leads a report is about.
pub struct Scored<'a> {
    pub scores: &'a [i64],
    pub probabilities: &'a [f64],
    pub outcomes: &'a [bool],
    /// One column per model rule: the rule's feature for each lead.
    pub features: ndarray::ArrayView2<'a, f64>,
    /// Per lead, when a date column was given.
    pub dates: Option<Vec<Option<LeadDate>>>,
}

/// 95% Wilson score interval for `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

pub fn reliability(p: &[f64], y: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let mut sum_p = vec![0.0; bins];
    let mut conv = vec![0usize; bins];
    let mut count = vec![0usize; bins];
    for (&p, &t) in p.iter().zip(y) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sum_p[b] += p;
        conv[b] += t as usize;
        count[b] += 1;
    }
    (0..bins)
        .map(|b| {
            let (lo, hi) = wilson(conv[b], count[b]);
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                leads: count[b],
                conversions: conv[b],
                mean_predicted: if count[b] > 0 {
                    sum_p[b] / count[b] as f64
                } else {
                    0.0
                },
                observed: if count[b] > 0 {
                    conv[b] as f64 / count[b] as f64
                } else {
                    0.0
                },
                wilson_low: lo,
                wilson_high: hi,
            }
        })
        .collect()
}

/// How the reliability diagram bins the predictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Bins {
    /// Ten bins of equal width (0–10%, 10–20%, …), as the ECE uses.
    #[default]
    Uniform,
    /// Ten bins of about equal numbers of leads (tied predictions stay in one bin): every
    /// dot is as precise as the next where predictions crowd at low probabilities.
    Quantile,
}

/// The reliability bins of `bins` kind; equal-width bins are [`reliability`].
pub fn reliability_by(p: &[f64], y: &[bool], bins: usize, kind: Bins) -> Vec<ReliabilityBin> {
    match kind {
        Bins::Uniform => reliability(p, y, bins),
        Bins::Quantile => reliability_quantile(p, y, bins),
    }
}

/// Reliability bins of about `n / bins` leads each, lowest predictions first; a run of equal
/// predictions is never split. `lower` and `upper` are the bin's smallest and largest
/// prediction.
pub fn reliability_quantile(p: &[f64], y: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let mut pairs: Vec<(f64, bool)> = p.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pairs.len();
    let mut out = Vec::new();
    let mut start = 0;
    for k in 1..=bins {
        let mut end = (k * n) / bins;
        while end < n && end > 0 && pairs[end].0 == pairs[end - 1].0 {
            end += 1;
        }
        if end > start {
            let members = &pairs[start..end];
            let conv = members.iter().filter(|m| m.1).count();
            let (lo, hi) = wilson(conv, members.len());
            out.push(ReliabilityBin {
                lower: members[0].0,
                upper: members[members.len() - 1].0,
                leads: members.len(),
                conversions: conv,
                mean_predicted: members.iter().map(|m| m.0).sum::<f64>() / members.len() as f64,
                observed: conv as f64 / members.len() as f64,
                wilson_low: lo,
                wilson_high: hi,
            });
            start = end;
        }
    }
    out
}

fn band(label: String, members: &[(i64, bool)]) -> Band {
    let conversions = members.iter().filter(|m| m.1).count();
    Band {
        label,
        min_score: members.iter().map(|m| m.0).min().unwrap_or(0),
        max_score: members.iter().map(|m| m.0).max().unwrap_or(0),
        leads: members.len(),
        conversions,
        conversion_rate: conversions as f64 / members.len().max(1) as f64,
        check: None,
    }
}

/// Each band's exact check: its leads' mean predicted probability against their observed rate.
pub fn check_bands(bands: &mut [Band], scores: &[i64], probabilities: &[f64]) {
    // One pass over the leads, pooled by score (a points model has few distinct scores);
    // the sums are then added in score order, so the result does not depend on the hashing.
    let mut by_score: std::collections::HashMap<i64, (f64, usize), foldhash::fast::FixedState> =
        Default::default();
    for (&s, &p) in scores.iter().zip(probabilities) {
        let e = by_score.entry(s).or_default();
        e.0 += p;
        e.1 += 1;
    }
    let by_score: BTreeMap<i64, (f64, usize)> = by_score.into_iter().collect();
    for b in bands {
        let (sum, n) = by_score
            .range(b.min_score..=b.max_score)
            .fold((0.0, 0usize), |(sum, n), (_, &(p, k))| (sum + p, n + k));
        if n > 0 {
            b.check = Some(BandTest::new(
                b.leads as u64,
                b.conversions as u64,
                sum / n as f64,
            ));
        }
    }
}

/// Ten bands of (about) equal size by score, lowest first; tied scores stay in one band.
pub fn deciles(scores: &[i64], y: &[bool]) -> Vec<Band> {
    let mut pairs: Vec<(i64, bool)> = scores.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    let n = pairs.len();
    let mut out = Vec::new();
    let mut start = 0;
    for d in 1..=10 {
        let mut end = (d * n) / 10;
        // Extend to the end of a run of equal scores.
        while end < n && end > 0 && pairs[end].0 == pairs[end - 1].0 {
            end += 1;
        }
        if end > start {
            let label = format!("D{}", out.len() + 1);
            out.push(band(label, &pairs[start..end]));
            start = end;
        }
    }
    out
}

/// Bands of `width` points (e.g. the points that double the odds).
pub fn points_bands(scores: &[i64], y: &[bool], width: i64) -> Vec<Band> {
    let mut groups: BTreeMap<i64, Vec<(i64, bool)>> = BTreeMap::new();
    for (&s, &t) in scores.iter().zip(y) {
        groups.entry(s.div_euclid(width)).or_default().push((s, t));
    }
    groups
        .into_iter()
        .map(|(k, members)| {
            let mut b = band(
                format!("{} to {}", k * width, k * width + width - 1),
                &members,
            );
            b.min_score = k * width;
            b.max_score = k * width + width - 1;
            b
        })
        .collect()
}

/// Cumulative gains and lift at each percent of leads, best scores first.
pub fn gains(scores: &[i64], y: &[bool]) -> Vec<GainsPoint> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].cmp(&scores[a]));
    let total = y.iter().filter(|&&t| t).count().max(1) as f64;
    let n = scores.len();
    let mut cum = Vec::with_capacity(n + 1);
    cum.push(0usize);
    for &i in &order {
        cum.push(cum.last().expect("non-empty") + y[i] as usize);
    }
    (1..=100)
        .map(|pct| {
            let k = (pct * n).div_ceil(100);
            let share_leads = k as f64 / n as f64;
            let share_conv = cum[k] as f64 / total;
            GainsPoint {
                share_of_leads: share_leads,
                share_of_conversions: share_conv,
                lift: if share_leads > 0.0 {
                    share_conv / share_leads
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Funnel counts at every distinct score, highest first: (threshold, mqls, converted mqls).
fn cumulative(scores: &[i64], y: &[bool]) -> Vec<(i64, usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].cmp(&scores[a]));
    let mut out = Vec::new();
    let (mut m, mut c) = (0, 0);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            m += 1;
            c += y[order[i]] as usize;
            i += 1;
        }
        out.push((s, m, c));
    }
    out
}

/// ROC curve points from (0,0), and the precision–recall curve with average precision
/// (Σ (Rₙ − Rₙ₋₁) · Pₙ, as scikit-learn defines it).
pub fn roc_pr(scores: &[i64], y: &[bool]) -> Curves {
    let pos = y.iter().filter(|&&t| t).count().max(1) as f64;
    let neg = (y.len() - y.iter().filter(|&&t| t).count()).max(1) as f64;
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = Vec::new();
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (_, m, c) in cumulative(scores, y) {
        let recall = c as f64 / pos;
        let precision = c as f64 / m as f64;
        roc.push(((m - c) as f64 / neg, recall));
        pr.push((recall, precision));
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Curves {
        roc,
        precision_recall: pr,
        average_precision: ap,
    }
}

/// The funnel at every distinct score (at most ~200 points, evenly picked, for the chart).
pub fn trade_off(scores: &[i64], y: &[bool]) -> Vec<TradeOff> {
    let all = cumulative(scores, y);
    let n = scores.len() as f64;
    let conv = y.iter().filter(|&&t| t).count().max(1) as f64;
    let step = all.len().div_ceil(200).max(1);
    all.iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == all.len() - 1)
        .map(|(_, &(t, m, c))| TradeOff {
            threshold: t,
            lead_to_mql_rate: m as f64 / n,
            mql_to_opportunity_rate: c as f64 / m as f64,
            conversions_captured: c as f64 / conv,
        })
        .collect()
}

/// PSI of each rule and of the score against the model's training profile.
pub fn drift(model: &Model, scored: &Scored) -> (Vec<Drift>, f64, Vec<(f64, f64, f64)>) {
    let rules = model
        .rules
        .iter()
        .zip(&model.profile.rules)
        .enumerate()
        .map(|(j, (rule, hist))| {
            let values = scored.features.column(j).to_vec();
            let v = psi(&hist.shares, &hist.shares_of(&values));
            Drift {
                name: rule.name.clone(),
                psi: v,
                flagged: v > PSI_FLAG,
            }
        })
        .collect();
    let hist = &model.profile.score;
    let values: Vec<f64> = scored.scores.iter().map(|&s| s as f64).collect();
    let now = hist.shares_of(&values);
    let dist = hist
        .lower
        .iter()
        .zip(&hist.shares)
        .zip(&now)
        .map(|((&l, &a), &b)| (l, a, b))
        .collect();
    (rules, psi(&hist.shares, &now), dist)
}

/// Conversion and MQL rates by month of lead creation, and the median days to MQL.
pub fn cohorts(scored: &Scored, threshold: i64) -> Vec<Cohort> {
    let Some(dates) = &scored.dates else {
        return Vec::new();
    };
    let mut months: BTreeMap<&str, (usize, usize, usize, Vec<f64>)> = BTreeMap::new();
    for (i, d) in dates.iter().enumerate() {
        let Some(LeadDate { month, days_to_mql }) = d else {
            continue;
        };
        let m = months.entry(month.as_str()).or_default();
        m.0 += 1;
        m.1 += scored.outcomes[i] as usize;
        let mql = scored.scores[i] >= threshold;
        m.2 += mql as usize;
        if let (true, Some(days)) = (mql, days_to_mql) {
            m.3.push(*days);
        }
    }
    months
        .into_iter()
        .map(|(month, (n, c, q, mut days))| {
            days.sort_by(f64::total_cmp);
            let median = (!days.is_empty()).then(|| {
                let k = days.len();
                if k % 2 == 1 {
                    days[k / 2]
                } else {
                    (days[k / 2 - 1] + days[k / 2]) / 2.0
                }
            });
            Cohort {
                month: month.to_string(),
                leads: n,
                conversion_rate: c as f64 / n as f64,
                mql_rate: q as f64 / n as f64,
                median_days_to_mql: median,
                mqls_with_date: days.len(),
            }
        })
        .collect()
}

/// Each lead's sub-scores and grade under `model`, from its rule features.
fn graded(model: &Model, scored: &Scored) -> Vec<(Vec<i64>, Option<crate::grades::Grade>)> {
    scored
        .features
        .rows()
        .into_iter()
        .map(|row| {
            // These features were scored already (the scores came from them), so this
            // cannot overflow; a lead that did is left ungraded rather than stopping a report.
            model
                .score_features(row.iter().copied())
                .map(|s| (s.sub_scores, s.grade))
                .unwrap_or_default()
        })
        .collect()
}

/// Conversion by sub-score (bands as wide as the points that double the odds) and the grade
/// matrix of these leads.
fn sub_scores_and_grades(
    model: &Model,
    graded: &[(Vec<i64>, Option<crate::grades::Grade>)],
    y: &[bool],
    width: i64,
) -> (Vec<SubScore>, Option<GradeMatrix>) {
    let subs = model
        .group_names()
        .into_iter()
        .enumerate()
        .map(|(g, group)| {
            let s: Vec<i64> = graded
                .iter()
                .map(|l| l.0.get(g).copied().unwrap_or(0))
                .collect();
            SubScore {
                group,
                bands: points_bands(&s, y, width),
            }
        })
        .collect();
    let grades = model.grades.as_ref().map(|m| {
        let cells = crate::grades::Grade::all()
            .map(|cell| {
                let (n, c) = graded
                    .iter()
                    .zip(y)
                    .filter(|(l, _)| l.1 == Some(cell))
                    .fold((0, 0), |(n, c), (_, &t)| (n + 1, c + t as usize));
                GradeCount {
                    grade: cell.to_string(),
                    leads: n,
                    conversions: c,
                    conversion_rate: if n == 0 { 0.0 } else { c as f64 / n as f64 },
                }
            })
            .collect();
        GradeMatrix {
            profile: m.profile.group.clone(),
            behaviour: m.behaviour.group.clone(),
            cells,
        }
    });
    (subs, grades)
}

/// All the numbers of a report.
pub fn compute(
    model: &Model,
    scored: &Scored,
    source: String,
    rule_intervals: Option<RuleIntervals>,
) -> ReportNumbers {
    let pooled = crate::metrics::pooled(scored.probabilities, scored.outcomes);
    let metrics = Metrics::compute_counts(&pooled);
    let threshold = model.threshold.threshold.points;
    let Curves {
        roc,
        precision_recall,
        average_precision,
    } = roc_pr(scored.scores, scored.outcomes);
    let (drift, score_psi, score_distribution) = drift(model, scored);
    let resamples = rule_intervals.as_ref().map_or(0, |r| r.resamples);
    let intervals = rule_intervals.map(|r| r.intervals);
    let width = (model.scale.points_to_double_odds.round() as i64).max(1);
    let mut bands = points_bands(scored.scores, scored.outcomes, width);
    check_bands(&mut bands, scored.scores, scored.probabilities);
    let lead_grades = graded(model, scored);
    let (sub_scores, grades) = sub_scores_and_grades(model, &lead_grades, scored.outcomes, width);
    // A grade policy makes MQLs by grade: the funnel counts those, not leads above `points`.
    let funnel = match model.threshold.threshold.policy {
        crate::threshold::Policy::Grade(cell) => {
            let mql: Vec<bool> = lead_grades
                .iter()
                .map(|l| l.1.is_some_and(|g| g.at_least(&cell)))
                .collect();
            Funnel::of_flags(&mql, scored.outcomes)
        }
        _ => Funnel::at(threshold, scored.scores, scored.outcomes),
    };
    ReportNumbers {
        source,
        metrics,
        calibration: CalibrationStats::compute_counts(&pooled),
        average_precision,
        threshold,
        guarantee: model.threshold.threshold.guarantee(),
        funnel,
        reliability: reliability(
            scored.probabilities,
            scored.outcomes,
            crate::metrics::ECE_BINS,
        ),
        reliability_bins: Bins::Uniform,
        deciles: deciles(scored.scores, scored.outcomes),
        points_bands: bands,
        gains: gains(scored.scores, scored.outcomes),
        roc,
        precision_recall,
        trade_off: trade_off(scored.scores, scored.outcomes),
        rule_points: model
            .rules
            .iter()
            .enumerate()
            .map(|(j, r)| RulePoints {
                name: r.name.clone(),
                points: r.points.0,
                low: intervals.as_ref().map(|iv| iv[j].0),
                high: intervals.as_ref().map(|iv| iv[j].1),
            })
            .collect(),
        bootstrap_resamples: resamples,
        drift,
        score_psi,
        score_distribution,
        cohorts: cohorts(scored, threshold),
        half_lives: model.half_life_sentences(),
        window_days: model.training.window_days,
        maturity: None,
        sub_scores,
        grades,
        mql_grade: match model.threshold.threshold.policy {
            crate::threshold::Policy::Grade(cell) => Some(cell.to_string()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_a_worked_example() {
        // 8 of 10: the 95% Wilson interval is [0.4902, 0.9433] (textbook value).
        let (lo, hi) = wilson(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4,
            "{lo} {hi}"
        );
    }

    #[test]
    fn reliability_bins_count_by_hand() {
        let p = [0.05, 0.05, 0.15, 0.95, 0.95, 0.95, 0.95];
        let y = [false, true, false, true, true, true, false];
        let bins = reliability(&p, &y, 10);
        assert_eq!((bins[0].leads, bins[0].conversions), (2, 1));
        assert_eq!((bins[1].leads, bins[1].conversions), (1, 0));
        assert_eq!((bins[9].leads, bins[9].conversions), (4, 3));
        assert!((bins[9].observed - 0.75).abs() < 1e-12);
        assert!((bins[9].mean_predicted - 0.95).abs() < 1e-12);
        assert_eq!(bins[5].leads, 0);
    }

    #[test]
    fn quantile_bins_hold_about_equal_leads_and_keep_ties_together() {
        let p: Vec<f64> = (0..100).map(|i| (i / 4) as f64 / 25.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let bins = reliability_quantile(&p, &y, 10);
        assert_eq!(bins.iter().map(|b| b.leads).sum::<usize>(), 100);
        // Ties come in fours: each bin of ten grows to the end of its run (12, then 8, …).
        assert!(bins.iter().all(|b| (8..=12).contains(&b.leads)), "{bins:?}");
        for w in bins.windows(2) {
            assert!(w[0].upper < w[1].lower, "a tie split across bins: {w:?}");
        }
        assert_eq!(
            reliability_by(&p, &y, 10, Bins::Uniform),
            reliability(&p, &y, 10)
        );
    }

    #[test]
    fn auc_and_average_precision_by_hand() {
        // Scores 3,2,2,1 with outcomes T,T,F,F. AUC: pairs (T3>F2, T3>F1, T2=F2 half, T2>F1)
        // = 3.5/4. AP: thresholds 3 → R .5 P 1; 2 → R 1 P 2/3: .5·1 + .5·2/3 = 0.8333.
        let s = [3, 2, 2, 1];
        let y = [true, true, false, false];
        let Curves {
            roc,
            average_precision: ap,
            ..
        } = roc_pr(&s, &y);
        let auc: f64 = roc
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!((auc - 0.875).abs() < 1e-12);
        assert!((ap - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn gains_and_bands() {
        let s: Vec<i64> = (0..100).collect();
        let y: Vec<bool> = (0..100).map(|i| i >= 90).collect();
        let g = gains(&s, &y);
        assert!((g[9].share_of_leads - 0.10).abs() < 1e-12);
        assert!((g[9].share_of_conversions - 1.0).abs() < 1e-12);
        assert!((g[9].lift - 10.0).abs() < 1e-12);
        let d = deciles(&s, &y);
        assert_eq!(d.len(), 10);
        assert!(d.iter().all(|b| b.leads == 10));
        assert_eq!(d[9].conversions, 10);
        let b = points_bands(&s, &y, 20);
        assert_eq!(b.len(), 5);
        assert_eq!(
            (b[4].min_score, b[4].max_score, b[4].conversions),
            (80, 99, 10)
        );
    }
}
