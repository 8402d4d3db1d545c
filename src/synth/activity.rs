//! Leads with an activity log and a known truth in time, for point-in-time training
//! (`mqlcal synth --events`). Takes [`ActivityParams`]; gives the leads and their events.
//!
//! Each lead, from its creation day to the export date, visits the pricing page now and then,
//! and in bursts of a few days. Each day its chance of becoming an opportunity the next day is
//! 1 − exp(−exp([`BASE_LOG_HAZARD`] + [`PRICING_EFFECT`]·D)), D its pricing visits so far
//! decayed with the true half-life: a daily hazard on the complementary log-log scale, so the
//! truth is "engagement counts, and loses half its value every half-life". After the
//! opportunity the account executive books two demos within 5 days and the lead visits pricing
//! while negotiating: events that only *follow* conversion, which an all-time count (and the
//! CRM's "last activity date") turn into leakage.
//!
//! The leads have `lead_id`, `created_at`, `opportunity_date` (empty when none by the export
//! date), `last_activity_date` (the day of the lead's last event of all time, as a CRM shows
//! it: after the opportunity for most converters) and `company_size` (no effect); the events
//! have `lead_id`, `event` (`pricing_page_view`, `demo_booked`) and `at` (UTC timestamps).

use chrono::{Days, NaiveDate};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// The daily log-hazard of a lead with no recent pricing visits.
pub const BASE_LOG_HAZARD: f64 = -7.0;
/// What one undecayed pricing visit adds to the daily log-hazard.
pub const PRICING_EFFECT: f64 = 0.9;
/// The event types the log holds.
pub const PRICING: &str = "pricing_page_view";
pub const DEMO: &str = "demo_booked";

/// How many leads, over which days, with which true half-life.
#[derive(Debug, Clone)]
pub struct ActivityParams {
    pub leads: usize,
    pub seed: u64,
    /// The true half-life of a pricing visit's effect, in days.
    pub half_life_days: f64,
    /// Creation dates are drawn uniformly from `days` days starting on `first_day`.
    pub first_day: NaiveDate,
    pub days: u32,
    /// The export date: events and opportunities run up to it.
    pub as_of: NaiveDate,
}

impl Default for ActivityParams {
    /// 3,000 leads created over 2025, a true half-life of 14 days, exported on 2026-02-28.
    fn default() -> Self {
        let first_day = NaiveDate::from_ymd_opt(2025, 1, 1).expect("a valid date");
        ActivityParams {
            leads: 3_000,
            seed: 7,
            half_life_days: 14.0,
            first_day,
            days: 365,
            as_of: default_as_of(first_day, 365),
        }
    }
}

/// Two months (58 days) after the last creation day: the newest leads have a little history.
pub fn default_as_of(first_day: NaiveDate, days: u32) -> NaiveDate {
    first_day + Days::new(u64::from(days) + 58)
}

/// The leads file and the events file of [`activity`].
#[derive(Debug, Clone)]
pub struct Activity {
    pub leads: DataFrame,
    pub events: DataFrame,
}

/// Makes the leads and their events.
pub fn activity(params: &ActivityParams) -> Result<Activity> {
    ActivityGenerator::new(params)?.batch(params.leads)
}

/// Makes the leads of [`activity`] a batch at a time (for logs too large to hold): the batches
/// of one generator, stacked, are exactly `activity`'s frames.
pub struct ActivityGenerator {
    params: ActivityParams,
    rng: ChaCha8Rng,
    made: usize,
}

