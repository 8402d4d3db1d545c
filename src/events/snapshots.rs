//! Point-in-time training examples. With an activity log, a lead's all-time counts include
//! what happened after it became an opportunity (the demo the account executive booked, the
//! pricing page visited while negotiating), and a model trained on them learns that talking to
//! sales predicts talking to sales. Instead each example is a lead *at a snapshot date* T:
//! features from events on or before T only, the outcome an opportunity within the window
//! after T, and leads that became opportunities on or before T left out — the design MadKudu
//! and 6sense describe.
//!
//! Takes the leads' creation and opportunity dates and a cadence; gives the snapshots
//! (lead, T) at which each lead was open. Training turns them into rows whose creation date is
//! T, so the window, as-of and immature-lead handling of dated outcomes apply unchanged: a
//! snapshot whose window is not over at as-of is weighted or dropped like a young lead.

use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate};

/// When snapshots are taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// The first day of every month.
    Monthly,
    /// Every Monday.
    Weekly,
    /// These dates.
    Dates(Vec<NaiveDate>),
}

impl FromStr for Cadence {
    type Err = String;

    fn from_str(s: &str) -> Result<Cadence, String> {
        match s.trim() {
            "monthly" => Ok(Cadence::Monthly),
            "weekly" => Ok(Cadence::Weekly),
            list => {
                let mut dates = Vec::new();
                for d in list.split(',').map(str::trim) {
                    dates.push(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        format!(
                            "'{d}' is not a date (YYYY-MM-DD); give monthly, weekly or dates, \
                             e.g. --snapshots 2026-01-01,2026-04-01"
                        )
                    })?);
                }
                dates.sort();
                dates.dedup();
                Ok(Cadence::Dates(dates))
            }
        }
    }
}

impl std::fmt::Display for Cadence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cadence::Monthly => f.write_str("monthly"),
            Cadence::Weekly => f.write_str("weekly"),
            Cadence::Dates(dates) => {
                let dates: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
                f.write_str(&dates.join(","))
            }
        }
    }
}

impl Cadence {
    /// The snapshot dates after `first` (the oldest lead's creation) up to `as_of`, inclusive.
    pub fn dates(&self, first: NaiveDate, as_of: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        match self {
            Cadence::Dates(dates) => {
                out.extend(dates.iter().filter(|&&d| d > first && d <= as_of));
            }
            Cadence::Monthly => {
                let mut d = first.with_day(1).expect("day 1 exists") + Months::new(1);
                while d <= as_of {
                    out.push(d);
                    d = d + Months::new(1);
                }
            }
            Cadence::Weekly => {
                let mut d = first + Days::new(1);
                while d.weekday().num_days_from_monday() != 0 {
                    d = d + Days::new(1);
                }
                while d <= as_of {
                    out.push(d);
                    d = d + Days::new(7);
                }
            }
        }
        out
    }
}

/// A lead (its row in the leads file) at a snapshot date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub lead: usize,
    pub at: NaiveDate,
}

/// Every (lead, T) with T in `dates` at which the lead was open: created on or before T, and
/// not an opportunity on or before T. In lead order, then date order. Leads without a
/// creation date have no snapshot.
pub fn open_snapshots(
    created: &[Option<NaiveDate>],
    opportunity: &[Option<NaiveDate>],
    dates: &[NaiveDate],
) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for (lead, (&c, &o)) in created.iter().zip(opportunity).enumerate() {
        out.extend(open_at(c, o, dates).map(|at| Snapshot { lead, at }));
    }
    out
}

/// The dates of `dates` at which a lead created on `created` whose opportunity is dated
/// `opportunity` was open (see [`open_snapshots`]), in order.
pub fn open_at(
    created: Option<NaiveDate>,
    opportunity: Option<NaiveDate>,
    dates: &[NaiveDate],
) -> impl Iterator<Item = NaiveDate> + '_ {
    dates
        .iter()
        .copied()
        .filter(move |&at| created.is_some_and(|c| at >= c) && opportunity.is_none_or(|o| o > at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn cadences_give_dates_after_the_first_lead_up_to_as_of() {
        let first = d("2026-01-15");
        assert_eq!(
            Cadence::Monthly.dates(first, d("2026-04-01")),
            vec![d("2026-02-01"), d("2026-03-01"), d("2026-04-01")]
        );
        // 2026-01-15 is a Thursday: Mondays from the 19th.
        assert_eq!(
            Cadence::Weekly.dates(first, d("2026-02-02")),
            vec![d("2026-01-19"), d("2026-01-26"), d("2026-02-02")]
        );
        let list: Cadence = "2026-03-01, 2025-12-01,2026-09-01".parse().unwrap();
        assert_eq!(list.dates(first, d("2026-06-30")), vec![d("2026-03-01")]);
        assert!("quarterly"
            .parse::<Cadence>()
            .unwrap_err()
            .contains("'quarterly'"));
    }

    #[test]
    fn a_lead_is_open_from_its_creation_until_its_opportunity() {
        let dates = [d("2026-02-01"), d("2026-03-01"), d("2026-04-01")];
        let created = [Some(d("2026-01-10")), Some(d("2026-03-01")), None];
        // Lead 0 became an opportunity on 03-01: open at 02-01 only.
        let opportunity = [Some(d("2026-03-01")), None, None];
        let s = open_snapshots(&created, &opportunity, &dates);
        let got: Vec<(usize, NaiveDate)> = s.iter().map(|s| (s.lead, s.at)).collect();
        assert_eq!(
            got,
            vec![
                (0, d("2026-02-01")),
                (1, d("2026-03-01")),
                (1, d("2026-04-01"))
            ]
        );
    }
}
