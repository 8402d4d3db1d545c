//! `POST /v1/score` without the HTTP: a request body in, the answer's JSON (or a problem with
//! its status) out. The body is read into the model's layout ([`super::parse`]); each lead's
//! values are read as `mqlcal score` reads a file's cells, its rule features computed as the
//! model's `score_lead` computes them and each distinct pattern of features scored once by the
//! model's `score_features`, as `mqlcal score` does, so the service and the command agree lead
//! for lead.

use std::collections::HashMap;

use serde::Serialize;

use super::parse::{parse, Field, Leads, Place, EVENTS};
use super::state::Loaded;
use crate::model::Model;
use crate::rules::Value;

/// A request that cannot be answered: the status, and the message of the `{"error": …}`
/// answer with the lead (its index in `leads`, from 0) and the column when there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl Problem {
    pub fn new(status: u16, error: impl Into<String>) -> Problem {
        Problem {
            status,
            error: error.into(),
            lead: None,
            column: None,
        }
    }
}

/// What a request came to: the answer's JSON or a problem, and how many leads it held (when
/// the body could be read as leads), for the metrics.
pub struct Outcome {
    pub answer: Result<Vec<u8>, Problem>,
    pub leads: Option<usize>,
}

/// Parses, checks and scores a request body with `loaded`; `reasons` is how many reasons each
/// result lists (as `mqlcal score --reasons`).
pub fn score_body(loaded: &Loaded, body: &[u8], max_leads: usize, reasons: usize) -> Outcome {
    match parse(body, &loaded.layout) {
        Ok(leads) => Outcome {
            leads: Some(leads.count),
            answer: score_leads(loaded, &leads, max_leads, reasons),
        },
        Err((e, place)) => Outcome {
            answer: Err(problem_at(body, place, &e)),
            leads: None,
        },
    }
}

