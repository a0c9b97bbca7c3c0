//! Journalled drills: [`Recorded`] wraps any [`Backend`] and turns every
//! state-changing call into a journal [`Action`] written *before* the call is
//! made (and its outcome after), so a drill that dies half-way leaves a
//! journal saying what was done and how to undo it; [`rollback`] reads such a
//! journal and performs the undos, newest first.
//!
//! Where the records go is an [`ActionSink`]: a [`JournalSink`] (a JSON-lines
//! file on disk, see [`crate::journal`]) for drills, a [`PlanSink`] (plan
//! lines with the concrete commands a backend would issue) for dry runs.
//!
//! Read-only calls (ping, status queries, listings, queue status, resolution,
//! the workload's writes, read-back and probes, drain waits) pass straight
//! through. Recording never changes behaviour: the wrapper does no I/O of its
//! own besides the sink, never sleeps and emits no events, so a simulated run
//! through it produces the same trace as one without it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    ArchiveInfo, DnsRecord, Fault, IdentityItems, MailboxInfo, MirrorMode, QueueStatus, RecordType,
    RestoreOptions, ServiceState, StartupType, StoreInfo, StoreRef,
};
use drlab_drivers::{
    Archives, Backend, Clock, Directory, Dns, Faults, Hosts, MailStores, OpError, Recorder,
    Replication, San, SeqSet, Services, Switches, Timestamp, Workload,
};
use drlab_scenarios::Scenario;

use crate::journal::{self, Action, Journal, JournalError, Performed, Phase, Record};

/// Actions one drill may record: far above any runbook (the library's
/// largest records a few dozen), low enough that a runaway loop stops
/// instead of filling the disk.
pub const ACTIONS_MAX: u64 = 100_000;

/// Why a sink refused an action (the action is then not performed).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The journal could not be written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// An earlier journal write failed; the file may end in a torn line, so
    /// nothing more is written to it and nothing more is performed.
    #[error("an earlier journal write failed ({first}); nothing more is recorded")]
    Broken {
        /// The first failure.
        first: String,
    },
    /// The drill recorded [`ACTIONS_MAX`] actions already.
    #[error("more than {limit} actions in one drill")]
    TooMany {
        /// The limit.
        limit: u64,
    },
}

/// Where a [`Recorded`] backend files its actions. Object safe; methods take
/// `&self` because a drill's activities share the backend.
pub trait ActionSink {
    /// Records that `action` is about to be performed (within runbook step
    /// `step`, undone by `undo`). Returns the record number for [`ActionSink::end`].
    /// An error means the action must not be performed.
    fn begin(
        &self,
        at: Timestamp,
        step: Option<&str>,
        action: &Action,
        undo: Option<&Action>,
    ) -> Result<u64, SinkError>;

    /// Records how action `n` ended. An error here cannot undo the action;
    /// the record then stays without an outcome (which a rollback treats as
    /// possibly done).
    fn end(&self, at: Timestamp, n: u64, outcome: Result<(), &OpError>) -> Result<(), SinkError>;
}

/// What the drill's header says ran where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillHeader {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_file: String,
    /// Inventory file (empty for the simulator).
    pub inventory_file: String,
    /// Lab name (`sim` for the simulator).
    pub lab: String,
}

impl DrillHeader {
    fn phase(&self) -> Phase {
        Phase::Drill {
            scenario: self.scenario.clone(),
            scenario_file: self.scenario_file.clone(),
            inventory_file: self.inventory_file.clone(),
            lab: self.lab.clone(),
        }
    }
}

/// A sink writing a drill journal: a `begin` record flushed to disk before
/// each action, an `ok`/`failed` record after it.
pub struct JournalSink {
    path: PathBuf,
    state: RefCell<JournalState>,
    /// The commands each action stands for, written with its `begin` record.
    render: Option<RenderFn<'static>>,
}

