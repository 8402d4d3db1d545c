//! Realistic example leads with known true weights. Each lead's conversion is drawn from a
//! logistic model over the rules in [`truth`] (the same rules as `data/rules.toml`), so a
//! trainer run on the output should recover those weights. [`activity`] makes leads with an
//! activity log instead, whose engagement decays with a known half-life.

pub mod activity;

use polars::prelude::*;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::rules::{Rule, RulesFile};

/// The rules file the example data is built around (identical to `data/rules.toml`).
pub const RULES_TOML: &str = include_str!("../../data/rules.toml");

/// Log-odds of a lead that meets no rule, unless overridden (≈ 11% of leads convert).
pub const DEFAULT_INTERCEPT: f64 = -3.3;

/// The true log-odds weight of each rule of [`RULES_TOML`], in file order.
pub const TRUE_WEIGHTS: [f64; 12] = [
    0.35,  // Pricing page visit (each, up to 5)
    0.25,  // Whitepaper download (each, up to 3)
    0.60,  // Attended a webinar
    0.30,  // Opened 10+ emails
    0.50,  // Company 100+ employees
    -0.40, // No company size given
    0.70,  // C-level or VP
    0.35,  // Director
    0.45,  // Inactive under 7 days
    -0.60, // Inactive 60+ days
    0.30,  // Software or finance
    0.90,  // Budget confirmed
];

/// The true rules and weights.
pub fn truth() -> (RulesFile, Vec<Rule>, Vec<f64>) {
    let file: RulesFile = toml::from_str(RULES_TOML).expect("bundled rules parse");
    let rules = file.checked_rules().expect("bundled rules are valid");
    assert_eq!(rules.len(), TRUE_WEIGHTS.len());
    (file, rules, TRUE_WEIGHTS.to_vec())
}

/// How much data to make, and from which truth.
#[derive(Debug, Clone)]
pub struct SynthParams {
    pub rows: usize,
    pub seed: u64,
    pub intercept: f64,
    /// The true weight of each rule, in file order (default [`TRUE_WEIGHTS`]). Changing one
    /// makes data where the world moved, e.g. a rule that lost its effect, for retrain tests.
    pub weights: Vec<f64>,
    /// `created_at` is drawn uniformly from `days` days starting on `first_day`
    /// (default: the 365 days of 2025).
    pub first_day: chrono::NaiveDate,
    pub days: u32,
    /// Outcomes as sales reports them: opportunity dates with delays, seen at an export date.
    /// `None`: a 0/1 `converted` column, every outcome final.
    pub timeline: Option<SynthTimeline>,
}

/// Dated outcomes: a lead converts *within the window* with the probability of the logistic
/// truth, after a delay drawn from a geometric distribution (mean `delay_mean_days`, redrawn
/// until it fits the window); some leads that do not convert within the window become
/// opportunities later (`late_share`). The leads file then has `opportunity_date` (empty when
/// no opportunity is known at `as_of`) instead of `converted`.
#[derive(Debug, Clone)]
pub struct SynthTimeline {
    /// The export date: opportunities after it are not known.
    pub as_of: chrono::NaiveDate,
    pub window_days: u32,
    pub delay_mean_days: f64,
    pub late_share: f64,
    /// A campaign of the last days before the export, with its own true weight.
    pub campaign: Option<Campaign>,
}

/// Leads created on or after `since` are in the campaign with probability `share` (column
/// `campaign` = `launch`, else empty); being in it adds `weight` to the log-odds. A campaign
/// that started less than a window before as-of has only immature leads.
#[derive(Debug, Clone, Copy)]
pub struct Campaign {
    pub since: chrono::NaiveDate,
    pub share: f64,
    pub weight: f64,
}

impl SynthTimeline {
    /// Exported the day after the last creation day of `params`, a 90-day window, delays of
    /// about 25 days, 10% of the others converting late.
    pub fn after(params: &SynthParams) -> SynthTimeline {
        SynthTimeline {
            as_of: params.first_day + chrono::Days::new(params.days.into()),
            window_days: 90,
            delay_mean_days: 25.0,
            late_share: 0.1,
            campaign: None,
        }
    }
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            rows: 20_000,
            seed: 7,
            intercept: DEFAULT_INTERCEPT,
            weights: TRUE_WEIGHTS.to_vec(),
            first_day: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("a valid date"),
            days: 365,
            timeline: None,
        }
    }
}

