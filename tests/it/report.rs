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

pub(crate) fn png_size(path: &Path) -> (u32, u32) {
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

pub(crate) fn svg_parses(path: &Path) {
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

/// What a probe page shows once `script` ran on `page`, loaded in the probe's frame: the
/// script sees the page's document as `d` and writes its answer into the probe's `#r`. Gives
/// the probe's DOM as the browser left it, and the browser's stderr.
fn probe(wd: &Workdir, page: &Path, script: &str, profile: &Path) -> (String, String) {
    let probe = wd.write(
        "probe.html",
        &format!(
            "<html><body><iframe id=f src=\"file://{}\" onload=\"\
             var d=document.getElementById('f').contentDocument;{script}\">\
             </iframe><pre id=r>pending</pre></body></html>",
            page.display()
        ),
    );
    let out = headless(
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ],
        &probe,
        profile,
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
    )
}

/// A probe script: how many images the page has and how many did not decode.
const COUNT_BROKEN_IMAGES: &str = "var imgs=d.images;var bad=0;\
     for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth==0)bad++;}\
     document.getElementById('r').textContent='images='+imgs.length+' broken='+bad;";

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
    // scikit-learn's metrics on the scored leads (the probabilities `score` writes, rounded to
    // their printed digits, hence the tolerance), not mqlcal's own functions.
    let sk = crate::engines::serve(
        "metrics",
        &serde_json::json!({ "p": probs, "y": y.iter().map(|&t| t as u8).collect::<Vec<_>>(),
                             "bins": mqlcal::metrics::ECE_BINS }),
    )
    .unwrap();
    for name in ["roc_auc", "log_loss", "brier", "ece"] {
        let ours = n["metrics"][name].as_f64().unwrap();
        let theirs = sk[name].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() < 1e-5,
            "{name}: metrics.json {ours}, scikit-learn {theirs}"
        );
    }
    // The calibration statistics, on the same leads, against statsmodels and scipy (looser
    // than the library's own test, tests/it/validation.rs: these probabilities are rounded).
    let bands: Vec<(u64, u64, f64)> = n["points_bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["leads"].as_u64().unwrap(),
                b["conversions"].as_u64().unwrap(),
                b["mean_predicted"].as_f64().unwrap(),
            )
        })
        .collect();
    let sm = crate::engines::serve(
        "calibration",
        &serde_json::json!({ "p": probs, "y": y.iter().map(|&t| t as u8).collect::<Vec<_>>(),
                             "bands": bands }),
    )
    .unwrap();
    let c = &n["calibration"];
    for name in [
        "calibration_intercept",
        "calibration_slope",
        "spiegelhalter_z",
        "ks",
        "gini",
    ] {
        let (ours, theirs) = (c[name].as_f64().unwrap(), sm[name].as_f64().unwrap());
        assert!(
            (ours - theirs).abs() < 1e-3,
            "{name}: metrics.json {ours}, reference {theirs}"
        );
    }
    for (b, r) in n["points_bands"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sm["bands"].as_array().unwrap())
    {
        for k in ["jeffreys_lower", "jeffreys_upper", "p_more", "p_fewer"] {
            let (ours, theirs) = (b[k].as_f64().unwrap(), r[k].as_f64().unwrap());
            assert!(
                (ours - theirs).abs() < 1e-9,
                "{k}: {ours} vs {theirs} in {b}"
            );
        }
        let light = b["light"].as_str().unwrap();
        let (lo, hi, p) = (
            b["jeffreys_lower"].as_f64().unwrap(),
            b["jeffreys_upper"].as_f64().unwrap(),
            b["mean_predicted"].as_f64().unwrap(),
        );
        assert_eq!(light == "green", lo <= p && p <= hi, "{b}");
    }
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
    // One inline script (the threshold explorer's), nothing loaded from anywhere.
    assert_eq!(
        page.matches("<script").count(),
        1,
        "one script in the report"
    );
    assert!(
        !page.contains("<script src"),
        "no script loaded from a file"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no network"
    );
    assert_eq!(page.matches("data:image/png;base64,").count(), CHARTS.len());
    // The calibration table and one traffic light per points band.
    assert!(page.contains("<h2>Calibration</h2>") && page.contains("Spiegelhalter z"));
    assert_eq!(
        page.matches("<tr class=\"band-").count(),
        n["points_bands"].as_array().unwrap().len()
    );
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
    // decode.
    let (dom, err) = probe(&wd, &dir.join("index.html"), COUNT_BROKEN_IMAGES, &profile);
    assert!(
        dom.contains(&format!("images={} broken=0", CHARTS.len())),
        "the browser saw broken images: {dom}\n{err}"
    );

    // The threshold explorer: a probe moves the slider to the lowest and to the highest
    // threshold, as a user's drag would (an input event), and reads what the page shows; each
    // reading equals the trade-off numbers of metrics.json at that threshold.
    let mut trade: Vec<&serde_json::Value> = n["trade_off"].as_array().unwrap().iter().collect();
    trade.sort_by_key(|t| t["threshold"].as_i64().unwrap());
    let last = trade.len() - 1;
    let drag = format!(
        "var s=d.getElementById('explorer-slider');var out=[];\
         var read=function(){{return ['explorer-points','explorer-mql-rate',\
         'explorer-precision','explorer-captured'].map(function(id){{\
         return d.getElementById(id).textContent;}}).join('|');}};\
         s.value=0;s.dispatchEvent(new Event('input'));out.push(read());\
         s.value={last};s.dispatchEvent(new Event('input'));out.push(read());\
         document.getElementById('r').textContent=out.join('\\n');"
    );
    let (dom, _) = probe(&wd, &dir.join("index.html"), &drag, &profile);
    let shown = dom
        .split("<pre id=\"r\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("no explorer readings: {dom}"));
    let readings: Vec<&str> = shown.lines().collect();
    assert_eq!(readings.len(), 2, "{shown}");
    let pct = |text: &str| -> f64 {
        text.split('%')
            .next()
            .unwrap()
            .trim()
            .parse::<f64>()
            .unwrap()
            / 100.0
    };
    for (reading, t) in readings.iter().zip([trade[0], trade[last]]) {
        let f: Vec<&str> = reading.split('|').collect();
        assert_eq!(
            f[0],
            t["threshold"].as_i64().unwrap().to_string(),
            "{reading}"
        );
        for (k, name) in [
            (1, "lead_to_mql_rate"),
            (2, "mql_to_opportunity_rate"),
            (3, "conversions_captured"),
        ] {
            let want = t[name].as_f64().unwrap();
            assert!(
                (pct(f[k]) - want).abs() < 0.0006,
                "{name}: shown {}, metrics.json {want}",
                f[k]
            );
        }
        // Each rate is placed against its benchmark.
        let rate = t["lead_to_mql_rate"].as_f64().unwrap();
        let word = if rate < 0.05 {
            "(below)"
        } else if rate > 0.15 {
            "(above)"
        } else {
            "(within)"
        };
        assert!(f[1].ends_with(word), "{reading}");
    }
    // The two ends differ: the lowest threshold makes every lead an MQL.
    assert_ne!(readings[0], readings[1]);
    assert!(readings[0].contains("|100.0% (above)|"), "{}", readings[0]);
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
    // The page's one script is the threshold explorer's; the name's never runs.
    assert_eq!(page.matches("<script").count(), 1);
    assert!(!page.contains("alert(1)</script>"));
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

/// Dated synthetic leads (the outcome is an opportunity date, no 0/1 column) created through
/// 2025 and exported on 2026-01-01.
fn dated(wd: &Workdir, name: &str, rows: usize, seed: u64) {
    let mut p = mqlcal::synth::SynthParams {
        rows,
        seed,
        ..mqlcal::synth::SynthParams::default()
    };
    p.timeline = Some(mqlcal::synth::SynthTimeline::after(&p));
    wd.synth_with(name, &p);
}

const WINDOWED: [&str; 6] = [
    "--outcome-date",
    "opportunity_date",
    "--window",
    "90d",
    "--date",
    "created_at",
];

/// By hand from a dated leads file: (mature leads, immature leads, mature conversions within
/// the window, their delays in days), as-of being the newest date of the file.
fn by_hand(path: &Path) -> (usize, usize, usize, Vec<i64>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (c, o) = (col("created_at"), col("opportunity_date"));
    let parse = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let rows: Vec<(chrono::NaiveDate, Option<chrono::NaiveDate>)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (parse(&rec[c]), (!rec[o].is_empty()).then(|| parse(&rec[o])))
        })
        .collect();
    let as_of = rows
        .iter()
        .flat_map(|(c, o)| [Some(*c), *o])
        .flatten()
        .max()
        .unwrap();
    let mature: Vec<_> = rows
        .iter()
        .filter(|(c, _)| (as_of - *c).num_days() >= 90)
        .collect();
    let delays: Vec<i64> = mature
        .iter()
        .filter_map(|(c, o)| o.map(|o| (o - *c).num_days().max(0)))
        .filter(|&d| d <= 90)
        .collect();
    (
        mature.len(),
        rows.len() - mature.len(),
        delays.len(),
        delays,
    )
}

