//! Event rules: rules on a lead's activity log rather than on a column of the leads file.
//!
//! Takes what the rules file says (`event`/`event_one_of` with `within_days` or `decay`);
//! gives an [`EventSource`]: which events count and how they age. Its number for a lead at a
//! reference date is computed by [`crate::events`] into a column of its own
//! ([`EventSource::column_name`]), which the rule's ordinary numeric condition then reads, so
//! training, scoring, points and reasons treat it as any other numeric rule. Rules with the
//! same source share that column (and a learnt half-life).
//!
//! The numbers themselves are computed here, without polars, so that a program embedding the
//! library scores a lead with its events ([`lead_event_values`],
//! `Model::score_lead_with_events`) by the same code `mqlcal score --events` runs on a whole
//! log ([`Events`], [`Aggregate::value`]; `crate::events` reads the log and builds snapshots).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// The events file's columns: the lead id (as in the leads file), the event type, the time.
/// Written in the rules file as its `[events]` table; flags may override each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventColumns {
    #[serde(default = "default_id")]
    pub id: String,
    #[serde(rename = "type", default = "default_kind")]
    pub kind: String,
    #[serde(default = "default_at")]
    pub at: String,
}

fn default_id() -> String {
    "lead_id".into()
}
fn default_kind() -> String {
    "event".into()
}
fn default_at() -> String {
    "at".into()
}

impl Default for EventColumns {
    fn default() -> Self {
        EventColumns {
            id: default_id(),
            kind: default_kind(),
            at: default_at(),
        }
    }
}

/// `decay` as written: a fixed half-life, or `"learn"` (chosen by cross-validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DecaySpec {
    HalfLife { half_life_days: f64 },
    Learn(String),
}

/// Which events an event rule counts and how they age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    /// The event types counted (sorted, each once).
    pub types: Vec<String>,
    /// Count the events at most this many days old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    /// Sum 0.5^(age / half-life) over the events; absent before a learnt half-life is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_days: Option<f64>,
    /// The half-life is chosen from a grid by cross-validated log loss (`decay = "learn"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub learn: bool,
}

