//! `drlab run`: one scenario, one drill, one report. On the simulator the
//! drill is replayable from its seed; on the lab (`--backend lab`) the same
//! runbook drives the inventory's real hosts, every state-changing step is
//! journalled before it happens, and `--dry-run` prints the plan first.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use drlab_drivers::Event;
use drlab_real::inventory::Inventory;
use drlab_reports::{Report, Verdict};

use super::{load, out};
use crate::Outcome;
use crate::cli::{BackendKind, Format};
use crate::output::{RUN_ARTEFACTS, write_set};

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
    let events = match (a.backend, a.inventory) {
        (BackendKind::Lab, Some(inv_path)) => {
            let inv = Inventory::load(inv_path).map_err(|e| anyhow::anyhow!("{e}"))?;
            if a.dry_run {
                out(
                    &drlab_drill::lab::plan(&inv, inv_path, &s, a.scenario, seed)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                return Ok(Outcome::Pass);
            }
            let say = |m: &str| {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("drlab: {m}");
                }
            };
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
            drill.events
        }
        _ => {
            drlab_sim::run(&s, seed)
                .with_context(|| {
                    format!(
                        "simulation of {} with seed {seed} failed",
                        a.scenario.display()
                    )
                })?
                .events
        }
    };
    report(&events, a.format, a.out, a.scenario)
}

/// Prints the report and writes the artefacts; the verdict decides the
/// outcome. The HTML page's replay command names `scenario` as given.
fn report(
    events: &[Event],
    format: Format,
    dir: Option<&Path>,
    scenario: &Path,
) -> Result<Outcome> {
    let report = Report::from_events(events);
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let html = || drlab_reports::html(&report, events, &scenario.to_string_lossy());
    out(&match format {
        Format::Text => drlab_reports::text(&report),
        Format::Json => json.clone(),
        Format::Md => drlab_reports::markdown(&report),
        Format::Html => html(),
    });
    if let Some(dir) = dir {
        let mut lines = String::new();
        for e in events {
            let _ = writeln!(lines, "{}", serde_json::to_string(e)?);
        }
        let md = drlab_reports::markdown(&report);
        let junit = drlab_reports::junit(std::slice::from_ref(&report));
        let page = html();
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
