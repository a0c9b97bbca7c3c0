//! `drlab run`: one scenario, one drill, one report. On the simulator the
//! drill is replayable from its seed; on the lab (`--backend lab`) the same
//! runbook drives the inventory's real hosts, every state-changing step is
//! journalled before it happens, and `--dry-run` prints the plan first.

use std::path::Path;

use std::cell::Cell;

use anyhow::{Context, Result, bail};
use drlab_drivers::{Event, EventKind};
use drlab_real::inventory::Inventory;
use drlab_reports::{Report, Verdict};

use super::{load, out};
use crate::Outcome;
use crate::cli::{BackendKind, Format};
use crate::output::{RUN_ARTEFACTS, write_set};
use crate::progress::Progress;

/// What `drlab run` was asked.
pub struct RunArgs<'a> {
    pub scenario: &'a Path,
    pub seed: Option<u64>,
    pub format: Format,
    pub out: Option<&'a Path>,
    pub backend: BackendKind,
    pub inventory: Option<&'a Path>,
    pub dry_run: bool,
    pub journal_dir: &'a Path,
}

pub fn run(a: &RunArgs<'_>) -> Result<Outcome> {
    // Parse and validate everything before touching anything.
    let s = load(a.scenario)?;
    let seed = a.seed.unwrap_or(s.scenario.seed);
    match (a.backend, a.inventory, a.dry_run) {
        (BackendKind::Sim, Some(_), _) => bail!("--inventory is for --backend lab"),
        (BackendKind::Sim, None, true) => {
            bail!("--dry-run plans a lab drill; add --backend lab --inventory FILE")
        }
        (BackendKind::Lab, None, _) => bail!("--backend lab needs --inventory FILE"),
        _ => {}
    }
    // The HTML page and events.jsonl need the events; otherwise the report
    // is folded as the run records them and none is kept.
    let keep = a.out.is_some() || a.format == Format::Html;
    let ran = match (a.backend, a.inventory) {
        (BackendKind::Lab, Some(inv_path)) => {
            let inv = Inventory::load(inv_path).map_err(|e| anyhow::anyhow!("{e}"))?;
            if a.dry_run {
                out(
                    &drlab_drill::lab::plan(&inv, inv_path, &s, a.scenario, seed)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                return Ok(Outcome::Pass);
            }
            let progress = DrillProgress::new(planned_steps(&s, seed));
            let say = |m: &str| progress.line(m);
            let opts = drlab_drill::lab::LabDrillOptions {
                scenario_file: a.scenario,
                inventory_file: inv_path,
                seed,
                journal_dir: a.journal_dir,
            };
            let drill =
                drlab_drill::lab::run(inv, &s, &opts, &say).map_err(|e| anyhow::anyhow!("{e}"))?;
            match &drill.journal_complete {
                Ok(()) => say(&format!("journal complete: {}", drill.journal.display())),
                Err(e) => say(&format!(
                    "WARNING: the journal is incomplete ({e}); `drlab drill journal {}` shows what it holds",
                    drill.journal.display()
                )),
            }
            progress.p.finish();
            Ran::Kept(drill.events)
        }
        _ => {
            let failed = || {
                format!(
                    "simulation of {} with seed {seed} failed",
                    a.scenario.display()
                )
            };
            if keep {
                Ran::Kept(drlab_sim::run(&s, seed).with_context(failed)?.events)
            } else {
                Ran::Folded(
                    super::simulate_report(&drlab_sim::Prepared::new(&s), seed)
                        .with_context(failed)?
                        .0,
                )
            }
        }
    };
    report(ran, a.format, a.out, a.scenario)
}

/// What a run leaves to report: its events, kept for the HTML page and
/// `events.jsonl`, or only the report folded from them as they passed.
enum Ran {
    Kept(Vec<Event>),
    Folded(Report),
}

/// The steps a lab drill plans: those its rehearsal in the simulator
/// with the same seed starts (as `--dry-run` plans it); `None` when the
/// rehearsal fails. A drill that takes another branch may run more.
fn planned_steps(s: &drlab_scenarios::Scenario, seed: u64) -> Option<u64> {
    let sim = drlab_sim::run(s, seed).ok()?;
    let started = sim
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StepStarted { .. }))
        .count();
    Some(started as u64)
}

/// A lab drill's progress, from the lines `drlab_drill::lab::run` says:
/// every line kept on stderr as `drlab: LINE` (above the bar on a
/// terminal), and on a terminal a bar of the steps done out of those
/// planned, with the drill's elapsed time (from its journal's start) and
/// its latest milestone.
struct DrillProgress {
    p: Progress,
    planned: Option<u64>,
    /// Steps started so far.
    started: Cell<u64>,
}

