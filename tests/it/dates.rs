//! Date rules (`within_days`, `older_than_days`): boundaries, UTC offsets and naive timestamps,
//! missing and future dates (the warning), the as-of date training records, `mqlcal score
//! --as-of` = the library = the service, bad rules with errors naming the rule, the PMML's
//! as-of input and what it refuses, and sql-counts' refusal. SQL and PMML parity in every
//! engine: the `dated` cases of export.rs.

use chrono::NaiveDate;
use mqlcal::model::Model;
use mqlcal::rules::{parse_date_utc, RulesFile, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::serve::Server;
use crate::{stderr, Workdir};

const RULES: &str = r#"id = "lead_id"
target = "converted"

[[rule]]
name = "Active in the last week"
column = "last_activity"
within_days = 7

[[rule]]
name = "Quiet for two months"
column = "last_activity"
older_than_days = 60

[[rule]]
name = "Big company"
column = "company_size"
at_least = 100
"#;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `n` leads whose activity dates are days before `newest` (some missing), written in several
/// ways: dates, naive timestamps, and timestamps with offsets whose UTC day is the date meant.
/// Gives the CSV text and each lead's UTC date. True log-odds: −1.5 + 1.2·[within 7] −
/// 1.0·[older than 60] + 0.5·[size ≥ 100].
fn leads(n: usize, seed: u64, newest: NaiveDate) -> (String, Vec<Option<NaiveDate>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::from("lead_id,last_activity,company_size,converted\n");
    let mut dates = Vec::new();
    for i in 0..n {
        let date = (!rng.gen_bool(0.05)).then(|| {
            let age = if rng.gen_bool(0.2) {
                // The boundaries, often.
                [0, 7, 8, 60, 61][rng.gen_range(0..5)]
            } else {
                rng.gen_range(0..200)
            };
            newest - chrono::Duration::days(age)
        });
        let text = match date {
            None => String::new(),
            Some(d) => match i % 4 {
                0 => d.to_string(),
                1 => format!(
                    "{d} {:02}:{:02}:00",
                    rng.gen_range(0..24),
                    rng.gen_range(0..60)
                ),
                // 23:30 the day before at −05:00 is 04:30 UTC on the date.
                2 => format!("{}T23:30:00-05:00", d - chrono::Duration::days(1)),
                // 01:15 the day after at +03:00 is 22:15 UTC on the date.
                _ => format!("{}T01:15:00+03:00", d + chrono::Duration::days(1)),
            },
        };
        let size: u32 = rng.gen_range(1..300);
        let age = date.map(|d| (newest - d).num_days());
        let within = age.is_some_and(|a| (0..=7).contains(&a));
        let older = age.is_some_and(|a| a > 60);
        let logit = -1.5 + 1.2 * within as u8 as f64 - 1.0 * older as u8 as f64
            + 0.5 * (size >= 100) as u8 as f64;
        let converted = rng.gen_bool(1.0 / (1.0 + (-logit).exp()));
        out.push_str(&format!("L{i},{text},{size},{}\n", converted as u8));
        dates.push(date);
    }
    (out, dates)
}

#[test]
fn offsets_move_to_their_utc_day_and_naive_timestamps_are_utc() {
    let d = day(2026, 7, 31);
    for s in [
        "2026-07-31",
        " 2026-07-31 ",
        "2026-07-31 23:59",
        "2026-07-31T23:59:59",
        "2026-07-31T23:59:59Z",
        "2026-07-30T23:30:00-05:00",
        "2026-07-30T19:00:00.250-0500",
        "2026-08-01T01:15:00+03:00",
        "2026-08-01T00:59+01",
    ] {
        assert_eq!(parse_date_utc(s, None), Some(d), "{s}");
    }
    // Offsets that keep the day.
    assert_eq!(parse_date_utc("2026-07-31T12:00:00+02:00", None), Some(d));
    assert_eq!(parse_date_utc("2026-07-31T18:59:00-05:00", None), Some(d));
    assert_eq!(
        parse_date_utc("31/07/2026 22:00", Some("%d/%m/%Y")),
        Some(d)
    );
    for s in ["31-07-2026", "2026-07-31x", "2026-13-01", "yesterday"] {
        assert_eq!(parse_date_utc(s, None), None, "{s}");
    }
}

#[test]
fn training_records_its_as_of_and_score_lead_library_and_service_agree_at_the_boundaries() {
    let wd = Workdir::new();
    let newest = day(2026, 11, 30);
    let (text, _) = leads(4000, 7, newest);
    wd.write("train.csv", &text);
    wd.write("rules.toml", RULES);
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "train.csv",
            "--rules",
            "rules.toml",
            "--out",
            "m.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Without --as-of or dated outcomes: the newest date of the column, said and recorded.
    let model = Model::load(&wd.path("m.json")).unwrap();
    assert!(model.needs_as_of());
    assert_eq!(
        model.training.date_rules_as_of.as_deref(),
        Some(newest.to_string().as_str())
    );
    let said = format!("{}{}", crate::stdout(&out), stderr(&out));
    assert!(
        said.contains(&format!(
            "date rules: trained counting days back from {newest}"
        )),
        "{said}"
    );
    // The effects planted are found: signs as in the truth.
    let points = |name: &str| {
        model
            .rules
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .points
            .0
    };
    assert!(points("Active in the last week") > 0 && points("Quiet for two months") < 0);

    // New leads scored as of a later date: each lead's score is the sum of the points of the
    // rules that hold on its UTC date, computed here from the dates themselves.
    let as_of = day(2026, 12, 10);
    let (text, dates) = leads(600, 8, as_of + chrono::Duration::days(3));
    wd.write("new.csv", &text);
    let out = wd
        .cmd()
        .args([
            "score", "--model", "m.json", "--data", "new.csv", "--out", "s.csv",
        ])
        .args(["--as-of", &as_of.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["as_of"], as_of.to_string());
    let future: Vec<usize> = (0..dates.len())
        .filter(|&i| dates[i].is_some_and(|d| d > as_of))
        .collect();
    assert!(!future.is_empty());
    let warning = format!(
        "{} leads have a last_activity after the as-of date {as_of} (first: lead L{}): they \
         count as neither within nor older",
        future.len(),
        future[0]
    );
    assert!(stderr(&out).contains(&warning), "{}", stderr(&out));
    let scored = crate::read_csv(&wd.path("s.csv"));
    let score_col = scored.column("score").unwrap().i64().unwrap().clone();
    let sizes: Vec<u32> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    let cells: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    let (mut seen_within, mut seen_older, mut seen_edge) = (false, false, 0);
    let mut requests = Vec::new();
    for (i, date) in dates.iter().enumerate() {
        let age = date.map(|d| (as_of - d).num_days());
        let within = age.is_some_and(|a| (0..=7).contains(&a));
        let older = age.is_some_and(|a| a > 60);
        seen_within |= within;
        seen_older |= older;
        seen_edge += matches!(age, Some(7) | Some(60)) as usize;
        let want = within as i64 * points("Active in the last week")
            + older as i64 * points("Quiet for two months")
            + (sizes[i] >= 100) as i64 * points("Big company");
        assert_eq!(score_col.get(i), Some(want), "lead L{i}, date {date:?}");
        // The library, as of the same date.
        let size = sizes[i].to_string();
        let lib = model
            .score_lead_as_of(
                |c| match c {
                    "last_activity" => model.cell(Some(cells[i].as_str())),
                    "company_size" => Value::Text(&size),
                    _ => Value::Missing,
                },
                as_of,
            )
            .unwrap();
        assert_eq!(lib.score, want, "library, lead L{i}");
        requests.push(json!({
            "lead_id": format!("L{i}"),
            "last_activity": if cells[i].is_empty() { serde_json::Value::Null } else { cells[i].clone().into() },
            "company_size": sizes[i],
        }));
    }
    assert!(seen_within && seen_older && seen_edge > 0);

    // The service, with the request's as-of, echoes it and gives the same scores.
    let server = Server::start(&wd, &["--model", "m.json"]);
    let (status, a) = server.post(
        "/v1/score",
        &json!({"as_of": as_of.to_string(), "leads": requests}),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["as_of"], as_of.to_string());
    for (i, r) in a["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["score"].as_i64(), score_col.get(i), "service, lead L{i}");
    }
    // Without as_of: today (UTC), echoed.
    let (status, a) = server.post("/v1/score", &json!({"leads": [requests[0].clone()]}));
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["as_of"], mqlcal::rules::today_utc().to_string());
    // A bad as_of is a 422 naming the field.
    for bad in [json!("2026-13-01"), json!("12/10/2026"), json!(20261210)] {
        let (status, a) = server.post("/v1/score", &json!({"as_of": bad, "leads": []}));
        assert_eq!(status, 422, "{a}");
        assert_eq!(a["column"], "as_of", "{a}");
        assert!(a["error"].as_str().unwrap().starts_with("as_of: "), "{a}");
    }
}

#[test]
fn rules_and_inspect_say_the_date_rules_in_words() {
    let file: RulesFile = toml::from_str(RULES).unwrap();
    let rules = file.checked_rules().unwrap();
    assert_eq!(rules[0].describe(), "last_activity within 7 days");
    assert_eq!(rules[1].describe(), "last_activity more than 60 days ago");
    assert!(rules[0].needs_as_of() && !rules[2].needs_as_of());
    // As a part of a compound rule.
    let text = r#"
[[rule]]
name = "Recent and big"
all = [ { column = "last_activity", within_days = 30 }, { column = "company_size", at_least = 100 } ]
"#;
    let file: RulesFile = toml::from_str(text).unwrap();
    let rules = file.checked_rules().unwrap();
    assert!(rules[0].needs_as_of());
    assert_eq!(
        rules[0].describe(),
        "last_activity within 30 days and company_size >= 100"
    );
    // Written back and read again: the same rules.
    let again = RulesFile {
        rules: rules.iter().map(|r| r.to_spec()).collect(),
        ..RulesFile::default()
    };
    assert_eq!(
        toml::from_str::<RulesFile>(&again.to_toml())
            .unwrap()
            .checked_rules()
            .unwrap(),
        rules
    );
}

#[test]
fn bad_date_rules_get_errors_naming_the_rule() {
    let wd = Workdir::new();
    let (text, _) = leads(200, 1, day(2026, 11, 30));
    wd.write("train.csv", &text);
    for (rule, wanted) in [
        (
            "column = 'last_activity'\nwithin_days = 7\nper_unit = true",
            "rule 'Bad': `within_days` is a date rule, which fires 1 or 0; `per_unit`/`cap`",
        ),
        (
            "column = 'last_activity'\nolder_than_days = 7\ncap = 3",
            "rule 'Bad': `older_than_days` is a date rule",
        ),
        (
            "column = 'last_activity'\nwithin_days = 7\nat_least = 3",
            "rule 'Bad' must have exactly one condition",
        ),
        (
            "column = 'last_activity'\nwithin_days = -1",
            "invalid value",
        ),
    ] {
        wd.write("bad.toml", &format!("[[rule]]\nname = 'Bad'\n{rule}\n"));
        let out = wd
            .cmd()
            .args(["train", "--data", "train.csv", "--rules", "bad.toml"])
            .args(["--target", "converted", "--out", "m.json", "--force"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains(wanted), "{rule}: {}", stderr(&out));
    }
    // A cell that is not a date names its row.
    wd.write("rules.toml", RULES);
    wd.write(
        "odd.csv",
        "lead_id,last_activity,company_size,converted\nA,2026-11-01,5,1\nB,last week,5,0\n",
    );
    let out = wd
        .cmd()
        .args([
            "train",
            "--data",
            "odd.csv",
            "--rules",
            "rules.toml",
            "--out",
            "m.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("'last week' is not a date") && stderr(&out).contains("row 2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pmml_takes_as_of_as_an_input_and_sql_counts_refuses_date_rules_saying_why() {
    let wd = Workdir::new();
    let (text, _) = leads(1500, 3, day(2026, 11, 30));
    wd.write("train.csv", &text);
    wd.write("rules.toml", RULES);
    wd.cmd()
        .args([
            "train",
            "--data",
            "train.csv",
            "--rules",
            "rules.toml",
            "--out",
            "m.json",
        ])
        .assert()
        .success();
    // The PMML takes the as-of date as its input field (JPMML parity: export.rs, the `dated`
    // cases), so `--as-of` is for the SQL only.
    let export = |extra: &[&str]| {
        wd.cmd()
            .args([
                "export", "--model", "m.json", "--format", "pmml", "--out", "m.pmml",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = export(&["--as-of", "2026-12-01"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--as-of") && stderr(&out).contains("input field as_of"),
        "{}",
        stderr(&out)
    );
    let out = export(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pmml = std::fs::read_to_string(wd.path("m.pmml")).unwrap();
    assert!(
        pmml.contains(r#"<DataField name="as_of" optype="continuous" dataType="date"/>"#)
            && pmml
                .contains(r#"<MiningField name="as_of" missingValueTreatment="returnInvalid"/>"#),
        "{pmml}"
    );
    // What it cannot read: dates in another --date-format, and a column named as_of.
    let mut model = Model::load(&wd.path("m.json")).unwrap();
    model.training.date_rules_format = Some("%d/%m/%Y".into());
    let err = mqlcal::export::Exporter::export(&mqlcal::export::Pmml, &model)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--date-format %d/%m/%Y") && err.contains("reads date cells as YYYY-MM-DD"),
        "{err}"
    );
    model.training.date_rules_format = Some("%Y-%m-%d".into());
    model.rules[2].column = "as_of".into();
    let err = mqlcal::export::Exporter::export(&mqlcal::export::Pmml, &model)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column 'as_of' has the name of the PMML input field"),
        "{err}"
    );
    let out = wd
        .cmd()
        .args(["export", "--format", "sql-counts", "--rules", "rules.toml"])
        .args(["--dialect", "duckdb", "--table", "leads", "--out", "c.sql"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("counts of patterns are not offered for date rules"),
        "{}",
        stderr(&out)
    );
    // The SQL export writes CURRENT_DATE, or the --as-of date.
    for (as_of, wanted) in [
        (None, "CURRENT_DATE"),
        (Some("2026-12-01"), "DATE '2026-12-01'"),
    ] {
        let mut cmd = wd.cmd();
        cmd.args([
            "export",
            "--model",
            "m.json",
            "--format",
            "sql",
            "--dialect",
            "postgres",
        ])
        .args(["--table", "leads", "--out", "s.sql", "--force"]);
        if let Some(d) = as_of {
            cmd.args(["--as-of", d]);
        }
        cmd.assert().success();
        let sql = std::fs::read_to_string(wd.path("s.sql")).unwrap();
        assert!(sql.contains(wanted), "{sql}");
    }
}
