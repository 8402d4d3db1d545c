//! The diagnostics report: every chart as a decodable PNG of the stated size and a parseable
//! SVG, metrics.json matching independent computations, a self-contained page that a real
//! browser (headless Chromium) renders with no broken image, escaped names, and clean errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{stderr, Workdir};

const CHARTS: [&str; 8] = [
    "reliability",
    "conversion-by-band",
    "gains-lift",
    "roc-pr",
    "threshold-trade-off",
    "rule-points",
    "drift",
    "cohorts",
];

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    // Not blank: more than one distinct byte value in the picture.
    let first = buf[0];
    assert!(
        buf.iter().any(|&b| b != first),
        "{} is blank",
        path.display()
    );
    (info.width, info.height)
}

fn svg_parses(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_)) | Ok(quick_xml::events::Event::Empty(_)) => {
                elements += 1
            }
            Ok(_) => {}
            Err(e) => panic!("{} does not parse: {e}", path.display()),
        }
    }
    assert!(
        elements > 20,
        "{} has only {elements} elements",
        path.display()
    );
}

/// A model trained on synthetic leads, plus a holdout, in a scratch directory.
fn setup() -> Workdir {
    let wd = Workdir::new();
    wd.synth("leads.csv", 4000, 3);
    wd.synth("holdout.csv", 2000, 4);
    wd.train_bundled("leads.csv", "m.json", &[]);
    wd
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("MQLCAL_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "headless Chromium is needed at {} (apt-get install chromium, or set MQLCAL_CHROMIUM)",
        path.display()
    );
    path
}

fn headless(extra: &[&str], target: &Path, profile: &Path) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", target.display()))
        .output()
        .expect("chromium starts")
}

#[test]
fn report_renders_every_chart_and_opens_in_a_browser() {
    let wd = setup();
    wd.cmd()
        .args([
            "report",
            "--model",
            "m.json",
            "--data",
            "holdout.csv",
            "--out",
            "rep",
        ])
        .args([
            "--date",
            "created_at",
            "--train-data",
            "leads.csv",
            "--bootstrap",
            "8",
        ])
        .assert()
        .success();
    let dir = wd.path("rep");
    for stem in CHARTS {
        let (w, h) = png_size(&dir.join(format!("{stem}.png")));
        assert_eq!(w, 960, "{stem} width");
        assert!(h >= 400, "{stem} height {h}");
        svg_parses(&dir.join(format!("{stem}.svg")));
    }

    // metrics.json agrees with independent computations on the same leads.
    let n: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    wd.cmd()
        .args([
            "score",
            "--model",
            "m.json",
            "--data",
            "holdout.csv",
            "--out",
            "s.csv",
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(wd.path("s.csv")).unwrap();
    let probs: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    let holdout = std::fs::read_to_string(wd.path("holdout.csv")).unwrap();
    let y: Vec<bool> = holdout.lines().skip(1).map(|l| l.ends_with(",1")).collect();
    let auc = mqlcal::metrics::roc_auc(&probs, &y);
    assert!((n["metrics"]["roc_auc"].as_f64().unwrap() - auc).abs() < 1e-6);
    let leads: u64 = n["reliability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leads"].as_u64().unwrap())
        .sum();
    assert_eq!(leads, 2000);
    assert_eq!(n["bootstrap_resamples"], 8);
    assert!(
        n["cohorts"].as_array().unwrap().len() == 12,
        "12 months of 2025"
    );
    for r in n["rule_points"].as_array().unwrap() {
        let (lo, p, hi) = (
            r["low"].as_i64().unwrap(),
            r["points"].as_i64().unwrap(),
            r["high"].as_i64().unwrap(),
        );
        assert!(lo <= hi, "{r}");
        assert!(
            lo <= p + 2 && p - 2 <= hi,
            "the interval surrounds the points: {r}"
        );
    }

    // The page: self-contained, and a real browser shows it with every image loaded.
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!page.contains("<script"), "no JavaScript in the report");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no network"
    );
    assert_eq!(page.matches("data:image/png;base64,").count(), CHARTS.len());
    let profile = wd.path("chrome-profile");
    let shot = wd.path("shot.png");
    let out = headless(
        &[
            "--window-size=1100,2400",
            &format!("--screenshot={}", shot.display()),
        ],
        &dir.join("index.html"),
        &profile,
    );
    assert!(shot.exists(), "no screenshot: {}", stderr(&out));
    let (w, _) = png_size(&shot);
    assert_eq!(w, 1100);
    // Broken images: a probe page loads the report in a frame and lists images that did not
    // decode (the report itself has no script; the probe does).
    let probe = wd.write(
        "probe.html",
        &format!(
            "<html><body><iframe id=f src=\"file://{}\" onload=\"\
             var d=document.getElementById('f').contentDocument;var imgs=d.images;var bad=0;\
             for(var i=0;i<imgs.length;i++){{if(!imgs[i].complete||imgs[i].naturalWidth==0)bad++;}}\
             document.getElementById('r').textContent='images='+imgs.length+' broken='+bad;\">\
             </iframe><pre id=r>pending</pre></body></html>",
            dir.join("index.html").display()
        ),
    );
    let out = headless(
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ],
        &probe,
        &profile,
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(&format!("images={} broken=0", CHARTS.len())),
        "the browser saw broken images: {dom}\n{}",
        stderr(&out)
    );
}

