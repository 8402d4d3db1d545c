//! Leads → rule patterns with counts. Every rule turns a lead into a small integer, so the rule
//! feature matrix has few distinct rows: leads with the same pattern are one row with two
//! counts (leads, conversions). The log-likelihood of the logistic model is a sum over leads
//! that depends on a lead only through its pattern and outcome, so it is exactly the same sum
//! over patterns weighted by the counts: the fit, the folds, the out-of-fold scores, the
//! calibration, the threshold and the metrics all work on [`Groups`] and cost nothing per lead.
//!
//! Takes rule features and outcomes (one row per lead) or a counts table (one row per pattern,
//! e.g. from the warehouse: `mqlcal export --format sql-counts`); gives [`Groups`] (patterns in
//! a canonical order) and, with a fold count and seed, [`FoldCounts`].
//!
//! Folds are dealt per pattern count, so that a counts table and the rows it came from give the
//! same folds (a warehouse cannot reproduce a per-lead shuffle): within each outcome, patterns
//! are visited in a seeded random order and their leads dealt round-robin to the folds, as a
//! dealer deals cards. Leads in one pattern are interchangeable to the model, so this is a
//! stratified k-fold split (stratified by outcome and by pattern) with a seeded assignment.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Distinct rule patterns with how many leads had each and how many of those converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    /// One row per distinct pattern, one column per rule; rows sorted ascending (first rule
    /// first), column-major.
    pub x: Array2<f64>,
    pub leads: Vec<u64>,
    pub conversions: Vec<u64>,
    /// Per pattern: the share of their chance to convert within the window that its
    /// non-converted leads have had by as-of, F(age) ([`crate::outcome`]); 1 for leads whose
    /// outcome is final (every lead, without a window). Leads of one rule pattern but of
    /// different ages are different rows, so a pattern may appear once per exposure.
    pub exposure: Vec<f64>,
}

impl Groups {
    /// Groups the rows of `x` (one per lead) with outcomes `y`. Also returns each lead's
    /// pattern index, in input order.
    pub fn from_rows(x: ArrayView2<f64>, y: &[bool]) -> (Groups, Vec<u32>) {
        Groups::from_rows_exposed(x, y, None)
    }

    /// [`Groups::from_rows`] with each lead's exposure (see [`Groups::exposure`]); leads of
    /// one pattern and one exposure share a row.
    pub fn from_rows_exposed(
        x: ArrayView2<f64>,
        y: &[bool],
        exposure: Option<&[f64]>,
    ) -> (Groups, Vec<u32>) {
        let (patterns, mut lead_pattern) = match exposure {
            None => distinct_rows(x),
            Some(e) => {
                // The exposure is one more column of the key.
                let mut keyed = Array2::zeros((x.nrows(), x.ncols() + 1).f());
                keyed.slice_mut(ndarray::s![.., ..x.ncols()]).assign(&x);
                keyed
                    .column_mut(x.ncols())
                    .assign(&ndarray::ArrayView1::from(e));
                distinct_rows(keyed.view())
            }
        };
        let mut leads = vec![0u64; patterns.nrows()];
        let mut conversions = vec![0u64; patterns.nrows()];
        for (&g, &t) in lead_pattern.iter().zip(y) {
            leads[g as usize] += 1;
            conversions[g as usize] += t as u64;
        }
        let (patterns, exposure) = match exposure {
            None => (patterns, vec![1.0; leads.len()]),
            Some(_) => {
                let p = x.ncols();
                let e = patterns.column(p).to_vec();
                (patterns.slice(ndarray::s![.., ..p]).to_owned(), e)
            }
        };
        let (groups, new_id) = Groups::sorted(patterns, leads, conversions, exposure);
        for g in &mut lead_pattern {
            *g = new_id[*g as usize];
        }
        (groups, lead_pattern)
    }

