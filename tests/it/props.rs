//! Property tests of the three readers of user files — the rules file, the model file and the
//! leads file — with random bytes, random field values and random truncation: none panics, and
//! every error names its input (the file; a row and column where a cell is at fault).
//!
//! Each property runs `PROPTEST_CASES` cases (1,000 by default, what CI runs); the longer run in
//! the README sets it higher. A failure prints the shrunk input and the seed to replay it.

use std::path::Path;

use mqlcal::data::{LoadOptions, Table};
use mqlcal::model::Model;
use mqlcal::rules::{features, Rule, RuleSpec, RulesFile, Value};
use proptest::prelude::*;
use proptest::sample::select;

use crate::repo;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    ProptestConfig {
        cases,
        // The shrunk case and its seed are printed; no regressions file in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text from an alphabet that reaches the parsers' edges: delimiters, quotes, line ends,
/// digits, signs, exponents, decimal commas, spaces, letters and a few non-ASCII characters.
fn texty(max: usize) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = ",;\t|\"'\n\r 0123456789-+.eE=[]{}#abcxyzLü€\u{feff}"
        .chars()
        .collect();
    prop::collection::vec(select(alphabet), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A number that a file may hold: ordinary, huge, tiny, negative zero, or not finite.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e3..1e3f64,
        select(vec![
            0.0,
            -0.0,
            1e300,
            -1e300,
            1e20,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]),
    ]
}

/// An error's text names `path`'s file.
fn names(err: &impl std::fmt::Display, path: &Path) -> Result<(), TestCaseError> {
    let text = err.to_string();
    let file = path.file_name().unwrap().to_string_lossy();
    prop_assert!(
        text.contains(&*file),
        "the error does not name {file}: {text}"
    );
    Ok(())
}

