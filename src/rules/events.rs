//! Event rules: rules on a lead's activity log rather than on a column of the leads file.
//!
//! Takes what the rules file says (`event`/`event_one_of` with `within_days` or `decay`);
//! gives an [`EventSource`]: which events count and how they age. Its number for a lead at a
//! reference date is computed by [`crate::events`] into a column of its own
//! ([`EventSource::column_name`]), which the rule's ordinary numeric condition then reads, so
//! training, scoring, points and reasons treat it as any other numeric rule. Rules with the
//! same source share that column (and a learnt half-life).

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
    /// File name of the events file (no directories).
    pub input: String,
    pub columns: EventColumns,
    /// Events in the file.
    pub events: usize,
    /// Training leads with at least one event.
    pub leads_with_events: usize,
    /// When snapshots were taken: `monthly`, `weekly` or a list of dates.
    pub snapshots: String,
    /// Training rows: one per lead and snapshot at which it was open.
    pub snapshot_rows: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub half_life_search: Vec<HalfLifeSearch>,
}
