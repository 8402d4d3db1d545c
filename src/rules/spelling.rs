//! Near misses of `one_of` levels: text cells that differ from a rule's level only in case or
//! spacing (`vp`, `Vp`, `C  Level` against `VP`, `C Level`). An exact `one_of` gives them no
//! points, silently; training counts them and warns when they are common. Takes the rules and
//! the leads (a table, or batch after batch of a streamed file); gives warnings.

use std::collections::{BTreeMap, HashMap};

use crate::data::Table;
use crate::error::Result;
use crate::rules::{Condition, Rule};

/// A near miss is common when at least this share of the leads (and [`MIN_LEADS`]) has it.
pub const COMMON_SHARE: f64 = 0.01;
/// Fewest leads with near misses of one level that make a warning.
pub const MIN_LEADS: u64 = 10;
/// Near-miss spellings named in a warning.
const SHOWN: usize = 3;

/// Case and spacing taken away: lower case (every letter), runs of white space as one space.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An exact `one_of` atom: its rule's index, its column, its levels and each level by its
/// normalised form.
struct Atom {
    rule: usize,
    column: String,
    levels: Vec<String>,
    by_form: HashMap<String, String>,
}

/// The exact `one_of` atoms of some rules, and the near misses counted so far.
pub struct NearMisses {
    atoms: Vec<Atom>,
    /// (atom, level, spelling) → leads.
    counts: BTreeMap<(usize, String, String), u64>,
    rows: u64,
}

impl NearMisses {
    pub fn new(rules: &[Rule]) -> NearMisses {
        let mut atoms = Vec::new();
        for (j, rule) in rules.iter().enumerate() {
            for (column, condition) in rule.atoms() {
                if let Condition::OneOf {
                    values,
                    ignore_case: false,
                } = condition
                {
                    let by_form = values.iter().map(|v| (normalise(v), v.clone())).collect();
                    atoms.push(Atom {
                        rule: j,
                        column: column.to_string(),
                        levels: values.clone(),
                        by_form,
                    });
                }
            }
        }
        NearMisses {
            atoms,
            counts: BTreeMap::new(),
            rows: 0,
        }
    }

    /// Counts the near misses among `table`'s leads (read as the rules read them: trimmed,
    /// placeholders missing).
    pub fn add(&mut self, table: &Table) -> Result<()> {
        self.rows += table.n_rows() as u64;
        for (a, atom) in self.atoms.iter().enumerate() {
            table.for_each_text(&atom.column, |v| {
                let Some(v) = v else { return };
                if atom.levels.iter().any(|l| l == v) {
                    return;
                }
                if let Some(level) = atom.by_form.get(&normalise(v)) {
                    *self
                        .counts
                        .entry((a, level.clone(), v.to_string()))
                        .or_default() += 1;
                }
            })?;
        }
        Ok(())
    }

    /// One warning per (rule, level) whose near misses are common, naming the spellings.
    pub fn warnings(&self, rules: &[Rule]) -> Vec<String> {
        let mut by_level: BTreeMap<(usize, &str), Vec<(&str, u64)>> = BTreeMap::new();
        for ((a, level, spelling), &n) in &self.counts {
            by_level
                .entry((*a, level.as_str()))
                .or_default()
                .push((spelling.as_str(), n));
        }
        let mut out = Vec::new();
        for ((a, level), mut spellings) in by_level {
            let leads: u64 = spellings.iter().map(|s| s.1).sum();
            if leads < MIN_LEADS || (leads as f64) < COMMON_SHARE * self.rows as f64 {
                continue;
            }
            spellings.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
            let Atom { rule, column, .. } = &self.atoms[a];
            let shown: Vec<String> = spellings
                .iter()
                .take(SHOWN)
                .map(|(s, n)| format!("'{s}' ({n})"))
                .collect();
            let more = spellings.len().saturating_sub(SHOWN);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let case_only = spellings.iter().all(|(s, _)| s.eq_ignore_ascii_case(level));
            let advice = if case_only {
                "add `ignore_case = true` to the rule, or clean the column"
            } else {
                "`ignore_case` matches differences in the case of A–Z only, not these: clean \
                 the column, or add the spellings to `one_of`"
            };
            out.push(format!(
                "rule '{}': {leads} leads ({:.1}%) have {}{more} in column '{column}', which \
                 differ from the level '{level}' only in case or spacing, and get no points for \
                 it; {advice}",
                rules[*rule].name,
                100.0 * leads as f64 / self.rows.max(1) as f64,
                shown.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_forms_ignore_case_and_spacing() {
        assert_eq!(normalise(" Vp "), "vp");
        assert_eq!(normalise("C  Level"), normalise("c level"));
        assert_ne!(normalise("C-Level"), normalise("C Level"));
    }
}