/// The answer, written straight into one buffer:
/// `{"model": …, "results": [{"id": …, "score": …, "probability": …, "mql": …, "reasons":
/// [{"rule": …, "points": …}, …], "sub_scores": {…}, "grade": …}, …]}`, `id` when the model
/// has an id column, `sub_scores` when its rules have groups, `grade` when it grades.
///
/// Leads that give the same rule features get the same result but the id, so, as `mqlcal
/// score` does, each distinct pattern of features is scored once per request and its JSON
/// (everything after the id) written once and copied for every lead that has it.
fn score_leads(
    loaded: &Loaded,
    leads: &Leads,
    max_leads: usize,
    reasons: usize,
) -> Result<Vec<u8>, Problem> {
    if leads.count > max_leads {
        return Err(Problem::new(
            413,
            format!(
                "the request holds {} leads; at most {max_leads} are scored in one request \
                 (--max-leads): send them in smaller batches",
                leads.count
            ),
        ));
    }
    let model = &loaded.model;
    let layout = &loaded.layout;
    let as_of = request_as_of(leads.as_of.as_ref())?;
    let groups = model.group_names();
    let mut patterns = Patterns::default();
    let mut features = Vec::with_capacity(model.rules.len());
    // About 150 bytes a lead with three reasons; the vector grows if that is short.
    let mut out = Vec::with_capacity(64 + leads.count * 160);
    out.extend_from_slice(b"{\"model\":");
    write(&mut out, loaded.version.as_str());
    // The day date rules counted back from, when the model has them (or one was sent).
    let as_of = match (as_of, model.needs_as_of()) {
        (Some(d), _) => Some(d),
        (None, true) => Some(crate::rules::today_utc()),
        (None, false) => None,
    };
    if let Some(d) = as_of {
        out.extend_from_slice(b",\"as_of\":");
        write(&mut out, d.to_string().as_str());
    }
    out.extend_from_slice(b",\"results\":[");
    for (i, row) in leads.rows().enumerate() {
        let bad = |column: &str, message: String| Problem {
            status: 422,
            error: format!("leads[{i}], column '{column}': {message}"),
            lead: Some(i),
            column: Some(column.to_string()),
        };
        // The first column (in sorted order) holding a list or an object is named.
        for (c, f) in layout.columns().iter().zip(row) {
            if let Field::Nested(v) = f {
                let kind = if v.is_array() { "a list" } else { "an object" };
                return Err(bad(
                    c,
                    format!("{kind} cannot be read by a rule; send a number, a text or null"),
                ));
            }
        }
        // Event rules read the numbers of the lead's events (none when it sent none), as
        // `Model::score_lead_with_events` computes them.
        let numbers = match layout.events() {
            Some(f) => {
                let events = lead_events(i, &row[f])?;
                let as_of = as_of.expect("a model with event rules has an as-of date");
                model.event_values(&events, as_of)
            }
            None => Vec::new(),
        };
        // As `Model::score_lead` reads a lead: each rule's feature in rule order, the first
        // error returned; then the score of the features (here once per pattern).
        let value = |column: &str| match numbers.iter().find(|(c, _)| c == column) {
            Some(&(_, v)) => Value::Number(v),
            None => cell(model, layout.field(column).map(|f| &row[f])),
        };
        features.clear();
        let read = model.rules.iter().try_for_each(|r| {
            features.push(r.eval_read_as_of(value, model.training.decimal_comma, as_of)?);
            Ok(())
        });
        let fragment = read
            .and_then(|()| patterns.get(model, &groups, &features, reasons))
            .map_err(|e| {
                // The model names the column first: "column 'x': …".
                let (column, message) = e
                    .strip_prefix("column '")
                    .and_then(|rest| rest.split_once("': "))
                    .map_or((None, e.as_str()), |(c, m)| (Some(c), m));
                match column {
                    Some(c) => bad(c, message.to_string()),
                    None => Problem {
                        lead: Some(i),
                        ..Problem::new(422, format!("leads[{i}]: {e}"))
                    },
                }
            })?;
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        if let Some(f) = layout.id() {
            out.extend_from_slice(b"\"id\":");
            write_id(&mut out, model, &row[f]);
            out.push(b',');
        }
        out.extend_from_slice(fragment);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// The request's `"as_of": "YYYY-MM-DD"`, checked: `None` when absent or null.
fn request_as_of(v: Option<&serde_json::Value>) -> Result<Option<chrono::NaiveDate>, Problem> {
    let bad = |shown: String| Problem {
        column: Some("as_of".into()),
        ..Problem::new(
            422,
            format!(
                "as_of: {shown} is not a date; send \"as_of\": \"YYYY-MM-DD\" (the day date \
                 rules count back from; default today, UTC) or leave it out"
            ),
        )
    };
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let d = (s.len() == 10)
                .then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .flatten();
            d.map(Some).ok_or_else(|| bad(format!("'{s}'")))
        }
        Some(other) => Err(bad(other.to_string())),
    }
}