impl EventSource {
    /// Checks what a rule wrote; `who` names the rule in messages.
    pub fn from_spec(
        who: &str,
        event: Option<&String>,
        event_one_of: Option<&Vec<String>>,
        within_days: Option<u32>,
        decay: Option<&DecaySpec>,
    ) -> Result<EventSource, String> {
        let mut types: Vec<String> = match (event, event_one_of) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{who} has both `event` and `event_one_of`; give one (`event_one_of` lists \
                     several types)"
                ))
            }
            (Some(e), None) => vec![e.trim().to_string()],
            (None, Some(list)) => list.iter().map(|e| e.trim().to_string()).collect(),
            (None, None) => unreachable!("called for event rules"),
        };
        if types.is_empty() || types.iter().any(String::is_empty) {
            return Err(format!(
                "{who}: an event type is empty; name the types as the events file writes them, \
                 e.g. event = \"pricing_page_view\""
            ));
        }
        types.sort();
        types.dedup();
        let (half_life_days, learn) = match decay {
            None => (None, false),
            Some(DecaySpec::HalfLife { half_life_days: h }) => {
                if !(h.is_finite() && *h > 0.0) {
                    return Err(format!(
                        "{who}: `decay.half_life_days` must be a positive number of days"
                    ));
                }
                (Some(*h), false)
            }
            Some(DecaySpec::Learn(s)) if s == "learn" => (None, true),
            Some(DecaySpec::Learn(s)) => {
                return Err(format!(
                    "{who}: `decay = \"{s}\"` is not understood; write decay = {{ half_life_days \
                     = 14 }} or decay = \"learn\""
                ))
            }
        };
        match (within_days, decay.is_some()) {
            (Some(_), true) => Err(format!(
                "{who} has both `within_days` and `decay`; count the events of a window, or \
                 sum them decayed, not both"
            )),
            (None, false) => Err(format!(
                "{who} counts events but says not over what time: add within_days = 30 (the \
                 events of the last 30 days) or decay = {{ half_life_days = 14 }} (or \"learn\")"
            )),
            (Some(0), _) => Err(format!(
                "{who}: `within_days` must be at least 1 (0 would count today's events only)"
            )),
            _ => Ok(EventSource {
                types,
                within_days,
                half_life_days,
                learn,
            }),
        }
    }

    /// The name of the column that holds the source's number for each lead (and training
    /// snapshot). Rules with the same source share it. A learnt half-life is not part of the
    /// name, which is fixed before the half-life is chosen.
    pub fn column_name(&self) -> String {
        let types = self.types.join(" or ");
        match (self.within_days, self.learn, self.half_life_days) {
            (Some(d), _, _) => format!("events: {types} within {d} days"),
            (None, true, _) => format!("events: {types} decayed, learnt half-life"),
            (None, false, Some(h)) => format!(
                "events: {types} decayed, half-life {} days",
                super::format_number(h)
            ),
            (None, false, None) => format!("events: {types} decayed"),
        }
    }

    /// The source in words, for points sheets, reasons and reports: "pricing_page_view events
    /// in the last 30 days", "pricing_page_view events decayed with a half-life of 14 days".
    pub fn label(&self) -> String {
        let types = self.types.join(" or ");
        match (self.within_days, self.half_life_days) {
            (Some(d), _) => format!("{types} events in the last {d} days"),
            (None, Some(h)) => format!(
                "{types} events decayed with a half-life of {} days{}",
                super::format_number(h),
                if self.learn { " (learnt)" } else { "" }
            ),
            (None, None) => format!("{types} events decayed with a half-life to learn"),
        }
    }

    /// The sentence a report says about a decayed source: "pricing_page_view events lose half
    /// their value in 14 days".
    pub fn half_life_sentence(&self) -> Option<String> {
        let h = self.half_life_days.filter(|_| self.within_days.is_none())?;
        Some(format!(
            "{} events lose half their value in {} days{}",
            self.types.join(" or "),
            super::format_number(h),
            if self.learn {
                " (learnt from the data)"
            } else {
                ""
            }
        ))
    }
}

/// One half-life tried by `decay = "learn"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HalfLifeScore {
    pub half_life_days: f64,
    pub cv_log_loss: f64,
}

/// The choice of one learnt half-life: every value tried, and the one kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HalfLifeSearch {
    /// The event column ([`EventSource::column_name`]) whose half-life was chosen.
    pub column: String,
    pub half_life_days: f64,
    pub scores: Vec<HalfLifeScore>,
}

/// What point-in-time training read from the activity log (the model's `training.events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsTraining {
    /// File name of the events file (no directories); of the counts file when the warehouse
    /// counted the snapshots.
    pub input: String,
    pub columns: EventColumns,
    /// Events in the file (unknown, absent, when the warehouse counted the snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<usize>,
    /// Training leads with at least one event (unknown, absent, when the warehouse counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leads_with_events: Option<usize>,
    /// When snapshots were taken: `monthly`, `weekly` or a list of dates.
    pub snapshots: String,
    /// Training rows: one per lead and snapshot at which it was open.
    pub snapshot_rows: usize,
    /// The snapshots were counted in the warehouse (`mqlcal export --format sql-counts
    /// --events-table`, trained with `mqlcal train --counts`), and the folds dealt by bucket of
    /// lead ids (`lead_bucket`) rather than by lead id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted_in_warehouse: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub half_life_search: Vec<HalfLifeSearch>,
}

/// Days counted as dated outcomes count them (days from the common era,
/// `crate::data::outcomes::day`), in 4 bytes: an activity log has many events.
pub type Day = i32;

