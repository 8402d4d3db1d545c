//! Leads → rule features: one column per rule, one row per lead, in column-major order (the
//! layout linfa-logistic's gradient reads fastest).

#[cfg(feature = "data")]
pub use from_table::{date_columns, future_dates, number_columns, rule_features, rule_patterns};

use ndarray::{Array2, ArrayView2, ShapeBuilder};

use super::Rule;

#[cfg(feature = "data")]
mod from_table {
    use std::collections::{BTreeMap, HashMap};

    use ndarray::{Array2, Axis, ShapeBuilder};
    use polars::prelude::{Float64Chunked, StringChunked};

    use crate::data::Table;
    use crate::error::Result;
    use crate::group::PatternIndex;
    use crate::rules::{Condition, Rule};

    /// The feature matrix of `rules` over every lead of `table`: rows are leads, columns rules.
    /// Errors name the missing column or the row holding a value a numeric rule cannot read.
    ///
    /// Numeric columns are parsed once each however many rules use them, and columns and rules
    /// are worked on in parallel threads (parsing millions of cells is most of the cost); the
    /// result and the error reported (the first in rule order) do not depend on the threads.
    pub fn rule_features(table: &Table, rules: &[Rule]) -> Result<Array2<f64>> {
        if let Some(atoms) = super::Atoms::of(rules) {
            let x = simple_features(table, &atoms.rules)?;
            return Ok(atoms.combine_columns(x.view()));
        }
        simple_features(table, rules)
    }

