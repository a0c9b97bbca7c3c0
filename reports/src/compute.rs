//! From events to a report. Definitions (design §2.2):
//! - T0: the first fault (not a repair) takes effect.
//! - Restored: the first of N consecutive successful end-user probes after
//!   the outage began (N from the drill's start event). If no probe failed
//!   after T0, the service never went down and RTO is 0.
//! - Served at the end: the drill's last N probes succeeded. A drill that
//!   restored users but ends with them cut off again (a second failure that
//!   nothing recovered) fails: its RTO is measured, its users are not served.
//! - RTO = Restored − T0, split into detection, decision, execution and
//!   propagation, each clipped at Restored so they always sum to RTO.
//! - Lost writes: acknowledged but absent from the serving site's read-back.
//!   RPO = end of the loss window − the oldest lost write, where the window
//!   ends at T0 or at the newest lost write if that is later; at least 1 ms
//!   (the reports' resolution) when anything was lost, so RPO is 0 exactly
//!   when nothing was.

use std::collections::{BTreeMap, VecDeque};

use drlab_drivers::event::{Decision, StepOutcome, trace_hash};
use drlab_drivers::{DrState, Event, EventKind, EventSink, SeqSet, Timestamp, TraceDigest};
use serde::{Deserialize, Serialize};

use crate::secs;

/// Pass or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every objective met, nothing broke.
    Pass,
    /// At least one reason in `reasons`.
    Fail,
}

/// The objectives the drill was judged against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    /// RTO objective.
    pub rto_s: f64,
    /// RPO objective.
    pub rpo_s: f64,
    /// Objective for the failover itself (Engaging Secondary 210 to
    /// Secondary Engaged 214), when the scenario sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_s: Option<f64>,
}

/// Where the recovery time went.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// T0 → failure declared.
    pub detection_s: f64,
    /// Declared → failover engaged.
    pub decision_s: f64,
    /// Engaged → runbook finished.
    pub execution_s: f64,
    /// Runbook finished → users served (caches, probes).
    pub propagation_s: f64,
}

/// Milestones, in drill seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The fault took effect.
    pub t0_s: Option<f64>,
    /// Monitoring declared failure.
    pub detected_s: Option<f64>,
    /// Failover engaged.
    pub engaged_s: Option<f64>,
    /// Runbook finished.
    pub runbook_finished_s: Option<f64>,
    /// Users served again.
    pub restored_s: Option<f64>,
    /// Drill over.
    pub ended_s: f64,
}

/// One runbook step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    /// Name.
    pub name: String,
    /// Start.
    pub start_s: f64,
    /// Duration (to the end of the drill if it never finished).
    pub duration_s: f64,
    /// `ok`, `failed`, `skipped` or `unfinished`.
    #[serde(deserialize_with = "crate::read::step_outcome")]
    pub outcome: crate::read::Label,
    /// Error or skip reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One state of the two-site system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateLine {
    /// Entered at.
    pub at_s: f64,
    /// Console label.
    #[serde(deserialize_with = "crate::read::state_label")]
    pub state: crate::read::Label,
    /// Patent reference number.
    pub code: u16,
    /// Transition that led here (none for the initial state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<u16>,
}

/// How one watched client population followed a name that failed over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientLine {
    /// The population.
    pub client: String,
    /// Its resolver's cache policy.
    pub resolver: String,
    /// The name watched.
    pub name: String,
    /// When the watch began (the DNS records had changed).
    pub watched_s: f64,
    /// When its resolver first answered the new address (None: never).
    pub redirected_s: Option<f64>,
    /// Redirection time after the DNS change: how long stale answers lived.
    pub stale_s: Option<f64>,
    /// Redirection time after T0: these users' own recovery time.
    pub after_t0_s: Option<f64>,
}

/// An alert or broken invariant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When.
    pub at_s: f64,
    /// What.
    pub message: String,
}