pub fn day_of(date: NaiveDate) -> Day {
    date.num_days_from_ce()
}

/// One event of a lead in 4 bytes: its day (days from the common era, 22 bits: 0001-01-01 to
/// the year 11,484; days outside are clamped to that range, which only matters for an as-of
/// date outside it) and its type (an index into [`Events::types`], 10 bits: up to
/// [`Event::MAX_TYPES`] types). Ordered by day, then type. An activity log has many events:
/// 100 million of them take 400 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Event(u32);

impl Event {
    /// How many event types a log may have.
    pub const MAX_TYPES: usize = 1 << KIND_BITS;
    /// The last day an event can have (days from the common era).
    pub const MAX_DAY: Day = (1 << (32 - KIND_BITS)) - 1;

    /// The event of type `kind` (below [`Event::MAX_TYPES`]) on `day` (clamped to
    /// 0 ..= [`Event::MAX_DAY`]).
    pub fn new(day: Day, kind: u32) -> Event {
        debug_assert!((kind as usize) < Event::MAX_TYPES);
        Event(((day.clamp(0, Event::MAX_DAY) as u32) << KIND_BITS) | kind)
    }

    pub fn day(self) -> Day {
        (self.0 >> KIND_BITS) as Day
    }

    pub fn kind(self) -> u32 {
        self.0 & ((1 << KIND_BITS) - 1)
    }
}

const KIND_BITS: u32 = 10;

/// Every lead's events, ordered by day (then type), and the event types by name. Compact, for
/// logs of hundreds of millions of events: each lead id once, and 4 bytes per event, in one
/// array sorted by lead (a lead's events are a slice of it).
#[derive(Debug, Clone, Default)]
pub struct Events {
    pub(crate) types: Vec<String>,
    pub(crate) lead_index: HashMap<Box<str>, u32>,
    /// Lead `l`'s events are `events[start[l]..start[l + 1]]`.
    pub(crate) start: Vec<usize>,
    pub(crate) events: Vec<Event>,
}

impl Events {
    /// Events from memory: (lead id, type, date) in any order. Panics with more than
    /// [`Event::MAX_TYPES`] types.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, NaiveDate)>) -> Events {
        let mut events = Events::default();
        let mut read: Vec<(u32, Event)> = Vec::new();
        for (id, kind, date) in rows {
            let k = events
                .kind_index(kind)
                .expect("no more event types than Event::MAX_TYPES");
            let l = events.lead(id);
            read.push((l, Event::new(day_of(date), k)));
        }
        // Grouped by lead (a counting sort), each lead's by day.
        let leads = events.lead_index.len();
        let mut start = vec![0usize; leads + 1];
        for &(l, _) in &read {
            start[l as usize + 1] += 1;
        }
        for l in 0..leads {
            start[l + 1] += start[l];
        }
        let mut next = start.clone();
        events.events = vec![Event(0); read.len()];
        for (l, e) in read {
            events.events[next[l as usize]] = e;
            next[l as usize] += 1;
        }
        events.start = start;
        events.sort_each_lead();
        events
    }

    /// The index of event type `kind`, added when new; `None` when there would be more than
    /// [`Event::MAX_TYPES`].
    pub(crate) fn kind_index(&mut self, kind: &str) -> Option<u32> {
        // Few types: a linear search beats hashing.
        match self.types.iter().position(|t| t == kind) {
            Some(k) => Some(k as u32),
            None if self.types.len() < Event::MAX_TYPES => {
                self.types.push(kind.to_string());
                Some(self.types.len() as u32 - 1)
            }
            None => None,
        }
    }

    /// The index of lead `id`, numbered on first sight.
    pub(crate) fn lead(&mut self, id: &str) -> u32 {
        let next = self.lead_index.len() as u32;
        match self.lead_index.get(id) {
            Some(&l) => l,
            None => {
                self.lead_index.insert(id.into(), next);
                next
            }
        }
    }

    /// Orders each lead's events by day, then type.
    pub(crate) fn sort_each_lead(&mut self) {
        for l in 0..self.lead_index.len() {
            self.events[self.start[l]..self.start[l + 1]].sort_unstable();
        }
    }

    /// The event types seen, in order of first appearance.
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// How many events were read.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many leads have events.
    pub fn leads(&self) -> usize {
        self.lead_index.len()
    }

    /// The lead's events by day (none for a lead without events, or an unknown id).
    pub fn of(&self, id: &str) -> &[Event] {
        match self.lead_index.get(id) {
            Some(&l) => &self.events[self.start[l as usize]..self.start[l as usize + 1]],
            None => &[],
        }
    }

    /// The type indices of `names` (names never seen are left out: no event has them).
    pub fn kinds(&self, names: &[String]) -> Vec<u32> {
        names
            .iter()
            .filter_map(|n| self.types.iter().position(|t| t == n))
            .map(|k| k as u32)
            .collect()
    }
}

