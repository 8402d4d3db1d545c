//! Sub-scores and grades. A rule may name a `group` (`behaviour`, `profile`, any name): a
//! lead's sub-score of a group is the points of that group's rules, so the sub-scores and the
//! points of ungrouped rules add up to the score. With exactly two groups, `train --grades`
//! cuts each sub-score into four bands: the profile group into letters (A best … D), the
//! behaviour group into digits (1 best … 4), and a lead's grade is the pair (`B2`).
//!
//! Takes the rules' groups and, in training, the rule patterns with their fold counts and each
//! fold's weights ([`matrix`]); gives the cut points ([`GradeAxis`]), the grade of a lead, the
//! [`Grades`] matrix the model keeps (leads and conversions per cell) and the funnel of a grade
//! threshold ([`graded_threshold`]).
//!
//! Cut points are the quartiles of the out-of-fold sub-scores, not points chosen for the
//! outcome: quartile bands say "A = the top quarter of profiles", need no search that could
//! fit noise in small cells, and the conversion rate per cell then shows what each band is
//! worth. Sub-scores take few distinct values, so a quartile may fall on the same value as the
//! next one: the lower band is then empty (it stays in the matrix with 0 leads).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Bands per sub-score: A–D and 1–4.
pub const BANDS: usize = 4;

/// The column of a group's sub-score, in `mqlcal score`'s output and the exports.
pub fn sub_score_column(group: &str) -> String {
    format!("{group}_score")
}

/// The column of the grade, in `mqlcal score`'s output and the exports.
pub const GRADE_COLUMN: &str = "grade";

/// The groups of `groups` (one per rule) in order of first appearance.
pub fn group_names<'a>(groups: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for g in groups.into_iter().flatten() {
        if !names.iter().any(|n| n == g) {
            names.push(g.to_string());
        }
    }
    names
}

/// Which of two groups takes letters (profile) and which digits (behaviour): by name when
/// they are called `profile` and `behaviour` (or `behavior`), else the first group in the
/// rules takes letters. Gives (letters, digits) as indices into `names`.
pub fn axes(names: &[String]) -> std::result::Result<(usize, usize), String> {
    if names.len() != 2 {
        let listed = if names.is_empty() {
            "none".to_string()
        } else {
            names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "--grades needs exactly two rule groups (a profile and a behaviour group); the rules \
             have {} ({listed}). Give each rule group = \"profile\" or group = \"behaviour\", or \
             leave out --grades",
            names.len()
        ));
    }
    let is = |n: &str, words: &[&str]| words.iter().any(|w| n.eq_ignore_ascii_case(w));
    let behaviour = ["behaviour", "behavior"];
    if is(&names[0], &behaviour) || is(&names[1], &["profile"]) {
        Ok((1, 0))
    } else {
        Ok((0, 1))
    }
}

/// A grade: profile band (0 = A … 3 = D) and behaviour band (0 = 1 … 3 = 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Grade {
    pub profile: u8,
    pub behaviour: u8,
}

impl Grade {
    /// At least as good as `other` on both sub-scores.
    pub fn at_least(&self, other: &Grade) -> bool {
        self.profile <= other.profile && self.behaviour <= other.behaviour
    }

    /// All cells, A1, A2, … D4.
    pub fn all() -> impl Iterator<Item = Grade> {
        (0..BANDS as u8).flat_map(|p| {
            (0..BANDS as u8).map(move |b| Grade {
                profile: p,
                behaviour: b,
            })
        })
    }

    fn index(&self) -> usize {
        self.profile as usize * BANDS + self.behaviour as usize
    }

    /// The letter of profile band `band` (0 = A … 3 = D).
    pub fn letter(band: u8) -> char {
        (b'A' + band) as char
    }

    /// The digit of behaviour band `band` (0 = 1 … 3 = 4).
    pub fn digit(band: u8) -> char {
        (b'1' + band) as char
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            Grade::letter(self.profile),
            Grade::digit(self.behaviour)
        )
    }
}

impl FromStr for Grade {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Grade, String> {
        let t = s.trim();
        let mut chars = t.chars();
        let (l, d) = (chars.next(), chars.next());
        let last = (b'A' + BANDS as u8 - 1) as char;
        match (l.map(|c| c.to_ascii_uppercase()), d, chars.next()) {
            (Some(l @ 'A'..='Z'), Some(d @ '0'..='9'), None)
                if l <= last && ('1'..='4').contains(&d) =>
            {
                Ok(Grade {
                    profile: l as u8 - b'A',
                    behaviour: d as u8 - b'1',
                })
            }
            _ => Err(format!(
                "'{s}' is not a cell of the grade matrix: cells are A1 … D4, a profile letter \
                 (A best … D) and a behaviour digit (1 best … 4), e.g. grade:B2"
            )),
        }
    }
}