impl fmt::Debug for JournalSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalSink")
            .field("path", &self.path)
            .field("state", &self.state)
            .field("commands", &self.render.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct JournalState {
    journal: Option<Journal>,
    /// The header, until it is written with the journal's first record.
    header: Option<DrillHeader>,
    broken: Option<String>,
    actions: u64,
}

impl JournalSink {
    /// Creates the journal at `path` (never overwriting one) and writes the
    /// drill's header now, so an unwritable journal stops a drill before it
    /// starts.
    pub fn create(
        path: &Path,
        header: &DrillHeader,
        at: Timestamp,
    ) -> Result<JournalSink, JournalError> {
        let sink = JournalSink::deferred(path, header);
        sink.state.borrow_mut().open(path, at)?;
        Ok(sink)
    }

    /// A sink that creates its journal (and writes the header) with the
    /// first record. Nothing touches the disk before; a path that cannot be
    /// written is found by the first state-changing call, which is then not
    /// performed.
    pub fn deferred(path: &Path, header: &DrillHeader) -> JournalSink {
        JournalSink {
            path: path.to_path_buf(),
            state: RefCell::new(JournalState {
                journal: None,
                header: Some(header.clone()),
                broken: None,
                actions: 0,
            }),
            render: None,
        }
    }

    /// Writes with each action the commands `render` says it stands for
    /// (the lab backend's, from [`crate::render::Renderer`]): the journal
    /// then shows what the plan showed and the backend sent.
    pub fn with_commands(
        mut self,
        render: impl Fn(&Action) -> Vec<String> + 'static,
    ) -> JournalSink {
        self.render = Some(Box::new(render));
        self
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the drill's normal end. Fails when any record of the drill
    /// could not be written (the journal then lacks outcomes, or more).
    pub fn finish(self, at: Timestamp, reason: &str) -> Result<PathBuf, SinkError> {
        let mut st = self.state.into_inner();
        if let Some(first) = st.broken.take() {
            return Err(SinkError::Broken { first });
        }
        st.write(
            &self.path,
            at,
            Phase::End {
                reason: reason.to_string(),
            },
            None,
            None,
            None,
            None,
            Vec::new(),
        )?;
        Ok(self.path)
    }
}

impl JournalState {
    /// Creates the journal and writes the header, if not done yet.
    fn open(&mut self, path: &Path, at: Timestamp) -> Result<&mut Journal, JournalError> {
        if self.journal.is_none() {
            let mut j = Journal::create(path)?;
            if let Some(h) = self.header.take() {
                let n = j.next_number();
                j.write(&record(n, at, h.phase(), None, None, None, Vec::new()))?;
            }
            self.journal = Some(j);
        }
        Ok(self.journal.as_mut().expect("opened above"))
    }

    /// Writes one record (a fresh number unless `n` is given); returns its number.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        path: &Path,
        at: Timestamp,
        phase: Phase,
        n: Option<u64>,
        step: Option<&str>,
        action: Option<&Action>,
        undo: Option<&Action>,
        commands: Vec<String>,
    ) -> Result<u64, SinkError> {
        if let Some(first) = &self.broken {
            return Err(SinkError::Broken {
                first: first.clone(),
            });
        }
        let written = self.open(path, at).and_then(|j| {
            let n = n.unwrap_or_else(|| j.next_number());
            j.write(&record(n, at, phase, step, action, undo, commands))
                .map(|()| n)
        });
        // A failed write may have left half a line: never write after it.
        written.map_err(|e| {
            self.broken = Some(e.to_string());
            SinkError::Journal(e)
        })
    }
}

fn record(
    n: u64,
    at: Timestamp,
    phase: Phase,
    step: Option<&str>,
    action: Option<&Action>,
    undo: Option<&Action>,
    commands: Vec<String>,
) -> Record {
    Record {
        n,
        at_s: at.as_secs_f64(),
        utc: journal::utc_now(),
        phase,
        step: step.map(str::to_string),
        action: action.cloned(),
        undo: undo.cloned(),
        commands,
    }
}

impl ActionSink for JournalSink {
    fn begin(
        &self,
        at: Timestamp,
        step: Option<&str>,
        action: &Action,
        undo: Option<&Action>,
    ) -> Result<u64, SinkError> {
        let mut st = self.state.borrow_mut();
        if st.actions >= ACTIONS_MAX {
            return Err(SinkError::TooMany { limit: ACTIONS_MAX });
        }
        st.actions += 1;
        let commands = self.render.as_ref().map(|r| r(action)).unwrap_or_default();
        st.write(
            &self.path,
            at,
            Phase::Begin,
            None,
            step,
            Some(action),
            undo,
            commands,
        )
    }

    fn end(&self, at: Timestamp, n: u64, outcome: Result<(), &OpError>) -> Result<(), SinkError> {
        let phase = match outcome {
            Ok(()) => Phase::Ok,
            Err(e) => Phase::Failed {
                error: e.to_string(),
            },
        };
        self.state
            .borrow_mut()
            .write(&self.path, at, phase, Some(n), None, None, None, Vec::new())
            .map(|_| ())
    }
}

/// One action of a dry run's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanLine {
    /// Drill time it would be issued at.
    pub at: Timestamp,
    /// The runbook step.
    pub step: Option<String>,
    /// The action.
    pub action: Action,
    /// Its undo.
    pub undo: Option<Action>,
    /// The concrete commands a backend would issue (secrets never appear:
    /// neither an action nor its rendering carries one).
    pub commands: Vec<String>,
    /// How the rehearsal of the action ended, once known.
    pub outcome: Option<Result<(), String>>,
}