impl ActivityGenerator {
    pub fn new(params: &ActivityParams) -> Result<ActivityGenerator> {
        let option = |option: &'static str, message: &str| {
            Err(Error::Option {
                option,
                message: message.into(),
            })
        };
        if params.leads == 0 {
            return option("--rows", "must be at least 1");
        }
        if params.days == 0 {
            return option("--days", "must be at least 1");
        }
        if !(params.half_life_days.is_finite() && params.half_life_days > 0.0) {
            return option("--half-life", "give a positive number of days, e.g. 14");
        }
        let last_created = params.first_day + Days::new(u64::from(params.days) - 1);
        if params.as_of <= last_created {
            return option(
                "--as-of",
                &format!(
                    "the export date must be after the last creation day ({last_created}), so \
                     that every lead has a day of history"
                ),
            );
        }
        Ok(ActivityGenerator {
            params: params.clone(),
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            made: 0,
        })
    }

    /// The next `n` leads and their events.
    pub fn batch(&mut self, n: usize) -> Result<Activity> {
        let (p, rng) = (&self.params, &mut self.rng);
        let day0 = p.first_day;
        let date = |d: i64| (day0 + Days::new(d as u64)).to_string();
        let end = (p.as_of - day0).num_days();
        let keep = 0.5f64.powf(1.0 / p.half_life_days);
        let mut lead_id = Vec::with_capacity(n);
        let mut created_at = Vec::with_capacity(n);
        let mut opportunity_date: Vec<Option<String>> = Vec::with_capacity(n);
        let mut last_activity: Vec<Option<String>> = Vec::with_capacity(n);
        let mut company_size: Vec<i64> = Vec::with_capacity(n);
        let (mut event_lead, mut event_type, mut event_at) = (Vec::new(), Vec::new(), Vec::new());
        // The integer types of the draws are part of the stream (rand draws an i32 and an i64
        // differently): kept as they are, so a seed gives the same data as before.
        for i in 0..n {
            let id = format!("L{:05}", self.made + i);
            let created: i64 = rng.gen_range(0..i64::from(p.days));
            let mut burst: i32 = 0;
            let mut decayed = 0.0;
            let mut opportunity: Option<i64> = None;
            let mut last: Option<i64> = None;
            for d in created..=end {
                if burst == 0 && rng.gen_bool(0.012) {
                    burst = rng.gen_range(4..12);
                }
                let rate = match (opportunity, burst > 0) {
                    // Negotiating: the pricing page again, for 20 days.
                    (Some(o), _) if d - o < 20 => 0.3,
                    (_, true) => 0.45,
                    _ => 0.01,
                };
                burst = (burst - 1).max(0);
                let visits = u32::from(rng.gen_bool(rate));
                decayed = decayed * keep + f64::from(visits);
                for _ in 0..visits {
                    let (hour, minute): (i32, i32) = (rng.gen_range(0..24), rng.gen_range(0..60));
                    event_lead.push(id.clone());
                    event_type.push(PRICING);
                    event_at.push(format!("{}T{hour:02}:{minute:02}:00Z", date(d)));
                    last = last.max(Some(d));
                }
                if opportunity.is_none() {
                    let hazard = 1.0 - (-(BASE_LOG_HAZARD + PRICING_EFFECT * decayed).exp()).exp();
                    if rng.gen_bool(hazard.min(1.0)) && d < end {
                        let o = d + 1;
                        opportunity = Some(o);
                        for _ in 0..2 {
                            let at = (o + rng.gen_range(0..5i64)).min(end);
                            event_lead.push(id.clone());
                            event_type.push(DEMO);
                            event_at.push(format!("{}T10:00:00Z", date(at)));
                            last = last.max(Some(at));
                        }
                    }
                }
            }
            lead_id.push(id);
            created_at.push(date(created));
            opportunity_date.push(opportunity.map(date));
            last_activity.push(last.map(date));
            company_size.push(i64::from(rng.gen_range(5..5000i32)));
        }
        self.made += n;
        let leads = DataFrame::new(vec![
            Column::new("lead_id".into(), lead_id),
            Column::new("created_at".into(), created_at),
            Column::new("opportunity_date".into(), opportunity_date),
            Column::new("last_activity_date".into(), last_activity),
            Column::new("company_size".into(), company_size),
        ])?;
        let events = DataFrame::new(vec![
            Column::new("lead_id".into(), event_lead),
            Column::new("event".into(), event_type),
            Column::new("at".into(), event_at),
        ])?;
        Ok(Activity { leads, events })
    }
}

/// `events` with its `at` column as a UTC timestamp (milliseconds) rather than text, as a
/// Parquet activity log holds it.
pub fn with_timestamps(mut events: DataFrame) -> Result<DataFrame> {
    let at = events.column("at")?.str()?;
    let millis: Vec<Option<i64>> = at
        .into_iter()
        .map(|v| {
            let v = v?;
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
        .collect();
    let at = Int64Chunked::from_iter_options("at".into(), millis.into_iter())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    events.with_column(at.into_column())?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stack_to_the_whole_log_and_events_follow_their_leads() {
        let p = ActivityParams {
            leads: 200,
            ..ActivityParams::default()
        };
        let whole = activity(&p).unwrap();
        let mut g = ActivityGenerator::new(&p).unwrap();
        let mut a = g.batch(120).unwrap();
        let b = g.batch(80).unwrap();
        a.leads.vstack_mut(&b.leads).unwrap();
        a.events.vstack_mut(&b.events).unwrap();
        assert!(a.leads.equals_missing(&whole.leads));
        assert!(a.events.equals_missing(&whole.events));

        // Every demo is on or after its lead's opportunity, and no event after the export.
        let leads = &whole.leads;
        let ids = leads.column("lead_id").unwrap().str().unwrap();
        let opp = leads.column("opportunity_date").unwrap().str().unwrap();
        let opportunity: std::collections::HashMap<&str, Option<&str>> =
            ids.into_iter().flatten().zip(opp).collect();
        let ev = &whole.events;
        let rows = ev
            .column("lead_id")
            .unwrap()
            .str()
            .unwrap()
            .into_iter()
            .zip(ev.column("event").unwrap().str().unwrap())
            .zip(ev.column("at").unwrap().str().unwrap());
        let mut demos = 0;
        for ((id, kind), at) in rows {
            let (id, kind, at) = (id.unwrap(), kind.unwrap(), &at.unwrap()[..10]);
            assert!(at <= p.as_of.to_string().as_str(), "{id} {at}");
            if kind == DEMO {
                demos += 1;
                let o = opportunity[id].expect("a demo only after an opportunity");
                assert!(at >= o, "{id}: demo {at} before opportunity {o}");
            }
        }
        assert!(demos > 0);
    }

    #[test]
    fn bad_parameters_name_the_flag() {
        for (params, flag) in [
            (
                ActivityParams {
                    half_life_days: 0.0,
                    ..ActivityParams::default()
                },
                "--half-life",
            ),
            (
                ActivityParams {
                    as_of: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
                    ..ActivityParams::default()
                },
                "--as-of",
            ),
        ] {
            let e = ActivityGenerator::new(&params).err().unwrap().to_string();
            assert!(e.contains(flag), "{e}");
        }
    }
}