/// Lead `i`'s `"events": [{"event": TYPE, "at": TIME}, ...]` as (type, UTC day): absent or
/// null is no events; a type is a text (trimmed, not empty), a time `YYYY-MM-DD` or a
/// timestamp after it, on its UTC day ([`crate::rules::events::event_day`]), as `mqlcal score
/// --events` reads a file's. Other keys of an event are ignored. A problem names the field:
/// `leads[3].events[2].at` (its `column` is `events[2].at`).
fn lead_events<'f>(
    i: usize,
    field: &'f Field,
) -> Result<Vec<(&'f str, chrono::NaiveDate)>, Problem> {
    let bad = |path: String, message: String| Problem {
        status: 422,
        error: format!("leads[{i}].{path}: {message}"),
        lead: Some(i),
        column: Some(path),
    };
    let shape =
        "send \"events\": [{\"event\": \"pricing_page_view\", \"at\": \"2026-11-30T10:00:00Z\"}, \
                 ...], or leave it out (no events)";
    let list = match field {
        Field::Missing => return Ok(Vec::new()),
        Field::Nested(v) => match v.as_array() {
            Some(list) => list,
            None => {
                return Err(bad(
                    EVENTS.into(),
                    format!("an object is not a list of events; {shape}"),
                ))
            }
        },
        other => {
            return Err(bad(
                EVENTS.into(),
                format!("{} is not a list; {shape}", shown(other)),
            ))
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (j, e) in list.iter().enumerate() {
        let at = |key: &str| format!("{EVENTS}[{j}].{key}");
        let Some(e) = e.as_object() else {
            return Err(bad(
                format!("{EVENTS}[{j}]"),
                format!("{e} is not an event; {shape}"),
            ));
        };
        let kind = match e.get("event") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim(),
            Some(serde_json::Value::String(s)) => {
                return Err(bad(
                    at("event"),
                    format!("'{s}' is empty; name the event type, e.g. \"pricing_page_view\""),
                ))
            }
            None | Some(serde_json::Value::Null) => {
                return Err(bad(
                    at("event"),
                    "missing; every event needs a type, e.g. \"event\": \"pricing_page_view\""
                        .into(),
                ))
            }
            Some(other) => {
                return Err(bad(
                    at("event"),
                    format!("{other} is not a text; send the event type as a text"),
                ))
            }
        };
        let day = match e.get("at") {
            Some(serde_json::Value::String(s)) => {
                crate::rules::events::event_day(s).ok_or_else(|| {
                    bad(
                        at("at"),
                        format!(
                            "'{s}' is not a date or timestamp; send \"YYYY-MM-DD\" or an ISO \
                             timestamp such as \"2026-11-30T10:00:00Z\" (an offset moves it to \
                             its UTC day; none is UTC)"
                        ),
                    )
                })?
            }
            None | Some(serde_json::Value::Null) => {
                return Err(bad(
                    at("at"),
                    "missing; every event needs a time, e.g. \"at\": \"2026-11-30T10:00:00Z\""
                        .into(),
                ))
            }
            Some(other) => {
                return Err(bad(
                    at("at"),
                    format!("{other} is not a date; send the time as a text, YYYY-MM-DD or an ISO timestamp"),
                ))
            }
        };
        out.push((kind, day));
    }
    Ok(out)
}

/// A field as sent, for messages.
fn shown(f: &Field) -> String {
    match f {
        Field::Missing => "null".into(),
        Field::Bool(b) => b.to_string(),
        Field::Number(n) => n.to_string(),
        Field::Text(s) => format!("'{s}'"),
        Field::Nested(v) => v.to_string(),
    }
}

/// The distinct feature patterns of one request, each with its result's JSON.
#[derive(Default)]
struct Patterns {
    /// The features' bits → the pattern's bytes in `json`.
    seen: HashMap<Box<[u64]>, (usize, usize)>,
    json: Vec<u8>,
    key: Vec<u64>,
}

impl Patterns {
    /// The JSON of the result of `features` after the id: `"score": …}` (object closed).
    fn get(
        &mut self,
        model: &Model,
        groups: &[String],
        features: &[f64],
        reasons: usize,
    ) -> Result<&[u8], String> {
        self.key.clear();
        self.key.extend(features.iter().map(|f| f.to_bits()));
        let (start, end) = match self.seen.get(self.key.as_slice()) {
            Some(&range) => range,
            None => {
                let s = model
                    .score_features(features.iter().copied())
                    .map_err(|e| model.overflow_text(&e))?;
                let start = self.json.len();
                let out = &mut self.json;
                out.extend_from_slice(b"\"score\":");
                write(out, &s.score);
                out.extend_from_slice(b",\"probability\":");
                write(out, &s.probability.0);
                out.extend_from_slice(if s.mql {
                    b",\"mql\":true,\"reasons\":["
                } else {
                    b",\"mql\":false,\"reasons\":["
                });
                for (k, &(j, points)) in s.reasons.iter().take(reasons).enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"rule\":");
                    write(out, model.rules[j].name.as_str());
                    out.extend_from_slice(b",\"points\":");
                    write(out, &points);
                    out.push(b'}');
                }
                out.push(b']');
                // Each group's points, in the rules' order of groups, as `mqlcal score`'s
                // `<group>_score` columns.
                if !groups.is_empty() {
                    out.extend_from_slice(b",\"sub_scores\":{");
                    for (k, (g, points)) in groups.iter().zip(&s.sub_scores).enumerate() {
                        if k > 0 {
                            out.push(b',');
                        }
                        write(out, g.as_str());
                        out.push(b':');
                        write(out, points);
                    }
                    out.push(b'}');
                }
                if let Some(g) = s.grade {
                    out.extend_from_slice(b",\"grade\":");
                    write(out, g.to_string().as_str());
                }
                out.push(b'}');
                let range = (start, out.len());
                self.seen.insert(self.key.as_slice().into(), range);
                range
            }
        };
        Ok(&self.json[start..end])
    }
}

