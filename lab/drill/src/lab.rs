//! A drill on the lab, as the CLI and the lab tests run it: set the estate
//! to the scenario's starting state, journal every state-changing step
//! before it happens, run the scenario's drill (the same engine and runbook
//! as in the simulator) on the lab backend, and report progress as it goes.
//! Also the plan (`--dry-run`): the drill rehearsed in the simulator with
//! each action rendered as the lab commands it would issue.

use std::path::{Path, PathBuf};
use std::time::Duration;

use drlab_drivers::{Clock, Event, EventKind, Recorder, Timestamp};
use drlab_real::inventory::Inventory;
use drlab_real::lab::{IssuedCall, LabBackend, LabError};
use drlab_scenarios::Scenario;

use crate::recorded::{DrillHeader, JournalSink, Known, PlanLine, PlanSink, Recorded, render_plan};

/// A finished lab drill.
#[derive(Debug)]
pub struct LabDrill {
    /// Its events (the report is computed from them).
    pub events: Vec<Event>,
    /// The journal file.
    pub journal: PathBuf,
    /// `Err` when some journal record could not be written.
    pub journal_complete: Result<(), String>,
    /// What the backend planned and sent for each state-changing call, in
    /// call order (the journal's actions, in the same order).
    pub issued: Vec<IssuedCall>,
}

/// Why a lab drill could not run (operating errors of the drill itself are
/// in its events, not here).
#[derive(Debug, thiserror::Error)]
pub enum LabDrillError {
    /// The inventory does not fit the scenario.
    #[error("{0}")]
    Setup(#[from] LabError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The estate could not be set to the scenario's starting state.
    #[error("preparing the lab failed: {0}")]
    Prepare(drlab_drivers::OpError),
    /// The journal could not be created (the drill did not start).
    #[error("{0}")]
    Journal(#[from] crate::journal::JournalError),
    /// The plan's rehearsal failed.
    #[error("planning failed: {0}")]
    Plan(String),
    /// An earlier drill on the same lab was not rolled back: its changes
    /// are still in place, so this drill would start from another estate.
    #[error(
        "lab {lab} still carries {pending} changes of the drill journalled in {} (an IP takeover among them would make the old address answer as another host); roll it back first: drlab drill rollback {}",
        journal.display(),
        journal.display()
    )]
    NotRolledBack {
        /// The lab.
        lab: String,
        /// The earlier drill's journal.
        journal: PathBuf,
        /// How many of its actions are still to undo.
        pending: usize,
    },
}

/// Refuses a drill on a lab that an earlier drill journalled in `dir` left
/// changed (actions its rollback plan would still undo). Journals of other
/// labs are not this drill's business; an unreadable journal of the
/// directory is an error, since it may be this lab's.
pub fn check_rolled_back(dir: &Path, lab: &str) -> Result<(), LabDrillError> {
    let unreadable = |e: std::io::Error| {
        LabDrillError::Journal(crate::journal::JournalError::Io {
            path: dir.to_path_buf(),
            source: e,
        })
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // no journal directory yet: no earlier drill here
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut journals: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|x| x == "jsonl") {
            journals.push(path);
        }
    }
    journals.sort();
    for path in journals {
        let contents = crate::journal::read(&path)?;
        let ours = matches!(
            contents.header(),
            Some(crate::journal::Phase::Drill { lab: l, .. }) if l == lab
        );
        let pending = contents.rollback_plan().len();
        if ours && pending > 0 {
            return Err(LabDrillError::NotRolledBack {
                lab: lab.to_string(),
                journal: path,
                pending,
            });
        }
    }
    Ok(())
}

/// What a drill needs besides the scenario.
#[derive(Debug, Clone)]
pub struct LabDrillOptions<'a> {
    /// The scenario file (named in the journal).
    pub scenario_file: &'a Path,
    /// The inventory file (named in the journal).
    pub inventory_file: &'a Path,
    /// Recorded in the drill's start event.
    pub seed: u64,
    /// Where the journal goes.
    pub journal_dir: &'a Path,
}

/// The lab backend for `s` on the lab of `inv` (see
/// [`LabBackend::connect`]): every host and client the scenario names must
/// be in the inventory. Opens no connection yet.
pub fn connect(inv: Inventory, s: &Scenario) -> Result<LabBackend, LabError> {
    LabBackend::connect(inv, crate::estate::of(s))
}

/// A one-line description of a milestone event, for progress output.
pub fn milestone(e: &Event) -> Option<String> {
    Some(match &e.kind {
        EventKind::FaultInjected { fault, target } => format!("fault {fault} on {target}"),
        EventKind::FaultFailed {
            fault,
            target,
            error,
        } => {
            format!("fault {fault} on {target} FAILED: {error}")
        }
        EventKind::FailureDetected { host, missed } => {
            format!("{host} declared failed after {missed} missed heartbeats")
        }
        EventKind::FailoverEngaged { by } => format!("failover engaged ({by:?})"),
        EventKind::StepStarted { step } => format!("step: {step}"),
        EventKind::StepFinished {
            step,
            outcome: drlab_drivers::StepOutcome::Failed { error },
        } => format!("step FAILED: {step}: {error}"),
        EventKind::StateChanged { to, .. } => format!("state: {to}"),
        EventKind::RunbookFinished { ok, .. } => format!("runbook finished (ok: {ok})"),
        EventKind::Alert { message } => format!("ALERT: {message}"),
        EventKind::DrillEnded { reason } => format!("drill ended: {reason}"),
        _ => return None,
    })
}

