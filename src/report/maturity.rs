//! Which leads of a report have a final outcome, and how long conversions take: from the
//! outcomes as training reads them ([`crate::train::Observed`]) to the numbers of the
//! "cumulative conversion by days since creation" chart. A lead created less than a window
//! before as-of may still convert, so the other numbers of the report leave it out; this
//! counts it and says how far along it is.

use serde::{Deserialize, Serialize};

use crate::data::outcomes::date_of;
use crate::train::Observed;

/// The leads still maturing, by age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaturingAges {
    /// The youngest and the oldest (days from creation to as-of).
    pub youngest_days: u32,
    pub oldest_days: u32,
    /// Of them, already converted (within the window, by as-of).
    pub converted_so_far: usize,
    /// The share of their eventual conversions already seen, expected from the curve:
    /// the mean of F(age) over them.
    pub expected_share_seen: f64,
}

/// Everything the maturity chart shows (`maturity` in metrics.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Maturity {
    pub window_days: u32,
    /// The date the outcomes were taken (`YYYY-MM-DD`).
    pub as_of: String,
    /// Leads created at least a window before as-of: their outcome is final, and every
    /// other number of the report is about them alone.
    pub mature_leads: usize,
    pub mature_conversions: usize,
    /// Leads created less than a window before as-of: counted here, in no other number.
    pub immature_leads: usize,
    pub maturing: Option<MaturingAges>,
    /// `cumulative[d]`: the share of the mature leads' conversions within the window that
    /// came at most `d` days after creation, `d` = 0 ..= window (the empirical delay
    /// distribution).
    pub cumulative: Vec<f64>,
    /// Median days from creation to opportunity among those conversions.
    pub median_days: u32,
}

impl Maturity {
    /// `None` without a window (a 0/1 or stage outcome).
    pub fn of(observed: &Observed) -> Option<Maturity> {
        let (clock, created) = (observed.clock.as_ref()?, observed.created.as_ref()?);
        let (mut mature_leads, mut mature_conversions) = (0, 0);
        let mut young: Vec<(u32, bool)> = Vec::new();
        for (&c, &y) in created.iter().zip(&observed.y) {
            if clock.is_mature(c) {
                mature_leads += 1;
                mature_conversions += usize::from(y);
            } else {
                young.push(((clock.as_of - c).max(0) as u32, y));
            }
        }
        let maturing = (!young.is_empty()).then(|| MaturingAges {
            youngest_days: young.iter().map(|a| a.0).min().unwrap_or(0),
            oldest_days: young.iter().map(|a| a.0).max().unwrap_or(0),
            converted_so_far: young.iter().filter(|a| a.1).count(),
            expected_share_seen: young.iter().map(|a| clock.delays.cdf(a.0)).sum::<f64>()
                / young.len() as f64,
        });
        Some(Maturity {
            window_days: clock.window.days,
            as_of: date_of(clock.as_of).format("%Y-%m-%d").to_string(),
            mature_leads,
            mature_conversions,
            immature_leads: young.len(),
            maturing,
            cumulative: (0..=clock.window.days)
                .map(|d| clock.delays.cdf(d))
                .collect(),
            median_days: clock.delays.quantile(0.5),
        })
    }

    /// The rows whose outcome is final, in order.
    pub fn mature_rows(observed: &Observed) -> Option<Vec<usize>> {
        let mature = observed.mature()?;
        Some((0..mature.len()).filter(|&i| mature[i]).collect())
    }
}