/// Renders an action as the concrete commands a backend would issue.
pub type RenderFn<'r> = Box<dyn Fn(&Action) -> Vec<String> + 'r>;

/// A sink collecting a plan: every action with the commands it stands for.
pub struct PlanSink<'r> {
    render: RenderFn<'r>,
    lines: RefCell<Vec<PlanLine>>,
}

impl fmt::Debug for PlanSink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanSink")
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

impl<'r> PlanSink<'r> {
    /// A plan whose commands come from `render` (a backend's command builder).
    pub fn new(render: impl Fn(&Action) -> Vec<String> + 'r) -> PlanSink<'r> {
        PlanSink {
            render: Box::new(render),
            lines: RefCell::new(Vec::new()),
        }
    }

    /// The plan so far.
    pub fn lines(&self) -> Vec<PlanLine> {
        self.lines.borrow().clone()
    }

    /// The plan.
    pub fn into_lines(self) -> Vec<PlanLine> {
        self.lines.into_inner()
    }

    /// The plan as a person reads it: drill time, step, action, commands.
    pub fn render_text(&self) -> String {
        render_plan(&self.lines.borrow())
    }
}

/// Renders plan lines as text, one block per action.
pub fn render_plan(lines: &[PlanLine]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut step: Option<&str> = None;
    for l in lines {
        if l.step.as_deref() != step {
            // an action outside every step (the fault schedule's) after a
            // step's actions is not shown under that step
            let after_a_step = step.is_some();
            step = l.step.as_deref();
            match step {
                Some(s) => {
                    let _ = writeln!(out, "{:>12.3}  step: {s}", l.at.as_secs_f64());
                }
                None if after_a_step => {
                    let _ = writeln!(out, "{:>12.3}  step: (none)", l.at.as_secs_f64());
                }
                None => {}
            }
        }
        let _ = writeln!(out, "{:>12.3}    {}", l.at.as_secs_f64(), l.action);
        for c in &l.commands {
            // a command of several lines (a script) stays under its `$`
            let c = c.replace('\n', &format!("\n{:>12}        ", ""));
            let _ = writeln!(out, "{:>12}      $ {c}", "");
        }
        if let Some(Err(e)) = &l.outcome {
            let _ = writeln!(out, "{:>12}      (rehearsal failed: {e})", "");
        }
    }
    out
}

impl ActionSink for PlanSink<'_> {
    fn begin(
        &self,
        at: Timestamp,
        step: Option<&str>,
        action: &Action,
        undo: Option<&Action>,
    ) -> Result<u64, SinkError> {
        let mut lines = self.lines.borrow_mut();
        if lines.len() as u64 >= ACTIONS_MAX {
            return Err(SinkError::TooMany { limit: ACTIONS_MAX });
        }
        lines.push(PlanLine {
            at,
            step: step.map(str::to_string),
            action: action.clone(),
            undo: undo.cloned(),
            commands: (self.render)(action),
            outcome: None,
        });
        Ok(lines.len() as u64)
    }

    fn end(&self, _at: Timestamp, n: u64, outcome: Result<(), &OpError>) -> Result<(), SinkError> {
        let mut lines = self.lines.borrow_mut();
        let i = usize::try_from(n).map_or(usize::MAX, |n| n.wrapping_sub(1));
        if let Some(l) = lines.get_mut(i) {
            l.outcome = Some(outcome.map_err(ToString::to_string));
        }
        Ok(())
    }
}

/// What the wrapper knows of the estate's state before a call, for undos
/// that need the previous value. Starts from the scenario (or the caller's
/// knowledge) and follows every successful call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Mailbox → its home `[server, group, store]`.
    pub mailbox_homes: BTreeMap<String, [String; 3]>,
    /// `(host, service)` → startup type.
    pub startup: BTreeMap<(String, String), StartupType>,
    /// Physical server → the VLANs its switch port carries.
    pub vlans: BTreeMap<String, Vec<u16>>,
    /// Host → its computer name (the pending one after a rename).
    pub names: BTreeMap<String, String>,
    /// Host → the domain it is joined to.
    pub domains: BTreeMap<String, String>,
}