/// Runs `s` on the lab of `inv`. `progress` receives set-up lines and
/// milestones (with drill time) as they happen.
pub fn run(
    inv: Inventory,
    s: &Scenario,
    opts: &LabDrillOptions<'_>,
    progress: &dyn Fn(&str),
) -> Result<LabDrill, LabDrillError> {
    let lab_name = inv.lab.name.clone();
    check_rolled_back(opts.journal_dir, &lab_name)?;
    // The journal shows each action's operations as the plan does: the
    // backend's own builders, for the backend's inventory and estate.
    let renderer = crate::render::render(&inv, s);
    let mut backend = connect(inv, s)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LabDrillError::Runtime)?;
    progress(&format!("preparing lab {lab_name} for {}", s.scenario.name));
    for line in rt
        .block_on(backend.prepare())
        .map_err(LabDrillError::Prepare)?
    {
        progress(&format!("  {line}"));
    }
    let stamp = crate::journal::utc_now().replace([':', '-'], "");
    let journal = opts.journal_dir.join(format!(
        "{}-{stamp}-{}.jsonl",
        s.scenario.name,
        std::process::id()
    ));
    let header = DrillHeader {
        scenario: s.scenario.name.clone(),
        scenario_file: opts.scenario_file.display().to_string(),
        inventory_file: opts.inventory_file.display().to_string(),
        lab: lab_name,
    };
    backend.restart_clock();
    let sink = JournalSink::create(&journal, &header, backend.now())?
        .with_commands(move |a| renderer.render(a));
    progress(&format!("journal: {}", journal.display()));
    let rec = Recorder::new();
    let recorded = Recorded::new(&backend, &sink, &rec, Known::from_scenario(s));
    rt.block_on(async {
        let mut drill = std::pin::pin!(drlab_scenarios::drill::run(&recorded, s, opts.seed, &rec));
        let mut shown = 0;
        let show = |from: usize| {
            for e in rec.events_since(from) {
                if let Some(m) = milestone(&e) {
                    progress(&format!("[{:>8.3}s] {m}", e.at.as_secs_f64()));
                }
            }
            rec.len()
        };
        loop {
            let tick = std::pin::pin!(tokio::time::sleep(Duration::from_millis(200)));
            match futures::future::select(drill.as_mut(), tick).await {
                futures::future::Either::Left(((), _)) => break,
                futures::future::Either::Right(((), _)) => shown = show(shown),
            }
        }
        show(shown);
    });
    let events = rec.into_events();
    let reason = events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::DrillEnded { reason } => Some(reason.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "ended".into());
    let end = events.last().map_or(Timestamp::ZERO, |e| e.at);
    let journal_complete = sink
        .finish(end, &reason)
        .map(|_| ())
        .map_err(|e| e.to_string());
    Ok(LabDrill {
        events,
        journal,
        journal_complete,
        issued: backend.issued(),
    })
}

/// The plan of a drill of `s` on the lab of `inv`, action by action: the
/// drill rehearsed in the simulator (so branches and waits are realistic),
/// each state-changing action with the operations the lab backend performs
/// for it (its own builders, [`crate::render`]). Connects to nothing and
/// reads no credential.
pub fn plan_lines(
    inv: &Inventory,
    s: &Scenario,
    seed: u64,
) -> Result<Vec<PlanLine>, LabDrillError> {
    for h in &s.hosts {
        if inv.host(&h.name).is_none() {
            return Err(LabError::Missing {
                kind: "host",
                name: h.name.clone(),
            }
            .into());
        }
    }
    let renderer = crate::render::render(inv, s);
    let sink = PlanSink::new(|a| renderer.render(a));
    let sim = drlab_sim::SimBackend::new(drlab_sim::world::World::build(s, seed));
    let rec = Recorder::new();
    let recorded = Recorded::new(&sim, &sink, &rec, Known::from_scenario(s));
    drlab_sim::block_on(
        sim.clock(),
        drlab_scenarios::drill::run(&recorded, s, seed, &rec),
        drlab_sim::POLLS_MAX,
    )
    .map_err(|e| LabDrillError::Plan(e.to_string()))?;
    Ok(sink.into_lines())
}

/// The plan of [`plan_lines`] as text, with a header saying what it covers.
pub fn plan(
    inv: &Inventory,
    inventory_file: &Path,
    s: &Scenario,
    scenario_file: &Path,
    seed: u64,
) -> Result<String, LabDrillError> {
    let lines = plan_lines(inv, s, seed)?;
    let hosts: Vec<String> = s
        .hosts
        .iter()
        .filter_map(|h| {
            inv.host(&h.name)
                .map(|e| format!("{} ({})", h.name, e.address))
        })
        .collect();
    let mut text = format!(
        "plan of {} on lab {} (inventory {})\n\
         hosts touched: {}\n\
         monitoring: heartbeats every {} s, failure after {} missed; decision: {:?}\n\
         workload: {} and a probe every {} ms through {} as client {}\n\
         times are the simulator's estimate; commands carry no secret (passwords go on stdin)\n\n",
        scenario_file.display(),
        inv.lab.name,
        inventory_file.display(),
        hosts.join(", "),
        s.policy.heartbeat_interval_s,
        s.policy.missed_heartbeats,
        s.policy.decision,
        s.workload.arrivals_text(),
        s.workload.probe_interval_ms,
        s.workload.service_name,
        s.workload.client,
    );
    text += &render_plan(&lines);
    Ok(text)
}