impl SynthParams {
    /// These parameters with one rule's true weight replaced (by rule name, as in
    /// [`RULES_TOML`]), e.g. `with_weight("Budget confirmed", 0.0)` for a rule that lost its
    /// effect.
    pub fn with_weight(mut self, rule: &str, weight: f64) -> Result<Self> {
        let (_, rules, _) = truth();
        let j = rules
            .iter()
            .position(|r| r.name == rule)
            .ok_or_else(|| Error::Option {
                option: "--weight",
                message: format!(
                    "no bundled rule named '{rule}'; the rules are: {}",
                    rules
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        self.weights[j] = weight;
        Ok(self)
    }
}

const INDUSTRIES: [(&str, f64); 6] = [
    ("Software", 0.25),
    ("Finance", 0.15),
    ("Healthcare", 0.15),
    ("Manufacturing", 0.2),
    ("Retail", 0.15),
    ("Education", 0.1),
];
const LEVELS: [(&str, f64); 5] = [
    ("C-Level", 0.06),
    ("VP", 0.1),
    ("Director", 0.2),
    ("Manager", 0.3),
    ("Individual Contributor", 0.34),
];

fn pick<'a>(rng: &mut ChaCha8Rng, table: &[(&'a str, f64)]) -> &'a str {
    let mut u: f64 = rng.gen();
    for (v, p) in table {
        if u < *p {
            return v;
        }
        u -= p;
    }
    table[table.len() - 1].0
}

