//! Files as Excel and CRMs write them in other locales: the bundled leads rewritten with `;`
//! between fields, decimal commas, Windows-1252 text and CRLF line ends train to the model of
//! the original file and score the same; read the wrong way, the error names the fix.

use serde_json::Value;

use crate::{repo, stderr, Workdir};

/// The bundled leads' columns that hold numbers.
const NUMERIC: [&str; 6] = [
    "pricing_page_visits",
    "whitepaper_downloads",
    "webinar_attended",
    "email_opens",
    "company_size",
    "days_since_last_activity",
];

/// Names written into an added text column; all but the second have letters outside ASCII.
const NAMES: [&str; 5] = ["Müller", "Dupont", "Ødegård", "Straße", "García"];

/// The bundled leads (header first).
fn bundled() -> Vec<Vec<String>> {
    csv::Reader::from_path(repo().join("data/leads.csv"))
        .map(|mut r| {
            let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
            std::iter::once(header)
                .chain(
                    r.records()
                        .map(|rec| rec.unwrap().iter().map(String::from).collect()),
                )
                .collect()
        })
        .unwrap()
}

/// A number as a German export writes it: a decimal comma on every other row (`18,0`), and
/// `.` between thousands (`1.234`) on the others.
fn german(cell: &str, row: usize) -> String {
    if cell.is_empty() {
        return String::new();
    }
    let v: u64 = cell.parse().expect("the bundled numbers are whole");
    if row.is_multiple_of(2) {
        format!("{v},0")
    } else if v >= 1000 {
        format!("{}.{:03}", v / 1000, v % 1000)
    } else {
        v.to_string()
    }
}

/// The bundled leads as Excel saves "CSV" in Germany: `;` between fields, decimal commas,
/// CRLF line ends, and a `contact_name` column with names in Windows-1252 (when `cp1252`,
/// else UTF-8); `delimiter` instead of `;` when given. Also the first data row (1-based)
/// holding a decimal comma in the first rule's column, and that cell.
fn excel_csv(cp1252: bool, delimiter: u8) -> (Vec<u8>, usize, String) {
    let rows = bundled();
    let numeric: Vec<bool> = rows[0]
        .iter()
        .map(|c| NUMERIC.contains(&c.as_str()))
        .collect();
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut header = rows[0].clone();
    header.push("contact_name".into());
    out.write_record(&header).unwrap();
    for (i, row) in rows.iter().enumerate().skip(1) {
        let mut cells: Vec<String> = row
            .iter()
            .zip(&numeric)
            .map(|(c, &n)| if n { german(c, i) } else { c.clone() })
            .collect();
        cells.push(NAMES[i % NAMES.len()].into());
        out.write_record(&cells).unwrap();
    }
    let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
    let bytes = if cp1252 {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!unmappable);
        bytes.into_owned()
    } else {
        text.into_bytes()
    };
    // Row 2 is the first even row.
    let column = rows[0].iter().position(|c| c == NUMERIC[0]).unwrap();
    (bytes, 2, german(&rows[2][column], 2))
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The model without the record of its input (file name, hash, how it was read).
fn learnt(mut model: Value) -> Value {
    let training = model["training"].as_object_mut().unwrap();
    for field in [
        "input",
        "input_sha256",
        "delimiter",
        "decimal_comma",
        "encoding",
    ] {
        training.remove(field);
    }
    model
}

fn train(wd: &Workdir, data: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let rules = wd.rules();
    wd.cmd()
        .args(["train", "--data", data, "--rules"])
        .arg(&rules)
        .args(["--out", out])
        .args(extra)
        .output()
        .unwrap()
}

fn score(wd: &Workdir, model: &str, data: &str, out: &str, extra: &[&str]) -> Vec<u8> {
    let run = wd
        .cmd()
        .args(["score", "--model", model, "--data", data, "--out", out])
        .args(extra)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    std::fs::read(wd.path(out)).unwrap()
}