/// A fault as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultLine {
    /// When.
    pub at_s: f64,
    /// Kind.
    pub fault: String,
    /// Target.
    pub target: String,
    /// Why injection failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Workload counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteCounts {
    /// Acknowledged writes.
    pub acked: u64,
    /// Writes that failed (not acknowledged, not counted as lost).
    pub failed: u64,
    /// Records the serving site holds after recovery.
    pub held: u64,
    /// Successful probes.
    pub probes_ok: u64,
    /// Failed probes.
    pub probes_failed: u64,
}

/// The report of one drill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// `sim` or `lab`.
    pub backend: String,
    /// Seed.
    pub seed: u64,
    /// Runbook.
    pub runbook: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why it failed, each a sentence a person can act on.
    pub reasons: Vec<String>,
    /// Objectives.
    pub objectives: Objectives,
    /// RTO (None when users were never served again).
    pub rto_s: Option<f64>,
    /// Where the RTO went.
    pub rto_breakdown: Option<Breakdown>,
    /// RPO (None when the read-back failed).
    pub rpo_s: Option<f64>,
    /// Acknowledged writes missing after recovery.
    pub lost_writes: u64,
    /// Their bytes.
    pub lost_bytes: u64,
    /// Lost sequence numbers as inclusive ranges.
    #[serde(deserialize_with = "crate::read::lost_seqs")]
    pub lost_seqs: SeqSet,
    /// How failover was engaged.
    pub decision: Option<Decision>,
    /// Milestones.
    pub timeline: Timeline,
    /// Workload counts.
    pub workload: WriteCounts,
    /// Faults.
    pub faults: Vec<FaultLine>,
    /// Runbook steps.
    pub steps: Vec<StepLine>,
    /// Two-site states.
    pub states: Vec<StateLine>,
    /// Duration of the failover (Engaging Secondary 210 to Secondary
    /// Engaged 214), reported when the scenario sets an objective for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_s: Option<f64>,
    /// Duration of the switch-back (Engaging Primary 222 to ReSync
    /// Secondary 226), judged against the same objective, when one happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch_back_s: Option<f64>,
    /// Client populations watched after a DNS change, with their propagation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientLine>,
    /// Archives, refused operations, the restored image, degraded time.
    #[serde(flatten)]
    pub recovery: crate::recovery::Recovery,
    /// Alerts and broken invariants.
    pub alerts: Vec<Alert>,
    /// Why the drill stopped.
    pub end_reason: String,
    /// Number of events.
    pub events: usize,
    /// Hash of the event trace.
    pub trace_hash: String,
}

/// A client population being followed after a DNS change.
#[derive(Debug)]
struct Watched {
    client: String,
    resolver: String,
    name: String,
    from: Timestamp,
    redirected: Option<Timestamp>,
}

fn at(e: &Event) -> f64 {
    e.at.secs_ms()
}

fn span(a: Timestamp, b: Timestamp) -> f64 {
    secs(b.as_micros().saturating_sub(a.as_micros()))
}

impl Report {
    /// Computes the report of a trace: a fold over its events, in order
    /// ([`ReportFold`]).
    pub fn from_events(events: &[Event]) -> Report {
        let mut fold = ReportFold::new();
        for e in events {
            fold.observe(e);
        }
        fold.finish(events.len(), trace_hash(events))
    }

    /// The report before any event: nothing known, nothing judged.
    fn empty(events: usize, trace_hash: String) -> Report {
        Report {
            scenario: String::new(),
            backend: String::new(),
            seed: 0,
            runbook: String::new(),
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            objectives: Objectives {
                rto_s: 0.0,
                rpo_s: 0.0,
                failover_s: None,
            },
            rto_s: None,
            rto_breakdown: None,
            rpo_s: None,
            lost_writes: 0,
            lost_bytes: 0,
            lost_seqs: SeqSet::new(),
            decision: None,
            timeline: Timeline::default(),
            workload: WriteCounts::default(),
            faults: Vec::new(),
            steps: Vec::new(),
            states: vec![StateLine {
                at_s: 0.0,
                state: DrState::Normal.label(),
                code: DrState::Normal.code(),
                via: None,
            }],
            failover_s: None,
            switch_back_s: None,
            clients: Vec::new(),
            recovery: crate::recovery::Recovery::default(),
            alerts: Vec::new(),
            end_reason: NOT_ENDED.into(),
            events,
            trace_hash,
        }
    }
}

