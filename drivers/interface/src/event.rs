//! The structured events of a drill. Every backend's run produces the same
//! kinds of events; reports are computed from them alone, and the trace hash
//! is a hash of their stable binary encoding. The [`Recorder`] hands them
//! to a sink ([`crate::sink`]): kept, or folded as they pass.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::dr::{DrState, Transition};
use crate::error::ErrorKind;
use crate::seqset::SeqSet;
use crate::sink::{EventSink, TraceDigest};
use crate::time::Timestamp;

/// One thing that happened, and when. Serialised one per line as
/// `events.jsonl`; `Deserialize` reads such a line back (at the file's
/// resolution: times in milliseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Drill time.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// How failover was engaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// An operator acknowledged the manual-intervention prompt.
    Operator,
    /// Autopilot engaged without a person.
    Autopilot,
    /// A confirmation prompt timed out and the flow went on.
    ConfirmationTimeout,
}

/// How a runbook step ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum StepOutcome {
    /// Done.
    Ok,
    /// Failed; the runbook decides whether to go on.
    Failed {
        /// The error, as a person reads it.
        error: Arc<str>,
    },
    /// Not needed or not possible here (e.g. primary-side steps when the primary site is gone).
    Skipped {
        /// Why.
        reason: Arc<str>,
    },
}

/// What a runbook step asked of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceAction {
    /// `net start`.
    Start,
    /// `net stop`.
    Stop,
}

