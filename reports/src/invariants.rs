//! Invariants checked over the events of a run, simulated or measured: they
//! read nothing but events, so the same checker judges a lab drill. Each
//! violation names the invariant, the drill time of its first witness and
//! what the events show. `drlab explore` runs it on every drawn schedule.
//!
//! - `dr-transitions`: the two-site state machine only takes legal
//!   transitions (the patent's figure 2), each from the state the console
//!   shows, so the console shows one state at a time.
//! - `step-pairs`: every step that finishes had started and was still
//!   running (steps may run side by side, as the two-site agents do, but a
//!   step never finishes twice or out of nowhere).
//! - `runbook-order`: every service start or stop a runbook step makes
//!   respects the declared service dependencies. From the
//!   `service-requires` events (the scenario's `requires`, recorded at the
//!   drill's start; they hold on every host), the `host-services` events
//!   (whether an Exchange host's services ran at the start: active or
//!   standby) and the `service-requested` events (a step asking a backend
//!   to start or stop a service on a host, recorded just before the call;
//!   a step's calls run one after the other, so a call ended well when its
//!   step made another or finished `ok`): a start of S on H must come when
//!   the runbook has brought every service S requires up on H, i.e. its
//!   last call on it there was a start that had ended (or a stop that
//!   failed), or it made none and the service ran at the start; a stop of
//!   R on H must come when every service that requires R is down there,
//!   likewise. Order, not outcome: a start that waited for a requirement's
//!   start which failed keeps the order (the failure is liveness's and the
//!   objectives' to judge; the guide's batch files go on after a failed
//!   `net start`). The violation is the first call that does not, naming
//!   its step and the call (and step) it should have waited for: a
//!   requirement still starting, stopped, or never started on a standby. Faults are
//!   not followed (a crash stops what the runbook started, a reboot starts
//!   what starts automatically): this checks the order the runbook
//!   commanded, not the services' states, so a start made after a
//!   requirement's start ended well passes even if a fault stopped it in
//!   between. Skipped steps make no call. Runs without these events (old
//!   event files, scenarios without `requires`) pass; a host without
//!   `host-services` is judged by the runbook's calls alone.
//! - `drill-checks`: the drill's own checks held (no `invariant-broken`
//!   event, e.g. a restore that left the source without data the target
//!   held).
//! - `live`: users were served when the drill ended: an outage was
//!   followed by restoration (the report has an RTO) and the last probes
//!   before the end (as many as restoration needs) all succeeded.
//! - `no-split-brain`: two hosts never acknowledge writes for the same
//!   mailbox at overlapping times. From the `write-served` events (which
//!   host's store acknowledged a mailbox's write, recorded whenever that
//!   host changes): once host B has acknowledged the mailbox's writes after
//!   host A did, A acknowledging one again is an overlap unless a failover
//!   or switch-back began in between, i.e. the console entered Engaging
//!   Secondary (210), ReSync Primary (218) or Engaging Primary (222) after
//!   B's first acknowledgement and before A's. (A host that never served
//!   the mailbox may take it over at any time: the single workload client
//!   cannot witness an overlap there.) Runs whose backend does not name the
//!   acknowledging host carry no `write-served` events and pass.
//! - `interlocks`: the patent's interlocks between archive (process 600),
//!   restore (700) and failover (300), as `drlab_scenarios::interlock`
//!   enforces them: an archive never begins while another archive, a
//!   restore or a failover is in progress; a restore never begins while an
//!   archive or a failover is in progress (a failover itself never waits,
//!   as in the patent, so a restore's own switch-over is no overlap). From
//!   events: an archive is a step `archive HOST at level N h ...`, from its
//!   start to its end; a restore runs from its first step numbered
//!   `(step 706)` to `(step 724)` to the runbook's end (`runbook-finished`,
//!   as process 700 holds its interlock until the runbook returns); a
//!   failover is in progress while the console shows Engaging Secondary
//!   (210) or Engaging Primary (222), until the runbook ends.
//! - `replicated-never-lost`: an acknowledged write (`write-acked`) that a
//!   replica held when it took over is not lost at the end. From the
//!   `replica-held` events (what a replication target's store held at the
//!   moment it was mounted as a takeover, a failover or a switch-back:
//!   "replicated before the failover" means applied to the target by
//!   then) and the run's lost set (acknowledged but missing from the
//!   read-backs, the report's `lost_seqs`): a seq in both is a violation,
//!   at the read-back that misses it, naming the write, when it was
//!   acknowledged and when and where the replica held it. Runs without
//!   `replica-held` events (old event files, runs without a takeover) or
//!   without a read-back pass. The lab does not emit the event: its
//!   replica is the target's mbox files (per mailbox, not per store), and
//!   what they held at the takeover is known only from a mailbox scan
//!   made at the mount itself, a read its `mount_store` does not make
//!   (a scan made later also counts what rsync delivered after the
//!   mount), so it claims nothing rather than reconstruct it after the
//!   fact, and lab runs pass this check vacuously.
//!
//! The simulator's drill context asserts the first two as it runs (an
//! illegal transition is a bug there, and `drlab explore` reports the
//! panic); here they guard any event stream, a lab run's or a foreign one.

use std::collections::BTreeMap;

use drlab_drivers::dr::DrState;
use drlab_drivers::event::{ServiceAction, StepOutcome};
use drlab_drivers::{Event, EventKind};

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Violation {
    /// The invariant's name (see the module documentation).
    pub invariant: &'static str,
    /// Drill time of the first event that witnesses it.
    pub at_s: f64,
    /// What the events show.
    pub what: String,
}

