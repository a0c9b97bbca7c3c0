//! `drlab drill journal` / `drlab drill rollback`: what real drills did, as
//! their journals say, and undoing an interrupted one newest action first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use drlab_drill::journal::{self, Contents, Phase};
use drlab_drill::recorded::{self, RollbackReport, UndoResult};

use super::out;
use crate::Outcome;
use crate::cli::DrillAction;
use crate::progress::Progress;

/// Largest journal read: a drill records a few dozen actions, a runaway one
/// at most `recorded::ACTIONS_MAX` (about 60 MB of records).
const JOURNAL_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Journals listed from one directory.
const JOURNALS_MAX: usize = 10_000;

pub fn drill(action: DrillAction) -> Result<Outcome> {
    match action {
        DrillAction::Journal { path } => list(&path),
        DrillAction::Rollback {
            journal,
            dry_run,
            inventory,
        } => rollback(&journal, dry_run, inventory.as_deref()),
    }
}

/// Reads a journal, refusing what is not a journal file or too large.
fn read(path: &Path) -> Result<Contents> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("no drill journal at {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a journal file", path.display());
    }
    if meta.len() > JOURNAL_BYTES_MAX {
        bail!(
            "{} is {} bytes, more than a journal can be ({JOURNAL_BYTES_MAX})",
            path.display(),
            meta.len()
        );
    }
    Ok(journal::read(path)?)
}

/// What one drill's journal says, in brief.
struct Summary {
    scenario: String,
    lab: String,
    started: String,
    /// `ended (reason)` or `interrupted`.
    end: String,
    done: usize,
    failed: usize,
    unknown: usize,
    undone: usize,
}

fn summarise(c: &Contents) -> Summary {
    let (scenario, lab) = match c.header() {
        Some(Phase::Drill { scenario, lab, .. }) => (scenario.clone(), lab.clone()),
        _ => ("?".into(), "?".into()),
    };
    let end = c
        .records
        .iter()
        .find_map(|r| match &r.phase {
            Phase::End { reason } => Some(format!("ended ({reason})")),
            _ => None,
        })
        .unwrap_or_else(|| "interrupted".into());
    let performed = c.performed();
    let count = |f: &dyn Fn(&journal::Performed) -> bool| performed.iter().filter(|p| f(p)).count();
    Summary {
        scenario,
        lab,
        started: c
            .records
            .first()
            .map_or_else(|| "?".into(), |r| r.utc.clone()),
        end,
        done: count(&|p| p.succeeded == Some(true)),
        failed: count(&|p| p.succeeded == Some(false)),
        unknown: count(&|p| p.succeeded.is_none()),
        undone: count(&|p| p.undone),
    }
}

fn list(path: &Path) -> Result<Outcome> {
    if path.is_dir() {
        return list_dir(path);
    }
    let c = read(path)?;
    out(&render_one(path, &c));
    Ok(Outcome::Pass)
}

fn list_dir(dir: &Path) -> Result<Outcome> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    if files.is_empty() {
        bail!("no drill journals (*.jsonl) in {}", dir.display());
    }
    files.sort();
    let more = files.len().saturating_sub(JOURNALS_MAX);
    files.truncate(JOURNALS_MAX);
    let mut text = format!(
        "{:<32} {:<24} {:<12} {:<20} {:>4} {:>6} {:>7} {:>6}  end\n",
        "journal", "scenario", "lab", "started (UTC)", "done", "failed", "unknown", "undone"
    );
    let mut unreadable = 0;
    for f in &files {
        let name = f.file_name().map_or_else(
            || f.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match read(f) {
            Ok(c) => {
                let s = summarise(&c);
                let _ = writeln!(
                    text,
                    "{name:<32} {:<24} {:<12} {:<20} {:>4} {:>6} {:>7} {:>6}  {}{}",
                    s.scenario,
                    s.lab,
                    s.started,
                    s.done,
                    s.failed,
                    s.unknown,
                    s.undone,
                    s.end,
                    if c.torn_tail { ", last line torn" } else { "" }
                );
            }
            Err(e) => {
                unreadable += 1;
                let _ = writeln!(text, "{name:<32} unreadable: {e:#}");
            }
        }
    }
    if more > 0 {
        let _ = writeln!(text, "... and {more} more journals not listed");
    }
    out(&text);
    if unreadable > 0 {
        bail!(
            "{unreadable} of the journals in {} are unreadable",
            dir.display()
        );
    }
    Ok(Outcome::Pass)
}