#[test]
fn names_from_the_data_are_escaped_in_the_page() {
    let wd = Workdir::new();
    wd.synth("leads.csv", 2000, 8);
    let rules = mqlcal::synth::RULES_TOML.replace(
        "name = \"Budget confirmed\"",
        "name = \"<script>alert(1)</script>\"",
    );
    wd.write("rules.toml", &rules);
    wd.cmd()
        .args([
            "train",
            "--data",
            "leads.csv",
            "--rules",
            "rules.toml",
            "--out",
            "m.json",
        ])
        .args(["--report", "rep", "--bootstrap", "0"])
        .assert()
        .success();
    let page = std::fs::read_to_string(wd.path("rep/index.html")).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
}

#[test]
fn bad_holdouts_are_clear_errors_and_leave_no_folder() {
    let wd = setup();
    let holdout = std::fs::read_to_string(wd.path("holdout.csv")).unwrap();
    let header = holdout.lines().next().unwrap().to_string();
    let no_target: String = holdout
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    wd.write("no-target.csv", &no_target);
    wd.write("empty.csv", &format!("{header}\n"));
    let one_class: String = std::iter::once(header.clone() + "\n")
        .chain(
            holdout
                .lines()
                .skip(1)
                .filter(|l| l.ends_with(",0"))
                .map(|l| l.to_string() + "\n"),
        )
        .collect();
    wd.write("one-class.csv", &one_class);
    let model = std::fs::read_to_string(wd.path("m.json")).unwrap();
    wd.write(
        "v9.json",
        &model.replace("\"schema_version\": 1", "\"schema_version\": 9"),
    );
    let cases = [
        ("m.json", "no-target.csv", "column 'converted' not found"),
        ("m.json", "empty.csv", "no rows"),
        ("m.json", "one-class.csv", "same outcome"),
        (
            "v9.json",
            "holdout.csv",
            "schema_version 9 is not supported",
        ),
    ];
    for (model, data, needle) in cases {
        let out = wd
            .cmd()
            .args(["report", "--model", model, "--data", data, "--out", "rep"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{data}");
        assert!(stderr(&out).contains(needle), "{data}: {}", stderr(&out));
        assert!(!wd.path("rep").exists(), "no report folder after a failure");
        assert!(
            wd.files().iter().all(|f| !f.starts_with(".mqlcal-")),
            "no temporary folder left: {:?}",
            wd.files()
        );
    }
}

#[test]
fn an_existing_report_is_replaced_only_with_force() {
    let wd = setup();
    std::fs::create_dir(wd.path("rep")).unwrap();
    wd.write("rep/keep.txt", "mine");
    let run = |force: bool| {
        let mut c = wd.cmd();
        c.args([
            "report",
            "--model",
            "m.json",
            "--data",
            "holdout.csv",
            "--out",
            "rep",
        ]);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(1));
    assert!(wd.path("rep/keep.txt").exists());
    assert!(run(true).status.success());
    assert!(wd.path("rep/index.html").exists() && !wd.path("rep/keep.txt").exists());
}