/// A count with a long tail: geometric with the given mean.
fn count(rng: &mut ChaCha8Rng, mean: f64) -> i64 {
    let p = 1.0 / (1.0 + mean);
    let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    (u.ln() / (1.0 - p).ln()).floor() as i64
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; two uniforms, one normal.
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Generates the leads.
pub fn generate(params: &SynthParams) -> Result<DataFrame> {
    Generator::new(params)?.batch(params.rows)
}

/// The opportunities list of dated leads (`lead_id`, `opportunity_date`): the leads with an
/// opportunity known at the export, as a CRM report lists them.
pub fn opportunities(leads: &DataFrame) -> Result<DataFrame> {
    let df = leads
        .select(["lead_id", "opportunity_date"])?
        .drop_nulls::<String>(None)?;
    Ok(df)
}

/// Makes the leads of [`generate`] a batch at a time, so any number of them can be written in
/// bounded memory: the batches of one generator, stacked, are exactly `generate`'s frame.
pub struct Generator {
    params: SynthParams,
    rules: Vec<Rule>,
    rng: ChaCha8Rng,
    /// Leads made so far (the next lead's number minus one).
    made: usize,
}

impl Generator {
    pub fn new(params: &SynthParams) -> Result<Generator> {
        if params.rows == 0 {
            return Err(Error::Option {
                option: "--rows",
                message: "must be at least 1".into(),
            });
        }
        let (_, rules, _) = truth();
        let weights = &params.weights;
        if weights.len() != rules.len() || weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::Option {
                option: "weights",
                message: format!("give {} finite true weights, one per rule", rules.len()),
            });
        }
        if let Some(t) = &params.timeline {
            if t.window_days == 0
                || t.delay_mean_days.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                || !(0.0..=1.0).contains(&t.late_share)
            {
                return Err(Error::Option {
                    option: "timeline",
                    message: "a window of at least a day, a positive mean delay and a late share \
                              in [0, 1]"
                        .into(),
                });
            }
        }
        if params.days == 0 {
            return Err(Error::Option {
                option: "days",
                message: "must be at least 1".into(),
            });
        }
        Ok(Generator {
            params: params.clone(),
            rules,
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            made: 0,
        })
    }

    /// The next `n` leads.
    pub fn batch(&mut self, n: usize) -> Result<DataFrame> {
        let (params, rules, rng) = (&self.params, &self.rules, &mut self.rng);
        let weights = &params.weights;
        let mut lead_id = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut pricing = Vec::with_capacity(n);
        let mut papers = Vec::with_capacity(n);
        let mut webinar = Vec::with_capacity(n);
        let mut opens = Vec::with_capacity(n);
        let mut size: Vec<Option<i64>> = Vec::with_capacity(n);
        let mut industry = Vec::with_capacity(n);
        let mut level = Vec::with_capacity(n);
        let mut inactive = Vec::with_capacity(n);
        let mut budget = Vec::with_capacity(n);
        let mut converted = Vec::with_capacity(n);
        let mut opportunity: Vec<Option<String>> = Vec::new();
        let mut campaign: Vec<Option<&str>> = Vec::new();
        for i in 0..n {
            lead_id.push(format!("L{:07}", self.made + i + 1));
            let day = rng.gen_range(0..params.days);
            let created_on = params.first_day + chrono::Days::new(day.into());
            created.push(created_on.format("%Y-%m-%d").to_string());
            let engaged = rng.gen::<f64>() < 0.3;
            let m = if engaged { 2.0 } else { 0.4 };
            let p = count(rng, m);
            let w = count(rng, 0.5 * m);
            let wb = (rng.gen::<f64>() < if engaged { 0.35 } else { 0.1 }) as i64;
            let o = count(rng, if engaged { 12.0 } else { 4.0 });
            let s = if rng.gen::<f64>() < 0.15 {
                None
            } else {
                Some((80.0 * (1.4 * normal(rng)).exp()).round().max(1.0) as i64)
            };
            let ind = pick(rng, &INDUSTRIES);
            let lvl = pick(rng, &LEVELS);
            let d = if engaged {
                count(rng, 8.0)
            } else {
                count(rng, 35.0)
            }
            .min(365);
            let b = if rng.gen::<f64>() < 0.12 { "yes" } else { "no" };

            let cells: Vec<crate::rules::Value> = rules
                .iter()
                .map(|r| match r.column.as_str() {
                    "pricing_page_visits" => crate::rules::Value::Number(p as f64),
                    "whitepaper_downloads" => crate::rules::Value::Number(w as f64),
                    "webinar_attended" => crate::rules::Value::Number(wb as f64),
                    "email_opens" => crate::rules::Value::Number(o as f64),
                    "company_size" => s.map_or(crate::rules::Value::Missing, |v| {
                        crate::rules::Value::Number(v as f64)
                    }),
                    "industry" => crate::rules::Value::Text(ind),
                    "job_level" => crate::rules::Value::Text(lvl),
                    "days_since_last_activity" => crate::rules::Value::Number(d as f64),
                    "budget_confirmed" => crate::rules::Value::Text(b),
                    other => unreachable!("the bundled rules use no column '{other}'"),
                })
                .collect();
            let logit: f64 = params.intercept
                + rules
                    .iter()
                    .zip(&cells)
                    .zip(weights)
                    .map(|((r, v), w)| {
                        w * r.condition.eval(*v).expect("synthetic values are valid")
                    })
                    .sum::<f64>();
            let mut logit = logit;
            if let Some(c) = params
                .timeline
                .as_ref()
                .and_then(|t| t.campaign.map(|c| (t, c)))
            {
                let (_, c) = c;
                let recent = created_on >= c.since;
                let joined = recent && rng.gen::<f64>() < c.share;
                campaign.push(joined.then_some("launch"));
                logit += if joined { c.weight } else { 0.0 };
            }
            let y = rng.gen::<f64>() < crate::fit::sigmoid(logit);
            if let Some(t) = &params.timeline {
                let delay = if y {
                    loop {
                        let d = count(rng, t.delay_mean_days);
                        if d <= i64::from(t.window_days) {
                            break Some(d);
                        }
                    }
                } else if rng.gen::<f64>() < t.late_share {
                    Some(i64::from(t.window_days) + 1 + count(rng, 30.0))
                } else {
                    None
                };
                let known = delay
                    .map(|d| created_on + chrono::Days::new(d as u64))
                    .filter(|&o| o <= t.as_of);
                opportunity.push(known.map(|o| o.format("%Y-%m-%d").to_string()));
            }

            pricing.push(p);
            papers.push(w);
            webinar.push(wb);
            opens.push(o);
            size.push(s);
            industry.push(ind);
            level.push(lvl);
            inactive.push(d);
            budget.push(b);
            converted.push(y as i64);
        }
        let mut outcome = vec![Column::new("converted".into(), converted)];
        if let Some(t) = &params.timeline {
            outcome = vec![Column::new("opportunity_date".into(), opportunity)];
            if t.campaign.is_some() {
                outcome.push(Column::new("campaign".into(), campaign));
            }
        }
        let mut columns = vec![
            Column::new("lead_id".into(), lead_id),
            Column::new("created_at".into(), created),
            Column::new("pricing_page_visits".into(), pricing),
            Column::new("whitepaper_downloads".into(), papers),
            Column::new("webinar_attended".into(), webinar),
            Column::new("email_opens".into(), opens),
            Column::new("company_size".into(), size),
            Column::new("industry".into(), industry),
            Column::new("job_level".into(), level),
            Column::new("days_since_last_activity".into(), inactive),
            Column::new("budget_confirmed".into(), budget),
        ];
        columns.extend(outcome);
        let df = DataFrame::new(columns)?;
        self.made += n;
        Ok(df)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_leads() {
        let p = SynthParams {
            rows: 500,
            ..SynthParams::default()
        };
        let a = generate(&p).unwrap();
        assert!(a.equals_missing(&generate(&p).unwrap()));
        assert_eq!(a.height(), 500);
        let dates = a.column("created_at").unwrap().str().unwrap().clone();
        assert!(dates.into_iter().flatten().all(|d| d.starts_with("2025-")));
    }

    #[test]
    fn batches_stack_to_the_whole_frame() {
        let p = SynthParams {
            rows: 500,
            ..SynthParams::default()
        };
        let mut g = Generator::new(&p).unwrap();
        let mut stacked = g.batch(123).unwrap();
        for n in [1, 300, 76] {
            stacked.vstack_mut(&g.batch(n).unwrap()).unwrap();
        }
        assert!(stacked.equals_missing(&generate(&p).unwrap()));
    }
}