/// The first violation of each invariant in `events`, in the order above:
/// the runbook's own structure first, so that `drlab explore` shrinks a
/// misordered runbook by its order, not by the outage it causes.
pub fn check(events: &[Event]) -> Vec<Violation> {
    // the report's own figures, computed once for the invariants that read them
    let report = crate::Report::from_events(events);
    [
        dr_transitions(events),
        step_pairs(events),
        runbook_order(events),
        drill_checks(events),
        live(events, &report),
        no_split_brain(events),
        interlocks(events),
        replicated_never_lost(events, &report),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn at(e: &Event) -> f64 {
    crate::secs(e.at.as_micros())
}

fn dr_transitions(events: &[Event]) -> Option<Violation> {
    let mut shown = DrState::Normal;
    for e in events {
        if let EventKind::StateChanged {
            from,
            to,
            transition,
        } = &e.kind
        {
            let what = if *from != shown {
                format!(
                    "{} leaves {} ({}) while the console shows {} ({})",
                    transition.code(),
                    from.label(),
                    from.code(),
                    shown.label(),
                    shown.code()
                )
            } else if transition.apply(*from) != Ok(*to) {
                format!(
                    "{} does not lead from {} ({}) to {} ({})",
                    transition.code(),
                    from.label(),
                    from.code(),
                    to.label(),
                    to.code()
                )
            } else {
                shown = *to;
                continue;
            };
            return Some(Violation {
                invariant: "dr-transitions",
                at_s: at(e),
                what,
            });
        }
    }
    None
}

fn step_pairs(events: &[Event]) -> Option<Violation> {
    // how many steps of each name are running: a lookup per event
    let mut running: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        match &e.kind {
            EventKind::StepStarted { step } => *running.entry(step).or_default() += 1,
            EventKind::StepFinished { step, .. } => {
                match running.get_mut(&**step).filter(|n| **n > 0) {
                    Some(n) => *n -= 1,
                    None => {
                        return Some(Violation {
                            invariant: "step-pairs",
                            at_s: at(e),
                            what: format!("{step:?} finished while it was not running"),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn drill_checks(events: &[Event]) -> Option<Violation> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::InvariantBroken { what } => Some(Violation {
            invariant: "drill-checks",
            at_s: at(e),
            what: what.to_string(),
        }),
        _ => None,
    })
}

fn live(events: &[Event], r: &crate::Report) -> Option<Violation> {
    let ended = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::DrillEnded { reason } => Some((at(e), reason.to_string())),
        _ => None,
    });
    let Some((at_s, reason)) = ended else {
        return Some(Violation {
            invariant: "live",
            at_s: events.last().map_or(0.0, at),
            what: "not live: the drill never ended".into(),
        });
    };
    // served at the end: the last probes before the end all succeeded
    let needed = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DrillStarted {
                probe_successes_required,
                ..
            } => Some(*probe_successes_required),
            _ => None,
        })
        .unwrap_or(1);
    let latest_first = events.iter().rev().filter_map(|e| match e.kind {
        EventKind::ProbeOk => Some(true),
        EventKind::ProbeFailed { .. } => Some(false),
        _ => None,
    });
    let served_at_end = crate::compute::served_at_end(latest_first, needed);
    if r.rto_s.is_some() && served_at_end {
        return None;
    }
    let reason = if r.rto_s.is_some() {
        format!("{reason}; service was lost again after the restoration")
    } else {
        reason
    };
    Some(Violation {
        invariant: "live",
        at_s,
        what: format!("not live: users were not served again before the drill ended ({reason})"),
    })
}

fn state(s: DrState) -> String {
    format!("{} ({})", s.label(), s.code())
}

/// A host that served a mailbox before may serve it again only after the
/// console moved service since the current host began (a switch-back
/// after a failover), or after two moves since its own last run began (a
/// failover and a switch-back that started before the other host's first
/// write for this mailbox: writes go round the mailboxes, so one
/// mailbox's first write on the standby may come after the failback has
/// begun). One move alone, the failover, never lets the old host back.
fn no_split_brain(events: &[Event]) -> Option<Violation> {
    /// The host acknowledging a mailbox's writes now: since which event
    /// (its first acknowledgement of this run of writes), which write, and
    /// how many moves had begun by then.
    struct Serving<'e> {
        host: &'e str,
        since: usize,
        seq: u64,
        moves_at: usize,
    }
    // Per mailbox: who serves it now, and for every host that served it,
    // the moves begun when its last run began.
    let mut mailboxes: BTreeMap<&str, (Serving, BTreeMap<&str, usize>)> = BTreeMap::new();
    // How many failovers or switch-backs have begun so far.
    let mut moves = 0usize;
    for (i, e) in events.iter().enumerate() {
        match &e.kind {
            EventKind::StateChanged {
                to: DrState::EngagingSecondary | DrState::ReSyncPrimary | DrState::EngagingPrimary,
                ..
            } => {
                moves += 1;
            }
            EventKind::WriteServed { seq, mailbox, host } => {
                let now = Serving {
                    host,
                    since: i,
                    seq: *seq,
                    moves_at: moves,
                };
                let Some((cur, runs)) = mailboxes.get_mut(&**mailbox) else {
                    mailboxes.insert(mailbox, (now, BTreeMap::from([(&**host, moves)])));
                    continue;
                };
                if cur.host == &**host {
                    continue;
                }
                let moved_since_current = moves > cur.moves_at;
                let away_and_back = runs.get(&**host).is_some_and(|m| moves >= m + 2);
                if runs.contains_key(&**host) && !moved_since_current && !away_and_back {
                    return Some(Violation {
                        invariant: "no-split-brain",
                        at_s: at(e),
                        what: format!(
                            "split brain: {host} acknowledged write {seq} for {mailbox} at {:.3} s \
                             although {} had acknowledged {mailbox}'s writes since {:.3} s (write {}) \
                             and no failover or switch-back began in between",
                            at(e),
                            cur.host,
                            at(&events[cur.since]),
                            cur.seq
                        ),
                    });
                }
                runs.insert(host, moves);
                *cur = now;
            }
            _ => {}
        }
    }
    None
}

/// An archive step (process 600's backup): `archive HOST at level N h ...`.
fn is_archive(step: &str) -> bool {
    step.starts_with("archive ") && step.contains(" at level ")
}

/// A step of process 700 after its safety check: numbered `(step 706)` to
/// `(step 724)`.
fn is_restore(step: &str) -> bool {
    step.match_indices("(step 7").any(|(i, m)| {
        let n = &step[i + m.len()..];
        n.len() >= 3
            && n.as_bytes()[2] == b')'
            && n[..2].parse::<u32>().is_ok_and(|k| (6..=24).contains(&k))
    })
}

fn interlocks(events: &[Event]) -> Option<Violation> {
    // Archive steps running, the restore in progress (its first step) and
    // the failover in progress (the state it entered).
    let mut archives: Vec<(&str, &Event)> = Vec::new();
    let mut restore: Option<(&str, &Event)> = None;
    let mut failover: Option<(DrState, &Event)> = None;
    for e in events {
        let (what, conflicts) = match &e.kind {
            EventKind::StateChanged { to, .. } => {
                failover = matches!(to, DrState::EngagingSecondary | DrState::EngagingPrimary)
                    .then_some((*to, e));
                continue;
            }
            EventKind::RunbookFinished { .. } => {
                (restore, failover) = (None, None);
                continue;
            }
            EventKind::StepFinished { step, .. } => {
                if let Some(k) = archives.iter().position(|(a, _)| *a == &**step) {
                    archives.remove(k);
                }
                continue;
            }
            EventKind::StepStarted { step } if is_archive(step) => {
                let mut busy: Vec<String> = archives
                    .iter()
                    .map(|(a, t)| format!("the archive {a:?} (since {:.3} s)", at(t)))
                    .collect();
                busy.extend(
                    restore.map(|(r, t)| format!("the restore begun by {r:?} at {:.3} s", at(t))),
                );
                archives.push((step, e));
                (format!("the archive {step:?} began"), busy)
            }
            EventKind::StepStarted { step } if is_restore(step) && restore.is_none() => {
                let busy: Vec<String> = archives
                    .iter()
                    .map(|(a, t)| format!("the archive {a:?} (since {:.3} s)", at(t)))
                    .collect();
                restore = Some((step, e));
                (format!("a restore began with {step:?}"), busy)
            }
            _ => continue,
        };
        let mut conflicts = conflicts;
        conflicts.extend(failover.map(|(s, t)| {
            format!(
                "a failover or switch-back (the console in {} since {:.3} s)",
                state(s),
                at(t)
            )
        }));
        if !conflicts.is_empty() {
            return Some(Violation {
                invariant: "interlocks",
                at_s: at(e),
                what: format!(
                    "{what} at {:.3} s while {} was in progress",
                    at(e),
                    conflicts.join(" and ")
                ),
            });
        }
    }
    None
}

/// The first write (in the order of the takeovers, then of sequence
/// numbers) that a replica held when it took over and that the run lost.
fn replicated_never_lost(events: &[Event], report: &crate::Report) -> Option<Violation> {
    let held: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ReplicaHeld { .. }))
        .collect();
    if held.is_empty() {
        return None;
    }
    // The read-back that completes the lost set: the last one.
    let read_back = events
        .iter()
        .rev()
        .find(|e| matches!(e.kind, EventKind::ReadBack { .. }))?;
    let lost = &report.lost_seqs;
    if lost.is_empty() {
        return None;
    }
    let mut by_time: Vec<&Event> = held;
    by_time.sort_by_key(|e| match &e.kind {
        EventKind::ReplicaHeld { held_at, .. } => *held_at,
        _ => e.at,
    });
    for e in by_time {
        let EventKind::ReplicaHeld {
            host,
            store,
            held_at,
            held,
        } = &e.kind
        else {
            continue;
        };
        let mut missing = held.iter().filter(|s| lost.contains(*s));
        let Some(seq) = missing.next() else {
            continue;
        };
        let more = missing.count();
        let acked = events.iter().find_map(|a| match a.kind {
            EventKind::WriteAcked { seq: s, .. } if s == seq => Some(at(a)),
            _ => None,
        });
        let acked = acked.map_or_else(String::new, |t| format!(", acknowledged at {t:.3} s,"));
        let also = match more {
            0 => String::new(),
            n => format!(" ({n} more of the writes it held are lost too)"),
        };
        let host_read = match &read_back.kind {
            EventKind::ReadBack { host, .. } => host.to_string(),
            _ => String::new(),
        };
        return Some(Violation {
            invariant: "replicated-never-lost",
            at_s: at(read_back),
            what: format!(
                "write {seq}{acked} was held by {host}'s replica {store} when it took over at \
                 {:.3} s, but the read-back of {host_read} at {:.3} s misses it{also}",
                crate::secs(held_at.as_micros()),
                at(read_back),
            ),
        });
    }
    None
}