/// The kinds of events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The drill begins; carries what reports need to judge it.
    DrillStarted {
        /// Scenario name.
        scenario: Arc<str>,
        /// `sim` or `lab`.
        backend: Arc<str>,
        /// RNG seed (simulator) or drill seed (lab, for workload sizes).
        seed: u64,
        /// Runbook name.
        runbook: Arc<str>,
        /// Consecutive successful probes that count as restored.
        probe_successes_required: u32,
        /// RTO objective in microseconds.
        rto_objective_us: u64,
        /// RPO objective in microseconds.
        rpo_objective_us: u64,
    },
    /// A fault took effect.
    FaultInjected {
        /// Fault kind, e.g. `crash-host`.
        fault: Arc<str>,
        /// What it hit.
        target: Arc<str>,
    },
    /// A fault could not be injected.
    FaultFailed {
        /// Fault kind.
        fault: Arc<str>,
        /// What it should have hit.
        target: Arc<str>,
        /// Why it failed.
        error: Arc<str>,
    },
    /// A heartbeat was answered.
    HeartbeatOk {
        /// Monitored host.
        host: Arc<str>,
        /// Round-trip time in microseconds.
        rtt_us: u64,
    },
    /// A heartbeat went unanswered.
    HeartbeatMissed {
        /// Monitored host.
        host: Arc<str>,
        /// Consecutive misses so far.
        missed: u32,
    },
    /// Monitoring declared the host failed (Time to Fail reached zero).
    FailureDetected {
        /// Monitored host.
        host: Arc<str>,
        /// Consecutive misses at detection.
        missed: u32,
    },
    /// Failover was engaged.
    FailoverEngaged {
        /// By whom.
        by: Decision,
    },
    /// A runbook step began.
    StepStarted {
        /// Step name, e.g. `start MSExchangeIS`.
        step: Arc<str>,
    },
    /// A runbook step ended.
    StepFinished {
        /// Step name.
        step: Arc<str>,
        /// How it ended.
        #[serde(flatten)]
        outcome: StepOutcome,
    },
    /// The two-site DR state changed along a legal transition.
    StateChanged {
        /// Old state.
        from: DrState,
        /// New state.
        to: DrState,
        /// The transition taken.
        transition: Transition,
    },
    /// A workload write was acknowledged.
    WriteAcked {
        /// Sequence number.
        seq: u64,
        /// Size.
        bytes: u32,
    },
    /// Which host's store acknowledged a workload write: recorded with
    /// (just after) the write's [`EventKind::WriteAcked`] when the backend
    /// can tell, for the first acknowledged write of each mailbox and
    /// whenever the host differs from the one that acknowledged the
    /// mailbox's previous acknowledged write (so a run carries a few, not
    /// one per write). The split-brain invariant reads it.
    WriteServed {
        /// Sequence number of the acknowledged write.
        seq: u64,
        /// The mailbox written.
        mailbox: Arc<str>,
        /// The host (scenario name) whose store acknowledged it.
        host: Arc<str>,
    },
    /// What a replication target's store held when the target took it
    /// over: the records applied to it by the moment it was mounted while
    /// it was the target of a replication connection (the takeover, so
    /// "replicated before the failover" means "applied to the target by
    /// then"). One per store and takeover (a handful per run), recorded by
    /// the drill once its workload has stopped, before the read-backs, in
    /// the order of `held_at`. The invariant `replicated-never-lost` reads
    /// it. Backends that cannot tell truthfully (the lab) record none.
    ReplicaHeld {
        /// The target host (scenario name) that took the store over.
        host: Arc<str>,
        /// The store, as `group/store`.
        store: Arc<str>,
        /// When it took the store over (drill time, at or before this
        /// event's).
        held_at: Timestamp,
        /// Sequence numbers it held then.
        held: SeqSet,
    },
    /// A workload write failed (not acknowledged, so not counted as lost).
    WriteFailed {
        /// Sequence number.
        seq: u64,
        /// Why.
        error: ErrorKind,
    },
    /// An end-user probe succeeded.
    ProbeOk,
    /// An end-user probe failed.
    ProbeFailed {
        /// Why.
        error: ErrorKind,
    },
    /// What the serving site holds after recovery.
    ReadBack {
        /// The host read.
        host: Arc<str>,
        /// Sequence numbers held.
        held: SeqSet,
    },
    /// An alert a person must see (e.g. an unpause or archive failure).
    Alert {
        /// The message.
        message: Arc<str>,
    },
    /// A data or safety invariant broke (e.g. replica divergence after failback).
    InvariantBroken {
        /// What broke, as a person can act on it.
        what: Arc<str>,
    },
    /// The runbook returned.
    RunbookFinished {
        /// Runbook name.
        runbook: Arc<str>,
        /// Whether it completed.
        ok: bool,
        /// Why it failed, if it did.
        reason: Option<Arc<str>>,
    },
    /// A declared service dependency: on every host that runs `service`,
    /// it starts only once each of `requires` runs, and stops before them
    /// (the scenario's `[exchange].services` `requires`). Recorded by the
    /// drill just after [`EventKind::DrillStarted`], one per service that
    /// requires another, in the scenario's order. The invariant
    /// `runbook-order` reads it.
    ServiceRequires {
        /// The service, e.g. `MSExchangeIS`.
        service: Arc<str>,
        /// What it requires, e.g. `MSExchangeSA`.
        requires: Vec<Arc<str>>,
    },
    /// How a host's services stand when the drill starts: all running (an
    /// active Exchange host) or all stopped (a standby, a failover
    /// target), as the scenario declares and each backend sets up.
    /// Recorded by the drill with [`EventKind::ServiceRequires`], one per
    /// Exchange host. The invariant `runbook-order` reads it.
    HostServices {
        /// The host (scenario name).
        host: Arc<str>,
        /// Whether its services run.
        running: bool,
    },
    /// A runbook step asks a backend to start or stop a service: recorded
    /// just before the call, inside the step. A step's calls run one after
    /// the other, so a call ended well when its step makes another call or
    /// finishes `ok`. The invariant `runbook-order` reads it.
    ServiceRequested {
        /// The step making the call (empty outside every step).
        step: Arc<str>,
        /// The host (scenario name).
        host: Arc<str>,
        /// The service.
        service: Arc<str>,
        /// Start or stop.
        action: ServiceAction,
    },
    /// The drill is over.
    DrillEnded {
        /// Why it stopped (restored, horizon reached, runbook failed...).
        reason: Arc<str>,
    },
    /// A planned outage begins (a maintenance switchover engaged on
    /// purpose): T0 of a drill whose incident is not a fault.
    PlannedOutage {
        /// What is taken down, e.g. `EXCH1 for maintenance`.
        what: Arc<str>,
    },
    /// The scenario's objective for the failover itself: the time from
    /// Engaging Secondary (210) to Secondary Engaged (214).
    FailoverObjective {
        /// The limit in microseconds.
        limit_us: u64,
    },
    /// An intelligent agent's periodic report to the management server
    /// (the patent's agents report every 30 s).
    AgentReport {
        /// The host (or user access point) reported on.
        host: Arc<str>,
        /// Whether every metric is within its normal parameters.
        healthy: bool,
        /// What the agent saw, e.g. `MSExchangeIS stopped`.
        detail: Arc<str>,
    },
    /// A client population's resolver is watched for a name that failed over.
    ClientWatched {
        /// The client population.
        client: Arc<str>,
        /// The name its users connect to.
        name: Arc<str>,
        /// Its resolver's cache policy, as a person reads it.
        resolver: Arc<str>,
    },
    /// A watched client population's resolver answered the new address.
    ClientRedirected {
        /// The client population.
        client: Arc<str>,
        /// The address it now resolves the name to.
        address: Arc<str>,
    },
    /// An archive (the patent's process 600) was taken and placed at its
    /// level; `utc` is the success time stamp of step 634.
    ArchiveTaken {
        /// The host whose stores were archived.
        host: Arc<str>,
        /// The archive level in hours (24, 48, 72 in the patent).
        level_h: u32,
        /// The image's identifier.
        image: Arc<str>,
        /// The image's size.
        bytes: u64,
        /// The success time stamp, UTC (RFC 3339).
        utc: Arc<str>,
    },
    /// An archive failed (step 626 negative); `utc` is the UTC stamp of
    /// step 628. The alert of step 630 follows as an [`EventKind::Alert`].
    ArchiveFailed {
        /// The host whose stores were to be archived.
        host: Arc<str>,
        /// The archive level in hours.
        level_h: u32,
        /// Why it failed.
        error: Arc<str>,
        /// The failure time stamp, UTC (RFC 3339).
        utc: Arc<str>,
    },
    /// An operation was refused before it began because it was not safe
    /// (the patent's steps 612 and 704: a conflicting archive, restore or
    /// failover in progress, or the secondary already active).
    OperationRefused {
        /// The operation, e.g. `archive 48 h of EXCH2`.
        operation: Arc<str>,
        /// Why, as a person reads it.
        reason: Arc<str>,
    },
    /// An archive image was copied over a host's stores (process 700, step 710).
    ImageRestored {
        /// The host restored.
        host: Arc<str>,
        /// The image.
        image: Arc<str>,
        /// When the image was taken (drill time).
        taken_at: Timestamp,
    },
    /// A redundant system starts running without its redundancy (e.g. a
    /// DAG whose member failed: one server carries every database).
    DegradedStarted {
        /// The system, e.g. `DAG1` (pairs with [`EventKind::DegradedEnded`]).
        what: Arc<str>,
        /// Why, e.g. `EXCH1 failed; EXCH2 carries DB1 and DB2`.
        why: Arc<str>,
    },
    /// The system has its redundancy back (e.g. the DAG's original
    /// configuration is restored with every copy healthy).
    DegradedEnded {
        /// The system.
        what: Arc<str>,
    },
    /// The scenario's objective for the time spent degraded.
    DegradedObjective {
        /// The limit in microseconds.
        limit_us: u64,
    },
}

