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
//!
//! The simulator's drill context asserts the first two as it runs (an
//! illegal transition is a bug there, and `drlab explore` reports the
//! panic); here they guard any event stream, a lab run's or a foreign one.

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
    [
        dr_transitions(events),
        step_pairs(events),
        drill_checks(events),
        live(events),
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

fn live(events: &[Event]) -> Option<Violation> {
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
    let r = crate::Report::from_events(events);
    // served at the end: the last probes before the end all succeeded
    let needed = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DrillStarted {
                probe_successes_required,
                ..
            } => Some(*probe_successes_required as usize),
            _ => None,
        })
        .unwrap_or(1)
        .max(1);
    let last: Vec<bool> = events
        .iter()
        .rev()
        .filter_map(|e| match e.kind {
            EventKind::ProbeOk => Some(true),
            EventKind::ProbeFailed { .. } => Some(false),
            _ => None,
        })
        .take(needed)
        .collect();
    let served_at_end = last.len() == needed && last.iter().all(|ok| *ok);
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

    #[test]
    fn events_without_a_drill_are_not_live() {
        let v = check(&[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, "live");
    }
}
