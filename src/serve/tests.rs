//! The request path against the one it replaced: the previous implementation (a
//! `serde_json::Map` per lead, scored lead by lead with `Model::score_lead`, the answer
//! serialised from structs) is kept here as the reference, and bodies good and bad must give
//! the same answer byte for byte, or the same problem (status, message, lead and column).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use super::score::{score_body, Problem};
use super::state::Loaded;
use crate::model::{Model, Scored};
use crate::rules::Value;

mod reference {
    use super::*;

    #[derive(Deserialize)]
    struct Request {
        leads: Vec<Map<String, Json>>,
    }

    #[derive(Serialize)]
    struct Answer<'a> {
        model: &'a str,
        results: Vec<LeadResult<'a>>,
    }

    #[derive(Serialize)]
    struct LeadResult<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Json>,
        score: i64,
        probability: f64,
        mql: bool,
        reasons: Vec<Reason<'a>>,
        #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "as_map")]
        sub_scores: Vec<(&'a str, i64)>,
        #[serde(skip_serializing_if = "Option::is_none")]
        grade: Option<String>,
    }

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

    pub fn score_body(
        loaded: &Loaded,
        body: &[u8],
        max_leads: usize,
        reasons: usize,
    ) -> Result<Vec<u8>, Problem> {
        let request = parse(body)?;
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
        Ok(serde_json::to_vec(&answer).unwrap())
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

    fn parse(body: &[u8]) -> Result<Request, Problem> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let request: Request = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| problem_at(body, Some(e.path()), e.inner()))?;
        de.end().map_err(|e| problem_at(body, None, &e))?;
        Ok(request)
    }

    fn problem_at(
        body: &[u8],
        path: Option<&serde_path_to_error::Path>,
        inner: &serde_json::Error,
    ) -> Problem {
        let mut lead = None;
        let mut column = None;
        for seg in path.into_iter().flat_map(|p| p.iter()) {
            match seg {
                serde_path_to_error::Segment::Seq { index } if lead.is_none() => {
                    lead = Some(*index)
                }
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
            format!(
                "{at}{inner}; the body must be {{\"leads\": [{{\"column\": value, ...}}, ...]}}"
            )
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
}

/// The bundled model, or the same with its rules in two groups, a grade matrix of sorts is
/// not needed: groups give sub-scores; placeholders `Select` and `n/a` mean missing.
fn models() -> Vec<Loaded> {
    let text = include_str!("../../models/lead-model.json");
    let plain = Model::from_json(text).unwrap();
    let mut v: Json = serde_json::from_str(text).unwrap();
    for (j, r) in v["rules"].as_array_mut().unwrap().iter_mut().enumerate() {
        r["group"] = json!(if j % 3 == 0 { "profile" } else { "behaviour" });
    }
    v["training"]["na"] = json!(["Select", "n/a"]);
    let grouped = Model::from_json(&v.to_string()).unwrap();
    assert_eq!(grouped.group_names().len(), 2);
    vec![
        Loaded::new(plain, "plain".into(), "m.json".into()),
        Loaded::new(grouped, "grouped \"v2\"".into(), "g.json".into()),
    ]
}

/// Both paths on one body: the same answer bytes or the same problem.
fn same(loaded: &Loaded, body: &str, max_leads: usize) -> Result<Vec<u8>, Problem> {
    let new = score_body(loaded, body.as_bytes(), max_leads, 3);
    let old = reference::score_body(loaded, body.as_bytes(), max_leads, 3);
    match (&new.answer, &old) {
        (Ok(a), Ok(b)) => assert!(
            a == b,
            "{body}\nnew: {}\nold: {}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        ),
        (a, b) => assert_eq!(a, b, "{body}"),
    }
    new.answer
}

#[test]
fn many_leads_answer_byte_for_byte_as_before() {
    // Leads built from every kind of value each column may get, including the same lead
    // twice (the pattern cache) and texts with escapes (copied, not borrowed).
    let levels = [
        json!("VP"),
        json!(" Director "),
        json!("Intern"),
        json!("Select"),
        json!(""),
        json!(null),
        json!(true),
        json!("C-\u{4c}evel"),
    ];
    let numbers = [
        json!(0),
        json!(3),
        json!(" 4 "),
        json!("7.5"),
        json!(12.25),
        json!(-1),
        json!(null),
        json!(250),
        json!(18446744073709551615u64),
    ];
    let mut leads = Vec::new();
    for i in 0..800 {
        let mut lead = Map::new();
        let n = |k: usize| numbers[(i * 7 + k * 3) % numbers.len()].clone();
        if i % 5 != 0 {
            lead.insert("lead_id".into(), json!(format!(" L{i:05} ")));
        } else if i % 10 == 0 {
            lead.insert("lead_id".into(), json!(i));
        }
        lead.insert("job_level".into(), levels[i % levels.len()].clone());
        lead.insert("pricing_page_visits".into(), n(0));
        lead.insert("whitepaper_downloads".into(), n(1));
        lead.insert("webinar_attended".into(), n(2));
        lead.insert("email_opens".into(), n(3));
        if i % 4 != 1 {
            lead.insert("company_size".into(), n(4));
        }
        lead.insert("days_since_last_activity".into(), n(5));
        lead.insert(
            "industry".into(),
            json!(["Software", "Finance\t", "Retail", "So\"ft"][i % 4]),
        );
        lead.insert(
            "budget_confirmed".into(),
            json!(["yes", "no", " yes"][i % 3]),
        );
        // Keys no rule reads, of every kind.
        lead.insert("created_at".into(), json!("2025-01-01"));
        lead.insert("notes".into(), json!({"a": [1, 2.5, "x", null]}));
        lead.insert("score_hint".into(), json!(1e300));
        leads.push(Json::Object(lead));
    }
    for loaded in models() {
        let body = json!({ "leads": leads }).to_string();
        let answer = same(&loaded, &body, 10_000).unwrap();
        let a: Json = serde_json::from_slice(&answer).unwrap();
        assert_eq!(a["results"].as_array().unwrap().len(), 800);
        // Pretty-printed bodies and a key given twice (the last value counts, as in a map).
        let body = serde_json::to_string_pretty(&json!({ "leads": leads[..50] })).unwrap();
        same(&loaded, &body, 10_000).unwrap();
        same(
            &loaded,
            r#"{"other": [1], "leads": [{"job_level": "Intern", "job_level": "VP", "x\u0041": 1}]}"#,
            10,
        )
        .unwrap();
        same(&loaded, r#"{"leads": []}"#, 10).unwrap();
        same(&loaded, r#"[[{"job_level": "VP"}]]"#, 10).unwrap();
    }
}

#[test]
fn bad_values_give_the_same_problems_as_before() {
    let bodies = [
        // Text in a numeric column: 422 naming the lead and the column.
        r#"{"leads": [{}, {"pricing_page_visits": "many"}]}"#,
        r#"{"leads": [{"pricing_page_visits": "4"}, {}, {"company_size": "1e999"}]}"#,
        r#"{"leads": [{"pricing_page_visits": "NaN"}]}"#,
        r#"{"leads": [{"pricing_page_visits": "inf"}]}"#,
        r#"{"leads": [{"pricing_page_visits": true}]}"#,
        // Numbers too large to be finite, in a rule's column or in a key no rule reads.
        r#"{"leads": [{}, {"pricing_page_visits": 1e999}]}"#,
        r#"{"leads": [{}, {"notes": -1e999}]}"#,
        r#"{"leads": [{}, {"lead_id": 1e999}]}"#,
        // Lists and objects under a rule's column; under other keys they are ignored.
        r#"{"leads": [{"job_level": ["VP"]}]}"#,
        r#"{"leads": [{"pricing_page_visits": 1, "job_level": {"a": 1}, "company_size": [1]}]}"#,
        // Not the request's shape.
        "",
        "  \n",
        "{\"leads\": [",
        r#"{"leads": [{"job_level": "VP"}"#,
        r#"{"lead": []}"#,
        r#"{"leads": 3}"#,
        r#"{"leads": [{}, 3]}"#,
        r#"{"leads": [{}, "x"]}"#,
        r#"{"leads": [{}, {"job_level": }]}"#,
        r#"{"leads": [{}, {"job_level" "VP"}]}"#,
        r#"{"leads": [{}, {"job_level": "VP",}]}"#,
        r#"{"leads": [], "leads": []}"#,
        r#"{"leads": []} x"#,
        r#"{"leads": [{} {}]}"#,
        r#"{"leads": [{}, {}"#,
        r#"{"leads": [{"a": 1 "b": 2}]}"#,
        r#"[]"#,
        r#"3"#,
        r#"{"leads": [{"job_level": "\ud800"}]}"#,
        "{\"leads\": [{\"job_level\": \"V\u{1}P\"}]}",
        // Too many leads: 413 once the body is read (a body that does not parse is a 400).
        r#"{"leads": [{}, {}, {}, {}, {}, {}]}"#,
        r#"{"leads": [{}, {}, {}, {}, {}, {"pricing_page_visits": "lots"}]}"#,
        r#"{"leads": [{}, {}, {}, {}, {}, 7]}"#,
    ];
    for loaded in models() {
        // A body that is not UTF-8, in a text and in a key.
        for body in [
            &b"{\"leads\": [{\"job_level\": \"V\xffP\"}]}"[..],
            b"{\"leads\": [{\"\xfe\": 1}]}",
        ] {
            let new = score_body(&loaded, body, 5, 3).answer.unwrap_err();
            let old = reference::score_body(&loaded, body, 5, 3).unwrap_err();
            assert_eq!(new, old);
            assert_eq!(new.status, 400);
        }
        for body in bodies {
            let problem = same(&loaded, body, 5).expect_err(body);
            if body.contains("\"many\"") {
                assert_eq!(
                    (problem.status, problem.lead, problem.column.as_deref()),
                    (422, Some(1), Some("pricing_page_visits"))
                );
                assert!(
                    problem.error.contains("'many' is not a number"),
                    "{problem:?}"
                );
            }
        }
        // The one change: a number too large inside an object is named by the lead's key
        // (`x`), where the map of values named the innermost key (`y`).
        let body = r#"{"leads": [{"job_level": "VP", "x": {"y": [1e999]}}]}"#;
        let new = score_body(&loaded, body.as_bytes(), 5, 3)
            .answer
            .unwrap_err();
        let old = reference::score_body(&loaded, body.as_bytes(), 5, 3).unwrap_err();
        assert_eq!(
            (new.status, new.lead, new.column.as_deref()),
            (422, Some(0), Some("x"))
        );
        assert_eq!(new.error, old.error.replace("'y'", "'x'"));
        // A list or an object under a key no rule reads is ignored; as the id, echoed.
        let a = same(
            &loaded,
            r#"{"leads": [{"lead_id": {"crm": 7}, "tags": ["a", {"b": null}]}]}"#,
            5,
        )
        .unwrap();
        let a: Json = serde_json::from_slice(&a).unwrap();
        assert_eq!(a["results"][0]["id"], json!({"crm": 7}));
        // Ignored keys, null as missing and texts read as cells score as their absence does.
        let blank = same(&loaded, r#"{"leads": [{"lead_id": "a"}]}"#, 5).unwrap();
        // The grouped model has `Select` and `n/a` as placeholders, the plain one none.
        let placeholders = if loaded.version == "plain" {
            ""
        } else {
            r#""industry": "Select", "pricing_page_visits": " n/a ","#
        };
        let noisy = same(
            &loaded,
            &format!(
                r#"{{"leads": [{{"lead_id": " a ", "company_size": null, "job_level": "  ",
                    {placeholders} "extra": {{"x": [1e300]}}}}]}}"#
            ),
            5,
        )
        .unwrap();
        assert_eq!(blank, noisy);
    }
}
