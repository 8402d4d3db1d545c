//! `POST /v1/score` without the HTTP: a request body in, the answer's JSON (or a problem with
//! its status) out. Leads are read as `mqlcal score` reads a file's cells and scored by the
//! model's own `score_lead`, so the service and the command agree lead for lead.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::state::Loaded;
use crate::model::{Model, Scored};
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

#[derive(Deserialize)]
struct Request {
    leads: Vec<Map<String, Json>>,
}

/// The answer: the version that scored every lead, and one result per lead in request order.
#[derive(Serialize)]
struct Answer<'a> {
    model: &'a str,
    results: Vec<LeadResult<'a>>,
}

/// One scored lead. New outputs of a model (group sub-scores, a grade) are one field each
/// here, filled in [`result`].
#[derive(Serialize)]
struct LeadResult<'a> {
    /// The lead's id when the model has an id column (null when the lead has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Json>,
    score: i64,
    probability: f64,
    mql: bool,
    reasons: Vec<Reason<'a>>,
    /// Each group's points (`{"behaviour": 30, "profile": 25}`) when the rules have groups,
    /// as `mqlcal score`'s `<group>_score` columns.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "as_map")]
    sub_scores: Vec<(&'a str, i64)>,
    /// The grade (`B2`) when the model has a grade matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    grade: Option<String>,
}

/// Pairs as a JSON object, in the rules' order of groups.
fn as_map<S: serde::Serializer>(pairs: &[(&str, i64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

#[derive(Serialize)]
struct Reason<'a> {
    rule: &'a str,
    points: i64,
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
    match parse(body) {
        Ok(request) => Outcome {
            leads: Some(request.leads.len()),
            answer: score_request(loaded, &request, max_leads, reasons),
        },
        Err(p) => Outcome {
            answer: Err(p),
            leads: None,
        },
    }
}

fn score_request(
    loaded: &Loaded,
    request: &Request,
    max_leads: usize,
    reasons: usize,
) -> Result<Vec<u8>, Problem> {
    if request.leads.len() > max_leads {
        return Err(Problem::new(
            413,
            format!(
                "the request holds {} leads; at most {max_leads} are scored in one request \
                 (--max-leads): send them in smaller batches",
                request.leads.len()
            ),
        ));
    }
    let model = &loaded.model;
    let columns = model.columns();
    let groups = model.group_names();
    let mut results = Vec::with_capacity(request.leads.len());
    for (i, lead) in request.leads.iter().enumerate() {
        let bad = |column: &str, message: String| Problem {
            status: 422,
            error: format!("leads[{i}], column '{column}': {message}"),
            lead: Some(i),
            column: Some(column.to_string()),
        };
        for &c in &columns {
            if let Some(v @ (Json::Array(_) | Json::Object(_))) = lead.get(c) {
                let kind = if v.is_array() { "a list" } else { "an object" };
                return Err(bad(
                    c,
                    format!("{kind} cannot be read by a rule; send a number, a text or null"),
                ));
            }
        }
        let scored = model
            .score_lead(|column| cell(model, lead.get(column)))
            .map_err(|e| {
                // `score_lead` names the column first: "column 'x': …".
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
        results.push(result(model, &groups, lead, &scored, reasons));
    }
    let answer = Answer {
        model: &loaded.version,
        results,
    };
    Ok(serde_json::to_vec(&answer).expect("answers serialise"))
}

fn result<'a>(
    model: &'a Model,
    groups: &'a [String],
    lead: &Map<String, Json>,
    s: &Scored,
    reasons: usize,
) -> LeadResult<'a> {
    LeadResult {
        id: model.id_column.as_ref().map(|c| id(model, lead.get(c))),
        score: s.score,
        probability: s.probability.0,
        mql: s.mql,
        reasons: s
            .reasons
            .iter()
            .take(reasons)
            .map(|&(j, points)| Reason {
                rule: &model.rules[j].name,
                points,
            })
            .collect(),
        sub_scores: groups
            .iter()
            .map(String::as_str)
            .zip(s.sub_scores.iter().copied())
            .collect(),
        grade: s.grade.map(|g| g.to_string()),
    }
}

/// One JSON value as the rules read it: a number as a number, a text as `mqlcal score` reads a
/// CSV cell (trimmed; empty or a placeholder of the model is missing), null or absent as
/// missing. `true`/`false` are read as the texts a CSV file would hold. Lists and objects are
/// refused before scoring (see [`score_body`]).
fn cell<'a>(model: &Model, v: Option<&'a Json>) -> Value<'a> {
    match v {
        None | Some(Json::Null) => Value::Missing,
        Some(Json::Number(n)) => n.as_f64().map_or(Value::Missing, Value::Number),
        Some(Json::String(s)) => model.cell(Some(s)),
        Some(Json::Bool(true)) => Value::Text("true"),
        Some(Json::Bool(false)) => Value::Text("false"),
        Some(Json::Array(_) | Json::Object(_)) => Value::Missing,
    }
}

/// The id as `mqlcal score` writes it: a text trimmed, a placeholder or empty text null, a
/// number as sent.
fn id(model: &Model, v: Option<&Json>) -> Json {
    match v {
        Some(Json::String(s)) => match model.cell(Some(s)) {
            Value::Text(t) => Json::String(t.to_string()),
            _ => Json::Null,
        },
        Some(v) => v.clone(),
        None => Json::Null,
    }
}

/// The body as a request, or a problem naming where it went wrong: 400 for what is not the
/// request's shape, 422 for a number JSON cannot hold as a finite double (`1e999`).
fn parse(body: &[u8]) -> Result<Request, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: Request = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| problem_at(body, Some(e.path()), e.inner()))?;
    de.end().map_err(|e| problem_at(body, None, &e))?;
    Ok(request)
}

/// A parse error as a problem, with the lead and column from the path `leads[3].visits`.
fn problem_at(
    body: &[u8],
    path: Option<&serde_path_to_error::Path>,
    inner: &serde_json::Error,
) -> Problem {
    let mut lead = None;
    let mut column = None;
    for seg in path.into_iter().flat_map(|p| p.iter()) {
        match seg {
            serde_path_to_error::Segment::Seq { index } if lead.is_none() => lead = Some(*index),
            serde_path_to_error::Segment::Map { key } if lead.is_some() => {
                column = Some(key.clone())
            }
            _ => {}
        }
    }
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

    fn loaded() -> Loaded {
        let model = Model::from_json(include_str!("../../models/lead-model.json")).unwrap();
        Loaded {
            version: "test-version".into(),
            model,
            path: "m.json".into(),
        }
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