/// The report of a run computed as its events are recorded: the
/// [`ReportFold`] with the trace's count and hash ([`TraceDigest`]),
/// keeping no event. [`ReportSink::finish`] gives the report
/// [`Report::from_events`] gives for the same events.
#[derive(Debug, Default)]
pub struct ReportSink {
    fold: ReportFold,
    digest: TraceDigest,
}

impl ReportSink {
    /// The sink before any event.
    pub fn new() -> ReportSink {
        ReportSink::default()
    }

    /// [`ReportFold::runs_kept`] of its fold.
    pub fn runs_kept(&self) -> usize {
        self.fold.runs_kept()
    }

    /// The report of the events taken so far.
    pub fn finish(self) -> Report {
        let (events, hash) = (self.digest.events(), self.digest.hash());
        self.fold.finish(events, hash)
    }
}

impl EventSink for ReportSink {
    fn accept(&mut self, e: Event) {
        self.digest.observe(&e);
        self.fold.observe(&e);
    }
}

/// Whether a fault kind repairs an earlier fault (it opens no outage).
pub(crate) fn is_repair(fault: &str) -> bool {
    drlab_drivers::types::REPAIR_KINDS.contains(&fault)
}

/// The smallest RPO a loss is reported as: the reports' resolution.
const RPO_RESOLUTION_S: f64 = 0.001;

/// `end_reason` until a drill-ended event says otherwise.
const NOT_ENDED: &str = "drill did not end";

/// The report as a fold over a trace: [`ReportFold::observe`] each event
/// in order, then [`ReportFold::finish`] judges what was gathered. The
/// milestones are those of the module documentation. [`Report::from_events`]
/// is this fold over a slice; [`ReportSink`] folds a run's events as they
/// are recorded, keeping none.
#[derive(Debug)]
pub struct ReportFold {
    r: Report,
    started: bool,
    needed: u32,
    t0: Option<Timestamp>,
    detected: Option<Timestamp>,
    engaged: Option<Timestamp>,
    finished: Option<Timestamp>,
    end: Timestamp,
    runbook_failure: Option<String>,
    broken: Vec<String>,
    acked: crate::tally::Acked,
    held: Option<SeqSet>,
    probes: crate::tally::Probes,
    /// Steps started and not finished, per name in the order they
    /// started (a finish closes the oldest of its name), each with its
    /// place among all starts: a lookup per event, not a scan.
    open_steps: BTreeMap<String, VecDeque<(u64, Timestamp)>>,
    starts: u64,
    recovery: crate::recovery::Collector,
    failover_limit: Option<u64>,
    engaging_from: Option<Timestamp>,
    engaged_at: Option<Timestamp>,
    back_from: Option<Timestamp>,
    back_at: Option<Timestamp>,
    watched: Vec<Watched>,
}

impl Default for ReportFold {
    fn default() -> ReportFold {
        ReportFold::new()
    }
}

impl ReportFold {
    /// The fold before any event.
    pub fn new() -> ReportFold {
        ReportFold {
            r: Report::empty(0, String::new()),
            started: false,
            needed: 1,
            t0: None,
            detected: None,
            engaged: None,
            finished: None,
            end: Timestamp::ZERO,
            runbook_failure: None,
            broken: Vec::new(),
            acked: crate::tally::Acked::default(),
            held: None,
            probes: crate::tally::Probes::default(),
            open_steps: BTreeMap::new(),
            starts: 0,
            recovery: crate::recovery::Collector::default(),
            failover_limit: None,
            engaging_from: None,
            engaged_at: None,
            back_from: None,
            back_at: None,
            watched: Vec::new(),
        }
    }

    /// What the fold keeps beyond about 4 bytes per acknowledged write:
    /// runs of probes with one outcome and runs of consecutive acknowledged
    /// writes, as many as the outcomes change and the sequence has gaps,
    /// however long the drill ([`crate::tally`]).
    pub fn runs_kept(&self) -> usize {
        self.probes.runs().len() + self.acked.runs()
    }

