//! Outcomes in time: what "converted" means when sales reports opportunities late.
//!
//! Takes, for each lead, its creation day, the day it became an opportunity (if it did by the
//! export) and the export day (`as_of`); gives whether it converted within the conversion
//! [`Window`], whether its outcome is final (*mature*: created at least a window before as-of),
//! and for an immature lead the chance [`DelayDistribution::cdf`] that a lead which will
//! convert within the window has already done so at its age.
//!
//! A lead that has not converted by as-of at age `a` is evidence of "no conversion" only in
//! proportion to the time it had: the fit ([`crate::fit::GroupedFit`] with an exposure) gives
//! it the likelihood 1 − p(x)·F(a) instead of 1 − p(x), with F the distribution of the delay
//! from creation to opportunity among conversions within the window. F is the empirical
//! distribution of the delays of mature leads that converted within the window: their delays
//! are fully observed, and with no censoring inside the window Kaplan–Meier would give the
//! same curve, so the simpler estimate is the exact one here. It assumes the delay does not
//! depend on the lead's rules (the usual "non-informative censoring" of survival analysis).
//!
//! Nothing here needs polars: the model file records what is defined here, and a scorer that
//! embeds the library reads it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The conversion window: a lead converted if its opportunity came at most this many days
/// after its creation. The model's probability means "becomes an opportunity within it".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub days: u32,
}

impl Window {
    /// Parses `90d`, `12w` (weeks of 7 days) or `3m` (months of 30 days); a bare number is
    /// days. Shorter than a day (`0d`, `12h`) is an error: dates carry no time of day here.
    pub fn parse(text: &str) -> std::result::Result<Window, String> {
        let t = text.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u32 = number.parse().map_err(|_| {
            format!("'{text}' is not a window; write a whole number and a unit: 90d, 12w or 3m")
        })?;
        let per = match unit.trim() {
            "" | "d" | "day" | "days" => 1,
            "w" | "week" | "weeks" => 7,
            "m" | "month" | "months" => 30,
            "h" | "hour" | "hours" | "min" | "s" => {
                return Err(format!(
                    "'{text}' is shorter than a day; dates are read to the day, so the window \
                     is at least 1d"
                ))
            }
            other => {
                return Err(format!(
                    "'{text}': unknown unit '{other}'; use d (days), w (weeks) or m (30 days)"
                ))
            }
        };
        let days = n
            .checked_mul(per)
            .filter(|&d| d <= 3650)
            .ok_or_else(|| format!("'{text}' is longer than ten years; use a shorter window"))?;
        if days == 0 {
            return Err(format!(
                "'{text}' is shorter than a day; the window is at least 1d"
            ));
        }
        Ok(Window { days })
    }

    /// "within 90 days", for reports.
    pub fn describe(&self) -> String {
        format!("within {} days", self.days)
    }
}

impl std::str::FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Window::parse(s)
    }
}

/// What to do with leads created less than a window before as-of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Immature {
    /// Keep them, each weighted by the time it had (the likelihood 1 − p·F(age)).
    #[default]
    Weight,
    /// Leave them out of training.
    Drop,
}

impl Immature {
    pub fn name(&self) -> &'static str {
        match self {
            Immature::Weight => "weight",
            Immature::Drop => "drop",
        }
    }
}

/// A lead's outcome as known at as-of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadOutcome {
    /// Became an opportunity within the window (and by as-of).
    pub converted: bool,
    /// Days from creation to as-of, when below the window; `None` when mature.
    pub immature_age: Option<u32>,
    /// Days from creation to the opportunity, for a conversion (0 when the opportunity was
    /// dated before the lead).
    pub delay: Option<u32>,
}

/// The outcome of a lead created on day `created` (days since any fixed epoch) whose
/// opportunity, if any, is dated `opportunity`, seen at `as_of`. An opportunity after as-of is
/// not known yet at as-of; one before creation counts as day 0 (the caller warns).
pub fn lead_outcome(
    created: i64,
    opportunity: Option<i64>,
    as_of: i64,
    window: Window,
) -> LeadOutcome {
    let age = as_of - created;
    let w = i64::from(window.days);
    let delay = opportunity
        .filter(|&o| o <= as_of)
        .map(|o| (o - created).max(0))
        .filter(|&d| d <= w);
    LeadOutcome {
        converted: delay.is_some(),
        immature_age: (age < w).then(|| age.max(0) as u32),
        delay: delay.map(|d| d as u32),
    }
}

/// The distribution of days from creation to opportunity among leads that converted within
/// the window, from the delays of mature converters (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct DelayDistribution {
    /// `counts[d]`: mature converters whose opportunity came `d` days after creation,
    /// `d` = 0 ..= window.
    counts: Vec<u64>,
    total: u64,
}

impl DelayDistribution {
    /// From the histogram of delays (index = days, 0 ..= window). Errors when it is empty:
    /// without a mature conversion nothing says how long conversions take.
    pub fn from_counts(counts: Vec<u64>) -> Result<DelayDistribution> {
        let total = counts.iter().sum();
        if total == 0 {
            return Err(Error::Fit(
                "no lead old enough to have had the whole window converted, so the delay from \
                 creation to opportunity cannot be estimated; pass an earlier --as-of, a \
                 shorter --window, or older leads"
                    .into(),
            ));
        }
        Ok(DelayDistribution { counts, total })
    }

    /// Mature converters it was estimated from.
    pub fn conversions(&self) -> u64 {
        self.total
    }

    /// F(age): the share of conversions within the window that come at most `age` days after
    /// creation.
    pub fn cdf(&self, age: u32) -> f64 {
        let upto = (age as usize + 1).min(self.counts.len());
        self.counts[..upto].iter().sum::<u64>() as f64 / self.total as f64
    }