impl Known {
    /// The state a scenario's estate starts in.
    pub fn from_scenario(s: &Scenario) -> Known {
        let mut k = Known::default();
        for m in &s.mailboxes {
            k.mailbox_homes.insert(
                m.name.clone(),
                [m.server.clone(), m.group.clone(), m.store.clone()],
            );
        }
        for h in &s.hosts {
            k.names.insert(h.name.clone(), h.name.clone());
            if let Some(d) = &s.domain {
                k.domains.insert(h.name.clone(), d.name.clone());
            }
            if let (Some(x), Some(ex)) = (&h.exchange, &s.exchange) {
                for svc in &ex.services {
                    k.startup
                        .insert((h.name.clone(), svc.name.clone()), x.startup);
                }
            }
        }
        for srv in &s.servers {
            k.vlans.insert(srv.name.clone(), srv.vlans.clone());
        }
        k
    }
}

/// A backend whose state-changing calls are journalled through a sink
/// before they are made. The step each action belongs to is the step whose
/// operation made the call ([`Recorder::current_step`], set by the runbook
/// context for each poll of a step): a call of the fault schedule or the
/// workload made while a runbook step is open belongs to no step.
pub struct Recorded<'a, B: Backend> {
    inner: &'a B,
    sink: &'a dyn ActionSink,
    rec: &'a Recorder<'a>,
    known: RefCell<Known>,
}

impl<'a, B: Backend> Recorded<'a, B> {
    /// Wraps `inner`; actions go to `sink`, step names come from `rec` (the
    /// recorder the drill runs with), previous values start from `known`.
    pub fn new(
        inner: &'a B,
        sink: &'a dyn ActionSink,
        rec: &'a Recorder<'a>,
        known: Known,
    ) -> Recorded<'a, B> {
        Recorded {
            inner,
            sink,
            rec,
            known: RefCell::new(known),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &'a B {
        self.inner
    }

    /// What the wrapper knows now.
    pub fn known(&self) -> Known {
        self.known.borrow().clone()
    }

    /// Journals `action`, performs it when the journal took it, records the
    /// outcome; `learn` updates the known state after a success.
    async fn record<T, F: Future<Output = OpResult<T>>>(
        &self,
        action: Action,
        undo: Option<Action>,
        op: impl FnOnce() -> F,
        learn: impl FnOnce(&mut Known),
    ) -> OpResult<T> {
        let step = self.rec.current_step();
        let n = self
            .sink
            .begin(self.inner.now(), step.as_deref(), &action, undo.as_ref())
            .map_err(|e| OpError::Io {
                detail: format!(
                    "the drill journal could not be written, so '{action}' was not performed: {e}"
                )
                .into(),
            })?;
        let r = op().await;
        if r.is_ok() {
            learn(&mut self.known.borrow_mut());
        }
        // The action happened (or failed) whatever the journal says now: its
        // result must reach the runbook. A missing outcome reads as "maybe
        // done", which a rollback undoes; a JournalSink reports the failed
        // write when the drill finishes.
        let _ = self.sink.end(self.inner.now(), n, r.as_ref().map(|_| ()));
        r
    }

    /// [`Recorded::record`] with the action's own inverse as its undo.
    async fn act<T, F: Future<Output = OpResult<T>>>(
        &self,
        action: Action,
        op: impl FnOnce() -> F,
    ) -> OpResult<T> {
        let undo = action.inverse();
        self.record(action, undo, op, |_| {}).await
    }
}

impl<B: Backend> Clock for Recorded<'_, B> {
    fn now(&self) -> Timestamp {
        self.inner.now()
    }
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        self.inner.sleep(d)
    }
}

// The impls of every capability trait with state-changing methods: simple
// methods from their rows, the others as the table writes them out.
crate::capabilities::capabilities! { @wrap }

/// The journal action of a soft or hard recovery (two methods, one variant).
fn recovery(host: &str, store: &StoreRef, hard: bool) -> Action {
    Action::Recovery {
        host: host.into(),
        group: store.group.to_string(),
        store: store.store.to_string(),
        hard,
    }
}