#[test]
fn an_excel_export_from_germany_trains_and_scores_as_the_original() {
    let wd = Workdir::new();
    std::fs::write(wd.path("excel.csv"), excel_csv(true, b';').0).unwrap();
    std::fs::write(wd.path("excel.tsv.csv"), excel_csv(true, b'\t').0).unwrap();
    std::fs::copy(repo().join("data/leads.csv"), wd.path("leads.csv")).unwrap();
    let run = train(&wd, "leads.csv", "original.json", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let original = read(&wd.path("original.json"));
    let flags = ["--decimal-comma", "--encoding", "windows-1252"];

    // Detected delimiter, streamed (given rules); the same with --delimiter, and read whole
    // (a report needs every lead in memory), with `latin1` and a tab-delimited copy.
    let runs: [(&str, &str, Vec<&str>, char); 4] = [
        ("excel.csv", "detected.json", flags.to_vec(), ';'),
        (
            "excel.csv",
            "explicit.json",
            [&flags[..], &["--delimiter", ";"]].concat(),
            ';',
        ),
        (
            "excel.csv",
            "whole.json",
            vec![
                "--decimal-comma",
                "--encoding",
                "latin1",
                "--report",
                "report",
                "--bootstrap",
                "0",
            ],
            ';',
        ),
        (
            "excel.tsv.csv",
            "tab.json",
            [&flags[..], &["--delimiter", "tab"]].concat(),
            '\t',
        ),
    ];
    let validator = crate::model_file::schema();
    for (data, out, extra, delimiter) in &runs {
        let run = train(&wd, data, out, extra);
        assert!(run.status.success(), "{out}: {}", stderr(&run));
        let model = read(&wd.path(out));
        assert_eq!(
            learnt(model.clone()),
            learnt(original.clone()),
            "{out}: the same points, threshold, calibration and metrics"
        );
        let t = &model["training"];
        assert_eq!(t["delimiter"], delimiter.to_string(), "{out}");
        assert_eq!(t["decimal_comma"], true, "{out}");
        assert_eq!(t["encoding"], "windows-1252", "{out}");
        assert_eq!(
            crate::model_file::errors(&validator, &model),
            Vec::<String>::new()
        );
    }
    // The original records none of it (and so reads the next file by detection).
    for field in ["delimiter", "decimal_comma", "encoding"] {
        assert!(original["training"].get(field).is_none(), "{field}");
    }

    // `score` reads the next export as the model's training file was read; flags override.
    let expected = score(&wd, "original.json", "leads.csv", "expected.csv", &[]);
    let scored = score(&wd, "detected.json", "excel.csv", "scored.csv", &[]);
    assert!(scored == expected, "scores differ");
    let overridden = score(
        &wd,
        "detected.json",
        "leads.csv",
        "overridden.csv",
        &[
            "--delimiter",
            ",",
            "--decimal-comma=false",
            "--encoding",
            "utf-8",
        ],
    );
    assert!(
        overridden == expected,
        "scores differ with the flags overriding the model"
    );
    let by_flags = score(&wd, "original.json", "excel.csv", "by-flags.csv", &flags);
    assert!(by_flags == expected, "scores differ with the flags");

    // The library reads a text cell of such a model as `score` reads the file: `3,5` is 3.5
    // in a numeric rule's column, and `3.5` is an error naming the reading.
    use mqlcal::rules::Value;
    let model = mqlcal::model::Model::load(&wd.path("detected.json")).unwrap();
    let column = model
        .rules
        .iter()
        .find(|r| r.condition.needs_numbers())
        .map(|r| r.column.clone())
        .unwrap();
    let lead = |cell: Value<'static>| {
        let column = column.clone();
        model.score_lead(move |c| if c == column { cell } else { Value::Missing })
    };
    let comma = lead(Value::Text("3,5")).unwrap();
    let number = lead(Value::Number(3.5)).unwrap();
    assert_eq!(
        (comma.score, comma.probability),
        (number.score, number.probability)
    );
    assert_ne!(
        comma.score,
        lead(Value::Missing).unwrap().score,
        "the rule fired on 3,5"
    );
    let err = lead(Value::Text("3.5")).unwrap_err();
    assert!(
        err.contains(&column) && err.contains("decimal comma"),
        "{err}"
    );
}

#[test]
fn bom_and_crlf_files_train_and_score_as_the_original() {
    let wd = Workdir::new();
    let text = std::fs::read_to_string(repo().join("data/leads.csv")).unwrap();
    std::fs::write(wd.path("leads.csv"), &text).unwrap();
    std::fs::write(wd.path("bom.csv"), format!("\u{feff}{text}")).unwrap();
    std::fs::write(wd.path("crlf.csv"), text.replace('\n', "\r\n")).unwrap();
    let run = train(&wd, "leads.csv", "original.json", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let original = learnt(read(&wd.path("original.json")));
    let expected = score(&wd, "original.json", "leads.csv", "expected.csv", &[]);
    for data in ["bom.csv", "crlf.csv"] {
        // Streamed, and read whole.
        for (out, extra) in [
            ("streamed.json", &[][..]),
            ("whole.json", &["--report", "r", "--bootstrap", "0"][..]),
        ] {
            let run = train(&wd, data, out, &[&["--force"][..], extra].concat());
            assert!(run.status.success(), "{data}: {}", stderr(&run));
            assert_eq!(learnt(read(&wd.path(out))), original, "{data} {out}");
        }
        let scored = score(&wd, "original.json", data, "scored.csv", &["--force"]);
        assert!(scored == expected, "{data}: scores differ");
    }
}

/// Checks a run failed (exit 1, no panic) with every needle in stderr.
fn failed(run: &std::process::Output, needles: &[&str]) {
    let err = stderr(run);
    assert_eq!(run.status.code(), Some(1), "expected failure:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks '{n}':\n{err}");
    }
}

