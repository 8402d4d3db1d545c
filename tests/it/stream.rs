//! Training from a stream of batches (`train_file`, what `mqlcal train --rules` runs) against
//! the whole-file pipeline (`train` on a loaded table): the same model file byte for byte, the
//! same notes and the same errors, naming rows of the file, whatever the batch size.

use std::path::Path;

use mqlcal::data::{LoadOptions, Table};
use mqlcal::progress::Silent;
use mqlcal::rules::RulesFile;
use mqlcal::train::{train, train_file, TrainParams};

use crate::Workdir;

/// Batch sizes that put batch edges everywhere: one lead, a prime, more than the file.
const BATCHES: [usize; 4] = [1, 7, 1000, mqlcal::data::BATCH_ROWS];

fn params(rules: &Path, load: &LoadOptions, date: Option<&str>) -> TrainParams {
    let file = RulesFile::read(rules).unwrap();
    let mut p = TrainParams::new(file.target.clone().unwrap());
    p.id = file.id.clone();
    p.rules = Some(file.checked_rules().unwrap());
    p.na = load.na.clone();
    p.exclude = load.exclude.clone();
    p.date = date.map(str::to_string);
    p
}

/// The whole-file result: the model file's text and the notes, or the error message.
fn whole(
    path: &Path,
    load: &LoadOptions,
    p: &TrainParams,
) -> Result<(String, Vec<String>), String> {
    let table = Table::load(path, load).map_err(|e| e.to_string())?;
    let trained = train(&table, p).map_err(|e| e.to_string())?;
    Ok((trained.model.to_json(), trained.notes))
}

fn streamed(
    path: &Path,
    load: &LoadOptions,
    p: &TrainParams,
    batch: usize,
) -> Result<(String, Vec<String>), String> {
    let s = train_file(path, load, p, batch, &Silent).map_err(|e| e.to_string())?;
    Ok((s.model.to_json(), s.notes))
}

fn assert_same(path: &Path, load: &LoadOptions, p: &TrainParams) {
    let expected = whole(path, load, p);
    for batch in BATCHES {
        assert_eq!(
            streamed(path, load, p, batch),
            expected,
            "{} in batches of {batch}",
            path.display()
        );
    }
}

#[test]
fn streamed_csv_and_parquet_give_the_whole_file_model() {
    let w = Workdir::new();
    let rules = w.rules();
    let load = LoadOptions::default();
    let p = params(&rules, &load, Some("created_at"));
    for name in ["leads.csv", "leads.parquet"] {
        let data = w.synth(name, 3000, 5);
        let (model, _) = whole(&data, &load, &p).unwrap();
        assert!(model.contains("\"newest_lead\""), "the date is recorded");
        assert_same(&data, &load, &p);
    }
}

/// Placeholders, an excluded column that is not there, repeated ids (across batches) and a
/// missing cell: every warning and note comes out the same.
#[test]
fn placeholders_notes_and_repeated_ids_match() {
    let w = Workdir::new();
    let rules = w.write(
        "rules.toml",
        r#"id = "id"
target = "won"
[[rule]]
name = "Visits"
column = "visits"
per_unit = true
cap = 4
[[rule]]
name = "No size"
column = "size"
is_missing = true
[[rule]]
name = "Big"
column = "size"
at_least = 100
[[rule]]
name = "Finance"
column = "industry"
one_of = ["Finance"]
"#,
    );
    let mut text = String::from("id,visits,size,industry,won\n");
    for i in 0..60 {
        // Ids 5 and 12 come back later; sizes are sometimes "Select" or empty.
        let id = match i {
            41 => "L5".to_string(),
            50 => " L12 ".to_string(),
            _ => format!("L{i}"),
        };
        let size = match i % 7 {
            0 => "Select".to_string(),
            3 => String::new(),
            _ => (i * 13 % 400).to_string(),
        };
        let industry = if i % 3 == 0 { "Finance" } else { "Retail" };
        let won = u8::from((i % 6 >= 3 && i % 4 != 1) || i % 11 == 0);
        text.push_str(&format!("{id},{},{size},{industry},{won}\n", i % 6));
    }
    let data = w.write("leads.csv", &text);
    let load = LoadOptions {
        na: vec!["Select".into()],
        exclude: vec!["Lead Quality".into()],
        ..Default::default()
    };
    let p = params(&rules, &load, None);
    let (model, notes) = whole(&data, &load, &p).unwrap();
    assert!(
        model.contains("2 repeated ids (first: 'L5' again at row 42)"),
        "{model}"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_same(&data, &load, &p);

    // The same leads in Parquet (every cell text, as in the CSV): the same model.
    use polars::prelude::*;
    let mut df = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(data.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let parquet = w.path("leads.parquet");
    mqlcal::data::write_frame(&mut df, &parquet, false).unwrap();
    let (from_parquet, _) = whole(&parquet, &load, &p).unwrap();
    assert!(from_parquet.contains("2 repeated ids (first: 'L5' again at row 42)"));
    assert_same(&parquet, &load, &p);
}

/// Bad input is refused with the message the whole-file load gives, naming the row of the file
/// even when it sits in a later batch.
#[test]
fn errors_name_the_row_of_the_file() {
    let w = Workdir::new();
    let rules = w.rules();
    let load = LoadOptions::default();
    let p = params(&rules, &load, Some("created_at"));
    let good = std::fs::read_to_string(w.synth("leads.csv", 40, 2)).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Row 23 of the file (line 24) gets a bad value in one column at a time.
    let cases = [
        ("email_opens", "many"),
        ("converted", "maybe"),
        ("created_at", "yesterday"),
        ("company_size", "inf"),
    ];
    for (column, bad) in cases {
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut cells: Vec<String> = edited[23].split(',').map(str::to_string).collect();
        cells[col(column)] = bad.to_string();
        edited[23] = cells.join(",");
        let data = w.write("bad.csv", &(edited.join("\n") + "\n"));
        let expected = whole(&data, &load, &p).unwrap_err();
        assert!(
            expected.contains("row 23") && expected.contains(column),
            "{expected}"
        );
        assert_same(&data, &load, &p);
    }

    // A header and no rows; a rule column the file lacks; an outcome column the file lacks.
    let empty = w.write("empty.csv", &format!("{}\n", lines[0]));
    assert!(whole(&empty, &load, &p).unwrap_err().contains("no rows"));
    assert_same(&empty, &load, &p);
    let keep: Vec<usize> = (0..header.len())
        .filter(|&j| header[j] != "email_opens")
        .collect();
    let without: Vec<String> = lines
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&j| cells[j]).collect::<Vec<_>>().join(",")
        })
        .collect();
    let data = w.write("without.csv", &(without.join("\n") + "\n"));
    assert!(whole(&data, &load, &p).unwrap_err().contains("email_opens"));
    assert_same(&data, &load, &p);
    let mut other = p.clone();
    other.target = "won".into();
    assert!(whole(&data, &load, &other).unwrap_err().contains("won"));
    assert_same(&data, &load, &other);
}

