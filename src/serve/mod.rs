//! `mqlcal serve`: an HTTP service that scores leads with a model file, or with the current
//! model of a model directory, followed through every promotion. Takes [`Options`]; gives a
//! running service until SIGTERM or SIGINT, then finishes the requests in flight and returns.
//!
//! - [`app`]: routes, access, timeouts, metrics and log lines per request;
//! - [`parse`]: a request body read straight into the layout of the model's columns;
//! - [`score`]: a request body to its answer, exactly as `mqlcal score` scores;
//! - [`state`]: the current model and following `current.json`;
//! - [`metrics`]: the Prometheus text; [`auth`]: the bearer token.
//!
//! Built on axum on tokio: the async stack the Rust ecosystem maintains most actively, with
//! connection handling (keep-alive, header timeouts, graceful shutdown) done by hyper rather
//! than by us, and routing, extractors and middleware that keep the handlers short. (Why axum
//! 0.6 on hyper 0.14: see `Cargo.toml`.)

pub mod app;
pub mod auth;
pub mod metrics;
pub mod parse;
pub mod score;
pub mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::registry::ModelDir;
use state::{Current, Follower, Source, Stamp};

/// How the service runs (the flags of `mqlcal serve`).
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Source,
    pub listen: SocketAddr,
    pub max_body: usize,
    pub max_leads: usize,
    pub token_file: Option<std::path::PathBuf>,
    /// Reasons listed per lead, as `mqlcal score --reasons`.
    pub reasons: usize,
    /// Longest time to answer one request, from its head to the answer.
    pub timeout: Duration,
    /// How often `current.json` is looked at.
    pub poll: Duration,
    /// How long requests in flight may take to finish after SIGTERM/SIGINT.
    pub drain: Duration,
}

/// What [`run`] tells its caller once it listens.
#[derive(Debug)]
pub struct Started {
    pub addr: SocketAddr,
    pub version: Option<String>,
}

/// Loads the model, listens, calls `started`, serves until SIGTERM/SIGINT, then stops taking
/// connections and waits (at most `drain`) for the requests in flight.
pub fn run(options: Options, started: impl FnOnce(&Started)) -> Result<()> {
    let option = |option: &'static str, message: String| Error::Option { option, message };
    let token = options
        .token_file
        .as_deref()
        .map(auth::Token::read)
        .transpose()?;
    let current = Arc::new(Current::default());
    let metrics = Arc::new(metrics::Metrics::default());
    let mut follower = None;
    match &options.source {
        Source::File(path) => {
            let loaded = state::load_file(path).map_err(|message| Error::Model {
                path: path.clone(),
                message,
            })?;
            current.replace(loaded);
        }
        Source::Dir(root) => {
            let dir = ModelDir::open(root)?;
            let path = dir.current_path();
            // A directory with no current version yet is served as not ready until one is
            // promoted; one whose current model does not load is refused at start, where
            // the person starting it sees why.
            let stamp = Stamp::read(&path).map_err(|e| Error::io(&path, e))?;
            if let Some(stamp) = &stamp {
                let loaded = state::load_current(&dir, stamp).map_err(|message| Error::Data {
                    path: path.clone(),
                    message: format!("the current model does not load: {message}"),
                })?;
                current.replace(loaded);
            } else {
                tracing::warn!(
                    "{} has no current version yet; not ready until one is promoted",
                    root.display()
                );
            }
            follower = Some(Follower {
                dir,
                current: current.clone(),
                metrics: metrics.clone(),
                every: options.poll,
                seen: stamp,
            });
        }
    }
    let shared = Arc::new(app::Shared {
        current: current.clone(),
        metrics,
        token,
        max_body: options.max_body,
        max_leads: options.max_leads,
        reasons: options.reasons,
        timeout: options.timeout,
    });
    let listener = std::net::TcpListener::bind(options.listen).map_err(|e| {
        option(
            "--listen",
            format!("cannot listen on {}: {e}", options.listen),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("listening socket", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listening socket", e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mqlcal-serve")
        .build()
        .map_err(|e| Error::io("the async runtime", e))?;
    if let Some(f) = follower {
        f.spawn()
            .map_err(|e| Error::io("the model follower thread", e))?;
    }
    let stop = stop_signal()?;
    let drain = options.drain;
    let served: Result<()> = runtime.block_on(async move {
        let server = hyper::Server::from_tcp(listener)
            .map_err(|e| option("--listen", format!("cannot listen on {addr}: {e}")))?
            .tcp_nodelay(true)
            // A client that opens a connection and sends its head slowly (or never) is cut
            // off instead of holding the connection forever.
            .http1_header_read_timeout(Duration::from_secs(10))
            .serve(app::router(shared).into_make_service());
        started(&Started {
            addr,
            version: current.get().map(|l| l.version.clone()),
        });
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let graceful = server.with_graceful_shutdown(async move {
            let _ = stop.await;
            tracing::info!("stopping: no new connections; finishing the requests in flight");
            let _ = stopping_tx.send(());
        });
        let mut graceful = std::pin::pin!(graceful);
        tokio::select! {
            r = &mut graceful => r.map_err(|e| Error::io("the server", std::io::Error::other(e))),
            _ = async { let _ = stopping_rx.await; tokio::time::sleep(drain).await } => {
                tracing::warn!(
                    "requests still in flight {} s after the stop signal; stopping anyway",
                    drain.as_secs_f64()
                );
                Ok(())
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

/// Resolves on the first SIGTERM or SIGINT. A thread waits on them through signal-hook,
/// since tokio's own signal support is a feature we do not turn on (see `Cargo.toml`).
fn stop_signal() -> Result<tokio::sync::oneshot::Receiver<i32>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| Error::io("signal handlers", e))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mqlcal-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _ = tx.send(signal);
            }
        })
        .map_err(|e| Error::io("the signal thread", e))?;
    Ok(rx)
}