impl TryFrom<String> for Grade {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Grade, String> {
        s.parse()
    }
}

impl From<Grade> for String {
    fn from(g: Grade) -> String {
        g.to_string()
    }
}

/// One sub-score's cut points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeAxis {
    /// The rule group.
    pub group: String,
    /// The lowest sub-score of the first three bands (A, B, C or 1, 2, 3), from the highest;
    /// a sub-score below the last is in the fourth band.
    pub at_least: Vec<i64>,
}

impl GradeAxis {
    /// The band of a sub-score: 0 (A or 1) … 3 (D or 4).
    pub fn band(&self, sub_score: i64) -> u8 {
        self.at_least
            .iter()
            .position(|&c| sub_score >= c)
            .unwrap_or(self.at_least.len()) as u8
    }

    /// Quartile cut points of sub-scores pooled as (sub-score, leads): the cut of band k (k =
    /// 1, 2, 3) is the lowest sub-score whose leads at or above it are at least k quarters of
    /// all leads (so the top band holds at least a quarter, ties kept together).
    pub fn quartiles(group: &str, counts: &[(i64, u64)]) -> GradeAxis {
        let mut sorted: Vec<(i64, u64)> = counts.to_vec();
        sorted.sort_by_key(|c| std::cmp::Reverse(c.0));
        let total: u64 = sorted.iter().map(|c| c.1).sum();
        let mut at_least = Vec::with_capacity(BANDS - 1);
        for k in 1..BANDS as u64 {
            let mut seen = 0u64;
            let mut cut = sorted.last().map_or(0, |c| c.0);
            for &(s, n) in &sorted {
                seen += n;
                // seen / total >= k / BANDS, in integers.
                if seen * BANDS as u64 >= k * total {
                    cut = s;
                    break;
                }
            }
            at_least.push(cut);
        }
        GradeAxis {
            group: group.to_string(),
            at_least,
        }
    }
}

/// Leads and conversions in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeCell {
    pub grade: Grade,
    /// Training leads of this grade under the model's points (what `mqlcal score` gives the
    /// training file).
    pub leads: u64,
    pub conversions: u64,
    /// The same on out-of-fold sub-scores (each lead graded by the fold model that did not see
    /// it; leads whose outcome is final): the honest conversion rate of the cell.
    pub out_of_fold_leads: u64,
    pub out_of_fold_conversions: u64,
    /// `out_of_fold_conversions / out_of_fold_leads` (0 for an empty cell).
    pub out_of_fold_conversion_rate: f64,
}

/// The grade matrix: cut points of both sub-scores and the 16 cells, A1, A2, … D4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grades {
    /// How the cut points were chosen.
    pub method: String,
    /// The sub-score graded by letters (A best … D).
    pub profile: GradeAxis,
    /// The sub-score graded by digits (1 best … 4).
    pub behaviour: GradeAxis,
    pub cells: Vec<GradeCell>,
}

/// Counts per cell while they are gathered: (leads, conversions) per grade.
pub type CellCounts = [(u64, u64); BANDS * BANDS];

impl Grades {
    pub const METHOD: &'static str = "quartiles of the out-of-fold sub-scores";

    /// The grade of a lead from its sub-scores in the order of `names` (the model's groups).
    pub fn grade(&self, names: &[String], sub_scores: &[i64]) -> Option<Grade> {
        let of = |axis: &GradeAxis| {
            names
                .iter()
                .position(|n| *n == axis.group)
                .and_then(|i| sub_scores.get(i))
                .map(|&s| axis.band(s))
        };
        Some(Grade {
            profile: of(&self.profile)?,
            behaviour: of(&self.behaviour)?,
        })
    }

    /// Adds leads to a cell of `counts`.
    pub fn add(counts: &mut CellCounts, grade: Grade, leads: u64, conversions: u64) {
        let c = &mut counts[grade.index()];
        c.0 += leads;
        c.1 += conversions;
    }

    /// The cells from training counts (model points) and out-of-fold counts.
    pub fn cells(training: &CellCounts, out_of_fold: &CellCounts) -> Vec<GradeCell> {
        Grade::all()
            .map(|g| {
                let (n, c) = training[g.index()];
                let (on, oc) = out_of_fold[g.index()];
                GradeCell {
                    grade: g,
                    leads: n,
                    conversions: c,
                    out_of_fold_leads: on,
                    out_of_fold_conversions: oc,
                    out_of_fold_conversion_rate: if on == 0 { 0.0 } else { oc as f64 / on as f64 },
                }
            })
            .collect()
    }