    /// Groups a counts table: row `r` is a pattern `x.row(r)` seen on `leads[r]` leads of
    /// which `conversions[r]` converted. Repeated patterns are added up; rows with no leads
    /// are dropped. Errors name the row (1-based) that has more conversions than leads.
    pub fn from_counts(x: ArrayView2<f64>, leads: &[u64], conversions: &[u64]) -> Result<Groups> {
        Groups::from_counts_exposed(x, leads, conversions, None)
    }

    /// [`Groups::from_counts`] with each row's exposure (see [`Groups::exposure`]).
    pub fn from_counts_exposed(
        x: ArrayView2<f64>,
        leads: &[u64],
        conversions: &[u64],
        exposure: Option<&[f64]>,
    ) -> Result<Groups> {
        let p = x.ncols();
        let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
        let mut rows: Vec<(Vec<f64>, u64, u64)> = Vec::new();
        let mut row_exposure: Vec<f64> = Vec::new();
        for (r, (&n, &c)) in leads.iter().zip(conversions).enumerate() {
            if c > n {
                return Err(Error::Fit(format!(
                    "counts row {} has {c} conversions but only {n} leads; conversions must \
                     count leads of the row that converted",
                    r + 1
                )));
            }
            if n == 0 {
                continue;
            }
            let values: Vec<f64> = x.row(r).iter().map(|&v| normal(v)).collect();
            let f = exposure.map_or(1.0, |e| normal(e[r]));
            let mut key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
            key.push(f.to_bits());
            match index.get(&key) {
                Some(&g) => {
                    rows[g].1 += n;
                    rows[g].2 += c;
                }
                None => {
                    index.insert(key, rows.len());
                    rows.push((values, n, c));
                    row_exposure.push(f);
                }
            }
        }
        let patterns = Array2::from_shape_fn((rows.len(), p).f(), |(g, j)| rows[g].0[j]);
        let leads = rows.iter().map(|r| r.1).collect();
        let conversions = rows.iter().map(|r| r.2).collect();
        Ok(Groups::sorted(patterns, leads, conversions, row_exposure).0)
    }

    /// The groups with rule `j`'s feature limited to `caps[j]` (where given), patterns that
    /// become equal added up; also returns old pattern index → new. Exactly the groups of the
    /// capped features, since capping a lead's feature does not depend on the other leads.
    pub fn capped(&self, caps: &[Option<f64>]) -> (Groups, Vec<u32>) {
        let p = self.x.ncols();
        let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
        let mut rows: Vec<(Vec<f64>, u64, u64)> = Vec::new();
        // Leads of one pattern but another exposure stay apart, as in `from_rows_exposed`.
        let mut exposure: Vec<f64> = Vec::new();
        let mut merged = Vec::with_capacity(self.len());
        for g in 0..self.len() {
            let values: Vec<f64> = (0..p)
                .map(|j| {
                    let v = self.x[[g, j]];
                    caps.get(j).copied().flatten().map_or(v, |c| v.min(c))
                })
                .collect();
            let mut key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
            key.push(self.exposure[g].to_bits());
            let at = *index.entry(key).or_insert_with(|| {
                rows.push((values, 0, 0));
                exposure.push(self.exposure[g]);
                rows.len() - 1
            });
            rows[at].1 += self.leads[g];
            rows[at].2 += self.conversions[g];
            merged.push(at);
        }
        let patterns = Array2::from_shape_fn((rows.len(), p).f(), |(g, j)| rows[g].0[j]);
        let leads = rows.iter().map(|r| r.1).collect();
        let conversions = rows.iter().map(|r| r.2).collect();
        let (groups, new_id) = Groups::sorted(patterns, leads, conversions, exposure);
        let map = merged.into_iter().map(|m| new_id[m]).collect();
        (groups, map)
    }

