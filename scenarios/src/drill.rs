//! The drill engine: runs a scenario on any backend. Four activities run
//! side by side until the drill ends: the workload writes sequence-numbered
//! records through the service name, probes act as an end user, the fault
//! schedule breaks things on time, and the control loop monitors heartbeats
//! (Time to Fail), takes the decision, runs the runbook and waits for users
//! to be served again. Everything it learns goes to the recorder.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use drlab_drivers::event::Decision;
use drlab_drivers::types::{Fault, StoreRef};
use drlab_drivers::{Backend, EventKind, OpError, Recorder, Timestamp, Transition};
use futures::future::{Either, select};
use futures::stream::{FuturesUnordered, StreamExt};

use crate::context::{Ctx, StepFailed};
use crate::format::{DecisionPolicy, ExchangeRole, FaultSpec, Scenario};
use crate::runbooks;
use crate::schedule::Scheduled;

/// A stop signal every activity can wait on.
#[derive(Default)]
pub struct Stop {
    set: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Stop {
    /// Raises the signal and wakes every waiter.
    pub fn raise(&self) {
        self.set.set(true);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Whether the signal is raised.
    pub fn is_raised(&self) -> bool {
        self.set.get()
    }

    /// Completes when the signal is raised.
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        futures::future::poll_fn(move |cx| {
            if self.set.get() {
                return Poll::Ready(());
            }
            // Register each distinct waker once: a waiter is polled many times.
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

/// Sleeps until `t` unless stopped first; true when stopped.
async fn sleep_until<B: Backend>(b: &B, t: Timestamp, stop: &Stop) -> bool {
    if stop.is_raised() {
        return true;
    }
    let now = b.now();
    if t <= now {
        return false;
    }
    let sleep = pin!(b.sleep(t.since(now)));
    match select(sleep, pin!(stop.wait())).await {
        Either::Left(_) => stop.is_raised(),
        Either::Right(_) => true,
    }
}

/// What the engine shares between activities.
struct Shared {
    stop: Stop,
    t0: Cell<Option<Timestamp>>,
    outage_seen: Cell<bool>,
    restored: Cell<bool>,
    serving: RefCell<String>,
    also_serving: RefCell<Vec<String>>,
    /// When the schedule's last fault lands (`None`: no fault scheduled).
    /// The schedule holds only faults before the horizon
    /// ([`crate::schedule::faults`]), so the no-outage end never waits for
    /// one that would not take effect.
    last_fault_s: Option<f64>,
}

/// How monitoring ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Failure declared at this time.
    Failed(Timestamp),
    /// Every fault is in and users never lost service: nothing to recover.
    NoOutage(&'static str),
    /// The drill was stopped (horizon) first.
    Stopped,
}

/// What the drill offers a runbook's control loop: monitoring, the
/// decision policy, recording the runbook's end, and waiting for users to be
/// served again. Each runbook composes these in its own order.
pub struct Drill<'a, B> {
    cx: Ctx<'a, B>,
    sh: Shared,
    horizon: Timestamp,
}

impl<'a, B: Backend> Drill<'a, B> {
    /// The runbook context.
    pub fn cx(&self) -> &Ctx<'a, B> {
        &self.cx
    }

    /// Whether the drill is stopping.
    pub fn stopped(&self) -> bool {
        self.sh.stop.is_raised()
    }

    /// Sleeps until `t` unless the drill stops first; true when stopped.
    pub async fn sleep_until(&self, t: Timestamp) -> bool {
        sleep_until(self.cx.b, t, &self.sh.stop).await
    }

    /// When the first fault took effect.
    pub fn t0(&self) -> Option<Timestamp> {
        self.sh.t0.get()
    }

    /// The host read back for RPO at the end (the primary until changed).
    pub fn set_serving(&self, host: &str) {
        *self.sh.serving.borrow_mut() = host.to_string();
    }

    /// Heartbeats from `from` to `to` with Time to Fail, raced against the
    /// no-outage check.
    pub async fn detect(&self, from: &str, to: &str) -> Detection {
        let p = &self.cx.s.policy;
        let interval = drlab_drivers::time::secs(p.heartbeat_interval_s);
        let m = pin!(monitor(
            &self.cx,
            &self.sh,
            from,
            to,
            interval,
            p.missed_heartbeats
        ));
        let q = pin!(quiet(&self.cx, &self.sh));
        match select(m, q).await {
            Either::Left((Some(t), _)) => Detection::Failed(t),
            Either::Left((None, _)) => Detection::Stopped,
            Either::Right(("stopped", _)) => Detection::Stopped,
            Either::Right((reason, _)) => Detection::NoOutage(reason),
        }
    }

    /// Heartbeats like [`Drill::detect`], with this monitor's own interval and
    /// missed-heartbeat count instead of `[policy]`'s (several monitors with
    /// their own settings watch one estate, e.g. Active Manager and AIM).
    pub async fn detect_with(
        &self,
        from: &str,
        to: &str,
        interval: Duration,
        missed: u32,
    ) -> Detection {
        self.watch(monitor(&self.cx, &self.sh, from, to, interval, missed))
            .await
            .map_or_else(|d| d, Detection::Failed)
    }

    /// Also reads `host` back at the end: the serving site spans several
    /// hosts (a DAG's members); a write any of them holds counts as held.
    pub fn add_serving(&self, host: &str) {
        let mut also = self.sh.also_serving.borrow_mut();
        if !also.iter().any(|h| h == host) {
            also.push(host.to_string());
        }
    }

    /// Runs any monitoring loop (it returns what it found, or `None` when
    /// the drill stopped) raced against the no-outage check, as
    /// [`Drill::detect`] does for heartbeats. `Err` says why nothing was found.
    pub async fn watch<T>(&self, monitor: impl Future<Output = Option<T>>) -> Result<T, Detection> {
        let m = pin!(monitor);
        let q = pin!(quiet(&self.cx, &self.sh));
        match select(m, q).await {
            Either::Left((Some(found), _)) => Ok(found),
            Either::Left((None, _)) | Either::Right(("stopped", _)) => Err(Detection::Stopped),
            Either::Right((reason, _)) => Err(Detection::NoOutage(reason)),
        }
    }

    /// Starts a planned outage now (a maintenance switchover engaged on
    /// purpose): it becomes T0 when no fault came first, so probes that fail
    /// from now on count as the outage.
    pub fn begin_planned_outage(&self, what: &str) {
        if self.sh.t0.get().is_none() {
            self.sh.t0.set(Some(self.cx.b.now()));
        }
        self.cx.emit(EventKind::PlannedOutage { what: what.into() });
    }

    /// Applies the decision policy (operator response or autopilot wait) and
    /// records the engagement. False when the drill stopped first.
    pub async fn decide(&self) -> bool {
        let p = &self.cx.s.policy;
        let (wait, by) = match p.decision {
            DecisionPolicy::Manual => (p.operator_response_s, Decision::Operator),
            DecisionPolicy::Autopilot => (p.autopilot_wait_s, Decision::Autopilot),
        };
        let at = self.cx.b.now().after(drlab_drivers::time::secs(wait));
        if self.sleep_until(at).await {
            return false;
        }
        self.cx.emit(EventKind::FailoverEngaged { by });
        true
    }

    /// Records how the runbook ended; on completion the serving host moves.
    /// True when it completed (possibly with failed steps).
    pub fn runbook_finished(&self, r: &Result<runbooks::Completed, StepFailed>) -> bool {
        let runbook = self.cx.s.runbook.name();
        match r {
            Ok(done) => {
                self.cx.emit(EventKind::RunbookFinished {
                    runbook: runbook.into(),
                    ok: done.failed_steps.is_empty(),
                    reason: done.failed_steps.first().map(|e| e.to_string().into()),
                });
                self.set_serving(&done.serving);
                true
            }
            Err(e) => {
                self.cx.emit(EventKind::RunbookFinished {
                    runbook: runbook.into(),
                    ok: false,
                    reason: Some(e.to_string().into()),
                });
                self.cx.emit(EventKind::Alert {
                    message: format!("failover aborted: {e}").into(),
                });
                false
            }
        }
    }

    /// The opening of a monitored failover: `from` watches `to` until Time
    /// to Fail runs out, the state goes Degrading Primary (204), the
    /// decision policy engages, and the state goes Engaging Secondary (208).
    /// `Err` carries why the drill ends instead.
    pub async fn engage_on_failure(&self, from: &str, to: &str) -> Result<(), &'static str> {
        match self.detect(from, to).await {
            Detection::Failed(_) => {}
            Detection::NoOutage(why) => return Err(why),
            Detection::Stopped => return Err("horizon reached"),
        }
        self.cx.fire(Transition::Degrade);
        if !self.decide().await {
            return Err("horizon reached");
        }
        self.cx.fire(Transition::EngageSecondary);
        Ok(())
    }

    /// The close of a failover: records how the steps ended and, when they
    /// completed, takes Secondary Engaged (212). True when they completed.
    pub fn secondary_engaged(&self, r: &Result<runbooks::Completed, StepFailed>) -> bool {
        if !self.runbook_finished(r) {
            return false;
        }
        self.cx.fire(Transition::SecondaryEngagedSuccess);
        true
    }

    /// Waits until users are served again (N consecutive probes), then lets
    /// the workload run `settle_s` more. Returns why the drill ends.
    pub async fn await_restored(&self) -> &'static str {
        let probe = Duration::from_millis(self.cx.s.workload.probe_interval_ms);
        while !self.sh.restored.get() {
            if self.sleep_until(self.cx.b.now().after(probe)).await {
                return "horizon reached before service was restored";
            }
        }
        let settle = self
            .cx
            .b
            .now()
            .after(drlab_drivers::time::secs(self.cx.s.scenario.settle_s));
        if self.sleep_until(settle).await {
            return "horizon reached while settling";
        }
        "restored"
    }
}

/// The fault of a scenario entry, in interface terms.
pub fn to_fault(f: &FaultSpec) -> Fault {
    let a = |x: &String| Arc::<str>::from(x.as_str());
    match f {
        FaultSpec::CrashHost { host } => Fault::CrashHost { host: a(host) },
        FaultSpec::PowerOff { host } => Fault::PowerOff { host: a(host) },
        FaultSpec::PowerOn { host } => Fault::PowerOn { host: a(host) },
        FaultSpec::KillService { host, service } => Fault::KillService {
            host: a(host),
            service: a(service),
        },
        FaultSpec::CorruptStore { host, group, store } => Fault::CorruptStore {
            host: a(host),
            store: StoreRef::new(group.as_str(), store.as_str()),
        },
        FaultSpec::Partition { a: x, b: y } => Fault::Partition { a: a(x), b: a(y) },
        FaultSpec::Heal { a: x, b: y } => Fault::Heal { a: a(x), b: a(y) },
        FaultSpec::DegradeLink {
            a: x,
            b: y,
            latency_ms,
            bandwidth_mbps,
            loss,
        } => Fault::DegradeLink {
            a: a(x),
            b: a(y),
            latency_ms: *latency_ms,
            bandwidth_mbps: *bandwidth_mbps,
            loss: *loss,
        },
        FaultSpec::FailServer { server } => Fault::FailServer { server: a(server) },
        FaultSpec::HangService { host, service } => Fault::HangService {
            host: a(host),
            service: a(service),
        },
        FaultSpec::RestartService { host, service } => Fault::RestartService {
            host: a(host),
            service: a(service),
        },
    }
}

/// Runs the drill of `s` on `b`, recording into `rec`. `seed` is the run's
/// seed: recorded for replay (the simulator seeded its RNG with it), and
/// the seed of the drill's own draws ([`crate::schedule`]: the fault
/// schedule and the workload's arrivals and sizes), the same on every backend.
pub async fn run<B: Backend>(b: &B, s: &Scenario, seed: u64, rec: &Recorder<'_>) {
    let schedule = crate::schedule::faults(s, seed);
    let d = Drill {
        cx: Ctx::new(b, rec, s),
        sh: Shared {
            stop: Stop::default(),
            t0: Cell::new(None),
            outage_seen: Cell::new(false),
            restored: Cell::new(false),
            serving: RefCell::new(runbooks::primary(&s.runbook).to_string()),
            also_serving: RefCell::new(Vec::new()),
            last_fault_s: schedule.last().map(|f| f.at_s),
        },
        horizon: Timestamp::from_secs_f64(s.scenario.horizon_s),
    };
    let (cx, sh, horizon) = (&d.cx, &d.sh, d.horizon);
    cx.emit(EventKind::DrillStarted {
        scenario: s.scenario.name.as_str().into(),
        backend: b.backend_name().into(),
        seed,
        runbook: s.runbook.name().into(),
        probe_successes_required: s.workload.probe_successes_required,
        rto_objective_us: (s.objectives.rto_s * 1e6) as u64,
        rpo_objective_us: (s.objectives.rpo_s * 1e6) as u64,
    });
    // The declared service order, for `runbook-order` to judge the
    // runbook's starts and stops by (from the events alone, on any backend).
    for svc in s.exchange.iter().flat_map(|x| &x.services) {
        if !svc.requires.is_empty() {
            cx.emit(EventKind::ServiceRequires {
                service: svc.name.as_str().into(),
                requires: svc.requires.iter().map(|r| r.as_str().into()).collect(),
            });
        }
    }
    for h in &s.hosts {
        if let Some(x) = &h.exchange {
            cx.emit(EventKind::HostServices {
                host: h.name.as_str().into(),
                running: x.state == ExchangeRole::Active,
            });
        }
    }
    if let Some(f) = s.objectives.failover_s {
        cx.emit(EventKind::FailoverObjective {
            limit_us: (f * 1e6) as u64,
        });
    }
    if let Some(x) = s.objectives.degraded_s {
        cx.emit(EventKind::DegradedObjective {
            limit_us: (x * 1e6) as u64,
        });
    }
    let end_reason: Cell<&'static str> = Cell::new("horizon reached");

    let control = async {
        end_reason.set(runbooks::control(&d).await);
        sh.stop.raise();
    };
    let limit = async {
        sleep_until(b, horizon, &sh.stop).await;
        sh.stop.raise();
    };
    // Only woken activities are polled again (a plain join would poll all
    // five on every wake); completion order does not matter.
    let mut activities: FuturesUnordered<Pin<Box<dyn Future<Output = ()> + '_>>> =
        FuturesUnordered::new();
    activities.push(Box::pin(workload(cx, sh, horizon, seed)));
    activities.push(Box::pin(probes(cx, sh, horizon)));
    activities.push(Box::pin(faults(cx, sh, &schedule)));
    activities.push(Box::pin(control));
    activities.push(Box::pin(limit));
    while activities.next().await.is_some() {}
    drop(activities);

    // What replicas held when they took over (`replica-held`), for the
    // invariant that nothing replicated before a failover is lost; a
    // backend that cannot tell truthfully records none.
    match b.replicas_held().await {
        Ok(held) => {
            for r in held {
                cx.emit(EventKind::ReplicaHeld {
                    host: r.host,
                    store: r.store,
                    held_at: r.at,
                    held: r.held,
                });
            }
        }
        Err(e) if e.kind() == drlab_drivers::ErrorKind::Unsupported => {}
        Err(e) => cx.emit(EventKind::Alert {
            message: format!("what the replicas held at takeover is unknown: {e}").into(),
        }),
    }
    let mut serving = vec![sh.serving.borrow().clone()];
    for h in sh.also_serving.borrow().iter() {
        if !serving.contains(h) {
            serving.push(h.clone());
        }
    }
    for serving in serving {
        match b.read_back(&serving).await {
            Ok(held) => cx.emit(EventKind::ReadBack {
                host: serving.as_str().into(),
                held,
            }),
            Err(e) => cx.emit(EventKind::Alert {
                message: format!("read-back of {serving} failed: {e}").into(),
            }),
        }
    }
    cx.emit(EventKind::DrillEnded {
        reason: end_reason.get().into(),
    });
}

async fn workload<B: Backend>(cx: &Ctx<'_, B>, sh: &Shared, horizon: Timestamp, seed: u64) {
    let w = &cx.s.workload;
    let mailboxes: Vec<&str> = if w.mailboxes.is_empty() {
        cx.s.mailboxes.iter().map(|m| m.name.as_str()).collect()
    } else {
        w.mailboxes.iter().map(String::as_str).collect()
    };
    if mailboxes.is_empty() {
        return;
    }
    let mut writes = crate::schedule::Writes::new(cx.s, seed);
    let mut next = writes.first();
    let mut seq: u64 = 0;
    // The host that acknowledged each mailbox's last acknowledged write.
    let mut served_by: std::collections::BTreeMap<&str, Arc<str>> = Default::default();
    while let Some(at) = next {
        if sleep_until(cx.b, at, &sh.stop).await || cx.b.now() >= horizon {
            break;
        }
        let started = cx.b.now();
        let mailbox = mailboxes[(seq % mailboxes.len() as u64) as usize];
        let bytes = writes.size();
        let r =
            cx.b.write_served(&w.client, &w.service_name, mailbox, seq, bytes)
                .await;
        match r {
            Ok(host) => {
                cx.emit(EventKind::WriteAcked { seq, bytes });
                if let Some(host) = host
                    && served_by.get(mailbox) != Some(&host)
                {
                    cx.emit(EventKind::WriteServed {
                        seq,
                        mailbox: mailbox.into(),
                        host: host.clone(),
                    });
                    served_by.insert(mailbox, host);
                }
            }
            Err(e) => cx.emit(EventKind::WriteFailed {
                seq,
                error: e.kind(),
            }),
        }
        seq += 1;
        next = writes.after(started);
    }
}

async fn probes<B: Backend>(cx: &Ctx<'_, B>, sh: &Shared, horizon: Timestamp) {
    let w = &cx.s.workload;
    let mailbox = w
        .mailboxes
        .first()
        .or(cx.s.mailboxes.first().map(|m| &m.name))
        .map(String::as_str)
        .unwrap_or_default();
    let interval = Duration::from_millis(w.probe_interval_ms);
    let mut consecutive = 0;
    while !sh.stop.is_raised() && cx.b.now() < horizon {
        let started = cx.b.now();
        let r = cx.b.probe(&w.client, &w.service_name, mailbox).await;
        match r {
            Ok(()) => {
                cx.emit(EventKind::ProbeOk);
                if sh.outage_seen.get() {
                    consecutive += 1;
                    if consecutive >= w.probe_successes_required {
                        sh.restored.set(true);
                    }
                }
            }
            Err(e) => {
                cx.emit(EventKind::ProbeFailed { error: e.kind() });
                if sh.t0.get().is_some() {
                    sh.outage_seen.set(true);
                    sh.restored.set(false);
                }
                consecutive = 0;
            }
        }
        if sleep_until(cx.b, started.after(interval), &sh.stop).await {
            break;
        }
    }
}

async fn faults<B: Backend>(cx: &Ctx<'_, B>, sh: &Shared, schedule: &[Scheduled]) {
    for f in schedule {
        if sleep_until(cx.b, f.at(), &sh.stop).await {
            return;
        }
        let fault = &f.fault;
        match cx.b.inject(fault).await {
            Ok(()) => {
                if !fault.is_repair() && sh.t0.get().is_none() {
                    sh.t0.set(Some(cx.b.now()));
                }
                cx.emit(EventKind::FaultInjected {
                    fault: fault.kind_name().into(),
                    target: fault.target().into(),
                });
            }
            Err(e) => cx.emit(EventKind::FaultFailed {
                fault: fault.kind_name().into(),
                target: fault.target().into(),
                error: e.to_string().into(),
            }),
        }
    }
}

/// Time to Fail: heartbeats every interval; failure is declared when no
/// reply came for `interval × missed` since the last one (Double-Take's
/// countdown). Returns the detection time, or `None` if stopped first.
async fn monitor<B: Backend>(
    cx: &Ctx<'_, B>,
    sh: &Shared,
    from: &str,
    to: &str,
    interval: Duration,
    missed_max: u32,
) -> Option<Timestamp> {
    let ttf = interval * missed_max;
    let host: Arc<str> = to.into();
    let mut last_ok = cx.b.now();
    let mut missed = 0;
    loop {
        if sh.stop.is_raised() {
            return None;
        }
        let sent = cx.b.now();
        let deadline = last_ok.after(ttf);
        let wait = interval.min(deadline.since(sent));
        match cx.b.ping(from, to, wait).await {
            // The monitor is down with its host: it sends no heartbeat and
            // declares nothing; its countdown starts afresh once it is back.
            Err(OpError::Unreachable { host: down }) if &*down == from => {
                last_ok = cx.b.now();
                missed = 0;
            }
            Ok(rtt) => {
                last_ok = cx.b.now();
                missed = 0;
                cx.emit(EventKind::HeartbeatOk {
                    host: host.clone(),
                    rtt_us: rtt.as_micros() as u64,
                });
            }
            Err(_) => {
                missed += 1;
                if cx.b.now() >= deadline {
                    cx.emit(EventKind::FailureDetected {
                        host: host.clone(),
                        missed,
                    });
                    return Some(cx.b.now());
                }
                cx.emit(EventKind::HeartbeatMissed {
                    host: host.clone(),
                    missed,
                });
            }
        }
        if sleep_until(cx.b, sent.after(interval), &sh.stop).await {
            return None;
        }
    }
}

/// Watches for the case where faults cause no outage: once every scheduled
/// fault is in and `settle_s` has passed without a failed probe, there is
/// nothing to recover. A fault drawn past the horizon is not scheduled, so
/// it neither delays this end nor turns "no faults scheduled" into "no
/// outage observed".
async fn quiet<B: Backend>(cx: &Ctx<'_, B>, sh: &Shared) -> &'static str {
    let last_fault = sh.last_fault_s.unwrap_or(0.0);
    let at = Timestamp::from_secs_f64(last_fault + cx.s.scenario.settle_s);
    if sleep_until(cx.b, at, &sh.stop).await {
        return "stopped";
    }
    if !sh.outage_seen.get() {
        return if sh.last_fault_s.is_none() {
            "no faults scheduled"
        } else {
            "no outage observed"
        };
    }
    // An outage is under way: monitoring and the runbook handle it.
    sh.stop.wait().await;
    "stopped"
}