/// What the runbook last did to a service on a host, as far as its
/// calls show: the call (an index into the events) and how it stands.
#[derive(Clone, Copy)]
struct Done {
    call: usize,
    action: ServiceAction,
    /// `None` while the call runs, then whether it ended well.
    ok: Option<bool>,
}

/// A `service-requested` event's parts.
fn request(e: &Event) -> Option<(&str, &str, &str, ServiceAction)> {
    match &e.kind {
        EventKind::ServiceRequested {
            step,
            host,
            service,
            action,
        } => Some((step, host, service, *action)),
        _ => None,
    }
}

fn verb(a: ServiceAction) -> &'static str {
    match a {
        ServiceAction::Start => "start",
        ServiceAction::Stop => "stop",
    }
}

/// Notes how the call `key` last made ended.
fn settle<'e>(last: &mut BTreeMap<(&'e str, &'e str), Done>, key: (&'e str, &'e str), ok: bool) {
    if let Some(d) = last.get_mut(&key) {
        d.ok = Some(ok);
    }
}

fn past(a: ServiceAction) -> &'static str {
    match a {
        ServiceAction::Start => "started",
        ServiceAction::Stop => "stopped",
    }
}

fn runbook_order(events: &[Event]) -> Option<Violation> {
    // The declared dependencies, both ways: what a service requires, and
    // what requires it. At most as many entries as the events name.
    let mut requires: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut required_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in events {
        if let EventKind::ServiceRequires {
            service,
            requires: r,
        } = &e.kind
        {
            // each edge once, however often a file repeats it
            for r in r {
                let on = requires.entry(service).or_default();
                if !on.contains(&&**r) {
                    on.push(r);
                    required_by.entry(r).or_default().push(service);
                }
            }
        }
    }
    if requires.is_empty() {
        return None;
    }
    // How each declared host's services stood at the start.
    let mut at_start: BTreeMap<&str, bool> = BTreeMap::new();
    for e in events {
        if let EventKind::HostServices { host, running } = &e.kind {
            at_start.insert(host, *running);
        }
    }
    // Per host and service, the runbook's last call on it.
    let mut last: BTreeMap<(&str, &str), Done> = BTreeMap::new();
    // The call each running step made last, not yet known to have ended.
    let mut pending: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if let EventKind::StepFinished { step, outcome } = &e.kind {
            if let Some(key) = pending.remove(&**step) {
                settle(&mut last, key, *outcome == StepOutcome::Ok);
            }
            continue;
        }
        let Some((step, host, service, action)) = request(e) else {
            continue;
        };
        // The step's previous call ended well: the step went on.
        if let Some(key) = pending.insert(step, (host, service)) {
            settle(&mut last, key, true);
        }
        // A start needs what the service requires started; a stop needs
        // what requires the service stopped.
        let others = match action {
            ServiceAction::Start => requires.get(service),
            ServiceAction::Stop => required_by.get(service),
        };
        for &other in others.into_iter().flatten() {
            let why = match last.get(&(host, other)) {
                // untouched so far: as it stood at the start
                None => match at_start.get(host) {
                    Some(&running) if running != (action == ServiceAction::Start) => format!(
                        "{other} {} there from the drill's start and the runbook had not {} it",
                        if running { "ran" } else { "was stopped" },
                        past(action)
                    ),
                    _ => continue,
                },
                Some(d) => {
                    let then = at(&events[d.call]);
                    let by = request(&events[d.call]).map_or("", |r| r.0);
                    match (d.action == action, d.ok) {
                        // a start waited for the requirement's start to
                        // end: whether it worked is liveness's and the
                        // objectives' concern (a stop after a dependent's
                        // failed stop still finds the dependent running)
                        (true, Some(ok)) if ok || action == ServiceAction::Start => continue,
                        // a stop whose dependent's stop failed
                        (true, Some(_)) => format!(
                            "the {} of {other} there at {then:.3} s ({by:?}) failed",
                            verb(action)
                        ),
                        // a failed start leaves it stopped, a failed stop running
                        (false, Some(false)) => continue,
                        (true, None) => format!(
                            "the {} of {other} there begun at {then:.3} s ({by:?}) had not ended",
                            verb(action)
                        ),
                        (false, _) => format!(
                            "{other} was {} there at {then:.3} s ({by:?}) and not {} since",
                            past(d.action),
                            past(action),
                        ),
                    }
                }
            };
            // the cause first, without times (explore tells failures
            // apart by what comes before the first colon)
            let relation = match action {
                ServiceAction::Start => format!("{other}, which it requires, ran"),
                ServiceAction::Stop => format!("{other}, which requires it, had stopped"),
            };
            return Some(Violation {
                invariant: "runbook-order",
                at_s: at(e),
                what: format!(
                    "{service} {} on {host} before {relation} there: {step:?} asked to {} it \
                     at {:.3} s; {why}",
                    past(action),
                    verb(action),
                    at(e)
                ),
            });
        }
        last.insert(
            (host, service),
            Done {
                call: i,
                action,
                ok: None,
            },
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use drlab_drivers::Timestamp;
    use drlab_drivers::dr::Transition;
    use drlab_drivers::event::StepOutcome;

    fn ev(t: f64, kind: EventKind) -> Event {
        Event {
            at: Timestamp::from_secs_f64(t),
            kind,
        }
    }

    fn finished(t: f64, step: &str) -> Event {
        ev(
            t,
            EventKind::StepFinished {
                step: step.into(),
                outcome: StepOutcome::Ok,
            },
        )
    }

    /// The violations other than liveness (which needs a whole drill's
    /// events: the library's runs check it, `tests/catalogue.rs`).
    fn order(events: &[Event]) -> Vec<Violation> {
        check(events)
            .into_iter()
            .filter(|v| v.invariant != "live")
            .collect()
    }

    #[test]
    fn steps_side_by_side_and_legal_transitions_break_nothing() {
        let t = Transition::ALL[0];
        let (from, to) = t.edge();
        let events = vec![
            ev(1.0, EventKind::StepStarted { step: "a".into() }),
            ev(1.1, EventKind::StepStarted { step: "b".into() }),
            finished(2.0, "a"),
            finished(2.5, "b"),
            ev(
                3.0,
                EventKind::StateChanged {
                    from,
                    to,
                    transition: t,
                },
            ),
        ];
        assert_eq!(order(&events), vec![]);
    }

    #[test]
    fn a_step_finishing_twice_and_an_illegal_transition_are_caught() {
        let (from, to) = Transition::ALL[0].edge();
        let wrong = Transition::ALL
            .into_iter()
            .find(|t| t.apply(from).is_err())
            .expect("some transition does not leave the first state");
        let events = vec![
            ev(1.0, EventKind::StepStarted { step: "a".into() }),
            finished(1.5, "a"),
            finished(1.7, "a"),
            ev(
                2.0,
                EventKind::StateChanged {
                    from,
                    to,
                    transition: wrong,
                },
            ),
        ];
        let v = order(&events);
        let names: Vec<&str> = v.iter().map(|x| x.invariant).collect();
        assert_eq!(names, ["dr-transitions", "step-pairs"]);
        assert_eq!(v[1].at_s, 1.7);
        assert!(
            v[1].what
                .contains("\"a\" finished while it was not running"),
            "{}",
            v[1].what
        );
        assert_eq!(v[0].at_s, 2.0);
    }

    fn served(t: f64, seq: u64, mailbox: &str, host: &str) -> Event {
        ev(
            t,
            EventKind::WriteServed {
                seq,
                mailbox: mailbox.into(),
                host: host.into(),
            },
        )
    }

    fn changed(t: f64, transition: Transition) -> Event {
        let (from, to) = transition.edge();
        ev(
            t,
            EventKind::StateChanged {
                from,
                to,
                transition,
            },
        )
    }

    fn started(t: f64, step: &str) -> Event {
        ev(t, EventKind::StepStarted { step: step.into() })
    }

    fn named(v: &[Violation], invariant: &str) -> Option<Violation> {
        v.iter().find(|x| x.invariant == invariant).cloned()
    }

    #[test]
    fn a_failover_and_a_switch_back_are_no_split_brain() {
        let events = vec![
            served(0.0, 0, "alice", "EXCH1"),
            served(0.2, 1, "bob", "EXCH1"),
            changed(100.0, Transition::Degrade),
            changed(110.0, Transition::EngageSecondary),
            // alice's first write on EXCH2 comes before the console says so
            served(150.0, 40, "alice", "EXCH2"),
            changed(151.0, Transition::SecondaryEngagedSuccess),
            served(151.2, 41, "bob", "EXCH2"),
            // a host that never served bob may take it over at any time
            served(160.0, 50, "bob", "EXCH3"),
            changed(300.0, Transition::StandbySuccess),
            served(310.0, 60, "alice", "EXCH1"),
            served(310.2, 61, "bob", "EXCH1"),
        ];
        assert_eq!(named(&check(&events), "no-split-brain"), None);
    }

    #[test]
    fn the_old_host_acknowledging_again_without_a_switch_back_is_split_brain() {
        let events = vec![
            served(0.0, 0, "alice", "EXCH1"),
            served(0.2, 1, "bob", "EXCH1"),
            changed(100.0, Transition::Degrade),
            changed(110.0, Transition::EngageSecondary),
            served(150.0, 40, "alice", "EXCH2"),
            changed(151.0, Transition::SecondaryEngagedSuccess),
            // bob never moved: EXCH1 serving it is no overlap
            served(152.0, 41, "bob", "EXCH1"),
            // EXCH1 (a stale resolver's answer) takes alice's write again
            served(160.0, 50, "alice", "EXCH1"),
            served(160.2, 51, "alice", "EXCH2"),
        ];
        let v = named(&check(&events), "no-split-brain").expect("a split brain");
        assert_eq!(v.at_s, 160.0);
        assert!(
            v.what.contains(
                "EXCH1 acknowledged write 50 for alice at 160.000 s although EXCH2 had \
                 acknowledged alice's writes since 150.000 s (write 40)"
            ),
            "{}",
            v.what
        );
        // the failover alone, begun before EXCH2's first write, does not
        // excuse it: it is one move (away), not a move back
        let only_away = vec![
            served(0.0, 0, "alice", "EXCH1"),
            changed(100.0, Transition::Degrade),
            changed(110.0, Transition::EngageSecondary),
            served(150.0, 40, "alice", "EXCH2"),
            changed(151.0, Transition::SecondaryEngagedSuccess),
            served(160.0, 50, "alice", "EXCH1"),
        ];
        assert!(named(&check(&only_away), "no-split-brain").is_some());
    }

    /// Writes go round the mailboxes: bob's first write on EXCH2 may come
    /// after the switch-back began (ReSync Primary, 218, while EXCH2 still
    /// serves); EXCH1 then taking bob back is the failback, not a split.
    #[test]
    fn a_switch_back_begun_before_the_standbys_first_write_is_no_split_brain() {
        let events = vec![
            served(0.0, 0, "bob", "EXCH1"),
            changed(5.0, Transition::Degrade),
            changed(10.0, Transition::EngageSecondary),
            served(20.0, 1, "alice", "EXCH2"),
            changed(25.0, Transition::SecondaryEngagedSuccess),
            changed(30.0, Transition::StandbySuccess),
            served(31.0, 2, "bob", "EXCH2"),
            served(40.0, 3, "bob", "EXCH1"),
        ];
        assert_eq!(named(&check(&events), "no-split-brain"), None);
    }

    const ARCHIVE: &str = "archive EXCH2 at level 24 h (backup to the archive disks)";
    const COPY: &str = "uncompress and copy image EXCH2-24h-1 to EXCH2's store (step 710)";

    fn runbook_finished(t: f64) -> Event {
        ev(
            t,
            EventKind::RunbookFinished {
                runbook: "restore-from-archive".into(),
                ok: true,
                reason: None,
            },
        )
    }

    #[test]
    fn the_patents_interlocks_in_order_break_nothing() {
        let events = vec![
            started(10.0, ARCHIVE),
            finished(20.0, ARCHIVE),
            changed(30.0, Transition::Degrade),
            started(40.0, "pause synchronization EXCH1 -> EXCH2 (step 708)"),
            finished(41.0, "pause synchronization EXCH1 -> EXCH2 (step 708)"),
            started(41.0, COPY),
            finished(50.0, COPY),
            // the restore's own switch-over: a failover never waits
            changed(60.0, Transition::EngageSecondary),
            changed(70.0, Transition::SecondaryEngagedSuccess),
            runbook_finished(80.0),
            started(90.0, ARCHIVE),
            finished(95.0, ARCHIVE),
            started(
                96.0,
                "archive EXCH2 at level 48 h (backup to the archive disks)",
            ),
            finished(
                99.0,
                "archive EXCH2 at level 48 h (backup to the archive disks)",
            ),
        ];
        assert_eq!(named(&check(&events), "interlocks"), None);
    }

    #[test]
    fn an_archive_during_a_restore_or_a_failover_breaks_the_interlocks() {
        let during_restore = vec![
            started(40.0, COPY),
            finished(50.0, COPY),
            started(55.0, ARCHIVE),
            finished(60.0, ARCHIVE),
            runbook_finished(80.0),
        ];
        let v = named(&check(&during_restore), "interlocks").expect("broken");
        assert_eq!(v.at_s, 55.0);
        assert!(v.what.contains("while the restore begun by"), "{}", v.what);

        let during_failover = vec![
            changed(1.0, Transition::Degrade),
            changed(2.0, Transition::EngageSecondary),
            started(3.0, ARCHIVE),
        ];
        let v = named(&check(&during_failover), "interlocks").expect("broken");
        assert_eq!(v.at_s, 3.0);
        assert!(
            v.what
                .contains("a failover or switch-back (the console in Engaging Secondary (210)"),
            "{}",
            v.what
        );

        let two_archives = vec![
            started(1.0, ARCHIVE),
            started(
                2.0,
                "archive EXCH2 at level 48 h (backup to the archive disks)",
            ),
        ];
        let v = named(&check(&two_archives), "interlocks").expect("broken");
        assert_eq!(v.at_s, 2.0);

        let restore_during_archive = vec![started(1.0, ARCHIVE), started(2.0, COPY)];
        let v = named(&check(&restore_during_archive), "interlocks").expect("broken");
        assert!(v.what.starts_with("a restore began with"), "{}", v.what);
    }

    fn acked(t: f64, seq: u64) -> Event {
        ev(t, EventKind::WriteAcked { seq, bytes: 100 })
    }

    fn replica_held(t: f64, held_at: f64, held: &[u64]) -> Event {
        ev(
            t,
            EventKind::ReplicaHeld {
                host: "EXCH2".into(),
                store: "First Storage Group/Mailbox Store".into(),
                held_at: Timestamp::from_secs_f64(held_at),
                held: held.iter().copied().collect(),
            },
        )
    }

    fn read_back(t: f64, host: &str, held: &[u64]) -> Event {
        ev(
            t,
            EventKind::ReadBack {
                host: host.into(),
                held: held.iter().copied().collect(),
            },
        )
    }

    /// Writes 0 to 3 acknowledged; EXCH1 crashes after 3 was acknowledged
    /// but before it was replicated; EXCH2 takes over at 50 s holding 0 to
    /// 2, then serves 4.
    fn failover(end_held: &[u64]) -> Vec<Event> {
        vec![
            acked(1.0, 0),
            acked(2.0, 1),
            acked(3.0, 2),
            acked(4.0, 3),
            changed(10.0, Transition::Degrade),
            changed(20.0, Transition::EngageSecondary),
            acked(60.0, 4),
            replica_held(100.0, 50.0, &[0, 1, 2]),
            read_back(100.0, "EXCH2", end_held),
        ]
    }

    #[test]
    fn losing_only_what_was_never_replicated_is_no_violation() {
        // write 3 is lost (RPO), but the replica never held it
        let events = failover(&[0, 1, 2, 4]);
        assert_eq!(named(&check(&events), "replicated-never-lost"), None);
        assert_eq!(crate::Report::from_events(&events).lost_writes, 1);
    }

    #[test]
    fn losing_a_write_the_replica_held_at_takeover_is_a_violation() {
        // a failback that restored an older copy over the replica's store
        let v = named(&check(&failover(&[0, 2, 4])), "replicated-never-lost")
            .expect("write 1 was replicated, then lost");
        assert_eq!(v.at_s, 100.0);
        assert_eq!(
            v.what,
            "write 1, acknowledged at 2.000 s, was held by EXCH2's replica First Storage \
             Group/Mailbox Store when it took over at 50.000 s, but the read-back of EXCH2 at \
             100.000 s misses it"
        );
        let v = named(&check(&failover(&[4])), "replicated-never-lost").expect("lost");
        assert!(v.what.starts_with("write 0,"), "{}", v.what);
        assert!(
            v.what
                .ends_with("(2 more of the writes it held are lost too)"),
            "{}",
            v.what
        );
    }

    #[test]
    fn without_replica_held_events_or_a_read_back_it_passes() {
        let mut events = failover(&[4]);
        events.retain(|e| !matches!(e.kind, EventKind::ReplicaHeld { .. }));
        assert_eq!(named(&check(&events), "replicated-never-lost"), None);
        let mut events = failover(&[4]);
        events.retain(|e| !matches!(e.kind, EventKind::ReadBack { .. }));
        assert_eq!(named(&check(&events), "replicated-never-lost"), None);
    }

    fn requires(service: &str, what: &[&str]) -> Event {
        ev(
            0.0,
            EventKind::ServiceRequires {
                service: service.into(),
                requires: what.iter().map(|&r| r.into()).collect(),
            },
        )
    }

    fn host_services(host: &str, running: bool) -> Event {
        ev(
            0.0,
            EventKind::HostServices {
                host: host.into(),
                running,
            },
        )
    }

    fn asked(t: f64, step: &str, host: &str, service: &str, action: ServiceAction) -> Event {
        ev(
            t,
            EventKind::ServiceRequested {
                step: step.into(),
                host: host.into(),
                service: service.into(),
                action,
            },
        )
    }

    /// `net start SERVICE` on EXCH2 from `t` to `t + 1` s.
    fn net_start(t: f64, service: &str, outcome: StepOutcome) -> [Event; 3] {
        net(t, ServiceAction::Start, service, outcome)
    }

    /// `net start` or `net stop SERVICE` on EXCH2 from `t` to `t + 1` s.
    fn net(t: f64, action: ServiceAction, service: &str, outcome: StepOutcome) -> [Event; 3] {
        let verb = match action {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
        };
        let step = format!("net {verb} {service}");
        [
            started(t, &step),
            asked(t, &step, "EXCH2", service, action),
            ev(
                t + 1.0,
                EventKind::StepFinished {
                    step: step.as_str().into(),
                    outcome,
                },
            ),
        ]
    }

    #[test]
    fn a_stop_after_a_dependents_failed_stop_breaks_the_runbook_order() {
        // SA and IS run on EXCH2 (started in order); IS's stop fails, so
        // stopping SA next leaves IS running on a stopped SA
        let mut events = sa_then_is();
        let failed = StepOutcome::Failed {
            error: "timed out".into(),
        };
        for (t, svc, outcome) in [
            (20.0, "MSExchangeIS", failed),
            (22.0, "MSExchangeSA", StepOutcome::Ok),
        ] {
            events.extend(net(t, ServiceAction::Stop, svc, outcome));
        }
        let v = runbook_order_of(&events).expect("IS still runs");
        assert!(
            v.what.starts_with("MSExchangeSA stopped on EXCH2"),
            "{}",
            v.what
        );
        assert!(v.what.ends_with("failed"), "{}", v.what);
    }

    /// The declarations, then SA started on EXCH2 at 10 s and IS at 11 s.
    fn sa_then_is() -> Vec<Event> {
        let mut events = declared();
        events.extend(net_start(10.0, "MSExchangeSA", StepOutcome::Ok));
        events.extend(net_start(11.0, "MSExchangeIS", StepOutcome::Ok));
        events
    }

    /// The LAN failover's declarations: IS and MTA require SA, POP3
    /// requires IS; EXCH1 active, EXCH2 a standby.
    fn declared() -> Vec<Event> {
        vec![
            requires("MSExchangeIS", &["MSExchangeSA"]),
            requires("MSExchangeMTA", &["MSExchangeSA"]),
            requires("POP3Svc", &["MSExchangeIS"]),
            host_services("EXCH1", true),
            host_services("EXCH2", false),
        ]
    }

    fn runbook_order_of(events: &[Event]) -> Option<Violation> {
        named(&check(events), "runbook-order")
    }

    #[test]
    fn services_started_after_what_they_require_keep_the_runbook_order() {
        let mut events = sa_then_is();
        // side by side with each other, after what both require
        events.extend([
            started(12.0, "net start POP3Svc"),
            started(12.0, "net start MSExchangeMTA"),
            asked(
                12.0,
                "net start POP3Svc",
                "EXCH2",
                "POP3Svc",
                ServiceAction::Start,
            ),
            asked(
                12.0,
                "net start MSExchangeMTA",
                "EXCH2",
                "MSExchangeMTA",
                ServiceAction::Start,
            ),
            finished(13.0, "net start POP3Svc"),
            finished(13.0, "net start MSExchangeMTA"),
        ]);
        // EXCH1's services ran from the start: restarting IS there needs no SA start
        events.extend([
            started(20.0, "net start MSExchangeIS on EXCH1"),
            asked(
                20.0,
                "net start MSExchangeIS on EXCH1",
                "EXCH1",
                "MSExchangeIS",
                ServiceAction::Start,
            ),
            finished(21.0, "net start MSExchangeIS on EXCH1"),
        ]);
        assert_eq!(runbook_order_of(&events), None);
    }

    #[test]
    fn a_start_before_what_it_requires_breaks_the_runbook_order() {
        // the wrong order: IS first, on a standby whose SA is stopped
        let mut events = declared();
        events.extend(net_start(10.0, "MSExchangeIS", StepOutcome::Ok));
        events.extend(net_start(11.0, "MSExchangeSA", StepOutcome::Ok));
        let v = runbook_order_of(&events).expect("IS before SA");
        assert_eq!(v.at_s, 10.0);
        assert_eq!(
            v.what,
            "MSExchangeIS started on EXCH2 before MSExchangeSA, which it requires, ran there: \
             \"net start MSExchangeIS\" asked to start it at 10.000 s; MSExchangeSA was stopped \
             there from the drill's start and the runbook had not started it"
        );

        // IS started while SA's start (side by side) had not ended
        let mut events = declared();
        events.extend([
            started(10.0, "net start MSExchangeSA"),
            asked(
                10.0,
                "net start MSExchangeSA",
                "EXCH2",
                "MSExchangeSA",
                ServiceAction::Start,
            ),
        ]);
        events.extend(net_start(10.5, "MSExchangeIS", StepOutcome::Ok));
        events.push(finished(12.0, "net start MSExchangeSA"));
        let v = runbook_order_of(&events).expect("SA still starting");
        assert_eq!(v.at_s, 10.5);
        assert!(
            v.what.ends_with(
                "the start of MSExchangeSA there begun at 10.000 s (\"net start MSExchangeSA\") \
                 had not ended"
            ),
            "{}",
            v.what
        );

        // IS started after SA's start ended in failure: the runbook
        // waited, the order holds (the outcome is liveness's to judge)
        let mut events = declared();
        let failed = StepOutcome::Failed {
            error: "EXCH2 unreachable".into(),
        };
        events.extend(net_start(10.0, "MSExchangeSA", failed));
        events.extend(net_start(11.0, "MSExchangeIS", StepOutcome::Ok));
        assert_eq!(runbook_order_of(&events), None);
    }

    #[test]
    fn a_skipped_start_starts_nothing() {
        // SA's start skipped (no call): IS then starts on a stopped SA
        let mut events = declared();
        events.push(started(5.0, "net start MSExchangeSA"));
        events.push(ev(
            5.0,
            EventKind::StepFinished {
                step: "net start MSExchangeSA".into(),
                outcome: StepOutcome::Skipped {
                    reason: "the site is lost".into(),
                },
            },
        ));
        events.extend(net_start(10.0, "MSExchangeIS", StepOutcome::Ok));
        assert!(runbook_order_of(&events).is_some());
        // on the active host, where SA ran from the start, it passes
        for e in &mut events {
            if let EventKind::ServiceRequested { host, .. } = &mut e.kind {
                *host = "EXCH1".into();
            }
        }
        assert_eq!(runbook_order_of(&events), None);
    }

    #[test]
    fn stops_come_dependents_first() {
        // `net stop MSExchangeSA /y` on EXCH1: IS and MTA first, in one step
        let step = "net stop MSExchangeSA /y on EXCH1";
        let stop = |t, svc| asked(t, step, "EXCH1", svc, ServiceAction::Stop);
        let mut events = declared();
        events.extend([
            started(1.0, step),
            stop(1.0, "POP3Svc"),
            stop(1.5, "MSExchangeIS"),
            stop(2.0, "MSExchangeMTA"),
            stop(2.5, "MSExchangeSA"),
            finished(3.0, step),
        ]);
        assert_eq!(runbook_order_of(&events), None);

        // SA stopped while MTA, running from the start, is stopped later
        let mut events = declared();
        events.extend([
            started(1.0, step),
            stop(1.0, "POP3Svc"),
            stop(1.5, "MSExchangeIS"),
            stop(2.0, "MSExchangeSA"),
            stop(2.5, "MSExchangeMTA"),
            finished(3.0, step),
        ]);
        let v = runbook_order_of(&events).expect("MTA still running");
        assert_eq!(v.at_s, 2.0);
        assert_eq!(
            v.what,
            "MSExchangeSA stopped on EXCH1 before MSExchangeMTA, which requires it, had stopped \
             there: \"net stop MSExchangeSA /y on EXCH1\" asked to stop it at 2.000 s; \
             MSExchangeMTA ran there from the drill's start and the runbook had not stopped it"
        );

        // a dependent the runbook started: stopping what it requires first
        let mut events = sa_then_is();
        events.extend([
            started(20.0, "net stop MSExchangeSA"),
            asked(
                20.0,
                "net stop MSExchangeSA",
                "EXCH2",
                "MSExchangeSA",
                ServiceAction::Stop,
            ),
            finished(21.0, "net stop MSExchangeSA"),
        ]);
        let v = runbook_order_of(&events).expect("IS still running");
        assert!(
            v.what.ends_with(
                "MSExchangeIS was started there at 11.000 s (\"net start MSExchangeIS\") and not \
                 stopped since"
            ),
            "{}",
            v.what
        );
    }

    #[test]
    fn without_declarations_or_from_foreign_events_the_runbook_order_claims_nothing() {
        // no `service-requires`: nothing declared, nothing to break
        let mut events = vec![host_services("EXCH2", false)];
        events.extend(net_start(10.0, "MSExchangeIS", StepOutcome::Ok));
        assert_eq!(runbook_order_of(&events), None);
        // no `host-services`: a service the runbook never touched may run
        let mut events = vec![requires("MSExchangeIS", &["MSExchangeSA"])];
        events.extend(net_start(10.0, "MSExchangeIS", StepOutcome::Ok));
        assert_eq!(runbook_order_of(&events), None);
        // a call outside every step, a service requiring itself, a step
        // finishing that never started: no panic; the empty step's first
        // call ended well when it made the second, so A ran by then
        let events = vec![
            requires("A", &["A", "B"]),
            requires("B", &[]),
            asked(1.0, "", "H", "A", ServiceAction::Start),
            finished(2.0, "nothing"),
            asked(3.0, "", "H", "A", ServiceAction::Start),
        ];
        assert_eq!(runbook_order_of(&events), None);
    }

    #[test]
    fn events_without_a_drill_are_not_live() {
        let v = check(&[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, "live");
    }
}