    /// Sorts patterns ascending so the order never depends on where leads sat in the input;
    /// also returns old index → new index.
    pub(crate) fn sorted(
        x: Array2<f64>,
        leads: Vec<u64>,
        conversions: Vec<u64>,
        exposure: Vec<f64>,
    ) -> (Groups, Vec<u32>) {
        let mut order: Vec<usize> = (0..x.nrows()).collect();
        order.sort_by(|&a, &b| {
            x.row(a)
                .iter()
                .zip(x.row(b).iter())
                .map(|(u, v)| u.total_cmp(v))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(exposure[a].total_cmp(&exposure[b]))
        });
        let mut new_id = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old] = new as u32;
        }
        let sorted = Array2::from_shape_fn((order.len(), x.ncols()).f(), |(g, j)| x[[order[g], j]]);
        (
            Groups {
                x: sorted,
                leads: order.iter().map(|&g| leads[g]).collect(),
                conversions: order.iter().map(|&g| conversions[g]).collect(),
                exposure: order.iter().map(|&g| exposure[g]).collect(),
            },
            new_id,
        )
    }

    pub fn len(&self) -> usize {
        self.leads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
    }

    pub fn total_leads(&self) -> u64 {
        self.leads.iter().sum()
    }

    pub fn total_conversions(&self) -> u64 {
        self.conversions.iter().sum()
    }

    /// True when some leads' outcome is not final (an exposure below 1).
    pub fn has_immature(&self) -> bool {
        self.exposure.iter().any(|&f| f < 1.0)
    }

    /// The exposures for the fit: `None` when every outcome is final.
    pub fn exposure_if_any(&self) -> Option<&[f64]> {
        self.has_immature().then_some(self.exposure.as_slice())
    }

    /// Deals each pattern's leads to `k` folds (see the module docs), seeded by `seed`.
    pub fn split_folds(&self, k: usize, seed: u64) -> FoldCounts {
        let deal = self.deal(seed);
        let g = self.len();
        let mut leads = vec![0u64; g * k];
        let mut conversions = vec![0u64; g * k];
        for p in 0..g {
            let pos = self.conversions[p];
            let neg = self.leads[p] - pos;
            for f in 0..k {
                let c = dealt(deal.start[2 * p], pos, f, k);
                let n = dealt(deal.start[2 * p + 1], neg, f, k);
                conversions[p * k + f] = c;
                leads[p * k + f] = c + n;
            }
        }
        FoldCounts {
            k,
            leads,
            conversions,
        }
    }

    /// Each lead's fold, consistent with [`Groups::split_folds`]: within a pattern and outcome,
    /// leads take the dealt slots in input order.
    pub fn lead_folds(&self, lead_pattern: &[u32], y: &[bool], k: usize, seed: u64) -> Vec<usize> {
        let deal = self.deal(seed);
        let mut next = deal.start;
        lead_pattern
            .iter()
            .zip(y)
            .map(|(&p, &t)| {
                let slot = &mut next[2 * p as usize + usize::from(!t)];
                let f = (*slot % k as u64) as usize;
                *slot += 1;
                f
            })
            .collect()
    }

    /// The counts per pattern and fold of leads in given folds (see [`folds_by_key`]):
    /// `lead_pattern`, `y` and `lead_folds` are per lead.
    pub fn fold_counts(
        &self,
        lead_pattern: &[u32],
        y: &[bool],
        lead_folds: &[usize],
        k: usize,
    ) -> FoldCounts {
        let mut leads = vec![0u64; self.len() * k];
        let mut conversions = vec![0u64; self.len() * k];
        for ((&p, &t), &f) in lead_pattern.iter().zip(y).zip(lead_folds) {
            leads[p as usize * k + f] += 1;
            conversions[p as usize * k + f] += u64::from(t);
        }
        FoldCounts {
            k,
            leads,
            conversions,
        }
    }

    /// The first dealt slot of each (pattern, outcome): index 2p for conversions, 2p+1 for
    /// the rest. Conversions are dealt first, then non-conversions, continuing the count, so
    /// every fold gets nearly the same number of each.
    fn deal(&self, seed: u64) -> Deal {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut start = vec![0u64; 2 * self.len()];
        let mut slot = 0u64;
        for outcome in 0..2 {
            let mut order: Vec<usize> = (0..self.len()).collect();
            order.shuffle(&mut rng);
            for p in order {
                let m = if outcome == 0 {
                    self.conversions[p]
                } else {
                    self.leads[p] - self.conversions[p]
                };
                start[2 * p + outcome] = slot;
                slot += m;
            }
        }
        Deal { start }
    }
}