fn metrics(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

fn reliability_leads(n: &serde_json::Value) -> u64 {
    n["reliability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leads"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_windowed_report_judges_mature_leads_and_draws_how_long_conversions_take() {
    let wd = Workdir::new();
    dated(&wd, "leads.csv", 4000, 3);
    dated(&wd, "holdout.csv", 3000, 4);
    wd.train_bundled("leads.csv", "m.json", &WINDOWED);
    // The window, outcome and date columns come from the model.
    let out = wd
        .cmd()
        .args(["report", "--model", "m.json", "--data", "holdout.csv"])
        .args(["--out", "rep", "--bootstrap", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = wd.path("rep");
    let (w, h) = png_size(&dir.join("maturity.png"));
    assert_eq!((w, h), (960, 600));
    svg_parses(&dir.join("maturity.svg"));

    let n = metrics(&dir);
    let m = &n["maturity"];
    let (mature, immature, conversions, delays) = by_hand(&wd.path("holdout.csv"));
    assert!(immature > 0 && mature > 0);
    assert_eq!(m["window_days"], 90);
    assert_eq!(m["mature_leads"].as_u64().unwrap() as usize, mature);
    assert_eq!(m["immature_leads"].as_u64().unwrap() as usize, immature);
    assert_eq!(
        m["mature_conversions"].as_u64().unwrap() as usize,
        conversions
    );
    // The share converted by day 30 among mature converters, and the whole window.
    let by_30 = delays.iter().filter(|&&d| d <= 30).count() as f64 / delays.len() as f64;
    let cumulative = m["cumulative"].as_array().unwrap();
    assert_eq!(cumulative.len(), 91);
    assert!(
        (cumulative[30].as_f64().unwrap() - by_30).abs() < 1e-12,
        "{by_30} {m}"
    );
    assert!((cumulative[90].as_f64().unwrap() - 1.0).abs() < 1e-12);
    // Only the mature leads are judged: the reliability bins and the funnel hold them all,
    // and no immature one.
    assert_eq!(reliability_leads(&n) as usize, mature);
    assert_eq!(n["funnel"]["leads"].as_u64().unwrap() as usize, mature);
    assert_eq!(
        n["funnel"]["conversions"].as_u64().unwrap() as usize,
        conversions
    );
    let young = &m["maturing"];
    assert!(young["oldest_days"].as_u64().unwrap() < 90, "{young}");

    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        page.contains("becomes an opportunity within 90 days of its creation"),
        "the page says what the probability means"
    );
    assert!(page.contains(&format!("{immature} leads are still maturing")));
    // A real browser shows every chart of the page, the maturity chart among them.
    let charts = page.matches("data:image/png;base64,").count();
    assert!(page.contains("Cumulative conversion by days since creation"));
    let profile = wd.path("chrome-profile");
    let (dom, err) = probe(&wd, &dir.join("index.html"), COUNT_BROKEN_IMAGES, &profile);
    assert!(
        dom.contains(&format!("images={charts} broken=0")),
        "the browser saw broken images: {dom}\n{err}"
    );

    // The same options give the same report, byte for byte.
    wd.cmd()
        .args(["report", "--model", "m.json", "--data", "holdout.csv"])
        .args(["--out", "rep2", "--bootstrap", "0"])
        .assert()
        .success();
    for f in ["metrics.json", "maturity.svg", "index.html"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(wd.path("rep2").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn train_report_with_a_window_judges_the_mature_training_leads() {
    for immature in ["weight", "drop"] {
        let wd = Workdir::new();
        dated(&wd, "leads.csv", 4000, 3);
        let rules = wd.rules();
        let out = wd
            .cmd()
            .args(["train", "--data", "leads.csv", "--rules"])
            .arg(&rules)
            .args(WINDOWED)
            .args(["--immature", immature, "--out", "m.json", "--report", "rep"])
            .args(["--bootstrap", "0"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let n = metrics(&wd.path("rep"));
        let (mature, immature_leads, _, _) = by_hand(&wd.path("leads.csv"));
        assert_eq!(reliability_leads(&n) as usize, mature, "{immature}");
        assert_eq!(
            n["maturity"]["immature_leads"].as_u64().unwrap() as usize,
            immature_leads
        );
        assert!(wd.path("rep/maturity.png").exists());
    }
}

#[test]
fn a_report_on_a_model_from_an_opportunities_list_needs_the_list() {
    let wd = Workdir::new();
    dated(&wd, "leads-full.csv", 3000, 3);
    let mut r = csv::Reader::from_path(wd.path("leads-full.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let keep: Vec<usize> = (0..h.len())
        .filter(|&j| &h[j] != "opportunity_date")
        .collect();
    let (id, opp) = (
        h.iter().position(|c| c == "lead_id").unwrap(),
        h.iter().position(|c| c == "opportunity_date").unwrap(),
    );
    let mut leads = csv::Writer::from_path(wd.path("leads.csv")).unwrap();
    let mut list = csv::Writer::from_path(wd.path("opps.csv")).unwrap();
    leads.write_record(keep.iter().map(|&j| &h[j])).unwrap();
    list.write_record(["lead_id", "opportunity_date"]).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        leads.write_record(keep.iter().map(|&j| &rec[j])).unwrap();
        if !rec[opp].is_empty() {
            list.write_record([&rec[id], &rec[opp]]).unwrap();
        }
    }
    drop((leads, list));
    let mut flags = vec!["--outcomes", "opps.csv"];
    flags.extend(WINDOWED);
    wd.train_bundled("leads.csv", "m.json", &flags);
    let report = |extra: &[&str]| {
        wd.cmd()
            .args(["report", "--model", "m.json", "--data", "leads.csv"])
            .args(["--out", "rep", "--bootstrap", "0"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = report(&[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--outcomes"), "{}", stderr(&out));
    assert!(!wd.path("rep").exists());
    let out = report(&["--outcomes", "opps.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (mature, _, _, _) = by_hand(&wd.path("leads-full.csv"));
    assert_eq!(
        reliability_leads(&metrics(&wd.path("rep"))) as usize,
        mature
    );
}

#[test]
fn every_export_of_a_windowed_model_says_what_its_probability_means() {
    let wd = Workdir::new();
    dated(&wd, "leads.csv", 3000, 3);
    wd.train_bundled("leads.csv", "m.json", &WINDOWED);
    wd.synth("plain.csv", 3000, 3);
    wd.train_bundled("plain.csv", "plain.json", &[]);
    let meaning = "within 90 days of its creation";
    for model in ["m.json", "plain.json"] {
        let windowed = model == "m.json";
        let inspect = wd
            .cmd()
            .args(["inspect", "--model", model])
            .output()
            .unwrap();
        assert!(inspect.status.success());
        let text = String::from_utf8_lossy(&inspect.stdout).to_string() + &stderr(&inspect);
        assert_eq!(text.contains("within 90 days"), windowed, "inspect {model}");
        for (format, extra) in [
            ("points-sheet", &[][..]),
            ("pmml", &[][..]),
            ("sql", &["--dialect", "postgres", "--table", "leads"][..]),
        ] {
            let out = format!("{model}.{format}");
            wd.cmd()
                .args([
                    "export", "--model", model, "--format", format, "--out", &out,
                ])
                .args(extra)
                .assert()
                .success();
            let text = std::fs::read_to_string(wd.path(&out)).unwrap();
            assert_eq!(text.contains(meaning), windowed, "{format} of {model}");
        }
    }
}

#[test]
fn quantile_bins_hold_about_equal_numbers_of_leads() {
    let wd = setup();
    wd.cmd()
        .args(["report", "--model", "m.json", "--data", "holdout.csv"])
        .args(["--out", "rep", "--bins", "quantile", "--bootstrap", "0"])
        .assert()
        .success();
    let n: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("rep/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(n["reliability_bins"], "quantile");
    let leads: Vec<u64> = n["reliability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leads"].as_u64().unwrap())
        .collect();
    assert_eq!(leads.iter().sum::<u64>(), 2000);
    // Ten bins of about 200 (a run of tied scores may make one larger), none empty.
    assert!(
        leads.len() >= 5 && leads.iter().all(|&k| k > 0),
        "{leads:?}"
    );
    let largest = *leads.iter().max().unwrap();
    assert!(largest < 2000 / 2, "{leads:?}");
    // The default stays ten equal-width bins.
    wd.cmd()
        .args(["report", "--model", "m.json", "--data", "holdout.csv"])
        .args(["--out", "uniform", "--bootstrap", "0"])
        .assert()
        .success();
    let u: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("uniform/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(u["reliability_bins"], "uniform");
    assert_eq!(u["reliability"].as_array().unwrap().len(), 10);
}
