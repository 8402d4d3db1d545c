//! Sub-scores and grades in the SQL export ([`super::sql`]), as `mqlcal score` computes them
//! ([`Model::score_features`]). Takes the model; gives the select items of the layers that
//! [`super::sql`] nests:
//!
//! - with rule groups, the score layer sums each group's terms apart (`{p}sub0`, `{p}sub1`, …:
//!   the sub-scores, and `{p}rest`: the rules in no group), and the next layer adds the sums up
//!   into the score, so each rule's feature is computed once;
//! - with a grade matrix, a layer gives each graded sub-score its band, 0 (A or 1) … 3 (D or 4):
//!   the first cut point the sub-score is at least, as [`GradeAxis::band`] does (`>=`: a lead
//!   exactly on a cut point is in the better band; equal cut points leave the band between them
//!   empty);
//! - the outer select writes `<group>_score` per group and then `grade` (`B2`: the letter of
//!   the profile band and the digit of the behaviour band), after `mql`, in `mqlcal score`'s
//!   order; under a grade policy (`grade:B2`) `mql` holds when both bands are at least as good
//!   as the cell's ([`Grade::at_least`]).

use crate::error::{Error, Result};
use crate::grades::{sub_score_column, Grade, GradeAxis, Grades, GRADE_COLUMN};
use crate::model::Model;
use crate::threshold::Policy;

use super::sql::{comment, indent, integer, Dialect};

/// The model's rule groups and grade matrix, as the query computes them.
pub(super) struct SubScores<'a> {
    /// The groups, in [`Model::group_names`] order.
    names: Vec<String>,
    /// Per rule, the sum it is in: its group's index, or `names.len()` (no group).
    sum_of: Vec<usize>,
    grades: Option<&'a Grades>,
    /// The cell of a grade policy.
    policy: Option<Grade>,
}

impl<'a> SubScores<'a> {
    /// Refuses what the query could not compute as `mqlcal score` does: a grade policy or
    /// matrix that does not fit the rules ([`super::check_grades`]), and two groups whose
    /// columns differ only in the case of letters, which engines that ignore the case of names
    /// cannot tell apart.
    pub(super) fn new(model: &'a Model) -> Result<SubScores<'a>> {
        super::check_grades(model, "SQL")?;
        let names = model.group_names();
        let policy = match model.threshold.threshold.policy {
            Policy::Grade(cell) => Some(cell),
            _ => None,
        };
        for (k, a) in names.iter().enumerate() {
            if let Some(b) = names[..k].iter().find(|b| b.eq_ignore_ascii_case(a)) {
                return Err(Error::Export(format!(
                    "SQL: the rule groups '{b}' and '{a}' give the columns {} and {}, which \
                     SQL engines that ignore the case of names (DuckDB, SQLite, Spark, \
                     BigQuery) cannot tell apart; rename one group in the rules file and train \
                     again",
                    sub_score_column(b),
                    sub_score_column(a)
                )));
            }
        }
        let sum_of = model
            .rules
            .iter()
            .map(|r| {
                r.group
                    .as_ref()
                    .and_then(|g| names.iter().position(|n| n == g))
                    .unwrap_or(names.len())
            })
            .collect();
        Ok(SubScores {
            names,
            sum_of,
            grades: model.grades.as_ref(),
            policy,
        })
    }

    /// The layers that give `{p}score` (and the sub-scores) from `terms`, one per rule in model
    /// order (`points * (feature)` and its comment): without rule groups, one layer that adds
    /// them all up, as the score always was; with groups, `{p}sums` adds each group's terms and
    /// the terms of the rules in no group apart, and `{p}scores` adds the sums up. `with_id`
    /// makes a layer's select list (the id column first).
    pub(super) fn score_layers(
        &self,
        p: &str,
        terms: Vec<String>,
        with_id: &dyn Fn(Vec<String>) -> String,
    ) -> Vec<(String, String)> {
        let sum = |terms: &[String], alias: &str| {
            let terms: Vec<String> = terms
                .iter()
                .enumerate()
                .map(|(k, t)| format!("{}{t}", if k == 0 { "  " } else { "+ " }))
                .collect();
            format!("(\n{}\n) AS {alias}", indent(&terms.join("\n"), 2))
        };
        let score = format!("{p}score");
        if self.names.is_empty() {
            return vec![(with_id(vec![sum(&terms, &score)]), format!("{p}scores"))];
        }
        let mut sums: Vec<Vec<String>> = vec![Vec::new(); self.names.len() + 1];
        for (j, term) in terms.into_iter().enumerate() {
            sums[self.sum_of[j]].push(term);
        }
        let (mut items, mut total) = (Vec::new(), Vec::new());
        for (k, terms) in sums.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            let alias = self.alias(p, k);
            items.push(format!("{}\n{}", self.title(k), sum(terms, &alias)));
            total.push(alias);
        }
        let mut carried = vec![format!("{} AS {score}", total.join(" + "))];
        carried.extend(self.carried(p));
        vec![
            (with_id(items), format!("{p}sums")),
            (with_id(carried), format!("{p}scores")),
        ]
    }

