//! The HTTP side: routes, the one middleware every request passes (access, timeout, metrics,
//! the request's log line) and the handlers. Takes the shared state; gives an axum `Router`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::auth::Token;
use super::metrics::Metrics;
use super::score::{score_body, Problem};
use super::state::Current;

/// Bodies above this are parsed and scored off the async workers, so a large batch does not
/// hold up the single-lead requests behind it.
const INLINE_BODY: usize = 64 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub current: Arc<Current>,
    pub metrics: Arc<Metrics>,
    pub token: Option<Token>,
    pub max_body: usize,
    pub max_leads: usize,
    pub reasons: usize,
    pub timeout: Duration,
}

/// The lead count and version of a `/v1/score` answer, for the metrics and the log line.
#[derive(Clone)]
struct Scored {
    leads: usize,
    version: String,
}

pub fn router(shared: Arc<Shared>) -> Router {
    let not_allowed = || {
        |method: Method| async move {
            problem(Problem::new(
                405,
                format!("method {method} is not allowed here"),
            ))
        }
    };
    Router::new()
        .route("/v1/score", post(score).fallback(not_allowed()))
        .route("/v1/model", get(model).fallback(not_allowed()))
        .route("/healthz", get(healthz).fallback(not_allowed()))
        .route("/readyz", get(readyz).fallback(not_allowed()))
        .route("/metrics", get(metrics).fallback(not_allowed()))
        .fallback(|req: Request<Body>| async move {
            problem(Problem::new(
                404,
                format!(
                    "no such path: {}; the service answers POST /v1/score, GET /v1/model, \
                     /healthz, /readyz and /metrics",
                    req.uri().path()
                ),
            ))
        })
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}

/// The error answer: `{"error": …, "lead": …, "column": …}` with its status.
pub fn problem(p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, serde_json::to_vec(&p).expect("problems serialise"))
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Access for `/v1/*`, the request timeout, the metrics and the request's log line (`-vv`).
/// `/healthz`, `/readyz` and `/metrics` stay open, as probes and scrapers call them without
/// credentials; they tell nothing about leads.
async fn observe(State(s): State<Arc<Shared>>, req: Request<Body>, next: Next<Body>) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = route(req.uri().path());
    let response = if let (Some(token), true) = (&s.token, route.starts_with("/v1/")) {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|h| h.as_bytes());
        if token.accepts(given) {
            None
        } else {
            let mut r = problem(Problem::new(
                401,
                "this service needs `Authorization: Bearer <token>` with the token of its \
                 --token-file",
            ));
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(r)
        }
    } else {
        None
    };
    let response = match response {
        Some(r) => r,
        None => match tokio::time::timeout(s.timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => problem(Problem::new(
                408,
                format!(
                    "the request was not answered within {} s (--timeout): a body sent too \
                     slowly, or a batch too large for the timeout",
                    s.timeout.as_secs_f64()
                ),
            )),
        },
    };
    let took = start.elapsed();
    let status = response.status().as_u16();
    let scored = response.extensions().get::<Scored>();
    s.metrics
        .request(route, status, scored.map(|x| x.leads), took);
    // The Authorization header is never logged; only method, path, status and counts.
    match scored {
        Some(x) => tracing::debug!(
            "{method} {route} {status} leads={} model={} {:.3} ms",
            x.leads,
            x.version,
            took.as_secs_f64() * 1e3
        ),
        None => tracing::debug!(
            "{method} {route} {status} {:.3} ms",
            took.as_secs_f64() * 1e3
        ),
    }
    response
}

/// The metrics label of a path: one of the service's own, or `other`.
fn route(path: &str) -> &'static str {
    match path {
        "/v1/score" => "/v1/score",
        "/v1/model" => "/v1/model",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        _ => "other",
    }
}

async fn score(State(s): State<Arc<Shared>>, req: Request<Body>) -> Response {
    // The model is taken before the body is read: the whole request is answered by the
    // version it arrived under, whatever is promoted meanwhile.
    let Some(loaded) = s.current.get() else {
        return not_ready();
    };
    let body = match read_body(req, s.max_body).await {
        Ok(b) => b,
        Err(p) => return problem(p),
    };
    let (max_leads, reasons) = (s.max_leads, s.reasons);
    let version = loaded.version.clone();
    let large = body.len() > INLINE_BODY;
    let job = move || score_body(&loaded, &body, max_leads, reasons);
    let outcome = if large {
        match tokio::task::spawn_blocking(job).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("scoring a batch failed: {e}");
                return problem(Problem::new(
                    500,
                    "scoring failed unexpectedly; see the service's log",
                ));
            }
        }
    } else {
        job()
    };
    let mut response = match outcome.answer {
        Ok(answer) => json(StatusCode::OK, answer),
        Err(p) => problem(p),
    };
    if let Some(leads) = outcome.leads {
        response.extensions_mut().insert(Scored { leads, version });
    }
    response
}

/// Reads the body whole, refusing one over `max` bytes as soon as that is known: from
/// `Content-Length` before reading, else while reading.
async fn read_body(req: Request<Body>, max: usize) -> Result<Bytes, Problem> {
    let too_large = |n: &str| {
        Problem::new(
            413,
            format!(
                "the body is {n} bytes; at most {max} are accepted (--max-body): send the \
                 leads in smaller batches"
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > max as u64) {
        return Err(too_large(&n.to_string()));
    }
    let mut body = req.into_body();
    let mut buf = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| Problem::new(400, format!("cannot read the body: {e}")))?;
        if buf.len() + chunk.len() > max {
            return Err(too_large("more than that"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn not_ready() -> Response {
    problem(Problem::new(
        503,
        "no model is loaded yet: the model directory has no current.json; `mqlcal models \
         promote` or `mqlcal retrain` sets one",
    ))
}

async fn model(State(s): State<Arc<Shared>>) -> Response {
    let Some(loaded) = s.current.get() else {
        return not_ready();
    };
    let m = &loaded.model;
    let rules: Vec<serde_json::Value> = m
        .rules
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "column": r.column,
                "condition": r.condition,
                "describe": r.describe(),
                "points": r.points,
            })
        })
        .collect();
    let t = &m.training;
    let body = serde_json::json!({
        "version": loaded.version,
        "file": loaded.path,
        "id_column": m.id_column,
        "probability_means": m.probability_meaning(),
        "rules": rules,
        "threshold": m.threshold,
        "calibration": m.calibration,
        "metrics": m.metrics,
        "trained_on": {
            "input": t.input,
            "input_sha256": t.input_sha256,
            "rows": t.rows,
            "conversions": t.conversions,
            "conversion_rate": t.conversion_rate,
            "newest_lead": t.newest_lead,
            "window_days": t.window_days,
            "seed": t.seed,
        },
        "generator": m.generator,
        "warnings": m.warnings,
    });
    json(
        StatusCode::OK,
        serde_json::to_vec(&body).expect("JSON values serialise"),
    )
}

async fn healthz() -> Response {
    json(StatusCode::OK, br#"{"status":"alive"}"#.to_vec())
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    match s.current.get() {
        Some(l) => json(
            StatusCode::OK,
            serde_json::to_vec(&serde_json::json!({"status": "ready", "model": l.version}))
                .expect("JSON values serialise"),
        ),
        None => not_ready(),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let version = s.current.get().map(|l| l.version.clone());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        s.metrics.render(version.as_deref()),
    )
        .into_response()
}