/// The distinct rows of `x` in order of first appearance (column-major), and each row's index
/// among them.
pub fn distinct_rows(x: ArrayView2<f64>) -> (Array2<f64>, Vec<u32>) {
    let (n, p) = x.dim();
    let mut index = PatternIndex::new(p);
    let mut lead_pattern = Vec::with_capacity(n);
    let mut key = vec![0u64; p];
    let columns: Vec<_> = x.columns().into_iter().collect();
    for i in 0..n {
        for (k, c) in key.iter_mut().zip(&columns) {
            *k = PatternIndex::key(c[i]);
        }
        lead_pattern.push(index.id(&key));
    }
    (index.patterns(), lead_pattern)
}

/// Numbers rule patterns (rows of features) in order of first appearance.
#[derive(Debug, Clone)]
pub(crate) struct PatternIndex {
    /// Keys are the features' bit patterns (features are small whole numbers, never NaN).
    /// foldhash: a fast non-cryptographic hash; patterns are not adversarial.
    index: HashMap<Box<[u64]>, u32, foldhash::fast::FixedState>,
    keys: Vec<Box<[u64]>>,
    n_rules: usize,
}

impl PatternIndex {
    pub(crate) fn new(n_rules: usize) -> PatternIndex {
        PatternIndex {
            index: HashMap::default(),
            keys: Vec::new(),
            n_rules,
        }
    }

    /// A feature as a part of a key (-0.0 and 0.0 are one pattern).
    pub(crate) fn key(v: f64) -> u64 {
        normal(v).to_bits()
    }

    /// The index of the pattern whose features have the keys `key`, numbered on first sight.
    pub(crate) fn id(&mut self, key: &[u64]) -> u32 {
        match self.index.get(key) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                self.index.insert(key.into(), id);
                self.keys.push(key.into());
                id
            }
        }
    }

    /// The patterns numbered so far, in order.
    #[cfg(feature = "data")]
    pub(crate) fn keys(&self) -> &[Box<[u64]>] {
        &self.keys
    }

    /// One row per pattern, in order (column-major).
    pub(crate) fn patterns(&self) -> Array2<f64> {
        Array2::from_shape_fn((self.keys.len(), self.n_rules).f(), |(g, j)| {
            f64::from_bits(self.keys[g][j])
        })
    }
}

struct Deal {
    start: Vec<u64>,
}

/// How many of the slots `start..start + m` fall on fold `f` when slot `s` goes to `s % k`.
pub(crate) fn dealt(start: u64, m: u64, f: usize, k: usize) -> u64 {
    let k64 = k as u64;
    let first = (f as u64 + k64 - start % k64) % k64;
    m / k64 + u64::from(first < m % k64)
}

