//! What `/metrics` shows, in the Prometheus text format: requests and leads by route and
//! status, a latency histogram, the model version and reloads. Written by hand: the format is a
//! few lines of text, and the `prometheus` crate would bring protobuf and a registry for five
//! series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: fine below 5 ms, where a single lead is
/// answered, coarse up to the request timeout.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) → requests. Routes are the service's own paths or `other`, so a
    /// client probing random paths cannot grow the table.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Status → leads in `/v1/score` requests.
    leads: Mutex<BTreeMap<u16, u64>>,
    /// Latency of `/v1/score`: counts per bucket (not cumulative), sum in microseconds.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16, leads: Option<usize>, took: Duration) {
        *lock(&self.requests).entry((route, status)).or_default() += 1;
        if route == "/v1/score" {
            if let Some(n) = leads {
                *lock(&self.leads).entry(status).or_default() += n as u64;
            }
            let secs = took.as_secs_f64();
            let bucket = BUCKETS
                .iter()
                .position(|&b| secs <= b)
                .unwrap_or(BUCKETS.len());
            self.latency[bucket].fetch_add(1, Ordering::Relaxed);
            self.latency_sum_us
                .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        }
    }

    pub fn reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text format (version 0.0.4), with the version served now.
    pub fn render(&self, version: Option<&str>) -> String {
        let mut out = String::new();
        let w = &mut out;
        header(
            w,
            "mqlcal_requests_total",
            "counter",
            "HTTP requests by route and status.",
        );
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                w,
                "mqlcal_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        header(
            w,
            "mqlcal_leads_total",
            "counter",
            "Leads sent to /v1/score, by the status of their request.",
        );
        for (status, n) in lock(&self.leads).iter() {
            let _ = writeln!(w, "mqlcal_leads_total{{status=\"{status}\"}} {n}");
        }
        let name = "mqlcal_score_request_duration_seconds";
        header(
            w,
            name,
            "histogram",
            "Time to answer /v1/score, from the request's head to the answer.",
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS
            .iter()
            .map(|b| b.to_string())
            .chain(["+Inf".to_string()])
            .enumerate()
        {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(w, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(w, "{name}_sum {sum}\n{name}_count {cumulative}");
        header(
            w,
            "mqlcal_model_info",
            "gauge",
            "The model version being served (1 while it is).",
        );
        if let Some(v) = version {
            let _ = writeln!(w, "mqlcal_model_info{{version=\"{}\"}} 1", escape(v));
        }
        header(
            w,
            "mqlcal_model_reloads_total",
            "counter",
            "New current.json versions: loaded, or failed and kept the old model.",
        );
        for (result, counter) in [("ok", &self.reloads_ok), ("failed", &self.reloads_failed)] {
            let _ = writeln!(
                w,
                "mqlcal_model_reloads_total{{result=\"{result}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}

fn header(w: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the format wants it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A poisoned lock only means a panic while counting; the counts are still the best there are.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.request("/v1/score", 200, Some(3), Duration::from_micros(300));
        m.request("/v1/score", 200, Some(2), Duration::from_millis(3));
        m.request("/v1/score", 422, Some(7), Duration::from_secs(20));
        m.request("/healthz", 200, None, Duration::from_micros(10));
        m.reloaded(true);
        m.reloaded(false);
        m.reloaded(false);
        let text = m.render(Some("2026-11-30-abc\"d"));
        for line in [
            "mqlcal_requests_total{route=\"/v1/score\",status=\"200\"} 2",
            "mqlcal_requests_total{route=\"/healthz\",status=\"200\"} 1",
            "mqlcal_leads_total{status=\"200\"} 5",
            "mqlcal_leads_total{status=\"422\"} 7",
            "mqlcal_score_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "mqlcal_score_request_duration_seconds_bucket{le=\"0.005\"} 2",
            "mqlcal_score_request_duration_seconds_bucket{le=\"10\"} 2",
            "mqlcal_score_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "mqlcal_score_request_duration_seconds_count 3",
            "mqlcal_model_info{version=\"2026-11-30-abc\\\"d\"} 1",
            "mqlcal_model_reloads_total{result=\"ok\"} 1",
            "mqlcal_model_reloads_total{result=\"failed\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        // Every sample line is `name{labels} value` with a number for value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }
}