    /// Takes in one event (events come in time order).
    pub fn observe(&mut self, e: &Event) {
        self.end = e.at;
        match &e.kind {
            EventKind::DrillStarted {
                scenario,
                backend,
                seed,
                runbook,
                probe_successes_required,
                rto_objective_us,
                rpo_objective_us,
            } => {
                self.started = true;
                let r = &mut self.r;
                r.scenario = scenario.to_string();
                r.backend = backend.to_string();
                r.seed = *seed;
                r.runbook = runbook.to_string();
                self.needed = (*probe_successes_required).max(1);
                r.objectives = Objectives {
                    rto_s: secs(*rto_objective_us),
                    rpo_s: secs(*rpo_objective_us),
                    failover_s: None,
                };
            }
            EventKind::FaultInjected { fault, target } => {
                if !is_repair(fault) {
                    self.t0.get_or_insert(e.at);
                }
                self.fault_line(e, fault, target, None);
            }
            EventKind::FaultFailed {
                fault,
                target,
                error,
            } => {
                self.fault_line(e, fault, target, Some(error.to_string()));
                self.r.reasons.push(format!(
                    "fault {fault} on {target} could not be injected ({error}); the drill did not test what it claims"
                ));
            }
            EventKind::PlannedOutage { what } => {
                // A planned outage has nothing to detect: it is T0 and its
                // own detection.
                if self.t0.is_none() {
                    self.t0 = Some(e.at);
                    self.detected.get_or_insert(e.at);
                }
                self.fault_line(e, "planned-outage", what, None);
            }
            EventKind::FailureDetected { .. } => {
                self.detected.get_or_insert(e.at);
            }
            EventKind::FailoverEngaged { by } => {
                self.engaged.get_or_insert(e.at);
                self.r.decision.get_or_insert(*by);
            }
            EventKind::StepStarted { step } => {
                let place = self.starts;
                self.starts += 1;
                self.open_steps
                    .entry(step.to_string())
                    .or_default()
                    .push_back((place, e.at));
            }
            EventKind::StepFinished { step, outcome } => self.step_finished(e.at, step, outcome),
            EventKind::StateChanged { to, transition, .. } => {
                self.state_changed(e, *to, *transition)
            }
            EventKind::WriteAcked { seq, bytes } => {
                self.r.workload.acked += 1;
                self.acked.insert(*seq, e.at, *bytes);
            }
            EventKind::WriteFailed { .. } => self.r.workload.failed += 1,
            EventKind::ProbeOk => {
                self.r.workload.probes_ok += 1;
                self.probes.push(e.at, true);
            }
            EventKind::ProbeFailed { .. } => {
                self.r.workload.probes_failed += 1;
                self.probes.push(e.at, false);
            }
            // Several read-backs (a DAG's members): held by any is held.
            EventKind::ReadBack { held, .. } => match &mut self.held {
                Some(all) => all.union_with(held),
                None => self.held = Some(held.clone()),
            },
            EventKind::Alert { message } => self.r.alerts.push(Alert {
                at_s: at(e),
                message: message.to_string(),
            }),
            EventKind::InvariantBroken { what } => {
                self.r.alerts.push(Alert {
                    at_s: at(e),
                    message: format!("invariant broken: {what}"),
                });
                self.broken.push(what.to_string());
            }
            EventKind::RunbookFinished { ok, reason, .. } => {
                self.finished.get_or_insert(e.at);
                if !ok {
                    self.runbook_failure =
                        Some(reason.as_deref().unwrap_or("no reason given").to_string());
                }
            }
            EventKind::DrillEnded { reason } => self.r.end_reason = reason.to_string(),
            EventKind::FailoverObjective { limit_us } => {
                self.failover_limit = Some(*limit_us);
                self.r.objectives.failover_s = Some(secs(*limit_us));
            }
            EventKind::ClientWatched {
                client,
                name,
                resolver,
            } => self.watched.push(Watched {
                client: client.to_string(),
                resolver: resolver.to_string(),
                name: name.to_string(),
                from: e.at,
                redirected: None,
            }),
            EventKind::ClientRedirected { client, .. } => {
                if let Some(w) = self
                    .watched
                    .iter_mut()
                    .find(|w| w.client == **client && w.redirected.is_none())
                {
                    w.redirected = Some(e.at);
                }
            }
            EventKind::HeartbeatOk { .. }
            | EventKind::HeartbeatMissed { .. }
            | EventKind::AgentReport { .. }
            | EventKind::WriteServed { .. }
            | EventKind::ReplicaHeld { .. }
            | EventKind::ServiceRequires { .. }
            | EventKind::HostServices { .. }
            | EventKind::ServiceRequested { .. } => {}
            EventKind::ArchiveTaken { .. }
            | EventKind::ArchiveFailed { .. }
            | EventKind::OperationRefused { .. }
            | EventKind::ImageRestored { .. }
            | EventKind::DegradedStarted { .. }
            | EventKind::DegradedEnded { .. }
            | EventKind::DegradedObjective { .. } => self.recovery.observe(e),
        }
    }