    /// The exposure the fit gives an immature lead of each age 0 .. `window` days: the mean of
    /// F over the days of its week of age (ages 0–6, 7–13, …, the last week cut at the window).
    /// Leads of one rule pattern and one week then share a group: about 13 groups per pattern
    /// in a 90-day window instead of 90, which keeps the windowed fit within reach of the
    /// plain one. F rises by at most a few hundredths a day, and the likelihood 1 − p·F is
    /// smooth in F, so the mean over a week changes the fitted weights by far less than their
    /// standard errors (the tests recover known weights through it).
    pub fn exposures(&self, window: u32) -> Vec<f64> {
        const WEEK: u32 = 7;
        (0..window)
            .map(|age| {
                let start = age / WEEK * WEEK;
                let days = start..(start + WEEK).min(window);
                let n = days.len() as f64;
                days.map(|d| self.cdf(d)).sum::<f64>() / n
            })
            .collect()
    }

    /// The smallest delay d with F(d) ≥ q (q in (0, 1]).
    pub fn quantile(&self, q: f64) -> u32 {
        let need = q * self.total as f64;
        let mut sum = 0u64;
        for (d, &c) in self.counts.iter().enumerate() {
            sum += c;
            if sum as f64 >= need - 1e-9 {
                return d as u32;
            }
        }
        (self.counts.len() - 1) as u32
    }

    /// The record of the model file.
    pub fn summary(&self) -> DelaySummary {
        DelaySummary {
            conversions: self.total,
            p25_days: self.quantile(0.25),
            median_days: self.quantile(0.5),
            p75_days: self.quantile(0.75),
            p90_days: self.quantile(0.9),
        }
    }
}

/// Quantiles of the delay distribution, as the model file records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelaySummary {
    /// Mature conversions it was estimated from.
    pub conversions: u64,
    pub p25_days: u32,
    pub median_days: u32,
    pub p75_days: u32,
    pub p90_days: u32,
}

/// How the training outcome was defined, as the model file records it (`training.outcome`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRecord {
    /// Where "converted" came from: `target` (a 0/1 column), `stage` (`--converted-if`),
    /// `date` (an opportunity-date column of the leads) or `opportunities` (a list joined on
    /// the id).
    pub source: String,
    /// The column (or `COL=v1,v2` for a stage) the outcome was read from.
    pub column: String,
    /// The opportunities file, for `opportunities` (file name only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The lead creation date column, with a window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_column: Option<String>,
    /// `--date-format`, when dates were not ISO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_in_days_weeks_and_months() {
        assert_eq!(Window::parse("90d").unwrap().days, 90);
        assert_eq!(Window::parse("12w").unwrap().days, 84);
        assert_eq!(Window::parse("3m").unwrap().days, 90);
        assert_eq!(Window::parse(" 30 ").unwrap().days, 30);
        for bad in ["0d", "12h", "d", "-5d", "3y", "99999999m"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
        assert!(Window::parse("12h")
            .unwrap_err()
            .contains("shorter than a day"));
    }

    #[test]
    fn outcomes_by_hand() {
        let w = Window { days: 90 };
        // Mature, converted on day 30.
        let o = lead_outcome(0, Some(30), 200, w);
        assert_eq!(
            (o.converted, o.immature_age, o.delay),
            (true, None, Some(30))
        );
        // Mature, converted after the window: not converted within it.
        let o = lead_outcome(0, Some(120), 200, w);
        assert_eq!((o.converted, o.immature_age), (false, None));
        // Immature (age 40), converted on day 10.
        let o = lead_outcome(160, Some(170), 200, w);
        assert_eq!(
            (o.converted, o.immature_age, o.delay),
            (true, Some(40), Some(10))
        );
        // An opportunity after as-of is not known at as-of.
        let o = lead_outcome(160, Some(210), 200, w);
        assert_eq!((o.converted, o.immature_age), (false, Some(40)));
        // Before creation: day 0. Age exactly the window: mature.
        let o = lead_outcome(110, Some(100), 200, w);
        assert_eq!(
            (o.converted, o.immature_age, o.delay),
            (true, None, Some(0))
        );
    }

    #[test]
    fn delay_distribution_by_hand() {
        // Delays 0, 2, 2, 5 (window 5).
        let d = DelayDistribution::from_counts(vec![1, 0, 2, 0, 0, 1]).unwrap();
        assert_eq!(d.cdf(0), 0.25);
        assert_eq!(d.cdf(1), 0.25);
        assert_eq!(d.cdf(2), 0.75);
        assert_eq!(d.cdf(5), 1.0);
        assert_eq!(d.cdf(99), 1.0);
        assert_eq!(d.quantile(0.5), 2);
        assert_eq!(d.quantile(0.25), 0);
        assert_eq!(d.quantile(0.9), 5);
        assert!(DelayDistribution::from_counts(vec![0, 0]).is_err());

        // Weeks of age: days 0–6 share the mean of F(0..=6), and the last week stops at the
        // window. Delays 0 and 8 (window 10): F = 0.5 on days 0–7, 1 from day 8.
        let mut counts = vec![0; 11];
        counts[0] = 1;
        counts[8] = 1;
        let d = DelayDistribution::from_counts(counts).unwrap();
        let e = d.exposures(10);
        assert_eq!(e.len(), 10);
        assert!(e[..7].iter().all(|&f| f == 0.5));
        // Days 7, 8, 9: F = 0.5, 1, 1.
        assert!(e[7..].iter().all(|&f| (f - 2.5 / 3.0).abs() < 1e-15));
    }
}