/// Collects a drill's events in time order, at most `events_max` of them,
/// into its [`EventSink`]: kept in the recorder itself ([`Recorder::new`],
/// [`Recorder::with_budget`]: [`Recorder::into_events`] returns them) or
/// handed to a sink of the caller's ([`Recorder::into_sink`]: a fold that
/// keeps nothing, so a run's memory does not grow with its events).
///
/// The budget bounds a run's length: once it is reached further events are
/// dropped and [`Recorder::over_budget`] turns true, and whoever drives the
/// drill stops it with an error (a run whose trace is incomplete has no
/// verdict). Kept events cost memory up to it; a sink's memory is its own.
///
/// It also knows which runbook step is running *here*: a drill's activities
/// share one thread, so "the step started last" is not the step of a call
/// made by the fault schedule or the workload in the meantime.
/// [`Recorder::in_step`] sets the step for each poll of the step's own
/// operation only, and [`Recorder::current_step`] reads it.
pub struct Recorder<'s> {
    sink: Sink<'s>,
    /// Events recorded (kept or handed on).
    recorded: Cell<usize>,
    /// The time of the last one.
    last_at: Cell<Timestamp>,
    events_max: usize,
    over_budget: Cell<bool>,
    /// The step whose operation is being polled now.
    step: RefCell<Option<Arc<str>>>,
}

/// Where a recorder's events go.
enum Sink<'s> {
    /// Kept here.
    Kept(RefCell<Vec<Event>>),
    /// Handed to the caller's sink.
    Into(&'s RefCell<dyn EventSink>),
}