    fn fault_line(&mut self, e: &Event, fault: &str, target: &str, error: Option<String>) {
        self.r.faults.push(FaultLine {
            at_s: at(e),
            fault: fault.to_string(),
            target: target.to_string(),
            error,
        });
    }

    fn step_finished(&mut self, at: Timestamp, step: &str, outcome: &StepOutcome) {
        let start = self
            .open_steps
            .get_mut(step)
            .and_then(VecDeque::pop_front)
            .map_or(at, |(_, t)| t);
        let (outcome, detail) = match outcome {
            StepOutcome::Ok => ("ok", None),
            StepOutcome::Failed { error } => ("failed", Some(error.to_string())),
            StepOutcome::Skipped { reason } => ("skipped", Some(reason.to_string())),
        };
        self.r.steps.push(StepLine {
            name: step.to_string(),
            start_s: start.secs_ms(),
            duration_s: span(start, at),
            outcome,
            detail,
        });
    }

    /// Records the state and the edges that time the failover (210 → 214)
    /// and the switch-back (222 → 226).
    fn state_changed(&mut self, e: &Event, to: DrState, transition: drlab_drivers::Transition) {
        if to == DrState::EngagingSecondary && self.engaging_from.is_none() {
            self.engaging_from = Some(e.at);
        }
        if to == DrState::SecondaryEngaged
            && self.engaging_from.is_some()
            && self.engaged_at.is_none()
        {
            self.engaged_at = Some(e.at);
        }
        if to == DrState::EngagingPrimary && self.back_from.is_none() {
            self.back_from = Some(e.at);
        }
        if to == DrState::ReSyncSecondary && self.back_from.is_some() && self.back_at.is_none() {
            self.back_at = Some(e.at);
        }
        self.r.states.push(StateLine {
            at_s: at(e),
            state: to.label(),
            code: to.code(),
            via: Some(transition.code()),
        });
    }

    /// Judges what was gathered, for a trace of `events` events whose
    /// hash is `trace_hash` (the report carries both). Reasons go most
    /// actionable first: what broke, then missed objectives, then what
    /// could not be measured.
    pub fn finish(mut self, events: usize, trace_hash: String) -> Report {
        self.r.events = events;
        self.r.trace_hash = trace_hash;
        self.close_unfinished_steps();
        let restored = crate::tally::restored_at(self.probes.runs(), self.t0, self.needed);
        self.timeline(restored);
        self.rto(restored);
        self.what_broke();
        let loss_known = self.data_loss();
        self.rto_rpo_objectives();
        self.served_at_the_end();
        self.failover_objective();
        self.client_propagation();
        let recovery = std::mem::take(&mut self.recovery);
        self.r.recovery = recovery.finish(self.t0, self.end, &mut self.r.reasons);
        self.what_could_not_be_measured(loss_known);
        if !self.r.reasons.is_empty() {
            self.r.verdict = Verdict::Fail;
        }
        self.r
    }

    fn close_unfinished_steps(&mut self) {
        let mut open: Vec<(u64, String, Timestamp)> = std::mem::take(&mut self.open_steps)
            .into_iter()
            .flat_map(|(name, starts)| starts.into_iter().map(move |(p, t)| (p, name.clone(), t)))
            .collect();
        open.sort_by_key(|o| o.0);
        for (_, name, start) in open {
            self.r.steps.push(StepLine {
                name,
                start_s: start.secs_ms(),
                duration_s: span(start, self.end),
                outcome: "unfinished",
                detail: None,
            });
        }
        self.r.steps.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }

    fn timeline(&mut self, restored: Option<Timestamp>) {
        let sec = |t: Option<Timestamp>| t.map(Timestamp::secs_ms);
        self.r.timeline = Timeline {
            t0_s: sec(self.t0),
            detected_s: sec(self.detected),
            engaged_s: sec(self.engaged),
            runbook_finished_s: sec(self.finished),
            restored_s: sec(restored),
            ended_s: self.end.secs_ms(),
        };
    }

    /// RTO = Restored − T0, with each milestone clipped into [T0,
    /// Restored] (missing ones collapse onto Restored), so the parts sum
    /// to the RTO.
    fn rto(&mut self, restored: Option<Timestamp>) {
        match (self.t0, restored) {
            (None, _) => self.r.rto_s = Some(0.0),
            (Some(t0), Some(rest)) => {
                self.r.rto_s = Some(span(t0, rest));
                let clip = |m: Option<Timestamp>| m.map_or(rest, |m| m.clamp(t0, rest));
                let (d, g, x) = (clip(self.detected), clip(self.engaged), clip(self.finished));
                let g = g.max(d);
                let x = x.max(g);
                self.r.rto_breakdown = Some(Breakdown {
                    detection_s: span(t0, d),
                    decision_s: span(d, g),
                    execution_s: span(g, x),
                    propagation_s: span(x, rest),
                });
            }
            (Some(_), None) => {}
        }
    }

    fn what_broke(&mut self) {
        if let Some(why) = self.runbook_failure.take() {
            let line = format!("runbook {} failed: {why}", self.r.runbook);
            self.r.reasons.push(line);
        }
        for what in std::mem::take(&mut self.broken) {
            self.r.reasons.push(format!("invariant broken: {what}"));
        }
    }

    /// Lost = acknowledged but absent from the read-back; RPO from the loss
    /// window. False when nothing was read back (loss unknown).
    fn data_loss(&mut self) -> bool {
        let Some(held) = &self.held else {
            return false;
        };
        let r = &mut self.r;
        r.workload.held = held.len();
        let mut lost: Vec<(u64, Timestamp, u32)> = Vec::new();
        self.acked.for_each(|s, t, b| {
            if !held.contains(s) {
                lost.push((s, t, b));
            }
        });
        r.lost_writes = lost.len() as u64;
        r.lost_bytes = lost.iter().map(|x| u64::from(x.2)).sum();
        r.lost_seqs = lost.iter().map(|x| x.0).collect();
        let oldest = lost.iter().map(|x| x.1).min();
        let newest = lost.iter().map(|x| x.1).max();
        r.rpo_s = Some(match (oldest, newest) {
            // Reports print milliseconds: a loss inside the last one (a
            // write acknowledged in the instant of the crash) is still a
            // loss, never "RPO 0", which an objective of 0 would pass.
            (Some(oldest), Some(newest)) => {
                let window_end = self.t0.map_or(newest, |t| t.max(newest));
                span(oldest, window_end).max(RPO_RESOLUTION_S)
            }
            _ => 0.0,
        });
        true
    }

    fn rto_rpo_objectives(&mut self) {
        let r = &mut self.r;
        match r.rto_s {
            None => r.reasons.push(format!(
                "users were not served again before the drill ended ({})",
                r.end_reason
            )),
            Some(rto) if rto > r.objectives.rto_s => r.reasons.push(format!(
                "RTO {} s exceeds the objective of {} s",
                rto, r.objectives.rto_s
            )),
            Some(_) => {}
        }
        if let Some(rpo) = r.rpo_s
            && rpo > r.objectives.rpo_s
        {
            r.reasons.push(format!(
                "RPO {} s exceeds the objective of {} s ({} acknowledged writes lost)",
                rpo, r.objectives.rpo_s, r.lost_writes
            ));
        }
    }