/// The journal action of an injected fault: power-on, heal and
/// restart-service repair rather than break, so they are journalled as
/// repairs.
fn fault_action(fault: &Fault) -> Action {
    let (kind, target) = (fault.kind_name().to_string(), fault.target());
    let link = match fault {
        Fault::DegradeLink {
            latency_ms,
            bandwidth_mbps,
            loss,
            ..
        } => Some(journal::LinkChange {
            latency_ms: *latency_ms,
            bandwidth_mbps: *bandwidth_mbps,
            loss: *loss,
        }),
        _ => None,
    };
    if fault.is_repair() {
        Action::Repair {
            fault: kind,
            target,
        }
    } else {
        Action::Fault {
            fault: kind,
            target,
            link,
        }
    }
}

impl<B: Backend> Workload for Recorded<'_, B> {
    async fn write_served(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<Option<std::sync::Arc<str>>> {
        self.inner
            .write_served(client, service_name, mailbox, seq, bytes)
            .await
    }

    async fn read_back(&self, host: &str) -> OpResult<SeqSet> {
        self.inner.read_back(host).await
    }

    async fn replicas_held(&self) -> OpResult<Vec<drlab_drivers::types::ReplicaHeld>> {
        self.inner.replicas_held().await
    }

    async fn probe(&self, client: &str, service_name: &str, mailbox: &str) -> OpResult<()> {
        self.inner.probe(client, service_name, mailbox).await
    }
}

impl<B: Backend> Backend for Recorded<'_, B> {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

fn malformed(what: &str, value: &str) -> OpError {
    OpError::invalid_state(format!("journal action: {what} {value:?} is malformed"))
}

/// `host:service`.
pub(crate) fn host_and(target: &str) -> OpResult<(&str, &str)> {
    target
        .split_once(':')
        .filter(|(h, x)| !h.is_empty() && !x.is_empty())
        .ok_or_else(|| malformed("target", target))
}

/// The fault a journal's [`Action::Fault`] stands for: [`parse_fault`],
/// with a `degrade-link`'s parameters when the journal kept them.
pub fn fault_of(kind: &str, target: &str, link: Option<&journal::LinkChange>) -> OpResult<Fault> {
    match (kind, link) {
        ("degrade-link", Some(l)) => {
            let (a, b) = target
                .split_once("<->")
                .filter(|(x, y)| !x.is_empty() && !y.is_empty())
                .ok_or_else(|| malformed("target", target))?;
            Ok(Fault::DegradeLink {
                a: a.into(),
                b: b.into(),
                latency_ms: l.latency_ms,
                bandwidth_mbps: l.bandwidth_mbps,
                loss: l.loss,
            })
        }
        _ => parse_fault(kind, target),
    }
}

/// The fault a journal's `kind` and target (as [`Fault::target`] formats
/// them: `host`, `host:service`, `host:group/store`, `a<->b`) stand for.
pub fn parse_fault(kind: &str, target: &str) -> OpResult<Fault> {
    let a = |x: &str| -> std::sync::Arc<str> { x.into() };
    let pair = || {
        target
            .split_once("<->")
            .filter(|(x, y)| !x.is_empty() && !y.is_empty())
            .ok_or_else(|| malformed("target", target))
    };
    if target.is_empty() {
        return Err(malformed("target", target));
    }
    Ok(match kind {
        "crash-host" => Fault::CrashHost { host: a(target) },
        "power-off" => Fault::PowerOff { host: a(target) },
        "power-on" => Fault::PowerOn { host: a(target) },
        "fail-server" => Fault::FailServer { server: a(target) },
        "kill-service" => {
            let (h, s) = host_and(target)?;
            Fault::KillService {
                host: a(h),
                service: a(s),
            }
        }
        "hang-service" => {
            let (h, s) = host_and(target)?;
            Fault::HangService {
                host: a(h),
                service: a(s),
            }
        }
        "restart-service" => {
            let (h, s) = host_and(target)?;
            Fault::RestartService {
                host: a(h),
                service: a(s),
            }
        }
        "corrupt-store" => {
            let (h, gs) = host_and(target)?;
            // Display of a StoreRef is `group/store`; store names carry no `/`.
            let (g, s) = gs
                .rsplit_once('/')
                .ok_or_else(|| malformed("target", target))?;
            Fault::CorruptStore {
                host: a(h),
                store: StoreRef::new(g, s),
            }
        }
        "partition" => {
            let (x, y) = pair()?;
            Fault::Partition { a: a(x), b: a(y) }
        }
        "heal" => {
            let (x, y) = pair()?;
            Fault::Heal { a: a(x), b: a(y) }
        }
        "degrade-link" => {
            return Err(OpError::Unsupported {
                what: "repeating a link degradation: the journal does not keep its parameters"
                    .into(),
            });
        }
        _ => return Err(malformed("fault kind", kind)),
    })
}