    /// Checks a model file's matrix against its groups.
    pub fn validate(&self, names: &[String]) -> std::result::Result<(), String> {
        for (what, axis) in [("profile", &self.profile), ("behaviour", &self.behaviour)] {
            if !names.contains(&axis.group) {
                return Err(format!(
                    "grades.{what}.group '{}' is not the group of any rule",
                    axis.group
                ));
            }
            if axis.at_least.len() != BANDS - 1 || axis.at_least.windows(2).any(|w| w[0] < w[1]) {
                return Err(format!(
                    "grades.{what}.at_least must hold {} cut points from the highest down",
                    BANDS - 1
                ));
            }
        }
        if self.profile.group == self.behaviour.group {
            return Err("grades: profile and behaviour are the same group".into());
        }
        let expected: Vec<Grade> = Grade::all().collect();
        let got: Vec<Grade> = self.cells.iter().map(|c| c.grade).collect();
        if got != expected {
            return Err("grades.cells must be the 16 cells A1, A2, … D4 in order".into());
        }
        Ok(())
    }
}

/// The grade matrix of the two rule groups: cut points at the quartiles of the out-of-fold
/// sub-scores (each pattern scored by the points of the fold model that did not see it, no
/// intercept shift: a sub-score has no intercept), cells counted under the final points (as
/// `score` grades the training leads) and out of fold (leads with a final outcome). Also gives
/// the out-of-fold cells and, per cell, the lowest final score of a training lead graded at
/// least that well, for a grade threshold.
#[cfg(feature = "data")] // training only
pub(crate) fn matrix(
    groups: &crate::group::Groups,
    rules: &[crate::rules::Rule],
    folds: &crate::group::FoldCounts,
    fold_weights: &[crate::fit::Weights],
    points: &[crate::points::Points],
    scale: crate::points::PointsScale,
) -> std::result::Result<(Grades, CellCounts, GradeLowest), crate::points::Overflow> {
    let names = group_names(rules.iter().map(|r| r.group.as_deref()));
    let (letters, digits) = axes(&names).expect("checked with the options");
    let of_rule: Vec<Option<usize>> = rules
        .iter()
        .map(|r| {
            r.group
                .as_ref()
                .and_then(|g| names.iter().position(|n| n == g))
        })
        .collect();
    let sub_scores = |points: &[crate::points::Points], row: ndarray::ArrayView1<f64>| {
        let mut subs = vec![0i64; names.len()];
        for (j, &f) in row.iter().enumerate() {
            if let Some(g) = of_rule[j] {
                let given = crate::points::given(j, points[j], f)?;
                subs[g] = subs[g].saturating_add(given);
            }
        }
        Ok::<_, crate::points::Overflow>(subs)
    };
    let k = folds.k;
    let fold_points: Vec<Vec<crate::points::Points>> = fold_weights
        .iter()
        .map(|w| w.coef.iter().map(|&c| scale.points(c)).collect())
        .collect();
    // Out-of-fold sub-scores of every (pattern, fold), and their distribution per group.
    let mut oof: Vec<Vec<i64>> = Vec::with_capacity(groups.len() * k);
    let mut dist: Vec<std::collections::BTreeMap<i64, u64>> =
        vec![std::collections::BTreeMap::new(); names.len()];
    for (p, row) in groups.x.rows().into_iter().enumerate() {
        for (f, fp) in fold_points.iter().enumerate() {
            let subs = sub_scores(fp, row)?;
            for (g, &s) in subs.iter().enumerate() {
                *dist[g].entry(s).or_default() += folds.leads(p, f);
            }
            oof.push(subs);
        }
    }
    let axis = |g: usize| {
        let counts: Vec<(i64, u64)> = dist[g].iter().map(|(&s, &n)| (s, n)).collect();
        GradeAxis::quartiles(&names[g], &counts)
    };
    let mut grades = Grades {
        method: Grades::METHOD.into(),
        profile: axis(letters),
        behaviour: axis(digits),
        cells: Vec::new(),
    };
    let mut training: CellCounts = Default::default();
    let mut out_of_fold: CellCounts = Default::default();
    let mut lowest: GradeLowest = [None; BANDS * BANDS];
    for (p, row) in groups.x.rows().into_iter().enumerate() {
        let final_subs = sub_scores(points, row)?;
        let g = grades.grade(&names, &final_subs).expect("both groups");
        Grades::add(&mut training, g, groups.leads[p], groups.conversions[p]);
        let score = crate::points::score(points, row.iter().copied())?;
        for (i, cell) in Grade::all().enumerate() {
            if g.at_least(&cell) {
                lowest[i] = Some(lowest[i].map_or(score, |l: i64| l.min(score)));
            }
        }
        if groups.exposure[p] < 1.0 {
            continue; // outcome not final: out of the honest rates, as in calibration
        }
        for f in 0..k {
            let g = grades.grade(&names, &oof[p * k + f]).expect("both groups");
            Grades::add(
                &mut out_of_fold,
                g,
                folds.leads(p, f),
                folds.conversions(p, f),
            );
        }
    }
    grades.cells = Grades::cells(&training, &out_of_fold);
    Ok((grades, out_of_fold, lowest))
}