/// -0.0 and 0.0 are one pattern.
fn normal(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// Each row's fold when rows with the same key must share one (a lead's snapshots): the
/// distinct keys, sorted, are shuffled by `seed` and dealt round-robin to `k` folds. Rows
/// without a key are each their own key. Folds so dealt are balanced in keys, not stratified
/// by outcome.
pub fn folds_by_key(keys: &[Option<String>], k: usize, seed: u64) -> Vec<usize> {
    let mut distinct: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    distinct.shuffle(&mut rng);
    let fold: HashMap<&str, usize> = distinct
        .iter()
        .enumerate()
        .map(|(i, &key)| (key, i % k))
        .collect();
    let mut next = distinct.len();
    keys.iter()
        .map(|key| match key {
            Some(key) => fold[key.as_str()],
            None => {
                next += 1;
                (next - 1) % k
            }
        })
        .collect()
}

/// [`folds_by_key`] for rows that come from holders (leads) with one key each, every row of a
/// holder sharing its key: each holder's fold, the one [`folds_by_key`] gives its rows, found by
/// sorting the holders rather than mapping the keys. `keys[h]` is holder `h`'s key, `None` for
/// a holder with no rows or no key; [`NO_FOLD`] is its fold. Also gives the number of distinct
/// keys, from which [`folds_by_key`] goes on dealing rows without a key, one each.
pub fn folds_of_holders(keys: &[Option<&str>], k: usize, seed: u64) -> (Vec<u32>, usize) {
    let (mut group, distinct) = key_ranks(keys);
    let fold_of = deal(distinct, k, seed);
    for g in &mut group {
        if *g != NO_FOLD {
            *g = fold_of[*g as usize];
        }
    }
    (group, distinct as usize)
}

/// Buckets of lead ids that a warehouse deals to folds (the `lead_bucket` column of snapshot
/// counts, `mqlcal export --format sql-counts --events-table`): a lead's bucket is the rank of
/// its id among the distinct ids in byte order, modulo this ([`key_buckets`]), which every SQL
/// engine can compute (`ROW_NUMBER() OVER (ORDER BY id)`), unlike a seeded shuffle of the ids.
/// 60 is divisible by every fold count from 2 to 6 (and 10, 12, 15, 20), so such folds get
/// equally many buckets and so equally many leads (to one lead per bucket); and it is small
/// next to the number of leads, so the counts table, which keeps the buckets apart, does not
/// grow much, while 60 buckets still deal into many different splits.
pub const LEAD_BUCKETS: u32 = 60;

/// Each holder's bucket (see [`LEAD_BUCKETS`]): the 0-based rank of its key among the distinct
/// keys, in byte order, modulo [`LEAD_BUCKETS`]; [`NO_FOLD`] for a holder without a key.
pub fn key_buckets(keys: &[Option<&str>]) -> Vec<u32> {
    let (mut rank, _) = key_ranks(keys);
    for r in &mut rank {
        if *r != NO_FOLD {
            *r %= LEAD_BUCKETS;
        }
    }
    rank
}

/// The fold of each bucket `0..LEAD_BUCKETS`: the bucket numbers shuffled by `seed` and dealt
/// round-robin to `k` folds, as [`folds_of_holders`] deals keys.
pub fn bucket_folds(k: usize, seed: u64) -> Vec<u32> {
    deal(LEAD_BUCKETS, k, seed)
}

/// [`folds_of_holders`] with whole buckets of keys dealt ([`key_buckets`], [`bucket_folds`]):
/// the folds `mqlcal train --counts` deals a warehouse's snapshot counts by, so that training
/// from the leads (with `TrainParams::fold_by_bucket`) gives the same model. [`NO_FOLD`] for a
/// holder without a key.
pub fn folds_by_bucket(keys: &[Option<&str>], k: usize, seed: u64) -> Vec<u32> {
    let fold_of = bucket_folds(k, seed);
    key_buckets(keys)
        .into_iter()
        .map(|b| match b {
            NO_FOLD => NO_FOLD,
            b => fold_of[b as usize],
        })
        .collect()
}

/// Each holder's 0-based rank among the distinct keys in byte order ([`NO_FOLD`] without a
/// key), and the number of distinct keys.
fn key_ranks(keys: &[Option<&str>]) -> (Vec<u32>, u32) {
    let mut order: Vec<u32> = (0..keys.len() as u32)
        .filter(|&h| keys[h as usize].is_some())
        .collect();
    order.sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    let mut rank = vec![NO_FOLD; keys.len()];
    let mut distinct = 0u32;
    for (n, &h) in order.iter().enumerate() {
        if n > 0 && keys[order[n - 1] as usize] != keys[h as usize] {
            distinct += 1;
        }
        rank[h as usize] = distinct;
    }
    let distinct = if order.is_empty() { 0 } else { distinct + 1 };
    (rank, distinct)
}

/// The fold of each of `n` groups numbered `0..n`: the numbers shuffled by `seed` and dealt
/// round-robin to `k` folds. Shuffling positions moves them as shuffling the keys would (the
/// swaps depend on the length only).
fn deal(n: u32, k: usize, seed: u64) -> Vec<u32> {
    let mut shuffled: Vec<u32> = (0..n).collect();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut fold_of = vec![0u32; n as usize];
    for (position, &g) in shuffled.iter().enumerate() {
        fold_of[g as usize] = (position % k) as u32;
    }
    fold_of
}

/// The fold of a holder without rows or key in [`folds_of_holders`].
pub const NO_FOLD: u32 = u32::MAX;

/// Per pattern and fold: leads and conversions, at index `pattern * k + fold`.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldCounts {
    pub k: usize,
    pub leads: Vec<u64>,
    pub conversions: Vec<u64>,
}