    /// A drill that restored users must end with them served: its last
    /// `needed` probes succeeded (the liveness of `invariants`).
    fn served_at_the_end(&mut self) {
        if self.r.rto_s.is_none() || served_at_end(self.probes.latest_first(), self.needed) {
            return;
        }
        let (trailing, from) = self.probes.trailing_failures();
        let lost_at = from.map(Timestamp::secs_ms);
        let r = &mut self.r;
        r.reasons.push(match lost_at {
            Some(t) => format!(
                "users were served again but not when the drill ended: every probe failed from \
                 {t} s on ({trailing} probe(s)), and nothing restored service"
            ),
            None => "users were served again but the drill ended before enough probes showed \
                     them served"
                .to_string(),
        });
    }

    /// The patent's "under 15 minutes": 210 → 214, and 222 → 226 for a
    /// switch-back, when the scenario sets the objective.
    fn failover_objective(&mut self) {
        let Some(limit) = self.failover_limit else {
            return;
        };
        let r = &mut self.r;
        match (self.engaging_from, self.engaged_at) {
            (Some(a), Some(b)) => {
                let took = span(a, b);
                r.failover_s = Some(took);
                if took > secs(limit) {
                    r.reasons.push(format!(
                        "the failover took {took} s from Engaging Secondary (210) to Secondary \
                         Engaged (214), beyond its objective of {} s",
                        secs(limit)
                    ));
                }
            }
            _ => r.reasons.push(
                "the failover never reached Secondary Engaged (214), so its objective could \
                 not be met"
                    .to_string(),
            ),
        }
        if let (Some(a), Some(b)) = (self.back_from, self.back_at) {
            let took = span(a, b);
            r.switch_back_s = Some(took);
            if took > secs(limit) {
                r.reasons.push(format!(
                    "the switch-back took {took} s from Engaging Primary (222) to ReSync \
                     Secondary (226), beyond the failover objective of {} s",
                    secs(limit)
                ));
            }
        }
    }

    /// Each watched client population: when its resolver moved to the new
    /// address, judged against the RTO objective.
    fn client_propagation(&mut self) {
        let (t0, end) = (self.t0, self.end);
        for w in std::mem::take(&mut self.watched) {
            let (from, redirected) = (w.from, w.redirected);
            let line = ClientLine {
                client: w.client,
                resolver: w.resolver,
                name: w.name,
                watched_s: from.secs_ms(),
                redirected_s: redirected.map(Timestamp::secs_ms),
                stale_s: redirected.map(|x| span(from, x)),
                after_t0_s: match (t0, redirected) {
                    (Some(t0), Some(x)) => Some(span(t0, x)),
                    _ => None,
                },
            };
            let r = &mut self.r;
            match line.after_t0_s {
                None if redirected.is_none() => r.reasons.push(format!(
                    "users of {} (resolver {}) still resolved {} to its old address when the \
                     drill ended, {} s after the DNS change: either the change did not reach \
                     their DNS server (see the failed steps) or their cache keeps the old \
                     answer until it expires or is flushed (ipconfig /flushdns)",
                    line.client,
                    line.resolver,
                    line.name,
                    span(from, end)
                )),
                Some(x) if x > r.objectives.rto_s => r.reasons.push(format!(
                    "users of {} (resolver {}) reached {} at its new address only {x} s after \
                     the incident, beyond the RTO objective of {} s: lower the record's TTL \
                     before failover or flush their cache",
                    line.client, line.resolver, line.name, r.objectives.rto_s
                )),
                _ => {}
            }
            r.clients.push(line);
        }
    }

    /// A drill whose trace cannot show what it claims fails: no read-back
    /// (loss unknown), no start or end (an interrupted trace), or no
    /// successful probe at all (users were never shown to be served).
    fn what_could_not_be_measured(&mut self, loss_known: bool) {
        let r = &mut self.r;
        if !loss_known {
            r.reasons.push(
                "the serving site could not be read back, so data loss is unknown".to_string(),
            );
        }
        if !self.started {
            r.reasons.push(
                "the trace has no drill-started event, so its objectives are unknown".to_string(),
            );
        }
        if r.end_reason == NOT_ENDED {
            r.reasons.push(
                "the trace has no drill-ended event: the drill was interrupted and its figures \
                 are incomplete"
                    .to_string(),
            );
        }
        if r.workload.probes_ok == 0 {
            r.reasons.push(
                "no end-user probe succeeded during the drill: users were never shown to be \
                 served"
                    .to_string(),
            );
        }
    }
}