/// Per grade cell, the lowest score of a training lead graded at least that well.
#[cfg(feature = "data")] // training only
pub(crate) type GradeLowest = [Option<i64>; BANDS * BANDS];

/// The threshold of a grade policy and its funnel on the out-of-fold grades. The MQL decision
/// is by grade; `points` records the lowest score of a training lead that is an MQL by grade
/// (0 when none is), which no score threshold reproduces: exports refuse such a model.
#[cfg(feature = "data")] // training only
pub(crate) fn graded_threshold(
    cell: Grade,
    out_of_fold: &CellCounts,
    lowest: GradeLowest,
    policy: crate::threshold::Policy,
) -> (crate::threshold::Threshold, crate::threshold::Funnel) {
    let (mut leads, mut conversions, mut mqls, mut hit) = (0u64, 0u64, 0u64, 0u64);
    for (g, &(n, c)) in Grade::all().zip(out_of_fold) {
        leads += n;
        conversions += c;
        if g.at_least(&cell) {
            mqls += n;
            hit += c;
        }
    }
    let index = Grade::all()
        .position(|g| g == cell)
        .expect("a cell of the matrix");
    (
        crate::threshold::Threshold {
            points: lowest[index].unwrap_or(0),
            policy,
            bound: None,
        },
        crate::threshold::Funnel::from_counts(
            leads as usize,
            conversions as usize,
            mqls as usize,
            hit as usize,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_parse_print_and_compare() {
        let b2: Grade = "B2".parse().unwrap();
        assert_eq!(
            b2,
            Grade {
                profile: 1,
                behaviour: 1
            }
        );
        assert_eq!(b2.to_string(), "B2");
        assert_eq!("a1".parse::<Grade>().unwrap().to_string(), "A1");
        for bad in ["E7", "A5", "E1", "B", "B22", "2B", ""] {
            let err = bad.parse::<Grade>().unwrap_err();
            assert!(
                err.contains("not a cell of the grade matrix"),
                "{bad}: {err}"
            );
        }
        assert!("A1".parse::<Grade>().unwrap().at_least(&b2));
        assert!("B2".parse::<Grade>().unwrap().at_least(&b2));
        assert!(!"A3".parse::<Grade>().unwrap().at_least(&b2));
        assert!(!"C1".parse::<Grade>().unwrap().at_least(&b2));
        assert_eq!(Grade::all().count(), 16);
        assert_eq!(Grade::all().last().unwrap().to_string(), "D4");
    }

    #[test]
    fn quartiles_by_hand() {
        // 8 leads with sub-scores 0..8: the top quarter is {7, 6}, cut 6; half: 4; three
        // quarters: 2.
        let counts: Vec<(i64, u64)> = (0..8).map(|s| (s, 1)).collect();
        let axis = GradeAxis::quartiles("profile", &counts);
        assert_eq!(axis.at_least, vec![6, 4, 2]);
        assert_eq!(axis.band(7), 0);
        assert_eq!(axis.band(6), 0);
        assert_eq!(axis.band(5), 1);
        assert_eq!(axis.band(2), 2);
        assert_eq!(axis.band(1), 3);
        // A sub-score of two values, 60% at 0: the top value holds 40% (band A), the 50% and
        // 75% quantiles fall on 0, so band B holds the rest and C, D are empty.
        let axis = GradeAxis::quartiles("behaviour", &[(0, 60), (10, 40)]);
        assert_eq!(axis.at_least, vec![10, 0, 0]);
        assert_eq!(axis.band(0), 1);
    }

    #[test]
    fn axes_by_name_else_first_takes_letters() {
        let names = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(axes(&names("behaviour", "profile")).unwrap(), (1, 0));
        assert_eq!(axes(&names("profile", "behaviour")).unwrap(), (0, 1));
        assert_eq!(axes(&names("fit", "engagement")).unwrap(), (0, 1));
        assert_eq!(axes(&names("engagement", "Profile")).unwrap(), (1, 0));
        let err = axes(&["profile".to_string()]).unwrap_err();
        assert!(
            err.contains("exactly two rule groups") && err.contains("'profile'"),
            "{err}"
        );
    }
}