/// How a lead's events of some types become one number at a reference date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// The number of events at most `days` days old (age 0 ..= days).
    Within { days: u32 },
    /// The sum over events of 0.5^(age / half-life), rounded to [`DECAY_RESOLUTION`].
    Decay { half_life_days: f64 },
}

/// Decayed sums are rounded to this step, so that leads still fall into few distinct rule
/// patterns (the fit works on pattern counts): a lead with one event 3 days ago under a
/// 14-day half-life has 0.862 → 0.9. The rounding moves a feature by at most 0.05 events.
pub const DECAY_RESOLUTION: f64 = 0.1;

/// The half-lives `decay = "learn"` chooses from, in days.
pub const HALF_LIFE_GRID: [f64; 9] = [3.0, 5.0, 7.0, 10.0, 14.0, 21.0, 30.0, 60.0, 120.0];

impl Aggregate {
    /// The value of the lead's `events` of types `kinds` at day `reference`.
    pub fn value(&self, events: &[Event], kinds: &[u32], reference: Day) -> f64 {
        let seen = events
            .iter()
            .take_while(|e| e.day() <= reference)
            .filter(|e| kinds.contains(&e.kind()));
        match *self {
            Aggregate::Within { days } => {
                seen.filter(|e| reference - e.day() <= days as Day).count() as f64
            }
            Aggregate::Decay { half_life_days } => {
                let sum: f64 = seen
                    .map(|e| 0.5f64.powf(f64::from(reference - e.day()) / half_life_days))
                    .sum();
                (sum / DECAY_RESOLUTION).round() * DECAY_RESOLUTION
            }
        }
    }
}

/// An event feature as a column of the training rows: a rule reads it as any numeric column.
#[derive(Debug, Clone, PartialEq)]
pub struct EventColumn {
    /// The column's name in the rows (and in the rules that read it).
    pub name: String,
    /// The event types it counts.
    pub types: Vec<String>,
    pub aggregate: Aggregate,
}

impl EventColumn {
    /// The column's values for leads `ids` at days `reference` (one per row).
    pub fn values(&self, events: &Events, ids: &[Option<&str>], reference: &[Day]) -> Vec<f64> {
        let kinds = events.kinds(&self.types);
        ids.iter()
            .zip(reference)
            .map(|(id, &r)| match id {
                Some(id) => self.aggregate.value(events.of(id), &kinds, r),
                None => 0.0,
            })
            .collect()
    }
}

/// The half-life a `decay = "learn"` source starts from before it is learnt (and keeps for
/// the other sources while one is being learnt): the middle of [`HALF_LIFE_GRID`].
pub const START_HALF_LIFE: f64 = 14.0;

impl EventSource {
    /// How the source's events become a number.
    pub fn aggregate(&self) -> Aggregate {
        match (self.within_days, self.half_life_days) {
            (Some(days), _) => Aggregate::Within { days },
            (None, h) => Aggregate::Decay {
                half_life_days: h.unwrap_or(START_HALF_LIFE),
            },
        }
    }

