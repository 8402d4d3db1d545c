//! `mqlcal serve`: the real binary on a port of its own (`--listen 127.0.0.1:0`, the address it
//! took read from its first line), called over HTTP. Answers equal `mqlcal score`; promotions
//! under load drop nothing; a broken new model keeps the old one; every bad request gets its
//! status and a message; the token; SIGTERM with a request in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqlcal::model::Model;
use mqlcal::registry::ModelDir;
use polars::prelude::*;
use serde_json::{json, Value};

use crate::Workdir;

/// A running `mqlcal serve`; killed when dropped (a test that failed leaves no process).
pub(crate) struct Server {
    child: Child,
    base: String,
    /// Everything it wrote on stderr, collected by a thread.
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `mqlcal serve ARGS`, on a free loopback port unless ARGS say `--listen`.
    pub(crate) fn start(wd: &Workdir, args: &[&str]) -> Server {
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("mqlcal"))
            .current_dir(wd.dir.path())
            .arg("serve")
            .args(listen)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                let _ = child.kill();
                std::thread::sleep(Duration::from_millis(200));
                panic!("no address in {line:?}; stderr: {}", log.lock().unwrap())
            })
            .to_string();
        Server { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once it holds `needle`: stderr is read by a thread that a loaded machine may
    /// schedule late, so a line written before an answer can reach the log after it.
    fn log_with(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {needle:?} in the log after 10 s: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// POSTs `body` to `path`: the status and the answer's JSON (errors included).
    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(ureq::post(&self.url(path)).send_json(body))
    }

    fn get(&self, path: &str) -> (u16, String) {
        match ureq::get(&self.url(path)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to end (at most `limit`), giving its exit code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("still running after {limit:?}; stderr: {}", self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("status {code}: not JSON ({e}): {text:?}"));
            (code, v)
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

/// A model trained on synthetic leads, as `m.json`.
fn trained(wd: &Workdir) -> Model {
    wd.synth("leads.csv", 3000, 12);
    wd.train_bundled("leads.csv", "m.json", &[]);
    Model::load(&wd.path("m.json")).unwrap()
}

/// The rows of a CSV file as JSON leads, the way a CRM sends them: every cell as text, except
/// in every other lead, where cells that read as numbers are sent as JSON numbers.
fn leads_as_json(path: &std::path::Path) -> Vec<Value> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .enumerate()
        .map(|(i, rec)| {
            let rec = rec.unwrap();
            let lead: serde_json::Map<String, Value> = headers
                .iter()
                .zip(rec.iter())
                .map(|(h, cell)| {
                    let v = match cell.parse::<f64>() {
                        Ok(x) if i % 2 == 1 && h != "lead_id" => json!(x),
                        _ => json!(cell),
                    };
                    (h.to_string(), v)
                })
                .collect();
            Value::Object(lead)
        })
        .collect()
}

#[test]
fn answers_equal_mqlcal_score_lead_for_lead() {
    let wd = Workdir::new();
    trained(&wd);
    wd.synth("new.csv", 3000, 99);
    wd.cmd()
        .args([
            "score",
            "--model",
            "m.json",
            "--data",
            "new.csv",
            "--out",
            "scored.parquet",
        ])
        .assert()
        .success();
    let scored = ParquetReader::new(std::fs::File::open(wd.path("scored.parquet")).unwrap())
        .finish()
        .unwrap();
    let leads = leads_as_json(&wd.path("new.csv"));
    assert_eq!(leads.len(), 3000);
    let server = Server::start(&wd, &["--model", "m.json"]);
    let mut results = Vec::new();
    for batch in leads.chunks(1000) {
        let (status, a) = server.post("/v1/score", &json!({ "leads": batch }));
        assert_eq!(status, 200, "{a}");
        assert_eq!(
            a["model"].as_str().unwrap(),
            mqlcal::registry::version_name(&Model::load(&wd.path("m.json")).unwrap())
        );
        results.extend(a["results"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(results.len(), scored.height());
    let ids = scored.column("lead_id").unwrap().str().unwrap();
    let score = scored.column("score").unwrap().i64().unwrap();
    let probability = scored.column("probability").unwrap().f64().unwrap();
    let mql = scored.column("mql").unwrap().bool().unwrap();
    let reasons = scored.column("reasons").unwrap().str().unwrap();
    let mut mqls = 0;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["id"].as_str(), ids.get(i), "lead {i}");
        assert_eq!(r["score"].as_i64(), score.get(i), "lead {i}");
        // Exactly the same double: the JSON carries it to the last bit.
        assert_eq!(r["probability"].as_f64(), probability.get(i), "lead {i}");
        assert_eq!(r["mql"].as_bool(), mql.get(i), "lead {i}");
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
        assert_eq!(Some(text.join("; ").as_str()), reasons.get(i), "lead {i}");
        mqls += r["mql"].as_bool().unwrap() as usize;
    }
    // Both kinds of lead are there, so the comparison covers the threshold.
    assert!(mqls > 0 && mqls < results.len(), "{mqls} MQLs");
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        text.contains("mqlcal_leads_total{status=\"200\"} 3000"),
        "{text}"
    );
    assert!(
        text.contains("mqlcal_requests_total{route=\"/v1/score\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("mqlcal_score_request_duration_seconds_count 3"),
        "{text}"
    );
    // The model endpoint names what scored them.
    let (status, text) = server.get("/v1/model");
    assert_eq!(status, 200);
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["version"], results_version(&server));
    assert_eq!(m["rules"].as_array().unwrap().len(), 12);
    assert!(m["threshold"]["points"].is_i64(), "{m}");
    assert_eq!(m["trained_on"]["rows"], 3000);
}

fn results_version(server: &Server) -> Value {
    server.post("/v1/score", &json!({"leads": []})).1["model"].clone()
}

/// A model directory with two versions of the trained model (the second one differs only in
/// its newest-lead date, which is enough for another version name), the first current.
fn model_dir(wd: &Workdir) -> (ModelDir, String, String) {
    let model = trained(wd);
    let mut newer = model.clone();
    newer.training.newest_lead = Some("2026-12-01".into());
    let dir = ModelDir::create(&wd.path("models")).unwrap();
    let lock = dir.lock("test setup").unwrap();
    let (old, _) = dir.add(&model, &lock).unwrap();
    let (new, _) = dir.add(&newer, &lock).unwrap();
    dir.set_current(&old, &lock).unwrap();
    (dir, old, new)
}

#[test]
fn a_promotion_under_load_drops_no_request() {
    let wd = Workdir::new();
    let (_dir, old, new) = model_dir(&wd);
    wd.synth("new.csv", 200, 5);
    let leads = leads_as_json(&wd.path("new.csv"));
    let server = Server::start(&wd, &["--dir", "models", "-v"]);
    let stop = Arc::new(AtomicBool::new(false));
    // Each client: (status, version, when) of every answer.
    let clients: Vec<_> = (0..6)
        .map(|c| {
            let (url, stop) = (server.url("/v1/score"), stop.clone());
            let body = json!({ "leads": leads[c * 10..c * 10 + 1 + c * 5].to_vec() });
            std::thread::spawn(move || {
                let agent = ureq::agent();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let (status, a) = answer(agent.post(&url).send_json(&body));
                    seen.push((
                        status,
                        a["model"].as_str().unwrap_or("").to_string(),
                        Instant::now(),
                    ));
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    wd.cmd()
        .args(["models", "promote", "--dir", "models", &new])
        .assert()
        .success();
    let promoted = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let mut first_new = None::<Duration>;
    let mut total = 0;
    for c in clients {
        let seen = c.join().unwrap();
        total += seen.len();
        assert!(
            seen.iter().all(|(status, ..)| *status == 200),
            "a request failed"
        );
        // Atomic swap: once a client has seen the new version it never sees the old one.
        let switch = seen
            .iter()
            .position(|(_, v, _)| *v == new)
            .expect("new version seen");
        assert!(seen[..switch].iter().all(|(_, v, _)| *v == old));
        assert!(seen[switch..].iter().all(|(_, v, _)| *v == new));
        let at = seen[switch].2.saturating_duration_since(promoted);
        first_new = Some(first_new.map_or(at, |f| f.min(at)));
    }
    let first_new = first_new.unwrap();
    eprintln!(
        "{total} requests, none failed; new version answered {first_new:?} after the promotion"
    );
    // Followed by polling every 500 ms: the new version answers well within the 2.5 s the
    // clients ran after the promotion (asserted above: every client saw it).
    assert!(total > 100, "{total} requests");
    server.log_with(&format!("now serving {new} (was {old})"));
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("mqlcal_model_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("mqlcal_model_info{{version=\"{new}\"}} 1")),
        "{metrics}"
    );
}

#[test]
fn a_broken_new_model_keeps_the_old_one_serving() {
    let wd = Workdir::new();
    let (dir, old, new) = model_dir(&wd);
    let server = Server::start(&wd, &["--dir", "models", "-v", "--poll-ms", "100"]);
    let lead = json!({"leads": [{"job_level": "VP", "pricing_page_visits": 4}]});
    assert_eq!(server.post("/v1/score", &lead).1["model"], old);
    // A version file cut short (as a copy that did not finish), made current by hand the way
    // the registry does it: a new link renamed over current.json.
    let broken = dir.version_path("2026-12-02-0123456789ab");
    let text = std::fs::read_to_string(dir.version_path(&new)).unwrap();
    std::fs::write(&broken, &text[..text.len() / 2]).unwrap();
    let tmp = wd.path("models/.current.tmp");
    std::os::unix::fs::symlink("versions/2026-12-02-0123456789ab.json", &tmp).unwrap();
    std::fs::rename(&tmp, dir.current_path()).unwrap();
    let log = server.log_with("does not load");
    assert!(log.contains(&format!("still serving {old}")), "{log}");
    assert!(log.contains("truncated"), "{log}");
    for _ in 0..5 {
        let (status, a) = server.post("/v1/score", &lead);
        assert_eq!((status, a["model"].as_str()), (200, Some(old.as_str())));
        std::thread::sleep(Duration::from_millis(60));
    }
    // Reported once, not at every look.
    assert_eq!(server.log().matches("does not load").count(), 1);
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("mqlcal_model_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );
    // A good promotion afterwards is followed as usual.
    wd.cmd()
        .args(["models", "promote", "--dir", "models", &new])
        .assert()
        .success();
    let start = Instant::now();
    while server.post("/v1/score", &lead).1["model"] != new.as_str() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends raw bytes and returns the status and the answer's JSON.
fn raw(server: &Server, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let req = ureq::request(method, &server.url(path)).set("Content-Type", "application/json");
    answer(req.send_bytes(body))
}

#[test]
fn bad_requests_get_their_status_and_a_message_naming_the_problem() {
    let wd = Workdir::new();
    trained(&wd);
    let server = Server::start(
        &wd,
        &[
            "--model",
            "m.json",
            "--max-leads",
            "5",
            "--max-body",
            "2000",
        ],
    );
    let cases: [(&str, &str, &str, u16, &[&str]); 9] = [
        (
            "POST",
            "/v1/score",
            "{\"leads\": [{\"job_level\": \"VP\"}",
            400,
            &["not valid JSON", "EOF"],
        ),
        (
            "POST",
            "/v1/score",
            "{\"lead\": []}",
            400,
            &["missing field `leads`"],
        ),
        (
            "POST",
            "/v1/score",
            "{\"leads\": [{}, \"x\"]}",
            400,
            &["leads[1]", "invalid type"],
        ),
        (
            "POST",
            "/v1/score",
            "{\"leads\": [{}, {\"pricing_page_visits\": \"lots\"}]}",
            422,
            &[
                "leads[1]",
                "column 'pricing_page_visits'",
                "'lots' is not a number",
            ],
        ),
        (
            "POST",
            "/v1/score",
            "{\"leads\": [{\"pricing_page_visits\": 1e999}]}",
            422,
            &["leads[0]", "column 'pricing_page_visits'", "finite"],
        ),
        (
            "POST",
            "/v1/score",
            "{\"leads\": [{},{},{},{},{},{}]}",
            413,
            &["6 leads", "--max-leads"],
        ),
        ("GET", "/v1/score", "", 405, &["method GET is not allowed"]),
        (
            "POST",
            "/v1/model",
            "{}",
            405,
            &["method POST is not allowed"],
        ),
        (
            "GET",
            "/v2/score",
            "",
            404,
            &["no such path: /v2/score", "/v1/score"],
        ),
    ];
    for (method, path, body, status, needles) in cases {
        let (got, a) = raw(&server, method, path, body.as_bytes());
        assert_eq!(got, status, "{method} {path} {body}: {a}");
        let error = a["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {a}"));
        for n in needles {
            assert!(
                error.contains(n),
                "{method} {path} {body}: {error:?} lacks {n:?}"
            );
        }
    }
    // The lead and column are also fields, for programs.
    let (_, a) = raw(
        &server,
        "POST",
        "/v1/score",
        b"{\"leads\": [{}, {\"pricing_page_visits\": \"lots\"}]}",
    );
    assert_eq!(
        (a["lead"].clone(), a["column"].clone()),
        (json!(1), json!("pricing_page_visits"))
    );
    // A body over --max-body: refused from its Content-Length, before it is read.
    let big = format!(
        "{{\"leads\": [{{\"industry\": \"{}\"}}]}}",
        "x".repeat(3000)
    );
    let (status, a) = raw(&server, "POST", "/v1/score", big.as_bytes());
    assert_eq!(status, 413, "{a}");
    assert!(a["error"].as_str().unwrap().contains("--max-body"), "{a}");
    // The same without a length (chunked): refused while reading.
    let (status, a) =
        answer(ureq::post(&server.url("/v1/score")).send(std::io::Cursor::new(big.into_bytes())));
    assert_eq!(status, 413, "{a}");
    // Still serving after all of that.
    let (status, a) = server.post("/v1/score", &json!({"leads": [{"job_level": "VP"}]}));
    assert_eq!(status, 200, "{a}");
}

#[test]
fn a_token_guards_the_scoring_and_is_never_logged() {
    let wd = Workdir::new();
    trained(&wd);
    let token = "9f1c2e7a4b6d8e0f1a2b3c4d5e6f7a8b";
    wd.write("token", &format!("{token}\n"));
    let server = Server::start(&wd, &["--model", "m.json", "--token-file", "token", "-vv"]);
    let body = json!({"leads": [{"job_level": "VP"}]});
    let url = server.url("/v1/score");
    let (status, a) = answer(ureq::post(&url).send_json(&body));
    assert_eq!(status, 401, "{a}");
    assert!(
        a["error"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{a}"
    );
    for wrong in [
        "Bearer nope",
        &format!("Basic {token}"),
        &format!("Bearer {token}x"),
    ] {
        let (status, _) = answer(
            ureq::post(&url)
                .set("Authorization", wrong)
                .send_json(&body),
        );
        assert_eq!(status, 401, "{wrong}");
    }
    let (status, a) = answer(
        ureq::post(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(&body),
    );
    assert_eq!(status, 200, "{a}");
    let (status, _) = answer(ureq::get(&server.url("/v1/model")).call());
    assert_eq!(status, 401);
    // Probes and scrapers need no token.
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.get("/readyz").0, 200);
    // One line per request at -vv; the last of them written once /readyz was answered.
    server.log_with("GET /readyz 200");
    let log = server.log();
    assert!(log.contains("POST /v1/score 401"), "{log}");
    assert!(log.contains("POST /v1/score 200 leads=1"), "{log}");
    assert!(!log.contains(token), "the token is in the log: {log}");
}

#[test]
fn listening_beyond_loopback_without_a_token_warns() {
    let wd = Workdir::new();
    trained(&wd);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("mqlcal"))
        .current_dir(wd.dir.path())
        .args(["serve", "--model", "m.json", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: listening on 0.0.0.0:0 without --token-file"),
        "{err}"
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let wd = Workdir::new();
    trained(&wd);
    let mut server = Server::start(&wd, &["--model", "m.json", "-v"]);
    let body = br#"{"leads": [{"lead_id": "L1", "job_level": "VP", "pricing_page_visits": 4}]}"#;
    let addr = server.base.strip_prefix("http://").unwrap().to_string();
    // A request whose head and half its body are sent before the signal, the rest after.
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body[..20]).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    server.log_with("stopping");
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(&body[20..]).unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"id\":\"L1\""), "{text}");
    assert_eq!(
        server.wait(Duration::from_secs(10)),
        Some(0),
        "{}",
        server.log()
    );
    // New connections are refused once it has stopped.
    assert!(TcpStream::connect(&addr).is_err());
}

/// A directory with a current model and a token file, for the deployment files' commands.
fn deployment(wd: &Workdir) -> (String, String) {
    let model = trained(wd);
    let dir = ModelDir::create(&wd.path("models")).unwrap();
    let lock = dir.lock("test setup").unwrap();
    let (name, _) = dir.add(&model, &lock).unwrap();
    dir.set_current(&name, &lock).unwrap();
    wd.write("token", "deploy-test-token\n");
    (name, "deploy-test-token".into())
}

/// Runs a deployment file's command line (its paths swapped for the test's) and checks the
/// service it starts scores with the directory's current model.
fn serves(wd: &Workdir, args: &[String], version: &str, token: &str) {
    let bin = assert_cmd::cargo::cargo_bin("mqlcal");
    assert_eq!(std::path::Path::new(&args[0]), bin, "{args:?}");
    assert_eq!(args[1], "serve", "{args:?}");
    let rest: Vec<&str> = args[2..].iter().map(String::as_str).collect();
    let server = Server::start(wd, &rest);
    assert_eq!(server.get("/readyz").0, 200);
    let (status, a) = answer(
        ureq::post(&server.url("/v1/score"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(json!({"leads": [{"job_level": "VP"}]})),
    );
    assert_eq!((status, a["model"].as_str()), (200, Some(version)), "{a}");
}

/// Swaps the deployment paths for the test's: the binary, the model directory, the token and
/// the port (a free one, on loopback).
fn swap_paths(wd: &Workdir, arg: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("mqlcal");
    let models = wd.path("models");
    let token = wd.path("token");
    match arg {
        "/usr/local/bin/mqlcal" => bin.display().to_string(),
        "/var/lib/mqlcal/models" | "/models" => models.display().to_string(),
        "${CREDENTIALS_DIRECTORY}/token" | "/run/secrets/mqlcal-token" => {
            token.display().to_string()
        }
        "127.0.0.1:8080" | "0.0.0.0:8080" => "127.0.0.1:0".into(),
        other => other.to_string(),
    }
}

#[test]
fn the_systemd_unit_verifies_and_its_command_serves() {
    let wd = Workdir::new();
    let (version, token) = deployment(&wd);
    let unit = std::fs::read_to_string(crate::repo().join("deploy/mqlcal.service")).unwrap();
    let mut sections = Vec::new();
    let mut exec = None;
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(s.to_string());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        assert!(!sections.is_empty(), "{line} before any section");
        if key == "ExecStart" {
            exec = Some(value.to_string());
        }
    }
    assert_eq!(sections, ["Unit", "Service", "Install"]);
    // systemd's own check, on a copy that starts the binary under test (it checks that the
    // command exists): no error and no warning (an unknown key is only a warning).
    let bin = assert_cmd::cargo::cargo_bin("mqlcal");
    let copy = wd.write(
        "mqlcal.service",
        &unit.replace("/usr/local/bin/mqlcal", &bin.display().to_string()),
    );
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (from systemd) checks the unit file");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
    let args: Vec<String> = exec
        .expect("an ExecStart line")
        .split_whitespace()
        .map(|a| swap_paths(&wd, a))
        .collect();
    serves(&wd, &args, &version, &token);
}

#[test]
fn the_dockerfile_lints_and_its_command_serves() {
    let wd = Workdir::new();
    let (version, token) = deployment(&wd);
    let path = crate::repo().join("Dockerfile");
    // hadolint (from PyPI, in the engines' environment) parses the file and checks it against
    // its rules; any finding fails.
    let hadolint = crate::engines::python().with_file_name("hadolint");
    let out = Command::new(&hadolint)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; scripts/engines.sh installs it",
                hadolint.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The image's command: ENTRYPOINT then CMD, both JSON arrays.
    let text = std::fs::read_to_string(&path).unwrap();
    let array = |instruction: &str| -> Vec<String> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(instruction))
            .unwrap_or_else(|| panic!("no {instruction}"));
        serde_json::from_str(line.trim()).unwrap()
    };
    let args: Vec<String> = array("ENTRYPOINT ")
        .into_iter()
        .chain(array("CMD "))
        .map(|a| swap_paths(&wd, &a))
        .collect();
    assert!(text.contains("EXPOSE 8080"));
    serves(&wd, &args, &version, &token);
}

/// A model with groups, grades and a compound rule: the service gives each lead the
/// sub-scores and grade `mqlcal score` writes (`<group>_score`, `grade`).
#[test]
fn sub_scores_and_grades_equal_mqlcal_score() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 4000, 21);
    let rules = format!(
        "{}\n[[rule]]\nname = \"Enterprise and engaged\"\ngroup = \"profile\"\n\
         all = [ {{ column = \"company_size\", at_least = 100 }}, \
         {{ column = \"whitepaper_downloads\", at_least = 2 }} ]\n",
        crate::grades::grouped_rules(str::to_string)
    );
    wd.write("grouped.toml", &rules);
    wd.cmd()
        .args(["train", "--data", "leads.csv", "--rules", "grouped.toml"])
        .args(["--grades", "--out", "g.json"])
        .assert()
        .success();
    wd.synth("new.csv", 500, 4);
    wd.cmd()
        .args(["score", "--model", "g.json", "--data", "new.csv"])
        .args(["--out", "scored.parquet"])
        .assert()
        .success();
    let scored = ParquetReader::new(std::fs::File::open(wd.path("scored.parquet")).unwrap())
        .finish()
        .unwrap();
    let server = Server::start(&wd, &["--model", "g.json"]);
    let leads = leads_as_json(&wd.path("new.csv"));
    let (status, a) = server.post("/v1/score", &json!({ "leads": leads }));
    assert_eq!(status, 200, "{a}");
    let results = a["results"].as_array().unwrap();
    let column = |name: &str| scored.column(name).unwrap().clone();
    let (behaviour, profile) = (column("behaviour_score"), column("profile_score"));
    let (behaviour, profile) = (behaviour.i64().unwrap(), profile.i64().unwrap());
    let grade = column("grade");
    let grade = grade.str().unwrap();
    let mut grades = std::collections::BTreeSet::new();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(
            r["sub_scores"]["behaviour"].as_i64(),
            behaviour.get(i),
            "lead {i}"
        );
        assert_eq!(
            r["sub_scores"]["profile"].as_i64(),
            profile.get(i),
            "lead {i}"
        );
        assert_eq!(r["grade"].as_str(), grade.get(i), "lead {i}");
        grades.insert(grade.get(i).unwrap().to_string());
    }
    assert!(grades.len() >= 8, "the leads cover many grades: {grades:?}");
}