/// One journal in full: its summary, then every action under its step.
fn render_one(path: &Path, c: &Contents) -> String {
    let s = summarise(c);
    let mut t = String::new();
    let (scenario_file, inventory) = match c.header() {
        Some(Phase::Drill {
            scenario_file,
            inventory_file,
            ..
        }) => (scenario_file.as_str(), inventory_file.as_str()),
        _ => ("?", "?"),
    };
    let _ = writeln!(t, "drill journal {}", path.display());
    let _ = writeln!(t, "  scenario  {} ({scenario_file})", s.scenario);
    let inventory = if inventory.is_empty() {
        "none"
    } else {
        inventory
    };
    let _ = writeln!(t, "  lab       {} (inventory: {inventory})", s.lab);
    let _ = writeln!(t, "  started   {}", s.started);
    let torn = if c.torn_tail {
        "; its last line is torn (the writer died mid-line) and is cut off by the next rollback"
    } else {
        ""
    };
    let _ = writeln!(t, "  end       {}{torn}", s.end);
    let total = s.done + s.failed + s.unknown;
    let _ = writeln!(
        t,
        "  actions   {total}: {} done, {} failed, {} unknown; {} undone; {} to undo by a rollback",
        s.done,
        s.failed,
        s.unknown,
        s.undone,
        c.rollback_plan().len()
    );

    // Per record number: when it began, why it failed, how its undo went.
    let mut began: BTreeMap<u64, f64> = BTreeMap::new();
    let mut commands: BTreeMap<u64, &[String]> = BTreeMap::new();
    let mut errors: BTreeMap<u64, &str> = BTreeMap::new();
    let mut undo_failed: BTreeMap<u64, &str> = BTreeMap::new();
    for r in &c.records {
        match &r.phase {
            Phase::Begin => {
                began.insert(r.n, r.at_s);
                commands.insert(r.n, &r.commands);
            }
            Phase::Failed { error } => {
                errors.insert(r.n, error);
            }
            Phase::UndoFailed { of, error } => {
                undo_failed.insert(*of, error);
            }
            _ => {}
        }
    }
    let mut step: Option<Option<&str>> = None;
    for p in &c.performed() {
        if step != Some(p.step.as_deref()) {
            step = Some(p.step.as_deref());
            let _ = writeln!(t, "\n  step: {}", p.step.as_deref().unwrap_or("(none)"));
        }
        let outcome = match p.succeeded {
            Some(true) => "done".to_string(),
            Some(false) => format!("failed: {}", errors.get(&p.n).unwrap_or(&"?")),
            None => "unknown (no outcome recorded)".to_string(),
        };
        let at = began.get(&p.n).copied().unwrap_or(f64::NAN);
        let _ = writeln!(t, "    #{:<4} {at:>9.3} s  {}", p.n, p.action);
        // What the drill sent for it, as its plan showed it.
        for line in commands.get(&p.n).copied().unwrap_or_default() {
            let _ = writeln!(t, "{:23}sent: {line}", "");
        }
        let _ = writeln!(t, "{:23}outcome: {outcome}", "");
        let undo = match &p.undo {
            Some(u) if p.undone => format!("{u} (undone)"),
            Some(u) => match undo_failed.get(&p.n) {
                Some(e) => format!("{u} (a rollback failed: {e})"),
                None => u.to_string(),
            },
            None => recorded::why_no_undo(&p.action).to_string(),
        };
        let _ = writeln!(t, "{:23}undo: {undo}", "");
    }
    t
}