// `perform`: the simple actions call the method of their row; these are the others.
crate::capabilities::capabilities! { @perform b, action;
    Action::Rename { host, name, .. } => b.rename(host, name).await,
    Action::LeaveDomain { host, .. } => b.leave_domain(host).await,
    Action::SetMailboxHome {
        dc,
        mailbox,
        server,
        group,
        store,
        ..
    } => {
        b.set_mailbox_home(dc, mailbox, server, &StoreRef::new(group.as_str(), store.as_str()))
            .await
    }
    Action::Fault {
        fault,
        target,
        link,
    } => b.inject(&fault_of(fault, target, link.as_ref())?).await,
    Action::Repair { fault, target } => match fault.as_str() {
        // The undo of a killed service in journals written before
        // `restart-service` (now `Action::inverse`'s undo of a kill).
        "start-service" => {
            let (h, s) = host_and(target)?;
            b.start_service(h, s).await
        }
        _ => b.inject(&parse_fault(fault, target)?).await,
    },
    Action::SetStartup {
        host,
        service,
        startup,
        ..
    } => b.set_startup_type(host, service, *startup).await,
    Action::Recovery {
        host,
        group,
        store,
        hard,
    } => {
        let store = StoreRef::new(group.as_str(), store.as_str());
        if *hard {
            b.hard_recovery(host, &store).await
        } else {
            b.soft_recovery(host, &store).await
        }
    }
    Action::SetPortVlans { server, vlans, .. } => b.set_port_vlans(server, vlans).await,
}

/// Why an action has no undo, as a journal listing says it.
pub fn why_no_undo(action: &Action) -> &'static str {
    match action {
        Action::SetMailboxHome { previous: None, .. }
        | Action::SetStartup { previous: None, .. }
        | Action::SetPortVlans { previous: None, .. }
        | Action::Rename { previous: None, .. } => "none: the previous value was not known",
        Action::LeaveDomain { domain, .. } if domain.is_empty() => {
            "none: the domain it left was not known"
        }
        _ => "none: it cannot be undone",
    }
}

/// How one undo of a rollback went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UndoResult {
    /// Listed only (dry run).
    Planned,
    /// Performed, and recorded as undone.
    Done,
    /// Performed and failed (recorded as such); the rollback went on.
    Failed {
        /// The error.
        error: String,
    },
    /// Not tried: the journal could no longer be written, so the rollback
    /// stopped (an undo it cannot record would be repeated by the next one).
    NotTried,
}

/// One undo of a rollback.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoReport {
    /// What was done, as the journal has it.
    pub done: Performed,
    /// The undo performed.
    pub undo: Action,
    /// How it went.
    pub result: UndoResult,
}

/// What a rollback did.
#[derive(Clone, Debug, PartialEq)]
pub struct RollbackReport {
    /// The journal.
    pub journal: PathBuf,
    /// Whether the journal's last line was torn (and, unless a dry run, cut off).
    pub torn_tail: bool,
    /// Whether the drill recorded its normal end.
    pub drill_ended: bool,
    /// Whether nothing was performed.
    pub dry_run: bool,
    /// The undos, newest action first (the order they were performed in).
    pub undos: Vec<UndoReport>,
    /// Actions done (or possibly done) that have no undo and stay as they are.
    pub irreversible: Vec<Performed>,
    /// Pairs of record numbers `(earlier, later)` whose later action undid
    /// the earlier during the drill; neither is undone.
    pub cancelled: Vec<(u64, u64)>,
    /// Set when the journal could not be written during the rollback.
    pub journal_error: Option<String>,
}

impl RollbackReport {
    /// Undos that failed or were not tried.
    pub fn failures(&self) -> usize {
        self.undos
            .iter()
            .filter(|u| matches!(u.result, UndoResult::Failed { .. } | UndoResult::NotTried))
            .count()
    }
}