impl FoldCounts {
    pub fn leads(&self, pattern: usize, fold: usize) -> u64 {
        self.leads[pattern * self.k + fold]
    }

    pub fn conversions(&self, pattern: usize, fold: usize) -> u64 {
        self.conversions[pattern * self.k + fold]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_get_the_folds_their_rows_get_by_key() {
        let ids = ["b", "a", "c", "a", "d", "e", "f", "g", "b2", "h"];
        // Holder 2 has no rows, holder 5 no key; the others' rows (2 or 1 each) by key.
        let keys: Vec<Option<&str>> = (0..ids.len())
            .map(|h| (h != 2 && h != 5).then_some(ids[h]))
            .collect();
        let mut rows: Vec<Option<String>> = Vec::new();
        for (h, key) in keys.iter().enumerate() {
            for _ in 0..(1 + h % 2) {
                rows.push(key.map(String::from));
            }
        }
        for seed in 0..20 {
            let by_key = folds_by_key(&rows, 3, seed);
            let (holders, distinct) = folds_of_holders(&keys, 3, seed);
            assert_eq!(distinct, 7);
            let mut r = 0;
            for (h, key) in keys.iter().enumerate() {
                for _ in 0..(1 + h % 2) {
                    if key.is_some() {
                        assert_eq!(holders[h] as usize, by_key[r], "seed {seed}, holder {h}");
                    }
                    r += 1;
                }
            }
            assert_eq!((holders[2], holders[5]), (NO_FOLD, NO_FOLD));
        }
    }

    #[test]
    fn buckets_are_id_ranks_modulo_and_deal_whole_to_folds() {
        // 130 distinct ids (one twice, one missing), in an order unlike byte order.
        let ids: Vec<String> = (0..130).map(|i| format!("L{}", (i * 37) % 130)).collect();
        let mut keys: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        keys.push(Some("L7"));
        keys.push(None);
        let buckets = key_buckets(&keys);
        let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
        sorted.sort();
        for (h, key) in keys.iter().enumerate() {
            match key {
                Some(key) => {
                    let rank = sorted.iter().position(|s| s == key).unwrap() as u32;
                    assert_eq!(buckets[h], rank % LEAD_BUCKETS, "{key}");
                }
                None => assert_eq!(buckets[h], NO_FOLD),
            }
        }
        for k in [2, 3, 4, 5, 6, 10, 20] {
            for seed in [0, 1, 9] {
                let fold_of = bucket_folds(k, seed);
                for f in 0..k as u32 {
                    let n = fold_of.iter().filter(|&&g| g == f).count();
                    assert_eq!(n, LEAD_BUCKETS as usize / k, "k {k}, seed {seed}");
                }
                let folds = folds_by_bucket(&keys, k, seed);
                for (h, &b) in buckets.iter().enumerate() {
                    let want = if b == NO_FOLD {
                        NO_FOLD
                    } else {
                        fold_of[b as usize]
                    };
                    assert_eq!(folds[h], want);
                }
            }
        }
        assert_ne!(bucket_folds(5, 0), bucket_folds(5, 1));
    }

    fn data() -> (Array2<f64>, Vec<bool>) {
        let x = Array2::from_shape_fn((40, 2).f(), |(i, j)| ((i * (j + 2)) % 3) as f64);
        let y: Vec<bool> = (0..40).map(|i| i % 3 == 0 || i % 7 == 0).collect();
        (x, y)
    }

    #[test]
    fn grouping_keeps_every_lead_and_conversion() {
        let (x, y) = data();
        let (g, lead_pattern) = Groups::from_rows(x.view(), &y);
        assert_eq!(g.total_leads(), 40);
        assert_eq!(
            g.total_conversions() as usize,
            y.iter().filter(|&&t| t).count()
        );
        for (i, &p) in lead_pattern.iter().enumerate() {
            assert_eq!(g.x.row(p as usize), x.row(i));
        }
        // The same leads in another order give the same groups.
        let rev: Vec<usize> = (0..40).rev().collect();
        let xr = crate::fit::take_rows(x.view(), &rev);
        let yr: Vec<bool> = rev.iter().map(|&i| y[i]).collect();
        assert_eq!(Groups::from_rows(xr.view(), &yr).0, g);
    }

    #[test]
    fn counts_table_gives_the_rows_groups() {
        let (x, y) = data();
        let (g, _) = Groups::from_rows(x.view(), &y);
        // Split every group into two rows (as a warehouse might across partitions).
        let mut rows = Vec::new();
        let (mut n, mut c) = (Vec::new(), Vec::new());
        for p in (0..g.len()).rev() {
            let half = g.leads[p] / 2;
            let ch = g.conversions[p].min(half);
            for (a, b) in [(half, ch), (g.leads[p] - half, g.conversions[p] - ch)] {
                rows.push(g.x.row(p).to_vec());
                n.push(a);
                c.push(b);
            }
        }
        let xc = Array2::from_shape_fn((rows.len(), 2), |(r, j)| rows[r][j]);
        assert_eq!(Groups::from_counts(xc.view(), &n, &c).unwrap(), g);
        c[0] = n[0] + 1;
        assert!(Groups::from_counts(xc.view(), &n, &c).is_err());
    }

    #[test]
    fn folds_partition_the_counts_and_match_per_lead_folds() {
        let (x, y) = data();
        let (g, lead_pattern) = Groups::from_rows(x.view(), &y);
        let k = 5;
        let folds = g.split_folds(k, 7);
        let lead_folds = g.lead_folds(&lead_pattern, &y, k, 7);
        for p in 0..g.len() {
            assert_eq!((0..k).map(|f| folds.leads(p, f)).sum::<u64>(), g.leads[p]);
            for f in 0..k {
                let here: Vec<usize> = (0..40)
                    .filter(|&i| lead_pattern[i] as usize == p && lead_folds[i] == f)
                    .collect();
                assert_eq!(here.len() as u64, folds.leads(p, f));
                assert_eq!(
                    here.iter().filter(|&&i| y[i]).count() as u64,
                    folds.conversions(p, f)
                );
            }
        }
        // Stratified: each fold has 40/5 leads and nearly the same number of conversions.
        for f in 0..k {
            let n: u64 = (0..g.len()).map(|p| folds.leads(p, f)).sum();
            assert!((7..=9).contains(&n), "fold {f} has {n} leads");
        }
        // The seed moves leads between folds (with few patterns two seeds may coincide).
        assert!((8..20).any(|seed| g.split_folds(k, seed) != folds));
        assert_eq!(g.split_folds(k, 7), folds);
    }
}