fn rollback(path: &Path, dry_run: bool, inventory: Option<&Path>) -> Result<Outcome> {
    let c = read(path)?;
    let Some(Phase::Drill {
        scenario_file,
        inventory_file,
        lab,
        ..
    }) = c.header().cloned()
    else {
        bail!(
            "{} has no drill header: not a drill journal",
            path.display()
        );
    };
    if dry_run {
        let report = recorded::plan(path)?;
        out(&render_rollback(&report));
        return Ok(Outcome::Pass);
    }
    let inventory = match inventory {
        Some(i) => i.to_path_buf(),
        None if inventory_file.is_empty() => bail!(
            "the journal names no inventory (a drill of lab {lab:?}); give --inventory FILE, \
             or use --dry-run to see the plan"
        ),
        None => PathBuf::from(&inventory_file),
    };
    let inv = drlab_real::inventory::Inventory::load(&inventory)
        .with_context(|| format!("loading the lab inventory {}", inventory.display()))?;
    let scenario = super::load(Path::new(&scenario_file))
        .with_context(|| format!("loading the drill's scenario {scenario_file}"))?;
    let backend = drlab_drill::lab::connect(inv, &scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // no per-action callback: a spinner with the elapsed time (stderr)
    let progress = Progress::new("drill rollback", None, "actions");
    let doing = format!("undoing the recorded actions on lab {lab}");
    progress.event(&format!("drill rollback: {doing}"), &doing);
    let report = rt
        .block_on(recorded::rollback(&backend, path, false))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.finish();
    out(&render_rollback(&report));
    Ok(if report.failures() == 0 {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// A rollback's plan or result, newest action first.
fn render_rollback(r: &RollbackReport) -> String {
    let mut t = String::new();
    let what = if r.dry_run {
        "rollback plan"
    } else {
        "rollback"
    };
    let state = match (r.drill_ended, r.torn_tail) {
        (true, _) => "the drill ended normally",
        (false, false) => "the drill was interrupted",
        (false, true) => "the drill was interrupted mid-write (last line torn)",
    };
    let _ = writeln!(t, "{what} of {} ({state})", r.journal.display());
    if r.undos.is_empty() {
        let _ = writeln!(t, "  nothing to undo");
    }
    for u in &r.undos {
        let result = match &u.result {
            UndoResult::Planned => "would",
            UndoResult::Done => "done",
            UndoResult::Failed { .. } => "FAILED",
            UndoResult::NotTried => "not tried",
        };
        let outcome = match u.done.succeeded {
            Some(true) => "done",
            Some(false) => "failed",
            None => "outcome unknown",
        };
        let _ = writeln!(t, "  {result:<9}  {}", u.undo);
        let _ = writeln!(
            t,
            "{:13}undoes #{} ({outcome}): {}; step: {}",
            "",
            u.done.n,
            u.done.action,
            u.done.step.as_deref().unwrap_or("none")
        );
        if let UndoResult::Failed { error } = &u.result {
            let _ = writeln!(t, "{:13}error: {error}", "");
        }
    }
    if !r.cancelled.is_empty() {
        let pairs: Vec<String> = r
            .cancelled
            .iter()
            .map(|(a, b)| format!("#{a}/#{b}"))
            .collect();
        let _ = writeln!(
            t,
            "cancelled out during the drill (a later action undid an earlier one; neither is undone): {}",
            pairs.join(", ")
        );
    }
    if !r.irreversible.is_empty() {
        let _ = writeln!(t, "left as they are (no undo):");
        for p in &r.irreversible {
            let _ = writeln!(
                t,
                "  #{} {} ({})",
                p.n,
                p.action,
                recorded::why_no_undo(&p.action)
            );
        }
    }
    if let Some(e) = &r.journal_error {
        let _ = writeln!(
            t,
            "stopped: the journal could not be written ({e}); undos not recorded would be repeated"
        );
    }
    if !r.dry_run {
        let _ = writeln!(
            t,
            "{} undone, {} failed",
            r.undos
                .iter()
                .filter(|u| u.result == UndoResult::Done)
                .count(),
            r.failures()
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab journal lists, under each action, the commands the drill sent
    /// for it (recorded on its `begin`).
    #[test]
    fn a_journal_shows_the_commands_each_action_sent() {
        let text = concat!(
            r#"{"n":1,"at_s":0.0,"utc":"2026-12-01T08:00:00Z","phase":"drill","scenario":"s","scenario_file":"s.toml","inventory_file":"inv.toml","lab":"ci"}"#,
            "\n",
            r#"{"n":2,"at_s":1.5,"utc":"2026-12-01T08:00:01Z","phase":"begin","step":"net start SA","action":{"kind":"start-service","host":"EXCH2","service":"MSExchangeSA"},"undo":{"kind":"stop-service","host":"EXCH2","service":"MSExchangeSA"},"commands":["ssh root@EXCH2: drlab-svc start MSExchangeSA"]}"#,
            "\n",
            r#"{"n":2,"at_s":2.0,"utc":"2026-12-01T08:00:02Z","phase":"ok"}"#,
            "\n",
        );
        let c = journal::parse(Path::new("j.jsonl"), text.as_bytes()).unwrap();
        let shown = render_one(Path::new("j.jsonl"), &c);
        assert!(
            shown.contains("sent: ssh root@EXCH2: drlab-svc start MSExchangeSA"),
            "{shown}"
        );
    }
}