/// The command line streams when rules are given (no per-lead report asked) and loads the file
/// when a report is asked: both write the same model file, here on the real X Education leads
/// with placeholders and excluded columns.
#[test]
fn cli_streamed_and_loaded_models_are_identical_on_real_leads() {
    let w = Workdir::new();
    let leads = crate::repo().join("../shared/datasets/x-education-leads/Leads.csv");
    assert!(
        leads.exists(),
        "{} is missing: this test needs the shared data sets beside the repository",
        leads.display()
    );
    let common = [
        "--target",
        "Converted",
        "--id",
        "Prospect ID",
        "--na",
        "Select",
        "--exclude",
        "Tags,Lead Quality,Lead Number",
    ];
    // Rules proposed from the data, written out, then given back.
    w.cmd()
        .arg("train")
        .arg("--data")
        .arg(&leads)
        .args(common)
        .args(["--out", "proposed.json", "--write-rules", "rules.toml"])
        .assert()
        .success();
    for (out, extra) in [("streamed.json", None), ("loaded.json", Some("report"))] {
        let mut cmd = w.cmd();
        cmd.arg("train")
            .arg("--data")
            .arg(&leads)
            .args(common)
            .args(["--rules", "rules.toml", "--out", out]);
        if let Some(dir) = extra {
            cmd.args(["--report", dir, "--bootstrap", "0"]);
        }
        cmd.assert().success();
    }
    let streamed = std::fs::read(w.path("streamed.json")).unwrap();
    assert_eq!(streamed, std::fs::read(w.path("loaded.json")).unwrap());
    // And the model of the given rules is the model the rules were proposed with.
    let proposed = mqlcal::model::Model::load(&w.path("proposed.json")).unwrap();
    let given = mqlcal::model::Model::load(&w.path("streamed.json")).unwrap();
    assert_eq!(proposed.points(), given.points());
}

/// An uncapped per-unit rule with absurd values here and there (batch edges everywhere): the
/// streamed and whole-file models cap it alike, byte for byte, and so does a counts table of
/// the uncapped features (`train_groups`).
#[test]
fn uncapped_rules_are_capped_alike_on_every_path() {
    let w = Workdir::new();
    let rules = w.write(
        "rules.toml",
        r#"target = "won"
[[rule]]
name = "Opens (each)"
column = "opens"
per_unit = true
[[rule]]
name = "Big"
column = "size"
at_least = 100
"#,
    );
    let mut text = String::from("opens,size,won\n");
    for i in 0..3000u64 {
        let opens = match i {
            17 | 1500 | 2999 => "99999999999999999999".to_string(),
            _ => (i % 9).to_string(),
        };
        let won = u8::from(i * 7919 % 100 < 5 + 3 * (i % 9));
        text.push_str(&format!("{opens},{},{won}\n", i * 37 % 300));
    }
    let data = w.write("leads.csv", &text);
    let load = LoadOptions::default();
    let p = params(&rules, &load, None);
    let (model, _) = whole(&data, &load, &p).unwrap();
    assert!(
        model.contains("'Opens (each)': capped at 8 units of opens")
            && model.contains("3 leads had more"),
        "{model}"
    );
    assert_same(&data, &load, &p);

    // The counts of the uncapped features, as a warehouse would count them.
    let table = Table::load(&data, &load).unwrap();
    let y = table.outcomes("won").unwrap();
    let x = mqlcal::rules::features::rule_features(&table, p.rules.as_ref().unwrap()).unwrap();
    let (groups, _) = mqlcal::group::Groups::from_rows(x.view(), &y);
    assert!(groups.x.column(0).iter().any(|&v| v > 1e19), "uncapped");
    let input = mqlcal::train::Input::of(&data, table.sha256());
    let counted =
        mqlcal::train::train_groups(&groups, p.rules.as_ref().unwrap(), &p, input, &Silent)
            .unwrap();
    assert_eq!(
        counted.to_json(),
        model,
        "the counts path gives the rows' model"
    );
}