impl std::fmt::Debug for Recorder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("recorded", &self.recorded.get())
            .field("retained", &self.retained())
            .field("events_max", &self.events_max)
            .field("over_budget", &self.over_budget.get())
            .finish_non_exhaustive()
    }
}

impl Default for Recorder<'_> {
    fn default() -> Self {
        Recorder::with_budget(0, usize::MAX)
    }
}

impl<'s> Recorder<'s> {
    /// An empty recorder without a budget.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// An empty recorder with room for `n` events, without a budget.
    pub fn with_capacity(n: usize) -> Self {
        Recorder::with_budget(n, usize::MAX)
    }

    /// An empty recorder with room for `n` events that keeps at most
    /// `events_max`.
    pub fn with_budget(n: usize, events_max: usize) -> Self {
        Recorder::on(
            Sink::Kept(RefCell::new(Vec::with_capacity(n.min(events_max)))),
            events_max,
        )
    }

    /// A recorder that hands each event to `sink` and keeps none, at most
    /// `events_max` of them. The sink is borrowed while each event is
    /// handed over, so it must not record into this recorder itself.
    pub fn into_sink(sink: &'s RefCell<dyn EventSink>, events_max: usize) -> Self {
        Recorder::on(Sink::Into(sink), events_max)
    }

    fn on(sink: Sink<'s>, events_max: usize) -> Self {
        Recorder {
            sink,
            recorded: Cell::new(0),
            last_at: Cell::new(Timestamp::ZERO),
            events_max,
            over_budget: Cell::new(false),
            step: RefCell::new(None),
        }
    }

    /// Records `kind` at `at`. Time never goes backwards within a drill.
    pub fn emit(&self, at: Timestamp, kind: EventKind) {
        let n = self.recorded.get();
        if n > 0 {
            let last = self.last_at.get();
            assert!(at >= last, "event at {at} recorded after {last}");
        }
        if n >= self.events_max {
            self.over_budget.set(true);
            return;
        }
        self.recorded.set(n + 1);
        self.last_at.set(at);
        let e = Event { at, kind };
        match &self.sink {
            Sink::Kept(events) => events.borrow_mut().push(e),
            Sink::Into(sink) => sink.borrow_mut().accept(e),
        }
    }

    /// Whether an event was dropped because the budget was reached.
    pub fn over_budget(&self) -> bool {
        self.over_budget.get()
    }

    /// The budget: the most events this recorder records.
    pub fn events_max(&self) -> usize {
        self.events_max
    }

    /// Copies of the kept events recorded after the first `n` (for live
    /// progress); none when the events go to a sink.
    pub fn events_since(&self, n: usize) -> Vec<Event> {
        match &self.sink {
            Sink::Kept(events) => events
                .borrow()
                .get(n..)
                .map(<[Event]>::to_vec)
                .unwrap_or_default(),
            Sink::Into(_) => Vec::new(),
        }
    }

    /// Number of events recorded so far (kept or handed to the sink).
    pub fn len(&self) -> usize {
        self.recorded.get()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.recorded.get() == 0
    }

    /// Number of events the recorder itself holds: all it recorded when it
    /// keeps them, none when they go to a sink.
    pub fn retained(&self) -> usize {
        match &self.sink {
            Sink::Kept(events) => events.borrow().len(),
            Sink::Into(_) => 0,
        }
    }

    /// The time of the last event recorded (zero before the first).
    pub fn last_at(&self) -> Timestamp {
        self.last_at.get()
    }

    /// Runs `op` as runbook step `step`: while `op` is being polled (and only
    /// then) [`Recorder::current_step`] is `step`, and the step it replaced
    /// is back after each poll returns, as with a task-local value scoped to
    /// one future. Whatever runs inside `op` sees its step; activities polled
    /// between its polls see theirs (or none); a step inside `op` is the
    /// current step while it runs. Records no event.
    pub async fn in_step<T>(&self, step: Arc<str>, op: impl Future<Output = T>) -> T {
        let mut op = pin!(op);
        std::future::poll_fn(|cx| {
            let _scope = StepScope::enter(&self.step, step.clone());
            op.as_mut().poll(cx)
        })
        .await
    }

    /// The runbook step of the code running now (a drill journal files each
    /// action under it): the step whose [`Recorder::in_step`] operation is
    /// being polled, `None` outside every step.
    pub fn current_step(&self) -> Option<Arc<str>> {
        self.step.borrow().clone()
    }