    /// [`rule_features`] of simple rules (no `all`/`any`).
    fn simple_features(table: &Table, rules: &[Rule]) -> Result<Array2<f64>> {
        let n = table.n_rows();
        // Which rules read numbers: `one_of` always compares the text as written, so that
        // `3.0` in a file and `3` in a rule never match by accident; `is_missing` reads numbers
        // when an earlier rule made the column numeric (missingness is the same either way).
        let mut numeric_columns: Vec<&str> = Vec::new();
        // Date rules read their column as ages in days before the table's as-of date.
        let mut ages: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
        for rule in rules.iter().filter(|r| r.condition.is_date()) {
            if !ages.contains_key(rule.column.as_str()) {
                let values = table.date_ages(&rule.column)?;
                ages.insert(&rule.column, values.into_iter().collect());
            }
        }
        let numeric: Vec<bool> = rules
            .iter()
            .map(|rule| {
                let cond = &rule.condition;
                if cond.is_date() {
                    return false;
                }
                let numeric = cond.needs_numbers()
                    || (!cond.needs_text() && numeric_columns.contains(&rule.column.as_str()));
                if numeric && !numeric_columns.contains(&rule.column.as_str()) {
                    numeric_columns.push(&rule.column);
                }
                numeric
            })
            .collect();
        let parsed: Vec<Result<Vec<Option<f64>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = numeric_columns
                .iter()
                .map(|c| scope.spawn(move || table.numbers(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("column thread panicked"))
                .collect()
        });
        let mut numbers: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
        for (c, values) in numeric_columns.iter().zip(parsed) {
            numbers.insert(c, values?);
        }
        let mut x = Array2::<f64>::zeros((n, rules.len()).f());
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = x
                .axis_iter_mut(Axis(1))
                .zip(rules.iter().zip(&numeric))
                .map(|(mut col, (rule, &is_numeric))| {
                    let numbers = &numbers;
                    let ages = &ages;
                    scope.spawn(move || -> Result<()> {
                        let cond = &rule.condition;
                        if cond.is_date() {
                            let values = &ages[rule.column.as_str()];
                            for (out, v) in col.iter_mut().zip(values) {
                                *out = cond.eval_number(*v);
                            }
                        } else if is_numeric {
                            let values = &numbers[rule.column.as_str()];
                            for (out, v) in col.iter_mut().zip(values) {
                                *out = cond.eval_number(*v);
                            }
                        } else {
                            // Text rules read the cells in place (no copies).
                            let mut out = col.iter_mut();
                            table.for_each_text(&rule.column, |v| {
                                if let Some(o) = out.next() {
                                    *o = cond.eval_text(v);
                                }
                            })?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("rule thread panicked"))
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(x)
    }

    /// Warnings for dates after the table's as-of date in the columns date rules read (or
    /// their parts): such a date counts as neither within nor older. One per column, naming
    /// the first such lead (its `id`, or its row) and the count.
    pub fn future_dates(table: &Table, rules: &[Rule], id: Option<&str>) -> Result<Vec<String>> {
        let columns = date_columns(rules);
        let Some(as_of) = table.dates_as_of() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for c in columns {
            let ages = table.date_ages(c)?;
            let mut future = ages
                .into_iter()
                .enumerate()
                .filter(|(_, a)| a.is_some_and(|a| a < 0.0));
            let Some((first, _)) = future.next() else {
                continue;
            };
            let n = 1 + future.count();
            let who = match id.filter(|i| table.has_column(i)) {
                Some(i) => match table.texts(i)?.get(first).cloned().flatten() {
                    Some(v) => format!("lead {}", v.trim()),
                    None => format!("row {}", table.row(first)),
                },
                None => format!("row {}", table.row(first)),
            };
            out.push(format!(
                "{n} lead{} {} a {c} after the as-of date {as_of} (first: {who}): {} as \
                 neither within nor older",
                if n == 1 { "" } else { "s" },
                if n == 1 { "has" } else { "have" },
                if n == 1 { "it counts" } else { "they count" },
            ));
        }
        Ok(out)
    }

    /// The columns date rules read, in rule order.
    pub fn date_columns(rules: &[Rule]) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        for rule in rules {
            for (c, cond) in rule.atoms() {
                if cond.is_date() && !columns.contains(&c) {
                    columns.push(c);
                }
            }
        }
        columns
    }

    /// The columns that rules read only as numbers (some rule needs numbers, none compares
    /// text), in rule order: what [`crate::data::Table::load_columns_numeric`] can parse while
    /// reading the file.
    pub fn number_columns(rules: &[Rule]) -> Vec<String> {
        if let Some(atoms) = super::Atoms::of(rules) {
            return number_columns(&atoms.rules);
        }
        let mut out: Vec<String> = Vec::new();
        for rule in rules {
            let column = &rule.column;
            let as_numbers = rules
                .iter()
                .filter(|r| &r.column == column)
                .any(|r| r.condition.needs_numbers());
            let as_text = rules
                .iter()
                .filter(|r| &r.column == column)
                .any(|r| r.condition.needs_text());
            if as_numbers && !as_text && !out.contains(column) {
                out.push(column.clone());
            }
        }
        out
    }

    /// A rule's cells: numbers or text, as [`rule_features`] reads them for that rule.
    enum Cells {
        Numbers(Float64Chunked),
        Text(StringChunked),
    }

    /// Rows per block in [`rule_patterns`]: a block's features (rows × rules × 8 bytes) stay
    /// in the processor's cache between being computed and being hashed.
    const BLOCK: usize = 4096;
    /// Fewest rows worth a thread of its own in [`rule_patterns`].
    const ROWS_PER_THREAD: usize = 1 << 16;

    /// The distinct rule patterns of `table`'s leads in order of first appearance, and each
    /// lead's pattern: exactly `group::distinct_rows(rule_features(table, rules)?.view())`,
    /// errors included, without the feature matrix of every lead (8 bytes × rules × leads).
    /// For scoring, which needs only the patterns.
    ///
    /// The leads are split into one contiguous range per thread; each thread computes the
    /// features of a block of leads at a time and numbers the patterns it meets; the ranges'
    /// patterns are then renumbered in range order, which gives the same numbers as one pass
    /// over all the leads. Written here because the grouping needs the rules' own evaluation
    /// ([`crate::rules::Condition::eval_number`], `eval_text`) on every cell.
    pub fn rule_patterns(table: &Table, rules: &[Rule]) -> Result<(Array2<f64>, Vec<u32>)> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = table
            .n_rows()
            .div_ceil(threads)
            .max(ROWS_PER_THREAD)
            .next_multiple_of(BLOCK);
        match super::Atoms::of(rules) {
            // The patterns of the atoms, each turned into its rules' pattern: atom patterns
            // come in order of first appearance, so the rule patterns numbered in that order
            // are too (the first lead of a rule pattern is the first of some atom pattern).
            Some(atoms) => {
                let (patterns, lead_pattern) =
                    patterns_with(table, &atoms.rules, per_thread, BLOCK)?;
                let combined = atoms.combine_columns(patterns.view());
                let mut index = PatternIndex::new(rules.len());
                let mut key = vec![0u64; rules.len()];
                let renumber: Vec<u32> = combined
                    .rows()
                    .into_iter()
                    .map(|row| {
                        for (k, &f) in key.iter_mut().zip(row) {
                            *k = PatternIndex::key(f);
                        }
                        index.id(&key)
                    })
                    .collect();
                let lead_pattern = lead_pattern
                    .into_iter()
                    .map(|p| renumber[p as usize])
                    .collect();
                Ok((index.patterns(), lead_pattern))
            }
            None => patterns_with(table, rules, per_thread, BLOCK),
        }
    }

    /// [`rule_patterns`] with `per_thread` leads per thread, `block` leads at a time.
    pub(super) fn patterns_with(
        table: &Table,
        rules: &[Rule],
        per_thread: usize,
        block: usize,
    ) -> Result<(Array2<f64>, Vec<u32>)> {
        let n = table.n_rows();
        // As in `rule_features`: numeric columns are parsed first (their errors come first, in
        // the order rules first need them), then the text columns in rule order. `is_missing`
        // reads numbers on a column another rule needs as numbers: missingness is the same
        // either way, and such a column is numbers only (no text is kept) when loaded with
        // `Table::load_columns_numeric`.
        let mut numeric_columns: Vec<&str> = Vec::new();
        for rule in rules {
            if rule.condition.needs_numbers() && !numeric_columns.contains(&rule.column.as_str()) {
                numeric_columns.push(&rule.column);
            }
        }
        let parsed: Vec<Result<Float64Chunked>> = std::thread::scope(|scope| {
            let handles: Vec<_> = numeric_columns
                .iter()
                .map(|c| scope.spawn(move || table.numbers_column(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("column thread panicked"))
                .collect()
        });
        let mut numbers: BTreeMap<&str, Float64Chunked> = BTreeMap::new();
        for (c, values) in numeric_columns.iter().zip(parsed) {
            numbers.insert(c, values?);
        }
        let mut ages: BTreeMap<&str, Float64Chunked> = BTreeMap::new();
        for rule in rules.iter().filter(|r| r.condition.is_date()) {
            if !ages.contains_key(rule.column.as_str()) {
                ages.insert(&rule.column, table.date_ages(&rule.column)?);
            }
        }
        let cells: Vec<Cells> = rules
            .iter()
            .map(|rule| {
                let cond = &rule.condition;
                if cond.is_date() {
                    return Ok(Cells::Numbers(ages[rule.column.as_str()].clone()));
                }
                match numbers.get(rule.column.as_str()) {
                    Some(values) if !cond.needs_text() => Ok(Cells::Numbers(values.clone())),
                    _ => table.raw_texts(&rule.column).map(Cells::Text),
                }
            })
            .collect::<Result<_>>()?;
        let mut lead_pattern = vec![0u32; n];
        let parts: Vec<PatternIndex> = std::thread::scope(|scope| {
            let handles: Vec<_> = lead_pattern
                .chunks_mut(per_thread)
                .enumerate()
                .map(|(t, out)| {
                    let cells = &cells;
                    scope.spawn(move || {
                        number_patterns(table, rules, cells, t * per_thread, out, block)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("pattern thread panicked"))
                .collect()
        });
        let mut index = PatternIndex::new(rules.len());
        for (part, out) in parts.iter().zip(lead_pattern.chunks_mut(per_thread)) {
            let renumber: Vec<u32> = part.keys().iter().map(|k| index.id(k)).collect();
            for id in out {
                *id = renumber[*id as usize];
            }
        }
        Ok((index.patterns(), lead_pattern))
    }

    /// Numbers the patterns of the leads from `first` on, one per entry of `out`.
    fn number_patterns(
        table: &Table,
        rules: &[Rule],
        cells: &[Cells],
        first: usize,
        out: &mut [u32],
        block: usize,
    ) -> PatternIndex {
        let p = rules.len();
        let mut index = PatternIndex::new(p);
        let packing = Packing::of(rules);
        let mut packed = packing.as_ref().map(Packing::index);
        let mut features = vec![0.0f64; block * p];
        let mut codes = vec![0u64; block];
        let mut key = vec![0u64; p];
        for (b, out) in out.chunks_mut(block).enumerate() {
            let (start, len) = ((first + b * block) as i64, out.len());
            for ((rule, cells), column) in rules.iter().zip(cells).zip(features.chunks_mut(block)) {
                let cond = &rule.condition;
                match cells {
                    Cells::Numbers(ca) => {
                        let part = ca.slice(start, len);
                        if part.null_count() == 0 {
                            // The values themselves, without a validity check per cell.
                            let values = part.downcast_iter().flat_map(|a| a.values().iter());
                            for (f, &v) in column.iter_mut().zip(values) {
                                *f = cond.eval_number(Some(v));
                            }
                        } else {
                            for (f, v) in column.iter_mut().zip(&part) {
                                *f = cond.eval_number(v);
                            }
                        }
                    }
                    Cells::Text(ca) => {
                        let part = ca.slice(start, len);
                        if part.null_count() == 0 {
                            let values = part.downcast_iter().flat_map(|a| a.values_iter());
                            for (f, v) in column.iter_mut().zip(values) {
                                *f = cond.eval_text(table.cell(Some(v)));
                            }
                        } else {
                            for (f, v) in column.iter_mut().zip(&part) {
                                *f = cond.eval_text(table.cell(v));
                            }
                        }
                    }
                }
            }
            let mut full = |i: usize| {
                for (k, column) in key.iter_mut().zip(features.chunks(block)) {
                    *k = PatternIndex::key(column[i]);
                }
                index.id(&key)
            };
            match (&packing, &mut packed) {
                (Some(packing), Some(packed)) => {
                    let codes = &mut codes[..len];
                    packing.pack(&features, block, codes);
                    for (i, (id, &code)) in out.iter_mut().zip(codes.iter()).enumerate() {
                        *id = match code {
                            Packing::UNPACKED => full(i),
                            code => packed.id(code, || full(i)),
                        };
                    }
                }
                _ => {
                    for (i, id) in out.iter_mut().enumerate() {
                        *id = full(i);
                    }
                }
            }
        }
        index
    }

    /// Where each rule's feature goes in a packed pattern (one 64-bit number), when every
    /// rule's feature is a whole number from 0 to a known largest value and all of them fit
    /// in 63 bits: most leads then need a small key instead of one 64-bit key per rule.
    struct Packing {
        /// Per rule: (bit offset, largest feature).
        fields: Vec<(u32, f64)>,
        bits: u32,
    }

    /// Packed pattern → index in [`PatternIndex`]: a table indexed by the packed pattern when
    /// it has few bits, else a hash map.
    enum Packed {
        Table(Vec<u32>),
        Map(HashMap<u64, u32, foldhash::fast::FixedState>),
    }

    impl Packed {
        /// The index of the packed pattern `code`, from `new` on first sight.
        fn id(&mut self, code: u64, new: impl FnOnce() -> u32) -> u32 {
            match self {
                Packed::Table(slots) => {
                    let slot = &mut slots[code as usize];
                    if *slot == u32::MAX {
                        *slot = new();
                    }
                    *slot
                }
                Packed::Map(map) => *map.entry(code).or_insert_with(new),
            }
        }
    }

    impl Packing {
        /// Marks a lead whose features do not pack (never a packed pattern: those use at most
        /// 63 bits).
        const UNPACKED: u64 = u64::MAX;
        /// Packed patterns of up to this many bits are looked up in a table (4 bytes × 2^bits).
        const TABLE_BITS: u32 = 16;

        fn of(rules: &[Rule]) -> Option<Packing> {
            let mut fields = Vec::with_capacity(rules.len());
            let mut bits = 0u32;
            for rule in rules {
                let largest: u64 = match &rule.condition {
                    Condition::PerUnit { cap: Some(c) } if *c >= 0.0 && *c < 65536.0 => {
                        c.floor() as u64
                    }
                    Condition::PerUnit { .. } => return None,
                    Condition::Range { .. }
                    | Condition::OneOf { .. }
                    | Condition::IsMissing
                    | Condition::WithinDays { .. }
                    | Condition::OlderThanDays { .. }
                    | Condition::All { .. }
                    | Condition::Any { .. } => 1,
                };
                fields.push((bits, largest as f64));
                bits += u64::BITS - largest.leading_zeros();
                if bits >= u64::BITS {
                    return None;
                }
            }
            Some(Packing { fields, bits })
        }

        fn index(&self) -> Packed {
            if self.bits <= Packing::TABLE_BITS {
                Packed::Table(vec![u32::MAX; 1 << self.bits])
            } else {
                Packed::Map(HashMap::default())
            }
        }

        /// The packed patterns of a block's leads (`features` column-major, `block` rows),
        /// [`Packing::UNPACKED`] for a lead with a feature that is not a whole number from 0
        /// to its largest.
        fn pack(&self, features: &[f64], block: usize, codes: &mut [u64]) {
            codes.fill(0);
            for (&(offset, largest), column) in self.fields.iter().zip(features.chunks(block)) {
                for (code, &f) in codes.iter_mut().zip(column) {
                    // -0.0 packs as 0, as it groups with 0.
                    let whole = f >= 0.0 && f <= largest && f == (f as u64) as f64;
                    *code |= if whole {
                        (f as u64) << offset
                    } else {
                        Packing::UNPACKED
                    };
                }
            }
        }
    }
}

/// The simple conditions compound rules are made of, as rules of their own: features are
/// computed for these atoms (each column parsed once, as for any rules) and then combined into
/// the rules' features ([`Condition::combine`](crate::rules::Condition::combine)).
pub struct Atoms {
    /// One simple rule per atom, in rule order and then part order (named as their rule).
    pub rules: Vec<Rule>,
    /// Per rule, the range of its atoms in `rules`, and the rule itself.
    spans: Vec<(std::ops::Range<usize>, Rule)>,
}

impl Atoms {
    /// The atoms of `rules`, or `None` when no rule is compound (each rule is its own atom).
    pub fn of(rules: &[Rule]) -> Option<Atoms> {
        if !rules.iter().any(|r| r.condition.is_compound()) {
            return None;
        }
        let mut atoms = Vec::new();
        let mut spans = Vec::with_capacity(rules.len());
        for rule in rules {
            let start = atoms.len();
            for (column, condition) in rule.atoms() {
                atoms.push(Rule {
                    name: rule.name.clone(),
                    column: column.to_string(),
                    condition: condition.clone(),
                    group: None,
                    event: None,
                });
            }
            spans.push((start..atoms.len(), rule.clone()));
        }
        Some(Atoms {
            rules: atoms,
            spans,
        })
    }

    /// The rules' features (one column per rule) from the atoms' (one column per atom).
    pub fn combine_columns(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((x.nrows(), self.spans.len()).f());
        for (mut col, (span, rule)) in out.columns_mut().into_iter().zip(&self.spans) {
            for (i, f) in col.iter_mut().enumerate() {
                *f = rule.combine(span.clone().map(|k| x[[i, k]]));
            }
        }
        out
    }
}

/// For each rule: (leads it fires on, how many of them converted).
pub fn support(x: ArrayView2<f64>, y: &[bool]) -> Vec<(usize, usize)> {
    x.columns()
        .into_iter()
        .map(|col| {
            col.iter()
                .zip(y)
                .filter(|(f, _)| **f > 0.0)
                .fold((0, 0), |(n, c), (_, &t)| (n + 1, c + t as usize))
        })
        .collect()
}

#[cfg(all(test, feature = "data"))]
mod tests {
    use std::path::Path;

    use polars::prelude::*;

    use super::{number_columns, rule_features};
    use crate::data::{LoadOptions, Table};
    use crate::group::distinct_rows;
    use crate::rules::{Rule, RulesFile};

    const RULES: &str = r#"
[[rule]]
name = "Missing visits"
column = "visits"
is_missing = true
[[rule]]
name = "Visits"
column = "visits"
per_unit = true
cap = 3
[[rule]]
name = "Big"
column = "size"
at_least = 100
[[rule]]
name = "Small"
column = "size"
below = 10
[[rule]]
name = "Senior"
column = "level"
one_of = ["VP", "C-Level"]
[[rule]]
name = "No level"
column = "level"
is_missing = true
[[rule]]
name = "Uncapped"
column = "opens"
per_unit = true
"#;

    fn rules() -> Vec<Rule> {
        let file: RulesFile = toml::from_str(RULES).unwrap();
        file.checked_rules().unwrap()
    }

    /// `rows` leads with awkward cells: spaces, placeholders, empty cells, -0, fractions,
    /// exponents, negative numbers, large numbers.
    fn table(rows: usize, numbers_as_floats: bool) -> Table {
        let pick =
            |i: usize, k: usize, cells: &[&'static str]| cells[(i * k + i / 7) % cells.len()];
        let visits = [
            " 2", "3.7", "-0", "-2", "1e1", "", "Select", "0", "1", "0.5",
        ];
        let size = [
            "150", " 99.5", "100", "", "9.99", "10", "Select", "-0.0", "5e2",
        ];
        let levels = [
            " VP ",
            "vp",
            "VP",
            "C-Level",
            "",
            "Select",
            "\u{a0}VP\u{3000}",
            "Director",
            "Manager",
        ];
        let opens = ["0", "1", "2", "7", "12000", "", "3.5"];
        let text = |cells: &[&'static str], k: usize| -> Vec<Option<&'static str>> {
            (0..rows).map(|i| Some(pick(i, k, cells))).collect()
        };
        let number = |name: &str, cells: &[&'static str], k: usize| -> Column {
            let values: Vec<Option<f64>> = (0..rows)
                .map(|i| pick(i, k, cells).trim().parse::<f64>().ok())
                .collect();
            Column::new(name.into(), values)
        };
        let df = if numbers_as_floats {
            DataFrame::new(vec![
                number("visits", &visits, 3),
                number("size", &size, 5),
                Column::new("level".into(), text(&levels, 11)),
                number("opens", &opens, 13),
            ])
        } else {
            DataFrame::new(vec![
                Column::new("visits".into(), text(&visits, 3)),
                Column::new("size".into(), text(&size, 5)),
                Column::new("level".into(), text(&levels, 11)),
                Column::new("opens".into(), text(&opens, 13)),
            ])
        }
        .unwrap();
        let options = LoadOptions {
            na: vec!["Select".into()],
            exclude: Vec::new(),
            ..Default::default()
        };
        Table::from_frame(Path::new("leads.csv"), df, String::new(), &options).unwrap()
    }

    #[test]
    fn patterns_are_the_distinct_rows_of_the_features() {
        // With an uncapped rule (long keys), without (packed keys looked up in a table) and
        // with a large cap (packed keys looked up in a hash map).
        let all = rules();
        let capped: Vec<Rule> = all
            .iter()
            .filter(|r| r.name != "Uncapped")
            .cloned()
            .collect();
        let mut large = capped.clone();
        large.push(Rule {
            group: None,
            event: None,
            name: "Opens up to 60,000".into(),
            column: "opens".into(),
            condition: crate::rules::Condition::PerUnit { cap: Some(60000.0) },
        });
        for (rules, floats) in [false, true]
            .into_iter()
            .flat_map(|floats| [(&all, floats), (&capped, floats), (&large, floats)])
        {
            let rules = rules.as_slice();
            let table = table(1000, floats);
            let x = rule_features(&table, rules).unwrap();
            let (want_patterns, want_leads) = distinct_rows(x.view());
            assert!(want_patterns.nrows() > 20, "awkward enough");
            // Threads and blocks that do not divide the leads evenly, and one of each.
            for (per_thread, block) in [(1000, 4096), (1000, 1), (500, 7), (333, 64), (70, 5)] {
                let (patterns, leads) =
                    super::from_table::patterns_with(&table, rules, per_thread, block).unwrap();
                let case = format!("{per_thread} leads per thread, blocks of {block}");
                assert_eq!(patterns, want_patterns, "{case}");
                assert_eq!(leads, want_leads, "{case}");
            }
        }
    }

    #[test]
    fn pattern_errors_are_the_feature_errors() {
        let rules = rules();
        // The error of `rule_features` and that of `rule_patterns` on the same leads.
        let errors = |df: DataFrame| {
            let table = Table::from_frame(
                Path::new("l.csv"),
                df,
                String::new(),
                &LoadOptions::default(),
            )
            .unwrap();
            let want = rule_features(&table, &rules).unwrap_err().to_string();
            let got = super::rule_patterns(&table, &rules)
                .unwrap_err()
                .to_string();
            (want, got)
        };
        // A bad number: the row and column are named, as by `rule_features`.
        let (want, got) = errors(
            df!(
                "visits" => ["1", "2", "lots"],
                "size" => ["1", "x", "3"],
                "opens" => ["1", "2", "3"],
            )
            .unwrap(),
        );
        assert!(
            want.contains("row 3") && want.contains("'visits'"),
            "{want}"
        );
        assert_eq!(got, want);
        // A missing text column once the numbers are read.
        let (want, got) =
            errors(df!("visits" => ["1"], "size" => ["1"], "opens" => ["1"]).unwrap());
        assert!(want.contains("'level'"), "{want}");
        assert_eq!(got, want);
    }

    #[test]
    fn number_columns_are_those_no_rule_reads_as_text() {
        let mut rules = rules();
        assert_eq!(number_columns(&rules), ["visits", "size", "opens"]);
        rules.push(Rule {
            group: None,
            event: None,
            name: "Three visits as written".into(),
            column: "visits".into(),
            condition: crate::rules::Condition::OneOf {
                values: vec!["3".into()],
                ignore_case: false,
            },
        });
        assert_eq!(number_columns(&rules), ["size", "opens"]);
    }
}