/// The first `len` bytes of `text`, cut back to a character boundary.
fn truncated(text: &str, len: usize) -> &str {
    let mut cut = len.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// `bytes` as the file `name` in a new temporary directory (removed when the guard drops).
fn written(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn example(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_rules_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let (_dir, path) = written("rules.toml", &bytes);
        if let Err(e) = RulesFile::read(&path) {
            names(&e, &path)?;
        }
    }

    #[test]
    fn the_rules_reader_takes_any_truncation_or_edit_of_the_example(
        len in 0usize..4000,
        at in 0usize..4000,
        insert in texty(12),
    ) {
        let text = example("data/rules.toml");
        let cut = truncated(&text, len);
        let at = truncated(cut, at).len();
        let edited = format!("{}{insert}{}", &cut[..at], &cut[at..]);
        let (_dir, path) = written("rules.toml", edited.as_bytes());
        if let Err(e) = RulesFile::read(&path) {
            names(&e, &path)?;
        }
    }

    /// Rules with random field values: accepted or refused with the file named; an accepted
    /// rule evaluates any cell without a panic, and a feature is finite and never negative.
    #[test]
    fn rules_with_random_values_are_checked_once_and_then_evaluate_anything(
        name in texty(8),
        kind in 0usize..5,
        a in number(),
        b in number(),
        levels in prop::collection::vec(texty(4), 0..3),
        cell_number in number(),
        cell_text in texty(6),
    ) {
        let mut spec = RuleSpec { name, column: "c".into(), ..RuleSpec::default() };
        match kind {
            0 => spec.at_least = Some(a),
            1 => { spec.at_least = Some(a); spec.below = Some(b); }
            2 => { spec.per_unit = Some(true); spec.cap = Some(a); }
            3 => spec.one_of = Some(levels),
            _ => spec.is_missing = Some(true),
        }
        let file = RulesFile { rules: vec![spec], ..RulesFile::default() };
        // A value TOML cannot hold (NaN is fine, but e.g. a name with a control character is
        // escaped) still serialises; what cannot be written is not a reader's case.
        let Ok(text) = toml::to_string(&file) else { return Ok(()) };
        let (_dir, path) = written("random-rules.toml", text.as_bytes());
        match RulesFile::read(&path) {
            Err(e) => names(&e, &path)?,
            Ok(read) => {
                let rule = Rule::from_spec(&read.rules[0]).unwrap();
                for cell in [Value::Number(cell_number), Value::Text(&cell_text), Value::Missing] {
                    if let Ok(f) = rule.condition.eval(cell) {
                        prop_assert!(f.is_finite() && f >= 0.0, "feature {f} for {cell:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_model_reader_takes_any_truncation_of_a_model(len in 0usize..200_000) {
        let text = example("models/lead-model.json");
        let cut = truncated(&text, len);
        let (_dir, path) = written("model.json", cut.as_bytes());
        match Model::load(&path) {
            Err(e) => names(&e, &path)?,
            Ok(_) => prop_assert_eq!(cut.trim_end(), text.trim_end(), "only the whole file loads"),
        }
    }

    /// One field of the example model set to a random value: the loader accepts it or refuses
    /// it naming the file; a model it accepts scores any lead without a panic.
    #[test]
    fn the_model_reader_takes_any_value_in_any_field(
        pick in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            number().prop_map(|x| serde_json::Number::from_f64(x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null)),
            any::<i64>().prop_map(serde_json::Value::from),
            texty(6).prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
            any::<bool>().prop_map(serde_json::Value::from),
        ],
        cell in number(),
    ) {
        let mut model: serde_json::Value = serde_json::from_str(&example("models/lead-model.json")).unwrap();
        let mut leaves = Vec::new();
        leaf_paths(&model, String::new(), &mut leaves);
        let at = pick.get(&leaves).clone();
        *model.pointer_mut(&at).unwrap() = replacement;
        let text = serde_json::to_string_pretty(&model).unwrap();
        let (_dir, path) = written("edited-model.json", text.as_bytes());
        match Model::load(&path) {
            Err(e) => names(&e, &path)?,
            Ok(m) => {
                let _ = m.score_lead(|_| Value::Number(cell));
                let _ = m.score_lead(|_| Value::Missing);
            }
        }
    }

    /// A leads file of random text: it loads or is refused naming the file; rule features of
    /// a file that loads are computed or refused naming the file (and the row and column).
    #[test]
    fn the_leads_reader_takes_any_text(header in texty(20), body in texty(300), raw in any::<bool>(), bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut content = format!("lead_id,visits,level\n{header}\n{body}").into_bytes();
        if raw {
            content.extend(&bytes);
        }
        let (_dir, path) = written("leads.csv", &content);
        leads_file_checks(&path)?;
    }

    #[test]
    fn the_leads_reader_takes_any_truncation_of_the_example(len in 0usize..20_000) {
        let text = example("data/leads.csv");
        let (_dir, path) = written("cut-leads.csv", &text.as_bytes()[..len.min(text.len())]);
        leads_file_checks(&path)?;
    }
}

/// The JSON pointers of every leaf (and empty container) of `v`.
fn leaf_paths(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaf_paths(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaf_paths(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// Loads `path` as leads and computes two rules' features on it, a number rule on `visits`
/// and a text rule on `level`: each step succeeds or fails naming the file.
fn leads_file_checks(path: &Path) -> Result<(), TestCaseError> {
    let table = match Table::load(path, &LoadOptions::default()) {
        Ok(t) => t,
        Err(e) => return names(&e, path),
    };
    let rules: Vec<Rule> = [
        RuleSpec {
            name: "Visits".into(),
            column: "visits".into(),
            per_unit: Some(true),
            cap: Some(5.0),
            ..RuleSpec::default()
        },
        RuleSpec {
            name: "VP".into(),
            column: "level".into(),
            one_of: Some(vec!["VP".into()]),
            ..RuleSpec::default()
        },
    ]
    .iter()
    .map(|s| Rule::from_spec(s).unwrap())
    .collect();
    if table.has_column("visits") && table.has_column("level") {
        match features::rule_features(&table, &rules) {
            Ok(x) => prop_assert!(x.iter().all(|f| f.is_finite() && *f >= 0.0 && *f <= 5.0)),
            Err(e) => names(&e, path)?,
        }
    }
    Ok(())
}
