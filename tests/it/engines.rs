//! The Python engines of the export and counts tests (`tests/engines/engines.py`): the Python
//! that has them, and one long-lived `engines.py serve` per test process for engines that are
//! slow to start. Spark takes seconds to start its JVM; through the server every Spark test in
//! the process shares one local session, started by the first request.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::repo;

/// The Python with the engines: `MQLCAL_PYTHON`, or the virtual environment that
/// scripts/engines.sh makes.
pub fn python() -> PathBuf {
    let p = std::env::var_os("MQLCAL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-engines/bin/python"));
    assert!(
        p.exists(),
        "no Python with the test engines at {} (DuckDB, JPMML-Evaluator, sqlglot, pyspark): \
         run the tests with `bash scripts/test.sh`, which installs them, or set MQLCAL_PYTHON",
        p.display()
    );
    p
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The end of the server's stderr (Spark's log), for the message when it dies.
    log: Arc<Mutex<String>>,
}

/// The server, once started; requests take turns.
static SERVER: Mutex<Option<Server>> = Mutex::new(None);

/// How much of the server's stderr is kept.
const LOG_TAIL: usize = 20_000;

impl Server {
    fn start() -> Server {
        let mut child = Command::new(python())
            .arg(repo().join("tests/engines/engines.py"))
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tests/engines/engines.py serve: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&String::from_utf8_lossy(&buf[..n]));
                if log.len() > 2 * LOG_TAIL {
                    let mut cut = log.len() - LOG_TAIL;
                    while !log.is_char_boundary(cut) {
                        cut += 1;
                    }
                    log.drain(..cut);
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        // The server ends when its stdin closes, which the end of this process does.
        Server {
            child,
            stdin,
            stdout,
            log,
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let start = log.len().saturating_sub(4000);
        let start = (start..=log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        log[start..].to_string()
    }
}

/// Asks the engines server: `engine`'s answer, or the engine's error message (a failed
/// statement, say). Panics when the server itself cannot run or has died.
pub fn serve(engine: &str, request: &Value) -> Result<Value, String> {
    let mut guard = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let server = guard.get_or_insert_with(Server::start);
    let mut line = serde_json::to_string(&serde_json::json!({
        "engine": engine,
        "request": request,
    }))
    .unwrap();
    line.push('\n');
    let sent = server
        .stdin
        .write_all(line.as_bytes())
        .and_then(|()| server.stdin.flush());
    let mut answer = String::new();
    let read = sent.and_then(|()| server.stdout.read_line(&mut answer));
    if read.is_err() || answer.is_empty() {
        let status = server.child.try_wait().ok().flatten();
        let log = server.log_tail();
        *guard = None;
        panic!(
            "the engines server (tests/engines/engines.py serve) stopped ({}) before answering \
             a {engine} request; the end of its log:\n{log}",
            status.map_or("still running".into(), |s| s.to_string())
        );
    }
    let answer: Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("the engines server answered {answer:?}: {e}"));
    match answer.get("error") {
        Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
        None => Ok(answer["answer"].clone()),
    }
}