    /// The kept events; none when they went to a sink.
    pub fn into_events(self) -> Vec<Event> {
        match self.sink {
            Sink::Kept(events) => events.into_inner(),
            Sink::Into(_) => Vec::new(),
        }
    }
}

/// The current step for the span of one poll: entering sets it, dropping
/// (also on unwinding) puts back the one it replaced.
struct StepScope<'r> {
    slot: &'r RefCell<Option<Arc<str>>>,
    outer: Option<Arc<str>>,
}

impl<'r> StepScope<'r> {
    fn enter(slot: &'r RefCell<Option<Arc<str>>>, step: Arc<str>) -> StepScope<'r> {
        let outer = slot.replace(Some(step));
        StepScope { slot, outer }
    }
}

impl Drop for StepScope<'_> {
    fn drop(&mut self) {
        *self.slot.borrow_mut() = self.outer.take();
    }
}

/// The stable hash of a trace: xxh3-64 over the canonical binary encoding of
/// every event, printed as 16 hex digits. Identical traces hash identically
/// on every machine (the encoding is explicit, little-endian, length-prefixed).
pub fn trace_hash(events: &[Event]) -> String {
    let mut d = TraceDigest::new();
    for e in events {
        d.observe(e);
    }
    d.hash()
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_ranges(out: &mut Vec<u8>, set: &SeqSet) {
    let ranges = set.ranges();
    put_u64(out, ranges.len() as u64);
    for (a, b) in ranges {
        put_u64(out, a);
        put_u64(out, b);
    }
}

impl Event {
    /// Appends the canonical encoding of this event to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.at.as_micros());
        match &self.kind {
            EventKind::DrillStarted {
                scenario,
                backend,
                seed,
                runbook,
                probe_successes_required,
                rto_objective_us,
                rpo_objective_us,
            } => {
                out.push(1);
                put_str(out, scenario);
                put_str(out, backend);
                put_u64(out, *seed);
                put_str(out, runbook);
                put_u64(out, u64::from(*probe_successes_required));
                put_u64(out, *rto_objective_us);
                put_u64(out, *rpo_objective_us);
            }
            EventKind::FaultInjected { fault, target } => {
                out.push(2);
                put_str(out, fault);
                put_str(out, target);
            }
            EventKind::FaultFailed {
                fault,
                target,
                error,
            } => {
                out.push(3);
                put_str(out, fault);
                put_str(out, target);
                put_str(out, error);
            }
            EventKind::HeartbeatOk { host, rtt_us } => {
                out.push(4);
                put_str(out, host);
                put_u64(out, *rtt_us);
            }
            EventKind::HeartbeatMissed { host, missed } => {
                out.push(5);
                put_str(out, host);
                put_u64(out, u64::from(*missed));
            }
            EventKind::FailureDetected { host, missed } => {
                out.push(6);
                put_str(out, host);
                put_u64(out, u64::from(*missed));
            }
            EventKind::FailoverEngaged { by } => {
                out.push(7);
                out.push(*by as u8);
            }
            EventKind::StepStarted { step } => {
                out.push(8);
                put_str(out, step);
            }
            EventKind::StepFinished { step, outcome } => {
                out.push(9);
                put_str(out, step);
                match outcome {
                    StepOutcome::Ok => out.push(0),
                    StepOutcome::Failed { error } => {
                        out.push(1);
                        put_str(out, error);
                    }
                    StepOutcome::Skipped { reason } => {
                        out.push(2);
                        put_str(out, reason);
                    }
                }
            }
            EventKind::StateChanged {
                from,
                to,
                transition,
            } => {
                out.push(10);
                put_u64(out, u64::from(from.code()));
                put_u64(out, u64::from(to.code()));
                put_u64(out, u64::from(transition.code()));
            }
            EventKind::WriteAcked { seq, bytes } => {
                out.push(11);
                put_u64(out, *seq);
                put_u64(out, u64::from(*bytes));
            }
            EventKind::WriteServed { seq, mailbox, host } => {
                out.push(20);
                put_u64(out, *seq);
                put_str(out, mailbox);
                put_str(out, host);
            }
            EventKind::ReplicaHeld {
                host,
                store,
                held_at,
                held,
            } => {
                out.push(21);
                put_str(out, host);
                put_str(out, store);
                put_u64(out, held_at.as_micros());
                put_ranges(out, held);
            }
            EventKind::WriteFailed { seq, error } => {
                out.push(12);
                put_u64(out, *seq);
                out.push(error.code());
            }
            EventKind::ProbeOk => out.push(13),
            EventKind::ProbeFailed { error } => {
                out.push(14);
                out.push(error.code());
            }
            EventKind::ReadBack { host, held } => {
                out.push(15);
                put_str(out, host);
                put_ranges(out, held);
            }
            EventKind::Alert { message } => {
                out.push(16);
                put_str(out, message);
            }
            EventKind::InvariantBroken { what } => {
                out.push(17);
                put_str(out, what);
            }
            EventKind::RunbookFinished {
                runbook,
                ok,
                reason,
            } => {
                out.push(18);
                put_str(out, runbook);
                out.push(u8::from(*ok));
                put_str(out, reason.as_deref().unwrap_or(""));
            }
            EventKind::DrillEnded { reason } => {
                out.push(19);
                put_str(out, reason);
            }
            // Tags 80-82: the runbook's declared order.
            EventKind::ServiceRequires { service, requires } => {
                out.push(80);
                put_str(out, service);
                put_u64(out, requires.len() as u64);
                for r in requires {
                    put_str(out, r);
                }
            }
            EventKind::HostServices { host, running } => {
                out.push(82);
                put_str(out, host);
                out.push(u8::from(*running));
            }
            EventKind::ServiceRequested {
                step,
                host,
                service,
                action,
            } => {
                out.push(81);
                put_str(out, step);
                put_str(out, host);
                put_str(out, service);
                out.push(*action as u8);
            }
            // Tags 40-44: the catalogue's two-site and WAN events.
            EventKind::PlannedOutage { what } => {
                out.push(40);
                put_str(out, what);
            }
            EventKind::FailoverObjective { limit_us } => {
                out.push(41);
                put_u64(out, *limit_us);
            }
            EventKind::AgentReport {
                host,
                healthy,
                detail,
            } => {
                out.push(42);
                put_str(out, host);
                out.push(u8::from(*healthy));
                put_str(out, detail);
            }
            EventKind::ClientWatched {
                client,
                name,
                resolver,
            } => {
                out.push(43);
                put_str(out, client);
                put_str(out, name);
                put_str(out, resolver);
            }
            EventKind::ClientRedirected { client, address } => {
                out.push(44);
                put_str(out, client);
                put_str(out, address);
            }
            // Tags 60-66: archives, restores, interlocks and degraded redundancy.
            EventKind::ArchiveTaken {
                host,
                level_h,
                image,
                bytes,
                utc,
            } => {
                out.push(60);
                put_str(out, host);
                put_u64(out, u64::from(*level_h));
                put_str(out, image);
                put_u64(out, *bytes);
                put_str(out, utc);
            }
            EventKind::ArchiveFailed {
                host,
                level_h,
                error,
                utc,
            } => {
                out.push(61);
                put_str(out, host);
                put_u64(out, u64::from(*level_h));
                put_str(out, error);
                put_str(out, utc);
            }
            EventKind::OperationRefused { operation, reason } => {
                out.push(62);
                put_str(out, operation);
                put_str(out, reason);
            }
            EventKind::ImageRestored {
                host,
                image,
                taken_at,
            } => {
                out.push(63);
                put_str(out, host);
                put_str(out, image);
                put_u64(out, taken_at.as_micros());
            }
            EventKind::DegradedStarted { what, why } => {
                out.push(64);
                put_str(out, what);
                put_str(out, why);
            }
            EventKind::DegradedEnded { what } => {
                out.push(65);
                put_str(out, what);
            }
            EventKind::DegradedObjective { limit_us } => {
                out.push(66);
                put_u64(out, *limit_us);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: u64, kind: EventKind) -> Event {
        Event {
            at: Timestamp(at),
            kind,
        }
    }

    /// Pending once (waking itself), then ready: lets a joined future run.
    fn yield_once() -> impl Future<Output = ()> {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
    }

    #[test]
    fn the_current_step_is_the_one_being_polled() {
        let r = Recorder::new();
        // who looked, and the step it saw
        type Seen<'w> = Vec<(&'w str, Option<Arc<str>>)>;
        let seen: RefCell<Seen> = RefCell::new(Vec::new());
        let see = |who| seen.borrow_mut().push((who, r.current_step()));
        let stepped = r.in_step("outer".into(), async {
            see("outer");
            yield_once().await;
            see("outer");
            r.in_step("inner".into(), async {
                see("inner");
                yield_once().await;
                see("inner");
            })
            .await;
            see("outer");
            yield_once().await;
            see("outer");
        });
        // An activity beside the step (the fault schedule, the workload),
        // polled between the step's polls while the step is open.
        let beside = async {
            for _ in 0..6 {
                see("beside");
                yield_once().await;
            }
        };
        let mut both = pin!(futures::future::join(stepped, beside));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut polls = 0;
        while both.as_mut().poll(&mut cx).is_pending() {
            polls += 1;
            assert!(polls < 100, "the join never finished");
        }
        let seen = seen.take();
        assert_eq!(seen.iter().filter(|(w, _)| *w == "beside").count(), 6);
        assert_eq!(seen.len(), 6 + 6);
        for (who, step) in &seen {
            let want = (*who != "beside").then_some(*who);
            assert_eq!(step.as_deref(), want, "{seen:?}");
        }
        assert_eq!(r.current_step(), None);
        assert!(r.is_empty(), "in_step records no event");
    }

    #[test]
    fn hash_changes_with_time_and_content() {
        let a = vec![ev(1, EventKind::ProbeOk)];
        let b = vec![ev(2, EventKind::ProbeOk)];
        let c = vec![ev(
            1,
            EventKind::ProbeFailed {
                error: ErrorKind::Timeout,
            },
        )];
        assert_eq!(trace_hash(&a), trace_hash(&a.clone()));
        assert_ne!(trace_hash(&a), trace_hash(&b));
        assert_ne!(trace_hash(&a), trace_hash(&c));
        assert_eq!(trace_hash(&a).len(), 16);
    }

    #[test]
    fn strings_are_length_prefixed() {
        // "ab"+"c" and "a"+"bc" must not collide.
        let x = vec![ev(
            0,
            EventKind::FaultInjected {
                fault: "ab".into(),
                target: "c".into(),
            },
        )];
        let y = vec![ev(
            0,
            EventKind::FaultInjected {
                fault: "a".into(),
                target: "bc".into(),
            },
        )];
        assert_ne!(trace_hash(&x), trace_hash(&y));
    }

    #[test]
    #[should_panic(expected = "recorded after")]
    fn time_never_goes_backwards() {
        let r = Recorder::new();
        r.emit(Timestamp(5), EventKind::ProbeOk);
        r.emit(Timestamp(4), EventKind::ProbeOk);
    }

    #[test]
    fn events_serialize_flat() {
        let e = ev(1_500_000, EventKind::WriteAcked { seq: 3, bytes: 10 });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":1.5,"event":"write-acked","seq":3,"bytes":10}"#
        );
        let e = ev(
            1_500_000,
            EventKind::WriteServed {
                seq: 3,
                mailbox: "alice".into(),
                host: "EXCH2".into(),
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":1.5,"event":"write-served","seq":3,"mailbox":"alice","host":"EXCH2"}"#
        );
        let e = ev(
            9_000_000,
            EventKind::ReplicaHeld {
                host: "EXCH2".into(),
                store: "First Storage Group/Mailbox Store".into(),
                held_at: Timestamp(4_250_000),
                held: [0, 1, 2, 7].into_iter().collect(),
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":9.0,"event":"replica-held","host":"EXCH2","store":"First Storage Group/Mailbox Store","held_at":4.25,"held":[[0,2],[7,7]]}"#
        );
        let e = ev(
            0,
            EventKind::ServiceRequires {
                service: "MSExchangeIS".into(),
                requires: vec!["MSExchangeSA".into()],
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":0.0,"event":"service-requires","service":"MSExchangeIS","requires":["MSExchangeSA"]}"#
        );
        let e = ev(
            0,
            EventKind::HostServices {
                host: "EXCH2".into(),
                running: false,
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":0.0,"event":"host-services","host":"EXCH2","running":false}"#
        );
        let e = ev(
            2_000_000,
            EventKind::ServiceRequested {
                step: "net start MSExchangeSA".into(),
                host: "EXCH2".into(),
                service: "MSExchangeSA".into(),
                action: ServiceAction::Start,
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":2.0,"event":"service-requested","step":"net start MSExchangeSA","host":"EXCH2","service":"MSExchangeSA","action":"start"}"#
        );
    }
}
