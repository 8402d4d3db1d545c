use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mqlcal::serve::state::Source;
use mqlcal::serve::{run as serve, Options};

use crate::say;

/// Score leads over HTTP: a CRM's webhook, a form or a flow posts leads and gets their score,
/// probability, MQL flag and reasons back, exactly as `mqlcal score` gives them.
///
/// Endpoints: POST /v1/score ({"leads": [{column: value, ...}, ...]}), GET /v1/model,
/// GET /healthz, GET /readyz, GET /metrics (Prometheus). With --dir, every change of
/// current.json (`mqlcal retrain`, `mqlcal models promote`) is picked up within a second,
/// without dropping a request; a new model that does not load is logged and the old one keeps
/// serving. SIGTERM or SIGINT: no new connections, requests in flight finish, exit 0.
///
/// Example:
///   mqlcal serve --dir models/ --listen 127.0.0.1:8080
///   curl -s localhost:8080/v1/score -d '{"leads": [{"job_level": "VP", "pricing_page_visits": 4}]}'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["dir", "model"])))]
pub struct Args {
    /// The model directory to follow (its current.json). Example: --dir models/
    #[arg(long)]
    dir: Option<PathBuf>,
    /// One model file, served as it is. Example: --model models/lead-model.json
    #[arg(long)]
    model: Option<PathBuf>,
    /// Address and port to listen on; loopback unless you say otherwise.
    /// Example: --listen 0.0.0.0:8080 (all interfaces; use with --token-file)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Largest request body accepted, in bytes (413 above it). Example: --max-body 1048576
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body: usize,
    /// Most leads in one request (413 above it). Example: --max-leads 1000
    #[arg(long, default_value_t = 10_000)]
    max_leads: usize,
    /// File holding the token that /v1/* requests must send as `Authorization: Bearer <token>`.
    /// Example: --token-file /etc/mqlcal/token (made with `openssl rand -hex 32`)
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// How many reasons to list per lead, as `mqlcal score --reasons`. Example: --reasons 5
    #[arg(long, default_value_t = 3)]
    reasons: usize,
    /// Seconds to answer one request before giving up with 408. Example: --timeout 10
    #[arg(long, default_value_t = 30.0, value_parser = seconds)]
    timeout: f64,
    /// Seconds the requests in flight may take to finish after SIGTERM/SIGINT.
    /// Example: --drain 5
    #[arg(long, default_value_t = 20.0, value_parser = seconds)]
    drain: f64,
    /// Milliseconds between looks at current.json (with --dir). Example: --poll-ms 200
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    poll_ms: u64,
}

/// A positive, finite number of seconds.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 86_400.0 => Ok(x),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let source = match (args.dir, args.model) {
        (Some(dir), None) => Source::Dir(dir),
        (None, Some(model)) => Source::File(model),
        // clap's group makes it exactly one.
        _ => unreachable!("--dir or --model, not both"),
    };
    if args.max_body == 0 || args.max_leads == 0 {
        return Err(mqlcal::Error::Option {
            option: if args.max_body == 0 {
                "--max-body"
            } else {
                "--max-leads"
            },
            message: "must be at least 1".into(),
        }
        .into());
    }
    if !args.listen.ip().is_loopback() && args.token_file.is_none() {
        super::warn_all(&[format!(
            "listening on {} without --token-file: anyone who can reach this address can \
             score leads and read the model; give a token, or listen on 127.0.0.1 behind a proxy",
            args.listen
        )]);
    }
    let options = Options {
        source,
        listen: args.listen,
        max_body: args.max_body,
        max_leads: args.max_leads,
        token_file: args.token_file,
        reasons: args.reasons,
        timeout: Duration::from_secs_f64(args.timeout),
        poll: Duration::from_millis(args.poll_ms),
        drain: Duration::from_secs_f64(args.drain),
    };
    serve(options, |started| {
        let model = started.version.as_deref().unwrap_or("none yet");
        say!("listening on http://{} (model {model})", started.addr);
        super::ui::summary(&serde_json::json!({
            "listening": format!("http://{}", started.addr),
            "model": started.version,
        }))
        .ok();
    })?;
    say!("stopped");
    Ok(())
}