    fn event_column(&self) -> EventColumn {
        EventColumn {
            name: self.column_name(),
            types: self.types.clone(),
            aggregate: self.aggregate(),
        }
    }
}

/// The event columns of `sources` (the event rules' [`EventSource`]s), each once, in order.
pub fn event_columns_of<'a>(
    sources: impl IntoIterator<Item = &'a EventSource>,
) -> Vec<EventColumn> {
    let mut out: Vec<EventColumn> = Vec::new();
    for source in sources {
        let c = source.event_column();
        if !out.iter().any(|o| o.name == c.name) {
            out.push(c);
        }
    }
    out
}

/// The event columns `rules` read, each once, in rule order.
pub fn event_columns(rules: &[super::Rule]) -> Vec<EventColumn> {
    event_columns_of(rules.iter().filter_map(|r| r.event.as_ref()))
}

/// The first event rule of `rules`, for messages.
pub fn first_event_rule(rules: &[super::Rule]) -> Option<&super::Rule> {
    rules.iter().find(|r| r.event.is_some())
}

/// Refuses a rule of `rules` whose half-life is learnt (`decay = "learn"`, or learnt into a
/// model) where `what` (snapshots counted in a warehouse) cannot learn one: the half-life is
/// chosen by training on the events once per half-life tried. The message names the rule and
/// the way: learn it on a sample, then fix it.
pub fn no_learnt_half_life(rules: &[super::Rule], what: &str) -> Result<(), String> {
    match rules
        .iter()
        .find(|r| r.event.as_ref().is_some_and(|e| e.learn))
    {
        Some(r) => Err(format!(
            "rule '{}' learns its half-life (decay = \"learn\"), which {what} cannot: a \
             half-life is chosen by training on the activity log once for each half-life tried. \
             Learn it on a sample with `mqlcal train --events` (`mqlcal inspect` then says the \
             half-life chosen), and write it into the rules file as decay = {{ half_life_days \
             = H }}",
            r.name
        )),
        None => Ok(()),
    }
}

/// The values of the event columns of `sources` (the event rules' [`EventSource`]s) as of
/// `as_of` for one lead whose events are `events` (type, UTC day): what
/// `crate::events::with_event_columns` puts in that lead's row when the events come from a
/// file (`mqlcal score --events`), computed
/// by the same code (the events grouped as [`Events`] groups a file's, types trimmed as a
/// file's are, each column's value by [`EventColumn::values`]). Events after `as_of` do not
/// count; a lead without events has 0 in every column. Gives (column name, value) in
/// [`event_columns_of`] order.
pub fn lead_event_values<'a>(
    sources: impl IntoIterator<Item = &'a EventSource>,
    events: &[(&str, NaiveDate)],
    as_of: NaiveDate,
) -> Vec<(String, f64)> {
    const LEAD: &str = "";
    let columns = event_columns_of(sources);
    // Only the types some column counts (so never more than a log may have).
    let counted = |kind: &str| columns.iter().any(|c| c.types.iter().any(|t| t == kind));
    let log = Events::from_rows(
        events
            .iter()
            .map(|&(kind, day)| (LEAD, kind.trim(), day))
            .filter(|&(_, kind, _)| counted(kind)),
    );
    let at = [day_of(as_of)];
    columns
        .into_iter()
        .map(|c| {
            let value = c.values(&log, &[Some(LEAD)], &at)[0];
            (c.name, value)
        })
        .collect()
}

/// The UTC day of an event's time as an activity log gives it: `YYYY-MM-DD`, or a timestamp
/// after it (an offset moves it to its UTC day; none is UTC), as `Events::load` reads a
/// file's. `None` when it is not one.
pub fn event_day(at: &str) -> Option<NaiveDate> {
    super::parse_date_utc(at, None)
}