/// Why a rollback could not start.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// The journal could not be read, or opened to record the undos.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A rollback's plan without a backend (what a dry run prints): the undos
/// of the journal at `path`, newest first, each [`UndoResult::Planned`].
pub fn plan(path: &Path) -> Result<RollbackReport, RollbackError> {
    let contents = journal::read(path)?;
    let cancelled_set = contents.cancelled_set();
    let irreversible = contents
        .performed()
        .into_iter()
        .filter(|p| p.succeeded != Some(false) && p.undo.is_none() && !p.undone)
        .filter(|p| !cancelled_set.contains(&p.n))
        .collect();
    let cancelled = contents.cancelled();
    let undos = contents
        .rollback_plan()
        .into_iter()
        .filter_map(|p| {
            let undo = p.undo.clone()?;
            Some(UndoReport {
                done: p,
                undo,
                result: UndoResult::Planned,
            })
        })
        .collect();
    Ok(RollbackReport {
        journal: path.to_path_buf(),
        torn_tail: contents.torn_tail,
        drill_ended: contents.ended(),
        dry_run: true,
        undos,
        irreversible,
        cancelled,
        journal_error: None,
    })
}

/// Rolls a drill back: reads the journal at `path`, takes its rollback plan
/// (newest first: actions done or of unknown outcome, not undone yet) and
/// performs each undo through `b`, appending an `undone` record after each
/// success and an `undo-failed` record after each failure (and going on with
/// the others). With `dry_run` nothing is performed or written.
pub async fn rollback<B: Backend>(
    b: &B,
    path: &Path,
    dry_run: bool,
) -> Result<RollbackReport, RollbackError> {
    let mut report = plan(path)?;
    if dry_run {
        return Ok(report);
    }
    report.dry_run = false;
    // Opened before anything is performed: no undo happens unrecorded.
    let mut j = Journal::append_to(path)?;
    for UndoReport { done: p, undo, .. } in std::mem::take(&mut report.undos) {
        if report.journal_error.is_some() {
            report.undos.push(UndoReport {
                done: p,
                undo,
                result: UndoResult::NotTried,
            });
            continue;
        }
        let r = perform(b, &undo).await;
        let (phase, result) = match r {
            Ok(()) => (Phase::Undone { of: p.n }, UndoResult::Done),
            Err(e) => (
                Phase::UndoFailed {
                    of: p.n,
                    error: e.to_string(),
                },
                UndoResult::Failed {
                    error: e.to_string(),
                },
            ),
        };
        let n = j.next_number();
        let rec = record(
            n,
            b.now(),
            phase,
            p.step.as_deref(),
            Some(&undo),
            None,
            Vec::new(),
        );
        if let Err(e) = j.write(&rec) {
            report.journal_error = Some(e.to_string());
        }
        report.undos.push(UndoReport {
            done: p,
            undo,
            result,
        });
    }
    Ok(report)
}

fn items(ip: bool, name: bool) -> &'static str {
    match (ip, name) {
        (true, true) => "IP addresses and server name",
        (true, false) => "IP addresses",
        (false, true) => "server name",
        (false, false) => "nothing",
    }
}

/// A value's name as the journal spells it (its serde name), so the text
/// of an action and its journal line cannot disagree.
fn journal_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

