use std::path::PathBuf;

use clap::Subcommand;
use mqlcal::model::Model;
use mqlcal::registry::ModelDir;
use mqlcal::retrain::{rule_changes, RuleChange};

use super::pct;
use crate::say;

/// The model directory: list the versions, promote one, compare two model files.
///
/// Example:
///   mqlcal models list --dir models/
///   mqlcal models promote --dir models/ 2026-11-30-1a2b3c4d5e6f
///   mqlcal models diff models/versions/OLD.json models/versions/NEW.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    List(ListArgs),
    Promote(PromoteArgs),
    Diff(DiffArgs),
}

/// Every version, oldest first, with the current one marked and its key metrics.
#[derive(Debug, clap::Args)]
struct ListArgs {
    /// The model directory.
    #[arg(long)]
    dir: PathBuf,
}

/// Make a version current (the previous one stays in the directory).
#[derive(Debug, clap::Args)]
struct PromoteArgs {
    /// The model directory.
    #[arg(long)]
    dir: PathBuf,
    /// The version: its name, or a prefix of its name or hash that only it has.
    version: String,
}

/// Points per rule, threshold and metrics of two model files side by side.
#[derive(Debug, clap::Args)]
struct DiffArgs {
    old: PathBuf,
    new: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::List(a) => list(a),
        Command::Promote(a) => promote(a),
        Command::Diff(a) => diff(a),
    }
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let dir = ModelDir::open(&args.dir)?;
    let current = dir.current()?;
    let versions = dir.versions()?;
    if super::ui::json() {
        let versions: Vec<serde_json::Value> = versions
            .iter()
            .map(|v| match &v.model {
                Ok(m) => serde_json::json!({
                    "name": v.name,
                    "current": current.as_deref() == Some(v.name.as_str()),
                    "training": {"rows": m.training.rows, "newest_lead": m.training.newest_lead},
                    "metrics": m.metrics,
                    "threshold": m.threshold,
                }),
                Err(e) => serde_json::json!({"name": v.name, "error": e.to_string()}),
            })
            .collect();
        return super::ui::summary(&serde_json::json!({
            "dir": args.dir,
            "current": current,
            "versions": versions,
        }));
    }
    if versions.is_empty() {
        say!("no versions in {} yet", args.dir.display());
        return Ok(());
    }
    say!(
        "  {:<30} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9}",
        "version",
        "leads",
        "AUC",
        "log loss",
        "threshold",
        "lead→MQL",
        "MQL→opp"
    );
    for v in &versions {
        let mark = if current.as_deref() == Some(v.name.as_str()) {
            "*"
        } else {
            " "
        };
        match &v.model {
            Ok(m) => {
                let f = &m.threshold.out_of_fold;
                say!(
                    "{mark} {:<30} {:>7} {:>7.3} {:>8.4} {:>9} {:>8} {:>9}",
                    v.name,
                    m.training.rows,
                    m.metrics.roc_auc,
                    m.metrics.log_loss,
                    match m.threshold.threshold.policy {
                        // MQLs by grade: the cell, not a score.
                        mqlcal::threshold::Policy::Grade(cell) => format!("{cell}+"),
                        _ => m.threshold.threshold.points.to_string(),
                    },
                    pct(f.lead_to_mql_rate),
                    pct(f.mql_to_opportunity_rate)
                );
            }
            Err(e) => say!("{mark} {:<30} cannot be read: {e}", v.name),
        }
    }
    match current {
        Some(name) => say!("* current ({}): {name}", dir.current_path().display()),
        None => say!("no current version yet; `mqlcal models promote` sets one"),
    }
    say!("metrics are out-of-fold on each version's own training leads");
    Ok(())
}

fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let dir = ModelDir::open(&args.dir)?;
    let lock = dir.lock(&format!("mqlcal models promote {}", args.version))?;
    let name = dir.resolve(&args.version)?;
    let before = dir.current()?;
    if before.as_deref() == Some(name.as_str()) {
        say!("{name} is already current");
        return super::ui::summary(&serde_json::json!({"current": name, "previous": before}));
    }
    dir.set_current(&name, &lock)?;
    say!(
        "current is now {name} (was {})",
        before.as_deref().unwrap_or("none")
    );
    super::ui::summary(&serde_json::json!({"current": name, "previous": before}))
}

fn diff(args: DiffArgs) -> anyhow::Result<()> {
    let old = Model::load(&args.old)?;
    let new = Model::load(&args.new)?;
    if super::ui::json() {
        return super::ui::summary(&serde_json::json!({
            "old": args.old,
            "new": args.new,
            "rules": rule_changes(&old, &new),
            "threshold": {"old": old.threshold, "new": new.threshold},
            "metrics": {"old": old.metrics, "new": new.metrics},
        }));
    }
    say!("old: {}\nnew: {}", args.old.display(), args.new.display());
    say!("\npoints per rule (old → new):");
    print_rule_changes(&rule_changes(&old, &new));
    let row = |name: &str, a: String, b: String| say!("  {name:<26} {a:>12} {b:>12}");
    say!("\n  {:<26} {:>12} {:>12}", "", "old", "new");
    row(
        "threshold (points)",
        old.threshold.threshold.points.to_string(),
        new.threshold.threshold.points.to_string(),
    );
    row(
        "threshold policy",
        old.threshold.threshold.policy.to_string(),
        new.threshold.threshold.policy.to_string(),
    );
    let (fo, fnew) = (&old.threshold.out_of_fold, &new.threshold.out_of_fold);
    row(
        "lead→MQL rate",
        pct(fo.lead_to_mql_rate),
        pct(fnew.lead_to_mql_rate),
    );
    row(
        "MQL→opportunity rate",
        pct(fo.mql_to_opportunity_rate),
        pct(fnew.mql_to_opportunity_rate),
    );
    let (mo, mn) = (&old.metrics, &new.metrics);
    let f4 = |x: f64| format!("{x:.4}");
    row("ROC AUC", f4(mo.roc_auc), f4(mn.roc_auc));
    row("log loss", f4(mo.log_loss), f4(mn.log_loss));
    row("Brier", f4(mo.brier), f4(mn.brier));
    row("calibration error (ECE)", f4(mo.ece), f4(mn.ece));
    row(
        "training leads",
        old.training.rows.to_string(),
        new.training.rows.to_string(),
    );
    row(
        "newest training lead",
        old.training.newest_lead.clone().unwrap_or("—".into()),
        new.training.newest_lead.clone().unwrap_or("—".into()),
    );
    row(
        "penalty alpha",
        format!("{:.4}", old.training.alpha),
        format!("{:.4}", new.training.alpha),
    );
    say!("metrics are out-of-fold on each model's own training leads; `mqlcal retrain` compares them on the same leads");
    Ok(())
}

/// One line per rule: old points, new points, change.
pub fn print_rule_changes(changes: &[RuleChange]) {
    let opt = |v: Option<i64>| v.map_or("—".to_string(), |v| v.to_string());
    say!("  {:>6}  {:>6}  {:>6}  rule", "old", "new", "change");
    for r in changes {
        say!(
            "  {:>6}  {:>6}  {:>6}  {}",
            opt(r.old_points),
            opt(r.new_points),
            r.change.map_or("—".to_string(), |v| format!("{v:+}")),
            r.name
        );
    }
}
