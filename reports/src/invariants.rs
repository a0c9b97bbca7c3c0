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
//!   replica is the target's Maildirs (per mailbox, not per store), and
//!   what they held at the takeover is known only from a Maildir scan
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

/// The first violation of each invariant in `events`, in the order above.
pub fn check(events: &[Event]) -> Vec<Violation> {
    // the report's own figures, computed once for the invariants that read them
    let report = crate::Report::from_events(events);
    [
        dr_transitions(events),
        step_pairs(events),
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
    let mut running: Vec<&str> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::StepStarted { step } => running.push(step),
            EventKind::StepFinished { step, .. } => {
                match running.iter().position(|r| *r == &**step) {
                    Some(i) => {
                        running.remove(i);
                    }
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

    #[test]
    fn events_without_a_drill_are_not_live() {
        let v = check(&[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, "live");
    }
}
