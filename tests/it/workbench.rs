//! The command line as a daily tool: progress bars only on a terminal, `--json` summaries,
//! `-v` logs, shell completions, man pages and `--version`.

use std::process::Command;

use serde_json::Value;

use crate::{stderr, stdout, Workdir};

/// Training arguments on synthetic leads the test writes first.
fn train_args(wd: &Workdir, out: &str) -> Vec<String> {
    wd.synth("leads.csv", 4000, 3);
    let rules = wd.rules();
    [
        "train",
        "--data",
        "leads.csv",
        "--rules",
        rules.to_str().unwrap(),
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec()
}

/// Runs mqlcal under a pseudo-terminal (util-linux `script`), returning what the terminal showed.
fn under_terminal(wd: &Workdir, args: &[String]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("mqlcal");
    let quoted: Vec<String> = std::iter::once(bin.to_str().unwrap().to_string())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(quoted.join(" "))
        .arg("/dev/null")
        .current_dir(wd.dir.path())
        .output()
        .expect("util-linux `script` runs (it provides the pseudo-terminal)");
    assert!(out.status.success(), "under a terminal: {}", stdout(&out));
    stdout(&out)
}

#[test]
fn a_terminal_shows_progress_bars_and_a_pipe_does_not() {
    let wd = Workdir::new();
    let args = train_args(&wd, "tty.json");
    let screen = under_terminal(&wd, &args);
    assert!(
        screen.contains("cross-validation [") && screen.contains("/55"),
        "a progress bar for the cross-validation on the terminal:\n{screen}"
    );
    assert!(screen.contains("model written to tty.json"), "{screen}");

    let mut quiet = train_args(&wd, "quiet.json");
    quiet.push("--quiet".into());
    let screen = under_terminal(&wd, &quiet);
    assert!(!screen.contains("cross-validation"), "--quiet: {screen}");
    assert!(screen.contains("model written to quiet.json"), "{screen}");

    let out = wd
        .cmd()
        .args(train_args(&wd, "pipe.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        !err.contains("cross-validation") && !err.contains('\r'),
        "no bar when stderr is not a terminal:\n{err}"
    );
}

#[test]
fn json_summaries_are_one_document_that_matches_the_files() {
    let wd = Workdir::new();
    let mut args = train_args(&wd, "m.json");
    args.push("--json".into());
    let out = wd.cmd().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let train: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let model: Value = serde_json::from_slice(&std::fs::read(wd.path("m.json")).unwrap()).unwrap();
    assert_eq!(train["metrics"], model["metrics"]);
    assert_eq!(train["threshold"], model["threshold"]);
    assert_eq!(train["training"]["rows"], 4000);
    assert_eq!(
        train["points"].as_array().unwrap().len(),
        model["rules"].as_array().unwrap().len()
    );
    assert_eq!(train["points"][0]["points"], model["rules"][0]["points"]);

    let inspect: Value = serde_json::from_slice(
        &wd.cmd()
            .args(["inspect", "--model", "m.json", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(inspect["metrics"], model["metrics"]);
    assert_eq!(inspect["schema_version"], 1);

    wd.synth("new.csv", 1500, 4);
    let out = wd
        .cmd()
        .args(["score", "--model", "m.json", "--data", "new.csv"])
        .args(["--out", "scored.csv", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let score: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scored = std::fs::read_to_string(wd.path("scored.csv")).unwrap();
    let mqls = scored
        .lines()
        .skip(1)
        .filter(|l| l.contains(",true,"))
        .count();
    assert_eq!(score["leads"], 1500);
    assert_eq!(score["mqls"], mqls as u64);

    let out = wd
        .cmd()
        .args(["report", "--model", "m.json", "--data", "new.csv"])
        .args(["--out", "report", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(wd.path("report/metrics.json")).unwrap()).unwrap();
    assert_eq!(report["metrics"], metrics["metrics"]);
    assert_eq!(report["out"], "report");
}

#[test]
fn verbose_logs_the_stages_on_stderr() {
    let wd = Workdir::new();
    let out = wd
        .cmd()
        .arg("-v")
        .args(train_args(&wd, "v.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("INFO") && err.contains("penalty chosen"),
        "{err}"
    );
    assert!(!err.contains("DEBUG"), "-v is the stages only: {err}");
    let out = wd
        .cmd()
        .arg("-vv")
        .args(train_args(&wd, "vv.json"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("DEBUG") && err.contains("cv_log_loss"),
        "{err}"
    );
    // Logs never mix into stdout, which pipelines read.
    assert!(!stdout(&out).contains("INFO"));
}

#[test]
fn version_names_the_model_schema() {
    let out = Workdir::new().cmd().arg("--version").output().unwrap();
    let text = stdout(&out);
    assert!(text.starts_with(&format!("mqlcal {}", env!("CARGO_PKG_VERSION"))));
    assert!(
        text.contains(&format!(
            "model file schema {}",
            mqlcal::model::SCHEMA_VERSION
        )),
        "{text}"
    );
}

#[test]
fn bash_completion_is_valid_bash_and_knows_the_subcommands() {
    let wd = Workdir::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = wd.cmd().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        for word in ["train", "export", "points-to-double-odds"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let script = wd.path("mqlcal.bash");
    let out = wd.cmd().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, &out.stdout).unwrap();
    // Source it in a real bash and ask for the completions of `mqlcal tr`.
    let probe = format!(
        "source '{}'; COMP_WORDS=(mqlcal tr); COMP_CWORD=1; _mqlcal mqlcal tr mqlcal; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "train");
}

#[test]
fn man_pages_are_written_for_every_subcommand() {
    let wd = Workdir::new();
    wd.cmd().args(["man", "--out", "man"]).assert().success();
    for page in [
        "mqlcal.1",
        "mqlcal-train.1",
        "mqlcal-export.1",
        "mqlcal-score.1",
    ] {
        let text = std::fs::read_to_string(wd.path("man").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is roff");
    }
    let train = std::fs::read_to_string(wd.path("man/mqlcal-train.1")).unwrap();
    assert!(train.contains("points\\-to\\-double\\-odds"), "{train}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let wd = Workdir::new();
    let bin = assert_cmd::cargo::cargo_bin("mqlcal");
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c"])
        .arg(format!("'{}' completions bash | head -c 10", bin.display()))
        .current_dir(wd.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