impl DrillProgress {
    fn new(planned: Option<u64>) -> DrillProgress {
        Self::on(Progress::new("drill", planned, "steps"), planned)
    }

    fn on(p: Progress, planned: Option<u64>) -> DrillProgress {
        DrillProgress {
            p,
            planned,
            started: Cell::new(0),
        }
    }

    fn line(&self, m: &str) {
        self.p.note(&format!("drlab: {m}"));
        if m.starts_with("journal: ") {
            // the drill's clock starts with its journal
            self.p.reset_elapsed();
            self.p.set_message("drill started");
            return;
        }
        let Some(milestone) = milestone_of(m) else {
            self.p.set_message(m.trim());
            return;
        };
        if milestone.starts_with("step: ") {
            let n = self.started.get() + 1;
            self.started.set(n);
            if self.planned.is_some_and(|p| n > p) {
                self.p.set_length(n);
            }
            // the step that starts is not done yet
            self.p.set_position(n - 1);
        } else if milestone.starts_with("runbook finished") || milestone.starts_with("drill ended")
        {
            self.p.set_position(self.started.get());
        }
        self.p.set_message(milestone);
    }
}

/// The milestone of a drill line `[   1.234s] step: X` (`step: X`), as
/// `drlab_drill::lab::run` prints a milestone with its drill time.
fn milestone_of(line: &str) -> Option<&str> {
    let (at, rest) = line.strip_prefix('[')?.split_once("s] ")?;
    at.trim().parse::<f64>().ok()?;
    Some(rest)
}

/// Prints the report and writes the artefacts; the verdict decides the
/// outcome. The HTML page's replay command names `scenario` as given.
/// `--format html` and `dir` need the events kept.
fn report(ran: Ran, format: Format, dir: Option<&Path>, scenario: &Path) -> Result<Outcome> {
    let (report, events) = match ran {
        Ran::Kept(events) => (Report::from_events(&events), Some(events)),
        Ran::Folded(report) => (report, None),
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let html = || -> Result<String> {
        let events = events
            .as_deref()
            .context("the HTML page needs the run's events, which were not kept")?;
        Ok(drlab_reports::html(
            &report,
            events,
            &scenario.to_string_lossy(),
        ))
    };
    out(&match format {
        Format::Text => drlab_reports::text(&report),
        Format::Json => json.clone(),
        Format::Md => drlab_reports::markdown(&report),
        Format::Html => html()?,
    });
    if let Some(dir) = dir {
        let events = events
            .as_deref()
            .context("events.jsonl needs the run's events, which were not kept")?;
        let lines = drlab_reports::events_to_jsonl(events)?;
        let md = drlab_reports::markdown(&report);
        let junit = drlab_reports::junit(std::slice::from_ref(&report));
        let page = html()?;
        // One set, swapped in whole: the files always belong to one run.
        write_set(
            dir,
            &[
                ("events.jsonl", lines.as_bytes()),
                ("report.md", md.as_bytes()),
                ("report.html", page.as_bytes()),
                ("junit.xml", junit.as_bytes()),
                ("report.json", json.as_bytes()),
            ],
            RUN_ARTEFACTS,
        )?;
    }
    Ok(match report.verdict {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drlab_drivers::Timestamp;

    #[test]
    fn drill_lines_give_their_milestones() {
        // the line as `drlab_drill::lab::run` prints a milestone
        let e = Event {
            at: Timestamp::from_secs_f64(12.345),
            kind: EventKind::StepStarted {
                step: "promote standby".into(),
            },
        };
        let m = drlab_drill::lab::milestone(&e).unwrap();
        let line = format!("[{:>8.3}s] {m}", e.at.as_secs_f64());
        assert_eq!(milestone_of(&line), Some("step: promote standby"));
        assert_eq!(milestone_of("journal: /tmp/x.jsonl"), None);
        assert_eq!(milestone_of("  [dc1] ready"), None);
    }

    #[test]
    fn the_plan_counts_the_rehearsed_steps() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/library/lan-failover.toml");
        let s = load(&path).unwrap();
        let n = planned_steps(&s, s.scenario.seed).unwrap();
        assert!(n > 0, "{n}");
        // a drill line feeds the counter without panicking past the plan
        let p = DrillProgress::on(Progress::hidden("drill", Some(1), "steps"), Some(1));
        for _ in 0..3 {
            p.line("[   1.000s] step: x");
        }
        p.line("[   2.000s] runbook finished (ok: true)");
        assert_eq!(p.started.get(), 3);
    }
}