/// Whether users were served when the drill ended: the last `needed`
/// probes (`latest_first`: the probes' outcomes from the last one back)
/// all succeeded.
pub(crate) fn served_at_end(latest_first: impl Iterator<Item = bool>, needed: u32) -> bool {
    let needed = needed.max(1) as usize;
    let last: Vec<bool> = latest_first.take(needed).collect();
    last.len() == needed && last.iter().all(|ok| *ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_secs_f64(s)
    }

    fn started() -> EventKind {
        EventKind::DrillStarted {
            scenario: "s".into(),
            backend: "lab".into(),
            seed: 1,
            runbook: "r".into(),
            probe_successes_required: 1,
            rto_objective_us: 60_000_000,
            rpo_objective_us: 5_000_000,
        }
    }

    fn trace(kinds: Vec<EventKind>) -> Report {
        let events: Vec<Event> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Event {
                at: t(i as f64),
                kind,
            })
            .collect();
        Report::from_events(&events)
    }

    fn read_back() -> EventKind {
        EventKind::ReadBack {
            host: "h".into(),
            held: SeqSet::new(),
        }
    }

    fn ended() -> EventKind {
        EventKind::DrillEnded {
            reason: "no outage observed".into(),
        }
    }

    /// A drill that restored users and ends with them cut off again is no
    /// pass, though its RTO is within the objective (explore's liveness).
    #[test]
    fn restored_then_lost_again_fails() {
        let fault = || EventKind::FaultInjected {
            fault: "crash-host".into(),
            target: "h".into(),
        };
        let failed = || EventKind::ProbeFailed {
            error: drlab_drivers::ErrorKind::Unreachable,
        };
        let served = trace(vec![
            started(),
            EventKind::ProbeOk,
            fault(),
            failed(),
            EventKind::ProbeOk,
            read_back(),
            ended(),
        ]);
        assert_eq!(served.verdict, Verdict::Pass, "{:?}", served.reasons);
        let lost = trace(vec![
            started(),
            EventKind::ProbeOk,
            fault(),
            failed(),
            EventKind::ProbeOk,
            failed(),
            failed(),
            read_back(),
            ended(),
        ]);
        assert_eq!(lost.rto_s, Some(2.0), "restored at 4 s, fault at 2 s");
        assert_eq!(lost.verdict, Verdict::Fail);
        assert!(
            lost.reasons.iter().any(|r| r
                == "users were served again but not when the drill ended: every probe failed \
                    from 5 s on (2 probe(s)), and nothing restored service"),
            "{:?}",
            lost.reasons
        );
    }

    /// Issue 12: a trace that cannot show what it claims is no pass.
    #[test]
    fn an_incomplete_trace_fails() {
        let whole = trace(vec![started(), EventKind::ProbeOk, read_back(), ended()]);
        assert_eq!(whole.verdict, Verdict::Pass, "{:?}", whole.reasons);

        let interrupted = trace(vec![started(), EventKind::ProbeOk, read_back()]);
        assert_eq!(interrupted.verdict, Verdict::Fail);
        assert!(
            interrupted
                .reasons
                .iter()
                .any(|r| r.contains("no drill-ended event"))
        );

        let unstarted = trace(vec![EventKind::ProbeOk, read_back(), ended()]);
        assert!(
            unstarted
                .reasons
                .iter()
                .any(|r| r.contains("no drill-started event"))
        );

        // No fault and no successful probe: RTO 0 used to pass.
        let never_served = trace(vec![
            started(),
            EventKind::ProbeFailed {
                error: drlab_drivers::ErrorKind::Unreachable,
            },
            read_back(),
            ended(),
        ]);
        assert_eq!(never_served.rto_s, Some(0.0));
        assert_eq!(never_served.verdict, Verdict::Fail);
        assert!(
            never_served
                .reasons
                .iter()
                .any(|r| r.contains("no end-user probe succeeded"))
        );
    }
}