// The text of the simple actions comes from their rows; these are the others'.
crate::capabilities::capabilities! { @display f;
    Action::Rename {
        host,
        name,
        previous,
    } => match previous {
        Some(p) => write!(f, "rename {host} from {p} to {name} (at next boot)"),
        None => write!(f, "rename {host} to {name} (at next boot)"),
    },
    Action::LeaveDomain { host, domain } if domain.is_empty() => {
        write!(f, "remove {host} from its domain")
    }
    Action::LeaveDomain { host, domain } => write!(f, "remove {host} from domain {domain}"),
    Action::SetMailboxHome {
        dc,
        mailbox,
        server,
        group,
        store,
        ..
    } => write!(
        f,
        "home mailbox {mailbox} on {server} {group}/{store} (on {dc})"
    ),
    Action::Fault {
        fault,
        target,
        link,
    } => {
        write!(f, "inject {fault} on {target}")?;
        if let Some(l) = link {
            let mut parts = Vec::new();
            if let Some(x) = l.latency_ms {
                parts.push(format!("latency {x} ms"));
            }
            if let Some(x) = l.bandwidth_mbps {
                parts.push(format!("bandwidth {x} Mbit/s"));
            }
            if let Some(x) = l.loss {
                parts.push(format!("loss {x}"));
            }
            if parts.is_empty() {
                parts.push("back to normal".into());
            }
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
    Action::Repair { fault, target } => write!(f, "repair: {fault} {target}"),
    Action::SetStartup {
        host,
        service,
        startup,
        ..
    } => write!(
        f,
        "set startup of {service} on {host} to {}",
        journal_name(startup)
    ),
    Action::Recovery {
        host,
        group,
        store,
        hard,
    } => write!(
        f,
        "{} recovery of {group}/{store} on {host}",
        if *hard { "hard" } else { "soft" }
    ),
    Action::SetPortVlans { server, vlans, .. } => {
        write!(f, "set the VLANs of {server}'s switch port to {vlans:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_targets_parse_back() {
        let faults = [
            Fault::CrashHost {
                host: "EXCH1".into(),
            },
            Fault::KillService {
                host: "EXCH1".into(),
                service: "MSExchangeIS".into(),
            },
            Fault::RestartService {
                host: "EXCH1".into(),
                service: "MSExchangeIS".into(),
            },
            Fault::CorruptStore {
                host: "EXCH1".into(),
                store: StoreRef::new("First Storage Group", "Mailbox Store"),
            },
            Fault::Partition {
                a: "hq".into(),
                b: "dr".into(),
            },
            Fault::Heal {
                a: "hq".into(),
                b: "dr".into(),
            },
            Fault::FailServer {
                server: "S1".into(),
            },
        ];
        for f in faults {
            assert_eq!(parse_fault(f.kind_name(), &f.target()).unwrap(), f);
        }
        assert!(parse_fault("partition", "hq").is_err());
        assert!(parse_fault("kill-service", "EXCH1").is_err());
        assert!(parse_fault("nonsense", "x").is_err());
    }

    #[test]
    fn unknown_previous_values_give_no_undo_and_say_why() {
        let a = Action::SetStartup {
            host: "EXCH2".into(),
            service: "MSExchangeIS".into(),
            startup: StartupType::Automatic,
            previous: None,
        };
        assert_eq!(a.inverse(), None);
        assert!(why_no_undo(&a).contains("not known"));
        let r = Action::Rename {
            host: "EXCH2".into(),
            name: "EXCH1".into(),
            previous: Some("EXCH2".into()),
        };
        assert_eq!(r.inverse().unwrap().inverse().unwrap(), r);
    }

    #[test]
    fn plan_sink_collects_commands_and_outcomes() {
        let plan = PlanSink::new(|a: &Action| vec![format!("echo {a}")]);
        let a = Action::StartService {
            host: "EXCH2".into(),
            service: "MSExchangeSA".into(),
        };
        let n = plan
            .begin(Timestamp(1_500_000), Some("net start"), &a, None)
            .unwrap();
        plan.end(Timestamp(2_000_000), n, Ok(())).unwrap();
        let lines = plan.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].commands, ["echo start MSExchangeSA on EXCH2"]);
        assert_eq!(lines[0].outcome, Some(Ok(())));
        let text = plan.render_text();
        assert!(text.contains("step: net start"), "{text}");
        assert!(
            text.contains("$ echo start MSExchangeSA on EXCH2"),
            "{text}"
        );
    }

    #[test]
    fn a_plan_shows_no_step_over_an_action_outside_every_step() {
        let plan = PlanSink::new(|_: &Action| Vec::new());
        let fault = |f: &str| Action::Repair {
            fault: f.into(),
            target: "EXCH1".into(),
        };
        let start = Action::StartService {
            host: "EXCH2".into(),
            service: "MSExchangeSA".into(),
        };
        for (at, step, a) in [
            (1, None, fault("power-on")),
            (2, Some("net start"), start.clone()),
            (3, None, fault("heal")),
            (4, Some("net start"), start),
        ] {
            let n = plan
                .begin(Timestamp(at * 1_000_000), step, &a, None)
                .unwrap();
            plan.end(Timestamp(at * 1_000_000), n, Ok(())).unwrap();
        }
        let text = plan.render_text();
        // each line without its time
        let heads: Vec<&str> = text
            .lines()
            .filter_map(|l| Some(l.trim().split_once(' ')?.1.trim()))
            .collect();
        assert_eq!(
            heads,
            [
                "repair: power-on EXCH1",
                "step: net start",
                "start MSExchangeSA on EXCH2",
                "step: (none)",
                "repair: heal EXCH1",
                "step: net start",
                "start MSExchangeSA on EXCH2"
            ],
            "{text}"
        );
    }
}