/// One JSON value written as serde_json writes it (escapes, number formats).
fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(out, v).expect("texts and numbers serialise");
}

/// One field as the rules read it: a number as a number, a text as `mqlcal score` reads a CSV
/// cell (trimmed; empty or a placeholder of the model is missing), null or absent as missing.
/// `true`/`false` are read as the texts a CSV file would hold. Lists and objects are refused
/// before scoring (see [`score_leads`]).
fn cell<'a>(model: &Model, v: Option<&'a Field>) -> Value<'a> {
    match v {
        None | Some(Field::Missing) => Value::Missing,
        Some(Field::Number(n)) => n.as_f64().map_or(Value::Missing, Value::Number),
        Some(Field::Text(s)) => model.cell(Some(s)),
        Some(Field::Bool(true)) => Value::Text("true"),
        Some(Field::Bool(false)) => Value::Text("false"),
        Some(Field::Nested(_)) => Value::Missing,
    }
}

/// The id as `mqlcal score` writes it: a text trimmed, a placeholder or empty text null, a
/// number (or anything else) as sent.
fn write_id(out: &mut Vec<u8>, model: &Model, v: &Field) {
    match v {
        Field::Text(s) => match model.cell(Some(s)) {
            Value::Text(t) => write(out, t),
            _ => out.extend_from_slice(b"null"),
        },
        Field::Number(n) => write(out, n),
        Field::Bool(b) => write(out, b),
        Field::Nested(v) => write(out, v.as_ref()),
        Field::Missing => out.extend_from_slice(b"null"),
    }
}