#[test]
fn reading_a_file_the_wrong_way_names_the_fix() {
    let wd = Workdir::new();
    let (utf8, row, cell) = excel_csv(false, b';');
    std::fs::write(wd.path("excel.csv"), &utf8).unwrap();
    let (cp1252, _, _) = excel_csv(true, b';');
    std::fs::write(wd.path("cp1252.csv"), &cp1252).unwrap();
    // Without the decimal commas, a ';' file read with ',' has one column.
    let plain = String::from_utf8(utf8.clone())
        .unwrap()
        .replace(",0;", ";")
        .replace(",0\r\n", "\r\n");
    wd.write("plain.csv", &plain);

    // A forced wrong delimiter: the target (streamed) or a rule's column (read whole) is
    // missing, or the decimal commas make ragged lines; each names the delimiter to pass.
    let report = ["--report", "report", "--bootstrap", "0"];
    for (data, extra) in [
        ("plain.csv", &[][..]),
        ("plain.csv", &report[..]),
        ("excel.csv", &["--decimal-comma"][..]),
    ] {
        let run = train(
            &wd,
            data,
            "model.json",
            &[&["--delimiter", ","][..], extra].concat(),
        );
        failed(&run, &[data, "--delimiter ';'", "13 columns with ';'"]);
    }
    let run = train(&wd, "plain.csv", "model.json", &["--delimiter", ","]);
    failed(&run, &["column 'converted' not found"]);

    // Decimal commas without --decimal-comma: the row and column, and the flag.
    let run = train(&wd, "excel.csv", "model.json", &[]);
    failed(
        &run,
        &[
            &format!("row {row}, column '{}'", NUMERIC[0]),
            &format!("'{cell}'"),
            "--decimal-comma",
        ],
    );

    // Proposing rules, such a column is text, with a note that says why and what to pass.
    let run = wd
        .cmd()
        .args(["train", "--data", "excel.csv", "--target", "converted"])
        .args(["--id", "lead_id", "--out", "proposed.json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains(&format!(
            "'{}' holds numbers with a decimal comma (e.g. 3,5), proposed as text; pass \
             --decimal-comma",
            NUMERIC[0]
        )),
        "{}",
        stderr(&run)
    );

    // Windows-1252 without --encoding: the row, the column and the flag, streamed or not.
    let second = NAMES[2].replace('Ø', "\\xD8").replace('å', "\\xE5");
    for extra in [
        vec!["--decimal-comma"],
        [&["--decimal-comma"][..], &report[..]].concat(),
    ] {
        let run = train(&wd, "cp1252.csv", "model.json", &extra);
        failed(
            &run,
            &[
                "row 2, column 'contact_name'",
                "line 3",
                &second,
                "--encoding windows-1252",
            ],
        );
    }
    // ... and for `score`, from a model trained on the UTF-8 file.
    let run = train(&wd, "excel.csv", "model.json", &["--decimal-comma"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = wd
        .cmd()
        .args(["score", "--model", "model.json", "--data", "cp1252.csv"])
        .args(["--out", "scored.csv"])
        .output()
        .unwrap();
    failed(
        &run,
        &["row 2, column 'contact_name'", "--encoding windows-1252"],
    );
    assert!(!wd.path("scored.csv").exists());
    // A ';' file with decimal points scores alike, through the typed read of numbers.
    let bundled = std::fs::read_to_string(repo().join("data/leads.csv")).unwrap();
    wd.write("points.csv", &bundled.replace(',', ";"));
    let commas = score(&wd, "model.json", "excel.csv", "commas.csv", &[]);
    let points = score(
        &wd,
        "model.json",
        "points.csv",
        "points-scored.csv",
        &["--decimal-comma=false"],
    );
    assert!(points == commas, "scores differ");
}

#[test]
fn report_and_retrain_read_the_next_file_as_the_model_was_trained() {
    let wd = Workdir::new();
    std::fs::write(wd.path("excel.csv"), excel_csv(true, b';').0).unwrap();
    let flags = ["--decimal-comma", "--encoding", "windows-1252"];
    let run = train(&wd, "excel.csv", "model.json", &flags);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = wd
        .cmd()
        .args(["report", "--model", "model.json", "--data", "excel.csv"])
        .args(["--out", "report"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(wd.path("report/index.html").exists());
    let run = wd
        .cmd()
        .args(["retrain", "--champion", "model.json", "--data", "excel.csv"])
        .args(["--out", "models", "--holdout", "0.2", "--json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    // The challenger records the same reading, so the next retrain reads alike.
    let summary: Value = serde_json::from_slice(&run.stdout).unwrap();
    let version = summary["challenger"]["version"].as_str().unwrap();
    let challenger = read(&wd.path(&format!("models/versions/{version}.json")));
    assert_eq!(challenger["training"]["delimiter"], ";");
    assert_eq!(challenger["training"]["decimal_comma"], true);
    assert_eq!(challenger["training"]["encoding"], "windows-1252");
    // Told otherwise, the same file is read the wrong way, and the error says how.
    let run = wd
        .cmd()
        .args(["report", "--model", "model.json", "--data", "excel.csv"])
        .args(["--out", "report2", "--decimal-comma=false"])
        .output()
        .unwrap();
    failed(&run, &["--decimal-comma"]);
}