    /// The name of sum `k` inside the query.
    fn alias(&self, p: &str, k: usize) -> String {
        if k < self.names.len() {
            format!("{p}sub{k}")
        } else {
            format!("{p}rest")
        }
    }

    /// A comment line saying what sum `k` is.
    fn title(&self, k: usize) -> String {
        match self.names.get(k) {
            Some(g) => format!("-- the '{}' sub-score", comment(g)),
            None => "-- rules in no group (in the score only)".into(),
        }
    }

    /// The sub-scores' names inside the query, which the layers after the score carry.
    pub(super) fn carried(&self, p: &str) -> Vec<String> {
        (0..self.names.len()).map(|k| self.alias(p, k)).collect()
    }

    /// The band layer's items, `{p}letter_band` and `{p}digit_band`; `None` without a grade
    /// matrix (no layer).
    pub(super) fn bands(&self, p: &str) -> Option<Vec<String>> {
        let g = self.grades?;
        Some(vec![
            format!("{} AS {p}letter_band", self.band(p, &g.profile)),
            format!("{} AS {p}digit_band", self.band(p, &g.behaviour)),
        ])
    }

    /// The band of `axis`'s sub-score: the first cut point it is at least, else the last band.
    fn band(&self, p: &str, axis: &GradeAxis) -> String {
        let k = self
            .names
            .iter()
            .position(|n| *n == axis.group)
            .expect("the matrix was checked against the groups");
        let sub = self.alias(p, k);
        let arms: Vec<String> = axis
            .at_least
            .iter()
            .enumerate()
            .map(|(band, &cut)| format!("WHEN {sub} >= {} THEN {band}", integer(cut)))
            .collect();
        format!("CASE {} ELSE {} END", arms.join(" "), axis.at_least.len())
    }

    /// The outer select's items after `mql`: `<group>_score` per group, then `grade`.
    pub(super) fn outputs(&self, d: Dialect, p: &str) -> Vec<String> {
        let mut items: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .map(|(k, g)| format!("{} AS {}", self.alias(p, k), d.ident(&sub_score_column(g))))
            .collect();
        if self.grades.is_some() {
            let label = |band: &str, of: fn(u8) -> char| {
                let arms: Vec<String> = (0..crate::grades::BANDS as u8)
                    .map(|b| format!("WHEN {b} THEN {}", d.string(&of(b).to_string())))
                    .collect();
                format!("CASE {band} {} END", arms.join(" "))
            };
            items.push(format!(
                "{} || {} AS {}",
                label(&format!("{p}letter_band"), Grade::letter),
                label(&format!("{p}digit_band"), Grade::digit),
                d.ident(GRADE_COLUMN)
            ));
        }
        items
    }

    /// `mql` under a grade policy: both bands at least as good as the cell's.
    pub(super) fn mql(&self, p: &str) -> Option<String> {
        self.policy.map(|cell| {
            format!(
                "({p}letter_band <= {} AND {p}digit_band <= {})",
                cell.profile, cell.behaviour
            )
        })
    }

    /// The header's lines on the sub-score and grade columns and a grade policy's MQLs.
    pub(super) fn header(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.names.is_empty() {
            return lines;
        }
        let columns: Vec<String> = self
            .names
            .iter()
            .map(|g| comment(&sub_score_column(g)))
            .collect();
        lines.push(format!(
            "Then {}: the points of the rules of each group.",
            columns.join(", ")
        ));
        if let Some(g) = self.grades {
            let cuts = |axis: &GradeAxis| {
                axis.at_least
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            lines.push(format!(
                "Then grade (A1 … D4): {} A/B/C from {} points, {} 1/2/3 from {} points.",
                comment(&sub_score_column(&g.profile.group)),
                cuts(&g.profile),
                comment(&sub_score_column(&g.behaviour.group)),
                cuts(&g.behaviour)
            ));
        }
        lines
    }

    /// What `mql` means under a grade policy, for the header.
    pub(super) fn mql_words(&self) -> Option<String> {
        self.policy.map(|cell| {
            let s = cell.to_string();
            format!(
                "grade {cell} or better: profile {} or better and behaviour {} or better",
                &s[..1],
                &s[1..]
            )
        })
    }
}