/// A parse error as a problem, with the lead and the key where it was met
/// (400 for what is not the request's shape, 422 for a number JSON cannot hold as a finite
/// double, `1e999`).
fn problem_at(body: &[u8], place: Place, inner: &serde_json::Error) -> Problem {
    let Place { lead, column } = place;
    let at = match (&lead, &column) {
        (Some(i), Some(c)) => format!("leads[{i}], column '{c}': "),
        (Some(i), None) => format!("leads[{i}]: "),
        _ => String::new(),
    };
    if inner.to_string().contains("number out of range") {
        return Problem {
            status: 422,
            error: format!(
                "{at}a number too large to be finite (line {}, column {}); send finite numbers",
                inner.line(),
                inner.column()
            ),
            lead,
            column,
        };
    }
    let error = if body.iter().all(u8::is_ascii_whitespace) {
        "the body is empty; send {\"leads\": [{\"column\": value, ...}, ...]}".to_string()
    } else if inner.is_data() {
        format!("{at}{inner}; the body must be {{\"leads\": [{{\"column\": value, ...}}, ...]}}")
    } else {
        format!("{at}not valid JSON: {inner}")
    };
    Problem {
        status: 400,
        error,
        lead,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    fn loaded() -> Loaded {
        let model = Model::from_json(include_str!("../../models/lead-model.json")).unwrap();
        Loaded::new(model, "test-version".into(), "m.json".into())
    }

    fn answer(body: &str) -> Json {
        let answer = score_body(&loaded(), body.as_bytes(), 100, 3)
            .answer
            .unwrap();
        serde_json::from_slice(&answer).unwrap()
    }

    fn problem(body: &str) -> Problem {
        score_body(&loaded(), body.as_bytes(), 2, 3)
            .answer
            .unwrap_err()
    }

    #[test]
    fn scores_as_the_library_does_in_request_order() {
        let l = loaded();
        let m = &l.model;
        let a = answer(
            r#"{"leads": [{"job_level": "VP", "pricing_page_visits": " 4 "},
                          {"job_level": "Intern", "pricing_page_visits": 0},
                          {}]}"#,
        );
        assert_eq!(a["model"], "test-version");
        let results = a["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let leads: [&[(&str, &str)]; 3] = [
            &[("job_level", "VP"), ("pricing_page_visits", "4")],
            &[("job_level", "Intern"), ("pricing_page_visits", "0")],
            &[],
        ];
        for (r, lead) in results.iter().zip(leads) {
            let s = m
                .score_lead(|c| m.cell(lead.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)))
                .unwrap();
            assert_eq!(r["score"], s.score);
            assert_eq!(r["probability"].as_f64().unwrap(), s.probability.0);
            assert_eq!(r["mql"], s.mql);
            let text: Vec<String> = r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    format!(
                        "{} ({:+})",
                        x["rule"].as_str().unwrap(),
                        x["points"].as_i64().unwrap()
                    )
                })
                .collect();
            assert_eq!(text.join("; "), m.reasons_text(&s, 3));
        }
        assert!(results[0]["score"].as_i64() > results[1]["score"].as_i64());
    }

    #[test]
    fn bad_requests_name_the_lead_and_column() {
        let p = problem("{\"leads\": [");
        assert_eq!(p.status, 400);
        assert!(p.error.contains("not valid JSON"), "{p:?}");
        let p = problem("{\"lead\": []}");
        assert_eq!(p.status, 400);
        assert!(p.error.contains("missing field `leads`"), "{p:?}");
        let p = problem("{\"leads\": [{}, 3]}");
        assert_eq!((p.status, p.lead), (400, Some(1)), "{p:?}");
        let p = problem("");
        assert!(p.error.contains("empty"), "{p:?}");
        let p = problem("{\"leads\": [{}, {\"pricing_page_visits\": \"many\"}]}");
        assert_eq!(p.status, 422);
        assert_eq!(
            (p.lead, p.column.as_deref()),
            (Some(1), Some("pricing_page_visits"))
        );
        assert!(p.error.contains("'many' is not a number"), "{p:?}");
        let p = problem("{\"leads\": [{\"pricing_page_visits\": \"NaN\"}]}");
        assert_eq!((p.status, p.lead), (422, Some(0)), "{p:?}");
        let p = problem("{\"leads\": [{}, {\"pricing_page_visits\": 1e999}]}");
        assert_eq!(p.status, 422, "{p:?}");
        assert_eq!(
            (p.lead, p.column.as_deref()),
            (Some(1), Some("pricing_page_visits"))
        );
        let p = problem("{\"leads\": [{\"job_level\": [\"VP\"]}]}");
        assert_eq!(
            (p.status, p.column.as_deref()),
            (422, Some("job_level")),
            "{p:?}"
        );
        let p = problem("{\"leads\": [{}, {}, {}]}");
        assert_eq!(p.status, 413);
        assert!(
            p.error.contains("3 leads") && p.error.contains("--max-leads"),
            "{p:?}"
        );
    }
}
